"""``ministudio cast``: reference images for the characters and places that have none.

Each character without reference images gets a sheet of three views (front, three-quarter,
profile; the front view is drawn first and handed to the other two as the picture to match);
each environment without any gets one drawing of the place, empty, in its light. An image
engine (kind ``image``, hook ``generate_image``) draws them. Every still is kept in the content
store under a key of its request (engine, its code's revision, model, the request, the content
of the pictures it matches), so the same still is drawn, and paid for, once; it is checked as a
reference image is, then copied into ``cast/`` beside the production, which then names it in
``reference_images``.

A paid engine runs each still through ``EngineContext.paid``: the store's journal marks it
just before its request leaves and keeps its job id, so a cast killed (or cut off) while a
still is made waits for that job, or looks it up, on the next run instead of paying again; an
engine that can do neither stops with ``AmbiguousSubmission`` until ``--forget-lost``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio

from ministudio.authoring.retry import retrying
from ministudio.engines import EngineContext, EngineSpec
from ministudio.errors import MinistudioError
from ministudio.remote.journal import Journal
from ministudio.remote.runner import RemoteRunner
from ministudio.run.failpoints import checkpoint

if TYPE_CHECKING:
    from ministudio.jobs import ImageRequest, ImageResult
    from ministudio.plugins import PluginHost
    from ministudio.run.store import ContentStore
    from ministudio.spec import Production

VIEWS: tuple[Literal["front", "three-quarter", "profile"], ...] = (
    "front",
    "three-quarter",
    "profile",
)
SHEET_SIZE = (768, 1024)  # a character's view: 3:4, a standing figure
FOLDER = "cast"  # beside the production file


class CastError(MinistudioError):
    """The cast cannot be drawn: past the cost cap, a still the engine did not make, or a file
    in the way."""

    exit_code = 2


@dataclass(frozen=True)
class Still:
    """One picture to draw: whose, which view, and where it goes beside the production."""

    group: Literal["characters", "environments"]
    id: str
    view: Literal["front", "three-quarter", "profile", "set"]
    file: str  # relative to the production's folder

    @property
    def label(self) -> str:
        return f"{self.id} ({self.view})" if self.view != "set" else f"{self.id} (set)"


@dataclass(frozen=True)
class Ask:
    """Which engine draws the cast, and the user's limits."""

    engine: str = "animatic-stills"
    model: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    max_cost: float | None = None
    force: bool = False  # replace files in cast/ that are not these stills
    forget_lost: bool = False  # draw again a still whose request was sent and its answer lost


@dataclass(frozen=True)
class Drawn:
    """A still made (or found in the store), and what it cost this time."""

    still: Still
    stored: Path
    cost: float
    cached: bool


def missing(production: Production) -> list[Still]:
    """Every still the production lacks, fronts and places first."""
    people, places = _stems(list(production.characters)), _stems(list(production.environments))
    fronts: list[Still] = []
    others: list[Still] = []
    for cid, character in production.characters.items():
        if character.reference_images:
            continue
        for view in VIEWS:
            still = Still("characters", cid, view, f"{FOLDER}/{people[cid]}-{view}.png")
            (fronts if view == "front" else others).append(still)
    for eid, place in production.environments.items():
        if not place.reference_images:
            fronts.append(Still("environments", eid, "set", f"{FOLDER}/{places[eid]}-set.png"))
    return fronts + others


def _stems(ids: list[str]) -> dict[str, str]:
    """A file name stem per id: its letters, digits, '-', '_' and '.', and a short hash of the
    id where two ids would otherwise share a file ("a b" and "a-b"; "Ada" and "ada" on a
    case-blind disk)."""
    import hashlib
    import re
    from collections import Counter

    safe = {i: re.sub(r"[^A-Za-z0-9_.-]+", "-", i).strip(".-")[:80] or "x" for i in ids}
    shared = Counter(stem.lower() for stem in safe.values())
    return {
        i: stem
        if shared[stem.lower()] == 1
        else f"{stem}-{hashlib.sha256(i.encode()).hexdigest()[:8]}"
        for i, stem in safe.items()
    }


