"""Cancelling a render's jobs that still wait on their engines (``ministudio cancel DIR``).

The render's manifest names its job keys; the journal says which of them an engine has
accepted and not finished. Each is cancelled by its engine's ``cancel_video`` hook; one the
engine took is marked failed in the journal, so the next render sends it afresh instead of
waiting for a job that will never finish. A job whose submit answer was lost has no id to
cancel: it is reported, never guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ministudio.engines import EngineContext
from ministudio.errors import MinistudioError
from ministudio.remote.journal import Journal

if TYPE_CHECKING:
    from ministudio.plugins import PluginHost
    from ministudio.run.manifest import Manifest

Outcome = Literal["cancelled", "too late", "not cancelled", "answer lost"]
CANCELLED = "cancelled by `ministudio cancel`"


@dataclass(frozen=True)
class Cancellation:
    """What became of one waiting job."""

    shot: str
    engine: str
    job_id: str | None
    outcome: Outcome
    detail: str = ""


async def cancel_render(
    manifest: Manifest, folder: Path, host: PluginHost, env: Mapping[str, str]
) -> list[Cancellation]:
    """Cancel every job of the render in ``folder`` (its ``manifest``) still waiting on its
    engine; what became of each, in the manifest's order."""
    journal = Journal(Path(manifest.store) / "journal.sqlite")
    try:
        rows = journal.rows(manifest.job_keys())
        out = []
        for key, row in rows.items():
            if row.state == "submitting":
                out.append(
                    Cancellation(
                        row.shot,
                        row.engine,
                        None,
                        "answer lost",
                        "its submit's answer was lost: look for it on the engine's dashboard",
                    )
                )
            elif row.state == "submitted" and row.job_id:
                context = EngineContext(engine=row.engine, work_dir=folder, env=env)
                try:
                    taken = await host.cancel_video(row.engine, row.job_id, context)
                except MinistudioError as exc:
                    why = str(exc)
                    out.append(Cancellation(row.shot, row.engine, row.job_id, "not cancelled", why))
                    continue
                if taken:
                    journal.failed(key, CANCELLED)
                    out.append(Cancellation(row.shot, row.engine, row.job_id, "cancelled"))
                else:
                    out.append(
                        Cancellation(
                            row.shot,
                            row.engine,
                            row.job_id,
                            "too late",
                            "it already ran (and is paid for): the next render fetches its clip",
                        )
                    )
        return out
    finally:
        journal.close()
