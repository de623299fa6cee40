"""``luma-photon`` (ministudio-provider-luma): Photon stills for ``ministudio cast`` against the
loopback fake Dream Machine API (tests/fakes/luma_server.py), through the official lumaai SDK:
what is sent, the picture written, its price, and how each failure is told."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import ministudio_luma
import pytest
from ministudio.authoring.cast import Ask, Caster, add_references, missing
from ministudio.authoring.retry import retrying
from ministudio.engines import EngineContext
from ministudio.errors import EngineError, EngineRefusal, MissingKeyError, TransientError
from ministudio.jobs import ImageRequest, ImageResult
from ministudio.plugins import PluginHost
from ministudio.run.store import ContentStore
from ministudio.safety.images import reencoded
from ministudio.spec.loading import load_production
from PIL import Image

from .fakes.luma_server import LumaServer

KEY = "luma-photon-SECRET-77c1"
FILM = """\
title: Photon cast
format: {aspect_ratio: "16:9", resolution: 360p, fps: 12}
style:
  description: ink and watercolour
characters:
  ada:
    name: Ada
    dna: a tall woman of 30, red scarf, round glasses
environments:
  dock:
    description: a wooden dock at low tide
    lighting: overcast noon
scenes:
  - id: one
    environment: dock
    shots:
      - action: Ada waits on the dock
        duration: 2
"""


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")  # read when the engine is declared


@pytest.fixture
def server() -> Iterator[LumaServer]:
    with LumaServer(api_key=KEY, image_latency=0.1, fault_retry_after=0.05) as fake:
        yield fake


def _env(server: LumaServer, tmp_path: Path, key: str = KEY) -> dict[str, str]:
    return {
        "LUMAAI_BASE_URL": server.api_url,
        "LUMAAI_API_KEY": key,
        "LUMA_ASSET_BASE_URL": "http://127.0.0.1:9/assets",  # recorded by the fake, not fetched
        "LUMA_ASSET_DIR": str(tmp_path / "assets"),
    }


def _request(**changes: Any) -> ImageRequest:
    fields: dict[str, Any] = {
        "subject": "character",
        "id": "ada",
        "name": "Ada",
        "description": "a tall woman of 30, red scarf",
        "view": "front",
        "prompt": "Character reference sheet, front view: Ada, a tall woman in a red scarf",
        "aspect_ratio": "3:4",
        "width": 768,
        "height": 1024,
    }
    return ImageRequest(**(fields | changes))


def _draw(server: LumaServer, tmp_path: Path, request: ImageRequest, key: str = KEY) -> ImageResult:
    """The plugin's generate_image hook, as the core calls it (a context with no uploader)."""
    context = EngineContext(
        engine="luma-photon", work_dir=tmp_path, env=_env(server, tmp_path, key)
    )
    return anyio.run(_generate, request, tmp_path / "still.png", context)


def _only_image_job(server: LumaServer) -> Any:
    (job,) = [j for j in server.jobs.values() if j.generation_type == "image"]
    return job


def test_a_still_is_drawn_written_and_priced(server: LumaServer, tmp_path: Path) -> None:
    result = _draw(server, tmp_path, _request(model="photon-flash-1", width=1000, height=400))
    job = _only_image_job(server)
    assert job.request["model"] == "photon-flash-1"
    assert job.request["prompt"] == _request().prompt  # no reference: sent as it is
    assert job.request["aspect_ratio"] == "21:9"  # 2.5:1 is nearest 21:9 of Photon's seven
    assert "character_ref" not in job.request and "image_ref" not in job.request
    with Image.open(result.path) as picture:
        assert picture.format == "PNG" and picture.width > picture.height
    assert result.model == "photon-flash-1" and result.cost == pytest.approx(0.005)
    assert server.submissions == 1 and not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize("model_required", [True, False])
def test_the_default_model_and_a_jpeg_on_request(model_required: bool, tmp_path: Path) -> None:
    """The SDK calls ``model`` required, the docs call photon-1 the default: the model is
    always sent, so a still is drawn whichever Luma holds to."""
    with LumaServer(api_key=KEY, image_latency=0.1, image_model_required=model_required) as server:
        _check_default_model_and_jpeg(server, tmp_path)


