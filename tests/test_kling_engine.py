"""The Kling engine plugin (ministudio-provider-kling) against the loopback fake Kling API
(tests/fakes/kling_server.py, strict to Kling's docs): the conformance kit; the variants per
model and mode (Kling's capability map) and their prices; what is sent (lengths, modes,
camera control only where the map takes it, native audio, Elements); refusals before
sending; job ids that name their endpoint; lost answers found by external id, whatever Kling
answers a reused external id; renders killed at random; and the showcase film spread over
Kling, Luma and the animatic by routing alone."""

from __future__ import annotations

import base64
import io
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
from ministudio.jobs import CharacterBrief, EnvironmentBrief, JobStatus, VideoRequest
from ministudio.testing import VideoEngineConformance
from ministudio_kling import _engine

from .fakes.kit import KitFaults
from .fakes.kling_server import ACCESS_KEY, CODES, SECRET_KEY, KlingServer
from .fakes.luma_server import LumaServer
from .requests import kite_request

KEY = "0123456789abcdef0123456789abcdef"  # a job key's first 32 characters, as the core sends


class KlingFaults(KitFaults):
    """The kit's faults on the Kling fake: a 429 is Kling's 1303 (concurrency) and a 500 its
    5000; the download is a CDN's plain HTTP error."""

    def kind(self, endpoint: str, kind: str) -> str:
        if endpoint == "download":
            return kind
        return {"429": "1303", "500": "5000"}.get(kind, kind)

    @property
    def status_requests(self) -> int:
        """Polls: queries by task id. The lookup by external id before each create (the
        plugin's guard against paying twice) is not one."""
        return sum(1 for method, path in self.server.requests if _is_poll(method, path))


def _is_poll(method: str, path: str) -> bool:
    parts = path.split("?")[0].strip("/").split("/")
    return (
        method == "GET"
        and len(parts) == 4
        and parts[:2] == ["v1", "videos"]
        and (parts[3].isdigit())
    )


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
    fields = {"camera_move": "pan-left", "negative": ("blur", "text"), "model": "kling-v3"}
    return kite_request(**{**fields, **changes})


def _context(env: dict[str, str], tmp_path: Path, webhook_url: str | None = None) -> EngineContext:
    return EngineContext(engine="kling", work_dir=tmp_path, env=env, webhook_url=webhook_url)


def _task(server: KlingServer, job: str) -> Any:
    """The fake's task behind a job id (``<endpoint>:<task_id>``)."""
    return server.tasks[job.partition(":")[2]]


def _posts(server: KlingServer) -> int:
    return sum(1 for method, _ in server.requests if method == "POST")


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


# -- the capability map: variants, lifecycle, prices ------------------------------------------
def _variants() -> dict[tuple[str, str | None], list[Any]]:
    found: dict[tuple[str, str | None], list[Any]] = {}
    for v in ministudio_kling.spec().variants:
        found.setdefault((v.model, v.mode), []).append(v.capabilities)
    return found


def test_every_model_has_variants_and_a_lifecycle_entry() -> None:
    """kling-v3 is the default; every model is GA with no shutdown date (Kling announces
    none) and has a variant per mode; the image-only models and the mode-less masters."""
    spec = ministudio_kling.spec()
    assert spec.default_model == "kling-v3"
    models = {m.id: m for m in spec.models}
    assert set(models) == {
        "kling-v1", "kling-v1-5", "kling-v1-6", "kling-v2-master", "kling-v2-1",
        "kling-v2-1-master", "kling-v2-5-turbo", "kling-v2-6", "kling-v3",
    }  # fmt: skip
    assert all(m.stage == "ga" and m.shutdown is None and m.use for m in models.values())
    modes = {(v.model, v.mode) for v in spec.variants}
    for name in models:
        expected = {None} if name.endswith("master") else {"std", "pro"}
        assert {mode for model, mode in modes if model == name} == expected, name


