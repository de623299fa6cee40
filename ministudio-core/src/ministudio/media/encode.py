"""The one H.264 encoding every clip in a film shares, so finished clips join by stream copy."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

VIDEO_CODEC = "libx264"
PIXEL_FORMAT = "yuv420p"
# ultrafast keeps the keyless previz well above real time on 2 cores; crf keeps it watchable.
X264_OPTIONS = {"preset": "ultrafast", "crf": "23", "tune": "animation"}


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
