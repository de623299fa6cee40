"""Render one animatic clip: compose the shot once, then move a camera over it.

The shot (background, figures, name labels) is drawn once into a layer a little larger than
the frame, graded, and converted to YUV 4:2:0 planes once. Each frame is then a slice of
those planes (pans, tilts, handheld shake) or a cheap nearest-neighbour resample (push-in,
pull-back), plus a few small pre-rendered patches (mouths, an orb's pulse, a hologram's
flicker) and the caption, blended straight into the Y/U/V planes. Encoding runs on its own
thread, so drawing the next frame overlaps x264 encoding the last one.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from PIL import Image

from ministudio.engines.animatic import draw
from ministudio.engines.animatic.draw import FEET, ORB_RADIUS, View
from ministudio.engines.animatic.looks import FigureLook, figure_look, grade_for, place_look
from ministudio.jobs import CharacterBrief, LineBrief, VideoRequest
from ministudio.media.audio import read_wav
from ministudio.media.encode import VideoWriter

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]

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
class _Cast:
    brief: CharacterBrief
    look: FigureLook
    x: float
    sprite: Path | None

    @property
    def height(self) -> float:
        return self.look.height


@dataclass
class Patch:
    """A small region of the layer with pre-rendered variants (variant 0 is the rest state)."""

    x: int  # layer luma px, even
    y: int
    variants: list[Planes]
    schedule: list[int | None]  # per frame: which variant, or None to leave the region alone
    current: int = 0

    @property
    def w(self) -> int:
        return int(self.variants[0][0].shape[1])

    @property
    def h(self) -> int:
        return int(self.variants[0][0].shape[0])

    def overlaps(self, other: Patch) -> bool:
        return not (
            self.x + self.w <= other.x
            or other.x + other.w <= self.x
            or self.y + self.h <= other.y
            or other.y + other.h <= self.y
        )


@dataclass
class Overlay:
    """A fixed, translucent overlay in frame pixels: ``out = (plane * a + b) >> 8``."""

    x: int
    y: int
    a: Planes  # uint16 weights (0..256) for Y, U, V
    b: Planes  # uint16 premultiplied colour * 256


@dataclass
class _Plan:
    width: int
    height: int
    fps: int
    frames: int
    frame: tuple[float, float, float, float]  # nominal frame, world (x0, y0, x1, y1)
    layer: tuple[float, float, float, float]  # the drawn layer, world
    scale: float  # layer px per metre
    cast: list[_Cast]
    focus: _Cast | None
    size: str
    move: str
    labels: list[tuple[str, float, float, int]] = field(default_factory=list)


# -- planning -----------------------------------------------------------------------------


def _speaking_ids(request: VideoRequest) -> list[str]:
    ids = [c.id for c in request.shot.characters if c.speaking]
    ids += [line.speaker for line in request.shot.lines if line.speaker not in ids]
    return ids


def _cast(request: VideoRequest) -> list[_Cast]:
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
        cast.append(_Cast(c, look, (k - (n - 1) / 2) * spacing, sprite))
    return cast


def _fit(
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


def _framing(
    size: str, cast: list[_Cast], focus: _Cast | None, aspect: float, reserve: float
) -> tuple[float, float, float, float]:
    span_lo = min((c.x for c in cast), default=0.0)
    span_hi = max((c.x for c in cast), default=0.0)
    tallest = max((c.height for c in cast), default=1.7)
    if size in ("extreme-wide", "wide") or size not in SHOT_SIZES:
        if size == "extreme-wide":
            side, up = (3.2 if aspect >= 1 else 1.6), 5.0
        else:
            side, up = (1.7 if aspect >= 1 else 0.85), 2.9
        return _fit((span_lo - side, FEET - 0.2, span_hi + side, FEET + up), aspect, reserve)
    if size == "full":
        return _fit(
            (span_lo - 0.55, FEET - 0.15, span_hi + 0.55, FEET + tallest + 0.25), aspect, reserve
        )
    if size == "medium":
        waist = min(0.48 * c.height for c in cast) if cast else 0.8
        side = 0.5 if aspect >= 1 else 0.2
        return _fit((span_lo - side, FEET + waist, span_hi + side, FEET + tallest + 0.16), aspect)
    # close-ups: the focus character's head and shoulders (or face)
    if focus is None:
        cx, cy = 0.0, 1.3
        half = 0.5 if size == "close-up" else 0.25
        return _fit((cx - half, cy - half * 0.6, cx + half, cy + half * 0.6), aspect)
    a = draw.anchors(focus.look, focus.x, FEET)
    if focus.look.kind == "orb":
        r = ORB_RADIUS * (2.6 if size == "close-up" else 1.5)
        return _fit((a.x - r, a.head_y - r, a.x + r, a.head_y + r), aspect)
    head_h = a.head_r * 2
    if focus.sprite is not None:
        h = focus.height
        if size == "close-up":
            return _fit((a.x - h * 0.2, FEET + h * 0.62, a.x + h * 0.2, FEET + h + 0.04), aspect)
        return _fit((a.x - h * 0.12, FEET + h * 0.78, a.x + h * 0.12, FEET + h), aspect)
    if size == "close-up":
        half_w = 0.3 if aspect >= 1 else 0.19
        top = (
            a.head_y
            + head_h * 0.5
            + (0.1 if focus.look.hat or focus.look.hair_style == "bun" else 0.06)
        )
        return _fit((a.x - half_w, a.head_y - head_h * 1.75, a.x + half_w, top), aspect)
    half_w = head_h * (0.55 if aspect >= 1 else 0.42)
    return _fit(
        (a.x - half_w, a.head_y - head_h * 0.62, a.x + half_w, a.head_y + head_h * 0.5), aspect
    )


def _plan(request: VideoRequest, reserve: float = 0.0) -> _Plan:
    w, h, fps = request.width, request.height, request.fps
    if w % 2 or h % 2 or w < 16 or h < 16:
        raise ValueError(f"the animatic needs an even frame size of at least 16 px, got {w}x{h}")
    frames = max(1, round(request.duration * fps))
    shot = request.shot
    cast = _cast(request)
    size = shot.shot_size if shot.shot_size in SHOT_SIZES else "wide"
    move = shot.camera_move if shot.camera_move in CAMERA_MOVES else "static"
    speakers = _speaking_ids(request)
    focus = next((c for s in speakers for c in cast if c.brief.id == s), None)
    if focus is None and cast:
        focus = cast[0]
    if size in ("close-up", "extreme-close-up") and focus is not None:
        cast = [focus]
    aspect = w / h
    fx0, fy0, fx1, fy1 = _framing(size, cast, focus, aspect, reserve)
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
    return _Plan(
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


# -- composing ----------------------------------------------------------------------------


def _layer_view(plan: _Plan) -> View:
    lx0, ly0, lx1, ly1 = plan.layer
    lw = round((lx1 - lx0) * plan.scale / 2) * 2
    lh = round((ly1 - ly0) * plan.scale / 2) * 2
    lw = max(lw, plan.width + (plan.width % 2))
    lh = max(lh, plan.height)
    return View(lx0, ly1, plan.scale, lw, lh)


def _background(request: VideoRequest, plan: _Plan, view: View) -> Image.Image:
    env = request.shot.environment
    detail = BACKGROUND_DETAIL.get(plan.size, 1.0)
    small = view.resized(detail) if detail < 1 else view
    refs = [p for p in env.reference_images if Path(p).is_file()]
    if refs:
        aspect = plan.width / plan.height
        vh = 3.7
        cx, cy = 0.0, FEET - 0.95 + vh / 2
        half_w, half_h = vh * aspect / 2 * 1.35, vh / 2 * 1.35
        lx0, ly0, lx1, ly1 = plan.layer
        world = (
            min(cx - half_w, lx0),
            min(cy - half_h, ly0),
            max(cx + half_w, lx1),
            max(cy + half_h, ly1),
        )
        image = draw.place_from_image(Path(refs[0]), small, world)
    else:
        look = place_look(env.id, env.description, tuple(env.palette), env.lighting)
        image = draw.draw_place(look, small, request.seed)
    if image.size != (view.w, view.h):
        image = image.resize((view.w, view.h), Image.Resampling.BILINEAR)
    return image


def _even_box(
    x0: float, y0: float, x1: float, y1: float, view: View, margin: int = 8
) -> tuple[int, int, int, int] | None:
    left = max(0, (math.floor(x0) - margin) // 2 * 2)
    top = max(0, (math.floor(y0) - margin) // 2 * 2)
    right = min(view.w, (math.ceil(x1) + margin + 1) // 2 * 2)
    bottom = min(view.h, (math.ceil(y1) + margin + 1) // 2 * 2)
    if right - left < 12 or bottom - top < 12:
        return None
    return (left, top, right, bottom)


def _talk_times(
    brief: CharacterBrief, lines: tuple[LineBrief, ...], duration: float
) -> list[tuple[float, float]]:
    spans = [
        (line.start, line.end if line.end > line.start else duration)
        for line in lines
        if line.speaker == brief.id
    ]
    if not spans and brief.speaking and not any(line.speaker == brief.id for line in lines):
        spans = [(0.0, duration)]
    return spans


def _talking(
    plan: _Plan,
    brief: CharacterBrief,
    lines: tuple[LineBrief, ...],
    spans: list[tuple[float, float]],
    voice: tuple[np.ndarray, int] | None,
) -> list[int | None]:
    """Each frame's mouth for a character: from the shot's voice where the engine was given
    one and the character has lines, else a syllable beat over its talking times."""
    if voice is not None and any(line.speaker == brief.id for line in lines):
        return _voiced(plan.frames, plan.fps, spans, voice)
    phase = random.Random(brief.id).uniform(0, math.tau)
    return _schedule(plan.frames, plan.fps, spans, 3, phase)


def _voiced(
    frames: int, fps: int, spans: list[tuple[float, float]], voice: tuple[np.ndarray, int]
) -> list[int | None]:
    """Each frame's mouth (0 closed .. 3 wide open) from the loudness of the shot's voice
    while the frame is on screen, inside the character's own lines: the mouth moves with the
    sound, to the frame. Loudness is relative to the character's loud frames (their 90th
    percentile); under a tenth of that the mouth is closed."""
    samples, rate = voice
    level = np.zeros(frames)
    inside = np.zeros(frames, bool)
    for i in range(frames):
        t = i / fps
        if any(start <= t < end for start, end in spans):
            window = samples[round(t * rate) : round((t + 1 / fps) * rate)]
            level[i] = float(np.sqrt(np.mean(np.square(window)))) if window.size else 0.0
            inside[i] = True
    loud = float(np.percentile(level[inside], 90)) if inside.any() else 0.0
    if loud <= 0:
        return [0] * frames
    opened = np.where(level >= 0.1 * loud, np.clip(level / loud, 0.0, 1.0), 0.0)
    levels: list[int | None] = np.rint(opened * 3).astype(int).tolist()
    return levels


def _openness(t: float, phase: float) -> float:
    """How open a talking mouth is at time t: a syllable beat under a slower phrase swell."""
    beat = max(0.0, math.sin(2 * math.pi * 4.3 * t + phase))
    swell = 0.55 + 0.45 * abs(math.sin(2 * math.pi * 0.9 * t + phase * 0.5))
    return beat * swell


def _schedule(
    frames: int, fps: int, spans: list[tuple[float, float]], levels: int, phase: float
) -> list[int | None]:
    out: list[int | None] = []
    for i in range(frames):
        t = i / fps
        level = 0
        for start, end in spans:
            if start <= t < end:
                level = min(levels, max(0, round(_openness(t - start, phase) * levels)))
                break
        out.append(level)
    return out


@dataclass
class _PatchSpec:
    box: tuple[int, int, int, int]
    variants: list[Image.Image]  # RGB, ungraded
    schedule: list[int | None]


def _supersampled(
    region: Image.Image, view: View, paint: Callable[[draw.Pen], None], ss: int = 3
) -> Image.Image:
    canvas = Image.new("RGBA", (region.width * ss, region.height * ss), (0, 0, 0, 0))
    paint(draw.Pen(canvas, View(view.x0, view.y1, view.s * ss, canvas.width, canvas.height)))
    small = canvas.reduce(ss)
    out = region.copy()
    out.paste(small, (0, 0), small)
    return out


def _compose(request: VideoRequest, plan: _Plan) -> tuple[Image.Image, list[_PatchSpec], View]:
    view = _layer_view(plan)
    image = _background(request, plan, view)
    specs: list[_PatchSpec] = []
    shot = request.shot
    mouths: list[tuple[_Cast, list[int | None], list[int | None] | None]] = []
    voice = read_wav(request.voice) if request.voice is not None else None
    for member in plan.cast:
        look = member.look
        spans = _talk_times(member.brief, shot.lines, request.duration)
        talk = _talking(plan, member.brief, shot.lines, spans, voice)
        if member.sprite is not None:
            half, top = draw.draw_sprite(
                image, draw.load_sprite(member.sprite), member.x, FEET, look.height, view
            )
            if spans:
                size = max(6.0, 0.06 * view.s)
                bx, by = view.px(member.x + half) - size * 0.6, view.py(top) + size * 1.4
                box = _even_box(bx, by - size, bx + size * 1.3, by, view, margin=10)
                if box is not None:
                    base = image.crop(box)
                    variants = [base]
                    for level in (0.0, 1.0, 2.0, 3.0):
                        v = base.copy()
                        draw.draw_speech_marks(v, bx - box[0], by - box[1], size, level)
                        variants.append(v)
                    image.paste(variants[1], box[:2])
                    specs.append(_PatchSpec(box, variants[1:], talk))
            continue
        if look.kind == "orb":
            a = draw.anchors(look, member.x, FEET)
            cx, cy, r = view.px(a.x), view.py(a.head_y), ORB_RADIUS * view.s
            reach = r * 3.4
            box = _even_box(cx - reach, cy - reach, cx + reach, cy + reach, view)
            if box is None:
                continue
            under = np.array(image.crop(box))
            levels = (0.0, 0.35, 0.7, 1.0) if spans else (0.0,)
            variants = []
            for pulse in levels:
                arr = under.copy()
                draw.draw_orb(arr, look.glow, cx - box[0], cy - box[1], r, pulse)
                variants.append(Image.fromarray(arr))
            image.paste(variants[0], box[:2])
            if spans:
                specs.append(_PatchSpec(box, variants, talk))
            continue
        if look.kind == "hologram":
            sprite = draw.figure_sprite(look, member.x, FEET, view, (view.w, view.h))
            x0, y0, x1, y1 = draw.figure_bounds(look, member.x, FEET)
            box = _even_box(view.px(x0), view.py(y1), view.px(x1), view.py(y0 - 0.1), view)
            if box is None or sprite is None:
                continue
            base = image.crop(box)
            sub = view.sub(box[0], box[1], box[2] - box[0], box[3] - box[1])
            local = draw.Sprite(sprite.rgb, sprite.mask, sprite.left - box[0], sprite.top - box[1])
            variants = []
            for opacity, glitch in ((1.0, 0.0), (0.5, 0.0), (0.85, 1.0)):
                v = base.copy()
                draw.draw_figure(v, look, member.x, FEET, sub, local, opacity, glitch)
                variants.append(v)
            image.paste(variants[0], box[:2])
            flicker = _flicker(plan.frames, f"{request.seed}:{member.brief.id}")
            specs.append(_PatchSpec(box, variants, list(flicker)))
            if spans:
                mouths.append((member, talk, [None if f else 0 for f in flicker]))
            continue
        draw.draw_figure(image, look, member.x, FEET, view)
        if spans:
            mouths.append((member, talk, None))
    # mouths go last: their variants are cut from the finished figures
    for member, sched, mask in mouths:
        a = draw.anchors(member.look, member.x, FEET)
        if a.mouth is None:
            continue
        mx, my, mw, mh = a.mouth
        box = _even_box(
            view.px(mx - mw * 1.3),
            view.py(my + mh * 1.6),
            view.px(mx + mw * 1.3),
            view.py(my - mh * 3.2),
            view,
            margin=6,
        )
        if box is None:
            continue
        base = image.crop(box)
        sub = view.sub(box[0], box[1], box[2] - box[0], box[3] - box[1])
        variants = [base]
        for openness in (0.35, 0.7, 1.0):
            look = member.look

            def paint(
                pen: draw.Pen, look: FigureLook = look, m: _Cast = member, o: float = openness
            ) -> None:
                draw.draw_mouth(pen, look, m.x, FEET, o)

            variants.append(_supersampled(base, sub, paint))
        if mask is not None:
            sched = [None if m is None else s for s, m in zip(sched, mask, strict=True)]
        specs.append(_PatchSpec(box, variants, sched))
    _place_labels(plan, view)
    return image, specs, view


def _flicker(frames: int, key: str) -> list[int]:
    """A hologram's flicker: mostly steady, now and then a dim or glitched frame or two."""
    rng = random.Random(f"flicker:{key}")
    out = [0] * frames
    i = rng.randint(6, 20)
    while i < frames:
        kind = rng.choice((1, 1, 2))
        for j in range(i, min(frames, i + rng.randint(1, 3))):
            out[j] = kind
        i += rng.randint(10, 40)
    return out


