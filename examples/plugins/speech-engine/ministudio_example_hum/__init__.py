"""hum: a local speech engine. Each syllable of a line is hummed as a vowel tone.

A complete example of a speech engine: it declares itself (``ministudio_engines``), lists its
voices (``speech_voices``, for ``ministudio voices hum``) and writes each line as a mono
16-bit PCM WAV (``synthesize_speech``). It uses what the request carries:

- ``request.text``: one tone per syllable (a vowel group), pauses at commas and full stops;
- ``request.voice.voice``: one of ``VOICES``; the core's default ``"en-us"`` (what a
  production that names no voice sends) means this engine's own default, ``alto``; any other
  name fails at once, naming the voices there are;
- ``request.voice.pitch`` (0..100, 50 is the voice's own: one octave either way) and
  ``request.voice.rate`` (words per minute);
- ``request.voice.options``: ``{"vibrato": semitones}``; another option fails, named;
- ``request.emotion``: "happy", "sad", "angry", "whispering" (else neutral).

The same request always gives the same bytes (the core keys its store by the request).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec
from ministudio.errors import EngineError

if TYPE_CHECKING:
    import numpy as np
    from ministudio.jobs import SpeechRequest, SpeechResult

ENGINE = "hum"
RATE = 24000  # samples per second: any rate works, the core resamples to the film's 48 kHz
VOICES = {"alto": 196.0, "bass": 98.0, "soprano": 262.0, "tenor": 147.0}  # base pitch, Hz
DEFAULT_VOICE = "alto"
CORE_DEFAULT_VOICE = "en-us"  # ``Voice.voice`` when the production names no voice
OPTIONS = ("vibrato",)
# emotion: (pitch factor, pitch glide over a word, speed factor, loudness 0..1)
EMOTIONS = {
    "neutral": (1.0, 0.0, 1.0, 0.5),
    "happy": (1.15, 0.12, 1.1, 0.6),
    "sad": (0.88, -0.08, 0.85, 0.4),
    "angry": (1.05, -0.05, 1.15, 0.75),
    "whispering": (1.0, 0.0, 0.95, 0.3),
}
# vowel: its first two formants (Hz), which colour the tone
FORMANTS = {
    "a": (730, 1090),
    "e": (530, 1840),
    "i": (270, 2290),
    "o": (570, 840),
    "u": (300, 870),
    "y": (270, 2290),
}
PAUSES = {",": 0.18, ";": 0.25, ":": 0.25, ".": 0.35, "!": 0.35, "?": 0.35}

SPEC = EngineSpec(
    id=ENGINE,
    kind="speech",
    description="local example: lines hummed as vowel tones",
    capabilities=Capabilities(concurrency=2, expected_latency=0.1),
)


@hookimpl
def ministudio_engines() -> list[EngineSpec]:
    return [SPEC]


@hookimpl
def speech_voices(engine: str) -> list[str] | None:
    return sorted(VOICES) if engine == ENGINE else None


@hookimpl
def synthesize_speech(
    engine: str, request: SpeechRequest, output: Path, context: EngineContext
) -> SpeechResult | None:
    """Write the line as a WAV at ``output``; the core runs this sync hook in a thread."""
    if engine != ENGINE:
        return None
    from ministudio.jobs import SpeechResult

    voice = request.voice
    name = DEFAULT_VOICE if voice.voice == CORE_DEFAULT_VOICE else voice.voice
    if name not in VOICES:  # before any work: a typo never passes
        raise EngineError(
            ENGINE, f"unknown voice {voice.voice!r}: use one of {', '.join(sorted(VOICES))}"
        )
    unknown = sorted(set(voice.options) - set(OPTIONS))
    if unknown:
        raise EngineError(
            ENGINE, f"unknown voice option(s) {', '.join(unknown)}: hum takes {', '.join(OPTIONS)}"
        )
    base = VOICES[name] * 2 ** ((voice.pitch - 50) / 50)
    samples = _hum(request.text, base, voice.rate, request.emotion, voice.options)

    part = output.with_name(output.name + ".part")  # nothing at `output` unless complete
    try:
        with part.open("wb") as file, wave.open(file, "wb") as wav:
            wav.setnchannels(1)  # mono
            wav.setsampwidth(2)  # 16-bit
            wav.setframerate(RATE)
            wav.writeframes(samples.astype("<i2").tobytes())
        os.replace(part, output)
    finally:
        part.unlink(missing_ok=True)
    return SpeechResult(path=output, duration=len(samples) / RATE, cost=0.0)


# -- the sound -----------------------------------------------------------------------------
def _hum(text: str, base: float, wpm: int, emotion: str, options: dict[str, Any]) -> np.ndarray:
    """The line as int16 samples: a tone per syllable, a pause after each word (longer at a
    punctuation mark), no silence before the first word or after the last (the core times
    the shot from the WAV's length, and adds its own lead-in and tail)."""
    import numpy as np

    factor, glide, speed, loudness = EMOTIONS.get(emotion.lower(), EMOTIONS["neutral"])
    vibrato = float(options.get("vibrato", 0.0))
    syllable = 60.0 / (wpm * 1.5) / speed  # seconds: English words average 1.5 syllables
    seed = int.from_bytes(hashlib.sha256(f"{text}|{emotion}".encode()).digest()[:8], "big")
    noise = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    pause = 0.0
    for word, marks in re.findall(r"(\w+)([^\w]*)", text) or [("a", "")]:
        if parts:  # the pause after the previous word
            parts.append(np.zeros(int((0.04 + pause) * RATE), np.float32))
        vowels = re.findall(r"[aeiouy]+", word.lower()) or ["a"]
        for n, vowel in enumerate(vowels):
            rise = glide * ((n + 1) / len(vowels) - 0.5)  # the pitch glides over the word
            f0 = base * factor * (1 + rise)
            tone = _tone(f0, FORMANTS[vowel[0]], syllable, vibrato)
            if emotion.lower() == "whispering":  # breath instead of voice
                tone = np.convolve(noise.standard_normal(tone.size), np.ones(4) / 4, "same")
                tone = (tone * _envelope(tone.size)).astype(np.float32)
            parts.append(tone)
        pause = max((PAUSES.get(m, 0.0) for m in marks), default=0.0)
    sound = np.concatenate(parts)
    peak = float(np.abs(sound).max()) or 1.0
    samples: np.ndarray = np.round(sound / peak * loudness * 32767).astype(np.int16)
    return samples


def _tone(f0: float, formants: tuple[int, int], seconds: float, vibrato: float) -> np.ndarray:
    """A voiced syllable: harmonics of ``f0`` weighted by the vowel's formants."""
    import numpy as np

    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    pitch = f0 * 2 ** (vibrato / 12 * np.sin(2 * math.pi * 5.5 * t))  # 5.5 Hz vibrato
    phase = 2 * math.pi * np.cumsum(pitch) / RATE
    sound = np.zeros(n)
    for k in range(1, 13):
        if k * f0 > RATE / 2:
            break
        gain = sum(math.exp(-(((k * f0 - f) / 150.0) ** 2)) for f in formants) + 0.05 / k
        sound += gain * np.sin(k * phase)
    voiced: np.ndarray = (sound * _envelope(n)).astype(np.float32)
    return voiced


def _envelope(n: int) -> np.ndarray:
    """Rise over 15 ms, fall over the last 30 ms: no clicks between syllables."""
    import numpy as np

    rise, fall = min(n, int(0.015 * RATE)), min(n, int(0.03 * RATE))
    shape = np.ones(n)
    shape[:rise] = np.linspace(0.0, 1.0, rise)
    shape[n - fall :] = np.minimum(shape[n - fall :], np.linspace(1.0, 0.0, fall))
    return shape
