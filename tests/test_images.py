"""Input images leave the machine as pixels only: every reference image and end frame is
decoded at validate (caps, no special files, inside the production's folder unless allowed),
reported with its field and line, and re-encoded (metadata gone) before any upload or copy."""

from __future__ import annotations

import base64
import io
import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ministudio.errors import ProductionError
from ministudio.plugins import PluginHost
from ministudio.remote.pacing import RetryPolicy
from ministudio.run.render import RenderOptions, render
from ministudio.run.store import ContentStore
from ministudio.safety.images import (
    MAX_BYTES,
    ImageError,
    check_image,
    reencoded,
    sanitized,
)
from ministudio.spec import Production
from ministudio.spec.loading import load_production
from PIL import ExifTags, Image, PngImagePlugin
from pydantic import ValidationError

MARKER = "MARKER-gps-and-secrets-7f3a"
FILM = """\
title: Images
characters:
  ann:
    name: Ann
    dna: a woman
    reference_images:
{images}
environments:
  park:
    description: a park
    reference_images: [{place}]
scenes:
  - id: one
    environment: park
    shots:
      - action: Ann waves
        characters: [ann]
        end_frame: {end}
"""


def _png(path: Path, size: tuple[int, int] = (48, 32), colour: Any = (200, 40, 40)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bomb(path: Path, side: int = 100_000) -> Path:
    """A 100-byte PNG declaring side x side pixels: decoding it would need gigabytes."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _chunk(b"IEND", b"")
    )
    return path


def _photo(path: Path, size: tuple[int, int] = (40, 20)) -> Path:
    """A JPEG as a phone writes it: EXIF with GPS, an orientation and ``MARKER`` in its
    description, a comment and an ICC profile (each holding ``MARKER`` too)."""
    image = Image.new("RGB", size, (20, 120, 220))
    image.paste((250, 250, 0), (0, 0, size[0] // 2, size[1] // 2))
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = MARKER
    exif[ExifTags.Base.Orientation] = 6  # shown rotated 90 degrees clockwise
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (52.0, 22.0, 7.0),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (4.0, 53.0, 2.0),
        }
    )
    image.save(
        path,
        "JPEG",
        quality=95,
        exif=exif,
        comment=MARKER.encode(),
        icc_profile=b"ICC " + MARKER.encode(),
    )
    assert MARKER.encode() in path.read_bytes()
    assert Image.open(path).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return path


def _clean(data: bytes) -> None:
    """``data`` is a PNG holding pixels only: no EXIF, ICC profile, text or ``MARKER``."""
    assert MARKER.encode() not in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.mode in ("RGB", "RGBA")
        assert not image.getexif()
        assert not {"exif", "icc_profile", "comment"} & set(image.info)
        assert not getattr(image, "text", {})


def _problems(path: Path, **kw: Any) -> list[str]:
    with pytest.raises(ProductionError) as caught:
        load_production(path, **kw)
    return [str(problem) for problem in caught.value.problems]


# -- validate ----------------------------------------------------------------------------------
def test_every_bad_image_is_reported_with_its_field_and_line(tmp_path: Path) -> None:
    """Each case of issue 12 validated before: now each is a problem of its own, field path
    and line included, all in one error."""
    folder = tmp_path / "film"
    folder.mkdir()
    (folder / "notes.png").write_text("KEY=sk-live-123\n")  # a text file named .png
    good = _png(folder / "good.png").read_bytes()
    (folder / "cut.png").write_bytes(good[: len(good) // 2])  # a truncated PNG
    (folder / "empty.png").write_bytes(b"")
    outside = _png(tmp_path / "elsewhere.png")
    (folder / "link.png").symlink_to(outside)  # a symlink leading out of the folder
    _bomb(folder / "bomb.png")
    images = [
        "/proc/self/environ",
        "notes.png",
        "cut.png",
        "empty.png",
        "../" * 40 + "etc/passwd",
        "link.png",
        "good.png",
    ]
    film = folder / "film.yaml"
    film.write_text(
        FILM.format(
            images="\n".join(f"      - {p}" for p in images), place="bomb.png", end="empty.png"
        )
    )
    found = _problems(film)
    path = "characters.ann.reference_images"
    expected = [
        f"line 7: {path}[0]: reference image '/proc/self/environ' is outside the production's",
        f"line 8: {path}[1]: reference image 'notes.png' is not a PNG, JPEG or WEBP image",
        f"line 9: {path}[2]: reference image 'cut.png' cannot be decoded, it is cut off",
        f"line 10: {path}[3]: reference image 'empty.png' is empty (0 bytes)",
        f"line 11: {path}[4]: reference image '{'../' * 40}etc/passwd' is outside the production",
        f"line 12: {path}[5]: reference image 'link.png' is outside the production's folder",
        "line 17: environments.park.reference_images[0]: reference image 'bomb.png' declares too "
        "many pixels to decode (a decompression bomb?); the limit is 10,000 pixels a side",
        "line 24: scenes[0].shots[0].end_frame: end frame 'empty.png' is empty (0 bytes)",
    ]
    assert len(found) == len(expected), found
    for problem, start in zip(found, expected, strict=True):
        assert problem.startswith(start), problem
    assert "--allow-images-from DIR" in found[0] and "sk-live" not in " ".join(found)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: Path("/proc/self/environ"), "is a system file under /proc"),
        (lambda d: Path("/dev/zero"), "is a system file under /dev"),
        (lambda d: d, "is not a regular file"),
        (lambda d: _fifo(d / "pipe.png"), "is not a regular file"),
        (lambda d: _bomb(d / "bomb.png"), "declares too many pixels to decode"),
        (lambda d: _bomb(d / "big.png", 9000), "is 9000 x 9000 pixels; the limit is 10,000"),
        (lambda d: _sized(d / "huge.png", MAX_BYTES + 1), "over the 50 MB limit"),
        (lambda d: _gif(d / "anim.png"), "is not a PNG, JPEG or WEBP image"),
    ],
)
def test_special_files_bombs_and_oversize_are_refused_even_from_python(
    tmp_path: Path, make: Any, message: str
) -> None:
    """Without a production folder (a production built in Python) paths may point anywhere,
    but still only at image files within the caps: never /proc, devices or pipes."""
    path = make(tmp_path)
    with pytest.raises(ImageError, match=message.replace("(", r"\(")):
        check_image(path)
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        Production.model_validate(
            {
                "title": "t",
                "environments": {"park": {"description": "a park", "reference_images": [path]}},
                "scenes": [{"id": "one", "environment": "park", "shots": [{"action": "x"}]}],
            }
        )


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _sized(path: Path, size: int) -> Path:
    with path.open("wb") as f:
        f.truncate(size)
    return path


def _gif(path: Path) -> Path:
    Image.new("RGB", (8, 8)).save(path, "GIF")
    return path


def test_a_folder_allowed_by_option_variable_or_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, shared = tmp_path / "film", tmp_path / "shared"
    folder.mkdir()
    shared.mkdir()
    face = _png(shared / "ann.png")
    (folder / "ann.png").symlink_to(face)  # a link into an allowed folder is fine too
    film = folder / "film.yaml"
    film.write_text(FILM.format(images=f"      - {face}", place="ann.png", end="null"))
    monkeypatch.delenv("MINISTUDIO_IMAGE_ROOTS", raising=False)
    reference, place = _problems(film)
    assert "characters.ann.reference_images[0]" in reference and "outside" in reference
    assert "environments.park.reference_images[0]" in place and "outside" in place
    production = load_production(film, image_roots=[shared])
    assert production.characters["ann"].reference_images == [face.resolve()]
    assert production.environments["park"].reference_images == [face.resolve()]
    from ministudio.cli import cli

    runner = CliRunner()
    refused = runner.invoke(cli, ["validate", str(film)])
    assert refused.exit_code != 0 and "outside the production's folder" in str(refused.exception)
    allowed = runner.invoke(cli, ["validate", "--allow-images-from", str(shared), str(film)])
    assert allowed.exit_code == 0, allowed.output
    assert "valid" in allowed.output
    monkeypatch.setenv("MINISTUDIO_IMAGE_ROOTS", os.pathsep.join(["/nowhere", str(shared)]))
    assert load_production(film).characters["ann"].reference_images == [face.resolve()]
    assert runner.invoke(cli, ["validate", str(film)]).exit_code == 0


# -- re-encoding -------------------------------------------------------------------------------
def test_the_sanitized_copy_holds_pixels_only_upright_and_the_same_every_time(
    tmp_path: Path,
) -> None:
    photo = _photo(tmp_path / "photo.jpg")
    store = ContentStore(tmp_path / "store")
    copy = sanitized(photo, store)
    _clean(copy.read_bytes())
    with Image.open(copy) as image, Image.open(photo) as original:
        assert image.size == (20, 40)  # orientation 6 applied: the picture stands upright
        assert image.mode == "RGB"
        expected = original.transpose(Image.Transpose.ROTATE_270).convert("RGB")
        assert image.tobytes() == expected.tobytes()
    twin = tmp_path / "twin.jpg"
    twin.write_bytes(photo.read_bytes())
    assert sanitized(twin, store) == copy  # named after the content: one file, stable keys
    assert copy.read_bytes() == reencoded(photo)
    png = tmp_path / "sign.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", MARKER)
    Image.new("RGBA", (16, 16), (1, 2, 3, 128)).save(png, pnginfo=info)
    kept = sanitized(png, tmp_path / "folder")  # a plain folder works as well
    _clean(kept.read_bytes())
    with Image.open(kept) as image:
        assert image.mode == "RGBA" and image.getpixel((0, 0)) == (1, 2, 3, 128)


def test_a_large_photo_reaches_engines_scaled_down_to_the_copy_side(tmp_path: Path) -> None:
    """A 24 MP photo as a lossless PNG would be tens of MB, past engines' request limits: the
    copy is at most COPY_SIDE pixels a side, its aspect kept; a small image keeps its size."""
    from ministudio.safety.images import COPY_SIDE

    big = tmp_path / "big.jpg"
    Image.effect_noise((6000, 4000), 64).convert("RGB").save(big, quality=90)
    with Image.open(sanitized(big, tmp_path / "copies")) as copy:
        assert copy.size == (COPY_SIDE, round(COPY_SIDE * 4000 / 6000))
    small = tmp_path / "small.png"
    Image.new("RGB", (1920, 1080), (9, 9, 9)).save(small)
    with Image.open(sanitized(small, tmp_path / "copies")) as copy:
        assert copy.size == (1920, 1080)


def _photo_film(photo: Path, end: Path) -> Production:
    return Production.model_validate(
        {
            "title": "Photos",
            "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 24},
            "characters": {"ann": {"name": "Ann", "dna": "a woman", "reference_images": [photo]}},
            "environments": {"park": {"description": "a park", "lighting": "day"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [
                        {"id": "s1", "action": "Ann waves", "characters": ["ann"], "duration": 4},
                        {
                            "id": "s2",
                            "action": "Ann walks",
                            "characters": ["ann"],
                            "duration": 4,
                            "continuity": "continue",
                            "end_frame": end,
                        },
                    ],
                }
            ],
            "routing": {"video": "veo"},
        }
    )


def test_gemini_omni_receives_pixels_without_gps_or_the_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A phone photo as Ann's reference and as s2's end frame: what reaches the Google fake
    (Gemini Omni's image blocks) are PNGs with no EXIF (no GPS), and the marker planted in
    the photo never arrives."""
    from .fakes.google_server import GoogleServer

    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setenv("OMNI_EXPECTED_LATENCY", "0.3")
    photo = _photo(tmp_path / "ann.jpg")
    end = _photo(tmp_path / "end.jpg", (64, 36))
    key = "gemini-images-SECRET-1"
    film = _photo_film(photo, end).model_dump()
    film["routing"] = {"video": "gemini-omni"}
    with GoogleServer(api_key=key, latency=0.2) as server:
        manifest = render(
            Production.model_validate(film),
            tmp_path / "out",
            host=PluginHost(env={}),
            store=ContentStore(tmp_path / "store"),
            env={"GEMINI_BASE_URL": server.base_url, "GEMINI_API_KEY": key},
            options=RenderOptions(retry=RetryPolicy(attempts=6, base=0.02, cap=0.2)),
        )
        interactions = [server.interactions[s.engine_job_id or ""] for s in manifest.shots]
    assert all(shot.state == "done" for shot in manifest.shots)
    first, second = interactions
    assert len(first.images) == 1 and len(second.images) >= 2  # s2: its frames
    for mime, image in [*first.images, *second.images]:
        assert mime == "image/png"
        _clean(image)
    for interaction in interactions:
        assert MARKER not in json.dumps(interaction.body)
        for blob in _base64_strings(interaction.body):
            assert MARKER.encode() not in blob


def _base64_strings(value: Any) -> list[bytes]:
    if isinstance(value, dict):
        return [b for v in value.values() for b in _base64_strings(v)]
    if isinstance(value, list):
        return [b for v in value for b in _base64_strings(v)]
    if isinstance(value, str) and len(value) > 64:
        try:
            return [base64.b64decode(value, validate=True)]
        except ValueError:
            return []
    return []


def test_the_luma_asset_folder_holds_re_encoded_images_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ann's photo (sent to Photon for her identity frame) and s1's end frame are published
    in the public asset folder: as PNGs with no metadata, and never with the marker."""
    from .fakes.luma_server import LumaServer

    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")
    photo = _photo(tmp_path / "ann.jpg")
    end = _photo(tmp_path / "end.jpg", (64, 36))
    film = _photo_film(photo, end).model_dump()
    film["routing"] = {
        "video": "luma-dream-machine",
        "options": {"luma-dream-machine": {"extend": False}},
    }
    film["scenes"][0]["shots"][1]["continuity"] = "cut"
    film["scenes"][0]["shots"][1]["duration"] = 5
    film["scenes"][0]["shots"][0]["duration"] = 5
    assets = tmp_path / "assets"
    with LumaServer(latency=(0.1, 0.1), render_scale=0.05) as server:
        manifest = render(
            Production.model_validate(film),
            tmp_path / "out",
            host=PluginHost(env={}),
            store=ContentStore(tmp_path / "store"),
            env={
                "LUMAAI_BASE_URL": server.api_url,
                "LUMAAI_API_KEY": server.api_key,
                "LUMA_ASSET_BASE_URL": "http://127.0.0.1:9/assets",
                "LUMA_ASSET_DIR": str(assets),
            },
            options=RenderOptions(retry=RetryPolicy(attempts=6, base=0.02, cap=0.2)),
        )
        requests = json.dumps([job.request for job in server.jobs.values()])
    assert all(shot.state == "done" for shot in manifest.shots)
    published = sorted(assets.iterdir())
    assert len(published) == 2  # Ann's photo (for Photon) and the end frame
    for path in published:
        assert path.suffix == ".png"
        _clean(path.read_bytes())
    assert MARKER not in requests


def test_the_public_folder_refuses_what_is_not_an_image(tmp_path: Path) -> None:
    """Whatever a plugin asks to publish, the public folder holds re-encoded images only."""
    from ministudio.remote.hosting import AssetHost, AssetHostError

    host = AssetHost(
        engine="luma-dream-machine", base_url="https://x.example", folder=str(tmp_path / "www")
    )
    for bad in (Path("/proc/self/environ"), _bomb(tmp_path / "bomb.png")):
        with pytest.raises(AssetHostError, match="refusing to publish"):
            host.publish(bad)
    assert not (tmp_path / "www").exists()
    hosted = host.publish(_photo(tmp_path / "photo.jpg"))
    (published,) = (tmp_path / "www").iterdir()
    assert hosted.reference.endswith(published.name) and published.suffix == ".png"
    _clean(published.read_bytes())
