"""Normalise a clip to the film's format, to the frame; grab single frames from a clip.

`fit_clip` is where "the video is padded or trimmed to the audio to the frame" happens: the
result has exactly the frames asked for, at the film's size and rate, encoded with the shared
settings of `encode.py`, so that assembly can join it by stream copy.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
from PIL import Image

from ministudio.media import encode
from ministudio.media.probe import ClipInfo, damaged, probe

# Output frame i shows the source frame on screen at i / fps; this absorbs float rounding of
# timestamps so a source frame starting exactly on an output tick is not missed.
_TIME_EPSILON = 1e-4


def _settings_key() -> tuple[str, str, tuple[tuple[str, str], ...]]:
    return (encode.VIDEO_CODEC, encode.PIXEL_FORMAT, tuple(sorted(encode.X264_OPTIONS.items())))


@lru_cache(maxsize=16)
def _shared_extradata(
    width: int, height: int, fps: int, settings: tuple[str, str, tuple[tuple[str, str], ...]]
) -> bytes:
    with tempfile.TemporaryDirectory(prefix="ministudio-ref-") as tmp:
        ref = Path(tmp) / "ref.mp4"
        with encode.VideoWriter(ref, width, height, fps) as writer:
            writer.write(np.zeros((height, width, 3), np.uint8))
        with av.open(str(ref)) as container:
            return bytes(container.streams.video[0].codec_context.extradata or b"")


def shared_extradata(width: int, height: int, fps: int) -> bytes:
    """The H.264 parameter sets (avcC) the shared encoder writes for this format.

    Two clips join by stream copy only if their parameter sets are identical; this is the
    reference every fitted clip and the film are held to. Computed once per format (a one
    frame encode, a few milliseconds).
    """
    return _shared_extradata(width, height, fps, _settings_key())


def matches_shared_format(path: Path | str, *, width: int, height: int, fps: int) -> bool:
    """True if the clip's video stream is the film's format with the shared encoder settings."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            return False
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        return (
            ctx.name == "h264"
            and ctx.width == width
            and ctx.height == height
            and ctx.format is not None
            and ctx.format.name == encode.PIXEL_FORMAT
            and rate is not None
            and Fraction(rate) == Fraction(fps)
            and bytes(ctx.extradata or b"") == shared_extradata(width, height, fps)
        )


def _partial(dst: Path) -> Path:
    return dst.with_name(f".{dst.name}.partial")


def _copy_video_only(src: Path, dst: Path) -> None:
    """Stream copy the video stream alone into a new MP4 (drops audio, subtitles, data)."""
    with av.open(str(src)) as source, av.open(str(dst), mode="w", format="mp4") as out:
        stream = source.streams.video[0]
        target = out.add_stream_from_template(stream)
        for packet in source.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = target
            out.mux(packet)


def _cover(frame: av.VideoFrame, width: int, height: int) -> av.VideoFrame:
    """Scale to fill width x height and centre-crop the overflow (no bars, no distortion)."""
    if frame.width == width and frame.height == height:
        return frame.reformat(format=encode.PIXEL_FORMAT)
    scale = max(width / frame.width, height / frame.height)
    crop_w = min(frame.width, max(1, round(width / scale)))
    crop_h = min(frame.height, max(1, round(height / scale)))
    x0 = (frame.width - crop_w) // 2
    y0 = (frame.height - crop_h) // 2
    rgb: np.ndarray = frame.to_ndarray(format="rgb24")
    if (crop_w, crop_h) != (frame.width, frame.height):
        rgb = np.ascontiguousarray(rgb[y0 : y0 + crop_h, x0 : x0 + crop_w])
    cropped = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    return cropped.reformat(
        width=width, height=height, format=encode.PIXEL_FORMAT, interpolation="BICUBIC"
    )


def _shown(src: Path, fps: int, frames: int) -> Iterator[tuple[av.VideoFrame, int]]:
    """The source frames a fitted clip shows, in order: (decoded frame, how many of the
    ``frames`` output frames at ``fps`` show it). Output frame i shows the source frame on
    screen at i / fps (times counted from the first frame's); the last one is held to pad."""
    written = 0
    held: av.VideoFrame | None = None
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        src_rate = float(stream.average_rate or stream.guessed_rate or fps)
        start: float | None = None
        try:
            for index, frame in enumerate(container.decode(stream)):
                t = frame.time if frame.time is not None else index / src_rate
                if start is None:
                    start = t
                t -= start
                # every output tick before this frame's start shows the frame held so far
                shows = 0
                while (
                    held is not None
                    and written + shows < frames
                    and (written + shows) / fps < t - _TIME_EPSILON
                ):
                    shows += 1
                if shows:
                    assert held is not None
                    yield held, shows
                    written += shows
                if written >= frames:
                    break
                held = frame
        except av.FFmpegError as exc:
            raise damaged(src, f"decoding failed after {written} frames ({exc})") from exc
    if held is None:
        raise damaged(src, "no video frame could be decoded")
    if written < frames:  # pad: hold the last frame
        yield held, frames - written


def _reencode(src: Path, dst: Path, width: int, height: int, fps: int, frames: int) -> None:
    with encode.VideoWriter(dst, width, height, fps) as writer:
        try:
            for frame, shows in _shown(src, fps, frames):
                picture = _cover(frame, width, height)
                for _ in range(shows):
                    writer.write_frame(picture)
        except av.FFmpegError as exc:  # the encoder's (the decoder's are raised by _shown)
            raise damaged(src, f"encoding failed ({exc})") from exc


