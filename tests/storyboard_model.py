"""A stand-in for the language model behind a writer engine, for storyboard tests.

It reads what a model would read (the instructions, the brief, and on a repair the errors sent
back) and answers a production as JSON, the shape the production's schema asks for. Its first
draft makes the mistakes a real model makes that a JSON Schema cannot catch (a scene in a place
it never defined, a speaker it never introduced, a first shot that "continues", a shot id used
twice), and it mends a mistake only when the errors sent back name it, one a round: so a
storyboard that fails to send the errors back never gets a valid production from it.

It knows nothing of MiniStudio's code: only the wording of the production's validation errors
a user sees (``unknown environment``, ``unknown character``, ``nothing to continue from``,
``is used twice``).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

MISTAKES = ("place", "speaker", "continue", "twice")
# the words in an error message that name each mistake
NAMED_BY = {
    "place": "unknown environment",
    "speaker": "unknown character",
    "continue": "nothing to continue from",
    "twice": "is used twice",
}

BRIEFS = (
    "A lighthouse keeper named Mara finds a message in a bottle from her younger self.",
    "Two rival chefs, Ines and Paulo, must cook one dinner together in a burning kitchen.",
    "An explainer: how a bee colony decides where to move, told by a narrator over close-ups.",
    "A noir detective, Vic, questions a nervous robot bartender named Cog in a rainy city bar.",
    "A product story for a solar backpack: a hiker named Juno charges her phone on a summit.",
    "A grandmother, Nell, teaches her grandson Theo to bake bread on a snowy morning.",
    "Astronaut Kai repairs a satellite while mission control, voiced by Dee, counts down.",
    "A street musician, Lou, plays one last song before the market closes at dusk.",
    "A children's fable: a fox named Rue and a crow named Ash argue over a piece of cheese.",
    "A thirty-second ad: a barista, Sol, draws latte art for a tired night-shift nurse, Bea.",
)


def mistakes_for(brief: str) -> list[str]:
    """The mistakes the first draft of ``brief`` makes: none, one or two, by the brief."""
    n = int(hashlib.sha256(brief.encode()).hexdigest(), 16)
    count = n % 3
    first = MISTAKES[(n // 3) % len(MISTAKES)]
    second = MISTAKES[(n // 12 + 1 + MISTAKES.index(first)) % len(MISTAKES)]
    return [first, second][:count] if first != second else [first][:count]


def names_in(brief: str) -> list[str]:
    """The people the brief names (capitalised words after 'named' or beside a comma)."""
    found = re.findall(r"(?:named|,)\s+([A-Z][a-z]+)", brief)
    found += re.findall(r"\b([A-Z][a-z]+)\s+(?:and|repairs|charges|teaches|plays|must)\b", brief)
    return list(dict.fromkeys(n for n in found if n not in ("An", "A", "Two", "The")))[:3]


def answer(instructions: str, brief: str, previous: str | None, errors: str) -> str:
    """The production as JSON text: the first draft, or (given the ``previous`` draft and the
    ``errors`` sent back) that draft with one mistake mended: the first the errors name."""
    left = mistakes_for(brief) if previous is None else found_in(json.loads(previous))
    named = [m for m in left if NAMED_BY[m] in errors]
    if named:
        left.remove(named[0])
    return json.dumps(draft(instructions, brief, left))


def found_in(data: dict[str, Any]) -> list[str]:
    """The mistakes a draft holds, in ``MISTAKES`` order."""
    text = json.dumps(data)
    shots = data["scenes"][0]["shots"]
    ids = [s["id"] for s in shots]
    held = {
        "place": data["scenes"][0]["environment"] == "nowhere",
        "speaker": '"stranger"' in text,
        "continue": shots[0].get("continuity") == "continue",
        "twice": len(ids) != len(set(ids)),
    }
    return [m for m in MISTAKES if held[m]]


def draft(instructions: str, brief: str, mistakes: list[str]) -> dict[str, Any]:
    shots_wanted = re.search(r"about (\d+) shots", instructions)
    count = max(2, min(8, int(shots_wanted.group(1)))) if shots_wanted else 4
    people = names_in(brief) or ["Sam"]
    characters = {
        p.lower(): {
            "name": p,
            "dna": f"{p}: about 35, slim, short dark hair, green wool coat, a silver ring",
        }
        for p in people
    }
    shots: list[dict[str, Any]] = [
        {
            "id": "establish",
            "action": f"Establishing shot. {brief}",
            "size": "wide",
            "duration": 4,
            "continuity": "continue" if "continue" in mistakes else "cut",
        }
    ]
    for i in range(1, count):
        speaker = people[i % len(people)].lower()
        line = {
            "speaker": speaker,
            "text": f"Line {i} of the story, said plainly.",
            "emotion": "calm",
        }
        if "speaker" in mistakes and i == 1:
            line["speaker"] = "stranger"
        shot_id = "establish" if "twice" in mistakes and i == count - 1 else f"beat-{i}"
        shots.append(
            {
                "id": shot_id,
                "action": f"{people[i % len(people)]} acts, beat {i}",
                "size": "close-up" if i % 2 else "medium",
                "dialogue": [line],
            }
        )
    place = "nowhere" if "place" in mistakes else "main"
    return {
        "title": brief.split(":")[0][:60].rstrip(".") or "Untitled",
        "style": {"description": "warm cinematic light"},
        "characters": characters,
        "environments": {
            "main": {
                "description": f"the place of the story: {brief[:80]}",
                "palette": ["amber", "teal"],
                "lighting": "soft morning",
            }
        },
        "scenes": [{"id": "one", "environment": place, "shots": shots}],
    }
