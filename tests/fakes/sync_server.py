"""A loopback fake of sync.'s lip-sync API (``/v2/generate``, ``/v2/generations``), strict to
sync.'s own docs and the types of its official SDK, for testing the ``sync`` engine. Written
from those sources, never from the plugin. Sources, cited beside each rule:

- **SDK**: ``syncsdk`` 0.3.0 (PyPI wheel), ``sync/generations/raw_client.py`` (paths, bodies,
  the status codes it decodes), ``sync/common/types/*.py`` (``Generation``, ``GenerationStatus``,
  ``Model``, ``GenerationOptions``, ``SyncMode``, ``Video``, ``Audio``, ``GenerationError``),
  ``sync/webhooks/types/generation_notification.py``, ``sync/core/client_wrapper.py``
  (``x-api-key``).
- **OVERVIEW**: sync.so/docs/api-reference ("API quick reference": 60 req/min on POST
  /v2/generate, concurrency 1 to 15 by plan, MP4 video, WAV or MP3 audio, x-api-key).
- **IDEMP**: sync.so/docs/api-reference/guides/idempotency.
- **ERRORS**: sync.so/docs/developer-guides/error-handling ("HTTP Status Codes";
  ``generation_unsupported_model``).
- **WEBHOOKS**: sync.so/docs/api-reference/guides/webhooks and
  .../webhooks-payload-reference/webhooks.
- **MODELS**: sync.so/docs/models/lipsync (prices at 25 fps; "If you include an unsupported
  option in your request, it will be ignored").
- **FAQ**: support.sync.so "Sync Support FAQ" (2026-04-07): per-plan longest video; billing
  is output frames x per-frame price.
- **SKILL**: sync.so/docs/plugins-and-extensions/agent-skills/sync-api ("429
  concurrency_limit_reached").

Wire (every ``/v2`` call needs ``x-api-key``; ``/cdn`` and ``/files`` need nothing):

``POST /v2/generate`` (fault endpoint ``create``)
    JSON ``{model, input, options?, segments?, webhookUrl?, outputFileName?}`` checked by
    ``check_create`` (each rule cited there); refusals are HTTP 400 with the SDK's error body
    ``{"message", "statusCode"}`` (plus ``code`` where the docs name one). Optional
    ``Idempotency-Key`` (IDEMP): exactly one header of 1-128 ``[A-Za-z0-9._~-]`` (else 400
    ``INVALID_IDEMPOTENCY_KEY``); a key seen before with the same body answers the same
    generation, no new one, nothing billed. Over ``rate_per_minute`` creates in 60 s: 429
    (OVERVIEW); ``concurrency`` generations PENDING or PROCESSING: 429
    ``concurrency_limit_reached`` (OVERVIEW, SKILL). -> 201 with the ``Generation``.
``GET /v2/generate/{id}`` (``get``)
    The ``Generation`` (SDK ``Generation``: ``id, createdAt, status, model, input, options,
    outputUrl, outputDuration, error, error_code, segments, segmentOutputUrl, webhookUrl``);
    404 for an id it does not know (the SDK decodes 404 as ``NotFoundError``).
``GET /v2/generations?status=&ids=`` (``list``)
    A JSON array of generations, newest first; ``status`` and ``ids`` filter ("Accepts
    multiple ... as a comma-separated list", SDK; repeated parameters are read too).
``GET /cdn/{id}.mp4`` (``download``)
    The output MP4 (a signed URL in the real service, fetched without the key), with
    ``Content-Length``.
``GET /files/{name}`` (``files``)
    Serves ``files_dir``: the stand-in for the user's public bucket (the asset host), from
    which the fake fetches a generation's inputs.

A generation is ``PENDING`` for the first tenth of its latency, then ``PROCESSING``, then
``COMPLETED``, ``FAILED`` or ``REJECTED`` (SDK ``GenerationStatus``). While processing, the
fake fetches its inputs: the video must be an MP4 with a video stream, the audio WAV or MP3
(OVERVIEW "Supported inputs"), the video at most ``max_seconds`` long (FAQ: the longest video
is the plan's: 20 s free ... 30 min Scale); otherwise the generation ends ``FAILED`` with an
``error`` and an ``error_code`` of the fake's own (``fake_input_*``: the docs' error catalogue
was not read in full). Its output is a real H.264 MP4 of the input video's size, rate and
frame count, one solid colour (no audio track: a simplification). Billed: the output frames
at the top of the model's 25 fps price range (MODELS, FAQ).

Webhooks (WEBHOOKS): with ``webhookUrl``, the generation (the SDK's
``GenerationNotification`` fields) is POSTed when it ends ``COMPLETED`` or ``FAILED`` (the
payload's ``status`` enum holds only those two: a ``REJECTED`` generation sends none). Signed
in a ``Sync-Signature`` header from a timestamp and the JSON payload with the signing secret
(``webhook_secret``; None: unsigned). The header's layout is not in the text we read: the
fake sends ``t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.

Where the docs are silent, a switch (each tested both ways in tests/test_sync_fake.py):

- ``key_reuse``: an Idempotency-Key seen before with a different body: ``"conflict"``
  (default: 409) or ``"replay"`` (the first generation again).
- ``unknown_fields``: a body field or option the SDK's types do not name: ``"reject"``
  (default, 400) or ``"ignore"``.
- ``echo_output_name``: whether a generation lists its ``outputFileName`` back (the SDK's
  ``Generation`` has no such field): False (default) or True.
- ``plain_webhook``: an ``http://`` webhookUrl (the guide: "your webhook URL must be
  configured to accept and process HTTPS POST requests"): ``"accept"`` (default; delivered)
  or ``"refuse"`` (400).
- ``list_limit``: how many generations a list answers (no pagination is documented): None
  (default: all) or a number (the newest).

Faults, with ``fail_next(endpoint, kind, count=1)``: ``"401"``, ``"402"``, ``"429"``,
``"500"``, ``"503"`` on ``create``, ``get``, ``list`` (``Retry-After: fault_retry_after``
with 429 when set); ``"drop"`` anywhere; ``"drop_after_accept"`` and ``"hold_after_accept"``
(``create``: accept and bill, then close / answer nothing); ``"truncate"``, ``"404"``,
``"500"`` (``download``). ``fail_next_generation(status, error, code)``: the next accepted
generations end ``FAILED`` or ``REJECTED``.

Counters: ``submissions`` (generations made), ``generations`` (id -> ``Generation``),
``status_requests``, ``list_requests``, ``replays`` (creates answered from a key),
``refusals`` ((status, message)), ``webhooks`` (``Delivery``), ``billed_usd``, ``requests``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import urllib.request
import uuid
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .clips import even, solid_planes
from .hold import HOLD, hold
from .loopback import Faults, JsonHandler, Latency, LoopbackServer, draw_latency

API_KEY = "sync-fake-KEY-5e1c9a7d3b2f4e60a8c1"
WEBHOOK_SECRET = "whsec_fake-sync-9b4e2c7a1d"
# SDK Model literal and the payload reference's enum (WEBHOOKS).
MODELS = ("sync-3", "lipsync-2", "lipsync-1.9.0-beta", "lipsync-2-pro", "react-1")
# USD per second at 25 fps, top of each range (MODELS); unknown models the highest.
PER_SECOND = {"lipsync-2": 0.05, "lipsync-2-pro": 0.083, "sync-3": 0.133}
SYNC_MODES = ("bounce", "loop", "cut_off", "silence", "remap")  # SDK SyncMode
BODY_FIELDS = frozenset({"model", "input", "options", "segments", "webhookUrl", "outputFileName"})
OPTION_FIELDS = frozenset(  # SDK GenerationOptions
    {
        "sync_mode",
        "model_mode",
        "prompt",
        "temperature",
        "active_speaker_detection",
        "occlusion_detection_enabled",
    }
)
INPUT_FIELDS = {  # SDK Video, Audio (and Tts, type "text")
    "video": frozenset({"type", "url", "assetId", "segments_secs", "segments_frames"}),
    "audio": frozenset({"type", "url", "assetId", "refId"}),
    "text": frozenset({"type", "provider", "refId"}),
}
KEY_PATTERN = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")  # IDEMP
OUTPUT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")  # SDK create: output_file_name
ENDPOINTS = ("create", "get", "list", "download", "files")
CODES = ("401", "402", "429", "500", "503")
FAULT_ENDPOINTS: dict[str, tuple[str, ...]] = {
    **{code: ("create", "get", "list") for code in CODES},
    "drop": ENDPOINTS,
    "drop_after_accept": ("create",),
    HOLD: ("create",),
    "truncate": ("download",),
    "404": ("download",),
}
FAULT_ENDPOINTS["500"] = ("create", "get", "list", "download")
PENDING_FRACTION = 0.1
WEBHOOK_ATTEMPTS = 3  # the fake's choice: retries are not documented


class Refused(ValueError):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


@dataclass
class Generation:
    id: str
    model: str
    input: list[dict[str, Any]]
    options: dict[str, Any] | None
    webhook_url: str | None
    output_name: str | None
    latency: float
    created_at: float  # epoch
    key: str | None = None
    status: str = "PENDING"
    error: str | None = None
    error_code: str | None = None
    planned: tuple[str, str, str] | None = None  # (status, error, code) to end with
    output_duration: float | None = None
    frames: int = 0
    path: Path | None = None
    cost_usd: float = 0.0
    downloads: int = 0
    get_requests: int = 0

    @property
    def in_flight(self) -> bool:
        return self.status in ("PENDING", "PROCESSING")


@dataclass
class Delivery:
    generation_id: str
    status: str
    url: str
    attempts: int
    delivered: bool
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class SyncServer(LoopbackServer):
    """The fake API. Start it with ``with`` (or ``start()``/``close()``)."""

    def __init__(
        self,
        api_key: str = API_KEY,
        latency: Latency = 0.3,
        concurrency: int | None = 3,
        faults: Faults = None,
        *,
        rate_per_minute: int | None = 60,
        max_seconds: float = 300.0,
        render_scale: float = 0.25,
        webhook_secret: str | None = WEBHOOK_SECRET,
        webhook_retry_delay: float = 0.05,
        fault_retry_after: float | None = None,
        key_reuse: str = "conflict",
        unknown_fields: str = "reject",
        echo_output_name: bool = False,
        plain_webhook: str = "accept",
        list_limit: int | None = None,
        encoders: int = 2,
    ) -> None:
        super().__init__(api_key, encoders)
        for name, value, allowed in (
            ("key_reuse", key_reuse, ("conflict", "replay")),
            ("unknown_fields", unknown_fields, ("reject", "ignore")),
            ("plain_webhook", plain_webhook, ("accept", "refuse")),
        ):
            if value not in allowed:
                raise ValueError(f"{name}: one of {allowed}")
        self.latency = latency
        self.concurrency = concurrency
        self.rate_per_minute = rate_per_minute
        self.max_seconds = max_seconds
        self.render_scale = render_scale
        self.webhook_secret = webhook_secret
        self.webhook_retry_delay = webhook_retry_delay
        self.fault_retry_after = fault_retry_after
        self.key_reuse = key_reuse
        self.unknown_fields = unknown_fields
        self.echo_output_name = echo_output_name
        self.plain_webhook = plain_webhook
        self.list_limit = list_limit

        self.generations: dict[str, Generation] = {}
        self.submissions = 0
        self.status_requests = 0
        self.list_requests = 0
        self.replays = 0
        self.refusals: list[tuple[int, str]] = []
        self.webhooks: list[Delivery] = []
        self.billed_usd = 0.0
        self.bodies: list[dict[str, Any]] = []  # accepted create bodies
        self.idempotency_headers: list[str | None] = []  # per create request
        self._keys: dict[str, tuple[str, str]] = {}  # key -> (body fingerprint, generation id)
        self._creates: deque[float] = deque()  # monotonic times of create requests
        self._planned: deque[tuple[str, str, str]] = deque()
        self._renders: dict[str, Future[None]] = {}
        self.fail_with(faults)

    # -- knobs ----------------------------------------------------------------------------------
    @property
    def files_dir(self) -> Path:
        """The folder served at ``/files`` (the public bucket's stand-in)."""
        if self._tmp is None:
            raise RuntimeError("start the server first")
        folder = Path(self._tmp.name) / "files"
        folder.mkdir(exist_ok=True)
        return folder

    @property
    def files_url(self) -> str:
        return f"{self.base_url}/files"

    def fail_next_generation(
        self, status: str = "FAILED", error: str = "generation failed", code: str = "fake_failed"
    ) -> None:
        if status not in ("FAILED", "REJECTED"):
            raise ValueError("status: FAILED or REJECTED")
        with self._lock:
            self._planned.append((status, error, code))

    @property
    def active(self) -> int:
        with self._lock:
            return sum(1 for g in self.generations.values() if g.in_flight)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while any(g.in_flight for g in self.generations.values()) or self._webhooks_pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def credentials(self, h: Any) -> list[str]:
        given = h.headers.get("x-api-key") or ""
        return [c for c in dict.fromkeys([given, *super().credentials(h)]) if c]

    # -- guard ----------------------------------------------------------------------------------
    def _guard(self, h: _Handler, endpoint: str) -> bool:
        fault = self._take_fault(endpoint)
        if fault == "drop":
            h.drop()
            return True
        if fault in CODES or (fault in ("404", "500") and endpoint == "download"):
            assert fault is not None
            status = int(fault)
            headers = {}
            if status == 429 and self.fault_retry_after is not None:
                headers["Retry-After"] = f"{self.fault_retry_after:g}"
            h.send_error(status, f"injected HTTP {status}", headers=headers)
            return True
        h.fault = fault
        if endpoint in ("download", "files"):
            return False
        # x-api-key on every API request (SDK client_wrapper; OVERVIEW "Authentication").
        given = h.headers.get("x-api-key") or ""
        if not hmac.compare_digest(given.encode(), self.api_key.encode()):
            h.send_error(401, "Unauthorized")  # ERRORS: 401 invalid or missing API key
            return True
        return False

    # -- create ---------------------------------------------------------------------------------
    def create(self, h: _Handler, body: bytes) -> None:
        if self._guard(h, "create"):
            return
        keys = h.headers.get_all("Idempotency-Key") or []
        with self._lock:
            self.idempotency_headers.append(keys[0] if len(keys) == 1 else None)
        try:
            key = self._key(keys)
            data = _json_object(body)
            check_create(data, unknown_fields=self.unknown_fields, plain_webhook=self.plain_webhook)
            fingerprint = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
            with self._lock:
                self._rate()
                made = self._replay(key, fingerprint)
                if made is None:
                    if self.concurrency is not None and self._active() >= self.concurrency:
                        raise Refused(429, "concurrency_limit_reached", "concurrency_limit_reached")
                    made = self._accept(data, key)
                    if key is not None:
                        self._keys[key] = (fingerprint, made.id)
                    self.bodies.append(data)
                payload = self._json(made)
        except Refused as exc:
            with self._lock:
                self.refusals.append((exc.status, exc.message))
            h.send_error(exc.status, exc.message, exc.code)
            return
        if h.fault == "drop_after_accept":
            h.drop()
            return
        if h.fault == HOLD:
            hold(self, h)
            return
        h.send_json(201, payload)  # SDK: any 2xx "Job created successfully"

    def _key(self, keys: list[str]) -> str | None:
        """IDEMP: optional; "exactly one header with 1-128 characters matching
        [A-Za-z0-9._~-]+. Empty, duplicate, or malformed headers return HTTP 400 with
        INVALID_IDEMPOTENCY_KEY"."""
        if not keys:
            return None
        if len(keys) != 1 or not KEY_PATTERN.match(keys[0]):
            raise Refused(400, "INVALID_IDEMPOTENCY_KEY", "INVALID_IDEMPOTENCY_KEY")
        return keys[0]

    def _rate(self) -> None:
        """OVERVIEW: 60 req/min for POST /v2/generate. Hold the lock."""
        now = time.monotonic()
        while self._creates and now - self._creates[0] > 60.0:
            self._creates.popleft()
        if self.rate_per_minute is not None and len(self._creates) >= self.rate_per_minute:
            raise Refused(429, "rate limit exceeded: 60 requests per minute on /v2/generate")
        self._creates.append(now)

    def _replay(self, key: str | None, fingerprint: str) -> Generation | None:
        """IDEMP: "reusing the same key and inputs prevents another generation". Hold the
        lock. Same key, other body: SILENT; ``key_reuse``."""
        if key is None or key not in self._keys:
            return None
        seen, ident = self._keys[key]
        if seen != fingerprint and self.key_reuse == "conflict":
            raise Refused(409, "Idempotency-Key was used with a different request", "CONFLICT")
        self.replays += 1
        return self.generations[ident]

    def _active(self) -> int:
        return sum(1 for g in self.generations.values() if g.in_flight)

    def _accept(self, data: dict[str, Any], key: str | None) -> Generation:
        """Make and start one generation. Hold the lock."""
        self.submissions += 1
        made = Generation(
            id=str(uuid.uuid4()),
            model=data["model"],
            input=data["input"],
            options=data.get("options"),
            webhook_url=data.get("webhookUrl"),
            output_name=data.get("outputFileName"),
            latency=draw_latency(self.latency, json.dumps(data["input"], sort_keys=True)),
            created_at=time.time(),
            key=key,
        )
        if self._planned:
            made.planned = self._planned.popleft()
        self.generations[made.id] = made
        assert self._pool is not None and self._tmp is not None
        self._renders[made.id] = self._pool.submit(self._render, made)
        self._timer(made.latency * PENDING_FRACTION, self._process, made.id)
        self._timer(made.latency, self._finish, made.id)
        return made

    def _process(self, ident: str) -> None:
        with self._changed:
            made = self.generations.get(ident)
            if self._closed or made is None or made.status != "PENDING":
                return
            made.status = "PROCESSING"
            self._changed.notify_all()

    def _render(self, made: Generation) -> None:
        """Fetch the inputs, check them (OVERVIEW: MP4 video, WAV or MP3 audio; FAQ: the
        plan's longest video), write the output. Runs in the encoder pool."""
        import av
        from ministudio.media.encode import VideoWriter

        video = next(i for i in made.input if i.get("type") == "video")
        audio = next(i for i in made.input if i.get("type") in ("audio", "text"))
        folder = Path(self._tmp.name) if self._tmp is not None else Path(".")
        try:
            clip = self._fetch(video.get("url"), folder / f"{made.id}-in.mp4")
        except OSError as exc:
            raise _Failed(f"the video could not be fetched ({exc})", "fake_input_fetch") from None
        try:
            with av.open(str(clip)) as container:
                if "mp4" not in container.format.name or not container.streams.video:
                    raise _Failed("the video input is not an MP4 video", "fake_input_format")
                stream = container.streams.video[0]
                width, height = stream.codec_context.width, stream.codec_context.height
                rate = stream.average_rate or stream.guessed_rate
                fps = round(float(rate)) if rate else 25
                frames = sum(1 for p in container.demux(stream) if p.size)
        except av.FFmpegError:
            raise _Failed("the video input cannot be read", "fake_input_format") from None
        if audio.get("type") == "audio":
            try:
                sound = self._fetch(audio.get("url"), folder / f"{made.id}-in.audio")
            except OSError as exc:
                raise _Failed(
                    f"the audio could not be fetched ({exc})", "fake_input_fetch"
                ) from None
            try:
                with av.open(str(sound)) as container:
                    if container.format.name not in ("wav", "mp3") or not container.streams.audio:
                        raise _Failed("the audio input is not WAV or MP3", "fake_input_format")
            except av.FFmpegError:
                raise _Failed("the audio input cannot be read", "fake_input_format") from None
        duration = frames / fps
        if duration > self.max_seconds:
            raise _Failed(
                f"the video is {duration:.1f} s, over the plan's {self.max_seconds:g} s",
                "fake_input_too_long",
            )
        w = even(width * self.render_scale)
        h = even(height * self.render_scale)
        planes = solid_planes(w, h, made.id)
        path = folder / f"{made.id}.mp4"
        with VideoWriter(path, w, h, fps) as writer:
            for _ in range(max(1, frames)):
                writer.write_yuv420p(planes)
        made.frames, made.output_duration, made.path = frames, duration, path

    def _fetch(self, url: Any, target: Path) -> Path:
        """The input at ``url``: from ``files_dir`` when it is served here, else by GET."""
        text = str(url or "")
        parts = urlsplit(text)
        if text.startswith(self.files_url + "/"):
            local = self.files_dir / Path(parts.path).name
            if not local.is_file():
                raise OSError("404 Not Found")
            return local
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(text, timeout=5) as answer:
            target.write_bytes(answer.read())
        return target

    def _finish(self, ident: str) -> None:
        with self._lock:
            made = self.generations.get(ident)
            render = self._renders.get(ident)
        if made is None:
            return
        failure: tuple[str, str, str] | None = made.planned
        if render is not None and failure is None:
            try:
                render.result()
            except _Failed as exc:
                failure = ("FAILED", exc.message, exc.code)
            except Exception as exc:  # an encoding failure, or the server closing
                failure = ("FAILED", f"generation failed: {exc}", "fake_internal")
        with self._changed:
            if self._closed:
                return
            if failure is not None:
                made.status, made.error, made.error_code = failure
            else:
                per_frame = PER_SECOND.get(made.model, max(PER_SECOND.values())) / 25
                made.cost_usd = round(made.frames * per_frame, 6)
                self.billed_usd += made.cost_usd
                made.status = "COMPLETED"
            self._changed.notify_all()
            if made.webhook_url and made.status in ("COMPLETED", "FAILED"):
                self._webhooks_pending += 1
                payload = self._json(made)
                threading.Thread(target=self._deliver, args=(made, payload), daemon=True).start()

    # -- webhooks -------------------------------------------------------------------------------
    def _deliver(self, made: Generation, payload: dict[str, Any]) -> None:
        """POST the generation to its webhookUrl, signed (WEBHOOKS)."""
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "sync-fake-webhooks/1"}
        if self.webhook_secret:
            stamp = int(time.time())
            digest = hmac.new(
                self.webhook_secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256
            ).hexdigest()
            headers["Sync-Signature"] = f"t={stamp},v1={digest}"
        url = made.webhook_url or ""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        tries, delivered = 0, False
        for attempt in range(WEBHOOK_ATTEMPTS):
            if self._closed:
                break
            tries += 1
            request = urllib.request.Request(url, data=body, method="POST", headers=headers)
            try:
                with opener.open(request, timeout=5) as answer:
                    if 200 <= answer.status < 300:
                        delivered = True
                        break
            except OSError:
                pass
            time.sleep(self.webhook_retry_delay * (attempt + 1))
        with self._changed:
            self.webhooks.append(
                Delivery(made.id, made.status, url, tries, delivered, body, headers)
            )
            self._webhooks_pending -= 1
            self._changed.notify_all()

    # -- reads ----------------------------------------------------------------------------------
    def get(self, h: _Handler, ident: str) -> None:
        if self._guard(h, "get"):
            return
        with self._lock:
            self.status_requests += 1
            made = self.generations.get(ident)
            if made is not None:
                made.get_requests += 1
                payload = self._json(made)
        if made is None:
            h.send_error(404, f"generation {ident} not found")
            return
        h.send_json(200, payload)

    def list_generations(self, h: _Handler, query: str) -> None:
        if self._guard(h, "list"):
            return
        params = parse_qs(query, keep_blank_values=True)
        unknown = sorted(set(params) - {"status", "ids"})
        if unknown and self.unknown_fields == "reject":
            h.send_error(400, f"unknown query parameter(s): {', '.join(unknown)}")
            return
        statuses = {s for v in params.get("status", []) for s in v.split(",") if s}
        ids = {s for v in params.get("ids", []) for s in v.split(",") if s}
        with self._lock:
            self.list_requests += 1
            found = [
                self._json(g)
                for g in reversed(self.generations.values())
                if (not statuses or g.status in statuses) and (not ids or g.id in ids)
            ]
        if self.list_limit is not None:
            found = found[: self.list_limit]
        h.send_json(200, found)

    def download(self, h: _Handler, name: str) -> None:
        if self._guard(h, "download"):
            return
        with self._lock:
            made = self.generations.get(name.removesuffix(".mp4"))
            path = made.path if made is not None and made.status == "COMPLETED" else None
            if made is not None and path is not None:
                made.downloads += 1
        if path is None:
            h.send_json(404, {"message": "Not Found", "statusCode": 404})
            return
        h.send_bytes(path.read_bytes(), "video/mp4", truncate=h.fault == "truncate")

    def serve_file(self, h: _Handler, name: str) -> None:
        if self._guard(h, "files"):
            return
        path = self.files_dir / name
        if "/" in name or not path.is_file():
            h.send_json(404, {"message": "Not Found"})
            return
        h.send_bytes(path.read_bytes(), "application/octet-stream")

    def _json(self, made: Generation) -> dict[str, Any]:
        """The SDK ``Generation`` (aliases as on the wire). Hold the lock."""
        done = made.status == "COMPLETED"
        payload: dict[str, Any] = {
            "id": made.id,
            "createdAt": datetime.fromtimestamp(made.created_at, timezone.utc).isoformat(),
            "status": made.status,
            "model": made.model,
            "input": made.input,
            "options": made.options,
            "outputUrl": f"{self.base_url}/cdn/{made.id}.mp4" if done else None,
            "outputDuration": made.output_duration if done else None,
            "error": made.error,
            "error_code": made.error_code,
            "segments": None,
            "segmentOutputUrl": None,
            "webhookUrl": made.webhook_url,
        }
        if self.echo_output_name:
            payload["outputFileName"] = made.output_name
        return payload


