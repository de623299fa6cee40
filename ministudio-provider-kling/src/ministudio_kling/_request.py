"""What Kling is asked for: the endpoint and the body of one shot.

- ``text2video`` when the shot has no image; ``image2video`` with ``image`` (the first frame of a
  `continue` shot, else the first reference image of a character, else of the place, unless the
  option ``identity`` is false) and/or ``image_tail`` (the end frame).
- ``mode``: ``std`` (720p) or ``pro`` (1080p), from the film's resolution or the option ``mode``.
- ``duration`` as the string Kling wants (``"5"``/``"10"``), ``negative_prompt`` from the shot's
  negatives, ``cfg_scale`` from the option (not for kling-v2 and later, which ignore it).
- ``camera_control``: the shot's camera move as a ``simple`` config with one non-zero value, or
  the option ``camera_control`` as given; none with ``image_tail`` (Kling takes them only apart)
  or with the option ``camera: false``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio
from ministudio.engines import EngineContext
from ministudio.errors import EngineError
from ministudio.jobs import VideoRequest

from ministudio_kling import ENGINE, MODEL

log = logging.getLogger("ministudio_kling")

MODES = ("std", "pro")
STRENGTH = 5.0  # of Kling's [-10, 10]: a clear but calm move
# Moves as (config field, value). Pans and tilts use the translation axes, whose meaning every
# copy of Kling's docs agrees on (left/right, down/up); zoom: negative narrows the view.
CAMERA: dict[str, tuple[str, float]] = {
    "pan-left": ("horizontal", -STRENGTH),
    "pan-right": ("horizontal", STRENGTH),
    "tilt-up": ("vertical", STRENGTH),
    "tilt-down": ("vertical", -STRENGTH),
    "push-in": ("zoom", -STRENGTH),
    "pull-back": ("zoom", STRENGTH),
}  # static and handheld: no camera_control (the prompt says it)
CAMERA_FIELDS = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")


def model(request: VideoRequest) -> str:
    return request.model or MODEL


def mode(request: VideoRequest) -> str:
    """``std`` or ``pro``: the option ``mode`` if set, else pro from 1080p up."""
    chosen = request.options.get("mode")
    if chosen is not None:
        if chosen not in MODES:
            raise EngineError(ENGINE, f"option mode {chosen!r}: use 'std' or 'pro'")
        return str(chosen)
    return "pro" if min(request.width, request.height) >= 1080 else "std"


def seconds(request: VideoRequest) -> int:
    """The clip length sent (and billed): the core snapped it to 5 or 10."""
    return round(request.duration)


def external_id(key: str, attempt: int) -> str:
    """The ``external_task_id`` of the ``attempt``-th submission of the job ``key`` (from 0):
    a failed task keeps its id, so sending the job again needs a new one."""
    return key if attempt == 0 else f"{key}-{attempt + 1}"


async def build(request: VideoRequest, context: EngineContext) -> tuple[str, dict[str, Any]]:
    """(endpoint kind, body) for ``request``; ``callback_url`` set, ``external_task_id`` not."""
    from ministudio_kling import _images

    name = model(request)
    prompt = request.prompt
    if not isinstance(prompt, str):
        import json

        prompt = json.dumps(prompt, sort_keys=True)
    body: dict[str, Any] = {
        "model_name": name,
        "prompt": prompt[:2500],
        "mode": mode(request),
        "duration": str(seconds(request)),
    }
    if request.shot.negative:
        body["negative_prompt"] = ", ".join(request.shot.negative)[:2500]
    cfg = request.options.get("cfg_scale")
    if cfg is not None and not name.startswith("kling-v2") and not name.startswith("kling-v3"):
        body["cfg_scale"] = _cfg(cfg)
    start = request.first_frame or _identity(request)
    tail = request.last_frame
    if start is not None or tail is not None:
        kind = "image2video"
        ratio = request.aspect_ratio
        if start is not None:
            body["image"] = await anyio.to_thread.run_sync(_images.encode, Path(start), ratio)
        if tail is not None:
            body["image_tail"] = await anyio.to_thread.run_sync(_images.encode, Path(tail), ratio)
    else:
        kind = "text2video"
        body["aspect_ratio"] = request.aspect_ratio
    camera = camera_control(request)
    if camera is not None and tail is not None:
        log.warning(
            "kling: shot %s: camera move %r left out: Kling takes no camera_control with an "
            "end frame (image_tail)",
            request.shot.shot_id,
            request.shot.camera_move,
        )
    elif camera is not None:
        body["camera_control"] = camera
    if context.webhook_url:
        body["callback_url"] = context.webhook_url
    return kind, body


def camera_control(request: VideoRequest) -> dict[str, Any] | None:
    """The shot's ``camera_control``, or None (no move, or the option ``camera: false``)."""
    options = request.options
    if options.get("camera") is False:
        return None
    given = options.get("camera_control")
    if isinstance(given, dict):
        return dict(given)
    move = CAMERA.get(request.shot.camera_move)
    if move is None:
        return None
    field, value = move
    config = {name: (value if name == field else 0.0) for name in CAMERA_FIELDS}
    return {"type": "simple", "config": config}


def _identity(request: VideoRequest) -> Path | None:
    """The image a shot with no first frame starts from: its first character's first reference
    image, else the place's (a plate); None with the option ``identity: false``."""
    if request.options.get("identity", True) is False:
        return None
    for character in request.shot.characters:
        if character.reference_images:
            return Path(character.reference_images[0])
    images = request.shot.environment.reference_images
    return Path(images[0]) if images else None


def _cfg(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise EngineError(ENGINE, f"option cfg_scale {value!r}: use a number from 0 to 1")
    return number
