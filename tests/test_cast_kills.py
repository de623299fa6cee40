"""``ministudio cast`` killed (``kill -9``) while a paid still is made, then run again: each
still is paid for once. Luma Photon's generation is waited for, or looked up when its answer
was lost; Gemini's image request cannot be looked up, so the next run sends nothing until
``--forget-lost``; a picture that came back and was not yet stored is taken from where the
engine wrote it. Each cast runs in a subprocess against the engine's loopback fake.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .fakes.google_server import GoogleServer
from .fakes.hold import HOLD, held
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


@pytest.fixture
def google() -> Iterator[GoogleServer]:
    with GoogleServer(api_key=GEMINI_KEY) as fake:
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


def test_a_gemini_cast_killed_in_flight_sends_nothing_until_forget_lost(
    film: Path, google: GoogleServer
) -> None:
    """Google cannot be asked for a lost request: the next run stops on that still and pays
    nothing more; ``--forget-lost`` draws it once more, and only it."""
    env = _env(_google_env(google))
    command = _cast(film, "gemini-image", env)
    google.fail_next("image", HOLD)
    _killed(command, env, google, None)

    stopped = _run(command, env)
    assert stopped.returncode != 0
    assert "--forget-lost" in stopped.stderr and "may have drawn and billed" in stopped.stderr
    # The held front (or dock), and the other first still at most once (by the killed run or
    # this one, unless the refusal came first); nothing else, and nothing twice.
    assert len(google.image_requests) in (1, 2)

    done = _run([*command, "--forget-lost"], env)
    assert done.returncode == 0, done.stderr
    # every still once, and once more each one in flight at the kill
    assert len(google.image_requests) in (STILLS + 1, STILLS + 2)
    _cast_whole(film)
    assert GEMINI_KEY not in stopped.stderr + done.stdout + done.stderr