def request_for(
    production: Production, still: Still, ask: Ask, references: tuple[Path, ...] = ()
) -> ImageRequest:
    """The engine-neutral request for ``still``: the prompt in words and the same as data."""
    from ministudio.jobs import ImageRequest

    style = production.style.description
    look = f" Style: {style}." if style else ""
    if still.group == "characters":
        character = production.characters[still.id]
        width, height = SHEET_SIZE
        turn = {
            "front": "facing the camera",
            "three-quarter": "turned three-quarters to the left",
            "profile": "in profile, facing left",
        }[still.view]
        prompt = (
            f"Character reference sheet, {still.view} view: {character.name}, full body, "
            f"standing, {turn}, neutral expression, arms relaxed, on a plain light grey "
            f"background in even studio light. {character.name}: {character.dna}.{look}"
            + (" Match the person in the reference image exactly." if references else "")
        )
        return ImageRequest(
            subject="character",
            id=still.id,
            name=character.name,
            description=character.dna,
            view=still.view,
            prompt=prompt,
            aspect_ratio="3:4",
            width=width,
            height=height,
            style=style,
            reference_images=references,
            seed=production.seed,
            model=ask.model,
            options=dict(ask.options),
        )
    place = production.environments[still.id]
    width, height = production.format.size
    light = f" Lighting: {place.lighting}." if place.lighting else ""
    palette = f" Palette: {', '.join(place.palette)}." if place.palette else ""
    return ImageRequest(
        subject="environment",
        id=still.id,
        name=still.id,
        description=place.description,
        view="set",
        prompt=f"Establishing view of a film set, no people: {place.description}.{light}"
        f"{palette}{look}",
        aspect_ratio=production.format.aspect_ratio,
        width=width,
        height=height,
        style=style,
        lighting=place.lighting,
        palette=tuple(place.palette),
        seed=production.seed,
        model=ask.model,
        options=dict(ask.options),
    )


def still_key(host: PluginHost, engine: EngineSpec, request: ImageRequest) -> str:
    """The store key of a still: the engine, its code, and the request, with the pictures it
    matches as their content hashes."""
    from ministudio.plan.graph import engine_code
    from ministudio.run.store import file_hash, job_key

    inputs = request.model_dump(mode="json", exclude={"reference_images"})
    references = [file_hash(p) for p in request.reference_images]
    return job_key(
        "still",
        {
            "engine": engine.id,
            "request": inputs,
            "references": references,
            **engine_code(host, engine),
        },
    )


