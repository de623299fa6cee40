"""A render's output folder: ``status`` (every job), ``qc`` (the checks again) and
``cancel`` (the jobs still waiting on their engines)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("folder", type=click.Path(file_okay=False))
def status(folder: str) -> None:
    """Show every job of a render (running or finished) in an output folder."""
    import time

    from rich.console import Console
    from rich.table import Table

    from ministudio.remote.journal import SIDE_PREFIX, Journal
    from ministudio.run.manifest import Manifest
    from ministudio.safety.secrets import gate

    manifest = Manifest.of_folder(Path(folder))
    journal = Journal(Path(manifest.store) / "journal.sqlite")
    rows = journal.rows(manifest.job_keys())
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


@click.command()
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


@click.command()
@click.argument("folder", type=click.Path(file_okay=False))
def cancel(folder: str) -> None:
    """Cancel the jobs of a render that still wait on their engines (a stopped render's
    queued jobs, before they are billed); the next render sends them afresh."""
    import os

    import anyio

    from ministudio.plugins import PluginHost
    from ministudio.remote.cancel import cancel_render
    from ministudio.run.manifest import Manifest
    from ministudio.safety.secrets import gate

    manifest = Manifest.of_folder(Path(folder))
    found = anyio.run(cancel_render, manifest, Path(folder), PluginHost(), os.environ)
    blank = gate().blank
    for job in found:
        detail = f": {job.detail}" if job.detail else ""
        click.echo(
            blank(f"{job.shot:<14} {job.engine:<20} {job.job_id or '-'}  {job.outcome}{detail}")
        )
    taken = sum(job.outcome == "cancelled" for job in found)
    click.echo(f"{taken} of {len(found)} waiting jobs cancelled")
    if taken < len(found):
        raise SystemExit(1)
