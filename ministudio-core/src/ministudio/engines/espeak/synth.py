"""Speaking a line with eSpeak NG: samples in memory (``utter``, ``synthesize``), or a WAV
written in bounded memory however long the line (``speak_line``, ``speak_to_wav``), with
leading and trailing silence cut; with the phonemes spoken and when each starts (eSpeak's
phoneme events), for mouths drawn to them.

Each line runs under the binding's lock on a fresh copy of the library (``binding``), so the
same arguments always give the same samples; ``voices`` resolves a ``Voice`` and ``prosody``
turns an emotion into prosody.
"""

from __future__ import annotations

import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ministudio.engines.espeak.binding import (
    ENGINE,
    LOCK,
    espeak_settings,
    load_catalogue,
    open_session,
)
from ministudio.engines.espeak.voices import resolve_voice
from ministudio.errors import EngineError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


Phonemes = tuple[tuple[float, str], ...]  # (seconds from the audio's first sample, mnemonic)


@dataclass(frozen=True)
class Utterance:
    """A line's samples as eSpeak made them (nothing cut), with its phonemes."""

    samples: NDArray[np.int16]
    sample_rate: int
    phonemes: Phonemes  # eSpeak mnemonics ("m", "'A:", "_:" a pause), seconds from sample 0


@dataclass(frozen=True)
class SpokenLine:
    """A line written as a WAV: its seconds and its phonemes, timed on the WAV."""

    seconds: float
    phonemes: Phonemes


def utter(
    text: str,
    *,
    voice: str = "en-us",
    pitch: int = 50,
    rate: int = 175,
    range_: int = 50,
    volume: int = 100,
    variant: str | None = None,
    wordgap: int = 0,
) -> Utterance:
    """Speak ``text`` as ``synthesize`` does, and say which phonemes start when."""
    import numpy as np

    chunks: list[bytes] = []
    sample_rate, events = _speak(
        text, chunks.append, voice, variant, espeak_settings(pitch, rate, range_, volume, wordgap)
    )
    samples = np.frombuffer(b"".join(chunks), dtype="<i2").astype(np.int16)
    return Utterance(samples, sample_rate, _timed(events, 0, samples.size, sample_rate))


def synthesize(
    text: str,
    *,
    voice: str = "en-us",
    pitch: int = 50,
    rate: int = 175,
    range_: int = 50,
    volume: int = 100,
    variant: str | None = None,
    wordgap: int = 0,
) -> tuple[NDArray[np.int16], int]:
    """Speak ``text``; return mono int16 samples and eSpeak's sample rate (22050 Hz).

    ``voice`` is a language code, voice name or file name, optionally with ``+variant``
    (``en-us+f3``); ``variant`` (``f3``, ``m7``, ``whisper``) overrides that suffix. ``pitch``
    and ``range_`` are 0..100 (50 is the voice's own), ``rate`` is words per minute
    (80..450), ``volume`` 0..200 (100 normal), ``wordgap`` a pause between words in 10 ms.
    Values outside those ranges are clamped. The same arguments always give the same samples.
    """
    spoken = utter(
        text, voice=voice, pitch=pitch, rate=rate, range_=range_, volume=volume,
        variant=variant, wordgap=wordgap,
    )  # fmt: skip
    return spoken.samples, spoken.sample_rate


def _speak(
    text: str,
    sink: Callable[[bytes], None],
    voice: str,
    variant: str | None,
    settings: dict[int, int],
) -> tuple[int, list[tuple[int, str]]]:
    """Speak ``text`` into ``sink`` chunk by chunk; return the sample rate and the phonemes
    (the sample each starts at, its mnemonic)."""
    if not text.strip():
        raise EngineError(ENGINE, "nothing to say: the line's text is empty")
    with LOCK, open_session() as session:
        name = resolve_voice(load_catalogue(session), voice, variant)
        events = session.speak(text.replace("\0", " "), voice=name, settings=settings, sink=sink)
        return session.sample_rate, events


def _timed(events: list[tuple[int, str]], start: int, end: int, sample_rate: int) -> Phonemes:
    """Phonemes timed from sample ``start`` of eSpeak's output (the first one kept), in
    seconds (to 0.1 ms), inside the ``start``..``end`` kept: a phoneme begun in the silence
    cut before is at 0, one in the silence cut after at the end. In eSpeak's order."""
    span = max(0, end - start)
    return tuple(
        (round(min(max(sample - start, 0), span) / sample_rate, 4), name) for sample, name in events
    )


