"""Load a production from YAML or JSON, reporting every problem with its field path and line.

Every input is bounded (``LIMITS``; each limit's environment variable raises it): the file's
size, its nesting depth, the values YAML aliases add, and a spoken line's length. YAML is read
from the event stream of PyYAML's libyaml parser into plain values, with YAML 1.2 scalars
(``yes`` is a string): time grows linearly with the file, nothing recurses, and nothing is built
past a limit. Line numbers are read again only for a file with problems. Text may be UTF-8
(with or without a BOM), UTF-16 or UTF-32; JSON with a duplicate key is refused, as YAML is.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ministudio.errors import Problem, ProductionError, dotted
from ministudio.safety.images import allowed_roots
from ministudio.spec import Production, reference_problems

if TYPE_CHECKING:
    from ministudio.engines import EngineSpec
    from ministudio.plugins import PluginHost

Loc = tuple[str | int, ...]
Lines = Mapping[Loc, int]  # a field path -> the 1-based line it starts on

LIMITS: dict[str, tuple[int, str]] = {
    "MINISTUDIO_MAX_FILE_BYTES": (64 << 20, "bytes in a production file"),
    "MINISTUDIO_MAX_DEPTH": (64, "levels of nesting"),
    "MINISTUDIO_MAX_ALIAS_NODES": (100_000, "values added by YAML aliases"),
    "MINISTUDIO_MAX_LINE_CHARS": (10_000, "characters in a spoken line"),
}
"""Each limit's environment variable -> (its default, what it counts)."""