def test_variants_follow_kling_s_capability_map() -> None:
    v = _variants()
    grid = tuple(float(s) for s in range(3, 16))
    for how, shown in (("std", ("720p",)), ("pro", ("720p", "1080p"))):
        (caps,) = v[("kling-v3", how)]
        assert caps.durations == grid and caps.resolutions == shown
        assert caps.last_frame and not caps.last_frame_alone and caps.native_audio
        assert caps.max_references == 3 and caps.references_with_frames
    # kling-v1: start+end frames at 5 s only, in both modes; 720p in pro too.
    std5, std10 = v[("kling-v1", "std")]
    assert (std5.durations, std5.last_frame) == ((5.0,), True)
    assert (std10.durations, std10.last_frame) == ((10.0,), False)
    assert all(c.resolutions == ("720p",) for c in v[("kling-v1", "pro")])
    # An end frame alone: kling-v1-5 and kling-v1-6 pro only.
    alone = {key for key, caps in v.items() for c in caps if c.last_frame_alone}
    assert alone == {("kling-v1-5", "pro"), ("kling-v1-6", "pro")}
    # Start+end frames never in std before kling-v3 (but kling-v1 at 5 s), never on masters.
    framed = {key for key, caps in v.items() for c in caps if c.last_frame}
    assert framed == {
        ("kling-v1", "std"), ("kling-v1", "pro"), ("kling-v1-5", "pro"), ("kling-v1-6", "pro"),
        ("kling-v2-1", "pro"), ("kling-v2-5-turbo", "pro"), ("kling-v2-6", "pro"),
        ("kling-v3", "std"), ("kling-v3", "pro"),
    }  # fmt: skip
    # Native audio: kling-v3 std/pro and kling-v2-6 pro (whose end frames come only silent:
    # one variant takes both, the plugin refuses them together).
    speaking = {key for key, caps in v.items() for c in caps if c.native_audio}
    assert speaking == {("kling-v3", "std"), ("kling-v3", "pro"), ("kling-v2-6", "pro")}
    # Cheapest first within each model.
    for model in {m for m, _ in v}:
        prices = [
            x.capabilities.price_per_second
            for x in ministudio_kling.spec().variants
            if x.model == model
        ]
        assert prices == sorted(prices), model


def test_the_envelope_is_the_default_model_s() -> None:
    caps = ministudio_kling.spec().capabilities
    assert caps.durations == tuple(float(s) for s in range(3, 16))
    assert caps.resolutions == ("720p", "1080p") and caps.webhooks and caps.concurrency == 5
    assert caps.price_per_second == pytest.approx(0.084)  # kling-v3 std, silent


@pytest.mark.parametrize(
    ("model", "mode", "sound", "per_second"),
    [
        ("kling-v3", "std", False, 0.084),
        ("kling-v3", "pro", False, 0.112),
        ("kling-v3", "std", True, 0.126),
        ("kling-v3", "pro", True, 0.168),
        ("kling-v2-6", "pro", True, 0.14),
        ("kling-v2-6", "std", False, 0.042),
        ("kling-v1-6", "pro", False, 0.098),
        ("kling-v2-master", None, False, 0.28),
    ],
)
def test_prices_by_model_mode_and_sound(
    model: str, mode: str | None, sound: bool, per_second: float
) -> None:
    """Units per second x 0.14 USD (docs/providers/kling.md section 1.3); estimate_cost
    prices the request by its model, mode, sound and seconds."""
    options = {"mode": mode} if mode else {}
    shot = _request().shot.model_copy(update={"native_audio": sound})
    request = _request(model=model, shot=shot, options=options, duration=10.0)
    cost = ministudio_kling.estimate_cost(engine="kling", request=request)
    assert cost == pytest.approx(per_second * 10)


# -- what is sent -----------------------------------------------------------------------------
def test_text2video_body(tmp_path: Path) -> None:
    """kling-v3 std by default: any whole-second length as a string, sound said off, no
    camera_control (no camera row for v3: the move is in the prompt), no cfg_scale."""
    with KlingServer(latency=0.05) as server:
        context = _context(kling_env(server), tmp_path, webhook_url="http://127.0.0.1:9/hooks")
        job = _submit(_request(duration=7.0, options={"cfg_scale": 0.7}), context)
        task = _task(server, job)
    assert job.startswith("text2video:") and task.external_task_id == f"text2video-{KEY}"
    body = task.request
    assert body["model_name"] == "kling-v3" and body["mode"] == "std"
    assert body["duration"] == "7" and body["aspect_ratio"] == "16:9"
    assert body["sound"] == "off" and body["negative_prompt"] == "blur, text"
    assert body["callback_url"] == "http://127.0.0.1:9/hooks"
    assert "camera_control" not in body and "cfg_scale" not in body


