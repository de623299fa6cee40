"""Gemini Omni video generation through the Interactions API: the request rules the fake
checks (``parse_create``), its record of an interaction (``InteractionRecord``), prices and
usage. ``GoogleServer`` (``google_server.py``) routes ``/{v1beta|v1}/interactions`` and does
the rest: models, auth, ``previous_interaction_id`` (extend and edit durations), answers,
blocked prompts, faults and webhooks. Each rule cites its source beside it; [3P] marks a
third-party source (research notes /tmp/research/omni.md), as [PROBE] and [TANSTACK] are.

Sources used below:

- [OMNI] https://ai.google.dev/gemini-api/docs/omni (request/response shapes, resolutions,
  aspect ratios, tags, editing, limitations).
- [IX] https://ai.google.dev/gemini-api/docs/interactions (store, previous_interaction_id,
  create vs get steps).
- [SDK] google-genai 2.34 ``google/genai/_gaos/types/interactions/`` (field names, enums).
- [CHANGELOG] https://ai.google.dev/gemini-api/docs/changelog 2026-06-30 ("3-10 s").
- [VXNB] Google's Vertex Omni notebook ("Duration: 3s - 10s", ``duration="6s"``).
- [PROBE] third-party live probe of gemini-omni-1.1-flash (2026-08-28), error texts and
  defaults. [TANSTACK] TanStack/ai packages/ai-gemini/src/adapters/video.ts.

What ``parse_create`` checks (each failure a 400 INVALID_ARGUMENT):

- Top-level fields: those of [SDK] ``CreateModelInteraction`` (others: "Unknown name");
  ``system_instruction`` [OMNI], ``tools``, ``cached_content``, ``environment`` and
  ``continuation_token`` refused; ``stream`` refused (the fake answers no SSE).
- ``generation_config``: [SDK] fields; ``temperature``, ``top_p``, ``stop_sequences``, ``seed``
  refused [OMNI]; ``video_config.task`` one of ``TASKS`` [SDK]; other ``video_config`` keys
  are ignored, as [PROBE] saw, and listed in ``ignored_fields`` (``strict_video_config``, the
  server's ``omni_strict_video_config``: a 400). ``response_modalities`` only ``["video"]``.
- ``response_format``: one ``{"type": "video"}`` format [SDK]: ``aspect_ratio`` 16:9 | 9:16
  (16:9), ``resolution`` 360p | 720p | 1080p | 4k (720p), ``delivery`` inline | uri (inline),
  ``duration`` a string like ``"6s"``, 3-10 s, fractional allowed ([CHANGELOG], [VXNB],
  [PROBE]; the server's default is 10 s: [PROBE], [TANSTACK]); ``gcs_uri`` is Vertex only.
- ``input`` [OMNI]/[SDK]: a string, content blocks, or steps (``user_input``; replayed
  ``model_output``/``thought`` steps skipped): ``text``; ``image`` (``data`` in base64 whose
  bytes are its ``mime_type``, or ``uri``); ``video``/``document`` (``data`` or ``uri``);
  ``audio`` refused [OMNI]; a prompt or some media required. Tags [OMNI]: ``<LAST_FRAME>``
  needs ``<FIRST_FRAME>``; frame and ``<IMAGE_REF_n>`` tags may not outnumber the images, nor
  ``<VIDEO_REF_n>`` tags the videos.
- ``webhook_config`` {``uris`` http(s), ``user_metadata`` an object} [SDK] needs
  ``background=true`` [3P]; ``background`` (false) and ``store`` (true [IX]) are booleans.

Prices: ``TOKENS_PER_SECOND`` of the resolution at $17.50 per 1M output tokens [3P];
``usage`` follows [SDK] usage.py (a text token per 4 characters, 258 per image).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# [SDK] model.py lists the Omni ids; [OMNI] the guide's model; 1.2: SDK 3.1.0 release notes.
OMNI_MODELS = ("gemini-omni-1.1-flash", "gemini-omni-1.2-flash")
# [3P] gemini-omni-flash-preview shut down on the Gemini API 2026-09-30 (dev.to/akaranjkar08
# "Gemini API Shutdowns 30 Sept"; TanStack @tanstack/ai-gemini@0.37.0 release notes).
RETIRED_OMNI_MODELS = ("gemini-omni-flash-preview",)
# [SDK] createmodelinteraction.py CreateModelInteraction: every top-level field.
CREATE_FIELDS = (
    "background",
    "cached_content",
    "continuation_token",
    "environment",
    "generation_config",
    "input",
    "labels",
    "model",
    "previous_interaction_id",
    "response_format",
    "response_mime_type",
    "response_modalities",
    "safety_settings",
    "service_tier",
    "store",
    "stream",
    "system_instruction",
    "tools",
    "webhook_config",
)
# [SDK] generationconfig.py GenerationConfig fields.
GENERATION_FIELDS = (
    "image_config",
    "max_output_tokens",
    "seed",
    "speech_config",
    "stop_sequences",
    "temperature",
    "thinking_level",
    "thinking_summaries",
    "tool_choice",
    "top_p",
    "transcription_config",
    "video_config",
)
# [OMNI] Limitations: "System instructions, temperature, top_p, stop sequences, and negative
# prompts are not supported"; "seed" not supported either (notes, "Also not supported").
OMNI_UNSUPPORTED = ("temperature", "top_p", "stop_sequences", "seed")
# [SDK] videoresponseformat.py
VIDEO_FORMAT_FIELDS = ("type", "aspect_ratio", "delivery", "duration", "gcs_uri", "resolution")
ASPECT_RATIOS = {"16:9": (16, 9), "9:16": (9, 16)}  # [OMNI] / [SDK] (16:9 default)
RESOLUTIONS = {"360p": 360, "720p": 720, "1080p": 1080, "4k": 2160}  # [OMNI] / [SDK] (720p)
DELIVERIES = ("inline", "uri")  # [SDK]
# [SDK] videoconfig.py Task (2.34 also lists "upscale")
TASKS = ("text_to_video", "image_to_video", "reference_to_video", "edit", "extend", "upscale")
# [SDK] imagecontent.py ImageContentMimeType, with the magic bytes the fake checks.
IMAGE_TYPES: dict[str, tuple[int, bytes]] = {
    "image/png": (0, b"\x89PNG"),
    "image/jpeg": (0, b"\xff\xd8\xff"),
    "image/webp": (8, b"WEBP"),
    "image/heic": (4, b"ftyp"),
    "image/heif": (4, b"ftyp"),
    "image/gif": (0, b"GIF8"),
    "image/bmp": (0, b"BM"),
    "image/tiff": (0, b""),  # II* or MM*: checked below
}
# [CHANGELOG] "3-10 s"; [VXNB] "Duration: 3s - 10s"; [PROBE] fractional accepted; error texts.
MIN_SECONDS, MAX_SECONDS = 3.0, 10.0
# [PROBE] / [TANSTACK] "defaulting to 10s when omitted — verified against the live API".
DEFAULT_SECONDS = 10.0
MAX_TOTAL_SECONDS = 40.0  # [OMNI] extension "up to a total length of 40s"
OMNI_FPS = 24  # [PROBE] 640x360 @ 24 fps h264 + AAC
# Video output tokens per second [3P: PROBE 360p measured; 720p "5,792 tokens/s"; 1080p/4k
# from a Vertex pricing transcription] at $17.50 per 1M output tokens [3P]. Ratios match the
# reseller ladder 0.3 : 1 : 1.5 : 3 (muapi) — secondary sources, no Google price page found.
TOKENS_PER_SECOND = {"360p": 1931, "720p": 5792, "1080p": 8688, "4k": 17376}
USD_PER_TOKEN = 17.50 / 1_000_000
TAGS = re.compile(r"<(FIRST_FRAME|LAST_FRAME|IMAGE_REF_\d+|VIDEO_REF_\d+)>")


def price_per_second(resolution: str) -> float:
    return TOKENS_PER_SECOND[resolution] * USD_PER_TOKEN


@dataclass
class InteractionRecord:
    """One accepted Omni interaction, as the server sees it."""

    id: str
    model: str
    version: str
    body: dict[str, Any]
    texts: list[str]
    images: list[tuple[str, bytes]]  # (mime type, bytes); b"" for a uri image
    videos: list[str]  # the video/document blocks' uris (or "inline")
    response_format: dict[str, Any]
    task: str | None
    previous_interaction_id: str | None
    chain: list[str]  # previous ids, the nearest first
    store: bool
    background: bool
    webhook_uris: list[str]
    user_metadata: Any
    duration: float
    aspect_ratio: str
    resolution: str
    delivery: str
    width: int
    height: int
    render_width: int
    render_height: int
    fps: int
    latency: float
    submitted_at: float
    audio: bool = True  # [OMNI] "By default the model will try to generate an appropriate audio"
    status: str = "in_progress"  # in_progress | completed | failed
    blocked: bool = False
    error: dict[str, Any] | None = None
    planned_error: dict[str, Any] | None = None
    done_at: float | None = None
    created: str = ""
    updated: str = ""
    polls: int = 0
    downloads: int = 0
    files: list[str] = field(default_factory=list)
    path: Path | None = None
    cost_usd: float = 0.0
    ignored_fields: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.id

    @property
    def prompt(self) -> str:
        return "\n".join(self.texts)

    @property
    def done(self) -> bool:
        return self.status != "in_progress"

    @property
    def text(self) -> str:
        return self.prompt


class Invalid(Exception):
    """A 400 INVALID_ARGUMENT (``unknown`` marks Google's "Unknown name" form)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def unknown(name: str, where: str) -> Invalid:
    # Google's proto JSON parser (notes tts.md §L: issues decolua/9router#1876, zed#62539)
    return Invalid(
        f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': Cannot find field."
    )


def parse_create(data: dict[str, Any], strict_video_config: bool) -> dict[str, Any]:
    """Check a CreateModelInteraction body (model id and previous id are the server's); the
    fields of the interaction. Raises ``Invalid``."""
    for name in data:
        if name not in CREATE_FIELDS:
            raise unknown(name, "")
    if "system_instruction" in data:
        raise Invalid("system_instruction is not supported by this model.")  # [OMNI] limits
    if data.get("stream"):
        # [SDK] stream is a field; the fake answers no SSE streams (a fake limitation)
        raise Invalid("stream: this fake does not stream; poll with background=true instead.")
    for name in ("tools", "cached_content", "environment", "continuation_token"):
        if data.get(name) is not None:
            raise Invalid(f"{name} is not supported by this model.")
    ignored: list[str] = []
    generation = data.get("generation_config") or {}
    if not isinstance(generation, dict):
        raise Invalid("generation_config must be an object.")
    task = None
    for name in generation:
        if name not in GENERATION_FIELDS:
            raise unknown(name, "generation_config")
        if name in OMNI_UNSUPPORTED:
            raise Invalid(f"generation_config.{name} is not supported by this model.")
    video_config = generation.get("video_config")
    if video_config is not None:
        if not isinstance(video_config, dict):
            raise Invalid("generation_config.video_config must be an object.")
        for name in video_config:
            if name != "task":
                # [PROBE] "The API silently ignores unknown keys in video_config"
                if strict_video_config:
                    raise unknown(name, "generation_config.video_config")
                ignored.append(f"generation_config.video_config.{name}")
        task = video_config.get("task")
        if task is not None and task not in TASKS:
            raise Invalid(
                f"Invalid value at 'generation_config.video_config.task' ({task!r}): use one of"
                f" {', '.join(TASKS)}."
            )
    modalities = data.get("response_modalities")  # [SDK] deprecated; TanStack still sends it
    if modalities is not None and [str(m).lower() for m in modalities] != ["video"]:
        raise Invalid("response_modalities: this model only outputs video.")
    fmt = _video_format(data.get("response_format"))
    texts, images, videos = _input(data.get("input"))
    if not any(t.strip() for t in texts) and not images and not videos:
        raise Invalid("input is empty: give a prompt.")
    _check_tags("\n".join(texts), len(images), len(videos))
    webhook = data.get("webhook_config")
    uris, metadata = _webhook(webhook)
    background = data.get("background", False)
    store = data.get("store", True)  # [IX] "By default ... stores requests"
    for name, value in (("background", background), ("store", store)):
        if not isinstance(value, bool):
            raise Invalid(f"{name} must be a boolean.")
    if webhook is not None and not background:
        # [3P] hookdeck/getaibook: webhook_config notifies a background (long-running) job;
        # the webhooks guide covers "LRO"s only ("Interactions LRO succeeded")
        raise Invalid("webhook_config requires background=true.")
    previous = data.get("previous_interaction_id")
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise Invalid("previous_interaction_id must be a non-empty string.")
    return {
        "texts": texts,
        "images": images,
        "videos": videos,
        "response_format": fmt,
        "task": task,
        "previous_interaction_id": previous,
        "store": store,
        "background": background,
        "webhook_uris": uris,
        "user_metadata": metadata,
        "ignored_fields": ignored,
    }


def _video_format(value: Any) -> dict[str, Any]:
    """[SDK] response_format: one format or a list; the video one, checked."""
    if value is None:
        return {"type": "video"}
    formats = value if isinstance(value, list) else [value]
    videos = [f for f in formats if isinstance(f, dict) and f.get("type") == "video"]
    if len(videos) != 1 or len(formats) != 1:
        raise Invalid('response_format must hold exactly one {"type": "video"} format.')
    fmt = videos[0]
    for name in fmt:
        if name not in VIDEO_FORMAT_FIELDS:
            raise unknown(name, "response_format")
    if fmt.get("aspect_ratio", "16:9") not in ASPECT_RATIOS:
        raise Invalid(
            f"Invalid value at 'response_format.aspect_ratio' ({fmt['aspect_ratio']!r}): use"
            " 16:9 or 9:16."
        )
    if fmt.get("resolution", "720p") not in RESOLUTIONS:
        raise Invalid(
            f"Invalid value at 'response_format.resolution' ({fmt['resolution']!r}): use one"
            f" of {', '.join(RESOLUTIONS)}."
        )
    if fmt.get("delivery", "inline") not in DELIVERIES:
        raise Invalid(
            f"Invalid value at 'response_format.delivery' ({fmt['delivery']!r}): use inline or uri."
        )
    if "gcs_uri" in fmt:  # [SDK] "The Cloud Storage URI ... Required for Vertex if ..."
        raise Invalid("response_format.gcs_uri is only supported on Vertex AI.")
    if "duration" in fmt:
        parse_duration(fmt["duration"])
    return dict(fmt)


def parse_duration(value: Any) -> float:
    """[SDK] a string; [VXNB] ``"6s"``; [PROBE] the bounds and their error texts."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)s", value) if isinstance(value, str) else None
    if m is None:
        raise Invalid(
            f"Invalid value at 'response_format.duration' ({value!r}): a duration like \"6s\"."
        )
    seconds = float(m.group(1))
    if seconds > MAX_SECONDS:
        raise Invalid(
            f"Requested video duration {value} 0ns exceeds the maximum allowed {MAX_SECONDS:g}s 0ns"
        )
    if seconds < MIN_SECONDS:
        raise Invalid(
            f"Requested video duration {value} 0ns is less than the minimum allowed"
            f" {MIN_SECONDS:g}s 0ns"
        )
    return seconds


def _input(value: Any) -> tuple[list[str], list[tuple[str, bytes]], list[str]]:
    """[OMNI]/[SDK] input: a string, a list of content blocks, or a list of steps
    (``{"type": "user_input", "content": [...]}``; earlier ``model_output``/``thought`` steps
    replay history, as Google's Vertex notebook does, and are skipped)."""
    texts: list[str] = []
    images: list[tuple[str, bytes]] = []
    videos: list[str] = []
    if isinstance(value, str):
        return [value], images, videos
    if not isinstance(value, list) or not value:
        raise Invalid("input must be a string or a non-empty list.")
    blocks: list[tuple[str, Any]] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise Invalid(f"input[{i}] must be an object.")
        kind = item.get("type")
        if kind == "user_input":
            for name in item:
                if name not in ("type", "content"):
                    raise unknown(name, f"input[{i}]")
            content = item.get("content") or []
            if not isinstance(content, list):
                raise Invalid(f"input[{i}].content must be a list.")
            blocks += [(f"input[{i}].content[{j}]", c) for j, c in enumerate(content)]
        elif kind in ("model_output", "thought"):
            continue
        else:
            blocks.append((f"input[{i}]", item))
    for where, block in blocks:
        if not isinstance(block, dict):
            raise Invalid(f"{where} must be an object.")
        kind = block.get("type")
        if kind == "text":
            for name in block:
                if name not in ("type", "text", "annotations"):
                    raise unknown(name, where)
            if not isinstance(block.get("text"), str):
                raise Invalid(f"{where}.text must be a string.")
            texts.append(block["text"])
        elif kind == "image":
            images.append(_image(block, where))
        elif kind in ("video", "document"):
            videos.append(_video(block, where))
        elif kind == "audio":  # [OMNI] "Uploading audio references is unsupported"
            raise Invalid(f"{where}: audio inputs are not supported by this model.")
        else:
            raise Invalid(f"{where}.type {kind!r} is not a content type this model takes.")
    return texts, images, videos


def _image(block: dict[str, Any], where: str) -> tuple[str, bytes]:
    for name in block:
        if name not in ("type", "data", "uri", "mime_type", "resolution"):
            raise unknown(name, where)
    mime = block.get("mime_type")
    if mime not in IMAGE_TYPES:
        raise Invalid(
            f"Invalid value at '{where}.mime_type' ({mime!r}): use one of {', '.join(IMAGE_TYPES)}."
        )
    if ("data" in block) == ("uri" in block):
        raise Invalid(f"{where} needs exactly one of data and uri.")
    if "uri" in block:
        if not isinstance(block["uri"], str) or not block["uri"]:
            raise Invalid(f"{where}.uri must be a string.")
        return mime, b""
    data = block["data"]
    try:
        raw = base64.b64decode(str(data), validate=True) if isinstance(data, str) else b""
    except (binascii.Error, ValueError):
        raise Invalid(f"Invalid value at '{where}.data': invalid base64 data.") from None
    offset, magic = IMAGE_TYPES[mime]
    ok = raw[offset : offset + len(magic)] == magic if magic else raw[:3] in (b"II*", b"MM\x00")
    if not raw or not ok:
        raise Invalid("Unable to process input image.")  # [PROBE] the corrupt-image answer
    return mime, raw


def _video(block: dict[str, Any], where: str) -> str:
    for name in block:
        if name not in ("type", "data", "uri", "mime_type", "resolution", "name", "processing"):
            raise unknown(name, where)
    if ("data" in block) == ("uri" in block):
        raise Invalid(f"{where} needs exactly one of data and uri.")
    return str(block.get("uri") or "inline")


def _check_tags(prompt: str, images: int, videos: int) -> None:
    """[OMNI] tags: ``<FIRST_FRAME>``/``<LAST_FRAME>`` interpolate between two images, the
    last frame going with a first frame."""
    tags = TAGS.findall(prompt)
    if "LAST_FRAME" in tags and "FIRST_FRAME" not in tags:
        raise Invalid("<LAST_FRAME> needs a <FIRST_FRAME> image.")
    frames = sum(1 for t in set(tags) if t in ("FIRST_FRAME", "LAST_FRAME"))
    refs = sum(1 for t in set(tags) if t.startswith("IMAGE_REF_"))
    if frames + refs > images:
        raise Invalid(f"The prompt names {frames + refs} images but the input holds {images}.")
    if sum(1 for t in set(tags) if t.startswith("VIDEO_REF_")) > videos:
        raise Invalid("The prompt names more videos than the input holds.")


def _webhook(config: Any) -> tuple[list[str], Any]:
    """[SDK] webhookconfig.py WebhookConfig {uris, user_metadata}."""
    if config is None:
        return [], None
    if not isinstance(config, dict):
        raise Invalid("webhook_config must be an object.")
    for name in config:
        if name not in ("uris", "user_metadata"):
            raise unknown(name, "webhook_config")
    uris = config.get("uris") or []
    if not isinstance(uris, list) or not all(
        isinstance(u, str) and u.startswith(("http://", "https://")) for u in uris
    ):
        raise Invalid("webhook_config.uris must be a list of http(s) URLs.")
    metadata = config.get("user_metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise Invalid("webhook_config.user_metadata must be an object.")
    return list(uris), metadata


def usage(record: InteractionRecord) -> dict[str, Any]:
    """[SDK] usage.py; [TANSTACK] output_tokens_by_modality video tokens."""
    video = round(TOKENS_PER_SECOND[record.resolution] * record.duration)
    text = max(1, len(record.prompt) // 4)
    images = 258 * len(record.images)
    return {
        "total_input_tokens": text + images,
        "input_tokens_by_modality": [{"modality": "text", "tokens": text}]
        + ([{"modality": "image", "tokens": images}] if images else []),
        "total_output_tokens": video,
        "output_tokens_by_modality": [{"modality": "video", "tokens": video}],
        "total_tokens": text + images + video,
    }
