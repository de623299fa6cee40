"""The README's plugin guide ("Writing a plugin") stays true to the code: every hook with its
arguments and their types, every field of the types plugins get and return, the kit's
settings with their defaults, the code shown from the examples, and every CLI command."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from typing import Any

import pytest
from ministudio import engines, jobs
from ministudio.plugins import hookspecs
from ministudio.testing import (
    LipSyncEngineConformance,
    SpeechEngineConformance,
    VideoEngineConformance,
)

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text from ``heading`` (a whole line) up to the next heading of its level or above
    (outside code blocks, where ``#`` starts a comment)."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.rstrip("\n") == heading)
    fenced = False
    for end in range(start + 1, len(lines)):
        fenced ^= lines[end].startswith("```")
        hashes = len(lines[end]) - len(lines[end].lstrip("#"))
        if not fenced and 0 < hashes <= level and lines[end][hashes : hashes + 1] == " ":
            return "".join(lines[start:end])
    return "".join(lines[start:])


GUIDE = section(README, "## Writing a plugin")
HOOKS = section(GUIDE, "### The hooks")


def normal(annotation: str) -> str:
    """An annotation as the README writes it in a table cell or a bullet."""
    return re.sub(r"\s+", " ", annotation.replace("\\|", "|").replace('"', "'")).strip()


def hook_specs() -> dict[str, Callable[..., Any]]:
    return {n: f for n, f in vars(hookspecs).items() if hasattr(f, "ministudio_spec")}


def hook_docs() -> dict[str, tuple[list[str], str]]:
    """Each hook documented under "The hooks": (its arguments as headed, its subsection)."""
    found: dict[str, tuple[list[str], str]] = {}
    parts = re.split(r"^#### ", HOOKS, flags=re.M)[1:]
    for part in parts:
        head, _, body = part.partition("\n")
        match = re.fullmatch(r"`(\w+)\((.*)\)`", head.strip())
        assert match, f"a hook heading must read `name(arguments)`: {head!r}"
        arguments = [a.strip() for a in match.group(2).split(",") if a.strip()]
        found[match.group(1)] = (arguments, body.split("\nMore rules:")[0])
    return found


def bullets(body: str) -> list[str]:
    """The bullets of a subsection, each joined onto one line."""
    items = re.split(r"^- ", body, flags=re.M)[1:]
    return [" ".join(item.split()) for item in items]


@pytest.mark.parametrize("hook", sorted(hook_specs()))
def test_every_hook_is_documented_with_its_arguments_and_types(hook: str) -> None:
    spec = hook_specs()[hook]
    docs = hook_docs()
    assert hook in docs, f"hook {hook} has no '#### `{hook}(...)`' subsection in the README"
    arguments, body = docs[hook]
    parameters = list(inspect.signature(spec).parameters)
    assert arguments == parameters, f"{hook}: the README heads it {arguments}"
    items = bullets(body)
    for name in parameters:
        documented = [b for b in items if b.startswith(f"`{name}` (")]
        assert documented, f"{hook}: no bullet '- `{name}` (`type`): ...'"
        typed = re.match(r"`\w+` \(`([^`]+)`\)", documented[0])
        assert typed, f"{hook}: {name}'s type is not given as (`type`)"
        assert normal(typed.group(1)) == normal(spec.__annotations__[name]), (hook, name)
    returns = [b for b in items if b.startswith("Returns:")]
    assert returns, f"{hook}: no '- Returns: ...' bullet"
    wanted = set(re.findall(r"[A-Za-z_]\w*", spec.__annotations__["return"]))
    for name in wanted - {"Awaitable", "None", "Any"}:
        assert re.search(rf"\b{name}\b", returns[0]), f"{hook} returns {name}: not in the README"
    assert any(b.startswith("The core:") for b in items), f"{hook}: no '- The core: ...' bullet"
    assert re.search(rf"^\| `{hook}` \|", HOOKS, re.M), f"{hook} is not in the hooks table"


def test_no_hook_is_documented_that_does_not_exist() -> None:
    assert set(hook_docs()) == set(hook_specs())


def table(text: str, first_header: str) -> list[list[str]]:
    """The rows (cells, stripped) of the table whose first header cell is ``first_header``,
    header row included."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cells = _cells(line)
        if cells and cells[0] == first_header:
            rows = [cells]
            for row in lines[i + 2 :]:  # past the --- line
                if not row.lstrip().startswith("|"):
                    break
                rows.append(_cells(row))
            return rows
    raise AssertionError(f"no table headed {first_header!r} in the README's plugin guide")


