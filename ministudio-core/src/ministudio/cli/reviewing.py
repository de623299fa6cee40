"""Deciding on a film: ``review`` writes its review page (and serves it, where the page's
buttons write ``review.json`` beside the film)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("folder", type=click.Path(file_okay=False))
@click.option(
    "--serve",
    is_flag=True,
    help="Serve the page, so that its Approve, Retake and Pick buttons write review.json "
    "beside the film (without it, the page opens from disk and downloads review.json).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address --serve binds (loopback: only this machine reaches the page).",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="Port --serve binds (0: any free)."
)
def review(folder: str, serve: bool, host: str, port: int) -> None:
    """Write the review page of a render's output folder (FOLDER/review/index.html): the
    film, its shot timeline, every shot's takes, prompt, checks and cost, and the buttons
    that write review.json (`ministudio render FILE --review review.json` acts on it)."""
    from ministudio.review.page import write_page

    index = write_page(Path(folder))
    click.echo(f"review page: {index} (open it in a browser: {index.resolve().as_uri()})")
    if not serve:
        return
    from ministudio.review.serve import LOOPBACK, ReviewServer

    try:
        server = ReviewServer(Path(folder), host, port)
    except OSError as exc:
        raise click.ClickException(
            f"cannot serve on {host}:{port}: {exc.strerror or exc}"
        ) from None
    if host not in LOOPBACK:
        click.secho(
            f"warning: {host} is not loopback: anyone who reaches it can write review.json",
            fg="yellow",
            err=True,
        )
    click.echo(
        f"serving {server.url} (decisions go to {Path(folder) / 'review.json'}); Ctrl-C stops"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()
