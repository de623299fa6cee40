"""Picture checks over a small grey frame sequence (frames, h, w), values 0..1.

Black stretches, frozen stretches and flashes. Each returns one `QCVerdict`.
"""

from __future__ import annotations

import numpy as np

from ministudio.jobs import QCVerdict

# A frame is black when its mean luma is under 6% and no (64 px, box-averaged) pixel passes
# 15%: a night scene keeps a lit window or a moon above that; an empty frame has nothing.
BLACK_MEAN = 0.06
BLACK_PEAK = 0.15
# Black lasting this long is a defect; a few frames of fade are not (0.3 s is 7 frames at 24).
BLACK_MIN_SECONDS = 0.3
# Consecutive frames whose mean absolute difference (64 px grey) is under this are identical
# for our purposes: the film's encoder (constant qp) repeats a still picture bit for bit
# (difference 0) and a rate-controlled x264 refines it by up to 4.5e-4 over a few frames, while
# the slowest real move we measured (the animatic's push-in at 640x360) differs by ~0.003.
FROZEN_DIFF = 6e-4
# A still picture lasting this long is a freeze. The animatic's showcase films hold still for
# up to 0.6 s between two movements (a figure pausing); 1 s of nothing at all is a stall.
FROZEN_MIN_SECONDS = 1.0
# A flash: the picture jumps by more than this (mean absolute difference) from one frame to
# the next and comes back to within half of the jump within FLASH_MAX_FRAMES frames. A camera
# move changes a 64 px frame by ~0.01 a frame; a white or garbage frame by 0.3 and more.
FLASH_JUMP = 0.15
FLASH_MAX_FRAMES = 3


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in a 1-D boolean array."""
    padded = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def black_frames(grey: np.ndarray) -> np.ndarray:
    """Which frames are black (boolean per frame)."""
    flat = grey.reshape(grey.shape[0], -1)
    mask: np.ndarray = (flat.mean(axis=1) < BLACK_MEAN) & (flat.max(axis=1) < BLACK_PEAK)
    return mask


def black(grey: np.ndarray, fps: float) -> QCVerdict:
    """Stretches of black picture of BLACK_MIN_SECONDS or more."""
    n = grey.shape[0]
    runs = [(s, k) for s, k in _runs(black_frames(grey)) if k / fps >= BLACK_MIN_SECONDS]
    if not runs:
        return QCVerdict(check="black", passed=True, score=1.0, reason="no black stretch")
    total = sum(k for _, k in runs)
    start, length = max(runs, key=lambda r: r[1])
    what = (
        "the whole clip is black"
        if total == n
        else f"{length / fps:.1f} s of black from {start / fps:.1f} s"
    )
    if len(runs) > 1:
        what += f" ({len(runs)} black stretches, {total / fps:.1f} s in all)"
    return QCVerdict(check="black", passed=False, score=round(1 - total / n, 3), reason=what)


def frozen(
    grey: np.ndarray,
    fps: float,
    *,
    still_allowed: bool = False,
    min_seconds: float = FROZEN_MIN_SECONDS,
) -> QCVerdict:
    """Stretches where the picture stops (not counting black, which `black` reports).

    ``still_allowed``: a locked-off shot may hold a still picture (the animatic's static shots
    do, after dissolving in from the previous shot); a still stretch touching the clip's start
    or end then passes, and only a freeze between two stretches of motion is reported.
    ``min_seconds``: the shortest still stretch reported (FROZEN_MIN_SECONDS by default).
    """
    n = grey.shape[0]
    if n < 2:
        return QCVerdict(check="frozen", passed=True, score=1.0, reason="a single frame")
    diffs = np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2))
    dark = black_frames(grey)
    still = (diffs < FROZEN_DIFF) & ~dark[1:]
    # a run of k still differences is k + 1 identical frames
    runs = [(s, k + 1) for s, k in _runs(still) if (k + 1) / fps >= min_seconds]
    if still_allowed:  # holds that open or close the shot are the shot's own
        runs = [(s, k) for s, k in runs if s > 0 and s + k < n]
        if not runs:
            return QCVerdict(
                check="frozen", passed=True, score=1.0, reason="moves or holds, as the shot asks"
            )
    if not runs:
        return QCVerdict(check="frozen", passed=True, score=1.0, reason="the picture moves")
    total = sum(k for _, k in runs)
    start, length = max(runs, key=lambda r: r[1])
    what = (
        "the picture never moves: the whole clip is one frozen frame"
        if length >= n
        else f"frozen for {length / fps:.1f} s from {start / fps:.1f} s"
    )
    return QCVerdict(
        check="frozen", passed=False, score=round(max(0.0, 1 - total / n), 3), reason=what
    )


def flashes(grey: np.ndarray, fps: float) -> QCVerdict:
    """Single frames (up to FLASH_MAX_FRAMES) that jump away from the picture and back."""
    n = grey.shape[0]
    found: list[tuple[int, float]] = []
    i = 1
    while i < n:
        jump = float(np.abs(grey[i] - grey[i - 1]).mean())
        if jump > FLASH_JUMP:
            for j in range(i + 1, min(n, i + 1 + FLASH_MAX_FRAMES)):
                if float(np.abs(grey[j] - grey[i - 1]).mean()) < jump / 2:
                    found.append((i, jump))
                    i = j
                    break
        i += 1
    if not found:
        return QCVerdict(check="flash", passed=True, score=1.0, reason="no flash")
    first, jump = found[0]
    more = f" ({len(found)} flashes)" if len(found) > 1 else ""
    return QCVerdict(
        check="flash",
        passed=False,
        score=round(max(0.0, 1 - len(found) / max(1, n) * 10), 3),
        reason=f"a flash at {first / fps:.2f} s: the picture jumps by {jump:.2f} "
        f"(limit {FLASH_JUMP}) and back{more}",
    )
