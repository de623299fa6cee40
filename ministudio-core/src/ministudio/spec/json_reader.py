"""JSON read into plain values; duplicate keys refused (as YAML's are), depth bounded, and each
field path's line found by one scan of the text."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ministudio.errors import Problem, ProductionError, dotted
from ministudio.spec.bounds import Lines, Loc, brief, limit, past_limit, too_deep
from ministudio.spec.decoding import refuse


def load_json(text: str, source: str) -> tuple[Any, list[Problem], Callable[[], Lines]]:
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
        deep = too_deep(data, limit("MINISTUDIO_MAX_DEPTH"))
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
        raise refuse(
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
                    raise ProductionError(source, [Problem(brief(path), message, line)])
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
