"""Executors run a render's job graph: the graph is walked on this process (the one that
owns the journal, so paid jobs are submitted once), and each executor decides where the
local CPU work runs: fitting, frame grabs and checks, keyless local engines.

``LocalExecutor`` runs it on this machine's threads, one job per core. ``RayExecutor``
(``ministudio.run.ray``, ``pip install "ministudio-core[ray]"``) runs it as Ray tasks on a
cluster's workers.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread

from ministudio.engines import EngineContext, EngineSpec
from ministudio.jobs import (
    QCVerdict,
    ShotPrompt,
    SpeechRequest,
    SpeechResult,
    VideoRequest,
    VideoResult,
)
from ministudio.plan.graph import Job, JobGraph
from ministudio.plugins import PluginHost

T = TypeVar("T")


class Executor(Protocol):
    """Where a render's local CPU work runs. ``media`` takes a module-level function (so a
    remote worker can import it) and arguments that pickle; paths are in the store, which
    every worker reaches."""

    name: str

    async def media(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def qc_check(
        self, host: PluginHost, brief: ShotPrompt, clip: Path, seconds: float, fps: int
    ) -> list[QCVerdict]: ...

    async def generate_video(
        self,
        host: PluginHost,
        engine: EngineSpec,
        request: VideoRequest,
        output: Path,
        context: EngineContext,
    ) -> VideoResult: ...

    async def synthesize_speech(
        self,
        host: PluginHost,
        engine: EngineSpec,
        request: SpeechRequest,
        output: Path,
        context: EngineContext,
    ) -> SpeechResult: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Local CPU work on this machine's threads, at most one job per core at once, so many
    shots landing together neither oversubscribe the CPU nor pile up decoders."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.limiter = anyio.CapacityLimiter(workers or os.cpu_count() or 2)

    async def media(self, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    async def qc_check(
        self, host: PluginHost, brief: ShotPrompt, clip: Path, seconds: float, fps: int
    ) -> list[QCVerdict]:
        return await self.media(host.qc_check, brief, clip, seconds, fps)

    async def generate_video(
        self,
        host: PluginHost,
        engine: EngineSpec,
        request: VideoRequest,
        output: Path,
        context: EngineContext,
    ) -> VideoResult:
        return await host.generate_video(engine.id, request, output, context)

    async def synthesize_speech(
        self,
        host: PluginHost,
        engine: EngineSpec,
        request: SpeechRequest,
        output: Path,
        context: EngineContext,
    ) -> SpeechResult:
        return await host.synthesize_speech(engine.id, request, output, context)

    def close(self) -> None:
        pass


async def walk(graph: JobGraph, run: Callable[[Job, Callable[[], None]], Awaitable[None]]) -> None:
    """Run every job of ``graph`` as soon as the jobs it needs are done (and the job it
    ``starts_from`` is ready), all at once otherwise; engines' limits bound them inside
    ``run``. ``run(job, ready)`` may call ``ready()`` once the output the jobs starting from
    it take is known, before it is done. A job that fails on purpose records it and returns,
    and the jobs after it see it; a job that raises stops the walk, and its exception is
    raised as it is (not in a group)."""
    done = {job.id: anyio.Event() for job in graph}
    ready = {job.id: anyio.Event() for job in graph}
    raised: list[Exception] = []

    async def one(job: Job, scope: anyio.CancelScope) -> None:
        for need in job.needs:
            await done[need].wait()
        if job.starts_from is not None:
            await ready[job.starts_from].wait()
        try:
            await run(job, ready[job.id].set)
        except Exception as exc:
            raised.append(exc)
            scope.cancel()
        finally:
            ready[job.id].set()
            done[job.id].set()

    async with anyio.create_task_group() as tg:
        for job in graph:
            tg.start_soon(one, job, tg.cancel_scope)
    if raised:
        raise raised[0]
