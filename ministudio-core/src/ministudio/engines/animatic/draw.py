"""Drawing the animatic with Pillow and numpy: places, figures, labels, captions and grades.

Everything is drawn in world units (metres) through a ``View`` that maps the world onto an
image: x grows to the right, y grows up, the floor line of a room is y = 0 and characters
stand a little in front of it. A close-up is the same drawing seen through a tighter view,
which is what keeps a character the same figure in every shot.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from ministudio.engines.animatic.looks import RGB, FigureLook, Grade, PlaceLook, Prop, mix, scale

CEILING = 2.75  # metres: where a room's wall meets its ceiling
FEET = -0.55  # metres: where characters stand (in front of the wall, on the floor)
ORB_HOVER = 1.3  # metres: the height an orb floats at (its centre)
ORB_RADIUS = 0.17


@dataclass(frozen=True)
class View:
    """Maps world metres onto an image: pixel (0, 0) is world (x0, y1); ``s`` px per metre."""

    x0: float
    y1: float
    s: float
    w: int
    h: int

    def px(self, x: float) -> float:
        return (x - self.x0) * self.s

    def py(self, y: float) -> float:
        return (self.y1 - y) * self.s

    def wx(self, px: float) -> float:
        return self.x0 + px / self.s

    def wy(self, py: float) -> float:
        return self.y1 - py / self.s

    def sub(self, left: int, top: int, w: int, h: int, factor: float = 1.0) -> View:
        """The view of a ``w`` x ``h`` crop at (left, top), drawn ``factor`` times larger."""
        return View(
            self.wx(left), self.wy(top), self.s * factor, round(w * factor), round(h * factor)
        )

    def resized(self, factor: float) -> View:
        return View(
            self.x0,
            self.y1,
            self.s * factor,
            max(2, round(self.w * factor)),
            max(2, round(self.h * factor)),
        )


Fill = tuple[int, ...]


class Pen:
    """ImageDraw in world metres. With a ``mask`` (an L image), every shape is also painted
    opaque into the mask: that is how figures get their alpha without RGBA compositing."""

    def __init__(self, image: Image.Image, view: View, mask: Image.Image | None = None) -> None:
        self.image = image
        self.draw = ImageDraw.Draw(image)
        self.mask = ImageDraw.Draw(mask) if mask is not None else None
        self.view = view

    def m(self, metres: float) -> float:
        return metres * self.view.s

    def rect(
        self, x0: float, y0: float, x1: float, y1: float, fill: Fill, radius: float = 0.0
    ) -> None:
        v = self.view
        left, right = sorted((v.px(x0), v.px(x1)))
        top, bottom = sorted((v.py(y0), v.py(y1)))
        if right - left < 0.2 or bottom - top < 0.2:
            return
        box = (left, top, right, bottom)
        r = min(radius * v.s, (right - left) / 2 - 0.01, (bottom - top) / 2 - 0.01)
        for d, f in self._targets(fill):
            if r >= 1:
                d.rounded_rectangle(box, r, fill=f)
            else:
                d.rectangle(box, fill=f)

    def _targets(self, fill: Fill) -> list[tuple[ImageDraw.ImageDraw, Fill | int]]:
        if self.mask is None:
            return [(self.draw, fill)]
        return [(self.draw, fill), (self.mask, 255)]

    def ellipse(
        self,
        cx: float,
        cy: float,
        rx: float,
        ry: float,
        fill: Fill | None = None,
        outline: Fill | None = None,
        width: float = 0.0,
    ) -> None:
        v = self.view
        box = (v.px(cx - rx), v.py(cy + ry), v.px(cx + rx), v.py(cy - ry))
        if box[2] - box[0] < 0.5 or box[3] - box[1] < 0.5:
            return
        w = max(1, round(width * v.s)) if outline else 1
        self.draw.ellipse(box, fill=fill, outline=outline, width=w)
        if self.mask is not None:
            self.mask.ellipse(
                box,
                fill=255 if fill is not None else None,
                outline=255 if outline is not None else None,
                width=w,
            )

    def chord(
        self, cx: float, cy: float, rx: float, ry: float, start: float, end: float, fill: Fill
    ) -> None:
        v = self.view
        box = (v.px(cx - rx), v.py(cy + ry), v.px(cx + rx), v.py(cy - ry))
        if box[2] - box[0] < 1 or box[3] - box[1] < 1:
            return
        for d, f in self._targets(fill):
            d.chord(box, start, end, fill=f)

    def poly(self, points: Sequence[tuple[float, float]], fill: Fill) -> None:
        v = self.view
        xy = [(v.px(x), v.py(y)) for x, y in points]
        for d, f in self._targets(fill):
            d.polygon(xy, fill=f)

    def line(self, points: Sequence[tuple[float, float]], fill: Fill, width: float) -> None:
        v = self.view
        xy = [(v.px(x), v.py(y)) for x, y in points]
        for d, f in self._targets(fill):
            d.line(xy, fill=f, width=max(1, round(width * v.s)))


_fonts = threading.local()


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` px: the same glyphs on every machine.

    Cached per thread: a FreeType face must not be used by two threads at once, and the engine
    renders two clips at once on two threads.
    """
    cache: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] | None = getattr(
        _fonts, "cache", None
    )
    if cache is None:
        cache = _fonts.cache = {}
    size = max(6, size)
    if size not in cache:
        cache[size] = ImageFont.load_default(size=size)
    return cache[size]


# -- places -------------------------------------------------------------------------------

_SKIES: dict[str, tuple[RGB, RGB]] = {  # top, horizon
    "day": ((92, 150, 220), (190, 218, 240)),
    "night": ((8, 12, 32), (32, 42, 78)),
    "dawn": ((90, 100, 170), (250, 185, 150)),
    "dusk": ((55, 45, 105), (250, 140, 90)),
    "golden": ((110, 155, 210), (252, 210, 140)),
    "overcast": ((140, 146, 156), (200, 202, 206)),
}


def _vertical_gradient(
    w: int, h: int, top: RGB, bottom: RGB, y_from: float = 0.0, y_to: float | None = None
) -> np.ndarray:
    """An h x w x 3 image fading from ``top`` (at row y_from) to ``bottom`` (at row y_to)."""
    y_to = float(h) if y_to is None else y_to
    rows = np.arange(h, dtype=np.float32)
    t = np.clip((rows - y_from) / max(1e-3, y_to - y_from), 0, 1)[:, None]
    col = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    return np.ascontiguousarray(np.broadcast_to(col.astype(np.uint8)[:, None, :], (h, w, 3)))


