"""What every loopback fake API shares: its life on 127.0.0.1, injected faults, the request
log, the bearer-key check and the JSON answers. Subclasses add their endpoints.

Echoing, for every fake alike: the fault kind ``echo`` (any endpoint) answers 400 with an
error whose every message field echoes the credentials the request carried (``echoed``); and
``ECHO_MARK`` in any string a fake answers (a job's failure reason, say:
``fail_next_job(ECHO_MARK)``) is replaced by the same echo of the request being answered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

_S = TypeVar("_S", bound="LoopbackServer")
# Faults to queue at start: {"create": "500"}, {"create": ["500", "drop"]} or
# [("create", "500", 2)] (endpoint, kind and how many requests).
Faults = Mapping[str, str | Iterable[str]] | Iterable[tuple[Any, ...]] | None
ECHO = "echo"  # a fault kind every endpoint takes: a 400 echoing the request's credentials
ECHO_MARK = "{echo}"  # in a string a fake answers: the request's credentials, echoed
_serving = threading.local()  # .handler: the request this thread is answering


Latency = float | tuple[float, float] | Callable[[str], float]


def draw_latency(latency: Latency, prompt: str | None) -> float:
    """Seconds a job takes: a fixed number, a function of the prompt, or (mean, jitter) with
    the jitter drawn from the prompt (the same prompt always takes as long)."""
    if callable(latency):
        return max(0.0, float(latency(prompt or "")))
    if isinstance(latency, (int, float)):
        return float(latency)
    mean, jitter = latency
    digest = hashlib.sha256((prompt or "").encode()).digest()
    return max(0.0, mean * (1.0 + random.Random(digest).uniform(-jitter, jitter)))


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet keep-alive handler that answers JSON and can drop a connection."""

    protocol_version = "HTTP/1.1"  # keep-alive, as real APIs
    timeout = 30  # idle keep-alive connections end after this
    fault: str | None = None

    @property
    def fake(self) -> Any:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def parse_request(self) -> bool:
        _serving.handler = self  # for the ``echo`` fault, taken where no handler is passed
        return super().parse_request()

    def drop(self) -> None:
        """Close the connection without a word."""
        self.close_connection = True

    def send_json(self, code: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        if ECHO_MARK in json.dumps(payload):
            payload = _with_echo(payload, self.fake.echoed(self))
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def send_bytes(
        self,
        data: bytes,
        content_type: str,
        *,
        truncate: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer 200 with ``data``; with ``truncate``, announce all of it, send half and close
        (a download cut short)."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if truncate:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)


class LoopbackServer:
    """A fake API served from a background thread; use it with ``with``."""

    name: ClassVar[str] = "fake"
    handler: ClassVar[type[JsonHandler]]
    endpoints: ClassVar[tuple[str, ...]] = ()
    fault_endpoints: ClassVar[Mapping[str, tuple[str, ...]]] = {}  # fault kind -> endpoints

    def __init__(self, api_key: str, encoders: int) -> None:
        self.api_key = api_key
        self.requests: list[tuple[str, str]] = []
        self._encoders = encoders  # background MP4 encoding threads
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._faults: dict[str, deque[str]] = {e: deque() for e in self.endpoints}
        self._timers: list[threading.Timer] = []
        self._webhooks_pending = 0
        self._closed = False
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._pool: ThreadPoolExecutor | None = None

    def _timer(self, delay: float, fn: Callable[[str], None], ident: str) -> None:
        """Call ``fn(ident)`` in ``delay`` seconds (a job's next state), unless closed first."""
        timer = threading.Timer(delay, fn, args=(ident,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def start(self: _S) -> _S:
        self._tmp = tempfile.TemporaryDirectory(prefix=f"{self.name}-server-")
        self._pool = ThreadPoolExecutor(self._encoders, thread_name_prefix=f"{self.name}-encode")
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        httpd.daemon_threads = True
        httpd.fake = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        with self._changed:
            if self._closed:
                return
            self._closed = True
            timers = list(self._timers)
            self._changed.notify_all()
        for timer in timers:
            timer.cancel()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started: use it in a `with` block")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def fail_next(self, endpoint: str, kind: str, count: int = 1) -> None:
        """Make the next ``count`` requests to ``endpoint`` fail with ``kind`` (see module doc)."""
        kinds = {**self.fault_endpoints, ECHO: self.endpoints}
        if kind not in kinds:
            raise ValueError(f"fault kind {kind!r}: use one of {sorted(kinds)}")
        if endpoint not in kinds[kind]:
            raise ValueError(f"fault {kind!r} applies to {kinds[kind]}, not {endpoint!r}")
        with self._lock:
            self._faults[endpoint].extend([kind] * count)

    def fail_with(self, faults: Faults) -> None:
        """``fail_next`` for each fault of ``faults`` (see ``Faults``)."""
        if not faults:
            return
        if isinstance(faults, Mapping):
            for endpoint, kinds in faults.items():
                for kind in [kinds] if isinstance(kinds, str) else kinds:
                    self.fail_next(endpoint, kind)
            return
        for endpoint, kind, *count in faults:
            self.fail_next(endpoint, kind, int(count[0]) if count else 1)

    def _take_fault(self, endpoint: str) -> str | None:
        with self._lock:
            queue = self._faults[endpoint]
            kind = queue.popleft() if queue else None
        if kind == ECHO:  # answered here, the same for every fake
            message = f"invalid request ({ECHO_MARK})"
            _serving.handler.send_json(
                400,
                {
                    "code": 1200,  # Kling's "invalid request parameters"
                    "message": message,
                    "detail": message,
                    "error": {
                        "code": 400,
                        "message": message,
                        "status": "INVALID_ARGUMENT",
                        "type": "invalid_request_error",
                    },
                },
                {"x-should-retry": "false"},
            )
            return "drop"  # the fake stops there (and closes the connection after the answer)
        return kind

    def credentials(self, h: BaseHTTPRequestHandler) -> list[str]:
        """What request ``h`` carried that proves who sent it: the Authorization header, its
        token (a JWT's issuer too), ``x-goog-api-key``, a ``key=`` parameter; and the key this
        server expects."""
        found = [h.headers.get("Authorization") or "", h.headers.get("x-goog-api-key") or ""]
        token = found[0].partition(" ")[2].strip()
        found += [token, *_issuer(token), *parse_qs(urlsplit(h.path).query).get("key", [])]
        return [c for c in dict.fromkeys([*found, self.api_key]) if c]

    def echoed(self, h: BaseHTTPRequestHandler) -> str:
        """Each of the request's ``credentials`` raw, base64, base64url, URL-encoded and cut
        to 8 characters: what a careless server's error may quote."""
        forms = []
        for secret in self.credentials(h):
            raw = secret.encode()
            forms += [
                secret,
                base64.b64encode(raw).decode(),
                base64.urlsafe_b64encode(raw).decode().rstrip("="),
                quote(secret, safe=""),
                secret[:8] + "...",
            ]
        return "you sent " + " | ".join(forms)

    def _log(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((method, path))

    def post_webhook(
        self, url: str, payload: Any, *, attempts: int, delay: float, growth: float = 1.0
    ) -> tuple[int, bool]:
        """POST ``payload`` as JSON to ``url`` until a 2xx, at most ``attempts`` times,
        ``delay`` seconds apart (times ``growth`` after each try); (tries made, delivered)."""
        body = json.dumps(payload).encode()
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        headers = {"Content-Type": "application/json", "User-Agent": f"{self.name}-webhooks/1"}
        tries = 0
        for attempt in range(attempts):
            if self._closed:
                break
            tries += 1
            request = urllib.request.Request(url, data=body, method="POST", headers=headers)
            try:
                with opener.open(request, timeout=5) as answer:
                    if 200 <= answer.status < 300:
                        return tries, True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(delay * growth**attempt)
        return tries, False

    def _authorized(self, h: BaseHTTPRequestHandler) -> bool:
        given = h.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.api_key}".encode())


def _issuer(token: str) -> list[str]:
    """The ``iss`` claim of a JWT (unverified), if ``token`` is one."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return [str(claims["iss"])] if isinstance(claims, dict) and "iss" in claims else []
    except (IndexError, ValueError):
        return []


def _with_echo(value: Any, echo: str) -> Any:
    """``value`` (JSON data) with ``ECHO_MARK`` replaced by ``echo`` in every string."""
    if isinstance(value, str):
        return value.replace(ECHO_MARK, echo)
    if isinstance(value, dict):
        return {k: _with_echo(v, echo) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_echo(v, echo) for v in value]
    return value
