"""A shot's lips and its voice: the lip-sync check on a take, and the lip-sync pass.

The check (``qc.checks.lipsync``) runs on every take of a shot where a character speaks on
screen and the take's engine was given the voice (``reference_audio``) or a pass moved its
mouths: elsewhere the mouths were never told the words, and no re-rendering would fix them.

The pass runs where ``routing.lipsync`` names an engine (a ``lipsync`` job after the clip
job): the take fitted to the film, plus the shot's voice, become a clip whose mouths follow
it, fitted again and checked. Its key covers the fitted take, the voice, the engine and its
options, so an edited line re-syncs without the picture being made again. While the check
fails and retakes are left, the ``lipsync`` rung asks for the pass once more (a new key,
``LipSyncRequest.attempt``). A pass that cannot be made leaves the take in the film, and
says why in the shot's record.
"""

from __future__ import annotations

import functools
import logging
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ministudio.engines import EngineContext, EngineSpec
from ministudio.jobs import LipSyncRequest, QCVerdict
from ministudio.plan.estimate import ShotPlan, money
from ministudio.plan.graph import engine_code
from ministudio.plan.voicing import on_screen
from ministudio.run.context import RenderContext
from ministudio.run.engine_calls import EngineCalls
from ministudio.run.failpoints import checkpoint
from ministudio.run.manifest import LipSyncRecord, ShotRecord
from ministudio.run.progress import Progress, ShotEvent
from ministudio.run.requests import Requests
from ministudio.run.shots import Shot
from ministudio.run.store import job_key

log = logging.getLogger("ministudio.run.lipsync")

CHECK = "lipsync"


@dataclass(frozen=True)
class LipSyncJob:
    """One pass: what the engine is asked, the key of its clip, the key of that clip fitted."""

    request: LipSyncRequest
    key: str
    fit_key: str