@pytest.mark.parametrize(("asked", "sent"), [(3.0, "3"), (12.0, "12"), (15.0, "15"), (8.2, "9")])
def test_any_whole_second_length_on_kling_v3(tmp_path: Path, asked: float, sent: str) -> None:
    with KlingServer(latency=0.05) as server:
        job = _submit(_request(duration=asked), _context(kling_env(server), tmp_path))
        assert _task(server, job).request["duration"] == sent


@pytest.mark.parametrize(
    ("model", "options", "seconds", "first", "camera"),
    [
        ("kling-v1", {}, 5.0, False, True),  # text2video, std 5 s: the one t2v camera cell
        ("kling-v1", {}, 10.0, False, False),
        ("kling-v1", {"mode": "pro"}, 5.0, False, False),
        ("kling-v1-5", {"mode": "pro"}, 5.0, True, True),  # image2video, pro 5 s, simple
        ("kling-v1-5", {"mode": "pro"}, 10.0, True, False),
        ("kling-v1-6", {"mode": "pro"}, 5.0, True, False),
        ("kling-v3", {"mode": "pro"}, 5.0, True, False),
    ],
)
def test_camera_control_only_where_the_map_takes_it(
    tmp_path: Path,
    model: str,
    options: dict[str, Any],
    seconds: float,
    first: bool,
    camera: bool,
) -> None:
    image = _png(tmp_path / "first.png", (1280, 720)) if first else None
    request = _request(model=model, options=options, duration=seconds, first_frame=image)
    with KlingServer(latency=0.05) as server:
        job = _submit(request, _context(kling_env(server), tmp_path))
        body = _task(server, job).request
        assert ("camera_control" in body) is camera and not server.refusals
    if camera:
        assert body["camera_control"]["type"] == "simple"
        assert body["camera_control"]["config"]["horizontal"] == -5.0  # pan-left


def test_mode_comes_from_the_options_and_masters_have_none(tmp_path: Path) -> None:
    with KlingServer(latency=0.05) as server:
        context = _context(kling_env(server), tmp_path)
        pro = _task(server, _submit(_request(options={"mode": "pro"}), context, "a"))
        std = _task(server, _submit(_request(width=1920, height=1080), context, "b"))
        master = _task(server, _submit(_request(model="kling-v2-1-master"), context, "c"))
        with pytest.raises(EngineRefusal, match="has no mode"):
            _submit(_request(model="kling-v2-master", options={"mode": "pro"}), context, "d")
    assert pro.request["mode"] == "pro" and std.request["mode"] == "std"
    assert "mode" not in master.request


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"model": "kling-v1-6", "duration": 7.0}, "makes 5 or 10 s clips"),
        ({"model": "kling-v3", "duration": 16.0}, "makes 3-15 s clips"),
        ({"model": "kling-v1-6", "frames": "both"}, "no start and end frame together"),
        ({"model": "kling-v1", "duration": 10.0, "frames": "both"}, "no start and end"),
        ({"model": "kling-v3", "frames": "end"}, "no end frame without a start frame"),
        ({"model": "kling-v1-6", "speaks": True}, "does not speak"),
        ({"model": "kling-v2-6", "speaks": True}, "does not speak"),  # std: only no audio
        ({"model": "kling-v2-6", "mode": "pro", "speaks": True, "frames": "both"}, "without"),
        ({"model": "kling-v1-5"}, "image to video only"),
        ({"model": "kling-v2-1", "mode": "pro"}, "image to video only"),
    ],
)
def test_what_the_map_refuses_is_refused_before_sending(
    tmp_path: Path, changes: dict[str, Any], reason: str
) -> None:
    first = _png(tmp_path / "first.png", (1280, 720))
    end = _png(tmp_path / "end.png", (1280, 720))
    frames = changes.pop("frames", None)
    speaks = changes.pop("speaks", False)
    mode = changes.pop("mode", None)
    request = _request(
        **changes,
        first_frame=first if frames == "both" else None,
        last_frame=end if frames else None,
        options={"mode": mode} if mode else {},
        shot=_request().shot.model_copy(update={"native_audio": speaks}),
    )
    with KlingServer(latency=0.05) as server:
        with pytest.raises(EngineRefusal, match=reason):
            _submit(request, _context(kling_env(server), tmp_path))
        assert server.requests == []  # nothing sent, nothing looked up


