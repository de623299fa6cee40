"""Framing an animatic shot: who is in it, where the camera stands and how it moves,
what size the background is drawn at."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from ministudio.engines.animatic import draw
from ministudio.engines.animatic.draw import FEET, ORB_RADIUS, View
from ministudio.engines.animatic.looks import FigureLook, figure_look
from ministudio.jobs import CharacterBrief, VideoRequest

SHOT_SIZES = ("extreme-wide", "wide", "full", "medium", "close-up", "extreme-close-up")


CAMERA_MOVES = (
    "static",
    "pan-left",
    "pan-right",
    "tilt-up",
    "tilt-down",
    "push-in",
    "pull-back",
    "handheld",
)


SPACING = 0.95  # metres between neighbouring characters


PAN = 0.3  # a pan or tilt travels this fraction of the frame


ZOOM = 1.2  # push-in / pull-back: frame width at the wide end over the tight end


SHAKE = 0.025  # handheld: margin on each side, as a fraction of the frame


DISSOLVE = 0.3  # seconds to dissolve from request.first_frame


BACKGROUND_DETAIL = {  # resolution the background is drawn at: closer shots are softer
    "extreme-wide": 1.0,
    "wide": 1.0,
    "full": 0.85,
    "medium": 0.6,
    "close-up": 0.42,
    "extreme-close-up": 0.3,
}


@dataclass
class Cast:
    brief: CharacterBrief
    look: FigureLook
    x: float
    sprite: Path | None

    @property
    def height(self) -> float:
        return self.look.height


@dataclass
class Plan:
    width: int
    height: int
    fps: int
    frames: int
    frame: tuple[float, float, float, float]  # nominal frame, world (x0, y0, x1, y1)
    layer: tuple[float, float, float, float]  # the drawn layer, world
    scale: float  # layer px per metre
    cast: list[Cast]
    focus: Cast | None
    size: str
    move: str
    labels: list[tuple[str, float, float, int]] = field(default_factory=list)


def speaking_ids(request: VideoRequest) -> list[str]:
    ids = [c.id for c in request.shot.characters if c.speaking]
    ids += [line.speaker for line in request.shot.lines if line.speaker not in ids]
    return ids


def cast_of(request: VideoRequest) -> list[Cast]:
    chars = request.shot.characters
    n = len(chars)
    # a vertical frame is narrow: people stand closer together, as they would be blocked
    spacing = SPACING if request.width >= request.height else SPACING * 0.65
    cast = []
    for k, c in enumerate(chars):
        sprite = c.reference_images[0] if c.reference_images else None
        if sprite is not None and not Path(sprite).is_file():
            sprite = None
        look = figure_look(c.id, c.dna)
        cast.append(Cast(c, look, (k - (n - 1) / 2) * spacing, sprite))
    return cast


def fit_in(
    box: tuple[float, float, float, float], aspect: float, reserve: float = 0.0
) -> tuple[float, float, float, float]:
    """The smallest frame of ``aspect`` (w/h) holding ``box`` above its bottom ``reserve``.

    ``reserve`` is the fraction of the frame height kept for the caption.
    """
    x0, y0, x1, y1 = box
    cw, ch = x1 - x0, y1 - y0
    vh = max(ch / (1 - reserve), cw / aspect)
    vw = vh * aspect
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    bottom = cy - vh * (reserve + (1 - reserve) / 2)
    return (cx - vw / 2, bottom, cx + vw / 2, bottom + vh)


def framing(
    size: str, cast: list[Cast], focus: Cast | None, aspect: float, reserve: float
) -> tuple[float, float, float, float]:
    span_lo = min((c.x for c in cast), default=0.0)
    span_hi = max((c.x for c in cast), default=0.0)
    tallest = max((c.height for c in cast), default=1.7)
    if size in ("extreme-wide", "wide") or size not in SHOT_SIZES:
        if size == "extreme-wide":
            side, up = (3.2 if aspect >= 1 else 1.6), 5.0
        else:
            side, up = (1.7 if aspect >= 1 else 0.85), 2.9
        return fit_in((span_lo - side, FEET - 0.2, span_hi + side, FEET + up), aspect, reserve)
    if size == "full":
        return fit_in(
            (span_lo - 0.55, FEET - 0.15, span_hi + 0.55, FEET + tallest + 0.25), aspect, reserve
        )
    if size == "medium":
        waist = min(0.48 * c.height for c in cast) if cast else 0.8
        side = 0.5 if aspect >= 1 else 0.2
        return fit_in((span_lo - side, FEET + waist, span_hi + side, FEET + tallest + 0.16), aspect)
    # close-ups: the focus character's head and shoulders (or face)
    if focus is None:
        cx, cy = 0.0, 1.3
        half = 0.5 if size == "close-up" else 0.25
        return fit_in((cx - half, cy - half * 0.6, cx + half, cy + half * 0.6), aspect)
    a = draw.anchors(focus.look, focus.x, FEET)
    if focus.look.kind == "orb":
        r = ORB_RADIUS * (2.6 if size == "close-up" else 1.5)
        return fit_in((a.x - r, a.head_y - r, a.x + r, a.head_y + r), aspect)
    head_h = a.head_r * 2
    if focus.sprite is not None:
        h = focus.height
        if size == "close-up":
            return fit_in((a.x - h * 0.2, FEET + h * 0.62, a.x + h * 0.2, FEET + h + 0.04), aspect)
        return fit_in((a.x - h * 0.12, FEET + h * 0.78, a.x + h * 0.12, FEET + h), aspect)
    if size == "close-up":
        half_w = 0.3 if aspect >= 1 else 0.19
        top = (
            a.head_y
            + head_h * 0.5
            + (0.1 if focus.look.hat or focus.look.hair_style == "bun" else 0.06)
        )
        return fit_in((a.x - half_w, a.head_y - head_h * 1.75, a.x + half_w, top), aspect)
    half_w = head_h * (0.55 if aspect >= 1 else 0.42)
    return fit_in(
        (a.x - half_w, a.head_y - head_h * 0.62, a.x + half_w, a.head_y + head_h * 0.5), aspect
    )


def plan_shot(request: VideoRequest, reserve: float = 0.0) -> Plan:
    w, h, fps = request.width, request.height, request.fps
    if w % 2 or h % 2 or w < 16 or h < 16:
        raise ValueError(f"the animatic needs an even frame size of at least 16 px, got {w}x{h}")
    frames = max(1, round(request.duration * fps))
    shot = request.shot
    cast = cast_of(request)
    size = shot.shot_size if shot.shot_size in SHOT_SIZES else "wide"
    move = shot.camera_move if shot.camera_move in CAMERA_MOVES else "static"
    speakers = speaking_ids(request)
    focus = next((c for s in speakers for c in cast if c.brief.id == s), None)
    if focus is None and cast:
        focus = cast[0]
    if size in ("close-up", "extreme-close-up") and focus is not None:
        cast = [focus]
    aspect = w / h
    fx0, fy0, fx1, fy1 = framing(size, cast, focus, aspect, reserve)
    # the seed nudges the framing a little, so two takes of one shot are not identical
    jitter = random.Random(f"frame:{request.seed}").uniform(-0.02, 0.02) * (fx1 - fx0)
    fx0, fx1 = fx0 + jitter, fx1 + jitter
    vw, vh = fx1 - fx0, fy1 - fy0
    lx0, ly0, lx1, ly1 = fx0, fy0, fx1, fy1
    if move in ("pan-left", "pan-right"):
        lx0, lx1 = fx0 - vw * PAN / 2, fx1 + vw * PAN / 2
    elif move in ("tilt-up", "tilt-down"):
        ly0, ly1 = fy0 - vh * PAN / 2, fy1 + vh * PAN / 2
    elif move in ("push-in", "pull-back"):
        ex, ey = vw * (ZOOM - 1) / 2, vh * (ZOOM - 1) / 2
        lx0, ly0, lx1, ly1 = fx0 - ex, fy0 - ey, fx1 + ex, fy1 + ey
    elif move == "handheld":
        ex, ey = vw * SHAKE, vw * SHAKE
        lx0, ly0, lx1, ly1 = fx0 - ex, fy0 - ey, fx1 + ex, fy1 + ey
    scale = h / vh
    return Plan(
        w,
        h,
        fps,
        frames,
        (fx0, fy0, fx1, fy1),
        (lx0, ly0, lx1, ly1),
        scale,
        cast,
        focus,
        size,
        move,
    )


def layer_view(plan: Plan) -> View:
    lx0, ly0, lx1, ly1 = plan.layer
    lw = round((lx1 - lx0) * plan.scale / 2) * 2
    lh = round((ly1 - ly0) * plan.scale / 2) * 2
    lw = max(lw, plan.width + (plan.width % 2))
    lh = max(lh, plan.height)
    return View(lx0, ly1, plan.scale, lw, lh)


def ease(u: float) -> float:
    return 0.5 - 0.5 * math.cos(math.pi * min(1.0, max(0.0, u)))
