"""The curated endpoints, read from ``endpoints.json`` (data, not code): each becomes an
engine whose capabilities are derived from the input fields its schema names."""

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

    @property
    def app(self) -> str:
        """``owner/app``: the part of the endpoint id the queue's request URLs use (fal's
        cancel reference: "Do not add the endpoint path")."""
        return "/".join(self.endpoint.split("/")[:2])

    def role(self, role: str) -> Field | None:
        return next((f for f in self.fields.values() if f.role == role), None)

    def capabilities(self, *, concurrency: int = 2, latency: float | None = None) -> Capabilities:
        duration = self.fields.get("duration")
        durations: tuple[float, ...] | None = None
        low, high = 1.0, 60.0
        if duration is not None and duration.enum:
            durations = tuple(sorted(float(v) for v in duration.enum))
            low, high = durations[0], durations[-1]
        elif duration is not None:
            low = float(duration.minimum if duration.minimum is not None else low)
            high = float(duration.maximum if duration.maximum is not None else high)
        ratio = self.fields.get("aspect_ratio")
        ratios = tuple(str(v) for v in (ratio.enum or ()) if v != "auto") if ratio else ("16:9",)
        resolution = self.fields.get("resolution")
        resolutions = tuple(str(v) for v in (resolution.enum or ())) if resolution else ("720p",)
        first = self.role("first_frame")
        return Capabilities(
            durations=durations,
            min_duration=low,
            max_duration=high,
            aspect_ratios=ratios or ("16:9",),
            resolutions=resolutions or ("720p",),
            first_frame=first is not None,
            last_frame=self.role("last_frame") is not None,
            last_frame_alone=first is None or not first.required,
            max_references=1 if self.role("reference_image") else 0,
            native_audio="generate_audio" in self.fields,
            reference_audio=self.role("audio") is not None,
            seed="seed" in self.fields,
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
    )


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
