"""Sound against picture where a face speaks: the offset at which the picture's motion best
follows the speech, checked against EBU R37 (sound at most 40 ms early, 60 ms late).

No face detector: the mouth is found by what moves with the voice (Hershey and Movellan,
"Audio Vision", NIPS 2000). Each pixel of the fine luma picture (``Footage.fine``, 128 px on
its long side) and the speech's loudness
over each frame's time on screen are high-passed (a half-second moving average taken off,
so camera moves, light changes and the on/off of whole lines weigh less than syllables),
then correlated at every lag in ±`MAX_LAG`. The pixels that follow the voice best at any lag
are the speaking mouths; the lag where their mean correlation peaks (refined between lag
steps by a parabola) is the offset. Where no pixel follows the voice as well as
`MIN_CORRELATION`, no face is seen speaking and nothing is measured.

Only lines spoken on screen count: the loudness outside them is zero, so a narrator's voice
never stands for a mouth. `combined` adds the shots' correlation curves up for the film.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ministudio.jobs import QCVerdict

# EBU Recommendation R37 (2007), "The relative timing of the sound and vision components of
# a television signal": at the viewer, sound may lead the picture by at most 40 ms and lag
# it by at most 60 ms.
SOUND_EARLY_LIMIT = 0.040
SOUND_LATE_LIMIT = 0.060
MAX_LAG = 0.5  # seconds searched each way (a peak at the edge is reported as "at least")
LAG_STEP = 0.005
HIGH_PASS = 0.5  # seconds of moving average taken off both signals
MOUTH_PIXELS = 8  # the pixels (of the 128 px picture) taken as the mouths
# Measured (issue 15): a mouth in a medium or close shot of the showcase films follows its
# voice at 0.52 to 0.91; a wide shot's faces, a few pixels, at 0.21; real talking faces
# (MuseTalk's demo clips) with speech that is not theirs stay at 0.27 to 0.44. Another
# line's speech laid exactly over a moving mouth reaches 0.65: the line's start and end
# match, not its syllables (a lip-sync question, not a sync one).
MIN_CORRELATION = 0.5
MIN_SPEECH = 1.0  # seconds of on-screen speech a measure needs
STILL_RANGE = 3  # luma levels (of 255): a pixel that never changes more is left out


@dataclass(frozen=True)
class Sync:
    """A measured offset (seconds; positive: the sound is late), how well the mouths follow
    the voice at it (mean |r|), the correlation at each lag (`lags`) and the frames read."""

    offset: float | None  # None: no face seen speaking (or too little speech)
    strength: float
    curve: np.ndarray
    frames: int
    spoken: float = 0.0  # seconds of on-screen speech in the stretch


def lags() -> np.ndarray:
    """The lags tried, in seconds."""
    steps = round(MAX_LAG / LAG_STEP)
    return np.arange(-steps, steps + 1) * LAG_STEP


def measure(
    grey: np.ndarray,
    fps: float,
    samples: np.ndarray,
    rate: int,
    spans: Sequence[tuple[float, float]],
    start: float = 0.0,
    *,
    times: np.ndarray | None = None,
    others: Sequence[tuple[float, float]] = (),
) -> Sync:
    """The offset of ``samples`` (the sound, ``rate`` Hz, whose second 0 is the film's)
    against ``grey`` (frames, h, w; its frames shown at ``times``, seconds on the sound's
    clock, or one every 1/``fps`` from ``start``), from the stretches ``spans`` (seconds)
    where someone on screen speaks.

    The sound is heard from `MAX_LAG` before each span to `MAX_LAG` after it (a late or early
    sound lies there), except where ``others`` (lines spoken off screen) are."""
    n = grey.shape[0]
    tried = lags()
    if n < 3 or fps <= 0 or rate <= 0:
        return Sync(None, 0.0, np.zeros(tried.size), n)
    shown = np.asarray(times, np.float64) if times is not None else start + np.arange(n) / fps
    first, last = float(shown[0]), float(shown[-1]) + 1 / fps
    spoken = sum(max(0.0, min(b, last) - max(a, first)) for a, b in spans)
    if spoken < MIN_SPEECH:
        return Sync(None, 0.0, np.zeros(tried.size), n, spoken)
    heard = _heard(spans, others, rate, samples.size)
    voice = _loudness(samples, rate, heard, shown, fps, tried)
    picture = grey.reshape(n, -1)
    moving = np.ptp(picture, axis=0) >= STILL_RANGE * (
        1.0 if picture.dtype == np.uint8 else 1 / 255
    )
    if not moving.any():
        return Sync(None, 0.0, np.zeros(tried.size), n, spoken)
    picture = picture[:, moving].astype(np.float32)  # a pixel that never changes says nothing
    width = max(1, round(HIGH_PASS * fps))
    a = _standardised(_high_passed(voice.T, width).T, axis=1)  # (lags, frames)
    b = _standardised(_high_passed(picture, width), axis=0)  # (frames, pixels)
    r = np.abs(a @ b) / n  # (lags, pixels)
    mouths = np.argsort(r.max(axis=0))[-MOUTH_PIXELS:]
    curve = r[:, mouths].mean(axis=1)
    best = int(np.argmax(curve))
    offset = _peak(tried, curve, best) if curve[best] >= MIN_CORRELATION else None
    return Sync(offset, float(curve[best]), curve, n, spoken)


def combined(measures: Sequence[Sync]) -> Sync:
    """The film's offset: the measured shots' curves averaged, weighted by their frames."""
    measured = [m for m in measures if m.offset is not None]
    tried = lags()
    if not measured:
        return Sync(None, 0.0, np.zeros(tried.size), 0)
    frames = sum(m.frames for m in measured)
    curve = np.sum([m.curve * m.frames for m in measured], axis=0) / frames
    best = int(np.argmax(curve))
    spoken = sum(m.spoken for m in measured)
    return Sync(_peak(tried, curve, best), float(curve[best]), curve, frames, spoken)


def verdict(sync: Sync, what: str = "the shot") -> QCVerdict:
    """Pass within EBU R37's window; the measured offset is in the reason either way."""
    if sync.offset is None:
        why = (
            f"{sync.spoken:.1f} s of on-screen speech is too little to measure "
            f"({MIN_SPEECH:g} s needed)"
            if sync.spoken < MIN_SPEECH
            else f"no mouth moves with the on-screen speech (best correlation "
            f"{sync.strength:.2f}, under {MIN_CORRELATION})"
        )
        return QCVerdict(
            check="sync", passed=True, score=1.0, reason=f"not measured in {what}: {why}"
        )
    ms = sync.offset * 1000
    said = f"{abs(ms):.0f} ms " + ("late" if ms >= 0 else "early")
    if abs(sync.offset) >= MAX_LAG - LAG_STEP / 2:  # the peak lies at the edge of the search
        said = "at least " + said
    late, early = SOUND_LATE_LIMIT * 1000, SOUND_EARLY_LIMIT * 1000
    passed = -early <= ms <= late
    over = max(ms - late, -early - ms, 0.0)
    return QCVerdict(
        check="sync",
        passed=passed,
        score=1.0 if passed else max(0.0, 1.0 - over / 200.0),
        reason=f"sound {said} against the speaking mouths in {what} (correlation "
        f"{sync.strength:.2f}; EBU R37 allows {early:.0f} ms early to {late:.0f} ms late)"
        + ("" if passed else ": re-time the sound or re-render the picture to it"),
    )


def _heard(
    spans: Sequence[tuple[float, float]],
    others: Sequence[tuple[float, float]],
    rate: int,
    size: int,
) -> np.ndarray:
    """Which of the ``size`` samples count as on-screen speech: each span widened by
    `MAX_LAG` each way, less the off-screen lines."""

    def at(seconds: float) -> int:  # the sample at a time, within the sound
        return round(min(max(seconds * rate, 0.0), size))

    mask = np.zeros(size, bool)
    for a, b in spans:
        mask[at(a - MAX_LAG) : at(b + MAX_LAG)] = True
    for a, b in others:
        mask[at(a) : at(b)] = False
    return mask


def _loudness(
    samples: np.ndarray,
    rate: int,
    heard: np.ndarray,
    shown: np.ndarray,
    fps: float,
    tried: np.ndarray,
) -> np.ndarray:
    """The sound's RMS while each frame is on screen (from its time ``shown`` for a frame
    period), shifted by each lag: (lags, frames). Silence where not ``heard``."""
    lagged = shown[None, :] + tried[:, None]
    begin = np.clip(np.rint(lagged * rate), 0, samples.size).astype(np.int64)
    end = np.clip(np.rint((lagged + 1 / fps) * rate), 0, samples.size).astype(np.int64)
    lo, hi = int(begin.min()), int(end.max())  # only the sound these frames can be heard with
    power = np.zeros(hi - lo + 1)
    inside = min(hi, heard.size)
    if inside > lo:
        part = samples[lo:inside].astype(np.float64)
        power[1 : inside - lo + 1] = np.where(heard[lo:inside], part * part, 0.0)
    total = np.cumsum(power)
    energy = total[end - lo] - total[begin - lo]
    length = np.maximum(end - begin, 1)
    out: np.ndarray = np.sqrt(np.maximum(energy, 0.0) / length)
    return out


def _high_passed(x: np.ndarray, width: int) -> np.ndarray:
    """``x`` (frames, ...) less its centred moving average over ``width`` frames (the ends
    repeated to fill the window)."""
    out: np.ndarray
    if width < 2 or x.shape[0] < width:
        out = x - x.mean(axis=0)
        return out
    pad = width // 2
    padded = np.concatenate([np.repeat(x[:1], pad, 0), x, np.repeat(x[-1:], width - pad, 0)])
    sums = np.concatenate([np.zeros_like(padded[:1]), np.cumsum(padded, axis=0)])
    out = x - (sums[width:] - sums[:-width])[: x.shape[0]] / width
    return out


def _standardised(x: np.ndarray, axis: int) -> np.ndarray:
    """``x`` at mean 0 and standard deviation 1 along ``axis`` (flat signals stay 0)."""
    x = x - x.mean(axis=axis, keepdims=True)
    sd = x.std(axis=axis, keepdims=True)
    out: np.ndarray = x / np.where(sd > 1e-12, sd, np.inf)
    return out


def _peak(tried: np.ndarray, curve: np.ndarray, best: int) -> float:
    """The lag of the curve's peak, refined by a parabola through it and its neighbours."""
    if 0 < best < curve.size - 1:
        left, mid, right = curve[best - 1 : best + 2]
        bend = left - 2 * mid + right
        if bend < 0:
            shift = 0.5 * (left - right) / bend
            return float(tried[best] + shift * (tried[1] - tried[0]))
    return float(tried[best])
