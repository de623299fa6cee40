"""From a production to jobs: routing, seeds, audio-first timing and the structured shot briefs."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ministudio.engines import Capabilities, EngineSpec, lifecycle
from ministudio.engines.variants import routed
from ministudio.errors import CapabilityError, UnknownEngineError, dotted
from ministudio.jobs import (
    CharacterBrief,
    EnvironmentBrief,
    LineBrief,
    ShotPrompt,
    SpeechRequest,
    Voice,
)
from ministudio.plugins import PluginHost, unknown_engine
from ministudio.spec import NARRATOR, Production, Scene, Shot

LEAD_IN = 0.3  # silence before a shot's first line (s)
GAP = 0.3  # between two lines
TAIL = 0.6  # after the last line
SILENT_SHOT = 3.0  # a shot with no lines and duration 'audio'
LIPSYNC_OFF = "off"  # routing.shots['<id>.lipsync']: no lip-sync pass for this shot


@dataclass(frozen=True)
class PlannedLine:
    speaker: str  # character id or "narrator"
    speaker_name: str
    request: SpeechRequest
    engine: str


@dataclass(frozen=True)
class PlannedShot:
    id: str
    index: int
    scene: Scene
    shot: Shot
    engine: EngineSpec
    fallbacks: tuple[EngineSpec, ...]
    seed: int
    lines: tuple[PlannedLine, ...]
    plate: EngineSpec | None  # the engine of its background plate, when it has one
    lipsync: EngineSpec | None = None  # the engine moving its mouths to its voice, if any
    # the engine of its previz, where its engine promotes one (``routing.previz``, or the
    # ladder's ``promote`` rung); ``promoted``: its first take is the promotion
    previz: EngineSpec | None = None
    promoted: bool = False


def shot_seed(production_seed: int, shot_id: str) -> int:
    """A shot's seed, derived from the production seed and the shot id only (stable under edits)."""
    digest = hashlib.sha256(f"{production_seed}:{shot_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def engine_problems(
    data: Any, engines: PluginHost | Mapping[str, EngineSpec]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Each engine id a production names that is not installed (or of the wrong kind), as
    (field path, message). Reads plain data (a parsed file, or ``model_dump``) and passes over
    what has the wrong shape: pydantic reports that."""
    host = engines if isinstance(engines, PluginHost) else None
    installed = host.engines if host is not None else engines
    assert not isinstance(installed, PluginHost)
    problems: list[tuple[tuple[str | int, ...], str]] = []

    def check(loc: tuple[str | int, ...], value: Any, kind: str | None) -> None:
        name = value.strip() if isinstance(value, str) else None
        spec = installed.get(name) if name is not None else None
        if name is not None and (spec is None or (kind and spec.kind != kind)):
            why = host.unknown(name, kind) if host else unknown_engine(name, kind, installed)
            problems.append((loc, why))

    def mapping(value: Any) -> dict[Any, Any]:
        return value if isinstance(value, dict) else {}

    data = mapping(data)
    routing = mapping(data.get("routing"))
    roles = (
        ("video", "video"),
        ("speech", "speech"),
        ("plate", "video"),
        ("lipsync", "lipsync"),
        ("previz", "video"),
    )
    for role, kind in roles:
        check(("routing", role), routing.get(role), kind)
    for shot_id, engine in mapping(routing.get("shots")).items():
        lipsync = isinstance(shot_id, str) and shot_id.endswith(".lipsync")
        if not (lipsync and engine == LIPSYNC_OFF):
            check(("routing", "shots", shot_id), engine, "lipsync" if lipsync else "video")
    for engine, fallbacks in mapping(routing.get("fallbacks")).items():
        check(("routing", "fallbacks", engine), engine, None)
        for i, fallback in enumerate(fallbacks if isinstance(fallbacks, list) else []):
            check(("routing", "fallbacks", engine, i), fallback, "video")
    for section in ("options", "limits"):
        for engine in mapping(routing.get(section)):
            check(("routing", section, engine), engine, None)
    for cid, character in mapping(data.get("characters")).items():
        voice = mapping(mapping(character).get("voice"))
        check(("characters", cid, "voice", "engine"), voice.get("engine"), "speech")
    check(("narrator", "engine"), mapping(data.get("narrator")).get("engine"), "speech")
    check(("qc", "judge"), mapping(data.get("qc")).get("judge"), "judge")
    problems += [(f.loc, f.message) for f in lifecycle.findings(data, installed) if f.error]
    return problems


def check_engines(production: Production, host: PluginHost) -> None:
    """Refuse, listing them all, the engine ids ``production`` names that are not installed;
    the default video and speech engines only where a shot or a line uses them."""
    data = production.model_dump()
    shots = production.shots()
    if all(shot_id in production.routing.shots for _, _, shot_id in shots):
        del data["routing"]["video"]
    voices = [production.narrator for _, shot, _ in shots if shot.narration] + [
        production.characters[line.speaker].voice for _, shot, _ in shots for line in shot.dialogue
    ]
    if all(voice.engine for voice in voices):
        del data["routing"]["speech"]
    problems = engine_problems(data, host)
    if problems:
        listed = "\n".join(f"  - {dotted(loc)}: {message}" for loc, message in problems)
        raise UnknownEngineError(f"{len(problems)} engine problem(s); fix these:\n{listed}")


def model_warnings(production: Production, host: PluginHost) -> list[str]:
    """The models ``production`` would use whose shutdown is near, one sentence each."""
    found = lifecycle.findings(production.model_dump(), host.engines)
    return [f"{dotted(f.loc)}: {f.message}" for f in found if not f.error]


def plan_shots(production: Production, host: PluginHost) -> list[PlannedShot]:
    """Route every shot and line to an engine and check what can be checked before any work."""
    check_engines(production, host)
    if production.qc.judge:
        host.engine(production.qc.judge, "judge")
    routing = production.routing

    def video(engine_id: str) -> EngineSpec:  # narrowed to the model routing names
        return routed(host.engine(engine_id, "video"), routing.options.get(engine_id, {}))

    planned = []
    for index, (scene, shot, shot_id) in enumerate(production.shots()):
        engine_id = routing.shots.get(shot_id, routing.video)
        engine = video(engine_id)
        fallbacks = tuple(video(f) for f in routing.fallbacks.get(engine_id, []))
        plate = None
        if "plate" in shot.layers:
            plate = video(routing.shots.get(f"{shot_id}.plate", routing.plate or engine_id))
        for candidate in (engine, *fallbacks, *([plate] if plate else [])):
            check_format(candidate, production, shot_id)
        lipsync = routing.shots.get(f"{shot_id}.lipsync", routing.lipsync)
        previz = previz_engine(production, engine, host)
        promoted = previz is not None and routing.previz is not None
        planned.append(
            PlannedShot(
                id=shot_id,
                index=index,
                scene=scene,
                shot=shot,
                engine=engine,
                fallbacks=fallbacks,
                seed=shot_seed(production.seed, shot_id),
                lines=tuple(_lines(production, shot, host)),
                plate=None if promoted else plate,  # its previz has the place's plate
                lipsync=_lipsync(host, lipsync, shot, engine),
                previz=previz,
                promoted=promoted,
            )
        )
    return planned


PREVIZ = "animatic"  # the previz engine of the ``promote`` rung when routing names none


def previz_engine(
    production: Production, engine: EngineSpec, host: PluginHost
) -> EngineSpec | None:
    """The engine that makes the previz ``engine`` promotes (``routing.previz``, else the
    animatic for the ladder's ``promote`` rung); None when ``engine`` edits no video or
    nothing asks for a previz."""
    routing, qc = production.routing, production.qc
    rung = "promote" in qc.ladder and qc.retakes > 0
    if not engine.capabilities.video_edit or not (routing.previz or rung):
        return None
    previz = host.engine(routing.previz or PREVIZ, "video")
    if not host.implements(previz.id, "previz_passes"):
        raise CapabilityError(
            f"routing.previz '{previz.id}' makes no control passes, so '{engine.id}' cannot "
            "promote its clips: name a previz engine that does, such as 'animatic'"
        )
    return previz


def _lipsync(
    host: PluginHost, engine_id: str | None, shot: Shot, engine: EngineSpec
) -> EngineSpec | None:
    """The shot's lip-sync engine: where one is routed, a character in frame speaks, and the
    shot's engine does not speak the lines itself. (Where the engine animates to the voice,
    the pass runs only if its take fails the lip-sync check.)"""
    if engine_id is None or engine_id == LIPSYNC_OFF:
        return None
    if shot.audio == "native" and engine.capabilities.native_audio:
        return None
    if not {line.speaker for line in shot.dialogue} & set(shot.cast):
        return None
    return host.engine(engine_id, "lipsync")


def _lines(production: Production, shot: Shot, host: PluginHost) -> list[PlannedLine]:
    spoken = [(line.speaker, line.text, line.emotion) for line in shot.dialogue]
    if shot.narration:
        spoken.append((NARRATOR, shot.narration, "neutral"))
    out = []
    for speaker, text, emotion in spoken:
        if speaker == NARRATOR:
            voice, name = production.narrator, "Narrator"
        else:
            character = production.characters[speaker]
            voice, name = character.voice, character.name
        engine = voice.engine or production.routing.speech
        host.engine(engine, "speech")
        out.append(
            PlannedLine(
                speaker=speaker,
                speaker_name=name,
                request=SpeechRequest(
                    text=text,
                    voice=_bare(voice, production.routing.options.get(engine, {})),
                    emotion=emotion,
                ),
                engine=engine,
            )
        )
    return out


def _bare(voice: Voice, routed: dict[str, Any]) -> Voice:
    """The voice without its engine field (the engine is routed separately), with the
    engine's routing options under its own (the voice's win)."""
    return voice.model_copy(update={"engine": None, "options": {**routed, **voice.options}})


def check_format(engine: EngineSpec, production: Production, shot_id: str) -> None:
    """Refuse, before any work, a shot whose engine cannot render the film's format."""
    caps, fmt = engine.capabilities, production.format
    if fmt.aspect_ratio not in caps.aspect_ratios:
        raise CapabilityError(
            f"shot '{shot_id}': engine '{engine.id}' renders aspect ratios "
            f"{', '.join(caps.aspect_ratios)}, not {fmt.aspect_ratio}; route the shot elsewhere"
        )
    if fmt.resolution not in caps.resolutions:
        raise CapabilityError(
            f"shot '{shot_id}': engine '{engine.id}' renders {', '.join(caps.resolutions)}, "
            f"not {fmt.resolution}; change format.resolution or route the shot elsewhere"
        )