def _sky(view: View, time: str, horizon: float, key: str, space: bool = False) -> np.ndarray:
    top, low = ((2, 3, 10), (14, 16, 34)) if space else _SKIES.get(time, _SKIES["day"])
    y_top, y_h = view.py(horizon + 9.0), view.py(horizon)
    return _vertical_gradient(view.w, view.h, top, low, y_top, y_h)


def _stars(pen: Pen, key: str, x0: float, x1: float, y0: float, y1: float, n: int) -> None:
    rng = random.Random(key)
    for _ in range(n):
        x, y = rng.uniform(-14, 14), rng.uniform(y0, y1)
        if x0 <= x <= x1:
            b = rng.randint(150, 255)
            r = rng.uniform(0.008, 0.02)
            pen.ellipse(x, y, r, r, fill=(b, b, min(255, b + 20)))


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
        return _draw_exterior(look, props, view)
    return _draw_interior(look, props, view)


def _draw_interior(look: PlaceLook, props: list[Prop], view: View) -> Image.Image:
    wall, floor = look.wall, look.floor
    arr = np.empty((view.h, view.w, 3), np.uint8)
    y_ceiling, y_floor = view.py(CEILING), view.py(0.0)
    rows = np.arange(view.h, dtype=np.float32)[:, None]
    ceiling_col = np.asarray(scale(wall, 0.7), np.float32)
    wall_top, wall_low = np.asarray(scale(wall, 0.86), np.float32), np.asarray(wall, np.float32)
    floor_back, floor_front = (
        np.asarray(floor, np.float32),
        np.asarray(scale(floor, 0.62), np.float32),
    )
    t_wall = np.clip((rows - y_ceiling) / max(1.0, y_floor - y_ceiling), 0, 1)
    t_floor = np.clip((rows - y_floor) / max(1.0, view.s * 2.5), 0, 1)
    col = np.where(
        rows < y_ceiling,
        ceiling_col,
        np.where(
            rows < y_floor,
            wall_top * (1 - t_wall) + wall_low * t_wall,
            floor_back * (1 - t_floor) + floor_front * t_floor,
        ),
    )
    arr[:] = col.astype(np.uint8)[:, None, :]
    image = Image.fromarray(arr)
    pen = Pen(image, view)
    x_lo, x_hi = view.wx(0) - 3, view.wx(view.w) + 3
    line = scale(wall, 0.8)
    theme = look.theme
    # wall texture
    if theme in ("lab", "ship", "office", "hall"):
        k0, k1 = math.floor(x_lo / 1.6), math.ceil(x_hi / 1.6)
        for k in range(k0, k1 + 1):
            pen.line([(k * 1.6, 0.0), (k * 1.6, CEILING)], scale(wall, 0.9), 0.012)
        if theme == "hall":
            pen.rect(x_lo, 0.0, x_hi, 0.95, scale(wall, 0.82))
            pen.line([(x_lo, 0.95), (x_hi, 0.95)], scale(wall, 0.65), 0.03)
    elif theme == "cafe":
        for row in range(int(CEILING / 0.16) + 1):
            y = row * 0.16
            pen.line([(x_lo, y), (x_hi, y)], scale(wall, 0.85), 0.012)
            off = 0.17 if row % 2 else 0.0
            for k in range(math.floor((x_lo - off) / 0.34), math.ceil((x_hi - off) / 0.34)):
                x = k * 0.34 + off
                pen.line([(x, y), (x, y + 0.16)], scale(wall, 0.85), 0.012)
    elif theme in ("living", "kitchen"):
        for k in range(math.floor(x_lo / 0.35), math.ceil(x_hi / 0.35) + 1):
            if k % 2:
                pen.rect(k * 0.35, 0.0, k * 0.35 + 0.35, CEILING, scale(wall, 0.96))
    elif theme == "library":
        for k in range(math.floor(x_lo / 0.6), math.ceil(x_hi / 0.6) + 1):
            pen.line([(k * 0.6, 0.0), (k * 0.6, CEILING)], scale(wall, 0.8), 0.02)
    pen.rect(x_lo, CEILING - 0.04, x_hi, CEILING + 0.04, line)  # cornice
    # floor lines converging on a vanishing point: depth for free
    vy = 1.6
    spacing = 0.7 if theme in ("lab", "office", "kitchen", "hall", "ship") else 0.28
    seam = scale(floor, 0.78)
    for k in range(math.floor(x_lo / spacing) - 6, math.ceil(x_hi / spacing) + 7):
        xk = k * spacing
        pen.line([(xk, 0.0), (xk * (vy + 3.5) / vy, -3.5)], seam, 0.008)
    depth = -0.12
    step = 0.12 if spacing > 0.5 else 0.3
    while depth > -4:
        pen.line([(x_lo, depth), (x_hi, depth)], seam, 0.008)
        step *= 1.35
        depth -= step
    pen.rect(x_lo, 0.0, x_hi, 0.1, scale(wall, 0.6))  # skirting
    for prop in props:
        if x_lo - prop.width <= prop.x <= x_hi + prop.width:
            _draw_prop(pen, prop, look)
    return image


def _window_glass(
    pen: Pen, x0: float, y0: float, x1: float, y1: float, look: PlaceLook, round_: bool = False
) -> None:
    top, low = _SKIES.get(look.time, _SKIES["day"])
    steps = 6
    for i in range(steps):
        c = mix(top, low, i / (steps - 1))
        ya = y1 - (y1 - y0) * i / steps
        yb = y1 - (y1 - y0) * (i + 1) / steps
        if round_:
            continue
        pen.rect(x0, yb, x1, ya, c)
    if round_:
        cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
        pen.ellipse(cx, cy, r, r, fill=mix(top, low, 0.5))
        if look.time == "night" or look.theme == "ship":
            _stars(pen, look.key + "p", x0 + 0.05, x1 - 0.05, y0 + 0.05, y1 - 0.05, 80)
        return
    if look.time == "night":
        _stars(pen, look.key, x0 + 0.03, x1 - 0.03, y0 + 0.1, y1 - 0.03, 160)
        pen.ellipse(x0 + (x1 - x0) * 0.72, y1 - 0.25, 0.09, 0.09, fill=(235, 235, 215))
    elif look.time in ("day", "golden"):
        cx = x0 + (x1 - x0) * 0.3
        for dx, dy, r in ((0, 0, 0.12), (0.12, 0.03, 0.1), (-0.11, 0.02, 0.09)):
            pen.ellipse(cx + dx, y1 - 0.3 + dy, r, r * 0.7, fill=(246, 246, 250))


def _glow(colour: RGB) -> RGB:
    """A colour bright enough to read as light (screens, LEDs)."""
    return colour if max(colour) >= 140 else (90, 190, 235)


