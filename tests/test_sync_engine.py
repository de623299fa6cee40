"""The sync. lip-sync plugin (ministudio-provider-sync) hook by hook against the loopback fake
of sync.'s API (tests/fakes/sync_server.py, written from sync.'s docs and SDK types): submit
with the Idempotency-Key, poll, download (priced), an idempotent resend, the lookup of a
lost answer, refusals, rejected generations, signed webhooks, a truncated download, and the
key never in an error."""

from __future__ import annotations

import http.server
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import ministudio_sync
import numpy as np
import pytest
from ministudio.engines import EngineContext
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MissingKeyError,
    TransientError,
    WebhookRejected,
)
from ministudio.jobs import EnvironmentBrief, JobStatus, LipSyncRequest, ShotPrompt
from ministudio.media.encode import VideoWriter
from ministudio.media.probe import probe
from ministudio.safety.secrets import derived_forms
from ministudio_sync import _engine, _webhooks

from .fakes.sync_server import API_KEY, WEBHOOK_SECRET, SyncServer

KEY = "0123456789abcdef0123456789abcdef"  # a job key's first 32 characters, as the core sends
FPS = 24


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real 1 s MP4 (no sound) and a mono 16-bit WAV of the same length."""
    folder = tmp_path_factory.mktemp("media")
    clip = folder / "take.mp4"
    with VideoWriter(clip, 64, 36, FPS) as writer:
        for i in range(FPS):
            writer.write(np.full((36, 64, 3), 10 * i, np.uint8))
    voice = folder / "voice.wav"
    with wave.open(str(voice), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(np.zeros(16000, np.int16).tobytes())
    return clip, voice


def lipsync_request(clip: Path, voice: Path, **changes: Any) -> LipSyncRequest:
    shot = ShotPrompt(
        shot_id="s1",
        scene_id="one",
        index=0,
        action="Ada speaks",
        shot_size="medium",
        camera_move="static",
        environment=EnvironmentBrief(id="room", description="a room"),
    )
    fields: dict[str, Any] = {
        "shot": shot,
        "video": clip,
        "voice": voice,
        "duration": 1.0,
        "width": 64,
        "height": 36,
        "fps": FPS,
        **changes,
    }
    return LipSyncRequest.model_validate(fields)


@pytest.fixture
def server() -> Iterator[SyncServer]:
    with SyncServer(latency=0.2) as fake:
        yield fake


def make_context(server: SyncServer, tmp: Path, **env: str) -> EngineContext:
    values = {
        "SYNC_API_KEY": API_KEY,
        "SYNC_BASE_URL": server.base_url,
        "SYNC_ASSET_STORE": f"file://{server.files_dir}",
        "SYNC_ASSET_BASE_URL": server.files_url,
        "SYNC_TIMEOUT": "10",
        **env,
    }
    context = EngineContext(engine="sync", work_dir=tmp, env=values)

    async def uploader(path: Path) -> str:
        asset = ministudio_sync.upload_asset(engine="sync", path=path, context=context)
        assert asset is not None
        return asset.reference

    context.uploader = uploader
    return context


def run(awaitable: Any) -> Any:
    async def main() -> Any:
        return await awaitable

    return anyio.run(main)


def submit(request: LipSyncRequest, context: EngineContext, key: str = KEY) -> str:
    made = ministudio_sync.submit_lip_sync(
        engine="sync", request=request, idempotency_key=key, context=context
    )
    assert made is not None
    return str(run(made).job_id)


def settle(job: str, context: EngineContext, timeout: float = 10.0) -> JobStatus:
    deadline = time.monotonic() + timeout
    while True:
        polled = ministudio_sync.poll_video(engine="sync", job_id=job, context=context)
        assert polled is not None
        status: JobStatus = run(polled)
        if status.state in ("succeeded", "failed") or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def download(job: str, status: JobStatus, out: Path, context: EngineContext, request: Any) -> Any:
    made = ministudio_sync.download_video(
        engine="sync", job_id=job, status=status, output=out, context=context, request=request
    )
    assert made is not None
    return run(made)


def find(context: EngineContext, request: Any, since: float, key: str = KEY) -> str | None:
    made = ministudio_sync.find_video_job(
        engine="sync", idempotency_key=key, context=context, request=request, since=since
    )
    assert made is not None
    found: str | None = run(made)
    return found


# -- the declaration --------------------------------------------------------------------------
def test_declares_a_remote_lipsync_engine() -> None:
    (spec,) = ministudio_sync.ministudio_engines()
    assert (spec.id, spec.kind, spec.key_env, spec.default_model) == (
        "sync",
        "lipsync",
        ("SYNC_API_KEY",),
        "lipsync-2",
    )
    assert [m.id for m in spec.models] == ["lipsync-2", "lipsync-2-pro", "sync-3"]
    assert spec.marks_sending and spec.capabilities.webhooks
    assert spec.capabilities.price_per_second == pytest.approx(0.05)
    # Another plugin's engine gets no answer from any hook.
    assert ministudio_sync.poll_video(engine="kling", job_id="x", context=None) is None  # type: ignore[arg-type]
    assert ministudio_sync.estimate_cost(engine="kling", request=None) is None


# -- the round trip ---------------------------------------------------------------------------
def test_submit_poll_download(server: SyncServer, media: tuple[Path, Path], tmp_path: Path) -> None:
    context = make_context(server, tmp_path)
    sent: list[int] = []
    context.on_sending = lambda: sent.append(server.submissions)
    request = lipsync_request(*media)
    job = submit(request, context)
    assert sent == [0]  # called once, before the create reached the server
    (body,) = server.bodies
    assert body["model"] == "lipsync-2"
    assert body["options"] == {"sync_mode": "cut_off"}
    assert body["outputFileName"] == f"ministudio-{KEY}"
    assert [i["type"] for i in body["input"]] == ["video", "audio"]
    assert all(i["url"].startswith(server.files_url + "/") for i in body["input"])
    assert server.idempotency_headers == [KEY]
    status = settle(job, context)
    assert status.state == "succeeded" and status.video_url
    result = download(job, status, tmp_path / "out.mp4", context, request)
    info = probe(result.path)
    assert (info.frames, round(info.fps)) == (FPS, FPS)
    assert result.engine_job_id == job and result.model == "lipsync-2"
    assert result.cost == pytest.approx(FPS * 0.05 / 25)
    assert result.cost == pytest.approx(server.billed_usd)
    assert ministudio_sync.estimate_cost(engine="sync", request=request) == result.cost


def test_options_and_models_are_sent(
    server: SyncServer, media: tuple[Path, Path], tmp_path: Path
) -> None:
    context = make_context(server, tmp_path)
    request = lipsync_request(
        *media,
        model="lipsync-2-pro",
        options={"sync_mode": "bounce", "temperature": 0.3, "occlusion_detection": True},
    )
    submit(request, context)
    body = server.bodies[0]
    assert body["model"] == "lipsync-2-pro"
    assert body["options"] == {
        "sync_mode": "bounce",
        "temperature": 0.3,
        "occlusion_detection_enabled": True,
    }
    assert ministudio_sync.estimate_cost(engine="sync", request=request) == pytest.approx(
        FPS * 0.083 / 25
    )


# -- paying once ------------------------------------------------------------------------------
def test_a_lost_answer_is_sent_again_under_the_same_key(
    server: SyncServer, media: tuple[Path, Path], tmp_path: Path
) -> None:
    context = make_context(server, tmp_path)
    request = lipsync_request(*media)
    server.fail_next("create", "drop_after_accept")
    with pytest.raises(TransientError, match="same Idempotency-Key"):
        submit(request, context)
    job = submit(request, context)  # what the core does with a TransientError
    assert server.submissions == 1 and server.replays == 1
    assert job == next(iter(server.generations))


@pytest.mark.parametrize("reuse", ["conflict", "replay"])
def test_a_key_reused_with_another_body(
    reuse: str, media: tuple[Path, Path], tmp_path: Path
) -> None:
    with SyncServer(latency=0.2, key_reuse=reuse) as server:
        context = make_context(server, tmp_path)
        first = submit(lipsync_request(*media), context)
        other = lipsync_request(*media, options={"temperature": 0.9})
        if reuse == "conflict":  # a job may exist under the key: the core looks it up
            with pytest.raises(AmbiguousSubmission, match="409"):
                submit(other, context)
        else:
            assert submit(other, context) == first
        assert server.submissions == 1


def test_the_lookup_of_a_lost_answer(
    server: SyncServer, media: tuple[Path, Path], tmp_path: Path
) -> None:
    context = make_context(server, tmp_path)
    request = lipsync_request(*media)
    since = time.time()
    assert find(context, request, since) is None  # nothing sent: the core sends it
    job = submit(request, context)
    assert find(context, request, since) == job
    assert find(context, lipsync_request(*media, model="sync-3"), since) is None
    # A second attempt on the same inputs (the lipsync retake rung): sync. lists no
    # outputFileName here, so two generations match and the core stops the shot.
    submit(lipsync_request(*media, attempt=1), context, key="f" * 32)
    with pytest.raises(AmbiguousSubmission, match="2 generations match"):
        find(context, request, since)
    # Made before the lost request left (less the skew): not it.
    assert find(context, request, time.time() + 3600) is None


def test_the_lookup_tells_attempts_apart_by_output_name(
    media: tuple[Path, Path], tmp_path: Path
) -> None:
    with SyncServer(latency=0.2, echo_output_name=True) as server:
        context = make_context(server, tmp_path)
        request = lipsync_request(*media)
        since = time.time()
        job = submit(request, context)
        other = submit(lipsync_request(*media, attempt=1), context, key="f" * 32)
        assert find(context, request, since) == job
        assert find(context, request, since, key="f" * 32) == other


# -- refusals and failures --------------------------------------------------------------------
def test_refusals_and_keys(server: SyncServer, media: tuple[Path, Path], tmp_path: Path) -> None:
    context = make_context(server, tmp_path)
    with pytest.raises(EngineRefusal, match="not supported"):
        submit(lipsync_request(*media, model="lipsync-9"), context)
    with pytest.raises(EngineError, match="unknown option"):
        submit(lipsync_request(*media, options={"speed": 2}), context)
    with pytest.raises(EngineError, match="sync_mode"):
        submit(lipsync_request(*media, options={"sync_mode": "stretch"}), context)
    with pytest.raises(MissingKeyError, match="SYNC_API_KEY"):
        submit(lipsync_request(*media), make_context(server, tmp_path, SYNC_API_KEY=""))
    wrong = make_context(server, tmp_path, SYNC_API_KEY="sync-wrong-key-000000000")
    with pytest.raises(MissingKeyError, match="rejected its API key"):
        submit(lipsync_request(*media), wrong)
    assert server.submissions == 0


def test_busy_and_unpaid_answers(media: tuple[Path, Path], tmp_path: Path) -> None:
    with SyncServer(latency=0.2, fault_retry_after=2.5) as server:
        context = make_context(server, tmp_path)
        server.fail_next("create", "429")
        with pytest.raises(TransientError) as busy:
            submit(lipsync_request(*media), context)
        assert busy.value.retry_after == pytest.approx(2.5)
        server.fail_next("create", "503")
        with pytest.raises(TransientError):
            submit(lipsync_request(*media), context)
        server.fail_next("create", "402")
        with pytest.raises(EngineError, match="cannot pay") as unpaid:
            submit(lipsync_request(*media), context)
        assert not isinstance(unpaid.value, TransientError)
        server.fail_next("get", "500")
        job = submit(lipsync_request(*media), context)
        with pytest.raises(TransientError):
            run(_engine.poll(job, context))
        with pytest.raises(EngineError, match="unknown"):
            run(_engine.poll("no-such-generation", context))


@pytest.mark.parametrize("ending", ["REJECTED", "FAILED"])
def test_a_rejected_or_failed_generation(
    ending: str, server: SyncServer, media: tuple[Path, Path], tmp_path: Path
) -> None:
    context = make_context(server, tmp_path)
    server.fail_next_generation(ending, "face not found", "fake_no_face")
    request = lipsync_request(*media)
    job = submit(request, context)
    status = settle(job, context)
    assert status.state == "failed" and status.refused == (ending == "REJECTED")
    assert status.error == "face not found (fake_no_face)"
    expected = EngineRefusal if ending == "REJECTED" else EngineError
    with pytest.raises(expected, match="face not found"):
        download(job, status, tmp_path / "out.mp4", context, request)


def test_an_input_sync_cannot_read_fails_the_generation(
    server: SyncServer, media: tuple[Path, Path], tmp_path: Path
) -> None:
    context = make_context(server, tmp_path)
    _clip, voice = media
    fake_clip = tmp_path / "clip.mp4"
    fake_clip.write_bytes(voice.read_bytes())  # a WAV named .mp4
    status = settle(submit(lipsync_request(fake_clip, voice), context), context)
    assert status.state == "failed" and not status.refused
    assert "fake_input_format" in (status.error or "")


def test_a_truncated_download_leaves_nothing(
    server: SyncServer, media: tuple[Path, Path], tmp_path: Path
) -> None:
    context = make_context(server, tmp_path)
    request = lipsync_request(*media)
    job = submit(request, context)
    status = settle(job, context)
    out = tmp_path / "out.mp4"
    server.fail_next("download", "truncate")
    with pytest.raises(TransientError, match="cut short"):
        download(job, status, out, context, request)
    assert not out.exists()
    # A thin status (from a webhook) is completed by asking sync.
    thin = JobStatus(job_id=job, state="running", thin=True)
    assert download(job, thin, out, context, request).path == out
    assert probe(out).frames == FPS


# -- webhooks ---------------------------------------------------------------------------------
class _Receiver(http.server.BaseHTTPRequestHandler):
    got: list[tuple[bytes, dict[str, str]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).got.append((body, dict(self.headers)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_webhooks_are_verified_and_thin(
    server: SyncServer, media: tuple[Path, Path], tmp_path: Path
) -> None:
    _Receiver.got = []
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        context = make_context(server, tmp_path)
        context.webhook_url = f"http://127.0.0.1:{receiver.server_address[1]}/sync"
        job = submit(lipsync_request(*media), context)
        assert server.bodies[0]["webhookUrl"] == context.webhook_url
        assert server.wait_idle()
    finally:
        receiver.shutdown()
        receiver.server_close()
    ((body, headers),) = _Receiver.got
    signed = {"SYNC_WEBHOOK_SECRET": WEBHOOK_SECRET}
    status = ministudio_sync.parse_webhook(engine="sync", body=body, headers=headers, env=signed)
    assert status == JobStatus(job_id=job, state="running", thin=True)
    with pytest.raises(WebhookRejected, match="bad signature"):
        _webhooks.parse(body.replace(b"COMPLETED", b"FAILED"), headers, signed)
    with pytest.raises(WebhookRejected, match="unsigned"):
        _webhooks.parse(body, {}, signed)
    with pytest.raises(WebhookRejected, match="bad signature"):
        _webhooks.parse(body, headers, {"SYNC_WEBHOOK_SECRET": "whsec_another-secret"})
    with pytest.raises(WebhookRejected, match="stale"):
        _webhooks.verify(body, headers, WEBHOOK_SECRET, now=time.time() + 3600)
    # Without a secret a push is taken unverified: it is only a hint.
    assert _webhooks.parse(body, {}, {}) == status
    assert _webhooks.parse(b'{"id": "g1", "status": "PROCESSING"}', {}, {}) == JobStatus(
        job_id="g1", state="running"
    )
    assert _webhooks.parse(b"[1, 2]", {}, {}) is None
    assert _webhooks.parse(b"not json", {}, {}) is None


def test_a_plain_http_webhook_url_is_not_sent(
    server: SyncServer, media: tuple[Path, Path], tmp_path: Path
) -> None:
    context = make_context(server, tmp_path)
    context.webhook_url = "http://hooks.example.com/sync"
    submit(lipsync_request(*media), context)
    assert "webhookUrl" not in server.bodies[0]


# -- secrets ----------------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ["create", "get", "list"])
def test_the_key_is_never_in_an_error(
    endpoint: str, server: SyncServer, media: tuple[Path, Path], tmp_path: Path
) -> None:
    """A server that echoes the key back (the fault ``echo``) leaks none of its forms."""
    context = make_context(server, tmp_path)
    request = lipsync_request(*media)
    job = submit(request, context) if endpoint != "create" else ""
    server.fail_next(endpoint, "echo")
    with pytest.raises(EngineError) as caught:
        if endpoint == "create":
            submit(request, context)
        elif endpoint == "get":
            run(_engine.poll(job, context))
        else:
            find(context, request, time.time() - 10)
    text = f"{caught.value} {caught.value!r}"
    assert "you sent" in text  # the echo came through, blanked
    for form in derived_forms(API_KEY):
        assert form not in text