def speak_to_wav(
    text: str,
    output: Path,
    *,
    voice: str = "en-us",
    pitch: int = 50,
    rate: int = 175,
    range_: int = 50,
    volume: int = 100,
    variant: str | None = None,
    wordgap: int = 0,
    keep: float = 0.05,
) -> float:
    """Speak ``text`` into a mono 16-bit WAV at ``output``, silence cut as ``trim_silence``
    does; return its seconds. The same samples as ``synthesize`` then ``trim_silence``, in
    bounded memory however long the text: eSpeak's chunks go to a scratch file as they come,
    with each chunk's loudest sample, and the cut is found from those."""
    return speak_line(
        text, output, voice=voice, pitch=pitch, rate=rate, range_=range_, volume=volume,
        variant=variant, wordgap=wordgap, keep=keep,
    ).seconds  # fmt: skip


def speak_line(
    text: str,
    output: Path,
    *,
    voice: str = "en-us",
    pitch: int = 50,
    rate: int = 175,
    range_: int = 50,
    volume: int = 100,
    variant: str | None = None,
    wordgap: int = 0,
    keep: float = 0.05,
) -> SpokenLine:
    """``speak_to_wav``, with the phonemes spoken, timed from the WAV's first sample (the
    leading silence cut taken off)."""
    import numpy as np

    output.parent.mkdir(parents=True, exist_ok=True)
    raw = output.with_name(output.name + ".raw")
    chunks: list[tuple[int, int, int]] = []  # (first sample, samples, loudest level)
    try:
        with raw.open("wb") as scratch:

            def sink(chunk: bytes) -> None:
                level = np.abs(np.frombuffer(chunk, dtype="<i2").astype(np.int32)).max()
                start = chunks[-1][0] + chunks[-1][1] if chunks else 0
                chunks.append((start, len(chunk) // 2, int(level)))
                scratch.write(chunk)

            settings = espeak_settings(pitch, rate, range_, volume, wordgap)
            sample_rate, events = _speak(text, sink, voice, variant, settings)
        start, end = _cut(raw, chunks, round(keep * sample_rate))
        with raw.open("rb") as source, wave.open(str(output), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            source.seek(start * 2)
            left = end - start
            while left > 0:
                block = source.read(min(left, 1 << 20) * 2)
                out.writeframes(block)
                left -= len(block) // 2
    finally:
        raw.unlink(missing_ok=True)
    return SpokenLine((end - start) / sample_rate, _timed(events, start, end, sample_rate))


def _cut(
    raw: Path, chunks: list[tuple[int, int, int]], margin: int, threshold: float = 0.01
) -> tuple[int, int]:
    """The samples to keep of the raw file ``chunks`` describe: ``trim_silence``'s cut."""
    import numpy as np

    total = chunks[-1][0] + chunks[-1][1] if chunks else 0
    limit = max(32, int(max((c[2] for c in chunks), default=0) * threshold))
    loud = [c for c in chunks if c[2] > limit]
    if not loud:
        return 0, total

    def levels(chunk: tuple[int, int, int]) -> Any:
        with raw.open("rb") as f:
            f.seek(chunk[0] * 2)
            samples = np.frombuffer(f.read(chunk[1] * 2), dtype="<i2").astype(np.int32)
        return np.flatnonzero(np.abs(samples) > limit)

    first = loud[0][0] + int(levels(loud[0])[0])
    last = loud[-1][0] + int(levels(loud[-1])[-1])
    return max(0, first - margin), min(total, last + 1 + margin)


def trim_silence(
    samples: NDArray[np.int16], sample_rate: int, *, keep: float = 0.05, threshold: float = 0.01
) -> NDArray[np.int16]:
    """Cut leading and trailing silence down to ``keep`` seconds.

    Silence is anything quieter than ``threshold`` of the loudest sample. A line that is all
    silence (say "...") is returned as it is.
    """
    import numpy as np

    if samples.size == 0:
        return samples
    level = np.abs(samples.astype(np.int32))
    limit = max(32, int(level.max() * threshold))
    loud = np.flatnonzero(level > limit)
    if loud.size == 0:
        return samples
    margin = round(keep * sample_rate)
    start = max(0, int(loud[0]) - margin)
    end = min(samples.size, int(loud[-1]) + 1 + margin)
    return samples[start:end]
