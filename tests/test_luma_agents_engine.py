"""The ``luma`` engine (ministudio-provider-luma: Ray 3.2 on Luma's Agents API, through the
official luma-agents SDK) against the strict loopback fake of the Agents API
(tests/fakes/luma_agents_server.py): the conformance kit, then hook by hook: what is sent for
each kind of shot, what is refused before sending, the Files API, how failures map, expired
output URLs, extensions (with and without their source in the answer) and edits. The
``luma-dream-machine`` engine runs the same kit in tests/test_luma_engine.py against its own
fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import ministudio_luma
import pytest
from ministudio.engines import EngineContext
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MissingKeyError,
    TransientError,
)
from ministudio.jobs import (
    EditRequest,
    JobStatus,
    PreviousClip,
    VideoRequest,
)
from ministudio.testing import VideoEngineConformance
from ministudio.testing._kit import solid_png
from ministudio_luma import _agents, _files

from .fakes.kit import KitFaults
from .fakes.luma_agents_server import LumaAgentsServer
from .requests import kite_request

KEY = "luma-api-conformance-SECRET-9c2d"


class AgentsFaults(KitFaults):
    """The kit's faults on the Agents fake. The kit's "500" is a server error the engine may
    retry: Luma documents 502 and 503 as such (its error-handling guide); a 500 after the
    create was sent may have made a job, so the plugin takes it as ambiguous."""

    def kind(self, endpoint: str, kind: str) -> str:
        if endpoint == "create" and kind == "500":
            return "502"
        return kind


def agents_env(server: LumaAgentsServer, **more: str) -> dict[str, str]:
    return {"LUMA_BASE_URL": server.api_url, "LUMA_AGENTS_API_KEY": server.api_key, **more}


@pytest.fixture(autouse=True)
def _fast_luma(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")  # read when the engines are declared


class TestLumaAgentsConformance(VideoEngineConformance):
    engine_id = "luma"
    sdk_modules = ("luma_agents", "lumaai")
    refused_action = "Ann does something forbidden"  # the fake's moderation blocks it

    def plugin(self) -> object:
        return ministudio_luma

    @pytest.fixture(autouse=True)
    def server(self) -> Iterator[LumaAgentsServer]:
        with LumaAgentsServer(
            api_key=KEY, latency=(0.1, 0.1), render_scale=0.05, fault_retry_after=0.05
        ) as server:
            yield server

    @pytest.fixture
    def engine_env(self, server: LumaAgentsServer) -> dict[str, str]:
        return agents_env(server)

    @pytest.fixture
    def engine_faults(self, server: LumaAgentsServer) -> AgentsFaults:
        return AgentsFaults(server)


# -- hook by hook ---------------------------------------------------------------------------
def _request(**changes: Any) -> VideoRequest:
    return kite_request(**{"model": "ray-3.2", **changes})


def _context(env: dict[str, str], tmp_path: Path) -> EngineContext:
    """A context whose uploads go through the plugin's Files API upload, once per path."""
    known: dict[Path, str] = {}

    async def upload(path: Path) -> str:
        if path not in known:
            known[path] = (await _files.upload(path, context)).reference
        return known[path]

    context = EngineContext(engine="luma", work_dir=tmp_path, env=env, uploader=upload)
    return context


def _submit(request: VideoRequest, context: EngineContext) -> str:
    return anyio.run(_agents.submit, request, context).job_id


def _done(server: LumaAgentsServer, job_id: str, context: EngineContext) -> JobStatus:
    assert server.wait_idle()
    status = anyio.run(_agents.poll, job_id, context)
    assert status.state == "succeeded", status
    return status


def _download(
    job_id: str, context: EngineContext, request: VideoRequest, out: Path
) -> tuple[Path, float]:
    status = anyio.run(_agents.poll, job_id, context)
    result = anyio.run(_agents.download, job_id, status, out, context, request)
    from ministudio.media.probe import probe

    info = probe(result.path)
    return result.path, info.frames / info.fps


def _png(path: Path, colour: tuple[int, int, int] = (10, 20, 30)) -> Path:
    solid_png(path, colour)
    return path


def test_text_to_video_sends_only_what_the_sdk_types_name(tmp_path: Path) -> None:
    with LumaAgentsServer(latency=0.05, render_scale=0.05) as server:
        context = _context(agents_env(server), tmp_path)
        job_id = _submit(_request(), context)
        sent = server.jobs[job_id].request
        assert sent == {
            "model": "ray-3.2",
            "type": "video",
            "prompt": "a red kite rises over a beach",
            "aspect_ratio": "16:9",
            "video": {"duration": "5s", "resolution": "720p"},
        }
        status = _done(server, job_id, context)
        assert status.video_url and not status.thin
        path, seconds = _download(job_id, context, _request(), tmp_path / "clip.mp4")
        assert path.is_file() and seconds == pytest.approx(5.0, abs=0.2)


