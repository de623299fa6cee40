"""Showcase 1 written with the Python API: the same film as quantum-mechanics.yaml.

Run it as it is:  python examples/quantum_mechanics.py [OUTPUT_DIR]
Because it is the same production, a render after the YAML one comes entirely from the store.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ministudio.jobs import Voice
from ministudio.spec import (
    Character,
    Environment,
    Format,
    Line,
    Production,
    Routing,
    Scene,
    Shot,
    Style,
)

grandpa = Character(
    name="Grandfather",
    dna="about 70, white beard, glasses, brown cardigan, khaki trousers; patient, explains with "
    "his hands, sits in an armchair",
    voice=Voice(voice="en-us", pitch=22, rate=140, options={"variant": "m3"}),
)
lily = Character(
    name="Granddaughter",
    dna="about 10, ponytail, curious eyes, colourful T-shirt, jeans; leans forward when "
    "interested, sits cross-legged on the floor",
    voice=Voice(voice="en-us", pitch=85, rate=185, options={"variant": "f5"}),
)
study = Environment(
    description="a cozy study in the afternoon; golden sunlight through a window; wooden "
    "shelves of science books; armchair; floor cushion; a physics poster",
    palette=["warm browns", "soft yellows", "deep reds"],
    lighting="golden afternoon sunlight",
)
BOTH = ["grandpa", "lily"]

shots = [
    Shot(
        id="question",
        action="She looks up from the floor and asks what quantum mechanics is; he smiles",
        size="medium",
        duration=8,
        characters=BOTH,
        dialogue=[
            Line(speaker="lily", text="Grandpa, what is quantum mechanics?", emotion="curious")
        ],
    ),
    Shot(
        id="tiny",
        action="He leans in to explain",
        size="close-up",
        duration=8,
        camera="push-in",
        dialogue=[
            Line(
                speaker="grandpa",
                text="It is the science of the very tiny. Things much smaller than atoms.",
                emotion="warm",
            )
        ],
    ),
    Shot(
        id="two-places",
        action="His hands cup an invisible tiny space; her eyes widen",
        size="wide",
        duration=8,
        characters=BOTH,
        narration="Picture a world where a particle can be in two places at once.",
    ),
    Shot(
        id="impossible",
        action="She tilts her head; he smiles knowingly",
        size="medium",
        duration=8,
        camera="pan-right",
        characters=["lily", "grandpa"],
        dialogue=[
            Line(speaker="lily", text="Two places at once? That's impossible!", emotion="surprised")
        ],
    ),
    Shot(
        id="rules",
        action="He raises one finger",
        size="close-up",
        duration=8,
        dialogue=[
            Line(
                speaker="grandpa",
                text="Breaking the familiar rules is exactly what makes it quantum.",
                emotion="warm",
            )
        ],
    ),
    Shot(
        id="amazing",
        action="She smiles and nods; he pats her shoulder",
        size="medium",
        duration=8,
        characters=BOTH,
        dialogue=[Line(speaker="lily", text="Science is amazing!", emotion="excited")],
    ),
    Shot(
        id="finale",
        action="Both laugh; sunlight fills the room; the camera slowly pulls back",
        size="wide",
        duration=8,
        camera="pull-back",
        characters=BOTH,
        narration="In quantum mechanics, the impossible becomes possible.",
    ),
]

production = Production(
    title="Quantum Mechanics Explained",
    format=Format(aspect_ratio="9:16", resolution="720p", fps=24),
    seed=7,
    style=Style(
        description="warm, inviting, semi-realistic with a light animated charm, warm saturated "
        "grade",
        negative=["blur", "inconsistent characters", "changing backgrounds", "poor lighting"],
    ),
    narrator=Voice(voice="en-us", pitch=45, rate=160),
    characters={"grandpa": grandpa, "lily": lily},
    environments={"study": study},
    scenes=[Scene(id="study", environment="study", shots=shots)],
    routing=Routing(video="animatic", speech="espeak"),
)

if __name__ == "__main__":
    from ministudio.run.render import render

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("out/quantum-mechanics-explained")
    manifest = render(production, out)
    print(f"{out / 'film.mp4'}: {manifest.duration:.1f} s in {manifest.seconds:.1f} s")
