"""``RayExecutor``: a render's local CPU work as Ray tasks on a cluster's workers.

What runs on the workers: keyless local engines (the animatic, eSpeak: ``where_it_runs`` is
"local"), fitting clips, frame grabs, footage samples and the plugins' checks. What stays on
this process: the graph walk, every job of an engine with a key or a service behind it (so
the journal has one writer and a key never reaches a worker), the film's assembly.

A task writes its output where it is told, in the store every node reaches (a shared folder
on one machine or a mount); Ray runs it again on another node if its node dies, and the
output is written again under the same name. ``pip install "ministudio-core[ray]"``.

A task's own exception comes back as the exception it raised (its type, message, attributes
and causes), so a shot fails with the message it would have on this machine; a task Ray
could not finish (its node died more often than it retries) fails its shot with
``RayWorkerError``. Each task reports the node it ran on: ``work_by_node`` counts the tasks
and seconds of each, and ``describe_work()`` says it in one line.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import pickle
import socket
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
_INSTALL = 'pip install "ministudio-core[ray]"'


class RayUnavailableError(MinistudioError):
    """Ray is not installed, or no cluster could be reached."""

    exit_code = 2


class RayWorkerError(MinistudioError):
    """A Ray task did not finish: its node died more times than it is retried, or a worker
    could not run it (a package missing there). Its shot fails; render again to redo it."""


@dataclass
class NodeWork:
    """What one node of the cluster ran for this executor: tasks finished and their seconds."""

    node_id: str
    tasks: int = 0
    seconds: float = 0.0


class RayExecutor:
    """Local CPU work as Ray tasks: each retried on another node (``retries`` times) if its
    node dies, spread over the cluster's nodes, at most ``in_flight`` at once."""

    name = "ray"

    def __init__(
        self, address: str | None = None, *, retries: int = 3, in_flight: int = 64
    ) -> None:
        address = address or os.environ.get("RAY_ADDRESS")
        loaded = sys.modules.get("ray")
        if address and not (loaded is not None and loaded.is_initialized()):
            if importlib.util.find_spec("ray") is None:
                _import_ray()  # raises, saying how to install it
            _answers(address)  # (before importing Ray, which takes seconds)
        ray = _import_ray()
        self._owned = False  # connected (or started) by us: disconnected by close()
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
            self._owned = True
        self._task = ray.remote(max_retries=retries, scheduling_strategy="SPREAD")(_task)
        self._waiting = anyio.CapacityLimiter(in_flight)
        self.work_by_node: dict[str, NodeWork] = {}
        self._nodes_at_close: dict[str, dict[str, Any]] = {}

    async def media(self, fn: Callable[..., T], *args: Any) -> T:
        result: T = await self._run(_name_of(fn), fn, args)
        return result

    async def qc_check(
        self, host: PluginHost, brief: ShotPrompt, clip: Path, seconds: float, fps: int
    ) -> list[QCVerdict]:
        args = (_settings(host.env), brief, clip, seconds, fps)
        found: list[QCVerdict] = await self._run("qc_check", _qc_check, args)
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
        args = (_settings(host.env), engine.id, request, output)
        result: VideoResult = await self._run(f"video:{engine.id}", _generate_video, args)
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
        args = (_settings(host.env), engine.id, request, output)
        result: SpeechResult = await self._run(f"speech:{engine.id}", _synthesize_speech, args)
        return result

    def describe_work(self) -> str:
        """One line: the tasks and task-seconds of each node, the head first; a node the
        cluster has since lost is marked so."""
        nodes = _nodes() or self._nodes_at_close
        total = sum(w.tasks for w in self.work_by_node.values())
        order = sorted(
            self.work_by_node.values(),
            key=lambda w: (not nodes.get(w.node_id, {}).get("head", False), -w.tasks),
        )
        parts = []
        for work in order:
            node = nodes.get(work.node_id, {})
            where = f"{node['address']} " if node.get("address") else ""
            tags = [tag for tag in ("head",) if node.get("head")]
            if node and not node.get("alive", True):
                tags.append("gone")
            tagged = f" ({', '.join(tags)})" if tags else ""
            parts.append(
                f"{where}{work.node_id[:8]}{tagged}: {work.tasks} tasks, {work.seconds:.1f} s"
            )
        spread = "; ".join(parts) if parts else "none"
        return f"ray: {total} tasks on {len(self.work_by_node)} node(s): {spread}"

    def close(self) -> None:
        if self._owned:
            self._owned = False
            self._nodes_at_close = _nodes()  # for describe_work, once disconnected
            _import_ray().shutdown()

    async def _run(self, name: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """Run ``fn(*args)`` as a Ray task named ``name`` (the worker's process title shows
        ``ray::NAME`` meanwhile): its value, or the exception it raised, rebuilt here."""
        ray = _import_ray()
        ref = self._task.options(name=name).remote(fn, args)
        try:
            outcome: _Outcome = await anyio.to_thread.run_sync(
                ray.get, ref, limiter=self._waiting, abandon_on_cancel=True
            )
        except anyio.get_cancelled_exc_class():
            ray.cancel(ref)
            raise
        except ray.exceptions.RayTaskError as exc:  # the task could not even start its work
            cause = getattr(exc, "cause", None)
            why = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
            raise RayWorkerError(
                f"a Ray worker could not run {name} ({why}); the workers need the packages "
                f"this machine has"
            ) from None
        except ray.exceptions.RayError as exc:  # lost: its node died, more than retried
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise RayWorkerError(
                f"Ray lost the task {name} ({type(exc).__name__}: {first}); render again to redo it"
            ) from None
        work = self.work_by_node.setdefault(outcome.node, NodeWork(outcome.node))
        work.tasks += 1
        work.seconds += outcome.seconds
        if outcome.failure is not None:
            raise outcome.failure.rebuild(outcome.node)
        return outcome.value


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailableError(f"the Ray executor needs Ray: {_INSTALL}") from exc
    return ray


def _answers(address: str, timeout: float = 10.0) -> None:
    """``RayUnavailableError`` unless something accepts connections at ``address``
    (``host:port``; other forms, such as ``auto`` or ``ray://...``, are left to Ray). Ray
    itself retries an address nobody serves for minutes."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in host:
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise RayUnavailableError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one "
            f"(`ray start --head`) or check the address"
        ) from None


def _settings(env: Mapping[str, str]) -> dict[str, str]:
    return {name: env[name] for name in _SETTINGS if name in env}


def _name_of(fn: Callable[..., Any]) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return getattr(fn, "__name__", None) or type(fn).__name__


def _nodes() -> dict[str, dict[str, Any]]:
    """The cluster's nodes as Ray knows them now (dead ones too): address, head, alive."""
    ray = _import_ray()
    try:
        if not ray.is_initialized():
            return {}
        return {
            n["NodeID"]: {
                "address": n.get("NodeManagerAddress", ""),
                "head": "node:__internal_head__" in n.get("Resources", {})
                or bool(n.get("IsHeadNode")),
                "alive": bool(n.get("Alive")),
            }
            for n in ray.nodes()
        }
    except Exception:  # a summary line is not worth failing a finished render for
        return {}


# -- what a task sends back -----------------------------------------------------------------


@dataclass(frozen=True)
class _Failure:
    """An exception raised in a task, as this process can rebuild it: its class by name, its
    ``args`` and attributes pickled apart (an exception whose ``__init__`` takes other
    arguments than its ``args`` does not unpickle as a whole), its cause, its traceback."""

    module: str
    qualname: str
    message: str
    state: bytes | None
    trace: str
    cause: _Failure | None = None

    @classmethod
    def of(cls, exc: BaseException, depth: int = 0) -> _Failure:
        try:
            state: bytes | None = pickle.dumps((exc.args, vars(exc)))
        except Exception:
            state = None
        below = exc.__cause__
        return cls(
            type(exc).__module__,
            type(exc).__qualname__,
            str(exc),
            state,
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
            cls.of(below, depth + 1) if below is not None and depth < 8 else None,
        )

    def rebuild(self, node: str = "") -> Exception:
        """The exception as raised, its remote traceback as a note (3.11+ prints it)."""
        exc = self._rebuilt()
        where = f" on node {node[:8]}" if node else ""
        notes = [*getattr(exc, "__notes__", []), f"raised in a Ray task{where}:\n{self.trace}"]
        setattr(exc, "__notes__", notes)  # noqa: B010 (an attribute of 3.11+ exceptions)
        return exc

    def _rebuilt(self) -> Exception:
        try:
            found: Any = importlib.import_module(self.module)
            for part in self.qualname.split("."):
                found = getattr(found, part)
            if not (isinstance(found, type) and issubclass(found, Exception)):
                raise TypeError(self.qualname)
            exc: Exception = found.__new__(found)
            args, attributes = (
                pickle.loads(self.state) if self.state is not None else ((self.message,), {})
            )
            exc.args = tuple(args)
            exc.__dict__.update(attributes)
        except Exception:  # a class this process lacks, or state that does not load here
            exc = RayWorkerError(f"{self.qualname}: {self.message}")
        if self.cause is not None:
            exc.__cause__ = self.cause._rebuilt()
        return exc


@dataclass(frozen=True)
class _Outcome:
    node: str
    seconds: float
    value: Any = None
    failure: _Failure | None = field(default=None)


# -- what the workers run (module level, so a worker imports them by name) -----------------


def _task(fn: Callable[..., Any], args: tuple[Any, ...]) -> _Outcome:
    """``fn(*args)`` on a worker: its value or its exception, the node and the time taken."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    began = time.perf_counter()
    try:
        value = fn(*args)
    except Exception as exc:
        return _Outcome(node, time.perf_counter() - began, failure=_Failure.of(exc))
    return _Outcome(node, time.perf_counter() - began, value)


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
