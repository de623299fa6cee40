"""The Kling engine plugin (ministudio-provider-kling) against the loopback fake Kling API
(tests/fakes/kling_server.py): the conformance kit, what is sent, how failures map, lost
answers found by external id, and the showcase film spread over Kling, Luma and the animatic
by routing alone."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import ministudio_kling
import pytest
from ministudio.engines import EngineContext
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MissingKeyError,
    TransientError,
)
from ministudio.jobs import CharacterBrief, EnvironmentBrief, JobStatus, ShotPrompt, VideoRequest
from ministudio.testing import VideoEngineConformance
from ministudio_kling import _engine

from .fakes.kit import KitFaults
from .fakes.kling_server import ACCESS_KEY, SECRET_KEY, KlingServer
from .fakes.luma_server import LumaServer

KEY = "0123456789abcdef0123456789abcdef"  # a job key's first 32 characters, as the core sends


class KlingFaults(KitFaults):
    """The kit's faults on the Kling fake: a 429 is Kling's 1303 (concurrency) and a 500 its
    5000; the download is a CDN's plain HTTP error."""

    def kind(self, endpoint: str, kind: str) -> str:
        if endpoint == "download":
            return kind
        return {"429": "1303", "500": "5000"}.get(kind, kind)


def kling_env(server: KlingServer, **more: str) -> dict[str, str]:
    return {
        "KLING_BASE_URL": server.base_url,
        "KLING_ACCESS_KEY": server.access_key,
        "KLING_SECRET_KEY": server.secret_key,
        "KLING_BUSY_WAIT": "0.05",
        **more,
    }


@pytest.fixture(autouse=True)
def _fast_kling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLING_EXPECTED_LATENCY", "0.1")  # read when the engine is declared
    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")


class TestKlingConformance(VideoEngineConformance):
    engine_id = "kling"
    sdk_modules = ("httpx", "jwt", "PIL")
    refused_action = "Ann does something forbidden"  # the fake's content security (1301)

    def plugin(self) -> object:
        return ministudio_kling

    @pytest.fixture(autouse=True)
    def server(self) -> Iterator[KlingServer]:
        with KlingServer(latency=(0.05, 0.2), render_scale=0.05) as server:
            yield server

    @pytest.fixture
    def engine_env(self, server: KlingServer) -> dict[str, str]:
        return kling_env(server)

    @pytest.fixture
    def engine_faults(self, server: KlingServer) -> KlingFaults:
        return KlingFaults(server)


# -- hook by hook ---------------------------------------------------------------------------
def _request(**changes: Any) -> VideoRequest:
    shot = ShotPrompt(
        shot_id="s1",
        scene_id="one",
        index=0,
        action="A kite rises",
        shot_size="wide",
        camera_move=changes.pop("camera_move", "pan-left"),
        characters=changes.pop("characters", ()),
        environment=EnvironmentBrief(id="beach", description="a beach"),
        negative=("blur", "text"),
    )
    fields: dict[str, Any] = {
        "shot": shot,
        "prompt": "a red kite rises over a beach",
        "duration": 5.0,
        "aspect_ratio": "16:9",
        "width": 1280,
        "height": 720,
        "fps": 24,
        "seed": 1,
        "model": "kling-v1-6",
    }
    fields.update(changes)
    return VideoRequest.model_validate(fields)


def _context(env: dict[str, str], tmp_path: Path, webhook_url: str | None = None) -> EngineContext:
    return EngineContext(engine="kling", work_dir=tmp_path, env=env, webhook_url=webhook_url)


def _submit(request: VideoRequest, context: EngineContext, key: str = KEY) -> str:
    async def go() -> str:
        return (await _engine.submit(request, key, context)).job_id

    return anyio.run(go)


def _png(path: Path, size: tuple[int, int], colour: tuple[int, int, int] = (200, 40, 40)) -> Path:
    from PIL import Image

    Image.new("RGB", size, colour).save(path)
    return path


def _decoded(value: str) -> tuple[str, tuple[int, int]]:
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(value, validate=True))) as image:
        return str(image.format), image.size


