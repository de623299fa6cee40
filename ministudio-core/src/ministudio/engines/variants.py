"""Which of an engine's variants (a model, in one mode) renders a shot.

An engine whose inputs depend on model, mode or length declares ``EngineSpec.variants``. The
routing names the model (``routing.options.<engine>.model``, else the engine's default) and
may pin a mode (``routing.options.<engine>.mode``). Per shot the core then takes, among that
model's variants, the first (they are declared cheapest first) that renders the film's
aspect ratio and resolution and the shot's length (and speaks, when the shot's lines are
the engine's to speak), and of those the one that drops the fewest of the shot's inputs.
A shot no variant can render is refused with the reason before anything is paid for.

``routed`` narrows an engine to the routed model before the shot's length is known (for
checks that hold for any of its variants); ``choose`` picks the variant for one shot.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ministudio.engines import Capabilities, EngineSpec, Variant, lifecycle
from ministudio.errors import CapabilityError

# What a variant cannot change: they belong to the engine's account and API, not the model.
_ENGINE_WIDE = ("webhooks", "concurrency", "requests_per_minute", "expected_latency")
_INPUTS = (  # what a model takes if any of its variants does
    "first_frame",
    "extend",
    "edit",
    "last_frame",
    "loop",
    "native_audio",
    "reference_audio",
    "seed",
)


def of_model(engine: EngineSpec, options: Mapping[str, Any]) -> tuple[Variant, ...]:
    """The variants of the routed model (and pinned mode); empty when the engine declares
    none for it (its capabilities then apply as they are)."""
    model = options.get("model") or engine.default_model
    declared = lifecycle.find(engine.models, model) if model else None
    model = declared.id if declared else model  # an alias names its model's variants
    mine = tuple(v for v in engine.variants if v.model == model)
    mode = options.get("mode")
    if mine and mode is not None and not any(v.mode == mode for v in mine):
        modes = ", ".join(dict.fromkeys(str(v.mode) for v in mine))
        raise CapabilityError(
            f"engine '{engine.id}': model '{model}' has no mode '{mode}' (its modes: {modes}); "
            f"fix routing.options.{engine.id}.mode"
        )
    return tuple(v for v in mine if mode is None or v.mode == mode)


def routed(engine: EngineSpec, options: Mapping[str, Any]) -> EngineSpec:
    """``engine`` narrowed to the routed model: its capabilities are what any of the model's
    variants takes (the longest length, every format, native audio if one speaks)."""
    variants = of_model(engine, options)
    if not variants:
        return engine
    caps = [v.capabilities for v in variants]
    grids = [c.durations for c in caps]
    takes: dict[str, Any] = {name: any(getattr(c, name) for c in caps) for name in _INPUTS}
    takes["last_frame_alone"] = any(c.last_frame and c.last_frame_alone for c in caps)
    takes["references_with_frames"] = any(
        c.max_references and c.references_with_frames for c in caps
    )
    envelope = dataclasses.replace(
        caps[0],
        durations=None if None in grids else tuple(sorted({d for g in grids if g for d in g})),
        min_duration=min(c.min_duration for c in caps),
        max_duration=max(c.max_duration for c in caps),
        aspect_ratios=_union(c.aspect_ratios for c in caps),
        resolutions=_union(c.resolutions for c in caps),
        max_references=max(c.max_references for c in caps),
        video_edit=_union(c.video_edit for c in caps),
        **takes,
    )
    return _with(engine, envelope, variants)


def choose(
    engine: EngineSpec,
    options: Mapping[str, Any],
    *,
    aspect_ratio: str,
    resolution: str,
    seconds: float,
    speaks: bool,
    dropped: Callable[[EngineSpec], Sequence[str]],
    shot_id: str,
) -> tuple[EngineSpec, dict[str, Any]]:
    """The engine narrowed to the variant that renders the shot, and the routing options
    with its model and mode. ``dropped`` lists what a candidate leaves out of the shot's
    inputs (``conditioning.ignored``); ``speaks``: the engine must speak the shot's lines."""
    variants = of_model(engine, options)
    if not variants:
        return engine, dict(options)
    fitting = [
        v
        for v in variants
        if aspect_ratio in v.capabilities.aspect_ratios
        and resolution in v.capabilities.resolutions
        and renders(v.capabilities, seconds)
        and (v.capabilities.native_audio or not speaks)
    ]
    if not fitting:
        raise CapabilityError(
            f"shot '{shot_id}': no mode of engine '{engine.id}' renders it "
            f"({seconds:.2f} s, {aspect_ratio} {resolution}"
            + (", speaking its lines" if speaks else "")
            + "): "
            + "; ".join(f"{v.label}: {describe(v.capabilities)}" for v in variants)
            + f". Change the shot, the format or routing.options.{engine.id}, or route it "
            "elsewhere"
        )
    specs = [_with(engine, v.capabilities, (v,)) for v in fitting]
    best = min(range(len(specs)), key=lambda i: len(dropped(specs[i])))  # ties: the cheapest
    chosen = fitting[best]
    picked = {**options, "model": chosen.model}
    if chosen.mode is not None:
        picked["mode"] = chosen.mode
    return specs[best], picked


def renders(caps: Capabilities, seconds: float) -> bool:
    """Whether a clip of ``seconds`` (snapped up to the grid where allowed) fits ``caps``."""
    if caps.durations:
        longest = max(caps.durations)
        exact = any(abs(d - seconds) < 1e-6 for d in caps.durations)
        return seconds <= longest + 1e-6 and (caps.snap_duration == "up" or exact)
    return seconds <= caps.max_duration + 1e-6


def describe(caps: Capabilities) -> str:
    """A variant's lengths, resolutions and what it takes, in words."""
    if caps.durations:
        grid = caps.durations
        whole = len(grid) > 2 and all(b - a == 1 for a, b in itertools.pairwise(grid))
        lengths = f"{grid[0]:g}-{grid[-1]:g}" if whole else ", ".join(f"{d:g}" for d in grid)
        lengths += " s"
    else:
        lengths = f"up to {caps.max_duration:g} s"
    takes = [
        word
        for word, has in (
            ("first frame", caps.first_frame),
            ("end frame" + ("" if caps.last_frame_alone else " with a first"), caps.last_frame),
            ("loop", caps.loop),
            ("extends", caps.extend),
            ("edits", caps.edit),
            (f"{caps.max_references} reference image(s)", caps.max_references),
            ("speaks", caps.native_audio),
            ("lips to the voice", caps.reference_audio),
        )
        if has
    ]
    return ", ".join([lengths, "/".join(caps.resolutions), *takes])


def label(engine: EngineSpec) -> str | None:
    """The variant an engine was narrowed to by ``choose``, as ``plan`` shows it."""
    return engine.variants[0].label if len(engine.variants) == 1 else None


def _with(engine: EngineSpec, caps: Capabilities, variants: tuple[Variant, ...]) -> EngineSpec:
    wide = {name: getattr(engine.capabilities, name) for name in _ENGINE_WIDE}
    price = caps.price_per_second or engine.capabilities.price_per_second
    capabilities = dataclasses.replace(caps, price_per_second=price, **wide)
    return dataclasses.replace(engine, capabilities=capabilities, variants=variants)


def _union(groups: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for group in groups for item in group))
