"""A ``VideoRequest`` as a Runway create: which endpoint, which body, what it costs, and the
requests refused before anything is uploaded or paid. Imports no SDK.

Rules (runwayml 5.13 ``types/*_create_params.py``, see the README):

- gen4.5: text to video (``ratio`` 1280:720 or 720:1280 only) or image to video (six
  ratios); ``duration`` an integer from 2 to 10; ``promptText`` 1 to 1000 UTF-16 units.
- gen4_turbo: image to video only (a first frame is required).
- ``promptImage`` position ``first`` only: no last frame on either model.
- an edit (``request.edit``, the ``edit`` retake rung): ``video_to_video`` with ``aleph2`` on
  the take's own output (runwayml 5.24 ``video_to_video_create_params.Variant0``): the
  failed checks' reasons, then the shot's prompt, as ``promptText`` (up to 1000 UTF-16
  units); the source video 2 to 30 s.
- a promotion (``request.source``, ``Capabilities.video_edit``): ``video_to_video`` with
  ``aleph2`` on the previz clip, uploaded through ``POST /v1/uploads`` (a ``runway://`` URI):
  the shot's prompt as ``promptText``; the previz 2 to 30 s (the output has the input's
  length, so a longer previz would make a short final), at most 30 fps, 512 bytes to 200 MB;
  a ``continue`` shot's first frame as a keyframe at 0. No reference images: aleph2 takes
  none (docs/providers/runway.md).
"""

from __future__ import annotations

import base64
import math
import mimetypes
from pathlib import Path
from typing import Any

from ministudio.engines import EngineContext
from ministudio.errors import EngineRefusal
from ministudio.jobs import VideoRequest

from ministudio_runway._catalog import (
    ALEPH,
    CREDIT_USD,
    EDIT_MAX_FPS,
    EDIT_SECONDS,
    ENGINE,
    GEN45,
    GEN45_DURATIONS,
    MAX_DATA_URI,
    MAX_PROMPT,
    MIN_CREDITS,
    MODELS,
    RATIOS,
    RETIRED_ALEPH,
    TEXT_RATIOS,
    TURBO,
    TURBO_DURATIONS,
    UPLOAD_BYTES,
    price_per_second,
)

SEEDS = 2**32  # 0..4294967295


def model(request: VideoRequest) -> str:
    """The Runway model id ``request`` asks for (an alias resolved), default gen4.5; an edit
    or a promotion is Aleph's, whatever model the shot is routed to."""
    if request.edit is not None or request.source is not None:
        return ALEPH
    asked = request.model or GEN45
    for known in MODELS:
        if asked == known.id or asked in known.aliases:
            return known.id
    return asked


def prompt_text(request: VideoRequest) -> str:
    """The prompt as one string."""
    said = request.prompt
    if isinstance(said, dict):
        said = str(said.get("promptText") or said.get("text") or said.get("prompt") or "")
    return said.strip()


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def endpoint(request: VideoRequest) -> str:
    """``video_to_video`` for an edit or a promotion; ``image_to_video`` when the shot starts
    from a frame, else ``text_to_video``."""
    if request.edit is not None or request.source is not None:
        return "video_to_video"
    return "image_to_video" if request.first_frame is not None else "text_to_video"


def clip(text: str, units: int) -> str:
    """``text`` cut to at most ``units`` UTF-16 code units (never inside a surrogate pair)."""
    if utf16_units(text) <= units:
        return text
    cut = text.encode("utf-16-le")[: 2 * max(0, units)]
    return cut.decode("utf-16-le", errors="ignore")


def edit_prompt(request: VideoRequest) -> str:
    """An edit's ``promptText``: what to fix, in the failed checks' words, then the shot as
    asked for context; within Runway's 1000 UTF-16 units (the fix is kept whole first)."""
    assert request.edit is not None
    fixes = "; ".join(r.strip().rstrip(".") for r in request.edit.reasons if r.strip())
    fix = clip(f"Edit this video: fix {fixes or 'its flaws'}. Keep everything else.", MAX_PROMPT)
    shot = prompt_text(request)
    if not shot:
        return fix
    room = MAX_PROMPT - utf16_units(fix) - len(" The shot: ")
    return f"{fix} The shot: {clip(shot, room)}" if room > 0 else fix


def ratio(request: VideoRequest) -> str:
    return RATIOS.get(request.aspect_ratio, "")


def duration(request: VideoRequest) -> int:
    """Whole seconds (the core snapped the request to the model's grid already)."""
    return max(1, math.ceil(round(float(request.duration), 6)))


