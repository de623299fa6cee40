"""The local quality checks on a labelled set of generated clips (issue 7).

Target: every injected defect caught (by the right check), no good clip flagged, and the
checks cost under 2 s per minute of film on 2 cores.
Run: python benchmarks/qc_checks.py [--seconds S] [--width W --height H]

Builds 24 scenes of four 720p shots of one synthetic place (A; B continues A; C is a cut to
a closer view; D is a cut to a long pan across the place while the light dims by a fifth and
flickers), each scene with exactly one defect injected into one shot (two scenes per kind,
12 kinds): 72 good clips, 24 with a defect. Every clip is decoded once; the per-clip checks,
the seam (A to B) and the scene's environment stability run on the decoded footage, two
scenes at a time (2 processes). A clip is flagged when any verdict about it fails; a defect
is caught when its clip is flagged by the check that kind belongs to.

It then prints the environment check's statistics with their limits, so the margins show:
how much each shot's colours differ from the scene's other shots' (good shots against the
recoloured ones), each shot's detail against the others', and, as a stress test (untimed),
the colour difference of each scene's C, then its D, recoloured after decoding.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from ministudio.jobs import QCVerdict
from ministudio.qc.checks import check_footage, decode, scene_stability, seam
from ministudio.qc.checks import synthetic as syn
from ministudio.qc.checks.continuity import (
    ENV_COLOUR_LIMIT,
    ENV_EDGE_FACTOR,
    environment_distances,
    sample,
)
from ministudio.qc.checks.footage import Footage

FPS = 24
TARGET = 2.0  # seconds of checking per minute of film
LINES = [(0.3, 1.5)]
KINDS = {  # defect kind: the check that must catch it
    "black": "black",
    "frozen": "frozen",
    "flash": "flash",
    "off-duration": "duration",
    "wrong fps": "fps",
    "wrong size": "resolution",
    "av drift": "av-drift",
    "silent line": "silence",
    "clipped": "clipping",
    "too quiet": "loudness",
    "seam jump": "seam",
    "recoloured place": "environment",
}
SHOTS = "abcd"
PICTURE_DEFECTS = {"black", "frozen", "flash", "wrong size", "recoloured place"}  # in C


def build(root: Path, kind: str, n: int, w: int, h: int, seconds: float) -> list[Path]:
    """Scene ``n``: four clips, the defect ``kind`` injected into one (B for a seam, else C)."""
    seed = 100 * n + 7
    count = round(seconds * FPS)
    place = syn.place(seed, 2 * w, 2 * h)
    rng = np.random.default_rng(seed)
    a = syn.frames(place, w, h, count, move=(rng.uniform(-0.2, 0.2), 0.05), seed=seed)
    b = syn.frames(place, w, h, count, start=(0.5, 0.2), move=(0.1, 0.0), seed=seed + 1)
    b[0] = a[-1]
    c = syn.frames(place, w, h, count, zoom=0.6, start=(0.3, 0.4), move=(0.0, 0.1), seed=seed)
    pan = syn.frames(place, w, h, count, start=(0.0, 0.3), move=(0.9, 0.1), seed=seed + 3)
    light = np.linspace(1.0, 0.8, count) * (1 + 0.04 * np.sin(1.7 * np.arange(count)))
    d = syn.relight(pan, light)
    sounds = [syn.speech(seconds, LINES, seed + k) for k in range(4)]
    c_fps = FPS
    if kind == "black":
        c[count // 3 : count // 3 + FPS // 2] = [np.zeros_like(c[0])] * (FPS // 2)
    elif kind == "frozen":
        hold = count * 3 // 8  # the picture stalls for the last 5/8 of the shot
        c[hold:] = [c[hold]] * (count - hold)
    elif kind == "flash":
        c[count // 2] = np.full_like(c[0], 255 if n % 2 else 0)
    elif kind == "off-duration":
        c = c[: count - 3]
        sounds[2] = sounds[2][: round(len(c) / FPS * syn.RATE)]
    elif kind == "wrong fps":
        c_fps = 25
        sounds[2] = sounds[2][: round(count / 25 * syn.RATE)]
    elif kind == "wrong size":
        c = [p[:, : w * 3 // 4] for p in c]
    elif kind == "av drift":
        sounds[2] = sounds[2][: -round(0.25 * syn.RATE)]
    elif kind == "silent line":
        sounds[2][round(0.25 * syn.RATE) : round(1.6 * syn.RATE)] = 0
    elif kind == "clipped":
        sounds[2] = np.clip(sounds[2] * 6, -1, 1)
    elif kind == "too quiet":
        sounds[2] = sounds[2] * 10 ** (-8 / 20)
    elif kind == "seam jump":  # B opens on another part of the same place, not on A's end
        b = syn.frames(place, w, h, count, zoom=0.5, start=(0.95, 0.9), seed=seed + 1)
    elif kind == "recoloured place":
        c = [syn.recolour(p) for p in c]
    return [
        syn.write(root / f"{n}-a.mp4", a, FPS, sounds[0]),
        syn.write(root / f"{n}-b.mp4", b, FPS, sounds[1]),
        syn.write(root / f"{n}-c.mp4", c, c_fps, sounds[2]),
        syn.write(root / f"{n}-d.mp4", d, FPS, sounds[3]),
    ]


Stats = list[tuple[float, float]]  # per shot: (colour share unmatched, detail factor)


def check_scene(
    clips: list[Path], seconds: float, w: int, h: int
) -> tuple[list[list[QCVerdict]], float, list[Footage]]:
    """Every verdict about each of the scene's clips, the CPU seconds it took, and the frames
    the environment check looked at (for the untimed statistics)."""
    cpu0 = time.process_time()
    footage: list[Footage] = [decode(p) for p in clips]
    verdicts = [
        check_footage(f, seconds, FPS, lines=LINES, width=w, height=h, aspect="16:9")
        for f in footage
    ]
    verdicts[1].append(seam(footage[0], footage[1]))
    for k, v in enumerate(scene_stability(dict(zip(SHOTS, footage, strict=True)), "the place")):
        verdicts[k].append(v)
    cpu = time.process_time() - cpu0
    return verdicts, cpu, [dataclasses.replace(sample(f), audio=None) for f in footage]


def statistics(footage: list[Footage]) -> tuple[Stats, float, float]:
    """The environment statistics per shot, then C's and D's colour difference once each is
    recoloured (after decoding, so no clip is encoded again)."""
    scene = dict(zip(SHOTS, footage, strict=True))
    stressed = []
    for shot in "cd":
        changed = dict(scene)
        changed[shot] = dataclasses.replace(scene[shot], colour=recolour(scene[shot].colour))
        stressed.append(environment_distances(changed)[SHOTS.index(shot)][0])
    return environment_distances(scene), stressed[0], stressed[1]


def recolour(colour: np.ndarray) -> np.ndarray:
    """``syn.recolour`` on decoded RGB thumbnails (0..1)."""
    rgb = syn.recolour(np.round(colour * 255).astype(np.uint8))
    out: np.ndarray = rgb.astype(np.float32) / 255
    return out


def spread(values: list[float]) -> str:
    """min, median, 90th percentile and max of ``values``."""
    q = np.quantile(values, [0, 0.5, 0.9, 1])
    return f"min {q[0]:.2f}, median {q[1]:.2f}, p90 {q[2]:.2f}, max {q[3]:.2f}"


def report_environment(
    scenes: list[tuple[str, int]], stats: list[tuple[Stats, float, float]]
) -> None:
    """The environment check's statistics, with the margins: every shot whose picture has no
    injected defect (the defect clips of the sound and format kinds included), against the
    recoloured ones; the seam-jump Bs (another part of the place) are listed apart."""
    good, bad, jumps = [], [], []
    for (kind, _), (shots, _, _) in zip(scenes, stats, strict=True):
        for k, shot in enumerate(shots):
            if k == 2 and kind == "recoloured place":
                bad.append(shot[0])
            elif k == 1 and kind == "seam jump":
                jumps.append(shot[0])
            elif not (k == 2 and kind in PICTURE_DEFECTS):
                good.append(shot)
    shares = [share for share, _ in good]
    details = [detail for _, detail in good]
    limit = ENV_COLOUR_LIMIT
    print(f"environment: how much a shot's colours differ from the others' (limit {limit:.2f})")
    print(f"  good shots ({len(shares)}): {spread(shares)}")
    print(f"    margin {limit - max(shares):.2f} under the limit")
    listed = ", ".join(f"{v:.2f}" for v in bad)
    print(
        f"  recoloured places ({len(bad)}): {listed}; margin {min(bad) - limit:.2f} over the limit"
    )
    listed = ", ".join(f"{v:.2f}" for v in jumps)
    print(f"  seam-jump Bs, another part of the place ({len(jumps)}): {listed}")
    fair_c = [
        c for (kind, _), (_, c, _) in zip(scenes, stats, strict=True) if kind not in PICTURE_DEFECTS
    ]
    fair_d = [d for _, _, d in stats]
    for name, values in (("C", fair_c), ("D (the pan, light dimming)", fair_d)):
        caught = sum(v > limit for v in values)
        print(
            f"  stress: {name} recoloured after decoding ({len(values)} scenes): {spread(values)}"
        )
        print(f"    {caught} of {len(values)} over the limit, margin {min(values) - limit:.2f}")
    print(f"environment: detail against the other shots (limit {ENV_EDGE_FACTOR:g}x either way)")
    print(f"  good shots ({len(details)}): {min(details):.2f}x to {max(details):.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    args = parser.parse_args()
    w, h, seconds = args.width, args.height, args.seconds
    scenes = [(kind, n) for n, kind in enumerate(k for k in KINDS for _ in range(2))]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        built = [build(root, kind, n, w, h, seconds) for kind, n in scenes]
        clips = sum(len(b) for b in built)
        print(f"built {clips} clips ({w}x{h}, {seconds:g} s) in {time.perf_counter() - t0:.1f} s")
        with ProcessPoolExecutor(2) as pool:  # the pool starts (and imports) before timing
            list(pool.map(time.sleep, [0.0, 0.0]))
            t0 = time.perf_counter()
            n_ = len(built)
            answers = list(pool.map(check_scene, built, [seconds] * n_, [w] * n_, [h] * n_))
            wall = time.perf_counter() - t0
        results = [answer[0] for answer in answers]
        cpu = sum(answer[1] for answer in answers)
    caught, missed, wrong = Counter[str](), Counter[str](), []
    good_passed, good_flagged, also = 0, [], []
    for (kind, n), verdicts in zip(scenes, results, strict=True):
        bad_index = 1 if kind == "seam jump" else 2
        for k, clip_verdicts in enumerate(verdicts):
            failing = {v.check: v.reason for v in clip_verdicts if not v.passed}
            if k == bad_index:
                if KINDS[kind] in failing:
                    caught[kind] += 1
                    if len(failing) > 1:
                        also.append(f"  {kind} {n}-{SHOTS[k]} also flagged: {sorted(failing)}")
                else:
                    missed[kind] += 1
                    wrong.append(f"  missed {kind} in scene {n}: {failing or 'nothing failed'}")
            elif failing:
                good_flagged.append(f"  good clip {n}-{SHOTS[k]} flagged: {failing}")
            else:
                good_passed += 1
    defects = sum(caught.values()) + sum(missed.values())
    print(f"{'':<18}{'flagged':>8}{'passed':>8}")
    print(f"{f'defect clips ({defects})':<18}{sum(caught.values()):>8}{sum(missed.values()):>8}")
    good_total = good_passed + len(good_flagged)
    print(f"{f'good clips ({good_total})':<18}{len(good_flagged):>8}{good_passed:>8}")
    print(f"{'defect':<18}{'caught':>8}{'missed':>8}")
    for kind in KINDS:
        print(f"{kind:<18}{caught[kind]:>8}{missed[kind]:>8}")
    for line in wrong + good_flagged + also:
        print(line)
    report_environment(scenes, [statistics(answer[2]) for answer in answers])
    minutes = clips * seconds / 60
    print(
        f"checks: {wall:.2f} s wall on 2 processes, {cpu:.2f} s CPU for {minutes * 60:.0f} s of "
        f"film = {wall / minutes:.2f} s per minute (CPU {cpu / minutes:.2f} s per minute; "
        f"target < {TARGET:g} s per minute on 2 cores)"
    )
    ok = not wrong and not good_flagged and wall / minutes < TARGET
    print("ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
