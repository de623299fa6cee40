"""``ministudio storyboard``: a production written from a brief by a writer engine.

The core writes the instructions (what a good production holds: an establishing shot per new
place, close-ups on the key lines, lengths that fit the lines and the routed video engine's
limits, character DNA specific enough to stay the same across shots), hands them with the
brief and the production's JSON Schema to the writer's ``write_production`` hook, then
validates the answer as ``validate`` would a file (the spec, references, installed engines,
the film's format on the routed engine). While the answer is refused, the errors go back to
the writer for at most ``repairs`` more rounds. Each round is priced first
(``estimate_cost``, an upper bound) and refused past ``max_cost``; what it cost is added up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ministudio.authoring.retry import retrying
from ministudio.engines import EngineContext, EngineSpec
from ministudio.errors import (
    CapabilityError,
    MinistudioError,
    ProductionError,
    UnknownEngineError,
)

if TYPE_CHECKING:
    from ministudio.jobs import Draft, WritingRequest
    from ministudio.plugins import PluginHost
    from ministudio.spec import Production

BRIEF_CHARS = 20_000  # a brief longer than this is a screenplay: `ministudio import` it
WORDS_PER_SECOND = 2.5  # how fast a line is spoken, for the lengths the instructions ask
WRITER = "gemini-writer"  # the default writer engine, and where it comes from
WRITER_PACKAGE = "ministudio-provider-veo"


class StoryboardError(MinistudioError):
    """The writer's last draft is still not a valid production (it is kept beside the output),
    or a round would pass the cost cap."""

    exit_code = 2


@dataclass(frozen=True)
class Ask:
    """What the user asks for: the brief, and what the film must be."""

    brief: str
    shots: int | None = None
    minutes: float | None = None
    aspect_ratio: str | None = None
    video: str = "animatic"  # the engine the shots will be routed to
    writer: str = WRITER
    model: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    repairs: int = 2
    max_cost: float | None = None


@dataclass(frozen=True)
class Round:
    """One call to the writer: its estimate, its cost, and why its draft was refused."""

    index: int
    estimate: float | None
    cost: float
    errors: tuple[str, ...]


@dataclass(frozen=True)
class Storyboard:
    """The production written, its JSON text, and the rounds it took."""

    production: Production
    data: dict[str, Any]
    rounds: tuple[Round, ...]

    @property
    def cost(self) -> float:
        return sum(r.cost for r in self.rounds)


def read_brief(value: str) -> str:
    """BRIEF as the command takes it: a text file's contents when it names one, else the idea
    itself; at most ``BRIEF_CHARS`` characters, and not empty."""
    path = Path(value)
    text = value
    if len(value) < 4096 and path.is_file():
        if path.stat().st_size > BRIEF_CHARS * 4:
            raise StoryboardError(f"{value}: the brief is over {BRIEF_CHARS:,} characters")
        text = path.read_bytes().decode("utf-8", errors="replace")
    text = text.strip()
    if not text:
        raise StoryboardError("the brief is empty: give an idea in words, or a text file")
    if len(text) > BRIEF_CHARS:
        raise StoryboardError(
            f"the brief is {len(text):,} characters; at most {BRIEF_CHARS:,}. For a screenplay, "
            "use `ministudio import SCRIPT.fountain`"
        )
    return text


def writer_engine(host: PluginHost, engine_id: str) -> EngineSpec:
    """The writer engine, or an error saying which plugin to install and which key to set."""
    try:
        return host.engine(engine_id, "writer")
    except UnknownEngineError as exc:
        hint = (
            f"storyboard needs a writer engine: `pip install {WRITER_PACKAGE}` and set "
            "GEMINI_API_KEY (or GOOGLE_API_KEY), or name another with --writer"
        )
        raise UnknownEngineError(f"{exc}\n{hint}") from None


def instructions(ask: Ask, video: EngineSpec) -> str:
    """The writer's system instructions: the production's rules and the film asked for."""
    caps = video.capabilities
    if caps.durations:
        lengths = ", ".join(f"{d:g}" for d in caps.durations)
        lengths = f"each clip is one of {lengths} seconds"
    else:
        lengths = f"each clip lasts {caps.min_duration:g} to {caps.max_duration:g} seconds"
    longest = int(max(caps.durations or (caps.max_duration,)) * WORDS_PER_SECOND)
    film = []
    if ask.shots:
        film.append(f"about {ask.shots} shots")
    if ask.minutes:
        film.append(f"about {ask.minutes:g} minutes long in all")
    if ask.aspect_ratio:
        film.append(f"framed {ask.aspect_ratio}")
    wanted = f"The film: {', '.join(film)}." if film else "The film: as long as the story needs."
    return "\n".join(
        [
            "You write film productions for MiniStudio, which renders each shot with an AI "
            "video model and voices the lines. Answer with one JSON document that the given "
            "JSON Schema accepts: the production of the film in the user's brief.",
            wanted,
            f"Shots are rendered by the video engine '{video.id}': {lengths}; a shot with "
            f'lines lasts as long as its lines (duration "audio"), so keep each shot\'s lines '
            f"under {longest} words in all (about {WORDS_PER_SECOND:g} words a second). A shot "
            "without lines gives its duration in seconds.",
            "Coverage: the first shot in each new place is an establishing shot (size wide or "
            "extreme-wide, no lines); give the key lines close-ups; vary shot sizes and camera "
            "moves with purpose; a shot that flows on from the previous one in the same place "
            'may use continuity "continue", every other shot "cut", and the film\'s first '
            'shot is always "cut".',
            "Characters: give each a short lowercase id and a DNA specific enough to draw the "
            "same person in every shot: age, build, face, hair, clothing with colours, and one "
            "distinctive feature; no names of real people. Each shot's action says what "
            "happens in that shot only, naming characters by name.",
            "Places: each environment has an id, a description of what is there, a palette and "
            "its lighting; every scene names one of them; a scene's lighting may override it.",
            "Every id you refer to must be defined: scene environments, dialogue speakers and "
            "shot characters name ids you defined (the speaker 'narrator' is reserved for "
            "narration, which goes in a shot's `narration`). Shot ids are unique. Leave out "
            "reference images, routing and budget: they are set for you.",
        ]
    )


def fix_fields(data: Any, ask: Ask) -> Any:
    """The draft with what the user chose set over what the writer wrote: routing to the
    video engine, the aspect ratio; and no reference images (none exist yet)."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    data["routing"] = {"video": ask.video}
    if ask.aspect_ratio:
        form = data.get("format") if isinstance(data.get("format"), dict) else {}
        data["format"] = {**form, "aspect_ratio": ask.aspect_ratio}
    data.pop("budget", None)
    for group in ("characters", "environments"):
        entries = data.get(group)
        if isinstance(entries, dict):
            data[group] = {
                k: (
                    {f: v for f, v in e.items() if f != "reference_images"}
                    if isinstance(e, dict)
                    else e
                )
                for k, e in entries.items()
            }
    return data


