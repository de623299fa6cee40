"""Continuity across clips: the seam of a `continue` shot, and a scene's environment."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ministudio.checks.footage import Footage, decode
from ministudio.jobs import QCVerdict

# Seam: mean absolute difference (0..1) of the two frames' 32 px colour thumbnails. A
# continued shot starts from the previous shot's last frame, so only the encoder and a
# frame's worth of motion separate them (the animatic's seams measure ~0.01); two unrelated
# pictures of the same place differ by 0.1 and more.
SEAM_LIMIT = 0.06
# Environment: each shot's colour histogram (4x4x4 RGB bins, over the frame's border where the
# place shows, around the people who fill the middle) against each other shot's, as half the L1
# distance (0..1); a shot is off when it is over the limit from more than half of the others.
# Changing shot size and camera move in the animatic's study and lab moves it by 0.14-0.45 (a
# wide pan sees more of the lab's walls); the same shots recoloured measure 0.97.
ENV_COLOUR_LIMIT = 0.65
# Structure: the shot's edge density (mean grey gradient) may differ from the others' median
# by at most this factor either way (a close-up is softer than a wide shot; a different or
# blank place is far off).
ENV_EDGE_FACTOR = 3.0
_BINS = 4
_SAMPLES = 8  # frames per clip the environment statistics look at


def _footage(clip: Footage | Path | str) -> Footage:
    return clip if isinstance(clip, Footage) else decode(clip, sound=False)


def sample(footage: Footage) -> Footage:
    """Only the frames ``seam`` and ``scene_stability`` look at (the first, the last and a few
    between): what to keep of a long film's clips while its scenes are checked."""
    picks = np.linspace(0, footage.frames - 1, min(_SAMPLES, footage.frames)).astype(int)
    return dataclasses.replace(footage, grey=footage.grey[picks], colour=footage.colour[picks])


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


def _border(colour: np.ndarray) -> np.ndarray:
    """The pixels of the top third and the left and right sixths of each frame."""
    _, h, w, _ = colour.shape
    top = colour[:, : max(1, h // 3)].reshape(-1, 3)
    side = max(1, w // 6)
    sides = np.concatenate([colour[:, :, :side], colour[:, :, -side:]], axis=2).reshape(-1, 3)
    return np.concatenate([top, sides])


def environment_signature(clip: Footage | Path | str) -> tuple[np.ndarray, float]:
    """(colour histogram of the place, edge density) of a clip."""
    footage = _footage(clip)
    picks = np.linspace(0, footage.frames - 1, min(_SAMPLES, footage.frames)).astype(int)
    pixels = _border(footage.colour[picks])
    index = np.minimum((pixels * _BINS).astype(int), _BINS - 1)
    flat = index[:, 0] * _BINS * _BINS + index[:, 1] * _BINS + index[:, 2]
    hist = np.bincount(flat, minlength=_BINS**3).astype(np.float64)
    grey = footage.grey[picks]
    edges = float(np.abs(np.diff(grey, axis=1)).mean() + np.abs(np.diff(grey, axis=2)).mean())
    return hist / hist.sum(), edges


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
    sigs = [environment_signature(clips[i]) for i in ids]
    hists = np.stack([h for h, _ in sigs])
    pairwise = 0.5 * np.abs(hists[:, None, :] - hists[None, :, :]).sum(axis=2)
    verdicts: list[QCVerdict] = []
    for k, shot in enumerate(ids):
        others = [s for j, s in enumerate(sigs) if j != k]
        edges = sigs[k][1]
        distances = np.delete(pairwise[k], k)
        colour = float(np.median(distances))
        # an outlier is far from most of the others; a shot near at least half of them is
        # part of the scene's look even when one other shot drifted
        near = int((distances <= ENV_COLOUR_LIMIT).sum())
        ref_edges = float(np.median([e for _, e in others]))
        ratio = (edges + 1e-4) / (ref_edges + 1e-4)
        problems = []
        if 2 * near < len(distances):
            problems.append(
                f"{environment}'s colours moved: shot {shot} differs from the scene's other "
                f"shots by {colour:.2f} (limit {ENV_COLOUR_LIMIT})"
            )
        if not 1 / ENV_EDGE_FACTOR <= ratio <= ENV_EDGE_FACTOR:
            problems.append(
                f"{environment}'s structure changed: shot {shot} has {ratio:.1f}x the detail "
                f"of the scene's other shots (limit {ENV_EDGE_FACTOR:g}x either way)"
            )
        verdicts.append(
            QCVerdict(
                check="environment",
                passed=not problems,
                score=round(max(0.0, 1 - colour / (2 * ENV_COLOUR_LIMIT)), 3),
                reason="; ".join(problems)
                if problems
                else f"shot {shot} matches the scene's other shots (colour {colour:.2f}, "
                f"detail {ratio:.1f}x)",
            )
        )
    return verdicts
