"""The example plugins in examples/plugins/, as a user gets them: each built into a wheel and
installed (unpacked into a folder of its own), then its own tests run with pytest in a fresh
interpreter against the installed copy, and the installed plugins used by the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT, run_cli

EXAMPLES = ROOT / "examples" / "plugins"
# folder -> (distribution, plugin id, its engines)
PLUGINS = {
    "video-engine": ("ministudio-example-orbit", "orbit", ["orbit"]),
    "speech-engine": ("ministudio-example-hum", "hum", ["hum"]),
    "remote-engine": ("ministudio-example-relay", "relay", ["relay"]),
    "check": ("ministudio-example-letterbox", "letterbox", []),
}


def install(folder: Path, target: Path) -> Path:
    """Build the example's wheel and install it (unpack it, as an installer does for a
    pure-Python wheel) into ``target/site``."""
    from hatchling.builders.wheel import WheelBuilder

    builder = WheelBuilder(str(folder))
    wheels = list(builder.build(directory=str(target / "dist"), versions=["standard"]))
    with zipfile.ZipFile(wheels[0]) as wheel:
        wheel.extractall(target / "site")
    return target / "site"


@pytest.fixture(scope="session")
def pycache(child_bytecode: Path) -> Path:
    """One bytecode cache for the examples' pytest runs (the suite's: ``conftest.child_bytecode``):
    where PYTHONDONTWRITEBYTECODE is set (and the venv holds no .pyc) each fresh interpreter
    would compile pytest, ministudio and their dependencies again; the cache keeps the source
    and the installed copies clean."""
    return child_bytecode


@pytest.fixture(scope="session")
def example_sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("examples")
    return {name: install(EXAMPLES / name, base / name) for name in PLUGINS}


def test_every_example_is_tested_here() -> None:
    assert sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()) == sorted(PLUGINS)


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_an_example_passes_its_own_tests_installed(
    name: str, example_sites: dict[str, Path], pycache: Path, tmp_path: Path
) -> None:
    """The example's tests/ (the conformance kit for the engines) pass against the wheel."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINISTUDIO_", "PYTEST_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env["PYTHONPATH"] = str(example_sites[name])  # the installed copy, not the source
    env["MINISTUDIO_KEYS_FILE"] = str(tmp_path / "keys.json")  # no stored key leaks in
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rs",
            str(EXAMPLES / name / "tests"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and " failed" not in done.stdout, done.stdout[-2000:]


def test_installed_examples_are_discovered_with_their_engines(
    example_sites: dict[str, Path],
) -> None:
    result = run_cli("plugins", "--json", sites=list(example_sites.values()))
    assert result.returncode == 0, result.stderr
    found = {p["name"]: p for p in json.loads(result.stdout)}
    for distribution, plugin, engines in PLUGINS.values():
        assert found[plugin]["distribution"] == distribution, found[plugin]
        assert found[plugin]["engines"] == engines and found[plugin]["error"] is None
    assert set(found["relay"]["hooks"]) >= {
        "submit_video",
        "poll_video",
        "download_video",
        "find_video_job",
        "parse_webhook",
        "upload_asset",
        "prompt_map",
        "estimate_cost",
    }
    assert found["letterbox"]["hooks"] == ["qc_check"]
    voices = run_cli("voices", "hum", sites=[example_sites["speech-engine"]])
    assert voices.returncode == 0 and all(v in voices.stdout for v in ("alto", "tenor")), voices


FILM = """\
title: Examples
format: {aspect_ratio: "16:9", resolution: 360p, fps: 24}
characters:
  ann: {name: Ann, dna: a woman in a red coat, voice: {voice: soprano}}
environments:
  park: {description: a park, palette: ["#4f7f45"]}
scenes:
  - id: one
    environment: park
    shots:
      - action: Ann waves
        camera: pan-right
        dialogue: [{speaker: ann, text: Good morning., emotion: happy}]
      - action: Ann sits down
        size: close-up
        characters: [ann]
        duration: 1.5
routing: {video: orbit, speech: hum}
"""


def test_the_installed_examples_make_a_film_with_the_check_in_it(
    example_sites: dict[str, Path], tmp_path: Path
) -> None:
    """`ministudio render` with orbit, hum and letterbox installed: every shot on orbit, the
    line spoken by hum, and letterbox's verdict (passing) beside the built-in ones."""
    (tmp_path / "film.yaml").write_text(FILM)
    out = tmp_path / "out"
    sites = [example_sites[n] for n in ("video-engine", "speech-engine", "check")]
    result = run_cli(
        "render",
        "film.yaml",
        "-o",
        str(out),
        "--store",
        str(tmp_path / "store"),
        "-q",
        sites=sites,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["engine"] for s in manifest["shots"]] == ["orbit", "orbit"]
    assert [line["engine"] for line in manifest["shots"][0]["lines"]] == ["hum"]
    for shot in manifest["shots"]:
        verdicts = {v["check"]: v for v in shot["qc"]}
        assert verdicts["letterbox"]["passed"], verdicts["letterbox"]
        assert {"duration", "frozen", "environment"} <= set(verdicts)
        assert all(v["passed"] for v in shot["qc"]), shot["qc"]
