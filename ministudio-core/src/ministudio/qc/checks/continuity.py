"""Continuity across clips: the seam of a `continue` shot, and a scene's environment."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ministudio.jobs import QCVerdict
from ministudio.qc.checks.footage import Footage, decode

# Seam: mean absolute difference (0..1) of the two frames' 32 px colour thumbnails. A
# continued shot starts from the previous shot's last frame, so only the encoder and a
# frame's worth of motion separate them (the animatic's seams measure ~0.01); two unrelated
# pictures of the same place differ by 0.1 and more.
SEAM_LIMIT = 0.06
# Environment colour: each shot's colours as a CIELAB histogram of its sampled frames (bins of
# 10 lightness x 4 x 4 chroma units), compared shot with shot. Another shot matches a colour
# when it shows it within one bin (about 4-8 units of chroma, 10-20 of lightness for a change
# of light) and shows at least half as much of it: a close-up may fill its frame with a wall a
# wide shot shows a quarter of. Two shots differ by the share of the picture left unmatched,
# taken the way round that matches better (the close-up's colours are in the wide shot, not
# all the wide shot's in the close-up). A recoloured place moves most of its picture to
# colours the other shots lack, or to ones they only touch, both ways round. A shot is off
# when it differs by more than the limit from more than half of the scene's other shots.
# Measured (benchmarks/README.md): good shots of the benchmark's synthetic places, framed,
# moved and lit differently, differ by at most 0.31, recoloured ones by at least 0.45; the
# showcase films' shots by at most 0.21, the same shots recoloured by at least 0.60.
ENV_COLOUR_LIMIT = 0.40
# Structure: the shot's edge density (mean grey gradient) may differ from the others' median
# by at most this factor either way. A close-up on a plain wall is much softer than a wide
# shot: good shots of the benchmark's synthetic places measure 0.25-2.6x, the showcase films'
# 0.65-1.5x, while a flat picture measures under 0.01x and noise over 20x.
ENV_EDGE_FACTOR = 6.0
_SAMPLES = 8  # frames per clip the environment statistics look at
_L_STEP, _AB_STEP, _AB_RANGE = 10.0, 4.0, 108.0  # CIELAB bins; sRGB's a and b lie within 108
_LAB_LOW = np.array([0.0, -_AB_RANGE, -_AB_RANGE])
_MASS = 2.0  # a colour is matched up to twice the share of it the other shot shows
_SRGB_TO_XYZ = np.array(
    [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
) / np.array([[0.9505], [1.0], [1.089]])  # rows scaled by the D65 white


def _footage(clip: Footage | Path | str) -> Footage:
    return clip if isinstance(clip, Footage) else decode(clip, sound=False)


def sample(footage: Footage) -> Footage:
    """Only the frames ``seam`` and ``scene_stability`` look at (the first, the last and a few
    between): what to keep of a long film's clips while its scenes are checked. Every
    per-frame array is cut to those frames: the fine luma alone of an 8 s 720p clip is
    1.8 MB, 133 MB over a 10-minute film when it was kept whole (benchmarks/README.md)."""
    picks = np.linspace(0, footage.frames - 1, min(_SAMPLES, footage.frames)).astype(int)
    times = footage.times
    return dataclasses.replace(
        footage,
        grey=footage.grey[picks],
        fine=footage.fine[picks],
        colour=footage.colour[picks],
        times=None if times is None else times[picks],
    )


def seam(prev_clip: Footage | Path | str, next_clip: Footage | Path | str) -> QCVerdict:
    """Does the next clip start where the previous one ends? (for `continue` shots)"""
    last = _footage(prev_clip).colour[-1]
    first = _footage(next_clip).colour[0]
    h, w = min(last.shape[0], first.shape[0]), min(last.shape[1], first.shape[1])
    distance = float(np.abs(last[:h, :w] - first[:h, :w]).mean())
    ok = distance <= SEAM_LIMIT
    return QCVerdict(
        check="seam",
        passed=ok,
        score=round(max(0.0, 1 - distance / (2 * SEAM_LIMIT)), 3),
        reason=(
            f"the next shot's first frame continues this one's last (difference {distance:.3f}"
            f", limit {SEAM_LIMIT})"
            if ok
            else f"the seam jumps: the next shot's first frame differs from this one's last "
            f"by {distance:.2f} (limit {SEAM_LIMIT})"
        ),
    )


def lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB values (..., 3) in 0..1 to CIELAB (D65): L in 0..100, a and b about -108..108."""
    lin = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = lin @ _SRGB_TO_XYZ.T
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    out: np.ndarray = np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )
    return out


