"""Issue 20, previz to final: the ``runway`` engine promotes a shot's previz with Aleph 2.0
(``aleph2``, ``POST /v1/video_to_video``) against the strict fake, through the official SDK:
the previz clip is uploaded (``POST /v1/uploads``, then the presigned form), the create names
its ``runway://`` URI, the final is as long as the previz, and what Aleph cannot promote is
refused before any upload or task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import ministudio_runway
import pytest
from ministudio.engines import EngineContext
from ministudio.errors import EngineError, EngineRefusal, TransientError
from ministudio.jobs import CharacterBrief, EditRequest, PrevizSource, VideoRequest
from ministudio.media.probe import probe
from ministudio.run.requests import declared_passes
from ministudio.testing._kit import solid_png
from ministudio_runway import _request, _tasks
from ministudio_runway._catalog import spec

from .fakes.runway_rules import Rules
from .fakes.runway_server import RunwayServer, write_clip
from .requests import kite_request

KEY = "rw-promote-SECRET-20"
FPS = 12


def _context(server: RunwayServer, tmp_path: Path) -> EngineContext:
    async def upload(path: Path) -> str:  # the core's asset host: never used by a promotion
        raise AssertionError(f"context.upload({path}) called")

    return EngineContext(
        engine="runway",
        work_dir=tmp_path,
        env={"RUNWAYML_BASE_URL": server.base_url, "RUNWAYML_API_SECRET": server.api_key},
        uploader=upload,
    )


def _promote(
    tmp_path: Path, seconds: float = 3.0, *, write: bool = True, **changes: Any
) -> VideoRequest:
    """A promotion of a ``seconds`` previz, 12 fps unless ``fps`` is changed (its clip written
    unless ``write``)."""
    fps = int(changes.pop("fps", FPS))
    frames = round(seconds * fps)
    clip = tmp_path / "s1.previz.clip.mp4"
    if write:
        write_clip(clip, frames, fps)
    source = PrevizSource(frames=frames, passes={"clip": clip})
    fields: dict[str, Any] = {
        "duration": seconds,
        "fps": fps,
        "width": 128,
        "height": 72,
        "source": source,
        **changes,
    }
    return kite_request(**fields)


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


def test_the_engine_declares_it_takes_the_previz_clip() -> None:
    declared = spec()
    assert declared.capabilities.video_edit == ("clip",)
    assert all(v.capabilities.video_edit == ("clip",) for v in declared.variants)
    # the core hands the engine only what it declares
    source = PrevizSource(
        frames=36,
        passes={"clip": Path("c.mp4"), "depth": Path("d.mp4"), "mask.ann": Path("m.mp4")},
    )
    kept = declared_passes(source, declared.capabilities.video_edit)
    assert kept is not None and set(kept.passes) == {"clip"}


def test_a_previz_is_uploaded_and_promoted_by_aleph_to_a_final_of_its_length(
    tmp_path: Path,
) -> None:
    ann = tmp_path / "ann.png"
    solid_png(ann, (200, 30, 30))
    character = CharacterBrief(id="ann", name="Ann", dna="a woman", reference_images=(ann,))
    request = _promote(tmp_path, 3.0, characters=(character,))
    clip = request.source.passes["clip"] if request.source else Path()
    with RunwayServer(api_key=KEY, latency=0.05) as server:
        result = _render(request, _context(server, tmp_path), tmp_path / "final.mp4")
        (slot,) = server.uploads.values()
        (task,) = server.created
        endpoints = [endpoint for endpoint, _ in server.bodies]
        uploaded = slot.path.read_bytes() if slot.path else b""
    # the upload first (nothing paid), then the one create
    assert endpoints == ["uploads", "video_to_video"]
    assert server.bodies[0][1] == {"filename": clip.name, "type": "ephemeral"}
    assert uploaded == clip.read_bytes()
    assert task.endpoint == "video_to_video"
    assert task.body == {
        "model": "aleph2",
        "videoUri": slot.uri,
        "promptText": f"{_request.PROMOTE_LEAD} a red kite rises over a beach",
        "ratio": "1280:720",
        "seed": 1,
    }
    # aleph2 takes no reference images (no `references` in Variant0): none are sent
    assert "references" not in task.body
    final, previz = probe(result.path), probe(clip)
    assert (final.frames, final.fps) == (previz.frames, previz.fps) == (36, 12.0)
    assert (final.width, final.height) == (previz.width, previz.height)
    assert result.engine_job_id == task.id and result.model == "aleph2"
    assert result.cost == pytest.approx(3 * 0.28) == ministudio_runway.RUNWAY.estimate_cost(request)


def test_a_continue_shot_gives_aleph_its_first_frame_as_a_keyframe_at_zero(
    tmp_path: Path,
) -> None:
    frame = tmp_path / "s0.last-frame.png"
    solid_png(frame, (10, 20, 30))
    request = _promote(tmp_path, 2.5, first_frame=frame)
    with RunwayServer(api_key=KEY, latency=0.05) as server:
        result = _render(request, _context(server, tmp_path), tmp_path / "final.mp4")
        (task,) = server.created
    (keyframe,) = task.body["keyframes"]
    assert keyframe["at"] == 0.0 and keyframe["uri"].startswith("data:image/png;base64,")
    assert probe(result.path).frames == 30
    # 2.5 s billed as 3 whole seconds, 28 credits each
    assert result.cost == pytest.approx(0.84)


@pytest.mark.parametrize(
    ("seconds", "changes", "match"),
    [
        (31.0, {}, "returns one as long as its input"),
        (45.0, {}, "split the shot"),
        (1.5, {}, "lengthen the shot to 2 s"),
        (3.0, {"fps": 60}, "format.fps to 30"),
        (3.0, {"aspect_ratio": "2:1"}, "aspect ratio 2:1"),
        (3.0, {"prompt": ""}, "needs a prompt"),
    ],
)
def test_what_aleph_cannot_promote_is_refused_before_any_upload_or_task(
    tmp_path: Path, seconds: float, changes: dict[str, Any], match: str
) -> None:
    request = _promote(tmp_path, seconds, write=False, **changes)
    with pytest.raises(EngineRefusal, match=match):
        ministudio_runway.RUNWAY.check(request)  # the check_video hook: at plan time
    with RunwayServer(api_key=KEY) as server:
        with pytest.raises(EngineRefusal, match=match):
            anyio.run(_tasks.submit, request, _context(server, tmp_path))
        assert server.requests == [] and server.uploads == {} and server.created == []


def test_a_previz_without_its_clip_an_end_frame_or_over_the_upload_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = tmp_path / "end.png"
    solid_png(frame, (1, 2, 3))
    request = _promote(tmp_path, 3.0)
    assert request.source is not None
    depth_only = request.source.model_copy(update={"passes": {"depth": Path("d.mp4")}})
    with pytest.raises(EngineRefusal, match="no `clip` pass"):
        _request.check(request.model_copy(update={"source": depth_only}))
    with pytest.raises(EngineRefusal, match="no end frame"):
        _request.check(request.model_copy(update={"last_frame": frame}))
    monkeypatch.setattr(_request, "UPLOAD_BYTES", (512, 1000))  # the clip is ~2 kB
    with pytest.raises(EngineRefusal, match="uploads take 512 bytes"):
        _request.check(request)


def test_a_promotion_sent_a_final_shorter_than_its_previz_is_an_error(tmp_path: Path) -> None:
    """Where no source says how long aleph2's output is: with ``Rules.aleph_output`` "5s" (as
    gen4_aleph cut its input to 5 s) a 6 s previz comes back 5 s long, and the plugin says
    so rather than hand the core a short final."""
    request = _promote(tmp_path, 6.0)
    with RunwayServer(api_key=KEY, latency=0.05, rules=Rules(aleph_output="5s")) as server:
        output = tmp_path / "final.mp4"
        with pytest.raises(EngineError, match=r"Aleph returned 5\.00 s for the 6\.00 s previz"):
            _render(request, _context(server, tmp_path), output)
        assert not output.exists() and len(server.created) == 1
    with RunwayServer(api_key=KEY, latency=0.05, rules=Rules(aleph_output="input")) as server:
        result = _render(request, _context(server, tmp_path), output)
        assert probe(result.path).frames == 72


@pytest.mark.parametrize("endpoint", ["uploads", "upload_slot"])
def test_an_upload_that_fails_is_transient_and_pays_nothing(tmp_path: Path, endpoint: str) -> None:
    with RunwayServer(api_key=KEY) as server:
        server.fail_next(endpoint, "500")
        with pytest.raises(TransientError, match=r"upload of s1\.previz\.clip\.mp4"):
            anyio.run(_tasks.submit, _promote(tmp_path), _context(server, tmp_path))
        assert server.created == []


def test_an_edit_of_a_promoted_take_edits_the_take(tmp_path: Path) -> None:
    """The ``edit`` rung on a promoted shot: the request carries both; the take is edited."""
    with RunwayServer(api_key=KEY, latency=0.05) as server:
        context = _context(server, tmp_path)
        promoted = _render(_promote(tmp_path), context, tmp_path / "final.mp4")
        edit = EditRequest(job_id=promoted.engine_job_id, reasons=("the kite is green",))
        request = _promote(tmp_path, edit=edit)
        _render(request, context, tmp_path / "edit.mp4")
        first, aleph = server.created
        assert len(server.uploads) == 1  # the edit uploads nothing
    assert aleph.body["videoUri"] == f"{server.base_url}/files/{first.id}.mp4"
    assert aleph.body["promptText"].startswith("Edit this video: fix the kite is green.")


def test_a_film_with_routing_previz_promotes_each_shot_through_runway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The core's own pipeline (routing.previz: the keyless animatic first): Runway gets the
    animatic's clip of each shot, uploaded, and its final keeps the previz's frames."""
    from ministudio.plugins import PluginHost
    from ministudio.run.render import render
    from ministudio.run.store import ContentStore
    from ministudio.spec import Production

    monkeypatch.setenv("RUNWAY_EXPECTED_LATENCY", "0.2")
    film = Production.model_validate(
        {
            "title": "Promoted",
            "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 12},
            "characters": {"ann": {"name": "Ann", "dna": "a woman, red coat"}},
            "environments": {"park": {"description": "a park", "lighting": "day"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [
                        {"id": "s1", "action": "Ann waves", "characters": ["ann"], "duration": 3}
                    ],
                }
            ],
            "routing": {"video": "runway", "previz": "animatic"},
        }
    )
    with RunwayServer(api_key=KEY, latency=0.1) as server:
        manifest = render(
            film,
            tmp_path / "out",
            host=PluginHost(env={}),
            store=ContentStore(tmp_path / "store"),
            env={
                "RUNWAYML_BASE_URL": server.base_url,
                "RUNWAYML_API_SECRET": KEY,
                "RUNWAY_POLL_INTERVAL": "0.05",
            },
        )
        (task,) = server.created
        (slot,) = server.uploads.values()
        uploaded = probe(slot.path) if slot.path else None
    assert task.endpoint == "video_to_video" and task.body["videoUri"] == slot.uri
    assert task.body["model"] == "aleph2" and "Ann" in task.body["promptText"]
    (shot,) = manifest.shots
    assert shot.state == "done" and shot.previz is not None
    assert uploaded is not None and uploaded.frames == 36 and uploaded.fps == 12.0
    assert (task.frames, task.fps) == (36, 12)
