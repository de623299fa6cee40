"""A ``VideoRequest`` as the input body of a fal endpoint, checked against the endpoint's
fields before anything is paid for: a field the schema lacks is never sent, a value outside
its enum or range is refused (``EngineError``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ministudio.errors import EngineError

from ministudio_fal._table import Endpoint, seconds

# fal's storage takes one file in one PUT up to 90 MB (fal-js ``storage.ts``: "Check for 90+
# MB file size to do multipart upload"); the plugin does not upload in parts.
STORAGE_MAX_BYTES = 90 * 1024 * 1024

# Options a user may pass through ``routing.options`` but that the plugin sets itself.
_OWN = frozenset({"prompt", "duration", "aspect_ratio", "resolution"})


def resolution_of(height: int, width: int) -> str:
    return f"{min(height, width)}p"


def prompt_text(prompt: str | dict[str, Any]) -> str:
    if isinstance(prompt, dict):
        return str(prompt.get("prompt") or prompt.get("text") or "")
    return prompt


def references(endpoint: Endpoint, request: Any) -> list[tuple[str, Path]]:
    """The character reference images a promoting endpoint is sent (its ``references``
    field): each in-frame character's first image, at most ``max_references``, as
    (character name, path)."""
    if endpoint.role("references") is None:
        return []
    out = []
    for character in request.shot.characters:
        if character.reference_images:
            out.append((character.name, Path(character.reference_images[0])))
    return out[: endpoint.max_references]


def uploads(endpoint: Endpoint, request: Any) -> dict[str, Any]:
    """What ``request`` sends to ``endpoint`` as files, by role: ``first_frame``,
    ``last_frame`` (a path each), ``pass:<name>`` (a previz pass) and ``references`` (a list
    of paths). A promoting request is checked first (``promoted``)."""
    out: dict[str, Any] = {}
    for role in ("first_frame", "last_frame"):
        if getattr(request, role, None) is not None:
            out[role] = Path(getattr(request, role))
    if endpoint.video_edit:
        source = promoted(endpoint, request)
        for name in endpoint.video_edit:
            out[f"pass:{name}"] = Path(source.passes[name])
        refs = references(endpoint, request)
        if refs:
            out["references"] = [path for _, path in refs]
    return out


def promoted(endpoint: Endpoint, request: Any) -> Any:
    """``request.source``, refused (``EngineError``, saying what to change) when a promoting
    endpoint cannot take it: none at all, a pass missing, or a source outside the
    endpoint's ``limits`` (frames, seconds, frame rate, sides, bytes)."""
    engine, name = endpoint.engine, endpoint.endpoint
    source = getattr(request, "source", None)
    shot = request.shot.shot_id
    if source is None:
        raise EngineError(
            engine,
            f"{engine} only promotes a previz: set routing.previz (e.g. 'animatic') so shot "
            f"{shot} is rendered as a previz first ({name} edits a video), or route the shot "
            "to an engine that makes video from text",
        )
    for wanted in endpoint.video_edit:
        if wanted not in source.passes:
            raise EngineError(
                engine,
                f"shot {shot}'s previz has no '{wanted}' pass, which {name} takes: "
                "render the previz with an engine that makes it (routing.previz)",
            )
    limits = endpoint.limits or {}
    fps = int(request.fps)
    frames = int(source.frames)
    length = frames / fps if fps else 0.0
    if "frames" in limits:
        low, high = (int(v) for v in limits["frames"])
        if not low <= frames <= high:
            raise EngineError(
                engine,
                f"shot {shot}'s previz is {frames} frames; {name} takes {low} to {high} "
                f"({low / fps:.2f}-{high / fps:.2f} s at {fps} fps): make the shot that long, "
                "or route it to another engine",
            )
    if "seconds" in limits:
        low_s, high_s = (float(v) for v in limits["seconds"])
        if not low_s - 1e-6 <= length <= high_s + 1e-6:
            raise EngineError(
                engine,
                f"shot {shot}'s previz lasts {length:.2f} s; {name} takes a source of "
                f"{low_s:g} to {high_s:g} s: make the shot that long, or route it to another "
                "engine",
            )
    if "fps" in limits:
        low_f, high_f = (float(v) for v in limits["fps"])
        if not low_f <= fps <= high_f:
            raise EngineError(
                engine,
                f"the film's {fps} fps is outside the {low_f:g}-{high_f:g} fps {name} takes: "
                "change format.fps, or route the shot to another engine",
            )
    if "side" in limits:
        low_p, high_p = (int(v) for v in limits["side"])
        width, height = int(request.width), int(request.height)
        if min(width, height) < low_p or max(width, height) > high_p:
            raise EngineError(
                engine,
                f"the film's {width}x{height} is outside what {name} takes (each side "
                f"{low_p}-{high_p} px): render the film at another resolution, or route the "
                "shot to another engine",
            )
    most = min(STORAGE_MAX_BYTES, int(limits.get("bytes") or STORAGE_MAX_BYTES))
    for wanted in endpoint.video_edit:
        path = Path(source.passes[wanted])
        size = path.stat().st_size if path.is_file() else 0
        if size > most:
            raise EngineError(
                engine,
                f"shot {shot}'s '{wanted}' pass is {size / 2**20:.1f} MB; at most "
                f"{most / 2**20:.0f} MB is uploaded to fal: shorten the shot or lower its "
                "resolution",
            )
    return source


