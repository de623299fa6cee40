"""MiniStudio's Sora engines, retired: OpenAI shut its Videos (Sora) API down on 2026-09-24.

The package stays installable so that a production still routed to ``sora`` or
``sora-remix`` gets a clear answer: both engines are declared with their models retired on
that date, so ``ministudio validate``, ``plan`` and ``render`` refuse them before anything
runs, saying why and when, and ``ministudio plugins --models`` lists them as retired. They
render nothing (no hooks but the declaration; no SDK). Route the shots to another engine:
``gemini-omni``, ``veo-vertex``, ``luma`` or ``kling``.
"""

from __future__ import annotations

import datetime as dt

from ministudio import hookimpl
from ministudio.engines import EngineSpec, Model

__version__ = "0.2.0"

ENGINE = "sora"
REMIX = "sora-remix"
SHUTDOWN = dt.date(2026, 9, 24)  # OpenAI's deprecations page: the Videos API's shutdown
WHY = "OpenAI shut its Videos (Sora) API down"
MODELS = (
    Model("sora-2", "retired", SHUTDOWN, why=WHY, use="OpenAI's Sora 2 (720p)"),
    Model("sora-2-pro", "retired", SHUTDOWN, why=WHY, use="Sora 2 Pro (up to 1792x1024)"),
)


def specs() -> list[EngineSpec]:
    """``sora`` and ``sora-remix``: declared so routing to them is refused with the reason."""
    return [
        EngineSpec(
            id=engine,
            kind="video",
            description=f"{what} (retired: {WHY} on {SHUTDOWN.isoformat()})",
            default_model="sora-2",
            models=MODELS,
            legacy=True,
        )
        for engine, what in ((ENGINE, "OpenAI Sora 2"), (REMIX, "remix of a Sora video"))
    ]


@hookimpl
def ministudio_engines() -> list[EngineSpec]:
    return specs()