@pytest.mark.parametrize(
    ("model", "mode", "first"),
    [
        ("kling-v1", "std", True),  # start+end at 5 s
        ("kling-v1-6", "pro", False),  # an end frame alone
        ("kling-v1-5", "pro", False),
        ("kling-v2-6", "pro", True),  # silent
        ("kling-v3", "std", True),
        ("kling-v3", "pro", True),
    ],
)
def test_end_frames_go_where_the_map_takes_them(
    tmp_path: Path, model: str, mode: str, first: bool
) -> None:
    start = _png(tmp_path / "first.png", (1280, 720)) if first else None
    end = _png(tmp_path / "end.png", (1280, 720))
    request = _request(model=model, options={"mode": mode}, first_frame=start, last_frame=end)
    with KlingServer(latency=0.05) as server:
        task = _task(server, _submit(request, _context(kling_env(server), tmp_path)))
    assert task.kind == "image2video" and "image_tail" in task.images
    assert ("image" in task.images) is first and "camera_control" not in task.request


def test_native_audio_sends_sound_on_and_the_lines(tmp_path: Path) -> None:
    """A shot whose lines the engine speaks: sound "on", its lines in the prompt, priced
    with audio (kling-v3 pro: 1.2 units/s)."""
    from ministudio.jobs import LineBrief

    shot = _request().shot.model_copy(
        update={
            "native_audio": True,
            "characters": (CharacterBrief(id="ann", name="Ann", dna="a woman"),),
            "lines": (LineBrief(speaker="ann", text="Look at it go!", start=0.2, end=1.5),),
        }
    )
    prompt = ministudio_kling.prompt_map(engine="kling", shot=shot)
    assert prompt is not None and "Look at it go!" in prompt and "blur" not in prompt
    request = _request(shot=shot, prompt=prompt, options={"mode": "pro"})
    with KlingServer(latency=0.05) as server:
        task = _task(server, _submit(request, _context(kling_env(server), tmp_path)))
    assert task.request["sound"] == "on" and "Look at it go!" in task.request["prompt"]
    assert _engine.cost(request) == pytest.approx(5 * 0.168)


def test_image2video_frames_and_identity(tmp_path: Path) -> None:
    """A first frame is sent byte for byte; a small reference image (the identity) is cropped
    to the film's shape and scaled up to 300 px; kling-v1-6 pro takes an end frame with it."""
    first = _png(tmp_path / "first.png", (1280, 720))
    small = _png(tmp_path / "ann.png", (64, 64))
    end = _png(tmp_path / "end.jpg", (400, 225))
    ann = CharacterBrief(id="ann", name="Ann", dna="a woman", reference_images=(small,))
    pro = {"mode": "pro"}
    with KlingServer(latency=0.05) as server:
        context = _context(kling_env(server), tmp_path)
        one = _submit(_request(first_frame=first, characters=(ann,)), context, "k1")
        two = _submit(
            _request(model="kling-v1-6", characters=(ann,), last_frame=end, options=pro),
            context,
            "k2",
        )
        three = _submit(_request(characters=(ann,), options={"identity": False}), context, "k3")
        tasks = [_task(server, i) for i in (one, two, three)]
    import hashlib

    assert tasks[0].kind == "image2video" and tasks[0].images["image"].width == 1280
    assert tasks[0].images["image"].sha256 == hashlib.sha256(first.read_bytes()).hexdigest()
    assert "element_list" not in tasks[0].request  # one image: no element (needs 2 to 4)
    image, tail = tasks[1].images["image"], tasks[1].images["image_tail"]
    assert (image.format, image.width, image.height) == ("PNG", 533, 300)
    assert (tail.format, tail.width, tail.height) == ("PNG", 533, 300)
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
    tall = _png(tmp_path / "tall.png", (200, 900))  # an element's image: its own shape,
    assert _decoded(_images.encode(tall, None)) == ("PNG", (300, 750))  # within 1:2.5
    with pytest.raises(EngineError, match="cannot read the image"):
        _images.encode(tmp_path / "missing.png", "16:9")


# -- Elements ---------------------------------------------------------------------------------
def _cast(tmp_path: Path, *names: str) -> tuple[CharacterBrief, ...]:
    people = []
    for n, name in enumerate(names):
        images = tuple(
            _png(tmp_path / f"{name}-{i}.png", (400, 600), (40 * n, 80 + i * 30, 90))
            for i in range(3)
        )
        people.append(
            CharacterBrief(
                id=name.lower(), name=name, dna=f"{name}, red coat", reference_images=images
            )
        )
    return tuple(people)


