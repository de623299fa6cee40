"""A Fountain screenplay (https://fountain.io/syntax, version 1.1) read into elements, each with
the 1-based line of the script it starts on.

Our own parser, not one from the package index: of the Python parsers there (Jouvence 0.4.2, no
release since 2020; fountain-parser 0.1.1; fountain-py 0.3.0; screenplain 0.12.0) none keeps
the script line of each element, and an import has to point its errors back at the script.
This one is small, linear in the script's length (no regular expression can backtrack over the
whole text), and bounded: the file's size, a line's length and the number of elements each
have a limit whose environment variable raises it.

What is not part of the film is taken out and counted: notes (``[[...]]``), boneyard
(``/* ... */``), sections (``#``), synopses (``=``) and page breaks (``===``). Emphasis
markup (``*``, ``**``, ``***``, ``_``) is removed from every text, and ``\\*`` is a literal
star.

One leniency: the spec wants a blank line after a scene heading; a line that starts with INT.,
EXT. and the like after a blank line is a heading here even when action follows at once (as
some apps write it), rather than a character named "INT. HOUSE".
"""

from __future__ import annotations

import os
import re
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ministudio.errors import Problem, ProductionError
from ministudio.spec.decoding import decode

Kind = Literal[
    "scene_heading",
    "action",
    "character",
    "dialogue",
    "parenthetical",
    "lyrics",
    "transition",
    "centered",
]

SCRIPT_LIMITS: dict[str, tuple[int, str]] = {
    "MINISTUDIO_MAX_SCRIPT_BYTES": (8 << 20, "bytes in a screenplay"),
    "MINISTUDIO_MAX_SCRIPT_LINE_CHARS": (20_000, "characters on one line of a screenplay"),
    "MINISTUDIO_MAX_SCRIPT_ELEMENTS": (200_000, "elements (paragraphs, cues, lines) in a script"),
}
"""Each bound's environment variable -> (its default, what it counts)."""


class ScriptError(ProductionError):
    """A screenplay cannot be read or imported. Each problem is shown as ``SCRIPT:LINE:`` (as
    compilers do, so an editor can jump to it), with the production field it would fill."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        super().__init__(source, problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        shown = "\n".join(
            f"  - {source}{f':{p.line}' if p.line else ''}: {f'{p.path}: ' if p.path else ''}"
            f"{p.message}"
            for p in problems
        )
        self.args = (f"{source}: {count}; fix these and run again:\n{shown}",)

    def __str__(self) -> str:
        return str(self.args[0])


def script_limit(name: str) -> int:
    """The bound ``name`` (a key of ``SCRIPT_LIMITS``): its environment variable, else its
    default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return SCRIPT_LIMITS[name][0]
    if not raw.isdigit() or int(raw) <= 0:
        raise ScriptError(f"${name}", [Problem("", f"'{raw}' is not a whole number above 0")])
    return int(raw)


def _past(name: str, found: str) -> str:
    what = SCRIPT_LIMITS[name][1]
    return f"{found}: the limit is {script_limit(name):,} {what} (set {name} to raise it)"


@dataclass(frozen=True)
class Element:
    """One element of the script body. ``text`` is plain (emphasis removed); a character cue's
    ``name`` is the name alone, ``extensions`` its parenthesised parts (``V.O.``, ``CONT'D``)
    and ``dual`` marks the second speaker of dual dialogue (``^``)."""

    kind: Kind
    text: str
    line: int
    name: str = ""
    extensions: tuple[str, ...] = ()
    dual: bool = False
    forced: bool = False
    scene_number: str | None = None


@dataclass
class Script:
    """A parsed screenplay: its title page (keys in lower case), body elements, and what was
    left out of the film (``dropped``: notes, boneyard, sections, synopses, page breaks)."""

    title_page: dict[str, str] = field(default_factory=dict)
    title_lines: dict[str, int] = field(default_factory=dict)
    elements: list[Element] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)


