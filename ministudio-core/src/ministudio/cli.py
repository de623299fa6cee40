"""The ``ministudio`` command. Heavy modules are imported inside commands: ``--help`` stays fast."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ministudio.engines import EngineSpec
    from ministudio.run.render import ShotEvent
    from ministudio.spec import Production


UNEXPECTED = 3  # the exit code of an error MiniStudio did not foresee (a bug)
_debug = False  # --debug: print the traceback of an error


def main() -> None:
    """Entry point: every error prints as a clear message, never a traceback unless asked
    (``--debug`` or ``MINISTUDIO_DEBUG=1``). Exit codes: a typed error's own (1 or 2), 3 for
    an unexpected one, 130 when interrupted."""
    import os

    from ministudio.safety.secrets import blanked_output

    global _debug
    _debug = os.environ.get("MINISTUDIO_DEBUG", "").strip() not in ("", "0")
    with blanked_output():
        _run()


def _run() -> None:
    """The command, each way it can end turned into a message and an exit code."""
    from ministudio.errors import MinistudioError

    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        _say_error(f"Error: {exc.format_message()}")
        sys.exit(exc.exit_code)
    except MinistudioError as exc:
        _say_error(f"error: {exc}", traceback=_debug)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted: finished shots are kept in the store", err=True)
        sys.exit(130)
    except Exception as exc:
        message = " ".join(str(exc).split())  # one line
        hint = "" if _debug else " (unexpected: run again with --debug for the traceback)"
        _say_error(f"error: {type(exc).__name__}: {message}{hint}", traceback=_debug)
        sys.exit(UNEXPECTED)


def _say_error(text: str, *, traceback: bool = False) -> None:
    """Print an error (and, with ``traceback``, the one being handled) on stderr, which
    ``main`` has put behind the blanking gate."""
    if traceback:
        import traceback as tb

        text = f"{tb.format_exc().rstrip()}\n{text}"
    click.secho(text, fg="red", err=True)


def _set_debug(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    global _debug
    _debug = _debug or value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ministudio-core", prog_name="ministudio")
@click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_set_debug,
    help="Print the traceback of an error (also MINISTUDIO_DEBUG=1).",
)
def cli() -> None:
    """MiniStudio: make films with AI video models as code."""
    if _debug:  # what MiniStudio logs (a crash a fallback saved, with its traceback) too
        import logging

        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("ministudio").setLevel(logging.DEBUG)


_IMAGE_ROOTS = "ministudio.image_roots"  # the click context's meta key of --allow-images-from


def _load(file: str) -> Production:
    """The production in ``file``, with every problem (unknown engines included) at once."""
    from ministudio.plan.shots import model_warnings
    from ministudio.plugins import PluginHost
    from ministudio.spec.loading import load_production

    context = click.get_current_context(silent=True)
    roots = context.meta.get(_IMAGE_ROOTS, ()) if context else ()
    host = PluginHost()
    production = load_production(file, image_roots=roots, engines=host)
    for warning in model_warnings(production, host):
        click.echo(click.style("warning: ", fg="yellow") + warning, err=True)
    return production


def _keep_image_roots(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
    ctx.meta[_IMAGE_ROOTS] = tuple(value)


def _images_option(command: Any) -> Any:
    """--allow-images-from DIR (repeatable), kept in the click context for ``_load``."""
    return click.option(
        "--allow-images-from",
        type=click.Path(file_okay=False, exists=True),
        multiple=True,
        expose_value=False,
        callback=_keep_image_roots,
        help="A folder besides the production file's that reference images and end frames "
        "may come from (repeatable; also $MINISTUDIO_IMAGE_ROOTS).",
    )(command)


def _film_options(command: Any) -> Any:
    """FILE, -o/--output, --store and --allow-images-from, shared by the commands that work
    on a film."""
    command = _images_option(command)
    command = click.option(
        "--store",
        type=click.Path(file_okay=False),
        default=None,
        help="Content store folder (default: $MINISTUDIO_STORE or the user cache dir).",
    )(command)
    command = click.option(
        "-o",
        "--output",
        type=click.Path(file_okay=False),
        default=None,
        help="Output folder (default: out/<title>); plan reads the last manifest there.",
    )(command)
    return click.argument("file", type=click.Path(dir_okay=False))(command)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@_images_option
def validate(file: str) -> None:
    """Check a file without rendering: the spec, and that routing names installed engines
    able to render the film's format."""
    from ministudio.plan.shots import plan_shots
    from ministudio.plugins import PluginHost

    production = _load(file)
    planned = plan_shots(production, PluginHost())
    engines = sorted(
        {ps.engine.id for ps in planned}
        | {line.engine for ps in planned for line in ps.lines}
        | ({production.qc.judge} if production.qc.judge else set())
    )
    click.echo(
        f"{file}: valid: '{production.title}', {len(planned)} shots in "
        f"{len(production.scenes)} scenes, {len(production.characters)} characters; "
        f"engines: {', '.join(engines)}"
    )


