"""Pacing remote calls: retries with backoff for transient errors, polls shaped by how
long an engine's jobs take, and per-engine request rates.

``MINISTUDIO_LOOKUP_GRACE`` (seconds, 0 to 60; default 3): how long a request whose answer
was lost is given to land before the engine is asked for it (``RetryPolicy.lookup_grace``),
read when a policy is made. A value that is not a number is ignored; one out of range is
brought to the nearest bound.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections import deque
from dataclasses import dataclass, field

import anyio

from ministudio.errors import TransientError

LOOKUP_GRACE = 3.0  # seconds, unless MINISTUDIO_LOOKUP_GRACE says otherwise
MAX_LOOKUP_GRACE = 60.0


def lookup_grace_from_env() -> float:
    """``MINISTUDIO_LOOKUP_GRACE`` in seconds, bounded to 0..60; 3 when unset or not a number."""
    raw = os.environ.get("MINISTUDIO_LOOKUP_GRACE", "").strip()
    try:
        value = float(raw) if raw else LOOKUP_GRACE
    except ValueError:
        return LOOKUP_GRACE
    if math.isnan(value):
        return LOOKUP_GRACE
    return min(max(value, 0.0), MAX_LOOKUP_GRACE)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a passing failure is retried (per phase of a job)."""

    attempts: int = 6
    base: float = 0.5  # seconds before the first retry; doubles each time
    cap: float = 30.0
    # Seconds a job keeps waiting out "busy, come back in N s" (a failure with the engine's
    # retry hint: a 429) without spending attempts: a full queue is not a broken engine.
    patience: float = 900.0
    # Seconds a request whose answer was lost is given to land before the engine is asked
    # for it: a server may commit a job a moment after its client died, and a lookup that
    # comes first would find nothing and send it again.
    # (``MINISTUDIO_LOOKUP_GRACE`` when set: see the module's docstring.)
    lookup_grace: float = field(default_factory=lookup_grace_from_env)

    async def let_land(self, since: float | None) -> None:
        """Wait until ``lookup_grace`` seconds have passed since the lost request left."""
        if since is not None:
            await anyio.sleep(max(0.0, since + self.lookup_grace - time.time()))

    def delay(self, attempt: int, hint: float | None) -> float:
        if hint is not None:
            return min(max(hint, 0.0), self.cap * 4)
        return float(min(self.cap, self.base * 2.0**attempt) * random.uniform(0.8, 1.2))


class Attempts:
    """One phase's failures under a policy. Failures that come with the engine's hint of
    when to come back (a 429) are free for ``patience`` seconds: a full queue is not a
    broken engine."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.used = 0
        self.started = time.monotonic()

    def failed(self, exc: TransientError) -> float | None:
        """Seconds to wait before trying again, or None when the attempts are spent."""
        patient = time.monotonic() - self.started < self.policy.patience
        if not (exc.retry_after is not None and patient) and not self.spend():
            return None
        return self.policy.delay(self.used, exc.retry_after)

    def spend(self) -> bool:
        """Count one attempt; False when none is left."""
        self.used += 1
        return self.used < self.policy.attempts


@dataclass(frozen=True)
class PollPlan:
    """When to ask for a job's status: quiet until it is nearly due, then often, then rarely.

    ``expected`` is the typical seconds from acceptance to done. Polls start at ``start`` x
    expected and come every ``step`` x expected until ``until`` x expected, then back off.
    """

    expected: float
    start: float = 0.72
    step: float = 0.045
    until: float = 1.25
    floor: float = 0.05  # never poll more often than this (seconds)

    def next_delay(self, elapsed: float, hint: float | None) -> float:
        """Seconds to wait before the next status request, ``elapsed`` after acceptance."""
        e = self.expected
        if elapsed < self.start * e:
            delay = self.start * e - elapsed
        elif elapsed < self.until * e:
            delay = self.step * e
        else:
            delay = max(self.step * e, (elapsed - self.until * e) * 0.5)
        delay = max(self.floor, delay * random.uniform(0.9, 1.1))
        if hint is not None:
            delay = max(delay, hint) if elapsed >= self.start * e else max(hint, delay)
        return delay


class RateLimiter:
    """At most ``per_minute`` calls in any 60 s window (a sliding log)."""

    def __init__(self, per_minute: int | None) -> None:
        self.per_minute = per_minute
        self._calls: deque[float] = deque()
        self._lock = anyio.Lock()

    async def wait(self) -> None:
        if not self.per_minute:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._calls and now - self._calls[0] >= 60:
                    self._calls.popleft()
                if len(self._calls) < self.per_minute:
                    self._calls.append(now)
                    return
                await anyio.sleep(60 - (now - self._calls[0]))
