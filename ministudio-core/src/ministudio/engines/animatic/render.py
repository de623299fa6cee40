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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ministudio.engines.animatic import draw
from ministudio.engines.animatic.draw import FEET, ORB_RADIUS, View
from ministudio.engines.animatic.framing import (
    BACKGROUND_DETAIL,
    Cast,
    Plan,
    ease,
    layer_view,
    plan_shot,
)
from ministudio.engines.animatic.looks import FigureLook, grade_for, place_look
from ministudio.engines.animatic.planes import (
    Overlay,
    Patch,
    Planes,
    encode_frames,
    first_frame_planes,
    overlay,
    rgb_to_yuv420,
)
from ministudio.engines.animatic.talk import Mouth, openness_levels, talk_times, talking
from ministudio.engines.animatic.visemes import CLOSED, SHAPED, TEETH
from ministudio.jobs import VideoRequest
from ministudio.media.audio import read_wav


def _background(request: VideoRequest, plan: Plan, view: View) -> Image.Image:
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


def _compose(request: VideoRequest, plan: Plan) -> tuple[Image.Image, list[_PatchSpec], View]:
    view = layer_view(plan)
    image = _background(request, plan, view)
    specs: list[_PatchSpec] = []
    shot = request.shot
    mouths: list[tuple[Cast, list[Mouth], list[int | None] | None]] = []
    voice = read_wav(request.voice) if request.voice is not None else None
    for member in plan.cast:
        look = member.look
        spans = talk_times(member.brief, shot.lines, request.duration)
        track = talking(plan, member.brief, shot.lines, spans, voice)
        talk = openness_levels(track)
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
                mouths.append((member, track, [None if f else 0 for f in flicker]))
            continue
        draw.draw_figure(image, look, member.x, FEET, view)
        if spans:
            mouths.append((member, track, None))
    # mouths go last: their variants are cut from the finished figures
    for member, track, mask in mouths:
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
        # variant 0 is the mouth at rest as the figure was drawn; one more per shape used
        index: dict[Mouth, int] = {}
        variants = [base]
        for mouth in sorted(set(track), key=_MOUTHS.index):
            if mouth not in _MOUTHS[1:]:
                index[mouth] = 0
                continue
            shape, level = mouth

            def paint(
                pen: draw.Pen,
                look: FigureLook = member.look,
                m: Cast = member,
                o: float = _OPENNESS[level],
                shape: str = shape,
            ) -> None:
                draw.draw_mouth(pen, look, m.x, FEET, o, shape)

            index[mouth] = len(variants)
            variants.append(_supersampled(base, sub, paint))
        sched: list[int | None] = [index[mouth] for mouth in track]
        if mask is not None:
            sched = [None if m is None else s for s, m in zip(sched, mask, strict=True)]
        specs.append(_PatchSpec(box, variants, sched))
    _place_labels(plan, view)
    return image, specs, view


# every mouth a figure may show, the one at rest first; levels 1..3 open a shape this much
_OPENNESS = (0.0, 0.35, 0.7, 1.0)
_MOUTHS: list[Mouth] = [
    ("rest", 0),
    (CLOSED, 0),
    (TEETH, 0),
    *((shape, level) for shape in SHAPED for level in (1, 2, 3)),
]


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


def _place_labels(plan: Plan, view: View) -> None:
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
    plan: Plan,
    request: VideoRequest,
    box: tuple[int, int] = (0, 0),
    full: tuple[int, int] | None = None,
    labels: bool = True,
) -> Image.Image:
    """Grade a (part of the) layer under the shot's lighting, then write the name labels."""
    full = full or image.size
    graded = draw.apply_grade(image, grade_for(request.shot.environment.lighting), box, full)
    if graded is image:
        graded = image.copy()
    for name, cx, cy, size in plan.labels if labels else ():
        draw.draw_label(graded, name, cx, cy, size, offset=box)
    return graded


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


def _path(plan: Plan, view: View, seed: int) -> list[tuple[float, float, float]]:
    """Per frame: the crop's left, top (layer px) and width (px; == frame width unless zooming)."""
    w, h, n = plan.width, plan.height, plan.frames
    free_x, free_y = view.w - w, view.h - h
    out = []
    rng = random.Random(f"shake:{seed}")
    waves = [
        (rng.uniform(0.25, 1.3), rng.uniform(0, math.tau), rng.uniform(0.4, 1.0)) for _ in range(6)
    ]
    for i in range(n):
        u = ease(i / (n - 1)) if n > 1 else 0.5
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


@dataclass
class Shot:
    """A shot ready to encode: its plan, the finished layer and patches, and the camera."""

    plan: Plan
    view: View
    layer: Planes
    patches: list[Patch]
    overlays: list[Overlay]
    first: Planes | None
    path: list[tuple[float, float, float]]


def prepare(request: VideoRequest, clean: bool = False) -> Shot:
    """Plan, compose and finish ``request``'s shot as ``render_clip`` encodes it.

    ``clean`` leaves out what is text (the caption, the slate, the name labels) and the
    dissolve from ``request.first_frame``: the picture alone, framed and moved the same.
    """
    overlays, reserve = _overlays(request)
    plan = plan_shot(request, reserve)
    image, specs, view = _compose(request, plan)
    layer_rgb = _finish(image, plan, request, labels=not clean)
    layer = rgb_to_yuv420(np.asarray(layer_rgb))
    patches = []
    for spec in specs:
        left, top = spec.box[:2]
        variants = []
        for v in spec.variants:
            finished = _finish(v, plan, request, (left, top), (view.w, view.h), labels=not clean)
            y, u, vv = rgb_to_yuv420(np.asarray(finished))
            # drop a 4 px rim: chroma at a patch's edge is subsampled from its own pixels only
            variants.append((y[4:-4, 4:-4].copy(), u[2:-2, 2:-2].copy(), vv[2:-2, 2:-2].copy()))
        patches.append(Patch(left + 4, top + 4, variants, spec.schedule))
    first = (
        first_frame_planes(request.first_frame, plan.width, plan.height)
        if (request.first_frame is not None and not clean)
        else None
    )
    path = _path(plan, view, request.seed)
    return Shot(plan, view, layer, patches, [] if clean else overlays, first, path)


def render_clip(
    request: VideoRequest, output: Path, progress: Callable[[float], None] | None = None
) -> Path:
    """Render ``request`` as an animatic MP4 at ``output``; the same request, the same bytes."""
    shot = prepare(request)
    encode_frames(
        shot.plan,
        shot.layer,
        shot.patches,
        shot.overlays,
        shot.first,
        shot.path,
        output,
        progress,
    )
    return output
