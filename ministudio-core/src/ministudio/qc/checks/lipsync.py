"""Lip-sync in one shot: do the mouths on screen move with the voice, in time?

The measure is `sync.measure` (Hershey and Movellan: each pixel's motion correlated with the
speech's loudness at every lag in ±0.5 s; the pixels that follow it best are the mouths), on
the shot's picture and its voice: the lines spoken by characters in frame, on the shot's
timeline (a narrator never). No face detector. The shot fails only where the measure is sure
of a mouth and of its offset, and that offset is outside EBU R37's window (sound 40 ms early
to 60 ms late): "the sound is 200 ms late against the moving mouths". The mouths are sure
when they follow the voice at `MIN_FOLLOW` or more at a lag a lip-sync error has
(`MAX_ERROR`), or at `sync.MIN_CORRELATION` anywhere in the search.

Where no mouth follows the voice that well, the shot is not judged, and the verdict says so:
a drawn mouth that never opens and a photographed mouth the measure cannot see read alike
(video-retalking's real faces follow their own sound at 0.23 to 0.48). Telling those apart
takes a look at the mouth: a vision judge's `lipsync` verdict, where the production has one.

Only where a face is big enough to judge: a medium shot or closer (`JUDGED_SIZES`). In a wide
or full shot the faces are a few pixels of the 128 px picture the measure reads, and the shot
passes as not measurable, saying so; so does a shot with under a second of on-screen speech.

Measured (issue 18, benchmarks/README.md "Issue 18: the lip-sync check") on the showcase films
rendered keyless, each shot's clip with its own voice, the voice shifted ±200 ms, a copy of
each film whose lines are spoken off screen (the same voices, mouths shut), and on real faces.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ministudio.jobs import QCVerdict
from ministudio.qc.checks import sync

if TYPE_CHECKING:
    from ministudio.qc.checks.footage import Footage

CHECK = "lipsync"
# The sizes at which a face is big enough to judge. Measured (issue 15 and 18): mouths in the
# showcase films' medium and close-up shots follow their voice at 0.49 to 0.91; in the wide
# shot (`focused`: two figures, heads about 6 px of the 128 px picture) the best pixels reach
# 0.22 with the right voice and 0.24 with the mouths shut: nothing to tell apart. A full
# shot frames the whole figure, its head smaller than a medium shot's by half or more.
JUDGED_SIZES = frozenset({"medium", "close-up", "extreme-close-up"})
# A mouth follows the voice when its correlation reaches this at its best lag. Measured on the
# showcase shots with a second or more of on-screen speech, with the animatic's viseme mouths
# (9f85247): their own voice 0.42 (aria-answers) to 0.81, the ±200 ms copies the same (the
# peak only moves); the same pictures with the mouths shut (lines spoken off screen) 0 to
# 0.26, but 0.42 at 360 ms and 0.55 at 463 ms where something else in the frame pulses (an
# alarm light); other lines' voices over a line at most 0.36 inside R37's window. Real faces
# with their own sound (video-retalking's five example clips) 0.23 to 0.48.
MIN_FOLLOW = 0.42
# The largest offset a weaker mouth (under sync.MIN_CORRELATION) is trusted at: lip-sync
# errors are a few frames to a few hundred milliseconds; a weak peak further out is the
# picture's own pulse (the alarm light's 0.49 at 465 ms in last-algorithm's "fear", whose
# mouth follows the voice in time).
MAX_ERROR = 0.3
MIN_SPEECH = sync.MIN_SPEECH  # seconds of on-screen speech a judgement needs


def check_lipsync(
    grey: np.ndarray,
    fps: float,
    samples: np.ndarray,
    rate: int,
    on_screen: Sequence[tuple[float, float]],
    others: Sequence[tuple[float, float]] = (),
    shot_size: str = "medium",
    *,
    times: np.ndarray | None = None,
    what: str = "the shot",
) -> QCVerdict:
    """Whether the mouths in ``grey`` (frames, h, w: the shot's fine luma, `Footage.fine`,
    shown every 1/``fps`` s from 0 or at ``times``) move with the voice ``samples`` (mono,
    ``rate`` Hz, on the shot's timeline) over the lines ``on_screen`` (seconds: spoken by
    characters in frame), the ``others`` (spoken off screen) left out. ``shot_size`` is the
    spec's (`wide`, `medium`, `close-up`, ...): only medium and closer shots are judged."""
    spoken = sum(max(0.0, b - a) for a, b in on_screen)
    if shot_size not in JUDGED_SIZES:
        return _unjudged(
            f"lip-sync not measurable in {what}: a {shot_size} shot's faces are a few pixels "
            "(judged in medium shots and closer)"
        )
    found = sync.measure(grey, fps, samples, rate, on_screen, times=times, others=others)
    if found.spoken < MIN_SPEECH:
        return _unjudged(
            f"lip-sync not measured in {what}: {found.spoken:.2f} s of on-screen speech is "
            f"too little to judge the lips ({MIN_SPEECH:g} s needed)"
            if spoken
            else f"lip-sync not measured in {what}: no one in frame speaks"
        )
    tried = sync.lags()
    best = int(np.argmax(found.curve))
    strength = float(found.curve[best])
    lag = found.offset if found.offset is not None else sync._peak(tried, found.curve, best)
    early, late = sync.SOUND_EARLY_LIMIT, sync.SOUND_LATE_LIMIT
    window = f"EBU R37 allows {early * 1000:.0f} ms early to {late * 1000:.0f} ms late"
    said = _said(lag)
    sure = strength >= sync.MIN_CORRELATION or (strength >= MIN_FOLLOW and abs(lag) <= MAX_ERROR)
    if not sure:
        return _unjudged(
            f"lip-sync not judged in {what}: no mouth follows the voice clearly enough to "
            f"measure (the best pixels {strength:.2f}, sound {said}; {MIN_FOLLOW} needed within "
            f"{MAX_ERROR * 1000:.0f} ms): a mouth that does not move, or one this measure cannot "
            "see (a vision judge can look)"
        )
    if -early <= lag <= late:
        return QCVerdict(
            check=CHECK,
            passed=True,
            score=1.0,
            reason=f"the mouths move with the voice in {what}: sound {said} against them "
            f"(correlation {strength:.2f}; {window})",
        )
    over = max(lag - late, -early - lag)
    return QCVerdict(
        check=CHECK,
        passed=False,
        score=round(max(0.0, 1.0 - over / 0.2) * 0.5, 3),
        reason=f"the lips do not match the voice in {what}: the sound is {said} against the "
        f"moving mouths (correlation {strength:.2f}; {window}): re-time the sound or "
        "re-render the shot's lip-sync",
    )


