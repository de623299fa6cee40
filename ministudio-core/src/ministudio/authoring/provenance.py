"""Which engine drew a cast still: ``ministudio cast`` marks each still it files (a PNG text
chunk, ``ENGINE_MARK``), and a render reads the mark back from the production's file.

A video engine may declare the image engines whose stills it draws better itself
(``Capabilities.draws_own``: the animatic, for ``animatic-stills``' sheets and sets, which are
its own figures and places); the core leaves those out of its requests' reference images, so
the previz after a keyless cast is the previz before it. The mark never leaves the machine:
engines get re-encoded copies, pixels only (``safety.images.sanitized``).
"""

from __future__ import annotations

import io
from pathlib import Path

ENGINE_MARK = "ministudio-engine"


def marked(png: bytes, engine: str) -> bytes:
    """The PNG ``png`` with ``engine`` named as the one that drew it."""
    from PIL import Image, PngImagePlugin

    mark = PngImagePlugin.PngInfo()
    mark.add_text(ENGINE_MARK, engine)
    out = io.BytesIO()
    with Image.open(io.BytesIO(png)) as pixels:
        pixels.save(out, format="PNG", pnginfo=mark)
    return out.getvalue()


def drawn_by(path: Path) -> str | None:
    """The engine a still filed by ``ministudio cast`` names; None for any other picture."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:  # the header's chunks only, not the pixels
            mark = (getattr(image, "text", None) or {}).get(ENGINE_MARK)
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    return mark if isinstance(mark, str) else None
