"""The key store: `ministudio keys` stores engine API keys in a private file; engines find
them there when the environment sets none; they never show up in output, errors or manifests."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec
from ministudio.errors import MissingKeyError
from ministudio.jobs import VideoRequest
from ministudio.plugins import PluginHost
from ministudio.remote.pacing import RetryPolicy
from ministudio.run.render import RenderError, RenderOptions, render
from ministudio.safety.keys import KeyStoreError, lookup, save
from ministudio_luma import _dream_machine
from ministudio_luma._catalog import dream_machine_spec

from .conftest import tiny_production
from .fakes.luma_server import LumaServer
from .test_luma_engine import _env, _request

KEY = "luma-stored-SECRET-7c2d9e"
QUICK = RenderOptions(retry=RetryPolicy(attempts=3, base=0.02, cap=0.1))
HD = {"aspect_ratio": "16:9", "resolution": "720p", "fps": 24}


def ministudio(
    *args: str, keys_file: Path, input: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``ministudio ARGS`` in a fresh interpreter on ``keys_file``, no Luma key in its env."""
    full = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MINISTUDIO_") and k != "LUMAAI_API_KEY"
    }
    full.update(MINISTUDIO_KEYS_FILE=str(keys_file), **env)
    return subprocess.run(
        [sys.executable, "-m", "ministudio", *args],
        input=input,
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
    )


def stored(keys_file: Path) -> dict[str, str]:
    return dict(json.loads(keys_file.read_text()))


# -- the command --------------------------------------------------------------------------
def test_set_an_engine_key_with_value_into_a_private_file(keys_file: Path) -> None:
    result = ministudio("keys", "set", "luma-dream-machine", "--value", KEY, keys_file=keys_file)
    assert result.returncode == 0, result.stderr
    assert KEY not in result.stdout + result.stderr
    assert "LUMAAI_API_KEY" in result.stdout and str(keys_file) in result.stdout
    assert stored(keys_file) == {"LUMAAI_API_KEY": KEY}  # an engine's first variable
    if os.name == "posix":
        assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(keys_file.parent.stat().st_mode) == 0o700
    assert not [p.name for p in keys_file.parent.iterdir() if p != keys_file]  # no temp file


def test_set_a_variable_from_stdin_keeps_the_others(keys_file: Path) -> None:
    save(keys_file, {"LUMAAI_API_KEY": KEY})
    result = ministudio(
        "keys", "set", "OTHER_API_KEY", "--value", "-", keys_file=keys_file, input="s3cret\n"
    )
    assert result.returncode == 0, result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    assert "no installed engine reads OTHER_API_KEY" in result.stderr  # a typo shows
    assert stored(keys_file) == {"LUMAAI_API_KEY": KEY, "OTHER_API_KEY": "s3cret"}


def test_set_refuses_an_unknown_engine_and_an_empty_key(keys_file: Path) -> None:
    unknown = ministudio("keys", "set", "lumaa", "--value", KEY, keys_file=keys_file)
    assert unknown.returncode == 2 and "'lumaa' is neither an installed engine" in unknown.stderr
    assert "luma" in unknown.stderr
    empty = ministudio(
        "keys", "set", "luma-dream-machine", "--value", "-", keys_file=keys_file, input="\n"
    )
    assert empty.returncode == 2 and "empty" in empty.stderr
    assert not keys_file.exists()


def test_list_shows_where_each_key_comes_from_never_the_value(keys_file: Path) -> None:
    missing = ministudio("keys", "list", keys_file=keys_file)
    assert missing.returncode == 0, missing.stderr
    assert (
        "luma-dream-machine: missing: run `ministudio keys set luma-dream-machine`"
        in missing.stdout
    )
    save(keys_file, {"LUMAAI_API_KEY": KEY, "SHORT_KEY": "abc123"})
    listed = ministudio("keys", "list", keys_file=keys_file)
    assert listed.returncode == 0, listed.stderr
    assert KEY not in listed.stdout and "abc123" not in listed.stdout
    used = "(used by luma-dream-machine, luma-photon)"
    assert f"LUMAAI_API_KEY  ...{KEY[-4:]}  {used}" in listed.stdout
    assert "SHORT_KEY  (used by no installed engine)" in listed.stdout  # too short for a hint
    assert "luma-dream-machine: store (LUMAAI_API_KEY)" in listed.stdout
    env_wins = ministudio("keys", "list", keys_file=keys_file, LUMAAI_API_KEY="from-env-0000")
    assert "luma-dream-machine: environment (LUMAAI_API_KEY)" in env_wins.stdout
    assert "from-env" not in env_wins.stdout


