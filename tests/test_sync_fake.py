"""The loopback fake of sync.'s API (tests/fakes/sync_server.py) on its own, over raw HTTP and
through the official SDK (syncsdk): the rules it takes from sync.'s docs and SDK types, and
each switch where the docs are silent, both ways."""

from __future__ import annotations

import json
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from ministudio.media.encode import VideoWriter
from ministudio.media.probe import probe

from .fakes.sync_server import API_KEY, SyncServer

KEY_HEADER = {"x-api-key": API_KEY}


@pytest.fixture
def server() -> Iterator[SyncServer]:
    with SyncServer(latency=0.2) as fake:
        yield fake


def host(server: SyncServer) -> tuple[str, str]:
    """A real MP4 and WAV on the fake's file host: their URLs."""
    clip = server.files_dir / "take.mp4"
    with VideoWriter(clip, 32, 18, 24) as writer:
        for _ in range(12):
            writer.write(np.zeros((18, 32, 3), np.uint8))
    voice = server.files_dir / "voice.wav"
    with wave.open(str(voice), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(np.zeros(8000, np.int16).tobytes())
    return f"{server.files_url}/take.mp4", f"{server.files_url}/voice.wav"


def body(server: SyncServer, **changes: Any) -> dict[str, Any]:
    video, audio = host(server)
    data: dict[str, Any] = {
        "model": "lipsync-2",
        "input": [{"type": "video", "url": video}, {"type": "audio", "url": audio}],
        "options": {"sync_mode": "cut_off"},
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def post(server: SyncServer, data: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/v2/generate", json=data, headers={**KEY_HEADER, **(headers or {})}
    )


def wait(server: SyncServer, ident: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        got = httpx.get(f"{server.base_url}/v2/generate/{ident}", headers=KEY_HEADER).json()
        if got["status"] not in ("PENDING", "PROCESSING") or time.monotonic() > deadline:
            return dict(got)
        time.sleep(0.05)


# -- through the SDK --------------------------------------------------------------------------
def test_the_sdk_round_trip(server: SyncServer, tmp_path: Path) -> None:
    from sync import Sync
    from sync.common import Audio, GenerationOptions, Video

    video, audio = host(server)
    client = Sync(api_key=API_KEY, base_url=server.base_url)
    made = client.generations.create(
        input=[Video(url=video), Audio(url=audio)],
        model="lipsync-2",
        options=GenerationOptions(sync_mode="cut_off"),
        output_file_name="take_1",
    )
    assert made.status == "PENDING" and made.model == "lipsync-2"
    assert server.wait_idle()
    done = client.generations.get(made.id)
    assert done.status == "COMPLETED" and done.output_url and done.output_duration == 0.5
    assert [g.id for g in client.generations.list(status=["COMPLETED"])] == [made.id]
    assert client.generations.list(status=["FAILED"]) == []
    out = tmp_path / "out.mp4"
    out.write_bytes(httpx.get(done.output_url).content)  # no key needed
    assert probe(out).frames == 12
    assert server.billed_usd == pytest.approx(12 * 0.05 / 25)


# -- auth, statuses, reads --------------------------------------------------------------------
def test_auth_and_statuses(server: SyncServer) -> None:
    assert httpx.post(f"{server.base_url}/v2/generate", json=body(server)).status_code == 401
    wrong = {"x-api-key": "nope-nope-nope"}
    assert httpx.get(f"{server.base_url}/v2/generations", headers=wrong).status_code == 401
    bearer = {"Authorization": f"Bearer {API_KEY}"}  # sync. takes x-api-key only
    assert httpx.get(f"{server.base_url}/v2/generations", headers=bearer).status_code == 401
    answer = post(server, body(server))
    assert answer.status_code == 201
    made = answer.json()
    assert made["status"] == "PENDING"
    assert wait(server, made["id"])["status"] == "COMPLETED"
    unknown = httpx.get(f"{server.base_url}/v2/generate/nope", headers=KEY_HEADER)
    assert unknown.status_code == 404 and unknown.json()["statusCode"] == 404


# -- refusals ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"model": "lipsync-9"}, "not supported"),
        ({"model": None}, "model is required"),
        ({"input": []}, "non-empty"),
        ({"input": "video.mp4"}, "non-empty"),
        ({"options": {"sync_mode": "stretch"}}, "sync_mode"),
        ({"options": {"temperature": 2}}, "temperature"),
        ({"outputFileName": "my take.mp4"}, "outputFileName"),
        ({"outputFileName": "x" * 256}, "outputFileName"),
        ({"webhookUrl": "ftp://example.com/hook"}, "webhookUrl"),
    ],
)
def test_bodies_the_docs_refuse(server: SyncServer, change: dict[str, Any], said: str) -> None:
    answer = post(server, body(server, **change))
    assert answer.status_code == 400 and said in answer.json()["message"]
    assert server.submissions == 0


def test_inputs_the_docs_refuse(server: SyncServer) -> None:
    video, audio = host(server)
    v, a = {"type": "video", "url": video}, {"type": "audio", "url": audio}
    for items, said in (
        ([a], "exactly one video"),
        ([v, v, a], "exactly one video"),
        ([v], "at least one audio"),
        ([v, {"type": "audio"}], "url or an assetId"),
        ([v, {"type": "audio", "assetId": "a1"}], "not found"),
        ([v, {"type": "audio", "url": "/tmp/voice.wav"}], "http(s) URL"),
        ([v, a, {"type": "image", "url": video}], "not one of"),
    ):
        answer = post(server, body(server, input=items))
        assert answer.status_code == 400 and said in answer.json()["message"], items


def test_options_for_another_model_are_ignored(server: SyncServer) -> None:
    """model_mode and prompt "only work with react-1"; unsupported options are ignored."""
    answer = post(server, body(server, options={"model_mode": "head", "prompt": "happy"}))
    assert answer.status_code == 201


# -- idempotency ------------------------------------------------------------------------------
def test_idempotency_keys(server: SyncServer) -> None:
    data = body(server)
    for bad in ("", "has space", "x" * 129, "a/b"):
        answer = httpx.post(
            f"{server.base_url}/v2/generate",
            content=json.dumps(data).encode(),
            headers={**KEY_HEADER, "Content-Type": "application/json", "Idempotency-Key": bad},
        )
        assert answer.status_code == 400, bad
        assert answer.json()["code"] == "INVALID_IDEMPOTENCY_KEY"
    twice = httpx.Headers([*KEY_HEADER.items(), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")])
    assert post(server, data, dict(twice.multi_items()[:1])).status_code == 201  # one is fine
    duplicate = httpx.post(f"{server.base_url}/v2/generate", json=data, headers=twice)
    assert duplicate.status_code == 400
    first = post(server, data, {"Idempotency-Key": "job-1"}).json()
    again = post(server, data, {"Idempotency-Key": "job-1"}).json()
    assert again["id"] == first["id"] and server.replays == 1
    assert post(server, data, {"Idempotency-Key": "JOB-1"}).json()["id"] != first["id"]


@pytest.mark.parametrize("reuse", ["conflict", "replay"])
def test_switch_key_reuse(reuse: str) -> None:
    with SyncServer(latency=0.2, key_reuse=reuse) as server:
        first = post(server, body(server), {"Idempotency-Key": "k"}).json()
        other = post(server, body(server, model="lipsync-2-pro"), {"Idempotency-Key": "k"})
        if reuse == "conflict":
            assert other.status_code == 409
        else:
            assert other.status_code == 201 and other.json()["id"] == first["id"]
        assert server.submissions == 1


# -- limits -----------------------------------------------------------------------------------
def test_rate_and_concurrency_limits() -> None:
    with SyncServer(latency=5.0, concurrency=2, rate_per_minute=3) as server:
        data = body(server)
        assert [post(server, data).status_code for _ in range(3)] == [201, 201, 429]
        assert "concurrency_limit_reached" in server.refusals[0][1]
        assert post(server, data).status_code == 429  # now the rate: 3 a minute
        assert "60 requests per minute" in server.refusals[1][1]


def test_a_video_over_the_plan_fails() -> None:
    with SyncServer(latency=0.2, max_seconds=0.25) as server:
        made = post(server, body(server)).json()
        done = wait(server, made["id"])
        assert done["status"] == "FAILED" and done["error_code"] == "fake_input_too_long"


def test_unreadable_inputs_fail(server: SyncServer) -> None:
    video, audio = host(server)
    wrong = body(server, input=[{"type": "video", "url": audio}, {"type": "audio", "url": video}])
    done = wait(server, post(server, wrong).json()["id"])
    assert done["status"] == "FAILED" and done["error_code"] == "fake_input_format"
    gone = body(server, input=[{"type": "video", "url": f"{server.files_url}/gone.mp4"}])
    gone["input"].append({"type": "audio", "url": audio})
    assert wait(server, post(server, gone).json()["id"])["error_code"] == "fake_input_fetch"


# -- switches ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fields", ["reject", "ignore"])
def test_switch_unknown_fields(fields: str) -> None:
    with SyncServer(latency=0.2, unknown_fields=fields) as server:
        for data in (
            body(server, callback="https://x"),
            body(server, options={"sync_mode": "loop", "speed": 2}),
        ):
            assert post(server, data).status_code == (400 if fields == "reject" else 201)
        listed = httpx.get(f"{server.base_url}/v2/generations?page=2", headers=KEY_HEADER)
        assert listed.status_code == (400 if fields == "reject" else 200)


@pytest.mark.parametrize("echo", [False, True])
def test_switch_echo_output_name(echo: bool) -> None:
    with SyncServer(latency=0.2, echo_output_name=echo) as server:
        made = post(server, body(server, outputFileName="take_1")).json()
        assert ("outputFileName" in made) == echo


@pytest.mark.parametrize("plain", ["accept", "refuse"])
def test_switch_plain_webhook(plain: str) -> None:
    with SyncServer(latency=0.2, plain_webhook=plain) as server:
        answer = post(server, body(server, webhookUrl="http://127.0.0.1:9/hook"))
        assert answer.status_code == (201 if plain == "accept" else 400)
        https = post(server, body(server, webhookUrl="https://hooks.example.com/x"))
        assert https.status_code == 201


@pytest.mark.parametrize("limit", [None, 1])
def test_switch_list_limit(limit: int | None) -> None:
    with SyncServer(latency=0.2, list_limit=limit) as server:
        ids = [post(server, body(server)).json()["id"] for _ in range(2)]
        listed = httpx.get(f"{server.base_url}/v2/generations", headers=KEY_HEADER).json()
        assert [g["id"] for g in listed] == ids[::-1][: limit or 2]  # newest first
        one = httpx.get(
            f"{server.base_url}/v2/generations?ids={ids[0]},nope", headers=KEY_HEADER
        ).json()
        assert [g["id"] for g in one] == [ids[0]]


# -- webhooks and faults ----------------------------------------------------------------------
def test_webhook_payload_is_signed(server: SyncServer) -> None:
    import hashlib
    import hmac

    from .fakes.sync_server import WEBHOOK_SECRET

    made = post(server, body(server, webhookUrl="http://127.0.0.1:9/hook")).json()
    assert server.wait_idle(15)
    (delivery,) = server.webhooks
    assert delivery.generation_id == made["id"] and delivery.status == "COMPLETED"
    assert not delivery.delivered  # nobody listens on port 9
    stamp, digest = (p.split("=", 1)[1] for p in delivery.headers["Sync-Signature"].split(","))
    expected = hmac.new(
        WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + delivery.body, hashlib.sha256
    ).hexdigest()
    assert digest == expected
    assert json.loads(delivery.body)["outputUrl"]


def test_rejected_generations_send_no_webhook(server: SyncServer) -> None:
    server.fail_next_generation("REJECTED", "policy", "fake_policy")
    made = post(server, body(server, webhookUrl="http://127.0.0.1:9/hook")).json()
    assert server.wait_idle(15)
    assert wait(server, made["id"])["status"] == "REJECTED" and server.webhooks == []


def test_faults(server: SyncServer) -> None:
    server.fail_next("create", "drop_after_accept")
    with pytest.raises(httpx.HTTPError):
        post(server, body(server))
    assert server.submissions == 1
    server.fail_next("list", "503")
    assert httpx.get(f"{server.base_url}/v2/generations", headers=KEY_HEADER).status_code == 503
    with pytest.raises(ValueError):
        server.fail_next("download", "402")