def test_text2video_body(tmp_path: Path) -> None:
    with KlingServer(latency=0.05) as server:
        context = _context(kling_env(server), tmp_path, webhook_url="http://127.0.0.1:9/hooks")
        job_id = _submit(_request(options={"cfg_scale": 0.7}), context)
        task = server.tasks[job_id]
    assert task.kind == "text2video" and task.external_task_id == KEY
    body = task.request
    assert body["model_name"] == "kling-v1-6" and body["mode"] == "std"
    assert body["duration"] == "5" and body["aspect_ratio"] == "16:9"
    assert body["negative_prompt"] == "blur, text" and body["cfg_scale"] == 0.7
    assert body["callback_url"] == "http://127.0.0.1:9/hooks"
    assert body["camera_control"] == {
        "type": "simple",
        "config": {
            "horizontal": -5.0,
            "vertical": 0.0,
            "pan": 0.0,
            "tilt": 0.0,
            "roll": 0.0,
            "zoom": 0.0,
        },
    }


@pytest.mark.parametrize(
    ("changes", "mode", "camera"),
    [
        ({"width": 1920, "height": 1080}, "pro", True),
        ({"options": {"mode": "pro"}}, "pro", True),
        (
            {"width": 1920, "height": 1080, "options": {"mode": "std", "camera": False}},
            "std",
            False,
        ),
        ({"camera_move": "handheld"}, "std", False),
    ],
)
def test_mode_and_camera_follow_resolution_and_options(
    tmp_path: Path, changes: dict[str, Any], mode: str, camera: bool
) -> None:
    with KlingServer(latency=0.05) as server:
        job_id = _submit(_request(**changes), _context(kling_env(server), tmp_path))
        body = server.tasks[job_id].request
    assert body["mode"] == mode
    assert ("camera_control" in body) is camera


def test_v2_models_get_no_cfg_scale(tmp_path: Path) -> None:
    with KlingServer(latency=0.05) as server:
        request = _request(
            model="kling-v2-1-master", camera_move="static", options={"cfg_scale": 1}
        )
        job_id = _submit(request, _context(kling_env(server), tmp_path))
        assert "cfg_scale" not in server.tasks[job_id].request


def test_image2video_frames_and_identity(tmp_path: Path) -> None:
    """A first frame is sent byte for byte; a small reference image (the identity) is cropped
    to the film's shape and scaled up to 300 px; an end frame goes as image_tail and the
    camera move is left out (Kling takes no camera_control with image_tail)."""
    first = _png(tmp_path / "first.png", (1280, 720))
    small = _png(tmp_path / "ann.png", (64, 64))
    end = _png(tmp_path / "end.jpg", (400, 225))
    ann = CharacterBrief(id="ann", name="Ann", dna="a woman", reference_images=(small,))
    with KlingServer(latency=0.05) as server:
        context = _context(kling_env(server), tmp_path)
        one = _submit(_request(first_frame=first, characters=(ann,)), context, "k1")
        two = _submit(_request(characters=(ann,), last_frame=end), context, "k2")
        three = _submit(_request(characters=(ann,), options={"identity": False}), context, "k3")
        tasks = [server.tasks[i] for i in (one, two, three)]
    assert tasks[0].kind == "image2video" and "camera_control" in tasks[0].request
    assert tasks[0].images["image"].width == 1280
    import hashlib

    assert tasks[0].images["image"].sha256 == hashlib.sha256(first.read_bytes()).hexdigest()
    image, tail = tasks[1].images["image"], tasks[1].images["image_tail"]
    assert (image.format, image.width, image.height) == ("PNG", 533, 300)
    assert (tail.format, tail.width, tail.height) == ("PNG", 533, 300)
    assert "camera_control" not in tasks[1].request
    assert tasks[2].kind == "text2video"


def test_images_are_raw_base64_png_or_jpeg(tmp_path: Path) -> None:
    from ministudio_kling import _images

    gif = tmp_path / "frame.gif"
    from PIL import Image

    Image.new("RGB", (720, 1280), (1, 2, 3)).save(gif)
    encoded = _images.encode(gif, "9:16")
    assert not encoded.startswith("data:")
    assert _decoded(encoded) == ("PNG", (720, 1280))
    jpeg = _png(tmp_path / "big.jpg", (1280, 720))
    assert base64.b64decode(_images.encode(jpeg, "16:9")) == jpeg.read_bytes()
    with pytest.raises(EngineError, match="cannot read the image"):
        _images.encode(tmp_path / "missing.png", "16:9")


