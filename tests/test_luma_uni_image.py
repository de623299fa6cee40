"""``luma-uni`` (ministudio-provider-luma): uni-1 stills for ``ministudio cast`` against the
loopback fake Agents API (tests/fakes/luma_agents_server.py), through the official luma-agents
SDK: what is sent, the picture written, its price, and how each failure is told."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import ministudio_luma
import pytest
from ministudio.authoring.cast import Ask, Caster, add_references, missing
from ministudio.authoring.retry import retrying
from ministudio.engines import EngineContext
from ministudio.errors import (
    AmbiguousSubmission,
    EngineRefusal,
    MissingKeyError,
    TransientError,
)
from ministudio.jobs import ImageRequest, ImageResult
from ministudio.plugins import PluginHost
from ministudio.run.store import ContentStore
from ministudio.safety.images import reencoded
from ministudio.spec.loading import load_production
from PIL import Image

from .fakes.luma_agents_server import LumaAgentsServer

KEY = "luma-uni-SECRET-4e1b"
FILM = """\
title: Uni cast
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
def server() -> Iterator[LumaAgentsServer]:
    with LumaAgentsServer(api_key=KEY, latency=0.1, fault_retry_after=0.05) as fake:
        yield fake


def _env(server: LumaAgentsServer, key: str = KEY) -> dict[str, str]:
    """The engine's settings: no asset host (references go inline)."""
    return {"LUMA_BASE_URL": server.api_url, "LUMA_AGENTS_API_KEY": key}


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


def _draw(
    server: LumaAgentsServer, tmp_path: Path, request: ImageRequest, key: str = KEY
) -> ImageResult:
    """The plugin's generate_image hook, as the core calls it (no journal behind it)."""
    context = EngineContext(engine="luma-uni", work_dir=tmp_path, env=_env(server, key))
    return anyio.run(_generate, request, tmp_path / "still.png", context)


async def _generate(request: ImageRequest, output: Path, context: EngineContext) -> ImageResult:
    drawing = ministudio_luma.generate_image(
        engine="luma-uni", request=request, output=output, context=context
    )
    assert drawing is not None
    return await drawing


def _only_job(server: LumaAgentsServer) -> Any:
    (job,) = server.jobs.values()
    return job


def _picture(ref: dict[str, str]) -> bytes:
    return base64.b64decode(ref["data"])


def test_a_still_is_drawn_written_and_priced(server: LumaAgentsServer, tmp_path: Path) -> None:
    result = _draw(server, tmp_path, _request(model="uni-1-max", width=1000, height=400))
    job = _only_job(server)
    assert job.request == {
        "type": "image",
        "model": "uni-1-max",
        "prompt": _request().prompt,
        "aspect_ratio": "3:1",  # 2.5:1 is nearest 3:1 of uni-1's nine
        "output_format": "png",
    }
    with Image.open(result.path) as picture:
        assert picture.format == "PNG" and picture.width / picture.height == pytest.approx(3, 0.03)
    assert result.model == "uni-1-max" and result.cost == pytest.approx(0.1000)
    assert server.billed_usd == pytest.approx(0.1000)
    assert server.submissions == 1 and not list(tmp_path.glob("*.part"))


def test_the_default_model_a_jpeg_and_a_style_on_request(
    server: LumaAgentsServer, tmp_path: Path
) -> None:
    result = _draw(server, tmp_path, _request(options={"format": "jpeg", "style": "manga"}))
    job = _only_job(server)
    assert (job.request["model"], job.request["aspect_ratio"]) == ("uni-1", "2:3")
    assert (job.request["output_format"], job.request["style"]) == ("jpeg", "manga")
    with Image.open(result.path) as picture:
        assert picture.format == "JPEG"
    assert result.cost == pytest.approx(0.0404)
    host = PluginHost(env={})
    engine = host.engine("luma-uni", "image")
    assert host.estimate_cost(engine, _request()) == pytest.approx(0.0404)
    assert host.estimate_cost(engine, _request(model="uni-1-max")) == pytest.approx(0.1)


def test_a_view_matches_its_front_through_an_inline_image_ref(
    server: LumaAgentsServer, tmp_path: Path
) -> None:
    front = tmp_path / "front.png"
    Image.new("RGB", (48, 64), (200, 30, 40)).save(front)
    result = _draw(server, tmp_path, _request(view="profile", reference_images=(front,)))
    job = _only_job(server)
    (ref,) = job.request["image_ref"]
    assert set(ref) == {"data", "media_type"} and ref["media_type"] == "image/png"
    assert _picture(ref) == reencoded(front)  # pixels only, no metadata
    assert job.request["prompt"] == _request().prompt
    assert result.cost == pytest.approx(0.0434) == server.billed_usd  # 1 reference


