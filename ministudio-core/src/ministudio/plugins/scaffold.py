"""``ministudio new-plugin NAME``: a plugin package to start from.

The package declares and implements one video engine (a stand-in renderer), with the entry
point registered and a test running the conformance kit, so ``python -m pytest`` passes
before any change. The files come from ``ministudio/plugins/templates/plugin`` (package data).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from ministudio import __version__
from ministudio.errors import MinistudioError

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
# template -> where it goes in the package (``{{module}}`` stands for the module's name)
_FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "module.py.tmpl": "src/{{module}}/__init__.py",
    "test_conformance.py.tmpl": "tests/test_conformance.py",
}


def _built_in() -> set[str]:
    """The engines ministudio-core itself declares (its embedded plugins)."""
    from ministudio.engines.animatic import plugin as animatic
    from ministudio.engines.espeak import plugin as espeak

    return {spec.id for module in (animatic, espeak) for spec in module.ministudio_engines()}


class ScaffoldError(MinistudioError):
    """The plugin package cannot be made as asked (a bad name, a folder in the way)."""

    exit_code = 2


def names(name: str) -> dict[str, str]:
    """What the templates say for engine ``name``: its distribution, module, test class and
    key variable; a ``ScaffoldError`` saying what to use if the name cannot be an engine id
    and a module both."""
    from ministudio.plugins import FIRST_PARTY

    if not _NAME.match(name):
        raise ScaffoldError(
            f"plugin name {name!r}: use lowercase letters and digits, words joined by single "
            "'-', starting with a letter (it is the engine id, and names the module)"
        )
    if name in FIRST_PARTY or name in _built_in():
        owner = FIRST_PARTY.get(name, "ministudio-core")
        raise ScaffoldError(
            f"engine id {name!r} is MiniStudio's own (in {owner}): choose another name"
        )
    words = name.split("-")
    return {
        "name": name,
        "distribution": f"ministudio-{name}",
        "module": "ministudio_" + "_".join(words),
        "cls": "".join(word.capitalize() for word in words),
        "key": "_".join(words).upper() + "_API_KEY",
        "core": ".".join(__version__.split(".")[:2]),
    }


def new_plugin(name: str, directory: Path) -> Path:
    """Write the package for engine ``name`` into ``directory/ministudio-<name>`` and return
    that folder; nothing is written if it already exists."""
    values = names(name)
    target = Path(directory) / values["distribution"]
    if target.exists():
        raise ScaffoldError(f"{target} already exists: remove it, or choose another --dir")
    target.parent.mkdir(parents=True, exist_ok=True)
    templates = resources.files("ministudio.plugins") / "templates" / "plugin"
    staging = Path(tempfile.mkdtemp(prefix=".new-plugin-", dir=target.parent))
    try:
        for template, destination in _FILES.items():
            text = _fill(templates.joinpath(template).read_text(encoding="utf-8"), values)
            path = staging / _fill(destination, values)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        staging.rename(target)  # all of it appears at once, or none of it
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    left = re.search(r"\{\{\w+\}\}", text)
    if left:  # a template names a value we do not have: a bug here, not the user's
        raise AssertionError(f"unfilled placeholder {left.group()} in a plugin template")
    return text
