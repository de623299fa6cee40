"""The same place in the same light: which shots of a film should look alike.

One definition, read by the render (its check across shots) and by ``ministudio qc DIR``:
the shots of one scene, in one environment, in one lighting, whether or not they are
neighbours. A scene lit day, then night, then day again has two places: its day shots
together (the first and the last), and its night shots. Groups and the shots in them keep
film order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple, TypeVar

T = TypeVar("T")


class Place(NamedTuple):
    scene: str
    environment: str  # "" when unknown (manifest.json records the scene, which names it)
    lighting: str

    @property
    def name(self) -> str:
        """How the checks' reasons name it: "the lab (night)", "the place"."""
        where = f"the {self.environment}" if self.environment else "the place"
        return f"{where} ({self.lighting})" if self.lighting else where


def places(shots: Iterable[T], where: Callable[[T], Place]) -> list[tuple[Place, list[T]]]:
    """``shots`` grouped by their `Place` (``where``), in order of each place's first shot;
    every shot of a place in the group, neighbours or not, in film order. A place of one shot
    is a group of one (it has nothing to be compared with)."""
    groups: dict[Place, list[T]] = {}
    for shot in shots:
        groups.setdefault(where(shot), []).append(shot)
    return list(groups.items())
