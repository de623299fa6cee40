"""``kill -9`` in each phase of a render, on every remote engine's fake, then ``render`` again:
each clip (and each identity image) is paid for once, every clip keeps its engine job, and
the film is whole. Each engine is killed in its own phases (submit and lookup, a recorded
job resumed); the core's own phases (before the submit, between polls, before the download,
after the clip is stored) on two engines (one with a lookup, one without) where that
changes the resume, on one engine where it cannot.

The render runs in a subprocess. A phase is hit exactly with ``MINISTUDIO_FAILPOINT``
(``ministudio.run.failpoints``: the process SIGKILLs itself there), or, for "request in flight",
by the fake holding the create request it accepted (``fakes.hold``) while the test kills the
client.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from .fakes.fal_server import API_KEY as FAL_KEY
from .fakes.fal_server import FalServer
from .fakes.google_server import GoogleServer
from .fakes.hold import HOLD, LATE, held
from .fakes.kling_server import KlingServer
from .fakes.loopback import LoopbackServer
from .fakes.luma_agents_server import LumaAgentsServer
from .fakes.luma_server import LumaServer
from .fakes.runway_server import RunwayServer
from .fakes.sim_server import SimServer

LATENCY = 0.4  # each fake job's seconds: long enough for a poll before it is done
EXPECTED = "0.2"  # what the engines expect: the first poll comes at 0.72 x this


@dataclass(frozen=True)
class Engine:
    """How one engine's fake is started and wired to a render, and what it counts."""

    id: str
    server: Callable[[], LoopbackServer]
    env: Callable[[Any, Path], dict[str, str]]
    creates: Callable[[Any], int]  # clips the fake accepted (each one billed)
    endpoint: str = "create"  # the fault endpoint of its create request
    seconds: float = 4.0
    resolution: str = "720p"
    lookup: bool = True  # finds a job whose submit answer was lost
    identity: bool = False  # makes an identity image per character (Luma's Photon)


def _luma_videos(server: LumaServer) -> int:
    return sum(1 for job in server.jobs.values() if job.generation_type == "video")


def _luma_images(server: LumaServer) -> int:
    return sum(1 for job in server.jobs.values() if job.generation_type == "image")


def _google(server: GoogleServer, assets: Path, *, vertex: bool) -> dict[str, str]:
    env = {"NO_GCE_CHECK": "True", "CLOUDSDK_CONFIG": "/nonexistent-gcloud-config"}
    if vertex:
        return {
            **env,
            "VERTEX_BASE_URL": server.base_url,
            "VEO_STORAGE_BASE_URL": server.base_url,
            "GOOGLE_CLOUD_PROJECT": "ministudio-fake",
            "GOOGLE_CLOUD_LOCATION": "us-central1",
            "VERTEX_AI_ACCESS_TOKEN": server.access_token,
            "VEO_EXPECTED_LATENCY": EXPECTED,
        }
    return {  # gemini-omni: the Gemini API's Interactions
        **env,
        "GEMINI_BASE_URL": server.base_url,
        "GEMINI_API_KEY": server.api_key,
        "OMNI_EXPECTED_LATENCY": EXPECTED,
    }


