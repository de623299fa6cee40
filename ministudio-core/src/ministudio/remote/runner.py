"""Running one job on a remote engine: submit once, wait, download; survive crashes.

The journal is written immediately before every request that may create a job (engines that
declare ``marks_sending`` say when, through ``context.sending()``; for the others, before the
submit hook), and the job id as soon as the engine answers, so a later run resumes the same job
instead of paying for a new one. Paid side jobs (``EngineContext.paid``) go the same way.
Waiting uses the engine's webhook when one is set up, else polls shaped by how long the
engine's jobs take (learned from the journal), with jitter, honouring the engine's hints.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import anyio

from ministudio.engines import EngineContext, EngineSpec, Made, Paid, SideJob
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MinistudioError,
    TransientError,
)
from ministudio.jobs import HostedAsset
from ministudio.remote.journal import SIDE_PREFIX, Journal
from ministudio.remote.pacing import Attempts, PollPlan, RateLimiter, RetryPolicy
from ministudio.remote.webhooks import WebhookHub
from ministudio.run.failpoints import checkpoint

if TYPE_CHECKING:
    from ministudio.jobs import JobStatus, LipSyncRequest, VideoRequest, VideoResult
    from ministudio.plugins import PluginHost

_T = TypeVar("_T")


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
        self._locks: dict[tuple[str, str], anyio.Lock] = {}
        self.status_requests = 0

    def rate(self, engine: EngineSpec, per_minute: int | None) -> RateLimiter:
        if engine.id not in self._rates:
            self._rates[engine.id] = RateLimiter(per_minute)
        return self._rates[engine.id]

    async def run(
        self,
        engine: EngineSpec,
        request: VideoRequest | LipSyncRequest,
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
        self.journal.event(key, "done")
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
        request: VideoRequest | LipSyncRequest,
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
                    submit_hook(request),
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
        request: VideoRequest | LipSyncRequest,
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

    # -- assets made once, and paid side jobs ----------------------------------------------

    async def remember(self, engine: EngineSpec, key: str, make: Made, shot: str = "") -> str:
        """``make()``'s reference for ``(engine, key)``, made once and kept in the journal;
        later shots and runs reuse it until it is close to expiring (``Journal.asset``). A
        paid side job (``Paid``) is a journal job of its own while it is made."""
        async with self._locks.setdefault((engine.id, key), anyio.Lock()):
            reference = self.journal.asset(engine.id, key)
            if reference is None:
                if isinstance(make, Paid):
                    made = await self.side_job(engine, key, make, shot)
                else:
                    made = await make()
                hosted = HostedAsset(reference=made) if isinstance(made, str) else made
                reference = hosted.reference
                self.journal.uploaded(engine.id, key, reference, expires_at=hosted.expires_at)
        return reference

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
        elif row is not None and row.state == "submitting" and not self.forget_lost:
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


def submit_hook(request: VideoRequest | LipSyncRequest) -> str:
    """The hook that sends ``request``: a lip-sync pass or a clip."""
    from ministudio.jobs import LipSyncRequest

    return "submit_lip_sync" if isinstance(request, LipSyncRequest) else "submit_video"
