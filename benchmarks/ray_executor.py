"""The 10-minute keyless film rendered with the local executor and with the Ray executor on a
two-node Ray cluster on this machine (``tests/ray_cluster.py``: a head and a second node on
127.0.0.2, one CPU each), each render from a cold store of the same kind (a local folder).

Target (issue 17): Ray at most 1.15x the local executor's wall time.

Run: python benchmarks/ray_executor.py [--repeat N] [--minutes M]

The film is ``benchmarks/engine_scheduling.py``'s 10-minute film (75 shots of 8 s at 720p,
one line each) routed to the keyless animatic instead of the paid sim engine. Each render is
``ministudio render`` in a fresh interpreter, local and Ray taking turns (so both see the
same load), ``N`` times each (default 2); medians are compared. The cluster's start is timed
apart and not counted; the split of work across nodes is the Ray render's last line. CPU
seconds are counted too: the render process's, and for Ray the cluster's processes' (sampled
from /proc while the render runs), so an overhead the wall time hides still shows.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from engine_scheduling import film, render_command  # noqa: E402

from tests.ray_cluster import LocalRayCluster  # noqa: E402

TARGET = 1.15


def keyless_film(path: Path, minutes: float) -> int:
    """engine_scheduling's 10-minute film (720p, 8 s shots) on the animatic; its shots."""
    shots = int(minutes * 60 / 8)
    data = film(shots, resolution="720p", seconds=8).model_dump(mode="json", exclude_unset=True)
    data["routing"] = {"video": "animatic"}
    path.write_text(__import__("json").dumps(data))
    return shots


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


class ClusterCPU:
    """CPU seconds the cluster's processes (GCS, raylets, agents, workers) use while a render
    runs, sampled every 0.2 s: a worker leaves with its driver, so its last sample counts."""

    def __init__(self, cluster: LocalRayCluster | None) -> None:
        self.cluster = cluster
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def pids(self) -> list[int]:
        if self.cluster is None:
            return []
        return [pid for i in range(self.cluster.nodes) for pid in self.cluster.node_pids(i)]

    def sample(self) -> None:
        while True:
            for pid in self.pids():
                ticks = _ticks(pid)
                if ticks is not None:
                    self.first.setdefault(pid, ticks if pid in self.before else 0)
                    self.last[pid] = ticks
            if self.stop.wait(0.2):
                return

    def __enter__(self) -> ClusterCPU:
        self.before = set(self.pids())
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def seconds(self) -> float:
        ticks = sum(self.last[pid] - self.first[pid] for pid in self.last)
        return ticks / os.sysconf("SC_CLK_TCK")


def _ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def run(
    command: list[str], env: dict[str, str], cluster: LocalRayCluster | None
) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (the render's and the cluster's) and the last line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    with ClusterCPU(cluster) as sampled:
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"render failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return wall, own + sampled.seconds, done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINISTUDIO_", "RAY_"))}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "film.json"
        shots = keyless_film(path, args.minutes)
        print(f"{args.minutes:.0f}-minute keyless film: {shots} shots of 8 s at 720p (animatic)")
        began = time.monotonic()
        with LocalRayCluster(nodes=2, cpus_per_node=1) as cluster:
            print(
                f"cluster start (2 nodes x 1 CPU on {cluster.host}, not counted): "
                f"{time.monotonic() - began:.1f} s"
            )
            ray_env = {**env, **cluster.driver_env()}
            times: dict[str, list[float]] = {"local": [], "ray": []}
            cpus: dict[str, list[float]] = {"local": [], "ray": []}
            for i in range(args.repeat):
                for side in ("local", "ray"):
                    command = render_command(path, tmp / f"{side}{i}", tmp / f"{side}{i}-store")
                    if side == "ray":
                        command += ["--executor", "ray", "--address", cluster.address]
                    before = load()
                    on_ray = side == "ray"
                    wall, cpu, last = run(
                        command, ray_env if on_ray else env, cluster if on_ray else None
                    )
                    times[side].append(wall)
                    cpus[side].append(cpu)
                    split = f"; {last}" if on_ray else ""
                    print(
                        f"{side} run {i + 1}: {wall:.1f} s, {cpu:.0f} CPU-s (load average "
                        f"before {before}, after {load()}){split}",
                        flush=True,
                    )
        local, ray = statistics.median(times["local"]), statistics.median(times["ray"])
        ratio = ray / local
        cpu_local, cpu_ray = statistics.median(cpus["local"]), statistics.median(cpus["ray"])
        print(
            f"median of {args.repeat}: local {local:.1f} s, ray {ray:.1f} s = {ratio:.3f}x "
            f"(target <= {TARGET}x) {'ok' if ratio <= TARGET else 'MISSED'}; CPU local "
            f"{cpu_local:.0f} s, ray {cpu_ray:.0f} s (render + cluster) = "
            f"{cpu_ray / cpu_local:.2f}x"
        )


if __name__ == "__main__":
    main()
