"""MiniStudio legacy engine plugin for OpenAI's Sora video API, through the official ``openai`` SDK.

OpenAI shut the Sora API down on 2026-09-24: api.openai.com no longer serves it. These engines
are for endpoints that still speak it (a gateway or a compatible server), named by
``SORA_BASE_URL``, which is therefore required. ``ministudio plugins`` marks them legacy.

- ``sora``: one clip per shot (``POST /videos``, multipart): the shot's prompt, a model
  (``routing.options.sora.model``: ``sora-2``, the default, or ``sora-2-pro``), a size from the
  film's format and 4, 8 or 12 seconds. A `continue` shot sends the previous clip's last
  frame as ``input_reference``, fitted to the video's size.
- ``sora-remix``: remixes a finished Sora video with the shot's prompt
  (``POST /videos/{id}/remix``): ``routing.options.sora-remix.videos`` maps shot ids to video
  ids (the ``engine_job_id`` of an earlier render). Route only those shots to it.

Environment (the render's, ``context.env``): ``SORA_BASE_URL`` (required), ``SORA_API_KEY``
(required; ``OPENAI_API_KEY`` is deliberately not read, so an OpenAI key never reaches another
provider's endpoint), ``SORA_TIMEOUT`` (seconds per request, default 120). The process
environment: ``SORA_EXPECTED_LATENCY`` (read when the engines are declared, default 60) and
``SORA_WEBHOOK_SECRET`` (verifies project webhooks, see ``parse_webhook``).

The SDK is imported inside the hooks only (see ``_api``).
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

ENGINE = "sora"
REMIX = "sora-remix"
ENGINES = (ENGINE, REMIX)
KEY_ENV = ("SORA_API_KEY",)
MODEL = "sora-2"
RETIRED = "OpenAI retired the Sora API on 2026-09-24"
# Deprecated, not retired: this engine exists for endpoints that still speak the API.
MODELS = (
    Model(MODEL, "deprecated", use=f"{RETIRED}; endpoints still speaking it (SORA_BASE_URL)"),
    Model("sora-2-pro", "deprecated", use="the same, 1080p sizes (1792x1024, 1024x1792)"),
)


def _capabilities(*, remix: bool) -> Capabilities:
    return Capabilities(
        # A remix lasts as long as its source: it takes a shot of any length up to 12 s and
        # refuses one longer than the video it remixes.
        durations=None if remix else (4.0, 8.0, 12.0),
        min_duration=0.5 if remix else 4.0,
        max_duration=12.0,
        snap_duration="up",
        aspect_ratios=("16:9", "9:16"),
        resolutions=("720p", "1080p"),  # 1080p: 1792x1024 on sora-2-pro, else 1280x720
        first_frame=not remix,  # input_reference; a remix takes a prompt only
        # Tier-based limits, unconfirmed: conservative; override with routing.limits.
        concurrency=4,
        requests_per_minute=20,
        price_per_second=0.10,  # sora-2 (secondary figure); sora-2-pro is 0.30 or 0.50
        expected_latency=float(os.environ.get("SORA_EXPECTED_LATENCY") or 60.0),
    )


def specs() -> list[EngineSpec]:
    return [
        EngineSpec(
            id=ENGINE,
            kind="video",
            description="OpenAI Sora 2 (retired by OpenAI on 2026-09-24), for endpoints still "
            "speaking its API: set SORA_BASE_URL",
            key_env=KEY_ENV,
            default_model=MODEL,
            models=MODELS,
            capabilities=_capabilities(remix=False),
            legacy=True,
            marks_sending=True,  # _api._send calls context.sending()
        ),
        EngineSpec(
            id=REMIX,
            kind="video",
            description="remix of a finished Sora video (routing.options.sora-remix.videos: "
            "{shot: video id}), for endpoints still speaking the retired Sora API",
            key_env=KEY_ENV,
            capabilities=_capabilities(remix=True),
            legacy=True,
            marks_sending=True,  # _api._send calls context.sending()
        ),
    ]


def spec(engine: str) -> EngineSpec:
    return next(s for s in specs() if s.id == engine)


@hookimpl
def ministudio_engines() -> list[EngineSpec]:
    return specs()


# -- hooks: sync shims, so a foreign engine id gets None rather than a coroutine -------------
@hookimpl
def submit_video(
    engine: str, request: VideoRequest, idempotency_key: str, context: EngineContext
) -> Awaitable[Submission] | None:
    from ministudio_sora import _api

    return _api.submit(engine, request, context) if engine in ENGINES else None


@hookimpl
def poll_video(engine: str, job_id: str, context: EngineContext) -> Awaitable[JobStatus] | None:
    from ministudio_sora import _api

    return _api.poll(engine, job_id, context) if engine in ENGINES else None


@hookimpl
def download_video(
    engine: str, job_id: str, output: Path, context: EngineContext, request: VideoRequest
) -> Awaitable[VideoResult] | None:
    from ministudio_sora import _api

    if engine not in ENGINES:
        return None
    return _api.download(engine, job_id, Path(output), context, request)


@hookimpl
def parse_webhook(engine: str, body: bytes, headers: dict[str, str]) -> JobStatus | None:
    """An OpenAI project webhook (``video.completed``/``video.failed``), verified when the
    process environment has ``SORA_WEBHOOK_SECRET``; None if it is not one."""
    if engine not in ENGINES:
        return None
    from ministudio_sora import _webhook

    return _webhook.parse(body, headers, os.environ.get("SORA_WEBHOOK_SECRET"))


@hookimpl
def estimate_cost(engine: str, request: VideoRequest) -> float | None:
    """A clip's price by model, size and seconds; a remix's depends on its source: None."""
    if engine != ENGINE:
        return None
    from ministudio_sora import _request

    size, seconds = _request.size(request), _request.seconds(request.duration)
    return _request.cost(_request.model_id(request), size, seconds)


@hookimpl
def prompt_map(engine: str, shot: ShotPrompt) -> str | None:
    if engine not in ENGINES:
        return None
    from ministudio.prompts import describe_shot

    return describe_shot(shot, include_dialogue=False)