def test_characters_go_as_elements_on_kling_v3(tmp_path: Path) -> None:
    """Each character with 2-4 reference images is registered as an element (frontal + the
    others, its own shape), named <<<element_n>>> in the prompt; the clip starts from the
    place's image; at most 3 elements."""
    people = _cast(tmp_path, "Ann", "Bo", "Cy", "Di")
    plate = _png(tmp_path / "beach.png", (1280, 720), (10, 90, 200))
    place = EnvironmentBrief(id="beach", description="a beach", reference_images=(plate,))
    with KlingServer(latency=0.05) as server:
        request = _request(characters=people, environment=place)
        task = _task(server, _submit(request, _context(kling_env(server), tmp_path)))
        elements = list(server.elements.values())
    assert task.kind == "image2video" and len(elements) == 3
    sent = [e["element_id"] for e in task.request["element_list"]]
    assert sent == [e.element_id for e in elements]
    assert task.request["prompt"].startswith(
        "Ann is <<<element_1>>>. Bo is <<<element_2>>>. Cy is <<<element_3>>>."
    )
    body = elements[0].request
    assert body["element_name"] == "Ann" and body["reference_type"] == "image_refer"
    assert len(body["element_image_list"]["refer_images"]) == 2
    assert task.images["image"].width == 1280  # the place's image, not a portrait


def test_an_element_is_registered_once_and_found_again(tmp_path: Path) -> None:
    """Without a core to remember it (a fresh process), the element is looked up by its
    external id before any create: the second shot reuses it; option elements: false sends
    none."""
    (ann,) = _cast(tmp_path, "Ann")
    with KlingServer(latency=0.05) as server:
        context = _context(kling_env(server), tmp_path)
        one = _task(server, _submit(_request(characters=(ann,)), context, "k1"))
        two = _task(server, _submit(_request(characters=(ann,)), context, "k2"))
        off = _submit(_request(characters=(ann,), options={"elements": False}), context, "k3")
        assert len(server.elements) == 1
        assert one.request["element_list"] == two.request["element_list"]
        assert "element_list" not in _task(server, off).request


def test_elements_through_the_core_are_paid_side_jobs(tmp_path: Path) -> None:
    """Two shots of Ann (three reference images), then two new shots of her in another
    render sharing the store: one element, registered once (a journal side job)."""
    from ministudio.plugins import PluginHost
    from ministudio.remote.pacing import RetryPolicy
    from ministudio.run.render import RenderOptions, render
    from ministudio.run.store import ContentStore
    from ministudio.spec import Production

    from .conftest import tiny_production

    images = [str(p) for p in _cast(tmp_path, "Ann")[0].reference_images]
    base = tiny_production(
        format={"aspect_ratio": "16:9", "resolution": "720p", "fps": 24},
        routing={"video": "kling"},
    ).model_dump()
    base["characters"]["ann"]["reference_images"] = images
    base["scenes"][0]["shots"][1]["characters"] = ["ann"]
    with KlingServer(latency=(0.1, 0.1), render_scale=0.05) as server:
        for out in ("one", "two"):
            for shot in base["scenes"][0]["shots"]:
                shot["action"] = f"{shot['action']} ({out})"  # new clips, the same Ann
            manifest = render(
                Production.model_validate(base),
                tmp_path / out,
                host=PluginHost(env={}),
                store=ContentStore(tmp_path / "store"),
                env=kling_env(server),
                options=RenderOptions(retry=RetryPolicy(attempts=4, base=0.02, cap=0.2)),
            )
            assert all(shot.state == "done" for shot in manifest.shots)
        assert len(server.elements) == 1 and len(server.tasks) == 4
        (element,) = server.elements.values()
        sent = [t.request["element_list"] for t in server.tasks.values()]
        assert sent == [[{"element_id": element.element_id}]] * 4


# -- failures ---------------------------------------------------------------------------------
def test_submit_errors_map_to_the_core_types(tmp_path: Path) -> None:
    with KlingServer(latency=0.05) as server:
        context = _context(kling_env(server), tmp_path)
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