def _place_labels(plan: _Plan, view: View) -> None:
    """Each character's name, over its head when that is in frame, else beside the head."""
    size = max(10, round(min(plan.width, plan.height) * 0.026))
    fx0, _, fx1, fy1 = plan.frame
    top_limit = view.py(fy1) + size * 2.6  # leave the top edge (and the slate) clear
    for member in plan.cast:
        a = draw.anchors(member.look, member.x, FEET)
        name = member.brief.name
        label_w = draw.font(size).getlength(name) + size
        above = view.py(a.top) - size * 1.1
        cx = view.px(member.x)
        if above >= top_limit:
            plan.labels.append((name, cx, above, size))
            continue
        side = 1 if member.x >= 0 or len(plan.cast) == 1 else -1
        head_w = a.head_r * 1.6
        x = view.px(member.x + side * head_w * 1.05) + side * label_w / 2
        x = min(max(x, view.px(fx0) + label_w / 2 + size), view.px(fx1) - label_w / 2 - size)
        y = max(view.py(a.head_y - a.head_r * 0.2), top_limit)
        plan.labels.append((name, x, y, size))


def _finish(
    image: Image.Image,
    plan: _Plan,
    request: VideoRequest,
    box: tuple[int, int] = (0, 0),
    full: tuple[int, int] | None = None,
) -> Image.Image:
    """Grade a (part of the) layer under the shot's lighting, then write the name labels."""
    full = full or image.size
    graded = draw.apply_grade(image, grade_for(request.shot.environment.lighting), box, full)
    if graded is image:
        graded = image.copy()
    for name, cx, cy, size in plan.labels:
        draw.draw_label(graded, name, cx, cy, size, offset=box)
    return graded


