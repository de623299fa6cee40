"""The curated endpoints, read from ``endpoints.json`` (data, not code): each becomes an
engine whose capabilities are derived from the input fields its schema names.

Beyond a field's type, enum, range and default, a field may say (each optional):

- ``map``: the film values it serves, each with the value sent for it (``{"2160p": "4k"}``;
  ``{"720p": "1080p"}`` renders 1080p for a 720p film, the core scaling the clip down). With
  a map, the field serves exactly its keys; without, its enum's values as they are.
- ``prices``: the price per second by the value sent (``{"720p": 0.10, "1080p": 0.15}``);
  the entry's ``price_per_second`` stays the price of its default inputs.
- ``pass``: the previz pass (``ministudio.engines.PASSES``) this URL input takes when the
  engine promotes a previz (``VideoRequest.source``); the entry's engine then declares
  ``video_edit`` (the passes its fields take) and only promotes.
- ``send``: a value the plugin always sends (e.g. ``"preprocess": false``: the control
  video is the previz's own pass, not re-extracted).
- ``role: "references"``: a list of image URLs (the shot's character reference images).

A promoting entry may say ``limits`` (what its source video may be, from the endpoint's
page: ``frames``, ``seconds``, ``fps``, ``side`` in pixels, each ``[min, max]``, and
``bytes``), ``max_references`` and ``billed_fps`` (fal bills "video seconds calculated at 16
frames per second": the price is per ``frames / billed_fps`` seconds).

A duration option is read as seconds whether it is a number, ``"8"`` or ``"8s"``; one that
is no length (``"auto"``) is never offered. An entry whose endpoint has no ``aspect_ratio``
or ``resolution`` field names what it renders in ``aspect_ratios``/``resolutions``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from ministudio.engines import Capabilities


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # "string", "integer", "boolean", "url"
    required: bool = False
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None
    role: str | None = None  # "first_frame", "last_frame", "reference_image", "audio"
    map: dict[str, Any] | None = None  # film value -> the value sent for it
    prices: dict[str, float] | None = None  # USD per second by the value sent
    pass_: str | None = None  # the previz pass this URL input takes (``VideoRequest.source``)
    send: Any = None  # a value always sent (None: not sent unless asked)

    def serves(self) -> tuple[str, ...]:
        """The film values this field serves: its map's keys, else its enum's values (an
        ``auto`` option is the model's choice, not a value the film asks for)."""
        if self.map is not None:
            return tuple(self.map)
        return tuple(str(v) for v in (self.enum or ()) if v != "auto")

    def sent(self, value: str) -> Any:
        """The value sent for the film's ``value`` (unchanged without a map; None when the
        map does not serve it)."""
        if self.map is None:
            return value
        return self.map.get(value)


def seconds(value: Any) -> float | None:
    """A duration option as seconds: ``5``, ``"5"`` and ``"5s"`` are 5.0; ``"auto"`` is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    text = text[:-1] if text.endswith("s") else text
    try:
        return float(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Endpoint:
    engine: str
    endpoint: str
    description: str
    source: str
    fields: dict[str, Field]
    price_per_second: float
    expected_latency: float
    stage: str = "ga"  # the model's lifecycle stage (ministudio.engines.Model)
    # What the endpoint renders when it has no such field (its page's word, e.g. 1080p).
    aspect_ratios: tuple[str, ...] | None = None
    resolutions: tuple[str, ...] | None = None
    # A promoting entry: what its source may be (``[min, max]`` by name, ``bytes`` a max),
    # how many reference images it takes, and the frame rate fal bills its seconds at.
    limits: dict[str, Any] | None = None
    max_references: int = 0
    billed_fps: float | None = None

    @property
    def video_edit(self) -> tuple[str, ...]:
        """The previz passes this endpoint's fields take (empty: it does not promote)."""
        return tuple(f.pass_ for f in self.fields.values() if f.pass_)

    @property
    def app(self) -> str:
        """``owner/app``: the part of the endpoint id the queue's request URLs use (fal's
        cancel reference: "Do not add the endpoint path")."""
        return "/".join(self.endpoint.split("/")[:2])

    def role(self, role: str) -> Field | None:
        return next((f for f in self.fields.values() if f.role == role), None)

    def per_second(self, body: dict[str, Any]) -> float:
        """The price per second of ``body`` (a field's ``prices`` by the value sent, or by its
        default when not sent; else the entry's ``price_per_second``)."""
        for name, field in self.fields.items():
            if field.prices:
                value = body.get(name, field.default)
                if str(value) in field.prices:
                    return float(field.prices[str(value)])
        return self.price_per_second

    def capabilities(self, *, concurrency: int = 2, latency: float | None = None) -> Capabilities:
        duration = self.fields.get("duration")
        durations: tuple[float, ...] | None = None
        low, high = 1.0, 60.0
        options = duration.enum or () if duration is not None else ()
        lengths = [s for s in (seconds(v) for v in options) if s is not None]
        if lengths:
            durations = tuple(sorted(set(lengths)))
            low, high = durations[0], durations[-1]
        elif duration is not None:
            low = float(duration.minimum if duration.minimum is not None else low)
            high = float(duration.maximum if duration.maximum is not None else high)
        ratio = self.fields.get("aspect_ratio")
        ratios = ratio.serves() if ratio else (self.aspect_ratios or ("16:9",))
        resolution = self.fields.get("resolution")
        resolutions = resolution.serves() if resolution else (self.resolutions or ("720p",))
        first = self.role("first_frame")
        limits = self.limits or {}
        if self.video_edit and "seconds" in limits:
            low, high = (float(v) for v in limits["seconds"])
        elif self.video_edit and "frames" in limits:  # at the previz's usual 24 fps
            low, high = (float(v) / 24.0 for v in limits["frames"])
        return Capabilities(
            durations=durations,
            min_duration=low,
            max_duration=high,
            aspect_ratios=ratios or ("16:9",),
            resolutions=resolutions or ("720p",),
            first_frame=first is not None,
            last_frame=self.role("last_frame") is not None,
            last_frame_alone=first is None or not first.required,
            max_references=(
                self.max_references
                if self.role("references")
                else 1
                if self.role("reference_image")
                else 0
            ),
            native_audio="generate_audio" in self.fields,
            reference_audio=self.role("audio") is not None,
            seed="seed" in self.fields,
            video_edit=self.video_edit,
            webhooks=True,
            concurrency=concurrency,
            price_per_second=self.price_per_second,
            expected_latency=self.expected_latency if latency is None else latency,
        )


def _field(name: str, raw: dict[str, Any]) -> Field:
    enum = raw.get("enum")
    return Field(
        name=name,
        type=str(raw.get("type", "string")),
        required=bool(raw.get("required", False)),
        enum=tuple(enum) if enum is not None else None,
        minimum=raw.get("minimum"),
        maximum=raw.get("maximum"),
        default=raw.get("default"),
        role=raw.get("role"),
        map=dict(raw["map"]) if raw.get("map") is not None else None,
        prices={str(k): float(v) for k, v in raw["prices"].items()} if raw.get("prices") else None,
        pass_=str(raw["pass"]) if raw.get("pass") else None,
        send=raw.get("send"),
    )


def _names(raw: Any) -> tuple[str, ...] | None:
    return tuple(str(v) for v in raw) if raw else None


def parse(data: dict[str, Any]) -> tuple[Endpoint, ...]:
    """The endpoints of a table (``endpoints.json``'s shape)."""
    out = []
    for entry in data["endpoints"]:
        out.append(
            Endpoint(
                engine=str(entry["engine"]),
                endpoint=str(entry["endpoint"]).strip("/"),
                description=str(entry.get("description", "")),
                source=str(entry.get("source", "")),
                fields={k: _field(k, v) for k, v in entry["fields"].items()},
                price_per_second=float(entry.get("price_per_second", 0.0)),
                expected_latency=float(entry.get("expected_latency", 120.0)),
                stage=str(entry.get("stage", "ga")),
                aspect_ratios=_names(entry.get("aspect_ratios")),
                resolutions=_names(entry.get("resolutions")),
                limits=dict(entry["limits"]) if entry.get("limits") else None,
                max_references=int(entry.get("max_references", 0)),
                billed_fps=float(entry["billed_fps"]) if entry.get("billed_fps") else None,
            )
        )
    return tuple(out)


@lru_cache(maxsize=1)
def curated() -> tuple[Endpoint, ...]:
    """The shipped table."""
    text = resources.files("ministudio_fal").joinpath("endpoints.json").read_text("utf-8")
    return parse(json.loads(text))


def by_engine() -> dict[str, Endpoint]:
    return {e.engine: e for e in curated()}
