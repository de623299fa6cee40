"""The shots of a render as it runs: each shot timed from its spoken lines, split where its
lines outlast its engine's longest clip, and placed on the film's timeline."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from ministudio.jobs import PreviousClip, ShotPrompt
from ministudio.plan.shots import (
    GAP,
    PlannedLine,
    PlannedShot,
    ShotTiming,
    longest_clip,
    shot_lighting,
    shot_seed,
    speaks_natively,
    time_shot,
)
from ministudio.qc.retakes import Take
from ministudio.run.manifest import LineRecord, ShotRecord
from ministudio.spec import Production

if TYPE_CHECKING:
    from ministudio.qc.checks import Footage


@dataclass
class Line:
    """A line as spoken (or to be spoken by the shot's video engine)."""

    planned: PlannedLine
    path: Path | None  # None: the shot's video engine speaks it (native audio)
    duration: float
    cached: bool
    cost: float = 0.0  # USD spent on it in this run
    # the phonemes it was spoken with, where its engine said (seconds from its start)
    phonemes: tuple[tuple[float, str], ...] = ()


@dataclass
class Shot:
    """A shot (or a part of a split one) as it renders; ``done`` is set when it is finished
    or failed."""

    planned: PlannedShot
    lines: list[Line]
    timing: ShotTiming
    record: ShotRecord
    brief: ShotPrompt | None = None
    clip: Path | None = None
    source: Path | None = None  # the engine's clip before fitting (for native audio)
    footage: Footage | None = None  # a few of the clip's frames, for the checks across shots
    slate: Path | None = None  # the card the film shows in its place when it failed
    cause: BaseException | None = None  # why it failed, with the traceback
    # lines begun in the part before this one (a split shot) and still heard in it, each
    # with its start from this part's (negative): its voice and its mouths carry on
    carried: list[tuple[Line, float]] = field(default_factory=list)
    done: anyio.Event = field(default_factory=anyio.Event)
    final: anyio.Event = field(default_factory=anyio.Event)  # its clip may join the film
    fit_key: str | None = None  # the key of ``clip`` in the store
    followed: bool = False  # the next shot `continue`s it
    # The frame (and engine job) the `continue` shot after it starts from, once its clip is
    # known not to change: set as soon as the engine's clip is in when no retake can replace
    # it, else when the shot is done (``led`` is set then, in every case).
    lead: tuple[Path, PreviousClip | None] | None = None
    led: anyio.Event = field(default_factory=anyio.Event)


@dataclass
class Made:
    """A take rendered (and checked): its clip, the engine's own clip, its record (``qc``
    included) and a few frames for the checks across shots."""

    take: Take
    clip: Path
    source: Path | None
    record: ShotRecord
    fit_key: str
    footage: Footage | None = None


def timed(
    production: Production,
    ps: PlannedShot,
    lines: list[Line],
    timing: ShotTiming | None = None,
    part_of: str | None = None,
) -> Shot:
    """``ps`` timed from its lines' lengths (audio first), with its record started."""
    fps = production.format.fps
    timing = timing or time_shot(ps.shot, [line.duration for line in lines], fps)
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
        lighting=shot_lighting(production, ps),
        camera=ps.shot.camera,
        cast=list(ps.shot.cast),
    )
    return Shot(ps, lines, timing, record)


def split(production: Production, shot: Shot) -> list[Shot]:
    """A shot whose lines outlast its engine's longest clip, as several clips cut where
    its speech pauses (each after the first a `continue` shot); any other shot as it is.

    A shot given a duration of its own, or whose engine speaks its lines, is not split.
    """
    from ministudio.media.audio import read_wav
    from ministudio.plan.phrasing import cuts, pauses

    ps, timing, fps = shot.planned, shot.timing, production.format.fps
    # a promotion keeps its previz's length: the shot is cut as its previz is
    engine = ps.previz if ps.promoted and ps.previz else ps.engine
    longest = longest_clip(engine)
    timed_by_lines = ps.shot.duration == "audio" or timing.stretched
    if timing.duration <= longest + 1e-6 or not timed_by_lines or speaks_natively(ps):
        return [shot]
    candidates = []
    for line, start in zip(shot.lines, timing.starts, strict=True):
        if line.path is not None:
            candidates += [start + t for t in pauses(*read_wav(line.path))]
        candidates.append(start + line.duration + GAP / 2)  # between two lines
    times = cuts(timing.duration, candidates, longest, engine.capabilities.min_duration)
    bounds = [0, *(round(t * fps) for t in times), timing.frames]
    # a shot given a seed of its own (a review's retake) gives its parts seeds from it
    seed = production.seed if ps.seed == shot_seed(production.seed, ps.id) else ps.seed
    parts = []
    for n, (a, b) in enumerate(itertools.pairwise(bounds), 1):
        lo, hi = a / fps, b / fps
        mine = [i for i, t in enumerate(timing.starts) if lo <= t < hi]
        part_id = f"{ps.id}.{n}"
        continuity = ps.shot.continuity if n == 1 else "continue"
        planned = dataclasses.replace(
            ps,
            id=part_id,
            shot=ps.shot.model_copy(update={"continuity": continuity}),
            seed=shot_seed(seed, part_id),
            lines=tuple(ps.lines[i] for i in mine),
        )
        starts = tuple(timing.starts[i] - lo for i in mine)
        part = ShotTiming((b - a) / fps, b - a, starts, timing.stretched)
        parts.append(timed(production, planned, [shot.lines[i] for i in mine], part, ps.id))
        parts[-1].carried = [
            (line, start - lo)
            for line, start in zip(shot.lines, timing.starts, strict=True)
            if start < lo < start + line.duration
        ]
    return parts


def carried_lines(
    shot: Shot,
) -> list[tuple[PlannedLine, float, float, tuple[tuple[float, str], ...]]]:
    """``shot.carried`` as ``shot_brief`` takes it: each line, its start, length, phonemes."""
    return [(line.planned, start, line.duration, line.phonemes) for line, start in shot.carried]


def place(shots: list[Shot]) -> None:
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


def job_of(record: ShotRecord) -> PreviousClip | None:
    """The engine job behind a take's clip (what a `continue` shot follows), when known."""
    if not record.engine or not record.engine_job_id:
        return None
    return PreviousClip(engine=record.engine, job_id=record.engine_job_id)


def previous_of(shots: list[Shot], shot: Shot) -> Shot | None:
    """The shot ``shot`` continues (the one before it), or None."""
    i = shots.index(shot)
    return shots[i - 1] if i and shot.planned.shot.continuity == "continue" else None