def test_a_refused_camera_is_dropped_and_sent_again(tmp_path: Path, caplog: Any) -> None:
    """Camera control at 10 s is refused (1201) by this fake: one accepted task, without it."""
    caplog.set_level(logging.WARNING, "ministudio_kling")
    with KlingServer(latency=0.05) as server:
        job_id = _submit(_request(duration=10.0), _context(kling_env(server), tmp_path))
        assert server.submissions == 1 and len(server.refusals) == 1
        assert "camera_control" not in server.tasks[job_id].request
        assert server.tasks[job_id].request["duration"] == "10"
    assert "sent without it" in caplog.text


def test_submit_errors_map_to_the_core_types(tmp_path: Path) -> None:
    with KlingServer(latency=0.05) as server:
        env = kling_env(server)
        context = _context(env, tmp_path)
        server.fail_next("create", "1303")
        with pytest.raises(TransientError) as busy:
            _submit(_request(), context)
        assert busy.value.retry_after == pytest.approx(0.05)
        server.fail_next("create", "5001")
        with pytest.raises(TransientError):
            _submit(_request(), context)
        server.fail_next("create", "1102")  # a 429 that is an empty account: not transient
        with pytest.raises(EngineError, match="resource pack") as empty:
            _submit(_request(), context)
        assert not isinstance(empty.value, TransientError)
        with pytest.raises(EngineRefusal, match="content security"):
            _submit(_request(prompt="something forbidden"), context)
        with pytest.raises(EngineError, match="model"):
            _submit(_request(model="kling-v9"), context)
        server.fail_next("create", "drop")
        with pytest.raises(AmbiguousSubmission):
            _submit(_request(), context)
        assert server.submissions == 0


@pytest.mark.parametrize(
    ("changes", "named", "not_named"),
    [
        (
            {"KLING_SECRET_KEY": "a-wrong-secret-key-of-thirty-two-bytes"},
            "KLING_SECRET_KEY",
            "KLING_ACCESS_KEY",
        ),
        ({"KLING_ACCESS_KEY": "an-unknown-access-key"}, "KLING_ACCESS_KEY", "KLING_SECRET_KEY"),
    ],
)
def test_rejected_keys_name_the_wrong_one(
    tmp_path: Path, changes: dict[str, str], named: str, not_named: str
) -> None:
    with KlingServer(latency=0.05) as server:
        env = {**kling_env(server), **changes}
        with pytest.raises(MissingKeyError, match=named) as info:
            _submit(_request(), _context(env, tmp_path))
    text = str(info.value)
    assert not_named not in text
    assert all(value not in text for value in (*changes.values(), ACCESS_KEY, SECRET_KEY))


def test_missing_keys_are_named(tmp_path: Path) -> None:
    env = {"KLING_ACCESS_KEY": ACCESS_KEY, "MINISTUDIO_KEYS_FILE": str(tmp_path / "none.json")}
    with pytest.raises(MissingKeyError, match="KLING_SECRET_KEY") as info:
        _submit(_request(), _context(env, tmp_path))
    assert "KLING_ACCESS_KEY" not in str(info.value)


def test_a_wrong_clock_is_named(tmp_path: Path) -> None:
    with (
        KlingServer(latency=0.05, clock_offset=-600) as server,  # Kling 10 min behind
        pytest.raises(EngineError, match="clock") as info,
    ):
        _submit(_request(), _context(kling_env(server), tmp_path))
    assert not isinstance(info.value, (TransientError, MissingKeyError))


def test_a_lost_answer_is_found_by_external_id(tmp_path: Path) -> None:
    with KlingServer(latency=0.05) as server:
        context = _context(kling_env(server), tmp_path)

        async def go() -> tuple[str | None, str | None]:
            before = await _engine.find(KEY, context)
            server.fail_next("create", "drop_after_accept")
            with pytest.raises(AmbiguousSubmission):
                await _engine.submit(_request(), KEY, context)
            return before, await _engine.find(KEY, context)

        before, found = anyio.run(go)
        assert before is None and server.submissions == 1
        assert found == server.by_external_id(KEY).task_id  # type: ignore[union-attr]
        # Submitting the job again finds the task it sent: no second payment.
        assert _submit(_request(), context) == found
        assert server.submissions == 1