@cli.command()
def schema() -> None:
    """Print the production JSON Schema (for editor autocompletion)."""
    import json

    from ministudio.spec import Production

    click.echo(json.dumps(Production.model_json_schema(), indent=2))


@cli.command("new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Where to create the package's folder, ministudio-NAME.",
)
def new_plugin(name: str, directory: str) -> None:
    """Create a plugin package: one video engine NAME, its entry point and its conformance
    tests (they pass before any change)."""
    from ministudio.plugins.scaffold import names
    from ministudio.plugins.scaffold import new_plugin as make

    folder = make(name, Path(directory))
    module = folder / "src" / names(name)["module"] / "__init__.py"
    click.echo(
        f"created {folder}: video engine '{name}' and its conformance tests\nnext:\n"
        f'  cd {folder}\n  python -m pip install -e ".[test]"\n  python -m pytest\n'
        f"then replace _render in {module} with calls to your engine "
        '(see "Writing a plugin" in MiniStudio\'s README)'
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--models", is_flag=True, help="List each engine's models and their lifecycle.")
def plugins(as_json: bool, models: bool) -> None:
    """List plugins: distribution, version, hooks, engines (what each takes, its key and
    whether it is set, its models) and every problem (load errors, conflicting ids)."""
    import dataclasses
    import json

    from ministudio.plugins import PluginHost
    from ministudio.safety.keys import KeyStoreError, load, store_path

    host = PluginHost()
    try:
        stored = load(store_path())
    except KeyStoreError as exc:  # the listing still shows everything else
        click.echo(f"key store: {exc}", err=True)
        stored = {}
    usable = {p.name: [e for e in p.engines if e in host.engines] for p in host.plugins}
    if as_json:
        listed = []
        for info in host.plugins:
            entry = dataclasses.asdict(info) | {"problems": host.problems(info)}
            entry["capabilities"] = {
                e: dataclasses.asdict(host.engines[e].capabilities) for e in usable[info.name]
            }
            entry["keys"] = {e: _key_json(host.engines[e], stored) for e in usable[info.name]}
            if models:
                entry["models"] = {e: _models_json(host.engines[e]) for e in usable[info.name]}
            listed.append(entry)
        click.echo(json.dumps(listed, indent=2, default=str))
        return
    for p in host.plugins:
        status = click.style("failed", fg="red") if p.error else click.style("ok", fg="green")
        click.echo(f"{p.name}  [{status}]  {p.distribution} {p.version}  ({p.module})")
        if p.error:
            click.echo(f"    error: {p.error}")
            continue
        click.echo(f"    hooks: {', '.join(p.hooks)}")
        for engine_id in usable[p.name]:
            spec = host.engines[engine_id]
            click.echo(f"    engine {spec.id} ({spec.kind}){_tag(spec)}: {spec.description}")
            for line in _engine_lines(spec, stored, models):
                click.echo(f"      {line}")
        for problem in host.problems(p):
            click.echo(click.style("    problem: ", fg="red") + problem)


def _engine_lines(spec: EngineSpec, stored: dict[str, str], models: bool) -> list[str]:
    """What `plugins` says under an engine: what it takes, its key, its models."""
    from ministudio.engines.variants import describe

    caps = spec.capabilities
    takes = [
        describe(caps) if spec.kind == "video" else "",
        "seed" if caps.seed else "no seed",
        "webhooks" if caps.webhooks else "",
        f"{caps.concurrency} at once",
        f"${caps.price_per_second:g}/s" if caps.price_per_second else "free",
    ]
    joined = (" and " if spec.all_keys else " or ").join(spec.key_env)
    key = f"{joined}: {_key_source(spec, stored)}" if spec.key_env else "none needed"
    lines = [f"takes: {', '.join(t for t in takes if t)}", f"key: {key}"]
    if models:
        lines += _model_lines(spec)
    elif spec.default_model:
        lines.append(f"model: {spec.default_model} (--models for all, with their lifecycle)")
    return lines


def _key_json(spec: EngineSpec, stored: dict[str, str]) -> dict[str, Any]:
    import os

    from ministudio.safety.keys import source

    where, _ = source(spec.key_env, spec.all_keys, os.environ, stored)
    return {"variables": list(spec.key_env), "all": spec.all_keys, "source": where}


def _tag(spec: EngineSpec) -> str:
    """``[retired]`` when every model the engine declares is, else ``[legacy]`` if it says."""
    from ministudio.engines.lifecycle import today

    if spec.models and all(model.retired(today()) for model in spec.models):
        return "  [retired]"
    return "  [legacy]" if spec.legacy else ""


def _model_lines(spec: EngineSpec) -> list[str]:
    """One line per declared model: id, stage, shutdown and replacement, what it is for;
    under it, what each of its variants (modes, lengths) takes."""
    from ministudio.engines.lifecycle import today
    from ministudio.engines.variants import describe

    on = today()
    lines = []
    for model in spec.models:
        stage = "retired" if model.retired(on) else model.stage
        notes = [stage + (" (default)" if model.id == spec.default_model else "")]
        if model.shutdown and not model.retired(on):
            notes.append(f"shuts down {model.shutdown.isoformat()}")
        elif model.shutdown:
            notes.append(f"off since {model.shutdown.isoformat()}")
        if model.replacement and (model.shutdown or stage in ("deprecated", "retired")):
            notes.append(model.instead())
        use = f": {model.use}" if model.use else ""
        lines.append(f"model {model.id}  [{', '.join(notes)}]{use}")
        for variant in (v for v in spec.variants if v.model == model.id):
            mode = f"{variant.mode}: " if variant.mode else ""
            lines.append(f"  {mode}{describe(variant.capabilities)}")
    return lines or ["(no models declared)"]


def _models_json(spec: EngineSpec) -> list[dict[str, Any]]:
    import dataclasses

    return [
        {
            **dataclasses.asdict(m),
            "default": m.id == spec.default_model,
            "variants": [dataclasses.asdict(v) for v in spec.variants if v.model == m.id],
        }
        for m in spec.models
    ]


class _NotInstalled(click.ClickException):
    """An engine id no installed plugin provides: a configuration error (exit 2)."""

    exit_code = 2


@cli.command()
@click.argument("engine", required=False)
def voices(engine: str | None) -> None:
    """List each speech engine's voices (for characters' `voice` settings), or ENGINE's."""
    from ministudio.errors import MinistudioError
    from ministudio.plugins import PluginHost

    host = PluginHost()
    ids = [engine] if engine else [e.id for e in host.engines.values() if e.kind == "speech"]
    for engine_id in ids:
        try:
            names = host.voices(engine_id)
        except MinistudioError as exc:
            raise _NotInstalled(str(exc)) from None
        click.echo(f"{engine_id}: " + (", ".join(names) if names else "(no list)"))
        if engine_id == "espeak":  # the embedded voice also takes variants
            from ministudio.engines.espeak.synth import list_variants

            click.echo(f"  variants (voice: en-us+f3): {', '.join(list_variants())}")


@cli.command()
@_film_options
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
) -> None:
    """Render a production into a finished, voiced, subtitled film."""
    from ministudio.run.render import RenderError, RenderOptions
    from ministudio.run.render import render as run_render

    production = _load(file)
    out = _out_dir(production, output)
    options = RenderOptions(
        forget_lost=forget_lost,
        max_cost=max_cost,
        webhook_url=webhook_url,
        webhook_listen=webhook_listen,
        partial=not no_partial,
    )
    try:
        with _Progress(production, enabled=not quiet and sys.stderr.isatty()) as progress:
            manifest = run_render(
                production, out, store=_store(store), on_event=progress.update, options=options
            )
    except RenderError as exc:
        if exc.result is not None and exc.result.film:  # a film with slates: say so, then fail
            _render_summary(out, exc.result)
        raise
    _render_summary(out, manifest)


