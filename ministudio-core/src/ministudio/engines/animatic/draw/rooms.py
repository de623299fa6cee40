"""Interiors: a room's wall, floor and cornice by theme, and the props along its wall
(windows with the sky behind them, screens, shelves, counters...)."""

from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image

from ministudio.engines.animatic.draw.canvas import CEILING, Pen, View
from ministudio.engines.animatic.draw.sky import SKIES, draw_stars
from ministudio.engines.animatic.looks import RGB, PlaceLook, Prop, mix, scale


def draw_interior(look: PlaceLook, props: list[Prop], view: View) -> Image.Image:
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
    top, low = SKIES.get(look.time, SKIES["day"])
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
            draw_stars(pen, look.key + "p", x0 + 0.05, x1 - 0.05, y0 + 0.05, y1 - 0.05, 80)
        return
    if look.time == "night":
        draw_stars(pen, look.key, x0 + 0.03, x1 - 0.03, y0 + 0.1, y1 - 0.03, 160)
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
