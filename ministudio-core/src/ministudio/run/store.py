"""A content-addressed store: job outputs filed under the hash of everything that decides them.

A store is a local folder (``ContentStore(root)``), or a store every node of a cluster reaches
through an fsspec URL (``ContentStore(root, shared="s3://bucket/prefix")``): then ``root`` is
this node's cache, ``put`` uploads each object to ``{shared}/{key[:2]}/{key}{suffix}`` and
``get`` downloads what this node has not got yet. fsspec and the URL's backend (s3fs for
``s3://``: ``pip install 'ministudio-core[s3]'``) are imported only by a shared store.

Nothing half-written is ever visible under a key. Locally, an object is written to a temporary
file and renamed into place (``os.replace``). On an object store (s3, gs, az) a single upload
is atomic already: S3 never adds a partial object, and s3fs either sends one PutObject or a
multipart upload that it aborts on failure, the object appearing only when the upload is
completed. On any other filesystem (``file://`` on a shared mount, ``memory://``...) the
object is uploaded under a temporary name beside its key and moved onto it (``fs.mv``: a
rename on a local or mounted folder). A ``put`` whose upload fails leaves nothing under its
key, neither in the shared store nor in the local cache.

Errors about the shared store are ``StoreError``s naming its URL without credentials (no user
info, no query, no storage option values).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ministudio.errors import StoreError

# Protocols whose single upload is atomic (the object appears whole or not at all).
_OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})
_LOCAL_PROTOCOLS = frozenset({"file", "local"})
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+")


def job_key(kind: str, inputs: Any) -> str:
    """A stable hash of a job's inputs (JSON-serialisable; files go in as their content hash)."""
    blob = json.dumps({"kind": kind, "inputs": inputs}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_url(spec: str) -> bool:
    """Whether ``spec`` is an fsspec URL (``s3://...``, ``file:///...``, ``memory://``), not a
    folder path."""
    scheme, sep, _ = spec.partition("://")
    return bool(sep) and _SCHEME.fullmatch(scheme) is not None


def default_store_dir() -> Path:
    """``MINISTUDIO_STORE`` (when it names a folder), else the user cache dir."""
    env = os.environ.get("MINISTUDIO_STORE")
    if env and not is_url(env):
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("ministudio")) / "store"


def open_store(
    spec: str | None = None, *, storage_options: Mapping[str, Any] | None = None
) -> ContentStore:
    """The store ``--store`` names: a folder (a local store); an fsspec URL such as
    ``s3://bucket/prefix`` (a store every node reaches, cached on this node under
    ``default_store_dir()/cache/<hash of the URL>``); or None, ``MINISTUDIO_STORE`` (a folder
    or a URL), else the user cache dir. Opens no connection: the shared store is first reached
    by the first ``get``, ``put`` or ``check``."""
    if spec is None:
        spec = os.environ.get("MINISTUDIO_STORE") or None
        if spec is None:
            return ContentStore(default_store_dir())
    if not is_url(spec):
        return ContentStore(Path(spec))
    name = hashlib.sha256(_safe_url(spec).rstrip("/").encode()).hexdigest()[:16]
    return ContentStore(
        default_store_dir() / "cache" / name, shared=spec, storage_options=storage_options
    )


