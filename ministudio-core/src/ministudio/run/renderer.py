"""One render: its job graph walked on this process, each kind of job handed to the part
that makes it (speech, plates, takes, checks across shots, the film)."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import anyio.to_thread

from ministudio.errors import MinistudioError
from ministudio.jobs import PreviousClip, PrevizSource
from ministudio.media.memory import cap_arenas
from ministudio.plan.estimate import FilmPlan
from ministudio.plan.graph import (
    BUDGET,
    CHECK,
    CLIP,
    FILM,
    LIPSYNC,
    PLATE,
    SOUNDTRACK,
    SPEECH,
    Job,
    JobGraph,
    build_graph,
    speech_id,
)
from ministudio.plan.shots import PlannedShot, shot_brief, speaks_natively
from ministudio.plugins import PluginHost
from ministudio.qc.places import Place
from ministudio.qc.retakes import Take, failing
from ministudio.qc.verdicts import Inspector
from ministudio.remote.runner import RemoteRunner
from ministudio.remote.webhooks import WebhookHub
from ministudio.run.assembly import Assembly
from ministudio.run.assess import assess, refuse_over_budget
from ministudio.run.clips import Clips
from ministudio.run.context import RenderContext
from ministudio.run.engine_calls import EngineCalls
from ministudio.run.errors import SpeechError
from ministudio.run.executors import Executor, walk
from ministudio.run.lipsync import LipSync
from ministudio.run.manifest import Manifest, PrevizRecord
from ministudio.run.progress import Progress, ShotEvent, ShotState
from ministudio.run.promotion import Passes, source_of
from ministudio.run.requests import Requests, with_plate
from ministudio.run.shots import Line, Shot, carried_lines, job_of, place, previous_of, split, timed
from ministudio.run.speech import Speech, native
from ministudio.run.store import ContentStore
from ministudio.run.takes import Takes
from ministudio.spec import Production

if TYPE_CHECKING:
    from ministudio.run.render import RenderOptions

log = logging.getLogger("ministudio.run.renderer")


class Renderer:
    """Renders one production (``render``), or tells what that would do (``plan``)."""

    def __init__(
        self,
        production: Production,
        planned: list[PlannedShot],
        out: Path,
        host: PluginHost,
        store: ContentStore,
        env: Mapping[str, str],
        on_event: Callable[[ShotEvent], None],
        options: RenderOptions,
        executor: Executor,
    ) -> None:
        self.ctx = ctx = RenderContext(production, out, host, store, env, options, executor)
        self.planned = planned  # routed and checked (``plan_shots``)
        self._planned = {ps.id: ps for ps in planned}
        self.graph: JobGraph = build_graph(production, planned, host)
        self._shot_of = {job.id: job.shot for job in self.graph if job.shot is not None}
        self.progress = Progress(on_event, out / "manifest.json", ctx.blanker.blank)
        self.webhooks = WebhookHub() if options.webhook_url else None
        self.remote = RemoteRunner(
            host,
            ctx.journal,
            webhooks=self.webhooks,
            retry=options.retry,
            forget_lost=options.forget_lost,
        )
        self.engines = EngineCalls(ctx, self.remote, self.progress)
        self.requests = Requests(ctx)
        self.clips = Clips(ctx, self.requests, self.engines)
        self.speech = Speech(ctx, self.remote, self.engines)
        judge = production.qc.judge
        self.inspector = Inspector(
            host,
            store,
            env,
            judge,
            production.routing.options.get(judge, {}) if judge else {},
            executor=executor,
            fingerprint=self.requests.brief,
            file_hash=ctx.hash,
        )
        self.lipsync = LipSync(ctx, self.requests, self.engines, self.progress)
        self.takes = Takes(
            ctx, self.requests, self.clips, self.inspector, self.progress, self.lipsync
        )
        self.takes.promotion = self._promotion
        # a previz render: the control passes to make of each shot's kept take, by shot id
        self.passes: dict[str, tuple[str, ...]] = {}
        self.pass_maker = Passes(ctx, self.requests)
        # a final render: each shot's previz (by shot or part id), for its promotion
        self.previz: dict[str, PrevizRecord] = {}
        # the film is encoded on this process: one encoding or decoding job per core, and the
        # threads doing it share one malloc arena per core (``ministudio.media.memory``)
        local = anyio.CapacityLimiter(os.cpu_count() or 2)
        cap_arenas(os.cpu_count() or 2)
        self.assembly = Assembly(ctx, self.clips.plates, local)
        self._local = local
        self.lines: dict[str, Line | None] = {}  # speech job id -> the line spoken (None: failed)
        self.shots: list[Shot] = []  # in film order, a split shot's parts in its place
        self.parts: dict[str, list[Shot]] = {}  # planned shot id -> its shots
        self.started = time.monotonic()
        self.result: Manifest | None = None
        self._film_open = anyio.Event()  # set once the soundtrack job started the film file
        self._handlers: dict[str, Callable[[Job, Callable[[], None]], Awaitable[None]]] = {
            SPEECH: self._speak,
            BUDGET: self._budget,
            SOUNDTRACK: self._soundtrack,
            PLATE: self._plate,
            CLIP: self._clip,
            LIPSYNC: self._lipsync,
            CHECK: self._check,
            FILM: self._film,
        }

    async def run(self) -> Manifest:
        """Walk the whole graph: the film, its manifest (``RenderError`` if a shot failed)."""
        self.started = time.monotonic()
        self._waiting()
        failure: BaseException | None = None
        try:
            async with anyio.create_task_group() as outer:
                if self.webhooks is not None:
                    await outer.start(self._receive_webhooks, self.webhooks)
                try:
                    await walk(self.graph, lambda job, ready: self._handlers[job.kind](job, ready))
                except Exception as exc:  # raised outside the task group: callers get it bare
                    failure = exc
                outer.cancel_scope.cancel()  # every job is done: stop the receiver
            if failure is not None:
                raise failure
            assert self.result is not None
            return self.result
        except BaseException:
            self.assembly.abort()
            raise
        finally:
            self.assembly.clean()

    async def plan(self) -> FilmPlan:
        """Speak every line (their lengths decide the shots'), then cost every shot."""
        self._waiting()
        await walk(JobGraph(tuple(self.graph.of_kind(SPEECH))), self._speak)
        self._timed()
        shots = self.shots
        return await assess(
            self.ctx, self.requests, self.clips, self.remote, shots, self.lipsync, self._promotion
        )

    def close(self) -> None:
        self.ctx.journal.close()

    # -- jobs ------------------------------------------------------------------------------

    async def _speak(self, job: Job, ready: Callable[[], None] | None = None) -> None:
        assert job.shot is not None
        ps = self._planned[job.shot]
        number = int(job.id.rsplit(":", 1)[1])  # speech_id(shot, number)
        line, where = ps.lines[number - 1], f"{ps.id} line {number}"
        self.lines[job.id] = await self.speech.speak(where, line, job.key)  # its store key

    async def _budget(self, job: Job, ready: Callable[[], None]) -> None:
        """Time every shot, cost the film and refuse it over budget before anything is
        paid."""
        ctx = self.ctx
        shots = self._timed()
        self.progress.records = {s.planned.id: s.record for s in shots}
        self.progress.snapshot = lambda: self.assembly.manifest(self.shots)
        planned = await assess(
            ctx, self.requests, self.clips, self.remote, shots, self.lipsync, self._promotion
        )
        refuse_over_budget(ctx, planned)
        limits = [x for x in (ctx.p.budget, ctx.options.max_cost) if x is not None]
        self.takes.allowance = min(limits) - planned.cost if limits else None  # for retakes
        place(shots)
        for before, shot in itertools.pairwise(shots):
            before.followed = shot.planned.shot.continuity == "continue"
        ctx.out.mkdir(parents=True, exist_ok=True)

    async def _soundtrack(self, job: Job, ready: Callable[[], None]) -> None:
        """Start the film file with its soundtrack and subtitles (audio first), beside the
        first clips; shots wait for it only to join the film."""
        await anyio.to_thread.run_sync(self.assembly.open, self.shots)
        self._film_open.set()

    async def _plate(self, job: Job, ready: Callable[[], None]) -> None:
        """Make a place's plate once, before the shots that wait for it; a failure is
        reported by each of them."""
        first = next(j.shot for j in self.graph.of_kind(CLIP) if job.id in j.needs)
        assert first is not None
        with contextlib.suppress(MinistudioError):
            await self.clips.plate(self.parts[first][0])

    async def _clip(self, job: Job, ready: Callable[[], None]) -> None:
        """Render a shot (its parts in turn, when split); the shot continuing it may start
        once its last frame is known (``ready``), before it is fitted and checked."""
        assert job.shot is not None
        parts = self.parts[job.shot]  # a split shot's parts continue one another

        async def lead() -> None:
            await parts[-1].led.wait()
            ready()

        async with anyio.create_task_group() as tg:
            tg.start_soon(lead)
            for shot in parts:
                await self._render_shot(shot)

    async def _lipsync(self, job: Job, ready: Callable[[], None]) -> None:
        """Move the mouths of a shot's clip (each part's) to its voice, once its clip job is
        done; each part joins the film after its pass."""
        assert job.shot is not None
        for shot in self.parts[job.shot]:
            try:
                engine = shot.planned.lipsync
                if engine is not None and shot.clip is not None and shot.slate is None:
                    retakes, afford = self.ctx.p.qc.retakes, self.takes.afford
                    await self.lipsync.apply(shot, engine, retakes, afford)
                    synced = shot.record.lipsync
                    fresh = synced is not None and synced.state == "done"
                    state: ShotState = "cached" if shot.record.cached and not fresh else "done"
                    event = ShotEvent(shot.planned.id, state, shot.record.engine or "", 1.0)
                    self.progress.event(event)
            finally:
                shot.final.set()
            await self._film_open.wait()
            await self.assembly.append_ready(self.shots)

    async def _check(self, job: Job, ready: Callable[[], None]) -> None:
        """Checks across the shots of one place (in one light)."""
        shots = [s for need in job.needs for s in self.parts[self._shot_of[need]]]
        first = shots[0]
        where = Place(first.record.scene, first.planned.scene.environment, first.record.lighting)
        await anyio.to_thread.run_sync(
            self.assembly.check_place, shots, where.name, limiter=self._local
        )

    async def _film(self, job: Job, ready: Callable[[], None]) -> None:
        self.result = await self.assembly.finish(self.shots, self.started)

    # -- a shot ----------------------------------------------------------------------------

    async def _render_shot(self, shot: Shot) -> None:
        ctx, ps, began = self.ctx, shot.planned, time.monotonic()
        previous = previous_of(self.shots, shot)
        try:
            first_frame, continued = await self._follow(previous) if previous else (None, None)
            durations = [line.duration for line in shot.lines]
            said = [line.phonemes for line in shot.lines]
            shot.brief = shot_brief(
                ctx.p, ps, shot.timing, durations, image=ctx.image, phonemes=said,
                carried=carried_lines(shot),
            )  # fmt: skip
            plate = await self.clips.plate(shot)
            if plate is not None:
                with_plate(shot, plate)
            review = ctx.options.review
            chosen = review.keep.get(ps.id) if review else None
            if chosen is not None:  # a reviewer picked (or approved) this take: no retakes
                kept = await self.takes.picked(shot, chosen, previous)
            else:
                source = self._promotion(shot, needed=True) if ps.promoted else None
                rung = "review" if review and shot.planned.shot.id in review.notes else "first"
                take = Take(ps.engine, ps.seed, first_frame, continued, source=source, rung=rung)
                kept = await self.takes.first(shot, take, previous)
                if failing(kept.record.qc):
                    kept = await self.takes.retake(self.shots, shot, kept, previous)
            self.takes.keep(shot, kept)
            if review is not None:
                self.takes.reviewed(shot, kept, review)
            if kept.take.source is not None:
                shot.record.previz = self.previz[ps.id]
            names = self.passes.get(shot.record.part_of or ps.id)
            if names:
                shot.record.passes = await self.pass_maker.make(shot, kept, names)
            if shot.brief.native_audio:
                await self._film_open.wait()  # the voiced track is mixed first
                await self.assembly.native_audio(shot)
            shot.record.output_hash = ctx.hash(kept.clip)
            state: ShotState = "cached" if shot.record.cached else "done"
            self.progress.event(ShotEvent(ps.id, state, shot.record.engine or "", 1.0))
        except MinistudioError as exc:
            shot.record.error = ctx.blanker.blank(str(exc))
            shot.record.engine = shot.record.engine or ps.engine.id  # the one that failed last
            shot.cause = exc
            log.debug("shot %s failed: %s", ps.id, ctx.traceback(exc))
            if ctx.options.partial:
                shot.slate = await self.assembly.slate(self.shots, shot)
            shot.record.slate = shot.record.error if shot.slate else None
            event = ShotEvent(ps.id, "failed", shot.record.engine, detail=shot.record.error)
            self.progress.event(event)
        finally:
            shot.record.seconds = round(time.monotonic() - began, 3)
            shot.done.set()
            shot.led.set()
            if ps.lipsync is None:  # else its lip-sync job lets it join the film
                shot.final.set()
        await self._film_open.wait()
        await self.assembly.append_ready(self.shots)

    async def _follow(self, previous: Shot) -> tuple[Path, PreviousClip | None]:
        """What a `continue` shot starts from: the frame ``previous`` ends on and the engine job
        behind it, as soon as they are known (``previous.lead``), else once it is done."""
        await previous.led.wait()
        if previous.lead is not None:
            return previous.lead
        await previous.done.wait()
        if previous.clip is None or previous.fit_key is None:
            raise MinistudioError(f"it continues shot '{previous.planned.id}', which failed")
        frame = await self.clips.continue_frame(
            previous.fit_key, previous.timing.frames, previous.source, previous.clip
        )
        return frame, job_of(previous.record)

    # -- helpers ---------------------------------------------------------------------------

    def _promotion(self, shot: Shot, needed: bool = False) -> PrevizSource | None:
        """The previz ``shot`` is promoted from; None (or, when ``needed``, an error saying
        why) when it has none."""
        record = self.previz.get(shot.planned.id)
        if record is None:
            if needed:
                raise MinistudioError(
                    "its previz could not be made (previz/manifest.json says why), so it "
                    "cannot be promoted"
                )
            return None
        return source_of(self.ctx, record, shot.timing.frames)

    def _waiting(self) -> None:
        self.inspector.check_key()  # a judge without its key stops us before any spending
        self.lipsync.check_keys(ps.lipsync for ps in self.planned)  # as a lip-sync engine
        for ps in self.planned:
            self.progress.event(ShotEvent(ps.id, "waiting", ps.engine.id, detail="speech"))

    def _timed(self) -> list[Shot]:
        """Every shot timed from its lines (``SpeechError`` if a line could not be spoken),
        split where its lines outlast its engine."""
        if self.speech.failures:
            raise SpeechError(self.speech.failures) from self.speech.causes[0]
        p = self.ctx.p
        for ps in self.planned:
            if speaks_natively(ps):
                lines = [native(line) for line in ps.lines]
            else:
                spoken = [self.lines[speech_id(ps.id, n)] for n in range(1, len(ps.lines) + 1)]
                lines = [line for line in spoken if line is not None]
            self.parts[ps.id] = split(p, timed(p, ps, lines))
        self.shots = [shot for ps in self.planned for shot in self.parts[ps.id]]
        return self.shots

    async def _receive_webhooks(
        self, hub: WebhookHub, *, task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        from ministudio.remote.webhooks import WebhookReceiver

        ctx = self.ctx
        host, _, port = ctx.options.webhook_listen.rpartition(":")
        receiver = WebhookReceiver(
            lambda engine, body, headers: ctx.host.parse_webhook(engine, body, headers, ctx.env),
            hub.deliver,
        )
        async with anyio.create_task_group() as tg:
            bound = await tg.start(receiver.serve, host or "127.0.0.1", int(port))
            self.engines.webhook_port = bound
            task_status.started()
