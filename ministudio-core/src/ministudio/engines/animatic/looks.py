"""How things look: a character's DNA, an environment's description and a lighting text, read
into plain appearance values (colours, hair style, props, a colour grade).

Everything here is a pure function of the text (and ids): the same DNA gives the same figure
in every shot. Keywords are simple on purpose: a colour word before a clothing or hair word
colours it ("brown cardigan" -> torso brown), and what the text does not say is derived from
a hash of the id and DNA, so two characters still look different.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache

from PIL import ImageColor

RGB = tuple[int, int, int]

# Colours as people name them in DNA text; CSS names (PIL.ImageColor) fill in the rest. The
# basic words are softened a little from their CSS values so a figure looks painted, not neon.
_COLOURS: dict[str, RGB] = {
    "red": (200, 40, 40),
    "scarlet": (220, 36, 20),
    "crimson": (180, 20, 50),
    "burgundy": (128, 0, 32),
    "maroon": (120, 24, 36),
    "ruby": (190, 20, 80),
    "pink": (240, 150, 180),
    "rose": (230, 110, 140),
    "coral": (250, 120, 90),
    "peach": (255, 200, 160),
    "orange": (240, 130, 30),
    "rust": (183, 65, 14),
    "amber": (255, 176, 0),
    "ochre": (204, 119, 34),
    "mustard": (215, 170, 30),
    "yellow": (240, 205, 40),
    "gold": (230, 180, 40),
    "golden": (230, 180, 40),
    "cream": (245, 238, 205),
    "beige": (220, 205, 170),
    "sand": (205, 185, 135),
    "khaki": (189, 170, 120),
    "tan": (200, 160, 110),
    "caramel": (193, 134, 73),
    "camel": (193, 154, 107),
    "brown": (121, 85, 58),
    "chocolate": (90, 55, 35),
    "mahogany": (110, 45, 25),
    "copper": (184, 115, 51),
    "bronze": (180, 120, 50),
    "green": (50, 140, 70),
    "olive": (110, 120, 55),
    "sage": (150, 170, 130),
    "mint": (160, 230, 190),
    "emerald": (30, 160, 100),
    "lime": (150, 210, 50),
    "teal": (20, 128, 128),
    "turquoise": (60, 200, 200),
    "cyan": (60, 210, 235),
    "aqua": (80, 220, 220),
    "blue": (40, 80, 200),
    "navy": (25, 35, 90),
    "cobalt": (0, 71, 171),
    "sapphire": (15, 82, 186),
    "denim": (60, 90, 140),
    "indigo": (60, 40, 130),
    "purple": (120, 50, 150),
    "violet": (140, 80, 200),
    "lavender": (180, 160, 220),
    "lilac": (200, 160, 210),
    "mauve": (190, 140, 180),
    "magenta": (210, 40, 160),
    "white": (240, 240, 236),
    "ivory": (245, 240, 220),
    "silver": (192, 192, 200),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "charcoal": (54, 60, 68),
    "black": (28, 28, 30),
    "jet": (20, 20, 22),
    "ebony": (40, 30, 26),
    # hair words
    "blond": (222, 190, 120),
    "blonde": (222, 190, 120),
    "ginger": (190, 95, 35),
    "auburn": (145, 50, 30),
    "brunette": (80, 52, 32),
    "chestnut": (120, 60, 30),
    "platinum": (230, 225, 210),
    "steel": (112, 128, 144),
    "slate": (90, 100, 115),
    "wood": (140, 95, 60),
    "wooden": (140, 95, 60),
    "honey": (220, 165, 70),
    "sky": (135, 190, 235),
}
_MODIFIERS = {
    "dark",
    "light",
    "pale",
    "bright",
    "deep",
    "faded",
    "muted",
    "pastel",
    "dusty",
    "warm",
    "cold",
    "cool",
    "soft",
    "vivid",
}
_MULTI = {"colourful", "colorful", "multicoloured", "multicolored", "rainbow", "patterned"}
_STRIPED = {"striped", "stripy", "stripey", "plaid", "checked", "tartan", "checkered"}

_TOPS = {
    "shirt",
    "tshirt",
    "tee",
    "blouse",
    "sweater",
    "jumper",
    "cardigan",
    "jacket",
    "coat",
    "hoodie",
    "sweatshirt",
    "vest",
    "waistcoat",
    "top",
    "uniform",
    "blazer",
    "suit",
    "robe",
    "tunic",
    "jersey",
    "polo",
    "dress",
    "gown",
    "apron",
    "parka",
    "anorak",
    "poncho",
    "kimono",
    "labcoat",
    "overcoat",
    "raincoat",
    "cloak",
    "sari",
    "overalls",
    "jumpsuit",
}
_LONG_TOPS = {"coat", "labcoat", "overcoat", "raincoat", "robe", "cloak", "parka", "kimono"}
_DRESSES = {"dress", "gown", "sari"}
_BOTTOMS = {
    "trousers",
    "pants",
    "jeans",
    "shorts",
    "skirt",
    "leggings",
    "slacks",
    "chinos",
    "joggers",
    "dungarees",
    "overalls",
    "jumpsuit",
    "suit",
}
_SHOES = {"shoes", "boots", "sneakers", "trainers", "sandals", "heels", "loafers", "slippers"}
_HAIR = {
    "hair",
    "haired",
    "ponytail",
    "bun",
    "braid",
    "braids",
    "plait",
    "plaits",
    "curls",
    "afro",
    "bob",
    "locks",
    "fringe",
    "bangs",
}
_BEARDS = {"beard", "bearded", "goatee", "stubble", "moustache", "mustache"}
_HATS = {"hat", "cap", "beanie", "beret", "helmet", "bonnet", "fedora", "turban", "headscarf"}
_NECK = {"scarf", "tie", "bowtie", "necktie", "bandana"}
_STOP = {
    "and",
    "with",
    "or",
    "a",
    "an",
    "the",
    "his",
    "her",
    "their",
    "its",
    "wearing",
    "wears",
    "in",
    "on",
    "of",
    "has",
    "is",
    "who",
    "over",
    "under",
    "plus",
    "always",
    "usually",
    "he",
    "she",
    "they",
    "it",
    "to",
    "at",
    "by",
}
_SKIN_TONES: tuple[RGB, ...] = (
    (247, 214, 190),
    (236, 192, 160),
    (222, 170, 130),
    (198, 140, 100),
    (160, 105, 70),
    (120, 80, 55),
    (92, 60, 42),
)
_SKIN_WORDS: dict[str, RGB] = {
    "pale": (250, 222, 204),
    "fair": (247, 214, 190),
    "freckled": (240, 200, 170),
    "rosy": (245, 200, 180),
    "olive": (205, 160, 115),
    "tan": (200, 145, 100),
    "tanned": (200, 145, 100),
    "golden": (210, 160, 110),
    "brown": (150, 100, 65),
    "dark": (100, 66, 46),
    "deep": (92, 60, 42),
    "black": (88, 58, 42),
    "light": (240, 205, 180),
}
_HAIR_DEFAULTS: tuple[RGB, ...] = (
    (40, 30, 25),
    (80, 52, 32),
    (120, 80, 45),
    (200, 165, 100),
    (25, 22, 22),
    (145, 60, 30),
)
_CLOTH_DEFAULTS: tuple[RGB, ...] = (
    (60, 90, 160),
    (170, 60, 60),
    (70, 130, 90),
    (200, 150, 60),
    (110, 70, 140),
    (60, 140, 150),
    (150, 100, 70),
    (90, 90, 100),
    (210, 110, 60),
    (40, 60, 90),
)
_BOTTOM_DEFAULTS: tuple[RGB, ...] = (
    (50, 60, 80),
    (60, 60, 64),
    (90, 75, 60),
    (40, 45, 70),
    (110, 100, 85),
    (30, 30, 34),
)
_GLOW_DEFAULTS: tuple[RGB, ...] = (
    (120, 200, 255),
    (255, 190, 90),
    (160, 255, 190),
    (230, 140, 255),
    (255, 240, 150),
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


def stable_rng(*parts: object) -> random.Random:
    """A random generator seeded from text: the same parts give the same numbers everywhere."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """``a`` moved a fraction ``t`` toward ``b``."""
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def scale(c: RGB, f: float) -> RGB:
    """``c`` brightened (f > 1) or darkened (f < 1), clipped to 0..255."""
    return (min(255, round(c[0] * f)), min(255, round(c[1] * f)), min(255, round(c[2] * f)))


def colour_word(word: str) -> RGB | None:
    """The colour a single word names ("brown", "navy", "#336699", "skyblue"), or None."""
    word = word.lower().strip()
    if word in _COLOURS:
        return _COLOURS[word]
    if len(word) > 3 and word.endswith("s") and word[:-1] in _COLOURS:  # "warm browns"
        return _COLOURS[word[:-1]]
    if word.endswith("ish") and word[:-3] in _COLOURS:  # "greenish"
        return _COLOURS[word[:-3]]
    if word.startswith("#") or word in ImageColor.colormap:
        try:
            rgb = ImageColor.getrgb(word)
        except ValueError:
            return None
        return (rgb[0], rgb[1], rgb[2])
    return None


def parse_colour(text: str) -> RGB | None:
    """A colour from a short phrase ("dark teal", "sky blue", "#1b2a41", "warm amber")."""
    text = text.strip().lower()
    whole = colour_word(text) or colour_word(text.replace(" ", "").replace("-", ""))
    if whole is not None:
        return whole
    return _phrase_colour(_tokens(text))


def _phrase_colour(words: list[str]) -> RGB | None:
    found: list[RGB] = []
    modifiers: list[str] = []
    for i, word in enumerate(words):
        if i + 1 < len(words):
            joined = colour_word(word + words[i + 1])  # "sky blue" -> skyblue
            if joined is not None and word not in _COLOURS:
                found.append(joined)
                continue
        c = colour_word(word)
        if c is not None:
            found.append(c)
        elif word in _MODIFIERS:
            modifiers.append(word)
    if not found:
        return None
    colour = found[0]
    for other in found[1:]:
        colour = mix(colour, other, 0.5)
    for m in modifiers:
        if m == "dark":
            colour = scale(colour, 0.6)
        elif m == "deep":
            colour = scale(colour, 0.75)
        elif m in ("light", "pale", "pastel"):
            colour = mix(colour, (255, 255, 255), 0.45)
        elif m in ("faded", "muted", "dusty"):
            grey = sum(colour) // 3
            colour = mix(colour, (grey, grey, grey), 0.45)
        elif m in ("bright", "vivid"):
            colour = _saturate(colour, 1.3)
        elif m == "warm":
            colour = mix(colour, (255, 170, 90), 0.15)
        elif m in ("cold", "cool"):
            colour = mix(colour, (120, 170, 255), 0.15)
        elif m == "soft":
            colour = mix(colour, (235, 230, 225), 0.2)
    return colour


def _saturate(c: RGB, f: float) -> RGB:
    grey = sum(c) / 3
    return (
        max(0, min(255, round(grey + (c[0] - grey) * f))),
        max(0, min(255, round(grey + (c[1] - grey) * f))),
        max(0, min(255, round(grey + (c[2] - grey) * f))),
    )


def _tokens(text: str) -> list[str]:
    """Lower-case words, with punctuation kept as its own token (a phrase boundary)."""
    text = text.lower()
    text = re.sub(r"\bt[- ]?shirts?\b", "tshirt", text)
    text = re.sub(r"\blab[- ]coats?\b", "labcoat", text)
    text = re.sub(r"\bbow[- ]ties?\b", "bowtie", text)
    text = re.sub(r"\bcolou?r-?ful\b", "colourful", text)
    return re.findall(r"#[0-9a-f]{6}|[a-z]+|[.,;:!?()]", text)


def _colour_before(words: list[str], index: int, reach: int = 4) -> tuple[RGB | None, str]:
    """The colour phrase just before ``words[index]``: its colour and pattern ("" if plain)."""
    phrase: list[str] = []
    pattern = ""
    for j in range(index - 1, max(-1, index - 1 - reach), -1):
        w = words[j]
        if w in _STOP or (not w.isalpha() and not w.startswith("#")):
            break
        if w in _MULTI:
            pattern = "colourful"
        elif w in _STRIPED and not pattern:
            pattern = "stripes"
        phrase.insert(0, w)
    return _phrase_colour(phrase), pattern


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
    clothed = words & (_TOPS | _BOTTOMS | _HAIR | _BEARDS | {"man", "woman", "boy", "girl"})
    if "glowing" in words and not clothed:
        return "orb"
    return "human"


@lru_cache(maxsize=256)
def figure_look(character_id: str, dna: str) -> FigureLook:
    """Read a character's DNA into a figure. Depends only on the id and the DNA text."""
    rng = stable_rng("figure", character_id, dna)
    tokens = _tokens(dna)
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

    skin = rng.choice(_SKIN_TONES)
    for i, w in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if nxt in ("skin", "skinned", "complexion", "skinned,") and w in _SKIN_WORDS:
            skin = _SKIN_WORDS[w]
        elif w in ("freckles", "freckled") and "skin" not in words:
            skin = _SKIN_WORDS["freckled"]

    hair = rng.choice(_HAIR_DEFAULTS)
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
    top: RGB = rng.choice(_CLOTH_DEFAULTS)
    top_kind = "shirt"
    top_pattern = ""
    bottom: RGB = rng.choice(_BOTTOM_DEFAULTS)
    bottom_kind = "trousers"
    shoes: RGB = (45, 38, 34)
    neckwear: RGB | None = None
    top_set = bottom_set = hair_set = False
    inner: RGB | None = None
    top_word = ""

    for i, w in enumerate(tokens):
        colour, pattern = _colour_before(tokens, i)
        if w in _TOPS and top_set and inner is None and w not in _DRESSES:
            # a second garment: under a coat it shows at the neck; over a shirt it is the coat
            if colour is None or tokens[i - 1] in _TOPS:  # "suit jacket" is one garment
                continue
            if top_word in _LONG_TOPS or top_word in ("jacket", "blazer", "suit", "cardigan"):
                inner = colour
            elif w in _LONG_TOPS or w in ("jacket", "blazer", "cardigan"):
                inner, top = top, colour
                top_kind = "coat" if w in _LONG_TOPS else top_kind
                top_word = w
            continue
        if w in _TOPS and not top_set:
            top_word = w
            top_set = True
            if w == "labcoat" and colour is None:
                colour = (240, 242, 245)
            if colour is not None:
                top = colour
            top_pattern = pattern
            if w in _DRESSES:
                top_kind = "dress"
            elif w in _LONG_TOPS:
                top_kind = "coat"
            if w in ("suit", "overalls", "jumpsuit") and not bottom_set:
                bottom = scale(top, 0.9)
                bottom_set = True
        elif w in _BOTTOMS and not bottom_set:
            bottom_set = True
            if colour is None and w == "jeans":
                colour = (60, 90, 140)
            if colour is None and w == "chinos":
                colour = _COLOURS["khaki"]
            if colour is not None:
                bottom = colour
            if w == "shorts":
                bottom_kind = "shorts"
            elif w == "skirt":
                bottom_kind = "skirt"
        elif w in _SHOES and colour is not None:
            shoes = colour
        elif w in _HAIR:
            if colour is None and w in ("hair", "haired"):
                before = set(tokens[max(0, i - 3) : i])
                if "dark" in before:
                    colour = (45, 32, 26)
                elif before & {"fair", "light"}:
                    colour = _COLOURS["blond"]
            if colour is not None and not hair_set:
                # "red hair" is ginger, not paint red
                hair = _COLOURS["ginger"] if colour == _COLOURS["red"] else colour
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
        elif w in _BEARDS:
            if colour is not None:
                beard_colour = colour
            if w in ("moustache", "mustache"):
                beard_style = beard_style or "moustache"
            elif w == "stubble":
                beard_style = beard_style or "stubble"
            else:
                beard_style = "full"
        elif w in _HATS:
            hat = colour if colour is not None else scale(top, 0.7)
        elif w in _NECK:
            neckwear = colour if colour is not None else rng.choice(_CLOTH_DEFAULTS)
        if w in ("blond", "blonde", "ginger", "redhead", "brunette", "auburn") and not hair_set:
            hair = _COLOURS.get(w, (180, 70, 30))
            hair_set = True
    if words & {"bald", "balding"}:
        hair_style = "bald"
    beard: RGB | None = None
    if beard_style:
        beard = beard_colour if beard_colour is not None else scale(hair, 0.95)
    if not top_pattern and words & _MULTI and not top_set:
        top_pattern = "colourful"

    glow = rng.choice(_GLOW_DEFAULTS)
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


