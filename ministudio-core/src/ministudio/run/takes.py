"""A shot's takes: the first (its engine, else each fallback), checked; then retakes up the
production's ladder while a check fails, within the budget; the best take is kept."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ministudio.errors import MinistudioError
from ministudio.jobs import EditRequest, PrevizSource, QCVerdict
from ministudio.plan.estimate import money
from ministudio.plan.shots import PlannedShot, speaks_natively
from ministudio.qc.retakes import Take, best, climb, failing
from ministudio.qc.verdicts import Inspector
from ministudio.run.clips import Clips
from ministudio.run.context import RenderContext
from ministudio.run.lipsync import LipSync
from ministudio.run.manifest import AttemptRecord, FallbackRecord, ShotRecord, TakeRecord
from ministudio.run.progress import Progress, ShotEvent
from ministudio.run.promotion import follows
from ministudio.run.requests import Requests
from ministudio.run.shots import Made, Shot
from ministudio.spec import Rung

if TYPE_CHECKING:
    from ministudio.qc.checks import Footage
    from ministudio.review.apply import Decided

log = logging.getLogger("ministudio.run.takes")

# What the shot's record takes from the take it keeps.
_TAKE_FIELDS = (
    "engine",
    "model",
    "prompt",
    "seed",
    "requested_duration",
    "job_key",
    "inputs",
    "engine_job_id",
    "conditioning",
    "ignored",
    "cached",
    "qc",
)


class Takes:
    """Makes, checks and keeps the takes of one render's shots."""

    def __init__(
        self,
        ctx: RenderContext,
        requests: Requests,
        clips: Clips,
        inspector: Inspector,
        progress: Progress,
        lipsync: LipSync,
    ) -> None:
        self.ctx, self.requests, self.clips = ctx, requests, clips
        self.inspector, self.progress, self.lipsync = inspector, progress, lipsync
        self.allowance: float | None = None  # USD the budget leaves for retakes (None: no limit)
        # the shot's previz (set by the renderer), for the ``promote`` rung
        self.promotion: Callable[[Shot], PrevizSource | None] = lambda shot: None

    async def first(self, shot: Shot, take: Take, previous: Shot | None) -> Made:
        """The shot's first take: its engine, else each of its fallbacks in turn, checked.
        A fallback that renders it is recorded (``fallback_from``) with why the engine failed.
        None is tried once the shot after it started from this take's frame (``lead``): a
        clip from another engine would not join that shot."""
        ctx, made = self.ctx, None
        for engine in (take.engine, *shot.planned.fallbacks):
            shot.record.engine = engine.id  # for `status` while it renders, or if it fails
            try:
                made = await self.shoot(shot, dataclasses.replace(take, engine=engine))
                break
            except Exception as exc:  # a crashing plugin fails its shot, not the film
                error = ctx.failure(exc, engine)
                shot.record.failed_attempts.append(AttemptRecord(engine=engine.id, error=error))
                log.debug("shot %s on %s: %s", shot.planned.id, engine.id, ctx.traceback(exc))
                cause = exc
                if shot.lead is not None:  # the next shot started from this take's frame
                    break
        if made is None:
            raise MinistudioError(shot.record.failed_attempts[-1].error) from cause
        if shot.record.failed_attempts:
            first = shot.record.failed_attempts[0]
            shot.record.fallback_from = FallbackRecord(engine=first.engine, reason=first.error)
        return await self.check(shot, made, previous)

    async def shoot(self, shot: Shot, take: Take) -> Made:
        """Render ``take`` (or find it in the store)."""
        record = ShotRecord(
            id=shot.record.id,
            scene=shot.record.scene,
            index=shot.record.index,
            seed=take.seed,
            start=shot.record.start,
            duration=shot.record.duration,
            frames=shot.record.frames,
        )
        clip, source, fit_key = await self.clips.take(shot, take, record)
        return Made(take, clip, source, record, fit_key)

    async def check(self, shot: Shot, made: Made, previous: Shot | None) -> Made:
        """Run the checks on a take (with its seam for a `continue` shot) into its record."""
        from ministudio.qc.checks import seam

        record, clip, fps = made.record, made.clip, self.ctx.fps
        assert shot.brief is not None
        given = self.lipsync.checked(shot, made.take.engine)  # the engine was given the voice
        voice = self.requests.voice(shot) if given and self.inspector.judge else None
        seconds = shot.timing.duration
        record.qc = await self.inspector.verdicts(shot.brief, clip, seconds, fps, voice)
        lips = self.lipsync.check(shot) if given else None
        footage, on_lips = await self.ctx.executor.media(footage_of, clip, lips)
        made.footage = footage
        record.qc += [on_lips] if on_lips is not None else []
        if made.take.source is not None:
            record.qc.append(await follows(self.ctx, clip, made.take.source))
        if previous is not None:
            await previous.done.wait()  # its frames come with its own checks
        if previous is not None and previous.footage is not None:
            record.qc.append(seam(previous.footage, footage))
        record.cost += sum(verdict.cost for verdict in record.qc)
        return made

    async def retake(
        self, shots: list[Shot], shot: Shot, first: Made, previous: Shot | None
    ) -> Made:
        """Climb the production's retake ladder while a check fails; the best take is kept."""
        ps, qc = shot.planned, self.ctx.p.qc
        attempts: list[Made | TakeRecord] = [first]  # a TakeRecord: a retake that failed
        made, rungs, take = [first], iter(qc.ladder), first.take
        scene_frame = None
        if qc.retakes and {"references", "first-frame"} & set(qc.ladder):
            scene_frame = await self._scene_frame(shots, shot)  # waits for the previous shot
        while failing(made[-1].record.qc):
            if len(attempts) > qc.retakes:
                shot.record.retakes_stopped = (
                    f"all {qc.retakes} retakes were used"
                    if qc.retakes
                    else "retakes are off (qc.retakes: 0)"
                )
                break
            previz = self.promotion(shot) if "promote" in qc.ladder else None
            climbed = next_rung(
                rungs, take, len(attempts), attempts, ps, self.ctx.p.seed, scene_frame, made[-1],
                previz,
            )  # fmt: skip
            if climbed is None:
                shot.record.retakes_stopped = "no rung of the retake ladder applies any more"
                break
            take = climbed
            cost = self._retake_cost(shot, take)
            if not self.afford(cost):
                shot.record.retakes_stopped = (
                    f"a retake on {take.engine.id} ({money(cost)}) would pass the budget"
                )
                break
            why = "; ".join(v.reason for v in failing(made[-1].record.qc))
            self.progress.event(
                ShotEvent(ps.id, "rendering", take.engine.id, detail=f"retake ({take.rung}): {why}")
            )
            try:
                rendered = await self.shoot(shot, take)
            except Exception as exc:  # an engine failing a retake leaves the takes made
                error = self.ctx.failure(exc, take.engine)
                attempts.append(
                    TakeRecord(rung=take.rung, engine=take.engine.id, seed=take.seed, error=error)
                )
                continue
            made.append(await self.check(shot, rendered, previous))
            attempts.append(made[-1])
        kept = made[best([t.record.qc for t in made])]
        if kept.take.engine.id != first.take.engine.id and shot.record.fallback_from is None:
            # the ladder's `engine` rung: the routed engine's takes failed their checks
            why = "; ".join(v.reason for v in failing(first.record.qc))
            shot.record.fallback_from = FallbackRecord(
                engine=first.take.engine.id, reason=f"its take failed the checks: {why}"
            )
        if len(attempts) > 1:
            shot.record.takes = [
                take_record(t, kept=t is kept) if isinstance(t, Made) else t for t in attempts
            ]
        return kept

    def keep(self, shot: Shot, take: Made) -> None:
        """Make ``take`` the shot's clip; the shot's cost is every take's."""
        spent = sum(t.cost for t in shot.record.takes) if shot.record.takes else take.record.cost
        for name in _TAKE_FIELDS:
            setattr(shot.record, name, getattr(take.record, name))
        shot.record.qc = list(take.record.qc)
        shot.record.cost = round(spent, 6)
        shot.clip, shot.source, shot.footage = take.clip, take.source, take.footage
        shot.fit_key = shot.record.clip = take.fit_key

    async def picked(self, shot: Shot, chosen: TakeRecord, previous: Shot | None) -> Made:
        """The take a reviewer picked (or approved), from the store, checked again (its
        neighbours may have changed); ``ReviewError`` when it can no longer be used."""
        from ministudio.media.probe import probe
        from ministudio.review.decisions import ReviewError

        store, ps = self.ctx.store, shot.planned
        key = chosen.clip
        clip = store.get(key, ".mp4") if key else None
        if key is None or clip is None:
            raise ReviewError(
                f"its picked take is no longer in the store ({store.root}): "
                "pick another take or retake the shot"
            )
        frames = (await self.ctx.executor.media(probe, clip)).frames
        if frames != shot.timing.frames:
            raise ReviewError(
                f"its picked take has {frames} frames and the shot now has "
                f"{shot.timing.frames} (its lines changed since the review): retake it"
            )
        engine = self.ctx.host.engines.get(chosen.engine, ps.engine)
        record = ShotRecord(
            id=shot.record.id,
            scene=shot.record.scene,
            index=shot.record.index,
            seed=chosen.seed,
            start=shot.record.start,
            duration=shot.record.duration,
            frames=shot.record.frames,
            engine=chosen.engine,
            model=chosen.model,
            prompt=chosen.prompt,
            job_key=chosen.job_key,
            engine_job_id=chosen.engine_job_id,
            conditioning=chosen.conditioning,
            cached=True,
        )
        raw = store.get(chosen.job_key, ".mp4") if chosen.job_key else None
        take = Take(engine, chosen.seed, rung=chosen.rung)
        return await self.check(shot, Made(take, clip, raw, record, key), previous)

    def reviewed(self, shot: Shot, kept: Made, review: Decided) -> None:
        """Record what the review said of ``shot`` and the takes a reviewer can pick from:
        a retaken shot's earlier takes stay listed before its new ones."""
        record = shot.record
        record.review = review.records.get(record.id)
        if record.id in review.keep and len(review.takes[record.id]) > 1:
            chosen = review.keep[record.id]
            record.takes = [
                t.model_copy(update={"kept": t is chosen}) for t in review.takes[record.id]
            ]
        elif record.id in review.earlier:
            new = record.takes or [take_record(kept, kept=True)]
            seen = {t.clip for t in new}
            earlier = [
                t.model_copy(update={"kept": False})
                for t in review.earlier[record.id]
                if t.clip not in seen
            ]
            record.takes = earlier + new

    async def _scene_frame(self, shots: list[Shot], shot: Shot) -> Path | None:
        """The last frame of the shot before ``shot`` in its scene (None for the first)."""
        i = shots.index(shot)
        if i == 0 or shots[i - 1].planned.scene is not shot.planned.scene:
            return None
        before = shots[i - 1]
        await before.done.wait()
        if before.clip is None or before.fit_key is None:
            return None
        return await self.clips.continue_frame(
            before.fit_key, before.timing.frames, before.source, before.clip
        )

    def _retake_cost(self, shot: Shot, take: Take) -> float | None:
        """What a retake would spend: nothing if its clip is in the store."""
        job, store = self.requests.job(shot, take), self.ctx.store
        if store.get(job.fit_key, ".mp4") or store.get(job.key, ".mp4"):
            return 0.0
        return self.ctx.host.estimate_cost(take.engine, job.request)

    def afford(self, cost: float | None) -> bool:
        """Spend ``cost`` of what the budget leaves after the planned render, if it is there
        (an unknown cost never is, under a budget)."""
        if self.allowance is None:
            return True
        if cost is None:
            return False
        if cost > self.allowance + 1e-9:
            return False
        self.allowance -= cost
        return True


