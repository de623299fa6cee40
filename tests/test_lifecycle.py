"""Model lifecycle as data: a retired model is refused before anything is paid for, naming
its replacement; a shutdown within 30 days is a warning; `plugins --models` lists them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ministudio import hookimpl
from ministudio.cli import cli
from ministudio.engines import Capabilities, EngineSpec, Model
from ministudio.engines.lifecycle import findings, today
from ministudio.errors import ProductionError, UnknownEngineError
from ministudio.plan.shots import model_warnings, plan_shots
from ministudio.plugins import PluginHost
from ministudio.spec import Production
from ministudio.spec.loading import load_production

TODAY = today()
SOON = TODAY + dt.timedelta(days=12)


class Aging:
    """A video engine and a speech engine, each with a retired, a closing and a current model."""

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        return [
            EngineSpec(
                id="clipper",
                kind="video",
                default_model="clip-2",
                models=(
                    Model("clip-2", "ga", aliases=("clip",)),
                    Model("clip-1", "retired", dt.date(2026, 6, 30), replacement="clip-2"),
                    Model("clip-0", "deprecated", dt.date(2025, 1, 1), "omni", "other"),
                    Model("clip-1.5", "deprecated", SOON, replacement="clip-2"),
                ),
                capabilities=Capabilities(resolutions=("720p",)),
            ),
            EngineSpec(
                id="talker",
                kind="speech",
                default_model="talk-old",
                models=(
                    Model("talk-old", "ga", TODAY, replacement="talk-new"),
                    Model("talk-new", "ga"),
                ),
            ),
        ]


@pytest.fixture
def host() -> PluginHost:
    host = PluginHost()
    host.register(Aging(), "aging")
    return host


def film(**routing: Any) -> dict[str, Any]:
    return {
        "title": "Aging",
        "characters": {"ann": {"name": "Ann", "dna": "a woman", "voice": {"engine": "espeak"}}},
        "environments": {"room": {"description": "a room"}},
        "scenes": [
            {
                "id": "one",
                "environment": "room",
                "shots": [
                    {
                        "id": "a",
                        "action": "Ann waves",
                        "dialogue": [{"speaker": "ann", "text": "Hi."}],
                    }
                ],
            }
        ],
        "routing": {"video": "clipper", **routing},
    }


def test_a_retired_model_is_refused_naming_its_replacement(
    host: PluginHost, tmp_path: Path
) -> None:
    path = tmp_path / "film.json"
    path.write_text(json.dumps(film(options={"clipper": {"model": "clip-1"}})))
    with pytest.raises(ProductionError) as info:
        load_production(path, engines=host)
    text = str(info.value)
    assert "1 problem;" in text and "routing.options.clipper.model" in text
    assert "model 'clip-1' was retired on 2026-06-30; use model 'clip-2'" in text
    assert info.value.exit_code == 2


def test_a_passed_shutdown_retires_a_model_on_another_engines_advice(host: PluginHost) -> None:
    data = film(options={"clipper": {"model": "clip-0"}})
    (found,) = findings(data, host.engines)
    assert found.error
    assert "retired on 2025-01-01; route to engine 'other', model 'omni'" in found.message


def test_the_default_model_counts_and_speech_models_too(host: PluginHost) -> None:
    """No model named: the engine's default is checked; a voice's engine and model too."""
    data = film()
    data["characters"]["ann"]["voice"] = {"engine": "talker", "voice": "x"}
    (found,) = findings(data, host.engines)
    assert found.loc == ("characters", "ann", "voice", "engine")
    assert found.error and "'talk-old' was retired" in found.message and "talk-new" in found.message
    data["characters"]["ann"]["voice"]["options"] = {"model": "talk-new"}
    assert findings(data, host.engines) == []


def test_a_shutdown_within_30_days_is_a_warning(host: PluginHost) -> None:
    production = Production.model_validate(film(options={"clipper": {"model": "clip-1.5"}}))
    (warning,) = model_warnings(production, host)
    assert warning.startswith("routing.options.clipper.model: engine 'clipper': model 'clip-1.5'")
    assert f"shuts down on {SOON.isoformat()} (in 12 days); use model 'clip-2'" in warning
    plan_shots(production, host)  # a warning, not a refusal


def test_aliases_and_undeclared_models(host: PluginHost) -> None:
    """An alias is its model; a model the engine does not declare is the provider's call."""
    assert findings(film(options={"clipper": {"model": "clip"}}), host.engines) == []
    assert findings(film(options={"clipper": {"model": "clip-9"}}), host.engines) == []


def test_render_refuses_a_retired_model_before_any_work(host: PluginHost) -> None:
    production = Production.model_validate(film(options={"clipper": {"model": "clip-1"}}))
    with pytest.raises(UnknownEngineError, match="clip-1' was retired"):
        plan_shots(production, host)


def test_plugins_lists_models_and_their_lifecycle() -> None:
    result = CliRunner().invoke(cli, ["plugins", "--models"])
    assert result.exit_code == 0, result.output
    assert "model animatic-1  [ga (default)]" in result.output
    listed = json.loads(CliRunner().invoke(cli, ["plugins", "--models", "--json"]).output)
    (animatic,) = [p for p in listed if "animatic" in p["engines"]]
    (model,) = animatic["models"]["animatic"]
    assert model["id"] == "animatic-1" and model["stage"] == "ga" and model["default"]


def test_a_model_stage_must_be_known() -> None:
    with pytest.raises(ValueError, match="stage must be one of"):
        Model("x", "beta")  # type: ignore[arg-type]
