"""Render a production: speech first, then every shot (at once where independent), then the film.

Every job's output is filed in the content store under a key that hashes everything that
decides it, so a second render re-runs only what changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import os
import shutil
import time
import traceback
import wave
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.abc
import anyio.to_thread

from ministudio import __version__
from ministudio.engines import EngineContext, EngineSpec, Made, Paid
from ministudio.engines.variants import choose, label
from ministudio.errors import EngineError, MediaError, MinistudioError, MissingKeyError
from ministudio.jobs import (
    EditRequest,
    HostedAsset,
    PreviousClip,
    ShotPrompt,
    SpeechResult,
    VideoRequest,
)
from ministudio.media.film import FilmAssembly, Spoken
from ministudio.plan.conditioning import Conditioning, given, ignored
from ministudio.plan.estimate import FilmPlan, ShotPlan, changed_inputs
from ministudio.plan.shots import (
    GAP,
    PlannedLine,
    PlannedShot,
    ShotTiming,
    estimated_speech,
    longest_clip,
    plan_shots,
    plate_brief,
    shot_brief,
    shot_lighting,
    shot_seed,
    snap_duration,
    speaks_natively,
    time_shot,
)
from ministudio.plugins import PluginHost
from ministudio.qc.retakes import Take, best, climb, failing
from ministudio.qc.verdicts import Inspector
from ministudio.remote.journal import Journal
from ministudio.remote.runner import RemoteRunner, RetryPolicy, WebhookHub
from ministudio.run.failpoints import checkpoint
from ministudio.run.manifest import (
    AttemptRecord,
    FallbackRecord,
    LineRecord,
    LoudnessRecord,
    Manifest,
    ShotRecord,
    TakeRecord,
)
from ministudio.run.store import ContentStore, default_store_dir, file_hash, job_key
from ministudio.safety.images import sanitized
from ministudio.safety.keys import described
from ministudio.safety.secrets import gate, guard_logging
from ministudio.spec import Production, Rung

if TYPE_CHECKING:
    from ministudio.qc.checks import Footage

ShotState = Literal["waiting", "rendering", "cached", "done", "failed"]

log = logging.getLogger("ministudio.run.render")


@dataclass
class ShotEvent:
    """A change in one shot's state, for progress displays."""

    shot_id: str
    state: ShotState
    engine: str = ""
    progress: float = 0.0
    detail: str = ""


class BudgetError(MinistudioError):
    """The render would cost more than the production's budget; nothing was spent."""

    exit_code = 2


