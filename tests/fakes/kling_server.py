"""A loopback fake of Kling's video API (the ``/v1/videos/*`` family with AK/SK JWT auth), strict
to Kling's own docs: for testing the Kling engine. The checks of a body (model enums, the
capability map, images, multi-shot, elements...) live in ``kling_rules``; sources are cited
there and below (OD-2026-03 = the official docs' copy ``docs/kling_full.md`` in
github.com/artykrd/ai-bot-misha @ 1455ed3; OD-2025-12 = ``docs/kling_api.md`` @ a7b6213).

Use it as a context manager; it serves on 127.0.0.1 (a free port) from a background thread::

    with KlingServer(latency=0.2) as kling:
        answer = httpx.post(f"{kling.base_url}/v1/videos/text2video",
                            headers={"Authorization": f"Bearer {kling.token()}"},
                            json={"model_name": "kling-v1-6", "prompt": "a kite", "duration": "5"})
        kling.fail_next("create", "1303")

Tasks do no real work: each runs in virtual time, ``submitted`` for the first tenth of its
latency (``latency=(mean, jitter)``: ``mean * (1 ± jitter)`` drawn from the prompt; or a
number; or a callable ``prompt -> seconds``), then ``processing``, then ``succeed`` or
``failed`` (OD-2026-03: "Enum values: submitted, processing, succeed, failed"). Its video is a
real H.264 MP4 of one solid colour (from the prompt), lasting the task's duration at the
model's frame rate (the resolution table: 30 fps for kling-v1, kling-v1-5 and kling-v1-6
image2video, else 24), nominally 720p/1080p by model and mode on the short side, in the
aspect ratio (text2video, omni) or the first image's shape (image2video, first frame); the file
is rendered at ``render_scale`` of that (even, >= 16 px) so tests stay fast. No audio track.

Wire (every ``/v1`` call needs auth; ``/cdn`` is the video host):

Auth (OD-2026-03 "API Authentication")
    ``Authorization: Bearer <jwt>``, HS256 signed with ``secret_key``, ``iss`` = ``access_key``,
    ``nbf <= now < exp`` (server clock = wall clock + ``clock_offset``). Else HTTP 401: 1001
    (no header), 1002 (not "Bearer <jwt>", not HS256, a claim missing, an unknown ``iss``, a
    bad signature), 1003 (``nbf`` ahead), 1004 (expired) - codes of "Error Code".
Envelope (OD-2026-03 create/query examples; "SUCCEED" from live captures, notes 3.4)
    ``{"code": 0, "message": "SUCCEED", "request_id", "data"}``; errors ``{"code", "message",
    "request_id"}`` with the table's HTTP status (the 1303 example of "Concurrency Rules").
``POST /v1/videos/{text2video|image2video|omni-video}``  (fault endpoint ``create``)
    Checked by ``kling_rules.Rules.video``; refusals are 1201 (400) naming the problem, 1203
    (404) for a model not in the endpoint's enum. Over ``concurrency`` unfinished tasks: 1303
    "parallel task over resource pack limit" (OD-2026-03 "Concurrency Rules"). A prompt
    holding a ``blocked_words`` word: ``content_policy="refuse"`` (default) answers 1301 (400,
    "Trigger the content security policy"); ``"fail"`` accepts it and the task ends
    ``failed`` with ``task_status_msg`` "Failure to pass the risk control system" (the query
    doc: "failure reason ... such as triggering the content risk control"). ->
    ``data = {task_id (digits), task_info: {external_task_id?}, task_status: "submitted",
    created_at, updated_at}`` (ms).
``GET /v1/videos/{kind}/{task_id or external_task_id}``  (``get``)
    "Fill the value directly in the request path. Choose either task_id or external_task_id"
    (OD-2026-03 Query Task (Single)): a task id first, then an external id, on the kind that
    made it only. ``data``: task_id, task_status, task_status_msg, task_info, watermark_info
    ``{"enabled"}``, final_unit_deduction (a string: "0" until it succeeds), created_at,
    updated_at and, once ``succeed``, ``task_result.videos = [{id, url, duration}]``
    (``duration`` a string, "5.0"; ``watermark_url`` too when watermark_info.enabled).
``GET /v1/videos/{kind}?pageNum=&pageSize=``  (``list``)
    ``data`` an array, newest first; pageNum 1..1000, pageSize 1..500 (else 1201).
Elements (OD-2026-03 "Element"; fault endpoint ``elements``)
    ``POST /v1/general/advanced-custom-elements`` (checked by ``kling_rules.check_element``),
    an async task like a video's; ``GET .../advanced-custom-elements/{task_id or external id}``
    and the list; once ``succeed``, ``task_result.elements[0].element_id`` (a long) is usable in
    ``element_list``. ``GET /v1/general/advanced-presets-elements`` lists ``PRESET_ELEMENTS``
    (usable too). ``POST /v1/general/delete-elements {element_id}`` deletes a custom one
    (status ``deleted``; unusable after).
``GET /cdn/{task_id}/{video_id}.mp4`` (``-wm.mp4`` watermarked)  (``download``)
    The MP4, no auth, with ``Content-Length``; 404 until the task succeeded.
Callbacks (OD-2026-03 "Callback Protocol")
    With ``callback_url``, the bare task object (no envelope: task_id, task_status,
    task_status_msg, created_at, updated_at, final_unit_deduction, task_info, task_result) is
    POSTed on each status change in ``callback_statuses`` (default all four, as the protocol's
    enum), in order per task, unsigned (no signature is documented). Retries are not
    documented: the fake tries ``WEBHOOK_ATTEMPTS`` times, ``webhook_retry_delay`` apart.

Lip-sync (OD-2026-03 "Lip-Sync"): ``POST /v1/videos/identify-face`` (fault endpoint
``identify``), ``POST /v1/videos/advanced-lip-sync`` (``lipsync``) and its queries, with their
rules and switches, are ``kling_lipsync``'s; ``GET /files/{name}`` (``files``, no auth) serves
``files_dir``, the asset host's stand-in. Counters: ``identifications``,
``lipsync_submissions``, ``sessions``.

Where the docs are silent, a switch (each tested both ways in tests/test_kling_fake.py):

- ``reused_external_id``: a create whose ``external_task_id`` is taken (ids are "unique within
  a single user account": one namespace over every kind and element tasks; failed tasks keep
  theirs) - ``"1201"`` (default) or any other code of the table (``"1200"``, ``"1203"``...):
  refused with it; ``"create"``: a second task is made (a query by the id finds the newest);
  ``"existing"``: no new task, the first task's create answer again (its status as of now).
- ``unknown_task``: a query of an id that no task of that kind has - a code (``"1203"``,
  default: 404 "resource does not exist"; ``"1201"``...) or ``"null"`` (200, ``data: null``).
- ``unknown_fields``: a body (or query-string) field the docs do not list - ``"reject"``
  (default, 1201 naming it) or ``"ignore"``.
- ``external_id_query``: ``"path"`` (default; the official text) or ``"both"`` (also
  ``GET /v1/videos/{kind}?external_task_id=ID``, as some public clients send; answers one task).
- ``older_sound``: ``sound: "on"`` for a model without an audio row in the capability map
  (kling-v1 .. kling-v2-5-turbo, kling-video-o1) - ``"refuse"`` (default, 1201) or ``"accept"``.
- ``unknown_element``: the code for an unknown or deleted element id - 1203 (default) or 1201.

Faults, with ``fail_next(endpoint, kind, count=1)`` (or ``faults=``), hit the next matching
requests before anything else (auth, checks): a code of the table (``"1303"``, ``"1302"``,
``"1102"``, ``"5000"``...) on ``create``, ``get``, ``list`` or ``elements`` (with
``Retry-After: fault_retry_after`` for 1302/1303 when set; Kling documents no such header);
``"drop"`` (close without answering); ``"drop_after_accept"`` and ``"hold_after_accept"``
(``create``: accept, then close / answer nothing until the client goes away); ``"truncate"``,
``"500"``, ``"404"`` (``download``). ``fail_next_task(message)``: the next accepted tasks end
``failed`` with that ``task_status_msg``.

Counters: ``submissions`` (accepted video creates), ``tasks`` (id -> ``KlingTask``: parsed
``request`` with images summarised, ``images``, ``status``, sizes, ``get_requests``,
``downloads``...), ``elements`` (task id -> ``ElementTask``), ``requests`` (method, path),
``status_requests`` (single-task video queries), ``refusals`` ((code, message) of refused
creates), ``rejected`` (Counter by code), ``peak_concurrency``, ``webhooks``
(``WebhookDelivery``), ``billed_usd`` (units x ``USD_PER_UNIT``; units per second from the
[3P] price table of the notes, section 1.3).
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
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from .clips import even, solid_planes
from .hold import HOLD, hold
from .kling_lipsync import LIPSYNC, SESSION_TTL, LipSyncFake
from .kling_rules import (
    CODES,
    MODELS,
    USD_PER_UNIT,
    ElementInfo,
    ImageInfo,
    Refused,
    Rules,
    Spec,
    check_element,
)
from .kling_tasks import (
    PRESET_ELEMENTS,
    STATUSES,
    ElementTask,
    Job,
    KlingTask,
    WebhookDelivery,
    callback_json,
    created_json,
    element_json,
    preset_json,
    task_json,
)
from .loopback import Faults, JsonHandler, Latency, LoopbackServer, draw_latency

__all__ = [
    "ACCESS_KEY",
    "CODES",
    "KINDS",
    "PRESET_ELEMENTS",
    "SECRET_KEY",
    "ElementTask",
    "ImageInfo",
    "KlingServer",
    "KlingTask",
    "Refused",
    "WebhookDelivery",
]

ACCESS_KEY = "kling-fake-ACCESS-7d41c0b2"
SECRET_KEY = "kling-fake-SECRET-0f3a9e6c5b2d4a18e7c6"  # 32+ bytes: PyJWT warns below that
KINDS = tuple(MODELS)  # text2video, image2video, omni-video
ENDPOINTS = ("create", "get", "list", "download", "elements", "identify", "lipsync", "files")
FAULT_ENDPOINTS: dict[str, tuple[str, ...]] = {
    **{str(code): ("create", "get", "list", "elements", "identify", "lipsync") for code in CODES},
    "drop": ENDPOINTS,
    "drop_after_accept": ("create", "lipsync"),
    HOLD: ("create", "lipsync"),
    "truncate": ("download",),
    "500": ("download",),
    "404": ("download",),
}
SUBMITTED_FRACTION = 0.1
WEBHOOK_ATTEMPTS = 4  # the fake's choice: retries are not documented
RISK_MESSAGE = "Failure to pass the risk control system"


def _code_or(value: str, extra: tuple[str, ...], what: str) -> str:
    if value in extra or (value.isdigit() and int(value) in CODES):
        return value
    raise ValueError(f"{what}: {value!r} is neither an error code of the table nor {extra}")


class KlingServer(LipSyncFake, LoopbackServer):
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
        clock_offset: float = 0.0,
        fault_retry_after: float | None = None,
        webhook_retry_delay: float = 0.05,
        encoders: int = 2,
        seed: int = 0,
        content_policy: str = "refuse",
        reused_external_id: str = "1201",
        unknown_task: str = "1203",
        unknown_fields: str = "reject",
        external_id_query: str = "path",
        older_sound: str = "refuse",
        unknown_element: int = 1203,
        callback_statuses: Iterable[str] = STATUSES,
        lipsync_external_query: str = "path",
        lipsync_echo_external: bool = True,
        lipsync_resolution: str = "short-side",
        session_ttl: float = SESSION_TTL,
    ) -> None:
        """``render_scale``: the fraction of the nominal size actually encoded;
        ``clock_offset``: seconds the server's clock is ahead of this machine's; the rest: see
        the module doc."""
        super().__init__(access_key, encoders)
        if content_policy not in ("refuse", "fail"):
            raise ValueError("content_policy: 'refuse' or 'fail'")
        if unknown_fields not in ("reject", "ignore"):
            raise ValueError("unknown_fields: 'reject' or 'ignore'")
        if external_id_query not in ("path", "both"):
            raise ValueError("external_id_query: 'path' or 'both'")
        if older_sound not in ("refuse", "accept"):
            raise ValueError("older_sound: 'refuse' or 'accept'")
        if unknown_element not in (1201, 1203):
            raise ValueError("unknown_element: 1201 or 1203")
        self.access_key = access_key
        self.secret_key = secret_key
        self.latency = latency
        self.concurrency = concurrency
        self.blocked_words = tuple(w.lower() for w in blocked_words)
        self.render_scale = render_scale
        self.clock_offset = clock_offset
        self.fault_retry_after = fault_retry_after
        self.webhook_retry_delay = webhook_retry_delay
        self.content_policy = content_policy
        self.reused_external_id = _code_or(
            reused_external_id, ("create", "existing"), "reused_external_id"
        )
        self.unknown_task = _code_or(unknown_task, ("null",), "unknown_task")
        self.external_id_query = external_id_query
        self.callback_statuses = tuple(callback_statuses)
        self.rules = Rules(unknown_fields, older_sound, unknown_element, self._usable_element)
        self._rng = random.Random(seed)

        self.tasks: dict[str, KlingTask] = {}
        self.elements: dict[str, ElementTask] = {}
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
        self.lipsync_init(
            lipsync_external_query, lipsync_echo_external, lipsync_resolution, session_ttl
        )
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
        """Video tasks accepted and not yet terminal."""
        with self._lock:
            return self._active()

    def by_external_id(self, external_task_id: str) -> KlingTask | None:
        """The newest video task with that external id."""
        with self._lock:
            return next(
                (
                    t
                    for t in reversed(self.tasks.values())
                    if t.external_task_id == external_task_id
                ),
                None,
            )

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every task is terminal and every callback delivery has ended."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while any(j.in_flight for j in self._jobs()) or self._webhooks_pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    # -- helpers (hold the lock where said) -----------------------------------------------------
    def _jobs(self) -> list[Job]:
        return [*self.tasks.values(), *self.elements.values()]

    def _job(self, task_id: str) -> Job | None:
        return self.tasks.get(task_id) or self.elements.get(task_id)

    def _active(self) -> int:
        # "A task occupies concurrency from entering submitted status until completion
        # (including failures)" (OD-2026-03 Concurrency Rules); per resource pack type: video.
        return sum(1 for t in self.tasks.values() if t.in_flight)

    def _usable_element(self, element_id: int) -> ElementInfo | None:
        """An element ``element_list`` may name: a preset, or a custom one that succeeded and
        is not deleted. Called with the lock held."""
        for preset in PRESET_ELEMENTS:
            if preset.element_id == element_id:
                return preset
        for job in self.elements.values():
            if job.element_id == element_id and job.status == "succeed" and not job.deleted:
                return ElementInfo(job.element_id, job.reference_type)
        return None

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
            message = CODES[code][1] if code == 1303 else f"{CODES[code][1]} (injected)"
            h.send_error_code(code, message, headers)
            return True
        if fault in ("500", "404"):
            h.send_json(int(fault), {"error": "injected"})
            return True
        h.fault = fault
        if endpoint not in ("download", "files"):
            refused = self._check_token(h.headers.get("Authorization"))
            if refused is not None:
                h.send_error_code(*refused)
                return True
        return False

    def _check_token(self, header: str | None) -> tuple[int, str] | None:
        """None if ``header`` carries a valid token, else (code, message) - OD-2026-03 "API
        Authentication" (HS256, iss/exp/nbf, "Bearer <token>") and "Error Code" 1001-1004."""
        if not header:
            return 1001, "Authorization is empty"
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token.strip():  # "a space between Bearer and XXX"
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
        return draw_latency(self.latency, prompt)

    def _new_id(self) -> str:
        """A numeric task id, as Kling's ("866889456698785798" in a live capture, notes 3.3)."""
        task_id = str(self._rng.randrange(10**17, 10**18))
        while self._job(task_id) is not None:
            task_id = str(self._rng.randrange(10**17, 10**18))
        return task_id

    def _taken(self, ext: str) -> Job | None:
        """The newest task (video or element) holding external id ``ext``. Hold the lock."""
        return next((j for j in reversed(self._jobs()) if j.external_task_id == ext), None)

    # -- create ---------------------------------------------------------------------------------
    def create(self, h: _Handler, kind: str, body: bytes) -> None:
        if self._guard(h, "create"):
            return
        existing = None
        try:
            data = _json_object(body)
            with self._lock:
                spec = self.rules.video(kind, data)  # element lookups need the lock
                blocked = self._blocked(spec.texts)
                if blocked and self.content_policy == "refuse":
                    raise Refused(1301, f"{CODES[1301][1]}: the prompt is not allowed")
                existing = self._reused(spec.external_task_id)
                if existing is None:
                    if self.concurrency is not None and self._active() >= self.concurrency:
                        raise Refused(1303, CODES[1303][1])
                    task = self._accept(spec, RISK_MESSAGE if blocked else None)
                    payload = created_json(task)
                else:
                    payload = created_json(existing)
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

    def _blocked(self, texts: Iterable[str]) -> bool:
        return any(word in text.lower() for text in texts for word in self.blocked_words)

    def _reused(self, ext: str | None) -> Job | None:
        """A taken external id: SILENT in the docs; ``reused_external_id``. Hold the lock."""
        if ext is None:
            return None
        taken = self._taken(ext)
        if taken is None or self.reused_external_id == "create":
            return None
        if self.reused_external_id == "existing":
            return taken
        code = int(self.reused_external_id)
        raise Refused(code, f"external_task_id {ext!r} already exists")

    def _accept(self, spec: Spec, failure: str | None) -> KlingTask:
        """Create and start one video task. Hold the lock."""
        self.submissions += 1
        now_ms = int(time.time() * 1000)
        task = KlingTask(
            task_id=self._new_id(),
            external_task_id=spec.external_task_id,
            callback_url=spec.callback_url,
            latency=self._latency(spec.prompt),
            submitted_at=time.monotonic(),
            created_at=now_ms,
            updated_at=now_ms,
            units=spec.units,
            kind=spec.kind,
            model=spec.model,
            mode=spec.mode,
            duration=spec.duration,
            prompt=spec.prompt,
            request=spec.request,
            images=spec.images,
            width=spec.width,
            height=spec.height,
            render_width=even(spec.width * self.render_scale),
            render_height=even(spec.height * self.render_scale),
            fps=spec.fps,
            sound=spec.sound,
            watermark=spec.watermark,
            multi_shot=spec.multi_shot,
            element_ids=spec.element_ids,
            video_id=str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
        )
        if self._task_failures:
            task.planned_failure = self._task_failures.popleft()
        elif failure is not None:
            task.planned_failure = failure
        self.tasks[task.task_id] = task
        self.peak_concurrency = max(self.peak_concurrency, self._active())
        if task.planned_failure is None:
            assert self._pool is not None and self._tmp is not None
            self._renders[task.task_id] = self._pool.submit(_render, task, Path(self._tmp.name))
        self._start(task)
        return task

    def _start(self, job: Job) -> None:
        """Queue the ``submitted`` callback and the job's timers. Hold the lock."""
        self._queue_hook(job)
        self._timer(job.latency * SUBMITTED_FRACTION, self._process, job.task_id)
        self._timer(job.latency, self._finish, job.task_id)

    def _process(self, task_id: str) -> None:
        with self._changed:
            job = self._job(task_id)
            if self._closed or job is None or job.status != "submitted":
                return
            self._move(job, "processing")

    def _finish(self, task_id: str) -> None:
        with self._lock:
            job = self._job(task_id)
        if job is None:
            return
        render = self._renders.get(task_id)
        reason = job.planned_failure
        if render is not None:
            try:
                render.result()
            except Exception as exc:  # an encoding failure, or the server closing
                reason = f"Task failed: {exc}"
        with self._changed:
            if self._closed:
                return
            if job.status == "submitted":  # the processing timer has not run yet
                self._move(job, "processing")
            job.done_at = time.monotonic()
            if reason:
                job.status_msg = reason
                self._move(job, "failed")
                return
            if isinstance(job, KlingTask):
                job.cost_usd = round(job.units * USD_PER_UNIT, 6)
                self.billed_usd += job.cost_usd
            self._move(job, "succeed")

    def _move(self, job: Job, status: str) -> None:
        """Change a task's status and queue its callback. Hold the lock."""
        job.status = status
        job.updated_at = max(job.updated_at + 1, int(time.time() * 1000))
        self._queue_hook(job)
        self._changed.notify_all()

    # -- callbacks ------------------------------------------------------------------------------
    def _queue_hook(self, job: Job) -> None:
        """Queue the task's callback body, in order. Hold the lock."""
        if not job.callback_url or job.status not in self.callback_statuses:
            return
        payload = callback_json(self.base_url, job)
        self._webhooks_pending += 1
        queue = self._hooks.get(job.task_id)
        if queue is None:
            queue = self._hooks[job.task_id] = deque([payload])
            threading.Thread(
                target=self._deliver_all, args=(job.task_id, job.callback_url), daemon=True
            ).start()
        else:
            queue.append(payload)

    def _deliver_all(self, task_id: str, url: str) -> None:
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
    def _find(self, kind: str, ident: str) -> KlingTask | None:
        """By task id, else by external id (newest first), on ``kind`` only. Hold the lock."""
        task = self.tasks.get(ident)
        if task is not None and task.kind == kind:
            return task
        if kind == LIPSYNC and self.lipsync_external_query == "none":
            return None  # the lip-sync query documents task_id only (a switch)
        mine = (t for t in reversed(self.tasks.values()) if t.kind == kind)
        return next((t for t in mine if t.external_task_id == ident), None)

    def _send_unknown(self, h: _Handler, what: str) -> None:
        """An unknown id: SILENT in the docs; ``unknown_task``."""
        if self.unknown_task == "null":
            h.send_data(None)
        else:
            h.send_error_code(int(self.unknown_task), f"{what} does not exist")

    def get(self, h: _Handler, kind: str, ident: str) -> None:
        if self._guard(h, "get"):
            return
        with self._lock:
            self.status_requests += 1
            task = self._find(kind, ident)
            if task is not None:
                task.get_requests += 1
                payload = task_json(self.base_url, task)
        if task is None:
            self._send_unknown(h, f"task {ident!r}")
            return
        h.send_data(payload)

    def list_tasks(self, h: _Handler, kind: str, query: str) -> None:
        if self._guard(h, "list"):
            return
        params = parse_qs(query, keep_blank_values=True)
        if self.external_id_query == "both" and "external_task_id" in params:
            # Not the official text (path form): public clients' query form (notes 3.2).
            with self._lock:
                self.status_requests += 1
                task = self._find(kind, params["external_task_id"][0])
                payload = task_json(self.base_url, task) if task is not None else None
            if payload is None:
                self._send_unknown(h, "external_task_id")
            else:
                h.send_data(payload)
            return
        page = self._page(h, params)
        if page is None:
            return
        start, size = page
        with self._lock:
            mine = [t for t in reversed(self.tasks.values()) if t.kind == kind]
            data = [task_json(self.base_url, t) for t in mine[start : start + size]]
        h.send_data(data)

    def _page(self, h: _Handler, params: dict[str, list[str]]) -> tuple[int, int] | None:
        """pageNum [1, 1000] (default 1), pageSize [1, 500] (default 30): OD-2026-03 Query
        Task (List). None when answered (refused)."""
        unknown = sorted(set(params) - {"pageNum", "pageSize"})
        if unknown and self.rules.unknown_fields == "reject":
            h.send_error_code(1201, f"unknown parameter(s): {', '.join(unknown)}")
            return None
        try:
            page = int(params.get("pageNum", ["1"])[0])
            size = int(params.get("pageSize", ["30"])[0])
            if not (1 <= page <= 1000 and 1 <= size <= 500):
                raise ValueError
        except ValueError:
            h.send_error_code(1201, "pageNum must be 1..1000 and pageSize 1..500")
            return None
        return (page - 1) * size, size

    def download(self, h: _Handler, task_id: str, name: str) -> None:
        if self._guard(h, "download"):
            return
        with self._lock:
            task = self.tasks.get(task_id)
            path = None
            if task is not None and task.status == "succeed":
                names = {f"{task.video_id}.mp4"}
                if task.watermark:
                    names.add(f"{task.video_id}-wm.mp4")
                if name in names:
                    path = task.path
                    task.downloads += 1
        if path is None:
            h.send_json(404, {"error": "Not Found"})
            return
        h.send_bytes(path.read_bytes(), "video/mp4", truncate=h.fault == "truncate")

    def serve_file(self, h: _Handler, name: str) -> None:
        """``GET /files/{name}``: the asset host's public bucket (stand-in), no auth."""
        if self._guard(h, "files"):
            return
        path = self.files_dir / name
        if not path.is_file():
            h.send_json(404, {"error": "Not Found"})
            return
        h.send_bytes(path.read_bytes(), "application/octet-stream")

    # -- elements (OD-2026-03 "Element") --------------------------------------------------------
    def create_element(self, h: _Handler, body: bytes) -> None:
        if self._guard(h, "elements"):
            return
        try:
            data = _json_object(body)
            summary = check_element(data, self.rules)
            with self._lock:
                ext = summary["external_task_id"]
                existing = self._reused(ext)
                if existing is not None:
                    payload = created_json(existing)
                else:
                    now_ms = int(time.time() * 1000)
                    job = ElementTask(
                        task_id=self._new_id(),
                        external_task_id=ext,
                        callback_url=summary["callback_url"],
                        latency=self._latency(summary["element_name"]),
                        submitted_at=time.monotonic(),
                        created_at=now_ms,
                        updated_at=now_ms,
                        element_id=self._rng.randrange(10**11, 10**12),
                        reference_type=summary["reference_type"],
                        request=summary,
                    )
                    if self._task_failures:
                        job.planned_failure = self._task_failures.popleft()
                    self.elements[job.task_id] = job
                    self._start(job)
                    payload = created_json(job)
        except Refused as exc:
            with self._lock:
                self.refusals.append((exc.code, exc.message))
                self.rejected[exc.code] += 1
            h.send_error_code(exc.code, exc.message)
            return
        h.send_data(payload)

    def get_element(self, h: _Handler, ident: str) -> None:
        if self._guard(h, "elements"):
            return
        with self._lock:
            job = self.elements.get(ident) or next(
                (j for j in reversed(self.elements.values()) if j.external_task_id == ident),
                None,
            )
            payload = element_json(job) if job is not None else None
        if payload is None:
            self._send_unknown(h, f"element task {ident!r}")
            return
        h.send_data(payload)

    def list_elements(self, h: _Handler, query: str, presets: bool) -> None:
        if self._guard(h, "elements"):
            return
        page = self._page(h, parse_qs(query, keep_blank_values=True))
        if page is None:
            return
        start, size = page
        with self._lock:
            if presets:
                data = [preset_json(p) for p in PRESET_ELEMENTS]
            else:
                data = [element_json(j) for j in reversed(self.elements.values())]
        h.send_data(data[start : start + size])

    def delete_element(self, h: _Handler, body: bytes) -> None:
        """POST /v1/general/delete-elements {element_id}: "only supports deleting custom
        elements" (OD-2026-03)."""
        if self._guard(h, "elements"):
            return
        try:
            data = _json_object(body)
            self.rules.fields(data, frozenset({"element_id"}))
            raw = data.get("element_id")
            if not str(raw).isdigit() or isinstance(raw, bool):
                raise Refused(1201, "element_id is required")
            with self._lock:
                job = next(
                    (
                        j
                        for j in self.elements.values()
                        if j.element_id == int(str(raw)) and not j.deleted
                    ),
                    None,
                )
                if job is None:
                    raise Refused(self.rules.unknown_element, f"element_id {raw} not found")
                job.deleted = True
                payload = {"task_id": job.task_id, "task_status": job.status}
        except Refused as exc:
            h.send_error_code(exc.code, exc.message)
            return
        h.send_data(payload)


