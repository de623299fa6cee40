"""MiniStudio engine plugin for the Kling AI video API: the engines ``kling`` (video) and
``kling-lipsync`` (Kling's Advanced Lip-Sync, a lip-sync pass: ``routing.lipsync:
kling-lipsync``; see ``_lipsync``).

Kling has no official Python SDK: the plugin speaks its REST API with httpx (``_api``), signs
every request with a fresh HS256 JWT made from the access and secret keys (``_auth``), and
maps Kling's error codes to MiniStudio's typed errors (``_errors``). What each model takes in
each mode and length is Kling's capability map (``_models``: ``EngineSpec.variants``), and
its prices are ``_prices``. Shots without images go to ``text2video``; shots with a first
frame, an end frame or a reference image go to ``image2video``, kling-v3's characters as
Elements (``_request``, ``_images``, ``_elements``). The core retries, waits and keeps the
journal; job ids name their endpoint and each task carries an ``external_task_id`` made
from the job key (``_ids``), looked up before any create, so a submit whose answer was lost
is found again instead of paid for twice (``_engine``).

Environment (the render's, ``context.env``, else the key store): ``KLING_ACCESS_KEY`` and
``KLING_SECRET_KEY`` (both required), ``KLING_BASE_URL`` (default
``https://api-singapore.klingai.com``), ``KLING_TIMEOUT`` (HTTP read timeout, default 60 s),
``KLING_BUSY_WAIT`` (seconds to wait out a 1302/1303 "busy" answer that names no time,
default 5), ``KLING_ELEMENT_TIMEOUT`` (seconds to wait for an element, default 600). Read
when the engine is declared: ``KLING_EXPECTED_LATENCY`` (default 120 s). For ``kling-lipsync``,
the asset host of the takes (Kling takes the video by URL only): ``KLING_ASSET_STORE`` (an
object store, ``s3://bucket/prefix``...), ``KLING_ASSET_STORE_OPTIONS``,
``KLING_ASSET_URL_EXPIRES``, ``KLING_ASSET_BASE_URL`` (see ``ministudio.remote.hosting``);
declared with ``KLING_LIPSYNC_EXPECTED_LATENCY`` (default 180 s).

Importing this module imports neither httpx, PyJWT nor Pillow: the engine's methods (the class
``Kling``, made the hooks by ``ministudio.plugin_kit``) import them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ministudio.engines import EngineContext, EngineSpec
from ministudio.plugin_kit import Engine, engine_hooks

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from ministudio.jobs import (
        HostedAsset,
        JobStatus,
        LipSyncRequest,
        ShotPrompt,
        Submission,
        VideoRequest,
        VideoResult,
    )

__version__ = "0.1.0"

ENGINE = "kling"
MODEL = "kling-v3"  # 3-15 s, std 720p / pro 1080p, native audio, elements
ACCESS_KEY = "KLING_ACCESS_KEY"
SECRET_KEY = "KLING_SECRET_KEY"
KEY_ENV = (ACCESS_KEY, SECRET_KEY)  # Kling needs both (see the README)
DEFAULT_BASE_URL = "https://api-singapore.klingai.com"
MAX_PROMPT = 2500
LIPSYNC_ENGINE = "kling-lipsync"
LIPSYNC_MODEL = "advanced-lip-sync"


class Kling(Engine):
    """The engine ``kling``: its declaration here, its work in ``_engine`` (imported by the
    methods, so importing the plugin imports no httpx)."""

    id = ENGINE

    def spec(self) -> EngineSpec:
        """The engine: its variants are Kling's capability map; its capabilities the envelope
        (what the default model takes in either mode, with webhooks, concurrency, latency)."""
        import dataclasses

        from ministudio_kling._models import MODELS, variants

        latency = float(os.environ.get("KLING_EXPECTED_LATENCY") or 120.0)
        ways = variants(latency)
        default = [v.capabilities for v in ways if v.model == MODEL]
        envelope = dataclasses.replace(
            default[0],  # std: the cheapest
            resolutions=tuple(dict.fromkeys(r for c in default for r in c.resolutions)),
            concurrency=5,  # per account and resource pack: override in routing.limits
        )
        return EngineSpec(
            id=ENGINE,
            revision=0,  # paid: pinned, so a package upgrade never re-pays a clip
            kind="video",
            description="Kling AI (REST with a JWT per request): text and image to video, "
            "per model and mode",
            key_env=KEY_ENV,
            all_keys=True,  # an access key and a secret key, both needed
            default_model=MODEL,
            models=MODELS,
            variants=ways,
            marks_sending=True,  # _engine.submit and element side jobs call sending()
            capabilities=envelope,
        )

    def submit(
        self, request: VideoRequest, idempotency_key: str, context: EngineContext
    ) -> Awaitable[Submission]:
        from ministudio_kling import _engine

        return _engine.submit(request, idempotency_key, context)

    def poll(self, job_id: str, context: EngineContext) -> Awaitable[JobStatus]:
        from ministudio_kling import _engine

        return _engine.poll(job_id, context)

    def download(
        self,
        job_id: str,
        status: JobStatus,
        output: Path,
        context: EngineContext,
        request: VideoRequest,
    ) -> Awaitable[VideoResult]:
        from ministudio_kling import _engine

        return _engine.download(job_id, status, Path(output), context, request)

    def find_job(
        self, idempotency_key: str, context: EngineContext, request: VideoRequest
    ) -> Awaitable[str | None]:
        from ministudio_kling import _engine

        return _engine.find(idempotency_key, context, request)

    def parse_webhook(self, body: bytes) -> JobStatus | None:
        from ministudio_kling import _engine

        return _engine.parse_webhook(body)

    def estimate_cost(self, request: VideoRequest) -> float | None:
        from ministudio_kling._engine import cost

        return cost(request)

    def prompt(self, shot: ShotPrompt) -> str:
        from ministudio.prompts import describe_shot

        # What to avoid goes to Kling's negative_prompt instead (see _request); the lines only
        # when Kling speaks them (native audio).
        brief = shot.model_copy(update={"negative": ()})
        return describe_shot(brief, include_dialogue=shot.native_audio)[:MAX_PROMPT]


class KlingLipSync(Engine):
    """The engine ``kling-lipsync``: Kling's Advanced Lip-Sync (identify-face, then
    advanced-lip-sync) over a shot's fitted take and its voice; the work in ``_lipsync``."""

    id = LIPSYNC_ENGINE

    def spec(self) -> EngineSpec:
        from ministudio.engines import Capabilities, Model

        from ministudio_kling._prices import lipsync_price

        latency = float(os.environ.get("KLING_LIPSYNC_EXPECTED_LATENCY") or 180.0)
        return EngineSpec(
            id=LIPSYNC_ENGINE,
            revision=0,  # paid: pinned, so a package upgrade never re-pays a pass
            kind="lipsync",
            description="Kling AI Advanced Lip-Sync (identify-face, then advanced-lip-sync): "
            "one face per shot, 2-60 s, 720p or 1080p",
            key_env=KEY_ENV,
            all_keys=True,
            default_model=LIPSYNC_MODEL,
            models=(Model(LIPSYNC_MODEL, "ga", use="re-syncs one face of a take to a voice"),),
            marks_sending=True,  # _lipsync.submit calls sending() right before the create
            capabilities=Capabilities(
                min_duration=2.0,  # video, sound and crop: "no less than 2 seconds"
                max_duration=60.0,  # "duration 2s-60s"
                aspect_ratios=("16:9", "9:16", "1:1", "4:3", "3:4", "21:9"),
                resolutions=("720p", "1080p"),  # "resolution 720p or 1080p"
                webhooks=True,  # callback_url, as the video tasks
                concurrency=5,  # per account and resource pack: override in routing.limits
                price_per_second=round(lipsync_price(5.0) / 5.0, 6),
                expected_latency=latency,
            ),
        )

    def submit_lip_sync(
        self, request: LipSyncRequest, idempotency_key: str, context: EngineContext
    ) -> Awaitable[Submission]:
        from ministudio_kling import _lipsync

        return _lipsync.submit(request, idempotency_key, context)

    def poll(self, job_id: str, context: EngineContext) -> Awaitable[JobStatus]:
        from ministudio_kling import _lipsync

        return _lipsync.poll(job_id, context)

    def download(
        self,
        job_id: str,
        status: JobStatus,
        output: Path,
        context: EngineContext,
        request: LipSyncRequest,
    ) -> Awaitable[VideoResult]:
        from ministudio_kling import _lipsync

        return _lipsync.download(job_id, status, Path(output), context, request)

    def find_job(
        self, idempotency_key: str, context: EngineContext, since: float
    ) -> Awaitable[str | None]:
        from ministudio_kling import _lipsync

        return _lipsync.find(idempotency_key, context, since)

    def upload(self, path: Path, context: EngineContext) -> HostedAsset:
        """Sync: the core runs it in a worker thread (``AssetHost.publish`` blocks)."""
        from ministudio_kling import _lipsync

        return _lipsync.upload(Path(path), context)

    def parse_webhook(self, body: bytes) -> JobStatus | None:
        from ministudio_kling import _engine
        from ministudio_kling._ids import LIPSYNC

        return _engine.parse_webhook(body, (LIPSYNC,))

    def estimate_cost(self, request: LipSyncRequest) -> float | None:
        from ministudio_kling._lipsync import cost

        return cost(request)


KLING = Kling()
KLING_LIPSYNC = KlingLipSync()
spec = KLING.spec
globals().update(engine_hooks(KLING, KLING_LIPSYNC))
