"""A loopback fake of the Kling AI video API (spec ``provider-wire-protocols.md`` section 3 and
items 15-17 of section 6), for testing the Kling engine: JWT auth, text2video and image2video,
task states, external ids, callbacks, the error table, limits and faults.

Use it as a context manager; it serves on 127.0.0.1 (a free port) from a background thread::

    with KlingServer(latency=0.2) as kling:
        token = jwt.encode({"iss": kling.access_key, "exp": now + 1800, "nbf": now - 5},
                           kling.secret_key, algorithm="HS256")
        answer = httpx.post(f"{kling.base_url}/v1/videos/text2video",
                            headers={"Authorization": f"Bearer {token}"},
                            json={"model_name": "kling-v1-6", "prompt": "a kite", "duration": "5"})
        kling.fail_next("create", "1303")

Tasks do no real work: each runs in virtual time. It is ``submitted`` for the first tenth of its
latency (``latency=(mean, jitter)``: ``mean * (1 ± jitter)`` drawn deterministically from the
prompt; or a number; or a callable ``prompt -> seconds``), then ``processing``, then ``succeed``
or ``failed``. Its video is encoded in the background from acceptance: a real H.264 MP4 of one
solid colour (from the prompt) with a lighter band at the top, lasting ``duration`` seconds at
the model's frame rate (30 for kling-v1 and kling-v1-5, else 24). Its nominal size is 720p in
``std`` mode and 1080p in ``pro`` (on the short side), in ``aspect_ratio`` for text2video and
in the shape of the (first) base64 image for image2video (Kling's image2video takes no
aspect ratio: spec 3.3); the file is rendered at ``render_scale`` of that (rounded to even, at
least 16 px) so tests stay fast.

Wire protocol:

Auth (every ``/v1`` call)
    ``Authorization: Bearer <jwt>``: HS256, signed with ``secret_key``, ``iss == access_key``,
    ``nbf <= now < exp`` (``now`` is the wall clock plus ``clock_offset``). Failures are HTTP
    401 with code 1001 (no header: "Authorization is empty"), 1002 ("Authorization is invalid:
    ..." - not a Bearer JWT, not HS256, a missing claim, "unknown access key (iss)",
    "signature verification failed"), 1003 (``nbf`` in the future) or 1004 (expired).
Envelope
    Success: HTTP 200 ``{"code": 0, "message": "SUCCEED", "request_id": uuid, "data": ...}``.
    Failure: the HTTP status and ``code`` of the official table (``CODES``), ``{"code",
    "message", "request_id"}`` and no ``data``.
``POST /v1/videos/text2video`` and ``POST /v1/videos/image2video``  (endpoint ``create``)
    Bodies as spec 3.3, checked (1201 unless said): ``model_name`` (``T2V_MODELS`` /
    ``I2V_MODELS``, else 404 code 1203; the legacy ``model`` field means kling-v1), ``prompt``
    (a string of at most 2500 characters, required for text2video), ``negative_prompt`` (at
    most 2500), ``cfg_scale`` (0..1), ``mode`` (std | pro), ``duration`` (the **strings** "5" |
    "10"), ``aspect_ratio`` (16:9 | 9:16 | 1:1, text2video), ``camera_control`` (``type``
    simple | down_back | forward_up | right_turn_forward | left_turn_forward; ``simple`` needs
    a ``config`` of the six fields in [-10, 10] with exactly one non-zero, the others take no
    config; accepted only for ``camera_models`` at ``camera_durations``: else 1201 "not
    supported"), ``image`` / ``image_tail`` (at least one; an http(s) URL - recorded, never
    fetched - or raw base64 without a ``data:`` prefix of a JPEG or PNG of at most 10 MB, each
    side at least 300 px, aspect ratio within 1:2.5..2.5:1), ``image_tail``, masks and
    ``camera_control`` mutually exclusive, ``callback_url`` (http(s)), ``external_task_id``
    (unique per account: a second use is 1201 "external_task_id already exists"). A prompt
    holding a blocked word is refused, 400 code 1301 (content security). Over ``concurrency``
    tasks in flight: 429 code 1303 "parallel task over resource pack limit". -> ``data``:
    ``{"task_id" (a numeric string), "task_status": "submitted", "task_info":
    {"external_task_id"?}, "created_at", "updated_at"}`` (milliseconds).
``GET /v1/videos/{kind}/{task_id or external_task_id}``  (``get``)
    The task, on the endpoint that made it only (else 404 code 1203 "task not found"):
    ``task_status``, ``task_status_msg``, ``task_info``, ms timestamps and, once ``succeed``,
    ``task_result.videos = [{"id", "url", "duration": "5.0"}]`` (a string) and
    ``final_unit_deduction`` (a string; units are this fake's assumption: 1 per 5 s in std
    mode, 2 in pro).
``GET /v1/videos/{kind}?pageNum=&pageSize=``  (``list``)
    ``data`` is an **array** of tasks, newest first (pageNum 1..1000, pageSize 1..500).
``GET /cdn/{task_id}/{video_id}.mp4``  (``download``)
    The MP4, no auth (a CDN URL), with ``Content-Length``. 404 until the task succeeded.
Callbacks
    With ``callback_url``, the task JSON (as of the change, **without** the envelope, plus
    ``final_unit_deduction``) is POSTed on ``processing``, ``succeed`` and ``failed``, in
    order per task, from a background thread; retried until a 2xx, ``WEBHOOK_ATTEMPTS`` tries
    ``webhook_retry_delay`` apart (no signature: Kling documents none).

Faults, injected with ``fail_next(endpoint, kind, count=1)`` (or ``faults=``), hit the next
matching requests before anything else (auth, limits) is checked:

- a code of the error table (``"1303"``, ``"1302"``, ``"1102"``, ``"5000"``, ...) on ``create``,
  ``get`` or ``list``: that answer (with ``Retry-After: fault_retry_after`` for 1302/1303 when
  that is set; Kling documents no such header);
- ``"drop"``: close the connection without answering, having done nothing;
- ``"drop_after_accept"`` (``create``): accept the task, then close without answering;
- ``"hold_after_accept"`` (``create``): accept it, then answer nothing until the client goes
  away (``fakes.hold``: a request in flight, for kill tests);
- ``"truncate"`` (``download``): send ``Content-Length`` for the whole file, then half of it;
- ``"500"`` / ``"404"`` (``download``): a bare CDN error.

``fail_next_task(message)`` makes the next accepted tasks end ``failed`` with that
``task_status_msg``.

Counters: ``submissions`` (accepted creates), ``tasks`` (id -> ``KlingTask``, with the parsed
``request`` (images replaced by a summary), ``images``, ``status``, sizes, ``get_requests``,
``downloads``...), ``requests`` (``(method, path)``, query included), ``status_requests``
(single-task queries), ``refusals`` (``(code, message)`` of every refused create),
``rejected`` (a Counter by code), ``peak_concurrency``, ``webhooks`` (``WebhookDelivery``),
``billed_usd`` (the secondary per-clip prices of spec 3.6, per second; other models at
``DEFAULT_PRICE``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from .clips import even, nominal_size, solid_planes
from .hold import HOLD, hold
from .loopback import Faults, JsonHandler, LoopbackServer

ACCESS_KEY = "kling-fake-ACCESS-7d41c0b2"
SECRET_KEY = "kling-fake-SECRET-0f3a9e6c5b2d4a18e7c6"  # 32+ bytes: PyJWT warns below that
KINDS = ("text2video", "image2video")
ENDPOINTS = ("create", "get", "list", "download")
# The official table: code -> (HTTP status, message).
CODES: dict[int, tuple[int, str]] = {
    1000: (401, "Authentication failed"),
    1001: (401, "Authorization is empty"),
    1002: (401, "Authorization is invalid"),
    1003: (401, "Authorization is not yet valid"),
    1004: (401, "Authorization has expired"),
    1100: (429, "Account exception"),
    1101: (429, "Account in arrears"),
    1102: (429, "Resource pack depleted or expired"),
    1103: (403, "No permission for the requested resource"),
    1200: (400, "Invalid request parameters"),
    1201: (400, "Invalid parameter key or value"),
    1202: (404, "Invalid request method"),
    1203: (404, "Requested resource does not exist"),
    1300: (400, "Trigger platform strategy"),
    1301: (400, "Trigger content security policy"),
    1302: (429, "API request rate too high"),
    1303: (429, "parallel task over resource pack limit"),
    1304: (429, "Trigger IP whitelist policy"),
    5000: (500, "Server internal error"),
    5001: (503, "Server temporarily unavailable (maintenance)"),
    5002: (504, "Server internal timeout (backlog)"),
}
FAULT_ENDPOINTS: dict[str, tuple[str, ...]] = {
    **{str(code): ("create", "get", "list") for code in CODES},
    "drop": ENDPOINTS,
    "drop_after_accept": ("create",),
    HOLD: ("create",),
    "truncate": ("download",),
    "500": ("download",),
    "404": ("download",),
}
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
CAMERA_MODELS = ("kling-v1", "kling-v1-5", "kling-v1-6")  # this fake's choice (spec: "varies")
CAMERA_TYPES = ("simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward")
CAMERA_FIELDS = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
ASPECT_RATIOS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}
DURATIONS = ("5", "10")
MAX_TEXT = 2500
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MIN_IMAGE_SIDE = 300
TERMINAL = ("succeed", "failed")
SUBMITTED_FRACTION = 0.1
WEBHOOK_ATTEMPTS = 4  # the first try and 3 retries
# USD per second by (model, mode): spec 3.6 per-clip figures / 5 s (secondary).
PRICES = {
    ("kling-v1", "std"): 0.028,
    ("kling-v1-5", "std"): 0.056,
    ("kling-v1-6", "std"): 0.056,
    ("kling-v1-6", "pro"): 0.098,
    ("kling-v2-master", "std"): 0.28,
}
DEFAULT_PRICE = 0.28
UNITS_PER_5S = {"std": 1, "pro": 2}  # the fake's assumption (no official unit table)

Latency = float | tuple[float, float] | Callable[[str], float]


class Refused(ValueError):
    """A create answered with ``code`` (its HTTP status from ``CODES``) and ``message``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ImageInfo:
    """What a create's ``image`` / ``image_tail`` held."""

    source: str  # "url" | "base64"
    url: str | None = None
    format: str | None = None  # "JPEG" | "PNG"
    width: int = 0
    height: int = 0
    sha256: str = ""