def _promote_prompt(endpoint: Endpoint, request: Any, text: str) -> str:
    """The shot's prompt; for an endpoint whose prompt names its reference images
    (``@Image1``: Kling's edit), who each one is."""
    refs = references(endpoint, request)
    field = endpoint.role("references")
    if not refs or field is None or field.name != "image_urls":
        return text
    names = "; ".join(f"{name} looks like @Image{i}" for i, (name, _) in enumerate(refs, 1))
    return f"{text} {names}." if text else f"{names}."


def body(endpoint: Endpoint, request: Any, images: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON input for ``endpoint``; ``images`` maps a role (``first_frame``,
    ``last_frame``, ``pass:<name>``, ``references``: see ``uploads``) to the URL (or list
    of URLs) the file was hosted at."""
    fields = endpoint.fields
    out: dict[str, Any] = {"prompt": prompt_text(request.prompt)}
    if endpoint.video_edit:
        promoted(endpoint, request)
        out["prompt"] = _promote_prompt(endpoint, request, out["prompt"])
        for name, field in fields.items():
            if field.send is not None:
                out[name] = field.send
            if field.pass_:
                url = images.get(f"pass:{field.pass_}")
                if url is None:
                    raise EngineError(endpoint.engine, f"{field.pass_} pass not uploaded")
                out[name] = url
        listed = endpoint.role("references")
        if listed is not None and images.get("references"):
            out[listed.name] = list(images["references"])
    if "duration" in fields:
        out["duration"] = _duration(endpoint, float(request.duration))
    if "aspect_ratio" in fields:
        out["aspect_ratio"] = _sent(endpoint, "aspect_ratio", str(request.aspect_ratio))
    if "resolution" in fields:
        film = resolution_of(int(request.height), int(request.width))
        out["resolution"] = _sent(endpoint, "resolution", film)
    if "seed" in fields:
        out["seed"] = int(request.seed)
    for role, url in images.items():
        if role.startswith("pass:") or role == "references":
            continue
        taker = endpoint.role(role)
        if taker is None:
            raise EngineError(endpoint.engine, f"{endpoint.endpoint} takes no {role}")
        out[taker.name] = url
    for name, value in (request.options or {}).items():
        if name in _OWN:
            continue
        if name in fields and fields[name].pass_:
            raise EngineError(
                endpoint.engine, f"{name} is the previz's {fields[name].pass_} pass: not an option"
            )
        if name not in fields:
            raise EngineError(
                endpoint.engine, f"{endpoint.endpoint} has no input '{name}' (routing.options)"
            )
        out[name] = value
    check(endpoint, out)
    return out


def cost(endpoint: Endpoint, request: Any) -> float:
    """What ``request`` costs on ``endpoint`` (USD): the price per second of the values its
    body sends (a field's ``prices``), times its length."""
    sent: dict[str, Any] = {}
    for name, field in endpoint.fields.items():
        if not field.prices:
            continue
        try:
            if name == "duration":
                sent[name] = _duration(endpoint, float(request.duration))
            elif name == "resolution":
                film = resolution_of(int(request.height), int(request.width))
                sent[name] = _sent(endpoint, name, film)
            elif name in (request.options or {}):
                sent[name] = request.options[name]
        except EngineError:
            continue
    return endpoint.per_second(sent) * billed_seconds(endpoint, request)


def billed_seconds(endpoint: Endpoint, request: Any) -> float:
    """The seconds fal bills for ``request``: its length; a promote job's is its source's
    (``frames / fps``), counted at ``billed_fps`` where fal says so (Wan VACE: "video seconds
    are calculated at 16 frames per second")."""
    source = getattr(request, "source", None)
    fps = float(request.fps) if getattr(request, "fps", None) else 24.0
    frames = float(source.frames) if source is not None else float(request.duration) * fps
    if endpoint.billed_fps:
        return frames / endpoint.billed_fps
    return frames / fps if source is not None else float(request.duration)


def _sent(endpoint: Endpoint, name: str, film: str) -> Any:
    """The value sent for the film's ``film`` in field ``name`` (its ``map``, if any)."""
    field = endpoint.fields[name]
    value = field.sent(film)
    if value is None:
        raise EngineError(
            endpoint.engine,
            f"{name} {film} is not one {endpoint.endpoint} makes ({', '.join(field.serves())})",
        )
    return value


def _duration(endpoint: Endpoint, length: float) -> Any:
    field = endpoint.fields["duration"]
    if field.enum:
        for value in field.enum:
            option = seconds(value)
            if option is not None and abs(option - length) < 1e-6:
                return value
        raise EngineError(
            endpoint.engine,
            f"{length:g} s is not a length {endpoint.endpoint} makes "
            f"({', '.join(str(v) for v in field.enum)})",
        )
    return round(length) if field.type == "integer" else length


def check(endpoint: Endpoint, out: dict[str, Any]) -> None:
    """Refuse a body the endpoint's schema refuses (EngineError, before paying)."""
    for name, spec in endpoint.fields.items():
        if spec.required and name not in out:
            raise EngineError(endpoint.engine, f"{endpoint.endpoint} needs '{name}'")
    for name, value in out.items():
        field = endpoint.fields.get(name)
        if field is None:
            raise EngineError(endpoint.engine, f"{endpoint.endpoint} has no input '{name}'")
        if field.enum is not None and value not in field.enum:
            raise EngineError(
                endpoint.engine,
                f"{name}={value!r} is not one of {endpoint.endpoint}'s "
                f"({', '.join(map(str, field.enum))})",
            )
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if field.minimum is not None and value < field.minimum:
                raise EngineError(endpoint.engine, f"{name}={value} is under {field.minimum}")
            if field.maximum is not None and value > field.maximum:
                raise EngineError(endpoint.engine, f"{name}={value} is over {field.maximum}")
