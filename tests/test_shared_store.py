"""A content store every node reaches (ministudio.run.store with ``shared``): two stores with
their own local caches and one s3:// URL, against moto's S3 server on loopback (the pattern of
test_hosting.py); interrupted uploads; typed errors without credentials; ``open_store`` for the
CLI's ``--store``. The local-only store is covered by the render tests."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from ministudio.errors import StoreError
from ministudio.run.store import ContentStore, job_key, open_store

from .conftest import run_cli
from .s3 import fake_aws, s3_client, s3_endpoint

SECRET = "s3-secret-SHOULD-NOT-LEAK-5c1e"
URL_SECRET = "url-password-SHOULD-NOT-LEAK-77"


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name = f"films-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


def _node(tmp_path: Path, name: str, url: str, endpoint: str) -> ContentStore:
    """One node's store: its own cache folder, the shared URL."""
    return ContentStore(tmp_path / name, shared=url, storage_options={"endpoint_url": endpoint})


def _objects(endpoint: str, bucket: str) -> list[str]:
    return [
        o["Key"] for o in s3_client(endpoint).list_objects_v2(Bucket=bucket).get("Contents", [])
    ]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _source(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return path


# -- two nodes, one store ---------------------------------------------------------------------
def test_two_nodes_see_each_others_objects_byte_identical(
    s3_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    url = f"s3://{bucket}/films"
    one, two = (_node(tmp_path, n, url, s3_endpoint) for n in ("one", "two"))
    clip, line = _source(tmp_path, "clip.mp4", 300_000), _source(tmp_path, "line.wav", 4_000)
    clip_key, line_key = job_key("clip", 1), job_key("line", 2)

    stored = one.put(clip_key, clip, ".mp4")
    assert stored == one.path(clip_key, ".mp4") and stored.read_bytes() == clip.read_bytes()
    two.put(line_key, line, ".voice.wav")
    assert sorted(_objects(s3_endpoint, bucket)) == sorted(
        [
            f"films/{clip_key[:2]}/{clip_key}.mp4",
            f"films/{line_key[:2]}/{line_key}.voice.wav",
        ]
    )

    fetched = two.get(clip_key, ".mp4")  # downloaded into node two's cache
    assert fetched == two.path(clip_key, ".mp4")
    assert fetched.read_bytes() == clip.read_bytes()
    assert one.get(line_key, ".voice.wav").read_bytes() == line.read_bytes()  # type: ignore[union-attr]
    assert not [p for p in _files(tmp_path / "two") if p.suffix == ".part"]

    # An executor hands a store file to another node by key; the store travels pickled.
    assert one.key_of(stored) == (clip_key, ".mp4")
    worker = pickle.loads(pickle.dumps(_node(tmp_path, "three", url, s3_endpoint)))
    on_worker = worker.get(*one.key_of(stored))  # type: ignore[misc]
    assert on_worker is not None and on_worker.read_bytes() == clip.read_bytes()


def test_a_key_no_node_stored_is_none_without_error(
    s3_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    node = _node(tmp_path, "one", f"s3://{bucket}/films", s3_endpoint)
    assert node.get(job_key("clip", "never made"), ".mp4") is None
    assert _files(tmp_path / "one") == []


def test_key_of_knows_only_objects_of_the_local_folder(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "store")
    key = job_key("clip", 3)
    assert store.key_of(store.path(key, ".voice.wav")) == (key, ".voice.wav")
    assert store.key_of(tmp_path / "store" / ".." / "store" / key[:2] / f"{key}.mp4") == (
        key,
        ".mp4",
    )
    assert store.key_of(store.scratch() / "clip.mp4") is None
    assert store.key_of(tmp_path / "store" / key[:2] / "tmpab12cd.part") is None
    assert store.key_of(tmp_path / "elsewhere" / key[:2] / f"{key}.mp4") is None
    assert store.key_of(tmp_path / "store" / "ff" / f"{key}.mp4") is None


# -- interrupted uploads ----------------------------------------------------------------------
def test_an_upload_cut_off_midway_leaves_nothing_under_the_key(
    s3_endpoint: str, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A multipart upload (1 MiB parts) whose second part fails: s3fs aborts it, so S3 never
    shows the object; neither cache keeps a copy, whole or partial."""
    import s3fs.core

    monkeypatch.setattr(s3fs.core, "calculate_chunksize", lambda size, chunksize=None: 1 << 20)
    real_call = s3fs.core.S3FileSystem._call_s3
    parts: list[int] = []

    async def flaky(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "upload_part":
            parts.append(kwargs["PartNumber"])
            if len(parts) == 2:
                raise ConnectionResetError("the connection dropped mid-upload")
        return await real_call(self, method, *args, **kwargs)

    monkeypatch.setattr(s3fs.core.S3FileSystem, "_call_s3", flaky)
    url = f"s3://{bucket}/films"
    one, two = (_node(tmp_path, n, url, s3_endpoint) for n in ("one", "two"))
    key, big = job_key("clip", "big"), _source(tmp_path, "big.mp4", (3 << 20) + 123)

    with pytest.raises(StoreError, match=rf"writing {key}\.mp4 to the store {url} failed"):
        one.put(key, big, ".mp4")
    assert len(parts) >= 2  # the upload was under way when it failed
    assert _objects(s3_endpoint, bucket) == []
    assert s3_client(s3_endpoint).list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert one.get(key, ".mp4") is None and two.get(key, ".mp4") is None
    assert _files(tmp_path / "one") == [] and _files(tmp_path / "two") == []


def test_an_upload_to_a_shared_folder_cut_off_midway_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shared folder (file://) gets the object under a temporary name, moved onto the key
    once whole: a copy cut off halfway is never seen under the key, and is cleaned up."""
    from fsspec.implementations.local import LocalFileSystem

    shared = tmp_path / "mnt" / "films"
    shared.mkdir(parents=True)
    url = shared.as_uri()
    one, two = ContentStore(tmp_path / "one", url), ContentStore(tmp_path / "two", url)
    key, clip = job_key("clip", "cut"), _source(tmp_path, "clip.mp4", 200_000)
    seen: list[Path] = []

    def half_then_fail(self: Any, lpath: str, rpath: str, **kwargs: Any) -> None:
        target = Path(self._strip_protocol(rpath))
        target.write_bytes(Path(lpath).read_bytes()[:100_000])
        seen.append(target)
        raise OSError("No space left on device")

    monkeypatch.setattr(LocalFileSystem, "put_file", half_then_fail)
    with pytest.raises(StoreError, match="No space left on device"):
        one.put(key, clip, ".mp4")
    assert seen and seen[0].name != f"{key}.mp4"  # written under a temporary name
    assert _files(shared) == []
    assert two.get(key, ".mp4") is None
    assert _files(tmp_path / "one") == [] and _files(tmp_path / "two") == []

    monkeypatch.undo()
    one.put(key, clip, ".mp4")
    assert _files(shared) == [shared / key[:2] / f"{key}.mp4"]
    assert two.get(key, ".mp4").read_bytes() == clip.read_bytes()  # type: ignore[union-attr]


# -- typed errors -----------------------------------------------------------------------------
def test_a_wrong_bucket_is_a_typed_error_naming_the_url_without_credentials(
    s3_endpoint: str, tmp_path: Path
) -> None:
    url = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/films"
    options = {"endpoint_url": s3_endpoint, "key": "AKIAEXAMPLE00SHOULDNOT", "secret": SECRET}
    clip = _source(tmp_path, "clip.mp4", 1_000)
    for attempt in ("get", "put"):
        store = ContentStore(tmp_path / attempt, url, storage_options=options)
        with pytest.raises(StoreError) as caught:
            if attempt == "get":
                store.get(job_key("clip", 1), ".mp4")
            else:
                store.put(job_key("clip", 1), clip, ".mp4")
        text = str(caught.value)
        assert url in text and "does not exist" in text and "fix the --store URL" in text
        assert SECRET not in text and "AKIAEXAMPLE00SHOULDNOT" not in text
        assert _files(tmp_path / attempt) == []

    with_userinfo = f"s3://AKIAUSERINFO0001:{URL_SECRET}@no-such-bucket/films?token={SECRET}"
    store = ContentStore(
        tmp_path / "u", with_userinfo, storage_options={"endpoint_url": s3_endpoint}
    )
    with pytest.raises(StoreError) as caught:
        store.check()
    text = str(caught.value)
    assert "s3://no-such-bucket/films" in text
    assert URL_SECRET not in text and SECRET not in text and "AKIAUSERINFO0001" not in text


def test_a_missing_shared_folder_or_backend_is_a_typed_error(tmp_path: Path) -> None:
    gone = (tmp_path / "not-mounted").as_uri()
    with pytest.raises(StoreError, match="create or mount it"):
        ContentStore(tmp_path / "c", gone).get(job_key("clip", 1), ".mp4")
    with pytest.raises(StoreError, match="Protocol not known"):
        ContentStore(tmp_path / "c", "nosuchfs://x/y").check()


# -- open_store: what the CLI's --store calls -------------------------------------------------
def test_open_store_takes_a_folder_or_an_fsspec_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINISTUDIO_STORE", str(tmp_path / "default"))
    local = open_store(str(tmp_path / "mine"))
    assert local.root == tmp_path / "mine" and local.shared is None
    assert open_store(None).root == tmp_path / "default"

    shared = open_store("s3://bucket/films")
    assert shared.shared == "s3://bucket/films"
    assert shared.root.parent == tmp_path / "default" / "cache"
    assert open_store("s3://bucket/films/").root == shared.root  # one cache per store
    assert open_store("s3://bucket/other").root != shared.root
    with_secret = open_store(f"s3://AKIAUSERINFO0001:{URL_SECRET}@bucket/films")
    assert with_secret.root == shared.root and URL_SECRET not in str(with_secret.root)

    monkeypatch.setenv("MINISTUDIO_STORE", "memory://films")
    from_env = open_store(None)
    assert from_env.shared == "memory://films"
    assert "memory" not in str(from_env.root) and from_env.root.name != "films"


def test_a_local_store_never_imports_fsspec(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from ministudio.run.store import ContentStore\n"
        f"store = ContentStore(Path({str(tmp_path / 'store')!r}))\n"
        f"source = Path({str(tmp_path / 'a.bin')!r}); source.write_bytes(b'x')\n"
        "path = store.put('ab' * 32, source, '.bin')\n"
        "assert store.get('ab' * 32, '.bin') == path and store.get('cd' * 32, '.bin') is None\n"
        "assert store.key_of(path) == ('ab' * 32, '.bin')\n"
        "assert 'fsspec' not in sys.modules, 'fsspec imported'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def test_render_with_an_s3_store_from_the_cli_reuses_another_machines_clips(
    s3_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    """`ministudio render --store s3://...` files every clip in the bucket; a render on a
    "second machine" (its own empty cache) takes them from there instead of rendering."""
    film = tmp_path / "film.yaml"
    film.write_text(
        "title: Shared\n"
        "environments: {hall: {description: an empty hall}}\n"
        "scenes:\n"
        "  - id: s\n"
        "    environment: hall\n"
        "    shots:\n"
        "      - {id: a, action: the lamp flickers, duration: 2}\n"
        "      - {id: b, action: the door opens, duration: 2, narration: Nobody came.}\n",
        encoding="utf-8",
    )
    url = f"s3://{bucket}/films"
    aws = {name: os.environ[name] for name in os.environ if name.startswith("AWS_")}
    aws["AWS_ENDPOINT_URL_S3"] = s3_endpoint
    first = run_cli(
        "render",
        str(film),
        "-q",
        "-o",
        str(tmp_path / "one"),
        "--store",
        url,
        env={**aws, "XDG_CACHE_HOME": str(tmp_path / "cache-one")},
    )
    assert first.returncode == 0, first.stderr
    assert "(0 from the store)" in first.stdout
    assert any(key.endswith(".mp4") for key in _objects(s3_endpoint, bucket))
    second = run_cli(
        "render",
        str(film),
        "-q",
        "-o",
        str(tmp_path / "two"),
        "--store",
        url,
        env={**aws, "XDG_CACHE_HOME": str(tmp_path / "cache-two")},
    )
    assert second.returncode == 0, second.stderr
    assert "2 shots (2 from the store)" in second.stdout
    assert "testing" not in second.stdout + second.stderr  # the fake secret key never shows


__all__ = ["fake_aws", "s3_endpoint"]  # fixtures, used by name
