"""What the Kling fake (``kling_server.py``) accepts: the official error table, the model enums
per endpoint, the capability map (model x mode x duration) and the checks of a create body.

Written from Kling's own API docs, never from the plugin. Sources, cited beside each rule:

- **OD-2026-03**: copy of the official EN API docs, github.com/artykrd/ai-bot-misha
  ``docs/kling_full.md`` (commit 1455ed3, 2026-03-27); sections named as in that file
  ("Error Code", "Capability Map" = its "Video Models" tables, "Text to Video - Create Task",
  "Image to Video - Create Task", "Omni-Video - Create Task", "Element", "Callback Protocol").
- **OD-2025-12**: the older copy, same repo, ``docs/kling_api.md`` @ a7b6213 (2025-12-12).
- **notes**: ``docs/providers/kling.md`` (our research notes; [3P] facts there are marked so).

Where the docs are silent the server takes a switch (see ``kling_server``); ``Rules`` holds
the ones the body checks need.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# OD-2026-03 "Error Code" (the same table in OD-2025-12): code -> (HTTP status, meaning).
CODES: dict[int, tuple[int, str]] = {
    1000: (401, "Authentication failed"),
    1001: (401, "Authorization is empty"),
    1002: (401, "Authorization is invalid"),
    1003: (401, "Authorization is not yet valid"),
    1004: (401, "Authorization has expired"),
    1100: (429, "Account exception"),
    1101: (429, "Account in arrears (postpaid scenario)"),
    1102: (429, "Resource pack depleted or expired (prepaid scenario)"),
    1103: (403, "Unauthorized access to requested resource, such as API/model"),
    1200: (400, "Invalid request parameters"),
    1201: (400, "Invalid parameters, such as incorrect key or illegal value"),
    1202: (404, "The requested method is invalid"),
    1203: (404, "The requested resource does not exist, such as the model"),
    1300: (400, "Trigger strategy of the platform"),
    1301: (400, "Trigger the content security policy of the platform"),
    1302: (429, "The API request is too fast, exceeding the platform's rate limit"),
    # OD-2026-03 "Concurrency Rules": the over-limit body's message, verbatim.
    1303: (429, "parallel task over resource pack limit"),
    1304: (429, "Trigger the platform's IP whitelisting policy"),
    5000: (500, "Server internal error"),
    5001: (503, "Server temporarily unavailable, usually due to maintenance"),
    5002: (504, "Server internal timeout, usually due to a backlog"),
}

# model_name enums, per endpoint: OD-2026-03 "Text to Video / Image to Video / Omni-Video -
# Create Task" (default kling-v1 on text2video and image2video, kling-video-o1 on omni-video).
T2V_MODELS = (
    "kling-v1",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v2-6",
    "kling-v3",
)
I2V_MODELS = (
    "kling-v1",
    "kling-v1-5",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v2-6",
    "kling-v3",
)
OMNI_MODELS = ("kling-video-o1", "kling-v3-omni")
MODELS = {"text2video": T2V_MODELS, "image2video": I2V_MODELS, "omni-video": OMNI_MODELS}
DEFAULT_MODEL = {
    "text2video": "kling-v1",
    "image2video": "kling-v1",
    "omni-video": "kling-video-o1",
}
# mode: default std on text2video / image2video, pro on omni-video (OD-2026-03 bodies).
DEFAULT_MODE = {"text2video": "std", "image2video": "std", "omni-video": "pro"}

# Body fields per endpoint (OD-2026-03 request bodies). ``model`` is the legacy field that
# "is equivalent to the default behavior when model_name is empty (i.e., call the V1 model)"
# (OD-2026-03 Text/Image to Video note); omni-video documents no such field.
COMMON_FIELDS = (
    "model_name",
    "prompt",
    "multi_shot",
    "shot_type",
    "multi_prompt",
    "sound",
    "mode",
    "duration",
    "watermark_info",
    "callback_url",
    "external_task_id",
)
FIELDS = {
    "text2video": frozenset(
        (*COMMON_FIELDS, "model", "negative_prompt", "cfg_scale", "camera_control", "aspect_ratio")
    ),
    # image2video has no aspect_ratio: the video takes the image's shape (OD-2026-03).
    "image2video": frozenset(
        (
            *COMMON_FIELDS,
            "model",
            "image",
            "image_tail",
            "negative_prompt",
            "element_list",
            "voice_list",
            "cfg_scale",
            "static_mask",
            "dynamic_masks",
            "camera_control",
        )
    ),
    "omni-video": frozenset(
        (*COMMON_FIELDS, "image_list", "element_list", "video_list", "aspect_ratio")
    ),
}
ELEMENT_FIELDS = frozenset(  # OD-2026-03 "Element - Create Element"
    (
        "element_name",
        "element_description",
        "reference_type",
        "element_image_list",
        "element_video_list",
        "element_voice_id",
        "tag_list",
        "callback_url",
        "external_task_id",
    )
)

ASPECT_RATIOS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}  # OD-2026-03 aspect_ratio
MAX_PROMPT = 2500  # prompt, negative_prompt: "Cannot exceed 2500 characters" (OD-2026-03)
MAX_SHOTS = 6  # multi_prompt: "up to 6 storyboards, with a minimum of 1" (OD-2026-03)
MAX_SHOT_PROMPT = 512  # "The maximum length of the prompt for each storyboard 512"
# image / image_tail / image_list / element images: ".jpg / .jpeg / .png", "<=10MB",
# "min 300px", "aspect ratio: 1:2.5 ~ 2.5:1" (OD-2026-03 Image to Video ``image``).
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MIN_IMAGE_SIDE = 300
CAMERA_TYPES = ("simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward")
CAMERA_FIELDS = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
TAG_IDS = tuple(f"o_{n}" for n in range(101, 109))  # OD-2026-03 Element ``tag_list``
SHORT = ("5", "10")
V3 = tuple(str(s) for s in range(3, 16))  # duration enum "3".."15" (OD-2026-03)
O1 = tuple(str(s) for s in range(3, 11))  # kling-video-o1 "std (3s~10s)" (Capability Map)
USD_PER_UNIT = 0.14  # [3P] notes section 1.3: "video Units are $0.14 each"


def _cells(*pairs: str) -> frozenset[tuple[str, str]]:
    """``"pro 5"`` -> ``("pro", "5")``: capability-map cells (mode, duration)."""
    return frozenset(tuple(p.split()) for p in pairs)  # type: ignore[misc]


def _all(modes: Iterable[str], durations: Iterable[str]) -> frozenset[tuple[str, str]]:
    return frozenset((m, d) for m in modes for d in durations)


@dataclass(frozen=True)
class Caps:
    """One model's row of the Capability Map (OD-2026-03 "Video Models"; OD-2025-12 has the
    same cells for the models up to kling-v2-5-turbo). Cells are (mode, duration)."""

    durations: tuple[str, ...]
    short: dict[str, int]  # mode -> nominal short side (the resolution table)
    fps_t2v: int = 24
    fps_i2v: int = 24
    start_end: frozenset[tuple[str, str]] = frozenset()  # image + image_tail
    end_only: frozenset[tuple[str, str]] = frozenset()  # image_tail alone ("end frame" row)
    camera_t2v: frozenset[tuple[str, str]] = frozenset()
    camera_i2v: frozenset[tuple[str, str]] = frozenset()  # "(simple only)"
    motion_brush: frozenset[tuple[str, str]] = frozenset()
    sound_modes: tuple[str, ...] | None = None  # modes taking sound "on"; None: no audio row
    start_end_silent_only: bool = False  # kling-v2-6: "start/end frame ... (only no audio)"
    voice: frozenset[tuple[str, str]] = frozenset()  # "voice control"
    multi_shot: bool = False
    elements: tuple[str, ...] = ()  # reference types usable in element_list
    no_cfg_scale: bool = False  # "kling-v2.x models do not support this parameter"
    t2v_durations: tuple[str, ...] | None = None  # kling-video-o1 t2v "only 5s, 10s"
    units: dict[str, float] = field(default_factory=dict)  # mode -> units/s, silent ([3P])
    units_audio: dict[str, float] = field(default_factory=dict)  # mode -> units/s, sound on


CAPS: dict[str, Caps] = {
    # kling-v1: 720p in both modes, 30 fps (resolution table); t2v camera control std 5s only;
    # start/end frame and motion brush std 5s and pro 5s.
    "kling-v1": Caps(
        SHORT,
        {"std": 720, "pro": 720},
        30,
        30,
        start_end=_cells("std 5", "pro 5"),
        camera_t2v=_cells("std 5"),
        motion_brush=_cells("std 5", "pro 5"),
        units={"std": 0.2, "pro": 0.7},
    ),
    # kling-v1-5: image2video only; start/end and end frame pro 5/10; motion brush pro 5;
    # camera control "(simple only)" pro 5.
    "kling-v1-5": Caps(
        SHORT,
        {"std": 720, "pro": 1080},
        30,
        30,
        start_end=_cells("pro 5", "pro 10"),
        end_only=_cells("pro 5", "pro 10"),
        camera_i2v=_cells("pro 5"),
        motion_brush=_cells("pro 5"),
        units={"std": 0.4, "pro": 0.7},
    ),
    # kling-v1-6: t2v 24 fps, i2v 30 fps; start/end and end frame pro 5/10; no camera row.
    "kling-v1-6": Caps(
        SHORT,
        {"std": 720, "pro": 1080},
        24,
        30,
        start_end=_cells("pro 5", "pro 10"),
        end_only=_cells("pro 5", "pro 10"),
        units={"std": 0.4, "pro": 0.7},
    ),
    # kling-v2-master: "5s 10s", no mode column; 720p 24 fps (resolution table; [3P] pricing
    # says 1080p: CONFLICT, the table is followed).
    "kling-v2-master": Caps(
        SHORT, {"std": 720, "pro": 720}, no_cfg_scale=True, units={"std": 2.0, "pro": 2.0}
    ),
    "kling-v2-1": Caps(  # image2video only; start/end pro 5/10
        SHORT,
        {"std": 720, "pro": 1080},
        start_end=_cells("pro 5", "pro 10"),
        no_cfg_scale=True,
        units={"std": 0.4, "pro": 0.7},
    ),
    "kling-v2-1-master": Caps(
        SHORT, {"std": 1080, "pro": 1080}, no_cfg_scale=True, units={"std": 2.0, "pro": 2.0}
    ),
    # kling-v2-5-turbo: std and pro 5/10 (capability map); the resolution table lists PRO
    # 1080p only, std taken as 720p (fake's assumption); start/end pro 5/10.
    "kling-v2-5-turbo": Caps(
        SHORT,
        {"std": 720, "pro": 1080},
        start_end=_cells("pro 5", "pro 10"),
        no_cfg_scale=True,
        units={"std": 0.3, "pro": 0.5},
    ),
    # kling-v2-6: std "(only no audio)", pro with audio; start/end pro 5/10 "(only no audio)";
    # voice control pro 5/10 (Capability Map). 720p/1080p per [3P] useapi (notes 1.1).
    "kling-v2-6": Caps(
        SHORT,
        {"std": 720, "pro": 1080},
        start_end=_cells("pro 5", "pro 10"),
        sound_modes=("pro",),
        start_end_silent_only=True,
        voice=_cells("pro 5", "pro 10"),
        no_cfg_scale=True,
        units={"std": 0.3, "pro": 0.5},
        units_audio={"pro": 1.0},
    ),
    # kling-v3: std and pro "(3~15s)"; multi-shot t2v and i2v; start & end frame; element
    # control "(video character elements & multi-image elements)"; voice control ❌.
    # Sound: the v3 body examples send "sound": "on" (OD-2026-03 multi-shot examples).
    "kling-v3": Caps(
        V3,
        {"std": 720, "pro": 1080},
        start_end=_all(("std", "pro"), V3),
        sound_modes=("std", "pro"),
        multi_shot=True,
        elements=("image_refer", "video_refer"),
        units={"std": 0.6, "pro": 0.8},
        units_audio={"std": 0.9, "pro": 1.2},
    ),
    # kling-v3-omni: std/pro 3~15s, multi-shot, start & end, elements (both kinds), reference
    # video; voice control ❌. Audio priced by [3P] (notes 1.3).
    "kling-v3-omni": Caps(
        V3,
        {"std": 720, "pro": 1080},
        start_end=_all(("std", "pro"), V3),
        sound_modes=("std", "pro"),
        multi_shot=True,
        elements=("image_refer", "video_refer"),
        units={"std": 0.6, "pro": 0.8},
        units_audio={"std": 0.8, "pro": 1.0},
    ),
    # kling-video-o1: std/pro 3~10s; t2v and start-frame-only i2v "only 5s, 10s"; start & end;
    # element control "(only multi-image elements)"; no multi-shot row; no audio row.
    "kling-video-o1": Caps(
        O1,
        {"std": 720, "pro": 1080},
        start_end=_all(("std", "pro"), O1),
        elements=("image_refer",),
        t2v_durations=SHORT,
        units={"std": 0.6, "pro": 0.8},
    ),
}


class Refused(ValueError):
    """A request answered with ``code`` (its HTTP status from ``CODES``) and ``message``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ImageInfo:
    """What an image field held."""

    source: str  # "url" | "base64"
    url: str | None = None
    format: str | None = None  # "JPEG" | "PNG"
    width: int = 0
    height: int = 0
    sha256: str = ""


