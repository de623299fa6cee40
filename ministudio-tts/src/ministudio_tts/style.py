"""What a Gemini TTS request says, before any SDK is involved: the prebuilt voices, the
models, and the prompt a line becomes (its emotion, pace and pitch as a style instruction).

Pure Python and cheap to import: ``ministudio voices``-style listings and validation need no
SDK, and every check here runs before a request is paid for.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ministudio.errors import EngineError

if TYPE_CHECKING:
    from ministudio.jobs import SpeechRequest, Voice

ENGINE = "gemini"

# The 30 prebuilt voices (spec 2.9), in Google's order.
VOICES: tuple[str, ...] = (
    "Zephyr",
    "Puck",
    "Charon",
    "Kore",
    "Fenrir",
    "Leda",
    "Orus",
    "Aoede",
    "Callirrhoe",
    "Autonoe",
    "Enceladus",
    "Iapetus",
    "Umbriel",
    "Algieba",
    "Despina",
    "Erinome",
    "Algenib",
    "Rasalgethi",
    "Laomedeia",
    "Achernar",
    "Alnilam",
    "Schedar",
    "Gacrux",
    "Pulcherrima",
    "Achird",
    "Zubenelgenubi",
    "Vindemiatrix",
    "Sadachbia",
    "Sadaltager",
    "Sulafat",
)
_BY_LOWER = {name.lower(): name for name in VOICES}

# Models: id -> the date Google shuts it down (secondary source, spec 2.9), or None.
DEFAULT_MODEL = "gemini-3.8-flash-tts"  # GA: outlives the previews that end on 2026-12-18
MODELS: dict[str, str | None] = {
    "gemini-3.8-flash-tts": None,
    "gemini-3.8-flash-lite-tts": None,
    "gemini-3.1-flash-tts-preview": "2026-12-18",
    "gemini-2.5-flash-preview-tts": "2026-12-18",
    "gemini-2.5-pro-preview-tts": "2026-12-18",
}
MAX_SPEAKERS = 2  # the API's limit for multi_speaker_voice_config

# Voice.options this engine reads.
OPTIONS = ("model", "speakers", "language")

# A line's emotion -> how to say it. Keys are lowercase; synonyms share a phrase.
EMOTIONS: dict[str, str] = {
    "neutral": "",
    "happy": "cheerfully",
    "cheerful": "cheerfully",
    "joyful": "joyfully",
    "sad": "sadly",
    "angry": "angrily",
    "furious": "furiously",
    "fearful": "fearfully",
    "afraid": "fearfully",
    "scared": "fearfully",
    "excited": "excitedly",
    "whispering": "in a whisper",
    "whisper": "in a whisper",
    "whispered": "in a whisper",
    "shouting": "loudly, shouting",
    "calm": "calmly",
    "curious": "curiously",
    "surprised": "with surprise",
    "nervous": "nervously",
    "tired": "wearily",
    "bored": "in a bored tone",
    "sarcastic": "sarcastically",
    "tender": "tenderly",
    "serious": "seriously",
    "playful": "playfully",
    "proud": "proudly",
    "disgusted": "with disgust",
}

# Voice.pitch (0..100, default 50) and Voice.rate (words per minute, default 170, eSpeak's
# scale) become words only when clearly away from the default; otherwise they are ignored.
SLOW_RATE, FAST_RATE = 140, 200
LOW_PITCH, HIGH_PITCH = 35, 65

_SPEAKER_LINE = re.compile(r"^\s*([^:\n]{1,60}?)\s*:", re.MULTILINE)
_SPACES = re.compile(r"\s+")
_EMOTION_WORD = re.compile(r"[^\w\s'-]+")


@dataclass(frozen=True)
class Plan:
    """One request, decided and validated: what to send and with which voices."""

    model: str
    prompt: str  # the text sent, the style instruction first
    instruction: str  # the style instruction alone ("" when there is none)
    voice: str | None  # single speaker: the prebuilt voice
    speakers: tuple[tuple[str, str], ...]  # two speakers: (name in the text, prebuilt voice)
    language: str | None


def voice_name(name: str) -> str:
    """The prebuilt voice called ``name`` (any case); a clear error listing some if none is."""
    found = _BY_LOWER.get(name.strip().lower())
    if found is None:
        close = difflib.get_close_matches(name.strip().lower(), list(_BY_LOWER), n=1)
        hint = f"did you mean {_BY_LOWER[close[0]]}? " if close else ""
        raise EngineError(
            ENGINE,
            f"unknown voice '{name}': {hint}Gemini has 30 prebuilt voices, e.g. "
            f"{', '.join(VOICES[:6])} ... {VOICES[-1]} (set the character's voice, e.g. "
            f"voice: {{engine: gemini, voice: Kore}})",
        )
    return found


def manner(emotion: str, voice: Voice) -> list[str]:
    """How to say a line, as words: the emotion's, then the pace's and the pitch's."""
    words = []
    feeling = _SPACES.sub(" ", _EMOTION_WORD.sub(" ", emotion)).strip().lower()[:40]
    if feeling:
        words.append(EMOTIONS.get(feeling, f"in a {feeling} tone"))
    if voice.rate <= SLOW_RATE:
        words.append("slowly")
    elif voice.rate >= FAST_RATE:
        words.append("quickly")
    if voice.pitch <= LOW_PITCH:
        words.append("in a low voice")
    elif voice.pitch >= HIGH_PITCH:
        words.append("in a high voice")
    return [w for w in words if w]


