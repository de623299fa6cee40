"""A drawn person (or robot) from its look: body proportions, the figure itself, and the mouth
that moves when it speaks."""

from __future__ import annotations

import math

from ministudio.engines.animatic.draw.canvas import Pen
from ministudio.engines.animatic.looks import FigureLook, mix, scale


def proportions(look: FigureLook) -> dict[str, float]:
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


def draw_human(pen: Pen, look: FigureLook, x: float, feet: float) -> None:
    p = proportions(look)
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


def draw_mouth(
    pen: Pen, look: FigureLook, x: float, feet: float, openness: float, shape: str = "open"
) -> None:
    """The mouth: a line at rest (``openness`` 0 and an open shape), else the viseme
    ``shape`` (see ``ministudio.engines.animatic.visemes``): ``closed`` lips pressed
    together, ``teeth`` the upper teeth on the lower lip, and the shapes that open further
    with ``openness`` (0..1): ``open`` a dropped jaw, ``wide`` lips spread over the teeth,
    ``round`` lips pushed out round, ``mid`` a small opening."""
    p = proportions(look)
    hw, hh = p["head_w"], p["head_h"]
    my = feet + p["mouth_y"]
    if look.kind == "robot":
        _robot_mouth(pen, look, x, my, hw, hh, openness, shape)
        return
    skin = look.skin if look.kind != "hologram" else mix(look.glow, (255, 255, 255), 0.55)
    lip = mix(skin, (150, 50, 50), 0.55)
    dark, white = (70, 25, 30), (240, 240, 235)
    if shape == "closed":  # pressed together: fuller, darker lips, a little narrower
        pen.ellipse(x, my, hw * 0.14, hh * 0.034, fill=mix(lip, (110, 30, 35), 0.35))
        pen.line([(x - hw * 0.12, my), (x + hw * 0.12, my)], scale(lip, 0.55), hh * 0.012)
        return
    if shape == "teeth":  # f, v: upper teeth resting on the tucked lower lip
        pen.ellipse(x, my - hh * 0.018, hw * 0.13, hh * 0.028, fill=lip)  # the lower lip
        pen.rect(x - hw * 0.09, my - hh * 0.012, x + hw * 0.09, my + hh * 0.018, white)
        pen.line(
            [(x - hw * 0.09, my - hh * 0.012), (x + hw * 0.09, my - hh * 0.012)], dark, hh * 0.006
        )
        pen.ellipse(x, my + hh * 0.02, hw * 0.14, hh * 0.012, fill=lip)  # the upper lip
        return
    if openness <= 0 or shape == "rest":
        pen.ellipse(x, my, hw * 0.16, hh * 0.022, fill=lip)
        return
    # Every open shape opens as far as ``openness`` says (the jaw follows the voice's
    # loudness, so the picture's motion follows the speech): its dark opening has the same
    # area as the open mouth's at that openness, about the same centre, with the upper teeth
    # in the same place once half open. The shapes differ in width (a narrow opening is
    # taller) and lips: seen small (a face in a medium shot is a few pixels), every mouth
    # darkens with the voice alike.
    ry = hh * (0.02 + 0.065 * openness)  # the open mouth's lips, half height
    cy = my - ry * 0.3
    area = hw * (0.11 + 0.03 * openness) * ry * 0.72  # its opening's half width x half height
    teeth = openness > 0.5
    if shape == "round":  # o, u, w: a tall narrow opening in pushed-out lips, no teeth
        rx = hw * (0.075 + 0.02 * openness)
        inner = area / rx * (0.82 if teeth else 1.0)  # as dark as the others with their teeth
        pen.ellipse(x, cy, rx * 1.5, inner * 1.3, fill=lip)
        pen.ellipse(x, cy, rx, inner, fill=dark)
        return
    if shape == "wide":  # i, e: spread lips, a shallow opening
        rx = hw * (0.17 + 0.02 * openness)
        inner = area / rx
        pen.ellipse(x, cy, rx * 1.12, inner * 1.3, fill=lip)
        pen.ellipse(x, cy, rx, inner, fill=dark)
        if teeth:
            pen.rect(x - rx * 0.7, cy + inner * 0.45, x + rx * 0.7, cy + inner * 0.95, white)
        return
    if shape == "mid":  # t, d, s, n, l, schwa: a little narrower than open, flatter lips
        rx = hw * (0.095 + 0.02 * openness)
        inner = area / rx
        pen.ellipse(x, cy, rx * 1.2, inner * 1.25, fill=lip)
        pen.ellipse(x, cy, rx, inner, fill=dark)
        if teeth:
            pen.rect(x - rx * 0.6, cy + inner * 0.45, x + rx * 0.6, cy + inner * 0.95, white)
        return
    pen.ellipse(x, cy, hw * (0.13 + 0.03 * openness), ry, fill=lip)  # open: the jaw dropped
    pen.ellipse(x, cy, hw * (0.11 + 0.03 * openness), ry * 0.72, fill=dark)
    if teeth:
        pen.rect(x - hw * 0.08, cy + ry * 0.35, x + hw * 0.08, cy + ry * 0.7, white)


# a robot's mouth grille per shape: (half width, how far it opens, glow) as fractions
_ROBOT = {
    "closed": (0.2, 0.0, 0.1),
    "teeth": (0.18, 0.25, 0.5),
    "round": (0.1, 1.0, 1.0),
    "wide": (0.28, 0.5, 1.0),
    "mid": (0.2, 0.6, 1.0),
    "open": (0.22, 1.0, 1.0),
}


def _robot_mouth(
    pen: Pen,
    look: FigureLook,
    x: float,
    my: float,
    hw: float,
    hh: float,
    openness: float,
    shape: str,
) -> None:
    """A robot's lit grille: as wide and as open as the shape, lit while it speaks."""
    half, opens, lit = _ROBOT.get(shape, (0.22, 0.0, 0.0))
    if shape not in ("closed", "teeth"):
        opens *= openness
        lit = lit if openness > 0 else 0.0
    glow = look.glow if lit > 0 else (40, 44, 52)
    pen.rect(
        x - hw * half,
        my - hh * 0.05 - hh * 0.05 * opens,
        x + hw * half,
        my + hh * 0.05 + hh * 0.02 * opens,
        mix((40, 44, 52), glow, 0.3 + lit * opens * 0.7 if shape != "closed" else 0.3),
        radius=0.005,
    )
