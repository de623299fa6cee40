"""The production spec: a film as data. These models are also the Python API.

Every model is frozen and forbids unknown fields, so a misspelled field is an error.
Reference images and end frames are resolved against the production file's folder (validation
context ``base_dir``; the current directory for productions built in Python) and must be
images (see ``ministudio.safety.images``) inside it or inside a folder allowed in ``image_roots``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from ministudio.jobs import Voice
from ministudio.safety.images import ImageError, check_image
from ministudio.spec.bounds import limit, past_limit

AspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"]
Resolution = Literal["360p", "480p", "720p", "1080p", "2160p"]  # the short side; 2160p is 4k
ShotSize = Literal["extreme-wide", "wide", "full", "medium", "close-up", "extreme-close-up"]
CameraMove = Literal[
    "static", "pan-left", "pan-right", "tilt-up", "tilt-down", "push-in", "pull-back", "handheld"
]
Continuity = Literal["cut", "continue"]
NARRATOR = "narrator"
"""The reserved speaker id of narration, voiced with ``Production.narrator``."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _resolve_image(path: Path, info: ValidationInfo, what: str = "reference image") -> Path:
    """``path`` resolved and checked as an image (``ministudio.safety.images.check_image``). With a
    validation context (a production file), it must be inside ``base_dir`` or one of the
    ``image_roots``; a production built in Python may take images from anywhere."""
    context = info.context or {}
    base = Path(context.get("base_dir", "."))
    roots = [base, *context.get("image_roots", ())] if "base_dir" in context else None
    try:
        return check_image(path if path.is_absolute() else base / path, roots)
    except ImageError as exc:
        raise PydanticCustomError(
            "image",
            "{what} '{path}' {problem}",
            {"what": what, "path": str(path), "problem": exc.problem},
        ) from None


def _reference_image(path: Path, info: ValidationInfo) -> Path:
    return _resolve_image(path, info)


ReferenceImage = Annotated[Path, AfterValidator(_reference_image)]
"""A reference image: each one is checked, and reported at its own index, line and all."""


class Format(_Model):
    """The film's picture: aspect ratio, resolution (the short side) and frame rate."""

    aspect_ratio: AspectRatio = "16:9"
    resolution: Resolution = "720p"
    fps: int = Field(24, ge=12, le=60)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, both even."""
        short = int(self.resolution.rstrip("p"))
        w, h = (int(x) for x in self.aspect_ratio.split(":"))
        long = round(short * max(w, h) / min(w, h) / 2) * 2
        return (long, short) if w >= h else (short, long)


class Style(_Model):
    """The look of the whole film; goes into every shot's prompt."""

    description: str = ""
    negative: list[str] = []


class Character(_Model):
    """A person (or thing) that appears across shots with one identity."""

    name: str
    dna: str = Field(min_length=1, description="identity description kept identical in every shot")
    reference_images: list[ReferenceImage] = []
    voice: Voice = Voice()


class Environment(_Model):
    """A place that stays the same place across shots."""

    description: str = Field(min_length=1)
    palette: list[str] = []
    lighting: str = ""
    reference_images: list[ReferenceImage] = []


def _spoken(text: str | None) -> str | None:
    """A spoken line no longer than the limit ``MINISTUDIO_MAX_LINE_CHARS``."""
    if text is not None and len(text) > limit("MINISTUDIO_MAX_LINE_CHARS"):
        found = f"this line is {len(text):,} characters; split it into several lines"
        raise PydanticCustomError("line_length", past_limit("MINISTUDIO_MAX_LINE_CHARS", found))
    return text


SpokenText = Annotated[str, Field(min_length=1), AfterValidator(_spoken)]
"""A line's text (or narration): at most ``MINISTUDIO_MAX_LINE_CHARS`` characters."""

TITLE_CHARS = 200


def _title(text: str) -> str:
    if len(text) > TITLE_CHARS:
        raise PydanticCustomError(
            "title_length",
            "the title is {found} characters; at most {cap} (it names the film and its output "
            "folder): put the rest in style.description",
            {"found": f"{len(text):,}", "cap": TITLE_CHARS},
        )
    return text


class Line(_Model):
    """A spoken line. ``speaker`` is a character id."""

    speaker: str
    text: SpokenText
    emotion: str = "neutral"


