"""Does a final follow its previz? (issue 20)

A previz shot promoted to a final goes through a paid video-edit engine with the previz clip
as its source. The engine restyles everything (colours, textures, light, grain) but should
keep what the previz decided: where things are (the layout), how the camera moves, and
where each character stands. `follows_previz` compares the two clips frame by frame, on the
small luma pictures `decode` keeps (``fine``: about 128 px on the long side):

1. layout: on ``_SAMPLES`` frames, the correlation of the two pictures' gradient
   orientations (doubled angles, weighted by gradient strength, after a light blur):
   orientation survives a regrade, an inverted tone curve, posterizing and grain, where raw
   values do not. The final may be reframed by a few percent, so the best correlation within
   a shift of ``_SHIFT`` of the frame counts (by FFT cross-correlation). Unrelated pictures
   score about 0, the same picture 1.
2. motion: on ``_SAMPLES`` windows about ``_WINDOW_SECONDS`` long, each clip's motion by
   phase correlation summed over ``_STEPS`` steps, in a grid of ``_GRID`` x ``_GRID`` tiles
   (tiles moving together: a pan or tilt; apart: a push-in or pull-back; some still: a
   caption, a followed figure). The correlation is whitened and weighted to low
   frequencies, so grain or a fine texture laid still over the final weighs less (a strong
   still texture over a slow move still holds it: benchmarks/README.md). A
   window agrees when the final's tiles move the way the previz's do (within 60 degrees as
   one vector, at least a quarter as far) or, where the previz holds still, the final does
   too. The motion share is the worse of the windows where the previz moves and those where
   it holds still.
3. characters: for each character's mask (white where the character is in the previz), the
   same orientation correlation as the layout, counted only inside the (slightly grown)
   mask, with the final shifted as the layout found best. A figure that moved elsewhere
   leaves background where the previz has its outline.

The verdict passes when every part passes; its score is the weakest part mapped so 0.5 is
its threshold.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ministudio.jobs import QCVerdict
from ministudio.qc.checks.footage import decode

CHECK = "follows-previz"

# Thresholds, chosen on benchmarks/follows_previz.py (benchmarks/README.md, "follows-the-
# previz check"): the 21 animatic clips of the three showcase productions at 360p, 4 s, each
# made into 9 following finals (regraded, posterized, grained, textured, zoomed 4% and
# shifted, brightened, jittered, two combinations: 189 pairs) and into up to 6 ignoring ones
# (mirrored, reversed, frozen, re-blocked, figures moved, another shot: 90 pairs).
# Layout: following finals measure 0.41 at the least (posterized, textured and jittered at
# once), 0.49-0.56 for the next lowest; another shot at most 0.24, mirrored ones 0.11 up to
# 0.95 (a centred close-up is its own mirror image).
LAYOUT_MIN = 0.35  # orientation correlation of the sampled frames (median)
# Motion: following finals agree in all windows but where a still texture laid over the
# final holds weak motion still (8 of 189 under 0.4); reversed and frozen finals agree in
# none of the moving windows but where the previz barely moves.
MOTION_MIN = 0.5  # share of windows whose motion agrees (the worse of moving and still ones)
# Characters: following finals measure 0.33 at the least (regraded, grained and zoomed),
# finals with the figures moved by a third of the frame at most 0.30 but one (0.70).
CHARACTER_MIN = 0.30  # orientation correlation inside a character's mask (median)
# A window "moves" when its motion is at least this share of the frame width (about 1 px of
# the 128 px picture): below it, the previz is taken to hold still.
MOVE_MIN = 0.008
# Where the previz holds still, the final may drift by up to this share of the width a
# window (grain, an engine's breathing, a jittered frame) and still count as still.
STILL_MAX = 0.03
_SAMPLES = 16  # frames (layout, characters) and windows (motion) compared
_WINDOW_SECONDS = 1.0  # a window's length: a slow push-in spreads the outer tiles ~1 px a second
_STEPS = 4  # phase correlations per window, their shifts summed
_GRID = 3  # tiles a side whose motion is measured
_PEAK_MIN = 0.25  # a tile's correlation peak under this share of a perfect one: no shift known
_LOW_PASS = 0.12  # cycles per pixel: the phase correlation's frequency weighting (a Gaussian)
_SHIFT = 0.05  # the final may sit this share of the frame off the previz, each way
# motion is measured on pictures blurred more (about a 2.5 px Gaussian): a texture or grain
# laid over the final stays put while the picture moves, and must not outweigh it
_MOTION_BLUR = 6
_MASK_GROW = 2  # px of the fine picture a mask is grown by (its outline's gradient)


@dataclass(frozen=True)
class Comparison:
    """What `compare` measured: each part's value, and what the reasons need."""

    layout: float  # median orientation correlation, -1..1
    motion: float  # share of windows that agree, 0..1
    characters: dict[str, float]  # character id: median masked correlation
    previz_motion: tuple[float, float, float]  # mean (x, y, zoom) of the disagreeing windows
    final_motion: tuple[float, float, float]
    still_previz: bool  # the previz holds still in most disagreeing windows