# -- reading -----------------------------------------------------------------------------------


def read_script(path: Path) -> str:
    """The script's text: a regular file within the size bound, UTF-8 (or UTF-16/32 with a
    BOM), and text, not binary."""
    source = str(path)
    cap = script_limit("MINISTUDIO_MAX_SCRIPT_BYTES")
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(source, "not a regular file: give the path of a .fountain script")
        with path.open("rb") as f:
            data = f.read(cap + 1)
    except FileNotFoundError:
        raise _refuse(source, "file not found: check the path of the script") from None
    except OSError as exc:
        raise _refuse(source, f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > cap:
        found = f"the script is {max(info.st_size, len(data)):,} bytes"
        raise _refuse(source, _past("MINISTUDIO_MAX_SCRIPT_BYTES", found))
    binary = (
        "this is a binary file, not a screenplay: export the script as Fountain "
        "(plain text, .fountain) and import that"
    )
    try:
        text = decode(data, source)
    except ProductionError as exc:
        if b"\x00" in data[:8192]:
            raise _refuse(source, binary) from None
        raise ScriptError(source, exc.problems) from None
    nul = text.find("\x00")
    if nul >= 0:
        raise _refuse(source, binary, text.count("\n", 0, nul) + 1)
    return text


def _refuse(source: str, message: str, line: int | None = None) -> ScriptError:
    return ScriptError(source, [Problem("", message, line)])


# -- notes and boneyard --------------------------------------------------------------------------

_SPANS = {"/*": ("*/", "boneyard"), "[[": ("]]", "notes")}


def strip_hidden(text: str, dropped: Counter[str]) -> list[tuple[int, str]]:
    """The text's lines as (source line, text) with notes and boneyard removed. A line that was
    only a note or boneyard is gone (it does not split a paragraph); an unclosed ``/*`` or
    ``[[`` is kept as text. Linear: each opener is searched for once."""
    out: list[tuple[int, str]] = []
    current, origin, touched = "", 1, False
    src_line, pos = 1, 0
    closed = {"/*": True, "[[": True}  # False once an opener has no closer after it

    def add(chunk: str) -> None:
        nonlocal current, origin, touched, src_line
        parts = chunk.split("\n")
        current += parts[0]
        for part in parts[1:]:
            if not (touched and not current.strip()):
                out.append((origin, current))
            src_line += 1
            current, origin, touched = part, src_line, False

    ahead = {o: text.find(o) for o in _SPANS}  # each opener's next place (-1: none left)
    while True:
        for o in _SPANS:
            if 0 <= ahead[o] < pos:
                ahead[o] = text.find(o, pos)
        starts = [(at, o) for o, at in ahead.items() if at >= 0 and closed[o]]
        if not starts:
            break
        at, opener = min(starts)
        closer, kind = _SPANS[opener]
        end = text.find(closer, at + 2)
        if end < 0:
            closed[opener] = False
            continue
        add(text[pos:at])
        hidden = text[at : end + 2]
        src_line += hidden.count("\n")
        dropped[kind] += 1
        touched = True
        pos = end + 2
    add(text[pos:])
    if not (touched and not current.strip()):
        out.append((origin, current))
    return out


# -- emphasis ------------------------------------------------------------------------------------

_MARKERS = ("***", "**", "*", "_")


def plain(text: str) -> str:
    """``text`` without emphasis markup; ``\\*`` and ``\\_`` become ``*`` and ``_``. Each
    line is read once per marker, left to right (linear, whatever the text)."""
    text = text.replace("\\*", "\x01").replace("\\_", "\x02")
    lines = []
    for line in text.split("\n"):
        for marker in _MARKERS:
            if marker in line:
                line = _unmark(line, marker)
        lines.append(line)
    return "\n".join(lines).replace("\x01", "*").replace("\x02", "_")


def _unmark(line: str, marker: str) -> str:
    """``line`` without each pair of ``marker`` that wraps text (an opener before a non-space,
    a closer after one); unpaired markers stay."""
    cut: list[int] = []
    opened = -1
    at = line.find(marker)
    size = len(marker)
    while at >= 0:
        before = line[at - 1] if at > 0 else " "
        after = line[at + size] if at + size < len(line) else " "
        if opened >= 0 and not before.isspace() and at > opened + size:
            cut += [opened, at]
            opened = -1
        elif opened < 0 and not after.isspace():
            opened = at
        at = line.find(marker, at + size)
    if not cut:
        return line
    out, last = [], 0
    for start in cut:
        out.append(line[last:start])
        last = start + size
    out.append(line[last:])
    return "".join(out)


# -- the body -------------------------------------------------------------------------------------

_HEADING = re.compile(r"^(?:INT\.?/EXT|INT/EXT|EXT\.?/INT|I/E|INT|EXT|EST)[. ]", re.IGNORECASE)
_SCENE_NUMBER = re.compile(r"\s+#([\w.\-]+)#\s*$")
_TITLE_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9 _-]{0,40}):(.*)$")
TITLE_KEYS = frozenset(
    (
        "title",
        "credit",
        "author",
        "authors",
        "source",
        "draft date",
        "date",
        "contact",
        "copyright",
        "notes",
        "revision",
        "format",
        "font",
    )
)
"""The keys a title page may start with (any key may follow): a first line such as
``FADE IN:`` is the body's, not a title page."""
_EXTENSION = re.compile(r"\(([^()]*)\)")


