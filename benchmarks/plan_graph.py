"""Planning is cheap: a 1,000-shot production becomes its job graph in under 2 s and 200 MB.

Run: python benchmarks/plan_graph.py [--shots 1000] [--repeat 3]

Writes a production of ``--shots`` shots (scenes of ten in five places, each shot with one
line and every third a `continue`, every place with a reference image), then, in a fresh
interpreter each time, loads it (not timed) and times the plan: routing every shot
(``plan_shots``) and building the job graph (``build_graph``), which hashes each reference
image once. Prints the median seconds, the jobs by kind and the process's peak memory
(VmHWM, Linux only: the whole interpreter, imports included).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

CHILD = """
import json, sys, time
from pathlib import Path
from ministudio.spec.loading import load_production
from ministudio.plugins import PluginHost
from ministudio.plan.shots import plan_shots
from ministudio.plan.graph import build_graph
production = load_production(Path(sys.argv[1]))
host = PluginHost()
began = time.perf_counter()
graph = build_graph(production, plan_shots(production, host), host)
seconds = time.perf_counter() - began
status = open("/proc/self/status").read().split("VmHWM:")[1]
print(json.dumps({"seconds": seconds, "peak_mb": int(status.split()[0]) / 1024,
                  "counts": graph.as_json()["counts"]}))
"""


def production(shots: int, folder: Path) -> dict[str, object]:
    places = [f"place{i}" for i in range(5)]
    for i, place in enumerate(places):
        Image.new("RGB", (640, 360), (40 * i, 90, 160)).save(folder / f"{place}.png")
    scenes = []
    for s in range(-(-shots // 10)):
        scene_shots = []
        for k in range(min(10, shots - s * 10)):
            shot: dict[str, object] = {
                "id": f"s{s}-{k}",
                "action": f"she crosses the room and picks up the letter, take {k}",
                "characters": ["ana"],
                "dialogue": [{"speaker": "ana", "text": f"This is line {k} of scene {s}."}],
            }
            if k % 3 == 2:
                shot["continuity"] = "continue"
            scene_shots.append(shot)
        scenes.append({"id": f"scene{s}", "environment": places[s % 5], "shots": scene_shots})
    return {
        "title": "Plan scale",
        "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 24},
        "characters": {"ana": {"name": "Ana", "dna": "thirty, red coat", "voice": {"voice": "en"}}},
        "environments": {
            p: {"description": f"a room called {p}", "reference_images": [f"{p}.png"]}
            for p in places
        },
        "scenes": scenes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "production.json"
        path.write_text(json.dumps(production(args.shots, folder)), encoding="utf-8")
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True
            )
            if out.returncode:
                sys.exit(out.stderr)
            runs.append(json.loads(out.stdout))
    seconds = statistics.median(r["seconds"] for r in runs)
    peak = max(r["peak_mb"] for r in runs)
    print(f"{args.shots} shots -> jobs {runs[0]['counts']}")
    print(f"plan (routing + job graph): median {seconds:.3f} s of {args.repeat} (target < 2 s)")
    print(f"peak memory of the planning process: {peak:.0f} MB (target < 200 MB)")


if __name__ == "__main__":
    main()