# -- YUV ----------------------------------------------------------------------------------


def frame_planes(frame: av.VideoFrame) -> Planes:
    """Writable numpy views of a yuv420p frame's Y, U and V planes (line padding cut off)."""
    out = []
    for plane in frame.planes:
        arr = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
        out.append(arr[: plane.height, : plane.width])
    return out[0], out[1], out[2]


def rgb_to_yuv420(rgb: np.ndarray) -> Planes:
    """RGB (h x w x 3) to Y, U, V planes, converted exactly as the video writer converts."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    yuv = frame.reformat(format="yuv420p")
    y, u, v = frame_planes(yuv)
    return y.copy(), u.copy(), v.copy()


# BT.601 limited range, as swscale converts RGB to yuv420p by default
_KY = np.array([65.481, 128.553, 24.966], np.float32) / 255
_KU = np.array([-37.797, -74.203, 112.0], np.float32) / 255
_KV = np.array([112.0, -93.786, -18.214], np.float32) / 255


def overlay(panel: Image.Image, x: int, y: int) -> Overlay:
    """An RGBA panel as a fixed overlay at frame pixel (x, y) (both even)."""
    arr = np.asarray(panel, np.float32) / 255
    alpha = arr[..., 3]
    premult = arr[..., :3] * alpha[..., None] * 255

    def plane(
        a: np.ndarray, c: np.ndarray, k: np.ndarray, offset: float
    ) -> tuple[np.ndarray, np.ndarray]:
        weight = np.round((1 - a) * 256).astype(np.uint16)
        colour = np.round((offset * a + c @ k) * 256)
        return weight, np.clip(colour, 0, 255 * 256).astype(np.uint16)

    ay, by = plane(alpha, premult, _KY, 16.0)
    h, w = alpha.shape
    a2 = alpha.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    c2 = premult.reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3))
    au, bu = plane(a2, c2, _KU, 128.0)
    av_, bv = plane(a2, c2, _KV, 128.0)
    return Overlay(x, y, (ay, au, av_), (by, bu, bv))


def _blend(plane: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    tmp = plane.astype(np.uint16)
    tmp *= a
    tmp += b
    tmp >>= 8
    plane[...] = tmp


def _overlays(request: VideoRequest) -> tuple[list[Overlay], float]:
    """The caption and the slate, and the fraction of the frame height the caption covers."""
    w, h = request.width, request.height
    reserve = 0.0
    short = min(w, h)
    out = []
    action = " ".join(request.shot.action.split())
    if action:
        size = max(12, round(short * 0.04))
        portrait = h > w
        margin = round(w * 0.05)
        lines = draw.wrap(action, size, w - 2 * margin - 2 * size, 5 if portrait else 3)
        f = draw.font(size)
        width = round(max(f.getlength(line) for line in lines) + size * 1.6)
        panel = draw.text_panel(lines, size, min(w - 2 * margin, width))
        x = (w - panel.width) // 2 // 2 * 2
        bottom = h - round(h * (0.07 if portrait else 0.045))
        y = max(0, bottom - panel.height) // 2 * 2
        out.append(overlay(panel, x, y))
        reserve = min(0.45, (h - y) / h + 0.02)
    shot = request.shot
    if not action:  # a background plate: the place alone, no caption, no slate
        return out, reserve
    tag = f"{shot.shot_id} · {shot.shot_size} · {shot.camera_move}"
    tsize = max(9, round(short * 0.022))
    tag_lines = draw.wrap(tag, tsize, w * 0.6, 1)
    f = draw.font(tsize)
    panel = draw.text_panel(
        tag_lines,
        tsize,
        round(f.getlength(tag_lines[0]) + tsize * 1.2),
        align="left",
        fill=(10, 10, 14, 110),
    )
    m = round(short * 0.03) // 2 * 2
    out.append(overlay(panel, m, m))
    return out, reserve


def _first_frame(path: Path, w: int, h: int) -> Planes | None:
    if not path.is_file():
        return None
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    if rgb.size != (w, h):
        k = max(w / rgb.width, h / rgb.height)
        cw, ch = w / k, h / k
        box = (
            (rgb.width - cw) / 2,
            (rgb.height - ch) / 2,
            (rgb.width + cw) / 2,
            (rgb.height + ch) / 2,
        )
        rgb = rgb.resize((w, h), Image.Resampling.BILINEAR, box=box)
    return rgb_to_yuv420(np.asarray(rgb))


# -- camera -------------------------------------------------------------------------------


def _ease(u: float) -> float:
    return 0.5 - 0.5 * math.cos(math.pi * min(1.0, max(0.0, u)))


def _path(plan: _Plan, view: View, seed: int) -> list[tuple[float, float, float]]:
    """Per frame: the crop's left, top (layer px) and width (px; == frame width unless zooming)."""
    w, h, n = plan.width, plan.height, plan.frames
    free_x, free_y = view.w - w, view.h - h
    out = []
    rng = random.Random(f"shake:{seed}")
    waves = [
        (rng.uniform(0.25, 1.3), rng.uniform(0, math.tau), rng.uniform(0.4, 1.0)) for _ in range(6)
    ]
    for i in range(n):
        u = _ease(i / (n - 1)) if n > 1 else 0.5
        t = i / plan.fps
        x, y, cw = free_x / 2, free_y / 2, float(w)
        if plan.move == "pan-right":
            x = free_x * u
        elif plan.move == "pan-left":
            x = free_x * (1 - u)
        elif plan.move == "tilt-up":
            y = free_y * (1 - u)
        elif plan.move == "tilt-down":
            y = free_y * u
        elif plan.move in ("push-in", "pull-back"):
            z = u if plan.move == "push-in" else 1 - u
            cw = view.w + (w - view.w) * z
            ch = cw * h / w
            x, y = (view.w - cw) / 2, (view.h - ch) / 2
        elif plan.move == "handheld":
            dx = sum(a * math.sin(math.tau * f * t + p) for f, p, a in waves[:3]) / 2.4
            dy = sum(a * math.sin(math.tau * f * t + p) for f, p, a in waves[3:]) / 2.4
            x = free_x / 2 * (1 + max(-1.0, min(1.0, dx)))
            y = free_y / 2 * (1 + max(-1.0, min(1.0, dy)))
        out.append((x, y, cw))
    return out


