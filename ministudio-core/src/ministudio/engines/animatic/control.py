"""Control layers of a shot, drawn once at the layer's size like the picture: each character's
mask, a depth map, and the edges of the finished picture.

Grey layers hold the value a decoder shows (0 black .. 255 white); ``luma`` turns them into
the limited-range Y the picture's own frames use, with neutral chroma beside them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ministudio.engines.animatic import draw
from ministudio.engines.animatic.draw import FEET, ORB_RADIUS, View
from ministudio.engines.animatic.framing import Cast
from ministudio.engines.animatic.looks import place_look
from ministudio.engines.animatic.planes import Patch, Planes
from ministudio.jobs import VideoRequest

# depth, near = bright (the MiDaS / Depth Anything convention): a disparity-like value
FIGURE_DEPTH = 200  # every character stands at one distance from the camera
FLOOR_DEPTH = 160  # the floor where they stand (a little behind them, so they stand out)
WALL_DEPTH = 40  # a room's wall, or a reference picture behind the cast
SKY_DEPTH = 8  # outdoors, above the horizon
EDGE_THRESHOLD = 96  # Sobel |gx| + |gy| on luma: about a 24-level step

_LUMA = np.round(16 + np.arange(256) * 219 / 255).astype(np.uint8)


def luma(grey: np.ndarray) -> Planes:
    """A grey layer (uint8, 0..255) as Y, U, V planes: limited-range Y, neutral chroma."""
    h, w = grey.shape
    chroma = np.full((h // 2, w // 2), 128, np.uint8)
    return _LUMA[grey], chroma, chroma.copy()


def _grow(mask: np.ndarray, r: int) -> np.ndarray:
    """``mask`` dilated by ``r`` px (a square)."""
    out: np.ndarray = mask.copy()
    for axis in (0, 1):
        src = out.copy()
        for d in range(1, r + 1):
            a = [slice(None), slice(None)]
            b = [slice(None), slice(None)]
            a[axis], b[axis] = slice(d, None), slice(None, -d)
            out[tuple(a)] |= src[tuple(b)]
            out[tuple(b)] |= src[tuple(a)]
    return out


def figure_mask(member: Cast, view: View) -> np.ndarray:
    """Where ``member`` is drawn in the layer (bool, layer size): body and outline."""
    mask = np.zeros((view.h, view.w), bool)
    look = member.look
    if member.sprite is not None:
        picture = draw.load_sprite(member.sprite)
        white = Image.new("RGBA", picture.size, (255, 255, 255, 255))
        white.putalpha(picture.getchannel("A"))
        canvas = Image.new("RGB", (view.w, view.h), (0, 0, 0))
        draw.draw_sprite(canvas, white, member.x, FEET, look.height, view)
        return np.asarray(canvas)[..., 0] >= 128
    if look.kind == "orb":
        a = draw.anchors(look, member.x, FEET)
        cx, cy, r = view.px(a.x), view.py(a.head_y), ORB_RADIUS * view.s * 1.2
        yy, xx = np.ogrid[: view.h, : view.w]
        return np.asarray((xx - cx) ** 2 + (yy - cy) ** 2 <= r * r)
    sprite = draw.figure_sprite(look, member.x, FEET, view, (view.w, view.h))
    if sprite is None:
        return mask
    local = np.asarray(sprite.mask) >= 128
    if look.kind != "hologram":
        local = np.pad(local, 4)
        local = _grow(local, max(1, min(4, round(view.s * 0.005))))
        top, left = sprite.top - 4, sprite.left - 4
    else:
        top, left = sprite.top, sprite.left
    h, w = local.shape
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(view.h, top + h), min(view.w, left + w)
    mask[y0:y1, x0:x1] = local[y0 - top : y1 - top, x0 - left : x1 - left]
    return mask


def depth_layer(request: VideoRequest, view: View, masks: list[np.ndarray]) -> np.ndarray:
    """Depth as grey (layer size): the far wall or sky, the floor nearing toward the bottom
    (a floor's disparity grows linearly below the horizon), the figures nearer still."""
    env = request.shot.environment
    horizon, far = 0.0, WALL_DEPTH
    if not [p for p in env.reference_images if p.is_file()]:
        look = place_look(env.id, env.description, tuple(env.palette), env.lighting)
        if look.exterior:
            far = SKY_DEPTH
            if look.theme in ("beach", "desert", "park", "mountain"):
                horizon = 0.9
    y = view.y1 - (np.arange(view.h, dtype=np.float32) + 0.5) / view.s
    below = np.clip((horizon - y) / (horizon - FEET), 0, None)
    rows = np.clip(far + (FLOOR_DEPTH - far) * below, 0, 255).astype(np.uint8)
    out = np.repeat(rows[:, None], view.w, axis=1)
    for mask in masks:
        out[mask] = FIGURE_DEPTH
    return out


def sobel_edges(y: np.ndarray) -> np.ndarray:
    """White (255) where the luma plane ``y`` has an edge, black elsewhere (same size)."""
    p = np.pad(y.astype(np.int16), 1, mode="edge")
    gx = p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:] - p[:-2, :-2] - 2 * p[1:-1, :-2] - p[2:, :-2]
    gy = p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:] - p[:-2, :-2] - 2 * p[:-2, 1:-1] - p[:-2, 2:]
    return np.where(np.abs(gx) + np.abs(gy) >= EDGE_THRESHOLD, 255, 0).astype(np.uint8)


def edge_patches(layer_y: np.ndarray, patches: list[Patch]) -> list[Patch]:
    """The picture's patches (mouths, an orb's pulse) as edges, each seen in its setting."""
    padded = np.pad(layer_y, 1, mode="edge")
    out = []
    for patch in patches:
        variants = []
        for y, _, _ in patch.variants:
            h, w = y.shape
            region = padded[patch.y : patch.y + h + 2, patch.x : patch.x + w + 2].copy()
            region[1:-1, 1:-1] = y
            variants.append(luma(sobel_edges(region)[1:-1, 1:-1]))
        out.append(Patch(patch.x, patch.y, variants, patch.schedule))
    return out