def test_frames_go_through_the_files_api_re_encoded(tmp_path: Path) -> None:
    """5 s: start_frame and end_frame as file ids; the bytes Luma got are the image's pixels
    re-encoded as PNG (no metadata); the same image is one file."""
    from ministudio.safety.images import reencoded

    first, last = _png(tmp_path / "a.png"), _png(tmp_path / "b.png", (200, 30, 30))
    with LumaAgentsServer(latency=0.05, render_scale=0.05) as server:
        context = _context(agents_env(server), tmp_path)
        job_id = _submit(_request(first_frame=first, last_frame=last), context)
        video = server.jobs[job_id].request["video"]
        start, end = video["start_frame"]["file_id"], video["end_frame"]["file_id"]
        assert server.files[start].data == reencoded(first)
        assert server.files[end].data == reencoded(last)
        assert server.files[start].state == "ready" and server.files[start].mime_type == "image/png"
        assert server.files[start].expires_at  # Luma may reclaim it then: the core renews it
        _submit(_request(first_frame=first), context)
        assert len(server.files) == 2


def test_ten_seconds_put_frames_on_keyframes(tmp_path: Path) -> None:
    """10 s takes no start/end frame ("the legacy 2-frame surface"): the frames become
    keyframes at output frames 0 and 240 (24 fps grid)."""
    first, last = _png(tmp_path / "a.png"), _png(tmp_path / "b.png", (200, 30, 30))
    with LumaAgentsServer(latency=0.05, render_scale=0.05) as server:
        context = _context(agents_env(server), tmp_path)
        both = server.jobs[
            _submit(_request(duration=10.0, first_frame=first, last_frame=last), context)
        ]
        video = both.request["video"]
        assert video["duration"] == "10s" and video["keyframe_indexes"] == [0, 240]
        assert "start_frame" not in video and len(video["keyframes"]) == 2
        end_only = server.jobs[_submit(_request(duration=10.0, last_frame=last), context)]
        assert end_only.request["video"]["keyframe_indexes"] == [240]


def test_a_loop_is_sent_where_ray_allows_it_and_refused_before_sending_elsewhere(
    tmp_path: Path,
) -> None:
    first, last = _png(tmp_path / "a.png"), _png(tmp_path / "b.png", (200, 30, 30))
    with LumaAgentsServer(latency=0.05, render_scale=0.05) as server:
        context = _context(agents_env(server), tmp_path)
        job = server.jobs[_submit(_request(loop=True, first_frame=first), context)]
        assert job.request["video"]["loop"] is True and "start_frame" in job.request["video"]
        with pytest.raises(EngineRefusal, match="5 s clips only"):
            _submit(_request(loop=True, duration=10.0), context)
        with pytest.raises(EngineRefusal, match="drop loop or end_frame"):
            _submit(_request(loop=True, last_frame=last), context)
        with pytest.raises(EngineRefusal, match="5 s or 10 s"):
            _submit(_request(duration=7.0), context)
        with pytest.raises(EngineRefusal, match="9:21"):
            _submit(_request(aspect_ratio="9:21"), context)
        assert server.submissions == 1  # nothing refused here reached Luma


@pytest.mark.parametrize("includes_source", [False, True])
def test_a_continue_shot_extends_the_previous_generation_and_keeps_its_new_part(
    tmp_path: Path, includes_source: bool
) -> None:
    """A `continue` shot after a luma clip sends ``{"generation_id"}`` as start_frame (5 s);
    whether Luma answers the new 5 s alone or the whole chain (its docs are silent), the clip
    kept is the new 5 s."""
    frame = _png(tmp_path / "last.png")
    with LumaAgentsServer(
        latency=0.05, render_scale=0.05, extension_includes_source=includes_source
    ) as server:
        context = _context(agents_env(server), tmp_path)
        first = _submit(_request(), context)
        _done(server, first, context)
        request = _request(first_frame=frame, previous=PreviousClip(engine="luma", job_id=first))
        second = _submit(request, context)
        video = server.jobs[second].request["video"]
        assert video == {
            "duration": "5s",
            "resolution": "720p",
            "start_frame": {"generation_id": first},
        }
        assert not server.files  # the last frame was not needed
        _done(server, second, context)
        assert server.jobs[second].duration == (10.0 if includes_source else 5.0)
        _, seconds = _download(second, context, request, tmp_path / "clip.mp4")
        assert seconds == pytest.approx(5.0, abs=0.2)


