"""Local quality checks: pure functions over a clip decoded once, small (issue 7).

- `format`: duration to the frame, sound/picture drift, size and aspect, frame rate;
- `picture`: black, frozen (held) and flashing stretches: a held picture fails from a second
  inside a shot (a static camera may hold at its ends);
- `sound`: silence where a line is spoken, clipping per stretch and per line (with the times
  of the clips), integrated loudness and true peak (BS.1770-4);
- `continuity`: the seam of a `continue` shot, a scene's environment across its shots;
- `sync`: sound against picture where a face speaks (EBU R37), per shot and film-wide.
- `lipsync`: in a medium or closer shot, whether the mouths move with the on-screen voice
  and in time (`check_lipsync`, `lipsync_of_clip`).

`check_clip` runs every per-clip check; `check_sound` the sound checks on any audio (a
film's soundtrack, a WAV and the times of its lines); `seam` and `scene_stability` compare
clips. Every check returns `QCVerdict`s with a reason a person understands.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ministudio.jobs import QCVerdict
from ministudio.qc.checks import format as fmt
from ministudio.qc.checks import picture, sound, sync
from ministudio.qc.checks.continuity import scene_stability, seam
from ministudio.qc.checks.footage import Footage, decode

__all__ = [
    "Footage",
    "check_clip",
    "check_footage",
    "check_sound",
    "decode",
    "scene_stability",
    "seam",
]


def check_sound(
    samples: np.ndarray,
    rate: int,
    lines: Sequence[tuple[float, float]] = (),
    *,
    loudness: bool = True,
) -> list[QCVerdict]:
    """Silence under the lines (``(start, end)`` seconds), clipping (over all the sound and
    each line, with the clips' times) and (if ``loudness``) the integrated loudness against
    the web target and the true peak."""
    verdicts = [
        sound.silence_under_lines(samples, rate, lines),
        sound.clipped(samples, rate, lines=lines),
    ]
    if loudness:
        verdicts += [sound.loudness(samples, rate), sound.true_peak(samples)]
    return verdicts


def check_footage(
    footage: Footage,
    expected_duration: float,
    fps: float,
    *,
    lines: Sequence[tuple[float, float]] = (),
    on_screen: Sequence[tuple[float, float]] = (),
    width: int | None = None,
    height: int | None = None,
    aspect: str | None = None,
    still_allowed: bool = False,
    frozen_min_seconds: float = picture.FROZEN_MIN_SECONDS,
    loudness: bool = True,
) -> list[QCVerdict]:
    """Every per-clip check on decoded footage (sound checks only if it has sound; sync
    where a line is spoken ``on_screen``: by a character in the shot)."""
    verdicts = [
        fmt.duration(footage, expected_duration, fps),
        fmt.frame_rate(footage, fps),
        fmt.resolution(footage, width, height, aspect),
        picture.black(footage.grey, fps),
        picture.frozen(
            footage.grey, fps, still_allowed=still_allowed, min_seconds=frozen_min_seconds
        ),
        picture.flashes(footage.grey, fps),
    ]
    drift = fmt.av_drift(footage, fps)
    if drift is not None and footage.audio is not None:
        verdicts.append(drift)
        verdicts += check_sound(footage.audio, footage.sample_rate, lines, loudness=loudness)
        if on_screen:
            others = [span for span in lines if span not in on_screen]
            found = sync.measure(
                footage.fine, fps, footage.audio, footage.sample_rate, on_screen, others=others
            )
            verdicts.append(sync.verdict(found))
    return verdicts


def check_clip(
    clip: Path | str, expected_duration: float, fps: float, **options: object
) -> list[QCVerdict]:
    """Decode ``clip`` once and run `check_footage` on it (same keyword options)."""
    return check_footage(decode(clip), expected_duration, fps, **options)  # type: ignore[arg-type]
