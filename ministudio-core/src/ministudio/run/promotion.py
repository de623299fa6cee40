"""Previz to final (``routing.previz``): the previz render, its control passes, and the
sources the final render promotes.

A production whose shots' engines edit video (``Capabilities.video_edit``) renders twice over
one store: first its previz (every shot on the previz engine, keyless: ``previz_production``),
whose kept takes leave their control passes in the store (``Passes``); then the film, each
promoted shot's take made from its previz (``VideoRequest.source``) at the previz's length.
Both are cached, so editing one line re-renders and re-promotes that shot only.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from ministudio.engines import EngineContext
from ministudio.errors import MinistudioError
from ministudio.jobs import PrevizSource, QCVerdict
from ministudio.plan.graph import engine_code
from ministudio.plan.shots import PlannedShot
from ministudio.run.context import RenderContext
from ministudio.run.manifest import PrevizRecord
from ministudio.run.requests import Requests
from ministudio.run.shots import Made, Shot
from ministudio.run.store import job_key
from ministudio.spec import Production, Routing

# what every previz keeps besides its engine's passes: the clean clip and the masks the
# "follows the previz" check compares the final with
CHECKED = ("clip", "mask")


def previz_production(production: Production, engine: str) -> Production:
    """``production`` as its previz renders it: every shot (and plate) on ``engine``, its
    voices as they are; no lip-sync pass, fallback, judge, retake or budget (it is free)."""
    routing = production.routing
    previz = Routing(
        video=engine, speech=routing.speech, options=routing.options, limits=routing.limits
    )
    qc = production.qc.model_copy(update={"judge": None, "retakes": 0})
    return production.model_copy(update={"routing": previz, "qc": qc, "budget": None})


def pass_names(planned: Iterable[PlannedShot]) -> dict[str, tuple[str, ...]]:
    """Per shot with a previz: the passes to make of it (its engine's and ``CHECKED``)."""
    return {
        ps.id: tuple(dict.fromkeys((*CHECKED, *ps.engine.capabilities.video_edit)))
        for ps in planned
        if ps.previz is not None
    }


def pass_suffix(name: str) -> str:
    """The store suffix of pass ``name``'s file: ``camera`` and ``*.json`` are JSON, the
    rest MP4."""
    return ".json" if name == "camera" or name.endswith(".json") else ".mp4"


def source_of(ctx: RenderContext, record: PrevizRecord, frames: int) -> PrevizSource:
    """The previz ``record`` as a promote request's source (its passes' files)."""
    passes = {}
    for name, key in record.passes.items():
        path = ctx.store.get(key, pass_suffix(name))
        if path is None:
            raise MinistudioError(f"its previz's {name} pass is gone from the store: render again")
        passes[name] = path
    return PrevizSource(frames=frames, passes=passes)


def links(shots: Iterable[Shot]) -> dict[str, PrevizRecord]:
    """The previz of each shot (part) a previz render made, by shot id."""
    return {
        shot.planned.id: PrevizRecord(clip=shot.fit_key, passes=shot.record.passes)
        for shot in shots
        if shot.fit_key is not None and shot.record.passes and shot.slate is None
    }


class Passes:
    """Makes (or finds in the store) the control passes of a previz render's kept takes."""

    def __init__(self, ctx: RenderContext, requests: Requests) -> None:
        self.ctx, self.requests = ctx, requests

    async def make(self, shot: Shot, made: Made, names: tuple[str, ...]) -> dict[str, str]:
        """The passes ``names`` of ``made``, the shot's kept take: name -> store key. Each
        has exactly the shot's frames at the film's size and rate (refitted if not)."""
        ctx, store = self.ctx, self.ctx.store
        job = self.requests.job(shot, made.take)
        code = engine_code(ctx.host, job.engine)
        index_key = job_key("passes", {"clip": made.fit_key, "names": sorted(names), **code})
        index = store.get(index_key, ".json")
        if index is not None:
            known: dict[str, str] = json.loads(index.read_text(encoding="utf-8"))
            if all(store.get(k, pass_suffix(n)) for n, k in known.items()):
                return known
        scratch = store.scratch()
        try:
            context = EngineContext(engine=job.engine.id, work_dir=scratch, env=ctx.env)
            written = await ctx.host.previz_passes(
                job.engine, job.request, list(names), scratch / "passes", context
            )
            missing = [n for n in names if n != "mask" and n not in written]
            if missing:
                raise MinistudioError(
                    f"previz engine '{job.engine.id}' made no {', '.join(missing)} pass: "
                    "its plugin's previz_passes must write every pass asked (report it), or "
                    "route the previz to 'animatic' (routing.previz)"
                )
            keys: dict[str, str] = {}
            for name, path in sorted(written.items()):
                if pass_suffix(name) == ".mp4":
                    path = await self._fitted(path, scratch / f"fit-{len(keys)}.mp4", shot)
                key = job_key("pass", {"name": name, "content": ctx.hash(path)})
                store.put(key, path, pass_suffix(name))
                keys[name] = key
            store.put_text(index_key, json.dumps(keys, sort_keys=True), ".json")
            return keys
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    async def _fitted(self, path: Path, out: Path, shot: Shot) -> Path:
        """``path`` as it is when it has the shot's frames at the film's size; else fitted."""
        from ministudio.media.fit import fit_clip
        from ministudio.media.probe import probe

        ctx = self.ctx
        info = await ctx.executor.media(probe, path)
        if (info.width, info.height, info.frames) == (ctx.width, ctx.height, shot.timing.frames):
            return path
        size = {"width": ctx.width, "height": ctx.height, "fps": ctx.fps}
        fit = functools.partial(fit_clip, path, out, frames=shot.timing.frames, **size)
        await ctx.executor.media(fit)
        return out


async def follows(ctx: RenderContext, clip: Path, source: PrevizSource) -> QCVerdict:
    """Whether ``clip``, a promoted take fitted to the film, follows its previz: layout,
    motion and where each character is (``ministudio.qc.checks.follows``). Judged once per
    take and previz: the verdict is kept in the store."""
    from ministudio import __version__
    from ministudio.qc.checks.follows import follows_previz

    masks = {n.split(".", 1)[1]: p for n, p in source.passes.items() if n.startswith("mask.")}
    previz = source.passes["clip"]
    key = job_key(
        "follows-previz",
        {
            "clip": ctx.hash(clip),
            "previz": ctx.hash(previz),
            "masks": {name: ctx.hash(path) for name, path in sorted(masks.items())},
            "code": __version__,
        },
    )
    kept = ctx.store.get(key, ".json")
    if kept is not None:
        return QCVerdict.model_validate_json(kept.read_text(encoding="utf-8"))
    verdict = await ctx.executor.media(follows_previz, clip, previz, masks)
    ctx.store.put_text(key, verdict.model_dump_json(), ".json")
    return verdict


def promoted_routing(production: Production, promote: Mapping[str, bool]) -> Production:
    """``production`` with the shots not to promote (``promote[id]`` False) routed to the
    previz engine: their previz is their take."""
    previz = production.routing.previz
    if previz is None:
        return production
    shots = dict(production.routing.shots)
    for shot_id, wanted in promote.items():
        if not wanted:
            shots[shot_id] = previz
            shots[f"{shot_id}.lipsync"] = "off"
    routing = production.routing.model_copy(update={"shots": shots})
    return production.model_copy(update={"routing": routing})
