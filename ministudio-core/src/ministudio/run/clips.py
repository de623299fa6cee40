"""The clips of one render: a take's clip fitted to the film (or found in the store), the
background plates shared by every shot of a place, and the last frames `continue` shots
start from."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import anyio

from ministudio.errors import MinistudioError
from ministudio.plan.conditioning import given
from ministudio.qc.retakes import Take
from ministudio.run.context import RenderContext
from ministudio.run.engine_calls import EngineCalls
from ministudio.run.failpoints import checkpoint
from ministudio.run.manifest import ShotRecord
from ministudio.run.requests import Requests
from ministudio.run.shots import Shot, job_of
from ministudio.run.store import job_key


class Clips:
    """Makes (or finds) the clips, plates and frames of one render."""

    def __init__(self, ctx: RenderContext, requests: Requests, engines: EngineCalls) -> None:
        self.ctx, self.requests, self.engines = ctx, requests, engines
        self.plates: dict[str, ShotRecord] = {}  # plates rendered or reused in this run
        self._plate_locks: dict[str, anyio.Lock] = {}

    async def take(
        self, shot: Shot, take: Take, record: ShotRecord
    ) -> tuple[Path, Path | None, str]:
        """Render ``take`` (or find it in the store) into ``record``: (the clip fitted to the
        film, the engine's own clip where it is kept, the fitted clip's key).

        A shot the next one continues hands that shot its last frame (``lead``) as soon as
        the engine's clip is in, before fitting it, when no retake can replace this take.
        """
        from ministudio.media.fit import fit_clip

        ctx, store = self.ctx, self.ctx.store
        job = self.requests.job(shot, take)
        request, key = job.request, job.key
        record.inputs, record.ignored = job.inputs, job.ignored
        record.conditioning = given(request)
        record.engine, record.model, record.prompt = take.engine.id, request.model, request.prompt
        record.requested_duration, record.job_key = request.duration, key
        shot.record.job_key = key  # the job in hand, for `status` and `cancel` while it renders
        leads = shot.followed and not shot.led.is_set() and not ctx.p.qc.retakes
        fitted = store.get(job.fit_key, ".mp4")
        if fitted is not None:
            record.cached = True
            record.engine_job_id = self._job_id(key)
            raw = store.get(key, ".mp4")
            if leads:
                await self._lead(shot, record, job.fit_key, raw, fitted)
            return fitted, raw, job.fit_key
        raw = store.get(key, ".mp4")
        scratch = store.scratch()
        try:
            if raw is None:
                raw = await self.engines.generate(take.engine, request, key, scratch, record)
            else:  # stored, not yet fitted (a render killed in between): its job id lives on
                record.cached = True
                record.engine_job_id = self._job_id(key)
            if leads:  # the next shot is sent while this one is fitted and checked
                await self._lead(shot, record, job.fit_key, raw, None)
            out = scratch / "fitted.mp4"
            size = {"width": ctx.width, "height": ctx.height, "fps": ctx.fps}
            fit = functools.partial(fit_clip, raw, out, frames=shot.timing.frames, **size)
            await ctx.executor.media(fit)
            fitted = store.put(job.fit_key, out, ".mp4")
            checkpoint("fitted")
            return fitted, raw, job.fit_key
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    async def plate(self, shot: Shot) -> Path | None:
        """Render (once per place and lighting, shared by every shot) the shot's plate image."""
        from ministudio.media.contact_sheet import middle_frame

        job = self.requests.plate(shot)
        if job is None:
            return None
        ctx, store, request = self.ctx, self.ctx.store, job.request
        async with self._plate_locks.setdefault(job.key, anyio.Lock()):
            record = self.plates.setdefault(
                job.key,
                ShotRecord(
                    id=request.shot.shot_id,
                    scene=request.shot.scene_id,
                    index=-1,
                    seed=request.seed,
                    start=0.0,
                    duration=request.duration,
                    frames=0,
                    engine=job.engine.id,
                    model=request.model,
                    prompt=request.prompt,
                    job_key=job.key,
                ),
            )
            if record.state == "failed":  # tried once in this run: no second payment
                raise MinistudioError(f"its background plate could not be made: {record.error}")
            if record.engine_job_id is None:  # a plate made by an earlier run: its job
                record.engine_job_id = self._job_id(job.key)
            image = store.get(job.image_key, ".png")
            if image is not None:
                if record.state == "waiting":  # made by an earlier run
                    record.cached = record.cached or record.cost == 0.0
                    record.state = "cached" if record.cached else "done"
                record.output_hash = ctx.hash(image)
                return image
            scratch = store.scratch()
            try:
                clip = store.get(job.key, ".mp4")
                if clip is None:
                    clip = await self.engines.generate(
                        job.engine, request, job.key, scratch, record
                    )
                else:
                    record.cached = True
                frame = await ctx.executor.media(middle_frame, clip)
                frame.save(scratch / "plate.png")
                image = store.put(job.image_key, scratch / "plate.png", ".png")
                record.state = "cached" if record.cached else "done"
                record.output_hash = ctx.hash(image)
                return image
            except Exception as exc:  # fails each shot on the plate, its keys blanked
                record.state, record.error = "failed", ctx.failure(exc, job.engine)
                raise MinistudioError(
                    f"its background plate could not be made: {record.error}"
                ) from exc
            finally:
                shutil.rmtree(scratch, ignore_errors=True)

    async def _lead(
        self, shot: Shot, record: ShotRecord, fit_key: str, raw: Path | None, fitted: Path | None
    ) -> None:
        """Hand the `continue` shot after ``shot`` this take's last frame and engine job."""
        frame = await self.continue_frame(fit_key, shot.timing.frames, raw, fitted)
        shot.lead = (frame, job_of(record))
        shot.led.set()

    async def continue_frame(
        self, fit_key: str, frames: int, raw: Path | None, fitted: Path | None
    ) -> Path:
        """The frame the clip fitted under ``fit_key`` (``frames`` long) ends on, for a
        `continue` shot: taken from the engine's clip ``raw`` as the fit takes it
        (``fitted_last_frame``), so it is known before the fit is done; from the fitted clip
        ``fitted`` when only that is kept.

        A frame an earlier version took from the fitted clip itself (under its own key) is
        used while it is in the store, so the shots that continued from it keep their keys."""
        from ministudio.media.fit import fitted_last_frame, last_frame_png

        ctx, store = self.ctx, self.ctx.store
        if fitted is not None:
            earlier = job_key("last-frame", {"clip": ctx.hash(fitted)})
            path = store.get(earlier, ".png")
            if path is not None:
                return path
        key = job_key("continue-frame", {"fit": fit_key})
        path = store.get(key, ".png")
        if path is not None:
            return path
        scratch = store.scratch()
        png = scratch / "last.png"
        if raw is not None:
            size = {"width": ctx.width, "height": ctx.height, "fps": ctx.fps}
            grab = functools.partial(fitted_last_frame, raw, png, frames=frames, **size)
        else:  # the engine's clip is gone from the store: the fitted clip's own last frame
            assert fitted is not None
            key = job_key("last-frame", {"clip": ctx.hash(fitted)})
            grab = functools.partial(last_frame_png, fitted, png)
        try:
            await ctx.executor.media(grab)
            return store.put(key, png, ".png")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _job_id(self, key: str) -> str | None:
        """The engine's job id of the clip stored under ``key`` (from the journal)."""
        row = self.ctx.journal.get(key)
        return row.job_id if row else None