# -- places -------------------------------------------------------------------------------

_INTERIORS: dict[str, tuple[str, ...]] = {
    "lab": ("lab", "laboratory", "labs", "workshop", "observatory", "cleanroom"),
    "kitchen": ("kitchen", "diner", "bakery", "canteen", "galley"),
    "library": ("library", "study", "bookshop", "bookstore", "archive", "books", "bookshelves"),
    "office": ("office", "newsroom", "classroom", "school", "desk", "cubicle", "studio"),
    "living": (
        "living",
        "lounge",
        "apartment",
        "flat",
        "house",
        "home",
        "cottage",
        "cabin",
        "bedroom",
        "parlour",
        "parlor",
        "sitting",
        "den",
        "attic",
        "hotel",
        "room",
    ),
    "cafe": ("cafe", "café", "coffee", "bar", "pub", "restaurant", "tavern", "shop", "store"),
    "ship": (
        "spaceship",
        "spacecraft",
        "cockpit",
        "bridge",
        "station",
        "starship",
        "shuttle",
        "submarine",
        "control",
        "server",
        "engine",
    ),
    "hall": (
        "hall",
        "corridor",
        "hallway",
        "museum",
        "gallery",
        "lobby",
        "church",
        "hospital",
        "ward",
        "warehouse",
        "garage",
        "basement",
        "theatre",
        "theater",
    ),
}
_EXTERIORS: dict[str, tuple[str, ...]] = {
    "city": (
        "city",
        "street",
        "town",
        "alley",
        "downtown",
        "rooftop",
        "market",
        "square",
        "village",
        "road",
        "avenue",
        "skyline",
        "neighbourhood",
        "neighborhood",
    ),
    "forest": ("forest", "woods", "woodland", "jungle", "grove", "trees", "orchard"),
    "park": (
        "park",
        "garden",
        "backyard",
        "yard",
        "lawn",
        "playground",
        "meadow",
        "field",
        "farm",
        "countryside",
        "hill",
        "hills",
    ),
    "beach": (
        "beach",
        "sea",
        "ocean",
        "shore",
        "coast",
        "harbour",
        "harbor",
        "pier",
        "lake",
        "river",
        "dock",
        "bay",
    ),
    "desert": ("desert", "dunes", "canyon", "mesa", "savanna", "savannah"),
    "mountain": (
        "mountain",
        "mountains",
        "peak",
        "cliff",
        "valley",
        "glacier",
        "snow",
        "snowy",
        "tundra",
    ),
    "space": ("space", "planet", "moon", "asteroid", "orbit", "cosmos", "stars", "galaxy"),
}
_THEME_COLOURS: dict[str, tuple[RGB, RGB, RGB]] = {  # wall, floor, accent
    "lab": ((200, 212, 222), (120, 130, 140), (60, 170, 210)),
    "kitchen": ((235, 222, 195), (150, 110, 80), (200, 90, 60)),
    "library": ((120, 80, 55), (90, 60, 40), (170, 120, 60)),
    "office": ((215, 215, 205), (110, 115, 125), (70, 110, 170)),
    "living": ((205, 185, 160), (130, 95, 70), (150, 80, 70)),
    "cafe": ((170, 120, 85), (100, 70, 50), (220, 170, 90)),
    "ship": ((70, 80, 95), (45, 50, 60), (60, 200, 230)),
    "hall": ((210, 205, 195), (150, 145, 135), (140, 90, 60)),
    "city": ((110, 115, 130), (95, 95, 100), (230, 190, 90)),
    "forest": ((70, 110, 60), (85, 110, 55), (40, 80, 40)),
    "park": ((110, 160, 80), (110, 165, 75), (200, 80, 80)),
    "beach": ((60, 130, 180), (230, 210, 160), (240, 240, 230)),
    "desert": ((220, 180, 120), (215, 175, 115), (180, 110, 60)),
    "mountain": ((120, 130, 150), (150, 160, 150), (245, 245, 250)),
    "space": ((20, 22, 40), (60, 60, 70), (150, 150, 170)),
}


