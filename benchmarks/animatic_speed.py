"""How fast the animatic renders showcase-like shots at 720p, in both orientations.

Target: at least 8x real time (1280x720 and 720x1280 at 24 fps) on 2 cores, encoding included.
Run: python benchmarks/animatic_speed.py [--repeat N]

Prints, per orientation, the seconds of video, the wall time and the real-time ratio for one
clip at a time (what a single shot costs), then the same shots two at a time on two threads
(what the engine's concurrency of 2 gives a whole film). Timings are the best of the repeats;
the figures are written down, not asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ministudio.engines.animatic.render import render_clip
from ministudio.jobs import CharacterBrief, EnvironmentBrief, LineBrief, ShotPrompt, VideoRequest

TARGET = 8.0

GRANDPA = CharacterBrief(
    id="grandpa",
    name="Grandfather",
    dna="about 70, white beard, glasses, brown cardigan, khaki trousers; patient, explains with "
    "his hands, sits in an armchair",
)
LILY = CharacterBrief(
    id="lily",
    name="Granddaughter",
    dna="about 10, ponytail, curious eyes, colourful T-shirt, jeans; leans forward when "
    "interested, sits cross-legged on the floor",
)
STUDY = EnvironmentBrief(
    id="study",
    description="a cozy study in the afternoon; golden sunlight through a window; wooden shelves "
    "of science books; armchair; floor cushion; a physics poster",
    palette=("warm browns", "soft yellows", "deep reds"),
    lighting="golden afternoon sunlight",
)
SARAH = CharacterBrief(
    id="sarah",
    name="Dr. Sarah",
    dna="a scientist, about 40, auburn hair in a bun, white lab coat, dark blue sweater",
)
ARIA = CharacterBrief(
    id="aria",
    name="ARIA",
    dna="a holographic AI, translucent blue humanoid figure that flickers, made of light",
)
KEEPER = CharacterBrief(
    id="keeper",
    name="The Keeper",
    dna="a glowing golden orb, not human, softly pulsing light, warm gold colour, trailing teal "
    "threads",
)
LAB = EnvironmentBrief(
    id="lab",
    description="a research lab with server racks, a long desk with three monitors, a "
    "holographic projector pad on the floor, glass wall at the back",
    palette=("lab blue", "steel", "black"),
    lighting="night, lab blue",
)

# action, size, camera, duration, characters, speaker, lighting override
Shot = tuple[str, str, str, float, tuple[CharacterBrief, ...], CharacterBrief | None, str | None]
VERTICAL: list[Shot] = [
    (
        "She looks up from the floor and asks what quantum mechanics is; he smiles",
        "medium",
        "static",
        8.0,
        (GRANDPA, LILY),
        LILY,
        None,
    ),
    ("He leans in to explain", "close-up", "push-in", 8.0, (GRANDPA,), GRANDPA, None),
    (
        "His hands cup an invisible tiny space; her eyes widen",
        "wide",
        "static",
        8.0,
        (GRANDPA, LILY),
        None,
        None,
    ),
    (
        "She tilts her head; he smiles knowingly",
        "medium",
        "pan-right",
        8.0,
        (LILY, GRANDPA),
        LILY,
        None,
    ),
    ("He raises one finger", "close-up", "static", 8.0, (GRANDPA,), GRANDPA, None),
    (
        "She smiles and nods; he pats her shoulder",
        "medium",
        "static",
        8.0,
        (GRANDPA, LILY),
        LILY,
        None,
    ),
    (
        "Both laugh; sunlight fills the room; the camera slowly pulls back",
        "wide",
        "pull-back",
        8.0,
        (GRANDPA, LILY),
        None,
        None,
    ),
]
HORIZONTAL: list[Shot] = [
    (
        "Sarah works late at her monitors; ARIA hovers beside her",
        "wide",
        "static",
        8.0,
        (SARAH, ARIA),
        SARAH,
        None,
    ),
    (
        "ARIA turns towards her, light rippling across its surface",
        "medium",
        "push-in",
        8.0,
        (SARAH, ARIA),
        ARIA,
        None,
    ),
    (
        "ARIA flickers and breaks apart for a moment",
        "close-up",
        "handheld",
        6.0,
        (ARIA,),
        ARIA,
        "alarm red, flashing",
    ),
    (
        "Sarah looks up from the monitors as the alarm dies down",
        "medium",
        "pan-left",
        6.0,
        (SARAH, ARIA),
        SARAH,
        "alarm red",
    ),
    (
        "The Keeper drifts over the desk, pulsing softly",
        "full",
        "tilt-up",
        6.0,
        (SARAH, KEEPER),
        KEEPER,
        "dawn",
    ),
    (
        "Dawn light fills the lab; the two of them look out of the glass wall",
        "extreme-wide",
        "pan-right",
        8.0,
        (SARAH, ARIA, KEEPER),
        None,
        "dawn",
    ),
]


def requests(
    shots: list[Shot], width: int, height: int, env: EnvironmentBrief
) -> list[VideoRequest]:
    out = []
    for i, (action, size, camera, duration, cast, speaker, lighting) in enumerate(shots):
        lines: tuple[LineBrief, ...] = ()
        if speaker is not None:
            lines = (LineBrief(speaker=speaker.id, text="...", start=0.4, end=duration - 1.0),)
        cast = tuple(c.model_copy(update={"speaking": c is speaker}) for c in cast)
        environment = env if lighting is None else env.model_copy(update={"lighting": lighting})
        shot = ShotPrompt(
            shot_id=f"shot-{i + 1}",
            scene_id="scene",
            index=i,
            action=action,
            shot_size=size,
            camera_move=camera,
            characters=cast,
            environment=environment,
            lines=lines,
        )
        out.append(
            VideoRequest(
                shot=shot,
                prompt=action,
                duration=duration,
                aspect_ratio="16:9" if width > height else "9:16",
                width=width,
                height=height,
                fps=24,
                seed=1000 + i,
            )
        )
    return out


def measure(batch: list[VideoRequest], tmp: Path, workers: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        if workers == 1:
            for i, request in enumerate(batch):
                render_clip(request, tmp / f"{i}.mp4")
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(lambda a: render_clip(a[1], tmp / f"{a[0]}.mp4"), enumerate(batch)))
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; best is kept")
    args = parser.parse_args()
    sets = [
        ("720p 16:9", requests(HORIZONTAL, 1280, 720, LAB)),
        ("720p 9:16", requests(VERTICAL, 720, 1280, STUDY)),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        render_clip(sets[0][1][0], Path(tmp) / "warm.mp4")  # imports, fonts, caches
        for label, batch in sets:
            seconds = sum(r.duration for r in batch)
            for workers in (1, 2):
                wall = measure(batch, Path(tmp), workers, args.repeat)
                how = "one clip at a time" if workers == 1 else "two clips at once"
                print(
                    f"animatic {label}: {seconds:.1f} s of video in {wall:.2f} s = "
                    f"{seconds / wall:.1f}x real time ({len(batch)} shots, {how}; "
                    f"target >= {TARGET:.0f}x)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
