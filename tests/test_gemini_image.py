"""``gemini-image`` against the loopback fake Google server (``fakes/google_generate.py``):
stills written at the model's documented size for the nearest ratio, reference images sent
re-encoded (pixels only, within the model's limit), the cost from usage, and the failures (a
429 then a picture, a rejected key, a refusal with its reason, an answer without a picture)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ministudio.engines import EngineContext
from ministudio.errors import AmbiguousSubmission, EngineError, EngineRefusal
from ministudio.jobs import ImageRequest
from ministudio.plugins import PluginHost
from PIL import Image, PngImagePlugin

from .fakes.google_generate import ImageRequest as Received
from .fakes.google_generate import image_pixels
from .fakes.google_server import GoogleServer

pytest.importorskip("google.genai")
from ministudio_veo import _generate, image
from ministudio_veo._errors import KeyRejected

KEY = "gemini-image-SECRET-5e88a1"
ENGINE = "gemini-image"
MARK = "private-note-SECRET-in-metadata"


@pytest.fixture(scope="module")
def server() -> Iterator[GoogleServer]:
    with GoogleServer(api_key=KEY, fault_retry_after=0.05) as s:
        yield s


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_generate, "BACKOFF", 0.01)


def context(server: GoogleServer, tmp_path: Path, key: str = KEY) -> EngineContext:
    return EngineContext(
        ENGINE, tmp_path, env={"GEMINI_BASE_URL": server.base_url, "GEMINI_API_KEY": key}
    )


def still(**fields: Any) -> ImageRequest:
    """Ann's front view (3:4, 768x1024), as ``ministudio cast`` asks for it."""
    data: dict[str, Any] = {
        "subject": "character",
        "id": "ann",
        "name": "Ann",
        "description": "a woman in a red coat",
        "view": "front",
        "prompt": "Character reference sheet, front view: Ann, a woman in a red coat.",
        "aspect_ratio": "3:4",
        "width": 768,
        "height": 1024,
        "seed": 7,
    }
    return ImageRequest.model_validate({**data, **fields})


def received(server: GoogleServer, seen: int) -> Received:
    requests = server.image_requests[seen:]
    assert len(requests) == 1
    return requests[0]


@pytest.mark.parametrize(
    ("fields", "ratio", "size"),
    [
        ({}, "3:4", "1K"),  # a character's sheet view
        ({"aspect_ratio": "16:9", "width": 1280, "height": 720}, "16:9", "1K"),
        ({"aspect_ratio": "16:9", "width": 1920, "height": 1080}, "16:9", "2K"),
        ({"aspect_ratio": "2.39:1", "width": 1920, "height": 804}, "21:9", "2K"),
        ({"options": {"image_size": "512"}}, "3:4", "512"),
    ],
)
def test_a_still_is_written_at_the_models_size_for_the_nearest_ratio(
    server: GoogleServer, tmp_path: Path, fields: dict[str, Any], ratio: str, size: str
) -> None:
    seen = len(server.image_requests)
    out = tmp_path / "ann.png"
    result = image.draw(still(**fields), out, context(server, tmp_path))
    sent = received(server, seen)
    assert sent.error is None and sent.model == "gemini-3.1-flash-image" == result.model
    assert (sent.aspect_ratio, sent.image_size) == (ratio, size)
    assert sent.modalities == ["IMAGE"] and sent.body["generationConfig"]["seed"] == 7
    assert sent.prompt == still(**fields).prompt
    with Image.open(out) as drawn:
        assert drawn.size == image_pixels(sent.model, ratio, size) == (sent.width, sent.height)
    assert out.read_bytes() == sent.image and result.path == out
    assert result.cost == pytest.approx(sent.usd, rel=1e-4)
    assert result.cost == pytest.approx(image.estimate(still(**fields)), rel=0.05)


def test_reference_images_go_reencoded_without_their_metadata(
    server: GoogleServer, tmp_path: Path
) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", MARK)
    front = tmp_path / "front.png"
    Image.new("RGBA", (3000, 2000), (200, 30, 30, 255)).save(front, pnginfo=info)
    exif = Image.Exif()
    exif[0x010E] = MARK  # ImageDescription
    side = tmp_path / "side.jpg"
    Image.new("RGB", (300, 400), (30, 30, 200)).save(side, exif=exif.tobytes())
    seen = len(server.image_requests)
    image.draw(still(reference_images=(front, side)), tmp_path / "o.png", context(server, tmp_path))
    sent = received(server, seen)
    assert [mime for mime, _ in sent.references] == ["image/png", "image/png"]
    sizes = []
    for _, data in sent.references:
        assert MARK.encode() not in data
        with Image.open(io.BytesIO(data)) as picture:
            sizes.append(picture.size)
            colours = picture.convert("RGB").getcolors()
        assert colours is not None and len(colours) == 1  # the same pixels, only them
    assert sizes == [(1536, 1024), (300, 400)]  # the large one brought under the long side


def test_a_model_gets_no_more_references_than_it_takes_nor_sizes_it_lacks(
    server: GoogleServer, tmp_path: Path
) -> None:
    refs = []
    for i in range(5):
        refs.append(tmp_path / f"r{i}.png")
        Image.new("RGB", (64, 64), (i * 40, 90, 90)).save(refs[-1])
    seen = len(server.image_requests)
    request = still(model="gemini-2.5-flash-image", reference_images=tuple(refs))
    result = image.draw(request, tmp_path / "o.png", context(server, tmp_path))
    sent = received(server, seen)
    assert sent.error is None and len(sent.references) == 3  # its documented limit
    assert "image_size" not in sent.image_config and sent.aspect_ratio == "3:4"
    assert result.cost == pytest.approx(0.039, abs=0.002)
    assert image.estimate(request) == 0.039