def test_a_failed_task_is_sent_again_under_the_next_external_id(tmp_path: Path) -> None:
    with KlingServer(latency=0.05) as server:
        context = _context(kling_env(server), tmp_path)
        server.fail_next_task("Failure to pass the risk control system")
        first = _submit(_request(), context)
        assert server.wait_idle()
        status = anyio.run(_engine.poll, first, context)
        assert status.state == "failed" and status.refused
        assert "risk control" in (status.error or "")
        second = _submit(_request(), context)
        assert second != first and server.tasks[second].external_task_id == f"{KEY}-2"
        assert anyio.run(_engine.find, KEY, context) == second
        assert server.submissions == 2


def test_poll_and_download_through_the_hooks(tmp_path: Path) -> None:
    """A fresh process knows no task's endpoint: the poll tries both; the download streams
    the webhook's URL and prices the clip (kling-v1-6 pro: 0.098 USD/s)."""
    from ministudio.media.probe import probe

    with KlingServer(latency=0.05) as server:
        context = _context(kling_env(server), tmp_path)
        first = _png(tmp_path / "first.png", (720, 1280))
        request = _request(first_frame=first, width=1080, height=1920, aspect_ratio="9:16")
        job_id = _submit(request, context)
        assert server.wait_idle()
        _engine._kinds.clear()
        status = anyio.run(_engine.poll, job_id, context)
        assert status.state == "succeeded" and status.video_url
        output = tmp_path / "clip.mp4"
        result = anyio.run(_engine.download, job_id, status, output, context, request)
        info = probe(output)
    assert result.cost == pytest.approx(0.49) and result.model == "kling-v1-6"
    assert info.duration == pytest.approx(5.0, abs=0.1) and info.height > info.width
    assert not (tmp_path / "clip.mp4.part").exists()


def test_a_truncated_download_leaves_nothing(tmp_path: Path) -> None:
    with KlingServer(latency=0.05) as server:
        context = _context(kling_env(server), tmp_path)
        job_id = _submit(_request(), context)
        assert server.wait_idle()
        status = anyio.run(_engine.poll, job_id, context)
        server.fail_next("download", "truncate")
        output = tmp_path / "clip.mp4"
        with pytest.raises(TransientError, match="cut short"):
            anyio.run(_engine.download, job_id, status, output, context, _request())
    assert not output.exists() and not (tmp_path / "clip.mp4.part").exists()


def test_callbacks_are_hints_and_progress() -> None:
    parse = ministudio_kling.parse_webhook
    done = (
        b'{"task_id": "867283741759111202", "task_status": "succeed", "task_status_msg": "",'
        b' "created_at": 1774805076166, "updated_at": 1774805159000,'
        b' "task_info": {"external_task_id": "k"}, "final_unit_deduction": "1",'
        b' "task_result": {"videos": [{"id": "v", "url": "https://cdn/x.mp4", "duration": "5.1"}]}}'
    )
    # Unsigned: a callback saying the task ended is a hint (thin), never its URL to fetch.
    status = parse(engine="kling", body=done, headers={})
    assert status == JobStatus(job_id="867283741759111202", state="running", thin=True)
    running = b'{"task_id": "1", "task_status": "processing"}'
    progress = parse(engine="kling", body=running, headers={})
    assert progress is not None and progress.state == "running" and not progress.thin
    failed = b'{"task_id": "1", "task_status": "failed", "task_status_msg": "sensitive content"}'
    assert parse(engine="kling", body=failed, headers={}) == JobStatus(
        job_id="1", state="running", thin=True
    )
    assert parse(engine="kling", body=b"nope", headers={}) is None
    assert parse(engine="kling", body=b'{"id": "g1", "state": "completed"}', headers={}) is None
    assert parse(engine="luma", body=done, headers={}) is None


def test_prices_per_model_and_mode() -> None:
    assert _engine.price("kling-v1-6", "std") == pytest.approx(0.056)
    assert _engine.price("kling-v1-5", "pro") == pytest.approx(0.098)
    assert _engine.price("kling-v2-5-turbo", "std") == pytest.approx(0.28)


