"""Progress of a render: events for displays, and manifest.json kept current for
``ministudio status`` while shots render."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ministudio.run.manifest import Manifest, ShotRecord

ShotState = Literal["waiting", "rendering", "cached", "done", "failed"]


@dataclass
class ShotEvent:
    """A change in one shot's state, for progress displays."""

    shot_id: str
    state: ShotState
    engine: str = ""
    progress: float = 0.0
    detail: str = ""


class Progress:
    """Passes events on and saves the manifest (at most twice a second, and at each shot's
    end) through the blanking gate."""

    def __init__(
        self,
        on_event: Callable[[ShotEvent], None],
        manifest: Path,
        blank: Callable[[str], str],
    ) -> None:
        self.on_event, self.path, self.blank = on_event, manifest, blank
        self.records: dict[str, ShotRecord] = {}
        self.snapshot: Callable[[], Manifest] | None = None  # the manifest as it stands
        self._saved = 0.0

    def event(self, event: ShotEvent) -> None:
        self.on_event(event)
        record = self.records.get(event.shot_id)
        if record is None or self.snapshot is None:
            return
        record.state = event.state
        now = time.monotonic()
        if event.state in ("done", "cached", "failed") or now - self._saved > 0.5:
            self._saved = now
            with contextlib.suppress(OSError):
                self.snapshot().write(self.path, self.blank)
