"""Format checks: duration to the frame, sound in step with picture, size, aspect, frame rate."""

from __future__ import annotations

from ministudio.jobs import QCVerdict
from ministudio.qc.checks.footage import Footage

# Aspect ratios a production may ask for (spec.AspectRatio); a clip's must be within 1%
# (a 1080x1920 frame is 0.5625 exactly; a 720x1280 engine frame rounded to even sizes is too).
ASPECTS = {"16:9": 16 / 9, "9:16": 9 / 16, "1:1": 1.0, "4:3": 4 / 3, "3:4": 3 / 4, "21:9": 21 / 9}
ASPECT_TOLERANCE = 0.01
FPS_TOLERANCE = 0.01  # frames per second: 23.976 is not 24


def duration(footage: Footage, expected: float, fps: float) -> QCVerdict:
    """The clip lasts ``expected`` seconds to within one frame."""
    drift = abs(footage.duration - expected)
    return QCVerdict(
        check="duration",
        passed=drift <= 1 / fps + 1e-6,
        score=round(max(0.0, 1.0 - drift * fps / 10), 3),
        reason=f"clip lasts {footage.duration:.3f} s for {expected:.3f} s asked "
        f"({drift * 1000:.0f} ms apart; limit one frame, {1000 / fps:.0f} ms)",
    )


def av_drift(footage: Footage, fps: float) -> QCVerdict | None:
    """Sound and picture end together, to within one frame (None without sound)."""
    if footage.audio is None:
        return None
    drift = abs(footage.audio_duration - footage.video_duration)
    return QCVerdict(
        check="av-drift",
        passed=drift <= 1 / fps + 1e-6,
        score=round(max(0.0, 1.0 - drift * fps / 10), 3),
        reason=f"sound lasts {footage.audio_duration:.3f} s, picture {footage.video_duration:.3f}"
        f" s ({drift * 1000:.0f} ms apart; limit one frame, {1000 / fps:.0f} ms)",
    )


def frame_rate(footage: Footage, fps: float) -> QCVerdict:
    ok = abs(footage.fps - fps) <= FPS_TOLERANCE
    return QCVerdict(
        check="fps",
        passed=ok,
        score=1.0 if ok else 0.0,
        reason=f"{footage.fps:g} fps" + ("" if ok else f", not the film's {fps:g} fps"),
    )


def resolution(
    footage: Footage, width: int | None = None, height: int | None = None, aspect: str | None = None
) -> QCVerdict:
    """The picture size is the film's (when given), and its aspect ratio a known one (or the
    film's ``aspect``, e.g. "16:9")."""
    size = f"{footage.width}x{footage.height}"
    problems: list[str] = []
    if (
        width is not None
        and height is not None
        and (footage.width, footage.height)
        != (
            width,
            height,
        )
    ):
        problems.append(f"{size}, not the film's {width}x{height}")
    ratio = footage.width / footage.height
    if aspect is not None:
        a, b = (int(x) for x in aspect.split(":"))
        if abs(ratio / (a / b) - 1) > ASPECT_TOLERANCE:
            problems.append(f"{size} is {ratio:.3f}:1, not {aspect}")
    elif not any(abs(ratio / r - 1) <= ASPECT_TOLERANCE for r in ASPECTS.values()):
        problems.append(f"{size} is {ratio:.3f}:1, none of {', '.join(ASPECTS)}")
    return QCVerdict(
        check="resolution",
        passed=not problems,
        score=0.0 if problems else 1.0,
        reason="; ".join(problems) if problems else size,
    )