class Shot(_Model):
    """One shot: what happens, how it is framed, what is said, how long it lasts."""

    id: str | None = Field(None, description="stable id; defaults to s<number> in film order")
    action: str = Field(min_length=1)
    size: ShotSize = "medium"
    camera: CameraMove = "static"
    characters: list[str] | None = Field(
        None, description="character ids in frame; defaults to the shot's speakers"
    )
    dialogue: list[Line] = []
    narration: SpokenText | None = Field(None, description="voice-over spoken after the dialogue")
    duration: float | Literal["audio"] = Field(
        "audio", description="seconds, or 'audio' to last as long as the shot's lines"
    )
    continuity: Continuity = "cut"
    lighting: str | None = Field(None, description="overrides the scene's lighting for this shot")
    layers: list[Literal["plate"]] = Field(
        [],
        description="'plate': render the place alone first (one plate per place and lighting, "
        "shared by every shot that asks) and give it to the shot's engine as the place's image",
    )
    end_frame: Path | None = Field(
        None,
        description="an image the shot should end on, for engines that take a last frame "
        "(relative to the production file's folder)",
    )
    loop: bool = Field(
        False,
        description="end where the clip begins, to play as a seamless loop (engines that loop)",
    )
    audio: Literal["voiced", "native"] = Field(
        "voiced",
        description="'native': the video engine speaks the lines itself and the clip's sound "
        "goes into the film (engines with native audio); 'voiced': MiniStudio voices them",
    )

    @field_validator("end_frame")
    @classmethod
    def _end_frame(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve_image(value, info, "end frame")

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: float | str) -> float | str:
        if isinstance(value, float | int) and not 0.5 <= value <= 600:
            raise ValueError("duration must be between 0.5 and 600 seconds, or 'audio'")
        return value

    @property
    def cast(self) -> list[str]:
        """The character ids in frame."""
        if self.characters is not None:
            return self.characters
        return list(dict.fromkeys(line.speaker for line in self.dialogue))


class Scene(_Model):
    """Consecutive shots in one environment."""

    id: str
    environment: str
    lighting: str | None = Field(None, description="overrides the environment's lighting")
    shots: list[Shot] = Field(min_length=1)


class EngineLimits(_Model):
    """Overrides of an engine's declared limits (for an account with higher or lower quotas)."""

    concurrency: int | None = Field(None, ge=1, description="jobs in flight at once")
    requests_per_minute: int | None = Field(None, ge=1, description="submits per minute")


class Routing(_Model):
    """Which engine renders what: defaults per role, overrides per shot, fallbacks per engine."""

    video: str = "animatic"
    speech: str = "espeak"
    plate: str | None = Field(
        None, description="engine for background plates (default: the shot's video engine)"
    )
    lipsync: str | None = Field(
        None,
        description="lip-sync engine (kind 'lipsync') that moves the mouths of every shot where "
        "a character speaks on screen to its voice, unless the shot's engine animated to the "
        "voice itself (default: none)",
    )
    previz: str | None = Field(
        None,
        description="previz engine (e.g. 'animatic', keyless): every shot is first rendered "
        "with it, then promoted to the final by its video engine where that engine edits "
        "video (declares video_edit), keeping the previz's timing, blocking and camera. "
        "`ministudio render --previz` renders only the previz (default: no previz)",
    )
    shots: dict[str, str] = Field(
        {},
        description="shot id -> video engine id; '<shot id>.plate' -> its plate's engine; "
        "'<shot id>.lipsync' -> its lip-sync engine, or 'off'",
    )
    fallbacks: dict[str, list[str]] = Field(
        {}, description="engine id -> engines to try, in order, when it fails"
    )
    options: dict[str, dict[str, Any]] = Field(
        {}, description="engine id -> options passed to it (e.g. model)"
    )
    limits: dict[str, EngineLimits] = Field(
        {}, description="engine id -> concurrency and rate limits replacing its declared ones"
    )


Rung = Literal["seed", "edit", "promote", "references", "first-frame", "engine", "lipsync"]


class QualityControl(_Model):
    """What happens when a shot fails a quality check: who else looks, and how it is retaken."""

    judge: str | None = Field(
        None,
        description="a vision judge engine (kind 'judge', e.g. 'gemini-judge') that looks at "
        "every rendered shot as well as the local checks; it is paid per shot",
    )
    retakes: int = Field(
        0,
        ge=0,
        le=8,
        description="re-renders a shot may get after a failing check; they cost what a shot "
        "costs, so none unless asked (the budget still caps them)",
    )
    ladder: list[Rung] = Field(
        ["lipsync", "seed", "references", "first-frame", "engine"],
        min_length=1,
        description="what each retake changes, in order: a new seed; 'edit' (not in the "
        "default): ask an engine that can edit its own takes to change the last one by the "
        "failed checks' reasons, instead of paying for a clip from nothing; 'promote' (not in "
        "the default): render the shot's previz (routing.previz, else 'animatic') and have an "
        "engine that edits video make the take from it; more reference images "
        "(the frame the scene's previous shot ends on); starting from that frame; the next "
        "engine in routing.fallbacks. A rung that cannot apply to a shot is passed over",
    )


