"""The submission journal: every paid job is written down before anything waits on it.

One SQLite database (WAL, fully synchronous) beside the content store. A row per job key:
``submitting`` is written immediately before the request leaves (after any preparation),
``submitted`` (with the engine's job id) as soon as the engine answers, ``done`` once the
clip is in the store. After a crash, ``render`` again finds each job here: a ``submitted``
job is waited for, not resent; a ``submitting`` one had its answer lost and is looked up,
never blindly resent. Paid side jobs (an identity image) have rows of their own, keyed
``side:<engine>:<key>``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

JournalState = Literal["submitting", "submitted", "done", "failed"]
# What happened to a job, when (``Journal.timeline``): it waited for its engine (queued),
# the engine accepted it (submitted), said it was finished (done), its clip came (downloaded),
# or it ended without one (failed).
JobEvent = Literal["queued", "submitted", "done", "downloaded", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    engine TEXT NOT NULL,
    shot TEXT NOT NULL,
    state TEXT NOT NULL,
    job_id TEXT,
    submits INTEGER NOT NULL DEFAULT 0,
    submitted_at REAL,
    finished_at REAL,
    error TEXT,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS assets (
    engine TEXT NOT NULL,
    content TEXT NOT NULL,
    reference TEXT NOT NULL,
    uploaded_at REAL NOT NULL,
    expires_at REAL,
    PRIMARY KEY (engine, content)
);
CREATE TABLE IF NOT EXISTS events (
    key TEXT NOT NULL,
    event TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_key ON events (key)
"""
# A cached asset reference is reused only while this much of it is left: at least an hour (a
# job may wait that long before the engine fetches its images), or a tenth of its lifetime.
ASSET_MARGIN = 3600.0
ASSET_MARGIN_SHARE = 0.1
SIDE_PREFIX = "side:"  # the key of a paid side job (an identity image) starts with this


@dataclass(frozen=True)
class JobRow:
    key: str
    engine: str
    shot: str
    state: JournalState
    job_id: str | None
    submits: int  # requests that may have created a job (each one possibly billed)
    submitted_at: float | None  # wall-clock time the engine accepted the job
    finished_at: float | None
    error: str | None
    updated_at: float | None = None  # of a `submitting` row: when its request was about to leave


