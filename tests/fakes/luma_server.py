"""A loopback fake of the Luma Dream Machine API (``lumaai`` 1.21.0 wire protocol), for testing
the Luma engine: create, poll, callbacks, download, list/delete, limits and faults.

Use it as a context manager; it serves on 127.0.0.1 (a free port) from a background thread::

    with LumaServer(latency=(0.2, 0.25), render_scale=0.125) as luma:
        client = LumaAI(auth_token=luma.api_key, base_url=luma.api_url, max_retries=0)
        gen = client.generations.create(model="ray-2", prompt="a red kite", duration="5s")
        luma.fail_next("create", "429")
        assert luma.submissions == 1

``api_url`` is ``base_url + "/dream-machine/v1"`` (the SDK's ``base_url``).

Jobs do no real work: each runs in virtual time. It is ``queued`` for the first tenth of its
latency (``latency=(mean, jitter)``: ``mean * (1 ± jitter)`` drawn deterministically from the
prompt; or a number; or a callable ``prompt -> seconds``), then ``dreaming``, then
``completed`` or ``failed``. Its asset is encoded in the background from acceptance: a real
H.264 MP4 of one solid colour (from the prompt) with a lighter band at the top, and a
thumbnail image; for an image generation, a PNG or JPEG. Nominal sizes follow ``resolution``
and ``aspect_ratio`` (``540p`` 16:9 is 960x540, 9:16 is 540x960; ``4k`` is 2160 on the short
side); the file is rendered at ``render_scale`` of that (rounded to even, at least 16 px) so
tests stay fast. The clip lasts ``duration`` (``"5s"`` or ``"9s"``) at ``fps``.

Wire protocol (base path ``/dream-machine/v1``; ``Authorization: Bearer <key>`` on every
call there, else 401 ``{"detail": "Invalid API key is provided"}``; errors are
``{"detail": str}``):

``POST /generations/video`` and the legacy ``POST /generations`` (SDK < 1.10)
    Body as spec section 1.3: ``model`` (``ray-2`` | ``ray-flash-2``), ``prompt`` (3..5000
    characters; may be left out when ``keyframes`` are given), ``aspect_ratio`` (the 7
    values, default 16:9), ``resolution`` (540p | 720p | 1080p | 4k, default 720p),
    ``duration`` (5s | 9s, default 5s), ``loop``, ``keyframes`` (``frame0``/``frame1``, each
    ``{"type": "image", "url"}`` - recorded, never fetched - or ``{"type": "generation",
    "id"}`` naming a *completed* video generation of this server), ``concepts``,
    ``callback_url``. 201 with the Generation object (state ``queued``). 400 for the docs'
    validation messages ("Prompt is required", "Prompt is too short, minimum length is 3
    characters", "Prompt is too long, maximum length is 5000 characters", "Loop is not
    supported for end frame", "Loop is not supported for keyframes", "No keyframes
    provided", and ours for a bad model / ratio / resolution / duration / keyframe).
    Over ``concurrency`` video jobs in flight, or ``creates_per_minute`` creates within
    ``rate_window`` seconds: 429 ``{"detail": ...}`` with ``retry-after`` (seconds, may be
    fractional). A prompt holding a blocked word is accepted, then fails with
    ``failure_reason`` "Advanced prompt moderation failed" (and is not billed).
``POST /generations/image``
    Photon: ``model`` (``photon-1`` | ``photon-flash-1``), ``prompt`` (3..5000), ``aspect_ratio``,
    ``format`` (``jpg`` default | ``png``), ``image_ref`` (up to 4), ``style_ref``,
    ``character_ref`` (``identity0`` only), ``modify_image_ref`` - URLs recorded, never fetched;
    ``sync`` (answer only once terminal, or after ``sync_timeout``), ``callback_url``. 201.
    Limits ``image_concurrency`` / ``image_creates_per_minute``.
``GET /generations/{id}``
    200 Generation: ``{"id", "generation_type", "state", "failure_reason", "created_at",
    "assets", "model", "request"}``; ``assets`` is ``{"video": url, "image": url}`` (video;
    the image is a thumbnail) or ``{"image": url}`` (image) once completed, else null.
    404 ``{"detail": "Generation not found"}``.
``GET /generations?limit=&offset=``
    ``{"generations": [...newest first], "count", "has_more", "limit", "offset"}`` (lumaai
    1.21.0 ``generations.list(limit=, offset=)`` -> ``GenerationListResponse``; the OpenAPI
    ``listGenerations`` in lumalabs/lumaai-api: integers, defaults 100 and 0, newest first in
    its example). A limit or offset that is not an integer: 400 ``{"detail"}`` (the documented
    error shape). The docs give no bounds: a limit under 1 or a negative offset is refused
    (ours), and ``list_limit`` (default None: any) caps the page size silently, as a server
    may; tests cover both.
``DELETE /generations/{id}``
    204, no body. A deleted generation is gone from get/list/assets and stops counting
    against the concurrency limit; no further callbacks are sent for it.
``GET /ping`` -> ``{"message": "pong"}``; ``GET /credits`` -> ``{"credit_balance": cents}``.
``GET /cdn/{id}.mp4`` / ``/cdn/{id}.png`` / ``/cdn/{id}.jpg``
    The assets, no auth (a CDN URL), with ``Content-Length``. 404 until completed.
Callbacks
    With ``callback_url``, the Generation JSON (as of the transition) is POSTed on
    ``dreaming``, ``completed`` and ``failed``, in order per job, from a background thread;
    retried 3 times (``webhook_retry_delay`` apart, 5 s timeout) until an HTTP 200.

Strictness (issue 14), each rule citing its source beside it in the code: [SDK-DM] is the
``lumaai`` 1.21.0 wheel (Stainless-generated from Luma's OpenAPI spec; paths inside ``lumaai/``),
[D-DM] docs.lumalabs.ai, [3P] second-hand material named where used. The request fields are
those of the SDK types (``types/generations/video_create_params.py``,
``image_create_params.py``); with ``unknown_fields="reject"`` (the default) any other field is
a 400 naming it, with ``"ignore"`` it is dropped silently (the docs do not say which the server
does; tests cover both). ``generation_type``, if sent, must match the endpoint (a Literal in
the SDK). ``concepts`` is a list of ``{"key": str}``; ``concept_keys`` (None: any key) is the
list ``GET /generations/concepts/list`` answers and, when set, the only keys accepted. Photon:
``model`` is required (``Required`` in the SDK; [D-DM] docs.lumalabs.ai/docs/image-generation
calls ``photon-1`` "the default" and its text-to-image example sends no model: an open
discrepancy, so both are served: ``image_model_required=True``, the default, follows the SDK;
False follows the docs), ``image_ref`` up to 4 ([D-DM] image-generation: "You can use up
to 4 images as references"), the seven aspect ratios and two models of that page, ``style_ref``
1, ``character_ref.identity0.images`` 1 to 4 URLs, weights 0..1 [3P: the wheattoast11
mcp-video-gen schema "based on Luma docs"].

Faults, injected with ``fail_next(endpoint, kind, count=1)`` (or ``faults=``), hit the next
matching requests before anything else (auth, limits) is checked:

- ``"429"``: 429 with ``retry-after: fault_retry_after``; ``"500"``: 500. Both carry
  ``x-should-retry: false`` so the SDK does not retry them (spec section 6 item 18);
- ``"drop"``: close the connection without answering, having done nothing;
- ``"drop_after_accept"`` (``create``/``image``): accept the job, then close without answering;
- ``"hold_after_accept"`` (``create``/``image``): accept it, then answer nothing until the
  client goes away (``fakes.hold``: a request in flight, for kill tests);
- ``"accept_after_client_died"`` (``create``/``image``): answer nothing until the client goes
  away, then accept the job ``late_accept`` seconds later (a server committing late);
- ``"truncate"`` (``download``): send ``Content-Length`` for the whole file, then half of it.

Endpoints: ``"create"`` (video and legacy), ``"image"``, ``"get"``, ``"list"``,
``"delete"``, ``"ping"``, ``"credits"``, ``"concepts"``, ``"download"``.
``fail_next_job(reason)`` makes the next accepted generations fail (at the end of their
latency) with ``failure_reason``.

Counters: ``submissions`` (accepted creates), ``status_requests`` (GET /generations/{id}),
``jobs`` (id -> ``LumaJob``, with the parsed
``request``, ``keyframes``, ``state``, sizes, ``submitted_at``/``done_at``,
``get_requests``, ``downloads``...), ``requests`` (``(method, path)``, query included),
``rejected`` (a Counter: ``rate_limit``, ``concurrency_limit``), ``peak_concurrency``,
``webhooks`` (``WebhookDelivery``), ``billed_cents``, ``credit_balance``. Prices: ray-2
0.0064 USD per million nominal pixels (at 24 fps), ray-flash-2 0.0022 (spec 1.7,
secondary); photon prices are assumptions (``IMAGE_PRICE_CENTS``).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from .clips import even, nominal_size, solid_planes
from .hold import HOLD, LATE, hold
from .loopback import Faults, JsonHandler, Latency, LoopbackServer, draw_latency

API = "/dream-machine/v1"
ENDPOINTS = (
    "create",
    "image",
    "get",
    "list",
    "delete",
    "ping",
    "credits",
    "concepts",
    "download",
)
FAULT_ENDPOINTS = {
    "429": ENDPOINTS,
    "500": ENDPOINTS,
    "drop": ENDPOINTS,
    "drop_after_accept": ("create", "image"),
    HOLD: ("create", "image"),
    LATE: ("create", "image"),
    "truncate": ("download",),
}
TERMINAL = ("completed", "failed")
QUEUED_FRACTION = 0.1
VIDEO_MODELS = ("ray-2", "ray-flash-2")  # [SDK-DM] video_create_params.py: model
# [SDK-DM] image_create_params.py: model; [D-DM] image-generation: "photon-1 (default)",
# "photon-flash-1"
IMAGE_MODELS = ("photon-1", "photon-flash-1")
# [SDK-DM] video_create_params.py / image_create_params.py: aspect_ratio Literal; [D-DM]
# image-generation lists the same seven for images ("16:9 (default)")
ASPECT_RATIOS = {
    "1:1": (1, 1),
    "16:9": (16, 9),
    "9:16": (9, 16),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "21:9": (21, 9),
    "9:21": (9, 21),
}
# [SDK-DM] video_create_params.py: resolution "540p" | "720p" | "1080p" | "4k", duration "5s" |
# "9s" (both typed ``Union[Literal[...], str]``: the server validates the final set)
RESOLUTIONS = {"540p": 540, "720p": 720, "1080p": 1080, "4k": 2160}
DURATIONS = {"5s": 5, "9s": 9}
# the request fields of [SDK-DM] video_create_params.py and image_create_params.py
VIDEO_FIELDS = {
    "model", "aspect_ratio", "callback_url", "concepts", "duration", "generation_type",
    "keyframes", "loop", "prompt", "resolution",
}  # fmt: skip
IMAGE_FIELDS = {
    "model", "aspect_ratio", "callback_url", "character_ref", "format", "generation_type",
    "image_ref", "modify_image_ref", "prompt", "style_ref", "sync", "sync_timeout",
}  # fmt: skip
REF_FIELDS = {"url", "weight"}  # ImageRef, StyleRef, ModifyImageRef
IMAGE_SHORT_SIDE = 1080  # nominal Photon output (an assumption)
PRICE_PER_MPX_CENTS = {"ray-2": 0.64, "ray-flash-2": 0.22}  # US cents per million pixels
# Luma's docs give no Photon price: photon-1 1.5 cents is WaveSpeedAI's flat per-image rate
# [3P: wavespeed.ai/docs/docs-api/luma/luma-photon]; photon-flash-1 0.4 cents is an assumption
# (WaveSpeedAI's reseller rate is 0.5: .../luma-photon-flash)
IMAGE_PRICE_CENTS = {"photon-1": 1.5, "photon-flash-1": 0.4}
NOMINAL_FPS = 24
MODERATION_FAILED = "Advanced prompt moderation failed"
# "retries delivery 3 times with a 100ms delay and a 5 second request timeout" when the receiver
# does not answer 200 (docs.lumalabs.ai/changelog/callbacks-and-credits-balance, as quoted by the
# api-evangelist luma-ai AsyncAPI [3P]); no signature is documented, so callbacks are unsigned
WEBHOOK_ATTEMPTS = 4  # the first try and 3 retries
NO_RETRY = {"x-should-retry": "false"}


class BadRequest(ValueError):
    """A 400 with this message as ``detail``."""


@dataclass
class LumaJob:
    """One accepted generation, as the server sees it."""

    id: str
    generation_type: str  # "video" | "image"
    model: str
    prompt: str | None
    request: dict[str, Any]  # the echo sent back, generation_type included
    width: int  # nominal
    height: int
    render_width: int
    render_height: int
    duration: float  # seconds (0 for images)
    fmt: str  # "mp4" | "png" | "jpg"
    callback_url: str | None
    keyframes: dict[str, dict[str, Any]]
    latency: float
    submitted_at: float  # time.monotonic()
    created_at: str  # ISO 8601, as sent
    fps: int = 12  # the encoded frame rate
    state: str = "queued"
    failure_reason: str | None = None
    planned_failure: str | None = None
    deleted: bool = False
    dreaming_at: float | None = None
    done_at: float | None = None
    get_requests: int = 0
    downloads: int = 0
    path: Path | None = None
    thumb: Path | None = None
    legacy_path: bool = False
    cost_cents: float = 0.0

    @property
    def in_flight(self) -> bool:
        return self.state not in TERMINAL and not self.deleted


@dataclass
class WebhookDelivery:
    job_id: str
    state: str
    url: str
    attempts: int
    delivered: bool
    payload: dict[str, Any] = field(default_factory=dict)


class LumaServer(LoopbackServer):
    """The fake API. Start it with ``with`` (or ``start()``/``close()``)."""

    def __init__(
        self,
        api_key: str = "luma-test-key",
        latency: Latency = (0.3, 0.25),
        concurrency: int | None = 10,
        creates_per_minute: int | None = 20,
        blocked_words: Iterable[str] = ("forbidden",),
        faults: Faults = None,
        *,
        image_latency: Latency = 0.1,
        image_concurrency: int | None = 40,
        image_creates_per_minute: int | None = 80,
        render_scale: float = 0.125,
        fps: int = 12,
        list_limit: int | None = None,
        late_accept: float = 1.0,
        rate_window: float = 60.0,
        fault_retry_after: float = 0.1,
        webhook_retry_delay: float = 0.1,
        credit_balance: float = 100_000.0,
        unknown_fields: str = "reject",
        concept_keys: Iterable[str] | None = None,
        image_model_required: bool = True,
        encoders: int = 2,
        seed: int = 0,
    ) -> None:
        """``render_scale``: the fraction of the nominal size actually encoded; ``fps``: the
        encoded frame rate; ``rate_window``: the seconds a "minute" lasts; ``list_limit``: the
        most generations a list page holds, whatever the limit asked (None: no cap);
        ``late_accept``: how long after its client died an ``accept_after_client_died``
        create is accepted; ``unknown_fields`` ("reject" or "ignore"), ``concept_keys`` and
        ``image_model_required`` (False: a Photon create without ``model`` is ``photon-1``'s):
        see the module doc."""
        super().__init__(api_key, encoders)
        if unknown_fields not in ("reject", "ignore"):
            raise ValueError("unknown_fields: 'reject' or 'ignore'")
        self.unknown_fields = unknown_fields
        self.concept_keys = None if concept_keys is None else tuple(concept_keys)
        self.image_model_required = image_model_required
        self.latency = latency
        self.image_latency = image_latency
        self.concurrency = concurrency
        self.creates_per_minute = creates_per_minute
        self.image_concurrency = image_concurrency
        self.image_creates_per_minute = image_creates_per_minute
        self.blocked_words = tuple(w.lower() for w in blocked_words)
        self.render_scale = render_scale
        self.fps = fps
        self.list_limit = list_limit
        self.late_accept = late_accept
        self.rate_window = rate_window
        self.fault_retry_after = fault_retry_after
        self.webhook_retry_delay = webhook_retry_delay
        self.credit_balance = credit_balance
        self._rng = random.Random(seed)

        self.jobs: dict[str, LumaJob] = {}
        self.submissions = 0
        self.status_requests = 0
        self.rejected: Counter[str] = Counter()
        self.peak_concurrency = 0
        self.webhooks: list[WebhookDelivery] = []
        self.billed_cents = 0.0

        self._job_failures: deque[str] = deque()
        self._recent: dict[str, deque[float]] = {"video": deque(), "image": deque()}
        self._renders: dict[str, Future[None]] = {}
        self._hooks: dict[str, deque[dict[str, Any]]] = {}  # job id -> payloads to send

        self.fail_with(faults)

    @property
    def api_url(self) -> str:
        """What to give ``LumaAI(base_url=...)``."""
        return self.base_url + API

    # -- knobs and counters -----------------------------------------------------------------
    def fail_next_job(self, reason: str = "Prompt processing failed", count: int = 1) -> None:
        """Make the next ``count`` accepted generations end ``failed`` with ``reason``."""
        with self._lock:
            self._job_failures.extend([reason] * count)

    @property
    def active(self) -> int:
        """Video generations accepted and not yet terminal (nor deleted)."""
        with self._lock:
            return self._active("video")

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every job is terminal and every callback delivery has ended."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while any(j.in_flight for j in self.jobs.values()) or self._webhooks_pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    # -- helpers (hold the lock where said) ---------------------------------------------------
    def _active(self, kind: str) -> int:
        return sum(1 for j in self.jobs.values() if j.in_flight and j.generation_type == kind)

    def _over_rate(self, kind: str, now: float) -> float | None:
        """Count one create; the seconds to wait if it is over the limit. Hold the lock."""
        limit = self.creates_per_minute if kind == "video" else self.image_creates_per_minute
        if limit is None:
            return None
        recent = self._recent[kind]
        while recent and now - recent[0] >= self.rate_window:
            recent.popleft()
        if len(recent) >= limit:
            return max(0.001, recent[0] + self.rate_window - now)
        recent.append(now)
        return None

    def _guard(self, h: _Handler, endpoint: str) -> bool:
        """Faults and auth. True when the handler has already answered (or dropped)."""
        fault = self._take_fault(endpoint)
        if fault == "drop":
            h.drop()
            return True
        if fault == "429":
            with self._lock:
                self.rejected["injected"] += 1
            h.send_detail(
                429,
                "Too many requests (injected)",
                {"retry-after": f"{self.fault_retry_after:.3f}", **NO_RETRY},
            )
            return True
        if fault == "500":
            h.send_detail(500, "Internal server error (injected)", NO_RETRY)
            return True
        if fault is not None:
            h.fault = fault
        if endpoint != "download" and not self._authorized(h):
            h.send_detail(401, "Invalid API key is provided")
            return True
        return False

    def _blocked(self, prompt: str | None) -> bool:
        lowered = (prompt or "").lower()
        return any(word in lowered for word in self.blocked_words)

    def _latency(self, prompt: str | None, kind: str) -> float:
        return draw_latency(self.latency if kind == "video" else self.image_latency, prompt)

    def _url(self, job: LumaJob, ext: str) -> str:
        return f"{self.base_url}/cdn/{job.id}.{ext}"

    def _job_json(self, job: LumaJob) -> dict[str, Any]:
        assets: dict[str, str] | None = None
        if job.state == "completed":
            if job.generation_type == "video":
                assets = {"video": self._url(job, "mp4"), "image": self._url(job, "png")}
            else:
                assets = {"image": self._url(job, job.fmt)}
        return {
            "id": job.id,
            "generation_type": job.generation_type,
            "state": job.state,
            "failure_reason": job.failure_reason,
            "created_at": job.created_at,
            "assets": assets,
            "model": job.model,
            "request": job.request,
        }

    # -- create ---------------------------------------------------------------------------------
    def create(self, h: _Handler, body: bytes, kind: str, legacy: bool = False) -> None:
        endpoint = "create" if kind == "video" else "image"
        if self._guard(h, endpoint):
            return
        now = time.monotonic()
        with self._lock:
            wait = self._over_rate(kind, now)
            if wait is not None:
                self.rejected["rate_limit"] += 1
        if wait is not None:
            h.send_detail(
                429,
                "Rate limit exceeded: too many generation requests per minute",
                {"retry-after": f"{wait:.3f}"},
            )
            return
        try:
            data = _json_object(body)
            with self._lock:
                fields = (
                    self._parse_video(data, legacy) if kind == "video" else self._parse_image(data)
                )
        except BadRequest as exc:
            h.send_detail(400, str(exc))
            return
        if h.fault == LATE:
            hold(self, h)
            time.sleep(self.late_accept)
            with self._lock:
                self._accept(fields, time.monotonic())
            return
        limit = self.concurrency if kind == "video" else self.image_concurrency
        with self._lock:
            if limit is not None and self._active(kind) >= limit:
                self.rejected["concurrency_limit"] += 1
                ends = [
                    j.submitted_at + j.latency
                    for j in self.jobs.values()
                    if j.in_flight and j.generation_type == kind
                ]
                wait = max(0.01, min(ends) - now)
                job = None
            else:
                job = self._accept(fields, now)
        if job is None:
            h.send_detail(
                429,
                f"Too many concurrent generations: at most {limit} in flight",
                {"retry-after": f"{wait:.3f}"},
            )
            return
        if h.fault == "drop_after_accept":
            h.drop()
            return
        if h.fault == HOLD:
            hold(self, h)
            return
        if kind == "image" and data.get("sync"):
            timeout = float(data.get("sync_timeout") or 60)
            deadline = time.monotonic() + timeout
            with self._changed:
                while job.in_flight and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._changed.wait(left)
        with self._lock:
            payload = self._job_json(job)
        h.send_json(201, payload)

    def _parse_video(self, data: dict[str, Any], legacy: bool) -> dict[str, Any]:
        """Check a video create body. Hold the lock (keyframes look up jobs)."""
        self._unknown(data, VIDEO_FIELDS)
        if data.get("generation_type") not in (None, "video"):  # [SDK-DM]: Literal["video"]
            raise BadRequest("generation_type must be 'video'")
        model = data.get("model")
        if model is None:  # [SDK-DM] video_create_params.py: model is Required
            raise BadRequest("Model is required")
        if model not in VIDEO_MODELS:
            raise BadRequest(f"Invalid model {model!r}: use one of {', '.join(VIDEO_MODELS)}")
        keyframes = data.get("keyframes")
        frames: dict[str, dict[str, Any]] = {}
        if keyframes is not None:
            if not isinstance(keyframes, dict):
                raise BadRequest("keyframes must be an object")
            for name, frame in keyframes.items():
                if frame is None:
                    continue
                if name not in ("frame0", "frame1"):
                    raise BadRequest(f"Unknown keyframe {name!r}: use frame0 or frame1")
                frames[name] = self._keyframe(name, frame)
            if not frames:
                raise BadRequest("No keyframes provided")
        prompt = _prompt(data, required=not frames)
        if data.get("loop"):
            if len(frames) == 2:
                raise BadRequest("Loop is not supported for keyframes")
            if "frame1" in frames:
                raise BadRequest("Loop is not supported for end frame")
        if data.get("loop") is not None and not isinstance(data["loop"], bool):
            raise BadRequest("loop must be a boolean")  # [SDK-DM]: loop: bool
        self._concepts(data.get("concepts"))
        ratio = _choice(data, "aspect_ratio", ASPECT_RATIOS, "16:9")  # default: [OpenAPI v1alpha]
        resolution = _choice(data, "resolution", RESOLUTIONS, "720p")
        duration = _choice(data, "duration", DURATIONS, "5s")
        callback_url = _callback(data)
        short = RESOLUTIONS[resolution]
        width, height = nominal_size(short, ASPECT_RATIOS[ratio])
        request = {**data, "generation_type": "video"}
        return {
            "generation_type": "video",
            "model": model,
            "prompt": prompt,
            "request": request,
            "width": width,
            "height": height,
            "duration": float(DURATIONS[duration]),
            "fmt": "mp4",
            "callback_url": callback_url,
            "keyframes": frames,
            "legacy_path": legacy,
        }

    def _unknown(self, data: Mapping[str, Any], known: Iterable[str], where: str = "") -> None:
        """A field outside the SDK's types: 400, or dropped (``unknown_fields``)."""
        extra = sorted(set(data) - set(known))
        if extra and self.unknown_fields == "reject":
            raise BadRequest(f"Unknown field {where}{extra[0]!r}")

    def _concepts(self, concepts: Any) -> None:
        """[SDK-DM] video_create_params.py: ``concepts: Iterable[Concept]``, ``Concept = {key:
        Required[str]}``; the keys ``GET /generations/concepts/list`` names."""
        if concepts is None:
            return
        if not isinstance(concepts, list) or not all(
            isinstance(c, dict) and isinstance(c.get("key"), str) for c in concepts
        ):
            raise BadRequest("concepts must be a list of {key} objects")
        for concept in concepts:
            self._unknown(concept, {"key"}, "in concepts: ")
            if self.concept_keys is not None and concept["key"] not in self.concept_keys:
                raise BadRequest(f"Unknown concept {concept['key']!r}")

    def _keyframe(self, name: str, frame: Any) -> dict[str, Any]:
        """[SDK-DM] video_create_params.py: ``KeyframesFrame0/1`` = ``{type: "image", url}`` |
        ``{type: "generation", id}``, all Required."""
        if not isinstance(frame, dict):
            raise BadRequest(f"{name} must be an object")
        kind = frame.get("type")
        known = {"image": {"type", "url"}, "generation": {"type", "id"}}.get(kind)
        if known is not None:
            self._unknown(frame, known, f"in {name}: ")
        if kind == "image":
            url = frame.get("url")
            if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
                raise BadRequest(f"{name}: an image keyframe needs an http(s) url")
            return {"type": "image", "url": url}
        if kind == "generation":
            ref = frame.get("id")
            job = self.jobs.get(ref) if isinstance(ref, str) else None
            if job is None or job.deleted:
                raise BadRequest(f"{name}: generation {ref!r} not found")
            if job.generation_type != "video" or job.state != "completed":
                raise BadRequest(f"{name}: generation {ref!r} is not a completed video")
            return {"type": "generation", "id": ref}
        raise BadRequest(f"{name}: type must be 'image' or 'generation'")

    def _parse_image(self, data: dict[str, Any]) -> dict[str, Any]:
        """Check a Photon create body ([SDK-DM] image_create_params.py)."""
        self._unknown(data, IMAGE_FIELDS)
        if data.get("generation_type") not in (None, "image"):  # [SDK-DM]: Literal["image"]
            raise BadRequest("generation_type must be 'image'")
        model = data.get("model")
        if model is None and self.image_model_required:  # [SDK-DM]: model is Required
            raise BadRequest("Model is required")
        if model is None:  # [D-DM] image-generation: "photon-1 (default)"
            model = "photon-1"
        if model not in IMAGE_MODELS:
            raise BadRequest(f"Invalid model {model!r}: use one of {', '.join(IMAGE_MODELS)}")
        prompt = _prompt(data, required=True)
        ratio = _choice(data, "aspect_ratio", ASPECT_RATIOS, "16:9")
        fmt = _choice(data, "format", {"jpg": 0, "png": 0}, "jpg")  # [SDK-DM]: "jpg" | "png"
        # [D-DM] image-generation: "You can use up to 4 images as references" (image_ref);
        # [3P] mcp-video-gen's schema "based on Luma docs": style_ref 1
        for name, most in (("image_ref", 4), ("style_ref", 1)):
            refs = data.get(name)
            if refs is None:
                continue
            if not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs):
                raise BadRequest(f"{name} must be a list of {{url, weight}} objects")
            if len(refs) > most:
                raise BadRequest(f"{name}: at most {most} image{'s' if most > 1 else ''}")
            for ref in refs:
                self._ref(name, ref)
        if data.get("modify_image_ref") is not None:
            self._ref("modify_image_ref", data["modify_image_ref"])
        character = data.get("character_ref")
        if character is not None:
            # [SDK-DM]: CharacterRef = {identity0: {images: [str]}}; [3P]: 1 to 4 URLs
            if not isinstance(character, dict) or set(character) - {"identity0"}:
                raise BadRequest("character_ref: only identity0 is supported")
            identity = character.get("identity0")
            images = identity.get("images") if isinstance(identity, dict) else None
            if not isinstance(images, list) or not 1 <= len(images) <= 4:
                raise BadRequest("character_ref.identity0.images: 1 to 4 image URLs")
            if not all(isinstance(u, str) and _is_http(u) for u in images):
                raise BadRequest("character_ref.identity0.images must be http(s) URLs")
            self._unknown(identity, {"images"}, "in character_ref.identity0: ")
        if data.get("sync") is not None and not isinstance(data["sync"], bool):
            raise BadRequest("sync must be a boolean")  # [SDK-DM]: sync: bool
        timeout = data.get("sync_timeout")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
        ):
            raise BadRequest("sync_timeout must be a positive number")  # [SDK-DM]: float
        width, height = nominal_size(IMAGE_SHORT_SIDE, ASPECT_RATIOS[ratio])
        return {
            "generation_type": "image",
            "model": model,
            "prompt": prompt,
            "request": {**data, "model": model, "generation_type": "image"},
            "width": width,
            "height": height,
            "duration": 0.0,
            "fmt": fmt,
            "callback_url": _callback(data),
            "keyframes": {},
        }

    def _ref(self, name: str, ref: Any) -> None:
        """[SDK-DM] ImageRef / StyleRef / ModifyImageRef: ``{url, weight}``; [3P]: weight 0..1."""
        if not isinstance(ref, dict) or not isinstance(ref.get("url"), str):
            raise BadRequest(f"{name} must be a list of {{url, weight}} objects")
        self._unknown(ref, REF_FIELDS, f"in {name}: ")
        if not _is_http(ref["url"]):
            raise BadRequest(f"{name}: url must be an http(s) URL")
        weight = ref.get("weight")
        if weight is not None and (
            isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1
        ):
            raise BadRequest(f"{name}: weight must be a number from 0 to 1")

    def concepts(self, h: _Handler) -> None:
        """``GET /generations/concepts/list`` ([SDK-DM] resources/generations/concepts.py:
        ``ConceptListResponse = List[str]``)."""
        if not self._guard(h, "concepts"):
            h.send_json(200, list(self.concept_keys or ()))

    def _accept(self, fields: dict[str, Any], now: float) -> LumaJob:
        """Create and start one job. Hold the lock."""
        self.submissions += 1
        kind = fields["generation_type"]
        scale = self.render_scale
        job = LumaJob(
            id=str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            render_width=even(fields["width"] * scale),
            render_height=even(fields["height"] * scale),
            latency=self._latency(fields["prompt"], kind),
            submitted_at=now,
            fps=self.fps,
            created_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z",
            **fields,
        )
        if self._blocked(job.prompt):
            job.planned_failure = MODERATION_FAILED
        elif self._job_failures:
            job.planned_failure = self._job_failures.popleft()
        self.jobs[job.id] = job
        self.peak_concurrency = max(self.peak_concurrency, self._active("video"))
        if job.planned_failure is None:
            assert self._pool is not None and self._tmp is not None
            self._renders[job.id] = self._pool.submit(_render, job, Path(self._tmp.name))
        self._timer(job.latency * QUEUED_FRACTION, self._dream, job.id)
        self._timer(job.latency, self._finish, job.id)
        return job

    def _dream(self, job_id: str) -> None:
        with self._changed:
            job = self.jobs[job_id]
            if self._closed or job.deleted or job.state != "queued":
                return
            job.state = "dreaming"
            job.dreaming_at = time.monotonic()
            self._queue_hook(job)
            self._changed.notify_all()

    def _finish(self, job_id: str) -> None:
        job = self.jobs[job_id]
        render = self._renders.get(job_id)
        reason = job.planned_failure
        if render is not None:
            try:
                render.result()
            except Exception as exc:  # an encoding failure, or the server closing
                reason = f"Job failed: {exc}"
        with self._changed:
            if self._closed or job.deleted:
                return
            if job.state == "queued":  # the dreaming timer has not run yet
                job.state = "dreaming"
                job.dreaming_at = time.monotonic()
                self._queue_hook(job)
            job.state = "failed" if reason else "completed"
            job.failure_reason = reason
            job.done_at = time.monotonic()
            if not reason:
                if job.generation_type == "video":
                    pixels = job.width * job.height * NOMINAL_FPS * job.duration / 1e6
                    job.cost_cents = pixels * PRICE_PER_MPX_CENTS[job.model]
                else:
                    job.cost_cents = IMAGE_PRICE_CENTS[job.model]
                self.billed_cents += job.cost_cents
                self.credit_balance -= job.cost_cents
            self._queue_hook(job)
            self._changed.notify_all()

    # -- callbacks ------------------------------------------------------------------------------
    def _queue_hook(self, job: LumaJob) -> None:
        """Queue the job's JSON for its callback, in order. Hold the lock."""
        if not job.callback_url:
            return
        self._webhooks_pending += 1
        queue = self._hooks.get(job.id)
        if queue is None:
            queue = self._hooks[job.id] = deque()
            queue.append(self._job_json(job))
            threading.Thread(target=self._deliver_all, args=(job.id,), daemon=True).start()
        else:
            queue.append(self._job_json(job))

    def _deliver_all(self, job_id: str) -> None:
        url = self.jobs[job_id].callback_url
        assert url is not None
        while True:
            with self._lock:
                queue = self._hooks[job_id]
                if not queue:
                    del self._hooks[job_id]
                    return
                payload = queue[0]
            attempts, delivered = self.post_webhook(
                url, payload, attempts=WEBHOOK_ATTEMPTS, delay=self.webhook_retry_delay
            )
            with self._changed:
                queue.popleft()
                self.webhooks.append(
                    WebhookDelivery(job_id, payload["state"], url, attempts, delivered, payload)
                )
                self._webhooks_pending -= 1
                self._changed.notify_all()

    # -- read, list, delete, misc ---------------------------------------------------------------
    def get(self, h: _Handler, job_id: str) -> None:
        if self._guard(h, "get"):
            return
        with self._lock:
            self.status_requests += 1
            job = self.jobs.get(job_id)
            found = job is not None and not job.deleted
            if job is not None and found:
                job.get_requests += 1
                payload = self._job_json(job)
        if not found:
            h.send_detail(404, "Generation not found")
            return
        h.send_json(200, payload)

    def list_generations(self, h: _Handler, query: str) -> None:
        if self._guard(h, "list"):
            return
        params = parse_qs(query)
        try:
            # integers, defaults 100 and 0 (OpenAPI listGenerations; lumaai GenerationListParams)
            limit = int(params.get("limit", ["100"])[0])
            offset = int(params.get("offset", ["0"])[0])
            if limit < 1 or offset < 0:  # ours: the docs give no bounds
                raise ValueError
        except ValueError:
            h.send_detail(400, "limit must be a positive integer and offset non-negative")
            return
        if self.list_limit is not None:  # the docs are silent on a largest page: a knob
            limit = min(limit, self.list_limit)
        with self._lock:
            live = [j for j in reversed(self.jobs.values()) if not j.deleted]
            page = [self._job_json(j) for j in live[offset : offset + limit]]
            more = offset + len(page) < len(live)
        h.send_json(
            200,
            {
                "generations": page,
                "count": len(page),
                "has_more": more,
                "limit": limit,
                "offset": offset,
            },
        )

    def delete(self, h: _Handler, job_id: str) -> None:
        if self._guard(h, "delete"):
            return
        with self._changed:
            job = self.jobs.get(job_id)
            found = job is not None and not job.deleted
            if job is not None and found:
                job.deleted = True
                self._changed.notify_all()
        if not found:
            h.send_detail(404, "Generation not found")
            return
        h.send_response(204)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def ping(self, h: _Handler) -> None:
        if not self._guard(h, "ping"):
            h.send_json(200, {"message": "pong"})

    def credits(self, h: _Handler) -> None:
        if not self._guard(h, "credits"):
            with self._lock:
                balance = self.credit_balance
            h.send_json(200, {"credit_balance": balance})

    def download(self, h: _Handler, name: str) -> None:
        if self._guard(h, "download"):
            return
        job_id, _, ext = name.rpartition(".")
        with self._lock:
            job = self.jobs.get(job_id)
            path: Path | None = None
            if job is not None and job.state == "completed" and not job.deleted:
                if job.generation_type == "video":
                    path = {"mp4": job.path, "png": job.thumb}.get(ext)
                elif ext == job.fmt:
                    path = job.path
                if path is not None and (ext == "mp4" or job.generation_type == "image"):
                    job.downloads += 1
        if path is None:
            h.send_detail(404, "Not Found")
            return
        types = {"mp4": "video/mp4", "png": "image/png", "jpg": "image/jpeg"}
        h.send_bytes(path.read_bytes(), types[ext], truncate=h.fault == "truncate")


