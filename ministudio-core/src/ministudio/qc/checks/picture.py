"""Picture checks over a small grey frame sequence (frames, h, w), values 0..1.

Black stretches, held (frozen) pictures and flashes. Each returns one `QCVerdict`. A hold is
measured against its first frame, so an encoder's keyframe flicker does not split it; it fails
from a second inside a shot, or past a quarter of the shot at its ends unless the camera is
static.
"""

from __future__ import annotations

import numpy as np

from ministudio.jobs import QCVerdict

# A frame is black when its mean luma is under 6% and no (64 px, box-averaged) pixel passes
# 15%: a night scene keeps a lit window or a moon above that; an empty frame has nothing.
BLACK_MEAN = 0.06
BLACK_PEAK = 0.15
# Black lasting this long is a defect; a few frames of fade are not (0.3 s is 7 frames at 24).
BLACK_MIN_SECONDS = 0.3
# Still picture. A freeze in an encoded clip is not a run of identical frames: H.264 re-codes a
# held picture at every keyframe (and a rate-controlled encoder refines it over the next frame
# or two), so a hold shows a step every GOP. Measured on a 1.5 s hold at 640x360 with strong
# texture (noise sd 18 levels), keyframes every 12 and 48 frames, seen at 64 px grey:
#   keyframe step: qp 23 ultrafast (the core's) <= 0.0049, crf 18 <= 0.0030, crf 23 <= 0.0052,
#   crf 28 <= 0.0094 (crf 35: 0.020); between keyframes 0, refinements <= 4e-4, at most three
#   steps in a row over FROZEN_STEP;
#   the slowest real motion, the animatic's eased push-in at 1280x720: 1e-4 to 9e-4 on almost
#   every frame, 0.004 from where it was a second earlier.
# So a hold is a run of frames that all stay within FROZEN_DIFF of its first frame (above every
# keyframe step at the CRFs in use) and whose frame-to-frame changes are under FROZEN_STEP,
# except bursts of at most FROZEN_BLIP steps (a keyframe and its refinement, or one odd frame
# that comes back): a real move changes the picture on every frame.
FROZEN_DIFF = 0.012
FROZEN_STEP = 1e-4
FROZEN_BLIP = 3
# A held picture of this long inside a shot is a freeze. One repeated frame (42 ms, what a
# frame-rate conversion or a dropped-and-repeated frame leaves) goes unseen, and Netflix's
# partner QC counts a freeze as an error when it "upsets motion of a scene"; automated broadcast
# QC defaults are longer (ffmpeg's freezedetect 2 s, Etere's 3 s) because live feeds hold
# captions and stills on purpose. A MiniStudio shot is asked to move unless its camera is static,
# and the animatic itself pauses for at most 0.6 s between movements (a figure pausing), so a
# second (24 frames) of nothing at all is a stall the audience sees.
FROZEN_MIN_SECONDS = 1.0
# A moving camera eases in and out, and an engine may start from a near-still first frame: a
# hold that opens or closes a moving shot fails past FROZEN_EDGE_SHARE of the clip (or
# FROZEN_MIN_SECONDS, whichever is longer). The animatic's cosine ease is near-still for a fixed
# share of its shot: on the showcase films its eased ends hold for up to 18% of the shot (1.8 s
# of a 10.3 s push-in); a clip that stalls for its last quarter is broken.
FROZEN_EDGE_SHARE = 0.25
# A flash: the picture jumps by more than this (mean absolute difference) from one frame to
# the next and comes back to within half of the jump within FLASH_MAX_FRAMES frames. A camera
# move changes a 64 px frame by ~0.01 a frame; a white or garbage frame by 0.3 and more.
FLASH_JUMP = 0.15
FLASH_MAX_FRAMES = 3


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in a 1-D boolean array."""
    padded = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def black_frames(grey: np.ndarray) -> np.ndarray:
    """Which frames are black (boolean per frame)."""
    flat = grey.reshape(grey.shape[0], -1)
    mask: np.ndarray = (flat.mean(axis=1) < BLACK_MEAN) & (flat.max(axis=1) < BLACK_PEAK)
    return mask


def black(grey: np.ndarray, fps: float) -> QCVerdict:
    """Stretches of black picture of BLACK_MIN_SECONDS or more."""
    n = grey.shape[0]
    runs = [(s, k) for s, k in _runs(black_frames(grey)) if k / fps >= BLACK_MIN_SECONDS]
    if not runs:
        return QCVerdict(check="black", passed=True, score=1.0, reason="no black stretch")
    total = sum(k for _, k in runs)
    start, length = max(runs, key=lambda r: r[1])
    what = (
        "the whole clip is black"
        if total == n
        else f"{length / fps:.1f} s of black from {start / fps:.1f} s"
    )
    if len(runs) > 1:
        what += f" ({len(runs)} black stretches, {total / fps:.1f} s in all)"
    return QCVerdict(check="black", passed=False, score=round(1 - total / n, 3), reason=what)


def holds(grey: np.ndarray) -> list[tuple[int, int]]:
    """(first frame, frames) of each held picture: frames within FROZEN_DIFF of the hold's
    first one, changing frame to frame by under FROZEN_STEP but for bursts of at most
    FROZEN_BLIP steps (keyframe flicker, one odd frame). Black frames hold nothing."""
    n = grey.shape[0]
    if n < 2:
        return []
    flat = grey.reshape(n, -1)
    steps = np.abs(np.diff(flat, axis=0)).mean(axis=1)  # steps[j - 1]: frame j - 1 to j
    dark = black_frames(grey)
    found: list[tuple[int, int]] = []
    i = 0
    while i < n - 1:
        if dark[i] or steps[i] >= FROZEN_STEP:  # a hold starts on a still step
            i += 1
            continue
        anchor, last, burst, j = flat[i], i, 0, i + 1
        while j < n and not dark[j]:
            burst = burst + 1 if steps[j - 1] >= FROZEN_STEP else 0
            if burst > FROZEN_BLIP:
                break
            if float(np.abs(flat[j] - anchor).mean()) >= FROZEN_DIFF:
                # one odd frame is bridged when the next is back on the held picture
                back = j + 1 < n and not dark[j + 1]
                if not (back and float(np.abs(flat[j + 1] - anchor).mean()) < FROZEN_DIFF):
                    break
                burst = max(burst, 1)
            elif burst == 0:
                last = j
            j += 1
        if last > i:
            found.append((i, last - i + 1))
            i = last + 1
        else:
            i += 1
    return found


def frozen(
    grey: np.ndarray,
    fps: float,
    *,
    still_allowed: bool = False,
    min_seconds: float = FROZEN_MIN_SECONDS,
) -> QCVerdict:
    """Held pictures (`holds`; black is `black`'s) of ``min_seconds`` or more inside the clip.

    A hold that opens or closes the clip is the shot's own when ``still_allowed`` (the
    production asked for stillness: a static camera, which the animatic dissolves in and
    holds), and otherwise fails only past FROZEN_EDGE_SHARE of the clip
    (a moving camera eases in and out). A clip that never moves fails unless
    ``still_allowed``.
    """
    n = grey.shape[0]
    if n < 2:
        return QCVerdict(check="frozen", passed=True, score=1.0, reason="a single frame")
    runs = []
    for start, length in holds(grey):
        edge = start == 0 or start + length >= n
        if edge and still_allowed:
            continue
        limit = max(min_seconds, FROZEN_EDGE_SHARE * n / fps) if edge else min_seconds
        if length / fps >= limit:
            runs.append((start, length))
    if not runs:
        return QCVerdict(
            check="frozen",
            passed=True,
            score=1.0,
            reason="moves or holds, as the shot asks" if still_allowed else "the picture moves",
        )
    total = sum(k for _, k in runs)
    start, length = max(runs, key=lambda r: r[1])
    what = (
        "the picture never moves: the whole clip is one frozen frame"
        if length >= n
        else f"frozen for {length / fps:.1f} s from {start / fps:.2f} s"
    )
    if len(runs) > 1:
        what += f" ({len(runs)} freezes, {total / fps:.1f} s in all)"
    return QCVerdict(
        check="frozen", passed=False, score=round(max(0.0, 1 - total / n), 3), reason=what
    )


def flashes(grey: np.ndarray, fps: float) -> QCVerdict:
    """Single frames (up to FLASH_MAX_FRAMES) that jump away from the picture and back."""
    n = grey.shape[0]
    found: list[tuple[int, float]] = []
    i = 1
    while i < n:
        jump = float(np.abs(grey[i] - grey[i - 1]).mean())
        if jump > FLASH_JUMP:
            for j in range(i + 1, min(n, i + 1 + FLASH_MAX_FRAMES)):
                if float(np.abs(grey[j] - grey[i - 1]).mean()) < jump / 2:
                    found.append((i, jump))
                    i = j
                    break
        i += 1
    if not found:
        return QCVerdict(check="flash", passed=True, score=1.0, reason="no flash")
    first, jump = found[0]
    more = f" ({len(found)} flashes)" if len(found) > 1 else ""
    return QCVerdict(
        check="flash",
        passed=False,
        score=round(max(0.0, 1 - len(found) / max(1, n) * 10), 3),
        reason=f"a flash at {first / fps:.2f} s: the picture jumps by {jump:.2f} "
        f"(limit {FLASH_JUMP}) and back{more}",
    )
