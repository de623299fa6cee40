"""The video request the engine tests send hook by hook: a red kite over a beach."""

from __future__ import annotations

from typing import Any

from ministudio.jobs import EnvironmentBrief, ShotPrompt, VideoRequest

BEACH = EnvironmentBrief(id="beach", description="a beach")


def kite_request(
    *,
    camera_move: str = "pull-back",
    characters: tuple[Any, ...] = (),
    environment: EnvironmentBrief = BEACH,
    negative: tuple[str, ...] = (),
    **changes: Any,
) -> VideoRequest:
    """A 5 s 16:9 720p request for shot ``s1``; ``changes`` replace the request's fields, the
    keyword arguments the shot's."""
    shot = ShotPrompt(
        shot_id="s1",
        scene_id="one",
        index=0,
        action="A kite rises",
        shot_size="wide",
        camera_move=camera_move,
        characters=characters,
        environment=environment,
        negative=negative,
    )
    fields: dict[str, Any] = {
        "shot": shot,
        "prompt": "a red kite rises over a beach",
        "duration": 5.0,
        "aspect_ratio": "16:9",
        "width": 1280,
        "height": 720,
        "fps": 24,
        "seed": 1,
        **changes,
    }
    return VideoRequest.model_validate(fields)
