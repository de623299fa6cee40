"""Loudness measured after ITU-R BS.1770-4 (EBU R128) on mono float32 samples (-1..1):
K-weighting, 100 ms step energies, gated integrated loudness."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator

import numpy as np

# Web delivery target: streaming platforms normalise to -14..-16 LUFS.
LOUDNESS_TARGET = -16.0

# The true peak normalisation keeps the mix under before encoding (EBU R128's limit for the
# delivered film is -1 dBTP): AAC overshoots by a few tenths of a dB (the showcase's -1.55
# dBTP mix decodes at -0.81), so the mix keeps a dB of room for it.
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
