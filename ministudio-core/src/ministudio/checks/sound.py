"""Sound checks on mono float32 samples (-1..1): silence where a line is spoken, clipping
(per stretch: a shot, each line, with the times of the clips), integrated loudness and true
peak (EBU R128 / ITU-R BS.1770-4)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from ministudio.jobs import QCVerdict

# Speech mixed near -16 LUFS has an RMS around -20 dBFS over a line, pauses included; room
# tone and encoder noise sit below -60 dBFS. A line whose span is under -45 dBFS is silent.
SILENCE_DBFS = -45.0
# Samples this close to full scale count as clipped; a mix normalised with its peaks under
# PEAK_CEILING (0.79) has none. A clip is a run of CLIP_RUN or more such samples in a row (a
# lone sample there is a peak; Audacity's "Find Clipping" also starts at 3): a hot mix that
# does not clip (-0.2 dBFS) decodes from AAC with one such run in 4 s, 0.002% of its samples,
# while speech driven 18 dB into clipping puts 4.8% of its samples in them. A stretch fails
# when more than CLIP_FRACTION (0.1%) of its samples are in clips: the film-wide share, now
# taken per shot and per line, so one clipped shot cannot hide in a long film (a clipped 8 s
# shot is 0.1% of a 13-minute film). Clips closer than CLIP_JOIN seconds are reported as one.
CLIP_LEVEL = 0.99
CLIP_RUN = 3
CLIP_FRACTION = 0.001
CLIP_JOIN = 0.05
# Web delivery target and the window a film must land in (streaming platforms normalise
# to -14..-16 LUFS; +-2 LU leaves room for the programme's own variation).
LOUDNESS_TARGET = -16.0
LOUDNESS_TOLERANCE = 2.0

# EBU R128's maximum true peak for the delivered film, and the one normalisation keeps the
# mix under before encoding: AAC overshoots by a few tenths of a dB (the showcase's -1.55
# dBTP mix decodes at -0.81), so the mix keeps a dB of room for it.
TRUE_PEAK_LIMIT = -1.0
PEAK_CEILING = -2.0

# BS.1770 blocks are 400 ms overlapping by 75%: their energies are sums of 100 ms steps.
# K-weighting runs on _CHUNK_STEPS steps at a time with _PAD_STEPS of context each side (the
# filter's impulse response past 200 ms sums to under 1e-6).
_STEP = 0.1
_CHUNK_STEPS = 50
_PAD_STEPS = 2

Reader = Callable[[int, int], np.ndarray]

# ITU-R BS.1770-4, Table 1 and 2: the K-weighting filter's two biquads at 48 kHz
# (a high shelf modelling the head, then the RLB high-pass).
_SHELF_B = (1.53512485958697, -2.69169618940638, 1.19839281085285)
_SHELF_A = (1.0, -1.69065929318241, 0.73248077421585)
_HIGHPASS_B = (1.0, -2.0, 1.0)
_HIGHPASS_A = (1.0, -1.99004745483398, 0.99007225036621)


def _dbfs(x: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return 20 * np.log10(rms) if rms > 0 else -120.0


def silence_under_lines(
    samples: np.ndarray, rate: int, lines: Sequence[tuple[float, float]]
) -> QCVerdict:
    """Every (start, end) span, in seconds, where a line is spoken holds sound."""
    silent: list[str] = []
    for start, end in lines:
        part = samples[max(0, round(start * rate)) : max(0, round(end * rate))]
        level = _dbfs(part)
        if level < SILENCE_DBFS:
            silent.append(f"{start:.1f}-{end:.1f} s ({level:.0f} dBFS)")
    if not lines:
        return QCVerdict(check="silence", passed=True, score=1.0, reason="no spoken line")
    if not silent:
        return QCVerdict(
            check="silence", passed=True, score=1.0, reason=f"all {len(lines)} line(s) heard"
        )
    return QCVerdict(
        check="silence",
        passed=False,
        score=round(1 - len(silent) / len(lines), 3),
        reason=f"speech at {', '.join(silent)} is silent (limit {SILENCE_DBFS:.0f} dBFS)",
    )


def clipping(samples: np.ndarray) -> QCVerdict:
    """The share of samples at full scale, over the whole of ``samples`` (see `clipped`
    for a verdict per stretch, with times)."""
    share = float(np.mean(np.abs(samples) >= CLIP_LEVEL)) if samples.size else 0.0
    ok = share <= CLIP_FRACTION
    pct = f"{share * 100:.1f}%" if share >= 0.001 else f"{share * 100:.2f}%"
    return QCVerdict(
        check="clipping",
        passed=ok,
        score=round(max(0.0, 1 - share / (10 * CLIP_FRACTION)), 3),
        reason=("no clipping" if share == 0 else f"{pct} of samples at full scale, within limit")
        if ok
        else f"clips: {pct} of samples at full scale (limit {CLIP_FRACTION * 100:g}%)",
    )


def clip_runs(samples: np.ndarray) -> np.ndarray:
    """(first sample, samples) of each clip: CLIP_RUN or more samples in a row at full scale."""
    x = np.asarray(samples).reshape(-1)
    mask = (x >= CLIP_LEVEL) | (x <= -CLIP_LEVEL)
    if not mask.any():  # the common case, without the arrays below
        return np.zeros((0, 2), np.int64)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    starts, lengths = edges[::2], edges[1::2] - edges[::2]
    keep = lengths >= CLIP_RUN
    return np.stack([starts[keep], lengths[keep]], axis=1)


def clipped(
    samples: np.ndarray,
    rate: int,
    span: tuple[float, float] | None = None,
    lines: Sequence[tuple[float, float]] = (),
    *,
    what: str = "the sound",
) -> QCVerdict:
    """Clips in ``span`` (seconds; all of ``samples`` by default) and in each line's span in
    it: fails when more than CLIP_FRACTION of the span's samples, or of one line's, are in
    clips, and says when ("clipped at 12.40 s-12.55 s"), in seconds of ``samples``."""
    lo = 0 if span is None else max(0, round(span[0] * rate))
    hi = samples.size if span is None else min(samples.size, round(span[1] * rate))
    runs = clip_runs(samples[lo : max(lo, hi)])
    runs[:, 0] += lo

    def share(a: int, b: int) -> float:
        if b <= a:
            return 0.0
        inside = np.clip(runs[:, 0] + runs[:, 1], a, b) - np.clip(runs[:, 0], a, b)
        return float(inside.sum()) / (b - a)

    whole = share(lo, hi)
    worst = max(
        (share(max(lo, round(a * rate)), min(hi, round(b * rate))) for a, b in lines),
        default=0.0,
    )
    if not runs.size:
        return QCVerdict(check="clipping", passed=True, score=1.0, reason="no clipping")
    events: list[list[int]] = []
    for first, length in runs.tolist():
        if events and first - events[-1][1] <= CLIP_JOIN * rate:
            events[-1][1] = first + length
        else:
            events.append([first, first + length])
    when = ", ".join(f"{a / rate:.2f} s-{b / rate:.2f} s" for a, b in events[:4])
    if len(events) > 4:
        when += f" and {len(events) - 4} more"
    pct = f"{whole * 100:.2f}%"
    ok = max(whole, worst) <= CLIP_FRACTION
    line = f", {worst * 100:.2f}% of a line's" if worst > whole else ""
    return QCVerdict(
        check="clipping",
        passed=ok,
        score=round(max(0.0, 1 - max(whole, worst) / (10 * CLIP_FRACTION)), 3),
        reason=f"clipped at {when}: {pct} of {what}'s samples{line} in clips "
        + (
            f"(within the {CLIP_FRACTION * 100:g}% limit)"
            if ok
            else f"(limit {CLIP_FRACTION * 100:g}% of a shot or a line)"
        ),
    )


def _k_weighting(freqs: np.ndarray) -> np.ndarray:
    """|H(f)|^2 of the K-weighting filter at ``freqs`` Hz (the 48 kHz design; above 24 kHz
    the shelf is flat, so the response there is held at its 24 kHz value)."""
    z = np.exp(-2j * np.pi * np.minimum(freqs, 24000.0) / 48000.0)
    power = np.ones(freqs.shape)
    for b, a in ((_SHELF_B, _SHELF_A), (_HIGHPASS_B, _HIGHPASS_A)):
        num = b[0] + b[1] * z + b[2] * z * z
        den = a[0] + a[1] * z + a[2] * z * z
        power *= np.abs(num / den) ** 2
    return power


@functools.lru_cache(maxsize=4)
def _k_amplitude(n: int, rate: int) -> np.ndarray:
    """The K-weighting's amplitude on the bins of an ``n``-point real FFT at ``rate`` Hz."""
    amplitude: np.ndarray = np.sqrt(_k_weighting(np.fft.rfftfreq(n, 1 / rate)))
    return amplitude


