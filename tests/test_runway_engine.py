"""The ``runway`` engine (ministudio-provider-runway) against the strict loopback fake of
Runway's API (tests/fakes/runway_server.py), through the official runwayml SDK: hook by hook,
and the conformance kit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import ministudio_runway
import pytest
from ministudio.engines import EngineContext
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MissingKeyError,
    TransientError,
)
from ministudio.jobs import EditRequest, VideoRequest
from ministudio.testing import VideoEngineConformance
from ministudio.testing._kit import solid_png
from ministudio_runway import _request, _tasks
from ministudio_runway._catalog import spec

from .fakes.kit import KitFaults
from .fakes.runway_server import RunwayServer
from .requests import kite_request

KEY = "rw-engine-SECRET-77aa"


def _request_of(**changes: Any) -> VideoRequest:
    return kite_request(**changes)


def _context(server: RunwayServer, tmp_path: Path, **env: str) -> EngineContext:
    async def upload(path: Path) -> str:
        return f"https://assets.example.test/{path.name}"  # recorded, not fetched

    return EngineContext(
        engine="runway",
        work_dir=tmp_path,
        env={"RUNWAYML_BASE_URL": server.base_url, "RUNWAYML_API_SECRET": server.api_key, **env},
        uploader=upload,
    )


async def _until_done(job_id: str, context: EngineContext) -> Any:
    for _ in range(400):
        status = await _tasks.poll(job_id, context)
        if status.state in ("succeeded", "failed"):
            return status
        await anyio.sleep(0.02)
    raise AssertionError("the task never finished")


def _render(request: VideoRequest, context: EngineContext, output: Path) -> Any:
    async def run() -> Any:
        made = await _tasks.submit(request, context)
        status = await _until_done(made.job_id, context)
        return await _tasks.download(made.job_id, status, output, context, request)

    return anyio.run(run)


def test_text_to_video_renders_a_real_mp4(tmp_path: Path) -> None:
    with RunwayServer(api_key=KEY, latency=0.05) as server:
        result = _render(_request_of(), _context(server, tmp_path), tmp_path / "out.mp4")
        (task,) = server.created
        assert task.endpoint == "text_to_video"
        assert task.body == {
            "model": "gen4.5",
            "ratio": "1280:720",
            "duration": 5,
            "seed": 1,
            "promptText": "a red kite rises over a beach",
        }
        assert result.path.read_bytes()[4:8] == b"ftyp"
        assert result.model == "gen4.5" and result.cost == pytest.approx(5 * 0.12)


def test_a_first_frame_goes_as_a_data_uri_to_image_to_video(tmp_path: Path) -> None:
    frame = tmp_path / "frame.png"
    solid_png(frame, (10, 20, 30))
    with RunwayServer(api_key=KEY, latency=0.05) as server:
        request = _request_of(first_frame=frame, aspect_ratio="1:1", model="gen4_turbo")
        _render(request, _context(server, tmp_path), tmp_path / "out.mp4")
        (task,) = server.created
        assert task.endpoint == "image_to_video" and task.body["model"] == "gen4_turbo"
        assert task.body["ratio"] == "960:960"
        (image,) = task.body["promptImage"]
        assert image["position"] == "first" and image["uri"].startswith("data:image/png;base64,")


def test_a_big_first_frame_is_uploaded_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = tmp_path / "frame.png"
    solid_png(frame, (10, 20, 30))
    monkeypatch.setattr(_request, "MAX_DATA_URI", 10)
    with RunwayServer(api_key=KEY, latency=0.05) as server:
        _render(_request_of(first_frame=frame), _context(server, tmp_path), tmp_path / "o.mp4")
        (image,) = server.created[0].body["promptImage"]
        assert image["uri"] == "https://assets.example.test/frame.png"


def test_throttled_tasks_are_queued(tmp_path: Path) -> None:
    with RunwayServer(api_key=KEY, latency=0.05, throttled=1.0) as server:
        context = _context(server, tmp_path)

        async def run() -> list[str]:
            made = await _tasks.submit(_request_of(), context)
            first = await _tasks.poll(made.job_id, context)
            done = await _until_done(made.job_id, context)
            return [first.state, done.state]

        assert anyio.run(run) == ["queued", "succeeded"]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"model": "gen4_turbo"}, "from an image only"),
        ({"aspect_ratio": "1:1"}, "16:9 or 9:16"),
        ({"prompt": "x" * 1001}, "1001 UTF-16 units"),
        ({"duration": 11.0}, "not 11 s"),
        ({"model": "gen3a_turbo"}, "not offered"),
        ({"model": "aleph2"}, "edits takes"),
        ({"model": "gen4_aleph"}, "retired"),
    ],
)
def test_impossible_requests_are_refused_before_sending(
    tmp_path: Path, changes: dict[str, Any], match: str
) -> None:
    with RunwayServer(api_key=KEY) as server:
        with pytest.raises(EngineRefusal, match=match):
            anyio.run(_tasks.submit, _request_of(**changes), _context(server, tmp_path))
        assert server.created == [] and server.requests == []


def test_a_last_frame_is_refused(tmp_path: Path) -> None:
    frame = tmp_path / "frame.png"
    solid_png(frame, (1, 2, 3))
    with pytest.raises(EngineRefusal, match="first frame only"):
        _request.check(_request_of(first_frame=frame, last_frame=frame))


def test_submit_errors_map_to_the_core_types(tmp_path: Path) -> None:
    with RunwayServer(api_key=KEY, latency=0.05) as server:
        context = _context(server, tmp_path)
        server.fail_next("text_to_video", "429")
        with pytest.raises(TransientError):
            anyio.run(_tasks.submit, _request_of(), context)
        server.fail_next("text_to_video", "500")
        with pytest.raises(AmbiguousSubmission):
            anyio.run(_tasks.submit, _request_of(), context)
        server.fail_next("text_to_video", "lost")
        with pytest.raises(AmbiguousSubmission):
            anyio.run(_tasks.submit, _request_of(), context)
        assert len(server.created) == 1  # the lost one was made (and billed)
        bad = _context(server, tmp_path, RUNWAYML_API_SECRET="wrong")
        with pytest.raises(MissingKeyError, match="RUNWAYML_API_SECRET") as denied:
            anyio.run(_tasks.submit, _request_of(), bad)
        assert "wrong" not in str(denied.value)
        with pytest.raises(AmbiguousSubmission):
            anyio.run(_tasks.find_lost)


def test_failed_tasks_say_why_and_safety_is_a_refusal(tmp_path: Path) -> None:
    with RunwayServer(api_key=KEY, latency=0.05) as server:
        context = _context(server, tmp_path)

        async def run(code: str) -> Any:
            server.fail_next_task("The output was moderated", code)
            made = await _tasks.submit(_request_of(), context)
            return await _until_done(made.job_id, context)

        refused = anyio.run(run, "SAFETY.OUTPUT.VIDEO")
        assert refused.state == "failed" and refused.refused
        assert "SAFETY.OUTPUT.VIDEO" in (refused.error or "")
        plain = anyio.run(run, "INTERNAL.BAD_OUTPUT")
        assert plain.state == "failed" and not plain.refused


def test_an_expired_output_url_is_fetched_again(tmp_path: Path) -> None:
    with RunwayServer(api_key=KEY, latency=0.05) as server:
        server.fail_next("file", "expired")
        result = _render(_request_of(), _context(server, tmp_path), tmp_path / "out.mp4")
        assert result.path.stat().st_size > 0


def test_an_unknown_task_is_an_engine_error(tmp_path: Path) -> None:
    with (
        RunwayServer(api_key=KEY) as server,
        pytest.raises(EngineError, match="unknown to Runway"),
    ):
        anyio.run(_tasks.poll, "no-such-task", _context(server, tmp_path))


def test_the_declaration() -> None:
    declared = spec()
    assert declared.id == "runway" and declared.default_model == "gen4.5"
    assert [v.model for v in declared.variants] == ["gen4.5"]
    assert declared.capabilities.first_frame and not declared.capabilities.last_frame
    assert declared.capabilities.max_references == 0 and declared.capabilities.seed
    assert [m.id for m in declared.models] == ["gen4.5", "gen4_turbo"]
    # the edit rung reaches the engine through its variant (the ladder reads the narrowed spec)
    assert declared.capabilities.edit and all(v.capabilities.edit for v in declared.variants)


# -- edits: Aleph 2.0 (video_to_video) on the engine's own take ---------------------------------
def test_an_edit_sends_aleph_the_takes_fresh_output_url(tmp_path: Path) -> None:
    with RunwayServer(api_key=KEY, latency=0.05) as server:
        context = _context(server, tmp_path)
        first = _render(_request_of(), context, tmp_path / "first.mp4")
        edit = EditRequest(job_id=first.engine_job_id, reasons=("the kite is green.", "blurry"))
        request = _request_of(edit=edit, model="gen4_turbo")  # the take's model: any
        result = _render(request, context, tmp_path / "edit.mp4")
        source, aleph = server.created
        assert aleph.endpoint == "video_to_video"
        assert aleph.body == {
            "model": "aleph2",
            "videoUri": f"{server.base_url}/files/{source.id}.mp4",
            "promptText": "Edit this video: fix the kite is green; blurry. Keep everything "
            "else. The shot: a red kite rises over a beach",
            "ratio": "1280:720",
            "seed": 1,
        }
        assert result.engine_job_id == aleph.id and result.model == "aleph2"
        assert result.path.read_bytes()[4:8] == b"ftyp"
        # aleph2: 28 credits/s at $0.01, the take's 5 s
        assert result.cost == pytest.approx(1.40) == _request.cost(request)


def test_an_edit_prompt_keeps_the_fix_whole_within_1000_utf16_units() -> None:
    edit = EditRequest(job_id="t", reasons=("the sky is 😀 green",))
    request = _request_of(edit=edit, prompt="😀" * 900)
    said = _request.edit_prompt(request)
    assert said.startswith("Edit this video: fix the sky is 😀 green. Keep everything else.")
    assert _request.utf16_units(said) <= 1000 and "\ufffd" not in said
    assert _request.edit_prompt(_request_of(edit=edit, prompt="")).endswith("everything else.")


def test_an_edit_is_priced_at_alephs_minimum() -> None:
    edit = EditRequest(job_id="t", reasons=("x",))
    assert _request.cost(_request_of(edit=edit, duration=2.0)) == pytest.approx(0.56)
    with pytest.raises(EngineRefusal, match="2 to 30 s"):
        _request.check(_request_of(edit=edit, duration=1.0))


def test_an_edit_of_a_take_runway_no_longer_has_says_what_to_do(tmp_path: Path) -> None:
    with RunwayServer(api_key=KEY, latency=0.05) as server:
        context = _context(server, tmp_path)
        first = _render(_request_of(), context, tmp_path / "first.mp4")
        server.tasks[first.engine_job_id].deleted = True  # deleted, or kept no longer
        edit = EditRequest(job_id=first.engine_job_id, reasons=("blurry",))
        with pytest.raises(_tasks.SourceGone, match="put `seed` before `edit`") as gone:
            anyio.run(_tasks.submit, _request_of(edit=edit), context)
        assert not gone.value.retryable and gone.value.job_id == first.engine_job_id
        assert len(server.created) == 1  # nothing paid for the edit


def test_an_edit_whose_video_runway_cannot_fetch_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RunwayServer(api_key=KEY, latency=0.05) as server:
        context = _context(server, tmp_path)
        first = _render(_request_of(), context, tmp_path / "first.mp4")

        async def stale(job_id: str, context: EngineContext) -> str:
            return f"{server.base_url}/files/expired.mp4"  # a URL that no longer works

        monkeypatch.setattr(_tasks, "source_url", stale)
        edit = EditRequest(job_id=first.engine_job_id, reasons=("blurry",))
        with pytest.raises(_tasks.SourceGone, match="refused its video"):
            anyio.run(_tasks.submit, _request_of(edit=edit), context)
        assert len(server.created) == 1


def test_a_failed_check_makes_the_edit_rung_send_aleph_the_first_take(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A render whose first take of s1 fails a check, with ``qc.ladder: [edit]``: the edit
    rung asks Runway's Aleph to change that take, by the check's reason, and keeps it."""
    from ministudio.plugins import PluginHost
    from ministudio.run.render import render
    from ministudio.run.store import ContentStore
    from ministudio.spec import Production
    from ministudio.testing.video.inputs import _FailsFirstTake

    monkeypatch.setenv("RUNWAY_EXPECTED_LATENCY", "0.2")
    host = PluginHost(env={})
    host.register(_FailsFirstTake("s1"), "fails-first-take")
    film = Production.model_validate(
        {
            "title": "Edited",
            "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 12},
            "characters": {"ann": {"name": "Ann", "dna": "a woman, red coat"}},
            "environments": {"park": {"description": "a park", "lighting": "day"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [
                        {"id": "s1", "action": "Ann waves", "characters": ["ann"], "duration": 5}
                    ],
                }
            ],
            "routing": {"video": "runway"},
            "qc": {"retakes": 1, "ladder": ["edit"]},
        }
    )
    with RunwayServer(api_key=KEY, latency=0.1) as server:
        manifest = render(
            film,
            tmp_path / "out",
            host=host,
            store=ContentStore(tmp_path / "store"),
            env={
                "RUNWAYML_BASE_URL": server.base_url,
                "RUNWAYML_API_SECRET": KEY,
                "RUNWAY_POLL_INTERVAL": "0.05",
            },
        )
        take, aleph = server.created
    assert take.endpoint == "text_to_video" and aleph.endpoint == "video_to_video"
    assert aleph.body["model"] == "aleph2"
    assert aleph.body["videoUri"] == f"{server.base_url}/files/{take.id}.mp4"
    assert aleph.body["promptText"].startswith("Edit this video: fix the kit fails take one.")
    assert " The shot: " in aleph.body["promptText"] and "Ann" in aleph.body["promptText"]
    assert aleph.body["ratio"] == "1280:720"
    (shot,) = manifest.shots
    first, edit = shot.takes
    assert (first.rung, edit.rung) == ("first", "edit")
    assert (first.engine_job_id, edit.engine_job_id) == (take.id, aleph.id)
    assert edit.kept and shot.state == "done"
    assert edit.cost == pytest.approx(5 * 0.28)