class _Failed(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def check_create(data: dict[str, Any], *, unknown_fields: str, plain_webhook: str) -> None:
    """Refuse a create body the docs refuse (``Refused``, HTTP 400)."""
    if unknown_fields == "reject":
        extra = sorted(set(data) - BODY_FIELDS)
        if extra:
            raise Refused(400, f"property {extra[0]} should not exist")
    # SDK create: ``model`` and ``input`` are required.
    model = data.get("model")
    if model is None:
        raise Refused(400, "model is required")
    if model not in MODELS:  # ERRORS: generation_unsupported_model
        raise Refused(
            400,
            "The requested model is not supported for this operation.",
            "generation_unsupported_model",
        )
    items = data.get("input")
    if not isinstance(items, list) or not items:
        raise Refused(400, "input must be a non-empty array")
    kinds = [i.get("type") if isinstance(i, dict) else None for i in items]
    # SDK create: "Must include one video input item and at least one audio input item"
    # (audio: recorded audio, or a text-to-speech input).
    if kinds.count("video") != 1:
        raise Refused(400, "input must include exactly one video item")
    if not any(k in ("audio", "text") for k in kinds):
        raise Refused(400, "input must include at least one audio item")
    for item, kind in zip(items, kinds, strict=False):
        if kind not in INPUT_FIELDS:
            raise Refused(400, f"input type {kind!r} is not one of video, audio, text")
        if unknown_fields == "reject":
            extra = sorted(set(item) - INPUT_FIELDS[kind])
            if extra:
                raise Refused(400, f"input.{extra[0]} should not exist")
        if kind == "text":
            continue
        url, asset = item.get("url"), item.get("assetId")
        # SDK Video/Audio: "Provide either `url` or `assetId` (one is required)".
        if not url and not asset:
            raise Refused(400, f"the {kind} input needs a url or an assetId")
        if asset and not url:
            raise Refused(400, f"asset {asset} not found")  # the fake keeps no media library
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise Refused(400, f"the {kind} url must be an http(s) URL")
    options = data.get("options")
    if options is not None:
        if not isinstance(options, dict):
            raise Refused(400, "options must be an object")
        if unknown_fields == "reject":
            extra = sorted(set(options) - OPTION_FIELDS)
            if extra:
                raise Refused(400, f"options.{extra[0]} should not exist")
        mode = options.get("sync_mode")
        if mode is not None and mode not in SYNC_MODES:
            raise Refused(400, f"options.sync_mode must be one of {', '.join(SYNC_MODES)}")
        temperature = options.get("temperature")
        if temperature is not None and (
            not isinstance(temperature, (int, float)) or not 0 <= temperature <= 1
        ):  # GenerationOptions: "0 -> least expressive, 1 -> most expressive"
            raise Refused(400, "options.temperature must be a number from 0 to 1")
        # model_mode and prompt "only work with react-1": ignored otherwise (MODELS: "If you
        # include an unsupported option in your request, it will be ignored").
    name = data.get("outputFileName")
    if name is not None and (not isinstance(name, str) or not OUTPUT_NAME.match(name)):
        # SDK create: "Only alphanumeric characters, underscores, and hyphens are allowed,
        # up to 255 characters."
        raise Refused(400, "outputFileName: only letters, digits, _ and -, up to 255")
    hook = data.get("webhookUrl")
    if hook is not None:
        scheme = urlsplit(str(hook)).scheme
        if scheme not in ("http", "https"):
            raise Refused(400, "webhookUrl must be a URL")
        if scheme == "http" and plain_webhook == "refuse":
            raise Refused(400, "webhookUrl must be an https URL")


class _Handler(JsonHandler):
    server_version = "sync-fake/1"

    @property
    def sync(self) -> SyncServer:
        return self.fake  # type: ignore[no-any-return]

    def _route(self) -> tuple[list[str], str]:
        self.fault = None
        parts = urlsplit(self.path)
        return parts.path.rstrip("/").split("/")[1:], parts.query

    def do_POST(self) -> None:
        parts, _ = self._route()
        self.sync._log("POST", self.path)
        body = self._body()
        if parts == ["v2", "generate"]:
            if "json" not in (self.headers.get("Content-Type") or ""):
                # multipart uploads (create_with_files) are not served by this fake
                self.send_error(400, "expected a JSON body")
                return
            self.sync.create(self, body)
        else:
            self.send_error(404, f"Cannot POST /{'/'.join(parts)}")

    def do_GET(self) -> None:
        parts, query = self._route()
        self.sync._log("GET", self.path)
        if len(parts) == 3 and parts[:2] == ["v2", "generate"]:
            self.sync.get(self, parts[2])
        elif parts == ["v2", "generations"]:
            self.sync.list_generations(self, query)
        elif len(parts) == 2 and parts[0] == "cdn":
            self.sync.download(self, parts[1])
        elif len(parts) == 2 and parts[0] == "files":
            self.sync.serve_file(self, parts[1])
        else:
            self.send_error(404, f"Cannot GET /{'/'.join(parts)}")

    def send_error(  # type: ignore[override]
        self,
        code: int,
        message: str | None = None,
        explain: str | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The SDK's ``GenerationError``: ``{"message", "statusCode"}`` (and a ``code``)."""
        payload: dict[str, Any] = {"message": message or "error", "statusCode": code}
        if explain:
            payload["code"] = explain
        self.send_json(code, payload, headers)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Refused(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "the body must be a JSON object")
    return data


SyncServer.name = "sync"
SyncServer.handler = _Handler
SyncServer.endpoints = ENDPOINTS
SyncServer.fault_endpoints = FAULT_ENDPOINTS
