"""Delivery: ``export``, a render as a timeline an editor opens (OTIO, FCP 7 XML, EDL)."""

from __future__ import annotations

from pathlib import Path

import click

# ministudio.review.export.FORMATS, named here so that --help does not import OTIO and PyAV
FORMATS = ("otio", "otioz", "fcpxml", "edl")


@click.command()
@click.argument("folder", type=click.Path(file_okay=False))
@click.option(
    "--to",
    "to",
    type=click.Choice(FORMATS),
    default="otio",
    show_default=True,
    help="otio: OpenTimelineIO (DaVinci Resolve 18.5+, Premiere Pro 25.6+); otioz: the same "
    "with its media bundled, to move to another machine; fcpxml: Final Cut Pro 7 XML "
    "(xmeml, which Resolve and Premiere import; not Final Cut Pro X's .fcpxml); edl: a CMX "
    "3600 EDL of the picture cut.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="The file to write (default: FOLDER/export/film.otio, .otioz, .xml or .edl).",
)
def export(folder: str, to: str, output: str | None) -> None:
    """Export a render as a timeline: one clip per shot at its frame (the media in
    FOLDER/export/media), the spoken lines on audio tracks, subtitles and failed checks as
    markers, starting at 01:00:00:00."""
    from ministudio.review.export import export_film

    path = export_film(Path(folder), to, Path(output) if output else None)
    click.echo(f"wrote {path} (media in {Path(folder) / 'export' / 'media'})")