# -- the conformance kit ----------------------------------------------------------------------
class RunwayFaults(KitFaults):
    """The kit's ``submit`` is the fake's ``text_to_video`` (the kit's shots are text shots;
    ``continue`` shots go to ``image_to_video``), its ``download`` the ``file`` endpoint. The
    kit's submit "500" is a server error the engine may retry: a 502 (a gateway's answer);
    a 500 after the create was sent may have made a task, so the plugin takes it as
    ambiguous (test_submit_errors_map_to_the_core_types)."""

    def fail_next(self, endpoint: str, kind: str) -> None:
        if kind == "refuse":
            raise NotImplementedError("use refused_action")
        target = {"submit": "text_to_video", "download": "file"}.get(endpoint, endpoint)
        if target == "text_to_video" and kind == "500":
            kind = "502"
        self.server.fail_next(target, {"truncate": "cut"}.get(kind, kind))


class TestRunwayConformance(VideoEngineConformance):
    engine_id = "runway"
    sdk_modules = ("runwayml",)

    def plugin(self) -> object:
        return ministudio_runway

    @pytest.fixture(autouse=True)
    def server(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunwayServer]:
        monkeypatch.setenv("RUNWAY_EXPECTED_LATENCY", "0.2")  # read by ministudio_engines
        with RunwayServer(api_key=KEY, latency=0.1, throttled=0.05) as server:
            yield server

    @pytest.fixture
    def engine_env(self, server: RunwayServer) -> dict[str, str]:
        return {
            "RUNWAYML_BASE_URL": server.base_url,
            "RUNWAYML_API_SECRET": server.api_key,
            "RUNWAY_POLL_INTERVAL": "0.05",  # Runway's own pace is one poll in 5 s
        }

    @pytest.fixture
    def engine_faults(self, server: RunwayServer) -> RunwayFaults:
        return RunwayFaults(server)