def _draw_prop(pen: Pen, p: Prop, look: PlaceLook) -> None:
    x, w, h, c = p.x, p.width, p.height, p.colour
    frame = scale(look.wall, 0.72)
    rng = random.Random(p.variant)
    k = p.kind
    if k == "window":
        y0 = 0.95
        pen.rect(x - w / 2 - 0.06, y0 - 0.06, x + w / 2 + 0.06, y0 + h + 0.06, (235, 235, 230))
        _window_glass(pen, x - w / 2, y0, x + w / 2, y0 + h, look)
        pen.line([(x, y0), (x, y0 + h)], (235, 235, 230), 0.04)
        pen.line([(x - w / 2, y0 + h * 0.55), (x + w / 2, y0 + h * 0.55)], (235, 235, 230), 0.04)
        pen.rect(x - w / 2 - 0.1, y0 - 0.1, x + w / 2 + 0.1, y0 - 0.04, scale(look.wall, 0.75))
    elif k == "porthole":
        cy = 1.5
        pen.ellipse(x, cy, w / 2 + 0.07, w / 2 + 0.07, fill=(150, 155, 165))
        _window_glass(pen, x - w / 2, cy - w / 2, x + w / 2, cy + w / 2, look, round_=True)
    elif k == "door":
        pen.rect(x - w / 2 - 0.06, 0.0, x + w / 2 + 0.06, h + 0.06, frame)
        pen.rect(x - w / 2, 0.0, x + w / 2, h, c)
        pen.rect(x - w / 2 + 0.1, h * 0.55, x + w / 2 - 0.1, h - 0.12, scale(c, 0.88))
        pen.rect(x - w / 2 + 0.1, 0.15, x + w / 2 - 0.1, h * 0.5, scale(c, 0.88))
        pen.ellipse(x + w / 2 - 0.12, 1.0, 0.035, 0.035, fill=(210, 190, 120))
    elif k == "rack":
        pen.rect(x - w / 2, 0.0, x + w / 2, h, (38, 40, 46), radius=0.02)
        units = 9
        for u in range(units):
            uy = 0.1 + u * (h - 0.2) / units
            pen.rect(
                x - w / 2 + 0.05, uy, x + w / 2 - 0.05, uy + (h - 0.2) / units - 0.03, (55, 58, 66)
            )
            for led in range(3):
                if rng.random() < 0.7:
                    pen.ellipse(
                        x + w / 2 - 0.1 - led * 0.05,
                        uy + 0.06,
                        0.012,
                        0.012,
                        fill=rng.choice(((80, 240, 120), _glow(look.accent), (240, 200, 80))),
                    )
    elif k in ("bookcase", "shelf", "cabinet", "fridge"):
        y0 = 1.2 if k == "shelf" else 0.0
        wood = mix(c, (110, 75, 50), 0.6)
        if k == "fridge":
            wood = (232, 234, 236)
        pen.rect(x - w / 2, y0, x + w / 2, y0 + h, wood, radius=0.02)
        if k == "fridge":
            pen.line([(x - w / 2, h * 0.62), (x + w / 2, h * 0.62)], (190, 192, 196), 0.015)
            pen.rect(x + w / 2 - 0.1, h * 0.66, x + w / 2 - 0.07, h * 0.85, (150, 150, 155))
            return
        if k == "cabinet":
            pen.line([(x, y0 + 0.05), (x, y0 + h - 0.05)], scale(wood, 0.7), 0.015)
            pen.rect(x - 0.06, y0 + h * 0.45, x - 0.04, y0 + h * 0.6, (200, 200, 205))
            pen.rect(x + 0.04, y0 + h * 0.45, x + 0.06, y0 + h * 0.6, (200, 200, 205))
            return
        shelves = max(1, round(h / 0.42))
        for s in range(shelves):
            sy0 = y0 + 0.05 + s * (h - 0.1) / shelves
            sy1 = sy0 + (h - 0.1) / shelves - 0.04
            pen.rect(x - w / 2 + 0.05, sy0, x + w / 2 - 0.05, sy1, scale(wood, 0.55))
            bx = x - w / 2 + 0.07
            while bx < x + w / 2 - 0.1:
                bw = rng.uniform(0.035, 0.08)
                bh = (sy1 - sy0) * rng.uniform(0.6, 0.95)
                colour = rng.choice(
                    (
                        (150, 40, 40),
                        (40, 70, 130),
                        (60, 110, 60),
                        (190, 150, 60),
                        (110, 60, 110),
                        (200, 190, 170),
                        c,
                    )
                )
                pen.rect(bx, sy0, bx + bw, sy0 + bh, colour)
                bx += bw + 0.01
    elif k in ("screen", "board", "picture", "clock"):
        cy = 1.55
        if k == "clock":
            pen.ellipse(
                x, 1.95, w / 2, w / 2, fill=(240, 238, 230), outline=(60, 60, 60), width=0.03
            )
            pen.line([(x, 1.95), (x, 2.06)], (40, 40, 40), 0.02)
            pen.line([(x, 1.95), (x + 0.08, 1.95)], (40, 40, 40), 0.02)
            return
        pen.rect(
            x - w / 2 - 0.04,
            cy - h / 2 - 0.04,
            x + w / 2 + 0.04,
            cy + h / 2 + 0.04,
            (45, 45, 50) if k == "screen" else (120, 90, 60) if k == "picture" else (170, 170, 175),
        )
        if k == "screen":
            glow = mix(_glow(look.accent), (255, 255, 255), 0.2)
            pen.rect(x - w / 2, cy - h / 2, x + w / 2, cy + h / 2, scale(glow, 0.45))
            for i in range(5):
                yy = cy + h / 2 - 0.1 - i * h / 6
                pen.line(
                    [(x - w / 2 + 0.08, yy), (x - w / 2 + 0.08 + rng.uniform(0.2, w - 0.2), yy)],
                    glow,
                    0.025,
                )
            pts = [
                (x + w * 0.05 + i * w * 0.04, cy - h / 4 + rng.uniform(-0.1, 0.12))
                for i in range(10)
            ]
            pen.line(pts, mix(glow, (255, 255, 255), 0.5), 0.015)
        elif k == "board":
            pen.rect(x - w / 2, cy - h / 2, x + w / 2, cy + h / 2, (238, 240, 240))
            for i in range(4):
                yy = cy + h / 2 - 0.15 - i * 0.2
                pen.line(
                    [(x - w / 2 + 0.1, yy), (x - w / 2 + 0.1 + rng.uniform(0.4, w - 0.3), yy)],
                    (60, 80, 150),
                    0.02,
                )
        else:
            pen.rect(x - w / 2, cy - h / 2, x + w / 2, cy + h / 2, mix(c, (240, 230, 200), 0.4))
            pen.poly(
                [
                    (x - w / 2, cy - h / 2),
                    (x - w / 6, cy + h / 5),
                    (x + w / 8, cy - h / 8),
                    (x + w / 3, cy + h / 6),
                    (x + w / 2, cy - h / 2),
                ],
                scale(c, 0.8),
            )
            pen.ellipse(x + w / 4, cy + h / 4, 0.06, 0.06, fill=(245, 220, 120))
    elif k in ("desk", "table", "bench", "counter", "console"):
        top = mix(c, (150, 110, 80), 0.5) if k in ("desk", "table") else c
        if k == "counter":
            top = mix(look.wall, (90, 90, 95), 0.4)
        if k == "console":
            top = (60, 66, 78)
        base = -0.12
        pen.rect(x - w / 2, base + h - 0.06, x + w / 2, base + h, scale(top, 0.85))
        if k in ("counter", "console", "bench"):
            pen.rect(x - w / 2 + 0.03, base, x + w / 2 - 0.03, base + h - 0.06, scale(top, 0.7))
            for i in range(1, 3 if k != "console" else 4):
                xx = x - w / 2 + i * w / (3 if k != "console" else 4)
                pen.line([(xx, base + 0.04), (xx, base + h - 0.1)], scale(top, 0.55), 0.012)
            if k == "console":
                for i in range(6):
                    pen.ellipse(
                        x - w / 2 + 0.15 + i * (w - 0.3) / 5,
                        base + h - 0.02,
                        0.03,
                        0.012,
                        fill=rng.choice(
                            ((240, 80, 80), (80, 240, 120), look.accent, (240, 200, 80))
                        ),
                    )
        else:
            for lx in (x - w / 2 + 0.06, x + w / 2 - 0.06):
                pen.rect(lx - 0.03, base, lx + 0.03, base + h - 0.06, scale(top, 0.6))
        if k == "desk":
            pen.rect(x - 0.28, base + h, x + 0.28, base + h + 0.38, (45, 45, 50))
            pen.rect(
                x - 0.25,
                base + h + 0.04,
                x + 0.25,
                base + h + 0.35,
                scale(mix(_glow(look.accent), (255, 255, 255), 0.3), 0.7),
            )
            pen.rect(x - 0.03, base + h - 0.02, x + 0.03, base + h + 0.04, (45, 45, 50))
        elif k == "bench" and look.theme == "lab":
            for i in range(3):
                fx = x - w / 3 + i * w / 3
                fc = rng.choice(((120, 220, 160), (230, 120, 200), look.accent))
                pen.rect(fx - 0.05, base + h, fx + 0.05, base + h + 0.18, (215, 230, 235))
                pen.rect(fx - 0.05, base + h, fx + 0.05, base + h + 0.08, fc)
        elif k in ("table", "counter"):
            pen.ellipse(
                x + rng.uniform(-0.3, 0.3),
                base + h + 0.06,
                0.07,
                0.06,
                fill=rng.choice(((230, 230, 225), (200, 80, 60), (240, 200, 90))),
            )
    elif k in ("sofa", "armchair", "bed"):
        base = -0.12
        cc = c
        pen.rect(x - w / 2, base + 0.12, x + w / 2, base + h, scale(cc, 0.85), radius=0.08)
        pen.rect(x - w / 2 + 0.1, base + 0.12, x + w / 2 - 0.1, base + h * 0.55, cc, radius=0.05)
        pen.rect(
            x - w / 2, base + 0.12, x - w / 2 + 0.16, base + h * 0.75, scale(cc, 0.75), radius=0.06
        )
        pen.rect(
            x + w / 2 - 0.16, base + 0.12, x + w / 2, base + h * 0.75, scale(cc, 0.75), radius=0.06
        )
        pen.rect(x - w / 2 + 0.08, base, x - w / 2 + 0.14, base + 0.12, (60, 45, 35))
        pen.rect(x + w / 2 - 0.14, base, x + w / 2 - 0.08, base + 0.12, (60, 45, 35))
    elif k == "plant":
        base = -0.1
        pen.rect(x - 0.18, base, x + 0.18, base + 0.38, (170, 90, 60), radius=0.03)
        leaf = (60, 130, 70)
        for i in range(7):
            a = -1.2 + i * 0.4
            lx, ly = x + math.sin(a) * 0.3, base + 0.45 + math.cos(a) * 0.45 * h / 1.2
            pen.ellipse(lx, ly, 0.13, 0.2, fill=scale(leaf, 0.8 + 0.08 * (i % 3)))
    elif k == "lamp":
        base = -0.1
        pen.rect(x - 0.15, base, x + 0.15, base + 0.04, (50, 50, 55))
        pen.line([(x, base), (x, base + h - 0.25)], (60, 60, 65), 0.03)
        pen.poly(
            [
                (x - 0.25, base + h - 0.3),
                (x + 0.25, base + h - 0.3),
                (x + 0.15, base + h),
                (x - 0.15, base + h),
            ],
            (245, 225, 170),
        )
    elif k == "fireplace":
        pen.rect(x - w / 2, 0.0, x + w / 2, h, (150, 90, 70))
        pen.rect(x - w / 2 - 0.1, h, x + w / 2 + 0.1, h + 0.08, (110, 70, 55))
        pen.rect(x - w / 4, 0.0, x + w / 4, h * 0.6, (30, 20, 18), radius=0.1)
        pen.ellipse(x, 0.15, w / 6, 0.18, fill=(250, 150, 50))
        pen.ellipse(x, 0.12, w / 10, 0.1, fill=(255, 220, 120))