def check_draft(
    text: str, ask: Ask, host: PluginHost, base_dir: Path
) -> tuple[Any, Production | None, tuple[str, ...]]:
    """The draft parsed, as a production if it is one, and every reason it is not."""
    from ministudio.plan.shots import plan_shots
    from ministudio.spec.loading import validate_production

    try:
        data = fix_fields(json.loads(text), ask)
    except json.JSONDecodeError as exc:
        return None, None, (f"the answer is not JSON: {exc}",)
    try:
        production = validate_production(data, source="draft", base_dir=base_dir, engines=host)
        plan_shots(production, host)
    except ProductionError as exc:
        return data, None, tuple(f"{p.path or '<root>'}: {p.message}" for p in exc.problems)
    except CapabilityError as exc:
        return data, None, (str(exc),)
    return data, production, ()


async def storyboard(
    ask: Ask,
    host: PluginHost,
    env: Mapping[str, str],
    work_dir: Path,
    say: Callable[[str], None] = lambda line: None,
) -> Storyboard:
    """Write a production for ``ask``: a first draft, then repairs while it is refused."""
    from ministudio.jobs import WritingRequest
    from ministudio.spec import Production

    writer = writer_engine(host, ask.writer)
    video = host.engine(ask.video, "video")
    context = EngineContext(engine=writer.id, work_dir=work_dir, env=env)
    context.check_keys(writer)
    schema = Production.model_json_schema()
    request = WritingRequest(
        brief=ask.brief,
        instructions=instructions(ask, video),
        model=ask.model,
        options=dict(ask.options),
    )
    rounds: list[Round] = []
    data: Any = None
    for index in range(ask.repairs + 1):
        estimate = host.estimate_cost(writer, request)
        spent = sum(r.cost for r in rounds)
        if ask.max_cost is not None and spent + (estimate or 0.0) > ask.max_cost:
            raise StoryboardError(
                f"round {index + 1} may cost up to ${estimate:.4f}, which would pass --max-cost "
                f"${ask.max_cost:.2f} (spent so far ${spent:.4f}); raise --max-cost"
            )
        draft = await _write(host, writer, request, schema, context)
        data, production, errors = check_draft(draft.text, ask, host, work_dir)
        rounds.append(Round(index, estimate, draft.cost, errors))
        what = "draft" if index == 0 else f"repair {index}"
        verdict = "valid" if production else f"{len(errors)} problem(s)"
        priced = f"est. up to ${estimate:.4f}, " if estimate is not None else ""
        say(f"round {index + 1} ({what}): {priced}cost ${draft.cost:.4f}: {verdict}")
        if production is not None:
            return Storyboard(production, data, tuple(rounds))
        request = request.model_copy(
            update={"round": index + 1, "draft": draft.text, "errors": errors}
        )
    raise _still_invalid(data, rounds, request.draft or "", work_dir)


class RefusedDraft(StoryboardError):
    """The last draft after every repair round, kept for the user to fix by hand."""

    def __init__(self, message: str, draft: str, errors: tuple[str, ...]) -> None:
        super().__init__(message)
        self.draft = draft
        self.errors = errors


def _still_invalid(data: Any, rounds: list[Round], draft: str, work_dir: Path) -> RefusedDraft:
    errors = rounds[-1].errors
    listed = "\n".join(f"  - {e}" for e in errors[:20])
    more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
    return RefusedDraft(
        f"the writer's draft is still not a valid production after {len(rounds) - 1} repair "
        f"round(s) (cost ${sum(r.cost for r in rounds):.4f}):\n{listed}{more}\n"
        "raise --repairs, or fix the kept draft by hand and run `ministudio validate` on it",
        json.dumps(data, indent=2) if data is not None else draft,
        errors,
    )


async def _write(
    host: PluginHost,
    writer: EngineSpec,
    request: WritingRequest,
    schema: dict[str, Any],
    context: EngineContext,
) -> Draft:
    draft: Draft = await retrying(
        lambda: host.call_engine(
            writer.id, "write_production", request=request, schema=schema, context=context
        )
    )
    return draft
