"""A loopback fake of a paid video API ("sim"), for testing and benchmarking the remote-engine
path: submit, poll, webhooks, download, lookup after a lost answer, limits and faults.

Use it as a context manager; it serves on 127.0.0.1 (a free port) from a background thread::

    with SimServer(latency=(0.2, 0.5), concurrency=2) as sim:
        env = {"SIM_BASE_URL": sim.base_url, "SIM_API_KEY": sim.api_key}
        ...
        sim.fail_next("submit", "drop_after_accept")
        assert sim.submissions == 1

Jobs do no real work: each runs in virtual time, a timer that fires after its latency
(``latency=(mean, jitter)`` draws ``mean * (1 ± jitter)`` uniformly, deterministically from the
job's seed and prompt; or pass a number, or a callable ``seed -> seconds``). Its MP4, a real
H.264 clip of one solid colour (from the seed) with a lighter band at the top, is encoded in
the background from acceptance, so it is normally ready when the latency elapses (if it is
not, the job finishes when it is).

Wire protocol (JSON bodies; every ``/v1/clips`` call needs ``Authorization: Bearer <key>``):

``POST /v1/clips``
    Body ``{"prompt": str, "duration": number, "width": int, "height": int, "fps": int,
    "seed": int, "external_id": str|null, "callback_url": str|null,
    "first_frame": base64 PNG|null}``. Answers 201 ``{"id", "state": "queued", "external_id",
    "created_at"}``. The job counts against ``concurrency`` from acceptance until it is
    terminal. Refusals: 400 ``invalid_request`` (no prompt, duration not in (0, 60], odd or
    non-positive size, bad fps, first_frame not a base64 PNG); 401 ``unauthorized``; 429
    ``rate_limit`` (over ``requests_per_minute``) or ``concurrency_limit`` (too many jobs in
    flight), each with ``Retry-After`` in seconds (may be fractional: the time until a slot
    frees). A prompt holding a blocked word is accepted (and billed), then fails with
    ``{"code": "safety", "message": "prompt blocked by safety filter"}``.
``GET /v1/clips/{id}``
    200 ``{"id", "state": "queued"|"running"|"succeeded"|"failed", "progress": 0..1,
    "error": null|{"code", "message"}, "video_url": str|null, "external_id", "duration",
    "width", "height", "fps", "seed", "created_at"}``; with header ``X-Poll-After-Ms`` when
    the server was made with ``poll_after_ms``. 404 ``not_found`` for an unknown id.
``GET /v1/clips?external_id=X``
    200 ``{"data": [job, ...]}``: the jobs submitted with that external id, oldest first (the
    lookup for a submit whose answer was lost). Without ``external_id``: every job.
``GET /v1/files/{id}.mp4``
    The MP4, ``Content-Type: video/mp4`` with ``Content-Length`` and ``X-Content-Duration``
    (the billed seconds). No auth (a CDN URL).
    404 ``not_ready`` until the job has succeeded.
Webhook
    When a job turns terminal and was given a ``callback_url``, the job JSON (as from
    ``GET /v1/clips/{id}``) is POSTed there from a background thread, retried up to 3 times
    (4 attempts) until a 2xx answer.
Errors
    ``{"error": {"code": str, "message": str}}``; a key is never echoed.

Faults, injected with ``fail_next(endpoint, kind, count=1)`` (or ``faults=`` at construction),
hit the next matching requests before anything else (auth, limits) is checked:

- ``"429"``: 429 ``rate_limit`` with ``Retry-After: fault_retry_after``;
- ``"500"``: 500 ``internal``;
- ``"drop"``: close the connection without answering, having done nothing;
- ``"drop_after_accept"`` (submit only): accept and bill the job, then close without answering;
- ``"hold_after_accept"`` (submit only): accept and bill it, then answer nothing until the
  client goes away (``fakes.hold``: a request in flight, for kill tests);
- ``"truncate"`` (download only): send ``Content-Length`` for the whole file, then only half
  the bytes, and close.

Endpoints: ``"submit"``, ``"status"``, ``"lookup"``, ``"download"``.

Counters for assertions and benchmarks: ``submissions`` (accepted, billed jobs),
``billed_seconds``, ``jobs`` (id -> ``SimJob``: ``id``, ``external_id``, ``submitted_at``,
``done_at``, ``status_requests``, ``download_started_at``, ``state``, ...), ``requests``
(``(method, path)`` of every request, query included), ``rejected`` (a Counter of 429 codes),
``peak_concurrency``, ``webhooks`` (``WebhookDelivery`` records). Times are
``time.monotonic()``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard
from urllib.parse import parse_qs, urlsplit

import numpy as np

from .hold import HOLD, hold
from .loopback import Faults, JsonHandler, LoopbackServer

ENDPOINTS = ("submit", "status", "lookup", "download")
FAULT_ENDPOINTS = {
    "429": ENDPOINTS,
    "500": ENDPOINTS,
    "drop": ENDPOINTS,
    "drop_after_accept": ("submit",),
    HOLD: ("submit",),
    "truncate": ("download",),
}
TERMINAL = ("succeeded", "failed")
QUEUED_FRACTION = 0.1  # a job reports "queued" for the first tenth of its latency
MAX_DURATION = 60.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WEBHOOK_ATTEMPTS = 4  # the first try and up to 3 retries

Latency = float | tuple[float, float] | Callable[[int], float]


@dataclass
class SimJob:
    """One accepted (and billed) job, as the server sees it."""

    id: str
    external_id: str | None
    prompt: str
    duration: float
    width: int
    height: int
    fps: int
    seed: int
    callback_url: str | None
    first_frame: bool
    latency: float
    submitted_at: float  # time.monotonic() at acceptance
    created_at: float  # time.time() at acceptance, as sent in the JSON
    done_at: float | None = None  # time.monotonic() when the job turned terminal
    outcome: str | None = None  # "succeeded" | "failed" once terminal
    error: dict[str, str] | None = None
    status_requests: int = 0
    download_started_at: float | None = None  # the first download's start
    downloads: int = 0
    path: Path | None = None

    @property
    def state(self) -> str:
        if self.outcome is not None:
            return self.outcome
        if time.monotonic() - self.submitted_at < self.latency * QUEUED_FRACTION:
            return "queued"
        return "running"

    @property
    def progress(self) -> float:
        if self.outcome is not None:
            return 1.0
        if self.latency <= 0:
            return 0.99
        return round(min(0.99, (time.monotonic() - self.submitted_at) / self.latency), 3)


@dataclass
class WebhookDelivery:
    job_id: str
    state: str
    url: str
    attempts: int
    delivered: bool


class SimServer(LoopbackServer):
    """The fake API. Start it with ``with`` (or ``start()``/``close()``)."""

    def __init__(
        self,
        api_key: str = "sim-test-key",
        latency: Latency = (0.2, 0.25),
        concurrency: int | None = 4,
        requests_per_minute: int | None = None,
        blocked_words: Iterable[str] = ("forbidden",),
        poll_after_ms: int | None = None,
        faults: Faults = None,
        *,
        rate_limited: Iterable[str] = ("submit",),
        rate_window: float = 60.0,
        fault_retry_after: float = 0.1,
        webhook_retry_delay: float = 0.05,
        encoders: int = 2,
    ) -> None:
        """``rate_limited``: the endpoints whose requests count against
        ``requests_per_minute``; ``rate_window``: the seconds that "minute" lasts (shorten it
        to benchmark rate limits quickly); ``encoders``: background MP4 encoding threads."""
        super().__init__(api_key, encoders)
        self.latency = latency
        self.concurrency = concurrency
        self.requests_per_minute = requests_per_minute
        self.blocked_words = tuple(w.lower() for w in blocked_words)
        self.poll_after_ms = poll_after_ms
        self.rate_limited = frozenset(rate_limited)
        if not self.rate_limited <= set(ENDPOINTS):
            raise ValueError(f"rate_limited: endpoints are {ENDPOINTS}")
        self.rate_window = rate_window
        self.fault_retry_after = fault_retry_after
        self.webhook_retry_delay = webhook_retry_delay

        self.jobs: dict[str, SimJob] = {}
        self.submissions = 0
        self.rejected: Counter[str] = Counter()
        self.peak_concurrency = 0
        self.webhooks: list[WebhookDelivery] = []

        self._recent: deque[float] = deque()  # times of requests counted against the RPM
        self._renders: dict[str, Future[Path]] = {}

        self.fail_with(faults)

    # -- knobs and counters -----------------------------------------------------------------
    @property
    def status_requests(self) -> int:
        """Status requests answered, over every job."""
        with self._lock:
            return sum(job.status_requests for job in self.jobs.values())

    @property
    def active(self) -> int:
        """Jobs accepted and not yet terminal: what counts against ``concurrency``."""
        with self._lock:
            return self._active()

    @property
    def billed_seconds(self) -> float:
        with self._lock:
            return sum(job.duration for job in self.jobs.values())

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every job is terminal and every webhook delivery has ended."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._active() or self._webhooks_pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    # -- the endpoints (called from the handler threads) ---------------------------------------
    def _active(self) -> int:
        return sum(1 for job in self.jobs.values() if job.outcome is None)

    def _over_rate(self, endpoint: str, now: float) -> float | None:
        """Count one request; the seconds to wait if it is over the limit. Hold the lock."""
        if self.requests_per_minute is None or endpoint not in self.rate_limited:
            return None
        while self._recent and now - self._recent[0] >= self.rate_window:
            self._recent.popleft()
        if len(self._recent) >= self.requests_per_minute:
            return max(0.001, self._recent[0] + self.rate_window - now)
        self._recent.append(now)
        return None

    def _guard(self, h: _Handler, endpoint: str) -> bool:
        """Faults, auth and the rate limit shared by the authenticated endpoints.

        True when the handler has already answered (or dropped the connection).
        """
        fault = self._take_fault(endpoint)
        if fault == "drop":
            h.drop()
            return True
        if fault == "429":
            self._reject(h, "rate_limit", "injected rate limit", self.fault_retry_after)
            return True
        if fault == "500":
            h.send_error_json(500, "internal", "injected server error")
            return True
        if fault is not None:  # drop_after_accept / truncate: the endpoint handles it
            h.fault = fault
        if endpoint != "download" and not self._authorized(h):
            h.send_error_json(401, "unauthorized", "missing or invalid API key")
            return True
        with self._lock:
            wait = self._over_rate(endpoint, time.monotonic())
            if wait is not None:
                self.rejected["rate_limit"] += 1
        if wait is not None:
            self._reject(h, "rate_limit", "too many requests per minute", wait, counted=True)
            return True
        return False

    def _reject(
        self, h: _Handler, code: str, message: str, retry_after: float, counted: bool = False
    ) -> None:
        if not counted:
            with self._lock:
                self.rejected[code] += 1
        h.send_error_json(429, code, message, {"Retry-After": f"{retry_after:.3f}"})

    def submit(self, h: _Handler, body: bytes) -> None:
        if self._guard(h, "submit"):
            return
        try:
            fields = _parse_submit(body)
        except ValueError as exc:
            h.send_error_json(400, "invalid_request", str(exc))
            return
        now = time.monotonic()
        with self._lock:
            if self.concurrency is not None and self._active() >= self.concurrency:
                self.rejected["concurrency_limit"] += 1
                ends = [j.submitted_at + j.latency for j in self.jobs.values() if not j.outcome]
                wait = max(0.01, min(ends) - now)
                job = None
            else:
                wait = 0.0
                job = self._accept(fields, now)
        if job is None:
            h.send_error_json(
                429,
                "concurrency_limit",
                f"at most {self.concurrency} jobs in flight; retry when one finishes",
                {"Retry-After": f"{wait:.3f}"},
            )
            return
        if h.fault == "drop_after_accept":
            h.drop()
            return
        if h.fault == HOLD:
            hold(self, h)
            return
        brief = {
            "id": job.id,
            "state": "queued",
            "external_id": job.external_id,
            "created_at": job.created_at,
        }
        h.send_json(201, brief)

    def _accept(self, fields: dict[str, Any], now: float) -> SimJob:
        """Create, bill and start one job. Hold the lock."""
        self.submissions += 1
        job = SimJob(
            id=f"clip_{self.submissions:06d}",
            latency=self._latency(fields["seed"], fields["prompt"]),
            submitted_at=now,
            created_at=time.time(),
            **fields,
        )
        self.jobs[job.id] = job
        self.peak_concurrency = max(self.peak_concurrency, self._active())
        if not self._blocked(job.prompt):
            assert self._pool is not None and self._tmp is not None
            path = Path(self._tmp.name) / f"{job.id}.mp4"
            self._renders[job.id] = self._pool.submit(_encode, job, path)
        self._timer(job.latency, self._finish, job.id)
        return job

    def _latency(self, seed: int, prompt: str) -> float:
        if callable(self.latency):
            return max(0.0, float(self.latency(seed)))
        if isinstance(self.latency, (int, float)):
            return float(self.latency)
        mean, jitter = self.latency
        digest = hashlib.sha256(f"{seed}\0{prompt}".encode()).digest()
        draw = random.Random(digest).uniform(-jitter, jitter)
        return max(0.0, mean * (1.0 + draw))

    def _blocked(self, prompt: str) -> bool:
        lowered = prompt.lower()
        return any(word in lowered for word in self.blocked_words)

    def _finish(self, job_id: str) -> None:
        job = self.jobs[job_id]
        render = self._renders.get(job_id)
        error: dict[str, str] | None = None
        if render is None:
            error = {"code": "safety", "message": "prompt blocked by safety filter"}
        else:
            try:
                job.path = render.result()
            except Exception as exc:  # an encoding failure, or the server closing
                error = {"code": "internal", "message": f"render failed: {exc}"}
        with self._changed:
            if self._closed:
                return
            job.error = error
            job.outcome = "failed" if error else "succeeded"
            job.done_at = time.monotonic()
            hook = job.callback_url
            payload = self._job_json(job) if hook else None
            if hook:
                self._webhooks_pending += 1
            self._changed.notify_all()
        if hook and payload is not None:
            threading.Thread(
                target=self._deliver, args=(job.id, job.outcome, hook, payload), daemon=True
            ).start()

    def _deliver(self, job_id: str, state: str, url: str, payload: dict[str, Any]) -> None:
        attempts, delivered = self.post_webhook(
            url, payload, attempts=WEBHOOK_ATTEMPTS, delay=self.webhook_retry_delay, growth=2.0
        )
        with self._changed:
            self.webhooks.append(WebhookDelivery(job_id, state, url, attempts, delivered))
            self._webhooks_pending -= 1
            self._changed.notify_all()

    def _job_json(self, job: SimJob) -> dict[str, Any]:
        state = job.state
        return {
            "id": job.id,
            "state": state,
            "progress": 0.0 if state == "queued" else job.progress,
            "error": job.error,
            "video_url": f"{self.base_url}/v1/files/{job.id}.mp4" if state == "succeeded" else None,
            "external_id": job.external_id,
            "duration": job.duration,
            "width": job.width,
            "height": job.height,
            "fps": job.fps,
            "seed": job.seed,
            "created_at": job.created_at,
        }

    def status(self, h: _Handler, job_id: str) -> None:
        if self._guard(h, "status"):
            return
        with self._lock:
            job = self.jobs.get(job_id)
            if job is not None:
                job.status_requests += 1
                payload = self._job_json(job)
        if job is None:
            h.send_error_json(404, "not_found", f"no clip {job_id!r}")
            return
        headers = {}
        if self.poll_after_ms is not None:
            headers["X-Poll-After-Ms"] = str(int(self.poll_after_ms))
        h.send_json(200, payload, headers)

    def lookup(self, h: _Handler, query: str) -> None:
        if self._guard(h, "lookup"):
            return
        wanted = parse_qs(query).get("external_id")
        with self._lock:
            data = [
                self._job_json(job)
                for job in self.jobs.values()
                if wanted is None or job.external_id in wanted
            ]
        h.send_json(200, {"data": data})

    def download(self, h: _Handler, name: str) -> None:
        if self._guard(h, "download"):
            return
        job_id = name.removesuffix(".mp4")
        with self._lock:
            job = self.jobs.get(job_id)
            ready = job is not None and job.outcome == "succeeded" and job.path is not None
            if ready and job is not None:
                job.downloads += 1
                if job.download_started_at is None:
                    job.download_started_at = time.monotonic()
        if not ready or job is None or job.path is None:
            h.send_error_json(404, "not_ready", f"no finished clip {job_id!r}")
            return
        h.send_bytes(
            job.path.read_bytes(),
            "video/mp4",
            truncate=h.fault == "truncate",
            headers={"X-Content-Duration": f"{job.duration:g}"},
        )


class _Handler(JsonHandler):
    server_version = "sim/1"

    @property
    def sim(self) -> SimServer:
        return self.fake  # type: ignore[no-any-return]

    def do_POST(self) -> None:
        self.fault = None
        self.sim._log("POST", self.path)
        body = self._body()  # read first, so keep-alive stays in step whatever the answer
        if urlsplit(self.path).path == "/v1/clips":
            self.sim.submit(self, body)
        else:
            self.send_error_json(404, "not_found", "no such endpoint")

    def do_GET(self) -> None:
        self.fault = None
        self.sim._log("GET", self.path)
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/")
        if path == "/v1/clips":
            self.sim.lookup(self, parts.query)
        elif path.startswith("/v1/clips/") and path.count("/") == 3:
            self.sim.status(self, path.rsplit("/", 1)[1])
        elif path.startswith("/v1/files/") and path.endswith(".mp4") and path.count("/") == 3:
            self.sim.download(self, path.rsplit("/", 1)[1])
        else:
            self.send_error_json(404, "not_found", "no such endpoint")

    def send_error_json(
        self, code: int, error: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_json(code, {"error": {"code": error, "message": message}}, headers)


def _parse_submit(body: bytes) -> dict[str, Any]:
    """The submit body's fields, checked; ValueError says what is wrong."""
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("prompt: a non-empty string is required")
    duration = data.get("duration")
    if not _number(duration) or not 0 < duration <= MAX_DURATION:
        raise ValueError(f"duration: a number of seconds in (0, {MAX_DURATION:g}] is required")
    sizes = {}
    for name in ("width", "height"):
        value = data.get(name)
        if not _integer(value) or value <= 0 or value % 2 or value > 4096:
            raise ValueError(f"{name}: an even number of pixels up to 4096 is required")
        sizes[name] = value
    fps = data.get("fps", 24)
    if not _integer(fps) or not 1 <= fps <= 120:
        raise ValueError("fps: an integer from 1 to 120 is required")
    seed = data.get("seed", 0)
    if not _integer(seed):
        raise ValueError("seed: an integer is required")
    external_id = data.get("external_id")
    if external_id is not None and not isinstance(external_id, str):
        raise ValueError("external_id: a string or null is required")
    callback_url = data.get("callback_url")
    if callback_url is not None and (
        not isinstance(callback_url, str) or urlsplit(callback_url).scheme not in ("http", "https")
    ):
        raise ValueError("callback_url: an http(s) URL or null is required")
    first_frame = data.get("first_frame")
    if first_frame is not None:
        try:
            png = base64.b64decode(first_frame, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise ValueError("first_frame: base64 of a PNG image is required") from None
        if not png.startswith(PNG_SIGNATURE):
            raise ValueError("first_frame: base64 of a PNG image is required")
    return {
        "prompt": prompt,
        "duration": float(duration),
        "width": sizes["width"],
        "height": sizes["height"],
        "fps": fps,
        "seed": seed,
        "external_id": external_id,
        "callback_url": callback_url,
        "first_frame": first_frame is not None,
    }


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _encode(job: SimJob, path: Path) -> Path:
    """The job's clip: one colour from its seed, a lighter band across the top eighth."""
    from ministudio.media.encode import VideoWriter

    w, h = job.width, job.height
    digest = hashlib.sha256(str(job.seed).encode()).digest()
    luma = 40 + digest[0] % 120
    planes = np.empty((h * 3 // 2, w), np.uint8)
    flat = planes.reshape(-1)  # Y (h*w), then U and V (h/2 * w/2 each), row-packed
    flat[: h * w] = luma
    flat[: (h // 8) * w] = luma + 90
    quarter = (h // 2) * (w // 2)
    flat[h * w : h * w + quarter] = 64 + digest[1] % 128
    flat[h * w + quarter :] = 64 + digest[2] % 128
    frames = max(1, round(job.duration * job.fps))
    with VideoWriter(path, w, h, job.fps) as writer:
        for _ in range(frames):
            writer.write_yuv420p(planes)
    return path


SimServer.name = "sim"
SimServer.handler = _Handler
SimServer.endpoints = ENDPOINTS
SimServer.fault_endpoints = FAULT_ENDPOINTS
