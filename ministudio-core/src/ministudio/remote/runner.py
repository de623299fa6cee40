"""Running one job on a remote engine: submit once, wait, download; survive crashes.

The journal is written immediately before every request that may create a job (engines that
declare ``marks_sending`` say when, through ``context.sending()``; for the others, before the
submit hook), and the job id as soon as the engine answers, so a later run resumes the same job
instead of paying for a new one. Paid side jobs (``EngineContext.paid``) go the same way.
Waiting uses the engine's webhook when one is set up, else polls shaped by how long the
engine's jobs take (learned from the journal), with jitter, honouring the engine's hints.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import anyio

from ministudio.engines import EngineContext, EngineSpec, Paid, SideJob
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MinistudioError,
    TransientError,
)
from ministudio.remote.journal import SIDE_PREFIX, Journal
from ministudio.run.failpoints import checkpoint

if TYPE_CHECKING:
    from ministudio.jobs import HostedAsset, JobStatus, VideoRequest, VideoResult
    from ministudio.plugins import PluginHost

_T = TypeVar("_T")


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
    lookup_grace: float = 3.0

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


@dataclass
class WebhookHub:
    """Statuses pushed by engines, waiting for the job that wants them. A terminal one is the
    job's outcome; a thin one (``JobStatus.thin``) says "the job changed: ask the engine"."""

    _statuses: dict[str, JobStatus] = field(default_factory=dict)
    _asked: set[str] = field(default_factory=set)  # jobs a thin push named, not yet asked
    _events: dict[str, anyio.Event] = field(default_factory=dict)

    def deliver(self, status: JobStatus) -> None:
        if status.thin:
            self._asked.add(status.job_id)
        else:
            self._statuses[status.job_id] = status
        if status.thin or status.state in ("succeeded", "failed"):
            self._events.setdefault(status.job_id, anyio.Event()).set()

    async def wait(self, job_id: str, timeout: float) -> JobStatus | None:
        """The job's terminal status, or the thin push that named it (once), as soon as
        one is pushed (at once if it already was); None after ``timeout`` seconds."""
        with anyio.move_on_after(timeout):
            while True:
                pushed = self.pushed(job_id)
                if pushed is not None:
                    return pushed
                if job_id in self._asked:
                    from ministudio.jobs import JobStatus

                    self._asked.discard(job_id)
                    return JobStatus(job_id=job_id, state="running", thin=True)
                event = self._events[job_id] = anyio.Event()
                await event.wait()
        return None

    def pushed(self, job_id: str) -> JobStatus | None:
        """The job's terminal status if a webhook already brought it."""
        status = self._statuses.get(job_id)
        return status if status is not None and status.state in ("succeeded", "failed") else None