class SpeechError(MinistudioError):
    """Some lines could not be spoken; no video was rendered (nothing was spent on it)."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = failures
        listing = "\n".join(f"  - {where}: {why}" for where, why in failures.items())
        super().__init__(
            f"{len(failures)} line(s) could not be spoken; fix the voices and run again "
            f"(lines already spoken are kept):\n{listing}"
        )


class RenderError(MinistudioError):
    """Some shots failed; the others are kept in the store and the next render reuses them.

    ``film`` is the film assembled anyway, a slate in place of each failed shot (None when
    it was not: ``RenderOptions.partial`` off, or a slate could not be made), and ``result``
    the manifest written (for a summary). The first failure's exception is the cause
    (``__cause__``, with its traceback: ``--debug`` prints it)."""

    def __init__(
        self,
        failures: dict[str, str],
        manifest: Path,
        *,
        film: Path | None = None,
        result: Manifest | None = None,
        crashed: bool = False,
    ) -> None:
        self.failures = failures
        self.film = film
        self.result = result
        listing = "\n".join(f"  - {shot}: {why}" for shot, why in failures.items())
        assembled = (
            f"; the film was assembled anyway, with a slate in place of each: {film}"
            if film is not None
            else ""
        )
        debug = " (`ministudio --debug render` prints the crash's traceback)" if crashed else ""
        super().__init__(
            f"{len(failures)} shot(s) failed{assembled}; finished shots are kept and will not "
            f"be rendered again. Fix the cause and run render again (details in {manifest})"
            f"{debug}:\n{listing}"
        )


@dataclass
class _Line:
    planned: PlannedLine
    path: Path | None  # None: the shot's video engine speaks it (native audio)
    duration: float
    cached: bool
    cost: float = 0.0  # USD spent on it in this run


@dataclass(frozen=True)
class _Job:
    request: VideoRequest
    key: str  # the engine's clip
    fit_key: str  # the clip fitted to the film
    inputs: dict[str, str]  # a short hash per input, to tell later which one changed
    ignored: list[str]  # what the shot asks for that the engine cannot take
    engine: EngineSpec  # narrowed to the variant (model and mode) that renders it


@dataclass
class _Shot:
    planned: PlannedShot
    lines: list[_Line]
    timing: ShotTiming
    record: ShotRecord
    brief: ShotPrompt | None = None
    clip: Path | None = None
    source: Path | None = None  # the engine's clip before fitting (for native audio)
    footage: Footage | None = None  # a few of the clip's frames, for the checks across shots
    slate: Path | None = None  # the card the film shows in its place when it failed
    cause: BaseException | None = None  # why it failed, with the traceback
    done: anyio.Event = field(default_factory=anyio.Event)


@dataclass
class _Take:
    """A take rendered (and checked): its clip, the engine's own clip, its record (``qc``
    included) and a few frames for the checks across shots."""

    take: Take
    clip: Path
    source: Path | None
    record: ShotRecord
    footage: Footage | None = None


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


@dataclass(frozen=True)
class RenderOptions:
    """How a render runs, beyond the production itself."""

    forget_lost: bool = False  # resubmit jobs whose submit answer was lost (no lookup offered)
    max_cost: float | None = None  # refuse to start a render that would spend more (USD)
    # Public base URL engines POST to (enables webhooks); "{port}" stands for the bound port.
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1:0"  # local host:port the receiver binds behind that URL
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # A shot that fails leaves a slate (its id and why) in the film, which is still assembled
    # (the render still fails); False: no film until every shot renders (``--no-partial``).
    partial: bool = True


def render(
    production: Production,
    out_dir: Path,
    *,
    host: PluginHost | None = None,
    store: ContentStore | None = None,
    env: Mapping[str, str] | None = None,
    on_event: Callable[[ShotEvent], None] | None = None,
    options: RenderOptions | None = None,
) -> Manifest:
    """Render ``production`` into ``out_dir`` (film.mp4, subtitles, contact sheet, manifest)."""
    return anyio.run(
        lambda: render_async(
            production,
            out_dir,
            host=host,
            store=store,
            env=env,
            on_event=on_event,
            options=options,
        )
    )


def plan(
    production: Production,
    out_dir: Path,
    *,
    host: PluginHost | None = None,
    store: ContentStore | None = None,
) -> FilmPlan:
    """What ``render`` would do: speaks the lines (their length decides the shots'), renders no
    video and spends nothing on it."""

    async def run() -> FilmPlan:
        renderer = _renderer(production, out_dir, host, store, None, None, None)
        try:
            return await renderer.assess(await renderer.prepare())
        finally:
            renderer.journal.close()

    return anyio.run(run)


async def render_async(
    production: Production,
    out_dir: Path,
    *,
    host: PluginHost | None = None,
    store: ContentStore | None = None,
    env: Mapping[str, str] | None = None,
    on_event: Callable[[ShotEvent], None] | None = None,
    options: RenderOptions | None = None,
) -> Manifest:
    """``render`` for code already inside an event loop (asyncio or trio), e.g. a notebook."""
    renderer = _renderer(production, out_dir, host, store, env, on_event, options)
    try:
        return await renderer.run()
    finally:
        renderer.journal.close()


def _renderer(
    production: Production,
    out_dir: Path,
    host: PluginHost | None,
    store: ContentStore | None,
    env: Mapping[str, str] | None,
    on_event: Callable[[ShotEvent], None] | None,
    options: RenderOptions | None,
) -> _Renderer:
    """The renderer of ``production``, once its engines are known and able to render it:
    nothing (store, journal, output folder) is written before."""
    host = host or PluginHost()
    planned = plan_shots(production, host)  # unknown engines, impossible formats: refused here
    return _Renderer(
        production,
        planned,
        out_dir,
        host,
        store or ContentStore(default_store_dir()),
        os.environ if env is None else env,
        on_event or (lambda event: None),
        options or RenderOptions(),
    )


class _Renderer:
    def __init__(
        self,
        production: Production,
        planned: list[PlannedShot],
        out_dir: Path,
        host: PluginHost,
        store: ContentStore,
        env: Mapping[str, str],
        on_event: Callable[[ShotEvent], None],
        options: RenderOptions,
    ) -> None:
        self.p = production
        self.planned = planned  # routed and checked (``plan_shots``)
        self.out = out_dir
        self.host = host
        self.store = store
        self.env = env
        self.on_event = on_event
        self._records: dict[str, ShotRecord] = {}
        self._shots: list[_Shot] = []
        self._saved = 0.0
        self.width, self.height = production.format.size
        self.fps = production.format.fps
        self._limiters: dict[str, anyio.CapacityLimiter] = {}
        self._hashes: dict[Path, str] = {}
        self._sanitized: dict[Path, Path] = {}  # a production image -> its re-encoded copy
        # Every text bound for the terminal, manifest or journal passes this gate: it knows the
        # keys of the process, of ``env`` and of every engine of ``host``.
        self.blanker = gate(env, [name for e in host.engines.values() for name in e.key_env])
        guard_logging()
        self.journal = Journal(store.root / "journal.sqlite", blank=self.blanker.blank)
        self._remember_locks: dict[tuple[str, str], anyio.Lock] = {}
        self._plate_locks: dict[str, anyio.Lock] = {}
        self._plates: dict[str, ShotRecord] = {}  # plates rendered or reused in this run
        self._allowance: float | None = None  # USD the budget leaves for retakes (None: no limit)
        self._slates: Path | None = None  # a scratch folder for the slates of failed shots
        # Decoding and encoding on this machine (fit, QC, frame grabs): one job per core, so
        # many shots landing at once neither oversubscribe the CPU nor pile up decoders.
        self._media = anyio.CapacityLimiter(os.cpu_count() or 2)
        self.film = FilmAssembly(
            out_dir, width=self.width, height=self.height, fps=self.fps, limiter=self._media
        )
        self.options = options
        judge = production.qc.judge
        self.inspector = Inspector(
            host,
            store,
            env,
            judge,
            production.routing.options.get(judge, {}) if judge else {},
            media=self._media,
            fingerprint=self._brief,
            file_hash=self._hash,
        )
        self.webhooks = WebhookHub() if options.webhook_url else None
        self.webhook_port = 0
        self.remote = RemoteRunner(
            host,
            self.journal,
            webhooks=self.webhooks,
            retry=options.retry,
            forget_lost=options.forget_lost,
        )

    async def run(self) -> Manifest:
        started = time.monotonic()
        shots = await self.prepare()
        self._shots, self._records = shots, {s.planned.id: s.record for s in shots}
        # Refuse impossible or unaffordable shots before any video is paid for.
        planned = await self.assess(shots)
        self.refuse_over_budget(planned, self.options.max_cost)
        limits = [x for x in (self.p.budget, self.options.max_cost) if x is not None]
        self._allowance = min(limits) - planned.cost if limits else None  # left for retakes
        self._place(shots)
        self.out.mkdir(parents=True, exist_ok=True)
        await anyio.to_thread.run_sync(self._open_film, shots)
        try:
            async with anyio.create_task_group() as outer:
                if self.webhooks is not None:
                    await outer.start(self._receive_webhooks, self.webhooks)
                async with anyio.create_task_group() as tg:
                    for i, shot in enumerate(shots):
                        continues = shot.planned.shot.continuity == "continue"
                        previous = shots[i - 1] if continues else None
                        tg.start_soon(self._render_shot, shots, shot, previous)
                outer.cancel_scope.cancel()  # every shot is done: stop the receiver
            return await self._finish(shots, started)
        except BaseException:
            self.film.abort()
            raise
        finally:
            if self._slates is not None:  # slates live as long as the render: never stored
                shutil.rmtree(self._slates, ignore_errors=True)

    async def prepare(self) -> list[_Shot]:
        """Route, speak every line (audio first) and time every shot."""
        planned = self.planned
        self.inspector.check_key()  # a judge without its key stops us before any spending
        for ps in planned:
            self._event(ShotEvent(ps.id, "waiting", ps.engine.id, detail="speech"))
        lines = await self._speak_all(planned)
        return [part for ps in planned for part in self._split(self._time(ps, lines[ps.id]))]

    async def assess(self, shots: list[_Shot]) -> FilmPlan:
        """Per shot: in the store or not and why, cost and time; refuses impossible shots."""
        previous = _previous_inputs(self.out / "manifest.json")
        plans: list[ShotPlan] = []
        fitted: dict[str, Path | None] = {}
        planned_plates: set[str] = set()
        for i, shot in enumerate(shots):
            ps = shot.planned
            after = shots[i - 1].planned.id if ps.shot.continuity == "continue" else None
            plate_job = self._plate_job(shot)
            plate = self.store.get(plate_job[3], ".png") if plate_job else None
            if plate_job and plate is None and plate_job[2] not in planned_plates:
                planned_plates.add(plate_job[2])
                plate_engine, plate_request = plate_job[0], plate_job[1]
                plans.append(
                    ShotPlan(
                        id=plate_request.shot.shot_id,
                        engine=plate_engine.id,
                        model=label(plate_engine) or plate_request.model or "",
                        duration=0.0,
                        requested=plate_request.duration,
                        cached=False,
                        reason=f"background plate ({plate_request.shot.environment.lighting})",
                        cost=self.host.estimate_cost(plate_engine, plate_request),
                        seconds=self.remote.expected_latency(plate_engine),
                        after=None,
                    )
                )
            ready = (after is None or fitted[after] is not None) and (plate_job is None or plate)
            before = fitted[after] if ready and after else None
            first = await self._last_frame(before) if before else None
            shot.brief = shot_brief(
                self.p, ps, shot.timing, [line.duration for line in shot.lines], image=self._image
            )
            if plate is not None:
                self._with_plate(shot, plate)
            # Built even when the shot waits (for the shot it continues, or its plate): its
            # model, mode, length and price are known; only its frame or plate is not yet.
            costed = self._job(shot, Take(ps.engine, ps.seed, first))
            job = costed if ready else None
            engine, requested = costed.engine, costed.request.duration
            clip = self.store.get(job.fit_key, ".mp4") if job else None
            fitted[ps.id] = clip
            cached = clip is not None or (job is not None and self.store.get(job.key, ".mp4"))
            if cached:
                reason = "in the store"
            elif job is None and plate_job is not None and plate is None:
                reason = "waits for its background plate"
            elif job is None:
                reason = f"continues {after}, which renders first"
            elif ps.id not in previous:
                reason = "new shot" if previous else "first render"
            else:
                reason = "changed: " + changed_inputs(previous[ps.id], job.inputs)
            plans.append(
                ShotPlan(
                    id=ps.id,
                    engine=engine.id,
                    model=label(engine) or costed.request.model or "",
                    duration=shot.timing.duration,
                    requested=requested,
                    cached=bool(cached),
                    reason=reason,
                    cost=0.0 if cached else self.host.estimate_cost(engine, costed.request),
                    seconds=0.0 if cached else self.remote.expected_latency(engine),
                    after=after if after and not fitted[after] else None,
                    ignored=tuple(costed.ignored),
                )
            )
        engines = {shot.planned.engine for shot in shots}
        return FilmPlan(plans, {engine.id: self._limits(engine)[0] for engine in engines})

    def refuse_over_budget(self, plan: FilmPlan, max_cost: float | None) -> None:
        for limit, name in ((self.p.budget, "the production's budget"), (max_cost, "--max-cost")):
            if limit is not None and plan.cost > limit + 1e-9:
                raise BudgetError(
                    f"this render would cost ${plan.cost:.2f}, above {name} of ${limit:.2f}; "
                    f"nothing was spent. Raise the limit or route shots to cheaper engines "
                    f"(`ministudio plan` shows each shot's cost)"
                )

    # -- speech ----------------------------------------------------------------------------

    async def _speak_all(self, planned: list[PlannedShot]) -> dict[str, list[_Line]]:
        results: dict[tuple[str, int], _Line] = {}
        failures: dict[str, str] = {}
        causes: list[Exception] = []

        async def speak(shot_id: str, i: int, line: PlannedLine) -> None:
            try:
                results[(shot_id, i)] = await self._speak(line)
            except Exception as exc:  # every line is tried; all failures are reported at once
                engine = self.host.engines.get(line.engine)
                failures[f"{shot_id} line {i + 1}"] = self._failure(exc, engine)
                causes.append(exc)

        async with anyio.create_task_group() as tg:
            for ps in planned:
                for i, line in enumerate(ps.lines):
                    if speaks_natively(ps):  # the video engine says it: only its length is needed
                        results[(ps.id, i)] = _Line(
                            line, None, estimated_speech(line.request.text), True
                        )
                    else:
                        tg.start_soon(speak, ps.id, i, line)
        if failures:
            raise SpeechError(failures) from causes[0]
        return {ps.id: [results[(ps.id, i)] for i in range(len(ps.lines))] for ps in planned}

    async def _speak(self, line: PlannedLine) -> _Line:
        code = self._code(self.host.engine(line.engine, "speech"))
        key = job_key(
            "speech", {"engine": line.engine, "request": line.request.model_dump(), **code}
        )
        path = self.store.get(key, ".wav")
        cached, cost = path is not None, 0.0
        if path is None:
            engine = self.host.engine(line.engine, "speech")
            rate = self.remote.rate(engine, self._limits(engine)[1])
            async with self._limiter(engine):
                scratch = self.store.scratch()

                async def synthesize() -> SpeechResult:
                    await rate.wait()
                    return await self.host.synthesize_speech(
                        line.engine, line.request, scratch / "line.wav", context
                    )

                try:
                    context = self._context(engine, scratch)
                    result = await self.remote.retrying(engine, "speech", synthesize)
                    path = self.store.put(key, result.path, ".wav")
                    cost = result.cost
                finally:
                    shutil.rmtree(scratch, ignore_errors=True)
        return _Line(line, path, _wav_seconds(path), cached, cost)

    # -- shots -----------------------------------------------------------------------------

    def _time(
        self,
        ps: PlannedShot,
        lines: list[_Line],
        timing: ShotTiming | None = None,
        part_of: str | None = None,
    ) -> _Shot:
        timing = timing or time_shot(ps.shot, [line.duration for line in lines], self.fps)
        record = ShotRecord(
            id=ps.id,
            scene=ps.scene.id,
            index=ps.index,
            part_of=part_of,
            seed=ps.seed,
            start=0.0,
            duration=timing.duration,
            frames=timing.frames,
            stretched=timing.stretched,
            lighting=shot_lighting(self.p, ps),
            camera=ps.shot.camera,
            cast=list(ps.shot.cast),
        )
        return _Shot(ps, lines, timing, record)

    def _split(self, shot: _Shot) -> list[_Shot]:
        """A shot whose lines outlast its engine's longest clip, as several clips cut where
        its speech pauses (each after the first a `continue` shot); any other shot as it is.

        A shot given a duration of its own, or whose engine speaks its lines, is not split.
        """
        from ministudio.media.audio import read_wav
        from ministudio.plan.phrasing import cuts, pauses

        ps, timing = shot.planned, shot.timing
        longest = longest_clip(ps.engine)
        timed_by_lines = ps.shot.duration == "audio" or timing.stretched
        if timing.duration <= longest + 1e-6 or not timed_by_lines or speaks_natively(ps):
            return [shot]
        candidates = []
        for line, start in zip(shot.lines, timing.starts, strict=True):
            if line.path is not None:
                candidates += [start + t for t in pauses(*read_wav(line.path))]
            candidates.append(start + line.duration + GAP / 2)  # between two lines
        times = cuts(timing.duration, candidates, longest, ps.engine.capabilities.min_duration)
        bounds = [0, *(round(t * self.fps) for t in times), timing.frames]
        parts = []
        for n, (a, b) in enumerate(itertools.pairwise(bounds), 1):
            lo, hi = a / self.fps, b / self.fps
            mine = [i for i, t in enumerate(timing.starts) if lo <= t < hi]
            part_id = f"{ps.id}.{n}"
            continuity = ps.shot.continuity if n == 1 else "continue"
            planned = dataclasses.replace(
                ps,
                id=part_id,
                shot=ps.shot.model_copy(update={"continuity": continuity}),
                seed=shot_seed(self.p.seed, part_id),
                lines=tuple(ps.lines[i] for i in mine),
            )
            starts = tuple(timing.starts[i] - lo for i in mine)
            part = ShotTiming((b - a) / self.fps, b - a, starts, timing.stretched)
            parts.append(self._time(planned, [shot.lines[i] for i in mine], part, ps.id))
        return parts

    async def _render_shot(self, shots: list[_Shot], shot: _Shot, previous: _Shot | None) -> None:
        ps, began = shot.planned, time.monotonic()
        try:
            first_frame = None
            if previous is not None:
                await previous.done.wait()
                if previous.clip is None:
                    raise MinistudioError(
                        f"it continues shot '{previous.planned.id}', which failed"
                    )
                first_frame = await self._last_frame(previous.clip)
            shot.brief = shot_brief(
                self.p, ps, shot.timing, [line.duration for line in shot.lines], image=self._image
            )
            plate = await self._plate(shot)
            if plate is not None:
                self._with_plate(shot, plate)
            take = Take(ps.engine, ps.seed, first_frame, _previous_clip(previous))
            kept = await self._first_take(shot, take, previous)
            if failing(kept.record.qc):
                kept = await self._retake(shots, shot, kept, previous)
            self._keep(shot, kept)
            if shot.brief.native_audio:
                await self._native_audio(shot)
            shot.record.output_hash = self._hash(kept.clip)
            state: ShotState = "cached" if shot.record.cached else "done"
            self._event(ShotEvent(ps.id, state, shot.record.engine or "", 1.0))
        except MinistudioError as exc:
            shot.record.error = self.blanker.blank(str(exc))
            shot.record.engine = shot.record.engine or ps.engine.id  # the one that failed last
            shot.cause = exc
            log.debug("shot %s failed: %s", ps.id, self._traceback(exc))
            if self.options.partial:
                shot.slate = await self._slate(shots, shot)
            shot.record.slate = shot.record.error if shot.slate else None
            self._event(ShotEvent(ps.id, "failed", shot.record.engine, detail=shot.record.error))
        finally:
            shot.record.seconds = round(time.monotonic() - began, 3)
            shot.done.set()
        await self._append_ready(shots)

    async def _first_take(self, shot: _Shot, take: Take, previous: _Shot | None) -> _Take:
        """The shot's first take: its engine, else each of its fallbacks in turn, checked.
        A fallback that renders it is recorded (``fallback_from``) with why the engine failed."""
        for engine in (take.engine, *shot.planned.fallbacks):
            shot.record.engine = engine.id  # for `status` while it renders, or if it fails
            try:
                made = await self._shoot(shot, dataclasses.replace(take, engine=engine))
                break
            except Exception as exc:  # a crashing plugin fails its shot, not the film
                error = self._failure(exc, engine)
                shot.record.failed_attempts.append(AttemptRecord(engine=engine.id, error=error))
                log.debug("shot %s on %s: %s", shot.planned.id, engine.id, self._traceback(exc))
                cause = exc
        else:
            raise MinistudioError(shot.record.failed_attempts[-1].error) from cause
        if shot.record.failed_attempts:
            first = shot.record.failed_attempts[0]
            shot.record.fallback_from = FallbackRecord(engine=first.engine, reason=first.error)
        return await self._check(shot, made, previous)

    async def _shoot(self, shot: _Shot, take: Take) -> _Take:
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
        clip, source = await self._render_with(shot, take, record)
        return _Take(take, clip, source, record)

    async def _check(self, shot: _Shot, made: _Take, previous: _Shot | None) -> _Take:
        """Run the checks on a take (with its seam for a `continue` shot) into its record."""
        from ministudio.qc.checks import decode, seam
        from ministudio.qc.checks.continuity import sample

        record, clip = made.record, made.clip
        assert shot.brief is not None
        record.qc = await self.inspector.verdicts(shot.brief, clip, shot.timing.duration, self.fps)
        made.footage = await anyio.to_thread.run_sync(
            lambda: sample(decode(clip, sound=False)), limiter=self._media
        )
        if previous is not None and previous.footage is not None:
            record.qc.append(seam(previous.footage, made.footage))
        record.cost += sum(verdict.cost for verdict in record.qc)
        return made

    async def _retake(
        self, shots: list[_Shot], shot: _Shot, first: _Take, previous: _Shot | None
    ) -> _Take:
        """Climb the production's retake ladder while a check fails; the best take is kept."""
        ps, qc = shot.planned, self.p.qc
        attempts: list[_Take | TakeRecord] = [first]  # a TakeRecord: a retake that failed
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
            climbed = _next_rung(
                rungs, take, len(attempts), attempts, ps, self.p.seed, scene_frame, made[-1]
            )
            if climbed is None:
                shot.record.retakes_stopped = "no rung of the retake ladder applies any more"
                break
            take = climbed
            cost = self._retake_cost(shot, take)
            if not self._afford(cost):
                shot.record.retakes_stopped = (
                    f"a retake on {take.engine.id} (${cost:.2f}) would pass the budget"
                )
                break
            why = "; ".join(v.reason for v in failing(made[-1].record.qc))
            self._event(
                ShotEvent(ps.id, "rendering", take.engine.id, detail=f"retake ({take.rung}): {why}")
            )
            try:
                rendered = await self._shoot(shot, take)
            except Exception as exc:  # an engine failing a retake leaves the takes made
                error = self._failure(exc, take.engine)
                attempts.append(
                    TakeRecord(rung=take.rung, engine=take.engine.id, seed=take.seed, error=error)
                )
                continue
            made.append(await self._check(shot, rendered, previous))
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
                _take_record(t, kept=t is kept) if isinstance(t, _Take) else t for t in attempts
            ]
        return kept

    def _keep(self, shot: _Shot, take: _Take) -> None:
        """Make ``take`` the shot's clip; the shot's cost is every take's."""
        spent = sum(t.cost for t in shot.record.takes) if shot.record.takes else take.record.cost
        for name in _TAKE_FIELDS:
            setattr(shot.record, name, getattr(take.record, name))
        shot.record.qc = list(take.record.qc)
        shot.record.cost = round(spent, 6)
        shot.clip, shot.source, shot.footage = take.clip, take.source, take.footage

    async def _scene_frame(self, shots: list[_Shot], shot: _Shot) -> Path | None:
        """The last frame of the shot before ``shot`` in its scene (None for the first)."""
        i = shots.index(shot)
        if i == 0 or shots[i - 1].planned.scene is not shot.planned.scene:
            return None
        before = shots[i - 1]
        await before.done.wait()
        return await self._last_frame(before.clip) if before.clip is not None else None

    def _retake_cost(self, shot: _Shot, take: Take) -> float:
        """What a retake would spend: nothing if its clip is in the store."""
        job = self._job(shot, take)
        if self.store.get(job.fit_key, ".mp4") or self.store.get(job.key, ".mp4"):
            return 0.0
        return self.host.estimate_cost(take.engine, job.request)

    def _afford(self, cost: float) -> bool:
        """Spend ``cost`` of what the budget leaves after the planned render, if it is there."""
        if self._allowance is None:
            return True
        if cost > self._allowance + 1e-9:
            return False
        self._allowance -= cost
        return True

    async def _native_audio(self, shot: _Shot) -> None:
        """Put the sound of a shot whose engine spoke its lines into the film."""
        engine = shot.record.engine or ""
        speaks = engine in self.host.engines and self.host.engines[engine].capabilities.native_audio
        if not speaks or shot.source is None:
            raise MinistudioError(
                f"its lines were to be spoken by {shot.planned.engine.id}, which failed, and "
                f"{engine} cannot speak them: set the shot's audio to voiced, or render again"
            )
        await self.film.place_audio(shot.source, shot.record.start, shot.timing.duration, engine)

    def _variant(
        self, engine: EngineSpec, ps: PlannedShot, seconds: float, *, plate: bool = False
    ) -> tuple[EngineSpec, dict[str, Any]]:
        """``engine`` narrowed to the model and mode that render ``ps`` (a plate of it: no
        frames, no lines), and its routing options with that model and mode."""
        return choose(
            engine,
            self.p.routing.options.get(engine.id, {}),
            aspect_ratio=self.p.format.aspect_ratio,
            resolution=self.p.format.resolution,
            seconds=seconds,
            speaks=not plate and speaks_natively(ps),
            dropped=(lambda e: []) if plate else (lambda e: ignored(self.p, ps, e)),
            shot_id=ps.id,
        )

    def _request(
        self,
        engine: EngineSpec,
        options: dict[str, Any],
        wanted: Conditioning,
        seconds: float,
        seed: int,
        edit: EditRequest | None = None,
    ) -> tuple[VideoRequest, dict[str, Any]]:
        """What ``engine`` (narrowed by ``_variant``, with its ``options``) is asked for, and
        its fingerprint (input files as content hashes).

        Inputs the engine cannot take (see its capabilities) are left out.
        """
        inputs = wanted.admitted_by(engine)
        options = dict(options)
        request = VideoRequest(
            shot=inputs.brief,
            prompt=self.host.prompt_map(engine.id, inputs.brief),
            duration=snap_duration(engine, seconds, inputs.brief.shot_id),
            aspect_ratio=self.p.format.aspect_ratio,
            width=self.width,
            height=self.height,
            fps=self.fps,
            seed=seed,
            model=options.pop("model", engine.default_model),
            first_frame=inputs.first_frame,
            previous=inputs.previous,
            last_frame=inputs.last_frame,
            loop=inputs.loop,
            edit=edit if engine.capabilities.edit else None,
            voice=inputs.voice,
            options=options,
        )
        fingerprint = {"engine": engine.id, "request": self._fingerprint(request)}
        return request, {**fingerprint, **self._code(engine)}

    def _code(self, engine: EngineSpec) -> dict[str, Any]:
        """What of the engine's code a job key covers: its declared ``revision`` (absent at
        0, so keys made before it stay valid), else its plugin's distribution and version,
        so upgrading the plugin makes its outputs again."""
        if engine.revision is not None:
            return {"revision": engine.revision} if engine.revision else {}
        return {"code": self._version(engine)}

    def _version(self, engine: EngineSpec) -> str:
        """The engine's plugin distribution and version ("ministudio-core 0.1.0")."""
        owner = self.host.owner(engine.id)
        return f"{owner.distribution} {owner.version}".strip()

    def _job(self, shot: _Shot, take: Take) -> _Job:
        """The request ``take`` makes of its engine, and the keys its outputs are stored under."""
        ps, timing = shot.planned, shot.timing
        engine, options = self._variant(take.engine, ps, timing.duration)
        assert shot.brief is not None
        brief = shot.brief
        if take.references:  # the retake ladder's extra images of the place
            env = brief.environment
            images = (*env.reference_images, *take.references)
            brief = brief.model_copy(
                update={"environment": env.model_copy(update={"reference_images": images})}
            )
        end = ps.shot.end_frame
        voice = self._voice(shot) if engine.capabilities.reference_audio else None
        wanted = Conditioning(
            brief,
            take.first_frame,
            take.previous,
            self._image(end) if end else None,
            ps.shot.loop,
            voice,
        )
        request, fingerprint = self._request(
            engine, options, wanted, timing.duration, take.seed, take.edit
        )
        key = job_key("video", fingerprint)
        fit_key = job_key(
            "fit",
            {
                "clip": key,
                "size": [self.width, self.height],
                "fps": self.fps,
                "frames": timing.frames,
            },
        )
        inputs = {name: job_key(name, value)[:12] for name, value in fingerprint["request"].items()}
        inputs["engine"] = engine.id
        # the engine's code as the key covers it, for `plan` to say when it changed
        inputs["code"] = fingerprint.get("code") or f"revision {fingerprint.get('revision', 0)}"
        return _Job(request, key, fit_key, inputs, ignored(self.p, ps, engine), engine)

    async def _render_with(
        self, shot: _Shot, take: Take, record: ShotRecord
    ) -> tuple[Path, Path | None]:
        """Render ``take`` (or find it in the store) into ``record``: (the clip fitted to the
        film, the engine's own clip where it is kept)."""
        from ministudio.media.fit import fit_clip

        timing, engine = shot.timing, take.engine
        job = self._job(shot, take)
        request, key, fit_key = job.request, job.key, job.fit_key
        record.inputs, record.ignored = job.inputs, job.ignored
        record.conditioning = given(request)
        record.engine, record.model, record.prompt = engine.id, request.model, request.prompt
        record.requested_duration, record.job_key = request.duration, key
        fitted = self.store.get(fit_key, ".mp4")
        if fitted is not None:
            record.cached = True
            row = self.journal.get(key)
            record.engine_job_id = row.job_id if row else None
            return fitted, self.store.get(key, ".mp4")
        raw = self.store.get(key, ".mp4")
        scratch = self.store.scratch()
        try:
            if raw is None:
                raw = await self._generate(engine, request, key, scratch, record)
            else:  # stored, not yet fitted (a render killed in between): its job id lives on
                record.cached = True
                row = self.journal.get(key)
                record.engine_job_id = row.job_id if row else None
            out = scratch / "fitted.mp4"
            await anyio.to_thread.run_sync(
                lambda: fit_clip(
                    raw,
                    out,
                    width=self.width,
                    height=self.height,
                    fps=self.fps,
                    frames=timing.frames,
                ),
                limiter=self._media,
            )
            fitted = self.store.put(fit_key, out, ".mp4")
            checkpoint("fitted")
            return fitted, raw
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    async def _generate(
        self,
        engine: EngineSpec,
        request: VideoRequest,
        key: str,
        scratch: Path,
        record: ShotRecord,
    ) -> Path:
        from ministudio.media.probe import probe

        shot_id = request.shot.shot_id
        self._event(ShotEvent(shot_id, "waiting", engine.id, detail="queued"))
        async with self._limiter(engine):
            self._event(ShotEvent(shot_id, "rendering", engine.id))

            def progress(fraction: float) -> None:
                self._event(ShotEvent(shot_id, "rendering", engine.id, fraction))

            context = self._context(engine, scratch, progress)
            # side jobs (``context.paid``) are journaled under the shot that first asks
            context.remember = lambda key, make: self._remember(
                engine, f"once:{key}", make, shot_id
            )
            output = scratch / "clip.mp4"
            if self.host.implements(engine.id, "submit_video"):

                def submitted(job_id: str) -> None:
                    record.engine_job_id = job_id
                    self._event(ShotEvent(shot_id, "rendering", engine.id, detail=f"job {job_id}"))

                result = await self.remote.run(
                    engine,
                    request,
                    key,
                    output,
                    context,
                    shot=shot_id,
                    rate=self.remote.rate(engine, self._limits(engine)[1]),
                    on_submitted=submitted,
                )
            else:
                result = await self.host.generate_video(engine.id, request, output, context)
        # refuse a damaged clip loudly
        await anyio.to_thread.run_sync(probe, result.path, limiter=self._media)
        record.cost += result.cost
        record.engine_job_id = result.engine_job_id or record.engine_job_id
        record.model = result.model or record.model
        stored = self.store.put(key, result.path, ".mp4")
        checkpoint("stored")
        return stored

    def _plate_job(self, shot: _Shot) -> tuple[EngineSpec, VideoRequest, str, str] | None:
        """(engine, request, clip key, image key) of the shot's background plate, if any."""
        engine = shot.planned.plate
        if engine is None:
            return None
        brief = plate_brief(self.p, shot.planned, image=self._image)
        seed = shot_seed(self.p.seed, f"{brief.shot_id}|{brief.environment.lighting}")
        wanted = Conditioning(brief)
        engine, options = self._variant(engine, shot.planned, 0.0, plate=True)
        seconds = engine.capabilities.min_duration
        request, fingerprint = self._request(engine, options, wanted, seconds, seed)
        key = job_key("video", fingerprint)
        return engine, request, key, job_key("plate", {"clip": key})

    def _with_plate(self, shot: _Shot, plate: Path) -> None:
        """Give the shot's engine its plate as the place's first reference image."""
        assert shot.brief is not None
        env = shot.brief.environment
        env = env.model_copy(update={"reference_images": (plate, *env.reference_images)})
        shot.brief = shot.brief.model_copy(update={"environment": env})

    async def _plate(self, shot: _Shot) -> Path | None:
        """Render (once per place and lighting, shared by every shot) the shot's plate image."""
        from ministudio.media.contact_sheet import middle_frame

        job = self._plate_job(shot)
        if job is None:
            return None
        engine, request, key, image_key = job
        async with self._plate_locks.setdefault(key, anyio.Lock()):
            record = self._plates.setdefault(
                key,
                ShotRecord(
                    id=request.shot.shot_id,
                    scene=request.shot.scene_id,
                    index=-1,
                    seed=request.seed,
                    start=0.0,
                    duration=request.duration,
                    frames=0,
                    engine=engine.id,
                    model=request.model,
                    prompt=request.prompt,
                    job_key=key,
                ),
            )
            if record.engine_job_id is None:  # a plate made by an earlier run: its job
                row = self.journal.get(key)
                record.engine_job_id = row.job_id if row else None
            image = self.store.get(image_key, ".png")
            if image is not None:
                record.cached = record.cached or record.cost == 0.0
                record.output_hash = self._hash(image)
                return image
            scratch = self.store.scratch()
            try:
                clip = self.store.get(key, ".mp4")
                if clip is None:
                    clip = await self._generate(engine, request, key, scratch, record)
                else:
                    record.cached = True
                frame = await anyio.to_thread.run_sync(middle_frame, clip, limiter=self._media)
                frame.save(scratch / "plate.png")
                image = self.store.put(image_key, scratch / "plate.png", ".png")
                record.output_hash = self._hash(image)
                return image
            except Exception as exc:  # fails each shot on the plate, its keys blanked
                record.state, record.error = "failed", self._failure(exc, engine)
                raise MinistudioError(
                    f"its background plate could not be made: {record.error}"
                ) from exc
            finally:
                shutil.rmtree(scratch, ignore_errors=True)

    async def _last_frame(self, clip: Path) -> Path:
        from ministudio.media.fit import last_frame_png

        key = job_key("last-frame", {"clip": self._hash(clip)})
        path = self.store.get(key, ".png")
        if path is None:
            scratch = self.store.scratch()
            try:
                png = await anyio.to_thread.run_sync(
                    last_frame_png, clip, scratch / "last.png", limiter=self._media
                )
                path = self.store.put(key, png, ".png")
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        return path

    # -- the film --------------------------------------------------------------------------

    async def _receive_webhooks(
        self, hub: WebhookHub, *, task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        from ministudio.remote.webhooks import WebhookReceiver

        host, _, port = self.options.webhook_listen.rpartition(":")
        receiver = WebhookReceiver(
            lambda engine, body, headers: self.host.parse_webhook(engine, body, headers, self.env),
            hub.deliver,
        )
        async with anyio.create_task_group() as tg:
            self.webhook_port = await tg.start(receiver.serve, host or "127.0.0.1", int(port))
            task_status.started()

    def _place(self, shots: list[_Shot]) -> None:
        """Each shot's and each line's start in the film (known once speech is done)."""
        start = 0.0
        for shot in shots:
            shot.record.start = round(start, 6)
            shot.record.lines = [
                LineRecord(
                    speaker=line.planned.speaker,
                    text=line.planned.request.text,
                    emotion=line.planned.request.emotion,
                    engine=line.planned.engine if line.path else shot.planned.engine.id,
                    start=round(start + t, 3),
                    end=round(start + t + line.duration, 3),
                    cached=line.cached,
                    cost=line.cost,
                )
                for line, t in zip(shot.lines, shot.timing.starts, strict=True)
            ]
            start += shot.timing.duration

    def _open_film(self, shots: list[_Shot]) -> None:
        """Start the film file with its soundtrack and subtitles (audio first)."""
        lines = [
            Spoken(line.path, record.start, record.end, record.text, line.planned.speaker_name)
            for shot in shots
            for line, record in zip(shot.lines, shot.record.lines, strict=True)
        ]
        self.film.open(lines, sum(s.timing.frames for s in shots) / self.fps)

    async def _append_ready(self, shots: list[_Shot]) -> None:
        # a failed shot's slate stands in for it (even where a clip was kept before it failed)
        await self.film.append_ready([(s.done.is_set(), s.slate or s.clip) for s in shots])

    async def _slate(self, shots: list[_Shot], shot: _Shot) -> Path | None:
        """The slate of a failed shot (its id and why, its planned length), made for this
        render only: never stored, so the next render tries the shot again. None if it
        cannot be made (the film is then not assembled, as without ``partial``)."""
        assert shot.record.error is not None
        if self._slates is None:
            self._slates = self.store.scratch()
        index = shots.index(shot)
        try:
            return await self.film.slate(
                self._slates / f"{index:04d}.mp4",
                shot.planned.id,
                shot.record.error,
                frames=shot.timing.frames,
                index=index,
            )
        except Exception as exc:  # no slate: this render ends as it would have without them
            log.warning("no slate for shot %s: %s", shot.planned.id, self._traceback(exc))
            return None

    async def _finish(self, shots: list[_Shot], started: float) -> Manifest:
        manifest = self._manifest(shots)
        failed = [s for s in shots if s.record.error]
        failures = {s.planned.id: s.record.error for s in failed if s.record.error}
        causes = [s.cause for s in failed if s.cause is not None]
        crashes = [c for c in causes if _crash(c)]
        cause = next(iter(crashes + causes), None)  # what --debug prints: a crash's, if any
        if failed and not all(s.slate for s in failed):  # no film (--no-partial)
            self.film.abort()
            for shot in failed:
                shot.record.slate = None
            manifest.seconds = round(time.monotonic() - started, 3)
            manifest.write(self.out / "manifest.json", self.blanker.blank)
            raise RenderError(
                failures, self.out / "manifest.json", crashed=bool(crashes)
            ) from cause
        await anyio.to_thread.run_sync(self._check_across, shots, limiter=self._media)
        labels = [
            f"{s.planned.id} · slate (failed)"
            if s.slate
            else f"{s.planned.id} · {s.planned.shot.size} · {s.record.engine}"
            for s in shots
        ]
        checkpoint("assembling")
        await anyio.to_thread.run_sync(self.film.close, labels)
        manifest.film = "film.mp4"
        manifest.subtitles = ["film.srt", "film.vtt"]
        manifest.contact_sheet = "contact_sheet.png"
        if self.film.loudness is not None:
            manifest.loudness = LoudnessRecord(**dataclasses.asdict(self.film.loudness))
        manifest.seconds = round(time.monotonic() - started, 3)
        manifest.write(self.out / "manifest.json", self.blanker.blank)
        if failures:  # a film with slates: still a failed render
            film = self.out / "film.mp4"
            raise RenderError(
                failures,
                self.out / "manifest.json",
                film=film,
                result=manifest,
                crashed=bool(crashes),
            ) from cause
        return manifest

    def _check_across(self, shots: list[_Shot]) -> None:
        """Scene by scene, shots of the same place in the same light should look like the same
        place (a scene's lighting may change on purpose): verdicts into each shot's QC. (Each
        `continue` shot's seam was checked with its takes.)"""
        from ministudio.qc.checks import scene_stability
        from ministudio.qc.places import Place, places

        def where(s: _Shot) -> Place:
            return Place(s.record.scene, s.planned.scene.environment, s.record.lighting)

        seen = [s for s in shots if s.footage is not None and s.brief is not None]
        for place, same in places(seen, where):
            if len(same) > 1:
                clips = {s.planned.id: s.footage for s in same if s.footage is not None}
                found = scene_stability(clips, place.name)
                for shot, verdict in zip(same, found, strict=True):
                    shot.record.qc.append(verdict)

    def _manifest(self, shots: list[_Shot]) -> Manifest:
        return Manifest(
            title=self.p.title,
            ministudio_version=__version__,
            production_hash=job_key("production", self.p.model_dump(mode="json")),
            store=str(self.store.root),
            width=self.width,
            height=self.height,
            fps=self.fps,
            aspect_ratio=self.p.format.aspect_ratio,
            duration=round(sum(s.timing.frames for s in shots) / self.fps, 6),
            cost=round(
                sum(s.record.cost + sum(line.cost for line in s.lines) for s in shots)
                + sum(p.cost for p in self._plates.values()),
                4,
            ),
            seconds=0.0,
            film=None,
            shots=[s.record for s in shots],
            plates=list(self._plates.values()),
        )

    def _event(self, event: ShotEvent) -> None:
        """Pass an event on, and keep manifest.json current for `ministudio status`."""
        self.on_event(event)
        record = self._records.get(event.shot_id)
        if record is None:
            return
        record.state = event.state
        now = time.monotonic()
        if event.state in ("done", "cached", "failed") or now - self._saved > 0.5:
            self._saved = now
            with contextlib.suppress(OSError):
                self._manifest(self._shots).write(self.out / "manifest.json", self.blanker.blank)

    # -- helpers ---------------------------------------------------------------------------

    def _failure(self, exc: Exception, engine: EngineSpec | None) -> str:
        """An engine's failure as text, keys blanked (``_describe``). A crash (an exception
        MiniStudio did not raise on purpose: a bug in the plugin) names the engine, the
        plugin that declares it and its distribution; a damaged clip names the engine."""
        text = _describe(exc, engine, self.env)
        if engine is None or isinstance(exc, (EngineError, MissingKeyError)):
            return text  # an engine's own error, which names it
        if isinstance(exc, MinistudioError):
            return f"{engine.id}: {text}" if isinstance(exc, MediaError) else text
        return self.blanker.blank(
            f"{text} (a crash in engine '{engine.id}' of {self._provenance(engine.id)}: a bug "
            f"to report to the plugin's authors)"
        )

    def _provenance(self, engine_id: str) -> str:
        """The plugin that declares ``engine_id``: "plugin 'x' (distribution y 1.2)"."""
        try:
            return str(self.host.owner(engine_id))
        except MinistudioError:
            return "an unknown plugin"

    def _traceback(self, exc: BaseException) -> str:
        """``exc`` with its traceback (and causes), keys blanked: for the debug log."""
        return self.blanker.blank("".join(traceback.format_exception(exc)).rstrip())

    def _limits(self, engine: EngineSpec) -> tuple[int, int | None]:
        """(concurrency, requests per minute): the routing's overrides, else the declared ones."""
        caps, override = engine.capabilities, self.p.routing.limits.get(engine.id)
        concurrency = (override and override.concurrency) or caps.concurrency
        per_minute = (override and override.requests_per_minute) or caps.requests_per_minute
        return concurrency, per_minute

    def _limiter(self, engine: EngineSpec) -> anyio.CapacityLimiter:
        if engine.id not in self._limiters:
            self._limiters[engine.id] = anyio.CapacityLimiter(self._limits(engine)[0])
        return self._limiters[engine.id]

    def _context(
        self, engine: EngineSpec, scratch: Path, progress: Callable[[float], None] | None = None
    ) -> EngineContext:
        context = EngineContext(engine=engine.id, work_dir=scratch, env=self.env)
        context.uploader = lambda path: self._upload(engine, path, context)
        context.remember = lambda key, make: self._remember(engine, f"once:{key}", make)
        if self.options.webhook_url and engine.capabilities.webhooks:
            base = self.options.webhook_url.replace("{port}", str(self.webhook_port))
            context.webhook_url = f"{base.rstrip('/')}/{engine.id}"
        if progress is not None:
            context.progress = progress
        return context

    async def _upload(self, engine: EngineSpec, path: Path, context: EngineContext) -> str:
        """Upload a file for ``engine`` once per content (see ``_remember``)."""
        return await self._remember(
            engine,
            self._hash(path),
            lambda: self.host.call_engine(
                engine.id, "upload_asset", path=path, context=context, expected=(str, HostedAsset)
            ),
        )

    async def _remember(self, engine: EngineSpec, key: str, make: Made, shot: str = "") -> str:
        """``make()``'s reference for ``(engine, key)``, made once and kept in the journal;
        later shots and runs reuse it until it is close to expiring (``Journal.asset``). A
        paid side job (``Paid``) is a journal job of its own while it is made."""
        async with self._remember_locks.setdefault((engine.id, key), anyio.Lock()):
            reference = self.journal.asset(engine.id, key)
            if reference is None:
                if isinstance(make, Paid):
                    made = await self.remote.side_job(engine, key, make, shot)
                else:
                    made = await make()
                hosted = HostedAsset(reference=made) if isinstance(made, str) else made
                reference = hosted.reference
                self.journal.uploaded(engine.id, key, reference, expires_at=hosted.expires_at)
        return reference

    def _voice(self, shot: _Shot) -> Path | None:
        """The shot's on-screen lines as one WAV on its timeline (in the store), or None
        when no character in the shot speaks (``ministudio.plan.voicing``)."""
        from ministudio.plan.voicing import on_screen, write_voice

        assert shot.brief is not None
        spoken = [
            (line.path, shot.brief.lines[i].start)
            for i in on_screen(shot.brief)
            if (line := shot.lines[i]).path is not None
        ]
        if not spoken:
            return None
        seconds = shot.timing.duration
        key = job_key(
            "voice", {"lines": [[self._hash(p), t] for p, t in spoken], "seconds": seconds}
        )
        path = self.store.get(key, ".voice.wav")
        if path is None:
            scratch = self.store.scratch()
            try:
                path = self.store.put(
                    key, write_voice(spoken, seconds, scratch / "voice.wav"), ".voice.wav"
                )
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        return path

    def _image(self, path: Path) -> Path:
        """The re-encoded copy (pixels only, in the store) engines get of a production image."""
        if path not in self._sanitized:
            self._sanitized[path] = sanitized(path, self.store)
        return self._sanitized[path]

    def _hash(self, path: Path) -> str:
        if path not in self._hashes:
            self._hashes[path] = file_hash(path)
        return self._hashes[path]

    def _fingerprint(self, request: VideoRequest) -> Any:
        """The request as JSON with every input file replaced by its content hash."""
        data = request.model_dump(mode="json")
        # which job made the clip a shot continues changes nothing the first frame does not
        del data["previous"]
        if request.first_frame is not None:
            data["first_frame"] = self._hash(request.first_frame)
        if request.last_frame is not None:
            data["last_frame"] = self._hash(request.last_frame)
        else:  # left out when unused, so adding the field kept earlier job keys
            del data["last_frame"]
        if not request.loop:
            del data["loop"]
        if request.voice is not None:
            data["voice"] = self._hash(request.voice)
        else:  # left out when unused, so adding the field kept earlier job keys
            del data["voice"]
        data["shot"] = self._brief(request.shot)
        return data

    def _brief(self, shot: ShotPrompt) -> Any:
        """The brief as JSON with every reference image replaced by its content hash."""
        brief = shot.model_dump(mode="json")
        if not shot.native_audio:  # left out when unused, so adding the field kept job keys
            del brief["native_audio"]
        for character, source in zip(brief["characters"], shot.characters, strict=True):
            character["reference_images"] = [self._hash(p) for p in source.reference_images]
        brief["environment"]["reference_images"] = [
            self._hash(p) for p in shot.environment.reference_images
        ]
        return brief


def _next_rung(
    rungs: Iterator[Rung],
    last: Take,
    number: int,
    attempts: list[_Take | TakeRecord],
    ps: PlannedShot,
    production_seed: int,
    scene_frame: Path | None,
    latest: _Take,
) -> Take | None:
    """Retake ``number``: ``last`` changed by the next rung of the ladder that applies;
    ``latest`` is the last take made (what an ``edit`` rung changes)."""
    tried = [t.take.engine.id if isinstance(t, _Take) else t.engine for t in attempts]
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
        )
        if take is not None:
            return take
    return None