def limit(name: str) -> int:
    """The limit ``name`` (a key of ``LIMITS``): its environment variable, else its default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return LIMITS[name][0]
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ProductionError(f"${name}", [Problem("", f"'{raw}' is not a whole number above 0")])
    return value


def past_limit(name: str, found: str) -> str:
    """The message of something past limit ``name``: what, the limit, and how to raise it."""
    return f"{found}: the limit is {limit(name):,} {LIMITS[name][1]} (set {name} to raise it)"


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
    text = _decode(_read(path, source), source)
    if path.suffix.lower() == ".json":
        data, problems, lines = _load_json(text, source)
    else:
        data, problems, lines = _load_yaml(text, source)
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
    if _too_deep(data, limit("MINISTUDIO_MAX_DEPTH")):
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


# -- reading and decoding --------------------------------------------------------------------


def _refuse(source: str, message: str, line: int | None = None) -> ProductionError:
    return ProductionError(source, [Problem("", message, line)])


def _read(path: Path, source: str) -> bytes:
    """The file's bytes: a regular file, no larger than the limit."""
    cap = limit("MINISTUDIO_MAX_FILE_BYTES")
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(source, "not a regular file: give the path of a .yaml or .json file")
        with path.open("rb") as f:
            data = f.read(cap + 1)
    except FileNotFoundError:
        raise _refuse(source, "file not found") from None
    except OSError as exc:
        raise _refuse(source, f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > cap:
        size = max(info.st_size, len(data))
        found = f"the file is {size:,} bytes"
        raise _refuse(source, past_limit("MINISTUDIO_MAX_FILE_BYTES", found))
    return data


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16's: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _encoding(data: bytes) -> str:
    """UTF-8, or UTF-16/32 told by their BOM or by the NUL bytes around the first character."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    nul = [b == 0 for b in data[:4]]
    if nul == [True, True, True, False]:
        return "utf-32-be"
    if nul == [False, True, True, True]:
        return "utf-32-le"
    if nul[:2] == [True, False]:
        return "utf-16-be"
    if nul[:2] == [False, True]:
        return "utf-16-le"
    return "utf-8"


def _decode(data: bytes, source: str) -> str:
    encoding = _encoding(data)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1 if encoding == "utf-8" else None
        name = encoding.removesuffix("-sig").upper()
        bad = data[exc.start : exc.start + 1].hex()
        raise _refuse(
            source,
            f"the file is not valid {name} (byte 0x{bad} at offset {exc.start}): save it as UTF-8",
            line,
        ) from None


# -- YAML ------------------------------------------------------------------------------------


def _load_yaml(text: str, source: str) -> tuple[Any, list[Problem], Callable[[], Lines]]:
    """The file's values, the problems found on the way (duplicate keys), and its lines."""
    reader = _YamlReader(source, with_lines=False)
    data = reader.read(text)

    def lines() -> Lines:
        again = _YamlReader(source, with_lines=True)
        again.read(text)
        return again.lines

    return data, reader.problems, lines


_NO_KEY: Any = object()
_MERGE: Any = object()  # a plain '<<' key: the mapping(s) after it are merged in
_TAG = "tag:yaml.org,2002:"
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL = {
    **{f"{sign}{inf}": float(f"{sign}inf") for inf in (".inf", ".Inf", ".INF") for sign in "+-"},
    **{inf: float("inf") for inf in (".inf", ".Inf", ".INF")},
    **{nan: float("nan") for nan in (".nan", ".NaN", ".NAN")},
}


def _resolve(text: str) -> Any:
    """A plain scalar's value by the YAML 1.2 core schema (as ruamel.yaml reads it)."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text[:1] not in "0123456789+-.":
        return text
    try:
        if _INT.fullmatch(text):
            return int(text, 0) if text[:2] in ("0o", "0x") else int(text)
        if _FLOAT.fullmatch(text):
            return float(text)
    except ValueError:  # more digits than Python converts
        return text
    return _SPECIAL.get(text, text)


@dataclass
class _Open:
    """A mapping or sequence being read."""

    value: dict[str, Any] | list[Any]
    path: Loc
    anchor: str | None
    size: int = 1  # values in it, counting what aliases add
    key: Any = _NO_KEY  # a mapping's key waiting for its value
    skip: bool = False  # that key is a duplicate: its value is dropped
    merges: list[dict[str, Any]] = field(default_factory=list)


class _YamlReader:
    """Plain values from a YAML event stream, bounded in depth and in what aliases add."""

    def __init__(self, source: str, *, with_lines: bool) -> None:
        self.source = source
        self.with_lines = with_lines
        self.lines: dict[Loc, int] = {}
        self.problems: list[Problem] = []  # problems after which reading goes on
        self.stack: list[_Open] = []
        self.anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (value, its size)
        self.unfinished: set[str] = set()
        self.root: Any = None
        self.documents = 0
        self.added = 0
        self.max_depth = limit("MINISTUDIO_MAX_DEPTH")
        self.max_added = limit("MINISTUDIO_MAX_ALIAS_NODES")

    def read(self, text: str) -> Any:
        import yaml
        from yaml import events

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            for event in yaml.parse(text, Loader=loader):
                line = event.start_mark.line + 1 if event.start_mark else 0
                if isinstance(event, events.ScalarEvent):
                    key = event.value if self._awaits_key() else None
                    if key == "<<" and event.tag is None and event.implicit[0]:
                        key = _MERGE
                    self._add(self._scalar(event, line), 1, line, event.anchor, key)
                elif isinstance(event, events.CollectionStartEvent):
                    self._open(event, line, isinstance(event, events.MappingStartEvent))
                elif isinstance(event, events.CollectionEndEvent):
                    self._close(line)
                elif isinstance(event, events.AliasEvent):
                    self._alias(str(event.anchor), line)
                elif isinstance(event, events.DocumentStartEvent):
                    self.documents += 1
                    if self.documents > 1:
                        raise self._stop(line, "a production file holds one YAML document")
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            at = mark.line + 1 if mark is not None else None
            message = " ".join(str(m) for m in (exc.context, exc.problem) if m)
            raise self._stop(at, f"syntax error: {message}", here=False) from None
        except yaml.YAMLError as exc:
            raise self._stop(None, f"syntax error: {exc}", here=False) from None
        return self.root

    def _stop(self, line: int | None, message: str, *, here: bool = True) -> ProductionError:
        path = ""
        if here and self.stack:
            top = self.stack[-1]
            key = "<<" if top.key is _MERGE else top.key
            pending = isinstance(top.value, dict) and top.key is not _NO_KEY
            path = _brief((*top.path, key) if pending else top.path)
        return ProductionError(self.source, [*self.problems, Problem(path, message, line)])

    def _awaits_key(self) -> bool:
        top = self.stack[-1] if self.stack else None
        return top is not None and isinstance(top.value, dict) and top.key is _NO_KEY

    def _scalar(self, event: Any, line: int) -> Any:
        text, tag = event.value, event.tag
        if tag is None:
            return _resolve(text) if event.implicit[0] else text
        if tag in ("!", _TAG + "str"):
            return text
        kinds: dict[str, Callable[[Any], bool]] = {
            "int": lambda v: type(v) is int,
            "float": lambda v: type(v) in (int, float),
            "bool": lambda v: type(v) is bool,
            "null": lambda v: v is None,
        }
        kind = tag.removeprefix(_TAG)
        if kind not in kinds:
            raise self._stop(line, f"the tag {tag} is not supported: write plain values")
        value = _resolve(text)
        if not kinds[kind](value):
            raise self._stop(line, f"'{text}' is not a !!{kind}")
        return float(value) if kind == "float" else value

    def _open(self, event: Any, line: int, mapping: bool) -> None:
        if event.tag not in (None, "!", _TAG + ("map" if mapping else "seq")):
            raise self._stop(line, f"the tag {event.tag} is not supported: write plain values")
        if len(self.stack) >= self.max_depth:
            found = f"nested more than {self.max_depth} levels deep"
            raise self._stop(line, past_limit("MINISTUDIO_MAX_DEPTH", found))
        path: Loc = ()
        if self.stack:
            top = self.stack[-1]
            if isinstance(top.value, list):
                path = (*top.path, len(top.value))
            elif top.key is _NO_KEY:
                raise self._stop(line, "a key must be a plain value, not a mapping or a list")
            else:
                path = (*top.path, "<<" if top.key is _MERGE else top.key)
        if self.with_lines and (not self.stack or isinstance(self.stack[-1].value, list)):
            self.lines[path] = line
        self.stack.append(_Open({} if mapping else [], path, event.anchor))
        if event.anchor:
            self.unfinished.add(event.anchor)

    def _close(self, line: int) -> None:
        node = self.stack.pop()
        value = node.value
        if node.merges and isinstance(value, dict):  # its own keys win, then earlier merges
            merged: dict[str, Any] = {}
            for other in reversed(node.merges):
                merged.update(other)
            value = {**merged, **value}
        if node.anchor:
            self.unfinished.discard(node.anchor)
        self._add(value, node.size, line, node.anchor, None, placed=True)

    def _alias(self, anchor: str, line: int) -> None:
        if anchor in self.unfinished:
            raise self._stop(line, f"the alias *{anchor} is inside the value it names")
        if anchor not in self.anchors:
            raise self._stop(line, f"the alias *{anchor} names no anchor (&{anchor}) before it")
        value, size = self.anchors[anchor]
        self.added += size
        if self.added > self.max_added:
            found = f"aliases add more than {self.max_added:,} values"
            raise self._stop(line, past_limit("MINISTUDIO_MAX_ALIAS_NODES", found))
        key = None
        if self._awaits_key():
            if isinstance(value, (dict, list)):
                raise self._stop(line, "a key must be a plain value, not a mapping or a list")
            key = value if isinstance(value, str) else str(value)
        self._add(value, size, line, None, key)

    def _add(
        self, value: Any, size: int, line: int, anchor: str | None, key: Any, placed: bool = False
    ) -> None:
        """Put a finished value in its place: the root, a list item, a key or a key's value."""
        if anchor:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.root = value
            if self.with_lines:
                self.lines.setdefault((), line)
            return
        top = self.stack[-1]
        top.size += size
        if isinstance(top.value, list):
            if self.with_lines and not placed:
                item: Loc = (*top.path, len(top.value))
                self.lines[item] = line
            top.value.append(value)
        elif top.key is _NO_KEY:
            name = "<<" if key is _MERGE else key
            top.skip = name in top.value or (key is _MERGE and bool(top.merges))
            if top.skip:
                path = dotted([*top.path, name])
                self.problems.append(Problem(path, "this key appears twice in its mapping", line))
            top.key = key
            if self.with_lines:
                entry: Loc = (*top.path, name)
                self.lines[entry] = line
        else:
            key, top.key = top.key, _NO_KEY
            if top.skip:
                return
            if key is not _MERGE:
                top.value[key] = value
                return
            merged = value if isinstance(value, list) else [value]
            if not all(isinstance(m, dict) for m in merged):
                raise self._stop(line, "'<<' merges mappings: give it an alias of a mapping")
            top.merges.extend(merged)


# -- JSON ------------------------------------------------------------------------------------


def _load_json(text: str, source: str) -> tuple[Any, list[Problem], Callable[[], Lines]]:
    """The file's values, the problems found on the way (duplicate keys), and its lines."""
    import json

    duplicated = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal duplicated
        value = dict(items)
        duplicated = duplicated or len(value) != len(items)
        return value

    data: Any = None
    try:
        data = json.loads(text.removeprefix("\ufeff"), object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        problem = Problem("", f"syntax error: {exc.msg}", exc.lineno)
        raise ProductionError(source, [problem]) from None
    except RecursionError:
        deep = True
    else:
        deep = _too_deep(data, limit("MINISTUDIO_MAX_DEPTH"))
    scan: list[_JsonScan] = []

    def lines() -> Lines:
        if not scan:
            scan.append(_JsonScan(text, source))
        return scan[0].lines

    problems: list[Problem] = []
    if deep or duplicated:
        scan.append(_JsonScan(text, source))  # raises at the first level past the limit
        problems = scan[0].duplicates
    if deep:  # nested past what Python's parser takes, though under a raised limit
        raise _refuse(
            source,
            "nested too deeply for Python's JSON parser: flatten the file (a production "
            "nests a few levels)",
        )
    return data, problems, lines


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


class _JsonScan:
    """One pass over JSON text: each field path's line, duplicate keys, depth past the limit."""

    def __init__(self, text: str, source: str) -> None:
        import json

        self.lines: dict[Loc, int] = {(): 1}
        self.duplicates: list[Problem] = []
        cap = limit("MINISTUDIO_MAX_DEPTH")
        # each open container: [path, keys seen (None for an array), the key or index now]
        stack: list[list[Any]] = []
        line, pos = 1, 0
        for match in _JSON_TOKEN.finditer(text):
            line += text.count("\n", pos, match.start())
            pos = match.start()
            token = match.group()
            top = stack[-1] if stack else None
            if token in ("{", "["):
                path: Loc = () if top is None else (*top[0], top[2])
                if top is not None and top[1] is None:
                    self.lines[path] = line
                if len(stack) >= cap:
                    found = f"nested more than {cap} levels deep"
                    message = past_limit("MINISTUDIO_MAX_DEPTH", found)
                    raise ProductionError(source, [Problem(_brief(path), message, line)])
                stack.append([path, set() if token == "{" else None, None if token == "{" else 0])
            elif token in ("}", "]"):
                stack.pop()
            elif token == "," and top is not None:
                top[2] = None if top[1] is not None else top[2] + 1
            elif token != ":" and top is not None:
                if top[1] is None:
                    item: Loc = (*top[0], top[2])
                    self.lines[item] = line
                elif top[2] is None:  # a key
                    key = json.loads(token)
                    if key in top[1]:
                        path_text = dotted([*top[0], key])
                        message = "this key appears twice in its object"
                        self.duplicates.append(Problem(path_text, message, line))
                    top[1].add(key)
                    top[2] = key
                    entry: Loc = (*top[0], key)
                    self.lines[entry] = line


# -- data ------------------------------------------------------------------------------------


def _too_deep(data: Any, cap: int) -> bool:
    """Whether ``data`` nests more than ``cap`` levels of mappings and lists (no recursion)."""
    todo: list[tuple[Any, int]] = [(data, 1)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, Mapping):
            children: Any = node.values()
        elif isinstance(node, Sequence) and not isinstance(node, (str, bytes)):
            children = node
        else:
            continue
        if depth > cap:
            return True
        todo.extend((child, depth + 1) for child in children)
    return False


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


def _brief(path: Loc) -> str:
    """A path as text, its first steps only when it is long (a file nested past a limit)."""
    return dotted(path[:8]) + ("..." if len(path) > 8 else "")
