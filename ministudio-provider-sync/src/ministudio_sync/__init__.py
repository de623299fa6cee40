"""MiniStudio lip-sync engine plugin for sync. (Sync Labs): the engine ``sync`` (kind
``lipsync``), routed with ``routing.lipsync: sync``.

A shot whose take was made by an engine that neither speaks nor animates to the voice is
sent here after it is fitted: its clip (an MP4, no sound) and its voice (a mono WAV on the
shot's timeline) become a sync. generation (``POST /v2/generate``), followed by polling or a
webhook, then a download of the output MP4. Everything goes through the official SDK
``syncsdk`` (``AsyncSync``) but the download of the finished file (a signed URL, fetched
without the key: ``ministudio.http.download``).

Inputs are URLs (or asset ids of sync.'s media library, which the SDK cannot upload to): the
plugin publishes the two files on the asset host (``SYNC_ASSET_*``, see
``ministudio.remote.hosting``) through ``context.upload``, once per content.

Environment (the render's, ``context.env``, else the key store): ``SYNC_API_KEY`` (required),
``SYNC_BASE_URL`` (default ``https://api.sync.so``), ``SYNC_TIMEOUT`` (HTTP read timeout,
default 60 s), ``SYNC_WEBHOOK_SECRET`` (the signing secret of sync.'s webhooks: pushes must then
be signed), ``SYNC_SYNC_MODE`` (default ``cut_off``), the asset host ``SYNC_ASSET_STORE`` (an
object store: video and audio are not images, so a public folder cannot serve them),
``SYNC_ASSET_STORE_OPTIONS``, ``SYNC_ASSET_URL_EXPIRES``, ``SYNC_ASSET_BASE_URL``. Read when the
engine is declared: ``SYNC_EXPECTED_LATENCY`` (default 120 s), ``SYNC_CONCURRENCY`` (default 3,
the Creator plan's), ``SYNC_MAX_DURATION`` (default 300 s, the Creator plan's longest).

The core's ``ministudio.plugin_kit`` maps no method to ``submit_lip_sync`` (yet), so the hooks
are written here as plain ``hookimpl`` functions; each answers for the engine ``sync`` only.
Importing this module imports neither the SDK nor httpx.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec, Model

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from ministudio.jobs import (
        HostedAsset,
        JobStatus,
        LipSyncRequest,
        Submission,
        VideoRequest,
        VideoResult,
    )

__version__ = "0.1.0"

ENGINE = "sync"
MODEL = "lipsync-2"
KEY_VAR = "SYNC_API_KEY"
KEY_ENV = (KEY_VAR,)
DEFAULT_BASE_URL = "https://api.sync.so"  # syncsdk environment.py SyncEnvironment.DEFAULT
# The models this engine offers (sync.so/docs/models/lipsync): the lip-sync models. react-1
# (edits emotions and head motion too) and lipsync-1.9.0-beta are left out on purpose.
MODELS = (
    Model("lipsync-2", "ga", use="the default: natural lip sync in the speaker's own style"),
    Model("lipsync-2-pro", "ga", use="diffusion super-resolution: beards, teeth, close-ups"),
    Model("sync-3", "ga", use="whole-shot model: obstructions, extreme angles, 4K"),
)


def spec() -> EngineSpec:
    """The engine, read from the environment whenever plugins load."""
    latency = _number("SYNC_EXPECTED_LATENCY", 120.0)  # "most ... within a few minutes"
    concurrency = max(1, int(_number("SYNC_CONCURRENCY", 3.0)))  # plans: 1 to 15
    longest = _number("SYNC_MAX_DURATION", 300.0)  # plans: 20 s (free) to 30 min (Scale)
    from ministudio_sync._prices import price_per_second

    return EngineSpec(
        id=ENGINE,
        revision=0,  # paid: pinned, so a package upgrade never re-pays a pass
        kind="lipsync",
        description="sync. (Sync Labs) lip sync through syncsdk: lipsync-2, lipsync-2-pro, sync-3",
        key_env=KEY_ENV,
        default_model=MODEL,
        models=MODELS,
        marks_sending=True,  # submit calls context.sending() right before the create
        capabilities=Capabilities(
            min_duration=0.5,
            max_duration=longest,
            aspect_ratios=("16:9", "9:16", "1:1", "4:3", "3:4", "21:9"),
            resolutions=("360p", "480p", "720p", "1080p"),
            webhooks=True,
            concurrency=concurrency,
            requests_per_minute=60,  # "60 req/min for POST /v2/generate" (API overview)
            price_per_second=price_per_second(MODEL, 25),
            expected_latency=latency,
        ),
    )


def _number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


def _ours(engine: str) -> bool:
    return engine == ENGINE


# -- hooks ---------------------------------------------------------------------------------
@hookimpl
def ministudio_engines() -> list[EngineSpec]:
    return [spec()]


@hookimpl
def submit_lip_sync(
    engine: str, request: LipSyncRequest, idempotency_key: str, context: EngineContext
) -> Awaitable[Submission] | None:
    if not _ours(engine):
        return None
    from ministudio_sync import _engine

    return _engine.submit(request, idempotency_key, context)


@hookimpl
def poll_video(engine: str, job_id: str, context: EngineContext) -> Awaitable[JobStatus] | None:
    if not _ours(engine):
        return None
    from ministudio_sync import _engine

    return _engine.poll(job_id, context)


@hookimpl
def download_video(
    engine: str,
    job_id: str,
    status: JobStatus,
    output: Path,
    context: EngineContext,
    request: VideoRequest | LipSyncRequest,
) -> Awaitable[VideoResult] | None:
    if not _ours(engine):
        return None
    from ministudio_sync import _engine

    return _engine.download(job_id, status, Path(output), context, request)


@hookimpl
def find_video_job(
    engine: str,
    idempotency_key: str,
    context: EngineContext,
    request: VideoRequest | LipSyncRequest,
    since: float,
) -> Awaitable[str | None] | None:
    if not _ours(engine):
        return None
    from ministudio_sync import _engine

    return _engine.find(idempotency_key, context, request, since)


@hookimpl
def upload_asset(engine: str, path: Path, context: EngineContext) -> HostedAsset | None:
    """Sync: the core runs it in a worker thread (``AssetHost.publish`` blocks)."""
    if not _ours(engine):
        return None
    from ministudio_sync import _engine

    return _engine.upload(Path(path), context)


@hookimpl
def parse_webhook(
    engine: str, body: bytes, headers: dict[str, str], env: Mapping[str, str]
) -> JobStatus | None:
    if not _ours(engine):
        return None
    from ministudio_sync import _webhooks

    return _webhooks.parse(body, headers, env)


@hookimpl
def estimate_cost(engine: str, request: Any) -> float | None:
    if not _ours(engine):
        return None
    from ministudio_sync._prices import cost

    return cost(request)
