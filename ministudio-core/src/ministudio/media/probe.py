"""Probe a media file: what it holds, and whether it is whole."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from ministudio.errors import MediaError


@dataclass(frozen=True)
class ClipInfo:
    """What a clip holds. `duration` is the file's duration in seconds (longest stream)."""

    path: Path
    duration: float
    width: int
    height: int
    fps: float
    frames: int
    video_codec: str
    pix_fmt: str
    has_audio: bool
    size_bytes: int
    has_subtitles: bool = False


def damaged(path: Path, why: str) -> MediaError:
    return MediaError(
        f"{path}: {why}; the file is damaged or truncated: re-render or re-download it"
    )


def probe(path: Path | str) -> ClipInfo:
    """Read a clip's streams and check every video packet is present and whole.

    Demuxes (does not decode) the whole video stream, so a file cut short, even one whose
    index sits at the front (faststart), is caught here rather than deep in assembly.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file; re-render or re-download it")
    size = path.stat().st_size
    if size == 0:
        raise damaged(path, "it is empty (0 bytes)")
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise damaged(path, f"it cannot be opened ({exc.strerror or exc})") from exc
    try:
        if not container.streams.video:
            raise damaged(path, "it has no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if not ctx.width or not ctx.height:
            raise damaged(path, "its video stream has no picture size")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        declared = stream.frames
        count = 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0:  # the flush packet at the end
                    continue
                if packet.is_corrupt:
                    raise damaged(path, f"video packet {count} is cut short")
                count += 1
        except av.FFmpegError as exc:
            raise damaged(path, f"reading video packet {count} failed ({exc})") from exc
        if count == 0:
            raise damaged(path, "its video stream holds no frames")
        if declared and count < declared:
            raise damaged(path, f"only {count} of its {declared} video frames are present")
        if container.duration is not None:
            duration = container.duration / av.time_base
        elif stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = count / fps if fps else 0.0
        return ClipInfo(
            path=path,
            duration=duration,
            width=ctx.width,
            height=ctx.height,
            fps=fps,
            frames=count,
            video_codec=ctx.name,
            pix_fmt=ctx.format.name if ctx.format is not None else "",
            has_audio=bool(container.streams.audio),
            size_bytes=size,
            has_subtitles=bool(container.streams.subtitles),
        )
    finally:
        container.close()
