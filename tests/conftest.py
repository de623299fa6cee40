"""Shared fixtures: a private content store, small productions, and built plugin distributions."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
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


@pytest.fixture(scope="session", autouse=True)
def child_bytecode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One bytecode cache (``PYTHONPYCACHEPREFIX``) for every Python process the suite starts
    with this environment (``run_cli``, renders killed in a subprocess, Ray's processes):
    where PYTHONDONTWRITEBYTECODE is set and the venv holds no .pyc, each fresh interpreter
    would compile ministudio and its dependencies anew (1-3 s each). Shared by the xdist
    workers of a session (their temp dirs' parent); the source tree and the venv stay clean.
    This process keeps its own setting (both are read at an interpreter's start)."""
    base = tmp_path_factory.getbasetemp()
    cache = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "pycache"
    cache.mkdir(exist_ok=True)
    saved = {k: os.environ.get(k) for k in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(cache)
    yield cache
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


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
    time a test of the session asks for it. The xdist workers of a session share it (their
    temp dirs' parent): the first to ask renders it under a file lock, the others wait for
    it and read its manifest."""
    import fcntl

    from ministudio.run.manifest import Manifest
    from ministudio.run.render import render
    from ministudio.run.store import ContentStore
    from ministudio.spec.loading import load_production

    temp = tmp_path_factory.getbasetemp()
    shared = temp.parent if os.environ.get("PYTEST_XDIST_WORKER") else temp
    made: dict[str, Showcase] = {}

    def get(name: str) -> Showcase:
        if name not in made:
            base = shared / f"showcase-{name}"
            with (shared / f"showcase-{name}.lock").open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
                production = load_production(EXAMPLES / f"{name}.yaml")
                store = ContentStore(base / "store")
                if (base / "rendered").is_file():  # by another worker
                    manifest = Manifest.of_folder(base / "out")
                else:
                    manifest = render(production, base / "out", store=store)
                    (base / "rendered").touch()
            made[name] = Showcase(name, production, base / "out", store, manifest)
        return made[name]

    return get
