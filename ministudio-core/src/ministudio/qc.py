"""Built-in quality checks every production gets (registered as the ``builtin-qc`` plugin)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ministudio import hookimpl

if TYPE_CHECKING:
    from ministudio.jobs import QCVerdict, ShotPrompt


@hookimpl
def qc_check(shot: ShotPrompt, clip: Path, expected_duration: float, fps: int) -> list[QCVerdict]:
    """Duration to the frame, and a picture that is neither empty nor a single flat colour."""
    import numpy as np

    from ministudio.jobs import QCVerdict
    from ministudio.media.fit import frame_at
    from ministudio.media.probe import probe

    info = probe(clip)
    drift = abs(info.duration - expected_duration)
    duration = QCVerdict(
        check="duration",
        passed=drift <= 1 / fps + 1e-6,
        score=max(0.0, 1.0 - drift * fps),
        reason=f"clip lasts {info.duration:.3f} s for {expected_duration:.3f} s of audio "
        f"({drift * 1000:.0f} ms apart)",
    )
    middle = np.asarray(frame_at(clip, info.duration / 2).convert("L"), dtype=np.float32)
    contrast = float(middle.max() - middle.min()) / 255
    picture = QCVerdict(
        check="picture",
        passed=contrast > 0.05,
        score=min(1.0, contrast * 4),
        reason="the middle frame has content"
        if contrast > 0.05
        else "the middle frame is a single flat colour (black or blank clip?)",
    )
    return [duration, picture]
