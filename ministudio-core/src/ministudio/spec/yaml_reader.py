"""YAML read from the event stream of PyYAML's libyaml parser into plain values, with YAML 1.2
scalars (``yes`` is a string): time grows linearly with the file, nothing recurses, nothing is
built past the depth and alias limits, and each field path's line is read on request."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ministudio.errors import Problem, ProductionError, dotted
from ministudio.spec.bounds import Lines, Loc, brief, limit, past_limit


def load_yaml(text: str, source: str) -> tuple[Any, list[Problem], Callable[[], Lines]]:
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
            path = brief((*top.path, key) if pending else top.path)
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
