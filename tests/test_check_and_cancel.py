"""Two engine hooks around paying: ``check_video`` refuses a shot before anything is paid,
``cancel_video`` (``ministudio cancel DIR``) stops jobs still waiting on their engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from ministudio.errors import CapabilityError, EngineError
from ministudio.plugin_kit import EnginePlugin
from ministudio.plugins import PluginHost
from ministudio.remote.cancel import CANCELLED, cancel_render
from ministudio.remote.journal import Journal
from ministudio.run.manifest import Manifest
from ministudio.run.render import plan, render
from ministudio.run.store import ContentStore

from .conftest import tiny_production
from .fakes.sim_server import SimServer
from .test_sim_engine import _load_plugin

sim = _load_plugin()


class Picky(sim.Sim):  # type: ignore[name-defined,misc]
    """The sim engine, with a check that refuses an option it has no input for, and a
    cancel that takes a queued job and not a finished one."""

    id = "sim-picky"

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.cancelled: list[str] = []

    def check(self, request: Any) -> None:
        self.checked.append(request.shot.shot_id)
        if "mood" in request.options:
            raise CapabilityError("engine 'sim-picky' has no input 'mood' (routing.options)")

    def cancel(self, job_id: str) -> bool:
        if job_id == "finished":
            return False
        if job_id == "refused":
            raise EngineError(self.id, "cancel refused (HTTP 403)")
        self.cancelled.append(job_id)
        return True


def _host(engine: Picky) -> PluginHost:
    host = PluginHost()  # the installed plugins (espeak for the lines), and the engine
    host.register(EnginePlugin(engine), "picky")
    return host


def _render(host: PluginHost, film: Any, tmp_path: Path, server: SimServer) -> Manifest:
    env = {"SIM_BASE_URL": server.base_url, "SIM_API_KEY": server.api_key}
    return render(
        film, tmp_path / "out", host=host, store=ContentStore(tmp_path / "store"), env=env
    )


def test_a_shot_the_engine_would_refuse_stops_plan_and_render_before_anything_is_paid(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SIM_EXPECTED_LATENCY", "0.2")
    engine = Picky()
    host = _host(engine)
    refused = tiny_production(
        routing={"video": "sim-picky", "options": {"sim-picky": {"mood": "noir"}}}
    )
    with SimServer(latency=(0.05, 0.05)) as server:
        with pytest.raises(CapabilityError, match="no input 'mood'"):
            plan(refused, tmp_path / "out", host=host, store=ContentStore(tmp_path / "store"))
        with pytest.raises(CapabilityError, match="no input 'mood'"):
            _render(host, refused, tmp_path, server)
        assert server.submissions == 0  # nothing sent, nothing paid
        engine.checked.clear()
        film = tiny_production(routing={"video": "sim-picky"})
        made = _render(host, film, tmp_path, server)
        assert made.film and server.submissions == len(made.shots)
        assert sorted(engine.checked) == sorted(s.id for s in made.shots)  # each, once
        engine.checked.clear()
        _render(host, film, tmp_path, server)  # every shot in the store: nothing to check
        assert engine.checked == [] and server.submissions == len(made.shots)


def test_cancel_stops_the_jobs_still_waiting_and_the_next_render_sends_them_afresh(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SIM_EXPECTED_LATENCY", "0.2")
    engine = Picky()
    host = _host(engine)
    film = tiny_production(routing={"video": "sim-picky"})
    with SimServer(latency=(0.05, 0.05)) as server:
        made = _render(host, film, tmp_path, server)
        first, second = (shot.job_key for shot in made.shots[:2])
        assert first and second
        # As a render stopped mid-way leaves them: one job accepted and waiting, one whose
        # submit answer was lost (the manifest is the real render's, the keys its own).
        journal = Journal(tmp_path / "store" / "journal.sqlite")
        journal.submitted(first, "queued-1")
        journal.submitting(second, "sim-picky", made.shots[1].id)
        journal.close()
        found = anyio.run(cancel_render, made, tmp_path / "out", host, {})
        assert [(c.job_id, c.outcome) for c in found] == [
            ("queued-1", "cancelled"),
            (None, "answer lost"),
        ]
        assert engine.cancelled == ["queued-1"]
        journal = Journal(tmp_path / "store" / "journal.sqlite")
        row = journal.get(first)
        journal.close()
        assert row is not None and row.state == "failed" and row.error == CANCELLED
        # With the clips gone from the store, the next render sends the cancelled job
        # afresh (never waits on it), and finds the lost one by its key: one new job.
        for clip in (tmp_path / "store").rglob("*.mp4"):
            clip.unlink()
        before = server.submissions
        again = _render(host, film, tmp_path, server)
        assert again.film and server.submissions == before + 1
        assert again.shots[0].engine_job_id not in (None, "queued-1")


@pytest.mark.parametrize(
    ("job_id", "outcome", "said"),
    [("finished", "too late", "already ran"), ("refused", "not cancelled", "HTTP 403")],
)
def test_a_job_that_cannot_be_cancelled_says_why_and_stays_in_the_journal(
    job_id: str, outcome: str, said: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SIM_EXPECTED_LATENCY", "0.2")
    host = _host(Picky())
    with SimServer(latency=(0.05, 0.05)) as server:
        made = _render(host, tiny_production(routing={"video": "sim-picky"}), tmp_path, server)
    key = made.shots[0].job_key
    assert key
    journal = Journal(tmp_path / "store" / "journal.sqlite")
    journal.submitted(key, job_id)
    journal.close()
    found = anyio.run(cancel_render, made, tmp_path / "out", host, {})
    assert [(c.outcome, said in c.detail) for c in found] == [(outcome, True)]
    journal = Journal(tmp_path / "store" / "journal.sqlite")
    row = journal.get(key)
    journal.close()
    assert row is not None and row.state == "submitted"


def test_cancel_on_a_folder_without_a_render_says_what_to_do(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from ministudio.cli import cli

    result = CliRunner().invoke(cli, ["cancel", str(tmp_path)])
    assert result.exit_code != 0
    assert "ministudio render FILE -o" in (result.output + str(result.exception))


def test_an_engine_without_cancel_is_reported_not_guessed(tmp_path: Path) -> None:
    host = PluginHost()
    with pytest.raises(EngineError, match="offers no cancellation"):
        anyio.run(lambda: host.cancel_video("animatic", "job-1", None))  # type: ignore[arg-type]