def _cells(line: str) -> list[str]:
    line = line.strip()
    if not line.startswith("|"):
        return []
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip("|"))]


TYPES: list[type] = [
    jobs.VideoRequest,
    jobs.ShotPrompt,
    jobs.CharacterBrief,
    jobs.EnvironmentBrief,
    jobs.LineBrief,
    jobs.PreviousClip,
    jobs.EditRequest,
    jobs.VideoResult,
    jobs.SpeechRequest,
    jobs.Voice,
    jobs.SpeechResult,
    jobs.QCVerdict,
    jobs.Submission,
    jobs.JobStatus,
    jobs.HostedAsset,
    engines.Capabilities,
    engines.EngineSpec,
    engines.EngineContext,
    engines.Judging,
]


@pytest.mark.parametrize("kind", TYPES, ids=lambda k: k.__name__)
def test_every_field_of_the_types_plugins_see_is_documented(kind: type) -> None:
    """Each type a hook gets or returns has a table of all its fields (with their types,
    where the table has a type column), and no field that is gone."""
    if dataclasses.is_dataclass(kind):
        fields = [f.name for f in dataclasses.fields(kind)]
    else:
        fields = list(kind.model_fields)  # type: ignore[attr-defined]
    rows = table(GUIDE, f"`{kind.__name__}` field")
    typed = len(rows[0]) > 1 and rows[0][1] == "type"
    documented: list[str] = []
    for row in rows[1:]:
        names = re.findall(r"`(\w+)`", row[0])
        documented += names
        if typed and len(names) == 1:
            assert names[0] in fields, f"{kind.__name__} has no field {names[0]}"
            assert normal(row[1].strip("`")) == normal(kind.__annotations__[names[0]]), (
                f"{kind.__name__}.{names[0]}: the README says {row[1]}"
            )
    assert sorted(documented) == sorted(fields), f"{kind.__name__}: fields {fields}"


@pytest.mark.parametrize(
    "kit", [VideoEngineConformance, SpeechEngineConformance, LipSyncEngineConformance]
)
def test_the_kits_settings_are_documented_with_their_defaults(kit: type) -> None:
    settings = {
        name: value
        for cls in reversed(kit.__mro__)
        for name, value in vars(cls).items()
        if not name.startswith("_") and not callable(value) and not isinstance(value, property)
    }
    rows = table(GUIDE, f"`{kit.__name__}` attribute")
    documented = {row[0].strip("`"): row[1].strip("`") for row in rows[1:]}
    assert sorted(documented) == sorted(settings)
    for name, value in settings.items():
        assert documented[name] == repr(value), f"{kit.__name__}.{name} is {value!r}"


def test_the_cores_default_voice_is_said() -> None:
    rows = {row[0]: row for row in table(GUIDE, "`Voice` field")[1:]}
    assert f'"{jobs.Voice().voice}"' in rows["`voice`"][2]


def test_code_shown_from_the_examples_is_in_them() -> None:
    """A code block whose first line names a file of examples/plugins shows lines of that
    file, in order (``...`` marks what is left out)."""
    blocks = re.findall(r"^```\w*\n(.*?)^```", GUIDE, flags=re.M | re.S)
    shown = 0
    for block in blocks:
        lines = block.splitlines()
        named = re.fullmatch(r"# (examples/plugins/\S+)( \(excerpt\))?", lines[0])
        if not named:
            continue
        shown += 1
        source = (ROOT / named.group(1)).read_text(encoding="utf-8").splitlines()
        at = 0
        for line in lines[1:]:
            if not line.strip() or line.strip() == "...":
                continue
            assert line in source[at:], f"{named.group(1)}: not (or not in order): {line!r}"
            at = source.index(line, at) + 1
    assert shown >= 6


def test_every_example_is_in_the_guide() -> None:
    for folder in sorted((ROOT / "examples" / "plugins").iterdir()):
        if folder.is_dir():
            assert f"(examples/plugins/{folder.name})" in GUIDE, folder.name


def test_every_command_is_in_the_cli_table() -> None:
    from ministudio.cli import cli

    listed = section(README, "## The CLI")
    for name in cli.commands:  # type: ignore[attr-defined]
        assert re.search(rf"^\| `ministudio {name}[ `\\]", listed, re.M), name
