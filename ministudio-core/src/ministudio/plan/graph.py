"""The render as a graph of typed jobs, built before anything runs.

A job is one thing the render makes: a spoken line, a background plate, a shot's clip (its
takes and retakes), a check across the shots of one place, the film. It names the jobs whose
outputs it takes (``needs``), its engine, and a key: the hash of what it is asked for and of
the keys of the jobs it needs, so a job's key changes exactly when something upstream of it
does. A speech line's key is its store key; a clip's store key also hashes the pixels it is
given (the frame it continues from, its plate), known only once those jobs have run.

Three more kinds: ``budget``, a gate (every line spoken, so every shot timed and costed:
nothing is paid for before it), ``soundtrack`` (the film file opened with its mixed
soundtrack and subtitles, while the first clips are made) and ``film`` (the assembly
closed). A ``lipsync`` job follows the clip of a shot where a character speaks on screen
(``routing.lipsync``): it needs the clip and the shot's lines, so an edited line re-syncs
without the picture being made again. Executors run any kind they have a handler for.
Building the graph reads no file but the production's images, to hash them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ministudio.engines import EngineSpec
from ministudio.plan.shots import PlannedShot, shot_lighting, speaks_natively
from ministudio.plugins import PluginHost
from ministudio.run.store import file_hash, job_key
from ministudio.spec import Production

SPEECH, PLATE, BUDGET, CLIP, CHECK, FILM = "speech", "plate", "budget", "clip", "check", "film"
SOUNDTRACK, LIPSYNC = "soundtrack", "lipsync"


@dataclass(frozen=True)
class Job:
    """One job of the graph."""

    # "speech:s1:1", "plate:lab:night", "budget", "clip:s1", "lipsync:s1", "check:lab:night",
    # "film"
    id: str
    kind: str
    needs: tuple[str, ...]  # the ids of the jobs whose outputs it takes
    key: str  # what it is asked for, and the keys of the jobs it needs, hashed
    engine: str | None = None
    shot: str | None = None  # the production shot it belongs to
    # A `continue` clip's: the clip whose last frame it starts from. That frame is known
    # before that clip's job is done (before its fit and checks, when no retake can replace
    # it), so the job may start then; its seam check still waits for the whole job.
    starts_from: str | None = None
    # Where it may run: "local" (CPU work on any worker: a keyless local engine, fitting,
    # checks), "driver" (a paid or keyed engine: submitted by the process owning the
    # journal), or "gate" (no work of its own beyond bookkeeping on the driver).
    runs: str = "local"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "needs": list(self.needs),
            "starts_from": self.starts_from,
            "key": self.key,
            "engine": self.engine,
            "shot": self.shot,
            "runs": self.runs,
        }


@dataclass(frozen=True)
class JobGraph:
    """The jobs of a render, each after the jobs it needs."""

    jobs: tuple[Job, ...]

    def __iter__(self) -> Iterator[Job]:
        return iter(self.jobs)

    def __len__(self) -> int:
        return len(self.jobs)

    def of_kind(self, kind: str) -> list[Job]:
        return [job for job in self.jobs if job.kind == kind]

    def as_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for job in self.jobs:
            counts[job.kind] = counts.get(job.kind, 0) + 1
        return {"counts": counts, "jobs": [job.as_json() for job in self.jobs]}

    def to_dot(self) -> str:
        """The graph in Graphviz's DOT language (``dot -Tsvg``), one colour per kind."""
        colours = {SPEECH: "lightblue", PLATE: "khaki", BUDGET: "grey90", CLIP: "palegreen"}
        colours |= {CHECK: "plum", SOUNDTRACK: "lightcyan", FILM: "salmon", LIPSYNC: "pink"}
        lines = ["digraph render {", "  rankdir=LR;", "  node [shape=box, style=filled];"]
        for job in self.jobs:
            label = _quoted(job.id if job.engine is None else f"{job.id}\n{job.engine}")
            colour = colours.get(job.kind, "white")
            lines.append(f"  {_quoted(job.id)} [label={label}, fillcolor={colour}];")
        for job in self.jobs:
            lines += [f"  {_quoted(need)} -> {_quoted(job.id)};" for need in job.needs]
            if job.starts_from:  # dashed: from its last frame, before that job is done
                lines.append(f"  {_quoted(job.starts_from)} -> {_quoted(job.id)} [style=dashed];")
        return "\n".join([*lines, "}"]) + "\n"