def _draw_exterior(look: PlaceLook, props: list[Prop], view: View) -> Image.Image:
    space = look.theme == "space"
    horizon = 0.9 if look.theme in ("beach", "desert", "park", "mountain") else 0.0
    arr = _sky(view, look.time, horizon, look.key, space)
    y_h = view.py(horizon)
    rows = np.arange(view.h, dtype=np.float32)[:, None]
    ground_back = np.asarray(look.floor, np.float32)
    ground_front = np.asarray(scale(look.floor, 0.7), np.float32)
    t = np.clip((rows - y_h) / max(1.0, view.s * 3.0), 0, 1)
    ground = (ground_back * (1 - t) + ground_front * t).astype(np.uint8)
    first = int(max(0, min(view.h, math.ceil(y_h))))
    arr[first:] = ground[first:, None, :]
    image = Image.fromarray(arr)
    pen = Pen(image, view)
    x_lo, x_hi = view.wx(0) - 3, view.wx(view.w) + 3
    if look.time == "night" or space:
        _stars(pen, look.key, x_lo, x_hi, horizon + 0.5, horizon + 12, 500)
        if not space:
            pen.ellipse(3.2, horizon + 3.6, 0.28, 0.28, fill=(240, 240, 220))
    elif look.time in ("day", "golden", "dawn", "dusk"):
        sun = {
            "day": (255, 250, 220),
            "golden": (255, 230, 160),
            "dawn": (255, 200, 160),
            "dusk": (255, 170, 110),
        }[look.time]
        sy = horizon + (4.0 if look.time in ("day", "golden") else 0.9)
        pen.ellipse(-3.4, sy, 0.4, 0.4, fill=sun)
        rng = random.Random(look.key)
        for _ in range(7):
            cx, cy = rng.uniform(-13, 13), horizon + rng.uniform(2.4, 6.0)
            for dx in (-0.5, 0.0, 0.5):
                pen.ellipse(
                    cx + dx,
                    cy + (0.12 if dx == 0 else 0),
                    0.6,
                    0.3,
                    fill=mix((250, 250, 252), _SKIES[look.time][1], 0.25),
                )
    theme = look.theme
    if theme == "beach":
        pen.rect(x_lo, horizon - 0.9, x_hi, horizon, look.wall)
        for i in range(6):
            yy = horizon - 0.1 - i * 0.14
            pen.line([(x_lo, yy), (x_hi, yy)], mix(look.wall, (255, 255, 255), 0.3), 0.01)
    if theme == "city":
        pen.rect(x_lo, -0.35, x_hi, 0.0, scale(look.floor, 1.25))  # pavement
        pen.rect(x_lo, -0.4, x_hi, -0.35, scale(look.floor, 0.8))  # kerb
    base = horizon - (0.9 if theme == "beach" else 0.0)
    order = sorted(props, key=lambda p: p.kind not in ("peak", "dune", "planet"))
    for p in order:
        if x_lo - p.width <= p.x <= x_hi + p.width:
            _draw_outdoor(pen, p, look, base)
    return image