@dataclass(frozen=True)
class ShotTiming:
    duration: float  # seconds, a whole number of frames
    frames: int
    starts: tuple[float, ...]  # each line's start, seconds from the shot's start
    stretched: bool  # an explicit duration was too short for the lines and was lengthened


def time_shot(shot: Shot, line_durations: list[float], fps: int) -> ShotTiming:
    """Audio first: the lines decide the shot's length, rounded up to whole frames."""
    starts, cursor = [], LEAD_IN
    for length in line_durations:
        starts.append(cursor)
        cursor += length + GAP
    needed = cursor - GAP + TAIL if line_durations else 0.0
    if shot.duration == "audio":
        seconds, stretched = (needed if line_durations else SILENT_SHOT), False
    else:
        seconds = max(float(shot.duration), needed)
        stretched = needed > float(shot.duration)
    frames = math.ceil(seconds * fps - 1e-9)
    return ShotTiming(frames / fps, frames, tuple(starts), stretched)


def longest_clip(engine: EngineSpec) -> float:
    """The longest clip ``engine`` renders, in seconds."""
    caps = engine.capabilities
    return max(caps.durations) if caps.durations else caps.max_duration


def snap_duration(engine: EngineSpec, seconds: float, shot_id: str) -> float:
    """The clip length to ask ``engine`` for: ``seconds`` snapped to what it renders."""
    caps: Capabilities = engine.capabilities
    if caps.durations:
        longer = [d for d in sorted(caps.durations) if d >= seconds - 1e-6]
        if longer and (caps.snap_duration == "up" or longer[0] - seconds < 1e-6):
            return longer[0]
        allowed = ", ".join(f"{d:g}" for d in caps.durations)
        raise CapabilityError(
            f"shot '{shot_id}' lasts {seconds:.2f} s but engine '{engine.id}' renders only "
            f"{allowed} s clips; shorten its lines, set a duration, or route it elsewhere"
        )
    if seconds > caps.max_duration + 1e-6:
        raise CapabilityError(
            f"shot '{shot_id}' lasts {seconds:.2f} s but engine '{engine.id}' renders at most "
            f"{caps.max_duration:g} s; shorten the shot's duration (a shot timed by its lines "
            f"is split at the pauses of its speech), or route it elsewhere"
        )
    return max(seconds, caps.min_duration)


