"""What ``luma`` sends: the ``POST /generations`` body for a request, the rules Ray 3.2 sets
on it (refused here, before anything is sent or paid for), its price and its prompt.

The rules, from the ``luma-agents`` 0.5 types (``video_options_param.py``,
``video_edit_options_param.py``, ``image_ref_param.py``) and the guides they point to (notes
§3, §4):

- ``video.duration`` is ``"5s"`` or ``"10s"``; ``video.resolution`` 360p-1080p (a 480p film
  is rendered at 540p); six aspect ratios (``_catalog``).
- 5 s: first and last frame as ``video.start_frame``/``video.end_frame`` ("the legacy 2-frame
  surface", which "does not support 10s"); ``video.loop`` (not with an end frame, not at 10 s,
  not with keyframes).
- 10 s: text only, or the frames as ``video.keyframes`` at output frames 0 and 240
  (``keyframe_indexes``; keyframes "support arbitrary positions, 10s durations", and are
  "mutually exclusive with start_frame / end_frame / loop"). No loop.
- extension: a `continue` shot after a ``luma`` clip puts that generation in
  ``video.start_frame`` (``{"generation_id": ...}``): 5 s, SDR, no other keyframe, so only
  without an end frame and without a loop; else it starts from the previous clip's last
  frame. Routing option ``extend: false`` turns it off.
- edit (``request.edit``, the ``edit`` retake rung): ``type: video_edit`` with the take's
  generation as ``source`` and ``video.edit`` controls (routing option ``edit``: a mapping
  with ``auto_controls``, ``strength``, ``controls``; default ``{"auto_controls": true}``,
  Luma's recommended mode). No duration (the output "matches the source"), no aspect ratio
  (derived from the source), no loop, no end frame, no ``image_ref``.
- promotion (``request.source``, a previz to turn into the final): ``type: video_edit`` with
  the previz's ``clip`` pass uploaded through the Files API as ``source: {"file_id"}`` (once
  per content), the shot's prompt plus a preservation cue, ``video.resolution`` and
  ``video.edit`` from routing option ``promote`` (a mapping like ``edit``; default
  ``PROMOTE_DEFAULT``: manual depth and pose controls at ``reimagine_1``). The source must
  be at most 18 s ("The source video must be 18 seconds or shorter"); the output "matches
  the source" in length, so no duration is sent. A `continue` shot's first frame is
  ``video.start_frame`` (the edit's single guide frame: ``video.edit.keyframes`` are
  "Mutually exclusive with video.start_frame (the single-anchor case)"); with an end frame
  too, both become ``video.edit.keyframes`` on the source's frame grid. No extension (the
  previz is the shot), no loop (``loop`` is "Only valid for type=video"). Only the clip is
  sent: Luma derives its controls from the source itself (``_catalog.PROMOTE_PASSES``).
- reference images: ``image_ref`` is documented "for type 'image'" and "'image_edit'" only;
  whether ``type: video`` takes it is not. They are sent only with routing option
  ``image_ref: true`` (up to 9: the characters', then the place's), never on an extension
  or an edit; if Luma refuses them, the refusal says to turn the option off.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ministudio.engines import EngineContext
from ministudio.errors import EngineRefusal

from ministudio_luma._catalog import (
    AGENTS,
    AGENTS_ASPECT_RATIOS,
    AGENTS_MODEL,
    AGENTS_PRICES,
    EDIT_BLOCK_SECONDS,
    EDIT_MAX_SOURCE,
    EXTENSION_SECONDS,
    FPS,
    MAX_PROMPT,
)

if TYPE_CHECKING:
    from ministudio.jobs import ShotPrompt, VideoRequest

MAX_IMAGE_REFS: Final = 9  # "Up to 9 for type 'image'" (generation_create_params.py)
EDIT_STRENGTHS: Final = tuple(
    f"{kind}_{n}" for kind in ("adhere", "flex", "reimagine") for n in (1, 2, 3)
)  # video_edit_strength.py
EDIT_CONTROLS: Final = ("depth", "pose", "face", "normals", "trajectory")  # advanced_controls
EDIT_KEYS: Final = ("auto_controls", "strength", "controls")
# routing.options.luma: the engine's own options, and the core's model and mode (variants)
OPTIONS: Final = ("extend", "image_ref", "edit", "promote", "model", "mode")
# each control's fields (depth_control_param.py and its siblings): ``enabled``, and a number
# "from 0 to 1" or pose's strength
CONTROL_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "depth": ("enabled", "blur"),
    "pose": ("enabled", "strength"),
    "face": ("enabled",),
    "normals": ("enabled", "augmentation"),
    "trajectory": ("enabled", "sparsity"),
}
POSE_STRENGTHS: Final = ("precise", "coarse")  # pose_control_strength.py
# How a previz is promoted unless routing option ``promote`` says otherwise. The previz is an
# animatic: flat places, simple figures, no faces worth keeping. Its look must change
# completely, which Luma's strength scale calls reimagining ("loosely follows the source, for
# dramatic or transformative changes"; adhere is "very close, for subtle enhancements", flex
# "more stylistic change while keeping recognizable elements": Luma's Modify Video schema on
# Replicate, notes §6.5). What must not change (blocking, figures' poses, camera) is held by
# manual controls instead: depth ("scene-geometry conditioning") and pose ("skeleton
# conditioning"), the two signals an animatic draws faithfully; Luma's own guide says the
# controls, more than the prompt, "are what hold it to your footage". So: the mildest
# reimagine preset, with depth and pose on (face, normals and trajectory at the model's
# defaults: an animatic has no faces or surface detail to keep).
PROMOTE_DEFAULT: Final[dict[str, Any]] = {
    "strength": "reimagine_1",
    "controls": {"depth": {"enabled": True}, "pose": {"enabled": True}},
}
# Luma's prompting guide: "A strong Ray 3.2 prompt often ends with a preservation cue"
# (lumalabs.ai/learning-center/articles/ray-3-2-prompting-outputs-and-controls)
PRESERVE: Final = " Preserve the camera motion, framing, blocking and timing of the source."


def prompt(shot: ShotPrompt) -> str:
    """The shot in words, without its dialogue (Ray 3.2 makes silent clips), cut to 6,000."""
    from ministudio.prompts import describe_shot

    return describe_shot(shot, include_dialogue=False)[:MAX_PROMPT]


def text(request: VideoRequest) -> str:
    """The request's prompt as text (a mapped prompt that is a mapping becomes JSON)."""
    asked = request.prompt
    return (asked if isinstance(asked, str) else json.dumps(asked, sort_keys=True))[:MAX_PROMPT]


