"""`ministudio plan` on the showcase films routed to Kling: each shot's model, mode, length and
price, with the mode each shot's inputs need (issue 14). Nothing is sent: plan renders no
video, so no fake is needed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from ministudio.cli import cli

ROOT = Path(__file__).resolve().parents[1]
FILMS = ("quantum-mechanics", "last-algorithm", "contextbytes")
# USD per second (kling units at $0.14, docs/providers/kling.md §1.3): silent clips.
RATE = {("kling-v3", "std"): 0.084, ("kling-v3", "pro"): 0.112, ("kling-v1-6", "pro"): 0.098}
ROW = re.compile(r"^(\S+)\s+kling\s+(\S+) (std|pro)\s+([\d.]+) s\s+(\d+) s\s.*\$([\d.]+)")


def routed_to_kling(name: str, tmp: Path, **changes: Any) -> Path:
    """The showcase film with every shot (and plate) on Kling; ``changes`` on top."""
    film = yaml.safe_load((ROOT / "examples" / f"{name}.yaml").read_text(encoding="utf-8"))
    routing = film.setdefault("routing", {})
    routing.update({"video": "kling", "shots": {}, "fallbacks": {}, "options": {}})
    routing.pop("plate", None)
    for key, value in changes.items():
        film[key] = {**film.get(key, {}), **value} if isinstance(value, dict) else value
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(film), encoding="utf-8")
    return path


def plan(path: Path, store: Path) -> dict[str, tuple[str, str, float, float]]:
    """shot -> (model, mode, seconds asked, cost), read from the plan's table."""
    result = CliRunner().invoke(
        cli,
        ["plan", str(path), "-o", str(path.parent / "out"), "--store", str(store)],
        env={"COLUMNS": "240"},
    )
    assert result.exit_code == 0, result.output
    rows = {}
    for line in result.output.splitlines():
        found = ROW.match(line.strip("│ ").replace("│", " "))
        if found:
            shot, model, mode, _, asks, cost = found.groups()
            rows[shot] = (model, mode, float(asks), float(cost))
    return rows


@pytest.mark.parametrize("name", FILMS)
def test_each_showcase_shot_shows_its_model_mode_length_and_price(
    name: str, tmp_path: Path
) -> None:
    rows = plan(routed_to_kling(name, tmp_path), tmp_path / "store")
    shots = yaml.safe_load((ROOT / "examples" / f"{name}.yaml").read_text(encoding="utf-8"))
    assert len(rows) == sum(len(scene["shots"]) for scene in shots["scenes"])
    for shot, (model, mode, asks, cost) in rows.items():
        assert (model, mode) == ("kling-v3", "std"), shot
        assert asks == int(asks) and 3 <= asks <= 15, shot  # whole seconds, as Kling takes
        assert cost == pytest.approx(RATE[model, mode] * asks, abs=0.006), shot


def test_a_1080p_film_is_planned_and_priced_in_pro(tmp_path: Path) -> None:
    path = routed_to_kling("contextbytes", tmp_path, format={"resolution": "1080p"})
    for shot, (model, mode, asks, cost) in plan(path, tmp_path / "store").items():
        assert (model, mode) == ("kling-v3", "pro"), shot
        assert cost == pytest.approx(RATE[model, mode] * asks, abs=0.006), shot


def test_a_shot_whose_end_frame_needs_pro_is_priced_as_pro(tmp_path: Path) -> None:
    """On kling-v1-6 only pro takes an end frame: the shot that has one goes to pro."""
    film = yaml.safe_load((ROOT / "examples" / "last-algorithm.yaml").read_text("utf-8"))
    end = tmp_path / "end.png"
    from PIL import Image

    Image.new("RGB", (640, 360), (20, 40, 90)).save(end)
    shots = [shot for scene in film["scenes"] for shot in scene["shots"]]
    with_end = next(s for s in shots if s.get("continuity") == "continue")
    with_end["end_frame"] = str(end)
    for shot in shots:  # kling-v1-6 renders 5 or 10 s clips
        shot["duration"] = 5
    path = routed_to_kling("last-algorithm", tmp_path, scenes=film["scenes"])
    data = yaml.safe_load(path.read_text("utf-8"))
    data["routing"]["options"] = {"kling": {"model": "kling-v1-6"}}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    rows = plan(path, tmp_path / "store")
    model, mode, asks, cost = rows[with_end["id"]]
    assert (model, mode, asks) == ("kling-v1-6", "pro", 5.0)
    assert cost == pytest.approx(RATE[model, mode] * asks, abs=0.006)
    assert {m for shot, (_, m, _, _) in rows.items() if shot != with_end["id"]} == {"std"}
