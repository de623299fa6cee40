"""Frames as YUV 4:2:0 planes: converting, and blending small patches and overlays into
them."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image

from ministudio.engines.animatic.framing import DISSOLVE, Plan, ease
from ministudio.media.encode import VideoWriter

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]


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


def blend(plane: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    tmp = plane.astype(np.uint16)
    tmp *= a
    tmp += b
    tmp >>= 8
    plane[...] = tmp


def paste(layer: Planes, patch: Patch, variant: int) -> None:
    y, u, v = patch.variants[variant]
    ly, lu, lv = layer
    py, px = patch.y, patch.x
    ly[py : py + y.shape[0], px : px + y.shape[1]] = y
    lu[py // 2 : py // 2 + u.shape[0], px // 2 : px // 2 + u.shape[1]] = u
    lv[py // 2 : py // 2 + v.shape[0], px // 2 : px // 2 + v.shape[1]] = v


def first_frame_planes(path: Path, w: int, h: int) -> Planes | None:
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


def crop(
    at: tuple[float, float, float], layer: tuple[int, int], frame: tuple[int, int]
) -> tuple[float, float, float]:
    """The crop a frame shows: left, top and width in layer px, as ``encode_frames`` takes it
    (a crop the frame's size snaps to whole pixels inside the layer; a zoom is resampled)."""
    x, y, cw = at
    (lw, lh), (w, h) = layer, frame
    if cw == w:
        return float(min(lw - w, max(0, round(x)))), float(min(lh - h, max(0, round(y)))), cw
    return x, y, cw


def encode_frames(
    plan: Plan,
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
                paste(layer, patch, want)
                patch.current = want
                for later in patches[k + 1 :]:
                    if later.overlaps(patch):
                        later.current = -1
            frame = av.VideoFrame(w, h, "yuv420p")
            fy, fu, fv = frame_planes(frame)
            x, y, cw = crop(path[i], (lw, lh), (w, h))
            if cw == w:
                ox, oy = int(x), int(y)
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
                a = round(256 * ease(i / dissolve))
                for dst, src in zip((fy, fu, fv), first, strict=True):
                    mixed = dst.astype(np.uint16) * a + src.astype(np.uint16) * (256 - a)
                    dst[...] = mixed >> 8
            for o in overlays:
                oh, ow = o.a[0].shape
                blend(fy[o.y : o.y + oh, o.x : o.x + ow], o.a[0], o.b[0])
                cy2, cx2 = o.y // 2, o.x // 2
                blend(fu[cy2 : cy2 + oh // 2, cx2 : cx2 + ow // 2], o.a[1], o.b[1])
                blend(fv[cy2 : cy2 + oh // 2, cx2 : cx2 + ow // 2], o.a[2], o.b[2])
            pending.append(pool.submit(writer.write_frame, frame))
            while len(pending) > 6:
                pending.popleft().result()
            if progress is not None and (i + 1) % step == 0 and i + 1 < n:
                progress((i + 1) / n)
        while pending:
            pending.popleft().result()
    if progress is not None:
        progress(1.0)