# -- the frame loop -----------------------------------------------------------------------


def render_clip(
    request: VideoRequest, output: Path, progress: Callable[[float], None] | None = None
) -> Path:
    """Render ``request`` as an animatic MP4 at ``output``; the same request, the same bytes."""
    overlays, reserve = _overlays(request)
    plan = _plan(request, reserve)
    image, specs, view = _compose(request, plan)
    layer_rgb = _finish(image, plan, request)
    layer = rgb_to_yuv420(np.asarray(layer_rgb))
    patches = []
    for spec in specs:
        left, top = spec.box[:2]
        variants = []
        for v in spec.variants:
            finished = _finish(v, plan, request, (left, top), (view.w, view.h))
            y, u, vv = rgb_to_yuv420(np.asarray(finished))
            # drop a 4 px rim: chroma at a patch's edge is subsampled from its own pixels only
            variants.append((y[4:-4, 4:-4].copy(), u[2:-2, 2:-2].copy(), vv[2:-2, 2:-2].copy()))
        patches.append(Patch(left + 4, top + 4, variants, spec.schedule))
    first = (
        _first_frame(request.first_frame, plan.width, plan.height)
        if (request.first_frame is not None)
        else None
    )
    path = _path(plan, view, request.seed)
    _encode(plan, layer, patches, overlays, first, path, output, progress)
    return output


