"""The fal plugin (ministudio-provider-fal) hook by hook against the loopback fake of fal's
queue (tests/fakes/fal_server.py, written from fal's docs): submit, poll through the queue
states, download (priced), refusals before paying, a lost submit answer left ambiguous,
signed webhooks (a forged one refused), the key never in an error."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import ministudio_fal
import pytest
from ministudio.engines import EngineContext
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    MissingKeyError,
    TransientError,
    WebhookRejected,
)
from ministudio.jobs import JobStatus, VideoRequest
from ministudio.media.probe import probe
from ministudio.testing import VideoEngineConformance
from ministudio.testing.video.declaration import DeclarationTests
from ministudio_fal import _webhooks
from ministudio_fal._table import by_engine, curated

from .fakes.fal_server import API_KEY, FalServer
from .fakes.kit import KitFaults
from .requests import kite_request

ENGINE = "fal-seedance-2"


@pytest.fixture
def server() -> Iterator[FalServer]:
    with FalServer(latency=0.3) as fake:
        yield fake


def make_context(server: FalServer, tmp: Path, engine: str = ENGINE, **env: str) -> EngineContext:
    values = {
        "FAL_KEY": API_KEY,
        "FAL_QUEUE_URL": server.base_url,
        "FAL_JWKS_URL": server.jwks_url,
        "FAL_TIMEOUT": "10",
        **env,
    }
    return EngineContext(engine=engine, work_dir=tmp, env=values)


def run(awaitable: Any) -> Any:
    async def main() -> Any:
        return await awaitable

    return anyio.run(main)


def request(**changes: Any) -> VideoRequest:
    return kite_request(**changes)


def submit(req: VideoRequest, context: EngineContext, engine: str = ENGINE) -> str:
    made = ministudio_fal.submit_video(
        engine=engine, request=req, idempotency_key="k" * 32, context=context
    )
    assert made is not None
    return str(run(made).job_id)


def settle(job: str, context: EngineContext, engine: str = ENGINE) -> list[JobStatus]:
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status: JobStatus = run(
            ministudio_fal.poll_video(engine=engine, job_id=job, context=context)
        )
        seen.append(status)
        if status.state in ("succeeded", "failed"):
            break
        time.sleep(0.03)
    return seen


def download(job: str, status: JobStatus, out: Path, context: EngineContext, req: Any) -> Any:
    made = ministudio_fal.download_video(
        engine=ENGINE, job_id=job, status=status, output=out, context=context, request=req
    )
    return run(made)


def test_engines_are_declared_from_the_table() -> None:
    specs = {s.id: s for s in ministudio_fal.ministudio_engines()}
    assert {"fal-seedance-2", "fal-seedance-2-mini", "fal-seedance-2-i2v"} <= set(specs)
    caps = specs[ENGINE].capabilities
    assert caps.durations == tuple(float(n) for n in range(4, 16))
    assert caps.resolutions == ("480p", "720p")
    assert caps.native_audio and caps.webhooks and not caps.first_frame
    assert specs["fal-seedance-2-i2v"].capabilities.first_frame
    assert specs[ENGINE].capabilities.price_per_second == pytest.approx(0.3034)
    assert (
        ministudio_fal.submit_video(engine="kling", request=None, idempotency_key="", context=None)
        is None
    )


def test_submit_poll_download(server: FalServer, tmp_path: Path) -> None:
    context = make_context(server, tmp_path)
    req = request()
    job = submit(req, context)
    states = [s.state for s in settle(job, context)]
    assert states[-1] == "succeeded"
    assert "queued" in states or "running" in states
    sent = server.jobs[job].body
    assert sent == {
        "prompt": "a red kite rises over a beach",
        "duration": "5",
        "aspect_ratio": "16:9",
        "resolution": "720p",
    }  # no seed: Seedance 2.0's schema on fal has none (tests/fakes/fal_rules.py)
    out = tmp_path / "clip.mp4"
    result = download(job, JobStatus(job_id=job, state="succeeded"), out, context, req)
    assert result.cost == pytest.approx(0.3034 * 5)
    info = probe(out)
    assert info.duration == pytest.approx(5.0, abs=0.1)
    assert server.billed == [job]


def test_impossible_requests_are_refused_before_paying(server: FalServer, tmp_path: Path) -> None:
    context = make_context(server, tmp_path)
    with pytest.raises(EngineError, match="not a length"):
        submit(request(duration=3.0), context)
    with pytest.raises(EngineError, match="aspect_ratio"):
        submit(request(aspect_ratio="2:1"), context)
    with pytest.raises(EngineError, match="no input 'motion'"):
        submit(request(options={"motion": 5}), context)
    assert server.billed == [] and server.jobs == {}


def test_a_missing_or_wrong_key(server: FalServer, tmp_path: Path) -> None:
    with pytest.raises(MissingKeyError):
        submit(request(), make_context(server, tmp_path, FAL_KEY=""))
    with pytest.raises(EngineError, match="FAL_KEY") as caught:
        submit(request(), make_context(server, tmp_path, FAL_KEY="wrong-key-123"))
    assert "wrong-key-123" not in str(caught.value)


def test_a_lost_submit_answer_is_ambiguous(server: FalServer, tmp_path: Path) -> None:
    context = make_context(server, tmp_path)
    server.fail_next("submit", "drop")
    with pytest.raises(AmbiguousSubmission):
        submit(request(), context)
    server.fail_next("submit", "500")  # nothing queued: sent again is safe
    with pytest.raises(TransientError):
        submit(request(), context)
    with pytest.raises(AmbiguousSubmission):
        ministudio_fal.find_video_job(
            engine=ENGINE, idempotency_key="k", context=context, request=request(), since=0.0
        )


def _push(
    server: FalServer, job: str, *, forge: bool = False, stamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"request_id": job, "gateway_request_id": job, "status": "OK", "payload": {}}
    ).encode()
    headers = server.sign(body, job, stamp)
    if forge:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        other = Ed25519PrivateKey.generate()
        import hashlib

        stamp_text = headers["X-Fal-Webhook-Timestamp"]
        text = f"{job}\nfake-user\n{stamp_text}\n{hashlib.sha256(body).hexdigest()}"
        headers["X-Fal-Webhook-Signature"] = other.sign(text.encode()).hex()
    return body, headers


def test_webhooks_are_verified(server: FalServer, tmp_path: Path) -> None:
    _webhooks._cache.clear()
    env = {"FAL_JWKS_URL": server.jwks_url}
    body, headers = _push(server, "abc")
    status = ministudio_fal.parse_webhook(engine=ENGINE, body=body, headers=headers, env=env)
    assert status == JobStatus(job_id="abc", state="running", thin=True)
    forged, forged_headers = _push(server, "abc", forge=True)
    with pytest.raises(WebhookRejected, match="bad signature"):
        ministudio_fal.parse_webhook(engine=ENGINE, body=forged, headers=forged_headers, env=env)
    with pytest.raises(WebhookRejected, match="bad signature"):  # a body changed in transit
        ministudio_fal.parse_webhook(engine=ENGINE, body=body + b" ", headers=headers, env=env)
    with pytest.raises(WebhookRejected, match="unsigned"):
        ministudio_fal.parse_webhook(engine=ENGINE, body=body, headers={}, env=env)
    old, old_headers = _push(server, "abc", stamp=int(time.time()) - 3600)
    with pytest.raises(WebhookRejected, match="stale"):
        ministudio_fal.parse_webhook(engine=ENGINE, body=old, headers=old_headers, env=env)


class FalFaults(KitFaults):
    """The kit's faults on the fal fake: its submit is the fake's ``submit``."""

    def fail_next(self, endpoint: str, kind: str) -> None:
        if kind == "refuse":
            raise NotImplementedError("fal's docs name no content refusal the fake could mimic")
        self.server.fail_next(endpoint, kind)


CURATED = tuple(e.engine for e in curated())
# The kit's fault tests (keys, 429/5xx/truncation retries, webhooks) exercise the plugin's
# queue code, which is the same for every curated engine: they run on ENGINE only, so the
# suite stays fast; every engine runs the declaration and input tests (a real film each).
SHARED = frozenset(
    {
        "test_a_missing_key_names_the_variable_to_set",
        "test_the_key_never_appears",
        "test_a_429_is_retried_and_each_shot_is_billed_once",
        "test_a_truncated_download_is_retried",
        "test_a_5xx_is_retried_and_each_shot_is_billed_once",
        "test_a_refusal_is_not_resent",
        "test_webhooks_bring_the_result_without_polling",
        "test_importing_the_plugin_does_not_import_its_sdk",
    }
)


# An engine whose endpoint needs a first frame (image-to-video) cannot render the kit's films
# (their first shot has none): it runs the declaration tests only.
DECLARED = frozenset(n for n in dir(DeclarationTests) if n.startswith("test_"))
PROMOTION = "test_a_promotion_hands_the_engine_its_previz_and_declared_passes"


class TestFalCuratedConformance(VideoEngineConformance):
    """The video conformance kit on every engine of the shipped table (``endpoints.json``),
    each against the fake's rules for its endpoint (tests/fakes/fal_rules.py)."""

    engine_id = ENGINE
    sdk_modules = ("httpx", "cryptography")

    def plugin(self) -> object:
        return ministudio_fal

    @pytest.fixture(autouse=True, params=CURATED)
    def curated_engine(self, request: pytest.FixtureRequest) -> str:
        engine = str(request.param)
        if engine != ENGINE and request.node.originalname in SHARED:
            pytest.skip(f"the plugin's shared queue code: run on {ENGINE}")
        framed = by_engine()[engine].role("first_frame")
        if framed is not None and framed.required and request.node.originalname not in DECLARED:
            pytest.skip(
                f"{engine} needs a first frame on every shot; the kit's films start without one "
                "(its frames are tested in test_a_first_and_last_frame_reach_their_fields)"
            )
        promoting = request.node.originalname == PROMOTION
        if by_engine()[engine].video_edit and request.node.originalname not in DECLARED:
            if promoting:  # the kit's films with routing.previz: their source is the previz
                self.engine_id = engine
                return engine
            pytest.skip(
                f"{engine} only promotes a previz (VideoRequest.source) and the kit's films "
                "carry none: its promote jobs are tested in tests/test_fal_promote.py"
            )
        self.engine_id = engine
        return engine

    @pytest.fixture(autouse=True)
    def server(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[FalServer]:
        monkeypatch.setenv("FAL_EXPECTED_LATENCY", "0.02")
        with FalServer(latency=(0.01, 0.03)) as fake:
            yield fake

    @pytest.fixture
    def engine_env(self, server: FalServer) -> dict[str, str]:
        return {
            "FAL_KEY": API_KEY,
            "FAL_QUEUE_URL": server.base_url,
            "FAL_JWKS_URL": server.jwks_url,
            "FAL_REST_URL": server.base_url,  # fal storage, where a previz's passes go
            "FAL_TIMEOUT": "10",
        }

    @pytest.fixture
    def engine_faults(self, server: FalServer) -> FalFaults:
        return FalFaults(server)


def test_a_first_and_last_frame_reach_their_fields(server: FalServer, tmp_path: Path) -> None:
    """An image-to-video engine (which the kit's films cannot drive: it needs a first frame on
    every shot) takes its frames in the fields its endpoint names for them."""
    engine = "fal-kling-3-pro-i2v"

    async def uploader(path: Path) -> str:
        return f"https://assets.example/{Path(path).name}"

    context = EngineContext(
        engine=engine,
        work_dir=tmp_path,
        env={"FAL_KEY": API_KEY, "FAL_QUEUE_URL": server.base_url, "FAL_TIMEOUT": "10"},
        uploader=uploader,
    )
    first, last = tmp_path / "first.png", tmp_path / "last.png"
    for path in (first, last):
        path.write_bytes(b"\x89PNG\r\n\x1a\n")
    job = submit(request(first_frame=first, last_frame=last), context, engine=engine)
    sent = server.jobs[job].body
    assert sent["start_image_url"] == "https://assets.example/first.png"
    assert sent["end_image_url"] == "https://assets.example/last.png"
    assert "aspect_ratio" not in sent and "resolution" not in sent  # the image decides
    assert settle(job, context, engine)[-1].state == "succeeded"
    assert server.jobs[job].errors == [] and server.billed == [job]
    with pytest.raises(EngineError, match="start_image_url"):  # no first frame: refused
        submit(request(), context, engine=engine)


@pytest.mark.parametrize(
    ("engine", "seconds", "film", "sent", "price"),
    [
        ("fal-veo-3.1", 8.0, (720, 1280), {"duration": "8s", "resolution": "720p"}, 0.40),
        ("fal-veo-3.1", 4.0, (2160, 3840), {"duration": "4s", "resolution": "4k"}, 0.60),
        ("fal-ltx-2.3", 8.0, (720, 1280), {"duration": 8, "resolution": "1080p"}, 0.08),
        ("fal-wan-2.7", 9.0, (720, 1280), {"duration": 9, "resolution": "720p"}, 0.10),
        ("fal-hailuo-2.3", 10.0, (720, 1280), {"duration": "10"}, 0.056),
        ("fal-kling-3-pro", 8.0, (1080, 1920), {"duration": "8"}, 0.168),
    ],
)
def test_a_curated_body_is_what_its_endpoint_takes(
    engine: str, seconds: float, film: tuple[int, int], sent: dict[str, Any], price: float
) -> None:
    """The table's field mappings (``map``: a film value to the value sent; a length as the
    endpoint writes it) and prices by value, checked against the fake's rules (written from
    fal's pages, not from the table)."""
    from ministudio_fal import _request

    from .fakes.fal_rules import problems

    endpoint = by_engine()[engine]
    height, width = film
    req = request(duration=seconds, height=height, width=width)
    body = _request.body(endpoint, req, {})
    assert {k: body.get(k) for k in sent} == sent
    assert problems(endpoint.endpoint, body) == []
    assert _request.cost(endpoint, req) == pytest.approx(price * seconds)


def test_a_length_or_size_an_endpoint_does_not_make_is_refused() -> None:
    from ministudio_fal import _request

    with pytest.raises(EngineError, match="not a length"):
        _request.body(by_engine()["fal-veo-3.1"], request(duration=5.0), {})
    with pytest.raises(EngineError, match="resolution 480p"):
        _request.body(by_engine()["fal-ltx-2.3"], request(duration=6.0, height=480, width=854), {})
    caps = by_engine()["fal-veo-3.1"].capabilities()
    assert caps.durations == (4.0, 6.0, 8.0) and caps.resolutions == ("720p", "1080p", "2160p")
    assert by_engine()["fal-seedance-2"].capabilities().durations == tuple(
        float(n) for n in range(4, 16)
    )  # "auto" is no length
