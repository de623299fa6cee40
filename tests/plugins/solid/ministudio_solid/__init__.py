"""A third party's engine, as small as a plugin gets: each shot is one solid colour."""

from pathlib import Path

from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec
from ministudio.jobs import ShotPrompt, VideoRequest, VideoResult

COLOUR = (40, 200, 90)


@hookimpl
def ministudio_engines():
    return [
        EngineSpec(
            id="solid",
            kind="video",
            description="solid colour test engine",
            capabilities=Capabilities(
                concurrency=2, aspect_ratios=("16:9", "9:16"), resolutions=("480p", "720p")
            ),
        )
    ]


@hookimpl
def prompt_map(engine: str, shot: ShotPrompt):
    if engine == "solid":
        return f"SOLID {shot.shot_id}: {shot.action}"
    return None


@hookimpl
def generate_video(engine: str, request: VideoRequest, output: Path, context: EngineContext):
    if engine != "solid":
        return None
    import numpy as np
    from ministudio.media.encode import VideoWriter

    frame = np.zeros((request.height, request.width, 3), np.uint8)
    frame[:] = COLOUR
    frame[: request.height // 8] = 255  # a white band, so the picture check sees content
    with VideoWriter(output, request.width, request.height, request.fps) as writer:
        for _ in range(round(request.duration * request.fps)):
            writer.write(frame)
    return VideoResult(path=output, model="solid-1", engine_job_id=f"solid-{request.seed}")
