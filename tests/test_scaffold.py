"""``ministudio new-plugin``: the package it makes installs, is discovered, and passes its own
conformance tests before any change; bad names and folders in the way are refused."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from .conftest import ROOT, run_cli


def test_a_new_plugin_installs_and_passes_its_own_tests(tmp_path: Path) -> None:
    made = run_cli("new-plugin", "acme-video", "--dir", str(tmp_path / "work"))
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "work" / "ministudio-acme-video"
    assert str(folder) in made.stdout and 'pip install -e ".[test]"' in made.stdout
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "README.md",
        "pyproject.toml",
        "src/ministudio_acme_video/__init__.py",
        "tests/test_conformance.py",
    ]

    # installed as a user would (its wheel unpacked), it is found through its entry point
    from hatchling.builders.wheel import WheelBuilder

    wheel = next(iter(WheelBuilder(str(folder)).build(directory=str(tmp_path / "dist"))))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "site")
    found = run_cli("plugins", "--json", sites=[tmp_path / "site"])
    assert found.returncode == 0, found.stderr
    plugin = {p["name"]: p for p in json.loads(found.stdout)}["acme-video"]
    assert plugin["distribution"] == "ministudio-acme-video" and plugin["error"] is None
    assert plugin["engines"] == ["acme-video"]

    # its own tests, run in its folder as its author would: the kit passes, key tests too
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINISTUDIO_", "PYTEST_"))}
    env["MINISTUDIO_KEYS_FILE"] = str(tmp_path / "keys.json")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed and int(passed.group(1)) >= 10, done.stdout[-2000:]
    for test in (
        "test_renders_a_real_film_end_to_end",
        "test_a_missing_key_names_the_variable_to_set",
        "test_the_key_never_appears",
        "test_seeds_are_recorded_and_stable",
    ):
        assert re.search(rf"::{test} PASSED", done.stdout), f"{test} did not pass"


def test_a_bad_name_or_a_folder_in_the_way_is_refused(tmp_path: Path) -> None:
    for name, says in (
        ("Acme_Video", "lowercase letters and digits"),
        ("luma", "MiniStudio's own (in ministudio-provider-luma)"),
        ("animatic", "MiniStudio's own (in ministudio-core)"),
        ("animatic-stills", "MiniStudio's own (in ministudio-core)"),
    ):
        refused = run_cli("new-plugin", name, "--dir", str(tmp_path))
        assert refused.returncode == 2 and says in refused.stderr, refused.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was written
    (tmp_path / "ministudio-acme").mkdir()
    again = run_cli("new-plugin", "acme", "--dir", str(tmp_path))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert list((tmp_path / "ministudio-acme").iterdir()) == []


def test_the_templates_ship_in_core_wheel() -> None:
    """The plugin templates are package data of ministudio-core's wheel."""
    from hatchling.builders.wheel import WheelBuilder

    builder = WheelBuilder(str(ROOT / "ministudio-core"))
    shipped = {Path(f.distribution_path).as_posix() for f in builder.recurse_included_files()}
    templates = ROOT / "ministudio-core" / "src" / "ministudio" / "plugins" / "templates" / "plugin"
    assert templates.is_dir()
    for template in templates.iterdir():
        assert f"ministudio/plugins/templates/plugin/{template.name}" in shipped


def test_the_kit_without_pytest_says_what_to_install() -> None:
    """ministudio.testing imports pytest, which the core does not depend on."""
    probe = (
        "import sys\nsys.modules['pytest'] = None  # as if not installed\n"
        "try:\n    import ministudio.testing\nexcept ModuleNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert 'pip install "ministudio-core[testing]"' in done.stdout, done.stdout + done.stderr
