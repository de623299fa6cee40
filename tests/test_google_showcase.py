"""The three showcase films on Google's engines of today, against the loopback fake: shots on
``gemini-omni`` (the Interactions API) and ``veo-vertex``, every line on Gemini voices. The
soundtrack says the films' lines and nothing else: no style instruction reaches a transcript."""

from __future__ import annotations

from pathlib import Path

import pytest
from ministudio.plugins import PluginHost
from ministudio.remote.pacing import RetryPolicy
from ministudio.run.render import RenderOptions, render
from ministudio.run.store import ContentStore
from ministudio.spec import Production
from ministudio.spec.loading import load_production

from .conftest import EXAMPLES
from .fakes.google_server import GoogleServer

KEY = "gemini-showcase-SECRET-7a21"
TOKEN = "vertex-showcase-TOKEN-33b0"
ENGINES = ("veo-vertex", "gemini-omni", "gemini")
VOICES = ("Charon", "Leda", "Puck", "Kore", "Fenrir")


@pytest.fixture(autouse=True)
def _offline_google_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    for name in ("VEO_EXPECTED_LATENCY", "OMNI_EXPECTED_LATENCY"):  # read when declared
        monkeypatch.setenv(name, "0.3")
    monkeypatch.setenv("CLOUDSDK_CONFIG", "/nonexistent-gcloud-config")
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)


def on_google(name: str) -> Production:
    """The showcase film routed to Google by routing and voices alone: every scene's first
    shot on Veo (Vertex), the others on Gemini Omni; every voice a Gemini one, with the
    film's own pitch and rate. At 12 fps: no Google request carries the film's frame rate
    (only the core's fitting and assembly use it), and half the frames halve their work."""
    film = load_production(EXAMPLES / name)
    data = film.model_dump()
    data["format"]["fps"] = 12
    for i, character in enumerate(data["characters"].values()):
        character["voice"] = {**character["voice"], "engine": "gemini", "voice": VOICES[i]}
        character["voice"]["options"] = {}
    data["narrator"] = {**data["narrator"], "engine": "gemini", "voice": "Sulafat", "options": {}}
    firsts = {scene["shots"][0]["id"] for scene in data["scenes"]}
    data["routing"] = {
        "video": "gemini-omni",
        "speech": "gemini",
        "shots": dict.fromkeys(sorted(firsts), "veo-vertex"),
        "limits": {e: {"requests_per_minute": 600} for e in ENGINES},
    }
    return Production.model_validate(data, context={"base_dir": EXAMPLES})


def spoken(film: Production) -> list[str]:
    """Every line the film says, as written."""
    said = []
    for scene in film.scenes:
        for shot in scene.shots:
            said += [shot.narration] if shot.narration else []
            said += [line.text for line in shot.dialogue]
    return said


@pytest.mark.parametrize(
    "name", ["quantum-mechanics.yaml", "contextbytes.yaml", "last-algorithm.yaml"]
)
def test_a_showcase_film_on_google_says_its_lines_and_nothing_else(
    name: str, tmp_path: Path
) -> None:
    film = on_google(name)
    env = {
        "GEMINI_API_KEY": KEY,
        "GEMINI_BASE_URL": "",
        "VERTEX_BASE_URL": "",
        "VEO_STORAGE_BASE_URL": "",
        "GOOGLE_CLOUD_PROJECT": "ministudio-showcase",
        "GOOGLE_CLOUD_LOCATION": "us-central1",
        "VERTEX_AI_ACCESS_TOKEN": TOKEN,
    }
    with GoogleServer(
        api_key=KEY, access_token=TOKEN, latency=(0.2, 0.2), render_scale=0.05
    ) as server:
        for name_ in ("GEMINI_BASE_URL", "VERTEX_BASE_URL", "VEO_STORAGE_BASE_URL"):
            env[name_] = server.base_url
        manifest = render(
            film,
            tmp_path / "out",
            host=PluginHost(env={}),
            store=ContentStore(tmp_path / "store"),
            env=env,
            options=RenderOptions(retry=RetryPolicy(attempts=6, base=0.02, cap=0.2)),
        )
        transcripts = [r.transcript for r in server.tts_requests if r.error is None]
        interactions = list(server.interactions.values())
        operations = list(server.operations.values())
    assert sorted(transcripts) == sorted(spoken(film))
    assert not [t for t in transcripts if t.lower().startswith(("say ", "read this"))]
    on_veo = [s for s in manifest.shots if s.engine == "veo-vertex"]  # a long shot is parts
    assert {s.id.partition(".")[0] for s in on_veo} == set(film.routing.shots)
    assert len(operations) == len(on_veo)
    assert len(interactions) == len(manifest.shots) - len(on_veo)
    assert {r.model for r in interactions} == {"gemini-omni-1.1-flash"}
    assert all(s.state == "done" for s in manifest.shots)
    assert (tmp_path / "out" / "film.mp4").exists() and manifest.cost > 0
