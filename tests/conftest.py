"""Shared fixtures: a private content store, small productions, and built plugin distributions."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
# A small valid production file (YAML): one character, one place, one voiced shot.
GOOD = """\
title: Test
characters:
  bob: {name: Bob, dna: a man in a blue coat}
environments:
  room: {description: a small room}
scenes:
  - id: one
    environment: room
    shots:
      - action: Bob waves
        dialogue:
          - {speaker: bob, text: hello}
"""


@pytest.fixture(autouse=True)
def keys_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own key store (empty until a test stores a key): a developer's stored
    keys never leak into the suite. Renders given an explicit ``env`` dict use it too."""
    path = tmp_path / "config" / "keys.json"
    monkeypatch.setenv("MINISTUDIO_KEYS_FILE", str(path))
    return path


@pytest.fixture
def store(tmp_path: Path):
    from ministudio.run.store import ContentStore

    return ContentStore(tmp_path / "store")


def tiny_production(**overrides):
    """A two-shot 16:9 production at 480p: quick to render."""
    from ministudio.spec import Production

    data = {
        "title": "Tiny",
        "format": {"aspect_ratio": "16:9", "resolution": "480p", "fps": 24},
        "characters": {
            "ann": {"name": "Ann", "dna": "a woman, red coat, black hair"},
            "bo": {
                "name": "Bo",
                "dna": "a boy, about 10, yellow T-shirt, jeans",
                "voice": {"pitch": 80, "rate": 190},
            },
        },
        "environments": {"park": {"description": "a green park with trees", "lighting": "day"}},
        "scenes": [
            {
                "id": "one",
                "environment": "park",
                "shots": [
                    {
                        "id": "hello",
                        "action": "Ann waves",
                        "size": "wide",
                        "camera": "pan-right",
                        "characters": ["ann", "bo"],
                        "dialogue": [
                            {"speaker": "ann", "text": "Hello there.", "emotion": "happy"}
                        ],
                    },
                    {
                        "id": "reply",
                        "action": "Bo answers",
                        "size": "close-up",
                        "dialogue": [{"speaker": "bo", "text": "Hi Ann!"}],
                    },
                ],
            }
        ],
    }
    data.update(overrides)
    return Production.model_validate(data)


def build_plugin(name: str, target: Path) -> Path:
    """Build the test plugin distribution ``tests/plugins/<name>`` into a wheel and install it
    (unpack it, as an installer does for a pure-Python wheel) into ``target``."""
    from hatchling.builders.wheel import WheelBuilder

    builder = WheelBuilder(str(ROOT / "tests" / "plugins" / name))
    wheels = list(builder.build(directory=str(target / "dist"), versions=["standard"]))
    with zipfile.ZipFile(wheels[0]) as wheel:
        wheel.extractall(target / "site")
    return target / "site"


@pytest.fixture(scope="session")
def plugin_sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each test plugin built and installed into its own folder (add it to PYTHONPATH)."""
    base = tmp_path_factory.mktemp("plugins")
    return {name: build_plugin(name, base / name) for name in ("solid", "broken", "dupe", "sim")}


def run_cli(
    *args: str, sites: list[Path] = (), env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``ministudio ARGS`` in a fresh interpreter, with extra site folders on its path."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MINISTUDIO_") or k == "MINISTUDIO_KEYS_FILE"  # the test's own store
    }
    full_env["PYTHONPATH"] = os.pathsep.join(str(s) for s in sites)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "ministudio", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=300,
    )


SHOWCASE_NAMES = ("quantum-mechanics", "contextbytes", "last-algorithm")
# Parametrize a test over the showcase films with this; ``showcase`` renders each film once
# per test process. (The xdist_group marks group them under ``--dist loadgroup`` once
# pytest-xdist's grouping works with pytest 9 again: pytest-xdist #1386.)
SHOWCASES = [
    pytest.param(n, marks=pytest.mark.xdist_group(f"showcase-{n}")) for n in SHOWCASE_NAMES
]


@dataclass(frozen=True)
class Showcase:
    """A showcase film rendered keyless: read it, never change it (copy ``out`` first)."""

    name: str
    production: Any  # ministudio.spec.Production
    out: Path  # film.mp4, manifest.json, ...
    store: Any  # ministudio.run.store.ContentStore: every job's output, for cached renders
    manifest: Any  # ministudio.run.manifest.Manifest


@pytest.fixture(scope="session")
def showcase(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Showcase]:
    """``showcase(name)``: that showcase film, rendered on the embedded engines the first
    time a test in this process asks for it."""
    from ministudio.run.render import render
    from ministudio.run.store import ContentStore
    from ministudio.spec.loading import load_production

    made: dict[str, Showcase] = {}

    def get(name: str) -> Showcase:
        if name not in made:
            base = tmp_path_factory.mktemp(f"showcase-{name}")
            production = load_production(EXAMPLES / f"{name}.yaml")
            store = ContentStore(base / "store")
            manifest = render(production, base / "out", store=store)
            made[name] = Showcase(name, production, base / "out", store, manifest)
        return made[name]

    return get
