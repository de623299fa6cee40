"""Sound checks on mono float32 samples (-1..1): silence where a line is spoken, clipping,
and integrated loudness (EBU R128 / ITU-R BS.1770-4)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ministudio.jobs import QCVerdict

# Speech mixed near -16 LUFS has an RMS around -20 dBFS over a line, pauses included; room
# tone and encoder noise sit below -60 dBFS. A line whose span is under -45 dBFS is silent.
SILENCE_DBFS = -45.0
# Samples this close to full scale count as clipped; a mix normalised to -1 dBTP peaks at
# 0.89, so a good mix has none. Flag when more than 0.1% of the samples are there.
CLIP_LEVEL = 0.99
CLIP_FRACTION = 0.001
# Web delivery target and the window a film must land in (streaming platforms normalise
# to -14..-16 LUFS; +-2 LU leaves room for the programme's own variation).
LOUDNESS_TARGET = -16.0
LOUDNESS_TOLERANCE = 2.0

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
    """The share of samples at full scale."""
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


def integrated_loudness(samples: np.ndarray, rate: int) -> float:
    """Integrated loudness in LUFS of a mono signal, after ITU-R BS.1770-4 (EBU R128).

    K-weighting (applied in the frequency domain: one FFT of the whole signal, zero-padded so
    the filter's tail does not wrap), mean square over 400 ms blocks with 75% overlap, an
    absolute gate at -70 LUFS and a relative gate 10 LU under the gated mean. Returns -inf
    when no block passes the absolute gate.
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    step = int(rate * 0.1)
    if x.size < 4 * step:
        return float("-inf")
    n = 1 << int(np.ceil(np.log2(x.size + rate)))  # one second of padding for the tail
    spectrum = np.fft.rfft(x, n)
    amplitude = np.sqrt(_k_weighting(np.fft.rfftfreq(n, 1 / rate)))
    y = np.fft.irfft(spectrum * amplitude, n)[: x.size]
    quarters = np.square(y[: (x.size // step) * step]).reshape(-1, step).sum(axis=1)
    blocks = np.convolve(quarters, np.ones(4), mode="valid") / (4 * step)  # 400 ms each
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10 * np.log10(blocks)
    gated = blocks[loud > -70.0]
    if gated.size == 0:
        return float("-inf")
    relative = -0.691 + 10 * np.log10(gated.mean()) - 10.0
    kept = blocks[loud > max(-70.0, relative)]
    return float(-0.691 + 10 * np.log10(kept.mean()))


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