def seconds(request: VideoRequest) -> int:
    """5 or 10: the clip length Ray 3.2 makes for ``request``; refused otherwise."""
    asked = round(request.duration)
    if asked not in (5, 10) or abs(request.duration - asked) > 1e-6:
        raise _refused(f"Ray 3.2 makes 5 s or 10 s clips, not {request.duration:g} s")
    return asked


def resolution(request: VideoRequest) -> str:
    """Luma's resolution for the film's size: its short side, 480 rendered at 540p."""
    short = min(request.width, request.height)
    if short >= 1080:
        return "1080p"
    if short >= 720:
        return "720p"
    if short > 360:
        return "540p"
    return "360p"


def promotes(request: VideoRequest) -> bool:
    """Whether ``request`` promotes a previz (``source``; an edit of a take wins over it)."""
    return request.source is not None and request.edit is None


def source_seconds(request: VideoRequest) -> float:
    """The previz's length: its clip as probed where it exists (a `continue` shot's previz
    may not be made yet when the core checks), else its frames at the request's rate."""
    assert request.source is not None
    clip = request.source.passes.get("clip")
    if clip is not None and Path(clip).is_file():
        from ministudio_luma._media import seconds_of

        return seconds_of(Path(clip))
    return request.source.frames / request.fps if request.fps else request.duration