def _draw_outdoor(pen: Pen, p: Prop, look: PlaceLook, base: float) -> None:
    x, w, h, c = p.x, p.width, p.height, p.colour
    rng = random.Random(p.variant)
    k = p.kind
    if k == "building":
        body = mix(c, (90, 95, 110), 0.4)
        pen.rect(x - w / 2, base, x + w / 2, base + h, body)
        lit = look.time in ("night", "dusk")
        win_on = (250, 220, 140)
        win_off = scale(body, 0.7) if lit else mix(body, (190, 215, 235), 0.5)
        rows, cols = int(h / 0.9), max(2, int(w / 0.7))
        for r in range(rows):
            for q in range(cols):
                wx = x - w / 2 + (q + 0.5) * w / cols
                wy = base + 0.8 + r * 0.9
                on = lit and rng.random() < 0.45
                pen.rect(wx - 0.16, wy, wx + 0.16, wy + 0.42, win_on if on else win_off)
        if rng.random() < 0.5:
            pen.rect(x - 0.45, base, x + 0.45, base + 1.2, scale(body, 0.6))
    elif k in ("tree", "bush"):
        if k == "tree":
            pen.rect(x - 0.1, base, x + 0.1, base + h * 0.45, (100, 70, 45))
        leaf = mix(c, (60, 120, 55), 0.5)
        cy = base + (h * 0.62 if k == "tree" else h * 0.45)
        radius = w / 2
        for dx, dy, f in (
            (0.0, 0.15, 1.0),
            (-0.45, -0.1, 0.8),
            (0.45, -0.05, 0.8),
            (0.0, -0.3, 0.85),
        ):
            pen.ellipse(
                x + dx * radius,
                cy + dy * radius,
                radius * f,
                radius * f * (0.9 if k == "tree" else 0.6),
                fill=scale(leaf, 0.85 + 0.15 * f),
            )
    elif k == "pine":
        pen.rect(x - 0.07, base, x + 0.07, base + 0.5, (90, 60, 40))
        green = mix(c, (40, 90, 60), 0.6)
        for i in range(3):
            y0 = base + 0.4 + i * h * 0.25
            ww = w * (1 - i * 0.25) / 2
            pen.poly([(x - ww, y0), (x + ww, y0), (x, y0 + h * 0.45)], scale(green, 1 + 0.08 * i))
    elif k == "peak":
        rock = mix(c, (120, 125, 140), 0.5)
        pen.poly([(x - w / 2, base), (x, base + h), (x + w / 2, base)], rock)
        pen.poly(
            [
                (x - w * 0.11, base + h * 0.78),
                (x, base + h),
                (x + w * 0.11, base + h * 0.78),
                (x + w * 0.04, base + h * 0.74),
                (x - w * 0.03, base + h * 0.79),
            ],
            (245, 245, 250),
        )
    elif k == "dune":
        pen.chord(x, base, w / 2, h, 0, 180, scale(look.floor, 0.93))
        pen.chord(x, base, w / 2, h, 180, 360, scale(look.floor, 0.93))
    elif k == "cactus":
        green = (70, 130, 70)
        pen.rect(x - 0.1, base, x + 0.1, base + h, green, radius=0.1)
        pen.rect(x - 0.35, base + h * 0.45, x - 0.1, base + h * 0.55, green, radius=0.05)
        pen.rect(x - 0.35, base + h * 0.45, x - 0.25, base + h * 0.8, green, radius=0.05)
    elif k == "palm":
        pen.poly(
            [(x - 0.1, base), (x + 0.1, base), (x + 0.35, base + h), (x + 0.25, base + h)],
            (140, 100, 60),
        )
        for a in range(6):
            ang = a * math.pi / 3
            pen.line(
                [
                    (x + 0.3, base + h),
                    (x + 0.3 + math.cos(ang) * 1.0, base + h + math.sin(ang) * 0.5 - 0.2),
                ],
                (60, 130, 60),
                0.12,
            )
    elif k == "rock":
        pen.ellipse(x, base, w / 2, h, fill=mix(c, (120, 115, 110), 0.6))
    elif k == "umbrella":
        pen.line([(x, base), (x, base + h)], (230, 230, 230), 0.04)
        pen.chord(x, base + h - 0.05, w / 2, 0.5, 180, 360, look.accent)
    elif k == "bench":
        pen.rect(x - 0.8, base + 0.4, x + 0.8, base + 0.48, (120, 80, 50))
        pen.rect(x - 0.8, base + 0.6, x + 0.8, base + 0.8, (120, 80, 50))
        for lx in (x - 0.7, x + 0.7):
            pen.rect(lx - 0.03, base, lx + 0.03, base + 0.45, (50, 50, 50))
    elif k == "lamppost":
        pen.rect(x - 0.04, base, x + 0.04, base + h, (50, 55, 60))
        glow = (255, 230, 150) if look.time in ("night", "dusk") else (220, 220, 210)
        pen.ellipse(x, base + h, 0.12, 0.12, fill=glow)
    elif k == "planet":
        pen.ellipse(x, base + 3.0 + rng.uniform(0, 2), w / 2, w / 2, fill=c)
    elif k == "star":
        return


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


