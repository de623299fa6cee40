"""Loading is linear in the file's size, and hostile files are refused quickly in bounded memory.

Run: python benchmarks/loading.py   (about a minute)

Loads generated productions of about 1, 5 and 25 MB (YAML and JSON), each in a fresh
interpreter, and prints the time, the seconds per MB (flat when growth is linear) and the
peak memory (VmHWM: Linux only). Then a billion-laughs alias bomb, YAML nested 5,000 deep
and JSON nested 100,000 deep: time to the refusal and peak memory. With ``--ruamel`` it also
times the old loader (ruamel's round-trip YAML) on the 1 MB file, for comparison.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

SIZES_MB = (1, 5, 25)

CHILD = """
import sys, time
from ministudio.errors import ProductionError
from ministudio.spec.loading import load_production
began = time.perf_counter()
try:
    load_production(sys.argv[1])
    outcome = "valid"
except ProductionError as exc:
    outcome = exc.problems[0].message[:70]
seconds = time.perf_counter() - began
status = open("/proc/self/status").read().split("VmHWM:")[1]  # peak RSS of this program
print(seconds, int(status.split()[0]) / 1024, outcome, sep="|")
"""

RUAMEL = """
import sys, time
from ruamel.yaml import YAML
began = time.perf_counter()
YAML(typ="rt").load(open(sys.argv[1], encoding="utf-8").read())
print(time.perf_counter() - began)
"""


def production(megabytes: float) -> dict[str, object]:
    """A valid production of about ``megabytes`` MB as YAML: scenes of ten voiced shots."""
    scenes = []
    shot = {
        "action": "Ann waves at the camera and smiles, then turns away slowly",
        "size": "wide",
        "dialogue": [
            {"speaker": "ann", "text": "Hello there, one line of many.", "emotion": "happy"},
            {"speaker": "ann", "text": "A second line that is a little longer than the first."},
        ],
    }
    count = max(1, int(megabytes * 1e6 / 3300))  # about 3.3 kB of YAML per scene
    for s in range(count):
        shots = [{"id": f"s{s}-{k}", **shot} for k in range(10)]
        scenes.append({"id": f"scene{s}", "environment": "room", "shots": shots})
    return {
        "title": "Benchmark",
        "characters": {"ann": {"name": "Ann", "dna": "a woman in a red coat"}},
        "environments": {"room": {"description": "a small room"}},
        "scenes": scenes,
    }


def to_yaml(data: object, indent: int = 0) -> str:
    """Block-style YAML (no PyYAML dumper: it is slow on large data)."""
    pad = " " * indent
    if isinstance(data, dict):
        out = []
        for key, value in data.items():
            if isinstance(value, (dict, list)) and value:
                out.append(f"{pad}{key}:\n{to_yaml(value, indent + 2)}")
            else:
                out.append(f"{pad}{key}: {json.dumps(value)}\n")
        return "".join(out)
    assert isinstance(data, list)
    out = []
    for item in data:
        text = to_yaml(item, indent + 2)
        out.append(f"{pad}- {text[indent + 2 :]}")
    return "".join(out)


def run(path: Path) -> tuple[float, float, str]:
    found = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True
    ).stdout.strip()
    seconds, rss, outcome = found.split("|", 2)
    return float(seconds), float(rss), outcome


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    for suffix in (".yaml", ".json"):
        for megabytes in SIZES_MB:
            data = production(megabytes)
            path = folder / f"film-{megabytes}mb{suffix}"
            path.write_text(to_yaml(data) if suffix == ".yaml" else json.dumps(data, indent=1))
            size = path.stat().st_size / 1e6
            seconds, rss, outcome = run(path)
            print(
                f"{suffix[1:]:>4} {size:6.1f} MB: {seconds:6.2f} s, {seconds / size:.3f} s/MB, "
                f"peak {rss:5.0f} MB ({outcome})"
            )
    hostile = {
        "alias bomb (9 levels of 9)": "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        + "".join(
            f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
            for a, b in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "YAML nested 5,000 deep": "title: " + "[" * 5000 + "]" * 5000 + "\n",
    }
    for name, text in hostile.items():
        path = folder / "hostile.yaml"
        path.write_text(text)
        seconds, rss, outcome = run(path)
        print(f"{name}: refused in {seconds:.3f} s, peak {rss:.0f} MB: {outcome}")
    path = folder / "hostile.json"
    path.write_text('{"title": ' + "[" * 100_000 + "]" * 100_000 + "}")
    seconds, rss, outcome = run(path)
    print(f"JSON nested 100,000 deep: refused in {seconds:.3f} s, peak {rss:.0f} MB: {outcome}")
    if "--ruamel" in sys.argv:
        path = folder / "film-1mb.yaml"
        found = subprocess.run(
            [sys.executable, "-c", RUAMEL, str(path)], capture_output=True, text=True, check=True
        )
        seconds = float(found.stdout)
        size = path.stat().st_size / 1e6
        print(
            f"before (ruamel round-trip parse only), {size:.1f} MB: {seconds:.2f} s, "
            f"{seconds / size:.3f} s/MB"
        )


if __name__ == "__main__":
    main()
