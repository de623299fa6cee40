"""The film against its manifest: its real frames, their timestamps and where its cuts fall.

The manifest is the expectation (each shot's start, length in frames, the film's frame
rate); the measurement is the film's decoded presentation timestamps and its picture:

- a gap between two timestamps of more than one frame period is dropped frames, placed at
  the time of the first missing one;
- a timestamp repeated (closer than half a period to the one before) is a duplicated frame.
  Only timestamps decide: two identical pictures in a row are a held frame, which the
  frozen check judges, not a duplicate (a still shot is made of them);
- the film holding fewer frame periods than the manifest's total is missing frames;
- each cut between shots is found in the picture, the frame that changes most near the
  manifest's time for it (within ``CUT_WINDOW``), when it stands out of the motion around it;
  a cut the picture does not show (a `continue` shot's seam) is put where the manifest says,
  moved by however much the cut before it moved. A shot's real length runs from its cut to
  the next; dropped frames belong to the shot whose real stretch holds them;
- shots joined by seams the picture does not show make one run between two cuts it shows:
  frames the run lost (or gained) are placed by the jump in the picture where they were cut
  out (one frame changing ``JUMP_FACTOR`` times as much as each of its neighbours), which
  moves the seams after it; with no such jump, or more than one, the run's shots are blamed
  together, by name, the picture not showing which of them is off.

Reasons give the film's times ("3 frames missing at 14.21 s", "shot ends 0.50 s early").
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ministudio.jobs import QCVerdict

CUT_WINDOW = 1.0  # seconds each side of the manifest's cut in which to look for it
CUT_MIN = 0.04  # a cut changes the picture by at least this much (mean luma 0..1)...
CUT_FACTOR = 4.0  # ...and this many times the median change around it (camera motion)
JUMP_MIN = 0.01  # where frames were cut out, the picture changes by at least this much...
JUMP_FACTOR = 4.0  # ...and this many times as much as on the frames either side of it


class Expected(NamedTuple):
    """One shot as the manifest has it."""

    id: str
    start: float  # seconds from the film's start
    frames: int


def picture_changes(grey: np.ndarray) -> np.ndarray:
    """Per frame, its mean absolute luma difference from the frame before (0 for the first)."""
    if grey.shape[0] < 2:
        return np.zeros(grey.shape[0], np.float32)
    diffs = np.abs(np.diff(grey.astype(np.float32), axis=0)).mean(axis=(1, 2))
    out: np.ndarray = np.concatenate([[0.0], diffs]).astype(np.float32)
    return out


def find_cuts(
    times: np.ndarray, changes: np.ndarray, shots: Sequence[Expected], fps: float
) -> tuple[list[float], list[bool]]:
    """Where each shot really starts in the film (its first frame's time), in shot order, and
    whether the picture shows that start (a cut; the first shot's start always counts)."""
    period = 1.0 / fps
    starts = [float(times[0]) if times.size else 0.0]
    seen = [True]
    moved = starts[0] - shots[0].start if shots else 0.0
    for before, shot in itertools.pairwise(shots):
        expected = shot.start + moved
        half = min(CUT_WINDOW, before.frames * period / 2, shot.frames * period / 2)
        near = np.flatnonzero(np.abs(times - expected) <= half + period / 2)
        near = near[near > 0]
        found = None
        if near.size:
            best = int(near[np.argmax(changes[near])])
            rest = np.delete(changes[near], np.argmax(changes[near]))
            typical = float(np.median(rest)) if rest.size else 0.0
            if changes[best] >= max(CUT_MIN, CUT_FACTOR * typical):
                found = float(times[best])
        seen.append(found is not None)
        if found is None:
            found = expected
        moved = found - shot.start
        starts.append(found)
    return starts, seen


def find_jumps(
    times: np.ndarray, changes: np.ndarray, lo: float, hi: float, period: float
) -> list[float]:
    """The times of the frames in [lo, hi) (the first left out: its change is the cut before)
    where the picture jumps as it does where frames were cut out of a moving shot: the frame
    changes at least ``JUMP_MIN`` and ``JUMP_FACTOR`` times as much as each of its neighbours
    (motion changes a few frames in a row; a cut or a jump, one). A frame after a gap in the
    timestamps is left out: the gap tells what is missing there."""
    inside = np.flatnonzero((times > lo + period / 2) & (times < hi - period / 2))
    inside = inside[(inside > 0) & (inside < changes.size - 1)]
    inside = inside[times[inside] - times[inside - 1] < 1.5 * period]
    around = np.maximum(changes[inside - 1], changes[inside + 1])
    jumps = (changes[inside] >= JUMP_MIN) & (changes[inside] >= JUMP_FACTOR * around)
    return [float(times[i]) for i in inside[jumps]]


class _Run(NamedTuple):
    """Shots joined by seams the picture does not show, whose frames do not add up."""

    first: int  # index of its first shot
    last: int  # and of its last
    off: int  # frames it lost (negative: gained)


def place_seams(
    times: np.ndarray,
    changes: np.ndarray,
    shots: Sequence[Expected],
    fps: float,
    starts: list[float],
    seen: list[bool],
    end: float,
) -> tuple[list[float], list[_Run], dict[int, float]]:
    """``starts`` with the seams the picture does not show moved past frames a run of shots
    lost or gained, where one jump in the picture places them; the runs no jump places; and
    the jump that placed a run's seams, by the index of each of its shots."""
    period = 1.0 / fps
    starts = list(starts)
    unplaced: list[_Run] = []
    placed: dict[int, float] = {}
    k = 0
    while k < len(shots):
        last = k
        while last + 1 < len(shots) and not seen[last + 1]:
            last += 1
        lo, hi = starts[k], starts[last + 1] if last + 1 < len(shots) else end
        off = sum(s.frames for s in shots[k : last + 1]) - round((hi - lo) / period)
        if last > k and off:
            jumps = find_jumps(times, changes, lo, hi, period)
            if len(jumps) == 1:
                at = jumps[0]
                for i in range(k + 1, last + 1):
                    was, now = starts[i], starts[i] - off * period
                    if off > 0:  # lost: a seam after the jump is earlier, one inside it there
                        starts[i] = min(max(at, now), was)
                    elif at < was - period / 2:  # gained before the seam: it is later
                        starts[i] = now
                placed.update((i, at) for i in range(k, last + 1))
            else:
                unplaced.append(_Run(k, last, off))
        k = last + 1
    return starts, unplaced, placed


class Located(NamedTuple):
    """Where the film's shots really are: each one's start (seconds), the runs of shots whose
    seams no jump places, the jump that placed a run's seams (by shot index), and the end."""

    starts: list[float]
    unplaced: list[_Run]
    placed: dict[int, float]
    end: float


def locate(
    times: np.ndarray, changes: np.ndarray, shots: Sequence[Expected], fps: float
) -> Located:
    """Each shot's real start: at its cut, or where its seam was placed (else where the
    manifest puts it, moved as the cut before it moved)."""
    times = np.asarray(times, np.float64)
    changes = np.asarray(changes, np.float64)
    end = float(times[-1]) + 1.0 / fps if times.size else 0.0
    starts, seen = find_cuts(times, changes, shots, fps)
    return Located(*place_seams(times, changes, shots, fps, starts, seen, end), end)


def check_timeline(
    times: np.ndarray,
    changes: np.ndarray,
    shots: Sequence[Expected],
    fps: float,
    located: Located | None = None,
) -> list[tuple[str, QCVerdict]]:
    """Verdicts on the film's frames against the manifest: one per shot (under its id) and
    one for the whole film (under "film"). ``times`` are the decoded frames' presentation
    times, ``changes`` their `picture_changes`, ``fps`` the manifest's frame rate;
    ``located`` their `locate`, when the caller has it already."""
    period = 1.0 / fps
    times = np.asarray(times, np.float64)
    steps = np.diff(times)
    duplicated = [float(times[i + 1]) for i in np.flatnonzero(steps < period / 2)]
    gaps = [  # (time of the first missing frame, how many are missing)
        (float(times[i]) + period, round(float(steps[i]) / period) - 1)
        for i in np.flatnonzero(steps > 1.5 * period)
    ]
    starts, unplaced, placed, end = located or locate(times, changes, shots, fps)
    together = {i: run for run in unplaced for i in range(run.first, run.last + 1)}
    found: list[tuple[str, QCVerdict]] = []
    for k, shot in enumerate(shots):
        lo, hi = starts[k], starts[k + 1] if k + 1 < len(shots) else end
        problems = []
        mine = [(t, n) for t, n in gaps if lo <= t < hi]
        problems += [f"{_frames(n)} missing at {t:.2f} s" for t, n in mine]
        twice = [t for t in duplicated if lo <= t < hi]
        if twice:
            problems.append(f"{_frames(len(twice))} repeated (a timestamp twice) at {_at(twice)}")
        span = round((hi - lo) / period)
        count = int(np.count_nonzero((times >= lo - period / 2) & (times < hi - period / 2)))
        score = round(min(count, shot.frames) / max(count, shot.frames, 1), 3)
        run = together.get(k)
        if run is not None:
            problem, score = _together(shots, run, starts, end, period)
            problems.append(problem)
        elif span != shot.frames:
            short = (shot.frames - span) * period
            how = f"ends {short:.2f} s early" if short > 0 else f"runs {-short:.2f} s long"
            problem = (
                f"shot {how}: {span * period:.2f} s from {lo:.2f} s to {hi:.2f} s for the "
                f"manifest's {shot.frames * period:.2f} s ({abs(span - shot.frames)} frames)"
            )
            if k in placed:  # a seam of this shot's is not seen: say how it was placed
                problem += f", placed by a jump in the picture at {placed[k]:.2f} s"
            problems.append(problem)
        found.append(
            (
                shot.id,
                QCVerdict(
                    check="timeline",
                    passed=not problems,
                    score=score,
                    reason="; ".join(problems)
                    if problems
                    else f"{count} frames from {lo:.2f} s, as the manifest has it",
                ),
            )
        )
    found.append(("film", _film(times, gaps, duplicated, shots, fps)))
    return found


def _together(
    shots: Sequence[Expected], run: _Run, starts: list[float], end: float, period: float
) -> tuple[str, float]:
    """Why a run of shots whose seams the picture does not show is off (naming them, in
    order), and its score."""
    ids = [s.id for s in shots[run.first : run.last + 1]]
    lo = starts[run.first]
    hi = starts[run.last + 1] if run.last + 1 < len(shots) else end
    want = sum(s.frames for s in shots[run.first : run.last + 1])
    got = want - run.off
    off = abs(run.off) * period
    how = f"end {off:.2f} s early" if run.off > 0 else f"run {off:.2f} s long"
    reason = (
        f"{', '.join(ids[:-1])} and {ids[-1]} together {how}: {got * period:.2f} s from "
        f"{lo:.2f} s to {hi:.2f} s for the manifest's {want * period:.2f} s "
        f"({_frames(abs(run.off))}); the picture shows no cut between them, nor one jump to "
        "say which of them it is"
    )
    return reason, round(min(got, want) / max(got, want, 1), 3)


def _film(
    times: np.ndarray,
    gaps: list[tuple[float, int]],
    duplicated: list[float],
    shots: Sequence[Expected],
    fps: float,
) -> QCVerdict:
    period = 1.0 / fps
    wanted = sum(s.frames for s in shots)
    problems = []
    if gaps:
        problems.append(
            f"{_frames(sum(n for _, n in gaps))} dropped in {len(gaps)} gap(s), the first at "
            f"{gaps[0][0]:.2f} s"
        )
    if duplicated:
        problems.append(f"{_frames(len(duplicated))} repeated, the first at {duplicated[0]:.2f} s")
    if times.size < wanted:
        problems.append(
            f"{times.size} frames for the manifest's {wanted}: "
            f"{_frames(wanted - times.size)} ({(wanted - times.size) * period:.2f} s) missing"
        )
    elif times.size > wanted:
        problems.append(f"{times.size} frames for the manifest's {wanted}")
    return QCVerdict(
        check="timeline",
        passed=not problems,
        score=round(min(times.size, wanted) / max(times.size, wanted, 1), 3),
        reason="; ".join(problems)
        if problems
        else f"{times.size} frames, one every {period * 1000:.1f} ms, as the manifest has it",
    )


def _frames(n: int) -> str:
    return f"{n} frame" if n == 1 else f"{n} frames"


def _at(seconds: list[float]) -> str:
    shown = ", ".join(f"{t:.2f} s" for t in seconds[:3])
    return shown + (f" and {len(seconds) - 3} more" if len(seconds) > 3 else "")