def lipsync_of_clip(
    clip: Path,
    voice_wav: Path,
    on_screen: Sequence[tuple[float, float]],
    others: Sequence[tuple[float, float]],
    shot_size: str,
    fps: float,
) -> QCVerdict:
    """`check_lipsync` on ``clip`` (decoded here, its picture only) and ``voice_wav`` (the
    shot's on-screen lines as one WAV on the clip's timeline; mixed down to mono)."""
    from ministudio.qc.checks.footage import decode

    if shot_size not in JUDGED_SIZES:  # nothing to decode
        return lipsync_of_footage(None, voice_wav, on_screen, others, shot_size, fps)
    return lipsync_of_footage(
        decode(clip, sound=False), voice_wav, on_screen, others, shot_size, fps
    )


def lipsync_of_footage(
    footage: Footage | None,
    voice_wav: Path,
    on_screen: Sequence[tuple[float, float]],
    others: Sequence[tuple[float, float]],
    shot_size: str,
    fps: float,
) -> QCVerdict:
    """`lipsync_of_clip` on a clip already decoded (its whole ``fine`` picture); None for a
    shot size that is not judged (nothing is read)."""
    from ministudio.media.audio import read_wav

    if footage is None or shot_size not in JUDGED_SIZES:
        empty = np.zeros((0, 1, 1), np.uint8)
        return check_lipsync(empty, fps, np.zeros(0), 1, on_screen, others, shot_size)
    samples, rate = read_wav(voice_wav)
    return check_lipsync(
        footage.fine,
        fps,
        samples,
        rate,
        on_screen,
        others,
        shot_size,
        times=_from_zero(footage.times),
    )


def _from_zero(times: np.ndarray | None) -> np.ndarray | None:
    """Frame times with the first at 0 (a clip's stream may start late; its voice starts at
    the shot's start)."""
    return None if times is None or not times.size else times - times[0]


def _said(lag: float) -> str:
    ms = lag * 1000
    said = f"{abs(ms):.0f} ms " + ("late" if ms >= 0 else "early")
    if abs(lag) >= sync.MAX_LAG - sync.LAG_STEP / 2:
        said = "at least " + said
    return said


def _unjudged(reason: str) -> QCVerdict:
    return QCVerdict(check=CHECK, passed=True, score=1.0, reason=reason)
