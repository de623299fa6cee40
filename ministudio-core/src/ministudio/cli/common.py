"""What the commands on a film share: loading its file (with the warnings), the film options
(FILE, -o, --store, --allow-images-from), and the output folder and content store they name."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ministudio.spec import Production


IMAGE_ROOTS = "ministudio.image_roots"  # the click context's meta key of --allow-images-from


def load(file: str) -> Production:
    """The production in ``file``, with every problem (unknown engines included) at once."""
    from ministudio.plan.shots import model_warnings
    from ministudio.plugins import PluginHost
    from ministudio.spec.loading import load_production

    context = click.get_current_context(silent=True)
    roots = context.meta.get(IMAGE_ROOTS, ()) if context else ()
    host = PluginHost()
    production = load_production(file, image_roots=roots, engines=host)
    for warning in model_warnings(production, host):
        click.echo(click.style("warning: ", fg="yellow") + warning, err=True)
    return production


def _keep_image_roots(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
    ctx.meta[IMAGE_ROOTS] = tuple(value)


def images_option(command: Any) -> Any:
    """--allow-images-from DIR (repeatable), kept in the click context for ``load``."""
    return click.option(
        "--allow-images-from",
        type=click.Path(file_okay=False, exists=True),
        multiple=True,
        expose_value=False,
        callback=_keep_image_roots,
        help="A folder besides the production file's that reference images and end frames "
        "may come from (repeatable; also $MINISTUDIO_IMAGE_ROOTS).",
    )(command)


def film_options(command: Any) -> Any:
    """FILE, -o/--output, --store and --allow-images-from, shared by the commands that work
    on a film."""
    command = images_option(command)
    command = click.option(
        "--store",
        type=click.Path(file_okay=False),
        default=None,
        help="Content store: a folder, or an fsspec URL every node reaches such as "
        "s3://bucket/prefix (default: $MINISTUDIO_STORE or the user cache dir).",
    )(command)
    command = click.option(
        "-o",
        "--output",
        type=click.Path(file_okay=False),
        default=None,
        help="Output folder (default: out/<title>); plan reads the last manifest there.",
    )(command)
    return click.argument("file", type=click.Path(dir_okay=False))(command)


def out_dir(production: Production, output: str | None) -> Path:
    """``-o``, else out/<the title as a folder name>."""
    return Path(output) if output else Path("out") / slug(production.title)


def content_store(spec: str | None) -> Any:
    """The store ``--store`` names: a folder, or an fsspec URL shared by every node (its
    objects cached in the user cache dir); default $MINISTUDIO_STORE, else the cache dir."""
    from ministudio.run.store import open_store

    return open_store(spec)


def slug(title: str) -> str:
    import re

    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:SLUG_CHARS].rstrip("-") or "film"


SLUG_CHARS = 80  # a folder name well under every file system's limit (255 bytes)
