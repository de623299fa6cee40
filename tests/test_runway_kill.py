"""A lost create answer on the ``runway`` engine's fake, seen by the render itself (the
connection dropped after Runway made and billed the task), not by a kill: Runway has no list
of tasks and no idempotency key, so the shot stops (``--forget-lost`` advice), stays stopped
on the next render, and is paid once more only when the user forgets it. In process (no
child interpreter), so it costs about a second.

``kill -9`` in each phase of a render (a create killed in flight included) is
tests/test_kill_windows.py's matrix, which has ``runway`` among its engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .fakes.runway_server import RunwayServer

KEY = "rw-kill-SECRET-5c"


def _film() -> Any:
    from ministudio.spec import Production

    shots = [
        {"id": "s1", "action": "Ann waves", "characters": ["ann"], "duration": 5},
        {
            "id": "s2",
            "action": "Ann walks on",
            "characters": ["ann"],
            "duration": 5,
            "continuity": "continue",
        },
    ]
    return Production.model_validate(
        {
            "title": "Lost",
            "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 12},
            "characters": {"ann": {"name": "Ann", "dna": "a woman in a red coat"}},
            "environments": {"park": {"description": "a park", "lighting": "day"}},
            "scenes": [{"id": "one", "environment": "park", "shots": shots}],
            "routing": {"video": "runway"},
        }
    )


def test_a_lost_create_answer_stops_the_shot_until_the_user_forgets_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ministudio.plugins import PluginHost
    from ministudio.remote.pacing import RetryPolicy
    from ministudio.run.render import RenderError, RenderOptions, render
    from ministudio.run.store import ContentStore

    monkeypatch.setenv("RUNWAY_EXPECTED_LATENCY", "0.2")
    film = _film()
    with RunwayServer(api_key=KEY, latency=0.2) as server:
        env = {
            "RUNWAYML_BASE_URL": server.base_url,
            "RUNWAYML_API_SECRET": KEY,
            "RUNWAY_POLL_INTERVAL": "0.05",  # Runway's own pace is one poll in 5 s
        }

        def run(*, forget: bool = False) -> Any:
            retry = RetryPolicy(attempts=4, base=0.02, cap=0.1, lookup_grace=0.05)
            return render(
                film,
                tmp_path / "out",
                host=PluginHost(env={}),
                store=ContentStore(tmp_path / "store"),
                env=env,
                options=RenderOptions(retry=retry, forget_lost=forget),
            )

        server.fail_next("text_to_video", "lost")  # made and billed, the answer dropped
        with pytest.raises(RenderError, match="--forget-lost"):
            run()
        with pytest.raises(RenderError, match="--forget-lost"):
            run()
        assert server.submissions == 1  # never sent again on its own
        manifest = run(forget=True)
        assert server.submissions == 3  # the user chose to pay for s1 once more
    jobs = {shot.id: shot.engine_job_id for shot in manifest.shots}
    assert all(jobs.values()), f"a clip lost its task: {jobs}"
    assert set(jobs.values()) <= {task.id for task in server.created}, jobs
    assert (tmp_path / "out" / "film.mp4").is_file()
