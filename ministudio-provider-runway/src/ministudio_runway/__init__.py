"""MiniStudio video engine plugin for Runway: the engine ``runway`` (Gen-4.5 by default,
Gen-4 Turbo as the model ``gen4_turbo``), through the official ``runwayml`` SDK.

Text to video (Gen-4.5, 16:9 or 9:16) and image to video from a shot's first frame (both
models, six ratios), with the shot's seed; the ``edit`` retake rung changes the engine's own
take with Aleph 2.0 (``aleph2``, video to video), which also promotes a previz to the final
(``Capabilities.video_edit``: the previz clip, uploaded). No last frame, no reference images
(Runway's video endpoints for these models take neither), no webhooks (task polling only).
What the engine declares is ``_catalog``; the request and its rules ``_request``; the hooks
``_tasks``. Importing this module imports neither the SDK nor httpx.

Environment: ``RUNWAYML_API_SECRET`` (required), ``RUNWAYML_BASE_URL``, ``RUNWAY_TIMEOUT``;
read when the engine is declared: ``RUNWAY_CONCURRENCY``, ``RUNWAY_EXPECTED_LATENCY``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ministudio.engines import EngineContext, EngineSpec
from ministudio.plugin_kit import Engine, engine_hooks

from ministudio_runway._catalog import ENGINE, spec

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from ministudio.jobs import JobStatus, Submission, VideoRequest, VideoResult

__version__ = "0.1.0"


class Runway(Engine):
    """``runway``: Gen-4.5 and Gen-4 Turbo on Runway's API (``_tasks``)."""

    id = ENGINE

    def spec(self) -> EngineSpec:
        return spec()

    def submit(self, request: VideoRequest, context: EngineContext) -> Awaitable[Submission]:
        from ministudio_runway import _tasks

        return _tasks.submit(request, context)

    def poll(self, job_id: str, context: EngineContext) -> Awaitable[JobStatus]:
        from ministudio_runway import _tasks

        return _tasks.poll(job_id, context)

    def download(
        self,
        job_id: str,
        status: JobStatus,
        output: Path,
        context: EngineContext,
        request: VideoRequest,
    ) -> Awaitable[VideoResult]:
        from ministudio_runway import _tasks

        return _tasks.download(job_id, status, Path(output), context, request)

    def find_job(self) -> Awaitable[str | None]:
        # Runway has no list of tasks and no idempotency key: a lost create stays ambiguous.
        from ministudio_runway import _tasks

        return _tasks.find_lost()

    def cancel(self, job_id: str, context: EngineContext) -> Awaitable[bool]:
        from ministudio_runway import _tasks

        return _tasks.cancel(job_id, context)

    def check(self, request: VideoRequest) -> None:
        # before anything is paid (``check_video``): what Runway refuses, and a previz Aleph
        # cannot promote to a final of its length
        from ministudio_runway import _request

        _request.check(request)

    def estimate_cost(self, request: VideoRequest) -> float:
        from ministudio_runway import _request

        return _request.cost(request)


RUNWAY = Runway()

globals().update(engine_hooks(RUNWAY))
