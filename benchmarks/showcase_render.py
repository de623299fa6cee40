"""The 56-second vertical showcase rendered end to end, keyless, from an empty store.

Target: under 30 s on 2 cores.  Run: python benchmarks/showcase_render.py [production.yaml]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from ministudio.run.render import render
from ministudio.run.store import ContentStore
from ministudio.spec.loading import load_production

TARGET = 30.0

if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "examples" / "quantum-mechanics.yaml"
    production = load_production(path)
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        manifest = render(production, Path(tmp) / "out", store=ContentStore(Path(tmp) / "store"))
        cold = time.perf_counter() - began
        began = time.perf_counter()
        render(production, Path(tmp) / "again", store=ContentStore(Path(tmp) / "store"))
        warm = time.perf_counter() - began
    print(
        f"{path.name}: {manifest.duration:.1f} s film, {len(manifest.shots)} shots, "
        f"rendered cold in {cold:.1f} s ({manifest.duration / cold:.1f}x real time; target "
        f"< {TARGET:.0f} s, {cold / TARGET:.2f} of target); from the store in {warm:.1f} s"
    )