def plan(request: SpeechRequest, default_model: str = DEFAULT_MODEL) -> Plan:
    """Check ``request`` and decide what to send; raises ``EngineError`` before any request."""
    voice, text = request.voice, request.text.strip()
    if not text:
        raise EngineError(ENGINE, "nothing to say: the line's text is empty")
    unknown = sorted(set(voice.options) - set(OPTIONS))
    if unknown:
        raise EngineError(
            ENGINE,
            f"unknown voice option(s) {', '.join(unknown)}; gemini takes {', '.join(OPTIONS)}",
        )
    model = _string_option(voice.options, "model") or default_model
    language = _string_option(voice.options, "language")
    speakers = _speakers(voice.options.get("speakers"), text)
    style = _join(manner(request.emotion, voice))
    if speakers:
        names = " and ".join(name for name, _ in speakers)
        instruction = f"Read this conversation between {names}" + (f" {style}" if style else "")
        prompt = f"{instruction}:\n{text}"
    elif style:
        instruction = f"Say {style}"
        prompt = f"{instruction}: {text}"
    else:
        instruction, prompt = "", text
    return Plan(
        model=model,
        prompt=prompt,
        instruction=instruction,
        voice=None if speakers else voice_name(voice.voice),
        speakers=speakers,
        language=language,
    )


def _join(words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join(filter(None, [", ".join(words[:-1]), *words[-1:]]))


def _string_option(options: Mapping[str, Any], key: str) -> str | None:
    value = options.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise EngineError(ENGINE, f"voice option '{key}' must be a non-empty text, not {value!r}")
    return value.strip()


def _speakers(value: Any, text: str) -> tuple[tuple[str, str], ...]:
    """``options.speakers`` ({name in the text: prebuilt voice}, two of them), checked."""
    if value is None:
        return ()
    if not isinstance(value, Mapping) or len(value) != MAX_SPEAKERS:
        raise EngineError(
            ENGINE,
            "voice option 'speakers' must map the 2 names used in the text to voices, e.g. "
            "speakers: {Ann: Kore, Bo: Puck} with text 'Ann: Hi!\\nBo: Hello!'",
        )
    named = {m.group(1).strip() for m in _SPEAKER_LINE.finditer(text)}
    pairs = []
    for name, voice in value.items():
        if not isinstance(name, str) or not name.strip() or not isinstance(voice, str):
            raise EngineError(
                ENGINE, f"voice option 'speakers': {name!r}: {voice!r} is not a name and a voice"
            )
        if name.strip() not in named:
            raise EngineError(
                ENGINE,
                f"speaker '{name}' never speaks: write the line as '{name}: ...' (one "
                "speaker's turn per line)",
            )
        pairs.append((name.strip(), voice_name(voice)))
    return tuple(pairs)