def _k_weighted(x: np.ndarray, rate: int) -> np.ndarray:
    """``x`` K-weighted in the frequency domain (circularly: keep its edges for context)."""
    n = 1 << int(np.ceil(np.log2(max(x.size, 2))))
    return np.fft.irfft(np.fft.rfft(x, n) * _k_amplitude(n, rate), n)[: x.size]


def _step_ranges(
    spans: Iterable[tuple[int, int]], step: int, steps: int
) -> Iterator[tuple[int, int]]:
    """The 100 ms steps near sample ``spans`` (sorted), merged, at most a chunk at a time."""
    merged: list[list[int]] = []
    for lo, hi in spans:
        first = max(0, lo // step - _PAD_STEPS)
        last = min(steps, -(-hi // step) + _PAD_STEPS)
        if merged and first <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], last)
        elif first < last:
            merged.append([first, last])
    for first, last in merged:
        for lo in range(first, last, _CHUNK_STEPS):
            yield lo, min(lo + _CHUNK_STEPS, last)


def step_energies(
    read: Reader, size: int, rate: int, spans: Iterable[tuple[int, int]] | None = None
) -> np.ndarray:
    """Sum of the squared K-weighted samples in each whole 100 ms step of a signal of
    ``size`` samples, read a stretch at a time: ``read(lo, hi)`` gives samples ``lo..hi``
    (``hi - lo`` of them, zeros outside the signal). With ``spans``, sorted ``(lo, hi)``
    sample ranges outside which the signal is silent, only the steps near them are read.
    """
    step = int(rate * _STEP)
    steps = size // step
    energies = np.zeros(steps)
    pad = _PAD_STEPS * step
    for first, last in _step_ranges([(0, size)] if spans is None else spans, step, steps):
        x = np.asarray(read(first * step - pad, last * step + pad), dtype=np.float64)
        y = _k_weighted(x, rate)[pad : pad + (last - first) * step]
        energies[first:last] = np.square(y).reshape(-1, step).sum(axis=1)
    return energies


def gated_loudness(energies: np.ndarray, rate: int) -> float:
    """Integrated loudness in LUFS from the 100 ms step energies of ``step_energies``:
    400 ms blocks (four steps, 75% overlap), an absolute gate at -70 LUFS and a relative
    gate 10 LU under the gated mean. -inf when no block passes the absolute gate."""
    if energies.size < 4:
        return float("-inf")
    blocks = np.convolve(energies, np.ones(4), mode="valid") / (4 * int(rate * _STEP))
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10 * np.log10(blocks)
    gated = blocks[loud > -70.0]
    if gated.size == 0:
        return float("-inf")
    relative = -0.691 + 10 * np.log10(gated.mean()) - 10.0
    kept = blocks[loud > max(-70.0, relative)]
    return float(-0.691 + 10 * np.log10(kept.mean()))


def integrated_loudness(samples: np.ndarray, rate: int) -> float:
    """Integrated loudness in LUFS of a mono signal, after ITU-R BS.1770-4 (EBU R128).

    K-weighting (applied in the frequency domain, a few seconds at a time), mean square over
    400 ms blocks with 75% overlap, an absolute gate at -70 LUFS and a relative gate 10 LU
    under the gated mean. Returns -inf when no block passes the absolute gate.
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1)

    def read(lo: int, hi: int) -> np.ndarray:
        out = np.zeros(hi - lo)
        first, last = max(lo, 0), min(hi, x.size)
        out[first - lo : last - lo] = x[first:last]
        return out

    return gated_loudness(step_energies(read, x.size, rate), rate)


def true_peak(samples: np.ndarray) -> QCVerdict:
    """The true peak (4x oversampled, ITU-R BS.1770-4 annex 2) under EBU R128's -1 dBTP."""
    from ministudio.media.audio import true_peak_level

    level = true_peak_level(samples)
    dbtp = 20 * np.log10(level) if level > 0 else -np.inf
    ok = dbtp <= TRUE_PEAK_LIMIT
    return QCVerdict(
        check="true-peak",
        passed=ok,
        score=1.0 if ok else round(max(0.0, 1 - (dbtp - TRUE_PEAK_LIMIT) / 3), 3),
        reason=f"true peak {dbtp:.1f} dBTP"
        + (f", under the {TRUE_PEAK_LIMIT:g} dBTP limit" if ok else f", over {TRUE_PEAK_LIMIT:g}"),
    )


def loudness(
    samples: np.ndarray,
    rate: int,
    target: float = LOUDNESS_TARGET,
    tolerance: float = LOUDNESS_TOLERANCE,
) -> QCVerdict:
    """Integrated loudness within ``tolerance`` LU of ``target`` LUFS."""
    lufs = integrated_loudness(samples, rate)
    if not np.isfinite(lufs):
        return QCVerdict(
            check="loudness", passed=False, score=0.0, reason="silent: nothing above -70 LUFS"
        )
    off = lufs - target
    side = "under" if off < 0 else "over"
    ok = abs(off) <= tolerance
    return QCVerdict(
        check="loudness",
        passed=ok,
        score=round(max(0.0, 1 - abs(off) / (4 * tolerance)), 3),
        reason=f"{lufs:.1f} LUFS, {abs(off):.1f} LU {side} the {target:g} LUFS target"
        + ("" if ok else f" (limit {tolerance:g} LU)"),
    )