def test_remove_and_path(keys_file: Path) -> None:
    save(keys_file, {"LUMAAI_API_KEY": KEY, "OTHER_API_KEY": "x"})
    path = ministudio("keys", "path", keys_file=keys_file)
    assert path.stdout.strip() == str(keys_file)
    removed = ministudio("keys", "remove", "luma-dream-machine", keys_file=keys_file)
    assert removed.returncode == 0 and "removed LUMAAI_API_KEY" in removed.stdout
    assert stored(keys_file) == {"OTHER_API_KEY": "x"}
    again = ministudio("keys", "remove", "LUMAAI_API_KEY", keys_file=keys_file)
    assert again.returncode == 1 and "no key stored for LUMAAI_API_KEY" in again.stderr


def test_a_corrupt_store_is_one_clear_error_naming_the_file(keys_file: Path) -> None:
    keys_file.parent.mkdir()
    keys_file.write_text('{"LUMAAI_API_KEY": "half-writ')
    result = ministudio("keys", "list", keys_file=keys_file)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"the key store {keys_file} is damaged" in result.stderr
    assert "half-writ" not in result.stderr
    context = EngineContext(engine="luma-dream-machine", work_dir=keys_file.parent, env={})
    with pytest.raises(KeyStoreError, match="delete it"):
        context.key(dream_machine_spec())
    keys_file.write_text('["not", "an object"]')
    with pytest.raises(KeyStoreError, match=r"JSON object"):
        lookup("LUMAAI_API_KEY", {})


# -- engines find stored keys -------------------------------------------------------------
def test_the_environment_wins_over_the_store(keys_file: Path, tmp_path: Path) -> None:
    spec = dream_machine_spec()
    with pytest.raises(MissingKeyError) as missing:
        EngineContext(engine="luma-dream-machine", work_dir=tmp_path, env={}).key(spec)
    assert "set LUMAAI_API_KEY" in str(missing.value)
    assert "`ministudio keys set luma-dream-machine`" in str(missing.value)
    save(keys_file, {"LUMAAI_API_KEY": KEY})
    assert EngineContext(engine="luma-dream-machine", work_dir=tmp_path, env={}).key(spec) == KEY
    env = {"LUMAAI_API_KEY": "from-env"}
    assert (
        EngineContext(engine="luma-dream-machine", work_dir=tmp_path, env=env).key(spec)
        == "from-env"
    )


def test_a_render_env_can_name_its_own_store(keys_file: Path, tmp_path: Path) -> None:
    """MINISTUDIO_KEYS_FILE in the render's env wins over the process's."""
    own = tmp_path / "elsewhere" / "keys.json"
    save(own, {"LUMAAI_API_KEY": "own-store"})
    save(keys_file, {"LUMAAI_API_KEY": KEY})
    context = EngineContext(
        engine="luma-dream-machine", work_dir=tmp_path, env={"MINISTUDIO_KEYS_FILE": str(own)}
    )
    assert context.key(dream_machine_spec()) == "own-store"