def _blur(frames: np.ndarray, passes: int = 2) -> np.ndarray:
    """Passes of a 3-tap box blur along both picture axes (two: about a 1.2 px Gaussian)."""
    out = frames.astype(np.float32)
    for _ in range(passes):
        p = np.pad(out, ((0, 0), (1, 1), (0, 0)), mode="edge")
        out = (p[:, :-2] + p[:, 1:-1] + p[:, 2:]) / 3.0
        p = np.pad(out, ((0, 0), (0, 0), (1, 1)), mode="edge")
        out = (p[:, :, :-2] + p[:, :, 1:-1] + p[:, :, 2:]) / 3.0
    return out


def _orientation(frames: np.ndarray) -> np.ndarray:
    """Per pixel, the gradient's doubled angle weighted by its strength (complex)."""
    b = _blur(frames.astype(np.float32) / 255.0)
    gy, gx = np.gradient(b, axis=(1, 2))
    g = gx + 1j * gy
    mag = np.abs(g)
    z: np.ndarray = np.where(mag > 1e-6, g * g / np.maximum(mag, 1e-6), 0)
    return z.astype(np.complex64)


def _best_shifts(zf: np.ndarray, zp: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Per frame: the orientation correlation of final and previz at the best shift of the
    final within ``_SHIFT`` of the frame, and that shift (rows, columns)."""
    _, h, w = zp.shape
    sy, sx = max(1, round(_SHIFT * h)), max(1, round(_SHIFT * w))
    cross = np.fft.ifft2(np.fft.fft2(zf) * np.conj(np.fft.fft2(zp))).real
    norm = np.sqrt((np.abs(zf) ** 2).sum(axis=(1, 2)) * (np.abs(zp) ** 2).sum(axis=(1, 2)))
    rows = np.r_[0 : sy + 1, h - sy : h]
    cols = np.r_[0 : sx + 1, w - sx : w]
    near = cross[:, rows][:, :, cols]
    values, shifts = [], []
    for k in range(zp.shape[0]):
        if norm[k] < 1e-9:  # a flat picture: nothing to compare
            values.append(1.0 if np.abs(zp[k]).sum() < 1e-6 else 0.0)
            shifts.append((0, 0))
            continue
        i, j = np.unravel_index(int(np.argmax(near[k])), near[k].shape)
        values.append(float(near[k, i, j] / norm[k]))
        dy, dx = int(rows[i]), int(cols[j])
        shifts.append((dy - h if dy > h // 2 else dy, dx - w if dx > w // 2 else dx))
    return np.array(values), shifts


def _grow(mask: np.ndarray, px: int) -> np.ndarray:
    out = mask
    for _ in range(px):
        p = np.pad(out, 1)
        out = (
            p[1:-1, 1:-1] | p[:-2, 1:-1] | p[2:, 1:-1] | p[1:-1, :-2] | p[1:-1, 2:]
        )  # 4-neighbour dilation
    return out


def _masked(zf: np.ndarray, zp: np.ndarray, mask: np.ndarray, shift: tuple[int, int]) -> float:
    """Orientation correlation inside ``mask``, the final moved back by ``shift``; NaN where
    the mask is (nearly) empty or the previz is flat inside it."""
    if mask.sum() < 4:
        return float("nan")
    f = np.roll(zf, (-shift[0], -shift[1]), axis=(0, 1))[mask]
    p = zp[mask]
    norm = float(np.sqrt((np.abs(f) ** 2).sum() * (np.abs(p) ** 2).sum()))
    if norm < 1e-9:
        return float("nan")
    return float((f * np.conj(p)).real.sum() / norm)


def _tile_spectra(pictures: np.ndarray) -> np.ndarray:
    """(pictures, _GRID², h/_GRID, w/_GRID) spectra of each picture's tiles (row by row),
    mean removed and Hann-windowed, for phase correlation. Tiles moving together are a pan
    or tilt, apart a push-in or pull-back; a caption, or a figure the camera follows, holds
    its tiles still while the others move."""
    _, h, w = pictures.shape
    th, tw = h // _GRID, w // _GRID
    tiles = np.stack(
        [
            pictures[:, r * th : (r + 1) * th, c * tw : (c + 1) * tw]
            for r in range(_GRID)
            for c in range(_GRID)
        ],
        axis=1,
    )
    tiles = tiles - tiles.mean(axis=(2, 3), keepdims=True)
    spectra: np.ndarray = np.fft.fft2(tiles * np.outer(np.hanning(th), np.hanning(tw)))
    return spectra


def _refine(at: np.ndarray, lo: np.ndarray, mid: np.ndarray, hi: np.ndarray, n: int) -> np.ndarray:
    """A correlation peak's position to a fraction of a pixel (a parabola through it and
    its neighbours), signed: past the middle is a negative shift."""
    den = lo - 2 * mid + hi
    safe = np.where(np.abs(den) > 1e-12, den, 1.0)
    off = np.where(np.abs(den) > 1e-12, 0.5 * (lo - hi) / safe, 0.0)
    pos = at + np.clip(off, -0.5, 0.5)
    out: np.ndarray = np.where(pos > n / 2, pos - n, pos)
    return out


def _shifts(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """How far each tile's content moved from ``first``'s spectra to ``second``'s, by
    phase correlation: (..., 4, 2) pixels (x, y)."""
    r = second * np.conj(first)
    h, w = r.shape[-2:]
    # whitened, then weighted towards low frequencies: a fine texture or grain laid still
    # over the final weighs as much as the picture's broad shapes in plain phase correlation
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    weight = np.exp(-(fx**2 + fy**2) / (2 * _LOW_PASS**2))
    c = np.fft.ifft2(r / (np.abs(r) + 1e-9) * weight).real
    flat = c.reshape(-1, h, w)
    i, j = np.unravel_index(flat.reshape(len(flat), -1).argmax(axis=1), (h, w))
    k = np.arange(len(flat))
    mid = flat[k, i, j]
    x = _refine(j, flat[k, i, (j - 1) % w], mid, flat[k, i, (j + 1) % w], w)
    y = _refine(i, flat[k, (i - 1) % h, j], mid, flat[k, (i + 1) % h, j], h)
    # a tile without structure (a flat wall under grain) peaks anywhere, weakly: its shift
    # is not known, counted as none (a perfect match peaks at the weights' mean)
    sure = mid >= _PEAK_MIN * weight.mean()
    out: np.ndarray = (np.stack([x, y], axis=-1) * sure[:, None]).reshape(*c.shape[:-2], 2)
    return out


def _summary(motion: np.ndarray) -> tuple[float, float, float]:
    """(x, y, zoom) of a tiles' motion: the mean shift, and how far the outer columns and
    rows move apart (positive: the picture grows, a push-in)."""
    q = motion.reshape(_GRID, _GRID, 2)
    spread_x = float(q[:, -1, 0].mean() - q[:, 0, 0].mean()) / 2
    spread_y = float(q[-1, :, 1].mean() - q[0, :, 1].mean()) / 2
    return float(q[..., 0].mean()), float(q[..., 1].mean()), (spread_x + spread_y) / 2


def _size(motion: np.ndarray) -> float:
    """How far a window's picture moves: the shift a third of its tiles reach (a still
    caption or floor, a followed figure hold some tiles still; one flat tile under grain may
    wander alone)."""
    moved = np.sort(np.linalg.norm(motion.reshape(-1, 2), axis=1))[::-1]
    return float(moved[max(0, -(-len(moved) // 3) - 1)])


def _window_agrees(p: np.ndarray, f: np.ndarray) -> bool:
    """Does the final's tiles' motion ``f`` follow the previz's ``p`` over a window?"""
    size_p, size_f = _size(p), _size(f)
    if size_p < MOVE_MIN:
        return size_f <= STILL_MAX
    if size_f < 0.25 * size_p:
        return False
    return float(p @ f) / float(np.linalg.norm(p) * np.linalg.norm(f)) >= 0.5


