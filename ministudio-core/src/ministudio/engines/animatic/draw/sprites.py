"""Characters given by a reference image: the image as a sprite (a photo becomes a card), standing
in the scene, with speech marks where a drawn figure would move its mouth."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ministudio.engines.animatic.draw.canvas import View


@lru_cache(maxsize=16)
def _load_rgba_cached(path: str, mtime: float) -> Image.Image:
    with Image.open(path) as im:
        rgba: Image.Image = im.convert("RGBA")
    alpha = np.asarray(rgba)[..., 3]
    if alpha.min() < 250:  # a cut-out with its own transparency
        return rgba
    # a photo: round its corners and give it a thin white border, like a card
    w, h = rgba.size
    mask = Image.new("L", (w, h), 0)
    r = max(2, min(w, h) // 12)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, w - 1, h - 1), r, fill=255)
    card = Image.new("RGBA", (w, h), (245, 245, 245, 255))
    b = max(2, min(w, h) // 60)
    inner = rgba.crop((b, b, w - b, h - b))
    card.paste(inner, (b, b))
    card.putalpha(mask)
    return card


def load_sprite(path: Path) -> Image.Image:
    """A character's reference image as an RGBA sprite (cached)."""
    return _load_rgba_cached(str(path), path.stat().st_mtime)


def draw_sprite(
    image: Image.Image, sprite: Image.Image, x: float, feet: float, height: float, view: View
) -> tuple[float, float]:
    """A reference image standing as the figure at (x, feet), ``height`` metres tall.

    Returns its half width and top in world metres.
    """
    k = height / sprite.height  # metres per sprite pixel
    half = sprite.width * k / 2
    left, top = view.px(x - half), view.py(feet + height)
    right, bottom = view.px(x + half), view.py(feet)
    cl, ct = max(0, math.floor(left)), max(0, math.floor(top))
    cr, cb = min(image.width, math.ceil(right)), min(image.height, math.ceil(bottom))
    if cr - cl < 2 or cb - ct < 2:
        return half, feet + height
    sx = sprite.width / (right - left)
    sy = sprite.height / (bottom - top)
    box = (
        min(sprite.width, max(0.0, (cl - left) * sx)),
        min(sprite.height, max(0.0, (ct - top) * sy)),
        min(sprite.width, max(0.0, (cr - left) * sx)),
        min(sprite.height, max(0.0, (cb - top) * sy)),
    )
    part = sprite.resize((cr - cl, cb - ct), Image.Resampling.BILINEAR, box=box)
    image.paste(part, (cl, ct), part)
    return half, feet + height


def draw_speech_marks(image: Image.Image, x: float, y: float, size: float, level: float) -> None:
    """Three small bars that bounce while a sprite character speaks (no mouth to move)."""
    d = ImageDraw.Draw(image)
    for i in range(3):
        hgt = size * (0.3 + 0.7 * abs(math.sin(level * 3.1 + i * 1.7))) if level > 0 else size * 0.2
        bx = x + i * size * 0.45
        d.rounded_rectangle((bx, y - hgt, bx + size * 0.28, y), size * 0.1, fill=(255, 255, 255))
