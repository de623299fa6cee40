"""Colours as people name them: single words ("brown", "navy", "#336699"), phrases ("dark
teal", "sky blue"), the colour phrase before a garment or hair word, and the arithmetic on
colours (mix, scale) the looks and the drawing share."""

from __future__ import annotations

from PIL import ImageColor

from ministudio.engines.animatic.looks.reading import tokenize

RGB = tuple[int, int, int]

# Colours as people name them in DNA text; CSS names (PIL.ImageColor) fill in the rest. The
# basic words are softened a little from their CSS values so a figure looks painted, not neon.
COLOURS: dict[str, RGB] = {
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
MULTI = {"colourful", "colorful", "multicoloured", "multicolored", "rainbow", "patterned"}
_STRIPED = {"striped", "stripy", "stripey", "plaid", "checked", "tartan", "checkered"}
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
    if word in COLOURS:
        return COLOURS[word]
    if len(word) > 3 and word.endswith("s") and word[:-1] in COLOURS:  # "warm browns"
        return COLOURS[word[:-1]]
    if word.endswith("ish") and word[:-3] in COLOURS:  # "greenish"
        return COLOURS[word[:-3]]
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
    return _phrase_colour(tokenize(text))


def _phrase_colour(words: list[str]) -> RGB | None:
    found: list[RGB] = []
    modifiers: list[str] = []
    for i, word in enumerate(words):
        if i + 1 < len(words):
            joined = colour_word(word + words[i + 1])  # "sky blue" -> skyblue
            if joined is not None and word not in COLOURS:
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


def colour_before(words: list[str], index: int, reach: int = 4) -> tuple[RGB | None, str]:
    """The colour phrase just before ``words[index]``: its colour and pattern ("" if plain)."""
    phrase: list[str] = []
    pattern = ""
    for j in range(index - 1, max(-1, index - 1 - reach), -1):
        w = words[j]
        if w in _STOP or (not w.isalpha() and not w.startswith("#")):
            break
        if w in MULTI:
            pattern = "colourful"
        elif w in _STRIPED and not pattern:
            pattern = "stripes"
        phrase.insert(0, w)
    return _phrase_colour(phrase), pattern