# -- figures ------------------------------------------------------------------------------


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
    p = _proportions(look)
    return Anchors(
        x,
        feet,
        feet + look.height + (0.08 if look.hat or look.hair_style == "bun" else 0.02),
        feet + p["head_y"],
        p["head_h"] / 2,
        (x, feet + p["mouth_y"], p["head_w"] * 0.17, p["head_h"] * 0.075),
        p["shoulder_w"] / 2 + p["arm_w"],
    )


def _proportions(look: FigureLook) -> dict[str, float]:
    h = look.height
    head_h = h * (0.165 if look.child else 0.135)
    head_w = head_h * 0.8
    head_y = h - head_h / 2
    shoulder_y = h - head_h * 1.22
    shoulder_w = h * (0.235 if not look.child else 0.26) * look.build
    return {
        "head_h": head_h,
        "head_w": head_w,
        "head_y": head_y,
        "mouth_y": head_y - head_h * 0.25,
        "eye_y": head_y + head_h * 0.03,
        "shoulder_y": shoulder_y,
        "shoulder_w": shoulder_w,
        "hip_y": h * (0.47 if not look.child else 0.44),
        "hip_w": shoulder_w * 0.8,
        "arm_w": h * 0.052 * look.build,
        "hand_y": h * 0.4,
    }


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
    _human(pen, _hologram_look(look) if hologram else look, x, feet)
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