def _render_summary(out: Path, manifest: Any) -> None:
    """What ``render`` made: the film, its shots, cost and time; the shots a fallback engine
    saved, the slates standing in for failed shots, retakes and checks still failing."""
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
    retaken = sum(1 for s in manifest.shots if s.takes)
    failing = [s.id for s in manifest.shots if any(not v.passed for v in s.qc)]
    if retaken:
        click.echo(f"{retaken} shot(s) retaken after a failing check")
    if failing:
        click.echo(
            f"{len(failing)} shot(s) still fail a check: {', '.join(failing)} "
            f"(reasons in {out / 'manifest.json'}; `ministudio qc {out}` lists them)"
        )


@cli.command()
@_film_options
def plan(file: str, output: str | None, store: str | None) -> None:
    """Show what render would do: per shot cached or to render and why, cost and time.

    Lines are spoken first (their length decides each shot's); no video is rendered."""
    from rich.console import Console
    from rich.table import Table

    from ministudio.run.render import plan as make_plan

    production = _load(file)
    film = make_plan(production, _out_dir(production, output), store=_store(store))
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
            f"${shot.cost:.2f}",
            f"{shot.seconds:.0f} s",
        )
    Console().print(table)
    to_render = sum(1 for s in film.shots if not s.cached)
    click.echo(
        f"{to_render} of {len(film.shots)} shots to render, estimated cost ${film.cost:.2f}, "
        f"about {film.wall_time():.0f} s of engine time"
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


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False))
def status(folder: str) -> None:
    """Show every job of a render (running or finished) in an output folder."""
    import time

    from rich.console import Console
    from rich.table import Table

    from ministudio.errors import MinistudioError
    from ministudio.remote.journal import SIDE_PREFIX, Journal
    from ministudio.run.manifest import Manifest
    from ministudio.safety.secrets import gate

    path = Path(folder) / "manifest.json"
    try:
        manifest = Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise MinistudioError(
            f"{path} is missing or unreadable: is {folder} a render's output "
            f"folder? (`ministudio render FILE -o {folder}` makes one)"
        ) from None
    journal = Journal(Path(manifest.store) / "journal.sqlite")
    takes = [t for s in manifest.shots for t in s.takes]
    keys = [s.job_key for s in (*manifest.plates, *manifest.shots)] + [t.job_key for t in takes]
    rows = journal.rows([k for k in keys if k])
    sides = journal.side_jobs([s.id for s in manifest.shots])
    rows.update((row.key, row) for row in sides)
    journal.close()
    table = Table("shot", "state", "engine", "engine job", "submits", "age", "detail")
    # A journal or manifest written by an older version may hold keys. Each cell is blanked
    # before the table wraps it: a key split over two lines would pass the output's gate.
    blank = gate().blank

    def add(name: str, state: str, engine: str | None, key: str | None, detail: str) -> None:
        row = rows.get(key or "")
        age = f"{time.time() - row.submitted_at:.0f} s" if row and row.submitted_at else ""
        job = (row.job_id if row else None) or ""
        submits = str(row.submits) if row else ""
        detail = detail or (row.error if row else "") or ""
        table.add_row(*(blank(c) for c in (name, state, engine or "", job, submits, age, detail)))

    for side in sides:  # paid preparation (an identity image), shared by the shots that need it
        what = side.key.removeprefix(f"{SIDE_PREFIX}{side.engine}:").removeprefix("once:")
        add(f"{side.shot} (side job {what.split(':')[0]})", side.state, side.engine, side.key, "")
    for plate in manifest.plates:  # background plates, which the shots on them wait for
        add(plate.id, plate.state, plate.engine, plate.job_key, plate.error or "")
    for shot in manifest.shots:
        # a failed shot's engine: the one that failed last (an older manifest left it blank)
        attempts = shot.failed_attempts
        engine = shot.engine or (attempts[-1].engine if attempts else None)
        state = f"{shot.state} (slate)" if shot.slate else shot.state
        add(shot.id, state, engine, shot.job_key, shot.error or "")
        # the engines that failed it before a fallback (or the last engine) took it
        for n, attempt in enumerate(attempts if not shot.error else attempts[:-1], 1):
            add(f"  {shot.id} (try {n})", "failed", attempt.engine, None, attempt.error)
        for take in shot.takes:
            if not take.kept:  # the takes the retake ladder made and left out
                failed = ", ".join(v.check for v in take.qc if not v.passed)
                why = take.error or (f"failed {failed}" if failed else "")
                add(f"  {shot.id} ({take.rung})", "not kept", take.engine, take.job_key, why)
    Console().print(table)
    done = "film: " + manifest.film if manifest.film else "film: not finished"
    slates = [s.id for s in manifest.shots if s.slate]
    if manifest.film and slates:
        done += f" (a slate in place of each failed shot: {', '.join(slates)})"
    click.echo(f"{manifest.title}: {done}; cost so far ${manifest.cost:.2f}")


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False))
def qc(folder: str) -> None:
    """Run the quality checks again on a finished film (exit 1 if any fails)."""
    from ministudio.errors import MinistudioError
    from ministudio.qc.film import check_film

    try:
        found = check_film(Path(folder))
    except MinistudioError as exc:
        raise click.ClickException(str(exc)) from None
    failed = [(where, v) for where, v in found if not v.passed]
    for where, verdict in failed or found:
        mark = "ok  " if verdict.passed else "FAIL"
        click.echo(f"{mark} {where:<14} {verdict.check:<12} {verdict.reason}")
    click.echo(f"{len(found) - len(failed)} of {len(found)} checks passed")
    if failed:
        raise SystemExit(1)


