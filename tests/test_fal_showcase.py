"""Issue 19's done-when for fal's curated engines: the three showcase films render end to end
through the loopback fal fake (tests/fakes/fal_server.py, its rules written from fal's
pages), each on a different curated engine (``routing.video``), every other setting the
film's own. Each shot is one create on the fake: nothing refused, nothing paid twice."""

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
from .fakes.fal_server import API_KEY, FalServer

FILMS = {  # film -> the curated engine it renders on
    "quantum-mechanics.yaml": "fal-kling-3-pro",  # 9:16, 8 s shots
    "contextbytes.yaml": "fal-wan-2.7",  # 16:9, 7 to 11 s shots: integer lengths 2..15
    "last-algorithm.yaml": "fal-ltx-2.3",  # 16:9, 8 s shots: 6/8/10 s, a 720p film at 1080p
}


def on_fal(name: str, engine: str) -> Production:
    film = load_production(EXAMPLES / name)
    data = film.model_dump()
    data["routing"] = {
        **data["routing"],
        "video": engine,
        "limits": {engine: {"requests_per_minute": 600}},
    }
    return Production.model_validate(data, context={"base_dir": EXAMPLES})


@pytest.mark.parametrize(("name", "engine"), sorted(FILMS.items()))
def test_a_showcase_film_renders_on_a_curated_fal_engine(
    name: str, engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAL_EXPECTED_LATENCY", "0.02")  # read when the engines are declared
    film = on_fal(name, engine)
    with FalServer(latency=(0.01, 0.03), render_scale=0.05) as server:
        env = {
            "FAL_KEY": API_KEY,
            "FAL_QUEUE_URL": server.base_url,
            "FAL_JWKS_URL": server.jwks_url,
            "FAL_TIMEOUT": "10",
        }
        manifest = render(
            film,
            tmp_path / "out",
            host=PluginHost(env={}),
            store=ContentStore(tmp_path / "store"),
            env=env,
            options=RenderOptions(retry=RetryPolicy(attempts=4, base=0.02, cap=0.2)),
        )
        submits, billed = list(server.submits), list(server.billed)
        refused = [job.errors for job in server.jobs.values() if job.errors]
    assert (tmp_path / "out" / "film.mp4").exists()
    assert manifest.shots and all(s.state == "done" for s in manifest.shots)
    assert {s.engine for s in manifest.shots} == {engine}
    assert refused == []
    assert len(submits) == len(billed) == len(manifest.shots)  # one create per rendered shot
    assert manifest.cost > 0
