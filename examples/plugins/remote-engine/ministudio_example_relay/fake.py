"""A loopback fake of the Relay video API: relay's tests run against it, and you can try the
engine with it, without an account::

    python -m ministudio_example_relay.fake      # serves on 127.0.0.1:8765 until Ctrl-C

In tests, use it as a context manager (it serves from a background thread on a free port)::

    with FakeRelay() as relay:
        env = {"RELAY_BASE_URL": relay.base_url, "RELAY_API_KEY": relay.api_key,
               "RELAY_WEBHOOK_SECRET": relay.webhook_secret}
        relay.fail_next("submit", "429")
        ...
        assert relay.submissions == 2

The protocol (JSON; every ``/v1`` request needs ``Authorization: Bearer <key>``, else 401):

``POST /v1/files`` (a PNG as the body)
    201 ``{"id": "file_000001"}``; 400 if the body is not a PNG.
``POST /v1/videos``
    ``{"model": "relay-2"|"relay-1", "prompt": str, "setting": str, "negative_prompt": str,
    "seconds": 2|4|8, "aspect_ratio": "16:9"|"9:16"|"1:1", "resolution": "480p"|"720p",
    "fps": 12..60, "seed": int, "client_ref": str|null, "callback_url": str|null,
    "first_frame": file id|null, "reference_images": [file id, ...] (at most 2)}``.
    201 ``{"id": "vid_000001", "status": "queued"}``: the job is billed. 400
    ``invalid_request`` for a bad field, ``content_policy`` for a prompt holding a blocked
    word (neither is billed).
``GET /v1/videos/{id}``
    200 ``{"id", "status": "queued"|"in_progress"|"completed"|"failed", "progress": 0..100,
    "error": null|{"code", "message"}, "download_url": str|null, "seconds", "client_ref",
    "created_at"}``; 404 for an unknown id.
``GET /v1/videos?client_ref=X``
    200 ``{"data": [job, ...]}``: the jobs created with that ``client_ref``.
``GET /files/{id}.mp4`` (no key: a CDN URL)
    The clip: H.264, the standard size of its aspect ratio and resolution, ``seconds`` x
    ``fps`` frames, no sound; the background's colour comes from ``setting``, a bar moves
    across it, and with a ``first_frame`` the clip fades in from that image.
Webhook
    When a job with a ``callback_url`` ends, the job's JSON is POSTed there, signed:
    ``X-Relay-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>`` with the
    webhook secret; up to 3 tries.
Errors
    ``{"error": {"code": str, "message": str}}``.

Faults, for tests: ``fail_next(endpoint, kind)`` makes the next request to ``endpoint``
(``"upload"``, ``"submit"``, ``"status"``, ``"lookup"``, ``"download"``) fail as ``kind``:
``"429"`` (with ``Retry-After``), ``"500"``, ``"drop"`` (close without an answer),
``"refuse"`` (submit: 400 ``content_policy``), ``"drop_after_accept"`` (submit: bill the job,
then close without an answer), ``"truncate"`` (download: half the bytes, then close).
Counters: ``submissions`` (billed jobs), ``status_requests``, ``webhooks`` (deliveries).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MODELS = ("relay-2", "relay-1")
SECONDS = (2, 4, 8)
ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}
RESOLUTIONS = ("480p", "720p")
ENDPOINTS = ("upload", "submit", "status", "lookup", "download")
KINDS = {
    "429": ENDPOINTS,
    "500": ENDPOINTS,
    "drop": ENDPOINTS,
    "refuse": ("submit",),
    "drop_after_accept": ("submit",),
    "truncate": ("download",),
}
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class Job:
    """One billed job, as the fake sees it."""

    id: str
    fields: dict[str, Any]
    created_at: float
    status: str = "queued"
    error: dict[str, str] | None = None
    clip: Future[bytes] = field(default_factory=Future)


class FakeRelay:
    """The fake API. Start it with ``with`` (or ``start()`` and ``close()``)."""

    def __init__(
        self,
        api_key: str = "relay-test-key",
        *,
        latency: float = 0.3,
        webhook_secret: str = "relay-webhook-secret",
        blocked: tuple[str, ...] = ("forbidden",),
        port: int = 0,
    ) -> None:
        """``latency``: seconds from a job's acceptance to its end; ``blocked``: words a
        prompt is refused for."""
        self.api_key, self.latency, self.webhook_secret = api_key, latency, webhook_secret
        self.blocked = blocked
        self.jobs: dict[str, Job] = {}
        self.files: dict[str, bytes] = {}
        self.submissions = 0
        self.status_requests = 0
        self.webhooks = 0
        self._faults: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._timers: list[threading.Timer] = []
        self._encoders = ThreadPoolExecutor(2, thread_name_prefix="fake-relay-encode")
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(0.05,),
            daemon=True,  # quick to shut down
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeRelay:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for timer in self._timers:
                timer.cancel()
        self._encoders.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> FakeRelay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fail_next(self, endpoint: str, kind: str) -> None:
        """Make the next request to ``endpoint`` fail as ``kind`` (see the module doc)."""
        if endpoint not in KINDS.get(kind, ()):
            raise ValueError(f"no fault {kind!r} for endpoint {endpoint!r}")
        with self._lock:
            self._faults.setdefault(endpoint, []).append(kind)

    # -- the endpoints ---------------------------------------------------------------------
    def _fault(self, endpoint: str) -> str | None:
        with self._lock:
            waiting = self._faults.get(endpoint)
            return waiting.pop(0) if waiting else None

    def upload(self, body: bytes) -> tuple[int, dict[str, Any]]:
        if not body.startswith(PNG):
            return _error(400, "invalid_request", "the file is not a PNG")
        with self._lock:
            file_id = f"file_{len(self.files) + 1:06d}"
            self.files[file_id] = body
        return 201, {"id": file_id}

    def submit(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        problem = self._invalid(body)
        if problem:
            return _error(400, "invalid_request", problem)
        text = f"{body.get('prompt', '')} {body.get('setting', '')}".lower()
        if any(word in text for word in self.blocked):
            return _error(400, "content_policy", "the prompt was blocked by the content policy")
        with self._lock:
            self.submissions += 1
            job = Job(f"vid_{self.submissions:06d}", body, time.time())
            self.jobs[job.id] = job
            first = self.files.get(body.get("first_frame") or "")
            job.clip = self._encoders.submit(_encode, body, first)
            timer = threading.Timer(self.latency, self._finish, (job,))
            timer.daemon = True
            self._timers.append(timer)
        timer.start()
        return 201, {"id": job.id, "status": "queued"}

    def _invalid(self, body: dict[str, Any]) -> str | None:
        checks: list[tuple[bool, str]] = [
            (body.get("model") in MODELS, f"model must be one of {', '.join(MODELS)}"),
            (bool(body.get("prompt")), "prompt is required"),
            (body.get("seconds") in SECONDS, "seconds must be 2, 4 or 8"),
            (body.get("aspect_ratio") in ASPECTS, "aspect_ratio must be 16:9, 9:16 or 1:1"),
            (body.get("resolution") in RESOLUTIONS, "resolution must be 480p or 720p"),
            (isinstance(body.get("fps"), int) and 12 <= body["fps"] <= 60, "fps: 12 to 60"),
            (isinstance(body.get("seed"), int), "seed must be an integer"),
            (len(body.get("reference_images") or []) <= 2, "at most 2 reference_images"),
        ]
        files = [body.get("first_frame"), *(body.get("reference_images") or [])]
        checks += [(f is None or f in self.files, f"unknown file {f}") for f in files]
        return next((message for ok, message in checks if not ok), None)

    def _finish(self, job: Job) -> None:
        try:
            job.clip.result(timeout=60)
            job.status = "completed"
        except Exception as exc:  # the encoder failed: the job fails, as a real one would
            job.status, job.error = "failed", {"code": "internal", "message": str(exc)}
        callback = job.fields.get("callback_url")
        if callback:
            self._deliver(callback, json.dumps(self.job_json(job)).encode())

    def _deliver(self, url: str, body: bytes) -> None:
        for _ in range(3):
            stamp = str(int(time.time()))
            mac = hmac.new(self.webhook_secret.encode(), stamp.encode() + b"." + body, "sha256")
            request = urllib.request.Request(
                url,
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "X-Relay-Signature": f"t={stamp},v1={mac.hexdigest()}",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    if 200 <= answer.status < 300:
                        with self._lock:
                            self.webhooks += 1
                        return
            except OSError:
                pass
            time.sleep(0.05)

    def job_json(self, job: Job) -> dict[str, Any]:
        elapsed = time.time() - job.created_at
        status = job.status
        if status == "queued" and elapsed > 0.1 * self.latency:
            status = "in_progress"
        done = status in ("completed", "failed")
        url = f"{self.base_url}/files/{job.id}.mp4" if status == "completed" else None
        return {
            "id": job.id,
            "status": status,
            "progress": 100 if done else min(99, int(100 * elapsed / max(self.latency, 1e-3))),
            "error": job.error,
            "download_url": url,
            "seconds": job.fields["seconds"],
            "client_ref": job.fields.get("client_ref"),
            "created_at": job.created_at,
        }


def _error(code: int, kind: str, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"error": {"code": kind, "message": message}}


def _handler(fake: FakeRelay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if path == "/v1/files":
                self._serve("upload", lambda: fake.upload(body))
            elif path == "/v1/videos":
                self._serve("submit", lambda: fake.submit(_json(body)))
            else:
                self._send(*_error(404, "not_found", "no such endpoint"))

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if match := re.fullmatch(r"/v1/videos/(\w+)", url.path):
                job_id = match.group(1)
                self._serve("status", lambda: self._status(job_id))
            elif url.path == "/v1/videos":
                ref = parse_qs(url.query).get("client_ref", [None])[0]
                jobs = [
                    fake.job_json(j)
                    for j in list(fake.jobs.values())
                    if ref is None or j.fields.get("client_ref") == ref
                ]
                self._serve("lookup", lambda: (200, {"data": jobs}))
            elif match := re.fullmatch(r"/files/(\w+)\.mp4", url.path):
                self._download(match.group(1))
            else:
                self._send(*_error(404, "not_found", "no such endpoint"))

        def _status(self, job_id: str) -> tuple[int, dict[str, Any]]:
            job = fake.jobs.get(job_id)
            if job is None:
                return _error(404, "not_found", f"no video {job_id}")
            with fake._lock:
                fake.status_requests += 1
            return 200, fake.job_json(job)

        def _serve(self, endpoint: str, answer: Callable[[], tuple[int, dict[str, Any]]]) -> None:
            fault = fake._fault(endpoint)
            if fault == "drop":
                self.close_connection = True
                return
            if fault == "429":
                self._send(*_error(429, "rate_limited", "slow down"), {"Retry-After": "0.05"})
                return
            if fault == "500":
                self._send(*_error(500, "internal", "injected server error"))
                return
            if fault == "refuse":
                self._send(*_error(400, "content_policy", "blocked by the content policy"))
                return
            if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                self._send(*_error(401, "unauthorized", "missing or wrong API key"))
                return
            code, body = answer()
            if fault == "drop_after_accept":
                self.close_connection = True
                return
            self._send(code, body)

        def _download(self, job_id: str) -> None:
            fault = fake._fault("download")
            job = fake.jobs.get(job_id)
            if fault == "drop":
                self.close_connection = True
                return
            if fault in ("429", "500"):
                self._send(*_error(int(fault), "internal", "injected fault"))
                return
            if job is None or job.status != "completed":
                self._send(*_error(404, "not_ready", "the video is not ready"))
                return
            data = job.clip.result()
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if fault == "truncate":
                self.wfile.write(data[: len(data) // 2])
                self.close_connection = True
                return
            self.wfile.write(data)

        def _send(
            self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _encode(fields: dict[str, Any], first_frame: bytes | None) -> bytes:
    """The clip a job makes: its setting's colour, a moving bar, faded in from a first frame."""
    import io

    import av
    import numpy as np
    from PIL import Image, ImageOps

    a, b = ASPECTS[fields["aspect_ratio"]]
    short = int(fields["resolution"].rstrip("p"))
    long = round(short * max(a, b) / min(a, b) / 2) * 2
    width, height = (long, short) if a >= b else (short, long)
    fps, frames = fields["fps"], fields["seconds"] * fields["fps"]
    digest = hashlib.sha256(str(fields.get("setting") or "").encode()).digest()
    background = np.empty((height, width, 3), np.uint8)
    background[:] = [60 + d * 160 // 255 for d in digest[:3]]
    first = None
    if first_frame is not None:
        with Image.open(io.BytesIO(first_frame)) as image:
            first = np.asarray(ImageOps.fit(image.convert("RGB"), (width, height)), np.float32)
    bar = max(2, width // 12)
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for i in range(frames):
            picture = background.copy()
            x = int((fields["seed"] % 97 + i * 4) % max(1, width - bar))
            picture[:, x : x + bar] = 245
            if first is not None and i < fps // 2:
                picture[:] = first + (picture - first) * (i / (fps // 2)) + 0.5
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    return out.getvalue()


def main() -> None:
    """Serve the fake until Ctrl-C, printing the environment relay needs."""
    with FakeRelay(port=8765, latency=3.0) as relay:
        print(f"RELAY_BASE_URL={relay.base_url}")
        print(f"RELAY_API_KEY={relay.api_key}")
        print(f"RELAY_WEBHOOK_SECRET={relay.webhook_secret}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
