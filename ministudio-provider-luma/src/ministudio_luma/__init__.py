"""MiniStudio engine plugins for Luma AI: two engines from one package.

- ``luma``: Ray 3.2 through the Agents API with the official ``luma-agents`` SDK
  (``_agents``, ``_request``, ``_files``): text and image to video, first and last frames,
  5 s extensions of the previous Luma clip for `continue` shots, loops, video-to-video edits
  (the ``edit`` retake rung), images through the Files API. Key ``LUMA_AGENTS_API_KEY``.
- ``luma-dream-machine``: Ray 2 through the legacy Dream Machine API with ``lumaai``
  (``_dream_machine``), as the engine called ``luma`` was before; its models are declared
  deprecated, replaced by ``ray-3.2`` on ``luma``. Key ``LUMAAI_API_KEY``.

What each engine declares (capabilities, variants, models, prices) is in ``_catalog``.
Importing this module imports neither SDK: the hooks import them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ministudio import hookimpl
from ministudio.engines import EngineContext, EngineSpec

from ministudio_luma._catalog import AGENTS, DREAM_MACHINE, agents_spec, dream_machine_spec

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from ministudio.jobs import (
        HostedAsset,
        JobStatus,
        ShotPrompt,
        Submission,
        VideoRequest,
        VideoResult,
    )

__version__ = "0.2.0"

ENGINES = (AGENTS, DREAM_MACHINE)


def specs() -> list[EngineSpec]:
    """Both engines as declared: ``luma`` (Agents API) and ``luma-dream-machine``."""
    return [agents_spec(), dream_machine_spec()]


@hookimpl
def ministudio_engines() -> list[EngineSpec]:
    return specs()


# -- hooks: sync shims, so a foreign engine id gets None rather than a coroutine -------------
@hookimpl
def submit_video(
    engine: str, request: VideoRequest, idempotency_key: str, context: EngineContext
) -> Awaitable[Submission] | None:
    if engine == AGENTS:
        from ministudio_luma import _agents

        return _agents.submit(request, context)
    if engine == DREAM_MACHINE:
        from ministudio_luma import _dream_machine

        return _dream_machine._submit(request, context)
    return None


@hookimpl
def poll_video(engine: str, job_id: str, context: EngineContext) -> Awaitable[JobStatus] | None:
    if engine == AGENTS:
        from ministudio_luma import _agents

        return _agents.poll(job_id, context)
    if engine == DREAM_MACHINE:
        from ministudio_luma import _dream_machine

        return _dream_machine._poll(job_id, context)
    return None


@hookimpl
def download_video(
    engine: str,
    job_id: str,
    status: JobStatus,
    output: Path,
    context: EngineContext,
    request: VideoRequest,
) -> Awaitable[VideoResult] | None:
    if engine == AGENTS:
        from ministudio_luma import _agents

        return _agents.download(job_id, status, Path(output), context, request)
    if engine == DREAM_MACHINE:
        from ministudio_luma import _dream_machine

        return _dream_machine._download(job_id, status, Path(output), context, request)
    return None


@hookimpl
def find_video_job(
    engine: str, context: EngineContext, request: VideoRequest, since: float
) -> Awaitable[str | None] | None:
    # Only Dream Machine lists its generations. The Agents API has no list and no
    # idempotency key (notes §1.6): a lost create answer stays ambiguous and the shot stops
    # rather than pay twice. (This plugin implements the hook for Dream Machine, so the core
    # asks it for luma too: None would say "surely no job" and resend, hence the refusal.)
    if engine == AGENTS:
        from ministudio_luma import _agents

        return _agents.find_lost()
    if engine != DREAM_MACHINE:
        return None
    from ministudio_luma import _dm_lookup

    return _dm_lookup.find_video(request, since, context)


@hookimpl
def upload_asset(
    engine: str, path: Path, context: EngineContext
) -> Awaitable[HostedAsset] | HostedAsset | None:
    if engine == AGENTS:
        from ministudio_luma import _files

        return _files.upload(Path(path), context)
    if engine == DREAM_MACHINE:
        from ministudio_luma import _dream_machine

        return _dream_machine._host(Path(path), context)
    return None


@hookimpl
def parse_webhook(
    engine: str, body: bytes, headers: dict[str, str], env: Mapping[str, str]
) -> JobStatus | None:
    # The Agents API sends no callbacks: only Dream Machine's are parsed (as hints).
    if engine != DREAM_MACHINE:
        return None
    from ministudio_luma import _dream_machine

    return _dream_machine.parse_webhook(body)


@hookimpl
def estimate_cost(engine: str, request: VideoRequest) -> float | None:
    if engine == AGENTS:
        from ministudio_luma import _request

        return _request.cost(request)
    if engine == DREAM_MACHINE:
        from ministudio_luma import _dream_machine

        return _dream_machine.estimate_cost(request)
    return None


@hookimpl
def prompt_map(engine: str, shot: ShotPrompt) -> str | None:
    if engine == AGENTS:
        from ministudio_luma import _request

        return _request.prompt(shot)
    if engine == DREAM_MACHINE:
        from ministudio_luma import _dream_machine

        return _dream_machine.prompt(shot)
    return None
