"""How things look: a character's DNA, an environment's description and a lighting text, read
into plain appearance values (colours, hair style, props, a colour grade).

Everything here is a pure function of the text (and ids): the same DNA gives the same figure
in every shot. Keywords are simple on purpose: a colour word before a clothing or hair word
colours it ("brown cardigan" -> torso brown), and what the text does not say is derived from
a hash of the id and DNA, so two characters still look different.

The looks are read by theme: ``colours`` (colour words and phrases), ``reading`` (words, a
seeded random generator), ``wardrobe`` and ``figures`` (a character), ``themes`` and
``places`` (an environment), ``lighting`` (the sky's time of day, the colour grade).
"""

from __future__ import annotations

from ministudio.engines.animatic.looks.colours import RGB, colour_word, mix, parse_colour, scale
from ministudio.engines.animatic.looks.figures import FigureLook, figure_look
from ministudio.engines.animatic.looks.lighting import Grade, grade_for, time_of_day
from ministudio.engines.animatic.looks.places import PlaceLook, Prop, place_look
from ministudio.engines.animatic.looks.reading import stable_rng

__all__ = [
    "RGB",
    "FigureLook",
    "Grade",
    "PlaceLook",
    "Prop",
    "colour_word",
    "figure_look",
    "grade_for",
    "mix",
    "parse_colour",
    "place_look",
    "scale",
    "stable_rng",
    "time_of_day",
]