def extends(request: VideoRequest) -> bool:
    """Whether ``request`` extends its previous ``luma`` clip (see the module's rules)."""
    previous = request.previous
    return (
        request.edit is None
        and request.source is None
        and previous is not None
        and previous.engine == AGENTS
        and request.options.get("extend", True) is not False
        and request.last_frame is None
        and not request.loop
        and round(request.duration) == EXTENSION_SECONDS
    )


def operation(request: VideoRequest) -> str:
    """``video_edit`` for an edit or a promotion, else ``video`` (the price table's names)."""
    return "video_edit" if request.edit is not None or request.source is not None else "video"


def cost(request: VideoRequest) -> float:
    """USD for ``request`` by the price table (``_catalog.AGENTS_PRICES``): its operation,
    length and resolution. An extension costs a 5 s generation; 360p is priced as 540p. A
    promotion costs the 5 s edit per started 5 s of its source (``EDIT_BLOCK_SECONDS``)."""
    tier = resolution(request)
    if promotes(request):
        block = AGENTS_PRICES[("video_edit", EDIT_BLOCK_SECONDS)]
        blocks = max(1, math.ceil(source_seconds(request) / EDIT_BLOCK_SECONDS - 1e-6))
        return round(block.get(tier, block["540p"]) * blocks, 4)
    length = 5 if round(request.duration) <= 5 else 10
    table = AGENTS_PRICES[(operation(request), length)]
    return table.get(tier, table["540p"])


def check(request: VideoRequest) -> None:
    """Refuse, before anything is uploaded or sent, what Ray 3.2 does not take."""
    model = request.model or AGENTS_MODEL
    if model != AGENTS_MODEL:
        raise _refused(f"model '{model}' is not a Luma Agents API video model: use ray-3.2")
    unknown = sorted(set(request.options) - set(OPTIONS))
    if unknown:  # a misspelt option would otherwise be dropped without a word
        raise _refused(
            f"routing.options.{AGENTS}: unknown {', '.join(unknown)} (it takes "
            f"{', '.join(OPTIONS)})"
        )
    if request.edit is not None:
        edit_options(request.options)
        return
    if request.source is not None:
        check_promotion(request)
        return
    length = seconds(request)
    if request.aspect_ratio not in AGENTS_ASPECT_RATIOS:
        raise _refused(
            f"Ray 3.2 renders {', '.join(AGENTS_ASPECT_RATIOS)}, not {request.aspect_ratio}"
        )
    if request.loop and length == 10:
        raise _refused("Ray 3.2 loops 5 s clips only (loop is not supported with 10 s)")
    if request.loop and request.last_frame is not None:
        raise _refused(
            f"shot '{request.shot.shot_id}': Ray 3.2 loops no clip given an end frame "
            "(a loop ends where it begins): drop loop or end_frame"
        )


def check_promotion(request: VideoRequest) -> None:
    """Refuse a promotion Luma's video_edit would not take (see the module's rules)."""
    assert request.source is not None
    shot = request.shot.shot_id
    if "clip" not in request.source.passes:
        raise _refused(
            f"shot '{shot}': the previz to promote has no 'clip' pass (Luma edits the previz's "
            "picture): render the previz again"
        )
    length = source_seconds(request)
    if length > EDIT_MAX_SOURCE + 1e-6:
        raise _refused(
            f"shot '{shot}': its previz lasts {length:.2f} s and Luma edits videos of "
            f"{EDIT_MAX_SOURCE:g} s or shorter (video_edit): split the shot, or route its "
            "promotion to another engine"
        )
    if request.loop:
        raise _refused(
            f"shot '{shot}': Luma loops only new clips (loop is valid for type=video alone), "
            "not a promoted previz: drop loop, or route the shot without routing.previz"
        )
    promote_options(request.options)


