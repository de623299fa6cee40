"""Calling a video engine for one job: its context (keys, uploads, webhooks, progress), the
assets it uploads once, and the job itself, local or submitted and journaled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ministudio.engines import EngineContext, EngineSpec
from ministudio.jobs import HostedAsset, LipSyncRequest, VideoRequest
from ministudio.remote.runner import RemoteRunner, submit_hook
from ministudio.run.context import RenderContext
from ministudio.run.failpoints import checkpoint
from ministudio.run.manifest import ShotRecord
from ministudio.run.progress import Progress, ShotEvent


class EngineCalls:
    """The calls one render makes of its video engines."""

    def __init__(self, ctx: RenderContext, remote: RemoteRunner, progress: Progress) -> None:
        self.ctx, self.remote, self.progress = ctx, remote, progress
        self.webhook_port = 0  # set once the webhook receiver listens

    def context(
        self, engine: EngineSpec, scratch: Path, progress: Callable[[float], None] | None = None
    ) -> EngineContext:
        """What ``engine`` is given for one job: keys, scratch, uploads, webhook URL."""
        ctx = self.ctx
        context = EngineContext(engine=engine.id, work_dir=scratch, env=ctx.env)
        context.uploader = lambda path: self._upload(engine, path, context)
        context.remember = lambda key, make: self.remote.remember(engine, f"once:{key}", make)
        if ctx.options.webhook_url and engine.capabilities.webhooks:
            base = ctx.options.webhook_url.replace("{port}", str(self.webhook_port))
            context.webhook_url = f"{base.rstrip('/')}/{engine.id}"
        if progress is not None:
            context.progress = progress
        return context

    async def generate(
        self,
        engine: EngineSpec,
        request: VideoRequest | LipSyncRequest,
        key: str,
        scratch: Path,
        record: ShotRecord,
    ) -> Path:
        """Make ``request``'s clip (a take, or a lip-sync pass over one) and file it in the
        store under ``key``; its cost, job id and model go into ``record``."""
        from ministudio.media.probe import probe

        ctx, event, shot_id = self.ctx, self.progress.event, request.shot.shot_id
        event(ShotEvent(shot_id, "waiting", engine.id, detail="queued"))
        remote = ctx.host.implements(engine.id, submit_hook(request))
        if remote:
            ctx.journal.event(key, "queued")  # for the review page's job timeline
        async with ctx.limiter(engine):
            event(ShotEvent(shot_id, "rendering", engine.id))

            def progress(fraction: float) -> None:
                event(ShotEvent(shot_id, "rendering", engine.id, fraction))

            context = self.context(engine, scratch, progress)
            # side jobs (``context.paid``) are journaled under the shot that first asks
            context.remember = lambda key, make: self.remote.remember(
                engine, f"once:{key}", make, shot_id
            )
            output = scratch / "clip.mp4"
            if remote:

                def submitted(job_id: str) -> None:
                    record.engine_job_id = job_id
                    event(ShotEvent(shot_id, "rendering", engine.id, detail=f"job {job_id}"))

                result = await self.remote.run(
                    engine,
                    request,
                    key,
                    output,
                    context,
                    shot=shot_id,
                    rate=self.remote.rate(engine, ctx.limits(engine)[1]),
                    on_submitted=submitted,
                )
            elif isinstance(request, LipSyncRequest):  # a local lip-sync engine
                result = await ctx.host.call_engine(
                    engine.id, "lip_sync", request=request, output=output, context=context
                )
            else:
                result = await ctx.executor.generate_video(
                    ctx.host, engine, request, output, context
                )
        await ctx.executor.media(probe, result.path)  # refuse a damaged clip loudly
        record.cost += result.cost
        record.engine_job_id = result.engine_job_id or record.engine_job_id
        record.model = result.model or record.model
        stored = ctx.store.put(key, result.path, ".mp4")
        checkpoint("stored")
        return stored

    async def _upload(self, engine: EngineSpec, path: Path, context: EngineContext) -> str:
        """Upload a file for ``engine`` once per content (see ``RemoteRunner.remember``)."""
        return await self.remote.remember(
            engine,
            self.ctx.hash(path),
            lambda: self.ctx.host.call_engine(
                engine.id, "upload_asset", path=path, context=context, expected=(str, HostedAsset)
            ),
        )
