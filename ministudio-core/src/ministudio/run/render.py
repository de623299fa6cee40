"""Render a production: its job graph (``ministudio.plan.graph``) walked by an executor:
speech first, then every shot (at once where independent), then the film.

Every job's output is filed in the content store under a key that hashes everything that
decides it, so a second render re-runs only what changed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from ministudio.errors import MinistudioError
from ministudio.plan.estimate import FilmPlan
from ministudio.plan.graph import JobGraph, build_graph
from ministudio.plan.shots import PREVIZ, PlannedShot, plan_shots
from ministudio.plugins import PluginHost
from ministudio.remote.pacing import RetryPolicy
from ministudio.review.apply import Decided
from ministudio.run.errors import BudgetError, RenderError, SpeechError
from ministudio.run.executors import Executor, LocalExecutor
from ministudio.run.manifest import Manifest, PrevizRecord
from ministudio.run.progress import ShotEvent, ShotState
from ministudio.run.promotion import links, pass_names, previz_production, promoted_routing
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
    # Render only the previz (``render --previz``): every shot on ``routing.previz`` (else
    # the animatic), keyless, with the control passes its promotions will need.
    previz: bool = False
    # Promote only these shot ids (``ministudio promote --shots``); None: every shot whose
    # engine edits video. The others keep their previz.
    promote: frozenset[str] | None = None
    production_file: str | None = None  # recorded in the manifest for ``ministudio promote``
    # A review of the last render to act on (``render --review``): its retakes, picks and
    # approvals (``ministudio.review.apply.decide``).
    review: Decided | None = None


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
    paid video and spends nothing on it. A production that promotes shots (``routing.previz``)
    has its previz rendered first (keyless, local, cached into ``out_dir/previz``), so each
    promotion is priced from its real previz and known to be in the store or not."""

    async def run() -> FilmPlan:
        nonlocal host, store
        host, store = host or PluginHost(), store or open_store(None)
        final, planned, _, previz = await _previz(
            production, out_dir, host, store, env, None, RenderOptions(), None
        )
        renderer = _renderer(final, out_dir, host, store, env, None, None, None, planned)
        renderer.previz = previz
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
    host, store = host or PluginHost(), store or open_store(None)
    options = options or RenderOptions()
    review = options.review
    if review is not None:
        production = review.production(production)
    production, planned, sketch, previz = await _previz(
        production, out_dir, host, store, env, on_event, options, executor
    )
    if review is not None:  # each retake with its own seed
        planned = [dataclasses.replace(ps, seed=review.seeds.get(ps.id, ps.seed)) for ps in planned]
    if options.previz:
        assert sketch is not None
        return sketch
    renderer = _renderer(
        production, out_dir, host, store, env, on_event, options, executor, planned
    )
    renderer.previz = previz
    try:
        return await renderer.run()
    finally:
        renderer.close()


async def _previz(
    production: Production,
    out_dir: Path,
    host: PluginHost,
    store: ContentStore,
    env: Mapping[str, str] | None,
    on_event: Callable[[ShotEvent], None] | None,
    options: RenderOptions,
    executor: Executor | None,
) -> tuple[Production, list[PlannedShot], Manifest | None, dict[str, PrevizRecord]]:
    """Render the previz of ``production`` where it promotes shots (``routing.previz``,
    the ``promote`` rung, ``options.previz``): into ``out_dir`` with ``options.previz``,
    else ``out_dir/previz``. The production the final render makes (with the shots not
    promoted routed to their previz) and its shots, the previz's manifest and each shot's
    previz."""
    if options.promote is not None:
        planned = plan_shots(production, host)
        wanted = {ps.id: ps.id in options.promote for ps in planned if ps.promoted}
        unknown = sorted(options.promote - set(wanted))
        if unknown:
            raise MinistudioError(
                f"cannot promote {', '.join(unknown)}: no such shot, or its engine edits no "
                "video (route it to one that declares video_edit)"
            )
        production = promoted_routing(production, wanted)
    planned = plan_shots(production, host)
    passes = pass_names(planned)
    if not passes and not options.previz:
        return production, planned, None, {}
    engine = production.routing.previz or PREVIZ
    sketch = previz_production(production, engine)
    where = out_dir if options.previz else out_dir / "previz"
    first = dataclasses.replace(options, previz=True, max_cost=None, promote=None)
    renderer = _renderer(sketch, where, host, store, env, on_event, first, executor)
    renderer.passes = passes
    manifest: Manifest | None = None
    try:
        manifest = await renderer.run()
    except RenderError as exc:  # a promoted shot whose previz failed fails in the final
        if options.previz:
            raise
        manifest = exc.result
    finally:
        renderer.close()
    return production, planned, manifest, links(renderer.shots)


def _renderer(
    production: Production,
    out_dir: Path,
    host: PluginHost | None,
    store: ContentStore | None,
    env: Mapping[str, str] | None,
    on_event: Callable[[ShotEvent], None] | None,
    options: RenderOptions | None,
    executor: Executor | None,
    planned: list[PlannedShot] | None = None,
) -> Renderer:
    """The renderer of ``production`` (routed as ``planned``, when already known), once its
    engines are known and able to render it: nothing (store, journal, output folder) is
    written before."""
    host = host or PluginHost()
    if planned is None:  # unknown engines, impossible formats: refused here
        planned = plan_shots(production, host)
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
