"""Input images: the only files of a production that leave the machine, so pixels only.

``check_image`` is what ``validate`` asks of every reference image and end frame: a regular
file inside the production's folder (or a folder allowed explicitly), under the byte and
pixel caps, that Pillow decodes completely as PNG, JPEG or WEBP. ``sanitized`` is what the
render hands engines instead: the image decoded, scaled down to ``COPY_SIDE`` if larger, and
written again as a PNG with no metadata (EXIF, GPS, ICC profile, text chunks), so nothing but
its pixels is uploaded or published.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ministudio.errors import MinistudioError
from ministudio.run.store import ContentStore, job_key

if TYPE_CHECKING:
    from PIL import Image

MAX_BYTES = 50 * 1024 * 1024  # a file's size
MAX_SIDE = 10_000  # pixels, either side
MAX_PIXELS = 50_000_000  # width x height: 200 MB decoded as RGBA
# The copies engines get are at most this many pixels a side (scaled down, aspect kept): video
# engines render 1080p at most, and a 48 MP photo as PNG (~70 MB) would pass no engine's
# request limit (Gemini's inline data, Kling's 10 MB).
COPY_SIDE = 2048
FORMATS = ("PNG", "JPEG", "WEBP")
ROOTS_VARIABLE = "MINISTUDIO_IMAGE_ROOTS"
_SYSTEM = ("proc", "sys", "dev")  # top-level folders that never hold a user's image
_ENCODING = "png-v1"  # bump when the re-encoding changes: sanitized copies are made again


class ImageError(MinistudioError):
    """An input image that may not be used; ``problem`` says why and what to do."""

    exit_code = 2

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"image '{path}' {problem}")


def allowed_roots(
    given: Iterable[str | Path] = (), env: Mapping[str, str] | None = None
) -> list[Path]:
    """The folders images may come from besides the production's: ``given`` and the
    ``MINISTUDIO_IMAGE_ROOTS`` variable (folders separated by ``os.pathsep``)."""
    env = os.environ if env is None else env
    listed = (env.get(ROOTS_VARIABLE) or "").split(os.pathsep)
    return [Path(p).expanduser() for p in [*given, *listed] if str(p).strip()]


def check_image(path: Path, roots: Sequence[Path] | None = None) -> Path:
    """``path`` resolved (symlinks followed), once it is known to be a usable image.

    ``roots``: the production's folder first, then folders allowed explicitly; the image must
    be inside one of them. None (a production built in Python) allows any folder.
    """
    try:
        full = path.resolve(strict=True)
    except FileNotFoundError:
        raise ImageError(
            path, "does not exist (paths are relative to the production file's folder)"
        ) from None
    except (OSError, RuntimeError) as exc:
        raise ImageError(path, f"cannot be read ({_reason(exc)})") from None
    if roots is not None and not any(_inside(full, root) for root in roots):
        raise ImageError(
            path,
            f"is outside the production's folder ({roots[0]}): copy it into that folder, or "
            f"allow its folder with --allow-images-from DIR (or {ROOTS_VARIABLE})",
        )
    _decode(_read(full), full)
    return full


def reencoded(path: Path) -> bytes:
    """The pixels of the image at ``path`` as PNG bytes with no metadata (EXIF orientation
    applied first); raises ``ImageError`` for anything ``check_image`` would refuse."""
    return _png(_decode(_read(path), path), path)


def sanitized(path: Path, store: ContentStore | Path) -> Path:
    """A re-encoded copy of the image at ``path`` (see ``reencoded``) in ``store`` (a content
    store, or a folder), named after the source's content: made once, the same file after."""
    data = _read(path)
    key = job_key("image", {"source": hashlib.sha256(data).hexdigest(), "as": _ENCODING})
    if isinstance(store, ContentStore):  # through get and put: a shared store has it too
        found = store.get(key, ".png")
        if found is not None:
            return found
        scratch = store.scratch()
        try:
            made = scratch / "image.png"
            made.write_bytes(_png(_decode(data, path), path))
            return store.put(key, made, ".png")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    target = Path(store) / f"{key}.png"
    if target.is_file():
        return target
    png = _png(_decode(data, path), path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(png)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


# -- helpers ---------------------------------------------------------------------------------
def _inside(path: Path, root: Path) -> bool:
    try:
        return path.is_relative_to(root.expanduser().resolve())
    except (OSError, RuntimeError):
        return False


def _read(path: Path) -> bytes:
    """The bytes of a regular file of at most ``MAX_BYTES``: no device, pipe, socket or
    system file is ever opened for reading (checked again on the open file)."""
    full = Path(os.path.realpath(path))
    if len(full.parts) > 1 and full.parts[1] in _SYSTEM:
        raise ImageError(
            path, f"is a system file under /{full.parts[1]}: give the path of an image file"
        )
    try:
        if not stat.S_ISREG(os.stat(full).st_mode):
            raise ImageError(path, _NOT_REGULAR)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(full, flags)
    except FileNotFoundError:
        raise ImageError(path, "does not exist") from None
    except OSError as exc:
        raise ImageError(path, f"cannot be read ({_reason(exc)})") from None
    with os.fdopen(fd, "rb") as source:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(path, _NOT_REGULAR)
        if info.st_size > MAX_BYTES:
            raise ImageError(path, _too_big(info.st_size))
        data = source.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ImageError(path, _too_big(len(data)))
    if not data:
        raise ImageError(path, "is empty (0 bytes): give the path of a PNG, JPEG or WEBP image")
    return data


_NOT_REGULAR = (
    "is not a regular file (a folder, device, pipe or socket): give the path of an image file"
)


def _too_big(size: int) -> str:
    return (
        f"is {size / 2**20:.1f} MB, over the {MAX_BYTES // 2**20} MB limit: save it smaller "
        "(engines use a few megapixels at most)"
    )


def _decode(data: bytes, path: Path) -> Image.Image:
    """The first frame of the image in ``data``, decoded completely once its size is known
    to be within the caps (a decompression bomb is refused before any pixel is decoded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise ImageError(
            path, f"is not a {', '.join(FORMATS[:-1])} or {FORMATS[-1]} image: convert it to PNG"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            path, f"declares too many pixels to decode (a decompression bomb?); {_PIXEL_CAPS}"
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(path, _damaged(exc)) from None
    width, height = image.size
    if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageError(path, f"is {width} x {height} pixels; {_PIXEL_CAPS}")
    if min(width, height) < 1:
        raise ImageError(path, _damaged(ValueError("it has no pixels")))
    try:
        image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageError(path, _damaged(exc)) from None
    return image


_PIXEL_CAPS = (
    f"the limit is {MAX_SIDE:,} pixels a side and {MAX_PIXELS // 1_000_000} megapixels: "
    "scale it down"
)


def _damaged(exc: BaseException) -> str:
    return f"cannot be decoded, it is cut off or damaged ({_reason(exc)}): export it again as PNG"


def _reason(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return (text or type(exc).__name__)[:200]


def _png(image: Image.Image, path: Path) -> bytes:
    """``image`` upright (EXIF orientation applied), at most ``COPY_SIDE`` pixels a side, as
    RGB or RGBA PNG bytes carrying only its pixels: a fresh image is encoded, so no metadata
    of the source can come along."""
    from PIL import Image, ImageOps

    try:
        upright = ImageOps.exif_transpose(image) or image
        alpha = upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
            "transparency" in upright.info
        )
        mode = "RGBA" if alpha else "RGB"
        pixels = upright.convert(mode)
        pixels.thumbnail((COPY_SIDE, COPY_SIDE), Image.Resampling.LANCZOS)
        clean = Image.frombytes(mode, pixels.size, pixels.tobytes())
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(path, _damaged(exc)) from None
    out = io.BytesIO()
    clean.save(out, format="PNG", compress_level=6)
    return out.getvalue()