def test_no_extension_when_it_cannot_be_one(tmp_path: Path) -> None:
    """An end frame, a loop, 10 s, extend: false, or another engine's clip: the shot starts
    from the previous clip's last frame; a generation Luma refuses to extend (gone) too."""
    frame, end = _png(tmp_path / "last.png"), _png(tmp_path / "end.png", (1, 2, 3))
    with LumaAgentsServer(latency=0.05, render_scale=0.05) as server:
        context = _context(agents_env(server), tmp_path)
        first = _submit(_request(), context)
        _done(server, first, context)
        previous = PreviousClip(engine="luma", job_id=first)
        cases = [
            _request(first_frame=frame, previous=previous, last_frame=end),
            _request(first_frame=frame, previous=previous, loop=True),
            _request(first_frame=frame, previous=previous, options={"extend": False}),
            _request(first_frame=frame, previous=PreviousClip(engine="kling", job_id=first)),
            _request(first_frame=frame, previous=PreviousClip(engine="luma", job_id="gone")),
        ]
        for request in cases:
            video = server.jobs[_submit(request, context)].request["video"]
            assert "file_id" in video["start_frame"], video
        ten = _request(duration=10.0, first_frame=frame, previous=previous)
        assert server.jobs[_submit(ten, context)].request["video"]["keyframe_indexes"] == [0]


def test_an_edit_is_a_video_edit_of_the_take(tmp_path: Path) -> None:
    with LumaAgentsServer(latency=0.05, render_scale=0.05) as server:
        context = _context(agents_env(server), tmp_path)
        take = _submit(_request(), context)
        _done(server, take, context)
        edit = EditRequest(job_id=take, reasons=("the kite is blue.", "a hand has six fingers"))
        job = server.jobs[_submit(_request(edit=edit), context)]
        sent = job.request
        assert sent["type"] == "video_edit" and sent["source"] == {"generation_id": take}
        assert sent["video"] == {"resolution": "720p", "edit": {"auto_controls": True}}
        assert "aspect_ratio" not in sent and "duration" not in sent["video"]
        assert sent["prompt"].startswith("a red kite rises over a beach")
        assert "the kite is blue; a hand has six fingers" in sent["prompt"]
        manual = {"strength": "adhere_2", "controls": {"pose": {"enabled": True}}}
        job = server.jobs[_submit(_request(edit=edit, options={"edit": manual}), context)]
        assert job.request["video"]["edit"] == manual
        with pytest.raises(EngineRefusal, match="strength"):
            _submit(_request(edit=edit, options={"edit": {"strength": "max"}}), context)
        assert _request_cost(_request(edit=edit)) == 1.08


def _request_cost(request: VideoRequest) -> float | None:
    return ministudio_luma.estimate_cost(engine="luma", request=request)


def test_prices_follow_the_table() -> None:
    assert _request_cost(_request()) == 0.30
    assert _request_cost(_request(duration=10.0)) == 0.90
    assert _request_cost(_request(width=1920, height=1080)) == 1.20
    assert _request_cost(_request(width=960, height=540, duration=10.0)) == 0.45
    assert _request_cost(_request(width=854, height=480)) == 0.15  # rendered at 540p
    assert _request_cost(_request(width=640, height=360)) == 0.15  # 360p: the 540p price
    assert ministudio_luma.estimate_cost(engine="sim", request=_request()) is None


def test_reference_images_only_with_the_option(tmp_path: Path) -> None:
    """image_ref on type=video is undocumented: not sent unless routing option image_ref;
    Luma refusing it says so."""
    from ministudio.jobs import CharacterBrief

    face = _png(tmp_path / "ann.png", (180, 30, 30))
    ann = CharacterBrief(id="ann", name="Ann", dna="a woman", reference_images=(face,))
    shot = _request().shot.model_copy(update={"characters": (ann,)})
    with LumaAgentsServer(latency=0.05, render_scale=0.05) as server:
        context = _context(agents_env(server), tmp_path)
        job = server.jobs[_submit(_request(shot=shot), context)]
        assert "image_ref" not in job.request
        with pytest.raises(EngineRefusal, match="routing option image_ref"):
            _submit(_request(shot=shot, options={"image_ref": True}), context)
    with LumaAgentsServer(latency=0.05, render_scale=0.05, video_image_refs=9) as server:
        context = _context(agents_env(server), tmp_path)
        job = server.jobs[_submit(_request(shot=shot, options={"image_ref": True}), context)]
        (ref,) = job.request["image_ref"]
        assert set(ref) == {"file_id"}


