"""A loopback fake of OpenAI's retired Sora video API (``openai`` 3.51 wire protocol, spec
section 4), for testing the Sora engines: create (multipart), retrieve with progress and the
poll-after hint, list, delete, remix, download, project webhooks, faults.

Use it as a context manager; it serves on 127.0.0.1 (a free port) from a background thread::

    with SoraServer(latency=0.3) as sora:
        client = OpenAI(api_key=sora.api_key, base_url=sora.api_url, max_retries=0)
        video = client.videos.create(prompt="a red kite", seconds="4", size="1280x720")
        sora.fail_next("create", "429")
        assert sora.submissions == 1

``api_url`` is ``base_url + "/v1"`` (the SDK's ``base_url``).

Jobs do no real work: each runs in virtual time. It is ``queued`` for the first tenth of its
latency (``latency=(mean, jitter)``: ``mean * (1 ± jitter)`` drawn deterministically from the
prompt; or a number), then ``in_progress`` with ``progress`` rising linearly from 0 to 99,
then ``completed`` (progress 100, ``completed_at``, ``expires_at`` a day later) or ``failed``
(``error: {code, message}``). Its assets are encoded in the background from acceptance: a real
H.264 MP4 of one solid colour (from the prompt) with a lighter band at the top, lasting
``seconds`` at ``fps``, at ``render_scale`` of ``size`` (rounded to even, at least 16 px); a
WebP thumbnail and a JPEG spritesheet.

Wire protocol (base path ``/v1``; ``Authorization: Bearer <key>`` on every call, else 401;
every error is ``{"error": {"message", "type", "param", "code"}}``; every answer carries an
``x-request-id``):

``POST /v1/videos``
    ``multipart/form-data`` (what the SDK always sends, even with no file; JSON is accepted
    too): ``prompt`` (required, at most 32000 characters), ``model`` (``sora-2`` default,
    ``sora-2-pro`` or a snapshot), ``seconds`` (``"4"`` default, ``"8"``, ``"12"``), ``size``
    (``720x1280`` default, ``1280x720``; ``1024x1792`` and ``1792x1024`` with a Pro model
    only), ``input_reference`` (a file part: PNG, JPEG or WebP, exactly ``size`` - an
    assumption: the docs ask for it, the error text is ours). 200 with the Video (``queued``,
    progress 0). 400 ``invalid_value`` (``param`` names the field) for a bad value; 400
    ``moderation_blocked`` for a prompt holding a blocked word (not billed). Over
    ``concurrency`` jobs in flight: 429 ``rate_limit_exceeded`` with ``retry-after``.
``POST /v1/videos/{id}/remix``
    JSON ``{"prompt"}``; the source must be ``completed`` (else 400), unknown: 404. A new
    Video with the source's model, size and seconds and ``remixed_from_video_id``.
``GET /v1/videos/{id}``
    200 Video; while queued or in progress the answer carries ``openai-poll-after-ms:
    poll_after_ms`` (unless None). 404 for an unknown or deleted video.
``GET /v1/videos?limit=&order=&after=``
    ``{"object": "list", "data", "first_id", "last_id", "has_more"}``; ``order`` ``desc``
    (default) or ``asc``, ``limit`` 1..100 (default 20), ``after`` a video id (the cursor).
``DELETE /v1/videos/{id}``
    ``{"id", "object": "video.deleted", "deleted": true}``; only terminal videos (else 400,
    an assumption); a deleted video is gone from every endpoint.
``GET /v1/videos/{id}/content?variant=video|thumbnail|spritesheet``
    The bytes (``video/mp4``, ``image/webp``, ``image/jpeg`` - the latter two unconfirmed)
    with ``Content-Length``; 404 until completed. The request's ``Accept`` header is kept in
    ``accepts`` (the SDK sends ``application/binary``).
Webhooks
    With ``webhook_url`` (a project endpoint set in the dashboard, not per request), each
    terminal video is POSTed as ``{"id": "evt_…", "object": "event", "created_at", "type":
    "video.completed"|"video.failed", "data": {"id"}}`` with Standard Webhooks headers signed
    by ``webhook_secret``; retried 3 times until a 2xx.
``retired=True``
    Every ``/v1/videos`` path answers 404 ``Invalid URL (METHOD /path)``, as an OpenAI
    endpoint without the API would (an assumption: what api.openai.com answers now is
    unknown).

Faults, injected with ``fail_next(endpoint, kind, count=1)``, hit the next matching requests
before anything else (auth, limits) is checked:

- ``"429"``: 429 ``rate_limit_exceeded`` with ``retry-after: fault_retry_after``; ``"500"``:
  500 ``server_error``; both with ``x-should-retry: false`` (spec section 6 item 18);
- ``"quota"`` (``create``/``remix``): 429 ``insufficient_quota``;
- ``"drop"``: close the connection without answering, having done nothing;
- ``"drop_after_accept"`` (``create``/``remix``): accept the job, then close without answering;
- ``"hold_after_accept"`` (``create``/``remix``): accept it, then answer nothing until the
  client goes away (``fakes.hold``: a request in flight, for kill tests);
- ``"truncate"`` (``download``): send ``Content-Length`` for the whole file, then half of it.

Endpoints: ``"create"``, ``"remix"``, ``"retrieve"``, ``"list"``, ``"delete"``,
``"download"``. ``fail_next_job(code, message)`` makes the next accepted videos fail (at the
end of their latency) with that error.

Counters: ``submissions`` (accepted creates and remixes), ``status_requests`` (retrieves),
``jobs`` (id -> ``SoraJob``: the parsed ``fields``, ``input_reference``, ``content_type``,
``status``, ``retrieved_at``...), ``requests`` (``(method, path)``), ``accepts``,
``rejected`` (a Counter), ``webhooks`` (deliveries), ``billed_usd``. Prices (secondary, spec
4.4): sora-2 $0.10/s, sora-2-pro $0.30/s, $0.50/s at the large sizes.
"""

