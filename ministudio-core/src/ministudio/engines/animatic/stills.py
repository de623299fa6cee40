"""The ``animatic-stills`` image engine: a character's sheet and an empty set, drawn as the
previz draws them, for ``ministudio cast``.

A character is read from its id and DNA exactly as the animatic reads it in a shot
(``looks.figure_look``), so the sheet has the previz's colours, build and features. The front
view is the previz's own figure; the three-quarter view is the same drawing turned about 45
degrees to the viewer's left (the face's features move toward the far side, which narrows);
the profile is the figure drawn side-on, facing left. Each stands full length on a plain
neutral backdrop with the character's name as a small caption. A set is the place as the
animatic paints a shot's background (a wide framing, its palette, its lighting grade), with no
one in it. Everything is a pure function of the request: the same request, the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ministudio.engines.animatic import draw
from ministudio.engines.animatic.draw import FEET, ORB_RADIUS, Fill, Pen, View
from ministudio.engines.animatic.draw.figures import _hologram_look
from ministudio.engines.animatic.draw.human import draw_human, proportions
from ministudio.engines.animatic.framing import fit_in, framing
from ministudio.engines.animatic.looks import (
    FigureLook,
    figure_look,
    grade_for,
    mix,
    place_look,
    scale,
)
from ministudio.errors import EngineRefusal
from ministudio.jobs import ImageRequest

ENGINE = "animatic-stills"
MODEL = "animatic-stills-1"
MIN_SIDE, MAX_SIDE = 16, 4096  # pixels, each side
MAX_TEXT = 20_000  # characters of a DNA or a place's description
BACKDROP = (222, 222, 226)  # the sheet's plain, neutral grey
TURN_FACE = 0.45  # three-quarter: how far the face's middle moves, in head half-widths
TURN_BODY = 0.3  # ... and the body's front middle, in body half-widths
TURN_NARROW = 0.88  # ... and the turned body's width, over the front's


def draw_still(request: ImageRequest, output: Path) -> Path:
    """Draw ``request`` as a PNG of ``request.width`` x ``request.height`` at ``output``."""
    check(request)
    image = character_still(request) if request.subject == "character" else set_still(request)
    output.parent.mkdir(parents=True, exist_ok=True)
    image.save(output, "PNG")
    return output


def check(request: ImageRequest) -> None:
    """Refuse what this engine cannot draw, saying what to change."""
    w, h = request.width, request.height
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise EngineRefusal(
            ENGINE,
            f"a still of {w}x{h} px: each side must be {MIN_SIDE} to {MAX_SIDE} px; "
            "ask for a size in that range",
        )
    if (request.subject == "character") != (request.view != "set"):
        subject, views = (
            ("a character", "'front', 'three-quarter' or 'profile'")
            if request.subject == "character"
            else ("an environment", "'set'")
        )
        raise EngineRefusal(
            ENGINE,
            f"{subject} drawn in the view '{request.view}': {subject} takes the view {views}",
        )
    if request.model not in (None, MODEL):
        raise EngineRefusal(
            ENGINE, f"no model '{request.model[:80]}': its one model is '{MODEL}' (or none)"
        )
    if len(request.description) > MAX_TEXT or len(request.name) > MAX_TEXT:
        raise EngineRefusal(
            ENGINE, f"a description or name longer than {MAX_TEXT} characters: shorten it"
        )


# -- a character's sheet ------------------------------------------------------------------


def character_still(request: ImageRequest) -> Image.Image:
    """One view of the character: full length on the backdrop, its name below."""
    w, h = request.width, request.height
    look = figure_look(request.id, request.description)
    caption = max(10, round(min(w, h) * 0.03))
    reserve = min(0.3, caption * 2.6 / h) if request.name.strip() else 0.0
    view = _sheet_view(look, w, h, reserve)
    image = Image.new("RGB", (w, h), BACKDROP)
    if look.kind == "orb":
        _orb(image, look, view, request.view)
    elif request.view == "front":
        draw.draw_figure(image, look, 0.0, FEET, view)  # the previz's own figure
    else:
        paint = _turned if request.view == "three-quarter" else _profile
        sprite = _sprite(look, view, paint)
        if sprite is not None:
            draw.draw_figure(image, look, 0.0, FEET, view, sprite)
    name = " ".join(request.name.split())
    if name:
        label = draw.wrap(name, caption, w * 0.8, 1)[0]
        draw.draw_label(image, label, w / 2, h - caption * 1.7, caption)
    return image


def _sheet_view(look: FigureLook, w: int, h: int, reserve: float) -> View:
    """A view holding the whole figure, a margin round it, and the caption's band below."""
    x0, y0, x1, y1 = draw.figure_bounds(look, 0.0, FEET)
    margin = (y1 - y0) * 0.06
    fx0, fy0, _fx1, fy1 = fit_in(
        (x0 - margin, y0 - margin, x1 + margin, y1 + margin), w / h, reserve
    )
    return View(fx0, fy1, h / (fy1 - fy0), w, h)


