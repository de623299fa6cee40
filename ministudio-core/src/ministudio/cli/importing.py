"""``ministudio import``: a Fountain screenplay into a production file."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("import")
@click.argument("script", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="The production file to write (default: the script's name with .yaml, beside it).",
)
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
@click.option(
    "--aspect",
    type=click.Choice(["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"]),
    default="16:9",
    show_default=True,
    help="The film's aspect ratio.",
)
@click.option(
    "--resolution",
    type=click.Choice(["360p", "480p", "720p", "1080p", "2160p"]),
    default="720p",
    show_default=True,
    help="The film's resolution (its short side).",
)
@click.option(
    "--fps", type=click.IntRange(12, 60), default=24, show_default=True, help="Frames per second."
)
@click.option(
    "--seed", type=click.IntRange(0), default=None, help="The film's seed (default: the spec's)."
)
def import_(
    script: str,
    output: str | None,
    force: bool,
    aspect: str,
    resolution: str,
    fps: int,
    seed: int | None,
) -> None:
    """Turn a Fountain screenplay (.fountain) into a production file that renders as it is.

    Scene headings become scenes and places, dialogue cues characters, action paragraphs and
    changes of speaker shots; the YAML names the script line of every scene and shot."""
    from ministudio.authoring.screenplay import import_script, to_yaml

    path = Path(script)
    target = Path(output) if output else path.with_suffix(".yaml")
    if target.resolve() == path.resolve():
        raise click.BadParameter(
            "the output would replace the script: name another", param_hint="-o"
        )
    if target.exists() and not force:
        raise click.ClickException(f"{target} exists: name another with -o, or add --force")
    film_format = {"aspect_ratio": aspect, "resolution": resolution, "fps": fps}
    production, imported = import_script(path, film_format=film_format, seed=seed)
    text = to_yaml(imported, path.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)
    counts, dropped = imported.counts, imported.dropped
    click.echo(
        f"{path} -> {target}: '{production.title}': {counts['scenes']} scenes, "
        f"{counts['environments']} environments, {counts['characters']} characters, "
        f"{counts['shots']} shots, {counts['lines']} lines "
        f"({counts['narration']} narration, {counts['off-screen lines']} off-screen)"
    )
    extra = [_count(counts[k], k) for k in ("title cards", "silent cues") if counts[k]]
    if extra:
        click.echo(f"  also: {', '.join(extra)}")
    left = [_count(n, kind) for kind, n in sorted(dropped.items()) if n]
    click.echo(f"  left out of the film: {', '.join(left) if left else 'nothing'}")
    click.echo(f"next: ministudio render {target}")


_ONE = {
    "notes": "note",
    "sections": "section",
    "synopses": "synopsis",
    "page breaks": "page break",
    "boneyard": "boneyard block",
    "title cards": "title card",
    "silent cues": "silent cue",
}


def _count(n: int, kind: str) -> str:
    """``1 note``, ``2 notes``; boneyard is counted in blocks."""
    if kind == "boneyard":
        return f"{n} boneyard block{'s' if n != 1 else ''}"
    return f"{n} {_ONE.get(kind, kind) if n == 1 else kind}"