def test_a_place_takes_its_pictures_inline_and_big_ones_are_scaled_down(
    server: LumaAgentsServer, tmp_path: Path
) -> None:
    small, big = tmp_path / "dock.jpg", tmp_path / "wide.png"
    Image.new("RGB", (64, 36), (20, 90, 120)).save(small, format="JPEG")
    Image.new("RGB", (3000, 1000), (90, 20, 120)).save(big)
    request = _request(
        subject="environment", id="dock", view="set", prompt="A wooden dock at low tide",
        width=640, height=360, aspect_ratio="16:9", reference_images=(small, big),
    )  # fmt: skip
    result = _draw(server, tmp_path, request)
    job = _only_job(server)
    first, second = job.request["image_ref"]
    assert _picture(first) == reencoded(small) and job.request["aspect_ratio"] == "16:9"
    with Image.open(io.BytesIO(_picture(second))) as sent:
        assert sent.size == (2048, 683)
    assert result.cost == pytest.approx(0.0464)  # 2 references: $0.0434 + $0.0030


def test_a_generation_luma_fails_is_told(server: LumaAgentsServer, tmp_path: Path) -> None:
    with pytest.raises(EngineRefusal, match="content_moderated"):
        _draw(server, tmp_path, _request(prompt="Ada does something forbidden on the dock"))
    server.fail_next_job("generation_failed", "Generation failed upstream")
    with pytest.raises(TransientError, match="did not draw ada \\(front\\): Generation failed"):
        _draw(server, tmp_path, _request())
    assert not (tmp_path / "still.png").exists() and server.billed_usd == 0


def test_what_uni_cannot_take_is_refused_before_anything_is_paid(
    server: LumaAgentsServer, tmp_path: Path
) -> None:
    pictures = []
    for index in range(10):
        pictures.append(tmp_path / f"ref{index}.png")
        Image.new("RGB", (16, 16), (index, 0, 0)).save(pictures[-1])
    with pytest.raises(EngineRefusal, match="at most 9"):
        _draw(server, tmp_path, _request(reference_images=tuple(pictures)))
    with pytest.raises(EngineRefusal, match="not a uni-1 model"):
        _draw(server, tmp_path, _request(model="photon-1"))
    with pytest.raises(EngineRefusal, match="unknown option seed"):
        _draw(server, tmp_path, _request(options={"seed": 3}))
    with pytest.raises(EngineRefusal, match="style must be auto or manga"):
        _draw(server, tmp_path, _request(options={"style": "anime"}))
    with pytest.raises(EngineRefusal, match="format must be png or jpeg"):
        _draw(server, tmp_path, _request(options={"format": "webp"}))
    assert server.submissions == 0 and not server.create_bodies


def test_a_long_prompt_is_cut_and_luma_s_own_refusal_quoted(tmp_path: Path) -> None:
    with LumaAgentsServer(api_key=KEY, latency=0.1, manga_aspect_ratios=("2:3",)) as server:
        _draw(server, tmp_path, _request(prompt="p" * 7000))
        assert len(_only_job(server).request["prompt"]) == 6000
        with pytest.raises(EngineRefusal, match="style 'manga' does not support") as info:
            _draw(server, tmp_path, _request(width=1000, height=400, options={"style": "manga"}))
        assert "luma-uni" in str(info.value) and server.submissions == 1


def test_a_429_is_waited_out_and_tried_again(server: LumaAgentsServer, tmp_path: Path) -> None:
    server.fail_next("create", "429")
    with pytest.raises(TransientError) as info:
        _draw(server, tmp_path, _request())
    assert info.value.retry_after == pytest.approx(0.05) and server.submissions == 0
    server.fail_next("create", "429")
    server.fail_next("create", "502")
    result = anyio.run(retrying, lambda: _async_draw(server, tmp_path, _request()))
    assert server.submissions == 1 and result.path.exists()


async def _async_draw(
    server: LumaAgentsServer, tmp_path: Path, request: ImageRequest
) -> ImageResult:
    return await anyio.to_thread.run_sync(_draw, server, tmp_path, request)


def test_a_wrong_or_missing_key_names_the_variable_and_never_the_key(
    server: LumaAgentsServer, tmp_path: Path
) -> None:
    with pytest.raises(MissingKeyError) as info:
        _draw(server, tmp_path, _request(), key="luma-WRONG-secret-9")
    message = str(info.value)
    assert "luma-uni" in message and "LUMA_AGENTS_API_KEY" in message and "HTTP 401" in message
    assert "WRONG" not in message and KEY not in message and server.submissions == 0
    context = EngineContext(
        engine="luma-uni", work_dir=tmp_path, env={"LUMA_BASE_URL": server.api_url}
    )
    with pytest.raises(MissingKeyError, match="LUMA_AGENTS_API_KEY"):
        anyio.run(_generate, _request(), tmp_path / "still.png", context)
    assert not server.create_bodies