def _sprite(
    look: FigureLook, view: View, paint: Callable[[Pen, FigureLook, float, float], None]
) -> draw.Sprite | None:
    """``paint`` (a figure's drawing at x = 0 on the floor) as a sprite, supersampled as the
    animatic draws its figures (``draw.figure_sprite``), so the outline and shadow match."""
    x0, y0, x1, y1 = draw.figure_bounds(look, 0.0, FEET)
    left, top = max(0, math.floor(view.px(x0))), max(0, math.floor(view.py(y1)))
    right, bottom = min(view.w, math.ceil(view.px(x1))), min(view.h, math.ceil(view.py(y0)))
    if right - left < 2 or bottom - top < 2:
        return None
    area = (right - left) * (bottom - top)
    ss = 3 if area < 120_000 else 2 if area < 700_000 else 1
    hologram = look.kind == "hologram"
    size = ((right - left) * ss, (bottom - top) * ss)
    rgb = Image.new("RGB", size, look.glow if hologram else draw.OUTLINE)
    mask = Image.new("L", size, 0)
    pen = Pen(rgb, view.sub(left, top, right - left, bottom - top, ss), mask)
    paint(pen, _hologram_look(look) if hologram else look, 0.0, FEET)
    if ss > 1:
        rgb, mask = rgb.reduce(ss), mask.reduce(ss)
    return draw.Sprite(rgb, mask, left, top)


def _orb(image: Image.Image, look: FigureLook, view: View, turn: str) -> None:
    """An orb is round from every side: turned, its glint moves toward the way it faces
    and a wisp of its glow trails behind it, longer seen side-on."""
    a = draw.anchors(look, 0.0, FEET)
    cx, cy, r = view.px(a.x), view.py(a.head_y), ORB_RADIUS * view.s
    turned = {"front": 0.0, "three-quarter": 0.5, "profile": 1.0}[turn]
    pen = Pen(image, view)
    for i in range(6 if turned else 0):  # the wisp, fading toward the backdrop
        t = (i + 1) / 6
        at = a.x + ORB_RADIUS * (0.9 + 2.2 * t * turned)
        shade = mix(look.glow, BACKDROP, 0.3 + 0.6 * t)
        pen.ellipse(
            at, a.head_y, ORB_RADIUS * (0.55 - 0.4 * t), ORB_RADIUS * (0.5 - 0.35 * t), shade
        )
    arr = np.array(image)
    draw.draw_orb(arr, look.glow, cx, cy, r)
    image.paste(Image.fromarray(arr))
    glint = mix(look.glow, (255, 255, 255), 0.95)
    gx, gy = a.x - ORB_RADIUS * 0.55 * turned, a.head_y + ORB_RADIUS * 0.35
    pen.ellipse(gx, gy, ORB_RADIUS * 0.22 * (1 - turned * 0.4), ORB_RADIUS * 0.16, fill=glint)


