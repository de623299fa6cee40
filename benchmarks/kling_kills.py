"""Issue 14's target: a Kling render killed at random 20 times never submits a shot twice,
whatever Kling answers a reused ``external_task_id`` (the docs do not say).

Run: python benchmarks/kling_kills.py [--kills N] [--latency L] [ANSWER ...]

For each ANSWER the strict Kling fake (tests/fakes/kling_server.py, written from Kling's docs)
gives to a create whose external id is taken (``create``: a second task, billed; ``existing``:
the first task again; a code such as ``1201``: refused), a 12-shot film on ``kling`` is
rendered by ``ministudio render`` in a fresh interpreter, killed with SIGKILL at random
moments N times, then resumed to the end. It prints the billed tasks per shot (target: 12 of
12), the creates answered with the reuse answer, and whether the film is whole.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ministudio.spec import Production  # noqa: E402

from tests.fakes.kling_server import KlingServer  # noqa: E402

SHOTS = 12
ANSWERS = ("create", "existing", "1201", "1200", "1203")


def film() -> Production:
    """Twelve silent 5 s shots on Kling's default model, in runs of three ``continue`` shots
    (image to video from the previous shot's last frame)."""
    return Production.model_validate(
        {
            "title": "Kling kills",
            "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 24},
            "environments": {"park": {"description": "a park"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [
                        {
                            "id": f"s{i + 1:02d}",
                            "action": f"A kite does loop number {i + 1}",
                            "duration": 5,
                            "continuity": "continue" if i % 3 else "cut",
                        }
                        for i in range(SHOTS)
                    ],
                }
            ],
            "routing": {"video": "kling", "limits": {"kling": {"concurrency": 4}}},
        }
    )


def run(answer: str, kills: int, latency: float, tmp: Path) -> None:
    path = tmp / f"{answer}.json"
    path.write_text(film().model_dump_json())
    out, store = tmp / f"{answer}-out", tmp / f"{answer}-store"
    command = [sys.executable, "-m", "ministudio", "render", str(path), "-o", str(out)]
    command += ["--store", str(store), "-q"]
    rng = random.Random(14)
    with KlingServer(
        latency=(latency, 0.15), render_scale=0.05, reused_external_id=answer
    ) as server:
        env = {
            **os.environ,
            "KLING_BASE_URL": server.base_url,
            "KLING_ACCESS_KEY": server.access_key,
            "KLING_SECRET_KEY": server.secret_key,
            "KLING_BUSY_WAIT": "0.05",
            "KLING_EXPECTED_LATENCY": str(latency),
        }
        began = time.monotonic()
        for _ in range(kills):
            child = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(rng.uniform(0.3, 1.5 * latency))
            child.send_signal(signal.SIGKILL)
            child.wait()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        wall = time.monotonic() - began
        whole = done.returncode == 0 and (out / "film.mp4").exists()
        ids = Counter(t.request.get("external_task_id") for t in server.tasks.values())
        twice = sum(n - 1 for n in ids.values() if n > 1)
        print(
            f"reused external id answered {answer!r}: {kills} kill -9, then a resume: "
            f"{server.submissions} billed tasks for {SHOTS} shots ({twice} paid twice), "
            f"refused creates by code {dict(server.rejected)}; "
            f"film {'whole' if whole else 'MISSING: ' + done.stderr[-300:]} in {wall:.0f} s "
            f"(target: {SHOTS} tasks and a whole film)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("answers", nargs="*", default=list(ANSWERS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for answer in args.answers:
            run(answer, args.kills, args.latency, Path(tmp))
