"""Built-in quality checks every production gets (registered as the ``builtin-qc`` plugin).

The checks themselves live in `ministudio.checks`; this hook runs the per-clip ones on each
rendered shot. The render adds the checks across shots (`checks.seam` for `continue` shots,
`checks.scene_stability` per scene and light) once every shot is in, and `ministudio qc DIR`
runs them all again on a finished film, with its sound's loudness.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ministudio import hookimpl

if TYPE_CHECKING:
    from ministudio.jobs import QCVerdict, ShotPrompt


@hookimpl
def qc_check(shot: ShotPrompt, clip: Path, expected_duration: float, fps: int) -> list[QCVerdict]:
    """Duration, frame rate, size and aspect; black, frozen and flashing picture; and, when the
    clip carries sound, drift, silence under its lines and clipping (loudness is the film's)."""
    from ministudio.checks import check_footage, decode

    footage = decode(clip)
    return check_footage(
        footage,
        expected_duration,
        fps,
        lines=[(line.start, line.end) for line in shot.lines if line.end > line.start],
        # A shot may open or close on a hold: the animatic's moves ease in and out of still
        # frames and its static shots hold after dissolving in. The hook is not told which
        # engine made the clip, so only a freeze between two stretches of motion fails here;
        # a core that knows the engine is generative should call checks.picture.frozen with
        # still_allowed=False (a clip that stalls at its end). For the same reason a hold
        # mid-shot fails only past half the shot (the animatic holds 3.8 s of an 8 s shot
        # in examples/last-algorithm.yaml while its figures talk).
        still_allowed=True,
        frozen_min_seconds=max(1.0, expected_duration / 2),
        loudness=False,
    )
