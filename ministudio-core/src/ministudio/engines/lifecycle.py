"""Models and their lifecycle: which models an engine serves, at what stage, until when, and
what replaces them.

An engine declares its models (``EngineSpec.models``); ``validate``, ``plan`` and ``render``
refuse a production that would use a retired one, naming the replacement, and warn when its
shutdown is less than ``WARN_DAYS`` away. A model an engine does not declare is passed over
(providers add models monthly): the engine's own API is then the judge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Stage = Literal["preview", "ga", "deprecated", "retired"]
STAGES: tuple[Stage, ...] = ("preview", "ga", "deprecated", "retired")
WARN_DAYS = 30
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Model:
    """One model an engine serves. ``shutdown`` is the provider's announced last day (or the
    day it was turned off); ``replacement`` the model to move to, on ``replacement_engine``
    when that is another engine."""

    id: str
    stage: Stage = "ga"
    shutdown: dt.date | None = None
    replacement: str | None = None
    replacement_engine: str | None = None
    aliases: tuple[str, ...] = ()  # short names the engine also accepts (``veo-3.1-fast``)
    use: str = ""  # what it is for, one line for ``ministudio plugins --models``
    why: str = ""  # why it goes (or went), for the refusal: "OpenAI shut its Videos API down"

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"model {self.id!r}: stage must be one of {', '.join(STAGES)}")
        object.__setattr__(self, "aliases", tuple(self.aliases))

    def retired(self, today: dt.date) -> bool:
        """Turned off: declared retired, or its shutdown day has come."""
        return self.stage == "retired" or (self.shutdown is not None and self.shutdown <= today)

    def days_left(self, today: dt.date) -> int | None:
        """Days until the shutdown, when one is announced."""
        return None if self.shutdown is None else (self.shutdown - today).days

    def instead(self) -> str:
        """What to use instead, as a clause ("use 'x'", "route to engine 'e', model 'x'")."""
        if not self.replacement:
            return "route the shots to another engine or model (`ministudio plugins --models`)"
        if self.replacement_engine:
            return f"route to engine '{self.replacement_engine}', model '{self.replacement}'"
        return f"use model '{self.replacement}'"


def find(models: tuple[Model, ...], name: str) -> Model | None:
    """The declared model called ``name`` (its id or an alias), or None."""
    return next((m for m in models if name == m.id or name in m.aliases), None)


def today() -> dt.date:
    """Today in UTC: providers announce shutdowns by UTC day."""
    return dt.datetime.now(dt.timezone.utc).date()


@dataclass(frozen=True)
class Finding:
    """A lifecycle problem at a place in a production: an error (retired) or a warning."""

    loc: Loc
    message: str
    error: bool


def findings(data: Any, engines: Mapping[str, Any], on: dt.date | None = None) -> list[Finding]:
    """The lifecycle findings for every model a production (plain data) would use: each
    engine it names with its model (``routing.options.<engine>.model``, a voice's
    ``options.model``, else the engine's default). ``engines`` maps ids to ``EngineSpec``."""
    on = on or today()
    found: dict[tuple[Any, ...], Finding] = {}
    for loc, engine_id, name in _uses(data, engines):
        spec = engines.get(engine_id)
        model = find(spec.models, name) if spec is not None else None
        judged = _judge(engine_id, name, model, on) if model is not None else None
        if judged is not None:
            message, error = judged
            key = (loc, message) if error else (engine_id, name)  # warn once per model
            found.setdefault(key, Finding(loc, message, error))
    return list(found.values())


def _judge(engine: str, name: str, model: Model, on: dt.date) -> tuple[str, bool] | None:
    if model.retired(on):
        when = f" on {model.shutdown.isoformat()}" if model.shutdown else ""
        why = f" ({model.why})" if model.why else ""
        said = f"engine '{engine}': model '{name}' was retired{when}{why}; {model.instead()}"
        return said, True
    left = model.days_left(on)
    if left is not None and left <= WARN_DAYS:
        assert model.shutdown is not None
        return (
            f"engine '{engine}': model '{name}' shuts down on {model.shutdown.isoformat()} "
            f"(in {left} day{'s' if left != 1 else ''}); {model.instead()}",
            False,
        )
    return None


def _uses(data: Any, engines: Mapping[str, Any]) -> Iterator[tuple[Loc, str, str]]:
    """(where, engine id, model name) for each engine the production names."""

    def mapping(value: Any) -> dict[Any, Any]:
        return value if isinstance(value, dict) else {}

    def text(value: Any) -> str | None:
        return value.strip() if isinstance(value, str) and value.strip() else None

    data = mapping(data)
    routing = mapping(data.get("routing"))
    options = mapping(routing.get("options"))

    def model(engine: str, loc: Loc, voice: dict[Any, Any] | None = None) -> tuple[Loc, str, str]:
        own = text(mapping((voice or {}).get("options")).get("model"))
        if own:
            return (*loc[:-1], "options", "model"), engine, own
        routed = text(mapping(options.get(engine)).get("model"))
        if routed:
            return ("routing", "options", engine, "model"), engine, routed
        spec = engines.get(engine)
        return loc, engine, (spec.default_model if spec is not None else None) or ""

    named: list[tuple[Loc, Any]] = [
        (("routing", role), routing.get(role)) for role in ("video", "plate")
    ]
    named += [(("routing", "shots", s), e) for s, e in mapping(routing.get("shots")).items()]
    for engine, fallbacks in mapping(routing.get("fallbacks")).items():
        named += [
            (("routing", "fallbacks", engine, i), f)
            for i, f in enumerate(fallbacks if isinstance(fallbacks, list) else [])
        ]
    named += [(("routing", "options", e), e) for e in options]
    for loc, value in named:
        engine = text(value)
        if engine:
            yield model(engine, loc)
    voices: list[tuple[Loc, dict[Any, Any]]] = [
        (("characters", cid, "voice"), mapping(mapping(c).get("voice")))
        for cid, c in mapping(data.get("characters")).items()
    ]
    voices.append((("narrator",), mapping(data.get("narrator"))))
    for loc, voice in voices:
        engine = text(voice.get("engine")) or text(routing.get("speech"))
        if engine:
            yield model(engine, (*loc, "engine"), voice)
