"""A strict loopback fake of Luma's Agents API (``https://agents.lumalabs.ai/v1``, models
``ray-3.2``, ``uni-1`` and ``uni-1-max``): video generation (``video``, ``video_edit``,
``video_reframe``), image generation (``image``), the Files API, presigned outputs, errors and
faults. Written from Luma's SDK types and docs, never from the
plugin; every rule cites its source beside it. Sources, as in ``docs/providers/luma.md``:

- [SDK-A] ``luma-agents`` 0.5.0 (PyPI wheel, Stainless-generated from Luma's OpenAPI spec);
  paths such as ``types/video_options_param.py`` are inside ``luma_agents/``;
- [D-err] https://docs.agents.lumalabs.ai/guides/error-handling/ (status table, ``detail``);
- [D-gen] https://docs.agents.lumalabs.ai/guides/videos/generation/ (submit, poll, MP4);
- [3P-skill] the ``luma-ray-video`` skill (calesthio/generative-media-skills), "verified from
  first-party Luma sources on 2026-07-10": second-hand, used where Luma's own text is silent;
- [3P-comfy] ComfyUI's Ray 3.2 nodes and Comfy Router's copy of the schema (docs.comfy.org);
- [D-img] https://docs.agents.lumalabs.ai/guides/image-generation/ (type ``image``: defaults,
  the nine aspect ratios, styles, reference images, output formats);
- [D-models] https://docs.agents.lumalabs.ai/guides/model/ (which model serves which type);
- [D-price] https://docs.agents.lumalabs.ai/guides/pricing/ (uni-1 and uni-1-max per image).

Use it as a context manager; it serves on 127.0.0.1 (a free port) from a background thread::

    with LumaAgentsServer(latency=0.2) as luma:
        client = luma_agents.Luma(auth_token=luma.api_key, base_url=luma.api_url, max_retries=0)
        gen = client.generations.create(model="ray-3.2", type="video", prompt="a red kite",
                                        video={"duration": "5s", "resolution": "540p"})
        luma.fail_next("create", "429")

``api_url`` is ``base_url + "/v1"`` (what the SDK takes as ``base_url``).

Status codes (our reading of [D-err]'s table, which gives meanings, not rules): **400** for a
value invalid on its own (a wrong type or enum value, a missing required field, a prompt out of
1..6000, an unknown id); **422** for values valid alone whose combination is refused
("Parameter combination rejected", [D-err]) or bad media data (undecodable base64, bytes that
are not the declared media, a file not ``ready``); 401 bad key; 402 no balance; 403 HDR
without access (ours: the docs say "Requires HDR access" without a status); 404 unknown
generation ("generation not found", [3P key checker] via docs/providers/luma.md §1.5) or file;
405 on the generation list/delete that do not exist ([SDK-A] has only create and get); 413 media
too large; 429 over the limits (``Retry-After``); 502/503 injected. Every error body is
``{"detail": str}`` ([D-err]: "read ``detail`` for specifics"), or with
``detail_format="list"`` a FastAPI-style list ``[{"loc", "msg", "type"}]``: the docs do not say
which, so both are testable.

Jobs do no real work: each runs in virtual time, ``queued`` for the first tenth of its latency
(``latency=(mean, jitter)`` drawn deterministically from the prompt, a number, or a callable
``prompt -> seconds``), then ``processing``, then ``completed`` or ``failed`` ([SDK-A]
``types/generation.py``: ``queued | processing | completed | failed``). The output is a real
H.264 MP4 (``tests/fakes/clips.py``: one solid colour per prompt, a lighter band on top),
``output: [{"type": "video", "url"}]`` ([SDK-A] ``types/generation_output.py``); the URL is
presigned by this fake and expires after ``output_url_ttl`` seconds (Luma: "Presigned URL
(1hr expiry)", same file); each GET mints a fresh one ([3P-skill] "re-polling mints a fresh
URL"). An expired or forged URL answers 403 with an S3-style XML error. Nominal sizes follow
``resolution`` (short side) and the aspect ratio; the file is encoded at ``render_scale`` of
that and ``fps`` frames a second.

Switches for what the docs leave open (tests cover each answer):

- ``video_image_refs``: ``None`` (default) refuses ``image_ref`` on ``type: video`` with 422;
  a number accepts up to that many ([SDK-A] ``generation_create_params.py`` documents
  ``image_ref`` only for image types: "Up to 9 for type 'image', up to 8 for 'image_edit'");
- ``unknown_fields``: ``"reject"`` (default: 400 naming the field) or ``"ignore"`` (dropped),
  for fields outside the SDK types, e.g. Dream Machine's ``keyframes.frame0``,
  ``callback_url`` ([3P-skill]: "do not send legacy fields"; the server's answer is unknown);
- ``extension_includes_source``: ``False`` (default: an extension's output is the new 5 s
  only, what every secondary source implies) or ``True`` (the source clip plus the new 5 s:
  forward = source then new, backward = new then source);
- ``loop_keyframes_detail``: the ``detail`` for ``loop`` with ``keyframes`` (Luma's text is
  unknown; the default is ours);
- ``edit_follows_source``: ``True`` (default: an edit of a video source is that video
  restyled, its frames regraded, as Modify Video keeps a source's motion and structure) or
  ``False`` (one solid colour: an engine that ignored its source, for the "follows the
  previz" check);
- ``edit_min_source_seconds``: the shortest ``video_edit`` source taken (default 0: none;
  the docs name a maximum, "18 seconds or shorter", and no minimum), else 422;
- ``reframe_1080p``: ``True`` (default) or ``False`` (422 "coming soon", as [SDK-A]
  ``video_options_param.py`` says may happen "until enabled for the caller");
- ``hdr_access``: accounts with and without HDR ([SDK-A] "Requires HDR access");
- ``detail_format``: ``"string"`` or ``"list"`` (above);
- ``image_default_ratio``: the aspect ratio of an image whose ``aspect_ratio`` is omitted
  ([D-img]: "the model selects an appropriate ratio based on the prompt"; which is unknown:
  default ``"1:1"``);
- ``image_default_format``: ``"png"`` (default) or ``"jpeg"``, an image's format when
  ``output_format`` is omitted ([D-img]: "left unset so the model can pick");
- ``manga_aspect_ratios``: ``None`` (default: ``style: manga`` takes all nine ratios) or the
  ratios it takes (others 422): [D-img]'s style table has an "Allowed aspect_ratio" column
  ("auto: All 9 values"; manga's entry is not in the text we could read).

Images (``type: image``, [D-img], [SDK-A] ``generation_create_params.py``): model ``uni-1``
(the default) or ``uni-1-max``; ``aspect_ratio`` one of nine (3:1 2:1 16:9 3:2 1:1 2:3 9:16 1:2
1:3), ``style`` auto|manga, ``output_format`` png|jpeg, ``web_search`` a boolean, ``image_ref``
up to 9 ImageRefs (url, inline ``data`` with ``media_type``, or a ready ``file_id``; exactly
one each); no ``video``, ``source`` or ``layering``. The output is a real PNG or JPEG, 2048
pixels on the long side at the ratio ([D-price]: "All requests output at 2048-pixel (2K)
resolution"), encoded at ``render_scale``, one colour per prompt. Billed per [D-price]: text
to image $0.0404 (uni-1) / $0.1000 (uni-1-max); with references the 1-image price ($0.0434 /
$0.1030) plus $0.0030 per extra one. ``image_edit`` and ``layering`` are not served (400).

Files API ([SDK-A] ``resources/files.py``, ``types/file*.py``, ``create_file_response.py``,
``presigned_upload.py``): ``POST /files`` with JSON ``{mime_type, size_bytes, expires_at?,
filename?, purpose?, user_id?}`` answers 201 ``{id, file, state: "pending", upload: {url,
method: "PUT", headers, expires_at}}`` whose ``url`` is served by this fake (no bearer: it is
presigned, valid ``upload_url_ttl`` seconds); the PUT must carry exactly ``size_bytes`` bytes
and the given ``Content-Type`` (else 403 XML, as a signed S3 PUT); ``POST /files/{id}/complete``
starts ingest and the file turns ``ready`` after ``ingest_latency`` (or ``failed`` with a
``failure_reason`` when its bytes are not the declared media type or hold a blocked word).
``POST /files`` as multipart/form-data with a ``file`` part (and ``mime_type`` etc. as fields)
uploads inline, up to ``inline_upload_limit`` bytes (else 413): ``upload`` is null and ingest
starts at once. ``GET /files/{id}``, ``GET /files?cursor&limit(1..100, 25)&purpose&state``
(newest first, keyset ``{data, has_more, next_cursor}``), ``DELETE /files/{id}`` (204, a soft
delete: ``state: deleted``). A file is visible to its owner's key only ([SDK-A]
``image_ref_param.py``: "must be owned by the same client").

Keys: ``api_key`` and each of ``other_keys`` is a separate client (its own generations and
files), so ownership rules are testable.

Faults, injected with ``fail_next(endpoint, kind, count=1)`` (or ``faults=``), hit the next
matching requests before anything else (auth, validation, limits) is checked. Endpoints:
``create``, ``get``, ``file_create``, ``file_upload`` (the presigned PUT), ``file_complete``,
``file_get``, ``file_list``, ``file_delete``, ``download`` (an output URL). Kinds:

- ``"401"``, ``"402"``, ``"403"``, ``"413"``, ``"422"``, ``"500"``, ``"502"``, ``"503"``: that
  status with a ``{"detail"}`` body; ``"429"``: with ``Retry-After: fault_retry_after``.
  Injected answers carry ``x-should-retry: false`` (so the SDK's own retries, 2 by default on
  429 and 5xx [SDK-A README "Retries"], do not hide them), like the other fakes;
- ``"drop"``: the request arrives and the connection is closed without an answer;
- ``"drop_after_accept"`` (``create``, ``file_create``): do the work, then close unanswered;
- ``"hold_after_accept"`` / ``"accept_after_client_died"`` (``create``): see ``fakes.hold``;
- ``"truncate"`` (``download``): announce the whole file, send half, close;
- ``"expired"`` (``download``, ``file_upload``): the presigned URL answers 403 as if expired.

``fail_next_job(code, reason)`` makes the next accepted generation end ``failed`` with that
``failure_code`` ([SDK-A] ``types/generation_failure_code.py``) and ``failure_reason``; a prompt
holding a blocked word ends ``failed`` with ``content_moderated`` (not billed).

Video sources ([SDK-A] ``image_ref_param.py``: "video_edit and video_reframe sources also accept
source.url or source.data when source.media_type is a video/* MIME"; a ``file_id`` "references a
file previously uploaded via POST /files"): a ``video/*`` file is probed when ingested (PyAV:
its length, size and aspect ratio, or ``failed`` when it does not decode), and an edit or
reframe of it lasts as long as it does ("output duration matches the source",
``video_edit_options_param.py``), rendered at the fake's ``fps``.

Counters: ``create_bodies`` (every ``POST /generations`` JSON body, accepted or refused, in
order), ``submissions`` (accepted generations), ``status_requests`` (GET /generations/{id}),
``uploads`` (file bytes received: PUTs and inline), ``downloads``, ``requests`` ((method, path)),
``jobs`` (id -> ``AgentsJob``), ``files`` (id -> ``AgentsFile``), ``rejected`` (Counter by
reason), ``peak_concurrency``, ``billed_usd`` (prices from docs/providers/luma.md §2, via
[3P-skill]; 360p is our assumption), ``balance_usd`` (None: unlimited; else a create whose
price exceeds it is 402).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import random
import re
import tempfile
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .clips import even, nominal_size, solid_planes
from .hold import HOLD, LATE, hold
from .loopback import Faults, JsonHandler, Latency, LoopbackServer, draw_latency

API = "/v1"  # [SDK-A] _client.py: base_url "https://agents.lumalabs.ai/v1"
API_ENDPOINTS = (
    "create",
    "get",
    "file_create",
    "file_complete",
    "file_get",
    "file_list",
    "file_delete",
)
ENDPOINTS = (*API_ENDPOINTS, "file_upload", "download")
STATUS_KINDS = ("401", "402", "403", "413", "422", "500", "502", "503")
FAULT_ENDPOINTS: dict[str, tuple[str, ...]] = {
    **{kind: API_ENDPOINTS for kind in STATUS_KINDS},
    "500": ENDPOINTS,
    "429": API_ENDPOINTS,
    "drop": ENDPOINTS,
    "drop_after_accept": ("create", "file_create"),
    HOLD: ("create",),
    LATE: ("create",),
    "truncate": ("download",),
    "expired": ("download", "file_upload"),
}
FAULT_DETAILS = {  # [D-err] status table (meanings); the texts are ours
    "401": "Invalid or missing API key",
    "402": "Insufficient balance",
    "403": "Access denied",
    "413": "Input media exceeds size limit",
    "422": "Parameter combination rejected",
    "500": "Internal server error",
    "502": "Upstream service unavailable",
    "503": "Image ingestion unavailable",
}
TERMINAL = ("completed", "failed")
QUEUED_FRACTION = 0.1
NOMINAL_FPS = 24  # [SDK-A] video_options_param.py: "duration x 24fps grid (5s -> 0..120)"

# [SDK-A] types/model.py
MODELS = ("uni-1", "uni-1-max", "ray-3.2")
VIDEO_MODEL = "ray-3.2"
IMAGE_MODELS = ("uni-1", "uni-1-max")  # [D-models]: "uni-1 | image, image_edit", uni-1-max too
# [D-img]: "3:1 Ultra-wide landscape ... 1:3 Ultra-tall portrait", nine values
IMAGE_ASPECT_RATIOS = {
    "3:1": (3, 1),
    "2:1": (2, 1),
    "16:9": (16, 9),
    "3:2": (3, 2),
    "1:1": (1, 1),
    "2:3": (2, 3),
    "9:16": (9, 16),
    "1:2": (1, 2),
    "1:3": (1, 3),
}
IMAGE_STYLES = ("auto", "manga")  # [SDK-A] style: Literal["auto", "manga"]; [D-img] default auto
IMAGE_FORMATS = ("png", "jpeg")  # [SDK-A] output_format: Literal["png", "jpeg"]
MAX_IMAGE_REFS = 9  # [SDK-A] image_ref: "Up to 9 for type 'image'"
IMAGE_LONG_SIDE = 2048  # [D-price]: "All requests output at 2048-pixel (2K) resolution"
# [D-price] USD per image: (text to image, image reference with 1 image); "Each extra
# reference image adds $0.0030 on top of the 1-image price"
IMAGE_PRICES = {"uni-1": (0.0404, 0.0434), "uni-1-max": (0.1000, 0.1030)}
IMAGE_EXTRA_REF = 0.0030
# [SDK-A] generation_create_params.py: type
TYPES = ("image", "image_edit", "video", "video_edit", "video_reframe", "layering")
VIDEO_TYPES = ("video", "video_edit", "video_reframe")
# [SDK-A] generation_create_params.py: the SDK's aspect_ratio enum ("the server validates the
# final model-specific set")
SDK_ASPECT_RATIOS = (
    "3:1", "2:1", "21:9", "16:9", "4:3", "3:2", "1:1", "3:4", "2:3", "9:16", "1:2", "1:3",
)  # fmt: skip
# ray-3.2 video: "9:16, 3:4, 1:1, 4:3, 16:9, 21:9" [3P-skill; 3P-comfy Router schema: "ray-3.2
# video models support the subset 9:16, 3:4, 1:1, 4:3, 16:9, 21:9"]
VIDEO_ASPECT_RATIOS = {
    "9:16": (9, 16),
    "3:4": (3, 4),
    "1:1": (1, 1),
    "4:3": (4, 3),
    "16:9": (16, 9),
    "21:9": (21, 9),
}
DEFAULT_ASPECT_RATIO = "16:9"  # ours: the docs name no default
DURATIONS = {"5s": 5, "10s": 10}  # [SDK-A] types/video_duration.py
DEFAULT_DURATION = "5s"  # ours ([3P-comfy] nodes default to "5s")
RESOLUTIONS = {"360p": 360, "540p": 540, "720p": 720, "1080p": 1080}  # types/video_resolution.py
DEFAULT_RESOLUTION = "720p"  # [3P-skill; 3P-comfy]: "default: 720p"
PROMPT_MAX = 6000  # [3P-skill; 3P-comfy]: 1..6000 characters
MAX_KEYFRAMES = 64  # [SDK-A] video_options_param.py: "1-64 anchors"
EDIT_STRENGTHS = tuple(f"{k}_{i}" for k in ("adhere", "flex", "reimagine") for i in (1, 2, 3))
POSE_STRENGTHS = ("precise", "coarse")  # [SDK-A] types/pose_control_strength.py
FILE_PURPOSES = ("input", "reference")  # [SDK-A] types/file_purpose.py
FILE_STATES = ("pending", "ready", "failed", "deleted")  # [SDK-A] types/file_state.py
MAX_FILE_BYTES = 5 * 1024**3  # [SDK-A] file_create_params.py: "Up to 5 GiB"
FAILURE_CODES = (  # [SDK-A] types/generation_failure_code.py
    "content_moderated",
    "generation_failed",
    "budget_exhausted",
    "output_not_found",
    "image_too_large",
    "unsupported_format",
    "corrupt_input",
    "invalid_request",
    "rate_limited",
)
MODERATION_REASON = "The request was flagged by content moderation"  # ours
NO_RETRY = {"x-should-retry": "false"}

# Field names of the SDK's request types ([SDK-A] generation_create_params.py,
# video_options_param.py, video_edit_options_param.py, advanced_controls_param.py and the
# *_control_param.py files, image_ref_param.py, source_position_param.py, file_create_params.py)
TOP_FIELDS = {
    "prompt", "aspect_ratio", "image_ref", "layering", "model", "output_format", "source",
    "style", "type", "user_id", "video", "web_search",
}  # fmt: skip
VIDEO_FIELDS = {
    "duration", "edit", "end_frame", "exr_export", "hdr", "keyframe_indexes", "keyframes",
    "loop", "resolution", "source_position", "start_frame",
}  # fmt: skip
EDIT_FIELDS = {"auto_controls", "controls", "keyframe_indexes", "keyframes", "strength"}
CONTROL_FIELDS = {
    "depth": {"enabled", "blur"},
    "pose": {"enabled", "strength"},
    "face": {"enabled"},
    "normals": {"enabled", "augmentation"},
    "trajectory": {"enabled", "sparsity"},
}
REF_FIELDS = {"data", "file_id", "generation_id", "media_type", "url"}
POSITION_FIELDS = ("x_norm", "y_norm", "w_norm", "h_norm")
FILE_FIELDS = {"mime_type", "size_bytes", "expires_at", "filename", "purpose", "user_id"}

# USD per generation, docs/providers/luma.md §2 (Luma's pricing page as transcribed by
# [3P-skill]); 360p is not transcribed there: half the 540p price is our assumption.
PRICES = {
    ("video", "sdr", 5): {"360p": 0.075, "540p": 0.15, "720p": 0.30, "1080p": 1.20},
    ("video", "sdr", 10): {"360p": 0.225, "540p": 0.45, "720p": 0.90, "1080p": 3.60},
    ("video", "hdr", 5): {"720p": 0.60, "1080p": 2.40},
    ("video", "exr", 5): {"720p": 0.90, "1080p": 3.60},
    ("video_edit", "sdr", 5): {"360p": 0.36, "540p": 0.72, "720p": 1.08, "1080p": 2.16},
    ("video_edit", "sdr", 10): {"360p": 0.72, "540p": 1.44, "720p": 2.16, "1080p": 4.32},
}
REFRAME_PER_SECOND = {"360p": 0.03, "540p": 0.06, "720p": 0.12, "1080p": 0.36}


class Refused(ValueError):
    """An error answer: ``status`` and ``detail`` (``loc``: where, for the list format)."""

    def __init__(
        self,
        status: int,
        detail: str,
        loc: Iterable[str | int] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.loc = list(loc)
        self.headers = dict(headers or {})


def invalid(detail: str, *loc: str | int) -> Refused:
    return Refused(400, detail, loc)


def rejected(detail: str, *loc: str | int) -> Refused:
    return Refused(422, detail, loc)


@dataclass
class AgentsFile:
    """One file of the Files API, as the server sees it."""

    id: str
    owner: str
    mime_type: str
    size_bytes: int
    purpose: str
    created_at: str
    filename: str | None = None
    user_id: str | None = None
    expires_at: str | None = None
    state: str = "pending"
    failure_reason: str | None = None
    deleted_at: str | None = None
    inline: bool = False
    data: bytes | None = None
    completed: bool = False
    upload_deadline: float = 0.0  # time.time() after which the presigned PUT is refused
    duration: float | None = None  # a video's, once ingested
    width: int | None = None
    height: int | None = None

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "mime_type": self.mime_type,
            "purpose": self.purpose,
            "size_bytes": self.size_bytes,
            "state": self.state,
            "deleted_at": self.deleted_at,
            "expires_at": self.expires_at,
            "failure_reason": self.failure_reason,
            "filename": self.filename,
            "user_id": self.user_id,
        }


@dataclass
class AgentsJob:
    """One accepted generation, as the server sees it."""

    id: str
    owner: str
    type: str
    model: str
    prompt: str
    request: dict[str, Any]  # the body as received
    aspect_ratio: str
    resolution: str
    duration: float  # output seconds
    width: int  # nominal
    height: int
    render_width: int
    render_height: int
    latency: float
    submitted_at: float
    created_at: str
    fps: int
    hdr: bool = False
    exr: bool = False
    loop: bool = False
    extends: str | None = None  # the generation an extension continues
    direction: str | None = None  # "forward" (start_frame) | "backward" (end_frame)
    source: dict[str, Any] | None = None  # edit / reframe source, resolved
    follows_source: bool = True  # an edit's output is its source restyled (see _restyled)
    frames: dict[str, Any] = field(default_factory=dict)  # start/end/keyframes, resolved
    image_refs: list[dict[str, Any]] = field(default_factory=list)
    segments: list[tuple[str, float]] = field(default_factory=list)  # (colour text, seconds)
    state: str = "queued"
    failure_code: str | None = None
    failure_reason: str | None = None
    planned_failure: tuple[str, str] | None = None
    processing_at: float | None = None
    done_at: float | None = None
    get_requests: int = 0
    downloads: int = 0
    path: Path | None = None
    price_usd: float = 0.0
    output_format: str | None = None  # an image's: png | jpeg
    style: str | None = None  # an image's: auto | manga

    @property
    def in_flight(self) -> bool:
        return self.state not in TERMINAL


class LumaAgentsServer(LoopbackServer):
    """The fake Agents API. Start it with ``with`` (or ``start()``/``close()``)."""

    def __init__(
        self,
        api_key: str = "luma-api-test-key",
        latency: Latency = (0.3, 0.25),
        concurrency: int | None = 10,
        creates_per_minute: int | None = 20,
        blocked_words: Iterable[str] = ("forbidden",),
        faults: Faults = None,
        *,
        other_keys: Iterable[str] = (),
        render_scale: float = 0.125,
        fps: int = 12,
        output_url_ttl: float = 3600.0,
        upload_url_ttl: float = 3600.0,
        ingest_latency: float = 0.05,
        inline_upload_limit: int = 10 * 1024 * 1024,
        max_media_bytes: int = 50 * 1024 * 1024,
        url_source_seconds: float = 5.0,
        url_source_aspect_ratio: str = "16:9",
        edit_max_source_seconds: float = 18.0,
        edit_min_source_seconds: float = 0.0,
        edit_follows_source: bool = True,
        reframe_max_source_seconds: float = 30.0,
        video_image_refs: int | None = None,
        unknown_fields: str = "reject",
        extension_includes_source: bool = False,
        loop_keyframes_detail: str = "loop is not supported with keyframes",
        reframe_1080p: bool = True,
        hdr_access: bool = True,
        detail_format: str = "string",
        image_default_ratio: str = "1:1",
        image_default_format: str = "png",
        manga_aspect_ratios: Iterable[str] | None = None,
        balance_usd: float | None = None,
        late_accept: float = 1.0,
        rate_window: float = 60.0,
        fault_retry_after: float = 0.1,
        encoders: int = 2,
        seed: int = 0,
    ) -> None:
        """See the module doc. ``url_source_seconds`` / ``url_source_aspect_ratio``: what a
        ``source.url`` video is taken to be (the fake never fetches URLs);
        ``edit_max_source_seconds``: 18 per [SDK-A] ``video_edit_options_param.py`` (the FAQ
        says 30, marketing 20: docs/providers/luma.md open question 6);
        ``reframe_max_source_seconds``: 30 [3P-skill]; ``max_media_bytes``: inline ``data``
        ([D-err] older text: "Image exceeds 50 MB")."""
        super().__init__(api_key, encoders)
        if unknown_fields not in ("reject", "ignore"):
            raise ValueError("unknown_fields: 'reject' or 'ignore'")
        if detail_format not in ("string", "list"):
            raise ValueError("detail_format: 'string' or 'list'")
        if image_default_ratio not in IMAGE_ASPECT_RATIOS:
            raise ValueError(f"image_default_ratio: one of {', '.join(IMAGE_ASPECT_RATIOS)}")
        if image_default_format not in IMAGE_FORMATS:
            raise ValueError("image_default_format: 'png' or 'jpeg'")
        self.keys = (api_key, *other_keys)
        self.latency = latency
        self.concurrency = concurrency
        self.creates_per_minute = creates_per_minute
        self.blocked_words = tuple(w.lower() for w in blocked_words)
        self.render_scale = render_scale
        self.fps = fps
        self.output_url_ttl = output_url_ttl
        self.upload_url_ttl = upload_url_ttl
        self.ingest_latency = ingest_latency
        self.inline_upload_limit = inline_upload_limit
        self.max_media_bytes = max_media_bytes
        self.url_source_seconds = url_source_seconds
        self.url_source_aspect_ratio = url_source_aspect_ratio
        self.edit_max_source_seconds = edit_max_source_seconds
        self.edit_min_source_seconds = edit_min_source_seconds
        self.edit_follows_source = edit_follows_source
        self.reframe_max_source_seconds = reframe_max_source_seconds
        self.video_image_refs = video_image_refs
        self.unknown_fields = unknown_fields
        self.extension_includes_source = extension_includes_source
        self.loop_keyframes_detail = loop_keyframes_detail
        self.reframe_1080p = reframe_1080p
        self.hdr_access = hdr_access
        self.detail_format = detail_format
        self.image_default_ratio = image_default_ratio
        self.image_default_format = image_default_format
        self.manga_aspect_ratios = (
            None if manga_aspect_ratios is None else tuple(manga_aspect_ratios)
        )
        self.balance_usd = balance_usd
        self.late_accept = late_accept
        self.rate_window = rate_window
        self.fault_retry_after = fault_retry_after
        self._rng = random.Random(seed)
        self._secret = hashlib.sha256(f"luma-agents-fake-{seed}".encode()).digest()

        self.jobs: dict[str, AgentsJob] = {}
        self.files: dict[str, AgentsFile] = {}
        self.create_bodies: list[Any] = []
        self.submissions = 0
        self.status_requests = 0
        self.uploads = 0
        self.downloads = 0
        self.rejected: Counter[str] = Counter()
        self.peak_concurrency = 0
        self.billed_usd = 0.0

        self._job_failures: deque[tuple[str, str]] = deque()
        self._recent: dict[str, deque[float]] = {}
        self._renders: dict[str, Future[None]] = {}

        self.fail_with(faults)

    @property
    def api_url(self) -> str:
        """What to give ``luma_agents.Luma(base_url=...)``."""
        return self.base_url + API

    # -- knobs and counters -----------------------------------------------------------------
    def fail_next_job(
        self,
        code: str = "generation_failed",
        reason: str = "Generation failed",
        count: int = 1,
    ) -> None:
        """Make the next ``count`` accepted generations end ``failed`` with ``code``."""
        if code not in FAILURE_CODES:
            raise ValueError(f"failure code {code!r}: use one of {FAILURE_CODES}")
        with self._lock:
            self._job_failures.extend([(code, reason)] * count)

    @property
    def active(self) -> int:
        """Generations accepted and not yet terminal (all keys)."""
        with self._lock:
            return sum(1 for j in self.jobs.values() if j.in_flight)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every generation is terminal and every file ingested."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while any(j.in_flight for j in self.jobs.values()) or any(
                f.completed and f.state == "pending" for f in self.files.values()
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def wait_file(self, file_id: str, timeout: float = 10.0) -> AgentsFile:
        """Wait until file ``file_id`` leaves ``pending`` (after its completion)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.files[file_id].state == "pending":
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return self.files[file_id]

    def output_url(self, job_id: str, ttl: float | None = None) -> str:
        """A presigned URL of job ``job_id``'s output, valid ``ttl`` seconds (default
        ``output_url_ttl``; a negative ttl makes an already expired one)."""
        job = self.jobs[job_id]
        expires = math.ceil(time.time() + (self.output_url_ttl if ttl is None else ttl))
        name = f"{job_id}.{_extension(job)}"
        return f"{self.base_url}/cdn/{name}?expires={expires}&signature={self._sign(name, expires)}"

    # -- helpers ------------------------------------------------------------------------------
    def _sign(self, name: str, expires: int) -> str:
        return hmac.new(self._secret, f"{name}:{expires}".encode(), "sha256").hexdigest()

    def _presigned_ok(self, name: str, query: str) -> tuple[str, str] | None:
        """Why a presigned URL is refused (None: it is good)."""
        params = parse_qs(query)
        try:
            expires = int(params["expires"][0])
            signature = params["signature"][0]
        except (KeyError, ValueError, IndexError):
            return "AccessDenied", "Query-string authentication requires the signature"
        if not hmac.compare_digest(signature, self._sign(name, expires)):
            return "SignatureDoesNotMatch", "The request signature does not match"
        if time.time() > expires:
            return "AccessDenied", "Request has expired"
        return None

    def _owner(self, h: JsonHandler) -> str | None:
        given = h.headers.get("Authorization", "")
        for key in self.keys:
            if hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
                return key
        return None

    def _guard(self, h: _Handler, endpoint: str) -> str | None:
        """Faults, then auth (for API endpoints). The caller's key, or None when the handler
        has already answered (or dropped)."""
        fault = self._take_fault(endpoint)
        if fault == "drop":
            h.drop()
            return None
        if fault == "429":
            with self._lock:
                self.rejected["injected"] += 1
            h.send_detail(
                429,
                "Rate limit exceeded (injected)",
                headers={"Retry-After": f"{self.fault_retry_after:.3f}", **NO_RETRY},
            )
            return None
        if fault in STATUS_KINDS:
            h.send_detail(int(fault), f"{FAULT_DETAILS[fault]} (injected)", headers=NO_RETRY)
            return None
        h.fault = fault
        if endpoint in ("download", "file_upload"):
            return ""  # presigned: no bearer
        owner = self._owner(h)
        if owner is None:
            # [D-err]: 401 "Invalid or missing API key"
            h.send_detail(401, "Invalid or missing API key")
            return None
        return owner

    def _blocked(self, text: str) -> bool:
        lowered = text.lower()
        return any(word in lowered for word in self.blocked_words)

    def _latency(self, prompt: str) -> float:
        return draw_latency(self.latency, prompt)

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _job_json(self, job: AgentsJob) -> dict[str, Any]:
        """[SDK-A] types/generation.py; the request is not echoed (unlike Dream Machine)."""
        output = None
        if job.state == "completed":
            kind = "video" if job.type in VIDEO_TYPES else "image"
            output = [{"type": kind, "url": self.output_url(job.id)}]
        return {
            "id": job.id,
            "created_at": job.created_at,
            "model": job.model,
            "type": job.type,
            "state": job.state,
            "failure_code": job.failure_code,
            "failure_reason": job.failure_reason,
            "output": output,
        }

    def _unknown(self, data: Mapping[str, Any], known: Iterable[str], *loc: str | int) -> None:
        """Refuse (or ignore, per ``unknown_fields``) a field the SDK types do not have."""
        extra = sorted(set(data) - set(known))
        if extra and self.unknown_fields == "reject":
            raise invalid(f"Unknown field {extra[0]!r}", *loc, extra[0])

    # -- generations: create ----------------------------------------------------------------------
    def create(self, h: _Handler, body: bytes) -> None:
        owner = self._guard(h, "create")
        if owner is None:
            return
        now = time.monotonic()
        try:
            data = _json_object(body)
            with self._lock:
                self.create_bodies.append(data)
                fields = self._parse(owner, data)
        except Refused as exc:
            with self._lock:
                self.rejected[f"http_{exc.status}"] += 1
            h.send_refusal(exc)
            return
        with self._lock:
            price = fields["price_usd"]
            if self.balance_usd is not None and price > self.balance_usd + 1e-9:
                self.rejected["balance"] += 1
                refusal: Refused | None = Refused(402, "Insufficient balance")  # [D-err] 402
            else:
                refusal = self._over_limits(owner, now)
        if refusal is not None:
            h.send_refusal(refusal)
            return
        if h.fault == LATE:
            hold(self, h)
            time.sleep(self.late_accept)
            with self._lock:
                self._accept(owner, fields, time.monotonic())
            return
        with self._lock:
            job = self._accept(owner, fields, now)
            payload = self._job_json(job)
        if h.fault == "drop_after_accept":
            h.drop()
            return
        if h.fault == HOLD:
            hold(self, h)
            return
        h.send_json(201, payload)  # [D-err]: success on create is 201

    def _over_limits(self, owner: str, now: float) -> Refused | None:
        """The 429 for concurrent jobs or the per-minute rate, if over. Hold the lock.
        [D-err] 429 "Rate limited (RPM or concurrent)"; texts "Rate limit exceeded" / "Too many
        concurrent jobs" (https://docs.agents.lumalabs.ai/guides/rate-limits/ via [3P-skill])."""
        mine = [j for j in self.jobs.values() if j.owner == owner and j.in_flight]
        if self.concurrency is not None and len(mine) >= self.concurrency:
            self.rejected["concurrency_limit"] += 1
            wait = max(0.01, min(j.submitted_at + j.latency for j in mine) - now)
            return Refused(429, "Too many concurrent jobs", (), {"Retry-After": f"{wait:.3f}"})
        if self.creates_per_minute is not None:
            recent = self._recent.setdefault(owner, deque())
            while recent and now - recent[0] >= self.rate_window:
                recent.popleft()
            if len(recent) >= self.creates_per_minute:
                self.rejected["rate_limit"] += 1
                wait = max(0.001, recent[0] + self.rate_window - now)
                return Refused(429, "Rate limit exceeded", (), {"Retry-After": f"{wait:.3f}"})
            recent.append(now)
        return None

    def _accept(self, owner: str, fields: dict[str, Any], now: float) -> AgentsJob:
        """Create and start one job. Hold the lock."""
        self.submissions += 1
        scale = self.render_scale
        price = fields.pop("price_usd")
        job = AgentsJob(
            id=self._new_id(),
            owner=owner,
            render_width=even(fields["width"] * scale),
            render_height=even(fields["height"] * scale),
            latency=self._latency(fields["prompt"]),
            submitted_at=now,
            fps=self.fps,
            created_at=_now_iso(),
            price_usd=price,
            follows_source=self.edit_follows_source,
            **fields,
        )
        if self._blocked(job.prompt):
            job.planned_failure = ("content_moderated", MODERATION_REASON)
        elif self._job_failures:
            job.planned_failure = self._job_failures.popleft()
        self.jobs[job.id] = job
        self.peak_concurrency = max(
            self.peak_concurrency, sum(1 for j in self.jobs.values() if j.in_flight)
        )
        if job.planned_failure is None:
            assert self._pool is not None and self._tmp is not None
            self._renders[job.id] = self._pool.submit(_render, job, Path(self._tmp.name))
        self._timer(job.latency * QUEUED_FRACTION, self._process, job.id)
        self._timer(job.latency, self._finish, job.id)
        return job

    def _process(self, job_id: str) -> None:
        with self._changed:
            job = self.jobs[job_id]
            if self._closed or job.state != "queued":
                return
            job.state = "processing"
            job.processing_at = time.monotonic()
            self._changed.notify_all()

    def _finish(self, job_id: str) -> None:
        job = self.jobs[job_id]
        render = self._renders.get(job_id)
        failure = job.planned_failure
        if render is not None:
            try:
                render.result()
            except Exception as exc:  # an encoding failure, or the server closing
                failure = ("generation_failed", f"Generation failed: {exc}")
        with self._changed:
            if self._closed:
                return
            if job.state == "queued":
                job.processing_at = time.monotonic()
            job.state = "failed" if failure else "completed"
            if failure:
                job.failure_code, job.failure_reason = failure
            else:  # ours: failed generations are not billed
                self.billed_usd += job.price_usd
                if self.balance_usd is not None:
                    self.balance_usd -= job.price_usd
            job.done_at = time.monotonic()
            self._changed.notify_all()

    # -- generations: the rules ------------------------------------------------------------
    def _parse(self, owner: str, data: dict[str, Any]) -> dict[str, Any]:
        """Check a create body against the docs; the job's fields. Hold the lock."""
        self._unknown(data, TOP_FIELDS, "body")
        # [SDK-A] generation_create_params.py: prompt is Required[str]
        prompt = data.get("prompt")
        if prompt is None:
            raise invalid("prompt is required", "body", "prompt")
        if not isinstance(prompt, str):
            raise invalid("prompt must be a string", "body", "prompt")
        if not 1 <= len(prompt) <= PROMPT_MAX:  # [3P-skill; 3P-comfy]: 1..6000 characters
            raise invalid(f"prompt must be 1 to {PROMPT_MAX} characters", "body", "prompt")
        # [SDK-A] types/model.py; "uni-1 is the default image tier" (generation_create_params)
        model = _opt(data, "model", "uni-1")
        if model not in MODELS:
            raise invalid(f"Invalid model {model!r}: use one of {', '.join(MODELS)}", "model")
        kind = _opt(data, "type", "image")
        if kind not in TYPES:
            raise invalid(f"Invalid type {kind!r}: use one of {', '.join(TYPES)}", "type")
        if kind not in (*VIDEO_TYPES, "image"):
            # this fake serves Ray 3.2 video and uni-1 images only (image edits and layering
            # are out of scope): refused as the server would refuse an unavailable feature
            raise invalid(f"type {kind!r} is not served by this fake", "body", "type")
        if kind in VIDEO_TYPES and model != VIDEO_MODEL:
            # [SDK-A]: "ray-3.2 is the public video model"
            raise rejected(f"type {kind!r} requires model {VIDEO_MODEL!r}", "body", "model")
        user_id = data.get("user_id")
        if user_id is not None and not isinstance(user_id, str):
            raise invalid("user_id must be a string", "body", "user_id")
        if data.get("layering") is not None:  # [SDK-A]: "options for type=layering"
            raise rejected("layering is only valid for type 'layering'", "body", "layering")
        if kind == "image":
            return self._parse_image(owner, data, model, prompt)
        video = data.get("video")
        if video is None:
            video = {}
        if not isinstance(video, dict):
            raise invalid("video must be an object", "body", "video")
        self._unknown(video, VIDEO_FIELDS, "body", "video")
        ratio = _opt(data, "aspect_ratio", None)
        if ratio is not None and ratio not in SDK_ASPECT_RATIOS:
            raise invalid(f"Invalid aspect_ratio {ratio!r}", "body", "aspect_ratio")
        duration = _opt(video, "duration", DEFAULT_DURATION)
        if duration not in DURATIONS:  # [SDK-A] types/video_duration.py
            raise invalid(f"Invalid duration {duration!r}: use 5s or 10s", "video", "duration")
        resolution = _opt(video, "resolution", DEFAULT_RESOLUTION)
        if resolution not in RESOLUTIONS:  # [SDK-A] types/video_resolution.py
            raise invalid(
                f"Invalid resolution {resolution!r}: use one of {', '.join(RESOLUTIONS)}",
                "video",
                "resolution",
            )
        flags = {}
        for name in ("loop", "hdr", "exr_export"):
            value = _opt(video, name, False)
            if not isinstance(value, bool):
                raise invalid(f"{name} must be a boolean", "video", name)
            flags[name] = value
        hdr, exr, loop = flags["hdr"], flags["exr_export"], flags["loop"]
        if exr and not hdr:  # [SDK-A] video_options_param.py: exr_export "Requires hdr=true"
            raise rejected("exr_export requires hdr=true", "video", "exr_export")
        if hdr and not self.hdr_access:  # [SDK-A]: hdr "Requires HDR access"
            raise Refused(403, "HDR is not enabled for this account", ["video", "hdr"])
        if loop and kind != "video":  # [SDK-A]: loop "Only valid for type=video"
            raise rejected("loop is only valid for type 'video'", "video", "loop")
        if video.get("edit") is not None and kind != "video_edit":
            # [SDK-A] video_edit_options_param.py: "Only valid under video.edit when type is
            # video_edit"
            raise rejected("video.edit is only valid for type 'video_edit'", "video", "edit")
        if video.get("source_position") is not None and kind != "video_reframe":
            # [SDK-A] video_options_param.py: "source rectangle ... for video_reframe"
            raise rejected(
                "source_position is only valid for type 'video_reframe'",
                "video",
                "source_position",
            )
        if video.get("keyframes") is not None and kind != "video":
            # [SDK-A]: keyframes "Image-to-video guide frames (type=video only) ... For
            # video-to-video keyframes use video.edit.keyframes"
            raise rejected("video.keyframes is only valid for type 'video'", "video", "keyframes")
        common = {
            "model": model,
            "prompt": prompt,
            "request": data,
            "resolution": resolution,
            "hdr": hdr,
            "exr": exr,
            "loop": loop,
        }
        if kind == "video":
            fields = self._parse_video(owner, data, video, ratio, duration, resolution)
        elif kind == "video_edit":
            fields = self._parse_edit(owner, data, video)
        else:
            fields = self._parse_reframe(owner, data, video, ratio, resolution)
        fields.update(common, type=kind)
        fields["price_usd"] = _price(kind, resolution, hdr, exr, fields.pop("billed_seconds"))
        width, height = nominal_size(
            RESOLUTIONS[resolution], VIDEO_ASPECT_RATIOS[fields["aspect_ratio"]]
        )
        fields.update(width=width, height=height)
        return fields

    def _parse_image(
        self, owner: str, data: dict[str, Any], model: str, prompt: str
    ) -> dict[str, Any]:
        """``type: image``: text (and reference images) to image ([D-img], [SDK-A])."""
        if model not in IMAGE_MODELS:  # [D-models]: ray-3.2 serves the video types only
            raise rejected(
                f"type 'image' requires model {' or '.join(map(repr, IMAGE_MODELS))}",
                "body",
                "model",
            )
        if data.get("video") is not None:  # [SDK-A]: video is "Ray 3.2 video request options"
            raise rejected("video is only valid for the video types", "body", "video")
        if data.get("source") is not None:
            # [SDK-A]: source is for image_edit, video_edit, video_reframe, layering; [D-img]:
            # "For editing existing images, see Image editing"
            raise rejected("source is not valid for type 'image'", "body", "source")
        ratio = _opt(data, "aspect_ratio", None)
        if ratio is not None and ratio not in IMAGE_ASPECT_RATIOS:
            # [D-img] lists nine; [SDK-A]: "the server validates the final model-specific set"
            raise invalid(
                f"aspect_ratio {ratio!r} is not supported for {model}: use one of "
                f"{', '.join(IMAGE_ASPECT_RATIOS)}",
                "body",
                "aspect_ratio",
            )
        style = _opt(data, "style", "auto")  # [D-img]: "Defaults to auto"
        if style not in IMAGE_STYLES:
            raise invalid(f"Invalid style {style!r}: use auto or manga", "body", "style")
        fmt = _opt(data, "output_format", None)
        if fmt is not None and fmt not in IMAGE_FORMATS:
            raise invalid(
                f"Invalid output_format {fmt!r}: use png or jpeg", "body", "output_format"
            )
        web_search = data.get("web_search")
        if web_search is not None and not isinstance(web_search, bool):
            raise invalid("web_search must be a boolean", "body", "web_search")
        # [D-img]: left unset, "the model selects an appropriate ratio" / can pick a format:
        # which one is the image_default_ratio / image_default_format switch (ours)
        ratio = ratio or self.image_default_ratio
        fmt = fmt or self.image_default_format
        if (
            style == "manga"
            and self.manga_aspect_ratios is not None
            and ratio not in self.manga_aspect_ratios
        ):  # [D-img] style table, "Allowed aspect_ratio": the manga_aspect_ratios switch
            raise rejected(
                f"style 'manga' does not support aspect_ratio {ratio!r}", "body", "aspect_ratio"
            )
        refs = data.get("image_ref")
        if refs is None:
            refs = []
        if not isinstance(refs, list):
            raise invalid("image_ref must be a list", "body", "image_ref")
        if len(refs) > MAX_IMAGE_REFS:  # [SDK-A]: "Up to 9 for type 'image'"
            raise invalid(
                f"image_ref takes at most {MAX_IMAGE_REFS} images for type 'image'",
                "body",
                "image_ref",
            )
        resolved = [self._ref(owner, r, "image", "image_ref", i) for i, r in enumerate(refs)]
        w, h = IMAGE_ASPECT_RATIOS[ratio]
        scale = IMAGE_LONG_SIDE / max(w, h)
        text, one = IMAGE_PRICES[model]
        price = one + IMAGE_EXTRA_REF * (len(refs) - 1) if refs else text  # [D-price]
        return {
            "type": "image",
            "model": model,
            "prompt": prompt,
            "request": data,
            "aspect_ratio": ratio,
            "resolution": "2k",
            "duration": 0.0,
            "width": round(w * scale),
            "height": round(h * scale),
            "image_refs": resolved,
            "output_format": fmt,
            "style": style,
            "price_usd": round(price, 4),
        }

    def _parse_video(
        self,
        owner: str,
        data: dict[str, Any],
        video: dict[str, Any],
        ratio: str | None,
        duration: str,
        resolution: str,
    ) -> dict[str, Any]:
        """``type: video``: text/image to video, keyframes, loop, extension."""
        if ratio is not None and ratio not in VIDEO_ASPECT_RATIOS:
            # [3P-skill; 3P-comfy]: ray-3.2 video takes 9:16, 3:4, 1:1, 4:3, 16:9, 21:9
            raise invalid(
                f"aspect_ratio {ratio!r} is not supported for ray-3.2 video: use one of "
                f"{', '.join(VIDEO_ASPECT_RATIOS)}",
                "body",
                "aspect_ratio",
            )
        if data.get("source") is not None:
            # [SDK-A] generation_create_params.py: source is for image_edit, video_edit,
            # video_reframe (and layering); type=video uses video.start_frame/keyframes
            raise rejected("source is not valid for type 'video'", "body", "source")
        seconds = DURATIONS[duration]
        hdr, loop = bool(video.get("hdr")), bool(video.get("loop"))
        if hdr and resolution == "360p":
            # [SDK-A] video_options_param.py: 360p "on type=video it is SDR-only"
            raise rejected("hdr is not supported at 360p", "video", "hdr")
        if hdr and seconds == 10:
            # HDR video is 5 s only [3P-skill; the pricing table has HDR rows for 5 s only]
            raise rejected("hdr is not supported with duration 10s", "video", "hdr")
        if loop and seconds == 10:  # [SDK-A]: loop "not supported with duration=10s"
            raise rejected("loop is not supported with duration 10s", "video", "loop")
        if loop and hdr:  # [SDK-A]: loop "not supported with ... hdr=true"
            raise rejected("loop is not supported with hdr", "video", "loop")
        start, end = video.get("start_frame"), video.get("end_frame")
        keyframes, indexes = video.get("keyframes"), video.get("keyframe_indexes")
        frames: dict[str, Any] = {}
        if keyframes is not None or indexes is not None:
            # [SDK-A] video_options_param.py: keyframes "Mutually exclusive with start_frame /
            # end_frame / loop"
            if start is not None or end is not None:
                raise rejected(
                    "keyframes are mutually exclusive with start_frame and end_frame",
                    "video",
                    "keyframes",
                )
            if loop:
                raise rejected(self.loop_keyframes_detail, "video", "loop")
            frames["keyframes"] = self._keyframes(
                owner, keyframes, indexes, seconds * NOMINAL_FPS, ("video",)
            )
        for name, ref in (("start_frame", start), ("end_frame", end)):
            if ref is not None:
                frames[name] = self._ref(owner, ref, "frame", "video", name)
        if frames.keys() & {"start_frame", "end_frame"}:
            # [SDK-A]: start_frame/end_frame are "the legacy 2-frame surface"; keyframes, unlike
            # them, support "10s durations, and HDR"; [3P Replicate]: "10s clips support
            # text-to-video only"
            if seconds == 10:
                raise rejected(
                    "start_frame and end_frame are not supported with duration 10s",
                    "video",
                    "duration",
                )
            if hdr:
                raise rejected(
                    "start_frame and end_frame are not supported with hdr (use keyframes)",
                    "video",
                    "hdr",
                )
        if loop and "end_frame" in frames:
            # [3P-skill; 3P-comfy LumaRay32ImageToVideoNode]: loop "Not available when an
            # end_frame is set"
            raise rejected("loop is not supported with end_frame", "video", "loop")
        refs = self._image_refs(owner, data.get("image_ref"))
        # extension: [SDK-A] image_ref_param.py: generation_id "on video.start_frame /
        # video.end_frame for video extension"
        chain = [
            n
            for n in ("start_frame", "end_frame")
            if frames.get(n, {}).get("kind") == "generation_id"
        ]
        extends = direction = None
        segments = [(data["prompt"], float(seconds))]
        ratio_used = ratio or DEFAULT_ASPECT_RATIO
        if chain:
            # [3P-skill; 3P GMI Cloud]: exactly one chain reference, no other keyframe, SDR only,
            # 5 s per call ([3P-comfy] LumaRay32ExtendVideoNode: "Extensions are always 5 s")
            if len(chain) == 2 or len(frames) > 1:
                raise rejected(
                    "an extension takes one generation_id (start_frame or end_frame) and no "
                    "other frame",
                    "video",
                    chain[-1],
                )
            source = self.jobs[frames[chain[0]]["generation_id"]]
            extends = source.id
            direction = "forward" if chain[0] == "start_frame" else "backward"
            ratio_used = source.aspect_ratio  # ours: an extension continues the source's frame
            if self.extension_includes_source:
                old = source.segments or [(source.prompt, source.duration)]
                new = [(data["prompt"], float(seconds))]
                segments = [*old, *new] if direction == "forward" else [*new, *old]
        return {
            "aspect_ratio": ratio_used,
            "duration": sum(s for _, s in segments),
            "frames": frames,
            "image_refs": refs,
            "extends": extends,
            "direction": direction,
            "segments": segments,
            "billed_seconds": seconds,  # an extension is billed as one 5 s block [3P-skill]
        }

    def _image_refs(self, owner: str, refs: Any) -> list[dict[str, Any]]:
        """``image_ref`` on type=video: the ``video_image_refs`` switch (docs silent)."""
        if refs is None:
            return []
        if self.video_image_refs is None:
            # [SDK-A] generation_create_params.py documents image_ref for image types only
            raise rejected("image_ref is not supported for type 'video'", "body", "image_ref")
        if not isinstance(refs, list):
            raise invalid("image_ref must be a list", "body", "image_ref")
        if len(refs) > self.video_image_refs:
            raise rejected(
                f"image_ref takes at most {self.video_image_refs} images for type 'video'",
                "body",
                "image_ref",
            )
        return [self._ref(owner, r, "image", "image_ref", i) for i, r in enumerate(refs)]

    def _keyframes(
        self, owner: str, keyframes: Any, indexes: Any, last: int, loc: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        """[SDK-A] video_options_param.py / video_edit_options_param.py: 1..64 ImageRefs and a
        parallel list of "non-negative, unique" frame positions in the grid (0..``last``),
        "Must match keyframes in length"."""
        if not isinstance(keyframes, list) or not keyframes:
            raise invalid("keyframes must be a list of 1 to 64 images", *loc, "keyframes")
        if len(keyframes) > MAX_KEYFRAMES:
            raise invalid(f"keyframes: at most {MAX_KEYFRAMES} anchors", *loc, "keyframes")
        if indexes is None:
            raise invalid("keyframe_indexes is required with keyframes", *loc, "keyframe_indexes")
        if not isinstance(indexes, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in indexes
        ):
            raise invalid("keyframe_indexes must be a list of integers", *loc, "keyframe_indexes")
        if len(indexes) != len(keyframes):
            raise rejected(
                "keyframe_indexes must match keyframes in length", *loc, "keyframe_indexes"
            )
        if len(set(indexes)) != len(indexes):
            raise rejected("keyframe_indexes must be unique", *loc, "keyframe_indexes")
        for i in indexes:
            if not 0 <= i <= last:
                raise rejected(
                    f"keyframe index {i} is outside the frame grid 0..{last}",
                    *loc,
                    "keyframe_indexes",
                )
        resolved = [
            self._ref(owner, r, "image", *loc, "keyframes", n) for n, r in enumerate(keyframes)
        ]
        return [{**r, "index": i} for r, i in zip(resolved, indexes, strict=True)]

    def _parse_edit(
        self, owner: str, data: dict[str, Any], video: dict[str, Any]
    ) -> dict[str, Any]:
        """``type: video_edit`` ([SDK-A] video_edit_options_param.py; [3P-skill])."""
        source = self._source(owner, data, self.edit_max_source_seconds)
        if source["duration"] < self.edit_min_source_seconds - 1e-6:
            # the docs name no minimum: the edit_min_source_seconds switch (ours)
            raise rejected(
                f"The source video must be at least {self.edit_min_source_seconds:g} seconds",
                "body",
                "source",
            )
        for name in ("end_frame", "loop"):  # [3P-skill]: invalid on edit
            if video.get(name) not in (None, False):
                raise rejected(f"{name} is not valid for type 'video_edit'", "video", name)
        if data.get("image_ref") is not None:  # [3P-skill]: image_ref invalid on video_edit
            raise rejected("image_ref is not valid for type 'video_edit'", "body", "image_ref")
        edit = video.get("edit")
        if edit is None:
            edit = {}
        if not isinstance(edit, dict):
            raise invalid("video.edit must be an object", "video", "edit")
        self._unknown(edit, EDIT_FIELDS, "video", "edit")
        auto = _opt(edit, "auto_controls", None)
        if auto is not None and not isinstance(auto, bool):
            raise invalid("auto_controls must be a boolean", "video", "edit", "auto_controls")
        strength = _opt(edit, "strength", None)
        if strength is not None and strength not in EDIT_STRENGTHS:  # video_edit_strength.py
            raise invalid(
                f"Invalid strength {strength!r}: use one of {', '.join(EDIT_STRENGTHS)}",
                "video",
                "edit",
                "strength",
            )
        controls = edit.get("controls")
        if controls is not None:
            self._controls(controls)
            if auto is True:
                # [3P-skill]: controls cannot coexist with auto_controls: true ([SDK-A]:
                # "supplying strength or controls implies manual mode")
                raise rejected(
                    "controls cannot be combined with auto_controls=true",
                    "video",
                    "edit",
                    "controls",
                )
        frames: dict[str, Any] = {}
        start = video.get("start_frame")
        if start is not None:  # [SDK-A]: video.start_frame is "the single-anchor case"
            frames["start_frame"] = self._ref(owner, start, "image", "video", "start_frame")
        if edit.get("keyframes") is not None or edit.get("keyframe_indexes") is not None:
            if start is not None:  # [SDK-A]: edit.keyframes "Mutually exclusive with
                # video.start_frame"
                raise rejected(
                    "video.edit.keyframes are mutually exclusive with video.start_frame",
                    "video",
                    "edit",
                    "keyframes",
                )
            last = round(source["duration"] * NOMINAL_FPS)  # "the source video's frame grid"
            frames["keyframes"] = self._keyframes(
                owner, edit.get("keyframes"), edit.get("keyframe_indexes"), last, ("video", "edit")
            )
        # output duration matches the source ([SDK-A] video_edit_options_param.py); a given
        # video.duration is ignored (ours) and so is aspect_ratio ([3P-skill]: "silently ignored")
        return {
            "aspect_ratio": source["aspect_ratio"],
            "duration": source["duration"],
            "source": source,
            "frames": frames,
            "segments": [(data["prompt"], source["duration"])],
            "billed_seconds": source["duration"],
        }

    def _controls(self, controls: Any) -> None:
        """[SDK-A] advanced_controls_param.py and the *_control_param.py files."""
        loc = ("video", "edit", "controls")
        if not isinstance(controls, dict):
            raise invalid("controls must be an object", *loc)
        self._unknown(controls, CONTROL_FIELDS, *loc)
        for name, spec in controls.items():
            if name not in CONTROL_FIELDS or spec is None:
                continue
            if not isinstance(spec, dict):
                raise invalid(f"controls.{name} must be an object", *loc, name)
            self._unknown(spec, CONTROL_FIELDS[name], *loc, name)
            enabled = spec.get("enabled")
            if enabled is not None and not isinstance(enabled, bool):
                raise invalid(f"controls.{name}.enabled must be a boolean", *loc, name, "enabled")
            for key in ("blur", "augmentation", "sparsity"):  # each "from 0 to 1"
                value = spec.get(key)
                if key in CONTROL_FIELDS[name] and value is not None:
                    if isinstance(value, bool) or not isinstance(value, (int, float)):
                        raise invalid(f"controls.{name}.{key} must be a number", *loc, name, key)
                    if not 0 <= value <= 1:
                        raise invalid(f"controls.{name}.{key} must be 0 to 1", *loc, name, key)
            if name == "pose" and spec.get("strength") not in (None, *POSE_STRENGTHS):
                raise invalid("controls.pose.strength: precise or coarse", *loc, name, "strength")

    def _parse_reframe(
        self,
        owner: str,
        data: dict[str, Any],
        video: dict[str, Any],
        ratio: str | None,
        resolution: str,
    ) -> dict[str, Any]:
        """``type: video_reframe`` ([SDK-A] video_options_param.py, source_position_param.py;
        [3P-skill]: "SDR only; rejects edit controls, loop, anchors, HDR, EXR")."""
        source = self._source(owner, data, self.reframe_max_source_seconds)
        if video.get("hdr"):  # [SDK-A]: hdr "Not supported for video_reframe"
            raise rejected("hdr is not supported for type 'video_reframe'", "video", "hdr")
        for name in ("start_frame", "end_frame"):
            if video.get(name) is not None:
                raise rejected(f"{name} is not valid for type 'video_reframe'", "video", name)
        if data.get("image_ref") is not None:
            raise rejected("image_ref is not valid for type 'video_reframe'", "body", "image_ref")
        if ratio is None:  # the target aspect ratio is the point of a reframe
            raise invalid("aspect_ratio is required for type 'video_reframe'", "aspect_ratio")
        if ratio not in VIDEO_ASPECT_RATIOS:
            raise invalid(
                f"aspect_ratio {ratio!r} is not supported for ray-3.2 video", "aspect_ratio"
            )
        if ratio == source["aspect_ratio"]:  # [3P GMI Cloud]: must differ from the source's
            raise rejected("aspect_ratio must differ from the source's", "body", "aspect_ratio")
        if resolution == "1080p":
            if not self.reframe_1080p:
                # [SDK-A] video_options_param.py: "video_reframe 1080p is still rolling out and
                # may return a coming-soon validation error until enabled for the caller"
                raise rejected("video_reframe at 1080p is coming soon", "video", "resolution")
            if ratio in ("9:16", "3:4"):  # [3P-skill; 3P-comfy]: no vertical 1080p reframe
                raise rejected(
                    f"video_reframe at 1080p does not support {ratio}", "video", "resolution"
                )
        position = video.get("source_position")
        if position is not None:
            if not isinstance(position, dict):
                raise invalid("source_position must be an object", "video", "source_position")
            self._unknown(position, POSITION_FIELDS, "video", "source_position")
            for key in POSITION_FIELDS:  # all four Required[float]
                value = position.get(key)
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise invalid(
                        f"source_position.{key} is required (a number)",
                        "video",
                        "source_position",
                        key,
                    )
            for key in ("w_norm", "h_norm"):  # "Up to 2.0"; a size must be positive (ours)
                if not 0 < position[key] <= 2.0:
                    raise invalid(
                        f"source_position.{key} must be in (0, 2]", "video", "source_position", key
                    )
        return {
            "aspect_ratio": ratio,
            "duration": source["duration"],  # [3P-skill; D reframing guide]: keeps the length
            "source": source,
            "segments": [(data["prompt"], source["duration"])],
            "billed_seconds": source["duration"],
        }

    def _source(self, owner: str, data: dict[str, Any], limit: float) -> dict[str, Any]:
        """The required video ``source`` of an edit or reframe."""
        ref = data.get("source")
        if ref is None:  # [SDK-A]: "video_edit and video_reframe sources ..."
            raise invalid("source is required for video_edit and video_reframe", "body", "source")
        source = self._ref(owner, ref, "source", "body", "source")
        if source["duration"] > limit + 1e-6:
            # edit: "The source video must be 18 seconds or shorter" ([SDK-A]
            # video_edit_options_param.py); reframe: 30 s [3P-skill]
            raise rejected(
                f"The source video must be {limit:g} seconds or shorter", "body", "source"
            )
        return source

    def _ref(self, owner: str, ref: Any, position: str, *loc: str | int) -> dict[str, Any]:
        """Check one ImageRef ([SDK-A] image_ref_param.py: "Provide exactly one of url, inline
        base64 data, generation_id, or file_id"). ``position``: ``image`` (an image only),
        ``frame`` (an image, or a generation to extend), ``source`` (a video)."""
        if not isinstance(ref, dict):
            raise invalid("an ImageRef must be an object", *loc)
        self._unknown(ref, REF_FIELDS, *loc)
        given = [k for k in ("url", "data", "generation_id", "file_id") if ref.get(k) is not None]
        if not given:
            raise invalid("Provide exactly one of url, data, generation_id or file_id", *loc)
        if len(given) > 1:
            raise rejected(
                "Provide exactly one of url, data, generation_id or file_id "
                f"(got {', '.join(given)})",
                *loc,
            )
        kind = given[0]
        value = ref[kind]
        if not isinstance(value, str):
            raise invalid(f"{kind} must be a string", *loc, kind)
        media_type = ref.get("media_type")
        if media_type is not None and not isinstance(media_type, str):
            raise invalid("media_type must be a string", *loc, "media_type")
        want = "video/" if position == "source" else "image/"
        out: dict[str, Any] = {"kind": kind, kind: value}
        if kind == "url":
            if urlsplit(value).scheme not in ("http", "https"):
                raise invalid("url must be an http(s) URL", *loc, "url")
            if position == "source" and media_type is None:
                # [SDK-A]: media_type "Required with source.url on video_edit/video_reframe"
                raise invalid(
                    "media_type is required with source.url (a video/* MIME type)",
                    *loc,
                    "media_type",
                )
            if media_type is not None and not media_type.startswith(want):
                raise rejected(f"media_type must be {want}* here", *loc, "media_type")
            if position == "source":  # never fetched: taken as the knobs say
                out.update(
                    duration=self.url_source_seconds, aspect_ratio=self.url_source_aspect_ratio
                )
            return out
        if kind == "data":
            if media_type is None:  # [SDK-A]: media_type "Required with data"
                raise invalid("media_type is required with data", *loc, "media_type")
            if not media_type.startswith(want):
                raise rejected(f"media_type must be {want}* here", *loc, "media_type")
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise rejected("data is not valid base64", *loc, "data") from None  # [D-err] 422
            if len(raw) > self.max_media_bytes:  # [D-err] 413 "Input media exceeds size limit"
                raise Refused(413, "Input media exceeds size limit", [*loc, "data"])
            if not _is_media(raw, media_type):  # [D-err] 422 "bad media data"
                raise rejected(f"data is not a valid {media_type}", *loc, "data")
            if position == "source":
                out.update(_video_info(raw), video=raw)
            return out
        if kind == "generation_id":
            if position == "image":
                # [SDK-A]: generation_id is used "on source ... and on video.start_frame /
                # video.end_frame for video extension", nowhere else
                raise rejected(
                    "generation_id is only accepted on source and video.start_frame/end_frame",
                    *loc,
                    "generation_id",
                )
            job = self.jobs.get(value)
            if job is None or job.owner != owner:  # "a prior generation owned by the same caller"
                raise invalid(f"generation {value!r} not found", *loc, "generation_id")
            if job.state != "completed" or job.type not in VIDEO_TYPES:
                # a prior *video* output, completed [SDK-A; 3P-skill]
                raise rejected(
                    f"generation {value!r} is not a completed video generation",
                    *loc,
                    "generation_id",
                )
            out.update(duration=job.duration, aspect_ratio=job.aspect_ratio)
            return out
        file = self.files.get(value)
        if file is None or file.owner != owner or file.state == "deleted":
            raise invalid(f"file {value!r} not found", *loc, "file_id")
        if file.state != "ready":  # [SDK-A]: "must be owned by the same client and in state=ready"
            raise rejected(f"file {value!r} is not ready (state: {file.state})", *loc, "file_id")
        if not file.mime_type.startswith(want):
            raise rejected(f"file {value!r} is {file.mime_type}, not {want}*", *loc, "file_id")
        if position == "source":
            out.update(duration=file.duration or 0.0, aspect_ratio=_ratio(file.width, file.height))
            out["video"] = file.data
        elif file.mime_type.startswith("image/"):
            out["image"] = file.data
        return out

    # -- generations: read -----------------------------------------------------------------
    def get(self, h: _Handler, job_id: str) -> None:
        owner = self._guard(h, "get")
        if owner is None:
            return
        with self._lock:
            self.status_requests += 1
            job = self.jobs.get(job_id)
            found = job is not None and job.owner == owner
            if job is not None and found:
                job.get_requests += 1
                payload = self._job_json(job)
        if not found:
            h.send_detail(404, "generation not found")  # [3P] via docs/providers/luma.md §1.5
            return
        h.send_json(200, payload)

    def download(self, h: _Handler, name: str, query: str) -> None:
        if self._guard(h, "download") is None:
            return
        if h.fault == "expired":
            h.send_s3_error(403, "AccessDenied", "Request has expired")
            return
        why = self._presigned_ok(name, query)
        if why is not None:
            h.send_s3_error(403, *why)
            return
        job_id = name.rpartition(".")[0]
        with self._lock:
            job = self.jobs.get(job_id)
            path = job.path if job is not None and job.state == "completed" else None
            if job is not None and path is not None:
                job.downloads += 1
                self.downloads += 1
        if path is None:
            h.send_s3_error(404, "NoSuchKey", "The specified key does not exist.")
            return
        kind = {".mp4": "video/mp4", ".png": "image/png", ".jpg": "image/jpeg"}[path.suffix]
        h.send_bytes(path.read_bytes(), kind, truncate=h.fault == "truncate")

    # -- files -----------------------------------------------------------------------------
    def file_create(self, h: _Handler, body: bytes) -> None:
        owner = self._guard(h, "file_create")
        if owner is None:
            return
        ctype = h.headers.get("Content-Type", "")
        try:
            if ctype.startswith("multipart/form-data"):
                fields, content = _multipart(ctype, body)
                if content is None:
                    raise invalid("multipart upload needs a 'file' part", "body", "file")
                if len(content) > self.inline_upload_limit:
                    # [SDK-A] files.py: inline uploads are "subject to an inline size cap;
                    # larger files must use the presigned flow"
                    raise Refused(
                        413, "File exceeds the inline upload limit: use a presigned upload"
                    )
                fields.setdefault("size_bytes", len(content))
                with self._lock:
                    file = self._new_file(owner, fields, inline=True)
                    if file.size_bytes != len(content):
                        raise invalid(
                            "size_bytes does not match the file part", "body", "size_bytes"
                        )
                    self.files[file.id] = file
                    self.uploads += 1
                    file.data = content
                    self._start_ingest(file)
                    payload = _file_envelope(file, None)
            else:
                data = _json_object(body)
                with self._lock:
                    file = self._new_file(owner, data, inline=False)
                    self.files[file.id] = file
                    file.upload_deadline = time.time() + self.upload_url_ttl
                    name = file.id
                    expires = math.ceil(file.upload_deadline)
                    upload = {
                        "url": f"{self.base_url}/uploads/{name}?expires={expires}"
                        f"&signature={self._sign(name, expires)}",
                        "method": "PUT",  # [SDK-A] presigned_upload.py: "always PUT"
                        "headers": {"Content-Type": file.mime_type},
                        "expires_at": _iso(datetime.fromtimestamp(expires, timezone.utc)),
                    }
                    payload = _file_envelope(file, upload)
        except Refused as exc:
            h.send_refusal(exc)
            return
        if h.fault == "drop_after_accept":
            h.drop()
            return
        h.send_json(201, payload)  # ours: 201 as for generations (the docs show none)

    def _new_file(self, owner: str, data: dict[str, Any], *, inline: bool) -> AgentsFile:
        """[SDK-A] file_create_params.py. Hold the lock."""
        if not inline:
            self._unknown(data, FILE_FIELDS, "body")
        mime = data.get("mime_type")
        if not isinstance(mime, str) or "/" not in mime:  # Required[str]
            raise invalid("mime_type is required (a MIME type)", "body", "mime_type")
        if not mime.startswith(("image/", "video/")):  # ours: files feed ImageRefs only
            raise invalid(f"unsupported mime_type {mime!r}", "body", "mime_type")
        size = data.get("size_bytes")
        if isinstance(size, str) and size.isdigit():  # a multipart form field
            size = int(size)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:  # Required[int]
            raise invalid("size_bytes is required (a positive integer)", "body", "size_bytes")
        if size > MAX_FILE_BYTES:  # "Up to 5 GiB (the S3 single-PUT ceiling)"
            raise Refused(413, "size_bytes exceeds 5 GiB", ["body", "size_bytes"])
        purpose = data.get("purpose") or "input"  # ours: the default is not documented
        if purpose not in FILE_PURPOSES:
            raise invalid("purpose must be 'input' or 'reference'", "body", "purpose")
        expires_at = data.get("expires_at")
        if expires_at is not None:
            try:
                when = datetime.fromisoformat(str(expires_at).replace("Z", "+00:00"))
            except ValueError:
                raise invalid("expires_at must be an ISO 8601 time", "body", "expires_at") from None
            if when.tzinfo is None or when <= datetime.now(timezone.utc):  # ours
                raise invalid("expires_at must be a future time with a zone", "body", "expires_at")
        for name in ("filename", "user_id"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise invalid(f"{name} must be a string", "body", name)
        return AgentsFile(
            id=self._new_id(),
            owner=owner,
            mime_type=mime,
            size_bytes=size,
            purpose=purpose,
            created_at=_now_iso(),
            filename=data.get("filename"),
            user_id=data.get("user_id"),
            expires_at=expires_at,
            inline=inline,
        )

    def file_upload(self, h: _Handler, file_id: str, query: str, body: bytes) -> None:
        """The presigned PUT (no bearer: the URL is the credential)."""
        if self._guard(h, "file_upload") is None:
            return
        if h.fault == "expired":
            h.send_s3_error(403, "AccessDenied", "Request has expired")
            return
        why = self._presigned_ok(file_id, query)
        if why is not None:
            h.send_s3_error(403, *why)
            return
        with self._lock:
            file = self.files.get(file_id)
            if file is None or file.inline or file.completed:
                problem: tuple[int, str, str] | None = (403, "AccessDenied", "Access Denied")
            elif len(body) != file.size_bytes or h.headers.get("Content-Type") != file.mime_type:
                # a signed S3 PUT: the declared size and type are part of the signature (ours)
                problem = (403, "SignatureDoesNotMatch", "The request signature does not match")
            else:
                problem = None
                file.data = body
                self.uploads += 1
        if problem is not None:
            h.send_s3_error(*problem)
            return
        h.send_response(200)
        h.send_header("ETag", f'"{hashlib.md5(body).hexdigest()}"')  # S3's ETag
        h.send_header("Content-Length", "0")
        h.end_headers()

    def file_complete(self, h: _Handler, file_id: str) -> None:
        owner = self._guard(h, "file_complete")
        if owner is None:
            return
        with self._lock:
            file = self.files.get(file_id)
            if file is None or file.owner != owner or file.state == "deleted":
                refusal: Refused | None = Refused(404, "file not found")
            elif file.data is None:
                refusal = rejected("no bytes were uploaded for this file", "file_id")  # ours
            else:
                refusal = None
                if not file.completed:
                    self._start_ingest(file)
                payload = file.json()
        if refusal is not None:
            h.send_refusal(refusal)
            return
        h.send_json(200, payload)  # [SDK-A] files.complete -> File

    def _start_ingest(self, file: AgentsFile) -> None:
        """[SDK-A] file.py: ``pending`` until "the ingest pipeline runs", then ``ready`` or
        ``failed`` "if ingest/moderation rejected it". Hold the lock."""
        file.completed = True
        self._timer(self.ingest_latency, self._ingest, file.id)

    def _ingest(self, file_id: str) -> None:
        with self._changed:
            file = self.files[file_id]
            if self._closed or file.state != "pending" or file.data is None:
                return
            data = file.data
        reason = None
        info: dict[str, Any] = {}
        if not _is_media(data, file.mime_type):
            reason = f"The uploaded bytes are not a valid {file.mime_type}"
        elif self._blocked(data.decode("latin-1")):
            reason = "The file was rejected by content moderation"
        elif file.mime_type.startswith("video/"):
            try:
                info = _video_info(data)
            except Refused as exc:
                reason = exc.detail
        with self._changed:
            if file.state != "pending":
                return
            file.state = "failed" if reason else "ready"
            file.failure_reason = reason
            if info:
                file.duration = info["duration"]
                file.width, file.height = info["width"], info["height"]
            self._changed.notify_all()

    def file_get(self, h: _Handler, file_id: str) -> None:
        owner = self._guard(h, "file_get")
        if owner is None:
            return
        with self._lock:
            file = self.files.get(file_id)
            payload = file.json() if file is not None and file.owner == owner else None
        if payload is None:
            h.send_detail(404, "file not found")
            return
        h.send_json(200, payload)

    def file_list(self, h: _Handler, query: str) -> None:
        """[SDK-A] file_list_params.py / file_list.py: keyset pages, newest first."""
        owner = self._guard(h, "file_list")
        if owner is None:
            return
        params = {k: v[0] for k, v in parse_qs(query).items()}
        try:
            limit = int(params.get("limit", "25"))  # "(1-100). Defaults to 25."
            if not 1 <= limit <= 100:
                raise ValueError
        except ValueError:
            h.send_refusal(invalid("limit must be an integer from 1 to 100", "query", "limit"))
            return
        purpose, state = params.get("purpose"), params.get("state")
        if purpose is not None and purpose not in FILE_PURPOSES:
            h.send_refusal(invalid("invalid purpose", "query", "purpose"))
            return
        if state is not None and state not in FILE_STATES:
            h.send_refusal(invalid("invalid state", "query", "state"))
            return
        with self._lock:
            mine = [
                f
                for f in reversed(self.files.values())
                if f.owner == owner
                and (purpose is None or f.purpose == purpose)
                and (state is None or f.state == state)
            ]
            start = 0
            cursor = params.get("cursor")
            if cursor is not None:
                ids = [f.id for f in mine]
                after = _uncursor(cursor)
                if after not in ids:
                    h.send_refusal(invalid("invalid cursor", "query", "cursor"))
                    return
                start = ids.index(after) + 1
            page = mine[start : start + limit]
            more = start + limit < len(mine)
            payload = {
                "data": [f.json() for f in page],
                "has_more": more,
                "next_cursor": _cursor(page[-1].id) if more and page else None,
            }
        h.send_json(200, payload)

    def file_delete(self, h: _Handler, file_id: str) -> None:
        owner = self._guard(h, "file_delete")
        if owner is None:
            return
        with self._changed:
            file = self.files.get(file_id)
            found = file is not None and file.owner == owner and file.state != "deleted"
            if file is not None and found:  # [SDK-A] files.delete: soft delete, "204 with no body"
                file.state = "deleted"
                file.deleted_at = _now_iso()
                self._changed.notify_all()
        if not found:
            h.send_detail(404, "file not found")
            return
        h.send_response(204)
        h.send_header("Content-Length", "0")
        h.end_headers()


class _Handler(JsonHandler):
    server_version = "luma-agents-fake/1"

    @property
    def luma(self) -> LumaAgentsServer:
        return self.fake  # type: ignore[no-any-return]

    def _route(self, method: str) -> tuple[str, str]:
        self.fault = None
        self.luma._log(method, self.path)
        parts = urlsplit(self.path)
        return parts.path.rstrip("/"), parts.query

    def do_POST(self) -> None:
        path, _ = self._route("POST")
        body = self._body()
        if path == f"{API}/generations":
            self.luma.create(self, body)
        elif path == f"{API}/files":
            self.luma.file_create(self, body)
        elif (m := re.fullmatch(rf"{API}/files/([^/]+)/complete", path)) is not None:
            self.luma.file_complete(self, m.group(1))
        else:
            self._not_here(path)

    def do_GET(self) -> None:
        path, query = self._route("GET")
        if (m := re.fullmatch(rf"{API}/generations/([^/]+)", path)) is not None:
            self.luma.get(self, m.group(1))
        elif path == f"{API}/files":
            self.luma.file_list(self, query)
        elif (m := re.fullmatch(rf"{API}/files/([^/]+)", path)) is not None:
            self.luma.file_get(self, m.group(1))
        elif (m := re.fullmatch(r"/cdn/([^/]+)", path)) is not None:
            self.luma.download(self, m.group(1), query)
        else:
            self._not_here(path)

    def do_PUT(self) -> None:
        path, query = self._route("PUT")
        body = self._body()
        if (m := re.fullmatch(r"/uploads/([^/]+)", path)) is not None:
            self.luma.file_upload(self, m.group(1), query, body)
        else:
            self._not_here(path)

    def do_DELETE(self) -> None:
        path, _ = self._route("DELETE")
        self._body()
        if (m := re.fullmatch(rf"{API}/files/([^/]+)", path)) is not None:
            self.luma.file_delete(self, m.group(1))
        else:
            self._not_here(path)

    def _not_here(self, path: str) -> None:
        # [SDK-A] has no list or delete of generations (create and get only): the route exists
        # for other methods, so 405 as a FastAPI server answers
        if path == f"{API}/generations" or re.fullmatch(rf"{API}/generations/[^/]+", path):
            self.send_detail(405, "Method Not Allowed")
        else:
            self.send_detail(404, "Not Found")

    def send_detail(
        self,
        code: int,
        detail: str,
        loc: Iterable[str | int] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if self.luma.detail_format == "list" and code in (400, 422):
            body: Any = {
                "detail": [{"loc": list(loc) or ["body"], "msg": detail, "type": "value_error"}]
            }
        else:
            body = {"detail": detail}
        self.send_json(code, body, headers)

    def send_refusal(self, exc: Refused) -> None:
        self.send_detail(exc.status, exc.detail, exc.loc, exc.headers)

    def send_s3_error(self, code: int, name: str, message: str) -> None:
        data = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{name}</Code><Message>{message}</Message></Error>"
        ).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# -- helpers ---------------------------------------------------------------------------------------
def _now_iso() -> str:
    return _iso(datetime.now(timezone.utc))


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _opt(data: Mapping[str, Any], name: str, default: Any) -> Any:
    """``data[name]``, or ``default`` when absent or null (the SDK's Optional fields)."""
    value = data.get(name)
    return default if value is None else value


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise invalid("Invalid JSON body", "body") from None
    if not isinstance(data, dict):
        raise invalid("The body must be a JSON object", "body")
    return data


def _multipart(ctype: str, body: bytes) -> tuple[dict[str, Any], bytes | None]:
    """The form fields and the ``file`` part of a multipart/form-data body."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        raise invalid("Invalid multipart body", "body")
    fields: dict[str, Any] = {}
    content = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name == "file":
            content = payload
            if "mime_type" not in fields and part.get_content_type() != "text/plain":
                fields["mime_type"] = part.get_content_type()
            filename = part.get_filename()
            if filename:
                fields.setdefault("filename", filename)
        elif isinstance(name, str):
            fields[name] = payload.decode()
    return fields, content


def _file_envelope(file: AgentsFile, upload: dict[str, Any] | None) -> dict[str, Any]:
    """[SDK-A] create_file_response.py: ``{id, file, state, upload}``."""
    return {"id": file.id, "file": file.json(), "state": file.state, "upload": upload}


def _cursor(file_id: str) -> str:
    return base64.urlsafe_b64encode(file_id.encode()).decode().rstrip("=")


def _uncursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return ""


def _is_media(raw: bytes, media_type: str) -> bool:
    """Whether ``raw`` starts like ``media_type`` (the common formats; others pass)."""
    magic = {
        "image/png": (raw.startswith(b"\x89PNG\r\n\x1a\n"),),
        "image/jpeg": (raw.startswith(b"\xff\xd8\xff"),),
        "image/webp": (raw[:4] == b"RIFF" and raw[8:12] == b"WEBP",),
        "image/gif": (raw.startswith((b"GIF87a", b"GIF89a")),),
        "video/mp4": (raw[4:8] == b"ftyp",),
        "video/quicktime": (raw[4:8] in (b"ftyp", b"moov", b"wide", b"mdat"),),
    }
    checks = magic.get(media_type.lower())
    return bool(raw) and (checks is None or all(checks))


def _video_info(raw: bytes) -> dict[str, Any]:
    """Duration, size and aspect ratio of video bytes (decoded with PyAV)."""
    from ministudio.media.probe import probe

    with tempfile.NamedTemporaryFile(suffix=".mp4") as tmp:
        tmp.write(raw)
        tmp.flush()
        try:
            info = probe(tmp.name)
        except Exception:
            raise rejected("source is not a decodable video", "body", "source") from None
    # its frames at its rate (the container's duration may round up past the last frame)
    seconds = info.frames / info.fps if info.fps and info.frames else float(info.duration)
    return {
        "duration": seconds,
        "width": info.width,
        "height": info.height,
        "aspect_ratio": _ratio(info.width, info.height),
    }


def _ratio(width: int | None, height: int | None) -> str:
    """The nearest ray-3.2 aspect ratio to ``width:height``."""
    if not width or not height:
        return DEFAULT_ASPECT_RATIO
    value = width / height
    return min(VIDEO_ASPECT_RATIOS, key=lambda r: abs(value - _value(r)))


def _value(ratio: str) -> float:
    w, h = VIDEO_ASPECT_RATIOS[ratio]
    return w / h


def _price(kind: str, resolution: str, hdr: bool, exr: bool, seconds: float) -> float:
    """USD for one generation (docs/providers/luma.md §2: reframe per source second; video by
    its 5 s / 10 s tier; HDR edits at twice the SDR price [fal's Ray 3.2 video-to-video page:
    HDR $2.16/$4.32 at 5 s vs SDR $1.08/$2.16]). An edit lasts as long as its source, and
    the table's 10 s edit is exactly two 5 s edits ([3P GMI Cloud]: "a 10s video bills as two
    5s blocks"): an edit is billed per started 5 s of source (past 10 s: ours)."""
    if kind == "video_reframe":
        return REFRAME_PER_SECOND[resolution] * seconds
    if kind == "video_edit":
        blocks = max(1, math.ceil(seconds / 5 - 1e-6))
        return PRICES[("video_edit", "sdr", 5)][resolution] * blocks * (2 if hdr else 1)
    block = 5 if seconds <= 5 else 10
    tone = "exr" if exr else "hdr" if hdr else "sdr"
    return PRICES[("video", tone, block)][resolution]


def _render(job: AgentsJob, folder: Path) -> None:
    """Write the job's MP4: each segment one solid colour (its prompt's), at the job's size;
    an edit of a video it holds (with ``edit_follows_source``), that video restyled."""
    from ministudio.media.encode import VideoWriter

    w, h = job.render_width, job.render_height
    if job.type == "image":
        _draw_image(job, folder)
        return
    path = folder / f"{job.id}.mp4"
    source = (job.source or {}).get("video") if job.follows_source else None
    if job.type == "video_edit" and source:
        start = (job.frames.get("start_frame") or {}).get("image")
        _restyled(source, path, w, h, job.fps, job.duration, start)
        job.path = path
        return
    with VideoWriter(path, w, h, job.fps) as writer:
        for text, seconds in job.segments or [(job.prompt, job.duration)]:
            planes = solid_planes(w, h, text or job.id)
            for _ in range(max(1, round(seconds * job.fps))):
                writer.write_yuv420p(planes)
    job.path = path


def _extension(job: AgentsJob) -> str:
    """The output file's extension: ``mp4`` for a video, ``png`` or ``jpg`` for an image."""
    if job.type in VIDEO_TYPES:
        return "mp4"
    return "jpg" if job.output_format == "jpeg" else "png"


def _draw_image(job: AgentsJob, folder: Path) -> None:
    """Write the job's picture: one colour per prompt at its render size, as a PNG or JPEG
    (``output_format``), a lighter band across its top eighth."""
    from PIL import Image, ImageDraw

    digest = hashlib.sha256((job.prompt or job.id).encode()).digest()
    colour = (40 + digest[0] % 160, 40 + digest[1] % 160, 40 + digest[2] % 160)
    picture = Image.new("RGB", (job.render_width, job.render_height), colour)
    band = tuple(min(255, c + 70) for c in colour)
    ImageDraw.Draw(picture).rectangle((0, 0, job.render_width, job.render_height // 8), band)
    path = folder / f"{job.id}.{_extension(job)}"
    picture.save(path, format="JPEG" if job.output_format == "jpeg" else "PNG")
    job.path = path


def _restyled(
    video: bytes,
    path: Path,
    w: int,
    h: int,
    fps: int,
    seconds: float,
    start: bytes | None = None,
) -> None:
    """``video`` restyled, as an edit does ([D-gen] Modify Video "keeps the motion and
    structure" of the source, docs/providers/luma.md §6; "output duration matches the source"
    [SDK-A] video_edit_options_param.py): its frames at ``w``x``h`` and ``fps`` over
    ``seconds``, colours turned (the model's new look stands in here as a regrade). A
    ``start`` image (``video.start_frame``, "the single-anchor case" [SDK-A]) is the first
    frame, faded into the edit over half a second (how it joins is undocumented: ours)."""
    import io

    import av
    import numpy as np
    from ministudio.media.encode import VideoWriter
    from PIL import Image

    with av.open(io.BytesIO(video)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or fps)
        frames = [f.to_image() for f in container.decode(stream)]
    anchor = None
    if start is not None:
        opened = Image.open(io.BytesIO(start)).convert("RGB")
        anchor = np.asarray(opened.resize((w, h), Image.Resampling.BILINEAR), np.float32)
    fade = max(1, round(fps / 2))
    with VideoWriter(path, w, h, fps) as writer:
        for i in range(max(1, round(seconds * fps))):
            picture = frames[min(len(frames) - 1, int(i * rate / fps + 1e-6))]
            rgb = np.asarray(picture.convert("RGB").resize((w, h), Image.Resampling.BILINEAR))
            rgb = rgb[:, :, ::-1]
            if anchor is not None and i < fade:
                rgb = (anchor * (1 - i / fade) + rgb * (i / fade)).astype(np.uint8)
            writer.write(np.ascontiguousarray(rgb))


LumaAgentsServer.name = "luma-agents"
LumaAgentsServer.handler = _Handler
LumaAgentsServer.endpoints = ENDPOINTS
LumaAgentsServer.fault_endpoints = FAULT_ENDPOINTS