@pytest.mark.parametrize("detail_format", ["string", "list"])
def test_submit_errors_map_to_the_core_types(tmp_path: Path, detail_format: str) -> None:
    with LumaAgentsServer(
        latency=0.05, render_scale=0.05, fault_retry_after=0.25, detail_format=detail_format
    ) as server:
        context = _context(agents_env(server), tmp_path)
        server.fail_next("create", "429")
        with pytest.raises(TransientError) as info:
            _submit(_request(), context)
        assert info.value.retry_after == pytest.approx(0.25)
        for kind in ("502", "503"):
            server.fail_next("create", kind)
            with pytest.raises(TransientError):
                _submit(_request(), context)
        for kind in ("500", "drop"):
            server.fail_next("create", kind)
            with pytest.raises(AmbiguousSubmission, match="--forget-lost"):
                _submit(_request(), context)
        server.fail_next("create", "402")
        with pytest.raises(EngineRefusal, match="add funds"):
            _submit(_request(), context)
        server.fail_next("create", "422")
        with pytest.raises(EngineRefusal, match="HTTP 422"):
            _submit(_request(), context)
        with pytest.raises(EngineRefusal, match="prompt"):  # Luma's detail, either shape
            _submit(_request(prompt=""), context)
        for kind in ("401", "403"):
            server.fail_next("create", kind)
            with pytest.raises(MissingKeyError, match="LUMA_AGENTS_API_KEY") as denied:
                _submit(_request(), context)
            assert server.api_key not in str(denied.value)
        assert server.submissions == 0


def test_a_lost_create_cannot_be_looked_up(tmp_path: Path) -> None:
    with LumaAgentsServer(latency=0.05) as server:
        context = _context(agents_env(server), tmp_path)
        found = ministudio_luma.find_video_job(
            engine="luma", context=context, request=_request(), since=0.0
        )
        assert found is not None
        with pytest.raises(AmbiguousSubmission, match="no list"):
            anyio.run(lambda: found)


@pytest.mark.parametrize(
    ("code", "refused"),
    [("content_moderated", True), ("invalid_request", True), ("generation_failed", False)],
)
def test_failure_codes(tmp_path: Path, code: str, refused: bool) -> None:
    with LumaAgentsServer(latency=0.05, render_scale=0.05) as server:
        context = _context(agents_env(server), tmp_path)
        server.fail_next_job(code, "nope")
        job_id = _submit(_request(), context)
        assert server.wait_idle()
        status = anyio.run(_agents.poll, job_id, context)
        assert status.state == "failed" and status.refused is refused
        assert status.error is not None and code in status.error
        with pytest.raises(EngineRefusal if refused else EngineError):
            anyio.run(_agents.download, job_id, status, tmp_path / "x.mp4", context, _request())


def test_an_expired_output_url_is_fetched_fresh(tmp_path: Path) -> None:
    """Output URLs last an hour: one that has expired (403) is replaced by a fresh one from
    GET /generations/{id}; a cut-off download is transient and leaves nothing."""
    with LumaAgentsServer(latency=0.05, render_scale=0.05) as server:
        context = _context(agents_env(server), tmp_path)
        job_id = _submit(_request(), context)
        status = _done(server, job_id, context)
        stale = status.model_copy(update={"video_url": server.output_url(job_id, ttl=-10)})
        out = tmp_path / "clip.mp4"
        result = anyio.run(_agents.download, job_id, stale, out, context, _request())
        assert result.path.is_file() and result.cost == 0.30 and result.model == "ray-3.2"
        server.fail_next("download", "truncate")
        with pytest.raises(TransientError):
            anyio.run(_agents.download, job_id, status, tmp_path / "b.mp4", context, _request())
        assert not list(tmp_path.glob("b.mp4*"))


def test_an_unknown_job_and_a_poll_fault(tmp_path: Path) -> None:
    with LumaAgentsServer(latency=0.05) as server:
        context = _context(agents_env(server), tmp_path)
        with pytest.raises(EngineError, match="unknown to Luma"):
            anyio.run(_agents.poll, "00000000-0000-0000-0000-000000000000", context)
        server.fail_next("get", "503")
        with pytest.raises(TransientError):
            anyio.run(_agents.poll, "00000000-0000-0000-0000-000000000000", context)


def test_the_engines_and_their_models() -> None:
    """luma serves ray-3.2 (preview: prices may change before GA) in two variants; Dream
    Machine's models are deprecated in favour of it, with no shutdown date."""
    luma, dream = ministudio_luma.specs()
    assert (luma.id, luma.default_model, luma.key_env) == (
        "luma",
        "ray-3.2",
        ("LUMA_AGENTS_API_KEY",),
    )
    assert [m.stage for m in luma.models] == ["preview"]
    assert [(v.model, v.capabilities.durations) for v in luma.variants] == [
        ("ray-3.2", (5.0,)),
        ("ray-3.2", (10.0,)),
    ]
    five, ten = (v.capabilities for v in luma.variants)
    assert five.loop and five.extend and not ten.loop and not ten.extend
    assert not luma.capabilities.webhooks and luma.capabilities.edit and luma.marks_sending
    assert dream.id == "luma-dream-machine" and dream.key_env == ("LUMAAI_API_KEY",)
    for model in dream.models:
        assert model.stage == "deprecated" and model.shutdown is None
        assert (model.replacement, model.replacement_engine) == ("ray-3.2", "luma")
        assert "legacy" in model.why