class ContentStore:
    """Files keyed by job key. Writes are atomic, so a crash never leaves half an object.

    With ``shared`` (an fsspec URL), ``root`` is this node's cache of a store every node
    reaches; ``storage_options`` go to fsspec (``endpoint_url``, ``key``/``secret``...).
    """

    def __init__(
        self,
        root: Path,
        shared: str | None = None,
        *,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.root = root
        self.shared = shared
        self.storage_options = dict(storage_options or {})
        self._remote: tuple[Any, str, bool] | None = None  # fs, root path, atomic single put
        self._lock = threading.Lock()

    def path(self, key: str, suffix: str) -> Path:
        return self.root / key[:2] / f"{key}{suffix}"

    def get(self, key: str, suffix: str) -> Path | None:
        """The stored file for ``key``: this node's copy, else (a shared store) the shared
        object downloaded into this node's cache; None when the store has no such object."""
        path = self.path(key, suffix)
        if path.is_file():
            return path
        if self.shared is None:
            return None
        return self._download(key, suffix, path)

    def put(self, key: str, source: Path, suffix: str) -> Path:
        """Copy ``source`` into the store under ``key`` (atomically) and return its path. A
        shared store gets it first: the local copy is renamed into place once it is there."""
        target = self.path(key, suffix)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            if self.shared is not None:
                self._upload(Path(tmp), key, suffix)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def put_text(self, key: str, text: str, suffix: str) -> Path:
        """``put`` for a small text (a JSON answer kept beside a clip)."""
        scratch = self.scratch()
        try:
            source = scratch / f"text{suffix}"
            source.write_text(text, encoding="utf-8")
            return self.put(key, source, suffix)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def key_of(self, path: Path) -> tuple[str, str] | None:
        """``(key, suffix)`` of ``path`` when it is an object of this store's local folder
        (``self.path(key, suffix)``), else None. An executor passes a store file to another
        node as its key, and that node's ``get(key, suffix)`` finds it there."""
        try:
            relative = Path(path).resolve().relative_to(Path(self.root).resolve())
        except (ValueError, OSError):
            return None
        if len(relative.parts) != 2:
            return None
        folder, name = relative.parts
        key, dot, rest = name.partition(".")
        if len(key) < 2 or key[:2] != folder or name.endswith(".part"):
            return None
        return key, dot + rest

    def check(self) -> None:
        """Reach the shared store now (a no-op for a local one): raises ``StoreError`` when its
        backend is missing, its bucket or folder does not exist, or it refuses or lacks
        credentials."""
        if self.shared is not None:
            self._filesystem()

    def scratch(self) -> Path:
        """A fresh temporary directory inside the store (same filesystem: cheap renames)."""
        base = self.root / "tmp"
        base.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=base))

    # -- pickling (a store goes to a cluster's workers): no connection, no lock -------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_remote"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- the shared store ------------------------------------------------------------------
    def _remote_path(self, key: str, suffix: str) -> str:
        _, root, _ = self._filesystem()
        name = f"{key[:2]}/{key}{suffix}"
        return f"{root}/{name}" if root else name

    def _download(self, key: str, suffix: str, path: Path) -> Path | None:
        fs, _, _ = self._filesystem()
        remote = self._remote_path(key, suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        os.close(fd)
        try:
            try:
                fs.get_file(remote, tmp)
            except FileNotFoundError:
                return None
            except Exception as exc:
                raise self._failure(exc, f"reading {key}{suffix} from") from None
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return path

    def _upload(self, local: Path, key: str, suffix: str) -> None:
        fs, _, atomic = self._filesystem()
        remote = self._remote_path(key, suffix)
        try:
            if atomic:
                fs.put_file(str(local), remote)
                return
            partial = f"{remote}.part-{uuid.uuid4().hex}"
            fs.makedirs(posixpath.dirname(remote), exist_ok=True)
            try:
                fs.put_file(str(local), partial)
                fs.mv(partial, remote)
            except BaseException:
                with contextlib.suppress(Exception):
                    fs.rm_file(partial)
                raise
        except Exception as exc:
            raise self._failure(exc, f"writing {key}{suffix} to") from None

    def _filesystem(self) -> tuple[Any, str, bool]:
        """The shared store's filesystem, its root path and whether one upload is atomic;
        reached (and its bucket or folder checked) once per store object."""
        remote = self._remote
        if remote is None:
            with self._lock:
                if self._remote is None:
                    self._remote = self._connect()
                remote = self._remote
        return remote

    def _connect(self) -> tuple[Any, str, bool]:
        assert self.shared is not None
        url = _safe_url(self.shared)
        try:
            from fsspec.core import url_to_fs

            fs, root = url_to_fs(self.shared, **self.storage_options)
        except ImportError as exc:
            raise StoreError(
                f"the store {url} needs its fsspec backend ({exc}): for s3:// run "
                "pip install 'ministudio-core[s3]'"
            ) from None
        except Exception as exc:
            raise StoreError(
                f"cannot open the store {url} ({self._scrub(exc)}): check the URL and its "
                "storage options"
            ) from None
        root = str(root).rstrip("/")
        protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
        atomic = bool(protocols & _OBJECT_STORES)
        try:
            if atomic:
                bucket = root.split("/", 1)[0]
                if not bucket:
                    raise StoreError(f"the store {url} names no bucket: use s3://bucket/prefix")
                fs.info(bucket)  # a missing bucket, refused credentials, no endpoint: now
            elif protocols & _LOCAL_PROTOCOLS:
                if not fs.isdir(root):
                    raise StoreError(
                        f"the shared folder {url} does not exist: create or mount it (on every "
                        "node), or fix the --store URL"
                    )
            else:
                fs.makedirs(root, exist_ok=True)
        except StoreError:
            raise
        except Exception as exc:
            raise self._failure(exc, "opening") from None
        return fs, root, atomic

    def _failure(self, exc: Exception, doing: str) -> StoreError:
        """A shared store's failure as a ``StoreError`` that says what to fix."""
        where = f"{doing} the store {_safe_url(self.shared or '')} failed ({self._scrub(exc)})"
        if isinstance(exc, FileNotFoundError):
            hint = "its bucket (or folder) does not exist: create it, or fix the --store URL"
        elif isinstance(exc, PermissionError):
            hint = (
                "access was refused: check the store's credentials (for s3://, "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile or an instance role, or "
                "the storage options); they must list, read and write it"
            )
        elif "Credentials" in type(exc).__name__:
            hint = (
                "no credentials were found: give every node the store's credentials (for "
                "s3://, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile or an instance role)"
            )
        else:
            hint = "check the URL, its endpoint and the network, and run again"
        return StoreError(f"{where}: {hint}")

    def _scrub(self, exc: BaseException) -> str:
        """``exc`` as text with every storage option value and the URL's user info and query
        blanked out (values of 4 to 7 characters too, which the gate leaves alone)."""
        from ministudio.safety.secrets import MIN_LENGTH, Blanker, blank, option_secrets

        secrets = option_secrets(self.storage_options) + _url_secrets(self.shared or "")
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        text = blank(Blanker(secrets).blank(text))
        for short in (s for s in secrets if 4 <= len(s) < MIN_LENGTH):
            text = text.replace(short, "***")
        return text[:500]


def _safe_url(url: str) -> str:
    """``url`` without any ``user:password@`` part or query (either may hold a secret)."""
    from ministudio.remote.hosting import _safe_url as safe

    return safe(url)


def _url_secrets(url: str) -> list[str]:
    """The user info and query values of ``url``: credentials, when anything."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    _, sep, rest = url.partition("://")
    if not sep:
        return []
    authority = rest.partition("/")[0].partition("?")[0]
    userinfo = authority.rpartition("@")[0]
    found = [unquote(part) for part in userinfo.split(":") if part]
    found += [value for _, value in parse_qsl(urlsplit(url).query) if value]
    return found