def shot_brief(
    production: Production,
    planned: PlannedShot,
    timing: ShotTiming,
    line_lengths: list[float],
    *,
    image: Callable[[Path], Path],
    phonemes: Sequence[tuple[tuple[float, str], ...]] = (),
    carried: Sequence[tuple[PlannedLine, float, float, tuple[tuple[float, str], ...]]] = (),
) -> ShotPrompt:
    """The structured, engine-neutral prompt of a planned shot. ``image`` maps each of the
    production's images to the file engines get instead (the render's re-encoded copy);
    ``phonemes`` are each line's, as spoken (seconds from the line's start), where known.
    ``carried``: lines begun before this part of a split shot and still heard in it (the
    line, its start from the part's, negative, its length and its phonemes): they come
    first, from the part's start."""
    scene, shot = planned.scene, planned.shot
    speakers = {line.speaker for line in planned.lines} | {c[0].speaker for c in carried}
    characters = tuple(
        CharacterBrief(
            id=cid,
            name=production.characters[cid].name,
            dna=production.characters[cid].dna,
            reference_images=tuple(map(image, production.characters[cid].reference_images)),
            speaking=cid in speakers,
        )
        for cid in shot.cast
    )
    own = zip(
        planned.lines,
        timing.starts,
        line_lengths,
        phonemes or [()] * len(line_lengths),
        strict=True,
    )
    lines = tuple(
        LineBrief(
            speaker=line.speaker,
            text=line.request.text,
            emotion=line.request.emotion,
            start=round(max(start, 0.0), 3),
            end=round(start + length, 3),
            phonemes=_from(start, said),
        )
        for line, start, length, said in (*carried, *own)
    )
    return ShotPrompt(
        shot_id=planned.id,
        scene_id=scene.id,
        index=planned.index,
        action=shot.action,
        shot_size=shot.size,
        camera_move=shot.camera,
        continuity=shot.continuity,
        characters=characters,
        environment=_environment(production, planned, image),
        style=production.style.description,
        negative=tuple(production.style.negative),
        lines=lines,
        native_audio=speaks_natively(planned),
    )


