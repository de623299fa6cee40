"""The bounds on a production's input (``LIMITS``; each limit's environment variable raises
it), and the field paths their messages name."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from ministudio.errors import Problem, ProductionError, dotted

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


def too_deep(data: Any, cap: int) -> bool:
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


def brief(path: Loc) -> str:
    """A path as text, its first steps only when it is long (a file nested past a limit)."""
    return dotted(path[:8]) + ("..." if len(path) > 8 else "")
