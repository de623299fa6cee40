"""What a render will do before it does it (``ministudio plan``, and the budget's refusal):
per shot in the store or not and why, its cost and its time."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from ministudio.engines import EngineContext, EngineSpec
from ministudio.engines.variants import label
from ministudio.jobs import PrevizSource, VideoRequest
from ministudio.plan.estimate import FilmPlan, ShotPlan, changed_inputs
from ministudio.plan.shots import shot_brief
from ministudio.qc.retakes import Take
from ministudio.remote.runner import RemoteRunner
from ministudio.run.clips import Clips
from ministudio.run.context import RenderContext
from ministudio.run.errors import BudgetError
from ministudio.run.lipsync import LipSync
from ministudio.run.manifest import Manifest
from ministudio.run.requests import Requests, with_plate
from ministudio.run.shots import Shot, carried_lines


async def assess(
    ctx: RenderContext,
    requests: Requests,
    clips: Clips,
    remote: RemoteRunner,
    shots: list[Shot],
    lipsync: LipSync,
    previz: Callable[[Shot], PrevizSource | None] = lambda shot: None,
) -> FilmPlan:
    """Per shot: in the store or not and why, cost and time (and its lip-sync pass's);
    refuses impossible shots, and those an engine says it would refuse (``check_video``).
    ``previz`` gives a promoted shot's previz (None: it could not be made)."""
    store, host = ctx.store, ctx.host
    previous = previous_inputs(ctx.out / "manifest.json")
    plans: list[ShotPlan] = []
    fitted: dict[str, Path | None] = {}
    fit_keys: dict[str, tuple[str, int, Path | None]] = {}  # fit key, frames, the raw clip
    planned_plates: set[str] = set()
    for i, shot in enumerate(shots):
        ps = shot.planned
        after = shots[i - 1].planned.id if i and ps.shot.continuity == "continue" else None
        plate_job = requests.plate(shot)
        plate = store.get(plate_job.image_key, ".png") if plate_job else None
        if plate_job and plate is None and plate_job.key not in planned_plates:
            planned_plates.add(plate_job.key)
            plate_engine, plate_request = plate_job.engine, plate_job.request
            await check(ctx, plate_engine, plate_request)
            plans.append(
                ShotPlan(
                    id=plate_request.shot.shot_id,
                    engine=plate_engine.id,
                    model=label(plate_engine) or plate_request.model or "",
                    duration=0.0,
                    requested=plate_request.duration,
                    cached=False,
                    reason=f"background plate ({plate_request.shot.environment.lighting})",
                    cost=host.estimate_cost(plate_engine, plate_request),
                    seconds=remote.expected_latency(plate_engine),
                    after=None,
                )
            )
        source = previz(shot) if ps.promoted else None
        unmade = ps.promoted and source is None  # its previz failed: priced as if made
        ready = (after is None or fitted[after] is not None) and (plate_job is None or plate)
        ready = ready and not unmade
        before = fitted[after] if ready and after else None
        first = await clips.continue_frame(*fit_keys[after], before) if after and before else None
        durations = [line.duration for line in shot.lines]
        said = [line.phonemes for line in shot.lines]
        shot.brief = shot_brief(
            ctx.p, ps, shot.timing, durations, image=ctx.image, phonemes=said,
            carried=carried_lines(shot),
        )  # fmt: skip
        if plate is not None:
            with_plate(shot, plate)
        # Built even when the shot waits (for the shot it continues, or its plate): its
        # model, mode, length and price are known; only its frame or plate is not yet.
        costed = requests.job(shot, Take(ps.engine, ps.seed, first, source=source))
        if unmade:
            costed = dataclasses.replace(
                costed, request=costed.request.model_copy(update=unmade_previz(ctx, shot))
            )
        job = costed if ready else None
        engine, requested = costed.engine, costed.request.duration
        clip = store.get(job.fit_key, ".mp4") if job else None
        fitted[ps.id] = clip
        if job is not None:
            fit_keys[ps.id] = (job.fit_key, shot.timing.frames, store.get(job.key, ".mp4"))
        cached = clip is not None or (job is not None and store.get(job.key, ".mp4"))
        if not cached:
            checked = costed.request
            if after and first is None and engine.capabilities.first_frame:
                # its first frame is the shot before's last, not made yet: the engine is
                # asked about a request with a frame (a check looks at the input, not the file)
                frame = ctx.out / f"{after}.last-frame.png"
                checked = checked.model_copy(update={"first_frame": frame})
            await check(ctx, engine, checked)
        if cached:
            reason = "in the store"
        elif unmade:
            reason = "its previz could not be made (previz/manifest.json says why)"
        elif job is None and plate_job is not None and plate is None:
            reason = "waits for its background plate"
        elif job is None:
            reason = f"continues {after}, which renders first"
        elif ps.id not in previous:
            reason = "new shot" if previous else "first render"
        else:
            reason = "changed: " + changed_inputs(previous[ps.id], job.inputs)
        if ps.promoted and not cached:
            reason = f"promotes its previz; {reason}"
        plans.append(
            ShotPlan(
                id=ps.id,
                engine=engine.id,
                model=label(engine) or costed.request.model or "",
                duration=shot.timing.duration,
                requested=requested,
                cached=bool(cached),
                reason=reason,
                cost=0.0 if cached else host.estimate_cost(engine, costed.request),
                seconds=0.0 if cached else remote.expected_latency(engine),
                after=after if after and not fitted[after] else None,
                ignored=tuple(costed.ignored),
            )
        )
        synced = lipsync.plan(shot, (clip, costed.fit_key) if clip else None)
        if synced is not None:
            plans.append(synced)
    engines = {shot.planned.engine for shot in shots}
    engines |= {s.planned.lipsync for s in shots if s.planned.lipsync is not None}
    return FilmPlan(plans, {engine.id: ctx.limits(engine)[0] for engine in engines})


def unmade_previz(ctx: RenderContext, shot: Shot) -> dict[str, object]:
    """What a promotion's request would hold, for its check and price, when its previz is
    not made: the previz's length and passes not yet written."""
    names = ("clip", *shot.planned.engine.capabilities.video_edit)
    passes = {name: ctx.out / "previz" / f"{shot.planned.id}.{name}" for name in names}
    return {
        "source": PrevizSource(frames=shot.timing.frames, passes=passes),
        "duration": shot.timing.duration,
    }


async def check(ctx: RenderContext, engine: EngineSpec, request: VideoRequest) -> None:
    """The engine's own refusal of ``request`` (``check_video``), before anything is paid."""
    context = EngineContext(engine=engine.id, work_dir=ctx.out, env=ctx.env)
    await ctx.host.check_video(engine, request, context)


def refuse_over_budget(ctx: RenderContext, plan: FilmPlan) -> None:
    """Raise ``BudgetError`` when ``plan`` costs more than the production's budget or
    ``--max-cost``, or a limit is set and a shot's cost is unknown; nothing has been spent on
    video yet."""
    limits = ((ctx.p.budget, "the production's budget"), (ctx.options.max_cost, "--max-cost"))
    for limit, name in limits:
        if limit is not None and plan.unpriced:
            raise BudgetError(
                f"{name} of ${limit:.2f} cannot be kept: the cost of "
                f"{', '.join(plan.unpriced)} is unknown (its engine has no price for it); "
                f"nothing was spent. Route them to a priced engine, or drop the limit"
            )
        if limit is not None and plan.cost > limit + 1e-9:
            raise BudgetError(
                f"this render would cost ${plan.cost:.2f}, above {name} of ${limit:.2f}; "
                f"nothing was spent. Raise the limit or route shots to cheaper engines "
                f"(`ministudio plan` shows each shot's cost)"
            )


def previous_inputs(manifest: Path) -> dict[str, dict[str, str]]:
    """Each shot's inputs as the last render in this folder recorded them."""
    try:
        saved = Manifest.model_validate_json(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {shot.id: shot.inputs for shot in saved.shots if shot.inputs}