def _check_default_model_and_jpeg(server: LumaServer, tmp_path: Path) -> None:
    result = _draw(server, tmp_path, _request(options={"format": "jpg"}))
    job = _only_image_job(server)
    assert (job.request["model"], job.request["aspect_ratio"]) == ("photon-1", "3:4")
    with Image.open(result.path) as picture:
        assert picture.format == "JPEG"
    assert result.cost == pytest.approx(0.015)
    host = PluginHost(env={})
    assert host.estimate_cost(host.engine("luma-photon", "image"), _request()) == 0.015


def test_a_character_view_matches_its_front_through_character_ref(
    server: LumaServer, tmp_path: Path
) -> None:
    front = tmp_path / "front.png"
    Image.new("RGB", (48, 64), (200, 30, 40)).save(front)
    _draw(server, tmp_path, _request(view="profile", reference_images=(front,)))
    job = _only_image_job(server)
    (url,) = job.request["character_ref"]["identity0"]["images"]
    assert url.startswith("http://127.0.0.1:9/assets/") and "image_ref" not in job.request
    assert (tmp_path / "assets" / url.rsplit("/", 1)[1]).read_bytes() == reencoded(front)
    assert job.request["prompt"] == f"@character {_request().prompt}"


def test_a_place_takes_its_pictures_as_image_ref(server: LumaServer, tmp_path: Path) -> None:
    picture = tmp_path / "dock.jpg"
    Image.new("RGB", (64, 36), (20, 90, 120)).save(picture, format="JPEG")
    request = _request(
        subject="environment", id="dock", view="set", prompt="A wooden dock at low tide",
        width=640, height=360, aspect_ratio="16:9", reference_images=(picture,),
    )  # fmt: skip
    _draw(server, tmp_path, request)
    job = _only_image_job(server)
    (ref,) = job.request["image_ref"]
    assert "character_ref" not in job.request and job.request["aspect_ratio"] == "16:9"
    assert job.request["prompt"] == "A wooden dock at low tide"
    assert (tmp_path / "assets" / ref["url"].rsplit("/", 1)[1]).read_bytes() == reencoded(picture)


def test_a_generation_luma_fails_is_a_refusal_with_its_reason(
    server: LumaServer, tmp_path: Path
) -> None:
    with pytest.raises(EngineRefusal, match="Advanced prompt moderation failed"):
        _draw(server, tmp_path, _request(prompt="Ada does something forbidden on the dock"))
    server.fail_next_job("Prompt processing failed")
    with pytest.raises(EngineRefusal, match="Luma did not draw ada \\(front\\): Prompt processing"):
        _draw(server, tmp_path, _request())
    assert not (tmp_path / "still.png").exists()


def test_what_photon_cannot_take_is_refused_before_anything_is_paid(
    server: LumaServer, tmp_path: Path
) -> None:
    pictures = []
    for index in range(5):
        pictures.append(tmp_path / f"ref{index}.png")
        Image.new("RGB", (16, 16), (index, 0, 0)).save(pictures[-1])
    with pytest.raises(EngineRefusal, match="at most 4"):
        _draw(server, tmp_path, _request(reference_images=tuple(pictures)))
    with pytest.raises(EngineRefusal, match="not a Photon model"):
        _draw(server, tmp_path, _request(model="uni-1"))
    with pytest.raises(EngineRefusal, match="unknown option seed"):
        _draw(server, tmp_path, _request(options={"seed": 3}))
    with pytest.raises(EngineRefusal, match="too short"):  # Luma's own 400, quoted
        _draw(server, tmp_path, _request(prompt="ab"))
    assert server.submissions == 0 and not (tmp_path / "assets").exists()


def test_a_429_is_waited_out_and_tried_again(server: LumaServer, tmp_path: Path) -> None:
    server.fail_next("image", "429")
    with pytest.raises(TransientError) as info:
        _draw(server, tmp_path, _request())
    assert info.value.retry_after == pytest.approx(0.05) and server.submissions == 0
    server.fail_next("image", "429")
    server.fail_next("image", "500")
    result = anyio.run(retrying, lambda: _async_draw(server, tmp_path, _request()))
    assert server.submissions == 1 and result.path.exists()


async def _async_draw(server: LumaServer, tmp_path: Path, request: ImageRequest) -> ImageResult:
    return await anyio.to_thread.run_sync(_draw, server, tmp_path, request)


