"""MiniStudio engine plugin for the Kling AI video API: the engine ``kling``.

Kling has no official Python SDK: the plugin speaks its REST API with httpx (``_api``), signs
every request with a fresh HS256 JWT made from the access and secret keys (``_auth``), and
maps Kling's error codes to MiniStudio's typed errors (``_errors``). Shots without images go to
``text2video``; shots with a first frame, an end frame or a character's reference image go to
``image2video`` (``_request``, ``_images``). The core retries, waits and keeps the journal; each
submission carries ``external_task_id`` (the job key), so a submit whose answer was lost is
found again (``find_video_job``) instead of paid for twice (``_engine``).

Environment (the render's, ``context.env``, else the key store): ``KLING_ACCESS_KEY`` and
``KLING_SECRET_KEY`` (both required), ``KLING_BASE_URL`` (default
``https://api-singapore.klingai.com``), ``KLING_TIMEOUT`` (HTTP read timeout, default 60 s),
``KLING_BUSY_WAIT`` (seconds to wait out a 1302/1303 "busy" answer that names no time,
default 5). Read when the engine is declared: ``KLING_EXPECTED_LATENCY`` (default 120 s).

Importing this module imports neither httpx, PyJWT nor Pillow: the hooks import them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec, Model

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from ministudio.jobs import JobStatus, ShotPrompt, Submission, VideoRequest, VideoResult

__version__ = "0.1.0"

ENGINE = "kling"
MODEL = "kling-v1-6"  # std 720p and pro 1080p, text and image to video, priced in both modes
ACCESS_KEY = "KLING_ACCESS_KEY"
SECRET_KEY = "KLING_SECRET_KEY"
KEY_ENV = (ACCESS_KEY, SECRET_KEY)  # Kling needs both (see the README)
DEFAULT_BASE_URL = "https://api-singapore.klingai.com"
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
MAX_PROMPT = 2500
PRICE_PER_SECOND = 0.056  # kling-v1-6 std (secondary figure: 0.28 USD per 5 s clip)


def spec() -> EngineSpec:
    return EngineSpec(
        id=ENGINE,
        kind="video",
        description="Kling AI (REST with a JWT per request): text and image to video",
        key_env=KEY_ENV,
        all_keys=True,  # an access key and a secret key, both needed
        default_model=MODEL,
        models=tuple(
            Model(m, "ga") for m in ("kling-v1-6", "kling-v1", "kling-v1-5", "kling-v2-master")
        ),
        marks_sending=True,  # _engine.submit calls context.sending()
        capabilities=Capabilities(
            durations=(5.0, 10.0),
            min_duration=5.0,
            max_duration=10.0,
            snap_duration="up",
            aspect_ratios=ASPECT_RATIOS,
            resolutions=("720p", "1080p"),  # std and pro mode
            max_references=1,  # a character's reference image becomes the first image
            references_with_frames=False,  # image2video takes one start image: frames win
            first_frame=True,
            last_frame=True,  # image_tail, also without a first image
            webhooks=True,  # callback_url
            concurrency=5,  # per account and resource pack: override in routing.limits
            price_per_second=PRICE_PER_SECOND,
            expected_latency=float(os.environ.get("KLING_EXPECTED_LATENCY") or 120.0),
        ),
    )


@hookimpl
def ministudio_engines() -> list[EngineSpec]:
    return [spec()]


# -- hooks: sync shims, so a foreign engine id gets None rather than a coroutine -------------
@hookimpl
def submit_video(
    engine: str, request: VideoRequest, idempotency_key: str, context: EngineContext
) -> Awaitable[Submission] | None:
    if engine != ENGINE:
        return None
    from ministudio_kling import _engine

    return _engine.submit(request, idempotency_key, context)


@hookimpl
def poll_video(engine: str, job_id: str, context: EngineContext) -> Awaitable[JobStatus] | None:
    if engine != ENGINE:
        return None
    from ministudio_kling import _engine

    return _engine.poll(job_id, context)


@hookimpl
def download_video(
    engine: str,
    job_id: str,
    status: JobStatus,
    output: Path,
    context: EngineContext,
    request: VideoRequest,
) -> Awaitable[VideoResult] | None:
    if engine != ENGINE:
        return None
    from ministudio_kling import _engine

    return _engine.download(job_id, status, Path(output), context, request)


@hookimpl
def find_video_job(
    engine: str, idempotency_key: str, context: EngineContext
) -> Awaitable[str | None] | None:
    if engine != ENGINE:
        return None
    from ministudio_kling import _engine

    return _engine.find(idempotency_key, context)


@hookimpl
def parse_webhook(engine: str, body: bytes, headers: dict[str, str]) -> JobStatus | None:
    if engine != ENGINE:
        return None
    from ministudio_kling import _engine

    return _engine.parse_webhook(body)


@hookimpl
def estimate_cost(engine: str, request: VideoRequest) -> float | None:
    if engine != ENGINE:
        return None
    from ministudio_kling._engine import cost

    return cost(request)


@hookimpl
def prompt_map(engine: str, shot: ShotPrompt) -> str | None:
    if engine != ENGINE:
        return None
    from ministudio.prompts import describe_shot

    # What to avoid goes to Kling's negative_prompt instead (see _request).
    return describe_shot(shot.model_copy(update={"negative": ()}))[:MAX_PROMPT]
