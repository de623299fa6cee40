"""Skies: their colours by time of day, the gradient behind a landscape, and stars."""

from __future__ import annotations

import random

import numpy as np

from ministudio.engines.animatic.draw.canvas import Pen, View
from ministudio.engines.animatic.looks import RGB

SKIES: dict[str, tuple[RGB, RGB]] = {  # top, horizon
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


def sky_gradient(
    view: View, time: str, horizon: float, key: str, space: bool = False
) -> np.ndarray:
    top, low = ((2, 3, 10), (14, 16, 34)) if space else SKIES.get(time, SKIES["day"])
    y_top, y_h = view.py(horizon + 9.0), view.py(horizon)
    return _vertical_gradient(view.w, view.h, top, low, y_top, y_h)


def draw_stars(pen: Pen, key: str, x0: float, x1: float, y0: float, y1: float, n: int) -> None:
    rng = random.Random(key)
    for _ in range(n):
        x, y = rng.uniform(-14, 14), rng.uniform(y0, y1)
        if x0 <= x <= x1:
            b = rng.randint(150, 255)
            r = rng.uniform(0.008, 0.02)
            pen.ellipse(x, y, r, r, fill=(b, b, min(255, b + 20)))