def _human(pen: Pen, look: FigureLook, x: float, feet: float) -> None:
    p = _proportions(look)
    h = look.height
    hw, sw, aw = p["hip_w"], p["shoulder_w"], p["arm_w"]
    sy, hy = feet + p["shoulder_y"], feet + p["hip_y"]
    skin, top, bottom = look.skin, look.top, look.bottom
    robot = look.kind == "robot"
    # hair that hangs behind the head and shoulders
    hx, hcy = x, feet + p["head_y"]
    hh, hwid = p["head_h"], p["head_w"]
    if look.hair_style == "long":
        pen.rect(
            hx - hwid * 0.62,
            sy - hh * 0.35,
            hx + hwid * 0.62,
            hcy + hh * 0.2,
            look.hair,
            radius=hwid * 0.3,
        )
    elif look.hair_style == "braids":
        for side in (-1, 1):
            pen.rect(
                hx + side * hwid * 0.5 - hwid * 0.11,
                sy - hh * 0.6,
                hx + side * hwid * 0.5 + hwid * 0.11,
                hcy,
                look.hair,
                radius=hwid * 0.1,
            )
    elif look.hair_style == "ponytail":
        pen.ellipse(hx + hwid * 0.55, hcy - hh * 0.05, hwid * 0.2, hh * 0.42, fill=look.hair)
        pen.ellipse(
            hx + hwid * 0.5, hcy + hh * 0.3, hwid * 0.13, hh * 0.1, fill=scale(look.hair, 0.8)
        )
    # legs and shoes
    foot_y = feet + h * 0.045
    lw = hw * 0.42
    legs_colour = bottom
    if look.top_kind == "dress" or look.bottom_kind in ("skirt",):
        legs_colour = skin
    for side in (-1, 1):
        lx = x + side * (hw / 2 - lw / 2)
        pen.rect(lx - lw / 2, foot_y, lx + lw / 2, hy + 0.02, legs_colour)
        if look.bottom_kind == "shorts":
            pen.rect(lx - lw / 2, foot_y, lx + lw / 2, feet + h * 0.3, skin)
        pen.ellipse(lx + side * lw * 0.12, feet + h * 0.025, lw * 0.68, h * 0.03, fill=look.shoes)
    # arms (behind the torso)
    sleeve = scale(top, 0.86) if look.top_kind != "dress" else skin
    for side in (-1, 1):
        ax = x + side * (sw / 2 + aw * 0.3)
        hand_y = feet + p["hand_y"]
        pen.poly(
            [
                (ax - aw / 2, sy - aw * 0.3),
                (ax + aw / 2, sy - aw * 0.3),
                (ax + aw * 0.45 + side * aw * 0.3, hand_y + aw),
                (ax - aw * 0.45 + side * aw * 0.3, hand_y + aw),
            ],
            sleeve,
        )
        pen.ellipse(ax + side * aw * 0.3, hand_y + aw * 0.3, aw * 0.5, aw * 0.62, fill=skin)
    # skirt / dress / coat tails
    if look.top_kind == "dress":
        hem = feet + h * 0.26
        pen.poly(
            [
                (x - hw / 2, hy + 0.05),
                (x + hw / 2, hy + 0.05),
                (x + hw * 0.75, hem),
                (x - hw * 0.75, hem),
            ],
            top,
        )
    elif look.bottom_kind == "skirt":
        hem = feet + h * 0.28
        pen.poly(
            [
                (x - hw / 2, hy + 0.03),
                (x + hw / 2, hy + 0.03),
                (x + hw * 0.72, hem),
                (x - hw * 0.72, hem),
            ],
            bottom,
        )
    elif look.top_kind == "coat":
        pen.poly(
            [
                (x - hw / 2 - 0.01, hy + 0.05),
                (x + hw / 2 + 0.01, hy + 0.05),
                (x + hw * 0.6, feet + h * 0.27),
                (x - hw * 0.6, feet + h * 0.27),
            ],
            scale(top, 0.94),
        )
        pen.line([(x, hy + 0.05), (x, feet + h * 0.27)], scale(top, 0.7), 0.008)
    # torso, with rounded shoulders over the tops of the arms
    pen.poly(
        [
            (x - sw / 2, sy - (sy - hy) * 0.2),
            (x + sw / 2, sy - (sy - hy) * 0.2),
            (x + hw / 2, hy),
            (x - hw / 2, hy),
        ],
        top,
    )
    pen.rect(
        x - sw / 2 - aw * 0.8,
        sy - (sy - hy) * 0.3,
        x + sw / 2 + aw * 0.8,
        sy + aw * 0.12,
        top,
        radius=aw * 0.75,
    )
    if look.top_pattern == "colourful":
        bands = ((230, 70, 70), (250, 190, 50), (70, 170, 90), (60, 120, 220), (170, 80, 200))
        n = len(bands)
        for i, c in enumerate(bands):
            ya = sy - (sy - hy) * (i + 0.1) / n
            yb = sy - (sy - hy) * (i + 0.55) / n
            t0 = (sy - ya) / (sy - hy)
            t1 = (sy - yb) / (sy - hy)
            wa = sw / 2 + (hw / 2 - sw / 2) * t0
            wb = sw / 2 + (hw / 2 - sw / 2) * t1
            pen.poly([(x - wa, ya), (x + wa, ya), (x + wb, yb), (x - wb, yb)], c)
    elif look.top_pattern == "stripes":
        n = 6
        for i in range(n):
            ya = sy - (sy - hy) * (i + 0.5) / n
            t0 = (sy - ya) / (sy - hy)
            wa = sw / 2 + (hw / 2 - sw / 2) * t0
            pen.line([(x - wa, ya), (x + wa, ya)], mix(top, (255, 255, 255), 0.55), 0.02)
    if look.top_kind == "coat" or look.inner is not None:
        inner = look.inner if look.inner is not None else (235, 235, 235)
        pen.poly(
            [(x - sw * 0.18, sy), (x, sy - (sy - hy) * 0.45), (x + sw * 0.18, sy)],
            mix(top, (20, 20, 20), 0.15) if robot else inner,
        )
        pen.line([(x, sy - (sy - hy) * 0.45), (x, hy)], scale(top, 0.75), 0.008)
    if look.bottom_kind not in ("skirt",) and look.top_kind != "dress":
        pen.rect(x - hw / 2, hy, x + hw / 2, hy + 0.035, scale(bottom, 0.8))  # belt line
    if robot:
        pen.rect(
            x - sw * 0.2,
            sy - (sy - hy) * 0.5,
            x + sw * 0.2,
            sy - (sy - hy) * 0.15,
            scale(top, 0.75),
            radius=0.02,
        )
        pen.ellipse(x, sy - (sy - hy) * 0.32, sw * 0.06, sw * 0.06, fill=look.glow)
    # neck
    nw = hwid * 0.36
    pen.rect(x - nw / 2, sy - 0.02, x + nw / 2, hcy - hh * 0.3, scale(skin, 0.9))
    pen.chord(x, sy, nw * 0.9, hh * 0.14, 180, 360, scale(skin, 0.9))
    if look.neckwear is not None:  # a scarf: a band at the neck and one loose end
        pen.rect(x - nw * 0.9, sy - 0.05, x + nw * 0.9, sy + 0.02, look.neckwear, radius=0.02)
        pen.rect(
            x + nw * 0.2, sy - (sy - hy) * 0.4, x + nw * 0.75, sy - 0.02, look.neckwear, radius=0.01
        )
    if look.hat is None and look.hair_style not in ("bald",) and not robot:
        # hair volume behind the top of the head
        pen.ellipse(hx, hcy + hh * 0.08, hwid * 0.58, hh * 0.5, fill=look.hair)
    # head
    if robot:
        pen.rect(
            hx - hwid * 0.55,
            hcy - hh * 0.5,
            hx + hwid * 0.55,
            hcy + hh * 0.5,
            skin,
            radius=hwid * 0.15,
        )
        pen.line([(hx, hcy + hh * 0.5), (hx, hcy + hh * 0.75)], scale(skin, 0.6), 0.012)
        pen.ellipse(hx, hcy + hh * 0.78, hwid * 0.08, hwid * 0.08, fill=look.glow)
        pen.rect(
            hx - hwid * 0.42,
            hcy - hh * 0.02,
            hx + hwid * 0.42,
            hcy + hh * 0.22,
            (30, 34, 44),
            radius=hwid * 0.08,
        )
        for side in (-1, 1):
            pen.ellipse(
                hx + side * hwid * 0.2, hcy + hh * 0.1, hwid * 0.08, hwid * 0.06, fill=look.glow
            )
        pen.rect(
            hx - hwid * 0.22,
            hcy - hh * 0.3,
            hx + hwid * 0.22,
            hcy - hh * 0.2,
            (40, 44, 52),
            radius=0.005,
        )
        return
    for side in (-1, 1):
        pen.ellipse(hx + side * hwid * 0.5, hcy, hwid * 0.1, hh * 0.12, fill=scale(skin, 0.93))
    pen.ellipse(hx, hcy, hwid / 2, hh / 2, fill=skin)
    if look.beard is not None and look.beard_style == "stubble":
        pen.chord(hx, hcy, hwid / 2, hh / 2, 15, 165, mix(skin, look.beard, 0.35))
    elif look.beard is not None and look.beard_style == "full":
        edge = scale(look.beard, 0.72) if sum(look.beard) > 300 else scale(look.beard, 1.3)
        pen.chord(hx, hcy - hh * 0.03, hwid / 2 + 0.01, hh / 2 + 0.02, 0, 180, edge)
        pen.chord(hx, hcy - hh * 0.03, hwid / 2 + 0.002, hh / 2 + 0.01, 0, 180, look.beard)
        pen.ellipse(hx, hcy - hh * 0.1, hwid * 0.5, hh * 0.16, fill=look.beard)
        for k in range(-3, 4):
            bx = hx + k * hwid * 0.1
            pen.line([(bx, hcy - hh * 0.33), (bx + hwid * 0.02, hcy - hh * 0.45)], edge, hh * 0.012)
        # the mouth sits in a gap of skin-darkened beard
        pen.ellipse(hx, hcy - hh * 0.25, hwid * 0.2, hh * 0.07, fill=scale(skin, 0.85))
    # eyes and brows
    ey = feet + p["eye_y"]
    for side in (-1, 1):
        ex = hx + side * hwid * 0.2
        pen.ellipse(ex, ey, hwid * 0.075, hh * 0.045, fill=(250, 250, 250))
        pen.ellipse(ex, ey, hwid * 0.05, hwid * 0.05, fill=(45, 35, 30))
        pen.ellipse(
            ex + hwid * 0.015, ey + hwid * 0.018, hwid * 0.014, hwid * 0.014, fill=(255, 255, 255)
        )
        pen.line(
            [(ex - hwid * 0.09, ey + hh * 0.1), (ex + hwid * 0.09, ey + hh * 0.115)],
            scale(look.hair, 0.8) if look.hair_style != "bald" else scale(skin, 0.7),
            hh * 0.03,
        )
    pen.ellipse(hx, hcy - hh * 0.11, hwid * 0.07, hh * 0.035, fill=scale(skin, 0.84))
    for side in (-1, 1):  # cheeks
        pen.ellipse(
            hx + side * hwid * 0.3,
            hcy - hh * 0.12,
            hwid * 0.09,
            hh * 0.05,
            fill=mix(skin, (230, 120, 120), 0.25),
        )
    if look.beard is not None and look.beard_style == "moustache":
        pen.ellipse(hx, hcy - hh * 0.185, hwid * 0.2, hh * 0.045, fill=look.beard)
    draw_mouth(pen, look, x, feet, 0.0)
    if look.beard is not None and look.beard_style == "full":
        pen.ellipse(hx, hcy - hh * 0.185, hwid * 0.22, hh * 0.05, fill=look.beard)
    # hair on top
    style = look.hair_style
    if look.hat is not None:
        pen.chord(hx, hcy + hh * 0.12, hwid * 0.56, hh * 0.48, 180, 360, look.hat)
        pen.rect(
            hx - hwid * 0.75,
            hcy + hh * 0.1,
            hx + hwid * 0.75,
            hcy + hh * 0.17,
            scale(look.hat, 0.85),
            radius=0.01,
        )
    elif style == "bald":
        if look.elderly:
            for side in (-1, 1):
                pen.ellipse(
                    hx + side * hwid * 0.47, hcy + hh * 0.08, hwid * 0.1, hh * 0.16, fill=look.hair
                )
    elif style == "curly":
        for i in range(9):
            a = math.pi * (0.05 + 0.9 * i / 8)
            pen.ellipse(
                hx + math.cos(a) * hwid * 0.45,
                hcy + hh * 0.2 + math.sin(a) * hh * 0.3,
                hwid * 0.17,
                hh * 0.14,
                fill=scale(look.hair, 0.9 + 0.1 * (i % 2)),
            )
    else:
        pen.chord(hx, hcy + hh * 0.2, hwid * 0.53, hh * 0.36, 180, 360, look.hair)
        pen.chord(hx - hwid * 0.12, hcy + hh * 0.24, hwid * 0.4, hh * 0.12, 150, 360, look.hair)
        if style == "bun":
            pen.ellipse(hx, hcy + hh * 0.58, hwid * 0.2, hh * 0.14, fill=look.hair)
    if look.glasses:
        gy = ey
        frame = (35, 30, 30)
        for side in (-1, 1):
            pen.ellipse(
                hx + side * hwid * 0.2, gy, hwid * 0.14, hwid * 0.13, outline=frame, width=hh * 0.02
            )
        pen.line(
            [(hx - hwid * 0.07, gy + hh * 0.01), (hx + hwid * 0.07, gy + hh * 0.01)],
            frame,
            hh * 0.018,
        )