def footage_of(
    clip: Path, lips: Callable[[Footage], QCVerdict] | None = None
) -> tuple[Footage, QCVerdict | None]:
    """A few of ``clip``'s frames, for the seam and the checks across shots; and ``lips``
    (the lip-sync check) on all of them, from the same decoding."""
    from ministudio.qc.checks import decode
    from ministudio.qc.checks.continuity import sample

    whole = decode(clip, sound=False)
    return sample(whole), lips(whole) if lips is not None else None


def next_rung(
    rungs: Iterator[Rung],
    last: Take,
    number: int,
    attempts: list[Made | TakeRecord],
    ps: PlannedShot,
    production_seed: int,
    scene_frame: Path | None,
    latest: Made,
    previz: PrevizSource | None = None,
) -> Take | None:
    """Retake ``number``: ``last`` changed by the next rung of the ladder that applies;
    ``latest`` is the last take made (what an ``edit`` rung changes), ``previz`` the shot's
    (what a ``promote`` rung makes the take from)."""
    tried = [t.take.engine.id if isinstance(t, Made) else t.engine for t in attempts]
    edit = None
    if latest.take.engine.id == last.engine.id and latest.record.engine_job_id:
        reasons = tuple(v.reason for v in failing(latest.record.qc))
        edit = EditRequest(job_id=latest.record.engine_job_id, reasons=reasons)
    for rung in rungs:
        take = climb(
            last,
            rung,
            number=number,
            production_seed=production_seed,
            shot_id=ps.id,
            scene_frame=scene_frame,
            fallbacks=ps.fallbacks,
            tried=tried,
            native_audio=speaks_natively(ps),
            edit=edit,
            previz=previz,
        )
        if take is not None:
            return take
    return None


def take_record(made: Made, *, kept: bool) -> TakeRecord:
    record = made.record
    return TakeRecord(
        rung=made.take.rung,
        engine=made.take.engine.id,
        model=record.model,
        prompt=record.prompt,
        seed=made.take.seed,
        job_key=record.job_key,
        clip=made.fit_key,
        engine_job_id=record.engine_job_id,
        conditioning=record.conditioning,
        cached=record.cached,
        cost=record.cost,
        qc=record.qc,
        kept=kept,
    )
