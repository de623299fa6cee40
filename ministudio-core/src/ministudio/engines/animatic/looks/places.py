"""An environment's description read into a ``PlaceLook``: a room or a landscape, its colours
and its props, laid out the same in every shot of the place."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache

from ministudio.engines.animatic.looks.colours import RGB, colour_before, mix, parse_colour, scale
from ministudio.engines.animatic.looks.lighting import time_of_day
from ministudio.engines.animatic.looks.reading import stable_rng, tokenize
from ministudio.engines.animatic.looks.themes import THEME_COLOURS, read_theme


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
    tokens = tokenize(description)
    words = set(tokens)
    exterior, theme = read_theme(words)
    wall, floor, accent = THEME_COLOURS[theme]
    # colour words in the description: "green walls", "red brick", "white tiles"
    for i, w in enumerate(tokens):
        colour, _ = colour_before(tokens, i, reach=3)
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
