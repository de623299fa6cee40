"""Asset hosting (ministudio.remote.hosting): a public folder, or an object store through
fsspec with signed URLs, tested against moto's S3 server on loopback; the core re-signing expired
references; and the luma-dream-machine engine rendering with an S3 asset store against the fake
Dream Machine API."""

from __future__ import annotations

import hashlib
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest
from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineSpec
from ministudio.errors import EngineError, TransientError
from ministudio.jobs import HostedAsset, VideoRequest
from ministudio.plugins import PluginHost
from ministudio.remote.hosting import DEFAULT_EXPIRES, AssetHost, AssetHostError, CannotSign
from ministudio.remote.journal import Journal
from ministudio.run.render import render
from ministudio.run.store import ContentStore
from ministudio.spec import Production
from ministudio.testing._kit import solid_png

from .fakes.luma_server import LumaServer
from .s3 import fake_aws, s3_client, s3_endpoint

SECRET = "s3-secret-SHOULD-NOT-LEAK-91f2"


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    """A new bucket that keeps every version, so each upload (PUT) can be counted."""
    name = f"assets-{uuid.uuid4().hex[:12]}"
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket=name)
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _uploads(endpoint: str, bucket: str) -> dict[str, int]:
    """Object key -> how many times it was written."""
    versions = s3_client(endpoint).list_object_versions(Bucket=bucket).get("Versions", [])
    counts: dict[str, int] = {}
    for version in versions:
        counts[version["Key"]] = counts.get(version["Key"], 0) + 1
    return counts


def _signed(url: str) -> dict[str, list[str]]:
    """The query of a presigned S3 URL (SigV2 or SigV4), checked to carry a signature."""
    query = parse_qs(urlsplit(url).query)
    assert ("Signature" in query and "Expires" in query) or (
        "X-Amz-Signature" in query and "X-Amz-Expires" in query
    ), url
    return query


def _name(data: bytes, suffix: str = ".png") -> str:
    return hashlib.sha256(data).hexdigest()[:32] + suffix