def test_a_cut_off_download_is_fetched_again_never_drawn_again(
    server: LumaAgentsServer, tmp_path: Path
) -> None:
    server.fail_next("download", "truncate")
    result = _draw(server, tmp_path, _request())
    with Image.open(result.path) as picture:
        picture.load()
    assert server.submissions == 1 and _only_job(server).downloads == 2
    server.fail_next("download", "expired")  # a presigned URL past its hour: minted again
    _draw(server, tmp_path / "late", _request(prompt="Ada, late, on the dock"))
    assert server.submissions == 2 and (tmp_path / "late" / "still.png").exists()
    late = next(j for j in server.jobs.values() if "late" in j.prompt)
    fetched = [path for _, path in server.requests if path.startswith(f"/cdn/{late.id}")]
    assert late.downloads == 1 and len(fetched) == 2  # refused once, then a fresh URL
    server.fail_next("download", "truncate", count=3)
    with pytest.raises(TransientError, match="cut off"):
        _draw(server, tmp_path / "again", _request(prompt="Ada again, on the dock"))
    assert server.submissions == 3 and not (tmp_path / "again" / "still.png").exists()
    assert not list((tmp_path / "again").glob("*.part"))


def test_a_lost_create_answer_is_never_sent_again_by_itself(
    server: LumaAgentsServer, tmp_path: Path
) -> None:
    server.fail_next("create", "drop_after_accept")
    with pytest.raises(AmbiguousSubmission, match="--forget-lost") as info:
        _draw(server, tmp_path, _request())
    assert "luma-uni" in str(info.value) and KEY not in str(info.value)
    assert server.submissions == 1


def _caster(path: Path, server: LumaAgentsServer, tmp_path: Path, **ask: Any) -> Caster:
    return Caster(
        load_production(path),
        path.parent,
        PluginHost(env={}),
        ContentStore(tmp_path / "store"),
        _env(server),
        Ask(engine="luma-uni", **ask),
    )


def _film(tmp_path: Path) -> Path:
    path = tmp_path / "film" / "film.yaml"
    path.parent.mkdir()
    path.write_text(FILM, encoding="utf-8")
    return path


def test_cast_draws_a_sheet_and_a_set_with_uni(server: LumaAgentsServer, tmp_path: Path) -> None:
    """``ministudio cast`` with luma-uni: the front first, the other views matching it
    (image_ref: the stored front, inline), the place on its own; priced per still."""
    path = _film(tmp_path)
    caster = _caster(path, server, tmp_path)
    try:
        drawn = anyio.run(caster.draw_all, missing(caster.production))
    finally:
        caster.close()
    add_references(path, drawn)
    jobs = {j.request["prompt"]: j for j in server.jobs.values()}
    assert server.submissions == 4
    assert sum(d.cost for d in drawn) == pytest.approx(0.0404 * 2 + 0.0434 * 2)
    views = {d.still.view: d for d in drawn}
    for view in ("three-quarter", "profile"):
        job = next(j for p, j in jobs.items() if f"{view} view" in p)
        (ref,) = job.request["image_ref"]
        assert _picture(ref) == reencoded(views["front"].stored)
        assert job.request["aspect_ratio"] == "2:3"  # 3:4 is nearest 2:3 of uni-1's nine
    place = next(j for p, j in jobs.items() if p.startswith("Establishing view"))
    assert place.request["aspect_ratio"] == "16:9" and "image_ref" not in place.request
    assert (path.parent / "cast" / "ada-front.png").exists()
    assert "cast/ada-profile.png" in path.read_text(encoding="utf-8")


def test_a_cast_whose_create_answer_was_lost_pays_once_until_forget_lost(
    server: LumaAgentsServer, tmp_path: Path
) -> None:
    """The journal keeps the lost create in flight: the next cast stops on it and sends
    nothing; ``--forget-lost`` draws it once more."""
    path = _film(tmp_path)
    server.fail_next("create", "drop_after_accept")
    for _ in range(2):
        caster = _caster(path, server, tmp_path)
        try:
            with pytest.raises(AmbiguousSubmission, match="ministudio cast FILE --forget-lost"):
                anyio.run(caster.draw_all, missing(caster.production))
        finally:
            caster.close()
        assert server.submissions == 2  # the lost still and the other first one, once each
    caster = _caster(path, server, tmp_path, forget_lost=True)
    try:
        anyio.run(caster.draw_all, missing(caster.production))
    finally:
        caster.close()
    assert server.submissions == 5  # the lost one once more, then the two other views