class Production(_Model):
    """A film: who, where, what happens, and which engines render it."""

    title: Annotated[str, Field(min_length=1), AfterValidator(_title)]
    format: Format = Format()
    style: Style = Style()
    seed: int = Field(0, ge=0, description="every shot's seed is derived from this one")
    budget: float | None = Field(None, ge=0, description="refuse to render above this USD cost")
    narrator: Voice = Voice()
    characters: dict[str, Character] = {}
    environments: dict[str, Environment] = Field(min_length=1)
    scenes: list[Scene] = Field(min_length=1)
    routing: Routing = Routing()
    qc: QualityControl = QualityControl()

    @model_validator(mode="after")
    def _check_references(self) -> Production:
        problems = [
            InitErrorDetails(type=PydanticCustomError("reference", message), loc=loc, input=None)
            for loc, message in reference_problems(self.model_dump())
        ]
        if problems:
            raise ValidationError.from_exception_data("Production", problems)
        return self

    def shots(self) -> list[tuple[Scene, Shot, str]]:
        """Every shot in film order with its scene and its id."""
        out: list[tuple[Scene, Shot, str]] = []
        for scene in self.scenes:
            for shot in scene.shots:
                out.append((scene, shot, shot.id or f"s{len(out) + 1}"))
        return out


def _defined(names: list[str]) -> str:
    return f"defined: {', '.join(names)}" if names else "none are defined"


Loc = tuple[str | int, ...]


def _name(value: Any) -> str | None:
    """A name as pydantic reads it (stripped), or None where it is not a string."""
    return value.strip() if isinstance(value, str) else None


def _names(value: Any) -> set[str] | None:
    """The names a mapping defines, or None where it is not a mapping (nothing to check)."""
    if not isinstance(value, dict):
        return None
    return {name for name in map(_name, value) if name is not None}


def _items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def reference_problems(data: Any) -> list[tuple[Loc, str]]:
    """Names that refer to nothing (environments, characters, shot ids), duplicate shot ids and
    a first shot that continues, as (field path, message). Reads plain data (a parsed file, or
    ``model_dump``) and passes over what has the wrong shape: pydantic reports that."""
    if not isinstance(data, dict):
        return []
    problems: list[tuple[Loc, str]] = []
    characters, places = _names(data.get("characters")), _names(data.get("environments"))
    cast = _defined(sorted(characters or ()))
    seen: set[str] = set()
    every_id_read = True
    index = 0
    for si, scene in _items(data.get("scenes")):
        if not isinstance(scene, dict):
            every_id_read = False
            continue
        place = _name(scene.get("environment"))
        if places is not None and place is not None and place not in places:
            message = f"unknown environment '{place}'; {_defined(sorted(places))}"
            problems.append((("scenes", si, "environment"), message))
        for hi, shot in _items(scene.get("shots")):
            index += 1
            at: Loc = ("scenes", si, "shots", hi)
            if not isinstance(shot, dict):
                every_id_read = False
                continue
            raw = shot.get("id")
            shot_id = (_name(raw) or f"s{index}") if raw is None or isinstance(raw, str) else None
            if shot_id is None:
                every_id_read = False
            elif shot_id in seen:
                problems.append(((*at, "id"), f"shot id '{shot_id}' is used twice"))
            else:
                seen.add(shot_id)
            if index == 1 and _name(shot.get("continuity")) == "continue":
                message = "the first shot has nothing to continue from; use 'cut'"
                problems.append(((*at, "continuity"), message))
            if characters is None:
                continue
            for li, line in _items(shot.get("dialogue")):
                speaker = _name(line.get("speaker")) if isinstance(line, dict) else None
                if speaker is not None and speaker not in characters:
                    where: Loc = (*at, "dialogue", li, "speaker")
                    problems.append((where, f"unknown character '{speaker}'; {cast}"))
            for ci, cid in _items(shot.get("characters")):
                name = _name(cid)
                if name is not None and name not in characters:
                    where = (*at, "characters", ci)
                    problems.append((where, f"unknown character '{name}'; {cast}"))
    routing = data.get("routing")
    routed = routing.get("shots") if isinstance(routing, dict) else None
    for key in routed if isinstance(routed, dict) and every_id_read else ():
        name = _name(key)
        if name is not None and name.removesuffix(".plate").removesuffix(".lipsync") not in seen:
            problems.append((("routing", "shots", key), f"no shot has the id '{name}'"))
    return problems
