"""Drawing in world units (metres): a ``View`` maps the world onto an image (x grows to the
right, y grows up, a room's floor line is y = 0), a ``Pen`` draws shapes through it, and the
heights everything stands at."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

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