@dataclass(frozen=True)
class ElementInfo:
    """A usable element: its id and ``reference_type`` (image_refer | video_refer)."""

    element_id: int
    reference_type: str


@dataclass
class Spec:
    """A checked create body: what the task is."""

    kind: str
    model: str
    mode: str
    duration: int
    prompt: str  # the prompt, or the shots' prompts joined (multi-shot customize)
    request: dict[str, Any]  # the body, image data replaced by a summary
    images: dict[str, ImageInfo]  # "image", "image_tail", "image_list[0]", ...
    external_task_id: str | None
    callback_url: str | None
    width: int  # nominal
    height: int
    fps: int
    sound: bool
    watermark: bool
    multi_shot: bool
    element_ids: tuple[int, ...]
    units: float  # units the task deducts when it succeeds
    texts: tuple[str, ...]  # every prompt text (for the content policy)


@dataclass
class Rules:
    """The create checks, with the answers the docs leave open (see ``kling_server``)."""

    unknown_fields: str = "reject"  # "reject" (1201) | "ignore"
    older_sound: str = "refuse"  # sound "on" where the map has no audio: "refuse" | "accept"
    unknown_element: int = 1203  # code for an element id that is not usable
    element: Callable[[int], ElementInfo | None] = lambda _id: None

    # -- entry points ---------------------------------------------------------------------------
    def video(self, kind: str, data: dict[str, Any]) -> Spec:
        """Check a create body for ``kind`` (text2video | image2video | omni-video)."""
        self.fields(data, FIELDS[kind])
        model = self.model(kind, data)
        caps = CAPS[model]
        mode = data.get("mode")
        mode = DEFAULT_MODE[kind] if mode is None else mode
        if mode not in ("std", "pro"):  # "Enum values: std, pro" (OD-2026-03 ``mode``)
            raise Refused(1201, "mode must be 'std' or 'pro'")
        duration = _duration(data, caps, model, mode)
        multi = _multi_shot(data, caps, model, int(duration))
        prompt = _text(data, "prompt", MAX_PROMPT)
        if not prompt and not (multi and data.get("shot_type") == "customize"):
            # "When multi_shot is false or shot_type is intelligence, this parameter must not
            # be empty" (OD-2026-03 prompt, all three endpoints). OD-2025-12 had the i2v prompt
            # optional: the newer text is followed.
            raise Refused(1201, "prompt is required (must not be empty)")
        negative = _text(data, "negative_prompt", MAX_PROMPT)
        sound = self.sound(data, caps, model, mode)
        watermark = _watermark(data)
        callback = _callback(data)
        ext = _external_id(data)
        cfg = data.get("cfg_scale")
        if cfg is not None:
            if isinstance(cfg, bool) or not isinstance(cfg, (int, float)) or not 0 <= cfg <= 1:
                raise Refused(1201, "cfg_scale must be a number in [0, 1]")  # "[0, 1]"
            if caps.no_cfg_scale:  # "kling-v2.x models do not support this parameter"
                raise Refused(1201, f"cfg_scale is not supported by {model}")
        cell = (mode, duration)
        if kind == "omni-video":
            images, shape, elements, extra = self.omni(data, caps, model, cell, multi, sound)
        else:
            images, shape, elements, extra = self.legacy(kind, data, caps, model, cell, multi)
        both = "image" in images and "image_tail" in images
        if kind == "image2video" and caps.start_end_silent_only and sound and both:
            # kling-v2-6 "start/end frame ... (only no audio)" (Capability Map)
            raise Refused(1201, f"{model}: start and end frames only without sound")
        seconds = extra.get("seconds", int(duration))
        width, height = _nominal(caps.short[mode], shape)
        fps = caps.fps_t2v if kind == "text2video" else caps.fps_i2v
        rate = (caps.units_audio if sound else caps.units).get(mode) or caps.units.get(mode, 0.0)
        shots = [s["prompt"] for s in data.get("multi_prompt") or []] if multi else []
        request = _summary(data, images)
        return Spec(
            kind=kind,
            model=model,
            mode=mode,
            duration=seconds,
            prompt=prompt or " / ".join(shots),
            request=request,
            images=images,
            external_task_id=ext,
            callback_url=callback,
            width=width,
            height=height,
            fps=fps,
            sound=sound,
            watermark=watermark,
            multi_shot=multi,
            element_ids=elements,
            units=round(rate * seconds, 3),
            texts=tuple(t for t in (prompt, negative, *shots) if t),
        )

    def fields(self, data: dict[str, Any], allowed: frozenset[str]) -> None:
        """Unknown body fields: SILENT in the docs; ``unknown_fields`` decides."""
        unknown = sorted(k for k in data if k not in allowed)
        if unknown and self.unknown_fields == "reject":
            raise Refused(1201, f"unknown parameter(s): {', '.join(unknown)}")

    def model(self, kind: str, data: dict[str, Any]) -> str:
        model = data.get("model_name")
        if model is None:  # the default; what the legacy ``model`` field means (OD-2026-03)
            return DEFAULT_MODEL[kind]
        if model not in MODELS[kind]:
            # 1203 "The requested resource does not exist, such as the model" (Error Code).
            raise Refused(1203, f"model_name {model!r} does not exist for {kind}")
        return str(model)

    def sound(self, data: dict[str, Any], caps: Caps, model: str, mode: str) -> bool:
        sound = data.get("sound")
        if sound is None or sound == "off":  # "Default to off" (OD-2026-03 ``sound``)
            return False
        if sound != "on":
            raise Refused(1201, "sound must be 'on' or 'off'")
        if caps.sound_modes is None:
            # No audio row in the Capability Map for this model: SILENT; ``older_sound``.
            if self.older_sound == "refuse":
                raise Refused(1201, f"sound 'on' is not supported by {model}")
            return True
        if mode not in caps.sound_modes:  # kling-v2-6 std "(only no audio)"
            raise Refused(1201, f"sound 'on' is not supported by {model} in {mode} mode")
        return True

    # -- text2video and image2video -------------------------------------------------------------
    def legacy(
        self,
        kind: str,
        data: dict[str, Any],
        caps: Caps,
        model: str,
        cell: tuple[str, str],
        multi: bool,
    ) -> tuple[dict[str, ImageInfo], tuple[int, int], tuple[int, ...], dict[str, Any]]:
        mode, duration = cell
        where = f"{model} {mode} {duration}s"
        if kind == "text2video":
            ratio = data.get("aspect_ratio")
            ratio = "16:9" if ratio is None else ratio  # "Default to 16:9"
            if ratio not in ASPECT_RATIOS:
                raise Refused(1201, "aspect_ratio must be one of 16:9, 9:16, 1:1")
            camera = data.get("camera_control")
            if camera is not None:
                _camera(camera)
                if cell not in caps.camera_t2v:  # kling-v1 std 5s only (Capability Map)
                    raise Refused(1201, f"camera_control is not supported for {where}")
            return {}, ASPECT_RATIOS[ratio], (), {}
        images = {
            name: check_image(name, data[name], ratio=name == "image")
            for name in ("image", "image_tail")
            if data.get(name) not in (None, "")
        }
        if not images:  # "At least one of image or image_tail must be provided"
            raise Refused(1201, "at least one of image or image_tail must be provided")
        masks = data.get("static_mask") is not None or data.get("dynamic_masks") is not None
        camera = data.get("camera_control")
        tail = "image_tail" in images
        # "image_tail, dynamic_masks/static_mask, and camera_control are mutually exclusive"
        if tail + masks + (camera is not None) > 1:
            raise Refused(
                1201, "image_tail, dynamic_masks/static_mask and camera_control are exclusive"
            )
        if tail and "image" in images and cell not in caps.start_end:
            raise Refused(1201, f"start and end frames (image_tail) are not supported for {where}")
        if tail and "image" not in images and cell not in caps.end_only:
            raise Refused(1201, f"an end frame alone (image_tail) is not supported for {where}")
        if multi and tail:  # multi_shot: "the first/end frame generation is not supported"
            raise Refused(1201, "image_tail cannot be used with multi_shot")
        if camera is not None:
            _camera(camera)
            if cell not in caps.camera_i2v:  # kling-v1-5 pro 5s (Capability Map)
                raise Refused(1201, f"camera_control is not supported for {where}")
            if camera.get("type") != "simple":  # "camera control (simple only)"
                raise Refused(1201, f"camera_control: only type 'simple' for {where}")
        if masks:
            if cell not in caps.motion_brush:  # "motion brush" row
                raise Refused(1201, f"motion brush (masks) is not supported for {where}")
            if "image" not in images:
                raise Refused(1201, "motion brush masks need an image")
            _masks(data)
        elements = self.elements(data, caps, model, limit=3)  # "Supports up to 3"
        voices = data.get("voice_list")
        if voices is not None:
            if elements:  # "element_list and voice_list are mutually exclusive"
                raise Refused(1201, "element_list and voice_list cannot be used together")
            _voices(voices, data, caps, model, cell)
        first = images.get("image") or images.get("image_tail")
        shape = (first.width, first.height) if first and first.width else (16, 9)
        return images, shape, elements, {}

    def elements(
        self, data: dict[str, Any], caps: Caps, model: str, *, limit: int
    ) -> tuple[int, ...]:
        value = data.get("element_list")
        if value is None:
            return ()
        if not caps.elements:  # element control: kling-v3, kling-v3-omni, kling-video-o1 only
            raise Refused(1201, f"element_list is not supported by {model}")
        if not isinstance(value, list) or not all(
            isinstance(e, dict) and "element_id" in e for e in value
        ):
            raise Refused(1201, "element_list must be a list of {element_id}")
        if len(value) > limit:
            raise Refused(1201, f"element_list: at most {limit} elements here")
        ids = []
        for entry in value:
            raw = entry["element_id"]  # "long"; the docs' examples also send digit strings
            if isinstance(raw, bool) or not (
                isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit())
            ):
                raise Refused(1201, "element_id must be a long")
            found = self.element(int(raw))
            if found is None:  # SILENT (which code): ``unknown_element``
                raise Refused(self.unknown_element, f"element_id {raw} does not exist")
            if found.reference_type not in caps.elements:
                # kling-video-o1: "(only multi-image elements)" (Capability Map)
                raise Refused(1201, f"{model} does not support {found.reference_type} elements")
            ids.append(int(raw))
        return tuple(ids)

    # -- omni-video -----------------------------------------------------------------------------
    def omni(
        self,
        data: dict[str, Any],
        caps: Caps,
        model: str,
        cell: tuple[str, str],
        multi: bool,
        sound: bool,
    ) -> tuple[dict[str, ImageInfo], tuple[int, int], tuple[int, ...], dict[str, Any]]:
        """OD-2026-03 "Omni-Video - Create Task": image_list, element_list, video_list."""
        duration = cell[1]
        images: dict[str, ImageInfo] = {}
        types: dict[str, str] = {}
        listed = data.get("image_list") or []
        if not isinstance(listed, list):
            raise Refused(1201, "image_list must be a list")
        for n, item in enumerate(listed):
            if not isinstance(item, dict) or not item.get("image_url"):
                raise Refused(1201, "image_list: image_url must not be empty")
            kind = item.get("type")
            if kind is not None:
                if kind not in ("first_frame", "end_frame"):
                    raise Refused(1201, "image_list type must be first_frame or end_frame")
                if kind in types.values():
                    raise Refused(1201, f"image_list: one {kind} at most")
                types[f"image_list[{n}]"] = kind
            images[f"image_list[{n}]"] = check_image(f"image_list[{n}]", item["image_url"])
        frames = set(types.values())
        if "end_frame" in frames and "first_frame" not in frames:
            raise Refused(1201, "image_list: an end_frame needs a first_frame")  # "does not
            # support only the end frame"
        videos = data.get("video_list") or []
        if not isinstance(videos, list) or len(videos) > 1:  # "Max 1 video"
            raise Refused(1201, "video_list: at most 1 video")
        video = None
        if videos:
            video = videos[0]
            if not isinstance(video, dict) or not _is_url(video.get("video_url")):
                raise Refused(1201, "video_list: video_url must be a URL")
            if video.get("refer_type", "base") not in ("feature", "base"):
                raise Refused(1201, "video_list refer_type must be feature or base")
            if video.get("keep_original_sound", "yes") not in ("yes", "no"):
                raise Refused(1201, "video_list keep_original_sound must be yes or no")
            if sound:  # "When there is a reference video, ... sound ... can only be off"
                raise Refused(1201, "sound must be off with a reference video")
        base = video is not None and video.get("refer_type", "base") == "base"
        if base and frames:  # "When reference video is base type, first/end frames cannot..."
            raise Refused(1201, "first/end frames cannot be used with a base (edit) video")
        if multi and frames:  # multi_shot: "does not support setting the start & end frames"
            raise Refused(1201, "first/end frames cannot be used with multi_shot")
        if frames == {"first_frame", "end_frame"}:
            if cell not in caps.start_end:
                raise Refused(1201, f"start & end frames are not supported for {model}")
            if model == "kling-video-o1" and len(listed) > 2:
                # "When using the O1 model, setting the start & end frame is not supported
                # when there are more than two images in the array."
                raise Refused(1201, "kling-video-o1: start & end frames with at most 2 images")
        plain = not listed or frames == {"first_frame"}
        if caps.t2v_durations and duration not in caps.t2v_durations and not video and plain:
            # kling-video-o1 t2v and start-frame-only i2v: "only 5s, 10s" (Capability Map)
            raise Refused(1201, f"{model}: text / start-frame video only 5 or 10 s")
        limit = 7 if video is None else 4  # images + elements <= 7, or <= 4 with a video
        most = limit
        if frames == {"first_frame"}:  # "using the first frame, a maximum of 3 elements"
            most = 3
        elif frames:  # start & end: "kling-v3-omni ... up to 3 elements", o1 none
            most = 3 if model == "kling-v3-omni" else 0
        elements = self.elements(data, caps, model, limit=most)
        if len(images) + len(elements) > limit:
            raise Refused(1201, f"images + elements must not exceed {limit}")
        if video is not None and any(
            (self.element(e) or ElementInfo(e, "")).reference_type == "video_refer"
            for e in elements
        ):  # "... and the use of video subjects is not supported" (with a reference video)
            raise Refused(1201, "video character elements cannot be used with a reference video")
        ratio = data.get("aspect_ratio")
        if ratio is not None and ratio not in ASPECT_RATIOS:
            raise Refused(1201, "aspect_ratio must be one of 16:9, 9:16, 1:1")
        first = next((images[k] for k, t in types.items() if t == "first_frame"), None)
        if ratio is None and first is None and not base:
            # "This parameter is required when NOT using first-frame reference or video editing"
            raise Refused(1201, "aspect_ratio is required without a first frame or a base video")
        shape = ASPECT_RATIOS.get(ratio or "16:9", (16, 9))
        if first is not None and first.width:
            shape = (first.width, first.height)
        extra: dict[str, Any] = {}
        if base:
            # "the output result is the same as the duration of the incoming video, and the
            # current parameter is invalid": the fake cannot read the video (a URL, never
            # fetched) and takes BASE_VIDEO_SECONDS.
            extra["seconds"] = BASE_VIDEO_SECONDS
        return images, shape, elements, extra