def _paste(layer: Planes, patch: Patch, variant: int) -> None:
    y, u, v = patch.variants[variant]
    ly, lu, lv = layer
    py, px = patch.y, patch.x
    ly[py : py + y.shape[0], px : px + y.shape[1]] = y
    lu[py // 2 : py // 2 + u.shape[0], px // 2 : px // 2 + u.shape[1]] = u
    lv[py // 2 : py // 2 + v.shape[0], px // 2 : px // 2 + v.shape[1]] = v


def _encode(
    plan: _Plan,
    layer: Planes,
    patches: list[Patch],
    overlays: list[Overlay],
    first: Planes | None,
    path: list[tuple[float, float, float]],
    output: Path,
    progress: Callable[[float], None] | None,
) -> None:
    w, h, n = plan.width, plan.height, plan.frames
    ly, lu, lv = layer
    lh, lw = ly.shape
    dissolve = max(1, round(DISSOLVE * plan.fps)) if first is not None else 0
    step = max(1, n // 10)
    pending: deque[Future[None]] = deque()
    with (
        VideoWriter(output, w, h, plan.fps) as writer,
        ThreadPoolExecutor(1, thread_name_prefix="animatic-encode") as pool,
    ):
        for i in range(n):
            for k, patch in enumerate(patches):
                want = patch.schedule[i]
                if want is None or want == patch.current:
                    continue
                _paste(layer, patch, want)
                patch.current = want
                for later in patches[k + 1 :]:
                    if later.overlaps(patch):
                        later.current = -1
            frame = av.VideoFrame(w, h, "yuv420p")
            fy, fu, fv = frame_planes(frame)
            x, y, cw = path[i]
            if cw == w:
                ox = min(lw - w, max(0, round(x)))
                oy = min(lh - h, max(0, round(y)))
                fy[...] = ly[oy : oy + h, ox : ox + w]
                cx, cy = ox // 2, oy // 2
                fu[...] = lu[cy : cy + h // 2, cx : cx + w // 2]
                fv[...] = lv[cy : cy + h // 2, cx : cx + w // 2]
            else:
                zoom = cw / w
                cols = np.clip(((np.arange(w) + 0.5) * zoom + x).astype(np.intp), 0, lw - 1)
                rows = np.clip(((np.arange(h) + 0.5) * zoom + y).astype(np.intp), 0, lh - 1)
                np.take(ly.take(rows, axis=0), cols, axis=1, out=fy, mode="clip")
                ccols = np.clip(
                    ((np.arange(w // 2) + 0.5) * zoom + x / 2).astype(np.intp), 0, lw // 2 - 1
                )
                crows = np.clip(
                    ((np.arange(h // 2) + 0.5) * zoom + y / 2).astype(np.intp), 0, lh // 2 - 1
                )
                np.take(lu.take(crows, axis=0), ccols, axis=1, out=fu, mode="clip")
                np.take(lv.take(crows, axis=0), ccols, axis=1, out=fv, mode="clip")
            if i < dissolve and first is not None:
                a = round(256 * _ease(i / dissolve))
                for dst, src in zip((fy, fu, fv), first, strict=True):
                    mixed = dst.astype(np.uint16) * a + src.astype(np.uint16) * (256 - a)
                    dst[...] = mixed >> 8
            for o in overlays:
                oh, ow = o.a[0].shape
                _blend(fy[o.y : o.y + oh, o.x : o.x + ow], o.a[0], o.b[0])
                cy2, cx2 = o.y // 2, o.x // 2
                _blend(fu[cy2 : cy2 + oh // 2, cx2 : cx2 + ow // 2], o.a[1], o.b[1])
                _blend(fv[cy2 : cy2 + oh // 2, cx2 : cx2 + ow // 2], o.a[2], o.b[2])
            pending.append(pool.submit(writer.write_frame, frame))
            while len(pending) > 6:
                pending.popleft().result()
            if progress is not None and (i + 1) % step == 0 and i + 1 < n:
                progress((i + 1) / n)
        while pending:
            pending.popleft().result()
    if progress is not None:
        progress(1.0)
