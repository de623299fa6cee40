"""Drawing the animatic with Pillow and numpy: places, figures, labels, captions and grades.

Everything is drawn in world units (metres) through a ``View`` that maps the world onto an
image: x grows to the right, y grows up, the floor line of a room is y = 0 and characters
stand a little in front of it. A close-up is the same drawing seen through a tighter view,
which is what keeps a character the same figure in every shot.

The drawing is split by theme: ``canvas`` (views, pens, world heights), ``sky``, ``rooms``,
``landscapes`` and ``places`` (where a shot happens), ``human``, ``figures`` and ``sprites``
(characters), ``text`` (labels, captions), ``grade`` (colour grades).
"""

from __future__ import annotations

from ministudio.engines.animatic.draw.canvas import (
    CEILING,
    FEET,
    ORB_HOVER,
    ORB_RADIUS,
    Fill,
    Pen,
    View,
)
from ministudio.engines.animatic.draw.figures import (
    OUTLINE,
    Anchors,
    Sprite,
    anchors,
    draw_figure,
    draw_orb,
    figure_bounds,
    figure_sprite,
)
from ministudio.engines.animatic.draw.grade import apply_grade
from ministudio.engines.animatic.draw.human import draw_mouth
from ministudio.engines.animatic.draw.places import draw_place, place_from_image
from ministudio.engines.animatic.draw.sprites import draw_speech_marks, draw_sprite, load_sprite
from ministudio.engines.animatic.draw.text import draw_label, font, text_panel, wrap

__all__ = [
    "CEILING",
    "FEET",
    "ORB_HOVER",
    "ORB_RADIUS",
    "OUTLINE",
    "Anchors",
    "Fill",
    "Pen",
    "Sprite",
    "View",
    "anchors",
    "apply_grade",
    "draw_figure",
    "draw_label",
    "draw_mouth",
    "draw_orb",
    "draw_place",
    "draw_speech_marks",
    "draw_sprite",
    "figure_bounds",
    "figure_sprite",
    "font",
    "load_sprite",
    "place_from_image",
    "text_panel",
    "wrap",
]
