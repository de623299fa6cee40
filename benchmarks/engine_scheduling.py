"""Issue 3's targets, measured against the simulated paid engine on loopback.

Run: python benchmarks/engine_scheduling.py [--latency L] [--runs N] [scenario ...]
  (L: mean seconds per clip, 2.0; N: renders of the 10-minute `memory` film, 1)

Every scenario renders a real film (espeak voices, real MP4s from the fake engine, streaming
assembly) and prints the measured ratio next to its target.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ministudio.plugins import PluginHost  # noqa: E402
from ministudio.run.render import RenderOptions, render  # noqa: E402
from ministudio.run.store import ContentStore  # noqa: E402
from ministudio.spec import Production  # noqa: E402

from tests.conftest import build_plugin  # noqa: E402
from tests.fakes.sim_server import SimServer  # noqa: E402
from tests.test_sim_engine import _load_plugin  # noqa: E402

JITTER = 0.15  # per-clip latency is L x (1 +/- 15%), drawn per job


def film(
    shots: int, *, chains: int = 0, resolution: str = "480p", seconds: int = 4, concurrency: int = 4
) -> Production:
    """``shots`` 4 s shots (the engine's own clip length) with a line each, on the sim engine.
    With ``chains``, the shots form that many runs of ``continue`` shots."""
    per_chain = shots // chains if chains else 0
    return Production.model_validate(
        {
            "title": "Bench",
            "format": {"aspect_ratio": "16:9", "resolution": resolution, "fps": 24},
            "characters": {"ann": {"name": "Ann", "dna": "a woman in a red coat"}},
            "environments": {"park": {"description": "a park"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [
                        {
                            "id": f"s{i + 1:03d}",
                            "action": f"Ann does thing number {i + 1}",
                            "duration": seconds,
                            "continuity": "continue" if per_chain and i % per_chain else "cut",
                            "dialogue": [{"speaker": "ann", "text": f"Line {i + 1}."}],
                        }
                        for i in range(shots)
                    ],
                }
            ],
            "routing": {"video": "sim", "limits": {"sim": {"concurrency": concurrency}}},
        }
    )


class Bench:
    def __init__(self, latency: float, tmp: Path) -> None:
        self.latency = latency
        self.tmp = tmp
        self.runs = 1  # renders of the 10-minute `memory` film
        os.environ["SIM_EXPECTED_LATENCY"] = str(latency)
        self.host = PluginHost(discover=True)
        self.host.register(_load_plugin(), "sim")

    def render(
        self,
        production: Production,
        server: SimServer,
        name: str,
        store: str = "store",
        **options: Any,
    ) -> float:
        env = {"SIM_BASE_URL": server.base_url, "SIM_API_KEY": server.api_key}
        began = time.monotonic()
        render(
            production,
            self.tmp / name,
            host=self.host,
            store=ContentStore(self.tmp / store),
            env=env,
            options=RenderOptions(**options),
        )
        self.finished = time.monotonic()
        return self.finished - began

    def server(self, concurrency: int) -> SimServer:
        return SimServer(latency=(self.latency, JITTER), concurrency=concurrency)


def ideal(latencies: list[float], concurrency: int) -> float:
    """The shortest possible time to run these jobs ``concurrency`` at a time (greedy)."""
    slots = [0.0] * concurrency
    for latency in latencies:
        slots.sort()
        slots[0] += latency
    return max(slots)


def assembly_time(bench: Bench, production: Production) -> float:
    """Seconds a render takes when every clip is already in the store (speech, fit, assembly)."""
    with bench.server(4) as server:
        bench.render(production, server, "warm-a", store="warm")
        return bench.render(production, server, "warm-b", store="warm")


def independent(bench: Bench) -> None:
    production = film(12)
    assembly = assembly_time(bench, production)
    walls = {}
    for concurrency in (4, 1):
        with bench.server(concurrency) as server:
            walls[concurrency] = bench.render(
                film(12, concurrency=concurrency),
                server,
                f"c{concurrency}",
                store=f"c{concurrency}",
            )
            latencies = [job.latency for job in server.jobs.values()]
            last_download = max(job.download_started_at or 0 for job in server.jobs.values())
            # The film is final when its last byte is written (then it is renamed into place).
            film_written = (bench.tmp / f"c{concurrency}" / "film.mp4").stat().st_mtime
            written_at = film_written - (time.time() - time.monotonic())
            assert server.submissions == 12
        if concurrency == 4:
            bound = math.ceil(12 / 4) * bench.latency + assembly
            tight = ideal(latencies, 4) + assembly
            final_after = written_at - last_download
    print(
        f"12 independent shots, L={bench.latency:.1f} s, concurrency 4: {walls[4]:.2f} s = "
        f"{walls[4] / bound:.3f}x the bound ceil(12/4)*L + assembly ({bound:.2f} s), "
        f"{walls[4] / tight:.3f}x the ideal schedule of the drawn latencies "
        f"(target <= 1.10x)"
    )
    print(
        f"  concurrency 1: {walls[1]:.2f} s; concurrency 4 is {walls[1] / walls[4]:.2f}x "
        f"faster (target >= 3.5x)"
    )
    print(
        f"  film final {final_after:.3f} s after the last download started (target <= 0.5 s; "
        f"assembly alone, everything cached: {assembly:.2f} s)"
    )


def chained(bench: Bench) -> None:
    production = film(12, chains=3)
    assembly = assembly_time(bench, production)
    with bench.server(4) as server:
        wall = bench.render(production, server, "chains", store="chains")
        jobs = sorted(server.jobs.values(), key=lambda job: job.submitted_at)
        chain_bound = max(sum(j.latency for j in jobs[i::3]) for i in range(3))
    bound = 4 * bench.latency + assembly
    print(
        f"3 chains of 4 continue shots: {wall:.2f} s = {wall / bound:.3f}x the bound 4*L + "
        f"assembly ({bound:.2f} s); {wall / (chain_bound + assembly):.3f}x the longest drawn "
        f"chain + assembly (target <= 1.10x)"
    )


def detection(bench: Bench) -> None:
    production = film(12)
    for mode in ("polling", "webhooks"):
        options = {"webhook_url": "http://127.0.0.1:{port}"} if mode == "webhooks" else {}
        with bench.server(4) as server:
            bench.render(production, server, mode, store=mode, **options)
            jobs = list(server.jobs.values())
        delays = [job.download_started_at - job.done_at for job in jobs]
        polls = [job.status_requests for job in jobs]
        median = statistics.median(delays)
        print(
            f"detection latency, {mode}: median {median * 1000:.0f} ms = "
            f"{median / bench.latency:.1%} of L, max {max(delays) * 1000:.0f} ms; "
            f"status requests per job: max {max(polls)}, total {sum(polls)} "
            f"(targets: polling <= 5% of L and <= 12 per job; webhooks < 50 ms and none)"
        )


def edit_one(bench: Bench) -> None:
    production = film(12)
    assembly = assembly_time(bench, production)
    with bench.server(4) as server:
        bench.render(production, server, "edit-a", store="edit")
        before = server.submissions
        edited = production.model_dump()
        edited["scenes"][0]["shots"][5]["action"] = "Ann does something new"
        wall = bench.render(Production.model_validate(edited), server, "edit-b", store="edit")
        submitted = server.submissions - before
    bound = bench.latency + assembly
    print(
        f"edit 1 of 12 shots: {submitted} submission(s), {wall:.2f} s = "
        f"{wall / bound:.3f}x (L + assembly) ({bound:.2f} s) (target: 1 and <= 1.2x)"
    )


def render_command(production: Path, out: Path, store: Path) -> list[str]:
    """`ministudio render` in a fresh interpreter (so it can be killed, or measured)."""
    return [
        sys.executable,
        "-m",
        "ministudio",
        "render",
        str(production),
        "-o",
        str(out),
        "--store",
        str(store),
        "-q",
    ]


def kills(bench: Bench, count: int = 20) -> None:
    site = build_plugin("sim", bench.tmp / "sim-plugin")
    path = bench.tmp / "kill.json"
    path.write_text(film(12).model_dump_json())
    rng = random.Random(20)
    with bench.server(4) as server:
        env = {
            **os.environ,
            "SIM_BASE_URL": server.base_url,
            "SIM_API_KEY": server.api_key,
            "PYTHONPATH": f"{site}{os.pathsep}{ROOT}",
        }
        command = render_command(path, bench.tmp / "kill-out", bench.tmp / "kill-store")
        for _ in range(count):
            child = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(rng.uniform(0.3, 1.5 * bench.latency))
            child.send_signal(signal.SIGKILL)
            child.wait()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        ok = done.returncode == 0 and (bench.tmp / "kill-out" / "film.mp4").exists()
        print(
            f"{count} kill -9 at random moments, then a resume: {server.submissions} "
            f"submissions for 12 shots, final film {'valid' if ok else 'MISSING'} "
            f"(target: 12 and valid)"
        )


def memory(bench: Bench, minutes: float = 10.0) -> None:
    """The render's own peak RSS (``wait4``: this child's, not the largest child's so far),
    ``bench.runs`` times, each with a fresh store and server."""
    site = build_plugin("sim", bench.tmp / "sim-plugin-mem")
    shots = int(minutes * 60 / 8)
    path = bench.tmp / "long.json"
    path.write_text(film(shots, resolution="720p", seconds=8).model_dump_json())
    peaks, walls = [], []
    for run in range(1, bench.runs + 1):
        with SimServer(latency=(0.3, JITTER), concurrency=8) as server:
            env = {
                **os.environ,
                "SIM_BASE_URL": server.base_url,
                "SIM_API_KEY": server.api_key,
                "SIM_EXPECTED_LATENCY": "0.3",
                "PYTHONPATH": f"{site}{os.pathsep}{ROOT}",
            }
            out, store = bench.tmp / f"long-out-{run}", bench.tmp / f"long-store-{run}"
            began = time.monotonic()
            with open(bench.tmp / "long-stderr", "wb") as stderr:
                child = subprocess.Popen(
                    render_command(path, out, store),
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
                _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            wall = time.monotonic() - began
        peak_mb = usage.ru_maxrss / 1024
        peaks.append(peak_mb)
        walls.append(wall)
        print(
            f"{minutes:.0f}-minute film ({shots} shots, 720p): rendered in {wall:.0f} s "
            f"(exit {child.returncode}, CPU {usage.ru_utime + usage.ru_stime:.1f} s), peak memory "
            f"of the render {peak_mb:.0f} MB (target < 250 MB)",
            flush=True,
        )
        if child.returncode:
            print((bench.tmp / "long-stderr").read_text(errors="replace")[-2000:])
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(store, ignore_errors=True)
    if len(peaks) > 1:
        print(
            f"  over {len(peaks)} runs: peak min {min(peaks):.0f} / median "
            f"{statistics.median(peaks):.0f} / max {max(peaks):.0f} MB (target < 250 MB on every "
            f"run); wall min {min(walls):.0f} / median {statistics.median(walls):.0f} / max "
            f"{max(walls):.0f} s"
        )


SCENARIOS = {
    "independent": independent,
    "chains": chained,
    "detection": detection,
    "edit": edit_one,
    "kills": kills,
    "memory": memory,
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument(
        "--runs", type=int, default=1, help="memory: renders of the 10-minute film (min/median/max)"
    )
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(args.latency, Path(tmp))
        bench.runs = args.runs
        for name in args.scenarios:
            SCENARIOS[name](bench)