class _TurnedPen(Pen):
    """A pen that turns the animatic's front-facing figure about 45 degrees to the viewer's left.

    Each shape's x is moved as a point on a cylinder would be: the head about its own middle,
    everything below the chin about the body's. A point at ``u`` half-widths from the middle
    goes to ``u - k (1 - u^2)``: the edges stay put, the middle (nose, mouth, buttons, belt
    buckle) moves ``k`` toward the far side, which narrows while the near side widens.
    """

    def __init__(self, pen: Pen, look: FigureLook, x: float, feet: float) -> None:
        super().__init__(pen.image, pen.view)
        self.draw, self.mask = pen.draw, pen.mask
        p = proportions(look)
        self.x = x
        self.body_r = p["shoulder_w"] / 2 + p["arm_w"]
        self.head_r = p["head_w"] / 2
        # the head rides on the turned neck
        self.head_x = x - TURN_BODY * TURN_NARROW * self.body_r
        self.chin = feet + p["head_y"] - p["head_h"] / 2

    def tx(self, x: float, y: float) -> float:
        if y >= self.chin:
            centre, r, k, at, narrow = self.x, self.head_r, TURN_FACE, self.head_x, 1.0
        else:
            centre, r, k, at, narrow = self.x, self.body_r, TURN_BODY, self.x, TURN_NARROW
        u = (x - centre) / r
        if u < -1:
            v = -1 + (u + 1) * (1 - 2 * k)  # the far side, beyond the edge: squeezed
        elif u > 1:
            v = 1 + (u - 1)
        else:
            v = u - k * (1 - u * u)
        return at + v * r * narrow

    def rect(
        self, x0: float, y0: float, x1: float, y1: float, fill: Fill, radius: float = 0.0
    ) -> None:
        y = (y0 + y1) / 2
        super().rect(self.tx(x0, y), y0, self.tx(x1, y), y1, fill, radius)

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
        a, b = self.tx(cx - rx, cy), self.tx(cx + rx, cy)
        super().ellipse((a + b) / 2, cy, (b - a) / 2, ry, fill, outline, width)

    def chord(
        self, cx: float, cy: float, rx: float, ry: float, start: float, end: float, fill: Fill
    ) -> None:
        a, b = self.tx(cx - rx, cy), self.tx(cx + rx, cy)
        super().chord((a + b) / 2, cy, (b - a) / 2, ry, start, end, fill)

    def _points(self, points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        y = sum(p[1] for p in points) / max(1, len(points))
        return [(self.tx(px, y), py) for px, py in points]

    def poly(self, points: Sequence[tuple[float, float]], fill: Fill) -> None:
        super().poly(self._points(points), fill)

    def line(self, points: Sequence[tuple[float, float]], fill: Fill, width: float) -> None:
        super().line(self._points(points), fill, width)


def _turned(pen: Pen, look: FigureLook, x: float, feet: float) -> None:
    """The three-quarter view: the animatic's own figure drawn through a turning pen."""
    draw_human(_TurnedPen(pen, look, x, feet), look, x, feet)


def _profile(pen: Pen, look: FigureLook, x: float, feet: float) -> None:
    """The figure side-on, facing the viewer's left, in the look's colours and proportions."""
    p = proportions(look)
    h = look.height
    robot = look.kind == "robot"
    hh, hwid = p["head_h"], p["head_w"]
    hd = hh * 0.84  # a head seen from the side is deeper than it is wide
    sy, hy = feet + p["shoulder_y"], feet + p["hip_y"]
    depth = p["shoulder_w"] * 0.52  # the torso, front to back
    hw, aw = p["hip_w"], p["arm_w"]
    hx, hcy = x - depth * 0.08, feet + p["head_y"]
    skin, top, bottom = look.skin, look.top, look.bottom
    bare_head = look.hat is None and look.hair_style != "bald" and not robot
    # hair that hangs down the back
    if bare_head and look.hair_style == "long":
        pen.rect(hx, sy - hh * 0.35, hx + hd * 0.56, hcy + hh * 0.2, look.hair, radius=hd * 0.2)
    elif bare_head and look.hair_style == "braids":
        pen.rect(hx + hd * 0.3, sy - hh * 0.6, hx + hd * 0.5, hcy, look.hair, radius=hd * 0.08)
    elif bare_head and look.hair_style == "ponytail":
        pen.ellipse(hx + hd * 0.62, hcy - hh * 0.12, hd * 0.16, hh * 0.4, fill=look.hair)
    # legs, the far one a shade darker, shoes pointing forward
    lw = hw * 0.46
    bare_legs = look.top_kind == "dress" or look.bottom_kind == "skirt"
    foot_y = feet + h * 0.045
    for side, shade in ((1, 0.82), (-1, 1.0)):
        lx = x + side * lw * 0.22
        leg = scale(skin if bare_legs else bottom, shade)
        pen.rect(lx - lw / 2, foot_y, lx + lw / 2, hy + 0.02, leg)
        if look.bottom_kind == "shorts":
            pen.rect(lx - lw / 2, foot_y, lx + lw / 2, feet + h * 0.3, scale(skin, shade))
        pen.ellipse(lx - lw * 0.3, feet + h * 0.025, lw * 0.85, h * 0.03, fill=look.shoes)
    # skirt, dress or coat tails
    hem = {"dress": 0.26, "skirt": 0.28, "coat": 0.27}
    kind = look.top_kind if look.top_kind in ("dress", "coat") else look.bottom_kind
    if kind in hem:
        cloth = bottom if kind == "skirt" else top if kind == "dress" else scale(top, 0.94)
        low = feet + h * hem[kind]
        pen.poly(
            [
                (x - depth / 2, hy + 0.05),
                (x + depth / 2, hy + 0.05),
                (x + depth * 0.7, low),
                (x - depth * 0.75, low),
            ],
            cloth,
        )
    # torso: a straight back, the chest a little forward
    chest = sy - (sy - hy) * 0.3
    pen.poly(
        [
            (x + depth / 2, sy),
            (x - depth / 2, sy),
            (x - depth * 0.58, chest),
            (x - depth * 0.5, hy),
            (x + depth / 2, hy),
        ],
        top,
    )
    pen.rect(x - depth / 2, chest, x + depth / 2, sy + aw * 0.12, top, radius=aw * 0.6)
    if look.top_pattern == "colourful":
        bands = ((230, 70, 70), (250, 190, 50), (70, 170, 90), (60, 120, 220), (170, 80, 200))
        for i, c in enumerate(bands):
            ya = sy - (sy - hy) * (i + 0.1) / len(bands)
            yb = sy - (sy - hy) * (i + 0.55) / len(bands)
            pen.rect(x - depth * 0.5, yb, x + depth * 0.5, ya, c)
    elif look.top_pattern == "stripes":
        for i in range(6):
            ya = sy - (sy - hy) * (i + 0.5) / 6
            pen.line(
                [(x - depth / 2, ya), (x + depth / 2, ya)], mix(top, (255, 255, 255), 0.55), 0.02
            )
    if look.top_kind == "coat" or look.inner is not None:  # what shows at the open neck
        inner = look.inner if look.inner is not None else (235, 235, 235)
        pen.poly([(x - depth / 2, sy), (x - depth * 0.2, sy), (x - depth * 0.52, chest)], inner)
    if not bare_legs:
        pen.rect(x - depth / 2, hy, x + depth / 2, hy + 0.035, scale(bottom, 0.8))  # belt line
    if robot:
        pen.rect(x - depth / 2, chest - 0.12, x - depth * 0.3, chest, scale(top, 0.75))
        pen.ellipse(x - depth * 0.45, chest - 0.06, depth * 0.06, depth * 0.06, fill=look.glow)
    # neck, and a scarf's band with its loose end in front
    nw = hwid * 0.36
    pen.rect(hx - nw / 2, sy - 0.02, hx + nw / 2, hcy - hh * 0.3, scale(skin, 0.9))
    if look.neckwear is not None:
        pen.rect(hx - nw * 0.9, sy - 0.05, hx + nw * 0.9, sy + 0.02, look.neckwear, radius=0.02)
        pen.rect(
            x - depth * 0.5,
            sy - (sy - hy) * 0.4,
            x - depth * 0.25,
            sy - 0.02,
            look.neckwear,
            radius=0.01,
        )
    if robot:
        _robot_head(pen, look, hx, hcy, hd, hh)
    else:
        _human_head(pen, look, hx, hcy, hd, hh, feet + p["eye_y"], feet + p["mouth_y"])
    # the near arm hangs in front of the torso, the hand a little forward
    sleeve = scale(top, 0.86) if look.top_kind != "dress" else skin
    hand_y = feet + p["hand_y"]
    ax = x + depth * 0.05
    pen.poly(
        [
            (ax - aw / 2, sy),
            (ax + aw / 2, sy),
            (ax + aw * 0.45 - depth * 0.12, hand_y + aw),
            (ax - aw * 0.45 - depth * 0.12, hand_y + aw),
        ],
        sleeve,
    )
    pen.ellipse(ax - depth * 0.12, hand_y + aw * 0.3, aw * 0.5, aw * 0.62, fill=skin)


def _human_head(
    pen: Pen, look: FigureLook, hx: float, hcy: float, hd: float, hh: float, ey: float, my: float
) -> None:
    """A head side-on, facing left: one eye, the nose's point, the ear, hair over the back."""
    skin = look.skin
    bare = look.hat is None and look.hair_style != "bald"
    if bare:  # hair volume behind the skull
        pen.ellipse(hx + hd * 0.1, hcy + hh * 0.08, hd * 0.54, hh * 0.5, fill=look.hair)
    pen.ellipse(hx, hcy, hd / 2, hh / 2, fill=skin)
    pen.poly(
        [
            (hx - hd * 0.46, hcy + hh * 0.04),
            (hx - hd * 0.62, hcy - hh * 0.1),
            (hx - hd * 0.44, hcy - hh * 0.14),
        ],
        scale(skin, 0.96),
    )
    if look.beard is not None and look.beard_style == "full":
        pen.chord(hx - hd * 0.04, hcy - hh * 0.04, hd * 0.5, hh * 0.48, 0, 180, look.beard)
        pen.ellipse(hx - hd * 0.36, my, hd * 0.12, hh * 0.05, fill=scale(skin, 0.85))
    elif look.beard is not None and look.beard_style == "stubble":
        pen.chord(hx, hcy, hd / 2, hh / 2, 15, 165, mix(skin, look.beard, 0.35))
    pen.ellipse(hx + hd * 0.1, hcy - hh * 0.02, hd * 0.09, hh * 0.12, fill=scale(skin, 0.9))
    ex = hx - hd * 0.3
    pen.ellipse(ex, ey, hd * 0.055, hh * 0.04, fill=(250, 250, 250))
    pen.ellipse(ex - hd * 0.025, ey, hd * 0.035, hd * 0.04, fill=(45, 35, 30))
    brow = scale(look.hair, 0.8) if look.hair_style != "bald" else scale(skin, 0.7)
    pen.line([(ex - hd * 0.08, ey + hh * 0.1), (ex + hd * 0.06, ey + hh * 0.11)], brow, hh * 0.03)
    pen.ellipse(
        hx - hd * 0.12, hcy - hh * 0.12, hd * 0.08, hh * 0.05, fill=mix(skin, (230, 120, 120), 0.25)
    )
    if look.beard is not None and look.beard_style in ("moustache", "full"):
        pen.ellipse(hx - hd * 0.4, hcy - hh * 0.185, hd * 0.1, hh * 0.045, fill=look.beard)
    pen.ellipse(hx - hd * 0.41, my, hd * 0.07, hh * 0.02, fill=mix(skin, (150, 50, 50), 0.55))
    if look.hat is not None:
        pen.chord(hx, hcy + hh * 0.12, hd * 0.56, hh * 0.48, 180, 360, look.hat)
        pen.rect(
            hx - hd * 0.85, hcy + hh * 0.1, hx + hd * 0.62, hcy + hh * 0.17, scale(look.hat, 0.85)
        )
    elif look.hair_style == "curly":
        for i in range(7):
            a = math.pi * (0.1 + 0.9 * i / 6)
            pen.ellipse(
                hx + hd * 0.05 + math.cos(a) * hd * 0.45,
                hcy + hh * 0.18 + math.sin(a) * hh * 0.3,
                hd * 0.17,
                hh * 0.14,
                fill=scale(look.hair, 0.9 + 0.1 * (i % 2)),
            )
    elif bare:  # a cap over the crown and down the back of the head
        pen.chord(hx, hcy + hh * 0.2, hd * 0.53, hh * 0.36, 180, 360, look.hair)
        pen.chord(hx + hd * 0.02, hcy, hd * 0.52, hh * 0.5, -95, 35, look.hair)
        if look.hair_style == "bun":
            pen.ellipse(hx + hd * 0.4, hcy + hh * 0.4, hd * 0.18, hh * 0.14, fill=look.hair)
    elif look.elderly:  # bald: a fringe of hair round the back
        pen.ellipse(hx + hd * 0.3, hcy + hh * 0.05, hd * 0.16, hh * 0.16, fill=look.hair)
    if look.hat is None or bare:
        pen.ellipse(hx + hd * 0.1, hcy - hh * 0.02, hd * 0.07, hh * 0.1, fill=scale(skin, 0.9))
    if look.glasses:
        frame = (35, 30, 30)
        pen.ellipse(ex, ey, hd * 0.1, hd * 0.11, outline=frame, width=hh * 0.02)
        pen.line([(ex + hd * 0.1, ey + hh * 0.01), (hx + hd * 0.08, ey)], frame, hh * 0.018)


def _robot_head(pen: Pen, look: FigureLook, hx: float, hcy: float, hd: float, hh: float) -> None:
    """A robot's boxy head side-on: the visor at the front, the antenna on top."""
    skin = look.skin
    pen.rect(hx - hd * 0.5, hcy - hh * 0.5, hx + hd * 0.5, hcy + hh * 0.5, skin, radius=hd * 0.12)
    pen.line([(hx, hcy + hh * 0.5), (hx, hcy + hh * 0.75)], scale(skin, 0.6), 0.012)
    pen.ellipse(hx, hcy + hh * 0.78, hd * 0.08, hd * 0.08, fill=look.glow)
    pen.rect(hx - hd * 0.52, hcy - hh * 0.02, hx - hd * 0.1, hcy + hh * 0.22, (30, 34, 44))
    pen.ellipse(hx - hd * 0.38, hcy + hh * 0.1, hd * 0.07, hd * 0.06, fill=look.glow)
    pen.ellipse(hx + hd * 0.15, hcy, hd * 0.12, hd * 0.12, fill=scale(skin, 0.8))
    pen.rect(hx - hd * 0.5, hcy - hh * 0.3, hx - hd * 0.3, hcy - hh * 0.2, (40, 44, 52))


# -- a set ---------------------------------------------------------------------------------


def set_still(request: ImageRequest) -> Image.Image:
    """The place as the animatic paints a wide shot's background, graded by its lighting."""
    w, h = request.width, request.height
    look = place_look(request.id, request.description, tuple(request.palette), request.lighting)
    fx0, fy0, _fx1, fy1 = framing("wide", [], None, w / h, 0.0)
    view = View(fx0, fy1, h / (fy1 - fy0), w, h)
    image = draw.draw_place(look, view, request.seed)
    if image.size != (w, h):
        image = image.resize((w, h), Image.Resampling.BILINEAR)
    return draw.apply_grade(image, grade_for(request.lighting), (0, 0), (w, h))