class RemoteRunner:
    """Runs jobs on remote engines through the journal."""

    def __init__(
        self,
        host: PluginHost,
        journal: Journal,
        *,
        webhooks: WebhookHub | None = None,
        retry: RetryPolicy | None = None,
        forget_lost: bool = False,
    ) -> None:
        self.host = host
        self.forget_lost = forget_lost  # resubmit jobs whose submit answer was lost
        self.journal = journal
        self.webhooks = webhooks
        self.retry = retry or RetryPolicy()
        self._rates: dict[str, RateLimiter] = {}
        self.status_requests = 0

    def rate(self, engine: EngineSpec, per_minute: int | None) -> RateLimiter:
        if engine.id not in self._rates:
            self._rates[engine.id] = RateLimiter(per_minute)
        return self._rates[engine.id]

    async def run(
        self,
        engine: EngineSpec,
        request: VideoRequest,
        key: str,
        output: Path,
        context: EngineContext,
        *,
        shot: str,
        rate: RateLimiter,
        on_submitted: Callable[[str], None] = lambda job_id: None,
    ) -> VideoResult:
        """Resume or submit the job for ``key``, wait for it, and download it to ``output``."""
        job_id, accepted_at = await self._job_for(engine, request, key, context, shot, rate)
        on_submitted(job_id)
        checkpoint("id-recorded")
        status = await self._wait(engine, job_id, accepted_at, context)
        if status.state == "failed":
            self.journal.failed(key, status.error or "failed")
            if status.refused:
                raise EngineRefusal(engine.id, status.error or "refused")
            raise EngineError(
                engine.id, f"job {job_id} failed: {status.error or 'no reason given'}"
            )
        checkpoint("downloading")
        result: VideoResult = await self.retrying(
            engine,
            "download",
            lambda: self.host.call_engine(
                engine.id,
                "download_video",
                job_id=job_id,
                status=status,
                output=output,
                context=context,
                request=request,
            ),
        )
        self.journal.done(key)
        return result

    # -- submit or resume ------------------------------------------------------------------

    async def _job_for(
        self,
        engine: EngineSpec,
        request: VideoRequest,
        key: str,
        context: EngineContext,
        shot: str,
        rate: RateLimiter,
    ) -> tuple[str, float]:
        row = self.journal.get(key)
        if row is not None and row.state in ("submitted", "done") and row.job_id:
            return row.job_id, row.submitted_at or time.time()  # resume: never resubmit
        if row is not None and row.state == "submitting" and not self.forget_lost:
            found = await self._lookup(engine, key, context, request, row.updated_at)
            if found is not None:
                self.journal.submitted(key, found)
                return found, time.time()
        idempotency = key[:32]
        tries = Attempts(self.retry)
        while True:
            await rate.wait()
            sent_at: float | None = None

            def sending() -> None:
                """Mark the job in flight, once per submit call."""
                nonlocal sent_at
                if sent_at is None:
                    checkpoint("before-submit")
                    sent_at = time.time()
                    self.journal.submitting(key, engine.id, shot)

            if engine.marks_sending:
                context.on_sending = sending  # the plugin says when its request leaves
            else:
                sending()  # it may send at any moment of the hook
            try:
                submission = await self.host.call_engine(
                    engine.id,
                    "submit_video",
                    request=request,
                    idempotency_key=idempotency,
                    context=context,
                )
            except TransientError as exc:
                if sent_at is not None:
                    self.journal.not_sent(key)
                wait = tries.failed(exc)
                if wait is None:
                    raise
                await anyio.sleep(wait)
                continue
            except AmbiguousSubmission:
                sending()  # it was sent, whether or not the plugin said so
                found = await self._lookup(engine, key, context, request, sent_at)
                if found is None:  # the engine has no such job: nothing was billed, resend
                    self.journal.not_sent(key)
                    if not tries.spend():
                        raise EngineError(
                            engine.id, f"could not submit after {self.retry.attempts} tries"
                        ) from None
                    continue
                submission_id = found
            except EngineRefusal:
                if sent_at is not None:
                    self.journal.not_sent(key)
                self.journal.failed(key, "refused at submit")
                raise
            except MinistudioError:  # a typed answer (a rejected key, say): no job was made
                if sent_at is not None:
                    self.journal.not_sent(key)
                raise
            else:
                sending()  # a plugin that never said: the job exists, mark it now
                submission_id = submission.job_id
            finally:
                context.on_sending = None
            self.journal.submitted(key, submission_id)
            return submission_id, time.time()

    async def _lookup(
        self,
        engine: EngineSpec,
        key: str,
        context: EngineContext,
        request: VideoRequest,
        since: float | None,
    ) -> str | None:
        """Find a job whose submit answer was lost; stop the shot if the engine cannot say.

        ``since``: when the lost request was about to leave (the journal's mark).
        """
        if not self.host.implements(engine.id, "find_video_job"):
            raise AmbiguousSubmission(
                engine.id,
                "a submit's answer was lost and this engine offers no lookup, so the job may "
                "exist (and be billed); it was not sent again. Check the engine's dashboard, "
                "then run `ministudio render --forget-lost` to submit it once more",
            )
        await self.retry.let_land(since)
        found: str | None = await self.retrying(
            engine,
            "lookup",
            lambda: self.host.call_engine(
                engine.id,
                "find_video_job",
                idempotency_key=key[:32],
                context=context,
                request=request,
                since=since if since is not None else time.time(),
                expected=(str, type(None)),
            ),
        )
        return found

    # -- paid side jobs ------------------------------------------------------------------

    async def side_job(
        self, engine: EngineSpec, key: str, make: Paid, shot: str
    ) -> str | HostedAsset:
        """Run a paid side job (``EngineContext.paid``) through the journal: marked just
        before its request leaves, its id kept once the engine names it, so a crash is
        resumed (or looked up) by the next run instead of paid for again."""
        row_key = f"{SIDE_PREFIX}{engine.id}:{key}"
        row = self.journal.get(row_key)
        job = SideJob()
        if row is not None and row.state in ("submitted", "done") and row.job_id:
            job.job_id = row.job_id
        elif row is not None and row.state == "submitting":
            job.lost_since = row.updated_at or time.time()
            await self.retry.let_land(job.lost_since)

        def sending() -> None:
            checkpoint("side:before-submit")
            self.journal.submitting(row_key, engine.id, shot)

        def accepted(job_id: str) -> None:
            self.journal.submitted(row_key, job_id)
            checkpoint("side:id-recorded")

        job.on_sending, job.on_accepted = sending, accepted
        job.on_failed = lambda: self.journal.failed(row_key, "the side job failed")
        made = await make.make(job)
        self.journal.done(row_key)
        return made

    # -- waiting -------------------------------------------------------------------------

    async def _wait(
        self, engine: EngineSpec, job_id: str, accepted_at: float, context: EngineContext
    ) -> JobStatus:
        expected = self.expected_latency(engine)
        asked = False  # a thin push came: ask the engine at once
        if self.webhooks is not None and context.webhook_url and engine.capabilities.webhooks:
            # Trust a push of the outcome; poll only if it is long overdue (a lost webhook).
            pushed = await self.webhooks.wait(job_id, timeout=max(3 * expected, 60.0))
            if pushed is not None and pushed.state in ("succeeded", "failed"):
                return pushed
            asked = pushed is not None  # thin
        plan = PollPlan(expected)
        hint: float | None = None
        while True:
            elapsed = time.time() - accepted_at
            if not asked:
                await anyio.sleep(plan.next_delay(elapsed, hint))
            asked = False
            pushed_status = self.webhooks.pushed(job_id) if self.webhooks else None
            if pushed_status is not None:
                return pushed_status
            self.status_requests += 1
            status: JobStatus = await self.retrying(
                engine,
                "status",
                lambda: self.host.call_engine(
                    engine.id, "poll_video", job_id=job_id, context=context
                ),
            )
            if status.progress is not None:
                context.progress(status.progress)
            if status.state in ("succeeded", "failed"):
                return status
            checkpoint("polling")
            hint = status.retry_after

    def expected_latency(self, engine: EngineSpec) -> float:
        """The median of the engine's recent jobs, else what it declares, else 10 s."""
        seen = self.journal.latencies(engine.id)
        if len(seen) >= 3:
            return max(statistics.median(seen), 0.05)
        return engine.capabilities.expected_latency or 10.0

    async def retrying(
        self, engine: EngineSpec, phase: str, call: Callable[[], Awaitable[_T]]
    ) -> _T:
        """``call`` again after each TransientError, with backoff, up to the policy's attempts.

        Failures that come with the engine's hint of when to come back (429s) are waited out
        for up to ``patience`` seconds without counting as attempts.
        """
        tries = Attempts(self.retry)
        while True:
            try:
                return await call()
            except TransientError as exc:
                wait = tries.failed(exc)
                if wait is None:
                    raise EngineError(
                        engine.id,
                        f"{phase} kept failing ({exc}); run render again later",
                        retryable=True,
                    ) from exc
                await anyio.sleep(wait)
