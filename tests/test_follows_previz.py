"""The follows-the-previz check (issue 20): a restyled final passes; a mirrored, reversed or
re-blocked one fails with the part it ignores named. Clips are drawn here with numpy (a
seeded place, a panning or still camera, a figure whose mask is known) and encoded with the
film's own encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ministudio.qc.checks import synthetic as syn
from ministudio.qc.checks.follows import follows_previz

W, H, FPS, N = 256, 144, 24, 48
FIGURE = (slice(40, 120), slice(40, 76))  # rows, columns of the figure on screen


def shot(pan: float, figure_at: int = 40, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Frames of a place seen by a camera panning ``pan`` of its free width (0: still), with
    a figure standing ``figure_at`` px from the left of the frame; and the figure's mask."""
    place = syn.place(seed, 2 * W, 2 * H)
    free = place.shape[1] - W
    frames = np.empty((N, H, W, 3), np.uint8)
    masks = np.zeros((N, H, W, 3), np.uint8)
    rows, cols = FIGURE
    width = cols.stop - cols.start
    for i in range(N):
        x0 = round(free * (0.3 + pan * i / (N - 1)))
        frames[i] = place[H // 2 : H // 2 + H, x0 : x0 + W]
        frames[i, rows, figure_at : figure_at + width] = (230, 60, 40)
        frames[i, rows.start : rows.start + 20, figure_at + 8 : figure_at + 28] = (240, 200, 170)
        masks[i, rows, figure_at : figure_at + width] = 255
    return frames, masks


def restyle(frames: np.ndarray) -> np.ndarray:
    """What an edit engine might do: another palette and tone curve, grain."""
    rng = np.random.default_rng(5)
    x = frames.astype(np.float32) / 255.0
    x = x[..., [2, 0, 1]] ** 0.6  # channels swapped, lifted
    x = 0.15 + 0.75 * x + rng.normal(0, 0.04, x.shape)
    out: np.ndarray = np.clip(x * 255, 0, 255).astype(np.uint8)
    return out


def clip(tmp_path: Path, name: str, frames: np.ndarray) -> Path:
    return syn.write(tmp_path / f"{name}.mp4", list(frames), FPS)


@pytest.fixture
def panning(tmp_path: Path) -> tuple[Path, np.ndarray, Path]:
    frames, mask = shot(pan=0.5)
    return clip(tmp_path, "previz", frames), frames, clip(tmp_path, "mask", mask)


def test_a_restyled_final_follows(tmp_path: Path, panning: tuple[Path, np.ndarray, Path]) -> None:
    previz, frames, mask = panning
    final = clip(tmp_path, "final", restyle(frames))
    verdict = follows_previz(final, previz, {"ann": mask})
    assert verdict.check == "follows-previz"
    assert verdict.passed, verdict.reason
    assert verdict.score >= 0.5
    assert "ann" in verdict.reason


def test_a_mirrored_final_ignores_the_layout(tmp_path: Path) -> None:
    frames, _ = shot(pan=0.0)
    previz = clip(tmp_path, "previz", frames)
    final = clip(tmp_path, "final", restyle(frames[:, :, ::-1]))
    verdict = follows_previz(final, previz)
    assert not verdict.passed
    assert verdict.score < 0.5
    assert "layout" in verdict.reason and "motion" not in verdict.reason


def test_a_reversed_pan_ignores_the_motion(
    tmp_path: Path, panning: tuple[Path, np.ndarray, Path]
) -> None:
    previz, frames, _ = panning
    final = clip(tmp_path, "final", restyle(frames[::-1]))
    verdict = follows_previz(final, previz)
    assert not verdict.passed
    assert "motion" in verdict.reason
    # the picture moves left in the previz (the camera pans right) and right in the final
    assert "pans left where the previz's pans right" in verdict.reason


def test_a_displaced_figure_is_named(tmp_path: Path) -> None:
    frames, mask = shot(pan=0.0)
    moved, _ = shot(pan=0.0, figure_at=170)
    previz = clip(tmp_path, "previz", frames)
    final = clip(tmp_path, "final", restyle(moved))
    verdict = follows_previz(final, previz, {"ann": clip(tmp_path, "mask", mask)})
    assert not verdict.passed
    assert "ann is not where the previz puts them" in verdict.reason


def test_frame_counts_must_match(tmp_path: Path, panning: tuple[Path, np.ndarray, Path]) -> None:
    previz, frames, _ = panning
    final = clip(tmp_path, "final", restyle(frames[:-6]))
    verdict = follows_previz(final, previz)
    assert not verdict.passed and verdict.score == 0.0
    assert verdict.reason.startswith(f"the final has {N - 6} frames and the previz {N}")
