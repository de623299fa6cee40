"""The legacy Sora engines (ministudio-provider-sora) against the loopback fake of the retired
Sora API (tests/fakes/sora_server.py), through the official openai SDK: the conformance kit on
``sora``, then the first frame as ``input_reference``, sizes and prices, the poll-after hint,
progress, errors, webhooks and ``sora-remix``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import ministudio_sora
import pytest
from ministudio.engines import EngineContext
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MissingKeyError,
    TransientError,
)
from ministudio.jobs import EnvironmentBrief, ShotPrompt, VideoRequest
from ministudio.manifest import Manifest
from ministudio.plugins import PluginHost
from ministudio.remote import RetryPolicy
from ministudio.render import RenderError, RenderOptions, render
from ministudio.spec import Production
from ministudio.store import ContentStore
from ministudio.testing import VideoEngineConformance
from ministudio_sora import _api, _webhook

from .conftest import run_cli
from .fakes.kit import KitFaults
from .fakes.sora_server import MODERATION, SoraServer

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")

KEY = "sora-conformance-SECRET-7f3a"
SECRET = "whsec_" + "c29yYS1mYWtlLXdlYmhvb2stc2VjcmV0LTMyYnl0ZXM="


def _env(server: SoraServer, **more: str) -> dict[str, str]:
    return {"SORA_BASE_URL": server.api_url, "SORA_API_KEY": server.api_key, **more}


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_EXPECTED_LATENCY", "0.2")  # read when the engines are declared
    monkeypatch.delenv("SORA_WEBHOOK_SECRET", raising=False)


class TestSoraConformance(VideoEngineConformance):
    engine_id = "sora"
    sdk_modules = ("openai", "httpx", "httpx2", "PIL")
    refused_action = "Ann does something forbidden"  # the fake's moderation blocks it

    def plugin(self) -> object:
        return ministudio_sora

    @pytest.fixture(autouse=True)
    def server(self) -> Iterator[SoraServer]:
        with SoraServer(api_key=KEY, latency=(0.1, 0.2), fault_retry_after=0.05) as server:
            yield server

    @pytest.fixture
    def engine_env(self, server: SoraServer) -> dict[str, str]:
        return _env(server)

    @pytest.fixture
    def engine_faults(self, server: SoraServer) -> KitFaults:
        return KitFaults(server)

    def test_a_continue_shot_starts_from_the_previous_clip(
        self, tmp_path: Path, engine_env: dict[str, str], server: SoraServer
    ) -> None:
        """The kit's test, then what reached the API: s2's create carried the last frame of s1
        as an ``input_reference`` file part at the video's size; s1's carried none."""
        super().test_a_continue_shot_starts_from_the_previous_clip(tmp_path, engine_env)
        first, second = sorted(server.jobs.values(), key=lambda job: job.submitted_at)
        assert first.input_reference is None
        reference = second.input_reference
        assert reference is not None and reference["content_type"] == "image/png"
        assert reference["size"] == (1280, 720) and second.size == "1280x720"
        assert second.content_type == first.content_type == "multipart/form-data"


# -- hook by hook ---------------------------------------------------------------------------
def _request(**changes: Any) -> VideoRequest:
    shot = ShotPrompt(
        shot_id="s1",
        scene_id="one",
        index=0,
        action="A kite rises",
        shot_size="wide",
        camera_move="static",
        environment=EnvironmentBrief(id="beach", description="a beach"),
    )
    fields: dict[str, Any] = {
        "shot": shot,
        "prompt": "a red kite rises over a beach",
        "duration": 4.0,
        "aspect_ratio": "16:9",
        "width": 1280,
        "height": 720,
        "fps": 24,
        "seed": 1,
        "model": "sora-2",
    }
    fields.update(changes)
    return VideoRequest.model_validate(fields)


def _context(env: dict[str, str], tmp_path: Path, engine: str = "sora") -> EngineContext:
    return EngineContext(engine=engine, work_dir=tmp_path, env=env)


def _submit(request: VideoRequest, context: EngineContext) -> str:
    return anyio.run(_api.submit, context.engine, request, context).job_id


def _wait(server: SoraServer, video_id: str) -> None:
    deadline = time.monotonic() + 10
    while server.jobs[video_id].in_flight:
        assert time.monotonic() < deadline, f"{video_id} never finished"
        time.sleep(0.02)


def _png(path: Path, size: tuple[int, int]) -> Path:
    from PIL import Image

    Image.new("RGB", size, (30, 90, 200)).save(path)
    return path


def test_plugins_lists_both_engines_as_legacy() -> None:
    done = run_cli("plugins")
    assert done.returncode == 0, done.stderr
    assert "engine sora (video)  [legacy]: OpenAI Sora 2 (retired" in done.stdout
    assert "engine sora-remix (video)  [legacy]" in done.stdout
    assert "SORA_BASE_URL" in done.stdout


def test_the_request_fields_and_a_first_frame_fitted_to_the_size(tmp_path: Path) -> None:
    """A 720p first frame goes as it is; a 1080p one is fitted to sora-2-pro's 1792x1024;
    every create is multipart, with a file part only when there is a first frame."""
    with SoraServer(latency=0.05) as server:
        context = _context(_env(server), tmp_path)
        plain = server.jobs[_submit(_request(duration=5.0), context)]
        assert plain.fields == {
            "prompt": "a red kite rises over a beach",
            "model": "sora-2",
            "seconds": "8",
            "size": "1280x720",
        }
        assert plain.content_type == "multipart/form-data" and plain.input_reference is None
        frame = _png(tmp_path / "frame.png", (1280, 720))
        same = server.jobs[_submit(_request(first_frame=frame), context)]
        assert same.input_reference is not None
        assert same.input_reference["data"] == frame.read_bytes()
        big = _png(tmp_path / "big.png", (1920, 1080))
        pro = _request(first_frame=big, model="sora-2-pro", width=1920, height=1080)
        fitted = server.jobs[_submit(pro, context)]
        assert fitted.size == "1792x1024" and fitted.model == "sora-2-pro"
        assert fitted.input_reference is not None
        assert fitted.input_reference["size"] == (1792, 1024)
        tall = _request(aspect_ratio="9:16", width=1080, height=1920, duration=12.0)
        portrait = server.jobs[_submit(tall, context)]  # sora-2 makes no large size
        assert (portrait.size, portrait.seconds) == ("720x1280", "12")


def test_progress_the_poll_after_hint_and_the_price(tmp_path: Path) -> None:
    with SoraServer(latency=1.0, poll_after_ms=250) as server:
        context = _context(_env(server), tmp_path)
        request = _request(model="sora-2-pro", width=1920, height=1080)
        video_id = _submit(request, context)
        status = anyio.run(_api.poll, "sora", video_id, context)
        assert status.state in ("queued", "running")
        assert status.retry_after == pytest.approx(0.25)
        while server.jobs[video_id].status == "queued":
            time.sleep(0.01)
        time.sleep(0.3)
        status = anyio.run(_api.poll, "sora", video_id, context)
        assert status.state == "running" and status.progress is not None
        assert 0.0 < status.progress < 1.0
        _wait(server, video_id)
        status = anyio.run(_api.poll, "sora", video_id, context)
        assert (status.state, status.progress, status.retry_after) == ("succeeded", 1.0, None)
        out = tmp_path / "clip.mp4"
        result = anyio.run(_api.download, "sora", video_id, out, context, request)
    assert result.cost == pytest.approx(4 * 0.50) and result.model == "sora-2-pro"
    assert out.stat().st_size > 0 and server.accepts == ["application/binary"]


def test_submit_errors_map_to_the_core_types(tmp_path: Path) -> None:
    with SoraServer(latency=0.05, fault_retry_after=0.05) as server:
        env = _env(server)
        context = _context(env, tmp_path)
        server.fail_next("create", "429")
        with pytest.raises(TransientError) as busy:
            _submit(_request(), context)
        assert busy.value.retry_after == pytest.approx(0.05)
        server.fail_next("create", "500")
        with pytest.raises(TransientError):
            _submit(_request(), context)
        server.fail_next("create", "quota")
        with pytest.raises(EngineError, match="quota") as quota:
            _submit(_request(), context)
        assert not isinstance(quota.value, TransientError)
        with pytest.raises(EngineRefusal, match="moderation"):
            _submit(_request(prompt="something forbidden"), context)
        with pytest.raises(EngineRefusal, match="model"):
            _submit(_request(model="sora-3"), context)
        bad = _context({**env, "SORA_API_KEY": "wrong-key-0000"}, tmp_path)
        with pytest.raises(MissingKeyError, match="SORA_API_KEY") as denied:
            _submit(_request(), bad)
        assert "wrong-key-0000" not in str(denied.value)
        for kind in ("drop_after_accept", "drop"):
            server.fail_next("create", kind)
            with pytest.raises(AmbiguousSubmission, match="no lookup"):
                _submit(_request(), context)
        assert server.submissions == 1  # drop_after_accept: accepted, its answer lost
    closed = _context(env, tmp_path)  # the server is gone: nothing was sent
    with pytest.raises(TransientError, match="cannot reach"):
        _submit(_request(), closed)


def test_a_missing_or_retired_base_url_is_named(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"SORA_BASE_URL is not set.*2026-09-24"):
        _submit(_request(), _context({"SORA_API_KEY": KEY}, tmp_path))
    with pytest.raises(MissingKeyError, match="SORA_API_KEY"):
        _submit(_request(), _context({"SORA_BASE_URL": "http://127.0.0.1:9/v1"}, tmp_path))
    with SoraServer(retired=True) as server:
        with pytest.raises(EngineError, match="does not speak the Sora API") as info:
            _submit(_request(), _context(_env(server), tmp_path))
        assert not isinstance(info.value, EngineRefusal | TransientError)


def test_poll_and_download_errors(tmp_path: Path) -> None:
    with SoraServer(latency=0.05) as server:
        context = _context(_env(server), tmp_path)
        video_id = _submit(_request(), context)
        server.fail_next("retrieve", "500")
        with pytest.raises(TransientError):
            anyio.run(_api.poll, "sora", video_id, context)
        with pytest.raises(EngineError, match="unknown"):
            anyio.run(_api.poll, "sora", "video_nope", context)
        _wait(server, video_id)
        out = tmp_path / "out" / "clip.mp4"
        for kind in ("truncate", "500", "429"):
            server.fail_next("download", kind)
            with pytest.raises(TransientError):
                anyio.run(_api.download, "sora", video_id, out, context, _request())
            assert not out.exists() and not list(out.parent.iterdir())
        anyio.run(_api.download, "sora", video_id, out, context, _request())
        assert out.exists()


def test_a_failed_video_is_a_refusal_when_moderation_blocked_it(tmp_path: Path) -> None:
    with SoraServer(latency=0.05) as server:
        context = _context(_env(server), tmp_path)
        server.fail_next_job(MODERATION, "The generated video was blocked by moderation.")
        server.fail_next_job("internal_error", "Video generation failed.")
        blocked, broken = (_submit(_request(prompt=f"clip {i}"), context) for i in (1, 2))
        _wait(server, broken)
        first = anyio.run(_api.poll, "sora", blocked, context)
        second = anyio.run(_api.poll, "sora", broken, context)
    assert first.state == "failed" and first.refused and "moderation" in (first.error or "")
    assert second.state == "failed" and not second.refused
    assert second.error == "internal_error: Video generation failed."


def test_project_webhooks_are_verified_and_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fake posts signed ``video.completed``/``video.failed`` events to a receiver; the
    hook verifies them with SORA_WEBHOOK_SECRET (from the process environment)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    got: list[tuple[bytes, dict[str, str]]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((body, {k.lower(): v for k, v in self.headers.items()}))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks/sora"
    try:
        with SoraServer(latency=0.05, webhook_url=url, webhook_secret=SECRET) as server:
            context = _context(_env(server), tmp_path)
            server.fail_next_job()
            failed = _submit(_request(prompt="one"), context)
            done = _submit(_request(prompt="two"), context)
            assert server.wait_idle()
    finally:
        receiver.shutdown()
        receiver.server_close()
    parse = ministudio_sora.parse_webhook
    monkeypatch.setenv("SORA_WEBHOOK_SECRET", SECRET)
    statuses = {}
    for body, headers in got:
        status = parse(engine="sora", body=body, headers=headers)
        assert status is not None
        statuses[status.job_id] = status.state
    assert statuses == {done: "succeeded", failed: "running"}  # failed: the poll says why
    body, headers = got[0]
    assert parse(engine="sora", body=body.replace(b"video_", b"video_x"), headers=headers) is None
    assert parse(engine="luma", body=body, headers=headers) is None
    monkeypatch.setenv("SORA_WEBHOOK_SECRET", "whsec_" + "b3RoZXI=")
    assert parse(engine="sora", body=body, headers=headers) is None
    monkeypatch.delenv("SORA_WEBHOOK_SECRET")
    assert parse(engine="sora", body=body, headers={}) is not None  # unverified without one
    assert parse(engine="sora", body=b'{"type": "batch.completed"}', headers={}) is None
    stale = _webhook.sign(body, SECRET, "evt_1", int(time.time()) - 3600)
    assert not _webhook.verified(body, stale, SECRET)


# -- sora-remix -----------------------------------------------------------------------------
def test_remix_hooks(tmp_path: Path) -> None:
    with SoraServer(latency=0.05) as server:
        env = _env(server)
        source = _submit(_request(model="sora-2-pro", duration=8.0), _context(env, tmp_path))
        _wait(server, source)
        remix = _context(env, tmp_path, "sora-remix")
        request = _request(prompt="the same kite at night", options={"videos": {"s1": source}})
        video_id = _submit(request, remix)
        job = server.jobs[video_id]
        assert job.remixed_from == source and (job.model, job.seconds) == ("sora-2-pro", "8")
        assert job.prompt == "the same kite at night"
        _wait(server, video_id)
        out = tmp_path / "remix.mp4"
        result = anyio.run(_api.download, "sora-remix", video_id, out, remix, request)
        assert result.cost == pytest.approx(8 * 0.30) and result.model == "sora-2-pro"
        with pytest.raises(EngineError, match=r"routing.options.sora-remix.videos"):
            _submit(_request(), remix)
        with pytest.raises(EngineError, match="unknown"):
            _submit(_request(options={"videos": {"s1": "video_gone"}}), remix)
        with pytest.raises(EngineRefusal, match=r"lasts 8 s .* lasts 9\.5 s"):
            _submit(request.model_copy(update={"duration": 9.5}), remix)
        assert server.submissions == 2


def _film(scene: list[dict[str, Any]], **routing: Any) -> Production:
    return Production.model_validate(
        {
            "title": "Sora",
            "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 24},
            "characters": {"ann": {"name": "Ann", "dna": "a woman, red coat"}},
            "environments": {"park": {"description": "a park", "lighting": "day"}},
            "scenes": [{"id": "one", "environment": "park", "shots": scene}],
            "routing": {"video": "sora", **routing},
        }
    )


def _render(film: Production, tmp_path: Path, env: dict[str, str], out: str = "out") -> Manifest:
    return render(
        film,
        tmp_path / out,
        host=PluginHost(env={}),
        store=ContentStore(tmp_path / "store"),
        env=env,
        options=RenderOptions(retry=RetryPolicy(attempts=6, base=0.02, cap=0.2)),
    )


def test_the_core_honours_the_poll_after_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine expects 0.5 s and the job takes 2 s: from 0.36 s the core would ask about
    every 0.1 s; the 300 ms ``openai-poll-after-ms`` hint spaces the status requests out.
    (2 s leaves room for several requests even on a loaded machine.)"""
    monkeypatch.setenv("SORA_EXPECTED_LATENCY", "0.5")
    film = _film([{"id": "s1", "action": "Ann waves", "duration": 4}])
    with SoraServer(latency=2.0, poll_after_ms=300) as server:
        manifest = _render(film, tmp_path, _env(server))
        (job,) = server.jobs.values()
    gaps = [b - a for a, b in zip(job.retrieved_at, job.retrieved_at[1:], strict=False)]
    assert gaps and min(gaps) > 0.2, gaps  # the client sleeps >= 0.3 s between them
    assert manifest.shots[0].state == "done" and manifest.shots[0].cost == pytest.approx(0.4)