@dataclass
class KlingTask:
    """One accepted task, as the server sees it."""

    task_id: str
    kind: str  # "text2video" | "image2video"
    model: str
    mode: str
    duration: int
    prompt: str
    request: dict[str, Any]  # the body, images replaced by a summary
    images: dict[str, ImageInfo]
    external_task_id: str | None
    callback_url: str | None
    width: int  # nominal
    height: int
    render_width: int
    render_height: int
    fps: int
    latency: float
    submitted_at: float  # time.monotonic()
    created_at: int  # ms since the epoch
    updated_at: int
    video_id: str
    status: str = "submitted"
    status_msg: str = ""
    planned_failure: str | None = None
    done_at: float | None = None
    path: Path | None = None
    cost_usd: float = 0.0
    get_requests: int = 0
    downloads: int = 0

    @property
    def in_flight(self) -> bool:
        return self.status not in TERMINAL


@dataclass
class WebhookDelivery:
    task_id: str
    status: str
    url: str
    attempts: int
    delivered: bool
    payload: dict[str, Any] = field(default_factory=dict)


class KlingServer(LoopbackServer):
    """The fake API. Start it with ``with`` (or ``start()``/``close()``)."""

    def __init__(
        self,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
        latency: Latency = (0.3, 0.25),
        concurrency: int | None = 5,
        blocked_words: Iterable[str] = ("forbidden",),
        faults: Faults = None,
        *,
        render_scale: float = 0.125,
        camera_models: Iterable[str] = CAMERA_MODELS,
        camera_durations: Iterable[str] = ("5",),
        clock_offset: float = 0.0,
        fault_retry_after: float | None = None,
        webhook_retry_delay: float = 0.05,
        encoders: int = 2,
        seed: int = 0,
    ) -> None:
        """``render_scale``: the fraction of the nominal size actually encoded;
        ``clock_offset``: seconds the server's clock is ahead of this machine's."""
        super().__init__(access_key, encoders)
        self.access_key = access_key
        self.secret_key = secret_key
        self.latency = latency
        self.concurrency = concurrency
        self.blocked_words = tuple(w.lower() for w in blocked_words)
        self.render_scale = render_scale
        self.camera_models = tuple(camera_models)
        self.camera_durations = tuple(camera_durations)
        self.clock_offset = clock_offset
        self.fault_retry_after = fault_retry_after
        self.webhook_retry_delay = webhook_retry_delay
        self._rng = random.Random(seed)

        self.tasks: dict[str, KlingTask] = {}
        self.submissions = 0
        self.status_requests = 0
        self.refusals: list[tuple[int, str]] = []
        self.rejected: Counter[int] = Counter()
        self.peak_concurrency = 0
        self.webhooks: list[WebhookDelivery] = []
        self.billed_usd = 0.0

        self._task_failures: deque[str] = deque()
        self._renders: dict[str, Future[None]] = {}
        self._hooks: dict[str, deque[dict[str, Any]]] = {}  # task id -> payloads to send
        self.fail_with(faults)

    # -- knobs and counters ---------------------------------------------------------------------
    def fail_next_task(self, message: str = "Task failed", count: int = 1) -> None:
        """Make the next ``count`` accepted tasks end ``failed`` with ``message``."""
        with self._lock:
            self._task_failures.extend([message] * count)

    def token(self, **claims: Any) -> str:
        """A valid JWT for this server; ``claims`` override (``iss``, ``exp``, ``nbf``)."""
        now = int(time.time() + self.clock_offset)
        payload = {"iss": self.access_key, "exp": now + 1800, "nbf": now - 5, **claims}
        return jwt.encode(payload, self.secret_key, algorithm="HS256")

    @property
    def active(self) -> int:
        """Tasks accepted and not yet terminal."""
        with self._lock:
            return self._active()

    def by_external_id(self, external_task_id: str) -> KlingTask | None:
        with self._lock:
            return next(
                (t for t in self.tasks.values() if t.external_task_id == external_task_id), None
            )

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every task is terminal and every callback delivery has ended."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while any(t.in_flight for t in self.tasks.values()) or self._webhooks_pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    # -- helpers (hold the lock where said) -----------------------------------------------------
    def _active(self) -> int:
        return sum(1 for t in self.tasks.values() if t.in_flight)

    def _guard(self, h: _Handler, endpoint: str) -> bool:
        """Faults and auth. True when the handler has already answered (or dropped)."""
        fault = self._take_fault(endpoint)
        if fault == "drop":
            h.drop()
            return True
        if fault is not None and fault.isdigit() and int(fault) in CODES:
            code = int(fault)
            headers = {}
            if code in (1302, 1303) and self.fault_retry_after is not None:
                headers["Retry-After"] = f"{self.fault_retry_after:.3f}"
            with self._lock:
                self.rejected[code] += 1
            h.send_error_code(code, f"{CODES[code][1]} (injected)", headers)
            return True
        if fault in ("500", "404"):
            h.send_json(int(fault), {"error": "injected"})
            return True
        h.fault = fault
        if endpoint != "download":
            refused = self._check_token(h.headers.get("Authorization"))
            if refused is not None:
                h.send_error_code(*refused)
                return True
        return False

    def _check_token(self, header: str | None) -> tuple[int, str] | None:
        """None if ``header`` carries a valid token, else (code, message)."""
        if not header:
            return 1001, "Authorization is empty"
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token.strip():
            return 1002, "Authorization is invalid: expected 'Bearer <token>'"
        try:
            head = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return 1002, "Authorization is invalid: not a JWT"
        if head.get("alg") != "HS256":
            return 1002, "Authorization is invalid: alg must be HS256"
        for claim in ("iss", "exp", "nbf"):
            if claim not in claims:
                return 1002, f"Authorization is invalid: claim {claim!r} is missing"
        if claims["iss"] != self.access_key:
            return 1002, "Authorization is invalid: unknown access key (iss)"
        try:
            jwt.decode(
                token,
                self.secret_key,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.InvalidSignatureError:
            return 1002, "Authorization is invalid: signature verification failed"
        except jwt.InvalidTokenError as exc:
            return 1002, f"Authorization is invalid: {exc}"
        now = time.time() + self.clock_offset
        try:
            nbf, exp = float(claims["nbf"]), float(claims["exp"])
        except (TypeError, ValueError):
            return 1002, "Authorization is invalid: nbf and exp must be numbers"
        if nbf > now:
            return 1003, "Authorization is not yet valid (nbf is in the future)"
        if exp <= now:
            return 1004, "Authorization has expired (exp is in the past)"
        return None

    def _latency(self, prompt: str) -> float:
        latency = self.latency
        if callable(latency):
            return max(0.0, float(latency(prompt)))
        if isinstance(latency, (int, float)):
            return float(latency)
        mean, jitter = latency
        digest = hashlib.sha256(prompt.encode()).digest()
        return max(0.0, mean * (1.0 + random.Random(digest).uniform(-jitter, jitter)))

    def _url(self, task: KlingTask) -> str:
        return f"{self.base_url}/cdn/{task.task_id}/{task.video_id}.mp4"

    def _task_json(self, task: KlingTask, *, created: bool = False) -> dict[str, Any]:
        info = {"external_task_id": task.external_task_id} if task.external_task_id else {}
        data: dict[str, Any] = {"task_id": task.task_id, "task_status": task.status}
        if not created:
            data["task_status_msg"] = task.status_msg
        data["task_info"] = info
        data["created_at"] = task.created_at
        data["updated_at"] = task.updated_at
        if task.status == "succeed":
            data["task_result"] = {
                "videos": [
                    {"id": task.video_id, "url": self._url(task), "duration": f"{task.duration}.0"}
                ]
            }
        if task.status in TERMINAL and not created:
            units = UNITS_PER_5S[task.mode] * task.duration / 5 if task.status == "succeed" else 0
            data["final_unit_deduction"] = f"{units:g}"
        return data

    # -- create ---------------------------------------------------------------------------------
    def create(self, h: _Handler, kind: str, body: bytes) -> None:
        if self._guard(h, "create"):
            return
        try:
            data = _json_object(body)
            fields = self._parse(kind, data)
            with self._lock:
                ext = fields["external_task_id"]
                if ext is not None and any(t.external_task_id == ext for t in self.tasks.values()):
                    raise Refused(1201, f"external_task_id {ext!r} already exists")
                if self.concurrency is not None and self._active() >= self.concurrency:
                    raise Refused(1303, CODES[1303][1])
                task = self._accept(kind, fields)
                payload = self._task_json(task, created=True)
        except Refused as exc:
            with self._lock:
                self.refusals.append((exc.code, exc.message))
                self.rejected[exc.code] += 1
            h.send_error_code(exc.code, exc.message)
            return
        if h.fault == "drop_after_accept":
            h.drop()
            return
        if h.fault == HOLD:
            hold(self, h)
            return
        h.send_data(payload)

    def _parse(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """Check a create body (spec 3.3); the task's fields, or ``Refused``."""
        model = data.get("model_name")
        if model is None:
            model = "kling-v1"  # the default, and what the legacy field ``model`` means
        allowed = T2V_MODELS if kind == "text2video" else I2V_MODELS
        if model not in allowed:
            raise Refused(1203, f"model_name {model!r} not found for {kind}")
        prompt = data.get("prompt")
        if prompt is None or prompt == "":
            if kind == "text2video":
                raise Refused(1201, "prompt is required")
            prompt = ""
        if not isinstance(prompt, str) or len(prompt) > MAX_TEXT:
            raise Refused(1201, f"prompt must be a string of at most {MAX_TEXT} characters")
        negative = data.get("negative_prompt")
        if negative is not None and (not isinstance(negative, str) or len(negative) > MAX_TEXT):
            raise Refused(1201, f"negative_prompt: a string of at most {MAX_TEXT} characters")
        cfg = data.get("cfg_scale")
        if cfg is not None and (
            isinstance(cfg, bool) or not isinstance(cfg, (int, float)) or not 0 <= cfg <= 1
        ):
            raise Refused(1201, "cfg_scale must be a number from 0 to 1")
        mode = data.get("mode", "std")
        if mode not in ("std", "pro"):
            raise Refused(1201, "mode must be 'std' or 'pro'")
        duration = data.get("duration", "5")
        if not isinstance(duration, str):
            raise Refused(1201, "duration must be a string: '5' or '10'")
        if duration not in DURATIONS:
            raise Refused(1201, "duration must be '5' or '10'")
        ratio = data.get("aspect_ratio", "16:9")
        if kind == "text2video" and ratio not in ASPECT_RATIOS:
            raise Refused(1201, "aspect_ratio must be '16:9', '9:16' or '1:1'")
        images = {
            name: _image(name, data[name])
            for name in ("image", "image_tail")
            if data.get(name) is not None
        }
        masks = data.get("static_mask") is not None or data.get("dynamic_masks") is not None
        camera = data.get("camera_control")
        if kind == "image2video":
            if not images:
                raise Refused(1201, "image or image_tail is required")
            exclusive = ("image_tail" in images) + masks + (camera is not None)
            if exclusive > 1:
                raise Refused(
                    1201, "image_tail, the masks and camera_control cannot be used together"
                )
        if camera is not None:
            _camera(camera)
            if model not in self.camera_models or duration not in self.camera_durations:
                raise Refused(
                    1201, f"camera_control is not supported for {model} {mode} {duration}s"
                )
        callback = data.get("callback_url")
        if callback is not None and (
            not isinstance(callback, str) or urlsplit(callback).scheme not in ("http", "https")
        ):
            raise Refused(1201, "callback_url must be an http(s) URL")
        ext = data.get("external_task_id")
        if ext is not None and (not isinstance(ext, str) or not ext):
            raise Refused(1201, "external_task_id must be a non-empty string")
        if any(word in prompt.lower() for word in self.blocked_words):
            raise Refused(1301, "Trigger content security policy: the prompt is not allowed")
        short = 1080 if mode == "pro" else 720
        shape = ASPECT_RATIOS.get(ratio, (16, 9))
        first = next((i for i in images.values() if i.source == "base64"), None)
        if kind == "image2video" and first is not None:
            shape = (first.width, first.height)
        width, height = nominal_size(short, shape)
        request = {k: v for k, v in data.items() if k not in images}
        for name, info in images.items():
            request[name] = f"<{info.source} {info.format or info.url} {info.width}x{info.height}>"
        return {
            "model": model,
            "mode": mode,
            "duration": int(duration),
            "prompt": prompt,
            "request": request,
            "images": images,
            "external_task_id": ext,
            "callback_url": callback,
            "width": width,
            "height": height,
            "fps": 30 if model in ("kling-v1", "kling-v1-5") else 24,
        }

    def _accept(self, kind: str, fields: dict[str, Any]) -> KlingTask:
        """Create and start one task. Hold the lock."""
        self.submissions += 1
        now_ms = int(time.time() * 1000)
        scale = self.render_scale
        task_id = str(self._rng.randrange(10**17, 10**18))
        while task_id in self.tasks:
            task_id = str(self._rng.randrange(10**17, 10**18))
        task = KlingTask(
            task_id=task_id,
            kind=kind,
            render_width=even(fields["width"] * scale),
            render_height=even(fields["height"] * scale),
            latency=self._latency(fields["prompt"]),
            submitted_at=time.monotonic(),
            created_at=now_ms,
            updated_at=now_ms,
            video_id=str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            **fields,
        )
        if self._task_failures:
            task.planned_failure = self._task_failures.popleft()
        self.tasks[task.task_id] = task
        self.peak_concurrency = max(self.peak_concurrency, self._active())
        if task.planned_failure is None:
            assert self._pool is not None and self._tmp is not None
            self._renders[task.task_id] = self._pool.submit(_render, task, Path(self._tmp.name))
        self._timer(task.latency * SUBMITTED_FRACTION, self._process, task.task_id)
        self._timer(task.latency, self._finish, task.task_id)
        return task

    def _timer(self, delay: float, fn: Callable[[str], None], task_id: str) -> None:
        timer = threading.Timer(delay, fn, args=(task_id,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _process(self, task_id: str) -> None:
        with self._changed:
            task = self.tasks[task_id]
            if self._closed or task.status != "submitted":
                return
            self._move(task, "processing")

    def _finish(self, task_id: str) -> None:
        task = self.tasks[task_id]
        render = self._renders.get(task_id)
        reason = task.planned_failure
        if render is not None:
            try:
                render.result()
            except Exception as exc:  # an encoding failure, or the server closing
                reason = f"Task failed: {exc}"
        with self._changed:
            if self._closed:
                return
            if task.status == "submitted":  # the processing timer has not run yet
                self._move(task, "processing")
            task.done_at = time.monotonic()
            if reason:
                task.status_msg = reason
                self._move(task, "failed")
                return
            task.cost_usd = task.duration * PRICES.get((task.model, task.mode), DEFAULT_PRICE)
            self.billed_usd += task.cost_usd
            self._move(task, "succeed")

    def _move(self, task: KlingTask, status: str) -> None:
        """Change a task's status and queue its callback. Hold the lock."""
        task.status = status
        task.updated_at = max(task.updated_at, int(time.time() * 1000))
        self._queue_hook(task)
        self._changed.notify_all()

    # -- callbacks ------------------------------------------------------------------------------
    def _queue_hook(self, task: KlingTask) -> None:
        """Queue the task's callback body, in order. Hold the lock."""
        if not task.callback_url:
            return
        payload = self._task_json(task)
        payload.setdefault("final_unit_deduction", "0")
        self._webhooks_pending += 1
        queue = self._hooks.get(task.task_id)
        if queue is None:
            queue = self._hooks[task.task_id] = deque([payload])
            threading.Thread(target=self._deliver_all, args=(task.task_id,), daemon=True).start()
        else:
            queue.append(payload)

    def _deliver_all(self, task_id: str) -> None:
        url = self.tasks[task_id].callback_url
        assert url is not None
        while True:
            with self._lock:
                queue = self._hooks[task_id]
                if not queue:
                    del self._hooks[task_id]
                    return
                payload = queue[0]
            attempts, delivered = self.post_webhook(
                url, payload, attempts=WEBHOOK_ATTEMPTS, delay=self.webhook_retry_delay
            )
            with self._changed:
                queue.popleft()
                self.webhooks.append(
                    WebhookDelivery(
                        task_id, payload["task_status"], url, attempts, delivered, payload
                    )
                )
                self._webhooks_pending -= 1
                self._changed.notify_all()

    # -- queries and downloads ------------------------------------------------------------------
    def get(self, h: _Handler, kind: str, ident: str) -> None:
        if self._guard(h, "get"):
            return
        with self._lock:
            self.status_requests += 1
            task = self.tasks.get(ident)
            if task is None:
                task = next((t for t in self.tasks.values() if t.external_task_id == ident), None)
            if task is not None and task.kind != kind:
                task = None
            if task is not None:
                task.get_requests += 1
                payload = self._task_json(task)
        if task is None:
            h.send_error_code(1203, f"task {ident!r} not found")
            return
        h.send_data(payload)

    def list_tasks(self, h: _Handler, kind: str, query: str) -> None:
        if self._guard(h, "list"):
            return
        params = parse_qs(query)
        try:
            page = int(params.get("pageNum", ["1"])[0])
            size = int(params.get("pageSize", ["30"])[0])
            if not (1 <= page <= 1000 and 1 <= size <= 500):
                raise ValueError
        except ValueError:
            h.send_error_code(1201, "pageNum must be 1..1000 and pageSize 1..500")
            return
        with self._lock:
            mine = [t for t in reversed(self.tasks.values()) if t.kind == kind]
            data = [self._task_json(t) for t in mine[(page - 1) * size : page * size]]
        h.send_data(data)

    def download(self, h: _Handler, task_id: str, name: str) -> None:
        if self._guard(h, "download"):
            return
        with self._lock:
            task = self.tasks.get(task_id)
            path = None
            if task is not None and task.status == "succeed" and name == f"{task.video_id}.mp4":
                path = task.path
                task.downloads += 1
        if path is None:
            h.send_json(404, {"error": "Not Found"})
            return
        h.send_bytes(path.read_bytes(), "video/mp4", truncate=h.fault == "truncate")


class _Handler(JsonHandler):
    server_version = "kling-fake/1"

    @property
    def kling(self) -> KlingServer:
        return self.fake  # type: ignore[no-any-return]

    def _route(self) -> tuple[str, str]:
        self.fault = None
        parts = urlsplit(self.path)
        return parts.path.rstrip("/"), parts.query

    def do_POST(self) -> None:
        path, _ = self._route()
        self.kling._log("POST", self.path)
        body = self._body()
        kind = path.removeprefix("/v1/videos/")
        if path.startswith("/v1/videos/") and kind in KINDS:
            self.kling.create(self, kind, body)
        else:
            self.send_error_code(1202, f"no such method: POST {path}")

    def do_GET(self) -> None:
        path, query = self._route()
        self.kling._log("GET", self.path)
        parts = path.split("/")
        if len(parts) == 4 and path.startswith("/v1/videos/") and parts[3] in KINDS:
            self.kling.list_tasks(self, parts[3], query)
        elif len(parts) == 5 and path.startswith("/v1/videos/") and parts[3] in KINDS:
            self.kling.get(self, parts[3], parts[4])
        elif len(parts) == 4 and parts[1] == "cdn":
            self.kling.download(self, parts[2], parts[3])
        else:
            self.send_error_code(1202, f"no such method: GET {path}")

    def send_data(self, data: Any) -> None:
        self.send_json(
            200, {"code": 0, "message": "SUCCEED", "request_id": _request_id(), "data": data}
        )

    def send_error_code(
        self, code: int, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        status = CODES[code][0]
        self.send_json(
            status, {"code": code, "message": message, "request_id": _request_id()}, headers
        )


def _request_id() -> str:
    return str(uuid.uuid4())


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Refused(1200, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise Refused(1200, "the body must be a JSON object")
    return data


def _image(name: str, value: Any) -> ImageInfo:
    """Check one ``image`` / ``image_tail`` value (spec 3.3)."""
    from PIL import Image, UnidentifiedImageError

    if not isinstance(value, str) or not value:
        raise Refused(1201, f"{name} must be an image URL or base64 string")
    if urlsplit(value).scheme in ("http", "https"):
        return ImageInfo(source="url", url=value)
    if value.startswith("data:"):
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
    if not 1 / 2.5 <= width / height <= 2.5:
        raise Refused(1201, f"{name}: the aspect ratio must be between 1:2.5 and 2.5:1")
    digest = hashlib.sha256(raw).hexdigest()
    return ImageInfo("base64", None, fmt, width, height, digest)


def _camera(camera: Any) -> None:
    """Check a ``camera_control`` object (spec 3.3)."""
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


def _render(task: KlingTask, folder: Path) -> None:
    """Write the task's MP4 into ``folder`` and record it on the task."""
    from ministudio.media.encode import VideoWriter

    planes = solid_planes(task.render_width, task.render_height, task.prompt or task.task_id)
    path = folder / f"{task.task_id}.mp4"
    with VideoWriter(path, task.render_width, task.render_height, task.fps) as writer:
        for _ in range(max(1, task.duration * task.fps)):
            writer.write_yuv420p(planes)
    task.path = path


KlingServer.name = "kling"
KlingServer.handler = _Handler
KlingServer.endpoints = ENDPOINTS
KlingServer.fault_endpoints = FAULT_ENDPOINTS
