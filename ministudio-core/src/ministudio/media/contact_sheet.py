"""A contact sheet: one labelled thumbnail per shot (its middle frame), in a grid."""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from ministudio.media.fit import frame_at
from ministudio.media.probe import probe

PADDING = 8  # pixels around and between cells
BACKGROUND = (24, 24, 24)
TEXT_COLOUR = (235, 235, 235)


def label_height(thumb_width: int) -> int:
    """Height of the caption strip under each thumbnail."""
    return max(16, thumb_width // 12)


def sheet_size(count: int, thumb_size: tuple[int, int], columns: int) -> tuple[int, int, int, int]:
    """(width, height, columns, rows) of a sheet of `count` cells of `thumb_size` thumbnails."""
    cols = max(1, min(columns, count))
    rows = math.ceil(count / cols)
    tw, th = thumb_size
    cell_h = th + label_height(tw)
    return cols * tw + (cols + 1) * PADDING, rows * cell_h + (rows + 1) * PADDING, cols, rows


def cell_origin(index: int, thumb_size: tuple[int, int], columns: int) -> tuple[int, int]:
    """Top-left pixel of thumbnail `index` (0-based) on the sheet."""
    tw, th = thumb_size
    row, col = divmod(index, columns)
    return PADDING + col * (tw + PADDING), PADDING + row * (th + label_height(tw) + PADDING)


def _fit_text(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    width: int,
) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def contact_sheet(
    clips: Sequence[Path],
    labels: Sequence[str],
    output: Path,
    *,
    columns: int = 4,
    thumb_width: int = 320,
) -> Path:
    """Write a PNG with each clip's middle frame, captioned '<n>  <label>' (n from 1).

    Thumbnails are `thumb_width` wide with the first clip's aspect ratio (every shot of a
    film has the film's format), so vertical films get tall cells; a clip of another shape
    is cover-fitted into its cell, never stretched.
    """
    if not clips:
        raise ValueError("contact_sheet needs at least one clip")
    if len(labels) != len(clips):
        raise ValueError(f"{len(clips)} clips but {len(labels)} labels")
    if columns < 1 or thumb_width < 16:
        raise ValueError("columns must be >= 1 and thumb_width >= 16")
    return contact_sheet_of(
        [middle_frame(clip) for clip in clips],
        labels,
        output,
        columns=columns,
        thumb_width=thumb_width,
    )


def middle_frame(clip: Path, width: int | None = None) -> Image.Image:
    """The frame in the middle of a clip (a shot's thumbnail), scaled to ``width`` if given
    (keep many of them small: a 720p frame is 2.7 MB)."""
    info = probe(clip)
    frame = frame_at(clip, info.frames / info.fps / 2 if info.fps else info.duration / 2)
    if width is not None:
        frame.thumbnail((width, width * 8), Image.Resampling.LANCZOS)
    return frame


def contact_sheet_of(
    frames: Sequence[Image.Image | bytes],
    labels: Sequence[str],
    output: Path,
    *,
    columns: int = 4,
    thumb_width: int = 320,
) -> Path:
    """``contact_sheet`` from frames already grabbed (one per shot, in film order): pictures,
    or encoded ones (PNG bytes, kept small while a film renders) opened one at a time."""
    if not frames or len(labels) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(labels)} labels")
    first = _picture(frames[0])
    thumb_h = max(1, round(thumb_width * first.height / first.width))
    thumb = (thumb_width, thumb_h)
    width, height, cols, _ = sheet_size(len(frames), thumb, columns)
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    strip = label_height(thumb_width)
    font = ImageFont.load_default(size=max(10, round(strip * 0.6)))
    for i, (frame, label) in enumerate(zip(frames, labels, strict=True)):
        image = ImageOps.fit(_picture(frame).convert("RGB"), thumb, Image.Resampling.LANCZOS)
        x, y = cell_origin(i, thumb, cols)
        sheet.paste(image, (x, y))
        caption = _fit_text(draw, f"{i + 1}  {label}", font, thumb_width - 4)
        draw.text(
            (x + 2, y + thumb_h + strip // 2), caption, fill=TEXT_COLOUR, font=font, anchor="lm"
        )
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.partial")
    try:
        sheet.save(tmp, format="PNG")
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return output


def _picture(frame: Image.Image | bytes) -> Image.Image:
    return frame if isinstance(frame, Image.Image) else Image.open(io.BytesIO(frame))
