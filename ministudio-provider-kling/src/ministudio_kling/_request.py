"""What Kling is asked for: the endpoint and the body of one shot, checked against the
capability map (``_models``) before anything is sent.

- Model: ``request.model`` (default kling-v3); mode: ``request.options["mode"]`` (the core
  sets it from the variant it picked; default ``std``; none for the "master" models).
- ``text2video`` when the shot has no image; ``image2video`` with ``image`` (the first frame
  of a `continue` shot, else an identity image: the first reference image of a character,
  else of the place; the place first when characters go as elements; none with the option
  ``identity: false``) and/or ``image_tail`` (the end frame).
- ``duration``: whole seconds as a string ("3".."15" on kling-v3, "5"/"10" before).
- ``sound``: "on" for a shot whose lines the engine speaks (``ShotPrompt.native_audio``),
  else "off" on the models that take it (the docs' default is off; some aggregators say v3
  defaults to on, so it is always said).
- ``element_list``: on kling-v3 image2video, each character with at least two reference
  images (an element needs a frontal image and 1-3 others) as an element (``_elements``),
  at most 3, named ``<<<element_n>>>`` in the prompt; the option ``elements: false`` sends
  none.
- ``camera_control``: only where the map takes it (kling-v1 std 5 s text2video, kling-v1-5
  pro 5 s image2video, ``simple`` only) and never with ``image_tail``; elsewhere the move is
  only in the prompt. The option ``camera: false`` never sends one; the option
  ``camera_control`` (a Kling object) is sent as given where allowed.
- ``cfg_scale`` from the option, for kling-v1 models only ("kling-v2.x models do not support
  this parameter"; kling-v3 undocumented: not sent).

A request the model and mode cannot take (a length, an end frame, speech, text alone on an
image-only model, a mode the model does not have) is refused (``EngineRefusal``) with the
reason, before any upload or payment.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from ministudio.engines import EngineContext
from ministudio.errors import EngineError, EngineRefusal
from ministudio.jobs import CharacterBrief, VideoRequest

from ministudio_kling import ENGINE, MAX_PROMPT, MODEL
from ministudio_kling._models import ELEMENTS, IMAGE2VIDEO, MODES, TEXT2VIDEO, Way, way, ways

log = logging.getLogger("ministudio_kling")

STRENGTH = 5.0  # of Kling's [-10, 10]: a clear but calm move
# Moves as (config field, value). Pans and tilts use the translation axes (left/right,
# down/up in the docs); zoom: negative narrows the view.
CAMERA: dict[str, tuple[str, float]] = {
    "pan-left": ("horizontal", -STRENGTH),
    "pan-right": ("horizontal", STRENGTH),
    "tilt-up": ("vertical", STRENGTH),
    "tilt-down": ("vertical", -STRENGTH),
    "push-in": ("zoom", -STRENGTH),
    "pull-back": ("zoom", STRENGTH),
}  # static and handheld: no camera_control (the prompt says it)
CAMERA_FIELDS = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
ELEMENT_IMAGES = (2, 4)  # an element: a frontal image and 1 to 3 others


@dataclass(frozen=True)
class Shot:
    """One request as Kling will get it, checked: model, mode, length, images, speech."""

    model: str
    mode: str | None
    seconds: int
    way: Way | None  # None: a model the map does not know (its API judges)
    start: Path | None
    tail: Path | None
    cast: tuple[CharacterBrief, ...]  # characters sent as elements
    sound: bool

    @property
    def kind(self) -> str:
        return IMAGE2VIDEO if self.start is not None or self.tail is not None else TEXT2VIDEO


def model(request: VideoRequest) -> str:
    return request.model or MODEL


def mode(request: VideoRequest) -> str | None:
    """The option ``mode`` (the core's pick), else ``std``; None for a model with no mode."""
    name = model(request)
    known = ways(name)
    chosen = request.options.get("mode")
    if known and all(w.mode is None for w in known):
        if chosen is not None:
            raise EngineRefusal(ENGINE, f"model {name} has no mode (asked: {chosen!r})")
        return None
    if chosen is None:
        return "std"
    if chosen not in MODES:
        raise EngineError(ENGINE, f"option mode {chosen!r}: use 'std' or 'pro'")
    return str(chosen)


def seconds(request: VideoRequest) -> int:
    """The whole seconds sent (and billed): the core snapped the length to the variant's
    grid; anything between is rounded up, so a clip is never shorter than asked."""
    return max(1, math.ceil(request.duration - 1e-6))


def plan(request: VideoRequest) -> Shot:
    """``request`` as Kling will get it; ``EngineRefusal`` when the model cannot take it."""
    name, how, secs = model(request), mode(request), seconds(request)
    row = way(name, how, secs)
    if ways(name) and row is None:
        lengths = sorted({s for w in ways(name) if w.mode == how for s in w.seconds})
        if not lengths:
            raise EngineRefusal(ENGINE, f"model {name} has no mode {how!r}")
        raise EngineRefusal(
            ENGINE,
            f"model {name} ({how}) makes {_lengths(lengths)} s clips, not {secs} s",
        )
    cast = _cast(request, row)
    start = request.first_frame or _identity(request, place_first=bool(cast))
    tail = request.last_frame
    if start is None and tail is None:
        cast = ()  # elements go only to image2video, which needs an image
    shot = Shot(name, how, secs, row, start, tail, cast, request.shot.native_audio)
    _check(shot)
    return shot


def kind(request: VideoRequest) -> str:
    """The endpoint ``request`` goes to (no side effects: for lookups)."""
    return plan(request).kind


async def build(request: VideoRequest, context: EngineContext) -> tuple[str, dict[str, Any]]:
    """(endpoint, body) for ``request``, elements registered; ``callback_url`` set,
    ``external_task_id`` not."""
    from ministudio_kling import _elements, _images

    shot = plan(request)
    prompt = request.prompt if isinstance(request.prompt, str) else _json(request.prompt)
    body: dict[str, Any] = {"model_name": shot.model, "duration": str(shot.seconds)}
    if shot.mode is not None:
        body["mode"] = shot.mode
    if shot.cast:
        ids = [await _elements.element(c, context) for c in shot.cast]
        body["element_list"] = [{"element_id": int(i) if i.isdigit() else i} for i in ids]
        names = " ".join(f"{c.name} is <<<element_{n}>>>." for n, c in enumerate(shot.cast, 1))
        prompt = f"{names} {prompt}"
    body["prompt"] = prompt[:MAX_PROMPT]
    if request.shot.negative:
        body["negative_prompt"] = ", ".join(request.shot.negative)[:MAX_PROMPT]
    cfg = request.options.get("cfg_scale")
    if cfg is not None and shot.model.startswith("kling-v1"):
        body["cfg_scale"] = _cfg(cfg)
    if shot.sound:
        body["sound"] = "on"
    elif shot.way is not None and shot.way.sound:
        body["sound"] = "off"
    ratio = request.aspect_ratio
    if shot.start is not None:
        body["image"] = await anyio.to_thread.run_sync(_images.encode, Path(shot.start), ratio)
    if shot.tail is not None:
        body["image_tail"] = await anyio.to_thread.run_sync(_images.encode, Path(shot.tail), ratio)
    if shot.kind == TEXT2VIDEO:
        body["aspect_ratio"] = ratio
    camera = camera_control(request, shot)
    if camera is not None:
        body["camera_control"] = camera
    if context.webhook_url:
        body["callback_url"] = context.webhook_url
    return shot.kind, body


def camera_control(request: VideoRequest, shot: Shot) -> dict[str, Any] | None:
    """The shot's ``camera_control`` where the map takes one, else None."""
    options = request.options
    if options.get("camera") is False:
        return None
    given = options.get("camera_control")
    allowed = shot.way is not None and shot.way.camera == shot.kind and shot.tail is None
    if isinstance(given, dict):
        simple_only = shot.model == "kling-v1-5"  # the map: "(simple only)"
        if allowed and not (simple_only and given.get("type") != "simple"):
            return dict(given)
        log.warning(
            "kling: shot %s: option camera_control left out: %s %s at %d s does not take it "
            "on %s (Kling's capability map)",
            request.shot.shot_id,
            shot.model,
            shot.mode,
            shot.seconds,
            shot.kind,
        )
        return None
    move = CAMERA.get(request.shot.camera_move)
    if move is None or not allowed:
        return None  # the move is in the prompt
    field, value = move
    config = {name: (value if name == field else 0.0) for name in CAMERA_FIELDS}
    return {"type": "simple", "config": config}


def _check(shot: Shot) -> None:
    """Refuse what the map does not allow for ``shot``'s model, mode and length."""
    row = shot.way
    if row is None:
        return
    where = f"{shot.model} ({shot.mode or 'no mode'}, {shot.seconds} s)"
    if shot.sound and not row.sound:
        raise EngineRefusal(
            ENGINE,
            f"{where} does not speak (native audio): kling-v3 std/pro and kling-v2-6 pro do",
        )
    if shot.tail is not None:
        if shot.start is not None and not row.frames:
            raise EngineRefusal(ENGINE, f"{where} takes no start and end frame together")
        if shot.start is None and not row.end_alone:
            raise EngineRefusal(ENGINE, f"{where} takes no end frame without a start frame")
        if shot.sound and not row.sound_with_end:
            raise EngineRefusal(ENGINE, f"{where} takes an end frame only without audio")
    if shot.start is None and shot.tail is None and not row.text:
        raise EngineRefusal(
            ENGINE,
            f"{shot.model} makes image to video only: give the shot a first frame or a "
            "reference image, or route it to another model",
        )


def _cast(request: VideoRequest, row: Way | None) -> tuple[CharacterBrief, ...]:
    """The characters sent as elements: on a model that takes them, each with 2 to 4
    reference images, at most ``ELEMENTS``."""
    if row is None or not row.elements or request.options.get("elements", True) is False:
        return ()
    least, most = ELEMENT_IMAGES
    fit = [c for c in request.shot.characters if len(c.reference_images) >= least]
    for character in fit:
        if len(character.reference_images) > most:
            log.info("kling: %s's element uses its first %d images", character.id, most)
    if len(fit) > ELEMENTS:
        log.warning(
            "kling: shot %s: only %d characters go as elements (%s left out)",
            request.shot.shot_id,
            ELEMENTS,
            ", ".join(c.id for c in fit[ELEMENTS:]),
        )
    return tuple(fit[:ELEMENTS])


def _identity(request: VideoRequest, *, place_first: bool) -> Path | None:
    """The image a shot with no first frame starts from: its first character's first reference
    image, else the place's (a plate); the place first when the characters go as elements;
    None with the option ``identity: false``."""
    if request.options.get("identity", True) is False:
        return None
    people = [Path(c.reference_images[0]) for c in request.shot.characters if c.reference_images]
    place = [Path(p) for p in request.shot.environment.reference_images[:1]]
    order = place + people if place_first else people + place
    return order[0] if order else None


def _lengths(values: list[int]) -> str:
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}-{values[-1]}"
    return " or ".join(str(v) for v in values)


def _json(prompt: dict[str, Any]) -> str:
    return json.dumps(prompt, sort_keys=True)


def _cfg(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise EngineError(ENGINE, f"option cfg_scale {value!r}: use a number from 0 to 1")
    return number
