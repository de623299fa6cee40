"""What relay promises beyond the kit: a lost submit answer is found by its client_ref and
never paid twice, pushes are verified, a wrong key is named, the price follows resolution."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ministudio_example_relay as relay
import pytest
from ministudio.errors import MinistudioError, WebhookRejected
from ministudio.jobs import EnvironmentBrief, ShotPrompt, VideoRequest
from ministudio.plugins import PluginHost
from ministudio.remote.pacing import RetryPolicy
from ministudio.run.render import RenderOptions, render
from ministudio.run.store import ContentStore
from ministudio.spec import Production
from ministudio_example_relay.fake import FakeRelay

SECRET = "whsec-test"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRelay]:
    monkeypatch.setattr(relay, "EXPECTED_LATENCY", 0.3)
    with FakeRelay(latency=0.2, webhook_secret=SECRET) as server:
        yield server


def host() -> PluginHost:
    plugins = PluginHost(discover=False)
    plugins.register(relay, "relay")
    return plugins


def film(shots: int = 2) -> Production:
    return Production.model_validate(
        {
            "title": "Relay",
            "format": {"aspect_ratio": "16:9", "resolution": "480p", "fps": 12},
            "environments": {"park": {"description": "a park"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [{"action": f"A kite, take {i}", "duration": 2} for i in range(shots)],
                }
            ],
            "routing": {"video": "relay"},
        }
    )


def run(tmp_path: Path, fake: FakeRelay, **env: str) -> Any:
    environment = {"RELAY_BASE_URL": fake.base_url, "RELAY_API_KEY": fake.api_key, **env}
    options = RenderOptions(retry=RetryPolicy(attempts=4, base=0.02, cap=0.1, lookup_grace=0.1))
    return render(
        film(),
        tmp_path / "out",
        host=host(),
        store=ContentStore(tmp_path / "store"),
        env=environment,
        options=options,
    )


def test_a_lost_submit_answer_is_found_and_not_paid_twice(tmp_path: Path, fake: FakeRelay) -> None:
    fake.fail_next("submit", "drop_after_accept")  # billed, then the answer is lost
    manifest = run(tmp_path, fake)
    assert all(shot.state == "done" for shot in manifest.shots)
    assert fake.submissions == 2  # found by its client_ref, not sent again


def test_a_rejected_key_names_the_variable(tmp_path: Path, fake: FakeRelay) -> None:
    with pytest.raises(MinistudioError, match="RELAY_API_KEY"):
        run(tmp_path, fake, RELAY_API_KEY="a-wrong-key")
    assert fake.submissions == 0


def signed(body: bytes, secret: str = SECRET, stamp: int | None = None) -> dict[str, str]:
    t = str(int(time.time()) if stamp is None else stamp)
    mac = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"x-relay-signature": f"t={t},v1={mac}"}


def test_a_push_is_verified_before_it_is_believed() -> None:
    job = {
        "id": "vid_000001",
        "status": "completed",
        "progress": 100,
        "download_url": "http://127.0.0.1:1/files/vid_000001.mp4",
    }
    body = json.dumps(job).encode()
    env = {"RELAY_WEBHOOK_SECRET": SECRET}
    status = host().parse_webhook("relay", body, signed(body), env)
    assert status is not None and status.state == "succeeded" and status.video_url
    with pytest.raises(WebhookRejected, match="signature"):  # forged
        host().parse_webhook("relay", body, signed(body, "another-secret"), env)
    with pytest.raises(WebhookRejected, match="signature"):  # unsigned
        host().parse_webhook("relay", body, {}, env)
    with pytest.raises(WebhookRejected, match="too old"):  # replayed
        host().parse_webhook("relay", body, signed(body, stamp=int(time.time()) - 3600), env)
    with pytest.raises(WebhookRejected, match="RELAY_WEBHOOK_SECRET"):
        host().parse_webhook("relay", body, signed(body), {})


def test_the_price_follows_resolution_and_length() -> None:
    shot = ShotPrompt(
        shot_id="s1",
        scene_id="one",
        index=0,
        action="a kite",
        shot_size="wide",
        camera_move="static",
        environment=EnvironmentBrief(id="park", description="a park"),
    )
    common: dict[str, Any] = {
        "shot": shot,
        "prompt": "a kite",
        "aspect_ratio": "16:9",
        "fps": 24,
        "seed": 1,
    }
    small = VideoRequest(duration=4, width=854, height=480, **common)
    large = VideoRequest(duration=8, width=1280, height=720, **common)
    plugins = host()
    spec = plugins.engine("relay")
    assert plugins.estimate_cost(spec, small) == pytest.approx(0.20)
    assert plugins.estimate_cost(spec, large) == pytest.approx(0.80)
