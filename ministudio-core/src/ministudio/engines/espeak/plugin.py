"""Hook implementations of the embedded ``espeak`` speech engine.

Importing this module is cheap: the library, numpy and the voice list load on the first line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec

if TYPE_CHECKING:
    from ministudio.jobs import SpeechRequest, SpeechResult, Voice
from ministudio.errors import EngineError

ENGINE = "espeak"

DEFAULT_RANGE = 50
DEFAULT_VOLUME = 100
_OPTIONS = ("range", "variant", "volume", "wordgap")


@hookimpl
def ministudio_engines() -> list[EngineSpec]:
    return [
        EngineSpec(
            id=ENGINE,
            kind="speech",
            description="eSpeak NG, local, keyless",
            capabilities=Capabilities(concurrency=1, price_per_second=0.0),
        )
    ]


@hookimpl
def speech_voices(engine: str) -> list[str] | None:
    if engine != ENGINE:
        return None
    from ministudio.engines.espeak.voices import list_voices

    return list_voices()


def _number(voice: Voice, key: str, default: int) -> int:
    value: Any = voice.options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EngineError(ENGINE, f"voice option '{key}' must be a number, not {value!r}")
    return round(value)


def speech_settings(voice: Voice, emotion: str) -> dict[str, Any]:
    """The keyword arguments of ``synth.synthesize`` for a character's voice and a line's
    emotion: the voice's own settings, shifted by the emotion's prosody."""
    from ministudio.engines.espeak.prosody import prosody_for
    from ministudio.engines.espeak.voices import variant_is_female

    unknown = sorted(set(voice.options) - set(_OPTIONS))
    if unknown:
        raise EngineError(
            ENGINE,
            f"unknown voice option(s) {', '.join(unknown)}; espeak takes {', '.join(_OPTIONS)}",
        )
    variant: Any = voice.options.get("variant")
    if variant is not None and not isinstance(variant, str):
        raise EngineError(
            ENGINE, f"voice option 'variant' must be a name like 'f3', not {variant!r}"
        )

    prosody = prosody_for(emotion)
    if prosody.variant is not None:  # whisper: keep the character's gender
        own = variant if variant is not None else voice.voice.partition("+")[2]
        female = bool(own.strip()) and variant_is_female(own.strip())
        variant = prosody.variant + ("f" if female else "")
    return {
        "voice": voice.voice,
        "variant": variant,
        "pitch": voice.pitch + prosody.pitch,
        "rate": round(voice.rate * prosody.rate),
        "range_": _number(voice, "range", DEFAULT_RANGE) + prosody.range,
        "volume": round(_number(voice, "volume", DEFAULT_VOLUME) * prosody.volume),
        "wordgap": _number(voice, "wordgap", 0),
    }


@hookimpl
def synthesize_speech(
    engine: str, request: SpeechRequest, output: Path, context: EngineContext
) -> SpeechResult | None:
    if engine != ENGINE:
        return None
    from ministudio.engines.espeak import synth
    from ministudio.jobs import SpeechResult

    if not request.text.strip():
        raise EngineError(ENGINE, "nothing to say: the line's text is empty")
    settings = speech_settings(request.voice, request.emotion)
    spoken = synth.speak_line(request.text, output, keep=0.05, **settings)  # bounded memory
    context.progress(1.0)
    return SpeechResult(path=output, duration=spoken.seconds, phonemes=spoken.phonemes)
