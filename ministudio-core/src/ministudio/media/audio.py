"""Audio as numpy: read speech files, resample, and lay lines on the film's timeline.

Samples are float32 mono in -1..1 throughout.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from ministudio.errors import MediaError
from ministudio.media.loudness import (
    LOUDNESS_TARGET,
    PEAK_CEILING,
    gated_loudness,
    step_energies,
)

# Windowed-sinc resampler: zero crossings of the kernel each side, Kaiser window shape, and
# the pass band kept (as a fraction of the lower Nyquist frequency). 16 / 8.0 / 0.94 gives
# > 80 dB stop band rejection with a flat pass band to ~0.9 Nyquist.
_ZERO_CROSSINGS = 16
_KAISER_BETA = 8.0
_PASSBAND = 0.94
_MAX_PHASES = 4096  # rate ratios needing more kernel phases than this use the nearest phase
_CHUNK = 1 << 16  # output samples computed per vectorised step (bounds memory)
# The peak limiter (seconds): the gain falls over LIMIT_ATTACK before a peak (look-ahead),
# holds LIMIT_HOLD after it (so it does not pump at the voice's pitch) and rises again.
LIMIT_ATTACK = 0.005
LIMIT_HOLD = 0.05
# Limiting costs loudness: measure again through the limiter and top the gain up, at most
# this many times, until within this many LU of the target. A step is at most 1/_MIN_SLOPE
# times the shortfall and all of them at most _MAX_TOP_UP dB: a track of clicks barely gets
# louder however much gain it gets, and the gain would only raise its noise.
# True peak (ITU-R BS.1770-4 annex 2): the signal's peak between samples too, read from 4x
# oversampling with a windowed-sinc interpolator of this many taps each side.
_TRUE_PEAK_PHASES = 4
_TRUE_PEAK_HALF = 8
_LIMITED_PASSES = 3
_LIMITED_TOLERANCE = 0.1
_MIN_SLOPE = 0.25
_MAX_TOP_UP = 6.0


def read_wav(path: Path | str) -> tuple[np.ndarray, int]:
    """Read an audio file (WAV of any PCM or float format; anything FFmpeg reads) as mono.

    Returns (samples float32 in -1..1, sample rate). Channels are averaged.
    """
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise MediaError(f"{path}: audio file missing or empty; synthesise the line again")
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"{path}: no audio stream; synthesise the line again")
            stream = container.streams.audio[0]
            rate = int(stream.codec_context.sample_rate or stream.rate or 0)
            resampler: av.AudioResampler | None = None
            for frame in container.decode(stream):
                if frame.format.name == "fltp":  # AAC's own format: read as it is
                    chunks.append(frame.to_ndarray())
                    continue
                if resampler is None:
                    resampler = av.AudioResampler(format="fltp", layout=frame.layout)
                chunks += [out.to_ndarray() for out in resampler.resample(frame)]
    except av.FFmpegError as exc:
        raise MediaError(
            f"{path}: cannot read audio ({exc}); the file is damaged: synthesise it again"
        ) from exc
    if not rate:
        raise MediaError(f"{path}: audio has no sample rate; synthesise the line again")
    if not chunks:
        return np.zeros(0, np.float32), rate
    channels = np.concatenate(chunks, axis=1)  # (channels, samples), averaged once
    samples = channels[0] if channels.shape[0] == 1 else channels.mean(axis=0, dtype=np.float32)
    return np.clip(samples, -1.0, 1.0).astype(np.float32, copy=False), rate


def _kernel_table(phases: int, half: int, cutoff: float) -> np.ndarray:
    """Kernel weights [phase, tap] for taps at offsets -half+1 .. half from floor(position)."""
    frac = np.arange(phases, dtype=np.float64)[:, None] / phases
    taps = np.arange(-half + 1, half + 1, dtype=np.float64)[None, :]
    distance = frac - taps  # position minus input sample index
    window = np.i0(_KAISER_BETA * np.sqrt(np.clip(1 - (distance / half) ** 2, 0, None)))
    table = cutoff * np.sinc(cutoff * distance) * window / np.i0(_KAISER_BETA)
    table /= table.sum(axis=1, keepdims=True)  # unit gain at DC for every phase
    result: np.ndarray = table.astype(np.float32)
    return result


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited (Kaiser-windowed sinc, polyphase) resampling; keeps duration and pitch.

    The output has round(len * dst_rate / src_rate) samples. About 0.3 s for a minute of
    audio from 22.05 kHz to 48 kHz on one core.
    """
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
    x: np.ndarray = np.asarray(samples, dtype=np.float32).reshape(-1)
    if src_rate == dst_rate or x.size == 0:
        same: np.ndarray = x.copy()
        return same
    g = math.gcd(src_rate, dst_rate)
    up, down = dst_rate // g, src_rate // g  # output n sits at input position n * down / up
    n_out = round(x.size * dst_rate / src_rate)
    cutoff = _PASSBAND * min(1.0, dst_rate / src_rate)
    half = math.ceil(_ZERO_CROSSINGS / cutoff)
    phases = min(up, _MAX_PHASES)
    table = _kernel_table(phases, half, cutoff)
    padded = np.concatenate([np.zeros(half, np.float32), x, np.zeros(half + 1, np.float32)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half)
    out = np.empty(n_out, np.float32)
    for lo in range(0, n_out, _CHUNK):
        n = np.arange(lo, min(lo + _CHUNK, n_out), dtype=np.int64)
        base, rem = np.divmod(n * down, up)
        phase = rem if phases == up else (rem * phases + up // 2) // up
        base = base + phase // phases  # nearest phase rounded up to the next sample
        phase = phase % phases
        # taps at base-half+1 .. base+half sit at padded index base+1 .. base+2*half
        out[lo : lo + n.size] = np.einsum("ij,ij->i", windows[base + 1], table[phase])
    return out


class AudioTrack:
    """The film's soundtrack: lines placed at times on a silent track of a fixed length.

    Only the placed lines are kept; any stretch is mixed on demand by ``read``, so a long
    film's track costs memory for its speech, not for its length. With a ``ceiling`` (linear
    peak), ``read`` passes the mix through a look-ahead limiter (see ``limit``).
    """

    def __init__(self, sample_rate: int, duration: float) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        if duration < 0:
            raise ValueError(f"duration must be >= 0, got {duration}")
        self.sample_rate = sample_rate
        self.size = round(duration * sample_rate)  # samples on the track
        self.ceiling: float | None = None  # peak limit of reads, linear (None: no limiter)
        self._clips: list[tuple[int, np.ndarray]] = []  # (first sample, samples)

    @property
    def duration(self) -> float:
        return self.size / self.sample_rate

    @property
    def samples(self) -> np.ndarray:
        """The whole mixed track (float32, mono, -1..1)."""
        return self.read(0, self.size)

    def offset(self, seconds: float) -> int:
        """The sample index of a time on the track."""
        return round(seconds * self.sample_rate)

    def place(self, samples: np.ndarray, at_seconds: float) -> int:
        """Mix `samples` (at this track's rate) in from `at_seconds`; overlaps add, clamped to
        -1..1 when read. What runs past the end of the track is cut. Returns the number of
        samples placed.
        """
        if at_seconds < 0:
            raise ValueError(f"at_seconds must be >= 0, got {at_seconds}")
        start = self.offset(at_seconds)
        src = np.asarray(samples, dtype=np.float32).reshape(-1)
        end = min(self.size, start + src.size)
        if end <= start:
            return 0
        self._clips.append((start, src[: end - start].copy()))
        return end - start

    def scale(self, gain: float) -> None:
        """Multiply everything placed so far by ``gain`` (linear); later clips are not."""
        for _, clip in self._clips:
            clip *= np.float32(gain)

    def spans(self) -> list[tuple[int, int]]:
        """The sorted, merged sample ranges that hold placed sound (silence elsewhere)."""
        merged: list[tuple[int, int]] = []
        for start, end in sorted((s, s + c.size) for s, c in self._clips):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    def mix(self, lo: int, hi: int) -> np.ndarray:
        """Samples ``lo`` to ``hi`` as placed, summed (float32, not limited nor clamped;
        zeros outside the track, so always ``hi - lo`` of them)."""
        out = np.zeros(max(hi - lo, 0), np.float32)
        for start, clip in self._clips:
            first, last = max(start, lo, 0), min(start + clip.size, hi, self.size)
            if first < last:
                out[first - lo : last - lo] += clip[first - start : last - start]
        return out

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Samples ``lo`` to ``hi`` of the mixed track (float32, limited under ``ceiling``
        when set, clamped to -1..1; zeros outside the track, so ``hi - lo`` of them)."""
        if self.ceiling is None:
            out = self.mix(lo, hi)
        else:
            out = np.empty(max(hi - lo, 0), np.float32)
            for first in range(lo, hi, _CHUNK):  # limited a chunk at a time: bounds memory
                last = min(first + _CHUNK, hi)
                out[first - lo : last - lo] = self._limited(first, last, self.ceiling)
        np.clip(out, -1.0, 1.0, out=out)
        return out

    def _limited(self, lo: int, hi: int, ceiling: float) -> np.ndarray:
        """Samples ``lo`` to ``hi`` through the limiter, mixed with the context it needs."""
        attack, hold = self.offset(LIMIT_ATTACK), self.offset(LIMIT_HOLD)
        before, after = attack + hold + _TRUE_PEAK_HALF, attack + _TRUE_PEAK_HALF
        wide = self.mix(lo - before, hi + after)
        return limit(wide, ceiling, attack, hold)[before : before + hi - lo]


def true_level(x: np.ndarray) -> np.ndarray:
    """Each sample's magnitude, raised to the highest of the 4x-oversampled points between it
    and the next sample (ITU-R BS.1770-4 true peak): ``true_level(x).max()`` is the true peak."""
    table = _kernel_table(_TRUE_PEAK_PHASES, _TRUE_PEAK_HALF, 1.0)
    padded = np.pad(x.astype(np.float32, copy=False), (_TRUE_PEAK_HALF - 1, _TRUE_PEAK_HALF))
    level: np.ndarray = np.abs(x)
    for phase in range(1, _TRUE_PEAK_PHASES):  # phase 0 is the sample itself
        between = np.correlate(padded, table[phase], mode="valid")
        level = np.maximum(level, np.abs(between))
    return level


def true_peak_level(x: np.ndarray, block: int = 1024) -> float:
    """``true_level(x).max()``, oversampling only the blocks where it can pass the sample
    peak: a point between samples is a weighted sum of the samples within reach, so it is at
    most the largest of them times the kernel's largest absolute sum (the same value)."""
    x = np.asarray(x, np.float32).reshape(-1)
    if not x.size:
        return 0.0
    magnitude = np.abs(x)
    peak = float(magnitude.max())
    table = _kernel_table(_TRUE_PEAK_PHASES, _TRUE_PEAK_HALF, 1.0)
    gain = float(np.abs(table).sum(axis=1).max())
    blocks = -(-x.size // block)
    loudest = np.zeros(blocks * block, np.float32)
    loudest[: x.size] = magnitude
    loud = loudest.reshape(blocks, block).max(axis=1) * gain > peak
    loud[1:] |= loud[:-1].copy()  # a block's points reach into its neighbours' samples
    loud[:-1] |= loud[1:].copy()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(np.int8), [0]])))
    best, reach = peak, _TRUE_PEAK_HALF
    for first_block, end_block in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        lo, hi = first_block * block, min(x.size, end_block * block)
        first, last = max(0, lo - reach), min(x.size, hi + reach)  # with their context
        best = max(best, float(true_level(x[first:last])[lo - first : hi - first].max()))
    return best