BASE_VIDEO_SECONDS = 5  # the fake's length for an edited (refer_type base) video


def check_image(name: str, value: Any, *, ratio: bool = True) -> ImageInfo:
    """One image field: an http(s) URL (recorded, never fetched) or raw base64 of a JPEG/PNG
    of at most 10 MB, each side >= 300 px, ratio 1:2.5..2.5:1 unless ``ratio`` is False
    (``image_tail`` documents no ratio). OD-2026-03 Image to Video ``image`` / ``image_tail``."""
    from PIL import Image, UnidentifiedImageError

    if not isinstance(value, str) or not value:
        raise Refused(1201, f"{name} must be an image URL or base64 string")
    if _is_url(value):
        return ImageInfo(source="url", url=value)
    if value.startswith("data:"):  # "do NOT add any prefix like data:image/png;base64,"
        raise Refused(1201, f"{name}: send raw base64, without a 'data:' prefix")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(1201, f"{name} is neither a URL nor valid base64") from None
    if len(raw) > MAX_IMAGE_BYTES:
        raise Refused(1201, f"{name} is over 10MB")
    try:
        with Image.open(io.BytesIO(raw)) as image:
            fmt, (width, height) = image.format, image.size
    except (OSError, UnidentifiedImageError):
        raise Refused(1201, f"{name} is not an image") from None
    if fmt not in ("JPEG", "PNG"):
        raise Refused(1201, f"{name}: the format must be jpg, jpeg or png, not {fmt}")
    if min(width, height) < MIN_IMAGE_SIDE:
        raise Refused(1201, f"{name}: each side must be at least {MIN_IMAGE_SIDE}px")
    if ratio and not 1 / 2.5 <= width / height <= 2.5:
        raise Refused(1201, f"{name}: the aspect ratio must be between 1:2.5 and 2.5:1")
    return ImageInfo("base64", None, fmt, width, height, hashlib.sha256(raw).hexdigest())