class Journal:
    """A durable record of remote jobs, safe to share between the threads of one render."""

    def __init__(self, path: Path, *, blank: Callable[[str], str] | None = None) -> None:
        """``blank``: the gate every text written here passes (``ministudio.safety.secrets.blank``,
        the process's gate, unless the render gives one that knows its own env too)."""
        from ministudio.safety.secrets import blank as process_blank

        self._blank = blank or process_blank
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a row is on disk before we wait on it
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._lock = threading.Lock()

    def _migrate(self) -> None:
        """Bring a journal written by an earlier version up to the current schema."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(assets)")}
        if "expires_at" not in columns:
            try:
                self._db.execute("ALTER TABLE assets ADD COLUMN expires_at REAL")
            except sqlite3.OperationalError as exc:  # another process just added it
                if "duplicate column" not in str(exc):
                    raise

    def close(self) -> None:
        self._db.close()

    def get(self, key: str) -> JobRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT key, engine, shot, state, job_id, submits, submitted_at, finished_at, "
                "error, updated_at FROM jobs WHERE key = ?",
                (key,),
            ).fetchone()
        return JobRow(*row) if row else None

    def rows(self, keys: list[str]) -> dict[str, JobRow]:
        """The rows of these job keys (those that exist)."""
        return {key: row for key in keys if (row := self.get(key)) is not None}

    def side_jobs(self, shots: list[str]) -> list[JobRow]:
        """The paid side jobs (identity images) these shots asked for, oldest first."""
        with self._lock:
            found = self._db.execute(
                "SELECT key, engine, shot, state, job_id, submits, submitted_at, finished_at, "
                f"error FROM jobs WHERE key LIKE '{SIDE_PREFIX}%' ORDER BY updated_at"
            ).fetchall()
        wanted = set(shots)
        return [JobRow(*row) for row in found if row[2] in wanted]

    def event(self, key: str, event: JobEvent) -> None:
        """Note that ``event`` happened to the job ``key`` now."""
        with self._lock:
            self._db.execute(
                "INSERT INTO events (key, event, at) VALUES (?, ?, ?)", (key, event, time.time())
            )

    def timeline(self, keys: list[str]) -> dict[str, list[tuple[JobEvent, float]]]:
        """Each of these jobs' events, oldest first, as (event, Unix time), across renders."""
        found: dict[str, list[tuple[JobEvent, float]]] = {}
        with self._lock:
            for key in dict.fromkeys(keys):
                rows = self._db.execute(
                    "SELECT event, at FROM events WHERE key = ? ORDER BY at, rowid", (key,)
                ).fetchall()
                if rows:
                    found[key] = [(event, at) for event, at in rows]
        return found

    def submitting(self, key: str, engine: str, shot: str) -> None:
        """About to send a submit request that may create (and bill) a job."""
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (key, engine, shot, state, submits, updated_at) "
                "VALUES (?, ?, ?, 'submitting', 1, ?) "
                "ON CONFLICT(key) DO UPDATE SET state = 'submitting', job_id = NULL, "
                "submits = submits + 1, error = NULL, updated_at = excluded.updated_at",
                (key, engine, shot, now),
            )

    def not_sent(self, key: str) -> None:
        """The submit request certainly created nothing (refused before acceptance)."""
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET state = 'unsent', submits = max(submits - 1, 0), updated_at = ? "
                "WHERE key = ?",
                (time.time(), key),
            )

    def submitted(self, key: str, job_id: str, *, at: float | None = None) -> None:
        """The engine accepted the job under ``job_id``."""
        now = time.time()
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET state = 'submitted', job_id = ?, submitted_at = ?, "
                "updated_at = ? WHERE key = ?",
                (job_id, at or now, now, key),
            )
        self.event(key, "submitted")

    def done(self, key: str) -> None:
        now = time.time()
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET state = 'done', finished_at = ?, updated_at = ? WHERE key = ?",
                (now, now, key),
            )
        self.event(key, "downloaded")

    def failed(self, key: str, error: str) -> None:
        """The job ended without a clip; a later render may submit it again. ``error`` is
        written through the journal's blanking gate."""
        error, now = self._blank(error), time.time()
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, updated_at = ? "
                "WHERE key = ?",
                (error, now, now, key),
            )
        self.event(key, "failed")

    def asset(self, engine: str, content: str, *, now: float | None = None) -> str | None:
        """The engine's reference for a file with this content hash, if it was uploaded and
        has not expired: it must have ``ASSET_MARGIN`` seconds, or ``ASSET_MARGIN_SHARE`` of
        its lifetime if that is longer, still to go."""
        with self._lock:
            row = self._db.execute(
                "SELECT reference, uploaded_at, expires_at FROM assets "
                "WHERE engine = ? AND content = ?",
                (engine, content),
            ).fetchone()
        if not row:
            return None
        reference, uploaded_at, expires_at = row
        if expires_at is not None:
            margin = max(ASSET_MARGIN, ASSET_MARGIN_SHARE * (expires_at - uploaded_at))
            if expires_at - (time.time() if now is None else now) < margin:
                return None
        return str(reference)

    def uploaded(
        self, engine: str, content: str, reference: str, *, expires_at: float | None = None
    ) -> None:
        """Record the engine's reference for this content; ``expires_at``: when it stops working."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO assets (engine, content, reference, uploaded_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?)",
                (engine, content, reference, time.time(), expires_at),
            )

    def latencies(self, engine: str, last: int = 20) -> list[float]:
        """Seconds from acceptance to done of this engine's most recent finished jobs (its
        clips: side jobs, such as identity images, take their own time)."""
        with self._lock:
            found = self._db.execute(
                "SELECT finished_at - submitted_at FROM jobs WHERE engine = ? AND state = 'done' "
                f"AND submitted_at IS NOT NULL AND key NOT LIKE '{SIDE_PREFIX}%' "
                "ORDER BY finished_at DESC LIMIT ?",
                (engine, last),
            ).fetchall()
        return [row[0] for row in found]
