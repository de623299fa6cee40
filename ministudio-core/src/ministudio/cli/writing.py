"""The commands that write a production for you: ``storyboard`` (from a brief, by a writer
engine) and ``cast`` (reference images for the characters and places that have none)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from ministudio.cli.common import content_store, images_option, load, slug


def _options(values: tuple[str, ...]) -> dict[str, Any]:
    """``--option KEY=VALUE`` pairs; a value that reads as JSON (a number, true) is taken as
    such, any other as text."""
    import json

    found: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"'{item}': give KEY=VALUE", param_hint="--option")
        try:
            found[key.strip()] = json.loads(value)
        except ValueError:
            found[key.strip()] = value
    return found


def _free(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists: name another with -o, or add --force")


@click.command()
@click.argument("brief")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="The production file to write (default: <title>.yaml here).",
)
@click.option("--shots", type=click.IntRange(1, 200), default=None, help="About this many shots.")
@click.option(
    "--minutes", type=click.FloatRange(0.05, 60), default=None, help="About this long in all."
)
@click.option(
    "--aspect",
    type=click.Choice(["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"]),
    default=None,
    help="The film's aspect ratio.",
)
@click.option(
    "--video",
    default="animatic",
    show_default=True,
    help="The video engine the shots are routed to: their lengths fit its limits.",
)
@click.option(
    "--writer", default="gemini-writer", show_default=True, help="The writer engine (kind writer)."
)
@click.option("--model", default=None, help="The writer's model (default: its own).")
@click.option(
    "--option",
    "option",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option for the writer engine (repeatable).",
)
@click.option(
    "--repairs",
    type=click.IntRange(0, 5),
    default=2,
    show_default=True,
    help="Rounds that send the validation errors back to the writer.",
)
@click.option(
    "--max-cost",
    type=float,
    default=None,
    help="Refuse a round that could take the total past this USD cost.",
)
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
def storyboard(
    brief: str,
    output: str | None,
    shots: int | None,
    minutes: float | None,
    aspect: str | None,
    video: str,
    writer: str,
    model: str | None,
    option: tuple[str, ...],
    repairs: int,
    max_cost: float | None,
    force: bool,
) -> None:
    """Write a production from BRIEF (a text file, or an idea in quotes) with a writer engine:
    its answer is validated, and the errors sent back to it while it is refused."""
    import anyio

    from ministudio.authoring.storyboard import Ask, RefusedDraft, read_brief
    from ministudio.authoring.storyboard import storyboard as write
    from ministudio.plugins import PluginHost

    if output:
        _free(Path(output), force)
    ask = Ask(
        brief=read_brief(brief),
        shots=shots,
        minutes=minutes,
        aspect_ratio=aspect,
        video=video,
        writer=writer,
        model=model,
        options=_options(option),
        repairs=repairs,
        max_cost=max_cost,
    )
    target = Path(output) if output else None
    work = Path(target.parent if target else ".").resolve()
    try:
        written = anyio.run(write, ask, PluginHost(), os.environ, work, click.echo)
    except RefusedDraft as exc:
        kept = (target or Path("storyboard")).with_suffix(".draft.json")
        kept.write_text(exc.draft + "\n", encoding="utf-8")
        raise click.ClickException(f"{exc}\nthe last draft is kept in {kept}") from None
    production = written.production
    target = target or Path(f"{slug(production.title)}.yaml")
    _free(target, force)
    _write_yaml(target, written.data, ask, len(written.rounds), written.cost)
    click.echo(
        f"wrote {target}: '{production.title}', {len(production.shots())} shots in "
        f"{len(production.scenes)} scenes, {len(production.characters)} characters, "
        f"{len(production.environments)} places; {len(written.rounds)} round(s), "
        f"${written.cost:.4f}\nnext: `ministudio cast {target}` for reference images, then "
        f"`ministudio render {target}`"
    )


def _write_yaml(path: Path, data: Any, ask: Any, rounds: int, cost: float) -> None:
    import yaml

    first = ask.brief.splitlines()[0][:100]
    header = (
        f"# Written by `ministudio storyboard` ({ask.writer}, {rounds} round(s), ${cost:.4f})\n"
        f"# from the brief: {first}\n"
    )
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    part = path.with_name(path.name + ".part")
    part.write_text(header + text, encoding="utf-8")
    part.replace(path)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--engine",
    default="animatic-stills",
    show_default=True,
    help="The image engine (kind image): animatic-stills (keyless), gemini-image, luma-uni, "
    "luma-photon, ...",
)
@click.option("--model", default=None, help="The engine's model (default: its own).")
@click.option(
    "--option",
    "option",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option for the image engine (repeatable).",
)
@click.option("--store", default=None, help="Content store (as for render).")
@click.option(
    "--max-cost",
    type=float,
    default=None,
    help="Refuse to draw past this USD cost (the stills drawn are kept).",
)
@click.option(
    "--force", is_flag=True, help="Replace files in cast/ that differ from the stills drawn now."
)
@click.option(
    "--forget-lost",
    is_flag=True,
    help="Draw again a still whose request left and whose answer was lost (it may be paid).",
)
@images_option
def cast(
    file: str,
    engine: str,
    model: str | None,
    option: tuple[str, ...],
    store: str | None,
    max_cost: float | None,
    force: bool,
    forget_lost: bool,
) -> None:
    """Draw reference images for the characters and places in FILE that have none: a sheet
    (front, three-quarter, profile) per character and a picture per place, kept in the store
    (made once), written to cast/ beside FILE, and named in FILE's reference_images."""
    import anyio

    from ministudio.authoring.cast import Ask, Caster, add_references, missing
    from ministudio.plugins import PluginHost

    production = load(file)
    stills = missing(production)
    if not stills:
        click.echo(f"{file}: every character and place has reference images; nothing to draw")
        return
    path = Path(file)
    ask = Ask(
        engine=engine,
        model=model,
        options=_options(option),
        max_cost=max_cost,
        force=force,
        forget_lost=forget_lost,
    )
    host = PluginHost()
    caster = Caster(
        production, path.parent, host, content_store(store), os.environ, ask, click.echo
    )
    try:
        drawn = anyio.run(caster.draw_all, stills)
    finally:
        caster.close()
    if not add_references(path, drawn):
        names = "\n".join(f"  {d.still.group}.{d.still.id}: {d.still.file}" for d in drawn)
        click.echo(f"{file} cannot be edited here: add these reference_images yourself:\n{names}")
    else:
        load(file)  # the file as written still validates, images included
    made = [d for d in drawn if not d.cached]
    click.echo(
        f"{file}: {len(drawn)} stills in {path.parent / 'cast'} ({len(made)} drawn by "
        f"{engine}, {len(drawn) - len(made)} from the store), ${sum(d.cost for d in drawn):.4f}"
    )