def check_element(data: dict[str, Any], rules: Rules) -> dict[str, Any]:
    """An element create body (OD-2026-03 "Element - Create Element"); its summary."""
    rules.fields(data, ELEMENT_FIELDS)
    name = data.get("element_name")
    if not isinstance(name, str) or not name or len(name) > 20:  # "Must not exceed 20"
        raise Refused(1201, "element_name is required, at most 20 characters")
    text = data.get("element_description")
    if not isinstance(text, str) or not text or len(text) > 100:  # "Must not exceed 100"
        raise Refused(1201, "element_description is required, at most 100 characters")
    kind = data.get("reference_type")
    if kind not in ("image_refer", "video_refer"):
        raise Refused(1201, "reference_type must be image_refer or video_refer")
    summary = {k: v for k, v in data.items() if k not in ("element_image_list",)}
    if kind == "image_refer":
        listed = data.get("element_image_list")
        if not isinstance(listed, dict) or not listed.get("frontal_image"):
            raise Refused(1201, "element_image_list.frontal_image is required for image_refer")
        refer = listed.get("refer_images")
        # "at least one frontal reference image, and 1 to 3 additional reference images"
        if not isinstance(refer, list) or not 1 <= len(refer) <= 3:
            raise Refused(1201, "element_image_list.refer_images: 1 to 3 images")
        front = check_image("frontal_image", listed["frontal_image"])
        others = []
        for n, item in enumerate(refer):
            if not isinstance(item, dict) or not item.get("image_url"):
                raise Refused(1201, "refer_images: image_url must not be empty")
            others.append(check_image(f"refer_images[{n}]", item["image_url"]))
        summary["element_image_list"] = {
            "frontal_image": _image_summary(front),
            "refer_images": [{"image_url": _image_summary(i)} for i in others],
        }
    else:
        listed = data.get("element_video_list")
        videos = listed.get("refer_videos") if isinstance(listed, dict) else None
        # "At most 1 video", "video_url must not be empty" (length/format unchecked: a URL)
        if not isinstance(videos, list) or len(videos) != 1:
            raise Refused(1201, "element_video_list.refer_videos: exactly 1 video")
        if not isinstance(videos[0], dict) or not _is_url(videos[0].get("video_url")):
            raise Refused(1201, "refer_videos: video_url must be a URL")
    if data.get("element_voice_id") not in (None, "") and kind != "video_refer":
        # "Only the elements customized for video support binding with voice."
        raise Refused(1201, "element_voice_id: only video_refer elements take a voice")
    tags = data.get("tag_list")
    if tags is not None and (
        not isinstance(tags, list)
        or not all(isinstance(t, dict) and t.get("tag_id") in TAG_IDS for t in tags)
    ):
        raise Refused(1201, f"tag_list: tag_id must be one of {', '.join(TAG_IDS)}")
    summary["callback_url"] = _callback(data)
    summary["external_task_id"] = _external_id(data)
    return summary


