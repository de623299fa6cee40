"""Plugins: discovery through entry points, filtering, failures, duplicates, routing by id."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest
from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec
from ministudio.errors import PluginError, UnknownEngineError
from ministudio.jobs import VideoRequest, VideoResult
from ministudio.plugins import PluginHost

from .conftest import run_cli, tiny_production


def plugins_json(sites: list[Path], **env: str) -> dict[str, dict]:
    result = run_cli("plugins", "--json", sites=sites, env=env)
    assert result.returncode == 0, result.stderr
    return {p["name"]: p for p in json.loads(result.stdout)}


def test_installed_plugin_is_discovered_with_its_distribution(plugin_sites) -> None:
    found = plugins_json([plugin_sites["solid"]])
    solid = found["solid"]
    assert solid["distribution"] == "ministudio-plugin-solid" and solid["version"] == "1.2.3"
    assert solid["engines"] == ["solid"]
    assert set(solid["hooks"]) >= {"generate_video", "ministudio_engines", "prompt_map"}
    assert found["animatic"]["engines"] == ["animatic"] and found["espeak"]["engines"] == ["espeak"]


def test_broken_plugin_is_reported_and_skipped(plugin_sites) -> None:
    found = plugins_json([plugin_sites["solid"], plugin_sites["broken"]])
    assert "ministudio_missing_sdk" in found["broken"]["error"]
    assert found["solid"]["error"] is None  # the others still load
    text = run_cli("plugins", sites=[plugin_sites["broken"]])
    assert text.returncode == 0 and "broken  [failed]" in text.stdout


def test_environment_filters_apply_before_import(plugin_sites) -> None:
    sites = [plugin_sites["solid"], plugin_sites["broken"]]
    assert "broken" not in plugins_json(sites, MINISTUDIO_DISABLE_PLUGINS="broken")
    assert set(plugins_json(sites, MINISTUDIO_PLUGINS="solid,espeak")) == {"solid", "espeak"}


def test_duplicate_engine_id_names_both_distributions(plugin_sites) -> None:
    result = run_cli("plugins", sites=[plugin_sites["solid"], plugin_sites["dupe"]])
    assert result.returncode == 1
    assert "ministudio-plugin-solid" in result.stderr and "ministudio-plugin-dupe" in result.stderr
    assert "Traceback" not in result.stderr


def test_routed_shot_renders_on_the_third_party_engine(plugin_sites, tmp_path: Path) -> None:
    production = tiny_production(routing={"shots": {"reply": "solid"}})
    path = tmp_path / "film.json"
    path.write_text(production.model_dump_json())
    out = tmp_path / "out"
    result = run_cli(
        "render",
        str(path),
        "-o",
        str(out),
        "--store",
        str(tmp_path / "store"),
        sites=[plugin_sites["solid"]],
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    engines = {s["id"]: (s["engine"], s["prompt"]) for s in manifest["shots"]}
    assert engines["hello"][0] == "animatic"
    assert engines["reply"] == ("solid", "SOLID reply: Bo answers")

    import av

    reply = manifest["shots"][1]
    with av.open(str(out / "film.mp4")) as film:
        for frame in film.decode(video=0):
            if frame.time > reply["start"] + reply["duration"] / 2:
                rgb = frame.to_ndarray(format="rgb24")
                break
    assert abs(int(rgb[-10, 10, 1]) - 200) < 20 and rgb[-10, 10, 0] < 70  # the solid green


def test_help_and_plugins_import_no_engine_code() -> None:
    probe = (
        "import sys\nfrom ministudio.cli import cli\n"
        "try:\n    cli([{args}], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{{'av', 'numpy', 'PIL', 'pydantic', 'anyio'}} "
        "or m.startswith('ministudio.animatic.render')))"
    )
    import subprocess

    helped = subprocess.run(
        [sys.executable, "-c", probe.format(args="'--help'")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert helped.stdout.strip().endswith("[]")
    listed = subprocess.run(
        [sys.executable, "-c", probe.format(args="'plugins'")],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = listed.stdout.strip().splitlines()[-1]
    assert "'av'" not in loaded and "'numpy'" not in loaded and "'PIL'" not in loaded
    assert "'pydantic'" not in loaded  # engine declarations are plain dataclasses


# -- in-process: routing is by engine id, never by registration order ---------------------


class Greedy:
    """A plugin whose generate_video answers for any engine id (a careless third party)."""

    def __init__(self, engine_id: str) -> None:
        self.engine_id = engine_id
        self.calls = 0

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        return [
            EngineSpec(
                id=self.engine_id, kind="video", capabilities=Capabilities(resolutions=("480p",))
            )
        ]

    @hookimpl
    def generate_video(
        self, engine: str, request: VideoRequest, output: Path, context: EngineContext
    ) -> VideoResult:
        self.calls += 1
        return VideoResult(path=output, model=self.engine_id)


async def _call(host: PluginHost, engine: str, tmp_path: Path) -> VideoResult:
    from ministudio.planning import plan_shots, shot_brief, time_shot

    production = tiny_production(routing={"video": engine})
    planned = plan_shots(production, host)[0]
    timing = time_shot(planned.shot, [1.0], 24)
    request = VideoRequest(
        shot=shot_brief(production, planned, timing, [1.0], image=lambda path: path),
        prompt="p",
        duration=1.0,
        aspect_ratio="16:9",
        width=64,
        height=36,
        fps=24,
        seed=1,
    )
    return await host.generate_video(
        engine, request, tmp_path / "x.mp4", EngineContext(engine=engine, work_dir=tmp_path)
    )


@pytest.mark.parametrize("order", [("one", "two"), ("two", "one")])
def test_engine_calls_go_to_the_owner_whatever_the_order(order, tmp_path: Path) -> None:
    from ministudio.espeak import plugin as espeak_plugin

    host = PluginHost(discover=False)
    host.register(espeak_plugin, "espeak")
    plugins = {name: Greedy(name) for name in order}
    for name in order:
        host.register(plugins[name], name)
    assert anyio.run(_call, host, "two", tmp_path).model == "two"
    assert anyio.run(_call, host, "one", tmp_path).model == "one"
    assert plugins["one"].calls == plugins["two"].calls == 1


def test_unknown_engine_lists_what_is_installed() -> None:
    host = PluginHost(discover=False)
    host.register(Greedy("one"), "one")
    with pytest.raises(
        UnknownEngineError, match=r"no video engine 'luma' is installed \(available: one\)"
    ):
        host.engine("luma", "video")


def test_duplicate_in_process_registration_is_refused() -> None:
    host = PluginHost(discover=False)
    host.register(Greedy("same"), "a")
    with pytest.raises(PluginError, match="engine id 'same' is claimed by two plugins"):
        host.register(Greedy("same"), "b")
