"""The render engine against a paid engine on loopback: submitted once, resumed, paid once."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av
import pytest
from ministudio import hookimpl
from ministudio.plugins import PluginHost
from ministudio.remote.journal import Journal
from ministudio.remote.pacing import RetryPolicy
from ministudio.run.render import BudgetError, RenderError, RenderOptions, plan, render
from ministudio.run.store import ContentStore
from ministudio.spec import Production

from .conftest import run_cli
from .fakes.sim_server import SimServer
from .test_sim_engine import _load_plugin

FAST = RetryPolicy(attempts=6, base=0.02, cap=0.2)


def production(shots: int = 4, *, chain: bool = False, **routing: Any) -> Production:
    """``shots`` one-line shots at 480p, all routed to the sim engine."""
    return Production.model_validate(
        {
            "title": "Remote",
            "format": {"aspect_ratio": "16:9", "resolution": "480p", "fps": 24},
            "characters": {"ann": {"name": "Ann", "dna": "a woman in a red coat"}},
            "environments": {"park": {"description": "a park"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [
                        {
                            "id": f"s{i + 1}",
                            "action": f"Ann does thing number {i + 1}",
                            "continuity": "continue" if chain and i else "cut",
                            "dialogue": [{"speaker": "ann", "text": f"Line {i + 1}."}],
                        }
                        for i in range(shots)
                    ],
                }
            ],
            "routing": {"video": "sim", **routing},
        }
    )


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> PluginHost:
    monkeypatch.setenv("SIM_EXPECTED_LATENCY", "0.3")
    plugins = PluginHost()
    plugins.register(_load_plugin(), "sim")
    return plugins


def env_for(server: SimServer) -> dict[str, str]:
    return {"SIM_BASE_URL": server.base_url, "SIM_API_KEY": server.api_key}


def go(
    film: Production,
    server: SimServer,
    host: PluginHost,
    tmp_path: Path,
    out: str = "out",
    **options: Any,
) -> Any:
    return render(
        film,
        tmp_path / out,
        host=host,
        store=ContentStore(tmp_path / "store"),
        env=env_for(server),
        options=RenderOptions(retry=FAST, **options),
    )


def frames(film: Path) -> int:
    with av.open(str(film)) as container:
        return sum(1 for _ in container.demux(video=0)) - 1  # the flushing packet


def test_each_shot_is_submitted_once_and_the_film_is_whole(host, tmp_path) -> None:
    with SimServer(latency=(0.3, 0.2)) as server:
        manifest = go(production(), server, host, tmp_path)
        assert server.submissions == 4
        assert all(job.status_requests <= 12 for job in server.jobs.values())
    assert {s.engine_job_id for s in manifest.shots} == set(server.jobs)
    assert manifest.cost == pytest.approx(4 * 4 * 0.10)  # 4 clips of 4 s at $0.10/s
    assert frames(tmp_path / "out" / "film.mp4") == sum(s.frames for s in manifest.shots)
    journal = Journal(tmp_path / "store" / "journal.sqlite")
    timeline = journal.timeline([s.job_key for s in manifest.shots if s.job_key])
    assert len(timeline) == 4  # each job's life, for the review page, in order
    for events in timeline.values():
        assert [e for e, _ in events] == ["queued", "submitted", "done", "downloaded"]
        assert [at for _, at in events] == sorted(at for _, at in events)


def test_a_second_render_submits_nothing_and_an_edit_submits_one(host, tmp_path) -> None:
    with SimServer(latency=(0.2, 0.2)) as server:
        go(production(), server, host, tmp_path)
        go(production(), server, host, tmp_path, "again")
        assert server.submissions == 4
        edited = production().model_dump()
        edited["scenes"][0]["shots"][2]["action"] = "Ann does something else"
        manifest = go(Production.model_validate(edited), server, host, tmp_path, "edited")
        assert server.submissions == 5
    assert [s.cached for s in manifest.shots] == [True, True, False, True]


def test_passing_faults_are_retried_and_nothing_is_paid_twice(host, tmp_path) -> None:
    with SimServer(latency=(0.2, 0.2)) as server:
        server.fail_next("submit", "429")
        server.fail_next("submit", "500")
        server.fail_next("submit", "drop_after_accept")  # billed, answer lost: looked up
        server.fail_next("status", "500", count=2)
        server.fail_next("download", "truncate")
        manifest = go(production(), server, host, tmp_path)
        assert server.submissions == 4
    assert (tmp_path / "out" / "film.mp4").exists() and len(manifest.shots) == 4


def test_a_safety_refusal_is_not_resent(host, tmp_path) -> None:
    film = production().model_dump()
    film["scenes"][0]["shots"][1]["action"] = "Ann does something forbidden"
    with SimServer(latency=(0.2, 0.2)) as server, pytest.raises(RenderError) as info:
        go(Production.model_validate(film), server, host, tmp_path)
    assert "s2: sim: refused: safety: prompt blocked by safety filter" in str(info.value)
    assert server.submissions == 4  # one each, the refused one included, none resent


def test_webhooks_replace_polling(host, tmp_path) -> None:
    with SimServer(latency=(0.3, 0.2)) as server:
        go(production(), server, host, tmp_path, webhook_url="http://127.0.0.1:{port}")
        assert server.submissions == 4
        assert [job.status_requests for job in server.jobs.values()] == [0, 0, 0, 0]
        assert all(w.delivered for w in server.webhooks)


def test_routing_limits_override_the_declared_concurrency(host, tmp_path) -> None:
    film = production(6, limits={"sim": {"concurrency": 2}})
    with SimServer(latency=(0.2, 0.1), concurrency=2) as server:
        go(film, server, host, tmp_path)
        assert server.peak_concurrency == 2 and not server.rejected


def test_continue_chains_wait_for_the_last_frame(host, tmp_path) -> None:
    with SimServer(latency=(0.2, 0.1)) as server:
        go(production(3, chain=True), server, host, tmp_path)
        jobs = sorted(server.jobs.values(), key=lambda job: job.submitted_at)
    assert [job.first_frame for job in jobs] == [False, True, True]
    for before, after in itertools.pairwise(jobs):
        assert after.submitted_at >= before.done_at  # each waits for the one before


def test_budget_and_max_cost_refuse_before_any_submission(host, tmp_path) -> None:
    with SimServer() as server:
        with pytest.raises(BudgetError, match=r"cost \$1.60, above --max-cost of \$1.00"):
            go(production(), server, host, tmp_path, max_cost=1.0)
        budgeted = production().model_copy(update={"budget": 0.5})
        with pytest.raises(BudgetError, match="above the production's budget"):
            go(budgeted, server, host, tmp_path)
        assert server.submissions == 0


def test_plan_says_what_renders_why_and_at_what_cost(host, tmp_path) -> None:
    store = ContentStore(tmp_path / "store")
    first = plan(production(), tmp_path / "out", host=host, store=store)
    assert [s.reason for s in first.shots] == ["first render"] * 4
    assert first.cost == pytest.approx(1.6) and first.wall_time() == pytest.approx(0.3)
    with SimServer(latency=(0.2, 0.2)) as server:
        go(production(), server, host, tmp_path)
    edited = production().model_dump()
    edited["scenes"][0]["shots"][0]["action"] = "Ann does a new thing"
    again = plan(Production.model_validate(edited), tmp_path / "out", host=host, store=store)
    assert [s.cached for s in again.shots] == [False, True, True, True]
    assert again.shots[0].reason == "changed: prompt, shot description"
    assert again.cost == pytest.approx(0.4)


class NoLookup:
    """The sim engine as a provider that offers no way to find a job by external id."""

    def __init__(self) -> None:
        self.sim = _load_plugin()

    @hookimpl
    def ministudio_engines(self) -> Any:
        return self.sim.ministudio_engines()

    @hookimpl
    def submit_video(self, engine, request, idempotency_key, context) -> Any:
        return self.sim.submit_video(engine, request, idempotency_key, context)

    @hookimpl
    def poll_video(self, engine, job_id, context) -> Any:
        return self.sim.poll_video(engine, job_id, context)

    @hookimpl
    def download_video(self, engine, job_id, status, output, context) -> Any:
        return self.sim.download_video(engine, job_id, status, output, context)


def test_a_lost_answer_without_lookup_stops_the_shot_until_told(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SIM_EXPECTED_LATENCY", "0.3")
    host = PluginHost()
    host.register(NoLookup(), "sim-no-lookup")
    with SimServer(latency=(0.2, 0.2)) as server:
        server.fail_next("submit", "drop_after_accept")
        with pytest.raises(RenderError, match="--forget-lost"):
            go(production(), server, host, tmp_path)
        assert server.submissions == 4  # the lost one was billed once and not resent
        with pytest.raises(RenderError, match="--forget-lost"):
            go(production(), server, host, tmp_path)  # still not resent on a plain retry
        assert server.submissions == 4
        go(production(), server, host, tmp_path, forget_lost=True)
        assert server.submissions == 5  # the user chose to pay again


def test_kill_9_at_random_moments_then_resume_pays_each_shot_once(plugin_sites, tmp_path) -> None:
    film = tmp_path / "film.json"
    film.write_text(production(6).model_dump_json())
    store, out = tmp_path / "store", tmp_path / "out"
    rng = random.Random(7)
    with SimServer(latency=(0.6, 0.3), concurrency=3) as server:
        env = {
            **os.environ,
            **env_for(server),
            "SIM_EXPECTED_LATENCY": "0.6",
            "PYTHONPATH": str(plugin_sites["sim"]),
        }
        command = [
            sys.executable,
            "-m",
            "ministudio",
            "render",
            str(film),
            "-o",
            str(out),
            "--store",
            str(store),
            "-q",
        ]
        for _ in range(4):
            child = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(rng.uniform(0.8, 2.0))
            child.send_signal(signal.SIGKILL)
            child.wait()
        finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert finished.returncode == 0, finished.stderr
        assert server.submissions == 6
    manifest = json.loads((out / "manifest.json").read_text())
    assert frames(out / "film.mp4") == sum(s["frames"] for s in manifest["shots"])


def test_a_full_engine_is_waited_out_not_given_up(host, tmp_path) -> None:
    """The engine takes 1 job at a time and answers the others 429 "retry in N s": with only
    2 attempts per failure, every shot still renders, each submitted once (a full queue is
    not a broken engine)."""
    with SimServer(latency=(0.3, 0.1), concurrency=1) as server:
        manifest = render(
            production(4, limits={"sim": {"concurrency": 4}}),
            tmp_path / "out",
            host=host,
            store=ContentStore(tmp_path / "store"),
            env=env_for(server),
            options=RenderOptions(retry=RetryPolicy(attempts=2, base=0.01, cap=0.05)),
        )
        assert server.submissions == 4
        assert server.rejected["concurrency_limit"] > 0
    assert all(shot.state == "done" for shot in manifest.shots)


def test_status_shows_engine_jobs(host, tmp_path) -> None:
    with SimServer(latency=(0.2, 0.2)) as server:
        go(production(2), server, host, tmp_path)
    shown = run_cli("status", str(tmp_path / "out"))
    assert shown.returncode == 0
    for job_id in server.jobs:
        assert job_id in shown.stdout


class CrashesBeforeSending(NoLookup):
    """The sim engine (no lookup), its submit crashing (a kill, as far as the journal can
    tell) before the request leaves, declared with or without ``marks_sending``."""

    def __init__(self, marks_sending: bool) -> None:
        super().__init__()
        self.marks_sending = marks_sending
        self.crash = True

    @hookimpl
    def ministudio_engines(self) -> Any:
        import dataclasses

        return [dataclasses.replace(self.sim.spec(), marks_sending=self.marks_sending)]

    @hookimpl
    def submit_video(self, engine, request, idempotency_key, context) -> Any:
        if self.crash:
            raise RuntimeError("killed while preparing")
        return self.sim.submit_video(engine, request, idempotency_key, context)


@pytest.mark.parametrize("marks_sending", [True, False])
def test_the_journal_marks_a_job_only_as_its_request_leaves(
    marks_sending: bool, monkeypatch, tmp_path
) -> None:
    """A plugin that says when its request leaves (``context.sending()``) and dies before:
    nothing is in flight, the next render submits. A plugin that never says: the job was
    marked before its hook, so the next render stops it as possibly billed (never twice)."""
    monkeypatch.setenv("SIM_EXPECTED_LATENCY", "0.3")
    plugin = CrashesBeforeSending(marks_sending)
    host = PluginHost()
    host.register(plugin, "sim-crashing")
    with SimServer(latency=(0.2, 0.2)) as server:
        with pytest.raises(RenderError, match="killed while preparing"):
            go(production(1), server, host, tmp_path)
        plugin.crash = False
        if marks_sending:
            go(production(1), server, host, tmp_path)
            assert server.submissions == 1
        else:
            with pytest.raises(RenderError, match="--forget-lost"):
                go(production(1), server, host, tmp_path)
            assert server.submissions == 0


def test_a_clip_stored_but_not_fitted_keeps_its_engine_job(host, tmp_path) -> None:
    """The fitted clip is lost (a render killed between storing and fitting): the next
    render fits the stored clip again and still names the engine job that made it."""
    with SimServer(latency=(0.2, 0.2)) as server:
        first = go(production(2), server, host, tmp_path)
        store = ContentStore(tmp_path / "store")
        raw = {store.path(s.job_key or "", ".mp4") for s in first.shots}
        for path in store.root.rglob("*.mp4"):
            if path not in raw:
                path.unlink()  # the fitted clips
        again = go(production(2), server, host, tmp_path, "again")
        assert server.submissions == 2
    assert [s.engine_job_id for s in again.shots] == [s.engine_job_id for s in first.shots]
    assert all(s.cached for s in again.shots)
