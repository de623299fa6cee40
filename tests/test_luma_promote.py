"""The ``luma`` engine promoting a previz (``VideoRequest.source``) to the final through Ray
3.2's ``type: video_edit``, against the strict Agents API fake
(tests/fakes/luma_agents_server.py): what reaches Luma (the previz clip uploaded through the
Files API as the source, the controls), the length of what comes back, what is refused before
anything is uploaded or sent, a `continue` shot's frames, and the price."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import ministudio_luma
import pytest
from ministudio.engines import EngineContext
from ministudio.errors import EngineRefusal
from ministudio.jobs import EditRequest, PreviousClip, PrevizSource, VideoRequest, VideoResult
from ministudio.media.encode import VideoWriter
from ministudio.media.probe import probe
from ministudio.testing._kit import solid_png
from ministudio_luma import _agents, _files, _request

from .fakes.clips import solid_planes
from .fakes.luma_agents_server import LumaAgentsServer
from .requests import kite_request

WIDTH, HEIGHT, FPS = 960, 540, 24  # a 540p film


@pytest.fixture(autouse=True)
def _fast_luma(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")


def previz(path: Path, seconds: float, fps: int = FPS) -> PrevizSource:
    """A previz's clip pass: a real H.264 MP4 at the film's size and rate, ``seconds`` long."""
    frames = round(seconds * fps)
    planes = solid_planes(WIDTH, HEIGHT, f"previz {path.name}", band=False)
    with VideoWriter(path, WIDTH, HEIGHT, fps) as writer:
        for _ in range(frames):
            writer.write_yuv420p(planes)
    return PrevizSource(frames=frames, passes={"clip": path})


def promote(source: PrevizSource, fps: int = FPS, **changes: Any) -> VideoRequest:
    """The request the core makes of a promoting engine: the previz's length, not snapped."""
    return kite_request(
        model="ray-3.2",
        source=source,
        duration=source.frames / fps,
        width=WIDTH,
        height=HEIGHT,
        fps=fps,
        **changes,
    )


def context(server: LumaAgentsServer, tmp_path: Path) -> EngineContext:
    """A context whose uploads go through the plugin's Files API upload, once per content."""
    known: dict[bytes, str] = {}

    async def upload(path: Path) -> str:
        content = Path(path).read_bytes()
        if content not in known:
            known[content] = (await _files.upload(Path(path), ctx)).reference
        return known[content]

    env = {"LUMA_BASE_URL": server.api_url, "LUMA_AGENTS_API_KEY": server.api_key}
    ctx = EngineContext(engine="luma", work_dir=tmp_path, env=env, uploader=upload)
    return ctx


def submit(request: VideoRequest, ctx: EngineContext) -> str:
    return anyio.run(_agents.submit, request, ctx).job_id


def fetch(
    server: LumaAgentsServer, job: str, ctx: EngineContext, request: VideoRequest, out: Path
) -> VideoResult:
    assert server.wait_idle()
    status = anyio.run(_agents.poll, job, ctx)
    assert status.state == "succeeded", status
    return anyio.run(_agents.download, job, status, out, ctx, request)


def png(path: Path, colour: tuple[int, int, int] = (10, 20, 30)) -> Path:
    solid_png(path, colour)
    return path


# -- what is sent, and what comes back -----------------------------------------------------------
def test_a_promotion_is_a_video_edit_of_the_uploaded_previz(tmp_path: Path) -> None:
    source = previz(tmp_path / "previz.mp4", 7.0)
    request = promote(source)
    with LumaAgentsServer(latency=0.1, render_scale=0.1) as server:
        ctx = context(server, tmp_path)
        job = submit(request, ctx)
        [sent] = server.create_bodies
        assert sent == {
            "model": "ray-3.2",
            "type": "video_edit",
            "prompt": "a red kite rises over a beach. Preserve the camera motion, framing, "
            "blocking and timing of the source.",
            "source": {"file_id": sent["source"]["file_id"]},
            "video": {
                "resolution": "540p",
                "edit": {
                    "strength": "reimagine_1",
                    "controls": {"depth": {"enabled": True}, "pose": {"enabled": True}},
                },
            },
        }
        file = server.files[sent["source"]["file_id"]]
        assert file.mime_type == "video/mp4" and file.data == (tmp_path / "previz.mp4").read_bytes()
        result = fetch(server, job, ctx, request, tmp_path / "final.mp4")
        made = probe(result.path)
        # the output "matches the source": 7 s, at the fake's own rate
        assert made.frames / made.fps == pytest.approx(7.0, abs=1 / server.fps)
        assert result.cost == pytest.approx(1.44) == server.billed_usd  # two 5 s edit blocks
        # the same previz again: uploaded once per content
        submit(request, ctx)
        assert server.uploads == 1 and len(server.jobs) == 2


def test_routing_option_promote(tmp_path: Path) -> None:
    source = previz(tmp_path / "previz.mp4", 5.0)
    with LumaAgentsServer(latency=0.05, render_scale=0.1) as server:
        ctx = context(server, tmp_path)
        manual = {
            "strength": "flex_2",
            "controls": {"pose": {"enabled": True, "strength": "coarse"}},
        }
        submit(promote(source, options={"promote": manual}), ctx)
        submit(promote(source, options={"promote": {"auto_controls": True}}), ctx)
        edits = [body["video"]["edit"] for body in server.create_bodies]
        assert edits == [manual, {"auto_controls": True}]
        for bad, why in [
            ({"strenght": "flex_1"}, "unknown strenght"),
            ({"strength": "max"}, "strength 'max'"),
            ({"controls": {"edges": {"enabled": True}}}, "controls is a mapping"),
            ({"controls": {"depth": {"blur": 2}}}, "from 0 to 1"),
            ({"controls": {"pose": {"strength": "tight"}}}, "precise or coarse"),
            ({"auto_controls": True, "controls": {"depth": {"enabled": True}}}, "auto_controls"),
            ("reimagine_1", "must be a mapping"),
        ]:
            with pytest.raises(EngineRefusal, match=why):
                submit(promote(source, options={"promote": bad}), ctx)
        misspelt = promote(source, options={"promtoe": {"auto_controls": True}})
        with pytest.raises(EngineRefusal, match=r"unknown promtoe \(it takes extend"):
            submit(misspelt, ctx)
        assert len(server.create_bodies) == 2 and server.uploads == 1


# -- refused before anything is uploaded or sent ------------------------------------------------
def test_a_previz_over_18_s_is_refused_before_upload_or_create(tmp_path: Path) -> None:
    long = previz(tmp_path / "long.mp4", 19.0, fps=12)
    request = promote(long, fps=12)
    with LumaAgentsServer(latency=0.05) as server:
        ctx = context(server, tmp_path)
        with pytest.raises(EngineRefusal, match=r"19\.00 s.*18 s or shorter"):
            ministudio_luma.check_video(engine="luma", request=request, context=ctx)
        with pytest.raises(EngineRefusal, match="18 s or shorter"):
            submit(request, ctx)
        # the check before the previz exists (a `continue` shot's): its frames say its length
        gone = PrevizSource(frames=19 * 24, passes={"clip": tmp_path / "not-yet.mp4"})
        with pytest.raises(EngineRefusal, match="18 s or shorter"):
            ministudio_luma.check_video(engine="luma", request=promote(gone), context=ctx)
        # a clip longer than the request says: probed, and refused before its upload
        lying = PrevizSource(frames=120, passes={"clip": long.passes["clip"]})
        with pytest.raises(EngineRefusal, match="18 s or shorter"):
            submit(promote(lying), ctx)
        for other, why in [
            (promote(previz(tmp_path / "loop.mp4", 5.0), loop=True), "loop"),
            (promote(PrevizSource(frames=120, passes={"depth": long.passes["clip"]})), "'clip'"),
        ]:
            with pytest.raises(EngineRefusal, match=why):
                submit(other, ctx)
        assert list(server.requests) == [] and server.uploads == 0
    ministudio_luma.check_video(
        engine="luma",
        request=promote(previz(tmp_path / "ok.mp4", 18.0, fps=12), fps=12),
        context=ctx,
    )


def test_a_refused_short_source_says_why(tmp_path: Path) -> None:
    """The docs name no shortest source; if Luma has one, its refusal reaches the shot."""
    short = previz(tmp_path / "short.mp4", 1.0)
    with LumaAgentsServer(latency=0.05, edit_min_source_seconds=2.0) as server:
        with pytest.raises(EngineRefusal, match="at least 2 seconds"):
            submit(promote(short), context(server, tmp_path))
        assert server.submissions == 0


# -- a `continue` shot ----------------------------------------------------------------------------
def test_a_continue_shot_starts_from_the_promoted_previous_frame(tmp_path: Path) -> None:
    source = previz(tmp_path / "previz.mp4", 6.0)
    first, last = png(tmp_path / "first.png"), png(tmp_path / "last.png", (200, 10, 10))
    previous = PreviousClip(engine="luma", job_id="an-earlier-generation")
    with LumaAgentsServer(latency=0.05, render_scale=0.1) as server:
        ctx = context(server, tmp_path)
        # the first frame is the edit's single guide frame; never an extension of `previous`
        submit(promote(source, first_frame=first, previous=previous), ctx)
        video = server.create_bodies[-1]["video"]
        assert set(video) == {"resolution", "edit", "start_frame"}
        assert server.files[video["start_frame"]["file_id"]].mime_type == "image/png"
        # with an end frame too: both on the source's frame grid as edit keyframes
        submit(promote(source, first_frame=first, last_frame=last), ctx)
        video = server.create_bodies[-1]["video"]
        assert "start_frame" not in video
        assert video["edit"]["keyframe_indexes"] == [0, 143]  # 6 s x 24 fps, the last frame
        assert len(video["edit"]["keyframes"]) == 2
        assert video["edit"]["strength"] == "reimagine_1"
        assert server.submissions == 2


def test_an_edit_of_a_take_wins_over_its_source(tmp_path: Path) -> None:
    """The ``edit`` retake rung on a promoted take edits that take, as before."""
    source = previz(tmp_path / "previz.mp4", 5.0)
    with LumaAgentsServer(latency=0.05, render_scale=0.1) as server:
        ctx = context(server, tmp_path)
        take = submit(promote(source), ctx)
        assert server.wait_idle()
        edit = EditRequest(job_id=take, reasons=("the kite is blue",))
        submit(promote(source, edit=edit), ctx)
        sent = server.create_bodies[-1]
        assert sent["source"] == {"generation_id": take}
        assert sent["video"]["edit"] == {"auto_controls": True}
        assert "Fix what is wrong" in sent["prompt"]


# -- price and declaration ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seconds", "size", "price"),
    [
        (5.0, (1280, 720), 1.08),
        (7.0, (1280, 720), 2.16),  # a 7 s previz: two 5 s blocks, the 10 s edit price
        (10.0, (1920, 1080), 4.32),
        (12.5, (1280, 720), 3.24),  # past the table: the same rate per block (ours)
        (18.0, (960, 540), 2.88),
    ],
)
def test_a_promotion_is_priced_per_started_5_s_of_source(
    seconds: float, size: tuple[int, int], price: float
) -> None:
    frames = round(seconds * FPS)
    source = PrevizSource(frames=frames, passes={"clip": Path("/nonexistent/previz.mp4")})
    request = kite_request(
        model="ray-3.2", source=source, duration=seconds, width=size[0], height=size[1], fps=FPS
    )
    assert _request.cost(request) == pytest.approx(price)
    assert ministudio_luma.estimate_cost(engine="luma", request=request) == pytest.approx(price)


def test_luma_declares_the_clip_pass_only() -> None:
    spec = ministudio_luma.AGENTS_ENGINE.spec()
    assert spec.capabilities.video_edit == ("clip",)
    assert all(v.capabilities.video_edit == ("clip",) for v in spec.variants)
    assert ministudio_luma.DREAM_MACHINE_ENGINE.spec().capabilities.video_edit == ()


def test_a_video_past_the_bound_is_not_uploaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = previz(tmp_path / "previz.mp4", 5.0)
    monkeypatch.setattr(_files, "MAX_VIDEO_BYTES", 1000)
    with LumaAgentsServer(latency=0.05) as server:
        with pytest.raises(EngineRefusal, match="more than the 0 MB a previz may have"):
            submit(promote(source), context(server, tmp_path))
        assert server.uploads == 0 and server.create_bodies == []


def test_an_animatic_previz_end_to_end(tmp_path: Path) -> None:
    """A previz made by the embedded animatic engine, promoted: what comes back is as long as
    the animatic, and its price is the 360p shot's (priced as 540p: two 5 s blocks)."""
    from ministudio.engines.animatic.render import render_clip

    shot = kite_request(duration=6.0, width=640, height=360, fps=FPS)
    clip = render_clip(shot, tmp_path / "animatic.mp4")
    frames = probe(clip).frames
    request = shot.model_copy(
        update={
            "model": "ray-3.2",
            "source": PrevizSource(frames=frames, passes={"clip": clip}),
            "duration": frames / FPS,
        }
    )
    with LumaAgentsServer(latency=0.05, render_scale=0.2) as server:
        ctx = context(server, tmp_path)
        ministudio_luma.check_video(engine="luma", request=request, context=ctx)
        job = submit(request, ctx)
        assert server.create_bodies[0]["video"]["resolution"] == "360p"
        made = probe(fetch(server, job, ctx, request, tmp_path / "final.mp4").path)
    assert made.frames / made.fps == pytest.approx(frames / FPS, abs=1 / server.fps)
    assert _request.cost(request) == pytest.approx(1.44)
