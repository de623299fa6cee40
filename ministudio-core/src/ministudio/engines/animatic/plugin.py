"""Hook implementations of the embedded ``animatic`` video engine and its ``animatic-stills``
image engine (the character sheets and sets ``ministudio cast`` draws): local, keyless, free.

Importing this module is cheap: numpy, Pillow and PyAV load on the first render.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec, Model

if TYPE_CHECKING:
    from ministudio.jobs import ImageRequest, ImageResult, ShotPrompt, VideoRequest, VideoResult

ENGINE = "animatic"
MODEL = "animatic-1"
STILLS = "animatic-stills"
STILLS_MODEL = "animatic-stills-1"


@hookimpl
def ministudio_engines() -> list[EngineSpec]:
    return [
        EngineSpec(
            id=ENGINE,
            kind="video",
            description=(
                "local previz: backgrounds, consistent character figures, camera moves, "
                "mouths that say their phonemes with the voice, captions; keyless and deterministic"
            ),
            capabilities=Capabilities(
                durations=None,
                min_duration=0.5,
                max_duration=600,
                aspect_ratios=("16:9", "9:16", "1:1", "4:3", "3:4", "21:9"),
                resolutions=("360p", "480p", "720p", "1080p", "2160p"),
                max_references=8,
                first_frame=True,
                seed=True,
                reference_audio=True,  # mouths open with the voice's loudness, frame by frame
                draws_own=(STILLS,),  # its cast sheets and sets are its own figures and places
                # one clip keeps about one core busy encoding and part of another drawing;
                # two at once use both cores fully (see benchmarks/animatic_speed.py)
                concurrency=2,
                price_per_second=0.0,
                expected_latency=1.0,
            ),
            default_model=MODEL,
            models=(Model(MODEL, "ga", use="the keyless animatic, drawn and encoded here"),),
        ),
        EngineSpec(
            id=STILLS,
            kind="image",
            description=(
                "the animatic's own character sheets (front, three-quarter, profile: each "
                "figure as the previz draws it) and empty sets; keyless and deterministic"
            ),
            capabilities=Capabilities(
                aspect_ratios=("16:9", "9:16", "1:1", "4:3", "3:4", "21:9"),
                seed=True,  # a set's props sit where the previz's do for that seed
                concurrency=2,  # one still keeps about one core busy
                price_per_second=0.0,
                expected_latency=0.2,
            ),
            default_model=STILLS_MODEL,
            models=(Model(STILLS_MODEL, "ga", use="figures and places drawn here, as the previz"),),
        ),
    ]


@hookimpl
def prompt_map(engine: str, shot: ShotPrompt) -> str | None:
    if engine != ENGINE:
        return None
    from ministudio.prompts import describe_shot

    return describe_shot(shot)


@hookimpl
def generate_video(
    engine: str, request: VideoRequest, output: Path, context: EngineContext
) -> VideoResult | None:
    """Render the shot synchronously; the core runs sync engine hooks on a worker thread."""
    if engine != ENGINE:
        return None
    from ministudio.engines.animatic.render import render_clip
    from ministudio.jobs import VideoResult

    render_clip(request, output, progress=context.progress)
    return VideoResult(path=output, model=MODEL, cost=0.0)


@hookimpl
def generate_image(
    engine: str, request: ImageRequest, output: Path, context: EngineContext
) -> ImageResult | None:
    """Draw one still of a character's sheet, or an empty set, as the previz draws it."""
    if engine != STILLS:
        return None
    from ministudio.engines.animatic.stills import draw_still
    from ministudio.jobs import ImageResult

    draw_still(request, output)
    return ImageResult(path=output, model=STILLS_MODEL, cost=0.0)


@hookimpl
def previz_passes(
    engine: str, request: VideoRequest, names: list[str], output_dir: Path
) -> dict[str, Path] | None:
    """The control passes of the clip rendered for ``request``: the same scene drawn again,
    frame for frame (``ministudio.engines.animatic.passes``)."""
    if engine != ENGINE:
        return None
    from ministudio.engines.animatic.passes import render_passes

    output_dir.mkdir(parents=True, exist_ok=True)
    return render_passes(request, names, output_dir)
