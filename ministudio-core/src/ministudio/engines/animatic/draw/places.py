"""The place a shot happens in: drawn from its look (a room or a landscape), or an environment's
reference image fitted to the world, so every framing sees the same picture."""

from __future__ import annotations

import random
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from PIL import Image

from ministudio.engines.animatic.draw.canvas import View
from ministudio.engines.animatic.draw.landscapes import draw_exterior
from ministudio.engines.animatic.draw.rooms import draw_interior
from ministudio.engines.animatic.looks import PlaceLook


def draw_place(look: PlaceLook, view: View, seed: int) -> Image.Image:
    """The environment (no characters) as seen through ``view``; ``seed`` jitters the props."""
    jitter = random.Random(f"props:{seed}")
    props = [
        replace(
            p, x=p.x + jitter.uniform(-0.12, 0.12), height=p.height * jitter.uniform(0.97, 1.03)
        )
        for p in look.props
    ]
    if look.exterior:
        return draw_exterior(look, props, view)
    return draw_interior(look, props, view)


def place_from_image(
    path: Path, view: View, world: tuple[float, float, float, float]
) -> Image.Image:
    """An environment's reference image covering the ``world`` rectangle (x0, y0, x1, y1).

    The picture is cover-fitted to that rectangle once, so every framing of the place sees the
    same picture: a wide shot most of it, a close-up a magnified part of it.
    """
    src = _load_rgb(path)
    wx0, wy0, wx1, wy1 = world
    # cover-fit: the picture's scale in px per metre
    k = max(src.width / (wx1 - wx0), src.height / (wy1 - wy0))
    cx_img, cy_img = src.width / 2, src.height / 2
    cx_w, cy_w = (wx0 + wx1) / 2, (wy0 + wy1) / 2

    def ix(x: float) -> float:
        return min(src.width, max(0.0, cx_img + (x - cx_w) * k))

    def iy(y: float) -> float:
        return min(src.height, max(0.0, cy_img - (y - cy_w) * k))

    box = (ix(view.wx(0)), iy(view.wy(0)), ix(view.wx(view.w)), iy(view.wy(view.h)))
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        return Image.new("RGB", (view.w, view.h), src.resize((1, 1)).getpixel((0, 0)))
    return src.resize((view.w, view.h), Image.Resampling.BILINEAR, box=box)


@lru_cache(maxsize=16)
def _load_rgb_cached(path: str, mtime: float) -> Image.Image:
    with Image.open(path) as im:
        rgb: Image.Image = im.convert("RGB")
    return rgb


def _load_rgb(path: Path) -> Image.Image:
    return _load_rgb_cached(str(path), path.stat().st_mtime)
