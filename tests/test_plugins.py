"""Plugins: discovery through entry points, filtering, failures, duplicates, routing by id."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest
from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec
from ministudio.errors import UnknownEngineError
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
    assert found["animatic"]["engines"] == ["animatic", "animatic-stills"]
    assert found["espeak"]["engines"] == ["espeak"]


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


def test_a_conflicting_engine_id_fails_only_the_productions_routed_to_it(
    plugin_sites, tmp_path: Path
) -> None:
    """Two installed plugins declaring one engine id: `plugins` still lists everything, with
    the conflict as a problem naming both distributions; a production on other engines plans;
    one routed to the id exits 2 with the fix (uninstall, or disable one)."""
    sites = [plugin_sites["solid"], plugin_sites["dupe"]]
    listed = run_cli("plugins", sites=sites)
    assert listed.returncode == 0, listed.stderr
    problems = [line for line in listed.stdout.splitlines() if "problem:" in line]
    assert len(problems) == 2  # under each claimant
    assert "ministudio-plugin-solid 1.2.3" in problems[0]
    assert "ministudio-plugin-dupe 0.0.1" in problems[0]
    assert "engine animatic (video)" in listed.stdout  # the rest still listed
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(tiny_production().model_dump_json())
    planned = run_cli("plan", str(elsewhere), "-o", str(tmp_path / "a"), sites=sites)
    assert planned.returncode == 0, planned.stderr
    routed = tmp_path / "routed.json"
    routed.write_text(tiny_production(routing={"shots": {"reply": "solid"}}).model_dump_json())
    refused = run_cli("plan", str(routed), "-o", str(tmp_path / "b"), sites=sites)
    assert refused.returncode == 2, refused.stderr
    assert "engine id 'solid' is declared by 2 plugins" in refused.stderr
    assert "MINISTUDIO_DISABLE_PLUGINS=dupe" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_plugins_shows_what_each_engine_takes_and_where_its_key_comes_from(
    plugin_sites,
) -> None:
    """Capabilities (seed included), price, concurrency, the key variables and whether they
    are set (never their values), the default model."""
    listed = run_cli("plugins", sites=[plugin_sites["solid"]])
    assert listed.returncode == 0, listed.stderr
    text = listed.stdout
    assert "takes: up to 60 s, 480p/720p, no seed, 2 at once, free" in text, text  # solid
    assert "takes: up to 600 s" in text and ", seed, 2 at once, free" in text  # animatic
    assert "model: animatic-1" in text
    assert (
        "key: GEMINI_API_KEY or GOOGLE_API_KEY: missing: run `ministudio keys set gemini-omni`"
    ) in text
    assert "key: KLING_ACCESS_KEY and KLING_SECRET_KEY: missing" in text
    secret = "AIza-plugins-SECRET-1234567890"
    found = run_cli("plugins", env={"GOOGLE_API_KEY": secret})
    assert "key: GEMINI_API_KEY or GOOGLE_API_KEY: environment (GOOGLE_API_KEY)" in found.stdout
    assert secret not in found.stdout + found.stderr
    data = plugins_json([plugin_sites["solid"]], GOOGLE_API_KEY=secret)
    assert data["veo"]["keys"]["gemini-omni"] == {
        "variables": ["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        "all": False,
        "source": "environment",
    }
    assert data["solid"]["capabilities"]["solid"]["max_duration"] == 60
    assert secret not in json.dumps(data)


def test_an_unknown_id_shows_the_load_error_of_a_plugin_that_failed(plugin_sites) -> None:
    """An engine no plugin provides, with a plugin that failed to import: the message shows
    that plugin's exception, and offers no package to install for a name MiniStudio does not
    publish."""
    result = run_cli("voices", "brokn", sites=[plugin_sites["broken"]])
    assert result.returncode == 2, result.stderr
    assert "'broken' (ministudio-plugin-broken)" in result.stderr
    assert "ministudio_missing_sdk" in result.stderr
    assert "pip install" not in result.stderr


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
        "or m.startswith('ministudio.engines.animatic.render')))"
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
    from ministudio.plan.shots import plan_shots, shot_brief, time_shot

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
    from ministudio.engines.espeak import plugin as espeak_plugin

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


def test_a_conflict_in_process_refuses_the_id_and_keeps_the_rest() -> None:
    """Neither claimant wins (routing is never by order): the id is refused with exit code
    2 and both plugins named; their other engines still work."""
    from ministudio.errors import EngineConflictError

    class Two(Greedy):
        @hookimpl
        def ministudio_engines(self) -> list[EngineSpec]:
            return [EngineSpec(id="same", kind="video"), EngineSpec(id="own", kind="video")]

    host = PluginHost(discover=False)
    host.register(Greedy("same"), "a")
    host.register(Two("same"), "b")
    host.register(Greedy("same"), "c")
    with pytest.raises(EngineConflictError, match="declared by 3 plugins") as refused:
        host.engine("same")
    assert refused.value.exit_code == 2
    assert "MINISTUDIO_DISABLE_PLUGINS=b,c" in str(refused.value)
    assert host.engine("own").id == "own" and host.owner("own").name == "b"
    assert all("'same'" in host.problems(p)[0] for p in host.plugins)


def test_a_plugin_id_taken_twice_is_reported_and_the_first_kept() -> None:
    host = PluginHost(discover=False)
    host.register(Greedy("one"), "a")
    second = host.register(Greedy("two"), "a")
    assert second.error is not None and "already taken" in second.error
    assert host.owner("one").name == "a" and "two" not in host.engines


@pytest.mark.parametrize(
    ("asked", "said", "install"),
    [
        ("animatik", "did you mean 'animatic'?", None),
        ("kling", "", "pip install ministudio-provider-kling"),
        ("klingg", "", None),
        ("gemini-omni", "", "pip install ministudio-provider-veo"),
    ],
)
def test_an_unknown_id_suggests_close_names_and_only_first_party_packages(
    asked: str, said: str, install: str | None
) -> None:
    from ministudio.engines.animatic import plugin as animatic_plugin

    host = PluginHost(discover=False)
    host.register(animatic_plugin, "animatic")
    with pytest.raises(UnknownEngineError) as unknown:
        host.engine(asked, "video")
    message = str(unknown.value)
    assert said in message
    if install:
        assert install in message
    else:
        assert "pip install" not in message and "fix the name" in message


def test_first_party_engine_ids_match_the_installed_provider_packages() -> None:
    """`FIRST_PARTY` (the only install advice given) names every engine the workspace's own
    provider packages declare, each with the package that declares it."""
    from ministudio.plugins import FIRST_PARTY

    host = PluginHost(env={})
    declared = {
        engine: info.distribution
        for info in host.plugins
        if info.distribution.startswith("ministudio-provider-")
        or info.distribution == "ministudio-tts"
        for engine in info.engines
    }
    assert declared == FIRST_PARTY