@cli.group()
def keys() -> None:
    """Store engine API keys, used when the environment does not set them."""


@keys.command("set")
@click.argument("name")
@click.option(
    "--value",
    default=None,
    help="The key; '-' reads it from stdin. Without it, a prompt asks (input hidden); "
    "prefer that or '-': a value on the command line stays in your shell history.",
)
def keys_set(name: str, value: str | None) -> None:
    """Store the key for an engine (e.g. luma) or a variable (e.g. LUMAAI_API_KEY).

    For an engine, the key is stored under the first variable it reads; for an engine that
    needs a key pair (e.g. kling), each of its variables is asked for in turn."""
    import os

    from ministudio.safety.keys import load, save, store_path

    engines = _key_engines()
    variables = _key_variables(name, engines)
    if value is not None and len(variables) > 1:
        raise click.UsageError(
            f"{name} needs {' and '.join(variables)}: set each by name, or leave out --value"
        )
    path = store_path()
    stored = load(path)
    for variable in variables:
        if value is None:
            users = ", ".join(e.id for e in engines if variable in e.key_env)
            text = click.prompt(f"{variable}" + (f" ({users})" if users else ""), hide_input=True)
        else:
            text = sys.stdin.read() if value == "-" else value
        if not text.strip():
            raise click.UsageError("the key is empty: nothing stored")
        stored[variable] = text.strip()
    save(path, stored)
    for variable in variables:
        click.echo(f"stored {variable} in {path}")
        if not any(variable in e.key_env for e in engines):
            click.echo(f"note: no installed engine reads {variable}", err=True)
        if os.environ.get(variable):
            click.echo(f"note: {variable} is also set in the environment, which wins", err=True)