def draw_mouth(pen: Pen, look: FigureLook, x: float, feet: float, openness: float) -> None:
    """The mouth: a line when closed, an opening dark oval when ``openness`` > 0."""
    p = _proportions(look)
    hw, hh = p["head_w"], p["head_h"]
    my = feet + p["mouth_y"]
    if look.kind == "robot":
        glow = look.glow if openness > 0 else (40, 44, 52)
        pen.rect(
            x - hw * 0.22,
            my - hh * 0.05 - hh * 0.05 * openness,
            x + hw * 0.22,
            my + hh * 0.05 + hh * 0.02 * openness,
            mix((40, 44, 52), glow, 0.3 + openness * 0.7),
            radius=0.005,
        )
        return
    skin = look.skin if look.kind != "hologram" else mix(look.glow, (255, 255, 255), 0.55)
    lip = mix(skin, (150, 50, 50), 0.55)
    if openness <= 0:
        pen.ellipse(x, my, hw * 0.16, hh * 0.022, fill=lip)
        return
    ry = hh * (0.02 + 0.065 * openness)
    pen.ellipse(x, my - ry * 0.3, hw * (0.13 + 0.03 * openness), ry, fill=lip)
    pen.ellipse(x, my - ry * 0.3, hw * (0.11 + 0.03 * openness), ry * 0.72, fill=(70, 25, 30))
    if openness > 0.5:
        pen.rect(
            x - hw * 0.08,
            my - ry * 0.3 + ry * 0.35,
            x + hw * 0.08,
            my - ry * 0.3 + ry * 0.7,
            (240, 240, 235),
        )


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


# -- labels, captions, grades ---------------------------------------------------------------


def draw_label(
    image: Image.Image, text: str, cx: float, cy: float, size: int, offset: tuple[int, int] = (0, 0)
) -> None:
    """A character's name in a small dark pill centred at layer pixel (cx, cy)."""
    f = font(size)
    tw = f.getlength(text)
    pad_x, pad_y = size * 0.5, size * 0.28
    w, h = tw + 2 * pad_x, size + 2 * pad_y
    left, top = cx - w / 2 - offset[0], cy - h / 2 - offset[1]
    if left > image.width or top > image.height or left + w < 0 or top + h < 0:
        return
    box = (math.floor(left), math.floor(top), math.ceil(left + w), math.ceil(top + h))
    clip = (max(0, box[0]), max(0, box[1]), min(image.width, box[2]), min(image.height, box[3]))
    pill = Image.new("RGBA", (box[2] - box[0], box[3] - box[1]), (0, 0, 0, 0))
    pd = ImageDraw.Draw(pill)
    pd.rounded_rectangle(
        (0, 0, pill.width - 1, pill.height - 1), pill.height / 2, fill=(18, 18, 22, 170)
    )
    pd.text((pad_x, pad_y + size * 0.02), text, font=f, fill=(255, 255, 255, 255), anchor="la")
    region = image.crop(clip).convert("RGBA")
    region.alpha_composite(
        pill.crop((clip[0] - box[0], clip[1] - box[1], clip[2] - box[0], clip[3] - box[1]))
    )
    image.paste(region.convert("RGB"), clip[:2])


def wrap(text: str, size: int, width: float, max_lines: int) -> list[str]:
    """Greedy word wrap to ``width`` px; the last line ends in an ellipsis if cut."""
    f = font(size)
    words = text.split()
    lines: list[str] = []
    line = ""
    for word in words:
        trial = f"{line} {word}".strip()
        if f.getlength(trial) <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and f.getlength(last + "…") > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines


def text_panel(
    lines: list[str],
    size: int,
    width: int,
    align: str = "center",
    fill: tuple[int, int, int, int] = (10, 10, 14, 150),
) -> Image.Image:
    """An RGBA panel: wrapped lines of white text on a translucent rounded band."""
    f = font(size)
    line_h = round(size * 1.28)
    pad = round(size * 0.55)
    h = line_h * len(lines) + 2 * pad
    h += h % 2
    width += width % 2
    panel = Image.new("RGBA", (width, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(panel)
    d.rounded_rectangle((0, 0, width - 1, h - 1), min(h / 2, size * 0.6), fill=fill)
    for i, line in enumerate(lines):
        y = pad + i * line_h + (line_h - size) / 2
        x = (width - f.getlength(line)) / 2 if align == "center" else pad
        d.text((x + 1, y + 1), line, font=f, fill=(0, 0, 0, 200))
        d.text((x, y), line, font=f, fill=(255, 255, 255, 255))
    return panel


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