async def promotion(request: VideoRequest, context: EngineContext) -> dict[str, Any]:
    """The ``video_edit`` body promoting ``request``'s previz (``check`` first)."""
    assert request.source is not None
    clip = Path(request.source.passes["clip"])
    video: dict[str, Any] = {
        "resolution": resolution(request),
        "edit": promote_options(request.options),
    }
    first, last = request.first_frame, request.last_frame
    if first is not None and last is None:
        video["start_frame"] = await _file(first, context)
    elif last is not None:
        # edit keyframes sit on "the source video's frame grid": the last one on the previz's
        # last frame, which is inside the grid whether it is counted at the source's own rate
        # or on a 24 fps grid like type=video's (the docs do not say which)
        end = min(request.source.frames, round(source_seconds(request) * FPS)) - 1
        anchors = [(0, first), (max(end, 1), last)]
        taken = [(at, path) for at, path in anchors if path is not None]
        video["edit"] = {
            **video["edit"],
            "keyframes": [await _file(path, context) for _, path in taken],
            "keyframe_indexes": [at for at, _ in taken],
        }
    return {
        "model": AGENTS_MODEL,
        "type": "video_edit",
        "prompt": _ended(text(request)[: MAX_PROMPT - len(PRESERVE) - 1]) + PRESERVE,
        "source": await _file(clip, context),
        "video": video,
    }


async def body(request: VideoRequest, context: EngineContext) -> dict[str, Any]:
    """The create body for ``request``, its images (and a previz) uploaded through the Files
    API (as ``file_id``s, once per content: ``context.upload``). Call ``check`` first."""
    if promotes(request):
        return await promotion(request, context)
    if request.edit is not None:
        return {
            "model": AGENTS_MODEL,
            "type": "video_edit",
            "prompt": edit_prompt(request),
            "source": {"generation_id": request.edit.job_id},
            "video": {"resolution": resolution(request), "edit": edit_options(request.options)},
        }
    length = seconds(request)
    video: dict[str, Any] = {"duration": f"{length}s", "resolution": resolution(request)}
    extending = extends(request)
    if extending:
        assert request.previous is not None
        video["start_frame"] = {"generation_id": request.previous.job_id}
    elif length == 5:
        if request.first_frame is not None:
            video["start_frame"] = await _file(request.first_frame, context)
        if request.last_frame is not None:
            video["end_frame"] = await _file(request.last_frame, context)
        if request.loop:
            video["loop"] = True
    else:
        frames = [(0, request.first_frame), (length * FPS, request.last_frame)]
        anchors = [(at, path) for at, path in frames if path is not None]
        if anchors:
            video["keyframes"] = [await _file(path, context) for _, path in anchors]
            video["keyframe_indexes"] = [at for at, _ in anchors]
    sent: dict[str, Any] = {
        "model": AGENTS_MODEL,
        "type": "video",
        "prompt": text(request),
        "aspect_ratio": request.aspect_ratio,
        "video": video,
    }
    if request.options.get("image_ref") is True and not extending:
        references = [await _file(p, context) for p in reference_images(request)]
        if references:
            sent["image_ref"] = references
    return sent


def reference_images(request: VideoRequest) -> list[Path]:
    """The shot's reference images, the characters' first, then the place's; at most 9."""
    shot = request.shot
    found = [Path(p) for c in shot.characters for p in c.reference_images]
    found += [Path(p) for p in shot.environment.reference_images]
    return list(dict.fromkeys(found))[:MAX_IMAGE_REFS]