def _motion_share(agree: list[bool], moving: list[bool]) -> float:
    """The share of windows whose motion agrees, the worse of those where the previz moves
    and those where it holds still: a reversed push-in that eases to rest for most of the
    shot is wrong where it moves, not 70% right."""
    shares = [
        float(np.mean([a for a, m in zip(agree, moving, strict=True) if m == kind]))
        for kind in (True, False)
        if kind in moving
    ]
    return min(shares, default=1.0)


def compare(
    final: Path | str, previz: Path | str, masks: Mapping[str, Path | str] | None = None
) -> Comparison | str:
    """Measure the three parts; a sentence instead when the clips cannot be compared."""
    pv = decode(previz, sound=False)
    fn = decode(final, sound=False)
    if fn.frames != pv.frames:
        return (
            f"the final has {fn.frames} frames and the previz {pv.frames}: fit the final to "
            "the previz's frames before comparing them"
        )
    if fn.fine.shape != pv.fine.shape:
        return (
            f"the final is {fn.width}x{fn.height} and the previz {pv.width}x{pv.height}: fit "
            "the final to the previz's size before comparing them"
        )
    n = pv.frames
    picks = np.linspace(0, n - 1, min(_SAMPLES, n)).round().astype(int)
    zp, zf = _orientation(pv.fine[picks]), _orientation(fn.fine[picks])
    layout_values, shifts = _best_shifts(zf, zp)
    # motion over windows of about _WINDOW_SECONDS (at most half the clip)
    gap = max(1, min(round(_WINDOW_SECONDS * (pv.fps or 24)), (n - 1) // 2 or 1))
    starts = np.linspace(0, max(0, n - 1 - gap), min(_SAMPLES, max(1, n - gap))).round()
    starts = starts.astype(int)
    ends = np.minimum(starts + gap, n - 1)
    # each window's motion is summed over _STEPS steps: a fast pan stays within reach of
    # the phase correlation (a quarter of a tile), a slow push-in still adds up
    steps = [
        np.linspace(s, e, _STEPS + 1).round().astype(int) for s, e in zip(starts, ends, strict=True)
    ]
    used = np.unique(np.concatenate(steps))
    at = {int(k): n for n, k in enumerate(used)}
    pairs = sorted({(int(a), int(b)) for ks in steps for a, b in itertools.pairwise(ks) if a != b})
    # each tile's (x, y) shift over each step, as shares of the width
    moved: list[dict[tuple[int, int], np.ndarray]] = []
    for clip in (pv, fn):
        spectra = _tile_spectra(_blur(clip.fine[used], _MOTION_BLUR))
        first = spectra[[at[a] for a, _ in pairs]]
        second = spectra[[at[b] for _, b in pairs]]
        found = _shifts(first, second).reshape(len(pairs), 2 * _GRID**2) / clip.fine.shape[2]
        moved.append(dict(zip(pairs, found, strict=True)))
    agree, p_wrong, f_wrong, still = [], np.zeros(2 * _GRID**2), np.zeros(2 * _GRID**2), 0
    moving: list[bool] = []
    for ks in steps:
        window = [(int(a), int(b)) for a, b in itertools.pairwise(ks) if a != b]
        if not window:
            continue
        mp = np.sum([moved[0][step] for step in window], axis=0)
        mf = np.sum([moved[1][step] for step in window], axis=0)
        ok = _window_agrees(mp, mf)
        agree.append(ok)
        moving.append(_size(mp) >= MOVE_MIN)
        if not ok:
            p_wrong += mp
            f_wrong += mf
            still += int(_size(mp) < MOVE_MIN)
    wrong = len(agree) - sum(agree)
    characters: dict[str, float] = {}
    for name, path in (masks or {}).items():
        mk = decode(path, sound=False)
        fine = mk.fine
        if fine.shape[1:] != pv.fine.shape[1:]:
            raise ValueError(
                f"{name}'s mask is {mk.width}x{mk.height}, the previz {pv.width}x{pv.height}"
            )
        idx = np.minimum(picks, mk.frames - 1)
        values = [
            _masked(zf[k], zp[k], _grow(fine[i] > 128, _MASK_GROW), shifts[k])
            for k, i in enumerate(idx)
        ]
        kept = [v for v in values if not np.isnan(v)]
        if kept:
            characters[name] = float(np.median(kept))
    return Comparison(
        layout=float(np.median(layout_values)),
        motion=_motion_share(agree, moving),
        characters=characters,
        previz_motion=_summary(p_wrong / max(1, wrong)),
        final_motion=_summary(f_wrong / max(1, wrong)),
        still_previz=wrong > 0 and still * 2 >= wrong,
    )


def _camera(motion: tuple[float, float, float]) -> str:
    """The camera move a picture's (x, y, zoom) motion shows, in words."""
    x, y, z = motion
    size = max(abs(x), abs(y), abs(z))
    if size < MOVE_MIN:
        return "holds still"
    if abs(z) == size:
        return "pushes in" if z > 0 else "pulls back"
    if abs(x) == size:  # the picture moving left is the camera panning right
        return "pans right" if x < 0 else "pans left"
    return "tilts down" if y < 0 else "tilts up"


def _part_score(value: float, threshold: float) -> float:
    """0.5 at the threshold, 0 at nothing, 1 at perfect."""
    value = max(0.0, min(1.0, value))
    if value < threshold:
        return 0.5 * value / threshold
    return 0.5 + 0.5 * (value - threshold) / max(1e-9, 1 - threshold)


def follows_previz(final: Path, previz: Path, masks: Mapping[str, Path] | None = None) -> QCVerdict:
    """Does ``final`` keep ``previz``'s layout, camera motion and (with ``masks``, a mask
    clip per character id) each character's place? One verdict, check "follows-previz"."""
    found = compare(final, previz, masks)
    if isinstance(found, str):
        return QCVerdict(check=CHECK, passed=False, score=0.0, reason=found)
    return verdict(found)


def verdict(found: Comparison) -> QCVerdict:
    """The verdict on what `compare` measured, against the module's thresholds."""
    problems = []
    scores = [_part_score(found.layout, LAYOUT_MIN), _part_score(found.motion, MOTION_MIN)]
    if found.layout < LAYOUT_MIN:
        problems.append(
            f"its layout does not follow the previz's blocking: their edges agree "
            f"{max(0.0, found.layout):.0%} (at least {LAYOUT_MIN:.0%} wanted)"
        )
    if found.motion < MOTION_MIN:
        did, asked = _camera(found.final_motion), _camera(found.previz_motion)
        if found.still_previz and did != "holds still":
            how = f"its camera {did} where the previz's holds still"
        elif did != asked:
            how = f"its camera {did} where the previz's {asked}"
        else:  # the windows disagree in how their parts move, not on the whole
            how = "its picture moves unlike the previz's, part by part"
        problems.append(
            f"its motion does not follow the previz's: {how} (the motion agrees in "
            f"{found.motion:.0%} of the clip, at least {MOTION_MIN:.0%} wanted)"
        )
    for name, value in found.characters.items():
        scores.append(_part_score(value, CHARACTER_MIN))
        if value < CHARACTER_MIN:
            problems.append(
                f"{name} is not where the previz puts them: inside {name}'s mask the edges "
                f"agree {max(0.0, value):.0%} (at least {CHARACTER_MIN:.0%} wanted)"
            )
    score = round(min(scores), 3)
    if problems:
        return QCVerdict(
            check=CHECK,
            passed=False,
            score=score,
            reason="the final ignores the previz: " + "; ".join(problems),
        )
    parts = [f"edges agree {found.layout:.0%}", f"motion agrees in {found.motion:.0%}"]
    if found.characters:
        parts.append(
            "each character is in its mask ("
            + ", ".join(f"{k} {v:.0%}" for k, v in found.characters.items())
            + ")"
        )
    return QCVerdict(
        check=CHECK,
        passed=True,
        score=score,
        reason="the final follows the previz: " + ", ".join(parts),
    )
