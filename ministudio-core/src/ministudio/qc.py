"""Built-in quality checks every production gets (registered as the ``builtin-qc`` plugin).

The checks themselves live in `ministudio.checks`; this hook runs the per-clip ones on each
rendered shot. Checks that need more than one clip (`checks.seam` for `continue` shots,
`checks.scene_stability` per scene) or the film's mixed sound (`checks.check_sound` with
loudness) are functions the core calls once those exist.
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
        # a locked-off camera may hold a still picture (the animatic's static shots do)
        still_allowed=shot.camera_move == "static",
        loudness=False,
    )
