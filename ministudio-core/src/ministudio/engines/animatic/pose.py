"""A drawn figure's skeleton in the OpenPose COCO-18 layout, read off its anatomy.

The figures stand facing the camera, so a person's right side is on the image's left.
Only figures drawn from a body have one: a person, a robot, a hologram. An orb has no body,
and a character shown by its reference image is a picture we cannot see the body in.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from ministudio.engines.animatic.draw import FEET, View
from ministudio.engines.animatic.draw.human import proportions
from ministudio.engines.animatic.framing import Cast

KEYPOINTS = (
    "nose",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_eye",
    "left_eye",
    "right_ear",
    "left_ear",
)

# OpenPose's limbs (0-based keypoint pairs) and its colours, as ControlNet draws them
LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip
COLOURS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)  # fmt: skip

Point = tuple[float, float]


def has_skeleton(member: Cast) -> bool:
    """Whether the figure is drawn from a body (not an orb, not a reference picture)."""
    return member.sprite is None and member.look.kind in ("human", "robot", "hologram")


def skeleton(member: Cast) -> list[Point]:
    """The 18 COCO keypoints of a drawn figure, in world metres (x right, y up)."""
    look, x = member.look, member.x
    p = proportions(look)
    h, hw, sw, aw = look.height, p["hip_w"], p["shoulder_w"], p["arm_w"]
    sy, hy, hand = FEET + p["shoulder_y"], FEET + p["hip_y"], FEET + p["hand_y"]
    hcy, hh, hwid = FEET + p["head_y"], p["head_h"], p["head_w"]
    ey = hcy + hh * 0.1 if look.kind == "robot" else FEET + p["eye_y"]
    lw = hw * 0.42
    out: dict[str, Point] = {"nose": (x, hcy - hh * 0.11), "neck": (x, sy)}
    for side, name in ((-1, "right"), (1, "left")):
        ax = x + side * (sw / 2 + aw * 0.3)
        lx = x + side * (hw / 2 - lw / 2)
        out[f"{name}_shoulder"] = (ax, sy)
        out[f"{name}_elbow"] = (ax + side * aw * 0.15, (sy + hand) / 2)
        out[f"{name}_wrist"] = (ax + side * aw * 0.3, hand + aw * 0.7)
        out[f"{name}_hip"] = (lx, hy)
        out[f"{name}_knee"] = (lx, FEET + h * 0.27)
        out[f"{name}_ankle"] = (lx, FEET + h * 0.07)
        out[f"{name}_eye"] = (x + side * hwid * 0.2, ey)
        out[f"{name}_ear"] = (x + side * hwid * 0.46, hcy)
    return [out[k] for k in KEYPOINTS]


def stick_width(width: int, height: int) -> int:
    """ControlNet draws 4 px limbs on a 512 px picture: the same share of this frame."""
    return max(2, round(4 * min(width, height) / 512))


def draw_skeletons(cast: list[Cast], view: View, stick: int) -> np.ndarray:
    """Every skeleton on black, the size of the layer (RGB): limbs at 60 %, joints full."""
    image = Image.new("RGB", (view.w, view.h), (0, 0, 0))
    pen = ImageDraw.Draw(image)
    for member in cast:
        if not has_skeleton(member):
            continue
        pts = [(view.px(x), view.py(y)) for x, y in skeleton(member)]
        for (a, b), colour in zip(LIMBS, COLOURS, strict=False):
            pen.polygon(_ellipse(pts[a], pts[b], stick), fill=tuple(c * 6 // 10 for c in colour))
        for (px, py), colour in zip(pts, COLOURS, strict=True):
            pen.ellipse((px - stick, py - stick, px + stick, py + stick), fill=colour)
    return np.asarray(image)


def _ellipse(a: Point, b: Point, half: float) -> list[Point]:
    """The ellipse from ``a`` to ``b``, ``half`` px thick each side, as a polygon."""
    mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    length = math.hypot(b[0] - a[0], b[1] - a[1]) / 2
    angle = math.atan2(b[1] - a[1], b[0] - a[0])
    ca, sa = math.cos(angle), math.sin(angle)
    out = []
    for k in range(36):
        t = math.tau * k / 36
        ex, ey = length * math.cos(t), half * math.sin(t)
        out.append((mx + ex * ca - ey * sa, my + ex * sa + ey * ca))
    return out
