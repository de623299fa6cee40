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
        # Only a static camera asks for stillness: the animatic's static shots dissolve in and
        # hold, and a hold opening or closing such a shot is its own. Any other shot fails a
        # held picture of a second inside it, or of a quarter of it at its start or end (a
        # moving camera eases in and out): see checks.picture.
        still_allowed=shot.camera_move == "static",
        loudness=False,
    )
