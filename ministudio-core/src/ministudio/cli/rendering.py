"""Making the film: ``render`` (with its live progress table and summary) and ``plan``, what
render would do."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ministudio.cli.common import content_store, film_options, load, out_dir

if TYPE_CHECKING:
    from ministudio.review.apply import Decided
    from ministudio.run.render import ShotEvent
    from ministudio.spec import Production


@click.command()
@film_options
@click.option("-q", "--quiet", is_flag=True, help="No live progress display.")
@click.option("--max-cost", type=float, default=None, help="Refuse to start above this USD cost.")
@click.option(
    "--webhook-url",
    default=None,
    help="Public base URL that reaches the webhook receiver (engines POST job updates to "
    "URL/<engine>); '{port}' stands for the bound port. Without it, jobs are polled.",
)
@click.option(
    "--webhook-listen",
    default="127.0.0.1:0",
    show_default=True,
    help="Local host:port the webhook receiver binds.",
)
@click.option(
    "--forget-lost",
    is_flag=True,
    help="Submit again jobs whose submit answer was lost on an engine that offers no lookup "
    "(check the engine's dashboard first: they may have been billed).",
)
@click.option(
    "--no-partial",
    is_flag=True,
    help="Make no film if a shot fails (by default the film is assembled anyway, a slate "
    "with the shot's id and why it failed in its place, and render still exits 1).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where local CPU work runs (keyless engines, fitting, checks): this machine, or a "
    'Ray cluster (pip install "ministudio-core[ray]"). Paid jobs are always submitted here.',
)
@click.option(
    "--address",
    default=None,
    help="The Ray cluster to join (host:port of its head; default: RAY_ADDRESS, else the "
    "cluster started on this machine by `ray start`).",
)
@click.option(
    "--previz",
    is_flag=True,
    help="Render only the previz: every shot on routing.previz (default: the keyless "
    "animatic), free, with the control passes its promotions need; approve it, then "
    "`ministudio promote DIR`.",
)
@click.option(
    "--review",
    "review_file",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Act on a review of the last render (review.json, as `ministudio review` writes "
    "it beside that render's manifest): retake the shots it says to (each note goes into "
    "the shot's prompt), keep the takes it picks and the shots it approves; the others "
    "come from the store.",
)
def render(
    file: str,
    output: str | None,
    store: str | None,
    quiet: bool,
    max_cost: float | None,
    webhook_url: str | None,
    webhook_listen: str,
    forget_lost: bool,
    no_partial: bool,
    executor: str,
    address: str | None,
    previz: bool,
    review_file: str | None,
) -> None:
    """Render a production into a finished, voiced, subtitled film."""
    from ministudio.run.render import RenderOptions

    if address is not None and executor != "ray":
        raise click.UsageError("--address is the Ray cluster's: use it with --executor ray")
    production = load(file)
    folder = out_dir(production, output)
    options = RenderOptions(
        forget_lost=forget_lost,
        max_cost=max_cost,
        webhook_url=webhook_url,
        webhook_listen=webhook_listen,
        partial=not no_partial,
        previz=previz,
        production_file=str(Path(file).resolve()),
        review=_review(Path(review_file), production, folder) if review_file else None,
    )
    _render(production, folder, store, quiet, options, executor, address)


def _review(path: Path, production: Production, folder: Path) -> Decided:
    """The review in ``path`` read against the render it was made on: the manifest beside
    it, else the one in the output folder."""
    from ministudio.review.apply import decide
    from ministudio.review.decisions import read_review
    from ministudio.run.manifest import Manifest

    beside = path.parent if (path.parent / "manifest.json").is_file() else folder
    return decide(read_review(path), Manifest.of_folder(beside), production)


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@click.option(
    "--shots",
    default=None,
    help="Comma-separated shot ids to promote, besides those already promoted in FOLDER "
    "(default: every shot whose engine edits video).",
)
@click.option("--store", default=None, help="Content store (as for render).")
@click.option("-q", "--quiet", is_flag=True, help="No live progress display.")
@click.option("--max-cost", type=float, default=None, help="Refuse to start above this USD cost.")
@click.option(
    "--forget-lost",
    is_flag=True,
    help="Submit again jobs whose submit answer was lost (as for render).",
)
def promote(
    folder: str,
    shots: str | None,
    store: str | None,
    quiet: bool,
    max_cost: float | None,
    forget_lost: bool,
) -> None:
    """Promote the approved previz in FOLDER to the final: each shot's previz goes to its
    video engine (one that edits video) with its timing, blocking and camera kept."""
    from ministudio.errors import MinistudioError
    from ministudio.plan.shots import PREVIZ
    from ministudio.run.manifest import Manifest
    from ministudio.run.render import RenderOptions

    out = Path(folder)
    manifest = Manifest.of_folder(out)
    if manifest.production_file is None:
        raise MinistudioError(
            f"{out / 'manifest.json'} does not name its production: render it again "
            "(`ministudio render FILE --previz -o FOLDER`), then promote"
        )
    production = load(manifest.production_file)
    if production.routing.previz is None:  # promote the animatic the folder shows
        routing = production.routing.model_copy(update={"previz": PREVIZ})
        production = production.model_copy(update={"routing": routing})
    chosen = None
    if shots is not None:
        chosen = {s.strip() for s in shots.split(",") if s.strip()}
        chosen |= {s.part_of or s.id for s in manifest.shots if s.previz is not None}
    options = RenderOptions(
        forget_lost=forget_lost,
        max_cost=max_cost,
        promote=frozenset(chosen) if chosen is not None else None,
        production_file=manifest.production_file,
    )
    _render(production, out, store, quiet, options, "local", None)


def _render(
    production: Production,
    out: Path,
    store: str | None,
    quiet: bool,
    options: Any,
    executor: str,
    address: str | None,
) -> None:
    """Render ``production`` into ``out`` with a live progress table, then its summary."""
    from ministudio.run.executors import Executor, LocalExecutor
    from ministudio.run.render import RenderError
    from ministudio.run.render import render as run_render

    runner: Executor = LocalExecutor()
    # Ray prints its cluster's events ("(raylet) Task failed ... retries remaining", a node
    # marked dead) on this process's stdout from a thread of its own: while the film renders,
    # stdout is stderr, so stdout keeps only the summary.
    quiet_stdout: Any = contextlib.nullcontext()
    if executor == "ray":
        from ministudio.run.ray import RayExecutor

        runner = RayExecutor(address)
        quiet_stdout = contextlib.redirect_stdout(sys.stderr)
    try:
        with (
            quiet_stdout,
            _Progress(production, enabled=not quiet and sys.stderr.isatty()) as progress,
        ):
            manifest = run_render(
                production,
                out,
                store=content_store(store),
                on_event=progress.update,
                options=options,
                executor=runner,
            )
    except RenderError as exc:
        if exc.result is not None and exc.result.film:  # a film with slates: say so, then fail
            _render_summary(out, exc.result, runner)
        raise
    finally:
        runner.close()
    _render_summary(out, manifest, runner)


def _render_summary(out: Path, manifest: Any, runner: Any = None) -> None:
    """What ``render`` made: the film, its shots, cost and time; the shots a fallback engine
    saved, the slates standing in for failed shots, retakes and checks still failing; on a
    Ray cluster, the tasks and task-seconds each node ran."""
    cached = sum(1 for s in manifest.shots if s.cached)
    click.echo(
        f"{out / 'film.mp4'}: {manifest.duration:.1f} s, {len(manifest.shots)} shots "
        f"({cached} from the store), cost ${manifest.cost:.2f}, "
        f"rendered in {manifest.seconds:.1f} s"
    )
    for s in manifest.shots:
        if s.fallback_from is not None and not s.slate:
            click.echo(
                f"{s.id}: rendered by {s.engine}, a fallback: {s.fallback_from.engine} failed "
                f"({s.fallback_from.reason})"
            )
    slates = [s.id for s in manifest.shots if s.slate]
    if slates:
        click.echo(
            f"{len(slates)} shot(s) failed and show as a slate (its id and why) in the film: "
            f"{', '.join(slates)}; render again to replace them"
        )
    promoted = [s.id for s in manifest.shots if s.previz is not None]
    if promoted:
        click.echo(
            f"{len(promoted)} shot(s) promoted from their previz ({out / 'previz' / 'film.mp4'})"
        )
    if manifest.previz:
        click.echo(f"this is the previz: approve it, then `ministudio promote {out}`")
    reviewed = [s.review.decision for s in manifest.shots if s.review is not None]
    if reviewed:
        counts = {d: reviewed.count(d) for d in ("retake", "pick", "approve")}
        click.echo(
            f"the review: {counts['retake']} shot(s) retaken, {counts['pick']} take(s) "
            f"picked, {counts['approve']} shot(s) approved"
        )
    retaken = sum(
        1 for s in manifest.shots if any(t.rung not in ("first", "review") for t in s.takes)
    )
    failing = [s.id for s in manifest.shots if any(not v.passed for v in s.qc)]
    if retaken:
        click.echo(f"{retaken} shot(s) retaken after a failing check")
    if failing:
        click.echo(
            f"{len(failing)} shot(s) still fail a check: {', '.join(failing)} "
            f"(reasons in {out / 'manifest.json'}; `ministudio qc {out}` lists them)"
        )
    describe = getattr(runner, "describe_work", None)
    if describe is not None:
        click.echo(describe())


@click.command()
@film_options
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the plan and its job graph as JSON: per shot what the table shows, and every "
    "job with its kind, key, engine and the jobs it needs.",
)
@click.option(
    "--dot",
    is_flag=True,
    help="Print the job graph in Graphviz's DOT language (`| dot -Tsvg > graph.svg`), "
    "without speaking or costing anything.",
)
def plan(file: str, output: str | None, store: str | None, as_json: bool, dot: bool) -> None:
    """Show what render would do: per shot cached or to render and why, cost and time.

    Lines are spoken first (their length decides each shot's); no paid video is rendered
    (a production with routing.previz has its free previz rendered first, to price each
    promotion from it)."""
    from rich.console import Console
    from rich.table import Table

    from ministudio.plan.estimate import money
    from ministudio.run.render import graph
    from ministudio.run.render import plan as make_plan

    production = load(file)
    if dot:
        click.echo(graph(production).to_dot(), nl=False)
        return
    film = make_plan(production, out_dir(production, output), store=content_store(store))
    if as_json:
        click.echo(json.dumps(_plan_json(film, graph(production).as_json()), indent=2))
        return
    table = Table("shot", "engine", "model", "length", "asks", "status", "cost", "time")
    for shot in film.shots:
        status = "cached" if shot.cached else "render"
        table.add_row(
            shot.id,
            shot.engine,
            shot.model,
            f"{shot.duration:.2f} s",
            f"{shot.requested:g} s",
            f"{status}: {shot.reason}"
            + "".join(f"\n[yellow]ignored: {note}[/]" for note in shot.ignored),
            money(shot.cost),
            f"{shot.seconds:.0f} s",
        )
    Console().print(table)
    shots = [s for s in film.shots if s.kind != "lipsync"]
    passes = [s for s in film.shots if s.kind == "lipsync"]
    to_render = sum(1 for s in shots if not s.cached)
    synced = (
        f" and {sum(1 for s in passes if not s.cached)} of {len(passes)} lip-sync passes"
        if passes
        else ""
    )
    unknown = f" (and {len(film.unpriced)} of unknown cost)" if film.unpriced else ""
    click.echo(
        f"{to_render} of {len(shots)} shots{synced} to render, estimated cost "
        f"${film.cost:.2f}{unknown}, about {film.wall_time():.0f} s of engine time"
    )
    qc = production.qc
    if qc.retakes:
        limits = [x for x in (production.budget,) if x is not None]
        cap = (
            f"within the ${limits[0] - film.cost:.2f} the budget leaves"
            if limits
            else "each costing what its shot costs (no budget is set)"
        )
        click.echo(
            f"a shot failing a check may be retaken up to {qc.retakes} time(s) "
            f"({', '.join(qc.ladder)}), {cap}"
        )


def _plan_json(film: Any, jobs: dict[str, Any]) -> dict[str, Any]:
    """``plan --json``: the shots as the table shows them, the totals and the job graph."""
    return {
        "shots": [dataclasses.asdict(shot) for shot in film.shots],
        "to_render": sum(1 for s in film.shots if not s.cached),
        "cost": round(film.cost, 4),
        "unpriced": film.unpriced,  # shots whose cost is unknown (their "cost" is null)
        "engine_seconds": round(film.wall_time(), 1),
        "graph": jobs,
    }


class _Progress:
    """A live table, one row per shot, while a film renders."""

    def __init__(self, production: Production, *, enabled: bool) -> None:
        self.enabled = enabled
        self.rows: dict[str, list[str]] = {
            shot_id: ["waiting", "", ""] for _, _, shot_id in production.shots()
        }
        self.live: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.live import Live

            self.live = Live(
                get_renderable=self._table, console=Console(stderr=True), refresh_per_second=8
            )
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, event: ShotEvent) -> None:
        percent = f"{event.progress:.0%}" if event.state == "rendering" else ""
        self.rows[event.shot_id] = [event.state, event.engine, percent or event.detail[:60]]

    def _table(self) -> Any:
        from rich.table import Table

        table = Table("shot", "state", "engine", "progress")
        for shot_id, (state, engine, detail) in self.rows.items():
            table.add_row(shot_id, state, engine, detail)
        return table
