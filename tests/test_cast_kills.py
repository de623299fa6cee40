"""``ministudio cast`` killed (``kill -9``) while a paid still is made, then run again: each
still is paid for once. Luma Photon's generation is waited for, or looked up when its answer
was lost; Gemini's image request and Luma's Agents API (``luma-uni``) cannot be looked up,
so the next run sends nothing until ``--forget-lost``; a picture that came back and was not
yet stored is taken from where the engine wrote it. Each cast runs in a subprocess against
the engine's loopback fake.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .fakes.google_server import GoogleServer
from .fakes.hold import HOLD, held
from .fakes.luma_agents_server import LumaAgentsServer
from .fakes.luma_server import LumaServer

pytest.importorskip("ministudio_luma")
pytest.importorskip("ministudio_veo")

FILM = """\
title: A cast killed
format: {aspect_ratio: "16:9", resolution: 360p, fps: 12}
characters:
  ada:
    name: Ada
    dna: a tall woman of 30, red scarf, round glasses
environments:
  dock:
    description: a wooden dock at low tide
scenes:
  - id: one
    environment: dock
    shots:
      - action: Ada waits on the dock
        duration: 2
"""
STILLS = 4  # Ada's front, three-quarter and profile views, and the dock
LUMA_KEY = "luma-cast-kill-SECRET-31"
GEMINI_KEY = "gemini-cast-kill-SECRET-52"
UNI_KEY = "luma-uni-cast-kill-SECRET-73"


@pytest.fixture
def film(tmp_path: Path) -> Path:
    path = tmp_path / "film" / "film.yaml"
    path.parent.mkdir()
    path.write_text(FILM, encoding="utf-8")
    return path


@pytest.fixture
def luma() -> Iterator[LumaServer]:
    with LumaServer(api_key=LUMA_KEY, image_latency=0.3) as fake:
        yield fake


def _luma_env(server: LumaServer, tmp_path: Path) -> dict[str, str]:
    return {
        "LUMAAI_BASE_URL": server.api_url,
        "LUMAAI_API_KEY": LUMA_KEY,
        "LUMA_EXPECTED_LATENCY": "0.2",
        "LUMA_ASSET_BASE_URL": "http://127.0.0.1:9/assets",
        "LUMA_ASSET_DIR": str(tmp_path / "assets"),
    }


def _google_env(server: GoogleServer) -> dict[str, str]:
    return {"GEMINI_BASE_URL": server.base_url, "GEMINI_API_KEY": GEMINI_KEY}


def _cast(film: Path, engine: str, extra: dict[str, str], *more: str) -> list[str]:
    store = film.parent.parent / "store"
    return [sys.executable, "-m", "ministudio", "cast", str(film), "--engine", engine,
            "--store", str(store), *more]  # fmt: skip


def _env(extra: dict[str, str]) -> dict[str, str]:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith(("MINISTUDIO_", "GEMINI_", "GOOGLE_", "LUMA")))
        or k == "MINISTUDIO_KEYS_FILE"
    }
    return {**inherited, **extra}


def _killed(command: list[str], env: dict[str, str], server: object, point: str | None) -> None:
    """Run ``command`` until it is killed: at failpoint ``point``, else while ``server`` holds
    its first image request (the fake has drawn and billed it)."""
    killed_env = dict(env, MINISTUDIO_FAILPOINT=point) if point else env
    child = subprocess.Popen(
        command, env=killed_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        if point is None:
            assert held(server).wait(60), "the image request never arrived"
            child.send_signal(signal.SIGKILL)
        _, stderr = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == -signal.SIGKILL, f"not killed at {point or 'the request'}: {stderr}"


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)


def _cast_whole(film: Path) -> None:
    text = film.read_text(encoding="utf-8")
    for name in ("ada-front", "ada-three-quarter", "ada-profile", "dock-set"):
        assert (film.parent / "cast" / f"{name}.png").is_file(), name
        assert f"cast/{name}.png" in text


def _luma_stills(server: LumaServer) -> int:
    return sum(1 for job in server.jobs.values() if job.generation_type == "image")


@pytest.mark.parametrize("point", [None, "side:id-recorded@2", "cast:drawn"])
def test_a_luma_cast_killed_while_a_still_is_made_pays_for_each_still_once(
    point: str | None, film: Path, luma: LumaServer, tmp_path: Path
) -> None:
    """In flight (the answer lost: looked up), with the generation's id in the journal
    (waited for), and with the picture come but not stored (taken as it is)."""
    env = _env(_luma_env(luma, tmp_path))
    command = _cast(film, "luma-photon", env)
    if point is None:
        luma.fail_next("image", HOLD)
    _killed(command, env, luma, point)

    again = _run(command, env)
    assert again.returncode == 0, again.stderr
    assert _luma_stills(luma) == STILLS, f"{_luma_stills(luma)} stills paid for"
    _cast_whole(film)
    if point == "cast:drawn":
        assert "drawn before the last run stopped" in again.stdout
    assert LUMA_KEY not in again.stdout + again.stderr


@pytest.mark.parametrize("engine", ["gemini-image", "luma-uni"])
def test_a_cast_on_an_engine_without_lookup_killed_in_flight_sends_nothing_until_forget_lost(
    engine: str, film: Path
) -> None:
    """Google and Luma's Agents API cannot be asked for a lost request: the next run stops on
    that still and pays nothing more; ``--forget-lost`` draws it once more, and only it."""
    with _no_lookup_server(engine) as (server, env, paid):
        command = _cast(film, engine, env)
        server.fail_next("image" if engine == "gemini-image" else "create", HOLD)
        _killed(command, env, server, None)

        stopped = _run(command, env)
        assert stopped.returncode != 0
        assert "--forget-lost" in stopped.stderr and "billed" in stopped.stderr
        # The held front (or dock), and the other first still at most once (by the killed run
        # or this one, unless the refusal came first); nothing else, and nothing twice.
        assert paid() in (1, 2)

        done = _run([*command, "--forget-lost"], env)
        assert done.returncode == 0, done.stderr
        # every still once, and once more each one in flight at the kill
        assert paid() in (STILLS + 1, STILLS + 2)
        _cast_whole(film)
        key = env.get("GEMINI_API_KEY") or env["LUMA_AGENTS_API_KEY"]
        assert key not in stopped.stderr + done.stdout + done.stderr


@contextmanager
def _no_lookup_server(engine: str) -> Iterator[tuple[Any, dict[str, str], Callable[[], int]]]:
    """The engine's fake, the cast's environment, and how many stills it was paid for."""
    if engine == "gemini-image":
        with GoogleServer(api_key=GEMINI_KEY) as google:
            yield google, _env(_google_env(google)), lambda: len(google.image_requests)
        return
    with LumaAgentsServer(api_key=UNI_KEY, latency=0.2) as agents:
        env = _env({"LUMA_BASE_URL": agents.api_url, "LUMA_AGENTS_API_KEY": UNI_KEY})
        yield agents, env, lambda: agents.submissions