@keys.command("list")
def keys_list() -> None:
    """Show the stored variables (never their values) and where each engine's key comes from."""
    from ministudio.safety.keys import load, store_path

    path = store_path()
    stored = load(path)
    engines = _key_engines()
    click.echo(f"stored in {path}:" if stored else f"no keys stored in {path}")
    for variable, value in sorted(stored.items()):
        hint = f"  ...{value[-4:]}" if len(value) > 12 else ""
        users = ", ".join(e.id for e in engines if variable in e.key_env) or "no installed engine"
        click.echo(f"  {variable}{hint}  (used by {users})")
    if engines:
        click.echo("engines:")
    for spec in engines:
        click.echo(f"  {spec.id}: {_key_source(spec, stored)}")


def _key_source(spec: EngineSpec, stored: dict[str, str]) -> str:
    """Where ``spec``'s key comes from, coloured; for a missing one, the command to set it."""
    import os

    from ministudio.safety.keys import source

    where, names = source(spec.key_env, spec.all_keys, os.environ, stored)
    if where == "missing":
        lacking = f" {names}" if names else ""
        return click.style("missing", fg="red") + f"{lacking}: run `ministudio keys set {spec.id}`"
    return click.style(where, fg="green") + f" ({names})"


@keys.command("remove")
@click.argument("name")
def keys_remove(name: str) -> None:
    """Delete a stored key: a variable, or every variable an engine reads."""
    from ministudio.safety.keys import is_variable, load, save, store_path

    if is_variable(name):
        variables: tuple[str, ...] = (name,)
    else:
        variables = _engine_spec(name, _key_engines()).key_env
    path = store_path()
    stored = load(path)
    gone = [v for v in variables if v in stored]
    if not gone:
        raise click.ClickException(f"no key stored for {name} in {path}")
    save(path, {k: v for k, v in stored.items() if k not in gone})
    click.echo(f"removed {', '.join(gone)} from {path}")