ENGINES = {
    "luma-dream-machine": Engine(
        "luma-dream-machine",
        lambda: LumaServer(latency=LATENCY, image_latency=0.2, render_scale=0.05),
        lambda s, assets: {
            "LUMAAI_BASE_URL": s.api_url,
            "LUMAAI_API_KEY": s.api_key,
            "LUMA_ASSET_BASE_URL": "http://127.0.0.1:9/assets",  # recorded, never fetched
            "LUMA_ASSET_DIR": str(assets),
            "LUMA_EXPECTED_LATENCY": EXPECTED,
        },
        _luma_videos,
        seconds=5.0,
        identity=True,
    ),
    "luma": Engine(
        "luma",
        lambda: LumaAgentsServer(latency=LATENCY, render_scale=0.05),
        lambda s, assets: {
            "LUMA_BASE_URL": s.api_url,
            "LUMA_AGENTS_API_KEY": s.api_key,
            "LUMA_EXPECTED_LATENCY": EXPECTED,
        },
        lambda s: s.submissions,
        seconds=5.0,
        lookup=False,  # the Agents API has no list and no idempotency key
    ),
    "gemini-omni": Engine(
        "gemini-omni",
        lambda: GoogleServer(latency=LATENCY, render_scale=0.05),
        lambda s, assets: _google(s, assets, vertex=False),
        lambda s: s.submissions,
        lookup=False,  # the Interactions API has no lookup by external id
    ),
    "veo-vertex": Engine(
        "veo-vertex",
        lambda: GoogleServer(latency=LATENCY, render_scale=0.05),
        lambda s, assets: _google(s, assets, vertex=True),
        lambda s: s.submissions,
        lookup=False,
    ),
    "kling": Engine(
        "kling",
        lambda: KlingServer(latency=LATENCY, render_scale=0.05),
        lambda s, assets: {
            "KLING_BASE_URL": s.base_url,
            "KLING_ACCESS_KEY": s.access_key,
            "KLING_SECRET_KEY": s.secret_key,
            "KLING_BUSY_WAIT": "0.05",
            "KLING_EXPECTED_LATENCY": EXPECTED,
        },
        lambda s: s.submissions,
        seconds=5.0,
    ),
    "runway": Engine(
        "runway",
        lambda: RunwayServer(latency=LATENCY, throttled=0.1, render_scale=0.05),
        lambda s, assets: {
            "RUNWAYML_BASE_URL": s.base_url,
            "RUNWAYML_API_SECRET": s.api_key,
            "RUNWAY_EXPECTED_LATENCY": EXPECTED,
            "RUNWAY_POLL_INTERVAL": "0.1",  # Runway's own pace is one poll in 5 s
        },
        lambda s: s.submissions,
        endpoint="text_to_video",  # s1 is a text shot; s2 (continue) goes to image_to_video
        seconds=5.0,
        lookup=False,  # Runway has no list of tasks and no idempotency key
    ),
    "fal-kling-3-pro": Engine(
        "fal-kling-3-pro",
        lambda: FalServer(latency=LATENCY, queued=0.3),
        lambda s, assets: {
            "FAL_KEY": FAL_KEY,
            "FAL_QUEUE_URL": s.base_url,
            "FAL_TIMEOUT": "10",
            "FAL_EXPECTED_LATENCY": EXPECTED,
        },
        lambda s: s.submissions,
        endpoint="submit",
        seconds=5.0,
        lookup=False,  # fal's queue has no idempotency key and no lookup
    ),
    "sim": Engine(
        "sim",
        lambda: SimServer(latency=LATENCY),
        lambda s, assets: {
            "SIM_BASE_URL": s.base_url,
            "SIM_API_KEY": s.api_key,
            "SIM_EXPECTED_LATENCY": EXPECTED,
        },
        lambda s: s.submissions,
        endpoint="submit",
        resolution="480p",
    ),
}
# Each phase: the failpoint that kills the render there (None: the fake holds the create).
# "in-flight" to "downloading" are the engine's own (its submit, lookup, polls and
# download); before the submit and after "stored" the job is the core's alone, the same for
# every engine.
PHASES: dict[str, str | None] = {
    "before-submit": "before-submit",
    "in-flight": None,
    "id-recorded": "id-recorded",
    "polling": "polling",
    "downloading": "downloading",
    "stored": "stored",
    "fitted": "fitted",
    "assembling": "assembling",
}
# The engine's own phases, killed on every engine: its submit with the answer lost
# ("in-flight": looked up, or the shot stops), and its resume of a recorded job
# ("id-recorded": a fresh process polls the journal's job id, then downloads).
ENGINE_PHASES = ("in-flight", "id-recorded")
# Every phase on an engine with a lookup and on one without (where a kill after "stored" may
# find s2 in flight); the engine's own phases on every other engine. "polling" and
# "downloading" are among the phases left to these two: a kill there leaves the journal's row
# as "id-recorded" does (state "submitted", the job id kept; "downloading" adds a "done"
# event, which the resume does not read), so the resume takes the same branch
# (remote.runner: a submitted or done row is polled, never resubmitted) and the same engine
# calls (poll, then download); "id-recorded" covers each engine's, these two the core's
# runner killed between polls and before a download.
EVERY_PHASE = ("sim", "veo-vertex")
# Phases whose resume takes one path whatever the engine, killed on one engine alone (sim:
# no SDK to import). "before-submit" on an engine that does not mark its sending (neither
# does): the journal holds nothing, the resume submits afresh and never asks for a lookup.
# "stored": s1's job is done in the journal and s2 (which starts from s1's fitted last frame)
# is not sent yet, so nothing can be lost. "fitted" and "assembling" stay on both: s2 may be
# in flight there, looked up on sim, lost on veo-vertex.
ONE_ENGINE_PHASES = {"before-submit": "sim", "stored": "sim"}
# Luma makes a paid identity image (Photon) before its first clip's request: its own phases.
# "committed late": the server accepts the job a second after the client was killed, so a
# lookup at once would miss it (the core gives a lost request time to land first).
IMAGE_PHASES: dict[str, str | None] = {
    "image-before-submit": "side:before-submit",
    "image-in-flight": None,
    "image-id-recorded": "side:id-recorded",
    "committed-late": None,
    "image-committed-late": None,
}
# Luma's identity image has its own phases too.
CASES = [
    (engine, phase)
    for engine in ENGINES
    for phase in PHASES
    if (engine in EVERY_PHASE and ONE_ENGINE_PHASES.get(phase, engine) == engine)
    or phase in ENGINE_PHASES
] + [("luma-dream-machine", phase) for phase in IMAGE_PHASES]


