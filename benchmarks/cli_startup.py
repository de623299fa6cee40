"""Cold start of `ministudio --help` (target < 0.3 s) and `ministudio plugins` (target < 0.5 s).

Run: python benchmarks/cli_startup.py   (median of 7 runs each, fresh interpreter every run)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

TARGETS = {"--help": 0.3, "plugins": 0.5}


def cold_start(arg: str, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ministudio", arg], check=True, capture_output=True)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


if __name__ == "__main__":
    for arg, target in TARGETS.items():
        seconds = cold_start(arg)
        verdict = "ok" if seconds < target else "MISSED"
        print(
            f"ministudio {arg}: {seconds:.3f} s (target < {target} s, {seconds / target:.2f} of "
            f"target) {verdict}"
        )