@dataclass(frozen=True)
class Prop:
    """A thing in a room: ``kind`` at ``x`` metres along the wall (0 = the room's middle)."""

    kind: str
    x: float
    width: float
    height: float
    colour: RGB
    variant: int = 0


@dataclass(frozen=True)
class PlaceLook:
    """How an environment is drawn: interior (a wall and a floor) or exterior (sky, ground)."""

    exterior: bool
    theme: str
    wall: RGB  # back wall; exterior: the distant layer (buildings, trees, hills, sea)
    floor: RGB
    accent: RGB
    props: tuple[Prop, ...]
    key: str  # hash of the place, for details that must not change between shots
    time: str = "day"  # day, night, dawn, dusk, golden, overcast: what the windows/sky show
    extra: tuple[RGB, ...] = field(default=())


def _theme(words: set[str]) -> tuple[bool, str]:
    for theme, keys in _INTERIORS.items():
        if words & set(keys) and theme != "living":
            return False, theme
    for theme, keys in _EXTERIORS.items():
        if words & set(keys):
            return True, theme
    if words & set(_INTERIORS["living"]):
        return False, "living"
    if words & {"outdoor", "outdoors", "outside", "sky", "open"}:
        return True, "park"
    return False, "living"


_WALL_PROPS: dict[str, tuple[str, ...]] = {
    "lab": ("screen", "bench", "cabinet", "window", "bench", "screen", "shelf"),
    "kitchen": ("counter", "window", "counter", "fridge", "shelf", "counter"),
    "library": ("bookcase", "bookcase", "window", "bookcase", "lamp", "bookcase", "armchair"),
    "office": ("window", "desk", "board", "plant", "desk", "window", "cabinet"),
    "living": ("window", "sofa", "picture", "lamp", "plant", "shelf", "door"),
    "cafe": ("window", "counter", "picture", "table", "plant", "table", "window"),
    "ship": ("screen", "console", "porthole", "console", "screen", "door", "console"),
    "hall": ("door", "picture", "window", "door", "picture", "bench", "window"),
}
_OUT_PROPS: dict[str, tuple[str, ...]] = {
    "city": ("building",) * 12,
    "forest": ("tree",) * 14,
    "park": ("tree", "bush", "tree", "bench", "tree", "bush", "lamppost", "tree"),
    "beach": ("palm", "rock", "umbrella", "rock", "palm"),
    "desert": ("dune", "cactus", "rock", "dune", "cactus"),
    "mountain": ("peak", "peak", "pine", "peak", "pine", "peak"),
    "space": ("planet", "star", "planet"),
}
_OVERRIDE_PROPS = {
    "window": "window",
    "windows": "window",
    "door": "door",
    "sofa": "sofa",
    "couch": "sofa",
    "plant": "plant",
    "plants": "plant",
    "lamp": "lamp",
    "bookshelf": "bookcase",
    "bookshelves": "bookcase",
    "bookcase": "bookcase",
    "books": "bookcase",
    "screen": "screen",
    "screens": "screen",
    "monitor": "screen",
    "monitors": "screen",
    "computer": "desk",
    "desk": "desk",
    "table": "table",
    "bench": "bench",
    "workbench": "bench",
    "painting": "picture",
    "poster": "picture",
    "picture": "picture",
    "clock": "clock",
    "fridge": "fridge",
    "counter": "counter",
    "fireplace": "fireplace",
    "bed": "bed",
    "whiteboard": "board",
    "blackboard": "board",
    "chalkboard": "board",
    "console": "console",
    "porthole": "porthole",
    "armchair": "armchair",
    "shelves": "shelf",
    "shelf": "shelf",
    "cabinet": "cabinet",
    "cabinets": "cabinet",
    "beakers": "bench",
    "flasks": "bench",
    "rack": "rack",
    "racks": "rack",
    "servers": "rack",
    "server": "rack",
}
_PROP_SIZE: dict[str, tuple[float, float]] = {  # width, height (m)
    "window": (1.3, 1.2),
    "door": (0.95, 2.1),
    "sofa": (2.0, 0.85),
    "plant": (0.6, 1.2),
    "lamp": (0.5, 1.6),
    "bookcase": (1.1, 2.0),
    "screen": (1.3, 0.8),
    "desk": (1.5, 0.76),
    "table": (1.1, 0.75),
    "bench": (1.8, 0.92),
    "picture": (0.8, 0.6),
    "clock": (0.35, 0.35),
    "fridge": (0.8, 1.8),
    "counter": (2.0, 0.92),
    "fireplace": (1.4, 1.1),
    "bed": (2.0, 0.6),
    "board": (1.8, 1.0),
    "console": (1.6, 1.0),
    "porthole": (0.8, 0.8),
    "armchair": (0.9, 0.9),
    "shelf": (1.2, 0.5),
    "cabinet": (0.9, 1.6),
    "rack": (0.8, 2.1),
    "building": (3.0, 9.0),
    "tree": (2.6, 5.0),
    "bush": (1.6, 1.0),
    "lamppost": (0.3, 3.8),
    "palm": (2.0, 5.0),
    "rock": (1.4, 0.7),
    "umbrella": (1.6, 2.2),
    "dune": (9.0, 1.6),
    "cactus": (0.7, 2.0),
    "peak": (9.0, 5.0),
    "pine": (1.6, 3.6),
    "planet": (3.0, 3.0),
    "star": (0.2, 0.2),
}


