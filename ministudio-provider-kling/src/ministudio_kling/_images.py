"""Images as Kling takes them: JPEG or PNG, each side at least 300 px, at most 10 MB, an
aspect ratio between 1:2.5 and 2.5:1, sent as raw base64 (no ``data:`` prefix), so no asset
host is needed.

An image that already fits (a first frame the core cut from the previous clip) is sent byte
for byte. Any other is centre-cropped to the film's aspect ratio (the clip follows its image's
shape), scaled up to 300 px on its short side if smaller, and sent as PNG (JPEG if the PNG is
over 10 MB). An element's image (``aspect_ratio`` None) keeps its own shape, cropped only
into Kling's 1:2.5..2.5:1.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from ministudio.errors import EngineError
from PIL import Image, UnidentifiedImageError

from ministudio_kling import ENGINE

MIN_SIDE = 300
MAX_BYTES = 10 * 1024 * 1024
FORMATS = ("JPEG", "PNG")
RATIO_TOLERANCE = 0.01
WIDEST = 2.5  # "aspect ratio: 1:2.5 ~ 2.5:1"


def encode(path: Path, aspect_ratio: str | None) -> str:
    """``path`` as the base64 string Kling's ``image``/``image_tail`` (and an element's
    images, ``aspect_ratio`` None) take."""
    return base64.b64encode(fit(path, aspect_ratio)).decode("ascii")


def fit(path: Path, aspect_ratio: str | None) -> bytes:
    """The bytes of ``path``, or of a copy made to Kling's rules and the film's shape (its
    own shape, within Kling's bounds, when ``aspect_ratio`` is None)."""
    try:
        data = Path(path).read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            target = ratio(aspect_ratio) if aspect_ratio else _own(image)
            if _fits(image, len(data), target):
                return data
            return _remade(image, target)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise EngineError(
            ENGINE, f"cannot read the image {Path(path).name} ({type(exc).__name__}): use a PNG"
        ) from None


def ratio(aspect_ratio: str) -> float:
    width, _, height = aspect_ratio.partition(":")
    try:
        return int(width) / int(height)
    except (ValueError, ZeroDivisionError):
        return 16 / 9


def _own(image: Image.Image) -> float:
    """The image's own width/height, brought within Kling's 1:2.5..2.5:1."""
    width, height = image.size
    return min(WIDEST, max(1 / WIDEST, width / max(1, height)))


def _fits(image: Image.Image, size: int, target: float) -> bool:
    width, height = image.size
    return (
        image.format in FORMATS
        and min(width, height) >= MIN_SIDE
        and size <= MAX_BYTES
        and abs(width / height - target) <= RATIO_TOLERANCE * target
    )


def _remade(image: Image.Image, target: float) -> bytes:
    picture = image.convert("RGBA" if _has_alpha(image) else "RGB")
    picture = _crop(picture, target)
    short = min(picture.size)
    if short < MIN_SIDE:
        scale = MIN_SIDE / short
        size = (
            max(MIN_SIDE, round(picture.width * scale)),
            max(MIN_SIDE, round(picture.height * scale)),
        )
        picture = picture.resize(size, Image.Resampling.LANCZOS)
    out = _save(picture, "PNG")
    while len(out) > MAX_BYTES:  # a huge photo: JPEG, then smaller until it fits
        out = _save(picture.convert("RGB"), "JPEG")
        if len(out) <= MAX_BYTES or min(picture.size) <= 2 * MIN_SIDE:
            break
        picture = picture.resize(
            (picture.width // 2, picture.height // 2), Image.Resampling.LANCZOS
        )
    return out


def _crop(picture: Image.Image, target: float) -> Image.Image:
    """The largest centred window of ``picture`` with width/height ``target``."""
    width, height = picture.size
    if abs(width / height - target) <= RATIO_TOLERANCE * target:
        return picture
    if width / height > target:  # too wide: trim the sides
        new = max(1, round(height * target))
        left = (width - new) // 2
        return picture.crop((left, 0, left + new, height))
    new = max(1, round(width / target))  # too tall: trim top and bottom
    top = (height - new) // 2
    return picture.crop((0, top, width, top + new))


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _save(picture: Image.Image, fmt: str) -> bytes:
    sink = io.BytesIO()
    if fmt == "JPEG":
        picture.save(sink, format="JPEG", quality=90)
    else:
        picture.save(sink, format="PNG", optimize=False)
    return sink.getvalue()