from __future__ import annotations

import email.message
import hashlib
import io
import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from ministudio_sora._webhook import sign

from .clips import even, solid_planes
from .hold import HOLD, hold
from .loopback import JsonHandler, LoopbackServer

API = "/v1"
ENDPOINTS = ("create", "remix", "retrieve", "list", "delete", "download")
FAULT_ENDPOINTS = {
    "429": ENDPOINTS,
    "500": ENDPOINTS,
    "drop": ENDPOINTS,
    "quota": ("create", "remix"),
    "drop_after_accept": ("create", "remix"),
    HOLD: ("create", "remix"),
    "truncate": ("download",),
}
MODELS = ("sora-2", "sora-2-pro", "sora-2-2025-10-06", "sora-2-pro-2025-10-06", "sora-2-2025-12-08")
SECONDS = ("4", "8", "12")
SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
LARGE = ("1024x1792", "1792x1024")
IMAGE_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
VARIANTS = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
QUEUED_FRACTION = 0.1
MAX_PROMPT = 32000
MODERATION = "moderation_blocked"
MODERATION_MESSAGE = "Your request was blocked by our moderation system."
WEBHOOK_ATTEMPTS = 4
NO_RETRY = {"x-should-retry": "false"}

Latency = float | tuple[float, float]


class ApiError(Exception):
    """An OpenAI-style error answer."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type = status, message, type
        self.param, self.code, self.headers = param, code, headers or {}

    def body(self) -> dict[str, Any]:
        error = {"message": self.message, "type": self.type, "param": self.param}
        return {"error": {**error, "code": self.code}}


def invalid(param: str, message: str) -> ApiError:
    return ApiError(400, message, param=param, code="invalid_value")


@dataclass
class SoraJob:
    """One accepted video, as the server sees it."""

    id: str
    model: str
    prompt: str
    seconds: str
    size: str
    fields: dict[str, str]  # the text parts (or JSON fields) as sent
    content_type: str  # of the create request: "multipart/form-data" or "application/json"
    latency: float
    submitted_at: float  # time.monotonic()
    created_at: int  # epoch seconds, as sent
    render_width: int
    render_height: int
    fps: int
    input_reference: dict[str, Any] | None = None  # filename, content_type, size, bytes
    remixed_from: str | None = None
    status: str = "queued"
    error: dict[str, str] | None = None
    planned_error: dict[str, str] | None = None
    deleted: bool = False
    started_at: float | None = None
    completed_at: int | None = None
    retrieved_at: list[float] = field(default_factory=list)  # time.monotonic() of each GET
    downloads: int = 0
    files: dict[str, Path] = field(default_factory=dict)  # variant -> file
    cost_usd: float = 0.0

    @property
    def in_flight(self) -> bool:
        return self.status in ("queued", "in_progress") and not self.deleted

    @property
    def retrieves(self) -> int:
        return len(self.retrieved_at)

    @property
    def width(self) -> int:
        return int(self.size.split("x")[0])

    @property
    def height(self) -> int:
        return int(self.size.split("x")[1])


@dataclass
class Delivery:
    video_id: str
    type: str
    attempts: int
    delivered: bool
    payload: dict[str, Any]
    headers: dict[str, str]


class SoraServer(LoopbackServer):
    """The fake API. Start it with ``with`` (or ``start()``/``close()``)."""

    def __init__(
        self,
        api_key: str = "sora-test-key",
        latency: Latency = (0.3, 0.25),
        *,
        concurrency: int | None = None,
        blocked_words: tuple[str, ...] = ("forbidden",),
        poll_after_ms: int | None = 50,
        render_scale: float = 0.125,
        fps: int = 12,
        fault_retry_after: float = 0.1,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_retry_delay: float = 0.1,
        retired: bool = False,
        encoders: int = 2,
        seed: int = 0,
    ) -> None:
        super().__init__(api_key, encoders)
        self.latency = latency
        self.concurrency = concurrency
        self.blocked_words = tuple(w.lower() for w in blocked_words)
        self.poll_after_ms = poll_after_ms
        self.render_scale = render_scale
        self.fps = fps
        self.fault_retry_after = fault_retry_after
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.webhook_retry_delay = webhook_retry_delay
        self.retired = retired
        self.jobs: dict[str, SoraJob] = {}
        self.submissions = 0
        self.status_requests = 0
        self.accepts: list[str] = []
        self.rejected: Counter[str] = Counter()
        self.webhooks: list[Delivery] = []
        self.billed_usd = 0.0
        self._rng = random.Random(seed)
        self._job_errors: deque[dict[str, str]] = deque()
        self._renders: dict[str, Future[None]] = {}

    @property
    def api_url(self) -> str:
        """What to give ``OpenAI(base_url=...)``."""
        return self.base_url + API

    def fail_next_job(
        self, code: str = MODERATION, message: str = "The output was blocked by moderation."
    ) -> None:
        """Make the next accepted video end ``failed`` with ``{"code", "message"}``."""
        with self._lock:
            self._job_errors.append({"code": code, "message": message})

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every job is terminal and every webhook delivery has ended."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while any(j.in_flight for j in self.jobs.values()) or self._webhooks_pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    # -- create and remix -----------------------------------------------------------------------
    def create(self, h: _Handler, body: bytes) -> None:
        fault = self._guard(h, "create")
        if fault:
            return
        try:
            kind = (h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if kind == "multipart/form-data":
                fields, files = parse_multipart(h.headers.get("Content-Type") or "", body)
            elif kind == "application/json":
                fields, files = _json_fields(body), {}
            else:
                raise ApiError(400, f"Unsupported content type: {kind or 'none'}")
            spec = _parse_create(fields, files)
            self._moderate(spec["prompt"])
            with self._lock:
                job = self._accept(spec, kind)
        except ApiError as exc:
            h.send_error_json(exc)
            return
        self._answer_accepted(h, job)

    def remix(self, h: _Handler, source_id: str, body: bytes) -> None:
        if self._guard(h, "remix"):
            return
        try:
            data = _json_fields(body)
            prompt = _prompt(data)
            self._moderate(prompt)
            with self._lock:
                source = self._live(source_id)
                if source.status != "completed":
                    raise ApiError(400, f"Video {source_id} is not completed", param="video_id")
                spec = {
                    "prompt": prompt,
                    "model": source.model,
                    "seconds": source.seconds,
                    "size": source.size,
                    "fields": dict(data),
                    "input_reference": None,
                    "remixed_from": source.id,
                }
                job = self._accept(spec, "application/json")
        except ApiError as exc:
            h.send_error_json(exc)
            return
        self._answer_accepted(h, job)

    def _answer_accepted(self, h: _Handler, job: SoraJob) -> None:
        if h.fault == "drop_after_accept":
            h.drop()
            return
        if h.fault == HOLD:
            hold(self, h)
            return
        with self._lock:
            payload = self._video_json(job)
        h.send_ok(200, payload)

    def _moderate(self, prompt: str) -> None:
        if any(word in prompt.lower() for word in self.blocked_words):
            with self._lock:
                self.rejected["moderation"] += 1
            raise ApiError(400, MODERATION_MESSAGE, param="prompt", code=MODERATION)

    def _accept(self, spec: dict[str, Any], content_type: str) -> SoraJob:
        """Create and start one job. Hold the lock."""
        if self.concurrency is not None:
            active = sum(1 for j in self.jobs.values() if j.in_flight)
            if active >= self.concurrency:
                self.rejected["concurrency"] += 1
                raise ApiError(
                    429,
                    f"Too many concurrent video jobs: at most {self.concurrency} in flight",
                    type="requests",
                    code="rate_limit_exceeded",
                    headers={"retry-after": f"{self.fault_retry_after:.3f}"},
                )
        self.submissions += 1
        width, height = (int(n) for n in spec["size"].split("x"))
        job = SoraJob(
            id="video_" + uuid.UUID(int=self._rng.getrandbits(128)).hex,
            model=spec["model"],
            prompt=spec["prompt"],
            seconds=spec["seconds"],
            size=spec["size"],
            fields=spec["fields"],
            content_type=content_type,
            latency=self._latency(spec["prompt"]),
            submitted_at=time.monotonic(),
            created_at=int(time.time()),
            render_width=even(width * self.render_scale),
            render_height=even(height * self.render_scale),
            fps=self.fps,
            input_reference=spec["input_reference"],
            remixed_from=spec["remixed_from"],
        )
        if self._job_errors:
            job.planned_error = self._job_errors.popleft()
        self.jobs[job.id] = job
        if job.planned_error is None:
            assert self._pool is not None and self._tmp is not None
            self._renders[job.id] = self._pool.submit(_render, job, Path(self._tmp.name))
        self._timer(job.latency * QUEUED_FRACTION, self._start, job.id)
        self._timer(job.latency, self._finish, job.id)
        return job

    # -- the job's life -------------------------------------------------------------------------
    def _timer(self, delay: float, fn: Callable[[str], None], job_id: str) -> None:
        timer = threading.Timer(delay, fn, args=(job_id,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _start(self, job_id: str) -> None:
        with self._changed:
            job = self.jobs[job_id]
            if not self._closed and not job.deleted and job.status == "queued":
                job.status = "in_progress"
                job.started_at = time.monotonic()
                self._changed.notify_all()

    def _finish(self, job_id: str) -> None:
        job = self.jobs[job_id]
        error = job.planned_error
        render = self._renders.get(job_id)
        if render is not None:
            try:
                render.result()
            except Exception as exc:  # an encoding failure, or the server closing
                error = {"code": "internal_error", "message": f"Video generation failed: {exc}"}
        with self._changed:
            if self._closed or job.deleted:
                return
            job.started_at = job.started_at or time.monotonic()
            job.status = "failed" if error else "completed"
            job.error = error
            job.completed_at = int(time.time())
            if not error:
                job.cost_usd = _price(job.model, job.size) * int(job.seconds)
                self.billed_usd += job.cost_usd
            if self.webhook_url:
                self._webhooks_pending += 1
                threading.Thread(target=self._deliver, args=(job,), daemon=True).start()
            self._changed.notify_all()

    def _progress(self, job: SoraJob) -> int:
        if job.status == "completed":
            return 100
        if job.status != "in_progress" or job.started_at is None:
            return 0
        span = max(job.latency * (1 - QUEUED_FRACTION), 1e-6)
        return min(99, int(100 * (time.monotonic() - job.started_at) / span))

    def _video_json(self, job: SoraJob) -> dict[str, Any]:
        """The Video object (spec 4.3). Hold the lock."""
        done = job.status == "completed"
        return {
            "id": job.id,
            "object": "video",
            "model": job.model,
            "status": job.status,
            "progress": self._progress(job),
            "created_at": job.created_at,
            "completed_at": job.completed_at,
            "expires_at": job.completed_at + 86400 if done and job.completed_at else None,
            "size": job.size,
            "seconds": job.seconds,
            "prompt": job.prompt,
            "remixed_from_video_id": job.remixed_from,
            "error": job.error,
        }

    # -- webhooks -------------------------------------------------------------------------------
    def _deliver(self, job: SoraJob) -> None:
        assert self.webhook_url is not None
        kind = "video.completed" if job.status == "completed" else "video.failed"
        event_id = "evt_" + uuid.uuid4().hex
        payload = {
            "id": event_id,
            "object": "event",
            "created_at": int(time.time()),
            "type": kind,
            "data": {"id": job.id},
        }
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "OpenAI/1.0 (fake)"}
        if self.webhook_secret:
            headers.update(sign(body, self.webhook_secret, event_id, int(time.time())))
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        tries, delivered = 0, False
        for attempt in range(WEBHOOK_ATTEMPTS):
            if self._closed:
                break
            tries += 1
            request = urllib.request.Request(
                self.webhook_url, data=body, method="POST", headers=headers
            )
            try:
                with opener.open(request, timeout=5) as answer:
                    if 200 <= answer.status < 300:
                        delivered = True
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(self.webhook_retry_delay * (attempt + 1))
        with self._changed:
            self.webhooks.append(Delivery(job.id, kind, tries, delivered, payload, headers))
            self._webhooks_pending -= 1
            self._changed.notify_all()

    # -- read, list, delete, download -----------------------------------------------------------
    def retrieve(self, h: _Handler, video_id: str) -> None:
        if self._guard(h, "retrieve"):
            return
        try:
            with self._lock:
                self.status_requests += 1
                job = self._live(video_id)
                job.retrieved_at.append(time.monotonic())
                payload = self._video_json(job)
                hint = job.in_flight and self.poll_after_ms is not None
        except ApiError as exc:
            h.send_error_json(exc)
            return
        headers = {"openai-poll-after-ms": str(self.poll_after_ms)} if hint else {}
        h.send_ok(200, payload, headers)

    def list_videos(self, h: _Handler, query: str) -> None:
        if self._guard(h, "list"):
            return
        params = {k: v[0] for k, v in parse_qs(query).items()}
        try:
            try:
                limit = int(params.get("limit", "20"))
            except ValueError:
                raise invalid("limit", "limit must be an integer") from None
            if not 1 <= limit <= 100:
                raise invalid("limit", "limit must be between 1 and 100")
            order = params.get("order", "desc")
            if order not in ("asc", "desc"):
                raise invalid("order", "order must be 'asc' or 'desc'")
            with self._lock:
                live = [j for j in self.jobs.values() if not j.deleted]
                if order == "desc":
                    live.reverse()
                after = params.get("after")
                if after is not None:
                    ids = [j.id for j in live]
                    if after not in ids:
                        raise invalid("after", f"No video found with id '{after}'")
                    live = live[ids.index(after) + 1 :]
                page = [self._video_json(j) for j in live[:limit]]
                more = len(live) > limit
        except ApiError as exc:
            h.send_error_json(exc)
            return
        h.send_ok(
            200,
            {
                "object": "list",
                "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": more,
            },
        )

    def delete(self, h: _Handler, video_id: str) -> None:
        if self._guard(h, "delete"):
            return
        try:
            with self._changed:
                job = self._live(video_id)
                if job.in_flight:
                    raise ApiError(400, f"Video {video_id} is still {job.status}")
                job.deleted = True
                self._changed.notify_all()
        except ApiError as exc:
            h.send_error_json(exc)
            return
        h.send_ok(200, {"id": video_id, "object": "video.deleted", "deleted": True})

    def download(self, h: _Handler, video_id: str, query: str) -> None:
        if self._guard(h, "download"):
            return
        variant = parse_qs(query).get("variant", ["video"])[0]
        try:
            if variant not in VARIANTS:
                raise invalid("variant", f"Invalid variant '{variant}'")
            with self._lock:
                self.accepts.append(h.headers.get("Accept") or "")
                job = self._live(video_id)
                path = job.files.get(variant) if job.status == "completed" else None
                if path is None:
                    raise ApiError(
                        404, f"Video {video_id} has no content yet (status {job.status})"
                    )
                if variant == "video":
                    job.downloads += 1
        except ApiError as exc:
            h.send_error_json(exc)
            return
        h.send_bytes(
            path.read_bytes(),
            VARIANTS[variant],
            truncate=h.fault == "truncate",
            headers={"x-request-id": "req_" + uuid.uuid4().hex},
        )

    # -- helpers --------------------------------------------------------------------------------
    def _live(self, video_id: str) -> SoraJob:
        """The job, or a 404. Hold the lock."""
        job = self.jobs.get(video_id)
        if job is None or job.deleted:
            raise ApiError(404, f"Video with id '{video_id}' not found.", param="video_id")
        return job

    def _guard(self, h: _Handler, endpoint: str) -> bool:
        """Faults and auth. True when the handler has already answered (or dropped)."""
        fault = self._take_fault(endpoint)
        if fault == "drop":
            h.drop()
            return True
        if fault == "429":
            with self._lock:
                self.rejected["injected"] += 1
            h.send_error_json(
                ApiError(
                    429,
                    "Rate limit reached for requests (injected)",
                    type="requests",
                    code="rate_limit_exceeded",
                    headers={"retry-after": f"{self.fault_retry_after:.3f}", **NO_RETRY},
                )
            )
            return True
        if fault == "500":
            h.send_error_json(
                ApiError(
                    500,
                    "The server had an error while processing your request (injected)",
                    type="server_error",
                    headers=NO_RETRY,
                )
            )
            return True
        if fault == "quota":
            h.send_error_json(
                ApiError(
                    429,
                    "You exceeded your current quota, please check your plan and billing.",
                    type="insufficient_quota",
                    code="insufficient_quota",
                    headers=NO_RETRY,
                )
            )
            return True
        h.fault = fault
        if not self._authorized(h):
            h.send_error_json(ApiError(401, "Incorrect API key provided.", code="invalid_api_key"))
            return True
        return False

    def _latency(self, prompt: str) -> float:
        if isinstance(self.latency, (int, float)):
            return float(self.latency)
        mean, jitter = self.latency
        digest = hashlib.sha256(prompt.encode()).digest()
        return max(0.0, mean * (1.0 + random.Random(digest).uniform(-jitter, jitter)))


class _Handler(JsonHandler):
    server_version = "sora-fake/1"

    @property
    def sora(self) -> SoraServer:
        return self.fake  # type: ignore[no-any-return]

    def _route(self, method: str) -> tuple[list[str], str] | None:
        """The path's segments under /v1/videos, and the query; None (answered) if retired
        or elsewhere."""
        self.fault = None
        self.sora._log(method, self.path)
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/")
        prefix = f"{API}/videos"
        if self.sora.retired or not (path == prefix or path.startswith(prefix + "/")):
            self.send_error_json(ApiError(404, f"Invalid URL ({method} {parts.path})"))
            return None
        return [s for s in path[len(prefix) :].split("/") if s], parts.query

    def do_POST(self) -> None:
        body = self._body()
        route = self._route("POST")
        if route is None:
            return
        segments, _ = route
        if not segments:
            self.sora.create(self, body)
        elif len(segments) == 2 and segments[1] == "remix":
            self.sora.remix(self, segments[0], body)
        else:
            self.send_error_json(ApiError(404, f"Invalid URL (POST {self.path})"))

    def do_GET(self) -> None:
        route = self._route("GET")
        if route is None:
            return
        segments, query = route
        if not segments:
            self.sora.list_videos(self, query)
        elif len(segments) == 1:
            self.sora.retrieve(self, segments[0])
        elif len(segments) == 2 and segments[1] == "content":
            self.sora.download(self, segments[0], query)
        else:
            self.send_error_json(ApiError(404, f"Invalid URL (GET {self.path})"))

    def do_DELETE(self) -> None:
        self._body()
        route = self._route("DELETE")
        if route is None:
            return
        segments, _ = route
        if len(segments) == 1:
            self.sora.delete(self, segments[0])
        else:
            self.send_error_json(ApiError(404, f"Invalid URL (DELETE {self.path})"))

    def send_ok(self, code: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.send_json(
            code, payload, {"x-request-id": "req_" + uuid.uuid4().hex, **(headers or {})}
        )

    def send_error_json(self, error: ApiError) -> None:
        headers = {"x-request-id": "req_" + uuid.uuid4().hex, **error.headers}
        self.send_json(error.status, error.body(), headers)


# -- parsing --------------------------------------------------------------------------------
def parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """The text fields and the file parts (filename, content_type, data) of a form body."""
    header = email.message.Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ApiError(400, "Invalid multipart body: no boundary")
    fields: dict[str, str] = {}
    files: dict[str, dict[str, Any]] = {}
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise ApiError(400, "Invalid multipart body: a part has no headers")
        data = data.removesuffix(b"\r\n")
        part = email.message.Message()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            part[name.strip()] = value.strip()
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ApiError(400, "Invalid multipart body: a part has no name")
        filename = part.get_filename()
        if filename is None:
            fields[name] = data.decode("utf-8")
        else:
            kind = part.get_content_type() if part.get("Content-Type") else ""
            files[name] = {"filename": filename, "content_type": kind, "data": data}
    return fields, files


def _json_fields(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "We could not parse the JSON body of your request.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return data


def _prompt(fields: dict[str, Any]) -> str:
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ApiError(400, "Missing required parameter: 'prompt'.", param="prompt")
    if len(prompt) > MAX_PROMPT:
        raise invalid("prompt", f"The prompt is too long: at most {MAX_PROMPT} characters.")
    return prompt


def _parse_create(fields: dict[str, Any], files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    prompt = _prompt(fields)
    model = fields.get("model", "sora-2")
    if model not in MODELS:
        raise invalid("model", f"Invalid value: '{model}'. Supported values are: {MODELS}.")
    seconds = str(fields.get("seconds", "4"))
    if seconds not in SECONDS:
        raise invalid("seconds", f"Invalid value: '{seconds}'. Supported values are: {SECONDS}.")
    size = fields.get("size", "720x1280")
    if size not in SIZES:
        raise invalid("size", f"Invalid value: '{size}'. Supported values are: {SIZES}.")
    if size in LARGE and not str(model).startswith("sora-2-pro"):
        raise invalid("size", f"Size {size} is only available with sora-2-pro.")
    reference = None
    if "input_reference" in fields:
        raise invalid("input_reference", "input_reference must be a file upload.")
    if "input_reference" in files:
        reference = _reference(files["input_reference"], size)
    return {
        "prompt": prompt,
        "model": model,
        "seconds": seconds,
        "size": size,
        "fields": {k: str(v) for k, v in fields.items()},
        "input_reference": reference,
        "remixed_from": None,
    }


def _reference(part: dict[str, Any], size: str) -> dict[str, Any]:
    from PIL import Image

    kind = part["content_type"]
    if kind not in IMAGE_TYPES:
        raise invalid(
            "input_reference",
            f"Invalid file format '{kind}'. Supported formats are image/jpeg, image/png and "
            "image/webp.",
        )
    try:
        with Image.open(io.BytesIO(part["data"])) as image:
            dims = image.size
            fmt = image.format
    except OSError:
        raise invalid("input_reference", "The input_reference image could not be read.") from None
    width, height = (int(n) for n in size.split("x"))
    if dims != (width, height):
        raise invalid(
            "input_reference",
            f"Inpaint image must match the requested width and height ({size}); "
            f"got {dims[0]}x{dims[1]}.",
        )
    return {**part, "size": dims, "format": fmt, "bytes": len(part["data"])}


def _price(model: str, size: str) -> float:
    if not model.startswith("sora-2-pro"):
        return 0.10
    return 0.50 if size in LARGE else 0.30


def _render(job: SoraJob, folder: Path) -> None:
    """Write the job's MP4, thumbnail and spritesheet into ``folder``; record them on the job."""
    from ministudio.media.encode import VideoWriter
    from PIL import Image

    planes = solid_planes(job.render_width, job.render_height, job.prompt)
    w, h = job.render_width, job.render_height
    luma = planes[:h]
    image = Image.fromarray(np.stack([luma, luma, luma], axis=-1), "RGB")
    thumb, sheet, video = (folder / f"{job.id}.{ext}" for ext in ("webp", "jpg", "mp4"))
    image.save(thumb, format="WEBP")
    sprites = Image.new("RGB", (w * 4, h))
    for i in range(4):
        sprites.paste(image, (i * w, 0))
    sprites.save(sheet, format="JPEG")
    with VideoWriter(video, w, h, job.fps) as writer:
        for _ in range(max(1, round(int(job.seconds) * job.fps))):
            writer.write_yuv420p(planes)
    job.files = {"video": video, "thumbnail": thumb, "spritesheet": sheet}


SoraServer.name = "sora"
SoraServer.handler = _Handler
SoraServer.endpoints = ENDPOINTS
SoraServer.fault_endpoints = FAULT_ENDPOINTS