@lru_cache(maxsize=64)
def place_look(
    env_id: str, description: str, palette: tuple[str, ...] = (), lighting: str = ""
) -> PlaceLook:
    """Read an environment description (and palette) into a room or a landscape.

    The layout depends on the environment's id and description only, so every shot in the
    same place shows the same room; ``lighting`` only picks what the windows show.
    """
    rng = stable_rng("place", env_id, description)
    tokens = _tokens(description)
    words = set(tokens)
    exterior, theme = _theme(words)
    wall, floor, accent = _THEME_COLOURS[theme]
    # colour words in the description: "green walls", "red brick", "white tiles"
    for i, w in enumerate(tokens):
        colour, _ = _colour_before(tokens, i, reach=3)
        if colour is None:
            continue
        if w in ("wall", "walls", "brick", "bricks", "wallpaper", "paint", "panels", "room"):
            wall = colour
        elif w in (
            "floor",
            "floors",
            "tiles",
            "carpet",
            "rug",
            "floorboards",
            "ground",
            "grass",
            "sand",
            "boards",
        ):
            floor = colour
        elif w in ("light", "lights", "glow", "neon", "screens", "lamps", "accents"):
            accent = colour
    colours = [c for c in (parse_colour(p) for p in palette) if c is not None]
    if colours:
        # a palette is the grade's mood more than paint: blend it into the place's own colours
        wall = mix(wall, colours[0], 0.6)
        floor = mix(floor, colours[1] if len(colours) > 1 else scale(colours[0], 0.6), 0.5)
        if len(colours) > 2:
            accent = colours[2]
    extra = tuple(colours[3:]) or (
        mix(accent, wall, 0.4),
        mix(floor, (255, 255, 255), 0.2),
        scale(accent, 0.7),
    )

    props: list[Prop] = []
    if exterior:
        kinds = list(_OUT_PROPS.get(theme, ("tree",)))
        span = 26.0
        n = len(kinds)
        for k, kind in enumerate(kinds):
            pw, ph = _PROP_SIZE.get(kind, (2.0, 3.0))
            f = rng.uniform(0.75, 1.3)
            x = -span / 2 + (k + 0.5) * span / n + rng.uniform(-0.6, 0.6)
            colour = mix(wall, rng.choice((*extra, accent)), rng.uniform(0.0, 0.35))
            props.append(
                Prop(
                    kind,
                    round(x, 3),
                    round(pw * f, 3),
                    round(ph * f, 3),
                    colour,
                    rng.randrange(1000),
                )
            )
    else:
        kinds = list(_WALL_PROPS.get(theme, _WALL_PROPS["living"]))
        rng.shuffle(kinds)
        named = [_OVERRIDE_PROPS[w] for w in tokens if w in _OVERRIDE_PROPS]
        for k, kind in enumerate(dict.fromkeys(named)):
            kinds.insert(min(len(kinds), 1 + 2 * k), kind)
        slots = 8
        kinds = (kinds * 2)[:slots]
        spacing = 2.1
        for k, kind in enumerate(kinds):
            pw, ph = _PROP_SIZE.get(kind, (1.0, 1.0))
            x = (k - (slots - 1) / 2) * spacing + rng.uniform(-0.35, 0.35)
            colour = rng.choice((accent, *extra, mix(wall, (40, 30, 25), 0.5)))
            props.append(Prop(kind, round(x, 3), pw, ph, colour, rng.randrange(1000)))
    key = hashlib.sha256(f"{env_id}\x1f{description}".encode()).hexdigest()[:16]
    return PlaceLook(
        exterior=exterior,
        theme=theme,
        wall=wall,
        floor=floor,
        accent=accent,
        props=tuple(props),
        key=key,
        time=time_of_day(lighting + " " + description),
        extra=extra,
    )


def time_of_day(text: str) -> str:
    """What the sky shows for a lighting text: night, dawn, dusk, golden, overcast or day."""
    words = set(_tokens(text))
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


# -- lighting -----------------------------------------------------------------------------


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
    tokens = _tokens(lighting)
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
