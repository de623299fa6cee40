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

from ministudio.engines import EngineSpec, Model
from ministudio.plugin_kit import Engine, engine_hooks

__version__ = "0.2.0"

ENGINE = "sora"
REMIX = "sora-remix"
SHUTDOWN = dt.date(2026, 9, 24)  # OpenAI's deprecations page: the Videos API's shutdown
WHY = "OpenAI shut its Videos (Sora) API down"
MODELS = (
    Model("sora-2", "retired", SHUTDOWN, why=WHY, use="OpenAI's Sora 2 (720p)"),
    Model("sora-2-pro", "retired", SHUTDOWN, why=WHY, use="Sora 2 Pro (up to 1792x1024)"),
)


class Retired(Engine):
    """``sora`` or ``sora-remix``: declared with its models retired, so routing to it is
    refused with the reason; it has no engine methods."""

    def __init__(self, engine_id: str, what: str) -> None:
        self.id, self.what = engine_id, what

    def spec(self) -> EngineSpec:
        return EngineSpec(
            id=self.id,
            revision=0,  # paid: pinned, so a package upgrade never re-pays a clip
            kind="video",
            description=f"{self.what} (retired: {WHY} on {SHUTDOWN.isoformat()})",
            default_model="sora-2",
            models=MODELS,
            legacy=True,
        )


RETIRED = (Retired(ENGINE, "OpenAI Sora 2"), Retired(REMIX, "remix of a Sora video"))


def specs() -> list[EngineSpec]:
    """``sora`` and ``sora-remix``: declared so routing to them is refused with the reason."""
    return [engine.spec() for engine in RETIRED]


globals().update(engine_hooks(*RETIRED))  # ministudio_engines only
