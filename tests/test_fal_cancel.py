"""``ministudio cancel DIR`` as a user meets it: a render on fal is killed while its requests
wait in fal's queue; cancel takes them off the queue unbilled, and the next render sends
them afresh and finishes the film (against the loopback fake, tests/fakes/fal_server.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .fakes.fal_server import API_KEY, FalServer


def _film(folder: Path) -> Path:
    shots = [
        {"id": f"s{n}", "action": f"Ann waves ({n})", "characters": ["ann"], "duration": 5}
        for n in (1, 2)
    ]
    film = {
        "title": "Cancelled",
        "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 12},
        "characters": {"ann": {"name": "Ann", "dna": "a woman in a red coat"}},
        "environments": {"park": {"description": "a park", "lighting": "day"}},
        "scenes": [{"id": "one", "environment": "park", "shots": shots}],
        "routing": {"video": "fal-kling-3-pro"},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "film.json"
    path.write_text(json.dumps(film))
    return path


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ministudio", *args]


def test_cancel_takes_a_killed_renders_queued_requests_off_fal_unbilled(tmp_path: Path) -> None:
    film, out, store = _film(tmp_path / "film"), tmp_path / "out", tmp_path / "store"
    render = _command("render", str(film), "-o", str(out), f"--store={store}", "-q")
    with FalServer(latency=60.0, queued=0.95, render_scale=0.05) as server:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("FAL_", "MINISTUDIO_"))},
            "FAL_KEY": API_KEY,
            "FAL_QUEUE_URL": server.base_url,
            "FAL_TIMEOUT": "10",
            "FAL_EXPECTED_LATENCY": "0.5",
        }
        child = subprocess.Popen(render, env=env, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while len(server.billed) < 2:  # both shots queued at fal (and billed if run)
                assert child.poll() is None, child.communicate()[1]
                assert time.monotonic() < deadline, "the requests never reached fal"
                time.sleep(0.05)
            time.sleep(0.5)  # the journal records each request id as fal answers
            child.send_signal(signal.SIGKILL)
            child.communicate(timeout=30)
        finally:
            child.kill()

        cancel = subprocess.run(
            _command("cancel", str(out)), env=env, capture_output=True, text=True, timeout=60
        )
        assert cancel.returncode == 0, cancel.stdout + cancel.stderr
        assert "2 of 2 waiting jobs cancelled" in cancel.stdout, cancel.stdout
        assert server.billed == []  # both left the queue before they ran
        assert API_KEY not in cancel.stdout + cancel.stderr

        server.latency = 0.2  # fal is quick again
        again = subprocess.run(render, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert len(server.billed) == 2  # each shot sent afresh once, never waited on forever
        manifest = json.loads((out / "manifest.json").read_text())
        assert [s["state"] for s in manifest["shots"]] == ["done", "done"]
        again_cancel = subprocess.run(
            _command("cancel", str(out)), env=env, capture_output=True, text=True, timeout=60
        )
        assert "0 of 0 waiting jobs cancelled" in again_cancel.stdout
