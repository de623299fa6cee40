"""What a plugin declares about its engines: ids, kinds, capabilities, keys.

Plain frozen dataclasses, so loading plugins (``ministudio plugins``) stays cheap. The jobs
engines run are described in ``ministudio.jobs``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ministudio.jobs import HostedAsset

EngineKind = Literal["video", "speech", "judge"]  # judge: looks at clips (``qc_check``)
Made = Callable[[], Awaitable["str | HostedAsset"]]
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Capabilities:
    """What an engine can render. The planner checks every job against this before running it."""

    durations: tuple[float, ...] | None = None  # discrete clip lengths (s); None = any in range
    min_duration: float = 0.5
    max_duration: float = 60.0
    snap_duration: Literal["up", "refuse"] = "up"  # off-grid durations: snap up to a grid value
    aspect_ratios: tuple[str, ...] = ("16:9", "9:16", "1:1")
    resolutions: tuple[str, ...] = ("720p",)
    max_references: int = 0
    first_frame: bool = False
    extend: bool = False  # can continue the previous clip's own job (``VideoRequest.previous``)
    last_frame: bool = False
    last_frame_alone: bool = True  # takes an end frame without a first frame
    loop: bool = False  # can make a clip that ends where it begins
    references_with_frames: bool = True  # takes reference images along with first/last frames
    native_audio: bool = False
    seed: bool = False
    webhooks: bool = False
    concurrency: int = 1  # jobs in flight at once
    requests_per_minute: int | None = None
    price_per_second: float = 0.0  # USD per second of output
    expected_latency: float = 0.0  # typical seconds from submit to done

    def __post_init__(self) -> None:
        for name in ("durations", "aspect_ratios", "resolutions"):  # accept lists, keep tuples
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))
        if self.concurrency < 1:
            raise ValueError("Capabilities.concurrency must be at least 1")
        if self.snap_duration not in ("up", "refuse"):
            raise ValueError("Capabilities.snap_duration must be 'up' or 'refuse'")


@dataclass(frozen=True)
class EngineSpec:
    """An engine a plugin provides. ``id`` is what routing names."""

    id: str
    kind: EngineKind
    description: str = ""
    capabilities: Capabilities = field(default_factory=Capabilities)
    key_env: tuple[str, ...] = ()  # environment variables that hold its key, any one suffices
    all_keys: bool = False  # every variable of key_env is needed (a key pair), not any one
    default_model: str | None = None
    legacy: bool = False

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"engine id {self.id!r}: use lowercase letters, digits, '-', '_', '.'")
        if self.kind not in ("video", "speech", "judge"):
            raise ValueError(f"engine {self.id!r}: kind must be 'video', 'speech' or 'judge'")
        object.__setattr__(self, "key_env", tuple(self.key_env))


@dataclass
class EngineContext:
    """What the core hands an engine besides the request: its scratch dir, keys and progress."""

    engine: str
    work_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    progress: Callable[[float], None] = lambda fraction: None
    webhook_url: str | None = None  # where the engine should POST job updates, when listening
    uploader: Callable[[Path], Awaitable[str]] | None = None  # set by the core
    remember: Callable[[str, Made], Awaitable[str]] | None = None  # set by the core

    async def upload(self, path: Path) -> str:
        """The engine's reference (URL or id) for a local file, uploaded once per content."""
        if self.uploader is None:
            raise RuntimeError("this engine context has no uploader (the core sets one)")
        return await self.uploader(path)

    async def once(self, key: str, make: Made) -> str:
        """What ``make()`` returns (a URL or an id, or a ``HostedAsset`` with its expiry) the
        first time this engine asks for ``key``. Later shots, renders and productions sharing
        the store get it back from the journal, until it nears its expiry; shots asking at
        the same moment wait for the one call. Use it for paid side jobs, such as an identity
        image every shot of a character starts from."""
        if self.remember is not None:
            return await self.remember(key, make)
        made = await make()  # no core behind this context (a unit test): nothing is kept
        return made if isinstance(made, str) else made.reference

    def keys(self, spec: EngineSpec) -> dict[str, str]:
        """Every one of the engine's `key_env` variables (a key pair), each from `env`, else
        the key store; a ``MissingKeyError`` naming the ones that are missing."""
        from ministudio.errors import MissingKeyError
        from ministudio.keys import lookup

        found = {name: lookup(name, self.env) for name in spec.key_env}
        missing = [name for name, value in found.items() if not value]
        if missing:
            raise MissingKeyError(spec.id, missing)
        return {name: value.strip() for name, value in found.items() if value}

    def key(self, spec: EngineSpec) -> str:
        """The engine's API key: the first of its `key_env` variables set in `env`, else the
        first of them in the key store (``ministudio keys set``)."""
        from ministudio.errors import MissingKeyError
        from ministudio.keys import lookup_any

        value = lookup_any(spec.key_env, self.env)
        if value:
            return value
        raise MissingKeyError(spec.id, list(spec.key_env))


@dataclass(frozen=True)
class Judging:
    """The production's call for a vision judge (``qc.judge``) to look at a shot: passed to
    every ``qc_check``; a plugin answers for ``engine`` only if that engine is its own."""

    engine: str  # the judge engine's id
    context: EngineContext  # its keys (``context.key(spec)``) and scratch dir
    options: Mapping[str, object] = field(default_factory=dict)  # routing.options[engine]