def _from(start: float, said: tuple[tuple[float, str], ...]) -> tuple[tuple[float, str], ...]:
    """A line's phonemes (seconds from the line's start) timed from the shot's, the line
    starting at ``start``; one begun before the shot is at 0."""
    timed = [(start + t, name) for t, name in said]
    before = [name for t, name in timed if t < 0][-1:]
    return tuple((0.0, name) for name in before) + tuple(
        (round(t, 4), name) for t, name in timed if t >= 0
    )


def speaks_natively(planned: PlannedShot) -> bool:
    """The shot's engine speaks its lines (``audio: native`` on an engine with native audio)."""
    return planned.shot.audio == "native" and planned.engine.capabilities.native_audio


def estimated_speech(text: str) -> float:
    """Seconds a line takes to say, for lines no voice engine speaks: 2.5 words a second."""
    return round(max(0.6, len(text.split()) / 2.5), 3)


def plate_brief(
    production: Production, planned: PlannedShot, *, image: Callable[[Path], Path]
) -> ShotPrompt:
    """A shot's background plate: its place alone, in its lighting, wide and still. Nothing
    shot-specific goes in, so every shot in the same place and light shares one plate.
    ``image`` as in ``shot_brief``."""
    environment = _environment(production, planned, image)
    return ShotPrompt(
        shot_id=f"plate-{environment.id}",
        scene_id=environment.id,
        index=0,
        action="",
        shot_size="wide",
        camera_move="static",
        environment=environment,
        style=production.style.description,
        negative=tuple(production.style.negative),
    )


def shot_lighting(production: Production, planned: PlannedShot) -> str:
    """The light the shot's place is in: the shot's, else its scene's, else the place's."""
    scene, shot = planned.scene, planned.shot
    return shot.lighting or scene.lighting or production.environments[scene.environment].lighting


def _environment(
    production: Production, planned: PlannedShot, image: Callable[[Path], Path]
) -> EnvironmentBrief:
    scene = planned.scene
    env = production.environments[scene.environment]
    return EnvironmentBrief(
        id=scene.environment,
        description=env.description,
        lighting=shot_lighting(production, planned),
        palette=tuple(env.palette),
        reference_images=tuple(map(image, env.reference_images)),
    )
