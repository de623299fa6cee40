"""Characters on the animatic: where a figure's parts are (anchors, bounds), a figure drawn once
as a sprite and pasted with its outline and shadow, the hologram and the orb."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ministudio.engines.animatic.draw.canvas import ORB_HOVER, ORB_RADIUS, Pen, View
from ministudio.engines.animatic.draw.human import draw_human, proportions
from ministudio.engines.animatic.looks import RGB, FigureLook, mix, scale


@dataclass(frozen=True)
class Anchors:
    """Where a drawn figure's parts are, in world metres (for labels, mouths and framing)."""

    x: float
    feet: float
    top: float  # highest point (head, hat, orb glow)
    head_y: float  # centre of the head (orb: its centre)
    head_r: float  # half the head height (orb: its radius)
    mouth: tuple[float, float, float, float] | None  # cx, cy, half width, half height
    half_width: float


def figure_bounds(look: FigureLook, x: float, feet: float) -> tuple[float, float, float, float]:
    """A world box (x0, y0, x1, y1) that holds everything ``draw_figure`` paints."""
    if look.kind == "orb":
        r = ORB_RADIUS * 3.4
        cy = feet + ORB_HOVER
        return (x - r, cy - r, x + r, cy + r)
    h = look.height
    half = 0.24 * h * look.build + 0.12
    return (x - half, feet - 0.2, x + half, feet + h + 0.22)


def anchors(look: FigureLook, x: float, feet: float) -> Anchors:
    """The anchors of a figure without drawing it."""
    if look.kind == "orb":
        cy = feet + ORB_HOVER
        return Anchors(x, feet, cy + ORB_RADIUS * 1.6, cy, ORB_RADIUS, None, ORB_RADIUS * 1.4)
    p = proportions(look)
    return Anchors(
        x,
        feet,
        feet + look.height + (0.08 if look.hat or look.hair_style == "bun" else 0.02),
        feet + p["head_y"],
        p["head_h"] / 2,
        (x, feet + p["mouth_y"], p["head_w"] * 0.17, p["head_h"] * 0.075),
        p["shoulder_w"] / 2 + p["arm_w"],
    )


OUTLINE: RGB = (28, 22, 24)


@dataclass
class Sprite:
    """A figure drawn once: its colours, its coverage (alpha) and where it goes in the layer."""

    rgb: Image.Image
    mask: Image.Image
    left: int
    top: int


def figure_sprite(
    look: FigureLook, x: float, feet: float, view: View, size: tuple[int, int]
) -> Sprite | None:
    """Draw a character (feet at world (x, feet)) as a sprite clipped to a ``size`` layer.

    Shapes are drawn supersampled into an RGB canvas and an L coverage mask, then shrunk, so
    edges stay smooth from wide shots to close-ups. The canvas starts in the outline colour:
    the soft edge pixels then blend toward the outline the figure is drawn over anyway.
    """
    x0, y0, x1, y1 = figure_bounds(look, x, feet)
    left = max(0, math.floor(view.px(x0)))
    top = max(0, math.floor(view.py(y1)))
    right = min(size[0], math.ceil(view.px(x1)))
    bottom = min(size[1], math.ceil(view.py(y0)))
    if right - left < 2 or bottom - top < 2:
        return None
    area = (right - left) * (bottom - top)
    ss = 3 if area < 120_000 else 2 if area < 700_000 else 1
    hologram = look.kind == "hologram"
    canvas_size = ((right - left) * ss, (bottom - top) * ss)
    rgb = Image.new("RGB", canvas_size, look.glow if hologram else OUTLINE)
    mask = Image.new("L", canvas_size, 0)
    pen = Pen(rgb, view.sub(left, top, right - left, bottom - top, ss), mask)
    draw_human(pen, _hologram_look(look) if hologram else look, x, feet)
    if ss > 1:
        rgb, mask = rgb.reduce(ss), mask.reduce(ss)
    return Sprite(rgb, mask, left, top)


def draw_figure(
    image: Image.Image,
    look: FigureLook,
    x: float,
    feet: float,
    view: View,
    sprite: Sprite | None = None,
    opacity: float = 1.0,
    glitch: float = 0.0,
) -> None:
    """Paint a character onto ``image`` (RGB, seen through ``view``).

    ``sprite`` reuses a drawing from ``figure_sprite`` (the view must then be the one it was
    drawn for, with ``image`` a crop of that layer at its own offset). ``opacity`` and
    ``glitch`` are a hologram's flicker; an orb is painted with ``draw_orb``.
    """
    if sprite is None:
        sprite = figure_sprite(look, x, feet, view, image.size)
    if sprite is None:
        return
    if look.kind == "hologram":
        _paste_hologram(image, sprite, look.glow, view, opacity, glitch)
        _projector(image, look.glow, x, feet, view)
        return
    _ground_shadow(image, view, x, feet, 0.3 * look.height * look.build)
    _outline(image, sprite, max(1, min(4, round(view.s * 0.005))))
    image.paste(sprite.rgb, (sprite.left, sprite.top), sprite.mask)