@keys.command("path")
def keys_path() -> None:
    """Print the key store's file ($MINISTUDIO_KEYS_FILE, else in the user config dir)."""
    from ministudio.safety.keys import store_path

    click.echo(str(store_path()))


def _key_engines() -> list[EngineSpec]:
    """The installed engines that need a key, by id."""
    from ministudio.plugins import PluginHost

    engines = PluginHost().engines
    return [engines[i] for i in sorted(engines) if engines[i].key_env]


def _engine_spec(name: str, engines: list[EngineSpec]) -> EngineSpec:
    """The installed engine ``name`` that needs a key, or a usage error saying what to give."""
    spec = next((e for e in engines if e.id == name), None)
    if spec is None:
        known = ", ".join(e.id for e in engines) or "none"
        raise click.UsageError(
            f"'{name}' is neither an installed engine that needs a key (those are: {known}) "
            f"nor a variable name in capitals (e.g. LUMAAI_API_KEY)"
        )
    return spec


def _key_variables(name: str, engines: list[EngineSpec]) -> tuple[str, ...]:
    """The variables ``keys set NAME`` stores: NAME itself; for an engine, the first one it
    reads (its variables are alternatives: any one suffices), or all for a key pair."""
    from ministudio.safety.keys import is_variable

    if is_variable(name):
        return (name,)
    spec = _engine_spec(name, engines)
    return spec.key_env if spec.all_keys else spec.key_env[:1]


def _out_dir(production: Production, output: str | None) -> Path:
    """``-o``, else out/<the title as a folder name>."""
    return Path(output) if output else Path("out") / _slug(production.title)


def _store(folder: str | None) -> Any:
    from ministudio.run.store import ContentStore, default_store_dir

    return ContentStore(Path(folder) if folder else default_store_dir())


def _slug(title: str) -> str:
    import re

    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:SLUG_CHARS].rstrip("-") or "film"


SLUG_CHARS = 80  # a folder name well under every file system's limit (255 bytes)


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
