"""The audio in a Gemini TTS answer, as PCM: the 3.8 models answer a complete WAV file
(``audio/wav``) on unary requests, the older ones headerless PCM
(``audio/L16;codec=pcm;rate=24000``). Both are read here, and a WAV is read, never wrapped
again: a RIFF header is recognised by its bytes too, whatever the MIME type says.

Pure Python (no SDK): the RIFF chunks are walked by hand, so a truncated or corrupt file is a
typed error (``wave`` would read a short data chunk silently) and WAVE_FORMAT_EXTENSIBLE
headers are read on every Python the plugin supports.
"""

from __future__ import annotations

import struct
import wave
from pathlib import Path

from ministudio.errors import EngineError

from ministudio_tts.models import ENGINE

SAMPLE_RATE = 24_000  # what Gemini TTS says, when an answer does not
PCM_TYPES = ("audio/l16", "audio/pcm")
WAV_TYPES = ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave")
_PCM_FORMATS = (1, 0xFFFE)  # WAVE_FORMAT_PCM, WAVE_FORMAT_EXTENSIBLE
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # what a streamed WAV writes before it knows its length


def is_audio(mime: str) -> bool:
    """Whether ``mime`` (lower case, parameters and all) is audio this module reads."""
    return mime.split(";")[0].strip() in (*PCM_TYPES, *WAV_TYPES)


def is_wav(data: bytes) -> bool:
    """Whether ``data`` opens with a RIFF/WAVE header."""
    return len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def read(mime: str, data: bytes) -> tuple[bytes, int | None]:
    """The PCM (s16le mono) and the sample rate of one audio part (``None``: not said)."""
    kind = mime.split(";")[0].strip()
    if kind in WAV_TYPES or is_wav(data):
        return read_wav(data)
    return data, rate(mime)


def rate(mime: str) -> int | None:
    """The ``rate=`` parameter of a MIME type, if it has a usable one."""
    for parameter in mime.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip() == "rate" and value.strip().isdigit():
            return int(value.strip()) or None
    return None


def read_wav(data: bytes) -> tuple[bytes, int]:
    """The samples and the rate of a mono 16-bit PCM WAV file; ``EngineError`` when it is
    truncated, corrupt, or another format."""
    if not is_wav(data):
        raise _bad("no RIFF/WAVE header")
    offset, fmt, samples = 12, None, None
    while offset + 8 <= len(data):
        chunk, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        body = offset + 8
        if chunk == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise _bad("its format chunk is cut short")
            fmt = struct.unpack_from("<HHIIHH", data, body)
        elif chunk == b"data":
            if fmt is None:
                raise _bad("its samples come before their format")
            if size in _UNKNOWN_SIZES:
                samples = data[body:]  # a streamed header: the samples run to the end
            elif body + size > len(data):
                raise _bad(f"it is truncated ({len(data) - body} of {size} sample bytes)")
            else:
                samples = data[body : body + size]
            break
        offset = body + size + (size & 1)  # chunks are padded to an even length
    if fmt is None or samples is None:
        raise _bad("it has no format or no samples (truncated?)")
    tag, channels, sample_rate, _, _, bits = fmt
    if tag not in _PCM_FORMATS or bits != 16 or channels != 1:
        raise _bad(f"it is not mono 16-bit PCM (format {tag}, {channels} channels, {bits} bits)")
    if not 1000 <= sample_rate <= 384_000:
        raise _bad(f"its sample rate {sample_rate} Hz is not plausible")
    return samples[: len(samples) - len(samples) % 2], sample_rate


def write_wav(path: Path, pcm: bytes, sample_rate: int) -> None:
    """Write s16le mono PCM as a WAV file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm)


def _bad(why: str) -> EngineError:
    return EngineError(
        ENGINE, f"the answer's WAV is unreadable: {why}; speak the line again (render again)"
    )