class LipSync:
    """The lip-sync checks and passes of one render."""

    def __init__(
        self, ctx: RenderContext, requests: Requests, engines: EngineCalls, progress: Progress
    ) -> None:
        self.ctx, self.requests, self.engines, self.progress = ctx, requests, engines, progress

    def check_keys(self, engines: Iterable[EngineSpec | None]) -> None:
        """Raise ``MissingKeyError`` now, before anything is spent, for a routed lip-sync
        engine without its key (a pass would fail only after its shot was paid for)."""
        for engine in {e.id: e for e in engines if e is not None}.values():
            context = EngineContext(
                engine=engine.id, work_dir=self.ctx.store.root, env=self.ctx.env
            )
            context.check_keys(engine)

    def checked(self, shot: Shot, engine: EngineSpec) -> bool:
        """Whether a take of ``shot`` by ``engine`` gets the lip-sync check: a character in
        frame speaks, and the engine was given the voice."""
        assert shot.brief is not None
        return engine.capabilities.reference_audio and bool(on_screen(shot.brief))

    def check(self, shot: Shot) -> functools.partial[QCVerdict] | None:
        """The lip-sync check of a picture of ``shot`` (its whole decoded footage) against
        the shot's voice; None when no character in frame speaks. Picklable: it may run
        wherever the render's media work runs."""
        from ministudio.qc.checks.lipsync import lipsync_of_footage

        brief = shot.brief
        assert brief is not None
        voice = self.requests.voice(shot)
        if voice is None:
            return None
        seen = set(on_screen(brief))
        timed = [(i, (line.start, line.end)) for i, line in enumerate(brief.lines)]
        return functools.partial(
            lipsync_of_footage,
            voice_wav=voice,
            on_screen=[span for i, span in timed if i in seen and span[1] > span[0]],
            others=[span for i, span in timed if i not in seen and span[1] > span[0]],
            shot_size=brief.shot_size,
            fps=self.ctx.fps,
        )

    async def verdict(self, shot: Shot, clip: Path) -> QCVerdict | None:
        """The lip-sync check of ``clip`` (the shot's picture) against the shot's voice; None
        when no character in frame speaks."""
        from ministudio.qc.checks.lipsync import lipsync_of_clip

        check = self.check(shot)
        if check is None:
            return None
        # the same check on the clip, decoded only where its shot size is judged
        found: QCVerdict = await self.ctx.executor.media(
            functools.partial(lipsync_of_clip, clip, **check.keywords)
        )
        return found

    def job(
        self, shot: Shot, engine: EngineSpec, attempt: int, clip: Path, fit_key: str
    ) -> LipSyncJob | None:
        """Pass number ``attempt`` (from 0) over ``clip``, ``shot``'s take fitted to the film
        (stored under ``fit_key``); None when no character in frame speaks."""
        ctx = self.ctx
        voice = self.requests.voice(shot)
        if voice is None or shot.brief is None:
            return None
        options = dict(ctx.p.routing.options.get(engine.id, {}))
        model = options.pop("model", None) or engine.default_model
        request = LipSyncRequest(
            shot=shot.brief,
            video=clip,
            voice=voice,
            duration=shot.timing.duration,
            width=ctx.width,
            height=ctx.height,
            fps=ctx.fps,
            model=model,
            attempt=attempt,
            options=options,
        )
        asked = {
            "engine": engine.id,
            "model": model,
            "options": options,
            "clip": fit_key,
            "voice": ctx.hash(voice),
            "size": [ctx.width, ctx.height, ctx.fps],
            **({"attempt": attempt} if attempt else {}),
            **engine_code(ctx.host, engine),
        }
        key = job_key("lipsync", asked)
        fit = {"clip": key, "size": [ctx.width, ctx.height], "fps": ctx.fps}
        return LipSyncJob(request, key, job_key("fit", {**fit, "frames": shot.timing.frames}))

    def plan(self, shot: Shot, take: tuple[Path, str] | None) -> ShotPlan | None:
        """The pass as ``plan`` shows it, after the shot's take (``(clip, fit key)`` when it
        is in the store): in the store or not, its cost. None where no pass is planned: no
        engine routed, or the take's engine animates to the voice (a pass runs only if its
        take then fails the lip-sync check)."""
        engine, ctx = shot.planned.lipsync, self.ctx
        if engine is None or not planned_pass(shot):
            return None
        job = self.job(shot, engine, 0, *take) if take else None
        stand_in = self.job(shot, engine, 0, Path("clip.mp4"), "") if job is None else job
        if stand_in is None:
            return None
        cached = job is not None and self._stored(job)
        return ShotPlan(
            id=f"{shot.planned.id}.lipsync",
            engine=engine.id,
            model=stand_in.request.model or "",
            duration=shot.timing.duration,
            requested=shot.timing.duration,
            cached=cached,
            reason="in the store" if cached else "lip-sync pass after its clip",
            cost=0.0 if cached else ctx.host.estimate_cost(engine, stand_in.request),
            seconds=0.0 if cached else self.engines.remote.expected_latency(engine),
            after=None if take else shot.planned.id,
            kind="lipsync",
        )

    async def apply(
        self, shot: Shot, engine: EngineSpec, retakes: int, afford: Callable[[float | None], bool]
    ) -> None:
        """Pass ``shot``'s kept take through ``engine``, check it, and pass it again (the
        ``lipsync`` rung) while the check fails and ``retakes`` are left; the best pass (else
        the take, if no pass could be made) becomes the shot's clip. A pass ``plan`` did not
        count (a rerun, or one over a take whose engine was given the voice) is made only if
        ``afford(its cost)``: what the budget leaves."""
        record = shot.record.lipsync = LipSyncRecord(engine=engine.id)
        on_lips = [v for v in shot.record.qc if is_lipsync(v)]  # measured, and the judge's
        if on_lips and all(v.passed for v in on_lips):
            record.state = "not needed"  # the engine animated to the voice, and it shows
            return
        passes = 1 + (retakes if "lipsync" in self.ctx.p.qc.ladder else 0)
        best: tuple[Path, str, QCVerdict | None] | None = None
        assert shot.clip is not None and shot.fit_key is not None
        take = (shot.clip, shot.fit_key)
        planned = planned_pass(shot)  # in plan's cost
        for attempt in range(passes):
            job = self.job(shot, engine, attempt, *take)
            if job is None:
                record.state = "not needed"
                return
            cost = 0.0 if self._stored(job) else self.ctx.host.estimate_cost(engine, job.request)
            if (attempt or not planned) and not afford(cost):
                record.stopped = f"a pass on {engine.id} ({money(cost)}) would pass the budget"
                break
            try:
                clip = await self._pass(shot, engine, job, record)
            except Exception as exc:  # the take (or the best pass) stays; the reason is kept
                record.error = self.ctx.failure(exc, engine)
                log.debug("lip-sync of %s: %s", shot.planned.id, self.ctx.traceback(exc))
                break
            verdict = await self.verdict(shot, clip)
            if best is None or (best[2] is not None and not best[2].passed):
                best = (clip, job.fit_key, verdict)
            if verdict is None or verdict.passed:
                break
        if best is None:  # the take stays in the film
            record.state = "failed" if record.error else "not made"
            return
        clip, fit_key, verdict = best
        shot.clip, shot.fit_key = clip, fit_key
        shot.record.clip = fit_key
        # the take's verdicts on its lips judged a picture the film no longer shows
        shot.record.qc = [v for v in shot.record.qc if not is_lipsync(v)]
        if verdict is not None:
            shot.record.qc.append(verdict)
        shot.record.cost = round(shot.record.cost + record.cost, 6)
        shot.record.output_hash = self.ctx.hash(clip)
        if record.state == "waiting":  # every pass came from the store
            record.state = "cached"

    def _stored(self, job: LipSyncJob) -> bool:
        store = self.ctx.store
        return bool(store.get(job.fit_key, ".mp4") or store.get(job.key, ".mp4"))

    async def _pass(
        self, shot: Shot, engine: EngineSpec, job: LipSyncJob, record: LipSyncRecord
    ) -> Path:
        """One pass, from the store where it was made before: the fitted clip."""
        from ministudio.media.fit import fit_clip

        ctx, store = self.ctx, self.ctx.store
        record.passes += 1
        record.job_key, record.model = job.key, job.request.model
        row = ctx.journal.get(job.key)  # a pass made by an earlier run: its job lives on
        record.engine_job_id = row.job_id if row else None
        fitted = store.get(job.fit_key, ".mp4")
        if fitted is not None:
            return fitted
        raw = store.get(job.key, ".mp4")
        scratch = store.scratch()
        try:
            if raw is None:
                detail = f"lip-sync pass {job.request.attempt + 1}"
                self.progress.event(
                    ShotEvent(shot.planned.id, "rendering", engine.id, detail=detail)
                )
                made = ShotRecord(
                    id=shot.record.id, scene="", index=-1, seed=0, start=0.0, duration=0, frames=0
                )
                raw = await self.engines.generate(engine, job.request, job.key, scratch, made)
                record.cost += made.cost
                record.state = "done"
                record.engine_job_id = made.engine_job_id
                record.model = made.model or record.model
            out = scratch / "synced.mp4"
            size = {"width": ctx.width, "height": ctx.height, "fps": ctx.fps}
            fit = functools.partial(fit_clip, raw, out, frames=shot.timing.frames, **size)
            await ctx.executor.media(fit)
            fitted = store.put(job.fit_key, out, ".mp4")
            checkpoint("lipsync-fitted")
            return fitted
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def is_lipsync(verdict: QCVerdict) -> bool:
    """A verdict on the lips: the measured check (``lipsync``) or a judge's (``lipsync:...``)."""
    return verdict.check.partition(":")[0] == CHECK


def planned_pass(shot: Shot) -> bool:
    """Whether ``plan`` counts a pass over ``shot``: its engine does not animate to the voice
    (over a take whose engine does, a pass runs only if the take fails the check)."""
    return not shot.planned.engine.capabilities.reference_audio