def check(request: VideoRequest) -> None:
    """Refuse what Runway documents it refuses, before any upload or create."""
    if request.edit is not None:  # an edit of a promoted take edits the take
        check_edit(request)
        return
    if request.source is not None:
        check_promote(request)
        return
    name = model(request)
    if name in (ALEPH, RETIRED_ALEPH):
        raise EngineRefusal(
            ENGINE,
            f"{name} edits takes (the `edit` retake rung), it makes none: route the shot to "
            f"{GEN45} or {TURBO}" + (f" ({name} is retired)" if name == RETIRED_ALEPH else ""),
        )
    if name not in (GEN45, TURBO):
        raise EngineRefusal(ENGINE, f"model {name!r} is not offered: use {GEN45} or {TURBO}")
    if request.last_frame is not None:
        raise EngineRefusal(
            ENGINE, f"{name} takes a first frame only (promptImage position 'first')"
        )
    size = ratio(request)
    if not size:
        raise EngineRefusal(
            ENGINE, f"aspect ratio {request.aspect_ratio} is not one of {', '.join(RATIOS)}"
        )
    if request.first_frame is None:
        if name == TURBO:
            raise EngineRefusal(
                ENGINE,
                f"{TURBO} makes video from an image only: give the shot a first frame"
                f" or route it to {GEN45}",
            )
        if size not in TEXT_RATIOS:
            raise EngineRefusal(
                ENGINE,
                f"{GEN45} text to video renders 16:9 or 9:16 only ({request.aspect_ratio} "
                "needs a first frame)",
            )
    grid = GEN45_DURATIONS if name == GEN45 else TURBO_DURATIONS
    if float(duration(request)) not in grid:
        raise EngineRefusal(
            ENGINE,
            f"{name} renders {', '.join(f'{s:g}' for s in grid)} s, not {request.duration:g} s",
        )
    text = prompt_text(request)
    if name == GEN45 and not text:
        raise EngineRefusal(ENGINE, f"{name} needs a prompt")
    if utf16_units(text) > MAX_PROMPT:
        raise EngineRefusal(
            ENGINE, f"the prompt is {utf16_units(text)} UTF-16 units, over Runway's {MAX_PROMPT}"
        )


def check_edit(request: VideoRequest) -> None:
    """An edit: a ratio Runway has a size for, a take 2 to 30 s long (aleph2's input)."""
    if not ratio(request):
        raise EngineRefusal(
            ENGINE, f"aspect ratio {request.aspect_ratio} is not one of {', '.join(RATIOS)}"
        )
    low, high = EDIT_SECONDS
    if not low <= float(request.duration) <= high:
        raise EngineRefusal(
            ENGINE, f"{ALEPH} edits videos of {low:g} to {high:g} s, not {request.duration:g} s"
        )


PROMOTE_LEAD = (
    "Turn this animatic previz into the finished shot. Keep its motion, timing, blocking "
    "and camera; replace the stand-in figures and sets with the real look:"
)


def promoting(request: Any) -> bool:
    """A promotion of the previz (``request.source``), not an edit of a take made from it."""
    return getattr(request, "source", None) is not None and getattr(request, "edit", None) is None


def previz_seconds(request: VideoRequest) -> float:
    """The previz clip's length: its frames at the request's rate (what the final must keep)."""
    assert request.source is not None
    return request.source.frames / request.fps if request.fps > 0 else float(request.duration)


def check_promote(request: VideoRequest) -> None:
    """A promotion (``request.source``): the previz clip is there (``clip``), 2 to 30 s long
    (aleph2's input; its output has the input's length, so a longer previz would make a
    shorter final: refused, not cut), at most 30 fps, 512 bytes to 200 MB (the uploads API),
    with a ratio Runway has a size for and a prompt within 1000 UTF-16 units."""
    assert request.source is not None
    clip_path = request.source.passes.get("clip")
    if clip_path is None:
        raise EngineRefusal(
            ENGINE,
            f"{ALEPH} promotes the previz clip itself: the request has no `clip` pass "
            f"(it has {', '.join(sorted(request.source.passes)) or 'none'})",
        )
    if request.last_frame is not None:
        raise EngineRefusal(
            ENGINE,
            f"{ALEPH} keeps the previz's own last frame: it takes no end frame (drop the "
            "shot's last frame, or route it to an engine that takes one)",
        )
    if not ratio(request):
        raise EngineRefusal(
            ENGINE, f"aspect ratio {request.aspect_ratio} is not one of {', '.join(RATIOS)}"
        )
    seconds = previz_seconds(request)
    low, high = EDIT_SECONDS
    if seconds > high + 1e-6:
        raise EngineRefusal(
            ENGINE,
            f"the previz of shot {request.shot.shot_id} is {seconds:g} s; {ALEPH} edits "
            f"videos of at most {high:g} s and returns one as long as its input, so the final "
            f"would not have the previz's length: split the shot into shots of {high:g} s "
            "or less, or route it to an engine that renders it whole",
        )
    if seconds < low - 1e-6:
        raise EngineRefusal(
            ENGINE,
            f"the previz of shot {request.shot.shot_id} is {seconds:g} s; {ALEPH} edits "
            f"videos of {low:g} s or more: lengthen the shot to {low:g} s",
        )
    if request.fps > EDIT_MAX_FPS:
        raise EngineRefusal(
            ENGINE,
            f"the film runs at {request.fps} fps; {ALEPH} takes videos of at most "
            f"{EDIT_MAX_FPS} fps: set format.fps to {EDIT_MAX_FPS} or less",
        )
    clip_path = Path(clip_path)
    if clip_path.is_file():  # a plan may ask before the previz is made
        size, (smallest, largest) = clip_path.stat().st_size, UPLOAD_BYTES
        if not smallest <= size <= largest:
            raise EngineRefusal(
                ENGINE,
                f"the previz clip of shot {request.shot.shot_id} is {size} bytes; Runway's "
                f"uploads take {smallest} bytes to {largest // (1024 * 1024)} MB: "
                "re-render the previz",
            )
    if not prompt_text(request):
        raise EngineRefusal(ENGINE, f"{ALEPH} needs a prompt saying what the previz becomes")


