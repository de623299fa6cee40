"""The slate that stands in a film for a shot that failed to render.

A render with failed shots still assembles its film (unless told ``--no-partial``): each
failed shot is replaced by a card, held for the shot's planned length at the film's size and
frame rate, that says which shot it is and why it failed. The film's sound and subtitles are
laid down before any picture, so they stay where they belong around it. The card is drawn
with Pillow like the animatic and encoded with the shared settings of ``media.encode``, so
the film joins it by stream copy like any clip.

The reason is passed through the blanking gate (``ministudio.safety.secrets``) once more before it
is drawn: a key never ends up in the picture.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

from ministudio.engines.animatic.draw import font, wrap
from ministudio.media.encode import VideoWriter
from ministudio.safety.secrets import gate

# Two backgrounds, alternated by the shot's place in the film: two slates in a row still
# differ by a cut the film's checks can see (mean luma 0.13 against 0.27).
_BACKGROUNDS = ((30, 32, 42), (84, 66, 40))
_ACCENT = (250, 190, 70)  # the stripes and the heading
_TEXT = (236, 236, 240)
_MUTED = (170, 172, 182)
REASON_LINES = 7  # a longer reason is cut with an ellipsis (the manifest keeps all of it)


def slate_image(
    shot_id: str,
    reason: str,
    width: int,
    height: int,
    *,
    seconds: float,
    index: int = 0,
    blank: bool = True,
) -> Image.Image:
    """The slate of shot ``shot_id`` (the ``index``-th of its film), ``width`` x ``height``:
    a heading, the shot's id, the reason it failed (blanked by the process's gate unless
    ``blank`` is false, for a reason the caller has blanked) and what to do."""
    if blank:
        reason = gate().blank(reason)
    reason = " ".join(reason.split())  # one paragraph: newlines and tabs are wrapped anyway
    image = Image.new("RGB", (width, height), _BACKGROUNDS[index % 2])
    draw = ImageDraw.Draw(image)
    unit = min(width, height)
    margin = round(width * 0.07)
    inner = width - 2 * margin
    # clapperboard stripes along the top: a slate reads as one at a glance
    band = max(4, round(unit * 0.06))
    step = band * 2
    for x in range(-band, width + band, step):
        draw.polygon([(x, 0), (x + band, 0), (x + band * 2, band), (x + band, band)], fill=_ACCENT)
    y = band + round(unit * 0.08)
    heading = max(10, round(unit * 0.05))
    draw.text((margin, y), "SHOT FAILED TO RENDER", font=font(heading), fill=_ACCENT)
    y += round(heading * 1.6)
    title = max(14, round(unit * 0.12))
    long = font(title).getlength(shot_id)
    if long > inner:  # a long id is drawn smaller, down to a third of the size, then cut
        title = max(14, round(title * max(inner / long, 1 / 3)))
    for line in _wrapped(shot_id, title, inner, 2):
        draw.text((margin, y), line, font=font(title), fill=_TEXT)
        y += round(title * 1.15)
    y += round(unit * 0.03)
    body = max(10, round(unit * 0.042))
    for line in _wrapped(reason or "no reason given", body, inner, REASON_LINES):
        draw.text((margin, y), line, font=font(body), fill=_TEXT)
        y += round(body * 1.3)
    foot = max(9, round(unit * 0.036))
    note = f"{seconds:.2f} s held for it · render again to replace this slate"
    for i, line in enumerate(reversed(_wrapped(note, foot, inner, 2))):
        bottom = height - margin // 2 - (i + 1) * round(foot * 1.3)
        draw.text((margin, bottom), line, font=font(foot), fill=_MUTED)
    return image


def write_slate(
    output: Path,
    shot_id: str,
    reason: str,
    *,
    width: int,
    height: int,
    fps: int,
    frames: int,
    index: int = 0,
) -> Path:
    """Write the slate of ``shot_id`` as an MP4 of exactly ``frames`` frames (picture only),
    in the film's format with the shared encoder settings; return ``output``."""
    picture = slate_image(shot_id, reason, width, height, seconds=frames / fps, index=index)
    rgb = np.asarray(picture, dtype=np.uint8)
    planes = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    yuv = planes.to_ndarray()  # converted once: every frame of a slate is the same
    with VideoWriter(output, width, height, fps) as writer:
        for _ in range(max(1, frames)):
            writer.write_yuv420p(yuv)
    return output


def _wrapped(text: str, size: int, width: float, max_lines: int) -> list[str]:
    """``text`` wrapped to ``width`` px (``animatic.draw.wrap``), a word wider than the
    line (a URL, a token, a long id) first broken where it reaches the edge."""
    f = font(size)
    words = []
    for word in text.split():
        while len(word) > 1 and f.getlength(word) > width:
            lo, hi = 1, len(word) - 1  # the longest head that fits: at least one character
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if f.getlength(word[:mid]) <= width else (lo, mid - 1)
            words.append(word[:lo])
            word = word[lo:]
        words.append(word)
    return wrap(" ".join(words), size, width, max_lines)