def speech_id(shot_id: str, number: int) -> str:
    """The id of the job speaking line ``number`` (from 1) of shot ``shot_id``."""
    return f"speech:{shot_id}:{number}"


def clip_id(shot_id: str) -> str:
    """The id of shot ``shot_id``'s clip job."""
    return f"clip:{shot_id}"


def lipsync_id(shot_id: str) -> str:
    """The id of shot ``shot_id``'s lip-sync job."""
    return f"lipsync:{shot_id}"


def _quoted(text: str) -> str:
    """``text`` as a DOT string: quotes and backslashes escaped, line breaks as ``\\n``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def engine_code(host: PluginHost, engine: EngineSpec) -> dict[str, Any]:
    """What of the engine's code a job key covers: its declared ``revision`` (absent at 0, so
    keys made before it stay valid), else its plugin's distribution and version, so upgrading
    the plugin makes its outputs again."""
    if engine.revision is not None:
        return {"revision": engine.revision} if engine.revision else {}
    owner = host.owner(engine.id)
    return {"code": f"{owner.distribution} {owner.version}".strip()}


def speech_key(host: PluginHost, line_engine: str, request: Any) -> str:
    """The store key of a spoken line (``request`` a ``SpeechRequest``)."""
    code = engine_code(host, host.engine(line_engine, "speech"))
    return job_key("speech", {"engine": line_engine, "request": request.model_dump(), **code})


def where_it_runs(host: PluginHost, engine: EngineSpec) -> str:
    """ "driver" for an engine that submits to a service or needs a key (its secrets and its
    journal stay with the driver), "local" for a keyless engine this machine runs."""
    remote = ("submit_video", "submit_lip_sync")
    if engine.key_env or any(host.implements(engine.id, hook) for hook in remote):
        return "driver"
    return "local"


def build_graph(production: Production, planned: list[PlannedShot], host: PluginHost) -> JobGraph:
    """The job graph of ``production`` routed as ``planned`` (``plan_shots``)."""
    hashes: dict[Path, str] = {}

    def hashed(path: Path) -> str:
        if path not in hashes:
            hashes[path] = file_hash(path)
        return hashes[path]

    return _Builder(production, host, hashed).build(planned)


class _Builder:
    def __init__(
        self, production: Production, host: PluginHost, hashed: Callable[[Path], str]
    ) -> None:
        self.p, self.host, self.hashed = production, host, hashed
        self.jobs: list[Job] = []
        self.keys: dict[str, str] = {}
        self.runs: dict[str, str] = {}
        self.format = production.format.model_dump(mode="json")

    def add(self, job_id: str, kind: str, needs: list[str], asked: Any, **fields: Any) -> None:
        after = [*needs, fields["starts_from"]] if fields.get("starts_from") else needs
        key = job_key(kind, {"asked": asked, "needs": [self.keys[n] for n in after]})
        self.jobs.append(Job(job_id, kind, tuple(needs), key, **fields))
        self.keys[job_id] = key

    def runs_on(self, engine: EngineSpec) -> str:
        if engine.id not in self.runs:
            self.runs[engine.id] = where_it_runs(self.host, engine)
        return self.runs[engine.id]

    def build(self, planned: list[PlannedShot]) -> JobGraph:
        speech = {ps.id: self.speech(ps) for ps in planned}
        self.add(
            "budget", BUDGET, [n for lines in speech.values() for n in lines], None, runs="gate"
        )
        clips: dict[str, str] = {}  # shot id -> the job whose clip joins the film
        places: dict[tuple[str, str, str], list[str]] = {}
        previous: str | None = None
        for ps in planned:
            lighting = shot_lighting(self.p, ps)
            needs = [*speech[ps.id], "budget"]
            if ps.plate is not None:
                needs.append(self.plate(ps, lighting))  # (after the budget, like every clip)
            follows = previous if ps.shot.continuity == "continue" else None
            clips[ps.id] = previous = clip_id(ps.id)
            asked = {
                "shot": ps.shot.model_dump(mode="json"),
                "scene": ps.scene.id,
                "engine": ps.engine.id,
                "fallbacks": [e.id for e in ps.fallbacks],
                "seed": ps.seed,
                "format": self.format,
                "style": self.p.style.model_dump(mode="json"),
                "images": [self.hashed(p) for p in self.images(ps)],
                **engine_code(self.host, ps.engine),
            }
            engine = ps.engine
            self.add(
                previous,
                CLIP,
                needs,
                asked,
                engine=engine.id,
                shot=ps.id,
                starts_from=follows,
                runs=self.runs_on(engine),
            )
            places.setdefault((ps.scene.id, ps.scene.environment, lighting), []).append(previous)
            if ps.lipsync is not None:
                clips[ps.id] = self.lipsync(ps, speech[ps.id])
        checks = []
        for (scene, environment, lighting), same in places.items():
            if len(same) > 1:  # a place of one shot has nothing to be compared with
                checks.append(f"check:{scene}:{lighting}")
                self.add(checks[-1], CHECK, same, [environment, lighting], runs="driver")
        self.add("soundtrack", SOUNDTRACK, ["budget"], self.format, runs="driver")
        self.add("film", FILM, ["soundtrack", *clips.values(), *checks], self.format, runs="driver")
        return JobGraph(tuple(self.jobs))

    def lipsync(self, ps: PlannedShot, lines: list[str]) -> str:
        """The job moving ``ps``'s mouths to its lines, after its clip."""
        assert ps.lipsync is not None
        engine = ps.lipsync
        asked = {"engine": engine.id, "format": self.format, **engine_code(self.host, engine)}
        asked["options"] = self.p.routing.options.get(engine.id, {})
        job_id = lipsync_id(ps.id)
        needs = [clip_id(ps.id), *lines]
        self.add(
            job_id, LIPSYNC, needs, asked, engine=engine.id, shot=ps.id, runs=self.runs_on(engine)
        )
        return job_id

    def speech(self, ps: PlannedShot) -> list[str]:
        if speaks_natively(ps):  # the video engine says the lines: no speech job
            return []
        ids = []
        for i, line in enumerate(ps.lines, 1):
            job_id = speech_id(ps.id, i)
            if job_id not in self.keys:
                key = speech_key(self.host, line.engine, line.request)
                self.jobs.append(Job(job_id, SPEECH, (), key, line.engine, ps.id))
                self.keys[job_id] = key
            ids.append(job_id)
        return ids

    def plate(self, ps: PlannedShot, lighting: str) -> str:
        """The plate job of ``ps``'s place in its light, added once for every shot there."""
        assert ps.plate is not None
        job_id = f"plate:{ps.scene.environment}:{lighting}"
        if job_id not in self.keys:
            environment = self.p.environments[ps.scene.environment]
            asked = {
                "environment": environment.model_dump(mode="json"),
                "images": [self.hashed(p) for p in environment.reference_images],
                "lighting": lighting,
                "engine": ps.plate.id,
                "format": self.format,
                "style": self.p.style.model_dump(mode="json"),
                **engine_code(self.host, ps.plate),
            }
            engine = ps.plate
            self.add(job_id, PLATE, ["budget"], asked, engine=engine.id, runs=self.runs_on(engine))
        return job_id

    def images(self, ps: PlannedShot) -> list[Path]:
        """The production's reference images a shot's engine may be given."""
        cast = [self.p.characters[c] for c in ps.shot.cast if c in self.p.characters]
        place = self.p.environments[ps.scene.environment]
        found = [p for c in cast for p in c.reference_images] + list(place.reference_images)
        if ps.shot.end_frame:
            found.append(ps.shot.end_frame)
        return found
