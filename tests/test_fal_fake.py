"""The fal fake itself (tests/fakes/fal_server.py): its rules from fal's docs, and each switch
where the docs are silent, both ways."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from .fakes.fal_server import API_KEY, FalServer

T2V = "bytedance/seedance-2.0/text-to-video"
AUTH = {"Authorization": f"Key {API_KEY}"}
GOOD = {"prompt": "a kite", "duration": "5", "resolution": "480p", "aspect_ratio": "16:9"}


@pytest.fixture
def fake() -> Iterator[FalServer]:
    with FalServer(latency=0.3) as server:
        yield server


def _wait(url: str) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        data: dict[str, object] = httpx.get(url, headers=AUTH, params={"logs": "1"}).json()
        if data["status"] == "COMPLETED":
            return data
        time.sleep(0.05)
    raise AssertionError("never completed")


def test_the_queue_round_trip() -> None:
    with FalServer(latency=2.0) as fake:  # long enough to be seen unfinished on a loaded machine
        made = httpx.post(f"{fake.base_url}/{T2V}", json=GOOD, headers=AUTH).json()
        ident = made["request_id"]
        base = f"{fake.base_url}/bytedance/seedance-2.0/requests/{ident}"  # owner/app only
        assert made["status_url"] == f"{base}/status" and made["cancel_url"] == f"{base}/cancel"
        first = httpx.get(made["status_url"], headers=AUTH).json()
        assert first["status"] in ("IN_QUEUE", "IN_PROGRESS")
        _wait(made["status_url"])
        video = httpx.get(made["response_url"], headers=AUTH).json()["video"]
        clip = httpx.get(video["url"])  # the CDN needs no key
        assert clip.status_code == 200 and clip.content[4:8] == b"ftyp"


def test_refusals(fake: FalServer) -> None:
    assert httpx.post(f"{fake.base_url}/{T2V}", json=GOOD).status_code == 401
    bad = {"Authorization": "Key nope"}
    assert httpx.post(f"{fake.base_url}/{T2V}", json=GOOD, headers=bad).status_code == 401
    assert httpx.post(f"{fake.base_url}/fal-ai/nothing", json=GOOD, headers=AUTH).status_code == 404


@pytest.mark.parametrize("where", ["result", "submit"])
def test_validate_at(where: str) -> None:
    with FalServer(latency=0.1, validate_at=where) as fake:
        answer = httpx.post(f"{fake.base_url}/{T2V}", json={**GOOD, "duration": "3"}, headers=AUTH)
        if where == "submit":
            assert answer.status_code == 422
            return
        made = answer.json()
        _wait(made["status_url"])
        result = httpx.get(made["response_url"], headers=AUTH)
        assert result.status_code == 422 and result.json()["detail"][0]["loc"] == [
            "body",
            "duration",
        ]
        assert fake.billed == []


@pytest.mark.parametrize("switch", ["reject", "ignore"])
def test_unknown_fields(switch: str) -> None:
    with FalServer(latency=0.1, unknown_fields=switch, validate_at="submit") as fake:
        answer = httpx.post(f"{fake.base_url}/{T2V}", json={**GOOD, "motion": 3}, headers=AUTH)
        assert answer.status_code == (422 if switch == "reject" else 200)


def test_cancel(fake: FalServer) -> None:
    made = httpx.post(f"{fake.base_url}/{T2V}", json=GOOD, headers=AUTH).json()
    answer = httpx.put(made["cancel_url"], headers=AUTH)
    assert answer.json()["status"] in ("OK", "CANCELLATION_REQUESTED")
    late = httpx.post(f"{fake.base_url}/{T2V}", json=GOOD, headers=AUTH).json()
    _wait(late["status_url"])
    assert httpx.put(late["cancel_url"], headers=AUTH).json()["status"] == "ALREADY_COMPLETED"
