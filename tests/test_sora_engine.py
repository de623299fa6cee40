"""The Sora engines, retired (OpenAI shut its Videos API down on 2026-09-24): still
installed, listed as retired, and refused with the reason and the date before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ministudio.errors import UnknownEngineError
from ministudio.plan.shots import plan_shots
from ministudio.plugins import PluginHost
from ministudio.spec import Production

from .conftest import run_cli, tiny_production


@pytest.mark.parametrize("engine", ["sora", "sora-remix"])
def test_validate_refuses_sora_with_the_reason_and_the_date(tmp_path: Path, engine: str) -> None:
    film = tiny_production(routing={"video": engine}).model_dump(mode="json")
    path = tmp_path / "film.json"
    path.write_text(json.dumps(film))
    done = run_cli("validate", str(path))
    assert done.returncode == 2, done.stdout + done.stderr
    said = " ".join(done.stderr.split())
    assert f"routing.video: engine '{engine}': model 'sora-2' was retired on 2026-09-24" in said
    assert "OpenAI shut its Videos (Sora) API down" in said
    assert "route the shots to another engine" in said


def test_render_refuses_sora_before_any_work() -> None:
    production: Production = tiny_production(routing={"shots": {"reply": "sora"}})
    with pytest.raises(UnknownEngineError, match="retired on 2026-09-24"):
        plan_shots(production, PluginHost())


def test_plugins_lists_sora_as_retired() -> None:
    listed = run_cli("plugins", "--models").stdout
    assert "engine sora (video)  [retired]" in listed and "engine veo (video)  [retired]" in listed
    assert "model sora-2  [retired (default), off since 2026-09-24" in listed
