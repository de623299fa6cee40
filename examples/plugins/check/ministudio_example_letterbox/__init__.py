"""letterbox: a quality check. A clip with black bars (letterbox or pillarbox) fails it.

A complete example of a ``qc_check`` plugin. The core cover-fits every clip to the film's
frame, so bars an engine drew into its own picture (a 16:9 picture padded into a 9:16 frame,
say) reach the film, and the built-in checks do not see them (``black`` wants the whole
frame dark). This check looks at a few frames spread over the clip: dark bands at both
edges, about as wide as each other, in every frame looked at, are bars.

Every plugin's ``qc_check`` runs on every rendered clip (the film's size and rate, no sound),
so the hook takes only the arguments it needs and answers None when the production's vision
judge is being asked (``judge`` set). Its verdict goes into the manifest; a failing verdict
sends the shot down the production's retake ladder (``qc.retakes``, ``qc.ladder``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ministudio import hookimpl

if TYPE_CHECKING:
    import numpy as np
    from ministudio.engines import Judging
    from ministudio.jobs import QCVerdict

DARK = 0.08 * 255  # a row (or column) is dark when its mean luma is under this...
DARK_PEAK = 0.25 * 255  # ...and none of its pixels passes this (no lit window, no moon)
MIN_BAR = 0.04  # a bar is at least this share of the picture's height (or width)
SAME = 0.02  # the two bars differ by at most this share (bars are centred)
SAMPLES = 6  # frames looked at, spread over the clip


@hookimpl
def qc_check(clip: Path, judge: Judging | None) -> QCVerdict | None:
    if judge is not None:  # the production's judge is asked: only its own plugin answers
        return None
    from ministudio.jobs import QCVerdict

    bars = [_bars(grey) for grey in _frames(clip)]
    if not bars:
        return None  # nothing decoded: the core's own checks say why
    top = min(b[0] for b in bars)  # a bar must be there in every frame looked at
    side = min(b[1] for b in bars)
    if top == 0 and side == 0:
        return QCVerdict(check="letterbox", passed=True, score=1.0, reason="no black bars")
    where = "top and bottom" if top else "left and right"
    share = 2 * (top or side)
    return QCVerdict(
        check="letterbox",
        passed=False,
        score=round(1 - share, 3),
        reason=f"black bars {where} ({share:.0%} of the picture): the engine boxed its picture "
        "into the film's frame; render in the film's aspect ratio, or route the shot elsewhere",
    )


def _frames(clip: Path) -> list[np.ndarray]:
    """Up to SAMPLES frames (grey, H x W uint8) spread evenly over the clip."""
    import av

    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        total = stream.frames or 1
        wanted = {round(i * (total - 1) / max(1, SAMPLES - 1)) for i in range(SAMPLES)}
        return [
            frame.to_ndarray(format="gray")
            for index, frame in enumerate(container.decode(stream))
            if index in wanted
        ]


def _bars(grey: np.ndarray) -> tuple[float, float]:
    """(the top/bottom bars' share of the height, the side bars' share of the width); 0
    where there are none."""
    return _edges(grey), _edges(grey.T)


def _edges(grey: np.ndarray) -> float:
    """The share of rows dark at both ends, when the two dark bands are alike and not all."""
    dark = (grey.mean(axis=1) < DARK) & (grey.max(axis=1) < DARK_PEAK)
    if dark.all():
        return 0.0  # a black frame: the core's black check speaks for it
    first, last = int(dark.argmin()), int(dark[::-1].argmin())  # dark rows at each end
    rows = len(dark)
    if min(first, last) < MIN_BAR * rows or abs(first - last) > SAME * rows + 1:
        return 0.0
    return min(first, last) / rows
