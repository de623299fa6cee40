"""The words for what a character wears and looks like (tops, bottoms, shoes, hair, beards,
hats, neckwear, skin), and the colours picked when the DNA does not name one."""

from __future__ import annotations

from ministudio.engines.animatic.looks.colours import RGB

TOPS = {
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
LONG_TOPS = {"coat", "labcoat", "overcoat", "raincoat", "robe", "cloak", "parka", "kimono"}
DRESSES = {"dress", "gown", "sari"}
BOTTOMS = {
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
SHOES = {"shoes", "boots", "sneakers", "trainers", "sandals", "heels", "loafers", "slippers"}
HAIR = {
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
BEARDS = {"beard", "bearded", "goatee", "stubble", "moustache", "mustache"}
HATS = {"hat", "cap", "beanie", "beret", "helmet", "bonnet", "fedora", "turban", "headscarf"}
NECK = {"scarf", "tie", "bowtie", "necktie", "bandana"}
SKIN_TONES: tuple[RGB, ...] = (
    (247, 214, 190),
    (236, 192, 160),
    (222, 170, 130),
    (198, 140, 100),
    (160, 105, 70),
    (120, 80, 55),
    (92, 60, 42),
)
SKIN_WORDS: dict[str, RGB] = {
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
HAIR_DEFAULTS: tuple[RGB, ...] = (
    (40, 30, 25),
    (80, 52, 32),
    (120, 80, 45),
    (200, 165, 100),
    (25, 22, 22),
    (145, 60, 30),
)
CLOTH_DEFAULTS: tuple[RGB, ...] = (
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
BOTTOM_DEFAULTS: tuple[RGB, ...] = (
    (50, 60, 80),
    (60, 60, 64),
    (90, 75, 60),
    (40, 45, 70),
    (110, 100, 85),
    (30, 30, 34),
)
GLOW_DEFAULTS: tuple[RGB, ...] = (
    (120, 200, 255),
    (255, 190, 90),
    (160, 255, 190),
    (230, 140, 255),
    (255, 240, 150),
)
