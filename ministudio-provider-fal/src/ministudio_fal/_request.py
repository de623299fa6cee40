"""A ``VideoRequest`` as the input body of a fal endpoint, checked against the endpoint's
fields before anything is paid for: a field the schema lacks is never sent, a value outside
its enum or range is refused (``EngineError``)."""

from __future__ import annotations

from typing import Any

from ministudio.errors import EngineError

from ministudio_fal._table import Endpoint, seconds

# Options a user may pass through ``routing.options`` but that the plugin sets itself.
_OWN = frozenset({"prompt", "duration", "aspect_ratio", "resolution"})


def resolution_of(height: int, width: int) -> str:
    return f"{min(height, width)}p"


def prompt_text(prompt: str | dict[str, Any]) -> str:
    if isinstance(prompt, dict):
        return str(prompt.get("prompt") or prompt.get("text") or "")
    return prompt


def body(endpoint: Endpoint, request: Any, images: dict[str, str]) -> dict[str, Any]:
    """The JSON input for ``endpoint``; ``images`` maps a role (``first_frame``,
    ``last_frame``) to the URL the image was hosted at."""
    fields = endpoint.fields
    out: dict[str, Any] = {"prompt": prompt_text(request.prompt)}
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
        field = endpoint.role(role)
        if field is None:
            raise EngineError(endpoint.engine, f"{endpoint.endpoint} takes no {role}")
        out[field.name] = url
    for name, value in (request.options or {}).items():
        if name in _OWN:
            continue
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
    return endpoint.per_second(sent) * float(request.duration)


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
