"""Load a production from YAML or JSON, reporting every problem with its field path and line.

Every input is bounded (``LIMITS``; each limit's environment variable raises it): the file's
size, its nesting depth, the values YAML aliases add, and a spoken line's length. YAML is read
from the event stream of PyYAML's libyaml parser into plain values, with YAML 1.2 scalars
(``yes`` is a string): time grows linearly with the file, nothing recurses, and nothing is built
past a limit. Line numbers are read again only for a file with problems. Text may be UTF-8
(with or without a BOM), UTF-16 or UTF-32; JSON with a duplicate key is refused, as YAML is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ministudio.errors import Problem, ProductionError, dotted
from ministudio.safety.images import allowed_roots
from ministudio.spec import Production, reference_problems
from ministudio.spec.bounds import LIMITS, Lines, limit, past_limit, too_deep
from ministudio.spec.decoding import decode, read_file
from ministudio.spec.json_reader import load_json
from ministudio.spec.yaml_reader import load_yaml

if TYPE_CHECKING:
    from ministudio.engines import EngineSpec
    from ministudio.plugins import PluginHost


__all__ = ["LIMITS", "limit", "load_production", "past_limit", "validate_production"]


def load_production(
    path: str | Path,
    *,
    image_roots: Sequence[str | Path] = (),
    engines: PluginHost | Mapping[str, EngineSpec] | None = None,
) -> Production:
    """Read, parse and validate a production file (``.yaml``, ``.yml`` or ``.json``).
    ``image_roots``: folders besides the file's own that images may come from. ``engines``:
    the installed engines (a plugin host, or its ``engines``); with it, each engine id the file
    names is checked too."""
    path = Path(path)
    source = str(path)
    text = decode(read_file(path, source), source)
    if path.suffix.lower() == ".json":
        data, problems, lines = load_json(text, source)
    else:
        data, problems, lines = load_yaml(text, source)
    return _validate(data, source, path.parent, lines, problems, image_roots, engines)


def validate_production(
    data: Any,
    *,
    source: str = "<production>",
    base_dir: Path | None = None,
    positions: Lines | None = None,
    image_roots: Sequence[str | Path] = (),
    engines: PluginHost | Mapping[str, EngineSpec] | None = None,
) -> Production:
    """Validate parsed data. ``positions`` maps field paths (tuples) to lines, when known."""
    if too_deep(data, limit("MINISTUDIO_MAX_DEPTH")):
        deep = past_limit("MINISTUDIO_MAX_DEPTH", "the data is nested too deeply")
        raise ProductionError(source, [Problem("", deep)])
    plain = _plain(data)
    return _validate(plain, source, base_dir, lambda: positions or {}, [], image_roots, engines)


def _validate(
    data: Any,
    source: str,
    base_dir: Path | None,
    lines: Callable[[], Lines],
    problems: list[Problem],
    image_roots: Sequence[str | Path],
    engines: PluginHost | Mapping[str, EngineSpec] | None,
) -> Production:
    """Every problem at once: parsing's, pydantic's, references' and unknown engines'."""
    if not isinstance(data, Mapping):
        problem = Problem("", "expected a mapping of production fields", 1)
        raise ProductionError(source, [*problems, problem])
    found = reference_problems(data)
    if engines is not None:
        from ministudio.plan.shots import engine_problems

        found += engine_problems(data, engines)
    errors: list[Any] = []
    production = None
    try:
        context = {"base_dir": base_dir or Path.cwd(), "image_roots": allowed_roots(image_roots)}
        production = Production.model_validate(data, context=context)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    if production is not None and not (problems or found):
        return production
    where = lines()
    merged = {(p.path, p.message): p for p in [*problems, *_problems(errors, data, where)]}
    for loc, message in found:
        steps, line = _locate(data, where, loc)
        merged.setdefault((dotted(steps), message), Problem(dotted(steps), message, line))
    ordered = sorted(merged.values(), key=lambda p: (p.line or 0, p.path))
    raise ProductionError(source, ordered) from None


# -- data ------------------------------------------------------------------------------------


def _plain(node: Any) -> Any:
    """Mappings, sequences and scalars (ruamel's round-trip types too) as plain Python values."""
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, Sequence) and not isinstance(node, str):
        return [_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    for kind in (int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node


def _problems(errors: list[Any], data: Any, lines: Lines) -> list[Problem]:
    merged: dict[str, Problem] = {}
    for error in errors:
        steps, line = _locate(data, lines, error["loc"])
        path = dotted(steps)
        message = _message(error)
        if path in merged:  # one field failing several union branches: one problem
            old = merged[path]
            merged[path] = Problem(path, f"{old.message}; or {message}", old.line)
        else:
            merged[path] = Problem(path, message, line)
    return list(merged.values())


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field (check its spelling; `ministudio schema` lists every field)"
    if error["type"] == "missing":
        return "required field is missing"
    return str(error["msg"])


def _locate(data: Any, lines: Lines, loc: Sequence[Any]) -> tuple[list[Any], int | None]:
    """Walk ``loc`` through the data as far as it goes; return the walked steps and line."""
    steps: list[Any] = []
    line = lines.get(())
    node = data
    for step in loc:
        found = isinstance(node, Mapping) and step in node
        if found or (isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)):
            node = node[step]
        elif isinstance(node, Mapping) and isinstance(step, str) and not _is_union_branch(step):
            steps.append(step)  # a missing field: report its path, line of its parent
            break
        else:
            break
        steps.append(step)
        line = lines.get(tuple(steps), line)
    return steps, line


def _is_union_branch(step: str) -> bool:
    """pydantic names union branches in a loc ('float', "literal['audio']"): not real fields."""
    return step in {"float", "int", "str", "bool"} or step.startswith(("literal[", "function-"))
