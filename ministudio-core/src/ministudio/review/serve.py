"""``ministudio review DIR --serve``: the review page on loopback, where its buttons write
``DIR/review.json``.

The rules, each a guard against another web page or another host driving it:

- it binds 127.0.0.1 unless told otherwise;
- a request whose ``Host`` is not the bound host:port (or ``localhost:port`` on loopback)
  is refused: a DNS-rebound name never reaches the page or the file;
- a request whose ``Origin`` (or ``Sec-Fetch-Site``) says it comes from another site is
  refused, and a POST must be ``application/json`` (another site cannot send that without
  a preflight, which is never granted);
- only files under ``DIR/review`` are served (``..``, encoded or not, absolute paths and
  symlinks leading out are refused), plus ``GET /review.json``, the decisions so far;
- ``POST /review.json``: at most 1 MiB, validated as a ``Review`` (400 with the reason
  otherwise), written atomically (a temporary file renamed over ``DIR/review.json``).
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
import socket
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlsplit

from ministudio.review.decisions import MAX_BYTES
from ministudio.review.page import PAGE

LOOPBACK = ("127.0.0.1", "::1", "localhost")
REVIEW = "review.json"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css",
    ".js": "text/javascript",
    ".json": "application/json",
    ".mp4": "video/mp4",
    ".png": "image/png",
}
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
_CHUNK = 1 << 16
_PIECE = 1 << 20  # bytes of an open range (``bytes=N-``) sent in one answer


class ReviewServer(ThreadingHTTPServer):
    """Serves one output folder's review page; ``url`` is where it answers."""

    daemon_threads = True

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.folder = folder.resolve()
        self.page = (self.folder / PAGE).resolve()
        self.write_lock = threading.Lock()
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)
        self.port = self.server_address[1]
        named = f"[{host}]" if ":" in host else host
        self.hosts = {f"{named}:{self.port}"}
        if host in LOOPBACK:
            self.hosts |= {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
            if host == "::1":
                self.hosts = {f"[::1]:{self.port}", f"localhost:{self.port}"}
        self.url = f"http://{named}:{self.port}/"


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    protocol_version = "HTTP/1.1"
    quiet: ClassVar[bool] = True

    # -- the rules ------------------------------------------------------------------------
    def _allowed(self) -> bool:
        """The request names this server (Host) and comes from no other site (Origin)."""
        host = self.headers.get("Host", "")
        if host not in self.server.hosts:
            self._answer(403, b"refused: unknown Host (use the URL the command printed)\n")
            return False
        origin = self.headers.get("Origin")
        if origin is not None and origin not in {f"http://{h}" for h in self.server.hosts}:
            self._answer(403, b"refused: a request from another site\n")
            return False
        if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            self._answer(403, b"refused: a request from another site\n")
            return False
        return True

    def _target(self) -> Path | None:
        """The file under the page's folder the request path names, or None (refused)."""
        raw = urlsplit(self.path).path
        path = unquote(raw)
        if "\\" in path or "\0" in path or not path.startswith("/"):
            return None
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") for p in parts):
            return None
        target = (self.server.page / "/".join(parts or ["index.html"])).resolve()
        if not target.is_relative_to(self.server.page) or not target.is_file():
            return None
        return target

    # -- GET, HEAD, POST ----------------------------------------------------------------------
    def do_GET(self) -> None:
        self._get(body=True)

    def do_HEAD(self) -> None:
        self._get(body=False)

    def _get(self, *, body: bool) -> None:
        if not self._allowed():
            return
        if urlsplit(self.path).path == f"/{REVIEW}":
            saved = self.server.folder / REVIEW
            text = saved.read_bytes() if saved.is_file() else b'{"version": 1, "shots": {}}\n'
            self._answer(200, text, "application/json", body=body)
            return
        target = self._target()
        if target is None:
            self._answer(404, b"not found\n")
            return
        self._file(target, body=body)

    def do_POST(self) -> None:
        if not self._allowed():
            return
        if urlsplit(self.path).path != f"/{REVIEW}":
            self._answer(404, b"not found\n")
            return
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            self._answer(415, b"send review.json as application/json\n")
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._answer(411, b"a Content-Length is needed\n")
            return
        if length < 0 or length > MAX_BYTES:
            self._answer(413, f"larger than {MAX_BYTES} bytes\n".encode())
            return
        raw = self.rfile.read(length)
        problem = _invalid(raw)
        if problem:
            self._answer(400, problem.encode() + b"\n")
            return
        with self.server.write_lock:
            _write_atomic(self.server.folder / REVIEW, raw)
        self._answer(200, raw, "application/json")

    # -- answers ------------------------------------------------------------------------------
    def _file(self, path: Path, *, body: bool) -> None:
        """``path``, or the byte range asked for (a video seeks with ranges)."""
        size = path.stat().st_size
        start, end, status = 0, size - 1, 200
        asked = _RANGE.match(self.headers.get("Range", "").strip())
        if asked and size:
            first, last = asked.groups()
            if first:  # an open range is answered a piece at a time: a paused video holds
                # no connection, and a page of many clips does not run out of them
                start = int(first)
                end = min(int(last) if last else start + _PIECE - 1, size - 1)
            elif last:
                start = max(size - int(last), 0)
            if start > end or start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self._common(0)
                return
            status = 206
        kind = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
        self.send_response(status)
        self.send_header("Content-Type", kind or "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self._common(end - start + 1)
        if not body:
            return
        with path.open("rb") as handle:
            handle.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = handle.read(min(_CHUNK, left))
                if not chunk:
                    break
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):  # the player moved on
                    return
                left -= len(chunk)

    def _answer(
        self, status: int, text: bytes, kind: str = "text/plain; charset=utf-8", body: bool = True
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if status >= 400:  # a refused request's body is never read: no second request on it
            self.send_header("Connection", "close")
            self.close_connection = True
        self._common(len(text))
        if body:
            self.wfile.write(text)

    def _common(self, length: int) -> None:
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("X-Frame-Options", "DENY")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        if not self.quiet:
            super().log_message(format, *args)


def _invalid(raw: bytes) -> str | None:
    """Why ``raw`` is not a review the render can act on (None when it is one)."""
    from pydantic import ValidationError

    from ministudio.review.decisions import Review

    try:
        Review.model_validate_json(raw)
    except ValidationError as exc:
        found = exc.errors(include_url=False)[:10]
        return "not a review: " + json.dumps(
            [{"where": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in found]
        )
    return None


def _write_atomic(path: Path, raw: bytes) -> None:
    """``path`` holds ``raw``, or what it held before: never half of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".review-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # as a file the render writes (mkstemp makes it private)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