def _paste_hologram(
    image: Image.Image, sprite: Sprite, glow: RGB, view: View, opacity: float, glitch: float
) -> None:
    """A translucent, scan-lined, glowing version of the sprite."""
    rgb = sprite.rgb.point(lambda v: min(255, round(v * 1.1 + 20)))
    alpha = np.asarray(sprite.mask, np.float32) * (0.62 * opacity)
    period = max(3, round(view.s * 0.012))
    rows = (np.arange(alpha.shape[0]) + sprite.top) % period < max(1, period // 2)
    alpha[rows] *= 0.55
    if glitch:
        h = alpha.shape[0]
        band = slice(int(h * 0.3), int(h * 0.42))
        shift = max(1, round(view.s * 0.04 * glitch))
        alpha[band] = np.roll(alpha[band], shift, axis=1)
        arr = np.array(rgb)
        arr[band] = np.roll(arr[band], shift, axis=1)
        rgb = Image.fromarray(arr)
    halo = sprite.mask.filter(ImageFilter.BoxBlur(max(1, round(view.s * 0.03))))
    halo = halo.point(lambda v: round(v * 0.45 * opacity))
    at = (sprite.left, sprite.top)
    image.paste(glow, (*at, at[0] + halo.width, at[1] + halo.height), halo)
    image.paste(rgb, at, Image.fromarray(alpha.astype(np.uint8), "L"))


def _outline(image: Image.Image, sprite: Sprite, width: int) -> None:
    """A dark line around the figure's silhouette, so it reads on any background."""
    alpha = np.asarray(sprite.mask)
    grown = alpha.copy()
    h, w = alpha.shape
    for dy, dx in (
        (-width, 0),
        (width, 0),
        (0, -width),
        (0, width),
        (-width, -width),
        (width, width),
        (-width, width),
        (width, -width),
    ):
        ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
        xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
        np.maximum(grown[yd, xd], alpha[ys, xs], out=grown[yd, xd])
    mask = Image.fromarray((grown.astype(np.uint16) * 200 // 255).astype(np.uint8), "L")
    image.paste(OUTLINE, (sprite.left, sprite.top, sprite.left + w, sprite.top + h), mask)


def _ground_shadow(image: Image.Image, view: View, x: float, feet: float, rx: float) -> None:
    ry = 0.06
    box = (
        math.floor(view.px(x - rx)),
        math.floor(view.py(feet + ry)),
        math.ceil(view.px(x + rx)),
        math.ceil(view.py(feet - ry)),
    )
    clip = (max(0, box[0]), max(0, box[1]), min(image.width, box[2]), min(image.height, box[3]))
    if clip[2] - clip[0] < 2 or clip[3] - clip[1] < 2:
        return
    shadow = Image.new("L", (box[2] - box[0], box[3] - box[1]), 0)
    ImageDraw.Draw(shadow).ellipse((0, 0, shadow.width - 1, shadow.height - 1), fill=90)
    shadow = shadow.filter(ImageFilter.BoxBlur(max(1, shadow.height // 6)))
    part = shadow.crop((clip[0] - box[0], clip[1] - box[1], clip[2] - box[0], clip[3] - box[1]))
    image.paste((10, 8, 8), clip, part)


def _hologram_look(look: FigureLook) -> FigureLook:
    g = look.glow
    return replace(
        look,
        kind="human",
        skin=mix(g, (255, 255, 255), 0.55),
        hair=scale(g, 0.85),
        top=g,
        bottom=scale(g, 0.7),
        shoes=scale(g, 0.6),
        beard=scale(g, 0.85) if look.beard else None,
        hat=scale(g, 0.8) if look.hat else None,
        neckwear=None,
        top_pattern="",
    )


def _projector(image: Image.Image, glow: RGB, x: float, feet: float, view: View) -> None:
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    pen = Pen(overlay, view)
    pen.ellipse(x, feet - 0.02, 0.36, 0.07, fill=(*scale(glow, 0.6), 200))
    pen.ellipse(x, feet - 0.02, 0.24, 0.045, fill=(*mix(glow, (255, 255, 255), 0.5), 230))
    box = overlay.getbbox()
    if box:
        region = image.crop(box).convert("RGBA")
        region.alpha_composite(overlay.crop(box))
        image.paste(region.convert("RGB"), box[:2])


def draw_orb(
    arr: np.ndarray, glow: RGB, cx: float, cy: float, r: float, pulse: float = 0.0
) -> None:
    """Paint a glowing orb into ``arr`` (h x w x 3 uint8, in place) centred at pixel (cx, cy)."""
    h, w = arr.shape[:2]
    reach = r * 3.4
    x0, x1 = max(0, int(cx - reach)), min(w, int(cx + reach) + 1)
    y0, y1 = max(0, int(cy - reach)), min(h, int(cy + reach) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    yy, xx = np.ogrid[y0:y1, x0:x1]
    d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2).astype(np.float32)
    region = arr[y0:y1, x0:x1].astype(np.float32)
    colour = np.asarray(glow, np.float32)
    strength = 0.75 + 0.5 * pulse
    spread = r * (0.9 + 0.5 * pulse)
    window = np.clip(1 - d / reach, 0, 1) ** 2  # fades to nothing at the region's edge
    halo = np.exp(-np.maximum(0, d - r) / spread) * strength * window
    region += halo[..., None] * colour * 0.85
    core = np.clip((r - d) + 0.5, 0, 1)[..., None]
    t = np.clip(d / r, 0, 1)[..., None]
    hot = np.asarray(mix(glow, (255, 255, 255), 0.85), np.float32)
    inner = hot * (1 - t**2) + colour * (t**2) * (1.0 + 0.15 * pulse)
    region = region * (1 - core) + inner * core
    arr[y0:y1, x0:x1] = np.clip(region, 0, 255).astype(np.uint8)
