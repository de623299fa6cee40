"""A plugin that crashes is named: its engine, the plugin and its distribution, in the error,
the manifest and `ministudio status`; the traceback is kept for --debug; a fallback that
saved a shot is said; a crashing check names its plugin."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from ministudio import hookimpl
from ministudio.cli import cli
from ministudio.engines import Capabilities, EngineSpec
from ministudio.jobs import VideoRequest
from ministudio.plugins import PluginHost, PluginInfo
from ministudio.run.manifest import Manifest
from ministudio.run.render import RenderError, RenderOptions, render
from ministudio.run.store import ContentStore

from .conftest import run_cli, tiny_production

# A third party's plugin with a bug, installed as a distribution (an entry point and its
# metadata on the path): the CLI finds it as it finds any plugin.
PLUGIN = """\
from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineSpec


@hookimpl
def ministudio_engines():
    caps = Capabilities(resolutions=("480p",))
    return [EngineSpec(id="crashy", kind="video", capabilities=caps)]


@hookimpl
def generate_video(engine, request, output, context):
    return _ratio(1, 0)


def _ratio(a, b):
    return a / b
"""
CRASH = (
    "ZeroDivisionError: division by zero (a crash in engine 'crashy' of plugin 'crashy' "
    "(distribution ministudio-crashy 0.3): a bug to report to the plugin's authors)"
)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """``ministudio-crashy`` 0.3, installed into a folder to put on the path."""
    site = tmp_path / "site"
    info = site / "ministudio_crashy-0.3.dist-info"
    info.mkdir(parents=True)
    (site / "crashy_plugin.py").write_text(PLUGIN)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ministudio-crashy\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text("[ministudio]\ncrashy = crashy_plugin\n")
    return site


class Crashy:
    """The same bug, registered in process as the distribution would be."""

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        caps = Capabilities(resolutions=("480p",))
        return [EngineSpec(id="crashy", kind="video", capabilities=caps)]

    @hookimpl
    def generate_video(self, engine: str, request: VideoRequest, output: Path, context):
        return 1 / 0


def host_with(plugin: object, name: str, distribution: str, version: str) -> PluginHost:
    host = PluginHost()
    host.register(plugin, PluginInfo(name, distribution, version, name))
    return host


def film_file(tmp_path: Path, **routing) -> Path:
    path = tmp_path / "film.json"
    path.write_text(tiny_production(routing=routing).model_dump_json())
    return path


def test_a_crash_names_the_engine_plugin_and_distribution_and_keeps_the_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    host = host_with(Crashy(), "crashy", "ministudio-crashy", "0.3")
    production = tiny_production(routing={"shots": {"reply": "crashy"}})
    caplog.set_level(logging.DEBUG, logger="ministudio.run")
    with pytest.raises(RenderError) as info:
        render(
            production,
            tmp_path / "out",
            host=host,
            store=ContentStore(tmp_path / "store"),
            options=RenderOptions(partial=False),
        )
    assert f"  - reply: {CRASH}" in str(info.value)
    assert "(`ministudio --debug render` prints the crash's traceback)" in str(info.value)
    # the original exception is the cause (what --debug prints), with the plugin's frame
    causes, cause = [], info.value.__cause__
    while cause is not None:
        causes.append(cause)
        cause = cause.__cause__
    assert isinstance(causes[-1], ZeroDivisionError)
    assert causes[-1].__traceback__ is not None
    frames = []
    tb = causes[-1].__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert frames[-1] == "generate_video"
    # and logged at DEBUG with it
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Traceback" in logged and "return 1 / 0" in logged
    # the manifest: the engine of the failed shot and of its attempt
    reply = Manifest.model_validate_json((tmp_path / "out" / "manifest.json").read_text()).shots[1]
    assert reply.engine == "crashy" and reply.state == "failed" and reply.error == CRASH
    assert [(a.engine, a.error) for a in reply.failed_attempts] == [("crashy", CRASH)]

    # `ministudio status` shows that engine
    shown = CliRunner().invoke(cli, ["status", str(tmp_path / "out")], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    (row,) = [line for line in shown.output.splitlines() if line.strip("│ ").startswith("reply")]
    assert [cell.strip() for cell in row.strip("│").split("│")][:3] == ["reply", "failed", "crashy"]


def test_a_fallback_that_saved_a_shot_is_recorded_and_said(site: Path, tmp_path: Path) -> None:
    path = film_file(tmp_path, shots={"reply": "crashy"}, fallbacks={"crashy": ["animatic"]})
    out = tmp_path / "out"
    store = str(tmp_path / "store")
    done = run_cli("render", str(path), "-o", str(out), "--store", store, "-q", sites=[site])
    assert done.returncode == 0, done.stderr
    assert f"reply: rendered by animatic, a fallback: crashy failed ({CRASH})" in done.stdout
    saved = json.loads((out / "manifest.json").read_text())
    reply = saved["shots"][1]
    assert reply["engine"] == "animatic" and reply["error"] is None
    assert reply["fallback_from"] == {"engine": "crashy", "reason": CRASH}
    assert saved["shots"][0]["fallback_from"] is None
    assert "Traceback" not in done.stderr
    # --debug: the saved crash's traceback, from the plugin's own frame, is logged
    again = run_cli(
        "--debug",
        "render",
        str(path),
        "-o",
        str(tmp_path / "again"),
        "--store",
        store,
        "-q",
        sites=[site],
    )
    assert again.returncode == 0, again.stderr
    assert "Traceback" in again.stderr and "ZeroDivisionError" in again.stderr

    shown = run_cli("status", str(out), sites=[site], env={"COLUMNS": "250"})
    assert shown.returncode == 0, shown.stderr
    tried = [line for line in shown.stdout.splitlines() if "reply (try 1)" in line]
    assert len(tried) == 1 and "crashy" in tried[0] and "ZeroDivisionError" in tried[0]


def test_the_cli_names_the_crash_assembles_the_film_and_exits_1(site: Path, tmp_path: Path) -> None:
    path = film_file(tmp_path, shots={"reply": "crashy"})
    out, store = tmp_path / "out", str(tmp_path / "store")
    failed = run_cli(
        "--debug", "render", str(path), "-o", str(out), "--store", store, "-q", sites=[site]
    )
    assert failed.returncode == 1, failed.stderr
    # the error: the shot, the engine, the plugin and its distribution, the film with its slate
    assert f"reply: {CRASH}" in failed.stderr
    assert f"the film was assembled anyway, with a slate in place of each: {out / 'film.mp4'}" in (
        failed.stderr
    )
    # --debug: the plugin's traceback
    assert "Traceback" in failed.stderr and "crashy_plugin.py" in failed.stderr
    assert "return a / b" in failed.stderr
    # the summary: the film, and the slate in it
    assert f"{out / 'film.mp4'}: " in failed.stdout
    assert "1 shot(s) failed and show as a slate (its id and why) in the film: reply" in (
        failed.stdout
    )
    assert (out / "film.mp4").exists()

    shown = run_cli("status", str(out), sites=[site], env={"COLUMNS": "250"})
    (row,) = [line for line in shown.stdout.splitlines() if line.strip("│ ").startswith("reply")]
    assert "failed (slate)" in row and "crashy" in row
    assert "film: film.mp4 (a slate in place of each failed shot: reply)" in shown.stdout

    checked = run_cli("qc", str(out), sites=[site])
    assert checked.returncode == 1
    failing = [line for line in checked.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failing) == 1 and failing[0].split()[1:3] == ["reply", "slate"]

    # --no-partial: today's behaviour, no film; without --debug, no traceback
    again = tmp_path / "again"
    kept = run_cli(
        "render", str(path), "-o", str(again), "--store", store, "-q", "--no-partial", sites=[site]
    )
    assert kept.returncode == 1 and f"reply: {CRASH}" in kept.stderr
    assert "assembled" not in kept.stderr and "Traceback" not in kept.stderr
    assert not (again / "film.mp4").exists() and kept.stdout == ""


class BrokenCheck:
    """A check plugin with a bug, a few calls deep."""

    @hookimpl
    def qc_check(self, clip: Path) -> None:
        self._measure(clip)

    def _measure(self, clip: Path) -> None:
        raise RuntimeError("the check fell over")


def test_a_crashing_check_names_its_plugin(tmp_path: Path) -> None:
    host = host_with(BrokenCheck(), "broken-check", "ministudio-broken-check", "2.0")
    with pytest.raises(RenderError) as info:
        render(
            tiny_production(),
            tmp_path / "out",
            host=host,
            store=ContentStore(tmp_path / "store"),
            options=RenderOptions(partial=False),
        )
    text = str(info.value)
    said = (
        "its quality checks could not run: the qc_check of plugin 'broken-check' (distribution "
        "ministudio-broken-check 2.0) crashed (RuntimeError: the check fell over); the clip is "
        "kept: fix that plugin, or skip it with MINISTUDIO_DISABLE_PLUGINS=broken-check, and "
        "render again"
    )
    assert text.count(said) == 2  # each shot, the same plugin named
    assert "`ministudio --debug render` prints the crash's traceback" in text
    assert "animatic" not in text and "ministudio.qc.builtin" not in text  # not the built-in checks
    assert isinstance(info.value.__cause__.__cause__, RuntimeError)
