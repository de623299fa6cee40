"""Hosting local files for engines that take images by URL only (Luma's first frames, say).

An engine plugin's ``upload_asset`` hook calls ``AssetHost.from_env(context.env, prefix,
engine=...).publish(path)``; the answer is a ``HostedAsset`` (URL, expiry) for the core to
cache per content. Two ways to host, chosen by settings:

- a public folder: ``folder`` is served by a web server at ``base_url``; an image is
  re-encoded (pixels only, as PNG: anything else is refused) and written there under its
  content hash, and its URL never expires;
- an object store through fsspec: ``store`` is a URL such as ``s3://bucket/prefix`` (or
  ``gs://``, ``az://``); a file is put there under its content hash unless an object of that
  name and size is already there (one upload per content), and handed out as a signed URL
  valid for ``expires`` seconds. With ``base_url`` set too, the store is taken to be public
  under that URL (a public bucket, a CDN in front of it): URLs are ``base_url/<name>``,
  unsigned and never expiring.

Object names are ``<sha256[:32]><suffix>``. fsspec, and the store's backend (s3fs for
``s3://``: ``pip install 'ministudio-core[s3]'``; gcsfs, adlfs), are imported only when a
store is used. ``publish`` blocks on the network: call it from a sync hook (the core runs
those in a worker thread). Errors never quote the storage options, which may hold credentials.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ministudio.errors import EngineError, TransientError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from ministudio.jobs import HostedAsset

DEFAULT_EXPIRES = 7 * 24 * 3600  # the longest S3 (SigV4) and GCS (V4) signed URLs last
# Protocols whose signed URLs cannot outlive DEFAULT_EXPIRES.
_WEEK_AT_MOST = ("s3", "s3a", "gs", "gcs")
# Setting (field) -> the environment variable's name after the prefix.
_VARIABLES = {
    "base_url": "BASE_URL",
    "folder": "DIR",
    "store": "STORE",
    "store_options": "STORE_OPTIONS",
    "expires": "URL_EXPIRES",
}
_CHUNK = 1 << 20


class AssetHostError(EngineError):
    """The asset host is not set up right, or its store refused a file: fix the settings."""

    def __init__(self, engine: str, message: str) -> None:
        super().__init__(engine, message, retryable=False)


class CannotSign(AssetHostError):
    """The store's filesystem cannot sign URLs (``file://``, ``memory://``)."""


