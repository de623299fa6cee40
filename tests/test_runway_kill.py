"""``kill -9`` in each phase of a render on the ``runway`` engine's fake, then ``render``
again: each clip is paid for once and keeps its Runway task, and the film is whole. Runway
has no list of tasks and no idempotency key: a create whose answer is lost stops the shot
(``--forget-lost`` advice) instead of paying again. The mechanism is tests/test_kill_windows.py's
(``MINISTUDIO_FAILPOINT``: the render SIGKILLs itself there)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .fakes.runway_server import RunwayServer

KEY = "rw-kill-SECRET-5c"
PHASES = ("before-submit", "id-recorded", "polling", "downloading", "stored")


def _film(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shots = [
        {"id": "s1", "action": "Ann waves", "characters": ["ann"], "duration": 5},
        {
            "id": "s2",
            "action": "Ann walks on",
            "characters": ["ann"],
            "duration": 5,
            "continuity": "continue",
        },
    ]
    film: dict[str, Any] = {
        "title": "Killed",
        "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 12},
        "characters": {"ann": {"name": "Ann", "dna": "a woman in a red coat"}},
        "environments": {"park": {"description": "a park", "lighting": "day"}},
        "scenes": [{"id": "one", "environment": "park", "shots": shots}],
        "routing": {"video": "runway"},
    }
    path = folder / "film.json"
    path.write_text(json.dumps(film))
    return path


def _command(film: Path, tmp_path: Path, *more: str) -> list[str]:
    out, store = str(tmp_path / "out"), str(tmp_path / "store")
    command = [sys.executable, "-m", "ministudio", "render", str(film), "-o", out, "-q"]
    return [*command, f"--store={store}", *more]


def _env(server: RunwayServer) -> dict[str, str]:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith(("MINISTUDIO_", "RUNWAY")) or k.endswith("_BASE_URL"))
        or k == "MINISTUDIO_KEYS_FILE"
    }
    return {
        **inherited,
        "RUNWAYML_BASE_URL": server.base_url,
        "RUNWAYML_API_SECRET": KEY,
        "RUNWAY_EXPECTED_LATENCY": "0.2",
    }


def _run(film: Path, tmp_path: Path, env: dict[str, str], *more: str) -> Any:
    return subprocess.run(
        _command(film, tmp_path, *more), env=env, capture_output=True, text=True, timeout=180
    )


def _check_film(server: RunwayServer, tmp_path: Path) -> None:
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    jobs = {shot["id"]: shot["engine_job_id"] for shot in manifest["shots"]}
    assert set(jobs.values()) <= {task.id for task in server.created}, jobs
    assert all(jobs.values()), f"a clip lost its task: {jobs}"
    assert (tmp_path / "out" / "film.mp4").is_file()


@pytest.mark.parametrize("phase", PHASES)
def test_a_render_killed_in_a_phase_resumes_paying_once(phase: str, tmp_path: Path) -> None:
    film = _film(tmp_path / "film")
    with RunwayServer(api_key=KEY, latency=0.4, throttled=0.1) as server:
        env = _env(server)
        child = subprocess.run(
            _command(film, tmp_path),
            env={**env, "MINISTUDIO_FAILPOINT": phase},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert child.returncode == -signal.SIGKILL, f"not killed in {phase}: {child.stderr}"
        again = _run(film, tmp_path, env)
        assert again.returncode == 0, again.stderr
        assert server.submissions == 2, f"{server.submissions} clips paid for"
        _check_film(server, tmp_path)


def test_a_lost_create_answer_stops_the_shot_until_the_user_forgets_it(tmp_path: Path) -> None:
    film = _film(tmp_path / "film")
    with RunwayServer(api_key=KEY, latency=0.4) as server:
        env = _env(server)
        server.fail_next("text_to_video", "lost")  # made and billed, the answer dropped
        first = _run(film, tmp_path, env)
        assert first.returncode != 0 and "--forget-lost" in first.stderr, first.stderr
        again = _run(film, tmp_path, env)
        assert again.returncode != 0 and "--forget-lost" in again.stderr, again.stderr
        assert server.submissions == 1  # never sent again on its own
        forgot = _run(film, tmp_path, env, "--forget-lost")
        assert forgot.returncode == 0, forgot.stderr
        assert server.submissions == 3  # the user chose to pay for s1 once more
        _check_film(server, tmp_path)