def _blank(line: str) -> bool:
    """An empty line; two spaces alone are the writer's deliberate blank *inside* an element."""
    return not line.strip() and line != "  "


def _is_page_break(stripped: str) -> bool:
    return len(stripped) >= 3 and set(stripped) == {"="}


def _cue(stripped: str) -> tuple[str, tuple[str, ...], bool, bool] | None:
    """A character cue's (name, extensions, dual, forced), if the line reads as one."""
    forced = stripped.startswith("@")
    body = stripped[1:] if forced else stripped
    dual = body.endswith("^")
    body = body.removesuffix("^").strip()
    name = body.split("(", 1)[0].strip()
    if not name:
        return None
    if not forced and (name != name.upper() or not any(c.isalpha() for c in name)):
        return None
    extensions = tuple(e.strip() for e in _EXTENSION.findall(body[len(name) :]) if e.strip())
    return name, extensions, dual, forced


def parse(text: str, source: str = "<script>") -> Script:
    """Parse a Fountain script. ``source`` names it in errors."""
    script = Script()
    line_cap = script_limit("MINISTUDIO_MAX_SCRIPT_LINE_CHARS")
    element_cap = script_limit("MINISTUDIO_MAX_SCRIPT_ELEMENTS")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    if text.startswith("\ufeff"):
        text = text[1:]
    for number, raw in enumerate(text.split("\n"), 1):
        if len(raw) > line_cap:
            found = f"this line is {len(raw):,} characters"
            raise _refuse(source, _past("MINISTUDIO_MAX_SCRIPT_LINE_CHARS", found), number)
    lines = strip_hidden(text, script.dropped)
    start = _title_page(lines, script)
    elements = script.elements

    def emit(element: Element) -> None:
        if len(elements) >= element_cap:
            found = "the script has too many elements"
            raise _refuse(source, _past("MINISTUDIO_MAX_SCRIPT_ELEMENTS", found), element.line)
        elements.append(element)

    in_dialogue = False
    action: list[str] = []
    action_line = 0

    def flush_action() -> None:
        nonlocal action
        if action:
            body = "\n".join(action).strip("\n")
            if body.strip():
                emit(Element("action", plain(body), action_line))
            action = []

    count = len(lines)
    for i in range(start, count):
        number, raw = lines[i]
        if _blank(raw):
            flush_action()
            in_dialogue = False
            continue
        stripped = raw.strip()
        prev_blank = i == start or _blank(lines[i - 1][1])
        next_blank = i + 1 >= count or _blank(lines[i + 1][1])

        if _is_page_break(stripped):
            flush_action()
            in_dialogue = False
            script.dropped["page breaks"] += 1
            continue
        if in_dialogue:
            if stripped.startswith("(") and stripped.endswith(")"):
                emit(Element("parenthetical", plain(stripped[1:-1].strip()), number))
            elif stripped.startswith("~"):
                emit(Element("lyrics", plain(stripped[1:].strip()), number))
            else:
                emit(Element("dialogue", plain(raw.strip() if raw != "  " else ""), number))
            continue
        if stripped.startswith("#"):
            flush_action()
            script.dropped["sections"] += 1
            continue
        if stripped.startswith("=") and not stripped.startswith("=="):
            flush_action()
            script.dropped["synopses"] += 1
            continue
        if stripped.startswith(">") and stripped.endswith("<") and len(stripped) > 1:
            flush_action()
            emit(Element("centered", plain(stripped[1:-1].strip()), number))
            continue
        if stripped.startswith(">"):
            flush_action()
            emit(Element("transition", plain(stripped[1:].strip()), number, forced=True))
            continue
        if stripped.startswith("~"):
            flush_action()
            emit(Element("lyrics", plain(stripped[1:].strip()), number))
            continue
        if stripped.startswith("!"):
            if not action:
                action_line = number
            action.append(raw.replace("!", "", 1))
            continue
        if action:  # the paragraph goes on: only the forced elements above interrupt it
            action.append(raw)
            continue
        if prev_blank and _forced_heading(stripped):
            emit(_heading(stripped[1:], number, forced=True))
            continue
        if prev_blank and _HEADING.match(stripped):
            emit(_heading(stripped, number, forced=False))
            continue
        if prev_blank and next_blank and stripped == stripped.upper() and stripped.endswith("TO:"):
            emit(Element("transition", plain(stripped), number))
            continue
        cue = _cue(stripped) if prev_blank and not next_blank else None
        if cue is not None:
            name, extensions, dual, forced = cue
            emit(
                Element("character", plain(stripped), number, plain(name), extensions, dual, forced)
            )
            in_dialogue = True
            continue
        action_line = number
        action.append(raw)
    flush_action()
    return script


