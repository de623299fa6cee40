"""What each engine is asked: a take's request (narrowed to the engine's variant, without
what it cannot take), its plate's, and the keys their outputs are stored under."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ministudio.engines import EngineSpec
from ministudio.engines.variants import choose
from ministudio.jobs import EditRequest, PrevizSource, ShotPrompt, VideoRequest
from ministudio.plan.conditioning import Conditioning, ignored
from ministudio.plan.graph import engine_code
from ministudio.plan.shots import (
    PlannedShot,
    plate_brief,
    shot_seed,
    snap_duration,
    speaks_natively,
)
from ministudio.qc.retakes import Take
from ministudio.run.context import RenderContext
from ministudio.run.shots import Shot
from ministudio.run.store import job_key


@dataclass(frozen=True)
class ClipJob:
    """A take's request and the keys of its outputs."""

    request: VideoRequest
    key: str  # the engine's clip
    fit_key: str  # the clip fitted to the film
    inputs: dict[str, str]  # a short hash per input, to tell later which one changed
    ignored: list[str]  # what the shot asks for that the engine cannot take
    engine: EngineSpec  # narrowed to the variant (model and mode) that renders it


@dataclass(frozen=True)
class PlateJob:
    """A background plate's request, its clip's key and its image's key."""

    engine: EngineSpec
    request: VideoRequest
    key: str
    image_key: str