# -- job ids, lost answers and reused external ids --------------------------------------------
def test_the_job_id_names_the_endpoint_polled(tmp_path: Path) -> None:
    """``image2video:<task_id>``: a fresh process polls and downloads from that endpoint only
    (no trying endpoints in turn), and prices the clip (kling-v3 pro 9:16: 0.112 USD/s)."""
    from ministudio.media.probe import probe

    with KlingServer(latency=0.05) as server:
        context = _context(kling_env(server), tmp_path)
        first = _png(tmp_path / "first.png", (720, 1280))
        request = _request(
            first_frame=first, width=1080, height=1920, aspect_ratio="9:16", options={"mode": "pro"}
        )
        job = _submit(request, context)
        assert job.startswith("image2video:") and job.partition(":")[2].isdigit()
        assert server.wait_idle()
        status = anyio.run(_engine.poll, job, context)
        assert status.state == "succeeded" and status.video_url and status.job_id == job
        output = tmp_path / "clip.mp4"
        result = anyio.run(_engine.download, job, status, output, context, request)
        info = probe(output)
        asked = {path for method, path in server.requests if method == "GET" and "/v1/" in path}
    assert all(path.startswith("/v1/videos/image2video/") for path in asked)
    assert result.cost == pytest.approx(0.56) and result.engine_job_id == job
    assert info.duration == pytest.approx(5.0, abs=0.1) and info.height > info.width
    with pytest.raises(EngineError, match="does not name its Kling endpoint"):
        anyio.run(_engine.poll, "866889456698785798", context)


def test_a_lost_answer_is_found_by_external_id(tmp_path: Path) -> None:
    """find_video_job asks the endpoint the request goes to, by the documented query (GET
    /v1/videos/{endpoint}/{external_task_id}); submitting again finds the task too."""
    with KlingServer(latency=0.05) as server:
        context = _context(kling_env(server), tmp_path)
        request = _request()

        async def go() -> tuple[str | None, str | None]:
            before = await _engine.find(KEY, context, request)
            server.fail_next("create", "drop_after_accept")
            with pytest.raises(AmbiguousSubmission):
                await _engine.submit(request, KEY, context)
            return before, await _engine.find(KEY, context, request)

        before, found = anyio.run(go)
        task = server.by_external_id(f"text2video-{KEY}")
        assert before is None and server.submissions == 1 and task is not None
        assert found == f"text2video:{task.task_id}"
        assert _submit(request, context) == found
        assert server.submissions == 1 and _posts(server) == 1


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
        assert second != first and _task(server, second).external_task_id == f"text2video-{KEY}-2"
        assert anyio.run(_engine.find, KEY, context, _request()) == second
        assert server.submissions == 2 and _posts(server) == 2  # no create was refused
        assert not server.refusals


# Every answer the docs leave open for a create whose external_task_id is taken: success
# (the first task's answer again, or a second task) and each documented error code.
REUSED = ("existing", "create", *(str(code) for code in sorted(CODES) if code))
UNKNOWN = ("1203", "1201", "1200", "null")


@pytest.mark.parametrize("unknown", UNKNOWN)
@pytest.mark.parametrize("reused", REUSED)
def test_a_resubmission_never_sends_a_taken_external_id(
    tmp_path: Path, reused: str, unknown: str
) -> None:
    """Whatever Kling answers a reused external id, and whatever it answers a lookup of an
    unknown one: after a lost answer and after a failed task, the plugin looks the id up
    first, so it never sends one that is taken and the job is paid once per task."""
    with KlingServer(latency=0.05, reused_external_id=reused, unknown_task=unknown) as server:
        context = _context(kling_env(server), tmp_path)
        request = _request()
        server.fail_next("create", "drop_after_accept")
        with pytest.raises(AmbiguousSubmission):
            _submit(request, context)
        again = _submit(request, context)  # the core's retry (after find, or without it)
        assert server.submissions == 1 and _posts(server) == 1
        assert server.wait_idle()
        server.fail_next_task("Task failed")
        failing = _submit(_request(prompt="another"), context, "other")
        assert server.wait_idle()
        assert anyio.run(_engine.poll, failing, context).state == "failed"
        third = _submit(_request(prompt="another"), context, "other")
        assert _task(server, third).external_task_id == "text2video-other-2"
        assert server.submissions == 3 and _posts(server) == 3
        assert again.startswith("text2video:") and not server.refusals


