"""The table that turns a line's emotion into prosody: pitch, range, rate and volume shifts,
and the whisper variant."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prosody:
    """How an emotion shifts a voice: offsets on 0..100 pitch and range, factors on rate and
    volume, and optionally a variant that replaces the character's (whisper)."""

    pitch: int = 0
    range: int = 0
    rate: float = 1.0
    volume: float = 1.0
    variant: str | None = None


EMOTIONS: dict[str, Prosody] = {
    "neutral": Prosody(),
    "happy": Prosody(pitch=8, range=15, rate=1.08, volume=1.05),
    "excited": Prosody(pitch=15, range=30, rate=1.22, volume=1.15),
    "surprised": Prosody(pitch=18, range=30, rate=1.05, volume=1.10),
    "curious": Prosody(pitch=6, range=15, rate=0.95),
    "warm": Prosody(pitch=-4, range=8, rate=0.92),
    "calm": Prosody(pitch=-5, range=-15, rate=0.88, volume=0.90),
    "sad": Prosody(pitch=-12, range=-25, rate=0.80, volume=0.80),
    "fearful": Prosody(pitch=12, range=10, rate=1.12, volume=0.90),
    "angry": Prosody(pitch=5, range=25, rate=1.10, volume=1.35),
    "whisper": Prosody(pitch=-5, range=-20, rate=0.90, volume=0.80, variant="whisper"),
}

_ALIASES: dict[str, str] = {
    "joyful": "happy", "cheerful": "happy", "glad": "happy", "amused": "happy",
    "playful": "happy", "delighted": "happy",
    "thrilled": "excited", "enthusiastic": "excited", "eager": "excited", "elated": "excited",
    "shocked": "surprised", "amazed": "surprised", "astonished": "surprised",
    "stunned": "surprised", "surprise": "surprised",
    "inquisitive": "curious", "intrigued": "curious", "puzzled": "curious",
    "questioning": "curious", "confused": "curious",
    "gentle": "warm", "tender": "warm", "kind": "warm", "loving": "warm", "affectionate": "warm",
    "relaxed": "calm", "serene": "calm", "soothing": "calm", "peaceful": "calm", "soft": "calm",
    "sorrowful": "sad", "melancholy": "sad", "upset": "sad", "grieving": "sad", "tired": "sad",
    "unhappy": "sad", "depressed": "sad", "sadness": "sad",
    "scared": "fearful", "afraid": "fearful", "frightened": "fearful", "nervous": "fearful",
    "anxious": "fearful", "terrified": "fearful", "fear": "fearful", "worried": "fearful",
    "furious": "angry", "mad": "angry", "annoyed": "angry", "irritated": "angry",
    "frustrated": "angry", "enraged": "angry", "anger": "angry",
    "whispering": "whisper", "whispered": "whisper", "whispers": "whisper", "hushed": "whisper",
}  # fmt: skip


def prosody_for(emotion: str) -> Prosody:
    """The prosody of a free-text emotion: an exact name or alias, else the first word of it
    that is one ("quietly sad" -> sad); anything unknown is neutral."""
    words = "".join(c if c.isalpha() else " " for c in emotion.lower()).split()
    for candidate in [" ".join(words), *words]:
        name = _ALIASES.get(candidate, candidate)
        if name in EMOTIONS:
            return EMOTIONS[name]
    return EMOTIONS["neutral"]