class Requests:
    """Builds requests and keys for one render."""

    def __init__(self, ctx: RenderContext) -> None:
        self.ctx = ctx

    def job(self, shot: Shot, take: Take) -> ClipJob:
        """The request ``take`` makes of its engine, and the keys its outputs are stored under."""
        ctx, ps, timing = self.ctx, shot.planned, shot.timing
        # a promotion keeps its previz's length: no variant is chosen by it
        engine, options = self._variant(take.engine, ps, 0.0 if take.source else timing.duration)
        assert shot.brief is not None
        brief = shot.brief
        if take.references:  # the retake ladder's extra images of the place
            env = brief.environment
            images = (*env.reference_images, *take.references)
            brief = brief.model_copy(
                update={"environment": env.model_copy(update={"reference_images": images})}
            )
        brief = self.without_own(brief, engine)
        if ps.lipsync is not None and not engine.capabilities.reference_audio:
            # a lip-sync pass puts the words on the lips: the picture is made without them,
            # so an edited line is synced again without a new picture
            brief = brief.model_copy(update={"lines": ()})
        end = ps.shot.end_frame
        voice = self.voice(shot) if engine.capabilities.reference_audio else None
        wanted = Conditioning(
            brief,
            take.first_frame,
            take.previous,
            ctx.image(end) if end else None,
            ps.shot.loop,
            voice,
        )
        request, fingerprint = self._request(
            engine, options, wanted, timing.duration, take.seed, take.edit, take.source
        )
        key = job_key("video", fingerprint)
        fit = {
            "clip": key,
            "size": [ctx.width, ctx.height],
            "fps": ctx.fps,
            "frames": timing.frames,
        }
        inputs = {name: job_key(name, value)[:12] for name, value in fingerprint["request"].items()}
        inputs["engine"] = engine.id
        # the engine's code as the key covers it, for `plan` to say when it changed
        inputs["code"] = fingerprint.get("code") or f"revision {fingerprint.get('revision', 0)}"
        return ClipJob(
            request, key, job_key("fit", fit), inputs, ignored(ctx.p, ps, engine), engine
        )

    def plate(self, shot: Shot) -> PlateJob | None:
        """The shot's background plate job, if it has one."""
        engine = shot.planned.plate
        if engine is None:
            return None
        brief = plate_brief(self.ctx.p, shot.planned, image=self.ctx.image)
        brief = self.without_own(brief, engine)
        seed = shot_seed(self.ctx.p.seed, f"{brief.shot_id}|{brief.environment.lighting}")
        engine, options = self._variant(engine, shot.planned, 0.0, plate=True)
        seconds = engine.capabilities.min_duration
        request, fingerprint = self._request(engine, options, Conditioning(brief), seconds, seed)
        key = job_key("video", fingerprint)
        return PlateJob(engine, request, key, job_key("plate", {"clip": key}))

    def without_own(self, brief: ShotPrompt, engine: EngineSpec) -> ShotPrompt:
        """``brief`` without the reference images ``engine`` draws better itself: stills an
        image engine it names in ``Capabilities.draws_own`` drew (``authoring.provenance``)."""
        own = engine.capabilities.draws_own
        if not own:
            return brief

        def kept(images: tuple[Path, ...]) -> tuple[Path, ...]:
            return tuple(p for p in images if self.ctx.drawn_by(p) not in own)

        env = brief.environment
        return brief.model_copy(
            update={
                "characters": tuple(
                    c.model_copy(update={"reference_images": kept(c.reference_images)})
                    for c in brief.characters
                ),
                "environment": env.model_copy(
                    update={"reference_images": kept(env.reference_images)}
                ),
            }
        )

    def brief(self, shot: ShotPrompt) -> Any:
        """The brief as JSON with every reference image replaced by its content hash."""
        brief = shot.model_dump(mode="json")
        if not shot.native_audio:  # left out when unused, so adding the field kept job keys
            del brief["native_audio"]
        for line in brief["lines"]:  # they follow from the lines' audio: never paid for twice
            del line["phonemes"]
        for character, source in zip(brief["characters"], shot.characters, strict=True):
            character["reference_images"] = [self.ctx.hash(p) for p in source.reference_images]
        brief["environment"]["reference_images"] = [
            self.ctx.hash(p) for p in shot.environment.reference_images
        ]
        return brief

    def _variant(
        self, engine: EngineSpec, ps: PlannedShot, seconds: float, *, plate: bool = False
    ) -> tuple[EngineSpec, dict[str, Any]]:
        """``engine`` narrowed to the model and mode that render ``ps`` (a plate of it: no
        frames, no lines), and its routing options with that model and mode."""
        p = self.ctx.p
        return choose(
            engine,
            p.routing.options.get(engine.id, {}),
            aspect_ratio=p.format.aspect_ratio,
            resolution=p.format.resolution,
            seconds=seconds,
            speaks=not plate and speaks_natively(ps),
            dropped=(lambda e: []) if plate else (lambda e: ignored(p, ps, e)),
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
        source: PrevizSource | None = None,
    ) -> tuple[VideoRequest, dict[str, Any]]:
        """What ``engine`` (narrowed by ``_variant``, with its ``options``) is asked for, and
        its fingerprint (input files as content hashes).

        Inputs the engine cannot take (see its capabilities) are left out; a previz
        ``source`` keeps its length and only the passes the engine declares.
        """
        ctx = self.ctx
        inputs = wanted.admitted_by(engine)
        options = dict(options)
        source = declared_passes(source, engine.capabilities.video_edit)
        request = VideoRequest(
            shot=inputs.brief,
            prompt=ctx.host.prompt_map(engine.id, inputs.brief),
            duration=seconds if source else snap_duration(engine, seconds, inputs.brief.shot_id),
            aspect_ratio=ctx.p.format.aspect_ratio,
            width=ctx.width,
            height=ctx.height,
            fps=ctx.fps,
            seed=seed,
            model=options.pop("model", engine.default_model),
            first_frame=inputs.first_frame,
            previous=inputs.previous,
            last_frame=inputs.last_frame,
            loop=inputs.loop,
            edit=edit if engine.capabilities.edit else None,
            source=source,
            voice=inputs.voice,
            options=options,
        )
        fingerprint = {"engine": engine.id, "request": self._fingerprint(request)}
        return request, {**fingerprint, **engine_code(ctx.host, engine)}

    def _fingerprint(self, request: VideoRequest) -> Any:
        """The request as JSON with every input file replaced by its content hash."""
        hashed = self.ctx.hash
        data = request.model_dump(mode="json")
        # which job made the clip a shot continues changes nothing the first frame does not
        del data["previous"]
        if request.first_frame is not None:
            data["first_frame"] = hashed(request.first_frame)
        if request.last_frame is not None:
            data["last_frame"] = hashed(request.last_frame)
        else:  # left out when unused, so adding the field kept earlier job keys
            del data["last_frame"]
        if not request.loop:
            del data["loop"]
        if request.source is None:  # left out when unused, so adding the field kept job keys
            del data["source"]
        else:
            passes = request.source.passes
            data["source"]["passes"] = {name: hashed(path) for name, path in passes.items()}
        if request.voice is not None:
            data["voice"] = hashed(request.voice)
        else:  # left out when unused, so adding the field kept earlier job keys
            del data["voice"]
        data["shot"] = self.brief(request.shot)
        return data

    def voice(self, shot: Shot) -> Path | None:
        """The shot's on-screen lines as one WAV on its timeline (in the store), or None
        when no character in the shot speaks (``ministudio.plan.voicing``)."""
        from ministudio.plan.voicing import on_screen, write_voice

        assert shot.brief is not None
        heard = [*shot.carried, *zip(shot.lines, shot.timing.starts, strict=True)]  # as briefed
        spoken = []
        for i in on_screen(shot.brief):
            line, start = heard[i]
            if line.path is not None:
                spoken.append((line.path, start))
        if not spoken:
            return None
        store, seconds = self.ctx.store, shot.timing.duration
        key = job_key(
            "voice", {"lines": [[self.ctx.hash(p), t] for p, t in spoken], "seconds": seconds}
        )
        path = store.get(key, ".voice.wav")
        if path is None:
            scratch = store.scratch()
            try:
                voice = write_voice(spoken, seconds, scratch / "voice.wav")
                path = store.put(key, voice, ".voice.wav")
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        return path


def declared_passes(source: PrevizSource | None, declared: tuple[str, ...]) -> PrevizSource | None:
    """``source`` with only the passes an engine declares (``mask``: every character's);
    None when it declares none (it cannot promote)."""
    if source is None or not declared:
        return None
    kept = {n: p for n, p in source.passes.items() if n.split(".", 1)[0] in declared}
    return source.model_copy(update={"passes": kept})


def with_plate(shot: Shot, plate: Path) -> None:
    """Give the shot's engine its plate as the place's first reference image."""
    assert shot.brief is not None
    env = shot.brief.environment
    env = env.model_copy(update={"reference_images": (plate, *env.reference_images)})
    shot.brief = shot.brief.model_copy(update={"environment": env})
