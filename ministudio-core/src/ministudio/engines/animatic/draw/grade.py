"""The colour grade: saturation, gain and lift in one colour-matrix pass, and a vignette."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops

from ministudio.engines.animatic.looks import Grade


def apply_grade(
    image: Image.Image, grade: Grade, box: tuple[int, int], full: tuple[int, int]
) -> Image.Image:
    """``image`` (a crop at ``box`` of a ``full``-sized layer) under the colour grade.

    Saturation, gain and lift are one colour-matrix pass; the vignette is a multiply by a mask
    computed once per layer size.
    """
    if grade.identity:
        return image
    s = grade.saturation
    luma = (0.299, 0.587, 0.114)
    matrix: list[float] = []
    for c in range(3):
        row = [(1 - s) * luma[k] + (s if k == c else 0.0) for k in range(3)]
        matrix.extend([grade.gain[c] * v for v in row])
        matrix.append(grade.lift[c] * 255)
    out = image.convert("RGB", tuple(matrix))
    if grade.vignette > 0:
        mask = _vignette(round(grade.vignette, 3), full)
        if mask.size != out.size:
            mask = mask.crop((box[0], box[1], box[0] + out.width, box[1] + out.height))
        out = ImageChops.multiply(out, mask)
    return out


@lru_cache(maxsize=8)
def _vignette(strength: float, full: tuple[int, int]) -> Image.Image:
    fw, fh = full
    small_w, small_h = 96, max(8, round(96 * fh / fw))
    yy, xx = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    nx = (xx + 0.5) / small_w * 2 - 1
    ny = (yy + 0.5) / small_h * 2 - 1
    d = np.sqrt(nx**2 * 0.8 + ny**2 * 0.8)
    mask = 1 - strength * np.clip((d - 0.35) / 0.9, 0, 1) ** 1.6
    small = Image.fromarray((mask * 255).astype(np.uint8), "L")
    m = small.resize(full, Image.Resampling.BILINEAR)
    return Image.merge("RGB", (m, m, m))