def _take_record(made: _Take, *, kept: bool) -> TakeRecord:
    record = made.record
    return TakeRecord(
        rung=made.take.rung,
        engine=made.take.engine.id,
        model=record.model,
        seed=made.take.seed,
        job_key=record.job_key,
        engine_job_id=record.engine_job_id,
        conditioning=record.conditioning,
        cached=record.cached,
        cost=record.cost,
        qc=record.qc,
        kept=kept,
    )


def _previous_clip(shot: _Shot | None) -> PreviousClip | None:
    """The engine job behind the clip a `continue` shot follows, when known."""
    if shot is None or not shot.record.engine or not shot.record.engine_job_id:
        return None
    return PreviousClip(engine=shot.record.engine, job_id=shot.record.engine_job_id)


def _previous_inputs(manifest: Path) -> dict[str, dict[str, str]]:
    """Each shot's inputs as the last render in this folder recorded them."""
    try:
        saved = Manifest.model_validate_json(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {shot.id: shot.inputs for shot in saved.shots if shot.inputs}


def _describe(exc: Exception, engine: EngineSpec | None, env: Mapping[str, str]) -> str:
    """An engine failure as text, through the blanking gate (which knows the engine's keys in
    ``env`` besides the process's)."""
    return described(exc, engine.key_env if engine else (), env)


def _crash(exc: BaseException) -> bool:
    """Whether ``exc`` comes from an exception MiniStudio did not raise on purpose (a bug in a
    plugin, usually): the root of its causes."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return not isinstance(exc, MinistudioError)


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()
