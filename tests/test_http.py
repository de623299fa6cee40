"""ministudio.http: the download and retry hints remote plugins share, against a loopback
server that answers whole files, cut-off files and errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import pytest
from ministudio.errors import TransientError
from ministudio.http import DownloadError, download, retry_after

BODY = bytes(range(256)) * 400


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/whole":
            self._send(200, BODY)
        elif self.path == "/cut":  # claims the whole length, sends half, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[: len(BODY) // 2])
            self.close_connection = True
        elif self.path == "/busy":
            self._send(503, b"busy", {"Retry-After": "2"})
        else:
            self._send(403, b"no")

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _get(url: str, output: Path) -> int:
    return anyio.run(lambda: download(url, output, engine="x", timeout=5))


def test_a_whole_file_arrives(server: str, tmp_path: Path) -> None:
    assert _get(f"{server}/whole", tmp_path / "a.mp4") == len(BODY)
    assert (tmp_path / "a.mp4").read_bytes() == BODY
    assert list(tmp_path.iterdir()) == [tmp_path / "a.mp4"]


def test_a_cut_off_file_leaves_nothing_and_is_transient(server: str, tmp_path: Path) -> None:
    with pytest.raises(TransientError, match="cut short"):
        _get(f"{server}/cut", tmp_path / "a.mp4")
    assert list(tmp_path.iterdir()) == []


def test_server_errors_are_transient_with_the_hint_and_others_are_not(
    server: str, tmp_path: Path
) -> None:
    with pytest.raises(TransientError) as busy:
        _get(f"{server}/busy", tmp_path / "a.mp4")
    assert busy.value.retry_after == 2
    with pytest.raises(DownloadError) as refused:
        _get(f"{server}/secret", tmp_path / "a.mp4")
    assert refused.value.status == 403 and list(tmp_path.iterdir()) == []


def test_retry_after_reads_milliseconds_seconds_and_dates() -> None:
    assert retry_after({"retry-after-ms": "250"}) == pytest.approx(0.25)
    assert retry_after({"Retry-After": "3"}) == 3
    later = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert 25 < (retry_after({"Retry-After": format_datetime(later, usegmt=True)}) or 0) <= 30
    assert retry_after({"Retry-After": "soon"}) is None and retry_after({}) is None