class _Handler(JsonHandler):
    server_version = "luma-fake/1"

    @property
    def luma(self) -> LumaServer:
        return self.fake  # type: ignore[no-any-return]

    def _route(self) -> tuple[str, str]:
        self.fault = None
        parts = urlsplit(self.path)
        return parts.path.rstrip("/"), parts.query

    def do_POST(self) -> None:
        path, _ = self._route()
        self.luma._log("POST", self.path)
        body = self._body()
        if path == f"{API}/generations/video":
            self.luma.create(self, body, "video")
        elif path == f"{API}/generations":
            self.luma.create(self, body, "video", legacy=True)
        elif path == f"{API}/generations/image":
            self.luma.create(self, body, "image")
        else:
            self.send_detail(404, "Not Found")

    def do_GET(self) -> None:
        path, query = self._route()
        self.luma._log("GET", self.path)
        prefix = f"{API}/generations/"
        if path == f"{API}/generations":
            self.luma.list_generations(self, query)
        elif path == f"{API}/generations/concepts/list":
            self.luma.concepts(self)
        elif path.startswith(prefix) and "/" not in path[len(prefix) :]:
            self.luma.get(self, path[len(prefix) :])
        elif path == f"{API}/ping":
            self.luma.ping(self)
        elif path == f"{API}/credits":
            self.luma.credits(self)
        elif path.startswith("/cdn/") and path.count("/") == 2:
            self.luma.download(self, path[len("/cdn/") :])
        else:
            self.send_detail(404, "Not Found")

    def do_DELETE(self) -> None:
        path, _ = self._route()
        self.luma._log("DELETE", self.path)
        self._body()
        prefix = f"{API}/generations/"
        if path.startswith(prefix) and "/" not in path[len(prefix) :]:
            self.luma.delete(self, path[len(prefix) :])
        else:
            self.send_detail(404, "Not Found")

    def send_detail(self, code: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
        self.send_json(code, {"detail": detail}, headers)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("Invalid JSON body") from None
    if not isinstance(data, dict):
        raise BadRequest("Invalid JSON body: an object is required")
    return data


def _prompt(data: dict[str, Any], required: bool) -> str | None:
    prompt = data.get("prompt")
    if prompt is None or prompt == "":
        if required:
            raise BadRequest("Prompt is required")
        return None
    if not isinstance(prompt, str):
        raise BadRequest("Prompt must be a string")
    if len(prompt) < 3:
        raise BadRequest("Prompt is too short, minimum length is 3 characters")
    if len(prompt) > 5000:
        raise BadRequest("Prompt is too long, maximum length is 5000 characters")
    return prompt


def _choice(data: dict[str, Any], name: str, allowed: Mapping[str, Any], default: str) -> str:
    value = data.get(name)
    if value is None:
        return default
    if value not in allowed:
        raise BadRequest(f"Invalid {name} {value!r}: use one of {', '.join(allowed)}")
    return str(value)


def _callback(data: dict[str, Any]) -> str | None:
    url = data.get("callback_url")
    if url is not None and (
        not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https")
    ):
        raise BadRequest("callback_url must be an http(s) URL")
    return url


def _is_http(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def _render(job: LumaJob, folder: Path) -> None:
    """Write the job's asset(s) into ``folder`` and record them on the job."""
    from PIL import Image

    planes = solid_planes(job.render_width, job.render_height, job.prompt or job.id)
    w, h = job.render_width, job.render_height
    luma = planes[:h]
    image = Image.fromarray(np.stack([luma, luma, luma], axis=-1), "RGB")
    if job.generation_type == "image":
        path = folder / f"{job.id}.{job.fmt}"
        image.save(path, format="PNG" if job.fmt == "png" else "JPEG")
        job.path = path
        return
    from ministudio.media.encode import VideoWriter

    thumb = folder / f"{job.id}.png"
    image.save(thumb, format="PNG")
    path = folder / f"{job.id}.mp4"
    with VideoWriter(path, w, h, job.fps) as writer:
        for _ in range(max(1, round(job.duration * job.fps))):
            writer.write_yuv420p(planes)
    job.thumb = thumb
    job.path = path


LumaServer.name = "luma"
LumaServer.handler = _Handler
LumaServer.endpoints = ENDPOINTS
LumaServer.fault_endpoints = FAULT_ENDPOINTS