def test_a_film_with_one_shot_routed_to_runway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installed plugin is discovered through its entry point; routing alone decides;
    the continuing shot goes to Runway from the first shot's last frame (image_to_video)."""
    from ministudio.plugins import PluginHost
    from ministudio.run.render import render
    from ministudio.run.store import ContentStore
    from ministudio.spec import Production

    monkeypatch.setenv("RUNWAY_EXPECTED_LATENCY", "0.2")
    host = PluginHost(env={})
    assert "runway" in host.engines and "animatic" in host.engines
    film = Production.model_validate(
        {
            "title": "Split",
            "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 24},
            "characters": {"ann": {"name": "Ann", "dna": "a woman, red coat"}},
            "environments": {"park": {"description": "a park", "lighting": "day"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [
                        {"id": "s1", "action": "Ann waves", "characters": ["ann"], "duration": 5},
                        {
                            "id": "s2",
                            "action": "Ann walks",
                            "characters": ["ann"],
                            "duration": 5,
                            "continuity": "continue",
                        },
                    ],
                }
            ],
            "routing": {"video": "animatic", "shots": {"s2": "runway"}},
        }
    )
    with RunwayServer(api_key=KEY, latency=0.1, throttled=0.05) as server:
        manifest = render(
            film,
            tmp_path / "out",
            host=host,
            store=ContentStore(tmp_path / "store"),
            env={"RUNWAYML_BASE_URL": server.base_url, "RUNWAYML_API_SECRET": KEY},
        )
        (task,) = server.created
        assert task.endpoint == "image_to_video" and task.body["model"] == "gen4.5"
    engines = {shot.id: shot.engine for shot in manifest.shots}
    assert engines == {"s1": "animatic", "s2": "runway"}
    assert all(shot.state == "done" for shot in manifest.shots)
    assert (tmp_path / "out" / "film.mp4").exists()


def test_cancel_takes_a_waiting_task_and_leaves_a_finished_one(tmp_path: Path) -> None:
    """``ministudio cancel``: a task still throttled is cancelled (DELETE); a finished one
    is left alone (a DELETE would delete its output)."""

    async def run(server: RunwayServer) -> tuple[bool, str]:
        context = _context(server, tmp_path)
        made = await _tasks.submit(_request_of(), context)
        taken = await ministudio_runway.RUNWAY.cancel(made.job_id, context)
        return taken, made.job_id

    with RunwayServer(api_key=KEY, latency=0.05, throttled=30.0) as server:
        taken, job_id = anyio.run(run, server)
        assert taken and server.tasks[job_id].cancelled
        status = anyio.run(_tasks.poll, job_id, _context(server, tmp_path))
        assert status.state == "failed" and "cancelled" in (status.error or "")
    with RunwayServer(api_key=KEY, latency=0.05) as server:
        context = _context(server, tmp_path)
        _render(_request_of(), context, tmp_path / "done.mp4")
        (task,) = server.created
        assert not anyio.run(ministudio_runway.RUNWAY.cancel, task.id, context)
        assert not task.deleted and not task.cancelled
