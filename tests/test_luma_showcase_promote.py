"""Issue 20's film: "The Last Algorithm" renders as a keyless previz, then every shot is
promoted through Luma Ray 3.2 (the loopback fake) with depth and pose controls; editing one
line promotes that shot alone again. Through the CLI, as a user runs it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from ministudio.cli import cli
from ministudio.media.probe import probe
from ministudio.run.manifest import Manifest

from tests.fakes.luma_agents_server import LumaAgentsServer

ROOT = Path(__file__).resolve().parents[1]
CONTROLS = {"depth": {"enabled": True}, "pose": {"enabled": True}}


@pytest.fixture
def luma(monkeypatch: pytest.MonkeyPatch) -> Iterator[LumaAgentsServer]:
    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")  # the first poll comes at ~0.14 s
    with LumaAgentsServer(latency=0.05, render_scale=0.5, fps=12) as server:
        yield server


def production(folder: Path, edit: str | None = None) -> Path:
    """The showcase film at 360p and 12 fps, each shot as long as its lines (quick), routed
    to Luma with the previz on."""
    film = yaml.safe_load((ROOT / "examples" / "last-algorithm.yaml").read_text("utf-8"))
    film["format"] = {"aspect_ratio": "16:9", "resolution": "360p", "fps": 12}
    for scene in film["scenes"]:  # each shot as long as its line (the film's 8 s are a hold)
        for shot in scene["shots"]:
            shot["duration"] = "audio"
    film["routing"] = {
        "video": "luma",
        "previz": "animatic",
        "options": {"luma": {"promote": {"strength": "reimagine_1", "controls": CONTROLS}}},
    }
    if edit is not None:
        film["scenes"][0]["shots"][5]["dialogue"][0]["text"] = edit  # "relief"
    path = folder / "last-algorithm.yaml"
    path.write_text(yaml.safe_dump(film, sort_keys=False), encoding="utf-8")
    return path


def test_the_last_algorithm_goes_from_previz_to_final_through_luma(
    tmp_path: Path, luma: LumaAgentsServer
) -> None:
    env = {"LUMA_BASE_URL": luma.api_url, "LUMA_AGENTS_API_KEY": luma.api_key}
    runner, out, store = CliRunner(), tmp_path / "out", str(tmp_path / "store")
    film = production(tmp_path)

    sketch = runner.invoke(
        cli, ["render", str(film), "--previz", "-o", str(out), "--store", store], env=env
    )
    assert sketch.exit_code == 0, sketch.output
    previz = Manifest.of_folder(out)
    assert previz.previz and {s.engine for s in previz.shots} == {"animatic"}
    assert not luma.create_bodies, "the previz is keyless: nothing was sent to Luma"

    promoted = runner.invoke(cli, ["promote", str(out), "--store", store], env=env)
    assert promoted.exit_code == 0, promoted.output
    final = Manifest.of_folder(out)
    assert not final.previz and len(final.shots) == 8
    bodies = luma.create_bodies
    assert len(bodies) == 8 and all(b["type"] == "video_edit" for b in bodies)
    for body in bodies:  # the previz clip (the pass luma declares) and the controls asked
        assert set(body["source"]) == {"file_id"}
        assert body["video"]["edit"]["controls"] == CONTROLS
    kept = Manifest.of_folder(out / "previz")
    for shot, sketched in zip(final.shots, kept.shots, strict=True):
        assert shot.engine == "luma" and shot.previz is not None
        assert shot.previz.passes == sketched.passes
        assert shot.frames == sketched.frames  # the final has its previz's frames
        assert "its previz (clip)" in shot.conditioning
        follows = [v for v in shot.qc if v.check == "follows-previz"]
        assert follows and follows[0].passed, follows
    fear = next(s for s in final.shots if s.id == "fear")  # a continue shot: its start is
    assert "first frame" in fear.conditioning  # the promoted shot before's last frame
    assert probe(out / "film.mp4").frames == sum(s.frames for s in final.shots)
    checked = runner.invoke(cli, ["qc", str(out)], env=env)
    assert checked.exit_code == 0, checked.output

    # one line of dialogue changes: its previz is drawn again and that shot alone promoted
    production(tmp_path, edit="Then show me, ARIA. Show me everything.")
    again = runner.invoke(cli, ["render", str(film), "-o", str(out), "--store", store], env=env)
    assert again.exit_code == 0, again.output
    assert len(luma.create_bodies) == 9
    edited = Manifest.of_folder(out)
    assert [s.id for s in edited.shots if not s.cached] == ["relief"]