def _film(folder: Path, engine: Engine) -> Path:
    """Two shots of Ann, the second continuing the first (so the first is killed, and an
    engine that extends its clips, Luma, names the first clip's job in the second request)."""
    folder.mkdir(parents=True, exist_ok=True)
    ann: dict[str, Any] = {"name": "Ann", "dna": "a woman in a red coat"}
    if engine.identity:
        Image.new("RGB", (64, 64), (200, 40, 40)).save(folder / "ann.png")
        ann["reference_images"] = [str(folder / "ann.png")]
    shots = [
        {"id": "s1", "action": "Ann waves", "characters": ["ann"], "duration": engine.seconds},
        {
            "id": "s2",
            "action": "Ann walks on",
            "characters": ["ann"],
            "duration": engine.seconds,
            "continuity": "continue",
        },
    ]
    film = {
        "title": "Killed",
        "format": {"aspect_ratio": "16:9", "resolution": engine.resolution, "fps": 12},
        "characters": {"ann": ann},
        "environments": {"park": {"description": "a park", "lighting": "day"}},
        "scenes": [{"id": "one", "environment": "park", "shots": shots}],
        "routing": {"video": engine.id},
    }
    path = folder / "film.json"
    path.write_text(json.dumps(film))
    return path


@pytest.fixture(scope="session")
def pycache(child_bytecode: Path) -> Path:
    """One bytecode cache for every child render (the suite's: ``conftest.child_bytecode``):
    a fresh interpreter then skips compiling (2 s each where PYTHONDONTWRITEBYTECODE is set),
    and the source tree stays clean."""
    return child_bytecode


@pytest.fixture
def sites(plugin_sites: dict[str, Path]) -> Iterator[str]:
    yield str(plugin_sites["sim"])


def _command(film: Path, tmp_path: Path, *more: str) -> list[str]:
    out, store = str(tmp_path / "out"), str(tmp_path / "store")
    command = [sys.executable, "-m", "ministudio", "render", str(film), "-o", out, "-q"]
    return [*command, f"--store={store}", *more]


def _env(engine: Engine, server: Any, tmp_path: Path, site: str, pycache: Path) -> dict[str, str]:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith(("MINISTUDIO_", "GOOGLE_")) or k.endswith("_BASE_URL"))
        or k == "MINISTUDIO_KEYS_FILE"
    }
    inherited.pop("PYTHONDONTWRITEBYTECODE", None)
    return {
        **inherited,
        **engine.env(server, tmp_path / "assets"),
        "PYTHONPATH": site,
        "PYTHONPYCACHEPREFIX": str(pycache),
    }