def test_a_wrong_key_names_the_variable_and_never_the_key(
    server: LumaServer, tmp_path: Path
) -> None:
    with pytest.raises(MissingKeyError) as info:
        _draw(server, tmp_path, _request(), key="luma-WRONG-secret-9")
    message = str(info.value)
    assert "luma-photon" in message and "LUMAAI_API_KEY" in message and "HTTP 401" in message
    assert "WRONG" not in message and KEY not in message and server.submissions == 0


def test_a_cut_off_download_is_fetched_again_never_drawn_again(
    server: LumaServer, tmp_path: Path
) -> None:
    server.fail_next("download", "truncate")
    result = _draw(server, tmp_path, _request())
    with Image.open(result.path) as picture:
        picture.load()
    assert server.submissions == 1 and _only_image_job(server).downloads == 2
    server.fail_next("download", "truncate", count=3)
    with pytest.raises(TransientError, match="cut off"):
        _draw(server, tmp_path / "again", _request(prompt="Ada again, on the dock"))
    assert server.submissions == 2 and not (tmp_path / "again" / "still.png").exists()
    assert not list((tmp_path / "again").glob("*.part"))


def test_a_lost_create_answer_is_found_not_paid_twice(server: LumaServer, tmp_path: Path) -> None:
    server.fail_next("image", "drop_after_accept")
    result = _draw(server, tmp_path, _request())
    assert server.submissions == 1 and result.path.exists()


def test_cast_draws_a_sheet_and_a_set_with_photon(server: LumaServer, tmp_path: Path) -> None:
    """``ministudio cast`` with luma-photon: the front first, the other views matching it
    (character_ref: the stored front, re-encoded), the place on its own; priced per still."""
    path = tmp_path / "film" / "film.yaml"
    path.parent.mkdir()
    path.write_text(FILM, encoding="utf-8")
    production = load_production(path)
    caster = Caster(
        production,
        path.parent,
        PluginHost(env={}),
        ContentStore(tmp_path / "store"),
        _env(server, tmp_path),
        Ask(engine="luma-photon"),
    )
    drawn = anyio.run(caster.draw_all, missing(production))
    add_references(path, drawn)
    jobs = {j.request["prompt"]: j for j in server.jobs.values()}
    assert server.submissions == 4 and sum(d.cost for d in drawn) == pytest.approx(0.06)
    views = {d.still.view: d for d in drawn}
    front_url = None
    for view in ("three-quarter", "profile"):
        job = next(j for p, j in jobs.items() if f"{view} view" in p)
        assert job.request["prompt"].startswith("@character ")
        (front_url,) = job.request["character_ref"]["identity0"]["images"]
        assert job.request["aspect_ratio"] == "3:4"
    assert front_url is not None
    sent = (tmp_path / "assets" / front_url.rsplit("/", 1)[1]).read_bytes()
    assert sent == reencoded(views["front"].stored)
    place = next(j for p, j in jobs.items() if p.startswith("Establishing view"))
    assert place.request["aspect_ratio"] == "16:9" and "image_ref" not in place.request
    assert (path.parent / "cast" / "ada-front.png").exists()
    assert "cast/ada-profile.png" in path.read_text(encoding="utf-8")


def test_a_reference_with_no_asset_host_says_what_to_set(
    server: LumaServer, tmp_path: Path
) -> None:
    """Photon takes images by URL only: without LUMA_ASSET_*, a view that matches its front
    stops before the create, naming the settings."""
    front = tmp_path / "front.png"
    Image.new("RGB", (48, 64), (200, 30, 40)).save(front)
    env = {"LUMAAI_BASE_URL": server.api_url, "LUMAAI_API_KEY": KEY}
    context = EngineContext(engine="luma-photon", work_dir=tmp_path, env=env)
    request = _request(view="profile", reference_images=(front,))
    with pytest.raises(EngineError, match="LUMA_ASSET_BASE_URL") as info:
        anyio.run(_generate, request, tmp_path / "still.png", context)
    assert "luma-photon" in str(info.value) and server.submissions == 0


async def _generate(request: ImageRequest, output: Path, context: EngineContext) -> ImageResult:
    result: ImageResult = await ministudio_luma.generate_image(
        engine="luma-photon", request=request, output=output, context=context
    )
    return result
