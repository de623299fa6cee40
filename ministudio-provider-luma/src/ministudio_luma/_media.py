"""The one clip edit ``luma`` makes itself: keep only the new part of an extension; and a
previz's length, read from its clip.

Whether an Agents API extension answers the new 5 s alone or the whole chain is not in
Luma's docs (notes §3.1, open question 3); every source speaks of "a new 5-second segment",
so the clip is most likely the new part only. A clip that comes back clearly longer than an
extension holds its source too: its head is cut off here so the shot gets its own 5 s.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

SLACK = 0.5  # seconds a clip may run past the extension's length and still be only it


def new_part(clip: Path, cut: Path, seconds: float) -> bool:
    """Whether ``clip`` holds more than an extension of ``seconds``; if so, write its last
    ``seconds`` to ``cut`` (video only: Ray 3.2 makes silent clips)."""
    from ministudio.media.probe import probe

    info = probe(clip)
    made = info.frames / info.fps if info.fps else info.duration
    if made <= seconds + SLACK:
        return False
    keep = round(seconds * info.fps) if info.fps else info.frames
    _keep_tail(clip, cut, max(0, info.frames - keep))
    return True


def seconds_of(clip: Path) -> float:
    """A clip's length in seconds: its frames at its rate (the container's duration when the
    rate is unknown). ``EngineRefusal`` if it is not a whole, readable video."""
    from ministudio.errors import EngineRefusal, MinistudioError
    from ministudio.media.probe import probe

    from ministudio_luma._catalog import AGENTS

    try:
        info = probe(clip)
    except MinistudioError as exc:
        raise EngineRefusal(AGENTS, f"the previz clip cannot be read: {exc}") from None
    return info.frames / info.fps if info.fps else float(info.duration)


def _keep_tail(src: Path, dst: Path, skip: int) -> None:
    """Write ``dst``: the video of ``src`` without its first ``skip`` frames, re-encoded
    frame-exact with the shared H.264 settings."""
    import av
    from ministudio.media.encode import PIXEL_FORMAT, VIDEO_CODEC, X264_OPTIONS

    with av.open(str(src)) as source, av.open(str(dst), mode="w", format="mp4") as out:
        vin = source.streams.video[0]
        rate = Fraction(vin.average_rate or vin.guessed_rate or 24)
        vout = out.add_stream(VIDEO_CODEC, rate=rate, options=dict(X264_OPTIONS))
        vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
        vout.pix_fmt = PIXEL_FORMAT
        vout.codec_context.time_base = 1 / rate
        written = 0
        for index, frame in enumerate(source.decode(vin)):
            if index < skip:
                continue
            picture = frame.reformat(format=PIXEL_FORMAT)
            picture.pts, picture.time_base = written, 1 / rate
            out.mux(vout.encode(picture))
            written += 1
        out.mux(vout.encode(None))
