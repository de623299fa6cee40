"""Built-in quality checks every production gets (registered as the ``builtin-qc`` plugin).

The checks themselves live in `ministudio.qc.checks`; this hook runs the per-clip ones on each
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
    clip carries sound, drift, silence under its lines, clipping (loudness is the film's) and
    sync where a character in the shot speaks."""
    from ministudio.plan.voicing import on_screen
    from ministudio.qc.checks import check_footage, decode

    footage = decode(clip)
    spoken = [(line.start, line.end) for line in shot.lines if line.end > line.start]
    seen = [shot.lines[i] for i in on_screen(shot)]
    return check_footage(
        footage,
        expected_duration,
        fps,
        lines=spoken,
        on_screen=[(line.start, line.end) for line in seen if line.end > line.start],
        # Only a static camera asks for stillness: the animatic's static shots dissolve in and
        # hold, and a hold opening or closing such a shot is its own. Any other shot fails a
        # held picture of a second inside it, or of a quarter of it at its start or end (a
        # moving camera eases in and out): see checks.picture.
        still_allowed=shot.camera_move == "static",
        loudness=False,
    )
