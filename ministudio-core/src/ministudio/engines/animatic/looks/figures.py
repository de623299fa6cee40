"""A character's DNA read into a ``FigureLook``: kind (human, robot, orb, hologram), age and
height, skin, hair, clothes and their colours."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ministudio.engines.animatic.looks.colours import (
    COLOURS,
    MULTI,
    RGB,
    colour_before,
    colour_word,
    mix,
    scale,
)
from ministudio.engines.animatic.looks.reading import stable_rng, tokenize
from ministudio.engines.animatic.looks.wardrobe import (
    BEARDS,
    BOTTOM_DEFAULTS,
    BOTTOMS,
    CLOTH_DEFAULTS,
    DRESSES,
    GLOW_DEFAULTS,
    HAIR,
    HAIR_DEFAULTS,
    HATS,
    LONG_TOPS,
    NECK,
    SHOES,
    SKIN_TONES,
    SKIN_WORDS,
    TOPS,
)

_DECADES = {
    "teens": 15,
    "twenties": 25,
    "thirties": 35,
    "forties": 45,
    "fifties": 55,
    "sixties": 65,
    "seventies": 75,
    "eighties": 85,
    "nineties": 92,
}
_NUMBER_WORDS = {
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}


@dataclass(frozen=True)
class FigureLook:
    """How one character is drawn. Heights are metres; colours RGB."""

    kind: str  # "human", "robot", "orb", "hologram"
    height: float
    build: float  # torso width factor, 1.0 average
    child: bool
    elderly: bool
    skin: RGB
    hair: RGB
    hair_style: str  # short, long, ponytail, bun, curly, bald, braids
    beard: RGB | None
    beard_style: str  # "", full, moustache, stubble
    glasses: bool
    hat: RGB | None
    top: RGB
    top_kind: str  # shirt, coat, dress
    top_pattern: str  # "", colourful, stripes
    bottom: RGB
    bottom_kind: str  # trousers, shorts, skirt
    shoes: RGB
    neckwear: RGB | None
    glow: RGB  # the light of an orb or a hologram
    accent: RGB = (255, 255, 255)
    inner: RGB | None = None  # what shows at the neck under a coat or jacket


def _age(text: str, words: set[str]) -> int | None:
    t = text.lower()
    patterns = (
        r"(?:about|around|aged|age|roughly|nearly|almost|maybe|perhaps|some)\s+(\d{1,3})\b",
        r"\b(\d{1,3})\s*(?:-|\s)?\s*(?:years?|yrs?|yo)\b",
        r"\b(\d{1,3})\s*(?:-|\s)?\s*year\s*(?:-|\s)?\s*old\b",
    )
    for pattern in patterns:
        m = re.search(pattern, t)
        if m and 0 < int(m.group(1)) < 130:
            return int(m.group(1))
    m = re.search(r"\b(?:about|around|aged|age)\s+([a-z]+)", t)
    if m and m.group(1) in _NUMBER_WORDS:
        return _NUMBER_WORDS[m.group(1)]
    m = re.search(r"\b([a-z]+)[- ]year[- ]old\b", t)
    if m and m.group(1) in _NUMBER_WORDS:
        return _NUMBER_WORDS[m.group(1)]
    m = re.search(r"\bin (?:his|her|their) (?:early |late |mid[- ])?([a-z]+|\d0s)\b", t)
    if m:
        key = m.group(1)
        if key in _DECADES:
            return _DECADES[key]
        if key.endswith("0s") and key[:-1].isdigit():
            return int(key[:-1]) + 5
    if words & {"toddler", "baby", "infant"}:
        return 3
    if words & {"child", "kid", "boy", "girl", "schoolgirl", "schoolboy", "little", "youngster"}:
        return 9
    if words & {"teen", "teenager", "teenage", "adolescent"}:
        return 15
    if words & {
        "elderly",
        "old",
        "grandmother",
        "grandfather",
        "grandma",
        "grandpa",
        "granny",
        "grandad",
        "granddad",
        "retired",
        "aged",
        "pensioner",
    }:
        return 72
    if words & {"middle"}:
        return 50
    return None


def _non_human(words: set[str]) -> str:
    if words & {
        "hologram",
        "holographic",
        "translucent",
        "ghost",
        "ghostly",
        "projection",
        "spectral",
        "transparent",
    }:
        return "hologram"
    if words & {"orb", "sphere", "wisp", "sprite", "fairy", "firefly"}:
        return "orb"
    if words & {"robot", "android", "droid", "automaton", "cyborg", "mech", "bot"}:
        return "robot"
    clothed = words & (TOPS | BOTTOMS | HAIR | BEARDS | {"man", "woman", "boy", "girl"})
    if "glowing" in words and not clothed:
        return "orb"
    return "human"


@lru_cache(maxsize=256)
def figure_look(character_id: str, dna: str) -> FigureLook:
    """Read a character's DNA into a figure. Depends only on the id and the DNA text."""
    rng = stable_rng("figure", character_id, dna)
    tokens = tokenize(dna)
    words = set(tokens)
    kind = _non_human(words)
    age = _age(dna, words)
    child = age is not None and age < 14
    elderly = age is not None and age >= 60

    height = 1.74 if words & {"man", "he", "his", "him", "father", "grandfather"} else 1.68
    if age is not None and age < 18:
        height = max(0.85, min(1.7, 0.78 + 0.062 * age))
    elif elderly:
        height -= 0.04
    if words & {"tall", "towering", "lanky"}:
        height *= 1.08
    if words & {"short", "small", "tiny", "petite"} and not child:
        height *= 0.93
    build = 1.0 + rng.uniform(-0.06, 0.06)
    if words & {
        "stocky",
        "heavyset",
        "broad",
        "burly",
        "large",
        "big",
        "chubby",
        "plump",
        "stout",
        "muscular",
    }:
        build = 1.22
    if words & {"slim", "thin", "slender", "lanky", "skinny", "wiry"}:
        build = 0.85

    skin = rng.choice(SKIN_TONES)
    for i, w in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if nxt in ("skin", "skinned", "complexion", "skinned,") and w in SKIN_WORDS:
            skin = SKIN_WORDS[w]
        elif w in ("freckles", "freckled") and "skin" not in words:
            skin = SKIN_WORDS["freckled"]

    hair = rng.choice(HAIR_DEFAULTS)
    feminine = bool(
        words
        & {
            "woman",
            "she",
            "her",
            "girl",
            "lady",
            "mother",
            "grandmother",
            "grandma",
            "granny",
            "daughter",
            "sister",
            "aunt",
            "wife",
        }
    )
    styles = ["long", "ponytail", "bun", "short"] if feminine else ["short", "short", "curly"]
    if elderly and not feminine:
        styles = ["bald", "short"]
    hair_style = rng.choice(styles)
    if elderly:
        hair = (205, 205, 208)
    beard_colour: RGB | None = None
    beard_style = ""
    hat: RGB | None = None
    glasses = bool(
        words & {"glasses", "spectacles", "goggles", "sunglasses", "bifocals", "monocle", "specs"}
    )
    top: RGB = rng.choice(CLOTH_DEFAULTS)
    top_kind = "shirt"
    top_pattern = ""
    bottom: RGB = rng.choice(BOTTOM_DEFAULTS)
    bottom_kind = "trousers"
    shoes: RGB = (45, 38, 34)
    neckwear: RGB | None = None
    top_set = bottom_set = hair_set = False
    inner: RGB | None = None
    top_word = ""

    for i, w in enumerate(tokens):
        colour, pattern = colour_before(tokens, i)
        if w in TOPS and top_set and inner is None and w not in DRESSES:
            # a second garment: under a coat it shows at the neck; over a shirt it is the coat
            if colour is None or tokens[i - 1] in TOPS:  # "suit jacket" is one garment
                continue
            if top_word in LONG_TOPS or top_word in ("jacket", "blazer", "suit", "cardigan"):
                inner = colour
            elif w in LONG_TOPS or w in ("jacket", "blazer", "cardigan"):
                inner, top = top, colour
                top_kind = "coat" if w in LONG_TOPS else top_kind
                top_word = w
            continue
        if w in TOPS and not top_set:
            top_word = w
            top_set = True
            if w == "labcoat" and colour is None:
                colour = (240, 242, 245)
            if colour is not None:
                top = colour
            top_pattern = pattern
            if w in DRESSES:
                top_kind = "dress"
            elif w in LONG_TOPS:
                top_kind = "coat"
            if w in ("suit", "overalls", "jumpsuit") and not bottom_set:
                bottom = scale(top, 0.9)
                bottom_set = True
        elif w in BOTTOMS and not bottom_set:
            bottom_set = True
            if colour is None and w == "jeans":
                colour = (60, 90, 140)
            if colour is None and w == "chinos":
                colour = COLOURS["khaki"]
            if colour is not None:
                bottom = colour
            if w == "shorts":
                bottom_kind = "shorts"
            elif w == "skirt":
                bottom_kind = "skirt"
        elif w in SHOES and colour is not None:
            shoes = colour
        elif w in HAIR:
            if colour is None and w in ("hair", "haired"):
                before = set(tokens[max(0, i - 3) : i])
                if "dark" in before:
                    colour = (45, 32, 26)
                elif before & {"fair", "light"}:
                    colour = COLOURS["blond"]
            if colour is not None and not hair_set:
                # "red hair" is ginger, not paint red
                hair = COLOURS["ginger"] if colour == COLOURS["red"] else colour
                hair_set = True
            if w == "ponytail":
                hair_style = "ponytail"
            elif w == "bun":
                hair_style = "bun"
            elif w in ("braid", "braids", "plait", "plaits"):
                hair_style = "braids"
            elif w in ("curls", "afro"):
                hair_style = "curly"
            elif w == "bob":
                hair_style = "short"
            elif w == "hair":
                before = set(tokens[max(0, i - 3) : i])
                if before & {"long", "flowing", "shoulder", "waist"}:
                    hair_style = "long"
                elif before & {"curly", "wavy", "frizzy"}:
                    hair_style = "curly"
                elif before & {"short", "cropped", "buzzed", "spiky", "neat"}:
                    hair_style = "short"
        elif w in BEARDS:
            if colour is not None:
                beard_colour = colour
            if w in ("moustache", "mustache"):
                beard_style = beard_style or "moustache"
            elif w == "stubble":
                beard_style = beard_style or "stubble"
            else:
                beard_style = "full"
        elif w in HATS:
            hat = colour if colour is not None else scale(top, 0.7)
        elif w in NECK:
            neckwear = colour if colour is not None else rng.choice(CLOTH_DEFAULTS)
        if w in ("blond", "blonde", "ginger", "redhead", "brunette", "auburn") and not hair_set:
            hair = COLOURS.get(w, (180, 70, 30))
            hair_set = True
    if words & {"bald", "balding"}:
        hair_style = "bald"
    beard: RGB | None = None
    if beard_style:
        beard = beard_colour if beard_colour is not None else scale(hair, 0.95)
    if not top_pattern and words & MULTI and not top_set:
        top_pattern = "colourful"

    glow = rng.choice(GLOW_DEFAULTS)
    named = [c for c in (colour_word(w) for w in tokens) if c is not None]
    if kind in ("orb", "hologram") and named:
        glow = named[0]
    elif kind == "hologram":
        glow = (90, 220, 255)
    if kind == "robot":
        top = named[0] if named else (150, 158, 170)
        bottom = scale(top, 0.8)
        skin = mix(top, (230, 235, 240), 0.35)
        hair_style = "bald"
        beard = None
        beard_style = ""
    accent = mix(top, (255, 255, 255), 0.5)
    return FigureLook(
        kind=kind,
        height=round(height, 3),
        build=round(build, 3),
        child=child,
        elderly=elderly,
        skin=skin,
        hair=hair,
        hair_style=hair_style,
        beard=beard,
        beard_style=beard_style,
        glasses=glasses,
        hat=hat,
        top=top,
        top_kind=top_kind,
        top_pattern=top_pattern,
        bottom=bottom,
        bottom_kind=bottom_kind,
        shoes=shoes,
        neckwear=neckwear,
        glow=glow,
        accent=accent,
        inner=inner,
    )
