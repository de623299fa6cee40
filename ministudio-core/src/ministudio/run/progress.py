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
    """Passes events on and saves the manifest (at most twice a second, at each shot's end,
    and as soon as a shot has a new job, before it is sent) through the blanking gate."""

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
        self._keys: dict[str, tuple[str | None, str | None]] = {}  # each shot's, as saved

    def event(self, event: ShotEvent) -> None:
        self.on_event(event)
        record = self.records.get(event.shot_id)
        if record is None or self.snapshot is None:
            return
        record.state = event.state
        now = time.monotonic()
        # a job about to be sent is on disk first: after a crash, `status` and `cancel` find it
        keys = (record.job_key, record.lipsync.job_key if record.lipsync else None)
        new_job = self._keys.get(event.shot_id) != keys
        if new_job or event.state in ("done", "cached", "failed") or now - self._saved > 0.5:
            self._saved, self._keys[event.shot_id] = now, keys
            with contextlib.suppress(OSError):
                self.snapshot().write(self.path, self.blank)