# -- small checks ---------------------------------------------------------------------------------
def _is_url(value: Any) -> bool:
    return isinstance(value, str) and urlsplit(value).scheme in ("http", "https")


def _text(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise Refused(1201, f"{name} must be a string of at most {limit} characters")
    return value


def _duration(data: dict[str, Any], caps: Caps, model: str, mode: str) -> str:
    duration = data.get("duration")
    if duration is None:
        return "5"  # "Default to 5"
    if not isinstance(duration, str):  # "duration string" with a string enum (OD-2026-03)
        raise Refused(1201, "duration must be a string, e.g. '5'")
    if duration not in V3:
        raise Refused(1201, "duration must be one of '3'..'15'")
    if duration not in caps.durations:  # per model (Capability Map)
        allowed = ", ".join(repr(d) for d in caps.durations)
        raise Refused(1201, f"duration {duration!r} is not supported by {model}: {allowed}")
    return duration


def _multi_shot(data: dict[str, Any], caps: Caps, model: str, total: int) -> bool:
    """multi_shot / shot_type / multi_prompt (OD-2026-03, all three create bodies)."""
    value = data.get("multi_shot", False)
    if value in (True, "true"):  # boolean; the official i2v example sends "true"
        on = True
    elif value in (False, "false", None):
        on = False
    else:
        raise Refused(1201, "multi_shot must be a boolean")
    if not on:  # "When false: the shot_type and multi_prompt parameters are invalid"
        return False
    if not caps.multi_shot:  # multi-shot rows: kling-v3, kling-v3-omni (Capability Map)
        raise Refused(1201, f"multi_shot is not supported by {model}")
    shot_type = data.get("shot_type")
    if shot_type not in ("customize", "intelligence"):  # "required" when multi_shot is true
        raise Refused(1201, "shot_type must be customize or intelligence with multi_shot")
    if shot_type == "intelligence":
        return True
    shots = data.get("multi_prompt")
    if not isinstance(shots, list) or not 1 <= len(shots) <= MAX_SHOTS:
        raise Refused(1201, f"multi_prompt: 1 to {MAX_SHOTS} shots for shot_type customize")
    seconds = 0
    for shot in shots:
        if not isinstance(shot, dict) or set(shot) - {"index", "prompt", "duration"}:
            raise Refused(1201, "multi_prompt items are {index, prompt, duration}")
        index, prompt, length = shot.get("index"), shot.get("prompt"), shot.get("duration")
        if isinstance(index, bool) or not isinstance(index, int):
            raise Refused(1201, "multi_prompt index must be an int")
        if not isinstance(prompt, str) or not prompt or len(prompt) > MAX_SHOT_PROMPT:
            raise Refused(1201, f"multi_prompt prompt: 1 to {MAX_SHOT_PROMPT} characters")
        if not isinstance(length, str) or not length.isdigit() or not 1 <= int(length) <= total:
            # "should not exceed the total duration, but should not be less than 1"
            raise Refused(1201, "multi_prompt duration: a string of seconds, 1..total")
        seconds += int(length)
    if seconds != total:  # "The sum of the durations ... equals the total duration"
        raise Refused(1201, f"multi_prompt durations sum to {seconds}, not the duration {total}")
    return True


def _voices(
    voices: Any, data: dict[str, Any], caps: Caps, model: str, cell: tuple[str, str]
) -> None:
    """voice_list (OD-2026-03 Image to Video): kling-v2-6 pro 5/10 (voice control row),
    up to 2 voices, "when specifying a voice, the sound parameter must be on"."""
    if cell not in caps.voice:
        raise Refused(1201, f"voice_list is not supported for {model} {cell[0]} {cell[1]}s")
    if not isinstance(voices, list) or not 1 <= len(voices) <= 2:
        raise Refused(1201, "voice_list: up to 2 voices")
    if not all(isinstance(v, dict) and isinstance(v.get("voice_id"), str) for v in voices):
        raise Refused(1201, "voice_list items are {voice_id}")
    if data.get("sound") != "on":
        raise Refused(1201, "voice_list needs sound 'on'")


def _watermark(data: dict[str, Any]) -> bool:
    value = data.get("watermark_info")
    if value is None:
        return False
    if not isinstance(value, dict) or not isinstance(value.get("enabled", False), bool):
        raise Refused(1201, 'watermark_info must be {"enabled": boolean}')
    return bool(value.get("enabled", False))


def _callback(data: dict[str, Any]) -> str | None:
    value = data.get("callback_url")
    if value in (None, ""):  # the official examples send "callback_url": ""
        return None
    if not _is_url(value):
        raise Refused(1201, "callback_url must be an http(s) URL")
    return str(value)


def _external_id(data: dict[str, Any]) -> str | None:
    value = data.get("external_task_id")
    if value in (None, ""):  # the official examples send "external_task_id": ""
        return None
    if not isinstance(value, str):
        raise Refused(1201, "external_task_id must be a string")
    return value


def _camera(camera: Any) -> None:
    """camera_control (OD-2026-03 Text to Video): ``type`` enum; ``simple`` needs a config of
    the six fields in [-10, 10], "only one can be non-zero"; other types "config ... None"."""
    if not isinstance(camera, dict) or camera.get("type") not in CAMERA_TYPES:
        raise Refused(1201, f"camera_control.type must be one of {', '.join(CAMERA_TYPES)}")
    config = camera.get("config")
    if camera["type"] != "simple":
        if config is not None:
            raise Refused(1201, f"camera_control {camera['type']} takes no config")
        return
    if not isinstance(config, dict) or set(config) - set(CAMERA_FIELDS):
        raise Refused(1201, f"camera_control.config takes {', '.join(CAMERA_FIELDS)}")
    values = [config.get(name, 0) for name in CAMERA_FIELDS]
    if not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and -10 <= v <= 10 for v in values
    ):
        raise Refused(1201, "camera_control.config values must be numbers in [-10, 10]")
    if sum(1 for v in values if v != 0) != 1:
        raise Refused(1201, "camera_control simple: exactly one config value must be non-zero")


