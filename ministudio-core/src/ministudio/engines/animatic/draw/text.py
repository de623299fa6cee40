"""Text on the animatic: the bundled font, word wrap, name labels and caption panels."""

from __future__ import annotations

import math
import threading

from PIL import Image, ImageDraw, ImageFont

_fonts = threading.local()


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` px: the same glyphs on every machine.

    Cached per thread: a FreeType face must not be used by two threads at once, and the engine
    renders two clips at once on two threads.
    """
    cache: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] | None = getattr(
        _fonts, "cache", None
    )
    if cache is None:
        cache = _fonts.cache = {}
    size = max(6, size)
    if size not in cache:
        cache[size] = ImageFont.load_default(size=size)
    return cache[size]


def draw_label(
    image: Image.Image, text: str, cx: float, cy: float, size: int, offset: tuple[int, int] = (0, 0)
) -> None:
    """A character's name in a small dark pill centred at layer pixel (cx, cy)."""
    f = font(size)
    tw = f.getlength(text)
    pad_x, pad_y = size * 0.5, size * 0.28
    w, h = tw + 2 * pad_x, size + 2 * pad_y
    left, top = cx - w / 2 - offset[0], cy - h / 2 - offset[1]
    if left > image.width or top > image.height or left + w < 0 or top + h < 0:
        return
    box = (math.floor(left), math.floor(top), math.ceil(left + w), math.ceil(top + h))
    clip = (max(0, box[0]), max(0, box[1]), min(image.width, box[2]), min(image.height, box[3]))
    pill = Image.new("RGBA", (box[2] - box[0], box[3] - box[1]), (0, 0, 0, 0))
    pd = ImageDraw.Draw(pill)
    pd.rounded_rectangle(
        (0, 0, pill.width - 1, pill.height - 1), pill.height / 2, fill=(18, 18, 22, 170)
    )
    pd.text((pad_x, pad_y + size * 0.02), text, font=f, fill=(255, 255, 255, 255), anchor="la")
    region = image.crop(clip).convert("RGBA")
    region.alpha_composite(
        pill.crop((clip[0] - box[0], clip[1] - box[1], clip[2] - box[0], clip[3] - box[1]))
    )
    image.paste(region.convert("RGB"), clip[:2])


def wrap(text: str, size: int, width: float, max_lines: int) -> list[str]:
    """Greedy word wrap to ``width`` px; the last line ends in an ellipsis if cut."""
    f = font(size)
    words = text.split()
    lines: list[str] = []
    line = ""
    for word in words:
        trial = f"{line} {word}".strip()
        if f.getlength(trial) <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and f.getlength(last + "…") > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines


def text_panel(
    lines: list[str],
    size: int,
    width: int,
    align: str = "center",
    fill: tuple[int, int, int, int] = (10, 10, 14, 150),
) -> Image.Image:
    """An RGBA panel: wrapped lines of white text on a translucent rounded band."""
    f = font(size)
    line_h = round(size * 1.28)
    pad = round(size * 0.55)
    h = line_h * len(lines) + 2 * pad
    h += h % 2
    width += width % 2
    panel = Image.new("RGBA", (width, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(panel)
    d.rounded_rectangle((0, 0, width - 1, h - 1), min(h / 2, size * 0.6), fill=fill)
    for i, line in enumerate(lines):
        y = pad + i * line_h + (line_h - size) / 2
        x = (width - f.getlength(line)) / 2 if align == "center" else pad
        d.text((x + 1, y + 1), line, font=f, fill=(0, 0, 0, 200))
        d.text((x, y), line, font=f, fill=(255, 255, 255, 255))
    return panel
