"""What the fakes' video clips are made of: nominal sizes, and one solid picture per prompt."""

from __future__ import annotations

import hashlib

import numpy as np


def nominal_size(short: int, ratio: tuple[int, int]) -> tuple[int, int]:
    """(width, height) with ``short`` pixels on the short side, rounded to even."""
    w, h = ratio
    if w >= h:
        return even(short * w / h), short
    return short, even(short * h / w)


def even(value: float) -> int:
    """``value`` rounded to an even number of pixels, at least 16 (what encoders take)."""
    return max(16, 2 * round(value / 2))


def solid_planes(width: int, height: int, text: str, *, band: bool = True) -> np.ndarray:
    """One solid colour chosen by ``text`` (the prompt), as yuv420p planes: Y (h*w), then U
    and V (h/2 * w/2 each), row-packed; ``band``: a lighter band across the top eighth."""
    digest = hashlib.sha256(text.encode()).digest()
    luma = 40 + digest[0] % 120
    planes = np.empty((height * 3 // 2, width), np.uint8)
    flat = planes.reshape(-1)
    flat[: height * width] = luma
    if band:
        flat[: (height // 8) * width] = luma + 90
    quarter = (height // 2) * (width // 2)
    flat[height * width : height * width + quarter] = 64 + digest[1] % 128
    flat[height * width + quarter :] = 64 + digest[2] % 128
    return planes