@pytest.mark.parametrize(("engine_id", "phase"), CASES, ids=[f"{e}-{p}" for e, p in CASES])
def test_a_render_killed_in_a_phase_resumes_paying_once(
    engine_id: str, phase: str, sites: str, pycache: Path, tmp_path: Path
) -> None:
    engine = ENGINES[engine_id]
    film = _film(tmp_path / "film", engine)
    with engine.server() as server:
        env = _env(engine, server, tmp_path, sites, pycache)
        if not phase.endswith("committed-late"):
            # The grace a lost request is given to land before it is looked up (3 s by
            # default) is tested by the committed-late cases, which keep it (the fake commits
            # their job a second after the kill: a lookup at once would miss it). Elsewhere
            # the fake commits a job as its request arrives, long before the resume has
            # started, so the resume need not wait out the default.
            env["MINISTUDIO_LOOKUP_GRACE"] = "0.5"
        point = {**PHASES, **IMAGE_PHASES}[phase]
        killed_env = dict(env)
        if point is not None:
            killed_env["MINISTUDIO_FAILPOINT"] = point
        else:
            fault = LATE if phase.endswith("committed-late") else HOLD
            server.fail_next("image" if phase.startswith("image") else engine.endpoint, fault)
        child = subprocess.Popen(
            _command(film, tmp_path),
            env=killed_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            if point is None:
                assert held(server).wait(60), "the create request never arrived"
                child.send_signal(signal.SIGKILL)
            _, stderr = child.communicate(timeout=120)
        finally:
            child.kill()
        assert child.returncode == -signal.SIGKILL, f"not killed in {phase}: {stderr}"

        again = subprocess.run(
            _command(film, tmp_path), env=env, capture_output=True, text=True, timeout=180
        )
        lost = again.returncode != 0 and "--forget-lost" in again.stderr
        # Killed once s1's clip was stored, s2 (which continues it) may have been sent already
        # (the core submits it as soon as s1's clip is there); an engine that cannot be asked
        # for a lost job then stops s2 the same way as s1 in flight.
        s2_in_flight = lost and not engine.lookup and phase in ("fitted", "assembling")
        if (phase == "in-flight" and not engine.lookup) or s2_in_flight:
            # The answer was lost and the engine cannot be asked: the shot stops, unpaid again.
            assert lost, again.stderr
            paid = engine.creates(server)
            # s1's alone when s1 was in flight (s2 waits for it); s1's and at most s2's else
            assert paid == 1 if phase == "in-flight" else paid in (1, 2), paid
            again = subprocess.run(
                _command(film, tmp_path, "--forget-lost"),
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert again.returncode == 0, again.stderr
            # the user chose to pay once more for the lost one, and only for it
            assert engine.creates(server) == (3 if phase == "in-flight" else paid + 1)
        else:
            assert again.returncode == 0, again.stderr
            assert engine.creates(server) == 2, f"{engine.creates(server)} clips paid for"
        if engine.identity:
            assert _luma_images(server) == 1, f"{_luma_images(server)} identity images"
        if phase.startswith("image"):  # the identity image is a job of its own in `status`
            shown = subprocess.run(
                [sys.executable, "-m", "ministudio", "status", str(tmp_path / "out")],
                env={**env, "COLUMNS": "200"},
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
            line = next(x for x in shown.splitlines() if "side job photon" in x)
            assert "done" in line and "luma-dream-machine" in line, shown
        manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
        jobs = {shot["id"]: shot["engine_job_id"] for shot in manifest["shots"]}
        assert all(jobs.values()), f"a clip lost its engine job: {jobs}"
        if engine.identity:  # s2 extended s1's own generation
            s2 = server.jobs[jobs["s2"]]
            assert s2.keyframes["frame0"] == {"type": "generation", "id": jobs["s1"]}
    assert (tmp_path / "out" / "film.mp4").is_file()
    assert manifest["film"] == "film.mp4" and len(manifest["shots"]) == 2
