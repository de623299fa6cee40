"""The sim engine pair: the loopback fake paid API (tests/fakes/sim_server.py) and the plugin
that talks to it (tests/plugins/sim), hook by hook, over real HTTP with real MP4 bytes."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from ministudio.engines import EngineContext
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MissingKeyError,
    TransientError,
)
from ministudio.jobs import EnvironmentBrief, JobStatus, ShotPrompt, VideoRequest
from ministudio.media.probe import probe

from .fakes.sim_server import SimServer

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_SRC = ROOT / "tests" / "plugins" / "sim"


def _load_plugin() -> Any:
    """The plugin module from its source folder, without putting it on sys.path (where its
    entry point would leak into other tests' plugin discovery)."""
    location = PLUGIN_SRC / "ministudio_sim" / "__init__.py"
    spec = importlib.util.spec_from_file_location("ministudio_sim", location)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sim = _load_plugin()


def request(prompt: str = "a red kite over a hill", **overrides: Any) -> VideoRequest:
    shot = ShotPrompt(
        shot_id="s1",
        scene_id="one",
        index=0,
        action=prompt,
        shot_size="wide",
        camera_move="static",
        environment=EnvironmentBrief(id="hill", description="a green hill"),
    )
    fields: dict[str, Any] = {
        "shot": shot,
        "prompt": prompt,
        "duration": 1.0,
        "aspect_ratio": "16:9",
        "width": 256,
        "height": 144,
        "fps": 24,
        "seed": 7,
    }
    fields.update(overrides)
    return VideoRequest(**fields)


def context(server: SimServer, tmp_path: Path, **env: str) -> EngineContext:
    base = {"SIM_BASE_URL": server.base_url, "SIM_API_KEY": server.api_key}
    webhook_url = env.pop("webhook_url", None)
    return EngineContext(
        engine="sim", work_dir=tmp_path, env={**base, **env}, webhook_url=webhook_url
    )


def run(fn: Any, *args: Any) -> Any:
    return anyio.run(fn, *args)


async def submit(ctx: EngineContext, req: VideoRequest | None = None, key: str = "k1") -> str:
    submission = await sim.submit_video("sim", req or request(), key, ctx)
    return str(submission.job_id)


async def until_done(ctx: EngineContext, job_id: str, timeout: float = 10.0) -> JobStatus:
    deadline = time.monotonic() + timeout
    while True:
        status: JobStatus = await sim.poll_video("sim", job_id, ctx)
        if status.state in ("succeeded", "failed"):
            return status
        assert time.monotonic() < deadline, f"job {job_id} still {status.state}"
        await anyio.sleep(0.03)


# -- the happy path -------------------------------------------------------------------------


def test_submit_poll_download_gives_a_real_clip(tmp_path: Path) -> None:
    with SimServer(latency=0.15) as server:
        ctx = context(server, tmp_path)
        out = tmp_path / "clip.mp4"

        async def main() -> tuple[str, list[str], Any]:
            job_id = await submit(ctx, key="shot-key-1")
            states = []
            while True:
                status = await sim.poll_video("sim", job_id, ctx)
                states.append(status.state)
                assert status.progress is not None and 0.0 <= status.progress <= 1.0
                if status.state == "succeeded":
                    break
                await anyio.sleep(0.02)
            result = await sim.download_video("sim", job_id, status, out, ctx)
            return job_id, states, result

        job_id, states, result = run(main)

    order = ["queued", "running", "succeeded"]
    assert states[-1] == "succeeded" and "running" in states
    assert [order.index(s) for s in states] == sorted(order.index(s) for s in states)
    assert result.path == out and result.engine_job_id == job_id and result.model == "sim-1"
    assert result.cost == pytest.approx(0.10 * 1.0)
    info = probe(out)
    assert (info.width, info.height, info.fps, info.frames) == (256, 144, 24.0, 24)
    assert info.duration == pytest.approx(1.0, abs=0.05)
    assert info.video_codec == "h264"
    job = server.jobs[job_id]
    assert job.external_id == "shot-key-1" and job.state == "succeeded"
    assert job.status_requests == len(states)  # the status gave download_video its video_url
    assert job.done_at is not None and job.done_at - job.submitted_at >= 0.15
    assert job.download_started_at is not None and job.download_started_at >= job.done_at
    assert server.submissions == 1 and server.billed_seconds == 1.0
    assert ("POST", "/v1/clips") in server.requests
    assert not list(tmp_path.glob("*.part"))


def test_the_clip_has_the_requested_size_rate_and_length(tmp_path: Path) -> None:
    with SimServer(latency=0.05) as server:
        ctx = context(server, tmp_path)
        req = request(width=144, height=256, fps=12, duration=2.5, seed=3)
        out = tmp_path / "tall.mp4"

        async def main() -> None:
            job_id = await submit(ctx, req)
            status = await until_done(ctx, job_id)
            result = await sim.download_video("sim", job_id, status, out, ctx)
            assert result.cost == pytest.approx(0.25)

        run(main)
    info = probe(out)
    assert (info.width, info.height, info.fps, info.frames) == (144, 256, 12.0, 30)
    assert info.duration == pytest.approx(2.5, abs=0.1)


def test_first_frame_is_sent_as_a_png(tmp_path: Path) -> None:
    from PIL import Image

    frame = tmp_path / "first.png"
    Image.new("RGB", (256, 144), (10, 20, 30)).save(frame)
    with SimServer(latency=0.05) as server:
        ctx = context(server, tmp_path)
        job_id = run(submit, ctx, request(first_frame=frame))
    assert server.jobs[job_id].first_frame is True


# -- limits ---------------------------------------------------------------------------------


def test_concurrency_limit_is_a_transient_error_with_retry_after(tmp_path: Path) -> None:
    # The first job outlasts a slow second submit on a loaded machine (0.3 s did not, in CI).
    with SimServer(latency=1.5, concurrency=1) as server:
        ctx = context(server, tmp_path)

        async def main() -> None:
            await submit(ctx, key="a")
            with pytest.raises(TransientError) as caught:
                await submit(ctx, key="b")
            assert "concurrency_limit" in str(caught.value)
            assert caught.value.retry_after is not None
            assert 0.0 < caught.value.retry_after <= 1.5
            await anyio.sleep(caught.value.retry_after + 0.05)
            await submit(ctx, key="b")  # a slot freed when the first job finished

        run(main)
        assert server.rejected["concurrency_limit"] == 1
        assert server.submissions == 2 and server.peak_concurrency == 1


def test_requests_per_minute_limit_is_a_transient_error(tmp_path: Path) -> None:
    with SimServer(latency=0.05, concurrency=None, requests_per_minute=2) as server:
        ctx = context(server, tmp_path)

        async def main() -> None:
            await submit(ctx, key="a")
            await submit(ctx, key="b")
            with pytest.raises(TransientError) as caught:
                await submit(ctx, key="c")
            assert "rate_limit" in str(caught.value)
            assert caught.value.retry_after == pytest.approx(60.0, abs=2.0)

        run(main)
        assert server.submissions == 2 and server.rejected["rate_limit"] == 1


def test_a_short_rate_window_frees_quickly(tmp_path: Path) -> None:
    with SimServer(latency=0.05, requests_per_minute=1, rate_window=0.2) as server:
        ctx = context(server, tmp_path)

        async def main() -> None:
            await submit(ctx, key="a")
            with pytest.raises(TransientError) as caught:
                await submit(ctx, key="b")
            assert caught.value.retry_after is not None and caught.value.retry_after <= 0.2
            await anyio.sleep(caught.value.retry_after + 0.02)
            await submit(ctx, key="b")

        run(main)
        assert server.submissions == 2


# -- submit faults: transient, refused, ambiguous -------------------------------------------


@pytest.mark.parametrize("kind", ["500", "429"])
def test_server_errors_on_submit_are_transient(tmp_path: Path, kind: str) -> None:
    with SimServer(latency=0.05) as server:
        ctx = context(server, tmp_path)
        server.fail_next("submit", kind)
        with pytest.raises(TransientError) as caught:
            run(submit, ctx)
        if kind == "429":
            assert caught.value.retry_after == pytest.approx(server.fault_retry_after)
        assert server.submissions == 0
        run(submit, ctx)  # the fault was for one request only
        assert server.submissions == 1


def test_connection_refused_on_submit_is_transient(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe_socket:  # a port nothing listens on
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    ctx = EngineContext(
        engine="sim",
        work_dir=tmp_path,
        env={"SIM_BASE_URL": f"http://127.0.0.1:{port}", "SIM_API_KEY": "k"},
    )
    with pytest.raises(TransientError, match="cannot reach"):
        run(submit, ctx)


def test_a_dropped_submit_is_ambiguous_and_the_lookup_finds_nothing(tmp_path: Path) -> None:
    # A connection closed after the request went out looks the same to the client whether or
    # not the server acted on it, so the plugin never calls it transient: the core looks up.
    with SimServer(latency=0.05) as server:
        ctx = context(server, tmp_path)
        server.fail_next("submit", "drop")
        with pytest.raises(AmbiguousSubmission, match="look it up"):
            run(submit, ctx, request(), "lost-1")
        assert run(sim.find_video_job, "sim", "lost-1", ctx) is None
        assert server.submissions == 0


def test_drop_after_accept_is_ambiguous_and_the_lookup_finds_the_job(tmp_path: Path) -> None:
    with SimServer(latency=0.05) as server:
        ctx = context(server, tmp_path)
        server.fail_next("submit", "drop_after_accept")
        with pytest.raises(AmbiguousSubmission):
            run(submit, ctx, request(), "lost-2")
        found = run(sim.find_video_job, "sim", "lost-2", ctx)
        assert found is not None and server.jobs[found].external_id == "lost-2"
        assert run(sim.find_video_job, "sim", "someone-else", ctx) is None
        assert server.submissions == 1
        assert run(until_done, ctx, found).state == "succeeded"


@pytest.mark.parametrize(
    ("overrides", "why"), [({"duration": 0.0}, "duration"), ({"width": 255}, "width")]
)
def test_an_invalid_request_is_refused(tmp_path: Path, overrides: dict[str, Any], why: str) -> None:
    with SimServer(latency=0.05) as server:
        ctx = context(server, tmp_path)
        with pytest.raises(EngineRefusal, match=why) as caught:
            run(submit, ctx, request(**overrides))
        assert not caught.value.retryable
        assert server.submissions == 0


def test_a_blocked_prompt_is_billed_then_refused(tmp_path: Path) -> None:
    with SimServer(latency=0.05) as server:
        ctx = context(server, tmp_path)
        job_id = run(submit, ctx, request("a FORBIDDEN dance"))
        status = run(until_done, ctx, job_id)
        assert status.state == "failed" and status.refused
        assert status.error == "safety: prompt blocked by safety filter"
        with pytest.raises(EngineRefusal, match="safety"):
            run(sim.download_video, "sim", job_id, status, tmp_path / "x.mp4", ctx)
        assert server.submissions == 1
    assert not (tmp_path / "x.mp4").exists()


def test_a_wrong_key_names_the_variable_and_never_the_key(tmp_path: Path) -> None:
    secret = "sk-wrong-0123456789"
    with SimServer(latency=0.05) as server:
        ctx = context(server, tmp_path, SIM_API_KEY=secret)
        for call in (
            lambda: submit(ctx),
            lambda: sim.poll_video("sim", "clip_000001", ctx),
            lambda: sim.find_video_job("sim", "k", ctx),
        ):
            with pytest.raises(MissingKeyError) as caught:
                run(call)
            text = str(caught.value)
            assert "SIM_API_KEY" in text and "rejected" in text and secret not in text
            assert secret not in repr(caught.value.args)
        assert server.submissions == 0


def test_a_missing_key_or_url_stops_before_any_request(tmp_path: Path) -> None:
    with SimServer(latency=0.05) as server:
        no_key = EngineContext(engine="sim", work_dir=tmp_path, env={"SIM_BASE_URL": "x"})
        with pytest.raises(MissingKeyError, match="SIM_API_KEY"):
            run(submit, no_key)
        no_url = EngineContext(engine="sim", work_dir=tmp_path, env={"SIM_API_KEY": "k"})
        with pytest.raises(EngineError, match="SIM_BASE_URL"):
            run(submit, no_url)
        assert server.requests == []


# -- polling --------------------------------------------------------------------------------


def test_poll_after_hint_becomes_retry_after(tmp_path: Path) -> None:
    with SimServer(latency=0.2, poll_after_ms=250) as server:
        ctx = context(server, tmp_path)
        job_id = run(submit, ctx)
        status = run(sim.poll_video, "sim", job_id, ctx)
        assert status.retry_after == pytest.approx(0.25)
    with SimServer(latency=0.2) as server:
        ctx = context(server, tmp_path)
        job_id = run(submit, ctx)
        assert run(sim.poll_video, "sim", job_id, ctx).retry_after is None


@pytest.mark.parametrize("kind", ["429", "500", "drop"])
def test_status_faults_are_transient(tmp_path: Path, kind: str) -> None:
    with SimServer(latency=0.05) as server:
        ctx = context(server, tmp_path)
        job_id = run(submit, ctx)
        server.fail_next("status", kind)
        with pytest.raises(TransientError):
            run(sim.poll_video, "sim", job_id, ctx)
        assert run(until_done, ctx, job_id).state == "succeeded"


def test_an_unknown_job_is_not_transient(tmp_path: Path) -> None:
    with SimServer(latency=0.05) as server:
        ctx = context(server, tmp_path)
        with pytest.raises(EngineError) as caught:
            run(sim.poll_video, "sim", "clip_999999", ctx)
        assert not isinstance(caught.value, TransientError)


# -- downloads ------------------------------------------------------------------------------


def test_a_truncated_download_is_transient_and_leaves_no_file(tmp_path: Path) -> None:
    with SimServer(latency=0.05) as server:
        ctx = context(server, tmp_path)
        out = tmp_path / "clips" / "cut.mp4"
        job_id = run(submit, ctx)
        status = run(until_done, ctx, job_id)
        server.fail_next("download", "truncate")
        with pytest.raises(TransientError, match="cut short"):
            run(sim.download_video, "sim", job_id, status, out, ctx)
        assert not out.exists() and not list(out.parent.glob("*"))
        server.fail_next("download", "drop")
        with pytest.raises(TransientError):
            run(sim.download_video, "sim", job_id, status, out, ctx)
        assert not out.exists()
        run(sim.download_video, "sim", job_id, status, out, ctx)  # a second try gets it whole
        assert probe(out).frames == 24
        assert server.jobs[job_id].downloads == 2  # the dropped one never reached the file
        assert server.submissions == 1


def test_download_before_the_job_is_done_is_transient(tmp_path: Path) -> None:
    with SimServer(latency=0.5) as server:
        ctx = context(server, tmp_path)
        job_id = run(submit, ctx)
        status = run(sim.poll_video, "sim", job_id, ctx)
        with pytest.raises(TransientError, match="no video yet"):
            run(sim.download_video, "sim", job_id, status, tmp_path / "early.mp4", ctx)


def test_download_asks_for_the_video_url_when_the_status_lacks_it(tmp_path: Path) -> None:
    with SimServer(latency=0.05) as server:
        ctx = context(server, tmp_path)
        job_id = run(submit, ctx)
        assert server.wait_idle(5)
        bare = JobStatus(job_id=job_id, state="succeeded")
        result = run(sim.download_video, "sim", job_id, bare, tmp_path / "asked.mp4", ctx)
        assert result.cost == pytest.approx(0.1) and probe(result.path).frames == 24
        assert server.jobs[job_id].status_requests == 1


# -- webhooks -------------------------------------------------------------------------------


class Receiver:
    """A tiny loopback webhook receiver; ``fail_first`` answers 500 that many times."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[tuple[bytes, dict[str, str]]] = []
        self.arrived = threading.Event()
        self.fail_first = fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    self.send_response(500)
                else:
                    outer.bodies.append((body, dict(self.headers)))
                    outer.arrived.set()
                    self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/sim"
        serve = {"poll_interval": 0.05}  # shutdown() waits up to one interval
        threading.Thread(target=self.httpd.serve_forever, kwargs=serve, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("fail_first", [0, 2])
def test_a_webhook_brings_the_terminal_status(tmp_path: Path, fail_first: int) -> None:
    receiver = Receiver(fail_first=fail_first)
    try:
        with SimServer(latency=0.1, webhook_retry_delay=0.02) as server:
            ctx = context(server, tmp_path, webhook_url=receiver.url)
            job_id = run(submit, ctx)
            assert receiver.arrived.wait(5)
            assert server.wait_idle(5)
            (delivery,) = server.webhooks
            assert delivery.delivered and delivery.attempts == 1 + fail_first
            (body, headers) = receiver.bodies[0]
            assert json.loads(body)["id"] == job_id
            status = sim.parse_webhook("sim", body, headers)
            assert isinstance(status, JobStatus)
            assert (status.job_id, status.state, status.progress, status.refused) == (
                job_id,
                "succeeded",
                1.0,
                False,
            )
            assert status.video_url == f"{server.base_url}/v1/files/{job_id}.mp4"
            out = tmp_path / "pushed.mp4"
            result = run(sim.download_video, "sim", job_id, status, out, ctx)
            assert result.cost == pytest.approx(0.1) and probe(out).frames == 24
            assert server.jobs[job_id].status_requests == 0  # the push was enough
    finally:
        receiver.close()
    assert sim.parse_webhook("other", body, headers) is None
    assert sim.parse_webhook("sim", b"not json", {}) is None


def test_a_refused_job_webhook_says_refused(tmp_path: Path) -> None:
    receiver = Receiver()
    try:
        with SimServer(latency=0.05) as server:
            ctx = context(server, tmp_path, webhook_url=receiver.url)
            run(submit, ctx, request("forbidden fruit"))
            assert receiver.arrived.wait(5)
    finally:
        receiver.close()
    status = sim.parse_webhook("sim", *receiver.bodies[0])
    assert status is not None and status.state == "failed" and status.refused


# -- the server's own knobs -----------------------------------------------------------------


def test_latency_is_drawn_per_job_and_jobs_overlap(tmp_path: Path) -> None:
    with SimServer(latency=(0.2, 0.5), concurrency=8) as server:
        ctx = context(server, tmp_path)

        async def main() -> list[str]:
            ids: list[str] = []
            async with anyio.create_task_group() as tg:
                for n in range(6):

                    async def one(n: int = n) -> None:
                        ids.append(await submit(ctx, request(seed=n), key=f"k{n}"))

                    tg.start_soon(one)
            return ids

        started = time.monotonic()
        ids = run(main)
        assert server.wait_idle(5)
        elapsed = time.monotonic() - started
    latencies = [server.jobs[i].latency for i in ids]
    assert all(0.1 <= x <= 0.3 for x in latencies) and len(set(latencies)) > 1
    assert elapsed < 1.0  # six jobs at once, not one after another
    assert server.peak_concurrency == 6


def test_latency_may_be_a_function_of_the_seed(tmp_path: Path) -> None:
    with SimServer(latency=lambda seed: 0.05 * seed) as server:
        ctx = context(server, tmp_path)
        job_id = run(submit, ctx, request(seed=3))
        assert server.jobs[job_id].latency == pytest.approx(0.15)


def test_fault_arguments_are_checked() -> None:
    server = SimServer()
    with pytest.raises(ValueError, match="truncate"):
        server.fail_next("submit", "truncate")
    with pytest.raises(ValueError, match="fault kind"):
        server.fail_next("submit", "explode")
    queued = SimServer(faults={"submit": ["500", "drop"], "download": "truncate"})
    assert list(queued._faults["submit"]) == ["500", "drop"]


# -- the plugin as the core sees it ---------------------------------------------------------


def test_the_engine_declaration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_EXPECTED_LATENCY", "0.4")
    (engine,) = sim.ministudio_engines()
    caps = engine.capabilities
    assert (engine.id, engine.kind, engine.key_env, engine.default_model) == (
        "sim",
        "video",
        ("SIM_API_KEY",),
        "sim-1",
    )
    assert caps.durations == (4.0, 8.0) and caps.webhooks and caps.first_frame and caps.seed
    assert (caps.concurrency, caps.requests_per_minute, caps.price_per_second) == (4, 60, 0.10)
    assert caps.expected_latency == 0.4


def test_the_core_host_routes_to_the_plugin(tmp_path: Path) -> None:
    from ministudio.jobs import Submission, VideoResult
    from ministudio.plugins import PluginHost

    host = PluginHost(env={}, discover=False)
    info = host.register(sim, "sim")
    assert info.error is None and info.engines == ["sim"]
    assert {"submit_video", "poll_video", "download_video", "find_video_job"} <= set(info.hooks)
    with SimServer(latency=0.05) as server:
        ctx = context(server, tmp_path)

        async def main() -> VideoResult:
            submission = await host.call_engine(
                "sim", "submit_video", request=request(), idempotency_key="k", context=ctx
            )
            assert isinstance(submission, Submission)
            status = await until_done(ctx, submission.job_id)
            found = await host.call_engine(
                "sim",
                "find_video_job",
                idempotency_key="k",
                context=ctx,
                request=request(),
                since=0.0,
                expected=(str,),
            )
            assert found == submission.job_id
            result: VideoResult = await host.call_engine(
                "sim",
                "download_video",
                job_id=submission.job_id,
                status=status,
                output=tmp_path / "routed.mp4",
                context=ctx,
                request=request(),
            )
            return result

        assert run(main).cost == pytest.approx(0.1)


def test_the_distribution_builds_with_its_entry_point(plugin_sites: dict[str, Path]) -> None:
    site = plugin_sites["sim"]
    assert (site / "ministudio_sim" / "__init__.py").is_file()
    (dist_info,) = site.glob("ministudio_provider_sim-0.1.0.dist-info")
    entry_points = (dist_info / "entry_points.txt").read_text()
    assert "[ministudio]" in entry_points and "sim = ministudio_sim" in entry_points
    assert "Requires-Dist: httpx" in (dist_info / "METADATA").read_text()
