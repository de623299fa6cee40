"""Sound checks on mono float32 samples (-1..1): silence where a line is spoken, clipping
(per stretch: a shot, each line, with the times of the clips), integrated loudness and true
peak (EBU R128 / ITU-R BS.1770-4)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ministudio.jobs import QCVerdict
from ministudio.media.loudness import LOUDNESS_TARGET, integrated_loudness

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

# The window a film must land in around LOUDNESS_TARGET (streaming platforms normalise to
# -14..-16 LUFS; +-2 LU leaves room for the programme's own variation), and EBU R128's maximum
# true peak for the delivered film.
LOUDNESS_TOLERANCE = 2.0
TRUE_PEAK_LIMIT = -1.0


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
