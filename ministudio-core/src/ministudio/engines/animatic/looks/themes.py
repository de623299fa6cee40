"""The kind of place a description names: a room (lab, kitchen, cafe...) or a landscape (city,
beach, park...), and each theme's wall, floor and accent colours."""

from __future__ import annotations

from ministudio.engines.animatic.looks.colours import RGB

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
THEME_COLOURS: dict[str, tuple[RGB, RGB, RGB]] = {  # wall, floor, accent
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


def read_theme(words: set[str]) -> tuple[bool, str]:
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