def test_luma_renders_with_its_key_only_in_the_store(
    keys_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The render's env has no LUMAAI_API_KEY, only MINISTUDIO_KEYS_FILE; a failed render
    (the fake answers 500 to every submit) shows the stored key nowhere."""
    from ministudio.run.store import ContentStore

    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")
    save(keys_file, {"LUMAAI_API_KEY": KEY})
    film = tiny_production(format=HD, routing={"shots": {"reply": "luma-dream-machine"}})
    with LumaServer(api_key=KEY, latency=(0.1, 0.1), fault_retry_after=0.02) as server:
        env = {k: v for k, v in _env(server, tmp_path / "assets").items() if "API_KEY" not in k}
        env["MINISTUDIO_KEYS_FILE"] = str(keys_file)
        manifest = render(
            film,
            tmp_path / "out",
            host=PluginHost(env={}),
            store=ContentStore(tmp_path / "store"),
            env=env,
            options=QUICK,
        )
        assert server.submissions == 1
        assert [shot.engine for shot in manifest.shots] == ["animatic", "luma-dream-machine"]
        assert all(shot.state == "done" for shot in manifest.shots)
        server.fail_next("create", "500", count=20)
        with pytest.raises(RenderError) as failed:
            render(
                film,
                tmp_path / "bad",
                host=PluginHost(env={}),
                store=ContentStore(tmp_path / "store-2"),
                env=env,
                options=QUICK,
            )
    assert "reply" in str(failed.value)
    texts = {
        "the error": str(failed.value) + repr(failed.value),
        "manifest.json": (tmp_path / "out" / "manifest.json").read_text(),
        "the failed render's manifest.json": (tmp_path / "bad" / "manifest.json").read_text(),
    }
    for folder in ("store", "store-2"):
        for journal in (tmp_path / folder).glob("journal*"):
            texts[f"{folder}/{journal.name}"] = journal.read_bytes().decode("latin-1")
    for where, text in texts.items():
        assert KEY not in text, f"the stored key appears in {where}"


LEAKY = EngineSpec(
    id="leaky",
    kind="video",
    key_env=("LEAKY_API_KEY",),
    capabilities=Capabilities(resolutions=("480p",)),
)


class Leaky:
    """A careless plugin: it crashes with its API key in the exception text."""

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        return [LEAKY]

    @hookimpl
    def generate_video(self, engine: str, request: VideoRequest, output: Path, context):
        raise RuntimeError(f"401 from server for key {context.key(LEAKY)}")


def test_a_stored_key_is_blanked_from_a_crashing_plugins_error(
    keys_file: Path, store, tmp_path: Path
) -> None:
    secret = "sk-stored-0123456789abcdef"
    save(keys_file, {"LEAKY_API_KEY": secret})
    host = PluginHost()
    host.register(Leaky(), "leaky")
    production = tiny_production(routing={"shots": {"hello": "leaky"}})
    with pytest.raises(RenderError) as info:
        render(production, tmp_path / "out", host=host, store=store, env={})
    saved = (tmp_path / "out" / "manifest.json").read_text()
    assert "RuntimeError: 401 from server for key ***" in str(info.value)
    assert secret not in str(info.value) and secret not in saved


def test_an_engine_call_with_a_stored_key_reaches_the_fake(keys_file: Path, tmp_path) -> None:
    """One hook, no render: the Luma SDK sends the stored key (the fake checks it)."""
    save(keys_file, {"LUMAAI_API_KEY": KEY})
    with LumaServer(api_key=KEY, latency=0.05) as server:
        env = {k: v for k, v in _env(server, tmp_path / "assets").items() if "API_KEY" not in k}
        context = EngineContext(engine="luma-dream-machine", work_dir=tmp_path, env=env)
        submission = anyio.run(_dream_machine._submit, _request(), context)
        assert submission.job_id in server.jobs


def test_a_key_pair_engine_asks_for_both_and_lists_what_is_missing(keys_file: Path) -> None:
    """Kling needs an access key and a secret key: `keys set kling` asks for each (hidden),
    `--value` alone is refused, and `keys list` says which one is still missing."""
    clean = {"KLING_ACCESS_KEY": "", "KLING_SECRET_KEY": ""}
    refused = ministudio("keys", "set", "kling", "--value", "x", keys_file=keys_file, **clean)
    assert refused.returncode != 0 and "KLING_SECRET_KEY" in refused.stderr
    one = ministudio(
        "keys", "set", "KLING_ACCESS_KEY", "--value", "ak-123", keys_file=keys_file, **clean
    )
    assert one.returncode == 0, one.stderr
    listed = ministudio("keys", "list", keys_file=keys_file, **clean)
    assert "kling: missing KLING_SECRET_KEY" in listed.stdout
    both = ministudio(
        "keys", "set", "kling", input="ak-456\nsk-secret-789\n", keys_file=keys_file, **clean
    )
    assert both.returncode == 0, both.stderr
    assert "sk-secret-789" not in both.stdout + both.stderr
    assert stored(keys_file) == {"KLING_ACCESS_KEY": "ak-456", "KLING_SECRET_KEY": "sk-secret-789"}
    assert "kling: found" in ministudio("keys", "list", keys_file=keys_file, **clean).stdout