class Caster:
    """Draws the stills a production lacks into the store, then beside the production."""

    def __init__(
        self,
        production: Production,
        folder: Path,
        host: PluginHost,
        store: ContentStore,
        env: Mapping[str, str],
        ask: Ask,
        say: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.production = production
        self.folder = folder
        self.host = host
        self.store = store
        self.ask = ask
        self.say = say
        self.engine = host.engine(ask.engine, "image")
        self.env = env
        self.work = store.root / "work" / "cast"  # an engine's paid answers until stored
        self.journal = Journal(store.root / "journal.sqlite")
        self.remote = RemoteRunner(host, self.journal, forget_lost=ask.forget_lost)
        self.spent = 0.0
        self.fronts: dict[str, Path] = {}

    def close(self) -> None:
        self.journal.close()

    def context(self, still: Still | None = None) -> EngineContext:
        """What the engine is given for ``still``: keys, a work dir, and the journal behind
        ``context.paid`` (its rows name the still)."""
        context = EngineContext(engine=self.engine.id, work_dir=self.work, env=self.env)
        shot = f"cast:{still.id}:{still.view}" if still else "cast"
        context.remember = lambda key, make: self.remote.remember(
            self.engine, f"once:{key}", make, shot
        )
        return context

    def check(self, stills: list[Still]) -> None:
        """Before anything is drawn: the engine's key, when a first still is not stored."""
        firsts = [s for s in stills if s.view in ("front", "set")]
        if any(self.store.get(self._key(s), ".png") is None for s in firsts):
            self.context().check_keys(self.engine)

    def _key(self, still: Still) -> str:
        return still_key(self.host, self.engine, self._request(still))

    def _request(self, still: Still) -> ImageRequest:
        references = (self.fronts[still.id],) if still.id in self.fronts else ()
        return request_for(self.production, still, self.ask, references)

    async def draw_all(self, stills: list[Still]) -> list[Drawn]:
        """Fronts and places first (at the engine's concurrency), then the other views, each
        matching its character's front."""
        self.check(stills)
        first = [s for s in stills if s.view in ("front", "set")]
        drawn = await self._draw(first)
        self.fronts = {d.still.id: d.stored for d in drawn if d.still.view == "front"}
        drawn += await self._draw([s for s in stills if s not in first])
        self._place(drawn)
        return drawn

    async def _draw(self, stills: list[Still]) -> list[Drawn]:
        """``stills`` drawn at the engine's concurrency; the first failure stops the ones not
        begun, and is raised as it was once those begun end (what they drew is kept)."""
        limiter = anyio.CapacityLimiter(self.engine.capabilities.concurrency)
        results: dict[int, Drawn] = {}
        failures: list[Exception] = []

        async def one(index: int, still: Still) -> None:
            async with limiter:
                if failures:
                    return
                try:
                    results[index] = await self._still(still)
                except Exception as exc:
                    failures.append(exc)

        async with anyio.create_task_group() as group:
            for index, still in enumerate(stills):
                group.start_soon(one, index, still)
        if failures:
            raise failures[0]
        return [results[i] for i in range(len(stills))]

    async def _still(self, still: Still) -> Drawn:
        request = self._request(still)
        key = still_key(self.host, self.engine, request)
        stored = self.store.get(key, ".png")
        if stored is not None:
            self.say(f"{still.label}: in the store")
            return Drawn(still, stored, 0.0, True)
        # The engine writes here, outside any scratch: a run killed after the picture came and
        # before it was stored finds it on the next run, and pays nothing more for it.
        output = self.work / f"{key}.png"
        if _whole(output):
            self.say(f"{still.label}: drawn before the last run stopped")
            stored = self._keep(still, key, output)
            output.unlink(missing_ok=True)
            return Drawn(still, stored, 0.0, False)
        estimate = self.host.estimate_cost(self.engine, request) or 0.0
        if self.ask.max_cost is not None and self.spent + estimate > self.ask.max_cost:
            raise CastError(
                f"{still.label} would cost about ${estimate:.4f}, passing --max-cost "
                f"${self.ask.max_cost:.2f} (spent ${self.spent:.4f}); the stills made so far are "
                "kept in the store: raise --max-cost and run again"
            )
        self.spent += estimate  # reserved now, so stills drawn at once share the cap
        output.parent.mkdir(parents=True, exist_ok=True)
        result = await self._generate(
            _pixels_only(request, self.store), output, self.context(still)
        )
        checkpoint("cast:drawn")
        stored = self._keep(still, key, result.path)
        output.unlink(missing_ok=True)
        self.spent += result.cost - estimate
        self.say(f"{still.label}: drawn by {self.engine.id}, ${result.cost:.4f}")
        return Drawn(still, stored, result.cost, False)

    def _keep(self, still: Still, key: str, picture: Path) -> Path:
        """The engine's picture checked as a reference image is, and filed in the store (as a
        PNG of its pixels only)."""
        from ministudio.safety.images import ImageError, check_image

        scratch = self.store.scratch()
        try:
            try:
                check_image(picture)
            except ImageError as exc:
                raise CastError(
                    f"{self.engine.id} drew {still.label}, but the picture {exc.problem}"
                ) from None
            stored = self.store.put(key, _as_png(picture, scratch, self.engine.id), ".png")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return stored

    async def _generate(
        self, request: ImageRequest, output: Path, context: EngineContext
    ) -> ImageResult:
        result: ImageResult = await retrying(
            lambda: self.host.call_engine(
                self.engine.id, "generate_image", request=request, output=output, context=context
            )
        )
        return result

    def _place(self, drawn: list[Drawn]) -> None:
        """Copy the stored stills beside the production (atomically; unchanged files stay).
        A different file already there is someone's: refused, all at once, unless ``force``."""
        from ministudio.run.store import file_hash

        targets = [(self.folder / item.still.file, item.stored) for item in drawn]
        taken = [
            t
            for t, stored in targets
            if t.exists() and not (t.is_file() and file_hash(t) == file_hash(stored))
        ]
        if taken and not self.ask.force:
            names = ", ".join(str(t) for t in taken)
            raise CastError(
                f"{names}: already there and not the still drawn now. The stills are kept in "
                "the store: move those files away, or run again with --force to replace them"
            )
        for target, stored in targets:
            if target in taken or not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                part = target.with_name(target.name + ".part")
                shutil.copyfile(stored, part)
                part.replace(target)


def _pixels_only(request: ImageRequest, store: ContentStore) -> ImageRequest:
    """``request`` with its references as re-encoded copies: no mark or metadata of ours
    reaches the engine, whatever it uploads."""
    from ministudio.safety.images import sanitized

    copies = tuple(sanitized(Path(p), store) for p in request.reference_images)
    return request.model_copy(update={"reference_images": copies})


def _whole(path: Path) -> bool:
    """Whether ``path`` is a picture that decodes whole (an engine wrote it all)."""
    from ministudio.safety.images import ImageError, check_image

    if not path.is_file():
        return False
    try:
        check_image(path)
    except ImageError:
        return False
    return True


def _as_png(path: Path, scratch: Path, engine: str) -> Path:
    """The engine's picture as a PNG of its pixels only, marked with the engine that drew it
    (``authoring.provenance``)."""
    from ministudio.authoring.provenance import marked
    from ministudio.safety.images import reencoded

    out = scratch / "still.clean.png"
    out.write_bytes(marked(reencoded(path), engine))
    return out


def add_references(path: Path, drawn: list[Drawn]) -> bool:
    """Name each still in its character's or place's ``reference_images`` in the production
    file at ``path``: YAML keeps its comments and layout (ruamel.yaml round trip), JSON is
    rewritten. False for a file it cannot edit (a Python production)."""
    files: dict[tuple[str, str], list[str]] = {}
    for item in drawn:
        files.setdefault((item.still.group, item.still.id), []).append(item.still.file)
    suffix = path.suffix.lower()
    if suffix == ".json":
        import json

        data = json.loads(path.read_text(encoding="utf-8-sig"))
        _add(data, files)
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    elif suffix in (".yaml", ".yml"):
        import io

        from ruamel.yaml import YAML

        yaml = YAML()  # round trip: comments, order, flow style and quoting kept
        yaml.preserve_quotes = True
        yaml.width = 4096  # long lines stay whole
        yaml.indent(mapping=2, sequence=4, offset=2)
        data = yaml.load(path.read_text(encoding="utf-8-sig"))
        _add(data, files)
        buffer = io.StringIO()
        yaml.dump(data, buffer)
        text = buffer.getvalue()
    else:
        return False
    part = path.with_name(path.name + ".part")
    part.write_text(text, encoding="utf-8")
    part.replace(path)
    return True


def _add(data: Any, files: Mapping[tuple[str, str], list[str]]) -> None:
    import copy

    seen: set[int] = set()
    for group, name in files:  # one mapping under two names (a YAML alias): each its own
        entry = data[group][name]
        if id(entry) in seen:
            data[group][name] = copy.copy(entry)
        seen.add(id(entry))
    for (group, name), names in files.items():
        entry = data[group][name]
        have = list(entry.get("reference_images") or [])
        entry["reference_images"] = have + [n for n in names if n not in have]