def test_an_edited_shot_is_remixed_and_the_others_stay_cached(tmp_path: Path) -> None:
    """Render s1 and s2 on sora; edit s2 and route it to sora-remix naming its earlier video:
    one new job, a remix of s2's video; s1 comes from the store."""
    shots = [
        {"id": "s1", "action": "Ann waves", "duration": 4},
        {"id": "s2", "action": "Ann walks away", "duration": 4},
    ]
    with SoraServer(latency=(0.1, 0.2)) as server:
        env = _env(server)
        first = _render(_film(shots), tmp_path, env)
        earlier = first.shots[1].engine_job_id
        assert earlier in server.jobs and server.submissions == 2
        shots[1]["action"] = "Ann walks away in the rain"
        film = _film(
            shots,
            shots={"s2": "sora-remix"},
            options={"sora-remix": {"videos": {"s2": earlier}}},
        )
        again = _render(film, tmp_path, env, out="again")
        assert server.submissions == 3
        remix = server.jobs[again.shots[1].engine_job_id or ""]
    assert again.shots[0].cached and again.shots[1].engine == "sora-remix"
    assert remix.remixed_from == earlier and "in the rain" in remix.prompt
    assert again.shots[1].state == "done"
    data = json.loads((tmp_path / "again" / "manifest.json").read_text())
    assert data["shots"][1]["engine_job_id"] == remix.id


def test_a_render_without_sora_base_url_fails_naming_it(tmp_path: Path) -> None:
    film = _film([{"id": "s1", "action": "Ann waves", "duration": 4}])
    with pytest.raises(RenderError, match="SORA_BASE_URL"):
        _render(film, tmp_path, {"SORA_API_KEY": KEY})