def edit_prompt(request: VideoRequest) -> str:
    """An edit's prompt: the shot as asked, then what to fix, in the failed checks' words."""
    assert request.edit is not None
    fixes = "; ".join(r.strip().rstrip(".") for r in request.edit.reasons if r.strip())
    fix = f" Fix what is wrong with this take: {fixes or 'its flaws'}. Keep everything else."
    return text(request)[: MAX_PROMPT - len(fix)] + fix[:MAX_PROMPT]


def edit_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``video.edit`` from routing option ``edit``; Luma's auto controls when not given.
    Refused when it names what Luma does not take (video_edit_options_param.py)."""
    return _edit_controls(options, "edit", {"auto_controls": True})


def promote_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``video.edit`` for a promotion, from routing option ``promote`` (the same keys as
    ``edit``); ``PROMOTE_DEFAULT`` when not given."""
    return _edit_controls(options, "promote", PROMOTE_DEFAULT)


def _edit_controls(
    options: Mapping[str, Any], name: str, default: Mapping[str, Any]
) -> dict[str, Any]:
    """Routing option ``name`` checked as ``video.edit`` (auto_controls, strength, controls:
    video_edit_options_param.py, advanced_controls_param.py); ``default`` when absent."""
    given = options.get(name)
    if given is None:
        return copy.deepcopy(dict(default))  # a copy the caller may change
    where = f"routing option {name}"
    if not isinstance(given, Mapping):
        raise _refused(f"{where} must be a mapping (auto_controls, strength, controls)")
    unknown = sorted(set(given) - set(EDIT_KEYS))
    if unknown:
        raise _refused(f"{where}: unknown {', '.join(unknown)} (takes {', '.join(EDIT_KEYS)})")
    auto = given.get("auto_controls")
    if auto is not None and not isinstance(auto, bool):
        raise _refused(f"{where}: auto_controls is true or false")
    strength = given.get("strength")
    if strength is not None and strength not in EDIT_STRENGTHS:
        raise _refused(f"{where}: strength '{strength}' is not one of {', '.join(EDIT_STRENGTHS)}")
    controls = given.get("controls")
    if controls is not None:
        _check_controls(controls, where)
        if auto is True:
            raise _refused(f"{where}: controls cannot be given with auto_controls: true")
    chosen = {k: given[k] for k in EDIT_KEYS if given.get(k) is not None}
    return chosen or {"auto_controls": True}


def _check_controls(controls: Any, where: str) -> None:
    """Each control a mapping of its own fields: ``enabled`` true or false, ``blur``,
    ``augmentation``, ``sparsity`` "from 0 to 1", pose ``strength`` precise or coarse."""
    if not isinstance(controls, Mapping) or set(controls) - set(EDIT_CONTROLS):
        raise _refused(f"{where}: controls is a mapping of {', '.join(EDIT_CONTROLS)}")
    for control, spec in controls.items():
        fields = CONTROL_FIELDS[control]
        if not isinstance(spec, Mapping) or set(spec) - set(fields):
            raise _refused(f"{where}: controls.{control} takes {', '.join(fields)}")
        for key, value in spec.items():
            if key == "enabled":
                good = isinstance(value, bool)
            elif key == "strength":
                good = value in POSE_STRENGTHS
            else:
                good = not isinstance(value, bool) and isinstance(value, (int, float))
                good = good and 0 <= value <= 1
            if not good:
                what = {"enabled": "true or false", "strength": "precise or coarse"}
                raise _refused(
                    f"{where}: controls.{control}.{key} must be {what.get(key, 'from 0 to 1')}"
                )


def _ended(sentence: str) -> str:
    """``sentence`` ending in a full stop (so a cue can follow it)."""
    sentence = sentence.rstrip()
    return sentence if not sentence or sentence[-1] in ".!?" else sentence + "."


async def _file(path: Path, context: EngineContext) -> dict[str, str]:
    """An ImageRef to ``path``: the Files API id the core keeps per content."""
    return {"file_id": await context.upload(Path(path))}


def _refused(why: str) -> EngineRefusal:
    return EngineRefusal(AGENTS, why)
