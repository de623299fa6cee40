"""What a Gemini TTS request says, before any SDK is involved: the prebuilt voices, and what a
line becomes for its model.

The 3.8 models (and any later one) read their text verbatim: they get the line's words alone,
one part per speaker's turn, and its emotion, pace and pitch as a ``speech_metadata.style``
("curious, speaking slowly, low pitch"). The 2.5 and 3.1 previews, which refuse
``speech_metadata``, get the style written in front of the text, as Google's guide for them
did ("Say curiously and slowly: ..."). Which is which: ``models.in_text_style``.

Pure Python and cheap to import: listings and validation need no SDK, and every check here
runs before a request is paid for.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ministudio.errors import EngineError

from ministudio_tts.models import DEFAULT_MODEL, ENGINE, in_text_style

if TYPE_CHECKING:
    from ministudio.jobs import SpeechRequest, Voice

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

MAX_SPEAKERS = 2  # multi_speaker_voice_config takes exactly two (Google's docs and SDK)

# Voice.options this engine reads.
OPTIONS = ("model", "speakers", "language")

# A line's emotion -> (the style for the verbatim models' speech_metadata, the adverb the
# older models read in "Say <adverb>: ..."). Keys are lowercase; synonyms share a pair. Any
# other emotion is sent as its own word ("wistful"; "in a wistful tone" for older models).
EMOTIONS: dict[str, tuple[str, str]] = {
    "neutral": ("", ""),
    "happy": ("cheerful", "cheerfully"),
    "cheerful": ("cheerful", "cheerfully"),
    "joyful": ("joyful", "joyfully"),
    "sad": ("sad", "sadly"),
    "angry": ("angry", "angrily"),
    "furious": ("furious", "furiously"),
    "fearful": ("fearful", "fearfully"),
    "afraid": ("fearful", "fearfully"),
    "scared": ("fearful", "fearfully"),
    "excited": ("excited", "excitedly"),
    "whispering": ("whispering", "in a whisper"),
    "whisper": ("whispering", "in a whisper"),
    "whispered": ("whispering", "in a whisper"),
    "shouting": ("shouting", "loudly, shouting"),
    "calm": ("calm", "calmly"),
    "curious": ("curious", "curiously"),
    "surprised": ("surprised", "with surprise"),
    "nervous": ("nervous", "nervously"),
    "tired": ("tired", "wearily"),
    "bored": ("bored", "in a bored tone"),
    "sarcastic": ("sarcastic", "sarcastically"),
    "tender": ("tender", "tenderly"),
    "serious": ("serious", "seriously"),
    "playful": ("playful", "playfully"),
    "proud": ("proud", "proudly"),
    "disgusted": ("disgusted", "with disgust"),
}

# Voice.pitch (0..100, default 50) and Voice.rate (words per minute, default 170, eSpeak's
# scale) become words only when clearly away from the default; otherwise they are ignored.
# The style words are Google's own examples ("speaking slowly", "speaking rapidly", "high
# pitch"); the older models' words are the ones this engine always sent them.
SLOW_RATE, FAST_RATE = 140, 200
LOW_PITCH, HIGH_PITCH = 35, 65
PACE = {"slow": ("speaking slowly", "slowly"), "fast": ("speaking rapidly", "quickly")}
PITCH = {"low": ("low pitch", "in a low voice"), "high": ("high pitch", "in a high voice")}

_SPEAKER_LINE = re.compile(r"^\s*([^:\n]{1,60}?)\s*:", re.MULTILINE)
_SPACES = re.compile(r"\s+")
_EMOTION_WORD = re.compile(r"[^\w\s'-]+")


@dataclass(frozen=True)
class Turn:
    """One part of a verbatim request: the words to say, who says them (two-speaker lines)
    and how (``speech_metadata.style``, "" for none)."""

    text: str
    speaker: str | None = None
    style: str = ""


@dataclass(frozen=True)
class Plan:
    """One request, decided and validated: what to send and with which voices."""

    model: str
    in_text: bool  # the model wants the style in the text (2.5 / 3.1), not speech_metadata
    prompt: str  # the text sent: the transcript, or (in_text) the instruction and the text
    instruction: str  # the style: speech_metadata's, or (in_text) the instruction alone
    turns: tuple[Turn, ...]  # the parts of a verbatim request, one per turn ((), if in_text)
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


def manner(emotion: str, voice: Voice, in_text: bool = False) -> list[str]:
    """How to say a line, as words: the emotion's, then the pace's and the pitch's. Style
    words for ``speech_metadata`` ("curious", "speaking slowly", "low pitch"), or with
    ``in_text`` the adverbs of an in-text instruction ("curiously", "slowly")."""
    pick = 1 if in_text else 0
    words = []
    feeling = _SPACES.sub(" ", _EMOTION_WORD.sub(" ", emotion)).strip().lower()[:40]
    if feeling:
        known = EMOTIONS.get(feeling)
        words.append(known[pick] if known else f"in a {feeling} tone" if in_text else feeling)
    if voice.rate <= SLOW_RATE:
        words.append(PACE["slow"][pick])
    elif voice.rate >= FAST_RATE:
        words.append(PACE["fast"][pick])
    if voice.pitch <= LOW_PITCH:
        words.append(PITCH["low"][pick])
    elif voice.pitch >= HIGH_PITCH:
        words.append(PITCH["high"][pick])
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
    legacy = in_text_style(model)
    words = manner(request.emotion, voice, in_text=legacy)
    turns: tuple[Turn, ...] = ()
    if not legacy:
        instruction = ", ".join(words)
        if speakers:
            turns = _turns(text, [name for name, _ in speakers], instruction)
        else:
            turns = (Turn(text, None, instruction),)
        prompt = "\n".join(turn.text for turn in turns)
    elif speakers:
        names = " and ".join(name for name, _ in speakers)
        style = _join(words)
        instruction = f"Read this conversation between {names}" + (f" {style}" if style else "")
        prompt = f"{instruction}:\n{text}"
    elif words:
        instruction = f"Say {_join(words)}"
        prompt = f"{instruction}: {text}"
    else:
        instruction, prompt = "", text
    return Plan(
        model=model,
        in_text=legacy,
        prompt=prompt,
        instruction=instruction,
        turns=turns,
        voice=None if speakers else voice_name(voice.voice),
        speakers=speakers,
        language=language,
    )


def _turns(text: str, names: list[str], style: str) -> tuple[Turn, ...]:
    """A two-speaker line ("Ann: ...\nBo: ...") as one turn per "Name:" line, the name taken
    off; a line that opens with neither name continues the turn above it."""
    opener = re.compile(
        r"^\s*(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\s*:"
    )
    turns: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        match = opener.match(line)
        if match:
            turns.append((match.group(1), [line[match.end() :].strip()]))
        elif turns:
            turns[-1][1].append(line.strip())
        elif line.strip():
            raise EngineError(
                ENGINE,
                f"a two-speaker line must open with a speaker's turn ('{names[0]}: ...'), not "
                f"{line.strip()[:40]!r}",
            )
    parts = []
    for speaker, lines in turns:
        said = "\n".join(line for line in lines if line)
        if not said:
            raise EngineError(ENGINE, f"a turn of '{speaker}' is empty: write '{speaker}: ...'")
        parts.append(Turn(said, speaker, style))
    return tuple(parts)


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
