"""``ministudio import``: a Fountain screenplay into a production (being built, issue 22)."""

from __future__ import annotations

import click


@click.command("import")
@click.argument("script", type=click.Path(dir_okay=False))
def import_(script: str) -> None:
    """Turn a Fountain screenplay into a production file."""
    raise click.ClickException("not built yet")
