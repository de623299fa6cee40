"""Render a production: its job graph (``ministudio.plan.graph``) walked by an executor:
speech first, then every shot (at once where independent), then the film.

Every job's output is filed in the content store under a key that hashes everything that
decides it, so a second render re-runs only what changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from ministudio.plan.estimate import FilmPlan
from ministudio.plan.graph import JobGraph, build_graph
from ministudio.plan.shots import plan_shots
from ministudio.plugins import PluginHost
from ministudio.remote.pacing import RetryPolicy
from ministudio.run.errors import BudgetError, RenderError, SpeechError
from ministudio.run.executors import Executor, LocalExecutor
from ministudio.run.manifest import Manifest
from ministudio.run.progress import ShotEvent, ShotState
from ministudio.run.renderer import Renderer
from ministudio.run.store import ContentStore, open_store
from ministudio.spec import Production

__all__ = [
    "BudgetError",
    "RenderError",
    "RenderOptions",
    "ShotEvent",
    "ShotState",
    "SpeechError",
    "graph",
    "plan",
    "render",
    "render_async",
]


@dataclass(frozen=True)
class RenderOptions:
    """How a render runs, beyond the production itself."""

    forget_lost: bool = False  # resubmit jobs whose submit answer was lost (no lookup offered)
    max_cost: float | None = None  # refuse to start a render that would spend more (USD)
    # Public base URL engines POST to (enables webhooks); "{port}" stands for the bound port.
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1:0"  # local host:port the receiver binds behind that URL
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # A shot that fails leaves a slate (its id and why) in the film, which is still assembled
    # (the render still fails); False: no film until every shot renders (``--no-partial``).
    partial: bool = True


def render(
    production: Production,
    out_dir: Path,
    *,
    host: PluginHost | None = None,
    store: ContentStore | None = None,
    env: Mapping[str, str] | None = None,
    on_event: Callable[[ShotEvent], None] | None = None,
    options: RenderOptions | None = None,
    executor: Executor | None = None,
) -> Manifest:
    """Render ``production`` into ``out_dir`` (film.mp4, subtitles, contact sheet, manifest).

    ``executor`` decides where local CPU work runs: this machine's threads by default, a Ray
    cluster with ``ministudio.run.ray.RayExecutor``."""
    return anyio.run(
        lambda: render_async(
            production,
            out_dir,
            host=host,
            store=store,
            env=env,
            on_event=on_event,
            options=options,
            executor=executor,
        )
    )


def plan(
    production: Production,
    out_dir: Path,
    *,
    host: PluginHost | None = None,
    store: ContentStore | None = None,
    env: Mapping[str, str] | None = None,
) -> FilmPlan:
    """What ``render`` would do: speaks the lines (their length decides the shots'), renders no
    video and spends nothing on it."""

    async def run() -> FilmPlan:
        renderer = _renderer(production, out_dir, host, store, env, None, None, None)
        try:
            return await renderer.plan()
        finally:
            renderer.close()

    return anyio.run(run)


def graph(production: Production, *, host: PluginHost | None = None) -> JobGraph:
    """The job graph ``render`` walks, built without running anything."""
    host = host or PluginHost()
    return build_graph(production, plan_shots(production, host), host)


async def render_async(
    production: Production,
    out_dir: Path,
    *,
    host: PluginHost | None = None,
    store: ContentStore | None = None,
    env: Mapping[str, str] | None = None,
    on_event: Callable[[ShotEvent], None] | None = None,
    options: RenderOptions | None = None,
    executor: Executor | None = None,
) -> Manifest:
    """``render`` for code already inside an event loop (asyncio or trio), e.g. a notebook."""
    renderer = _renderer(production, out_dir, host, store, env, on_event, options, executor)
    try:
        return await renderer.run()
    finally:
        renderer.close()


def _renderer(
    production: Production,
    out_dir: Path,
    host: PluginHost | None,
    store: ContentStore | None,
    env: Mapping[str, str] | None,
    on_event: Callable[[ShotEvent], None] | None,
    options: RenderOptions | None,
    executor: Executor | None,
) -> Renderer:
    """The renderer of ``production``, once its engines are known and able to render it:
    nothing (store, journal, output folder) is written before."""
    host = host or PluginHost()
    planned = plan_shots(production, host)  # unknown engines, impossible formats: refused here
    return Renderer(
        production,
        planned,
        out_dir,
        host,
        store or open_store(None),
        os.environ if env is None else env,
        on_event or (lambda event: None),
        options or RenderOptions(),
        executor or LocalExecutor(),
    )
