"""HTTP helpers for engine plugins: stream a finished clip to disk with its length checked,
read a server's hint of when to come back, and share one TLS context.

``download`` uses httpx (imported when called); ``retry_after`` reads any header mapping.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping
from pathlib import Path

from ministudio.errors import EngineError, TransientError

CHUNK = 1 << 16


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One default TLS context for the process: building one (loading the CA bundle) costs
    tens of milliseconds, paid on every client otherwise."""
    return ssl.create_default_context()


class DownloadError(EngineError):
    """The server answered a download with an HTTP error that retrying will not mend."""

    def __init__(self, engine: str, status: int) -> None:
        super().__init__(
            engine,
            f"download refused (HTTP {status}): the finished clip cannot be fetched; check the "
            "job on the engine's dashboard, then render again (the job is not submitted again)",
        )
        self.status = status


async def download(
    url: str,
    output: Path,
    *,
    engine: str,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> int:
    """Stream ``url`` to ``output`` through a ``.part`` file; the bytes written.

    A cut-off or short download (against ``Content-Length``), a dropped connection, 404, 408,
    429 or 5xx raise ``TransientError`` (download again: the job is done, never submit it
    again); another status raises ``DownloadError``. Nothing is left at ``output`` unless the
    whole file arrived.
    """
    import httpx

    output.parent.mkdir(parents=True, exist_ok=True)
    part = output.with_name(output.name + ".part")
    received, expected = 0, None
    asked = {"Accept-Encoding": "identity", **(headers or {})}  # lengths are of raw bytes
    try:
        async with (
            httpx.AsyncClient(
                timeout=httpx.Timeout(timeout, connect=5.0), verify=tls_context()
            ) as client,
            client.stream("GET", url, headers=asked) as answer,
        ):
            code = answer.status_code
            if code != 200:
                if code in (404, 408, 429) or code >= 500:
                    hint = retry_after(answer.headers)
                    raise TransientError(engine, f"download: HTTP {code}", retry_after=hint)
                raise DownloadError(engine, code)
            length = answer.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            with part.open("wb") as sink:
                async for chunk in answer.aiter_raw(CHUNK):
                    sink.write(chunk)
                    received += len(chunk)
    except httpx.TransportError as exc:
        part.unlink(missing_ok=True)
        why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise TransientError(
            engine, f"download cut short after {received} bytes ({why}); download again"
        ) from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    if (expected is not None and received != expected) or received == 0:
        part.unlink(missing_ok=True)
        raise TransientError(
            engine, f"download cut short: {received} of {expected} bytes; download again"
        )
    part.replace(output)
    return received


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks to wait: ``retry-after-ms``, else ``retry-after`` in seconds or
    as an HTTP date; None when it gives no hint."""
    from datetime import datetime, timezone
    from email.utils import parsedate_to_datetime

    lower = {k.lower(): v for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = lower.get(name)
        if not value:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    return None