def test_a_429_then_a_picture(server: GoogleServer, tmp_path: Path) -> None:
    server.fail_next("image", "429")
    out = tmp_path / "o.png"
    image.draw(still(), out, context(server, tmp_path))
    assert out.stat().st_size > 0


@pytest.mark.parametrize("fault", ["drop_after_accept", "drop"])
def test_a_lost_answer_is_never_sent_again(
    fault: str, server: GoogleServer, tmp_path: Path
) -> None:
    """Drawn and billed, then the connection closes (or closes with nothing done: the client
    cannot tell): one request, and an error that says how to draw it once more."""
    seen = len(server.image_requests)
    server.fail_next("image", fault)
    out = tmp_path / "o.png"
    with pytest.raises(AmbiguousSubmission, match="--forget-lost"):
        image.draw(still(), out, context(server, tmp_path))
    assert len(server.image_requests) - seen == (1 if fault == "drop_after_accept" else 0)
    assert not out.exists()


def test_a_wrong_key_is_rejected(server: GoogleServer, tmp_path: Path) -> None:
    wrong = "AIza-wrong-SECRET-1111"
    with pytest.raises(KeyRejected) as caught:
        image.draw(still(), tmp_path / "o.png", context(server, tmp_path, key=wrong))
    assert wrong not in str(caught.value) and not (tmp_path / "o.png").exists()


def test_a_refused_still_says_why_and_writes_nothing(server: GoogleServer, tmp_path: Path) -> None:
    out = tmp_path / "o.png"
    with pytest.raises(EngineRefusal, match="IMAGE_SAFETY"):
        image.draw(still(prompt="a forbidden picture"), out, context(server, tmp_path))
    server.script_image(finish_reason="NO_IMAGE", text="I cannot draw that person.")
    with pytest.raises(EngineRefusal, match="NO_IMAGE: I cannot draw that person"):
        image.draw(still(), out, context(server, tmp_path))
    assert not out.exists()


def test_a_blocked_prompt_is_a_refusal(tmp_path: Path) -> None:
    with (
        GoogleServer(api_key=KEY, image_blocked="prompt") as blocking,
        pytest.raises(EngineRefusal, match="PROHIBITED_CONTENT"),
    ):
        out = tmp_path / "o.png"
        image.draw(still(prompt="a forbidden picture"), out, context(blocking, tmp_path))


def test_options_and_references_are_checked_before_anything_is_sent(
    server: GoogleServer, tmp_path: Path
) -> None:
    seen = len(server.image_requests)
    with pytest.raises(EngineError, match="unknown option style"):
        image.draw(still(options={"style": "x"}), tmp_path / "o.png", context(server, tmp_path))
    with pytest.raises(EngineError, match="image_size must be one of 1K"):
        bad = still(model="gemini-2.5-flash-image", options={"image_size": "4K"})
        image.draw(bad, tmp_path / "o.png", context(server, tmp_path))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    with pytest.raises(EngineError, match="cannot read the reference image"):
        image.draw(still(reference_images=(broken,)), tmp_path / "o.png", context(server, tmp_path))
    assert len(server.image_requests) == seen


def test_the_plugin_declares_it_and_prices_it() -> None:
    host = PluginHost(env={})
    spec = host.engines[ENGINE]
    assert spec.kind == "image" and spec.default_model == "gemini-3.1-flash-image"
    assert host.estimate_cost(spec, still()) == pytest.approx(0.067)


FILM = """\
title: Cast on Gemini
format: {aspect_ratio: "16:9", resolution: 360p, fps: 12}
characters:
  ada: {name: Ada, dna: a tall woman of 30 with a red scarf and round glasses}
environments:
  dock: {description: a wooden dock at low tide, lighting: overcast noon}
scenes:
  - id: one
    environment: dock
    shots: [{action: Ada waits on the dock, duration: 2}]
"""


def test_ministudio_cast_draws_a_sheet_and_a_place_on_gemini(
    server: GoogleServer, tmp_path: Path
) -> None:
    from ministudio.spec.loading import load_production

    from .conftest import run_cli

    path = tmp_path / "film.yaml"
    path.write_text(FILM, encoding="utf-8")
    seen = len(server.image_requests)
    env = {
        "GEMINI_API_KEY": KEY,
        "GEMINI_BASE_URL": server.base_url,
        "MINISTUDIO_STORE": str(tmp_path / "store"),
    }
    done = run_cli("cast", str(path), "--engine", ENGINE, env=env)
    assert done.returncode == 0, done.stderr
    sent = server.image_requests[seen:]
    assert len(sent) == 4 and all(r.error is None for r in sent)  # three views and the place
    assert sorted(r.aspect_ratio for r in sent) == ["16:9", "3:4", "3:4", "3:4"]
    assert sorted(len(r.references) for r in sent) == [0, 0, 1, 1]  # views match the front
    after = load_production(path)
    assert len(after.characters["ada"].reference_images) == 3
    assert all(p.is_file() for p in after.environments["dock"].reference_images)
    assert KEY not in done.stdout + done.stderr
