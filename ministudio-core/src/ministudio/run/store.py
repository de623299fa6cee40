"""A content-addressed store: job outputs filed under the hash of everything that decides them."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


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


def default_store_dir() -> Path:
    """``MINISTUDIO_STORE``, else the user cache dir."""
    env = os.environ.get("MINISTUDIO_STORE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("ministudio")) / "store"


class ContentStore:
    """Files keyed by job key. Writes are atomic, so a crash never leaves half an object."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str, suffix: str) -> Path:
        return self.root / key[:2] / f"{key}{suffix}"

    def get(self, key: str, suffix: str) -> Path | None:
        """The stored file for ``key``, or None."""
        path = self.path(key, suffix)
        return path if path.is_file() else None

    def put(self, key: str, source: Path, suffix: str) -> Path:
        """Copy ``source`` into the store under ``key`` (atomically) and return its path."""
        target = self.path(key, suffix)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def scratch(self) -> Path:
        """A fresh temporary directory inside the store (same filesystem: cheap renames)."""
        base = self.root / "tmp"
        base.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=base))