def fit_clip(
    src: Path | str, dst: Path | str, *, width: int, height: int, fps: int, frames: int
) -> Path:
    """Write `dst`: exactly `frames` frames of `src` at width x height @ fps, video only.

    A clip that already has the film's format, the shared encoder settings and the frame
    count is copied as it is (audio, if any, dropped by stream copy). Anything else is
    decoded and re-encoded: cover-fit (scale, then centre-crop), frame times mapped to the
    target rate (frames dropped or repeated), extra frames trimmed, the last frame held to
    pad. `src` and `dst` may be the same path.
    """
    if frames < 1:
        raise ValueError(f"frames must be at least 1, got {frames}")
    src, dst = Path(src), Path(dst)
    info: ClipInfo = probe(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = _partial(dst)
    try:
        if info.frames == frames and matches_shared_format(
            src, width=width, height=height, fps=fps
        ):
            if not info.has_audio and not info.has_subtitles:
                if src.resolve() == dst.resolve():
                    return dst
                shutil.copyfile(src, tmp)
            else:
                _copy_video_only(src, tmp)
        else:
            _reencode(src, tmp, width, height, fps, frames)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def frames_for(seconds: float, fps: int) -> int:
    """Frames needed to cover `seconds` at `fps` (rounded up: a shot never cuts its audio)."""
    return max(1, math.ceil(seconds * fps - 1e-6))


def _decode_until(
    container: av.container.InputContainer, stream: av.VideoStream, target: float
) -> av.VideoFrame | None:
    shown: av.VideoFrame | None = None
    for frame in container.decode(stream):
        if shown is not None and frame.time is not None and frame.time > target + _TIME_EPSILON:
            break
        shown = frame
    return shown


def _frame_at(src: Path, seconds: float) -> Image.Image:
    try:
        with av.open(str(src)) as container:
            stream = container.streams.video[0]
            start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
            target = start + seconds
            frame = None
            if seconds > 0 and stream.time_base is not None:
                container.seek(int(target / stream.time_base), stream=stream, backward=True)
                frame = _decode_until(container, stream, target)
            if frame is None:  # no seek, or a seek that found nothing: read from the start
                container.seek(0, stream=stream, backward=True)
                frame = _decode_until(container, stream, target)
    except av.FFmpegError as exc:
        raise damaged(src, f"decoding failed ({exc})") from exc
    if frame is None:
        raise damaged(src, "no video frame could be decoded")
    image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
    return image


def frame_at(src: Path | str, seconds: float) -> Image.Image:
    """The frame on screen `seconds` into the clip, as an RGB image (past the end: the last)."""
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")
    src = Path(src)
    probe(src)
    return _frame_at(src, seconds)


def last_frame_png(src: Path | str, dst: Path | str) -> Path:
    """Save the clip's last frame as a PNG (first-frame conditioning of a `continue` shot)."""
    src, dst = Path(src), Path(dst)
    info = probe(src)
    image = _frame_at(src, info.duration + 1.0)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = _partial(dst)
    try:
        image.save(tmp, format="PNG")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def _last_shown(src: Path, fps: int, frames: int) -> av.VideoFrame:
    """The source frame the last of `_shown`'s ``frames`` output frames shows: the latest
    frame on screen at (frames - 1) / fps from the first frame's time, found by seeking to
    the keyframe before it (the whole clip is decoded instead when its frames carry no
    times, or the seek lands past it)."""
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        try:
            first = next(container.decode(stream), None)
            if first is None:
                raise damaged(src, "no video frame could be decoded")
            shown: av.VideoFrame | None = None
            if first.time is not None and stream.time_base is not None:
                target = first.time + (frames - 1) / fps
                container.seek(int(target / stream.time_base), stream=stream, backward=True)
                for frame in container.decode(stream):
                    if frame.time is None or frame.time > target + _TIME_EPSILON:
                        if shown is None or frame.time is None:
                            shown = None  # no times, or the seek landed past it
                        break
                    shown = frame
            if shown is not None:
                return shown
        except av.FFmpegError as exc:
            raise damaged(src, f"decoding failed ({exc})") from exc
    ((last, _),) = deque(_shown(src, fps, frames), maxlen=1)  # it raises when nothing decodes
    return last


def fitted_last_frame(
    src: Path | str, dst: Path | str, *, width: int, height: int, fps: int, frames: int
) -> Path:
    """Save as a PNG the picture `fit_clip` (same arguments) ends on, taken from `src` itself:
    the frame a `continue` shot starts from, known before the fit has encoded anything.

    It is the fit's picture before its encoding (the fitted clip's own last frame differs
    from it by the encoder's rounding). Written fast (PNG compression level 1): it is on the
    way from one clip to the next shot's submission.
    """
    if frames < 1:
        raise ValueError(f"frames must be at least 1, got {frames}")
    src, dst = Path(src), Path(dst)
    probe(src)
    picture = _cover(_last_shown(src, fps, frames), width, height)
    image: Image.Image = picture.to_image()  # type: ignore[no-untyped-call]
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = _partial(dst)
    try:
        image.save(tmp, format="PNG", compress_level=1)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst
