"""The fal engines that promote a previz (``VideoRequest.source``), against the loopback fake
(tests/fakes/fal_server.py, its rules written from fal's pages: tests/fakes/fal_rules.py):
the declared passes uploaded to fal's storage and sent in the endpoint's field, character
reference images beside them, the output as long as the source, and a source the endpoint
cannot take refused before any upload or submit."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import anyio
import av
import ministudio_fal
import pytest
from ministudio.engines import EngineContext
from ministudio.errors import EngineError
from ministudio.jobs import CharacterBrief, JobStatus, PrevizSource, VideoRequest
from ministudio.media.probe import probe
from ministudio_fal import _request
from ministudio_fal._table import by_engine

from .fakes.clips import solid_planes
from .fakes.fal_rules import KLING_O3_EDIT, VACE_DEPTH, problems
from .fakes.fal_server import API_KEY, FalServer
from .requests import kite_request

VACE = "fal-wan-vace-depth"
KLING = "fal-kling-o3-edit"
MIRA = "mira"


@pytest.fixture
def server() -> Iterator[FalServer]:
    with FalServer(latency=0.05, render_scale=0.05) as fake:
        yield fake


def clip(path: Path, frames: int, width: int, height: int, fps: int = 24) -> Path:
    """A solid MP4 of exactly ``frames`` frames (a previz pass)."""
    rate = Fraction(fps)
    planes = solid_planes(width, height, path.stem, band=False)
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=rate, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts, frame.time_base = i, 1 / rate
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    return path


def picture(path: Path) -> Path:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + path.stem.encode())
    return path


def context(server: FalServer, tmp: Path, engine: str) -> EngineContext:
    async def uploader(path: Path) -> str:  # the frames' asset host (not used for passes)
        return f"https://assets.example/{Path(path).name}"

    env = {
        "FAL_KEY": API_KEY,
        "FAL_QUEUE_URL": server.base_url,
        "FAL_REST_URL": server.base_url,
        "FAL_TIMEOUT": "10",
    }
    return EngineContext(engine=engine, work_dir=tmp, env=env, uploader=uploader)


def promote(
    tmp: Path, passes: dict[str, Path], frames: int, *, refs: bool = True, **changes: Any
) -> VideoRequest:
    characters = ()
    if refs:
        image = picture(tmp / "mira-front.png")
        characters = (
            CharacterBrief(id=MIRA, name="Mira", dna="a girl", reference_images=(image,)),
        )
    return kite_request(
        characters=characters,
        source=PrevizSource(frames=frames, passes=passes),
        duration=frames / 24,
        **changes,
    )


def run(awaitable: Any) -> Any:
    async def main() -> Any:
        return await awaitable

    return anyio.run(main)


def submit(req: VideoRequest, ctx: EngineContext, engine: str) -> str:
    made = ministudio_fal.submit_video(engine=engine, request=req, idempotency_key="k", context=ctx)
    assert made is not None
    return str(run(made).job_id)


def finish(
    server: FalServer, job: str, ctx: EngineContext, engine: str, req: Any, out: Path
) -> Any:
    deadline = time.monotonic() + 10
    while server.state(server.jobs[job]) != "COMPLETED" and time.monotonic() < deadline:
        time.sleep(0.02)
    made = ministudio_fal.download_video(
        engine=engine,
        job_id=job,
        status=JobStatus(job_id=job, state="succeeded"),
        output=out,
        context=ctx,
        request=req,
    )
    return run(made)


def uploaded(server: FalServer, url: str) -> bytes:
    ident = url.removeprefix(f"{server.base_url}/storage/files/").partition("/")[0]
    return bytes(server.uploads[ident]["data"])


def test_the_promoting_engines_declare_the_passes_they_take() -> None:
    specs = {s.id: s for s in ministudio_fal.ministudio_engines()}
    assert specs[VACE].capabilities.video_edit == ("depth",)
    assert specs[KLING].capabilities.video_edit == ("clip",)
    assert specs[KLING].capabilities.resolutions == ("720p", "1080p")
    assert specs[VACE].capabilities.resolutions == ("480p", "720p")
    assert specs[KLING].capabilities.max_references == 4
    others = [s for s in specs.values() if s.id not in (VACE, KLING)]
    assert all(not s.capabilities.video_edit for s in others)


@pytest.mark.parametrize("engine", [VACE, KLING])
def test_a_request_without_a_previz_is_refused(engine: str, tmp_path: Path) -> None:
    ctx = EngineContext(engine=engine, work_dir=tmp_path)
    with pytest.raises(EngineError, match=r"only promotes a previz: set routing\.previz"):
        ministudio_fal.check_video(engine=engine, request=kite_request(), context=ctx)


def test_wan_vace_takes_the_depth_pass_as_its_control_video(
    server: FalServer, tmp_path: Path
) -> None:
    depth = clip(tmp_path / "depth.mp4", 90, 128, 72)
    req = promote(tmp_path, {"depth": depth}, 90)
    ctx = context(server, tmp_path, VACE)
    job = submit(req, ctx, VACE)
    sent = server.jobs[job].body
    assert uploaded(server, sent["video_url"]) == depth.read_bytes()  # the depth pass itself
    assert sent["preprocess"] is False  # used as the control video, not re-extracted
    assert sent["match_input_num_frames"] is True and sent["match_input_frames_per_second"]
    assert sent["resolution"] == "720p" and sent["aspect_ratio"] == "16:9"
    assert len(sent["ref_image_urls"]) == 1
    assert uploaded(server, sent["ref_image_urls"][0]) == (tmp_path / "mira-front.png").read_bytes()
    assert "duration" not in sent and "num_frames" not in sent
    upload = next(iter(server.uploads.values()))
    assert upload["storage_type"] == "fal-cdn-v3" and upload["content_type"] == "video/mp4"
    out = finish(server, job, ctx, VACE, req, tmp_path / "out.mp4")
    info = probe(out.path)
    assert info.frames == 90 and info.fps == pytest.approx(24)  # the source's frames and rate
    assert out.cost == pytest.approx(0.10 * 90 / 16)  # "video seconds ... at 16 frames per second"
    assert server.jobs[job].errors == [] and server.billed == [job]


def test_kling_edits_the_previz_clip_with_the_characters_images(
    server: FalServer, tmp_path: Path
) -> None:
    previz = clip(tmp_path / "clip.mp4", 84, 1280, 720)
    req = promote(tmp_path, {"clip": previz}, 84)
    ctx = context(server, tmp_path, KLING)
    job = submit(req, ctx, KLING)
    sent = server.jobs[job].body
    assert uploaded(server, sent["video_url"]) == previz.read_bytes()
    assert sent["keep_audio"] is False
    assert sent["prompt"] == "a red kite rises over a beach Mira looks like @Image1."
    assert uploaded(server, sent["image_urls"][0]) == (tmp_path / "mira-front.png").read_bytes()
    assert set(sent) == {"prompt", "video_url", "keep_audio", "image_urls"}
    out = finish(server, job, ctx, KLING, req, tmp_path / "out.mp4")
    info = probe(out.path)
    assert info.duration == pytest.approx(84 / 24, abs=0.05)  # the source's length
    assert out.cost == pytest.approx(0.336 * 84 / 24)


def test_a_pass_is_uploaded_once_per_content(server: FalServer, tmp_path: Path) -> None:
    """Only the declared pass is sent (not the previz's others); twice, it is uploaded once."""
    depth = clip(tmp_path / "depth.mp4", 81, 64, 36)
    other = tmp_path / "mask.mira.mp4"
    other.write_bytes(b"not sent")
    req = promote(tmp_path, {"depth": depth, "mask.mira": other}, 81, refs=False)
    kept: dict[str, str] = {}

    async def remember(key: str, make: Any) -> str:
        if key not in kept:
            made = await make()
            kept[key] = made if isinstance(made, str) else made.reference
        return kept[key]

    ctx = context(server, tmp_path, VACE)
    ctx.remember = remember
    first, second = submit(req, ctx, VACE), submit(req, ctx, VACE)
    assert server.jobs[first].body["video_url"] == server.jobs[second].body["video_url"]
    assert len(server.uploads) == 1


@pytest.mark.parametrize(
    ("engine", "frames", "size", "fps", "match"),
    [
        (VACE, 242, (64, 36), 24, "242 frames; .* takes 81 to 241"),
        (VACE, 60, (64, 36), 24, "60 frames"),
        (VACE, 120, (64, 36), 48, "48 fps is outside the 5-30 fps"),
        (KLING, 252, (1280, 720), 24, r"lasts 10.50 s; .* 3 to 10 s"),
        (KLING, 48, (1280, 720), 24, "lasts 2.00 s"),
        (KLING, 96, (854, 480), 24, "854x480 is outside .* 720-2160 px"),
    ],
)
def test_a_source_the_endpoint_cannot_take_is_refused_before_any_upload(
    server: FalServer,
    tmp_path: Path,
    engine: str,
    frames: int,
    size: tuple[int, int],
    fps: int,
    match: str,
) -> None:
    name = by_engine()[engine].video_edit[0]
    path = tmp_path / f"{name}.mp4"
    path.write_bytes(b"not read: the check uses the source's own numbers")
    width, height = size
    req = promote(tmp_path, {name: path}, frames, width=width, height=height, fps=fps)
    ctx = context(server, tmp_path, engine)
    with pytest.raises(EngineError, match=match):
        ministudio_fal.check_video(engine=engine, request=req, context=ctx)
    with pytest.raises(EngineError, match=match):
        submit(req, ctx, engine)
    assert server.uploads == {} and server.submits == [] and server.jobs == {}


def test_a_missing_pass_or_a_pass_as_an_option_is_refused(tmp_path: Path) -> None:
    previz = tmp_path / "clip.mp4"
    previz.write_bytes(b"x")
    with pytest.raises(EngineError, match="no 'depth' pass"):
        _request.uploads(by_engine()[VACE], promote(tmp_path, {"clip": previz}, 90))
    req = promote(tmp_path, {"clip": previz}, 84, options={"video_url": "https://x/y.mp4"})
    with pytest.raises(EngineError, match="previz's clip pass: not an option"):
        _request.body(by_engine()[KLING], req, {"pass:clip": "https://x/c.mp4"})


def test_a_promote_body_is_what_its_endpoint_takes(tmp_path: Path) -> None:
    """Built by the plugin from the table, checked against the fake's rules (from fal's
    pages); the price of each per the endpoint's own billing."""
    previz = tmp_path / "p.mp4"
    previz.write_bytes(b"x")
    vace = promote(tmp_path, {"depth": previz}, 120, height=480, width=854)
    body = _request.body(
        by_engine()[VACE],
        vace,
        {"pass:depth": "https://x/d.mp4", "references": ["https://x/m.png"]},
    )
    assert problems(VACE_DEPTH, body) == [] and body["resolution"] == "480p"
    assert _request.cost(by_engine()[VACE], vace) == pytest.approx(0.05 * 120 / 16)
    kling = promote(tmp_path, {"clip": previz}, 120, height=1080, width=1920)
    body = _request.body(by_engine()[KLING], kling, {"pass:clip": "https://x/c.mp4"})
    assert problems(KLING_O3_EDIT, body) == []
    assert _request.cost(by_engine()[KLING], kling) == pytest.approx(0.336 * 5)


# -- the fake's own rules (from fal's pages), apart from the plugin ---------------------------


def _stored(server: FalServer, path: Path) -> str:
    import httpx

    with httpx.Client(trust_env=False) as http:
        answer = http.post(
            f"{server.base_url}/storage/upload/initiate?storage_type=fal-cdn-v3",
            json={"content_type": "video/mp4", "file_name": path.name},
            headers={"Authorization": f"Key {API_KEY}"},
        ).json()
        http.put(answer["upload_url"], content=path.read_bytes())
    return str(answer["file_url"])


def _post(server: FalServer, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    import httpx

    with httpx.Client(trust_env=False) as http:
        answer = http.post(
            f"{server.base_url}/{endpoint}", json=body, headers={"Authorization": f"Key {API_KEY}"}
        )
    return {"code": answer.status_code, **answer.json()}


def test_the_fake_refuses_a_source_its_page_refuses(tmp_path: Path) -> None:
    with FalServer(validate_at="submit") as server:
        long = _stored(server, clip(tmp_path / "long.mp4", 264, 1280, 720))
        small = _stored(server, clip(tmp_path / "small.mp4", 72, 640, 360))
        good = clip(tmp_path / "good.mp4", 72, 1280, 720)
        for url in (long, small, "https://elsewhere.example/v.mp4"):
            answer = _post(server, KLING_O3_EDIT, {"prompt": "p", "video_url": url})
            assert answer["code"] == 422, url
        data = "data:video/mp4;base64," + base64.b64encode(good.read_bytes()).decode()
        answer = _post(server, KLING_O3_EDIT, {"prompt": "p", "video_url": data})  # a data URI
        assert answer["code"] == 200
        assert server.jobs[answer["request_id"]].output == (72, 24.0)


@pytest.mark.parametrize(("switch", "code"), [("limit", 422), ("any", 200)])
def test_vace_input_frames_switch(tmp_path: Path, switch: str, code: int) -> None:
    """VACE's page bounds num_frames to 81..241 but not the input with
    match_input_num_frames: the fake's switch answers both ways."""
    with FalServer(validate_at="submit", vace_input_frames=switch) as server:
        url = _stored(server, clip(tmp_path / "d.mp4", 60, 64, 36))
        body = {"prompt": "p", "video_url": url, "match_input_num_frames": True}
        assert _post(server, VACE_DEPTH, body)["code"] == code
        unmatched = _post(server, VACE_DEPTH, {"prompt": "p", "video_url": url})
        assert unmatched["code"] == 200  # num_frames' default 81 at 16 fps then
        assert server.jobs[unmatched["request_id"]].output == (81, 16.0)


def test_a_failed_upload_sends_nothing(server: FalServer, tmp_path: Path) -> None:
    from ministudio.errors import TransientError

    previz = clip(tmp_path / "clip.mp4", 72, 1280, 720)
    req = promote(tmp_path, {"clip": previz}, 72, refs=False)
    server.fail_next("storage", "500")
    with pytest.raises(TransientError, match=r"upload of clip\.mp4"):
        submit(req, context(server, tmp_path, KLING), KLING)
    assert server.submits == [] and server.jobs == {}


def test_the_fake_takes_four_images_at_most_beside_a_video(tmp_path: Path) -> None:
    with FalServer(validate_at="submit") as server:
        url = _stored(server, clip(tmp_path / "c.mp4", 72, 1280, 720))
        images = [f"https://x.example/{i}.png" for i in range(5)]
        body = {"prompt": "p", "video_url": url, "image_urls": images}
        assert _post(server, KLING_O3_EDIT, body)["code"] == 422
        body["image_urls"] = images[:4]
        assert _post(server, KLING_O3_EDIT, body)["code"] == 200


def test_a_continue_shot_sends_its_first_frame_beside_the_depth(
    server: FalServer, tmp_path: Path
) -> None:
    depth = clip(tmp_path / "depth.mp4", 81, 64, 36)
    first = picture(tmp_path / "first.png")
    req = promote(tmp_path, {"depth": depth}, 81, refs=False, first_frame=first)
    job = submit(req, context(server, tmp_path, VACE), VACE)
    sent = server.jobs[job].body
    assert sent["first_frame_url"] == "https://assets.example/first.png"  # the asset host
    assert uploaded(server, sent["video_url"]) == depth.read_bytes()
    assert "ref_image_urls" not in sent
