"""What a Sora create sends (model, size, seconds, the first frame fitted to the size) and what
a clip costs. No SDK here."""

from __future__ import annotations

import io
import json
from pathlib import Path

from ministudio.jobs import VideoRequest

from ministudio_sora import MODEL

SECONDS = (4, 8, 12)
LARGE = ("1792x1024", "1024x1792")  # sora-2-pro only
# USD per second (secondary figures, Oct 2025 - 2026): sora-2; sora-2-pro at 720p sizes and
# at the large sizes.
PRICE = {"sora-2": 0.10, "pro": 0.30, "pro-large": 0.50}
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def model_id(request: VideoRequest) -> str:
    return request.model or MODEL


def is_pro(model: str) -> bool:
    return model.startswith("sora-2-pro")


def size(request: VideoRequest) -> str:
    """``WIDTHxHEIGHT``: the large sizes for sora-2-pro at 1080p and above, else 720p."""
    portrait = request.height > request.width
    large = is_pro(model_id(request)) and min(request.width, request.height) >= 1080
    if large:
        return LARGE[portrait]
    return "720x1280" if portrait else "1280x720"


def seconds(duration: float) -> str:
    """Sora's ``seconds`` (a string): the shortest of 4, 8 and 12 that is long enough."""
    wanted = round(duration, 3)
    return str(next((s for s in SECONDS if s >= wanted), SECONDS[-1]))


def prompt(request: VideoRequest) -> str:
    text = request.prompt
    return text if isinstance(text, str) else json.dumps(text, sort_keys=True)


def price(model: str, video_size: str) -> float:
    if not is_pro(model):
        return PRICE["sora-2"]
    return PRICE["pro-large"] if video_size in LARGE else PRICE["pro"]


def cost(model: str, video_size: str, video_seconds: str | int) -> float:
    try:
        length = float(video_seconds)
    except ValueError:
        length = float(SECONDS[0])
    return round(price(model, video_size) * length, 6)


def first_frame(path: Path, video_size: str) -> tuple[str, bytes, str]:
    """The ``input_reference`` file part: (filename, bytes, content type).

    Sora wants the image at the video's size: an image of another size is scaled to cover it
    and centre-cropped (a film frame differs from 1792x1024 by under 2%), then sent as PNG.
    """
    from PIL import Image, ImageOps

    width, height = (int(n) for n in video_size.split("x"))
    data = Path(path).read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        if image.size == (width, height) and image.format in IMAGE_TYPES:
            return Path(path).name, data, IMAGE_TYPES[image.format]
        fitted = ImageOps.fit(image.convert("RGB"), (width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    fitted.save(out, format="PNG")
    return f"{Path(path).stem}-{video_size}.png", out.getvalue(), "image/png"
