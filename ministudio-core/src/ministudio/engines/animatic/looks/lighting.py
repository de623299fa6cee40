"""A lighting text read into what the sky shows (``time_of_day``) and a colour ``Grade``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ministudio.engines.animatic.looks.colours import colour_word
from ministudio.engines.animatic.looks.reading import tokenize


def time_of_day(text: str) -> str:
    """What the sky shows for a lighting text: night, dawn, dusk, golden, overcast or day."""
    words = set(tokenize(text))
    if words & {"night", "midnight", "moonlight", "moonlit", "nighttime", "dark", "starlight"}:
        return "night"
    if words & {"dawn", "sunrise", "daybreak"}:
        return "dawn"
    if words & {"dusk", "sunset", "twilight", "evening"}:
        return "dusk"
    if words & {"golden", "afternoon", "sunlight", "sunny", "warm"}:
        return "golden"
    if words & {
        "overcast",
        "cloudy",
        "grey",
        "gray",
        "rain",
        "rainy",
        "storm",
        "stormy",
        "fog",
        "foggy",
        "mist",
        "misty",
    }:
        return "overcast"
    return "day"


@dataclass(frozen=True)
class Grade:
    """A colour grade: ``out = in * gain + lift`` per channel (0..1), then saturation."""

    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    lift: tuple[float, float, float] = (0.0, 0.0, 0.0)
    saturation: float = 1.0
    vignette: float = 0.0  # 0..1: how much the corners darken

    @property
    def identity(self) -> bool:
        return self == Grade()


_GRADES: dict[str, Grade] = {
    "night": Grade((0.55, 0.62, 0.85), (0.0, 0.01, 0.04), 0.8, 0.45),
    "moonlight": Grade((0.5, 0.58, 0.85), (0.0, 0.02, 0.06), 0.65, 0.4),
    "dark": Grade((0.6, 0.6, 0.62), (0, 0, 0), 0.85, 0.35),
    "dim": Grade((0.7, 0.68, 0.66), (0, 0, 0), 0.9, 0.3),
    "cold": Grade((0.92, 0.98, 1.1), (0.0, 0.01, 0.03), 0.9, 0.0),
    "warm": Grade((1.08, 1.0, 0.88), (0.02, 0.01, 0.0), 1.05, 0.0),
    "flat": Grade((0.9, 0.9, 0.9), (0.05, 0.05, 0.05), 0.85, 0.0),
    "dawn": Grade((1.02, 0.86, 0.86), (0.07, 0.03, 0.06), 0.85, 0.15),
    "dusk": Grade((1.05, 0.78, 0.72), (0.05, 0.0, 0.06), 0.95, 0.25),
    "golden": Grade((1.12, 1.0, 0.72), (0.04, 0.02, 0.0), 1.1, 0.15),
    "sunlight": Grade((1.08, 1.03, 0.9), (0.03, 0.02, 0.0), 1.05, 0.0),
    "morning": Grade((1.0, 1.0, 0.97), (0.03, 0.03, 0.03), 0.95, 0.0),
    "alarm": Grade((1.0, 0.62, 0.6), (0.05, 0.0, 0.0), 1.0, 0.4),
    "neon": Grade((1.0, 0.78, 1.12), (0.04, 0.0, 0.06), 1.25, 0.3),
    "candle": Grade((1.05, 0.72, 0.45), (0.02, 0.0, 0.0), 0.95, 0.45),
    "fluorescent": Grade((0.96, 1.03, 0.98), (0.02, 0.03, 0.02), 0.85, 0.0),
    "overcast": Grade((0.88, 0.9, 0.95), (0.03, 0.03, 0.04), 0.7, 0.1),
    "bright": Grade((1.1, 1.1, 1.1), (0.02, 0.02, 0.02), 1.0, 0.0),
    "soft": Grade((0.97, 0.96, 0.95), (0.03, 0.03, 0.03), 0.95, 0.1),
    "harsh": Grade((1.1, 1.1, 1.1), (0.0, 0.0, 0.0), 1.1, 0.2),
}
_GRADE_WORDS = {
    "night": "night",
    "midnight": "night",
    "nighttime": "night",
    "moonlight": "moonlight",
    "moonlit": "moonlight",
    "dark": "dark",
    "darkness": "dark",
    "dim": "dim",
    "gloomy": "dim",
    "dawn": "dawn",
    "sunrise": "dawn",
    "daybreak": "dawn",
    "dusk": "dusk",
    "sunset": "dusk",
    "twilight": "dusk",
    "evening": "dusk",
    "golden": "golden",
    "sunlight": "sunlight",
    "sunny": "sunlight",
    "daylight": "sunlight",
    "morning": "morning",
    "alarm": "alarm",
    "emergency": "alarm",
    "warning": "alarm",
    "neon": "neon",
    "candle": "candle",
    "candlelight": "candle",
    "candlelit": "candle",
    "fire": "candle",
    "firelight": "candle",
    "fluorescent": "fluorescent",
    "clinical": "fluorescent",
    "overcast": "overcast",
    "cloudy": "overcast",
    "grey": "overcast",
    "gray": "overcast",
    "rainy": "overcast",
    "stormy": "overcast",
    "bright": "bright",
    "soft": "soft",
    "harsh": "harsh",
    "cold": "cold",
    "cool": "cold",
    "icy": "cold",
    "warm": "warm",
    "cosy": "warm",
    "cozy": "warm",
    "flat": "flat",
}


def _combine(a: Grade, b: Grade) -> Grade:
    return Grade(
        gain=(a.gain[0] * b.gain[0], a.gain[1] * b.gain[1], a.gain[2] * b.gain[2]),
        lift=(
            min(0.15, a.lift[0] + b.lift[0]),
            min(0.15, a.lift[1] + b.lift[1]),
            min(0.15, a.lift[2] + b.lift[2]),
        ),
        saturation=a.saturation * b.saturation,
        vignette=max(a.vignette, b.vignette),
    )


@lru_cache(maxsize=128)
def grade_for(lighting: str) -> Grade:
    """The colour grade a lighting text asks for ("night, lab blue", "alarm red", "dawn").

    Mood words pick a preset; colour words ("blue", "red", "amber") tint toward that colour.
    The same room under two lightings is the same drawing under two grades.
    """
    grade = Grade()
    tokens = tokenize(lighting)
    seen: set[str] = set()
    for w in tokens:
        preset = _GRADE_WORDS.get(w)
        if preset and preset not in seen:
            seen.add(preset)
            grade = _combine(grade, _GRADES[preset])
    grey = {"grey", "gray", "white", "black", "silver"}
    for w in tokens:
        colour = colour_word(w)
        if colour is None or w in grey or w in seen or w in ("golden",):
            continue
        seen.add(w)
        mean = max(1.0, sum(colour) / 3)
        tint = tuple(min(1.25, max(0.6, 0.75 + 0.25 * (c / mean))) for c in colour)
        grade = _combine(grade, Grade((tint[0], tint[1], tint[2]), (0, 0, 0), 1.0, 0.1))
    return grade