# -- the object store -------------------------------------------------------------------------
def test_a_store_uploads_each_content_once_and_hands_out_signed_urls(
    s3_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    face = tmp_path / "ann.PNG"
    face.write_bytes(b"\x89PNG Ann's face" + bytes(range(256)))
    copy = tmp_path / "ann-copy.png"  # the same content under another name
    copy.write_bytes(face.read_bytes())
    host = AssetHost.from_env(
        {
            "LUMA_ASSET_STORE": f"s3://{bucket}/assets",
            "LUMA_ASSET_STORE_OPTIONS": f'{{"endpoint_url": "{s3_endpoint}"}}',
            "LUMA_ASSET_URL_EXPIRES": "3600",
        },
        "LUMA_ASSET_",
        engine="luma-dream-machine",
    )
    before = time.time()
    first, second = host.publish(face), host.publish(copy)
    key = f"assets/{_name(face.read_bytes())}"
    assert _uploads(s3_endpoint, bucket) == {key: 1}  # two publishes, one upload
    for hosted in (first, second):
        assert urlsplit(hosted.reference).path == f"/{bucket}/{key}"
        _signed(hosted.reference)
        assert hosted.expires_at is not None
        assert before + 3600 <= hosted.expires_at <= time.time() + 3600
        answer = httpx.get(hosted.reference)
        assert answer.status_code == 200 and answer.content == face.read_bytes()
        assert answer.headers["content-type"] == "image/png"

    other = tmp_path / "bo.png"
    other.write_bytes(b"\x89PNG Bo's face")
    hosted = host.publish(other)
    assert _uploads(s3_endpoint, bucket) == {key: 1, f"assets/{_name(other.read_bytes())}": 1}
    assert httpx.get(hosted.reference).content == other.read_bytes()


def test_a_store_with_a_base_url_is_a_public_bucket(
    s3_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    image = tmp_path / "frame.jpg"
    image.write_bytes(b"a first frame")
    host = AssetHost(
        engine="luma-dream-machine",
        store=f"s3://{bucket}",
        store_options={"endpoint_url": s3_endpoint},
        base_url="https://cdn.example/films/",
    )
    hosted = host.publish(image)
    name = _name(image.read_bytes(), ".jpg")
    assert hosted == HostedAsset(reference=f"https://cdn.example/films/{name}")
    assert _uploads(s3_endpoint, bucket) == {name: 1}


def test_a_store_that_cannot_sign_is_refused_before_uploading(tmp_path: Path) -> None:
    import fsspec

    image = tmp_path / "frame.png"
    image.write_bytes(b"a frame")
    folder = f"luma-{uuid.uuid4().hex[:8]}"
    host = AssetHost.from_env(
        {"LUMA_ASSET_STORE": f"memory://{folder}"}, "LUMA_ASSET_", engine="luma-dream-machine"
    )
    with pytest.raises(CannotSign) as info:
        host.publish(image)
    assert isinstance(info.value, EngineError) and not info.value.retryable
    message = str(info.value)
    assert "cannot sign" in message and "s3://" in message
    assert "LUMA_ASSET_STORE" in message and "LUMA_ASSET_BASE_URL" in message
    memory = fsspec.filesystem("memory")
    assert not memory.exists(f"/{folder}")
    # Served publicly, the same store needs no signature.
    public = AssetHost(
        engine="luma-dream-machine", store=f"memory://{folder}", base_url="https://x.example"
    )
    name = _name(b"a frame")
    assert public.publish(image).reference == f"https://x.example/{name}"
    assert memory.cat_file(f"/{folder}/{name}") == b"a frame"
    memory.rm(f"/{folder}", recursive=True)


def test_store_failures_are_typed_and_never_show_credentials(
    s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "frame.png"
    image.write_bytes(b"a frame")
    options = {"endpoint_url": s3_endpoint, "key": "testing", "secret": SECRET}
    host = AssetHost(
        engine="luma-dream-machine", store="s3://no-such-bucket/x", store_options=options
    )
    assert SECRET not in repr(host)
    with pytest.raises(AssetHostError) as info:
        host.publish(image)
    assert "no-such-bucket" in str(info.value) and SECRET not in str(info.value)
    import s3fs

    monkeypatch.setattr(s3fs.S3FileSystem, "retries", 1)  # s3fs's own retries, then botocore's:
    quick = {"config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2}}
    closed = AssetHost(
        engine="luma-dream-machine",
        store="s3://b/x",
        store_options={"endpoint_url": "http://127.0.0.1:9", "key": "k", "secret": SECRET, **quick},
        prefix="LUMA_ASSET_",
    )
    with pytest.raises(TransientError) as transient:  # nothing listens: try again later
        closed.publish(image)
    assert SECRET not in str(transient.value)


def test_settings_errors_name_the_variable_to_set() -> None:
    def error(env: dict[str, str]) -> str:
        with pytest.raises(AssetHostError) as info:
            AssetHost.from_env(env, "LUMA_ASSET_", engine="luma-dream-machine")
        return str(info.value)

    assert all(name in error({}) for name in ("LUMA_ASSET_STORE", "LUMA_ASSET_BASE_URL"))
    assert "LUMA_ASSET_DIR" in error({"LUMA_ASSET_BASE_URL": "https://x.example"})
    store = {"LUMA_ASSET_STORE": "s3://b/assets"}
    bad_json = error({**store, "LUMA_ASSET_STORE_OPTIONS": f'{{"secret": "{SECRET}"'})
    assert "LUMA_ASSET_STORE_OPTIONS" in bad_json and "not valid JSON" in bad_json
    assert SECRET not in bad_json
    not_object = error({**store, "LUMA_ASSET_STORE_OPTIONS": f'["{SECRET}"]'})
    assert "JSON object" in not_object and SECRET not in not_object
    assert "LUMA_ASSET_URL_EXPIRES" in error({**store, "LUMA_ASSET_URL_EXPIRES": "soon"})
    assert "LUMA_ASSET_URL_EXPIRES" in error({**store, "LUMA_ASSET_URL_EXPIRES": "0"})
    too_long = error({**store, "LUMA_ASSET_URL_EXPIRES": str(DEFAULT_EXPIRES + 1)})
    assert "7 days" in too_long
    both = error({**store, "LUMA_ASSET_DIR": "/srv/www"})
    assert "LUMA_ASSET_STORE" in both and "LUMA_ASSET_DIR" in both and "not both" in both
    assert (
        AssetHost.from_env(store, "LUMA_ASSET_", engine="luma-dream-machine").expires
        == DEFAULT_EXPIRES
    )


def test_a_public_folder_holds_re_encoded_images_only(tmp_path: Path) -> None:
    from ministudio.safety.images import reencoded
    from PIL import Image

    image = tmp_path / "frame.png"
    Image.new("RGB", (32, 16), (10, 200, 30)).save(image, pnginfo=_text_chunk("a secret"))
    env = {"LUMA_ASSET_BASE_URL": "https://x.example/a/", "LUMA_ASSET_DIR": str(tmp_path / "www")}
    host = AssetHost.from_env(env, "LUMA_ASSET_", engine="luma-dream-machine")
    hosted = host.publish(image)
    name = _name(reencoded(image))
    assert hosted == HostedAsset(reference=f"https://x.example/a/{name}", expires_at=None)
    assert (tmp_path / "www" / name).read_bytes() == reencoded(image)
    assert b"a secret" not in (tmp_path / "www" / name).read_bytes()
    secret = tmp_path / "notes.png"  # not an image, whatever its name says
    secret.write_bytes(b"KEY=sk-live-123")
    with pytest.raises(AssetHostError, match=r"refusing to publish notes\.png in LUMA_ASSET_DIR"):
        host.publish(secret)
    assert [p.name for p in (tmp_path / "www").iterdir()] == [name]


def _text_chunk(text: str) -> Any:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    return info


# -- the core: expiring references are asked for again ----------------------------------------
def test_the_journal_reuses_a_reference_only_with_a_margin_left(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    now = time.time()
    journal.uploaded("e", "forever", "id-1")
    journal.uploaded("e", "hours", "url-hours", expires_at=now + 3 * 3600)
    journal.uploaded("e", "week", "url-week", expires_at=now + 7 * 86400)
    assert journal.asset("e", "forever", now=now + 10 * 365 * 86400) == "id-1"
    assert journal.asset("e", "hours", now=now + 2 * 3600 - 1) == "url-hours"
    assert journal.asset("e", "hours", now=now + 2 * 3600 + 100) is None  # under an hour left
    assert journal.asset("e", "week", now=now + 6 * 86400) == "url-week"
    assert journal.asset("e", "week", now=now + 6.5 * 86400) is None  # under a tenth left
    journal.close()


def test_an_old_journal_gains_the_expiry_column(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE assets (engine TEXT NOT NULL, content TEXT NOT NULL, reference TEXT "
            "NOT NULL, uploaded_at REAL NOT NULL, PRIMARY KEY (engine, content))"
        )
        db.execute("INSERT INTO assets VALUES ('luma', 'abc', 'https://x/abc.png', 1.0)")
    db.close()
    journal = Journal(path)
    assert journal.asset("luma", "abc") == "https://x/abc.png"
    journal.uploaded("luma", "def", "https://x/def.png", expires_at=time.time() + 30)
    assert journal.asset("luma", "def") is None
    journal.close()
    Journal(path).close()  # opening it again migrates nothing


class Signing:
    """An engine whose uploads are signed URLs lasting ``lifetime`` seconds."""

    def __init__(self) -> None:
        self.lifetime = 600.0
        self.calls = 0
        self.sent: list[str] = []

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        caps = Capabilities(resolutions=("480p",), max_references=4, concurrency=1)
        return [EngineSpec(id="signing", kind="video", capabilities=caps)]

    @hookimpl
    def upload_asset(self, engine: str, path: Path, context: Any) -> HostedAsset:
        self.calls += 1
        return HostedAsset(
            reference=f"https://signed.example/{self.calls}", expires_at=time.time() + self.lifetime
        )

    @hookimpl
    async def generate_video(
        self, engine: str, request: VideoRequest, output: Path, context: Any
    ) -> Any:
        from ministudio.jobs import VideoResult
        from ministudio.media.encode import VideoWriter

        for character in request.shot.characters:
            self.sent += [await context.upload(p) for p in character.reference_images]
        frame = np.full((request.height, request.width, 3), 90, np.uint8)
        with VideoWriter(output, request.width, request.height, request.fps) as writer:
            for _ in range(round(request.duration * request.fps)):
                writer.write(frame)
        return VideoResult(path=output, model="sign-1")


def _film(face: Path, action: str) -> Production:
    return Production.model_validate(
        {
            "title": "Signed",
            "format": {"aspect_ratio": "16:9", "resolution": "480p", "fps": 12},
            "characters": {"ann": {"name": "Ann", "dna": "a woman", "reference_images": [face]}},
            "environments": {"park": {"description": "a park"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [
                        {
                            "id": "a",
                            "action": f"Ann {action}",
                            "characters": ["ann"],
                            "duration": 1,
                        },
                        {"id": "b", "action": "Ann sits", "characters": ["ann"], "duration": 1},
                    ],
                }
            ],
            "routing": {"video": "signing"},
        }
    )


def test_the_core_asks_again_for_a_reference_about_to_expire(tmp_path: Path) -> None:
    face = tmp_path / "ann.png"
    solid_png(face, (200, 40, 40))
    engine = Signing()
    host = PluginHost()
    host.register(engine, "signing")
    store = ContentStore(tmp_path / "store")
    render(_film(face, "waves"), tmp_path / "a", host=host, store=store)
    # 10 minutes is under the hour a cached URL must still last: each shot gets a new one.
    assert engine.calls == 2 and engine.sent == [
        "https://signed.example/1",
        "https://signed.example/2",
    ]
    engine.lifetime = 86400.0
    render(_film(face, "runs"), tmp_path / "b", host=host, store=store)  # shot "a" is new
    render(_film(face, "jumps"), tmp_path / "c", host=host, store=store)
    # A day lasts: signed once more, then reused by the next shot and the next render.
    assert engine.calls == 3 and engine.sent[2:] == ["https://signed.example/3"] * 2


# -- end to end: Luma Dream Machine with an S3 asset store ---------------------------------
def test_luma_renders_with_signed_urls_from_an_s3_store(
    s3_endpoint: str, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shot s2 continues an animatic shot on luma-dream-machine: its first frame goes to S3,
    signed."""
    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")
    film = Production.model_validate(
        {
            "title": "Signed frames",
            "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 24},
            "characters": {"ann": {"name": "Ann", "dna": "a woman, red coat"}},
            "environments": {"park": {"description": "a park", "lighting": "day"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [
                        {"id": "s1", "action": "Ann waves", "characters": ["ann"], "duration": 1},
                        {
                            "id": "s2",
                            "action": "Ann walks on",
                            "characters": ["ann"],
                            "duration": 5,
                            "continuity": "continue",
                        },
                    ],
                }
            ],
            "routing": {"video": "animatic", "shots": {"s2": "luma-dream-machine"}},
        }
    )
    with LumaServer(latency=(0.1, 0.1), render_scale=0.05) as server:
        env = {
            "LUMAAI_BASE_URL": server.api_url,
            "LUMAAI_API_KEY": server.api_key,
            "LUMA_ASSET_STORE": f"s3://{bucket}/assets",
            "LUMA_ASSET_STORE_OPTIONS": f'{{"endpoint_url": "{s3_endpoint}"}}',
        }
        manifest = render(
            film,
            tmp_path / "out",
            host=PluginHost(env={}),
            store=ContentStore(tmp_path / "store"),
            env=env,
        )
        (video,) = [job for job in server.jobs.values() if job.generation_type == "video"]
        frame0 = video.keyframes["frame0"]
        assert frame0["type"] == "image"
    assert all(shot.state == "done" for shot in manifest.shots)
    assert [shot.engine for shot in manifest.shots] == ["animatic", "luma-dream-machine"]
    assert (tmp_path / "out" / "film.mp4").exists()
    url = frame0["url"]
    query = _signed(url)
    if "Expires" in query:  # SigV2: the epoch second it ends
        assert int(query["Expires"][0]) > time.time() + DEFAULT_EXPIRES - 600
    else:  # SigV4: seconds from its signing
        assert int(query["X-Amz-Expires"][0]) == DEFAULT_EXPIRES
    (key,) = _uploads(s3_endpoint, bucket)
    assert urlsplit(url).path == f"/{bucket}/{key}"
    image = httpx.get(url).content
    assert image.startswith(b"\x89PNG") and key == f"assets/{_name(image)}"


def test_store_option_values_are_blanked_in_errors_short_ones_too() -> None:
    """A store's error that quotes its options: long values in every form the gate knows, and
    values of 4 to 7 characters (which the process's gate leaves alone) as they are."""
    import base64

    host = AssetHost(
        engine="luma-dream-machine",
        store="s3://b/x",
        store_options={"key": "k7x9q", "secret": SECRET},
    )
    encoded = base64.b64encode(SECRET.encode()).decode()
    text = host._scrub(OSError(f"denied for k7x9q with {SECRET} ({encoded})"))
    assert "k7x9q" not in text and SECRET not in text and encoded not in text
    assert text.count("***") == 3


__all__ = ["fake_aws", "s3_endpoint"]  # fixtures, used by name
