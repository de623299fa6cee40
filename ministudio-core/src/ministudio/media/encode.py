"""The one H.264 encoding every clip in a film shares, so finished clips join by stream copy."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Final

import av
import numpy as np

VIDEO_CODEC: Final = "libx264"  # Final keeps the literal: PyAV then types a VideoStream
PIXEL_FORMAT = "yuv420p"
# Measured on 2 cores with animatic frames at 720p (benchmarks/animatic_speed.py):
# - ultrafast keeps the keyless previz well above real time;
# - a constant quantiser (qp 23) encodes ~30% faster than crf 23 (no per-frame complexity
#   analysis) and, on flat previz frames, gives smaller files at the same look;
# - one x264 thread: extra threads cost ~40% more CPU for ~5% less wall time, callers run
#   clips side by side anyway, and the bytes no longer depend on the machine's core count;
# - no tune=animation: it made encoding ~30% slower and added B-frames.
X264_OPTIONS = {"preset": "ultrafast", "qp": "23", "threads": "1"}


def film_time_base(fps: int) -> Fraction:
    """The video time base used for every clip and the film: one tick per frame."""
    return Fraction(1, fps)


class VideoWriter:
    """Write RGB frames (H x W x 3 uint8 arrays) to an H.264 MP4 with the shared settings."""

    def __init__(self, path: Path, width: int, height: int, fps: int) -> None:
        self.path = path
        self._container = av.open(str(path), mode="w", format="mp4")
        stream = self._container.add_stream(VIDEO_CODEC, rate=fps, options=dict(X264_OPTIONS))
        stream.width = width
        stream.height = height
        stream.pix_fmt = PIXEL_FORMAT
        stream.codec_context.time_base = film_time_base(fps)
        stream.codec_context.gop_size = fps * 2
        self._stream = stream
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        self.write_frame(frame)

    def write_yuv420p(self, planes: np.ndarray) -> None:
        """Write one frame given as a (H * 3 // 2) x W uint8 array: Y, then U, then V rows.

        The fast path: no colour conversion (RGB to YUV costs ~6 ms a frame at 720p).
        """
        self.write_frame(av.VideoFrame.from_ndarray(planes, format="yuv420p"))

    def write_frame(self, frame: av.VideoFrame) -> None:
        frame.pts = self.frames
        frame.time_base = self._stream.codec_context.time_base
        self._container.mux(self._stream.encode(frame))
        self.frames += 1

    def close(self) -> None:
        self._container.mux(self._stream.encode(None))
        self._container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._container.close()
            self.path.unlink(missing_ok=True)
