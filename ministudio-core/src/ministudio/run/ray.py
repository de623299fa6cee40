"""``RayExecutor``: a render's local CPU work as Ray tasks on a cluster's workers.

What runs on the workers: keyless local engines (the animatic, eSpeak: ``where_it_runs`` is
"local"), fitting clips, frame grabs, footage samples and the plugins' checks. What stays on
this process: the graph walk, every job of an engine with a key or a service behind it (so
the journal has one writer and a key never reaches a worker), the film's assembly.

A task writes its output where it is told, in the store every node reaches (a shared folder
on one machine or a mount); Ray runs it again on another node if its node dies, and the
output is written again under the same name. ``pip install "ministudio-core[ray]"``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from ministudio.engines import EngineContext, EngineSpec
from ministudio.errors import MinistudioError
from ministudio.jobs import (
    QCVerdict,
    ShotPrompt,
    SpeechRequest,
    SpeechResult,
    VideoRequest,
    VideoResult,
)
from ministudio.plan.graph import where_it_runs
from ministudio.plugins import PluginHost

T = TypeVar("T")

# A worker sees the plugin settings of the render (which plugins are on or off), never its
# keys: only the keyless engines run there.
_SETTINGS = ("MINISTUDIO_PLUGINS", "MINISTUDIO_DISABLE_PLUGINS")


class RayUnavailableError(MinistudioError):
    """Ray is not installed, or no cluster could be reached."""

    exit_code = 2


class RayExecutor:
    """Local CPU work as Ray tasks: each retried on another node (``retries`` times) if its
    node dies, spread over the cluster's nodes, at most ``in_flight`` at once."""

    name = "ray"

    def __init__(
        self, address: str | None = None, *, retries: int = 3, in_flight: int = 64
    ) -> None:
        ray = _import_ray()
        address = address or os.environ.get("RAY_ADDRESS")
        self._started = False
        if not ray.is_initialized():
            try:
                ray.init(
                    address=address or "auto",
                    log_to_driver=False,
                    logging_level="WARNING",
                    configure_logging=False,
                )
            except ConnectionError as exc:
                if address:
                    raise RayUnavailableError(
                        f"no Ray cluster answers at {address} ({exc}); start one "
                        f"(`ray start --head`) or check the address"
                    ) from exc
                ray.init(log_to_driver=False, logging_level="WARNING", configure_logging=False)
                self._started = True  # a Ray instance of our own on this machine
        options = {"max_retries": retries, "scheduling_strategy": "SPREAD"}
        self._media = ray.remote(**options)(_run)
        self._checks = ray.remote(**options)(_qc_check)
        self._video = ray.remote(**options)(_generate_video)
        self._speech = ray.remote(**options)(_synthesize_speech)
        self._waiting = anyio.CapacityLimiter(in_flight)

    async def _result(self, ref: Any) -> Any:
        ray = _import_ray()
        try:
            return await anyio.to_thread.run_sync(
                ray.get, ref, limiter=self._waiting, abandon_on_cancel=True
            )
        except anyio.get_cancelled_exc_class():
            ray.cancel(ref)
            raise
        except ray.exceptions.RayTaskError as exc:  # the task's own exception, as it raised
            raise exc.as_instanceof_cause() from None

    async def media(self, fn: Callable[..., T], *args: Any) -> T:
        result: T = await self._result(self._media.remote(fn, args))
        return result

    async def qc_check(
        self, host: PluginHost, brief: ShotPrompt, clip: Path, seconds: float, fps: int
    ) -> list[QCVerdict]:
        ref = self._checks.remote(_settings(host.env), brief, clip, seconds, fps)
        found: list[QCVerdict] = await self._result(ref)
        return found

    async def generate_video(
        self,
        host: PluginHost,
        engine: EngineSpec,
        request: VideoRequest,
        output: Path,
        context: EngineContext,
    ) -> VideoResult:
        if where_it_runs(host, engine) != "local":  # a key or a service: stays here
            return await host.generate_video(engine.id, request, output, context)
        ref = self._video.remote(_settings(host.env), engine.id, request, output)
        result: VideoResult = await self._result(ref)
        return result

    async def synthesize_speech(
        self,
        host: PluginHost,
        engine: EngineSpec,
        request: SpeechRequest,
        output: Path,
        context: EngineContext,
    ) -> SpeechResult:
        if where_it_runs(host, engine) != "local":
            return await host.synthesize_speech(engine.id, request, output, context)
        ref = self._speech.remote(_settings(host.env), engine.id, request, output)
        result: SpeechResult = await self._result(ref)
        return result

    def close(self) -> None:
        if self._started:
            _import_ray().shutdown()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailableError(
            'the Ray executor needs Ray: pip install "ministudio-core[ray]"'
        ) from exc
    return ray


def _settings(env: Mapping[str, str]) -> dict[str, str]:
    return {name: env[name] for name in _SETTINGS if name in env}


# -- what the workers run (module level, so a worker imports them by name) -----------------


def _run(fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    return fn(*args)


@functools.lru_cache(maxsize=4)
def _worker_host(settings: tuple[tuple[str, str], ...]) -> PluginHost:
    """The plugins as a worker process sees them (discovered once per process)."""
    return PluginHost(env=dict(settings))


def _host(settings: Mapping[str, str]) -> PluginHost:
    return _worker_host(tuple(sorted(settings.items())))


def _qc_check(
    settings: dict[str, str], brief: ShotPrompt, clip: Path, seconds: float, fps: int
) -> list[QCVerdict]:
    return _host(settings).qc_check(brief, clip, seconds, fps)


def _generate_video(
    settings: dict[str, str], engine: str, request: VideoRequest, output: Path
) -> VideoResult:
    host = _host(settings)
    context = EngineContext(engine=engine, work_dir=output.parent, env=settings)
    result: VideoResult = anyio.run(host.generate_video, engine, request, output, context)
    return result


def _synthesize_speech(
    settings: dict[str, str], engine: str, request: SpeechRequest, output: Path
) -> SpeechResult:
    host = _host(settings)
    context = EngineContext(engine=engine, work_dir=output.parent, env=settings)
    result: SpeechResult = anyio.run(host.synthesize_speech, engine, request, output, context)
    return result