def colour_histogram(colour: np.ndarray) -> np.ndarray:
    """The share of ``colour``'s pixels (any shape ending in 3, RGB 0..1) in each CIELAB bin."""
    values = lab(colour.reshape(-1, 3).astype(np.float64))
    side = round(2 * _AB_RANGE / _AB_STEP)
    shape = (round(100 / _L_STEP) + 1, side, side)
    scaled = (values - _LAB_LOW) / np.array([_L_STEP, _AB_STEP, _AB_STEP])
    index = np.clip(scaled.astype(int), 0, np.array(shape) - 1)
    flat = np.ravel_multi_index((index[:, 0], index[:, 1], index[:, 2]), shape)
    hist = np.bincount(flat, minlength=int(np.prod(shape))).astype(np.float32)
    result: np.ndarray = (hist / hist.sum()).reshape(shape)
    return result


def _spread(hist: np.ndarray) -> np.ndarray:
    """Each bin's largest neighbour, itself included (3x3x3): a colour's tolerance."""
    out = hist
    for axis in range(out.ndim):
        pad = [(1, 1) if a == axis else (0, 0) for a in range(out.ndim)]
        padded = np.pad(out, pad)
        n = out.shape[axis]
        out = np.maximum.reduce([np.take(padded, range(k, k + n), axis=axis) for k in range(3)])
    return out


def unmatched(hist: np.ndarray, other: np.ndarray) -> float:
    """The share of a shot's picture (``hist``) in colours another shot does not match;
    ``other`` is that shot's histogram after `_spread`."""
    return float(1.0 - np.minimum(hist, _MASS * other).sum())


def environment_signature(clip: Footage | Path | str) -> tuple[np.ndarray, float]:
    """(CIELAB colour histogram, edge density) of a clip's sampled frames."""
    footage = _footage(clip)
    picks = np.linspace(0, footage.frames - 1, min(_SAMPLES, footage.frames)).astype(int)
    grey = footage.grey[picks]
    edges = float(np.abs(np.diff(grey, axis=1)).mean() + np.abs(np.diff(grey, axis=2)).mean())
    return colour_histogram(footage.colour[picks]), edges


def colour_differences(hists: list[np.ndarray]) -> np.ndarray:
    """Shot by shot, the share of the picture two shots do not have in common: the smaller of
    the two ways round, as a close-up shows only part of a wide shot's colours."""
    spreads = [_spread(hist) for hist in hists]
    one_way = np.array([[unmatched(h, s) for s in spreads] for h in hists])
    both: np.ndarray = np.minimum(one_way, one_way.T)
    return both


def environment_distances(
    clips: Mapping[str, Footage | Path | str],
) -> list[tuple[float, float]]:
    """Per shot, in order: (how much its colours differ from at least half of the other
    shots', 0..1; its detail against the others' median, as a factor)."""
    sigs = [environment_signature(clip) for clip in clips.values()]
    differences = colour_differences([hist for hist, _ in sigs])
    found: list[tuple[float, float]] = []
    for k, (_, edges) in enumerate(sigs):
        others = [j for j in range(len(sigs)) if j != k]
        # a shot near at least half of the others belongs to the scene's look, even when
        # another shot drifted
        near_half = sorted(differences[k, others])[(len(others) - 1) // 2]
        ref_edges = float(np.median([sigs[j][1] for j in others]))
        found.append((float(near_half), (edges + 1e-4) / (ref_edges + 1e-4)))
    return found


def scene_stability(
    clips: Mapping[str, Footage | Path | str], environment: str = "the place"
) -> list[QCVerdict]:
    """One verdict per shot of a scene: does its environment look like the other shots'?

    ``clips`` maps shot ids to clips, in film order; ``environment`` names the place in the
    reasons ("the lab's colours moved: ..."). A scene of one shot has nothing to compare.
    """
    ids = list(clips)
    if len(ids) < 2:
        return [
            QCVerdict(check="environment", passed=True, score=1.0, reason="the scene has one shot")
            for _ in ids
        ]
    return [
        _environment_verdict(shot, share, ratio, environment)
        for shot, (share, ratio) in zip(ids, environment_distances(clips), strict=True)
    ]


def _environment_verdict(shot: str, share: float, ratio: float, environment: str) -> QCVerdict:
    """The verdict on one shot's colour difference and detail factor, with the reasons."""
    problems = []
    if share > ENV_COLOUR_LIMIT:
        problems.append(
            f"{environment}'s colours moved: shot {shot} and the scene's other shots differ in "
            f"{share:.0%} of the picture, in colours one shows and the other lacks (limit "
            f"{ENV_COLOUR_LIMIT:.0%})"
        )
    if not 1 / ENV_EDGE_FACTOR <= ratio <= ENV_EDGE_FACTOR:
        problems.append(
            f"{environment}'s structure changed: shot {shot} has {ratio:.1f}x the detail "
            f"of the scene's other shots (limit {ENV_EDGE_FACTOR:g}x either way)"
        )
    return QCVerdict(
        check="environment",
        passed=not problems,
        score=round(max(0.0, 1 - share / (2 * ENV_COLOUR_LIMIT)), 3),
        reason="; ".join(problems)
        if problems
        else f"shot {shot} matches the scene's other shots (they differ in {share:.0%} of the "
        f"picture, limit {ENV_COLOUR_LIMIT:.0%}; detail {ratio:.1f}x)",
    )