def promote_prompt(request: VideoRequest) -> str:
    """A promotion's ``promptText``: what the previz should become (the shot's prompt), led
    by what to keep; within 1000 UTF-16 units (the shot's prompt kept whole first)."""
    shot = clip(prompt_text(request), MAX_PROMPT)
    room = MAX_PROMPT - utf16_units(shot) - 1
    if room < utf16_units(PROMOTE_LEAD):
        return shot
    return f"{PROMOTE_LEAD} {shot}"


def promote_body(
    request: VideoRequest, video_uri: str, first_frame: str | None = None
) -> dict[str, Any]:
    """The ``video_to_video`` create's keyword arguments for a promotion: the uploaded
    previz, what it becomes, its size and the shot's seed; a ``continue`` shot's first frame
    as a keyframe at the start ("Timed guidance images placed at specific points in the
    input video", runwayml ``video_to_video_create_params.Variant0.keyframes``)."""
    sent: dict[str, Any] = {
        "model": ALEPH,
        "video_uri": video_uri,
        "prompt_text": promote_prompt(request),
        "ratio": ratio(request),  # the previz's own size: Aleph keeps the input's resolution
        "seed": int(request.seed) % SEEDS,
    }
    if first_frame is not None:
        sent["keyframes"] = [{"uri": first_frame, "at": 0.0}]
    return sent


def edit_body(request: VideoRequest, video_uri: str) -> dict[str, Any]:
    """The ``video_to_video`` create's keyword arguments (snake case, as the SDK takes them):
    the take's output URL, what to fix, its size and the shot's seed."""
    return {
        "model": ALEPH,
        "video_uri": video_uri,
        "prompt_text": edit_prompt(request),
        "ratio": ratio(request),  # the take's own size: Aleph keeps the input's resolution
        "seed": int(request.seed) % SEEDS,
    }


def data_uri(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


async def image(path: Path, context: EngineContext) -> str:
    """The image as Runway takes it: a data URI up to 5 MB, else the file's HTTPS URL from
    the core's asset host (``context.upload``)."""
    uri = data_uri(path)
    if len(uri) < MAX_DATA_URI:  # "must be under 5MB (1024 x 1024 x 5 bytes)"
        return uri
    return await context.upload(path)


async def body(request: VideoRequest, context: EngineContext) -> dict[str, Any]:
    """The create's keyword arguments for the SDK (snake case, as its ``create`` takes them)."""
    sent: dict[str, Any] = {
        "model": model(request),
        "ratio": ratio(request),
        "duration": duration(request),
        "seed": int(request.seed) % SEEDS,
    }
    text = prompt_text(request)
    if text:
        sent["prompt_text"] = text
    if request.first_frame is not None:
        uri = await image(Path(request.first_frame), context)
        sent["prompt_image"] = [{"uri": uri, "position": "first"}]
    return sent


def cost(request: Any) -> float:
    """USD: whole seconds billed at the model's credits per second (an edit or a promotion:
    Aleph's, by the output's seconds, which are the input's: the take's or the previz's
    length, at least its minimum)."""
    name = model(request)
    floor = MIN_CREDITS.get(name, 0) * CREDIT_USD
    seconds = duration(request)
    if promoting(request):
        seconds = max(1, math.ceil(round(previz_seconds(request), 6)))
    return round(max(seconds * price_per_second(name), floor), 6)