@pytest.mark.parametrize("reused", [r for r in REUSED if r != "create"])
def test_an_error_for_a_create_is_looked_up_before_it_is_believed(
    tmp_path: Path, reused: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lookup that misses a task that exists (Kling's index behind, say) makes the plugin
    send its taken external id: whatever error (or success) Kling answers, the task is looked
    up again before the answer is believed, and the job resumes with its one task. (A
    reused id answered by a second task, "create", would be Kling breaking its own
    uniqueness rule: no client can tell it apart.)"""
    from ministudio_kling._api import Api

    with KlingServer(latency=0.05, reused_external_id=reused) as server:
        context = _context(kling_env(server), tmp_path)
        first = _submit(_request(), context)
        real = Api.task
        missed: list[str] = []

        async def behind(self: Api, path: str, ident: str) -> Any:
            if not missed and ident.startswith("text2video-"):
                missed.append(ident)
                return None
            return await real(self, path, ident)

        monkeypatch.setattr(Api, "task", behind)
        again = _submit(_request(), context)
    assert missed and again == first
    assert server.submissions == 1 and _posts(server) == 2  # the taken id went out once


def test_poll_and_download_need_the_task(tmp_path: Path) -> None:
    with KlingServer(latency=0.05) as server:
        context = _context(kling_env(server), tmp_path)
        job = _submit(_request(), context)
        assert server.wait_idle()
        status = anyio.run(_engine.poll, job, context)
        server.fail_next("download", "truncate")
        output = tmp_path / "clip.mp4"
        with pytest.raises(TransientError, match="cut short"):
            anyio.run(_engine.download, job, status, output, context, _request())
        with pytest.raises(EngineError, match="unknown to Kling"):
            anyio.run(_engine.poll, "text2video:123", context)
    assert not output.exists() and not (tmp_path / "clip.mp4.part").exists()


def test_callbacks_are_hints_and_progress() -> None:
    """Unsigned: a callback saying the task ended is a thin hint for the job its external id
    names (``image2video:<task_id>``), never its URL to fetch; one of no job of ours (an
    element's, another client's) is ignored."""
    parse = ministudio_kling.parse_webhook
    done = (
        b'{"task_id": "867283741759111202", "task_status": "succeed", "task_status_msg": "",'
        b' "created_at": 1774805076166, "updated_at": 1774805159000,'
        b' "task_info": {"external_task_id": "image2video-k"}, "final_unit_deduction": "1",'
        b' "task_result": {"videos": [{"id": "v", "url": "https://cdn/x.mp4", "duration": "5.1"}]}}'
    )
    job = "image2video:867283741759111202"
    assert parse(engine="kling", body=done, headers={}) == JobStatus(
        job_id=job, state="running", thin=True
    )
    running = (
        b'{"task_id": "1", "task_status": "processing",'
        b' "task_info": {"external_task_id": "text2video-k"}}'
    )
    progress = parse(engine="kling", body=running, headers={})
    assert progress is not None and progress.job_id == "text2video:1" and not progress.thin
    failed = (
        b'{"task_id": "1", "task_status": "failed", "task_status_msg": "sensitive content",'
        b' "task_info": {"external_task_id": "text2video-k-2"}}'
    )
    assert parse(engine="kling", body=failed, headers={}) == JobStatus(
        job_id="text2video:1", state="running", thin=True
    )
    element = (
        b'{"task_id": "9", "task_status": "succeed",'
        b' "task_info": {"external_task_id": "element-k"}}'
    )
    assert parse(engine="kling", body=element, headers={}) is None
    assert parse(engine="kling", body=b"nope", headers={}) is None
    assert parse(engine="kling", body=b'{"id": "g1", "state": "completed"}', headers={}) is None
    assert parse(engine="luma", body=done, headers={}) is None


# -- through the core -----------------------------------------------------------------------
def test_a_lost_submit_answer_in_a_render_is_paid_once(tmp_path: Path) -> None:
    from ministudio.plugins import PluginHost
    from ministudio.remote.pacing import RetryPolicy
    from ministudio.run.render import RenderOptions, render
    from ministudio.run.store import ContentStore

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
        seconds = {f"text2video:{t.task_id}": t.duration for t in server.tasks.values()}
    assert all(shot.state == "done" and shot.engine == "kling" for shot in manifest.shots)
    for shot in manifest.shots:  # kling-v3 std: 0.6 units (0.084 USD) a second
        assert shot.cost == pytest.approx(seconds[shot.engine_job_id] * 0.084)


def _luma_env(server: LumaServer, assets: Path) -> dict[str, str]:
    """As tests/test_luma_engine.py's ``_env``."""
    return {
        "LUMAAI_BASE_URL": server.api_url,
        "LUMAAI_API_KEY": server.api_key,
        "LUMA_ASSET_BASE_URL": "http://127.0.0.1:9/assets",  # recorded by the fake, not fetched
        "LUMA_ASSET_DIR": str(assets),
    }


def test_the_showcase_film_spreads_over_kling_luma_and_animatic(tmp_path: Path) -> None:
    """examples/quantum-mechanics.yaml (9:16, 720p, 8 s shots): two shots on kling (kling-v3
    std makes 8 s as it is; "impossible" pans, which goes in the prompt only: v3 takes no
    camera_control), two on luma-dream-machine, the rest animatic, by routing alone."""
    from ministudio.plugins import PluginHost
    from ministudio.remote.pacing import RetryPolicy
    from ministudio.run.render import RenderOptions, render
    from ministudio.run.store import ContentStore
    from ministudio.spec.loading import load_production

    root = Path(__file__).resolve().parents[1]
    film = load_production(root / "examples" / "quantum-mechanics.yaml")
    assert film.format.aspect_ratio == "9:16" and film.format.resolution == "720p"
    # at 12 fps: neither engine is sent the frame rate; half the frames to fit and assemble
    film = film.model_copy(update={"format": film.format.model_copy(update={"fps": 12})})
    to_kling = {"question", "impossible"}
    to_luma = {"tiny", "finale"}
    routed = {**dict.fromkeys(to_kling, "kling"), **dict.fromkeys(to_luma, "luma-dream-machine")}
    shots = {**film.routing.shots, **routed}
    film = film.model_copy(update={"routing": film.routing.model_copy(update={"shots": shots})})
    host = PluginHost(env={})
    assert {"kling", "luma-dream-machine", "animatic"} <= set(host.engines)
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
        assert {(t.mode, t.duration) for t in tasks} == {("std", 8)}
        assert not kling.refusals and all("camera_control" not in t.request for t in tasks)
        assert luma.submissions == 2 and len(videos) == 2
    engines = {shot.id: shot.engine for shot in manifest.shots}
    assert {k for k, v in engines.items() if v == "kling"} == to_kling
    assert {k for k, v in engines.items() if v == "luma-dream-machine"} == to_luma
    assert all(v == "animatic" for k, v in engines.items() if k not in routed)
    assert len(engines) == 7
    assert all(shot.state == "done" for shot in manifest.shots)
    kling_cost = sum(shot.cost for shot in manifest.shots if shot.engine == "kling")
    assert kling_cost == pytest.approx(2 * 8 * 0.084)
    assert (tmp_path / "out" / "film.mp4").exists()


def test_a_render_killed_at_random_pays_each_clip_once(
    tmp_path: Path, child_bytecode: Path
) -> None:
    """As benchmarks/kling_kills.py does 20 times: ``kill -9`` at 8 random moments, then a
    resume. The
    fake makes a second task for a reused external id (the answer that would cost most), so
    any resubmission under a taken id would show as a submission too many."""
    import json
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    shots = [  # 3 s: kling-v3's shortest, the least to fit and assemble
        {"id": f"s{i}", "action": f"Ann waves {i}", "characters": ["ann"], "duration": 3}
        for i in range(4)
    ]
    film = {
        "title": "Killed",
        "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 12},
        "characters": {"ann": {"name": "Ann", "dna": "a woman in a red coat"}},
        "environments": {"park": {"description": "a park", "lighting": "day"}},
        "scenes": [{"id": "one", "environment": "park", "shots": shots}],
        "routing": {"video": "kling"},
    }
    path = tmp_path / "film.json"
    path.write_text(json.dumps(film))
    out, store = tmp_path / "out", tmp_path / "store"
    command = [sys.executable, "-m", "ministudio", "render", str(path), "-o", str(out), "-q"]
    command.append(f"--store={store}")
    rng = random.Random(14)
    with KlingServer(latency=0.6, render_scale=0.05, reused_external_id="create") as server:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MINISTUDIO_")},
            **kling_env(server),
            "KLING_EXPECTED_LATENCY": "0.3",
            # the suite's bytecode cache (conftest.child_bytecode) comes with os.environ:
            # where PYTHONDONTWRITEBYTECODE is set, each of the nine children would compile
            # ministudio anew, and fewer kills would land past the imports
            "PYTHONPYCACHEPREFIX": str(child_bytecode),
        }
        for _ in range(8):
            child = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(rng.uniform(0.3, 2.5))
            child.send_signal(signal.SIGKILL)
            child.wait()
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert server.submissions == len(shots), f"{server.submissions} clips paid for"
        used = [t.external_task_id for t in server.tasks.values()]
        assert len(used) == len(set(used)), "an external id was sent twice"
    assert (out / "film.mp4").is_file()
