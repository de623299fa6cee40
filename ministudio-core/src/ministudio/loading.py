"""Load a production from YAML or JSON, reporting every problem with its field path and line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ministudio.errors import Problem, ProductionError
from ministudio.spec import Production


def load_production(path: str | Path) -> Production:
    """Read, parse and validate a production file (``.yaml``, ``.yml`` or ``.json``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProductionError(str(path), [Problem("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProductionError(str(path), [Problem("", f"cannot read the file: {exc}")]) from None
    if path.suffix.lower() == ".json":
        data, positions = _parse_json(text, str(path)), _positions(text)
    else:
        data = positions = _parse_yaml(text, str(path))
    return validate_production(data, source=str(path), base_dir=path.parent, positions=positions)


def validate_production(
    data: Any,
    *,
    source: str = "<production>",
    base_dir: Path | None = None,
    positions: Any = None,
) -> Production:
    """Validate parsed data. ``positions`` is a ruamel tree of the same file, for line numbers."""
    if not isinstance(data, Mapping):
        raise ProductionError(source, [Problem("", "expected a mapping of production fields")])
    try:
        return Production.model_validate(_plain(data), context={"base_dir": base_dir or Path.cwd()})
    except ValidationError as exc:
        raise ProductionError(source, _problems(exc, positions)) from None


def _parse_json(text: str, source: str) -> Any:
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProductionError(
            source, [Problem("", f"syntax error: {exc.msg}", exc.lineno)]
        ) from None


def _positions(text: str) -> Any:
    """A ruamel tree of a JSON file, only for line numbers; None where ruamel cannot read it."""
    try:
        return _parse_yaml(text, "")
    except ProductionError:
        return None


def _parse_yaml(text: str, source: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = " ".join(str(m) for m in (exc.context, exc.problem) if m)
        raise ProductionError(source, [Problem("", f"syntax error: {message}", line)]) from None
    except YAMLError as exc:
        raise ProductionError(source, [Problem("", f"syntax error: {exc}")]) from None


def _plain(node: Any) -> Any:
    """ruamel's round-trip containers and scalars as plain Python values."""
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


def _problems(exc: ValidationError, tree: Any) -> list[Problem]:
    merged: dict[str, Problem] = {}
    for error in exc.errors(include_url=False):
        steps, line = _locate(tree, error["loc"])
        path = _dotted(steps)
        message = _message(error)
        if path in merged:  # one field failing several union branches: one problem
            old = merged[path]
            merged[path] = Problem(path, f"{old.message}; or {message}", old.line)
        else:
            merged[path] = Problem(path, message, line)
    return sorted(merged.values(), key=lambda p: (p.line or 0, p.path))


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field (check its spelling; `ministudio schema` lists every field)"
    if error["type"] == "missing":
        return "required field is missing"
    return str(error["msg"])


def _locate(tree: Any, loc: tuple[Any, ...]) -> tuple[list[Any], int | None]:
    """Walk ``loc`` through the parsed file as far as it goes; return the walked steps and line."""
    steps: list[Any] = []
    line: int | None = getattr(getattr(tree, "lc", None), "line", None)
    node = tree
    for step in loc:
        lc = getattr(node, "lc", None)
        if isinstance(node, Mapping) and step in node:
            if lc is not None:
                line = lc.key(step)[0]
            node = node[step]
        elif isinstance(node, Sequence) and isinstance(step, int) and 0 <= step < len(node):
            if lc is not None:
                line = lc.item(step)[0]
            node = node[step]
        elif isinstance(node, Mapping) and isinstance(step, str) and not _is_union_branch(step):
            steps.append(step)  # a missing field: report its path, line of its parent
            break
        else:
            break
        steps.append(step)
    return steps, (line + 1 if line is not None else None)


def _is_union_branch(step: str) -> bool:
    """pydantic names union branches in a loc ('float', "literal['audio']"): not real fields."""
    return step in {"float", "int", "str", "bool"} or step.startswith(("literal[", "function-"))


def _dotted(steps: list[Any]) -> str:
    out = ""
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out