# -- through the core -----------------------------------------------------------------------
def test_a_lost_submit_answer_in_a_render_is_paid_once(tmp_path: Path) -> None:
    from ministudio.plugins import PluginHost
    from ministudio.remote import RetryPolicy
    from ministudio.render import RenderOptions, render
    from ministudio.store import ContentStore

    from .conftest import tiny_production

    film = tiny_production(
        format={"aspect_ratio": "16:9", "resolution": "720p", "fps": 24},
        routing={"video": "kling"},
    )
    with KlingServer(latency=(0.1, 0.1), render_scale=0.05) as server:
        server.fail_next("create", "drop_after_accept")
        manifest = render(
            film,
            tmp_path / "out",
            host=PluginHost(env={}),
            store=ContentStore(tmp_path / "store"),
            env=kling_env(server),
            options=RenderOptions(retry=RetryPolicy(attempts=6, base=0.02, cap=0.2)),
        )
        assert server.submissions == 2
    assert all(shot.state == "done" and shot.engine == "kling" for shot in manifest.shots)
    assert {round(shot.cost, 3) for shot in manifest.shots} == {0.28}


def _luma_env(server: LumaServer, assets: Path) -> dict[str, str]:
    """As tests/test_luma_engine.py's ``_env``."""
    return {
        "LUMAAI_BASE_URL": server.api_url,
        "LUMAAI_API_KEY": server.api_key,
        "LUMA_ASSET_BASE_URL": "http://127.0.0.1:9/assets",  # recorded by the fake, not fetched
        "LUMA_ASSET_DIR": str(assets),
    }


def test_the_showcase_film_spreads_over_kling_luma_and_animatic(tmp_path: Path) -> None:
    """examples/quantum-mechanics.yaml (9:16, 720p, 8 s shots): two shots on kling (8 s snaps
    up to 10; "impossible" pans, and this fake refuses camera control at 10 s, so it is sent
    again without it), two on luma, the rest animatic, by routing alone."""
    from ministudio.loading import load_production
    from ministudio.plugins import PluginHost
    from ministudio.remote import RetryPolicy
    from ministudio.render import RenderOptions, render
    from ministudio.store import ContentStore

    root = Path(__file__).resolve().parents[1]
    film = load_production(root / "examples" / "quantum-mechanics.yaml")
    assert film.format.aspect_ratio == "9:16" and film.format.resolution == "720p"
    to_kling = {"question", "impossible"}
    to_luma = {"tiny", "finale"}
    routed = {**dict.fromkeys(to_kling, "kling"), **dict.fromkeys(to_luma, "luma")}
    shots = {**film.routing.shots, **routed}
    film = film.model_copy(update={"routing": film.routing.model_copy(update={"shots": shots})})
    host = PluginHost(env={})
    assert {"kling", "luma", "animatic"} <= set(host.engines)
    with (
        KlingServer(latency=(0.2, 0.1), render_scale=0.05) as kling,
        LumaServer(latency=(0.2, 0.1), render_scale=0.05) as luma,
    ):
        manifest = render(
            film,
            tmp_path / "out",
            host=host,
            store=ContentStore(tmp_path / "store"),
            env={**kling_env(kling), **_luma_env(luma, tmp_path / "assets")},
            options=RenderOptions(retry=RetryPolicy(attempts=6, base=0.02, cap=0.2)),
        )
        tasks = list(kling.tasks.values())
        videos = [job for job in luma.jobs.values() if job.generation_type == "video"]
        assert kling.submissions == 2 and len(tasks) == 2
        assert {t.request["aspect_ratio"] for t in tasks} == {"9:16"}
        assert {(t.mode, t.duration) for t in tasks} == {("std", 10)}
        assert [code for code, _ in kling.refusals] == [1201]  # impossible's pan at 10 s
        assert luma.submissions == 2 and len(videos) == 2
    engines = {shot.id: shot.engine for shot in manifest.shots}
    assert {k for k, v in engines.items() if v == "kling"} == to_kling
    assert {k for k, v in engines.items() if v == "luma"} == to_luma
    assert all(v == "animatic" for k, v in engines.items() if k not in routed)
    assert len(engines) == 7
    assert all(shot.state == "done" for shot in manifest.shots)
    kling_cost = sum(shot.cost for shot in manifest.shots if shot.engine == "kling")
    assert kling_cost == pytest.approx(2 * 10 * 0.056)
    assert (tmp_path / "out" / "film.mp4").exists()
