"""Where a shot whose lines outlast its engine's longest clip is cut into several clips: at
the pauses of its speech (between phrases and between lines), never mid-word where a pause
can be found.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

WINDOW = 0.02  # s of sound per loudness reading
QUIET_DB = -30.0  # a window this far under the line's loudest window is a pause
SHORTEST_PAUSE = 0.12  # s: shorter dips are inside words


def pauses(samples: np.ndarray, rate: int) -> list[float]:
    """The middle (in seconds) of each pause within a spoken line."""
    size = max(1, round(WINDOW * rate))
    count = samples.size // size
    if count == 0:
        return []
    windows = samples[: count * size].astype(np.float64).reshape(count, size)
    level = 10 * np.log10(np.mean(windows**2, axis=1) + 1e-12)
    quiet = level < level.max() + QUIET_DB
    middles, start = [], None
    for i, is_quiet in enumerate([*quiet, False]):
        if is_quiet and start is None:
            start = i
        elif not is_quiet and start is not None:
            inside = start > 0 and i < count  # not the silence before or after the speech
            if inside and (i - start) * WINDOW >= SHORTEST_PAUSE:
                middles.append((start + i) / 2 * WINDOW)
            start = None
    return middles


def cuts(
    duration: float, candidates: Sequence[float], longest: float, shortest: float
) -> list[float]:
    """Times that cut ``duration`` seconds into parts of ``shortest`` to ``longest`` seconds:
    each part as long as it can be, ending at the latest of ``candidates`` (pauses) that
    fits, else where it must end (mid-phrase)."""
    out: list[float] = []
    start = 0.0
    while duration - start > longest + 1e-9:
        latest = min(start + longest, duration - shortest)
        fitting = [t for t in candidates if start + shortest <= t <= latest]
        start = max(fitting) if fitting else latest
        out.append(start)
    return out
