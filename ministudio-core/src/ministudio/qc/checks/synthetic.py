"""Synthetic clips with known content, for the checks' tests and benchmark.

A "place" is a large seeded picture (a gradient sky, a floor, furniture-like blocks); a shot
views part of it with a camera move and a moving figure, may change its light, and may carry
speech-like sound. Defects are injected into the frames or the samples before encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ministudio.media.encode import VIDEO_CODEC, X264_OPTIONS, VideoWriter

RATE = 48000


def place(seed: int, width: int, height: int) -> np.ndarray:
    """A seeded environment picture (height x width x 3 uint8), larger than any view of it."""
    rng = np.random.default_rng(seed)
    top, bottom, floor = (rng.uniform(40, 220, 3) for _ in range(3))
    rows = np.linspace(0, 1, height)[:, None, None]
    img = top * (1 - rows) + bottom * rows
    img = np.broadcast_to(img, (height, width, 3)).copy()
    img[int(height * 0.7) :] = floor
    for _ in range(14):
        w, h = int(rng.uniform(0.04, 0.2) * width), int(rng.uniform(0.1, 0.4) * height)
        x, y = int(rng.uniform(0, width - w)), int(rng.uniform(0.1, 0.75) * height)
        img[y : y + h, x : x + w] = rng.uniform(0, 255, 3)
        img[y : y + h : 6, x : x + w] *= 0.8  # some texture
    result: np.ndarray = img.astype(np.uint8)
    return result


def frames(
    scene: np.ndarray,
    width: int,
    height: int,
    count: int,
    *,
    zoom: float = 1.0,
    start: tuple[float, float] = (0.1, 0.1),
    move: tuple[float, float] = (0.05, 0.0),
    seed: int = 0,
) -> list[np.ndarray]:
    """A shot of ``scene``: a window ``zoom`` times the output size (nearest-neighbour),
    moving from ``start`` by ``move`` (fractions of the scene), with a moving figure."""
    rng = np.random.default_rng(seed)
    sh, sw, _ = scene.shape
    vw, vh = int(width * zoom), int(height * zoom)
    ys = np.minimum((np.arange(height) * zoom).astype(int), vh - 1)
    xs = np.minimum((np.arange(width) * zoom).astype(int), vw - 1)
    colour = rng.uniform(0, 255, 3).astype(np.uint8)
    out = []
    for i in range(count):
        t = i / max(1, count - 1)
        x0 = int((start[0] + move[0] * t) * (sw - vw))
        y0 = int((start[1] + move[1] * t) * (sh - vh))
        x0, y0 = min(max(x0, 0), sw - vw), min(max(y0, 0), sh - vh)
        frame = scene[y0 + ys][:, x0 + xs].copy()
        fx = int(width * (0.3 + 0.3 * t))
        fy = int(height * (0.35 + 0.03 * np.sin(i / 3)))
        frame[fy : fy + height // 2, fx : fx + width // 8] = colour
        out.append(frame)
    return out


def relight(pictures: Sequence[np.ndarray], gains: Sequence[float]) -> list[np.ndarray]:
    """The same shot under changing light: each frame's RGB scaled by its gain (a cloud
    passing, a flickering lamp)."""
    return [
        np.clip(p.astype(np.float32) * g, 0, 255).astype(np.uint8)
        for p, g in zip(pictures, gains, strict=True)
    ]


def speech(duration: float, lines: Sequence[tuple[float, float]], seed: int = 0) -> np.ndarray:
    """Speech-like sound: a voiced harmonic tone with syllable rhythm during each line, over
    faint room noise, at about -16 LUFS."""
    rng = np.random.default_rng(seed)
    n = round(duration * RATE)
    t = np.arange(n) / RATE
    out = rng.normal(0, 10 ** (-65 / 20), n)
    f0 = rng.uniform(110, 220)
    for a, b in lines:
        lo, hi = round(a * RATE), min(n, round(b * RATE))
        tt = t[lo:hi]
        pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * 1.3 * tt))
        phase = 2 * np.pi * np.cumsum(pitch) / RATE
        voice = sum(np.sin(k * phase) / k for k in range(1, 12))
        rhythm = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * tt + rng.uniform(0, 6)) ** 2
        out[lo:hi] += voice * rhythm
    from ministudio.media.loudness import LOUDNESS_TARGET, integrated_loudness

    gain = 10 ** ((LOUDNESS_TARGET - integrated_loudness(out, RATE)) / 20)
    result: np.ndarray = (out * gain).astype(np.float32)
    return result


def write(
    path: Path,
    pictures: Sequence[np.ndarray],
    fps: int,
    audio: np.ndarray | None = None,
) -> Path:
    """Encode RGB frames (and mono samples at 48 kHz) as an MP4 like the film's clips."""
    height, width, _ = pictures[0].shape
    if audio is None:
        with VideoWriter(path, width, height, fps) as writer:
            for p in pictures:
                writer.write(p)
        return path
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream(VIDEO_CODEC, rate=fps, options=dict(X264_OPTIONS))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.time_base = Fraction(1, fps)
        sound = container.add_stream("aac", rate=RATE, layout="mono")
        for i, p in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(p, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        samples = np.clip(audio, -1, 1).astype(np.float32)
        for lo in range(0, samples.size, 1024):
            chunk = samples[None, lo : lo + 1024]
            aframe = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            aframe.sample_rate, aframe.pts, aframe.time_base = RATE, lo, Fraction(1, RATE)
            container.mux(sound.encode(aframe))
        container.mux(sound.encode(None))
    return path


def rewrite(source: Path, target: Path, change: Callable[[np.ndarray], np.ndarray]) -> Path:
    """Re-encode ``source``'s picture through ``change`` (RGB frame in, RGB frame out)."""
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        fps = round(float(stream.average_rate or 24))
        pictures = [change(f.to_ndarray(format="rgb24")) for f in container.decode(stream)]
    return write(target, pictures, fps)


def recolour(rgb: np.ndarray) -> np.ndarray:
    """The same picture in other colours: channels rotated and warmed (an environment whose
    palette drifted between shots)."""
    tint = np.array([30, 0, -30], np.int16)
    out: np.ndarray = np.clip(rgb[..., [2, 0, 1]].astype(np.int16) + tint, 0, 255)
    return out.astype(np.uint8)