@dataclass(frozen=True)
class AssetHost:
    """Where files are published for ``engine``; ``prefix`` names its environment variables.

    ``store_options`` are fsspec storage options (``endpoint_url``, ``key``/``secret``, ...);
    they are left out of the repr and of every error message.
    """

    engine: str
    base_url: str = ""
    folder: str = ""
    store: str = ""
    store_options: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    expires: int = DEFAULT_EXPIRES  # seconds a signed URL stays valid
    prefix: str = ""  # e.g. "LUMA_ASSET_": errors name LUMA_ASSET_STORE and so on

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.strip().rstrip("/"))
        object.__setattr__(self, "folder", self.folder.strip())
        object.__setattr__(self, "store", self.store.strip().rstrip("/"))
        if self.store and self.folder:
            raise AssetHostError(
                self.engine,
                f"set either {self._var('store')} (an object store) or {self._var('folder')} "
                "(a folder served at a public URL), not both",
            )
        if not self.store and not (self.base_url and self.folder):
            raise AssetHostError(
                self.engine,
                f"images go to this engine by URL only: set {self._var('store')} to an object "
                "store that signs URLs (s3://bucket/prefix, gs://..., az://...), or set "
                f"{self._var('base_url')} to a public URL serving the folder "
                f"{self._var('folder')}, and {self._var('folder')} to that folder",
            )
        if self.expires <= 0:
            raise AssetHostError(self.engine, f"{self._var('expires')} must be a positive number")
        protocol = self.store.partition("://")[0].lower() if "://" in self.store else ""
        if protocol in _WEEK_AT_MOST and not self.base_url and self.expires > DEFAULT_EXPIRES:
            raise AssetHostError(
                self.engine,
                f"{self._var('expires')} is {self.expires} s, but {protocol}:// signed URLs "
                f"last at most {DEFAULT_EXPIRES} s (7 days): set it to that or less",
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str], prefix: str, *, engine: str) -> AssetHost:
        """The settings ``<prefix>BASE_URL``, ``DIR``, ``STORE``, ``STORE_OPTIONS`` (a JSON
        object of fsspec storage options) and ``URL_EXPIRES`` (seconds) from ``env``."""

        def get(name: str) -> str:
            return (env.get(prefix + _VARIABLES[name]) or "").strip()

        options: Any = {}
        raw = get("store_options")
        if raw:
            name = prefix + _VARIABLES["store_options"]
            try:
                options = json.loads(raw)
            except json.JSONDecodeError as exc:  # the message quotes no part of the value
                raise AssetHostError(
                    engine,
                    f"{name} is not valid JSON ({exc.msg}, line {exc.lineno} column "
                    f"{exc.colno}): set it to a JSON object of storage options",
                ) from None
            if not isinstance(options, dict):
                raise AssetHostError(
                    engine,
                    f'{name} must be a JSON object of storage options, e.g. {{"endpoint_url": '
                    f'"https://..."}}, not a JSON {type(options).__name__}',
                )
        expires = DEFAULT_EXPIRES
        text = get("expires")
        if text:
            try:
                expires = int(float(text))
            except (ValueError, OverflowError):
                raise AssetHostError(
                    engine, f"{prefix}{_VARIABLES['expires']} must be a number of seconds"
                ) from None
        return cls(
            engine=engine,
            base_url=get("base_url"),
            folder=get("folder"),
            store=get("store"),
            store_options=options,
            expires=expires,
            prefix=prefix,
        )

    def publish(self, path: Path) -> HostedAsset:
        """Make ``path`` reachable by URL: its URL and, when signed, its expiry time."""
        from ministudio.jobs import HostedAsset

        path = Path(path)
        if not self.store:
            return HostedAsset(reference=self._copy(path))
        name = _content_name(path)
        fs, target = self._open(name)
        if not self.base_url and not _can_sign(fs):
            raise self._cannot_sign()
        try:
            try:
                present: int | None = int(fs.size(target))
            except FileNotFoundError:
                present = None
            if present != path.stat().st_size:  # absent, or a cut-off upload
                fs.put_file(str(path), target)
        except Exception as exc:
            raise self._failure(exc, f"uploading {path.name}") from None
        if self.base_url:  # a public bucket: no signature needed
            return HostedAsset(reference=f"{self.base_url}/{name}")
        expires_at = time.time() + self.expires  # read before signing: never later than real
        try:
            url = fs.sign(target, expiration=self.expires)
        except NotImplementedError:
            raise self._cannot_sign() from None
        except Exception as exc:
            raise self._failure(exc, f"signing a URL for {path.name}") from None
        return HostedAsset(reference=str(url), expires_at=expires_at)

    # -- helpers ---------------------------------------------------------------------------
    def _var(self, name: str) -> str:
        return f"{self.prefix}{_VARIABLES[name]}" if self.prefix else name

    def _copy(self, path: Path) -> str:
        """Put a re-encoded copy of the image ``path`` in the public folder: whatever a
        plugin asks to publish, the folder only ever holds pixels (``ministudio.safety.images``)."""
        import hashlib

        from ministudio.safety.images import ImageError, reencoded

        try:
            data = reencoded(path)
        except ImageError as exc:
            raise AssetHostError(
                self.engine,
                f"refusing to publish {path.name} in {self._var('folder')}: it {exc.problem}",
            ) from None
        name = hashlib.sha256(data).hexdigest()[:32] + ".png"
        target = Path(self.folder).expanduser() / name
        if not target.is_file() or target.stat().st_size != len(data):
            target.parent.mkdir(parents=True, exist_ok=True)
            # a part of its own: shots (or a sheet's views) publishing one image at once
            temp = target.with_name(f"{name}.{uuid.uuid4().hex}.part")
            temp.write_bytes(data)
            temp.replace(target)
        return f"{self.base_url}/{name}"

    def _open(self, name: str) -> tuple[AbstractFileSystem, str]:
        """The store's filesystem and the object path for ``name``."""
        try:
            from fsspec.core import url_to_fs

            fs, root = url_to_fs(self.store, **dict(self.store_options))
        except ImportError as exc:
            raise AssetHostError(
                self.engine,
                f"{self._var('store')} {_safe_url(self.store)} needs its fsspec backend "
                f"({exc}); for s3:// install 'ministudio-core[s3]'",
            ) from None
        except Exception as exc:
            raise AssetHostError(
                self.engine,
                f"cannot open {self._var('store')} {_safe_url(self.store)} with "
                f"{self._var('store_options')} ({self._scrub(exc)})",
            ) from None
        root = str(root).rstrip("/")
        return fs, f"{root}/{name}" if root else name

    def _cannot_sign(self) -> CannotSign:
        return CannotSign(
            self.engine,
            f"the store {_safe_url(self.store)} ({self._var('store')}) cannot sign URLs: use a "
            "store that signs (s3://, gs://, az://), or serve it publicly and set "
            f"{self._var('base_url')} to its public URL",
        )

    def _failure(self, exc: Exception, what: str) -> EngineError:
        """A store failure as a typed error: passing ones (connections, 5xx) may be retried."""
        where = f"{what} to {_safe_url(self.store)}"
        if isinstance(exc, (PermissionError, FileNotFoundError, IsADirectoryError, TypeError)):
            return AssetHostError(
                self.engine,
                f"{where} failed ({self._scrub(exc)}): check that {self._var('store')} names an "
                f"existing bucket and that the store's credentials "
                f"({self._var('store_options')}, or the usual variables) may write and read it",
            )
        name = type(exc).__name__
        if isinstance(exc, OSError) or "Connect" in name or "Timeout" in name:
            return TransientError(self.engine, f"{where} failed ({self._scrub(exc)})")
        return AssetHostError(self.engine, f"{where} failed ({self._scrub(exc)})")

    def _scrub(self, exc: BaseException) -> str:
        """``exc`` as text with every secret-looking storage option value blanked out (in
        every form the gate knows; values of 4 to 7 characters, which it leaves alone, as
        they are)."""
        from ministudio.safety.secrets import MIN_LENGTH, Blanker, blank, option_secrets

        secrets = option_secrets(self.store_options)
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        text = blank(Blanker(secrets).blank(text))
        for short in (s for s in secrets if 4 <= len(s) < MIN_LENGTH):
            text = text.replace(short, "***")
        return text[:500]


def _content_name(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()[:32] + path.suffix.lower()


def _can_sign(fs: AbstractFileSystem) -> bool:
    from fsspec import AbstractFileSystem

    return type(fs).sign is not AbstractFileSystem.sign


def _safe_url(url: str) -> str:
    """``url`` without any ``user:password@`` part or query (either may hold a secret)."""
    url = url.partition("?")[0]
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host, slash, tail = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{tail}"
