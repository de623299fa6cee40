"""Decode a clip once, small: the picture every check reads, and the sound if it has any.

Full-size decoding is the cost that matters (about 1.5 s per minute of 720p video on one
core); scaling each frame with swscale would triple it. So the planes of each decoded frame
are read as they are, point-sampled to a few times the target size and box-averaged down in
numpy: a grey sequence about ``GREY_SIDE`` pixels on its long side, an RGB thumbnail sequence
about ``COLOUR_SIDE``, and a finer luma sequence about ``FINE_SIDE`` where a speaking mouth is
a few pixels (for the sync check). Sizes go by the long side, so a vertical film costs what a
horizontal one does.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from ministudio.errors import MediaError

GREY_SIDE = 64  # enough for black / frozen / flash: they concern the whole picture
COLOUR_SIDE = 32  # enough for colour statistics and seams
# A talking mouth in a medium shot is about 30 x 8 pixels of a 1280 x 720 frame: at 128
# pixels wide it still moves a few pixels; at 64 it is lost in one (measured: issue 15)
FINE_SIDE = 128
_OVERSAMPLE = 2  # point samples averaged per output pixel, each way
_CHUNK = 64  # frames averaged down at a time: a film's worth of fresh memory costs more to
# touch than to compute
# The deblocking filter smooths block edges a pixel or two wide, which the averaged pictures
# barely resolve (a mean change of 0.05 of 255 levels in the fine picture of a CRF 16 film);
# skipping it saves about a sixth of H.264 decoding (measured: issue 15)
_DECODER_OPTIONS = {"skip_loop_filter": "all"}
_SPLIT_MIN = 2.0  # seconds: a clip at least twice this long is decoded in two halves at once
# Decoders at once across every `decode` of this process, one per core: a clip is decoded in
# two halves only while a second one is free. A render checks a clip per core at once, and
# splitting each of them as well held two decoders and their sample buffers (about 10 MB at
# 720p) per core for no more speed (issue 17, benchmarks/README.md).
_DECODERS = threading.BoundedSemaphore(os.cpu_count() or 2)


@dataclass(frozen=True)
class Footage:
    """A clip as the checks see it. Picture values are float32 in 0..1."""

    path: Path | None
    width: int  # the stream's picture size
    height: int
    fps: float  # the stream's declared frame rate
    duration: float  # the container's duration, seconds (longest stream)
    grey: np.ndarray  # (frames, h, w) luma, about GREY_SIDE on the long side
    fine: np.ndarray  # (frames, h, w) uint8 luma as coded, about FINE_SIDE on the long side
    colour: np.ndarray  # (frames, h, w, 3) RGB, about COLOUR_SIDE on the long side
    audio: np.ndarray | None = None  # mono float32 -1..1, None when the clip has no sound
    sample_rate: int = 0
    times: np.ndarray | None = None  # each frame's presentation time, seconds (float64)

    @property
    def frames(self) -> int:
        return int(self.grey.shape[0])

    @property
    def video_duration(self) -> float:
        return self.frames / self.fps if self.fps else 0.0

    @property
    def audio_duration(self) -> float:
        if self.audio is None or not self.sample_rate:
            return 0.0
        return self.audio.size / self.sample_rate


class _Averager:
    """Box-averages stacks of (h, w) uint8 frames by ``block`` into sums it keeps between
    chunks: fresh memory for every chunk cost more in page faults than the adding (measured:
    issue 15). Strided slices added up, rows of each block then its columns: several times
    faster than a reduction over a short middle axis (same values)."""

    def __init__(self, frames: int, height: int, width: int, block: int) -> None:
        self.out_h, self.out_w = max(1, height // block), max(1, width // block)
        self.block_h, self.block_w = min(block, height), min(block, width)
        wide = np.uint16 if self.block_h * self.block_w * 255 < 1 << 16 else np.uint32
        self.rows = np.empty((frames, self.out_h, self.out_w * self.block_w), wide)
        self.sums = np.empty((frames, self.out_h, self.out_w), wide)

    def __call__(self, frames: np.ndarray, dtype: type = np.float32) -> np.ndarray:
        """The (frames, h', w') means of ``frames``, float32 (or rounded to ``np.uint8``)."""
        bh, bw, count = self.block_h, self.block_w, len(frames)
        cut = frames[:, : self.out_h * bh, : self.out_w * bw]
        rows, sums = self.rows[:count], self.sums[:count]
        np.copyto(rows, cut[:, 0::bh])
        for i in range(1, bh):
            np.add(rows, cut[:, i::bh], out=rows)
        np.copyto(sums, rows[:, :, 0::bw])
        for j in range(1, bw):
            np.add(sums, rows[:, :, j::bw], out=sums)
        means = sums * np.float32(1.0 / (bh * bw))
        out: np.ndarray = np.rint(means).astype(dtype) if dtype is np.uint8 else means
        return out


def _plane(frame: av.VideoFrame, index: int, height: int, width: int) -> np.ndarray:
    plane = frame.planes[index]
    rows: np.ndarray = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
    result: np.ndarray = rows[:height, :width]
    return result


def _yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, full: bool) -> np.ndarray:
    """BT.601 YUV (0..255 scale) to RGB in 0..1; exact matrix is irrelevant to statistics."""
    if full:
        yy, cb, cr = y / 255.0, (u - 128.0) / 255.0, (v - 128.0) / 255.0
    else:
        yy, cb, cr = (y - 16.0) / 219.0, (u - 128.0) / 224.0, (v - 128.0) / 224.0
    rgb = np.stack([yy + 1.402 * cr, yy - 0.344136 * cb - 0.714136 * cr, yy + 1.772 * cb], axis=-1)
    out: np.ndarray = np.clip(rgb, 0.0, 1.0).astype(np.float32)
    return out


@dataclass(frozen=True)
class _Grid:
    """Where a frame's planes are point-sampled, and by how much the samples are averaged
    down into the fine, grey and colour pictures."""

    step: int  # luma samples every `step` pixels
    cstep: int  # chroma samples every `cstep` pixels of the half-size chroma planes
    fine: int  # luma samples per fine pixel, each way
    grey: int
    colour: int
    chroma: int  # chroma samples per colour pixel, each way


class _Samples:
    """Some frames, sampled into buffers kept between chunks and averaged down a chunk at a
    time (on the decoding thread, so the work overlaps the other half's decoding), and when
    each is shown."""

    def __init__(self, path: Path, grid: _Grid) -> None:
        self.path, self.grid = path, grid
        self.times: list[float] = []
        self.full = False  # full-range (JPEG) luma
        self.seeked_to: float | None = None  # the first frame decoded after a seek
        self.chunks: list[tuple[np.ndarray, ...]] = []  # fine, grey, y, u, v
        self._size: tuple[int, int] = (0, 0)
        self._planes: list[np.ndarray] = []  # y, u, v samples of the chunk's frames
        self._filled = 0
        self._averagers: list[_Averager] = []  # fine, grey, colour luma; chroma

    def add(self, frame: av.VideoFrame, t: float) -> None:
        g = self.grid
        w, h = frame.width, frame.height
        cw, ch = (w + 1) // 2, (h + 1) // 2
        planes = (
            _plane(frame, 0, h, w)[:: g.step, :: g.step],
            _plane(frame, 1, ch, cw)[:: g.cstep, :: g.cstep],
            _plane(frame, 2, ch, cw)[:: g.cstep, :: g.cstep],
        )
        if (w, h) != self._size:
            self._start(w, h, planes)
        for buffer, plane in zip(self._planes, planes, strict=True):
            buffer[self._filled] = plane
        self._filled += 1
        self.times.append(t)
        if self._filled == _CHUNK:
            self.flush()

    def _start(self, width: int, height: int, planes: tuple[np.ndarray, ...]) -> None:
        """Buffers and sums for frames of this size, the first frame's."""
        if self._size != (0, 0):
            raise MediaError(
                f"{self.path}: its picture changes size mid-stream ({self._size[0]}x"
                f"{self._size[1]} to {width}x{height}); re-encode it at one size to check it"
            )
        g, (y_h, y_w), (c_h, c_w) = self.grid, planes[0].shape, planes[1].shape
        self._size = (width, height)
        self._planes = [np.empty((_CHUNK, *p.shape), np.uint8) for p in planes]
        self._averagers = [
            *(_Averager(_CHUNK, y_h, y_w, block) for block in (g.fine, g.grey, g.colour)),
            _Averager(_CHUNK, c_h, c_w, g.chroma),
        ]

    def flush(self) -> None:
        if self._filled:
            ys, us, vs = (p[: self._filled] for p in self._planes)
            fine, grey, colour, chroma = self._averagers
            self.chunks.append((fine(ys, np.uint8), grey(ys), colour(ys), chroma(us), chroma(vs)))
        self._filled = 0

    def joined(self, index: int) -> np.ndarray:
        return np.concatenate([chunk[index] for chunk in self.chunks])


def _grid(width: int, height: int) -> _Grid:
    """Point samples about twice as dense as the fine picture, each way; chroma planes are
    half size, sampled every `step` (or every other one where a colour pixel still spans
    whole chroma samples), their blocks covering luma's."""
    side = max(width, height)
    step = max(1, side // (FINE_SIDE * _OVERSAMPLE))
    block = max(1, side // GREY_SIDE // step)
    colour = max(1, block * GREY_SIDE // COLOUR_SIDE)  # of the luma samples
    cstep = 2 * step if colour % 4 == 0 else step
    fine = max(1, side // FINE_SIDE // step)
    return _Grid(step, cstep, fine, block, colour, max(1, colour * step // (2 * cstep)))


class _Untimed(Exception):
    """A frame without a timestamp: the film cannot be split by time."""


def _sample(path: Path, lo: float | None, hi: float | None, grid: _Grid, fps: float) -> _Samples:
    """Sample the frames shown from ``lo`` until ``hi`` (seconds; None: the film's start or
    end), seeking to the keyframe before ``lo``."""
    out = _Samples(path, grid)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = dict(_DECODER_OPTIONS)
        if lo is not None and stream.time_base:
            container.seek(int(lo / stream.time_base), stream=stream, backward=True)
        for frame in container.decode(stream):
            t = frame.time
            if t is None:
                if lo is not None or hi is not None:
                    raise _Untimed
                t = len(out.times) / (fps or 1.0)
            if out.seeked_to is None:
                out.seeked_to = t
            if lo is not None and t < lo:
                continue
            if hi is not None and t >= hi:
                break
            name = frame.format.name
            if name not in ("yuv420p", "yuvj420p"):
                frame = frame.reformat(format="yuv420p")
                name = "yuv420p"
            out.full = name == "yuvj420p"
            out.add(frame, t)
    out.flush()
    return out


def _split_decode(
    path: Path, middle: float | None, grid: _Grid, fps: float, pool: ThreadPoolExecutor
) -> _Samples:
    """All frames, sampled: in two halves on two threads (the decoder lets go of the GIL)
    when the film has a ``middle``, else in one pass. A seek that lands past the middle, or a
    frame without a timestamp, falls back to one pass."""
    if middle is not None:
        try:
            first = pool.submit(_sample, path, None, middle, grid, fps)
            second = _sample(path, middle, None, grid, fps)
            head = first.result()
            landed = second.seeked_to is None or second.seeked_to <= middle
            if landed and (not second.times or not head.times or head.times[-1] < second.times[0]):
                head.chunks += second.chunks
                head.times += second.times
                head.full = head.full or second.full
                return head
        except _Untimed:
            pass
    return _sample(path, None, None, grid, fps)


def decode(path: Path | str, *, sound: bool = True) -> Footage:
    """Decode ``path`` once into a `Footage` (and its audio, mono, if ``sound`` and present)."""
    from ministudio.media.audio import read_wav

    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path}: no video stream to check")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else 0.0
            width, height = stream.codec_context.width, stream.codec_context.height
            duration = container.duration / av.time_base if container.duration is not None else 0.0
            has_audio = bool(container.streams.audio)
            middle = None
            if stream.duration and stream.time_base and stream.start_time is not None:
                seconds = float(stream.duration * stream.time_base)
                if seconds >= 2 * _SPLIT_MIN:
                    middle = float(stream.start_time * stream.time_base) + seconds / 2
        with _DECODERS:
            split = middle is not None and _DECODERS.acquire(blocking=False)
            grid = _grid(width, height)
            try:
                with ThreadPoolExecutor(1) as pool:
                    got = _split_decode(path, middle if split else None, grid, fps, pool)
            finally:
                if split:
                    _DECODERS.release()
        # after the picture, not beside it: a third thread taking the GIL back after each
        # sound frame stalls the two decoding the picture (measured: 2.4 s instead of 1.45)
        audio, sample_rate = read_wav(path) if sound and has_audio else (None, 0)
    except av.FFmpegError as exc:
        raise MediaError(f"{path}: cannot decode it for checking ({exc})") from exc
    if not got.times:
        raise MediaError(f"{path}: its video stream holds no frames")
    grey = got.joined(1)  # float32, scaled in place (fresh memory is slow to touch)
    if not got.full:
        np.subtract(grey, 16.0, out=grey)
    np.divide(grey, 255.0 if got.full else 219.0, out=grey)
    np.clip(grey, 0.0, 1.0, out=grey)
    cy, cu, cv = got.joined(2), got.joined(3), got.joined(4)
    hh = min(cy.shape[1], cu.shape[1])
    ww = min(cy.shape[2], cu.shape[2])
    colour = _yuv_to_rgb(cy[:, :hh, :ww], cu[:, :hh, :ww], cv[:, :hh, :ww], got.full)
    fine, times = got.joined(0), got.times
    return Footage(
        path=path,
        width=width,
        height=height,
        fps=fps,
        duration=duration or len(times) / (fps or 1.0),
        grey=grey,
        fine=fine,
        colour=colour,
        audio=audio,
        sample_rate=sample_rate,
        times=np.asarray(times, np.float64),
    )
