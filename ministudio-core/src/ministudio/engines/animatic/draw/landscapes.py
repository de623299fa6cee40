"""Exteriors: sky, sun or stars and clouds, ground, and the outdoor props (buildings, trees,
peaks, dunes, palms...)."""

from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image

from ministudio.engines.animatic.draw.canvas import Pen, View
from ministudio.engines.animatic.draw.sky import SKIES, draw_stars, sky_gradient
from ministudio.engines.animatic.looks import PlaceLook, Prop, mix, scale


def draw_exterior(look: PlaceLook, props: list[Prop], view: View) -> Image.Image:
    space = look.theme == "space"
    horizon = 0.9 if look.theme in ("beach", "desert", "park", "mountain") else 0.0
    arr = sky_gradient(view, look.time, horizon, look.key, space)
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
        draw_stars(pen, look.key, x_lo, x_hi, horizon + 0.5, horizon + 12, 500)
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
                    fill=mix((250, 250, 252), SKIES[look.time][1], 0.25),
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