def _forced_heading(stripped: str) -> bool:
    return (
        len(stripped) > 1 and stripped[0] == "." and (stripped[1].isalnum() or stripped[1] in "'\"")
    )


def _heading(text: str, line: int, *, forced: bool) -> Element:
    number = None
    found = _SCENE_NUMBER.search(text)
    if found:
        number = found.group(1)
        text = text[: found.start()]
    return Element("scene_heading", plain(text.strip()), line, forced=forced, scene_number=number)


def _title_page(lines: list[tuple[int, str]], script: Script) -> int:
    """Read the title page, if the script starts with one; return the index of the body's first
    line. Values may follow the key or sit on the indented lines below it."""
    i = 0
    while i < len(lines) and _blank(lines[i][1]):
        i += 1
    first = _TITLE_KEY.match(lines[i][1]) if i < len(lines) else None
    if first is None or first.group(1).strip().lower() not in TITLE_KEYS:
        return 0
    key = ""
    values: dict[str, list[str]] = {}
    while i < len(lines) and not _blank(lines[i][1]):
        number, raw = lines[i]
        found = _TITLE_KEY.match(raw)
        if found and not raw.startswith((" ", "\t")):
            key = found.group(1).strip().lower()
            values.setdefault(key, [])
            script.title_lines.setdefault(key, number)
            if found.group(2).strip():
                values[key].append(found.group(2).strip())
        elif key:
            values[key].append(raw.strip())
        i += 1
    script.title_page = {k: plain("\n".join(v)) for k, v in values.items()}
    return i
