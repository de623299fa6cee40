"""A production file's text: its bytes (a regular file, no larger than the limit), decoded from
UTF-8 (with or without a BOM), UTF-16 or UTF-32."""

from __future__ import annotations

import codecs
import stat
from pathlib import Path

from ministudio.errors import Problem, ProductionError
from ministudio.spec.bounds import limit, past_limit


def refuse(source: str, message: str, line: int | None = None) -> ProductionError:
    return ProductionError(source, [Problem("", message, line)])


def read_file(path: Path, source: str) -> bytes:
    """The file's bytes: a regular file, no larger than the limit."""
    cap = limit("MINISTUDIO_MAX_FILE_BYTES")
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise refuse(source, "not a regular file: give the path of a .yaml or .json file")
        with path.open("rb") as f:
            data = f.read(cap + 1)
    except FileNotFoundError:
        raise refuse(source, "file not found") from None
    except OSError as exc:
        raise refuse(source, f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > cap:
        size = max(info.st_size, len(data))
        found = f"the file is {size:,} bytes"
        raise refuse(source, past_limit("MINISTUDIO_MAX_FILE_BYTES", found))
    return data


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16's: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _encoding(data: bytes) -> str:
    """UTF-8, or UTF-16/32 told by their BOM or by the NUL bytes around the first character."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    nul = [b == 0 for b in data[:4]]
    if nul == [True, True, True, False]:
        return "utf-32-be"
    if nul == [False, True, True, True]:
        return "utf-32-le"
    if nul[:2] == [True, False]:
        return "utf-16-be"
    if nul[:2] == [False, True]:
        return "utf-16-le"
    return "utf-8"


def decode(data: bytes, source: str) -> str:
    encoding = _encoding(data)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1 if encoding == "utf-8" else None
        name = encoding.removesuffix("-sig").upper()
        bad = data[exc.start : exc.start + 1].hex()
        raise refuse(
            source,
            f"the file is not valid {name} (byte 0x{bad} at offset {exc.start}): save it as UTF-8",
            line,
        ) from None