def _running_min(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """out[n] = min(x[n - before .. n + after]), 1.0 beyond the ends (van Herk/Gil-Werman:
    a forward and a backward cumulative minimum over blocks of the window's width)."""
    width = before + after + 1
    blocks = -(-(x.size + width - 1) // width)
    padded = np.ones(blocks * width + width, x.dtype)
    padded[before : before + x.size] = x
    shaped = padded.reshape(-1, width)
    forward = np.minimum.accumulate(shaped, axis=1).reshape(-1)
    backward = np.minimum.accumulate(shaped[:, ::-1], axis=1)[:, ::-1].reshape(-1)
    result: np.ndarray = np.minimum(backward[: x.size], forward[width - 1 : width - 1 + x.size])
    return result


def limit(x: np.ndarray, ceiling: float, attack: int, hold: int) -> np.ndarray:
    """``x`` with no true peak over ``ceiling`` (linear): where one would be, the gain falls in
    a straight line over the ``attack`` samples before it, holds ``hold`` samples after the
    last one and rises over ``attack`` samples again. Sample n's gain depends on samples
    n - attack - hold - 8 .. n + attack + 8 only (8: the true-peak interpolator's reach), so
    stretches limited with that much context around them join exactly. Returns ``x`` itself
    when nothing is over."""
    level = true_level(x)
    if level.size == 0 or float(level.max()) <= ceiling:
        return x
    need = ceiling / np.maximum(level, ceiling)  # the gain each sample needs, <= 1
    held = _running_min(need, hold, attack)  # the lowest need from n - hold to n + attack
    total = np.concatenate([np.zeros(1), np.cumsum(held, dtype=np.float64)])
    lag = np.maximum(np.arange(held.size) - attack, 0)
    gain = (total[1:] - total[lag]) / (np.arange(held.size) + 1 - lag)  # mean of last attack+1
    limited: np.ndarray = (x * np.minimum(gain, need)).astype(np.float32)
    return limited


@dataclass(frozen=True)
class Loudness:
    """What normalisation did to a track (for the manifest: all plain numbers)."""

    measured_lufs: float | None  # integrated loudness as mixed; None: silent, left alone
    true_peak_dbtp: float | None  # true peak as mixed (4x oversampled); None: silent
    gain_db: float  # the gain applied to the whole track
    limited: bool  # the gain took peaks over the ceiling: the limiter brought them under
    lufs: float | None  # integrated loudness after normalisation (before encoding)


def _loudness(track: AudioTrack, read: Callable[[int, int], np.ndarray]) -> tuple[float, float]:
    """(integrated LUFS, true peak) of what ``read`` gives over the track's sound."""
    peak = 0.0

    def reading(lo: int, hi: int) -> np.ndarray:
        nonlocal peak
        x = read(lo, hi)
        peak = max(peak, true_peak_level(x))
        return x

    spans = track.spans()
    energies = step_energies(reading, track.size, track.sample_rate, spans)
    return gated_loudness(energies, track.sample_rate), peak


def _top_up(track: AudioTrack, target: float, gain: float) -> tuple[float, float]:
    """Raise the gain until the track, measured through its limiter, is within tolerance of
    ``target`` (secant steps: the limiter's loss grows with the gain). (gain, LUFS) after."""
    lufs, most = _loudness(track, track.read)[0], gain + _MAX_TOP_UP
    slope = 1.0  # LU gained per dB, as last measured
    for _ in range(_LIMITED_PASSES):
        step = min((target - lufs) / slope, most - gain)
        if abs(target - lufs) <= _LIMITED_TOLERANCE or abs(step) < 0.01:  # there, or capped
            break
        track.scale(10 ** (step / 20))
        gain += step
        before, lufs = lufs, _loudness(track, track.read)[0]
        slope = min(1.0, max(_MIN_SLOPE, (lufs - before) / step))
    return gain, lufs


def _db(linear: float) -> float | None:
    return round(20 * math.log10(linear), 2) if linear > 0 else None


def normalise(
    track: AudioTrack, target: float = LOUDNESS_TARGET, ceiling: float = PEAK_CEILING
) -> Loudness:
    """Bring ``track`` to ``target`` LUFS integrated with its true peaks under ``ceiling`` dBTP.

    Measured as mixed; everything placed so far is scaled, and from then on ``read`` limits
    peaks under the ceiling. When the gain takes peaks over it, the limiter costs a little
    loudness, so the track is measured again through it and the gain topped up (a few
    passes). A silent track (nothing above -70 LUFS) is left alone.
    """
    measured, peak = _loudness(track, track.mix)
    if not math.isfinite(measured):
        return Loudness(None, _db(peak), 0.0, False, None)
    gain = target - measured
    track.scale(10 ** (gain / 20))
    track.ceiling = 10 ** (ceiling / 20)
    limited = peak * 10 ** (gain / 20) > track.ceiling
    lufs = target
    if limited:
        gain, lufs = _top_up(track, target, gain)
    return Loudness(round(measured, 2), _db(peak), round(gain, 2), limited, round(lufs, 2))


def normalised(samples: np.ndarray, rate: int) -> tuple[np.ndarray, Loudness]:
    """``samples`` normalised on their own (as ``normalise``), and what was done."""
    track = AudioTrack(rate, samples.size / rate)
    track.place(samples, 0.0)
    done = normalise(track)
    return track.samples, done
