"""Images (and a previz to promote) for ``luma`` go through the Agents API's Files API:
uploaded once per content (the core keeps the answer: ``context.upload`` calls the
``upload_asset`` hook once per content and engine), then referenced as ``{"file_id": ...}``.
Imported by the hooks only.

The presigned flow of ``luma-agents`` 0.5 (``resources/files.py``): ``POST /files`` (JSON:
``mime_type``, ``size_bytes``, ``filename``, ``purpose``) answers an ``upload`` envelope; the
bytes are PUT to its URL with its headers; ``POST /files/{id}/complete`` starts ingest and
moderation; the file turns ``ready`` (usable) or ``failed`` (refused, ``failure_reason``)
"asynchronously", so ``GET /files/{id}`` is asked until it settles. A file "must be owned by
the same client and in state=ready" to be referenced (``image_ref_param.py``).

Each file is created with an ``expires_at`` (``FILE_DAYS`` ahead: Luma "may automatically
delete the file" after it) and handed to the core as a ``HostedAsset`` with that expiry, so the
core uploads the image again before Luma may reclaim it, instead of referring to a file that
is gone (a refusal no retry would mend).

What is uploaded is the image's pixels re-encoded as PNG without metadata
(``ministudio.safety.images.reencoded``), as for any engine. A video (an MP4: the previz clip a
promotion edits, which the core rendered itself, so it holds nothing but its pictures) is
probed whole and uploaded as it is, as ``video/mp4``: a ``video_edit`` ``source`` takes any
ImageRef, ``file_id`` included, and "media_type ... (for example, image/jpeg or video/mp4)"
names the type (``image_ref_param.py``); ``POST /files`` takes any ``mime_type`` "of the bytes
you will upload", up to 5 GiB (``file_create_params.py``). An upload creates no paid job, so
any failure may simply be retried (``TransientError``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from ministudio.engines import EngineContext
from ministudio.errors import EngineError, EngineRefusal, TransientError
from ministudio.jobs import HostedAsset

from ministudio_luma._catalog import AGENTS
from ministudio_luma._client import client, failure, timeout
from ministudio_luma._errors import why

if TYPE_CHECKING:
    from luma_agents import AsyncLuma

FIRST_WAIT = 0.1  # seconds before the first look at a completed upload; doubled up to...
LONGEST_WAIT = 2.0
READY_WITHIN = 300.0  # seconds a file may take to turn ready (LUMA_FILE_WAIT)
FILE_DAYS = 30  # a file's lifetime at Luma (expires_at); the core renews it before then


VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov")


def is_video(path: Path) -> bool:
    """Whether ``path`` is a video (an MP4 or QuickTime file) rather than an image."""
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return True
    with open(path, "rb") as head:
        return head.read(12)[4:8] == b"ftyp"  # the ISO media box every MP4 starts with


# A previz is at most 18 s of H.264 (a few MB at 1080p). Luma takes URL and inline sources up
# to 200 MB (notes §6.2) and Files API objects up to 5 GiB; a file past the smaller bound is
# not a previz, and is not read into memory.
MAX_VIDEO_BYTES = 200 * 1024 * 1024


def _video(path: Path) -> bytes:
    """The video's bytes, once it probes whole (a cut-off render is not uploaded)."""
    from ministudio_luma._media import seconds_of

    size = path.stat().st_size
    if size > MAX_VIDEO_BYTES:
        raise EngineRefusal(
            AGENTS,
            f"the video {path.name} has {size} bytes, more than the "
            f"{MAX_VIDEO_BYTES // 2**20} MB a previz may have: render it again",
        )
    seconds_of(path)
    return path.read_bytes()


async def upload(path: Path, context: EngineContext) -> HostedAsset:
    """Upload the image (or video) at ``path``; its ``file_id`` (and expiry) once Luma says
    it is ready."""
    import time
    from datetime import datetime, timezone

    import anyio
    import luma_agents
    from ministudio.safety.images import reencoded

    if await anyio.to_thread.run_sync(is_video, path):
        data = await anyio.to_thread.run_sync(_video, path)
        mime, suffix = "video/mp4", "mp4"
    else:
        data = await anyio.to_thread.run_sync(reencoded, path)
        mime, suffix = "image/png", "png"
    name = f"{hashlib.sha256(data).hexdigest()[:16]}.{suffix}"
    expires = time.time() + FILE_DAYS * 86400
    luma = client(context)
    try:
        try:
            made = await luma.files.create(
                mime_type=mime,
                size_bytes=len(data),
                filename=name,
                purpose="input",
                expires_at=datetime.fromtimestamp(expires, timezone.utc),
            )
            if made.upload is None:
                raise EngineError(AGENTS, f"uploading {path.name}: Luma gave no upload URL")
            await _put(made.upload.url, made.upload.headers or {}, data, context)
            await luma.files.complete(made.id)
            await _ready(luma, made.id, path, context)
        except luma_agents.APIStatusError as exc:
            raise failure(exc, f"uploading {path.name}") from None
        except luma_agents.APIError as exc:
            raise TransientError(AGENTS, f"uploading {path.name} failed ({why(exc)})") from None
    finally:
        await luma.close()
    return HostedAsset(reference=made.id, expires_at=expires)


async def _put(url: str, headers: dict[str, str], data: bytes, context: EngineContext) -> None:
    """PUT the bytes to the presigned URL (no API key: the URL is the authority)."""
    import httpx
    from ministudio.http import retry_after, tls_context

    try:
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(timeout(context), connect=5.0), verify=tls_context()
        ) as http:
            answer = await http.put(url, content=data, headers=headers)
    except httpx.HTTPError as exc:
        raise TransientError(AGENTS, f"uploading a file failed ({why(exc)})") from None
    if answer.status_code >= 300:
        raise TransientError(
            AGENTS,
            f"uploading a file: the storage answered HTTP {answer.status_code}",
            retry_after=retry_after(answer.headers),
        )


async def _ready(luma: AsyncLuma, file_id: str, path: Path, context: EngineContext) -> None:
    """Wait until file ``file_id`` is ``ready``; refused if ingest or moderation failed it."""
    import anyio

    files = luma.files
    wait, deadline = FIRST_WAIT, anyio.current_time() + _patience(context)
    while True:
        found = await files.get(file_id)
        if found.state == "ready":
            return
        if found.state == "failed":
            reason = found.failure_reason or "no reason given"
            raise EngineRefusal(AGENTS, f"Luma refused the file {path.name}: {reason}")
        if found.state == "deleted":
            raise TransientError(AGENTS, f"the uploaded file {path.name} was deleted")
        if anyio.current_time() + wait > deadline:
            raise TransientError(AGENTS, f"the uploaded file {path.name} is not ready yet")
        await anyio.sleep(wait)
        wait = min(wait * 2, LONGEST_WAIT)


def _patience(context: EngineContext) -> float:
    try:
        return float(context.env.get("LUMA_FILE_WAIT") or READY_WITHIN)
    except ValueError:
        return READY_WITHIN