def _masks(data: dict[str, Any]) -> None:
    """static_mask / dynamic_masks (OD-2026-03 Image to Video): images as ``image``; up to 6
    dynamic groups, each a mask and 2..77 trajectory points {x, y} (ints)."""
    if data.get("static_mask") is not None:
        check_image("static_mask", data["static_mask"])
    groups = data.get("dynamic_masks")
    if groups is None:
        return
    if not isinstance(groups, list) or not 1 <= len(groups) <= 6:
        raise Refused(1201, "dynamic_masks: 1 to 6 groups")
    for group in groups:
        if not isinstance(group, dict):
            raise Refused(1201, "dynamic_masks items are {mask, trajectories}")
        check_image("dynamic_masks.mask", group.get("mask"))
        points = group.get("trajectories")
        if not isinstance(points, list) or not 2 <= len(points) <= 77:
            raise Refused(1201, "dynamic_masks.trajectories: 2 to 77 points")
        for p in points:
            if not isinstance(p, dict) or not all(
                isinstance(p.get(k), int) and not isinstance(p.get(k), bool) for k in "xy"
            ):
                raise Refused(1201, "trajectory points are {x: int, y: int}")


def _nominal(short: int, shape: tuple[int, int]) -> tuple[int, int]:
    from .clips import nominal_size

    return nominal_size(short, shape)


def _image_summary(info: ImageInfo) -> str:
    return f"<{info.source} {info.format or info.url} {info.width}x{info.height}>"


def _summary(data: dict[str, Any], images: dict[str, ImageInfo]) -> dict[str, Any]:
    """The body with each image replaced by ``<source format-or-url WxH>``."""

    def short(value: Any) -> Any:
        if isinstance(value, str) and len(value) > 200 and not _is_url(value):
            return f"<base64 {len(value)} chars>"
        return value

    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in images:
            out[key] = _image_summary(images[key])
        elif key == "static_mask":
            out[key] = short(value)
        elif key == "image_list" and isinstance(value, list):
            out[key] = [
                {**v, "image_url": _image_summary(images[f"image_list[{n}]"])}
                if f"image_list[{n}]" in images and isinstance(v, dict)
                else v
                for n, v in enumerate(value)
            ]
        elif key == "dynamic_masks" and isinstance(value, list):
            out[key] = [
                {**v, "mask": short(v.get("mask"))} if isinstance(v, dict) else v for v in value
            ]
        else:
            out[key] = value
    return out