class _Handler(JsonHandler):
    server_version = "kling-fake/2"

    @property
    def kling(self) -> KlingServer:
        return self.fake  # type: ignore[no-any-return]

    def _route(self) -> tuple[list[str], str]:
        self.fault = None
        parts = urlsplit(self.path)
        return parts.path.rstrip("/").split("/")[1:], parts.query

    def do_POST(self) -> None:
        parts, _ = self._route()
        self.kling._log("POST", self.path)
        body = self._body()
        if len(parts) == 3 and parts[:2] == ["v1", "videos"] and parts[2] in KINDS:
            self.kling.create(self, parts[2], body)
        elif parts == ["v1", "videos", "identify-face"]:
            self.kling.identify_face(self, body)
        elif parts == ["v1", "videos", LIPSYNC]:
            self.kling.create_lipsync(self, body)
        elif parts == ["v1", "general", "advanced-custom-elements"]:
            self.kling.create_element(self, body)
        elif parts == ["v1", "general", "delete-elements"]:
            self.kling.delete_element(self, body)
        else:  # 1202 "The requested method is invalid"
            self.send_error_code(1202, f"no such method: POST /{'/'.join(parts)}")

    def do_GET(self) -> None:
        parts, query = self._route()
        self.kling._log("GET", self.path)
        videos = parts[:2] == ["v1", "videos"] and len(parts) >= 3 and parts[2] in (*KINDS, LIPSYNC)
        elements = parts[:3] == ["v1", "general", "advanced-custom-elements"]
        if videos and len(parts) == 3:
            self.kling.list_tasks(self, parts[2], query)
        elif videos and len(parts) == 4:
            self.kling.get(self, parts[2], parts[3])
        elif elements and len(parts) == 3:
            self.kling.list_elements(self, query, presets=False)
        elif elements and len(parts) == 4:
            self.kling.get_element(self, parts[3])
        elif parts == ["v1", "general", "advanced-presets-elements"]:
            self.kling.list_elements(self, query, presets=True)
        elif len(parts) == 3 and parts[0] == "cdn":
            self.kling.download(self, parts[1], parts[2])
        elif len(parts) == 2 and parts[0] == "files":
            self.kling.serve_file(self, parts[1])
        else:
            self.send_error_code(1202, f"no such method: GET /{'/'.join(parts)}")

    def send_data(self, data: Any) -> None:
        self.send_json(
            200, {"code": 0, "message": "SUCCEED", "request_id": _request_id(), "data": data}
        )

    def send_error_code(
        self, code: int, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        """The error shape: ``{code, message, request_id}``, no ``data`` (OD-2026-03 1303
        example), with the table's HTTP status."""
        status = CODES[code][0]
        self.send_json(
            status, {"code": code, "message": message, "request_id": _request_id()}, headers
        )


def _request_id() -> str:
    return str(uuid.uuid4())  # "request_id": "9984d27b-...-17ca6a13622d" //uuid (OD-2026-03)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Refused(1200, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise Refused(1200, "the body must be a JSON object")
    return data


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
