"""Files sent to fal by URL (a promote job's previz passes and reference images), uploaded to
fal's own storage as fal's JS client does it (fal-ai/fal-js ``libs/client/src/storage.ts``,
commit 381105e, read 2026-12-03):

1. ``POST {rest}/storage/upload/initiate?storage_type=fal-cdn-v3`` with
   ``Authorization: Key $FAL_KEY`` and the JSON ``{"content_type", "file_name"}`` (and the
   optional ``X-Fal-Object-Lifecycle: {"expiration_duration_seconds": n}`` header) answers
   ``{"upload_url", "file_url"}``;
2. ``PUT upload_url`` with the bytes and their ``Content-Type`` (no key);
3. ``file_url`` is the URL an endpoint's input takes.

``rest`` is ``https://rest.fal.ai`` (fal-js ``config.ts`` ``getRestApiUrl``), moved by
``FAL_REST_URL`` (tests point it at the fake). A file over 90 MB would need fal's multipart
upload ("Check for 90+ MB file size to do multipart upload"), which the plugin does not do:
``_request.promoted`` refuses such a pass before anything is uploaded. fal's docs also take
a base64 data URI for a file input ("you can pass your own URL or a Base64 data URI"), but
warn that large files slow the request: passes of a few MB go through storage instead.

Each file is uploaded once per content (``EngineContext.once``) and kept by fal for
``LIFETIME`` seconds (asked in the lifecycle header); the core asks again when it nears its
end.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ministudio.errors import EngineError, TransientError

from ministudio_fal._request import STORAGE_MAX_BYTES

if TYPE_CHECKING:
    from ministudio.engines import EngineContext
    from ministudio.jobs import HostedAsset

DEFAULT_REST_URL = "https://rest.fal.ai"
LIFETIME = 7 * 24 * 3600  # fal-js's "7d"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def rest_url(env: Any) -> str:
    return str(env.get("FAL_REST_URL") or DEFAULT_REST_URL).rstrip("/")


def digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


async def hosted(api: Any, path: Path, context: EngineContext) -> str:
    """``path``'s URL in fal's storage, uploaded once per content."""

    async def make() -> HostedAsset:
        return await upload(api, path)

    return await context.once(f"fal-storage:{digest(path)}", make)


async def upload(api: Any, path: Path) -> HostedAsset:
    import httpx
    from ministudio.jobs import HostedAsset

    engine = api.endpoint.engine
    size = path.stat().st_size
    if size > STORAGE_MAX_BYTES:
        raise EngineError(
            engine, f"{path.name} is {size / 2**20:.1f} MB: over the 90 MB fal takes in one upload"
        )
    data = path.read_bytes()
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    base = rest_url(api.env)
    lifecycle = json.dumps({"expiration_duration_seconds": LIFETIME})
    trust = urlsplit(base).hostname not in LOOPBACK
    timeout = httpx.Timeout(api.timeout, connect=15.0)
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=trust) as http:
            started = await http.post(
                f"{base}/storage/upload/initiate",
                params={"storage_type": "fal-cdn-v3"},
                json={"content_type": kind, "file_name": path.name},
                headers={"Authorization": f"Key {api.key}", "X-Fal-Object-Lifecycle": lifecycle},
            )
            if started.status_code >= 400:
                raise api.failure(started, f"the upload of {path.name}")
            answer = started.json()
            target, url = answer.get("upload_url"), answer.get("file_url")
            if not isinstance(target, str) or not isinstance(url, str):
                raise EngineError(engine, f"fal's storage answered no upload URL for {path.name}")
            put = await http.put(target, content=data, headers={"Content-Type": kind})
            if put.status_code >= 400:
                raise api.failure(put, f"the upload of {path.name}")
    except httpx.TransportError as exc:
        raise TransientError(engine, f"the upload of {path.name}: {type(exc).__name__}") from None
    except ValueError:
        raise EngineError(engine, f"fal's storage answer for {path.name} is not JSON") from None
    return HostedAsset(reference=url, expires_at=time.time() + LIFETIME)
