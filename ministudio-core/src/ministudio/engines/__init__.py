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

from ministudio.engines.lifecycle import Model as Model  # re-exported: plugins declare models here

if TYPE_CHECKING:
    from ministudio.jobs import HostedAsset

# judge: looks at clips (``qc_check``); lipsync: re-syncs a clip's mouths to its voice;
# writer: writes a production from a brief (``write_production``); image: draws a still of a
# character or a place (``generate_image``)
EngineKind = Literal["video", "speech", "judge", "lipsync", "writer", "image"]
KINDS: tuple[EngineKind, ...] = ("video", "speech", "judge", "lipsync", "writer", "image")
# the previz's control passes a promoting engine may declare (``Capabilities.video_edit``)
PASSES = ("clip", "depth", "pose", "mask", "edge", "camera")
Made = Callable[[], Awaitable["str | HostedAsset"]]
PaidMade = Callable[["SideJob"], Awaitable["str | HostedAsset"]]
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
    edit: bool = False  # can change a take it made by a request in words (``VideoRequest.edit``)
    # promotes a previz to the final (``VideoRequest.source``), given these of its passes
    # (``PASSES``); empty: it cannot. Such a request keeps the previz's length
    video_edit: tuple[str, ...] = ()
    # image engines whose stills (filed by ``ministudio cast``) it draws better itself: the
    # core leaves them out of its reference images (the animatic: its own sheets and sets)
    draws_own: tuple[str, ...] = ()
    last_frame: bool = False
    last_frame_alone: bool = True  # takes an end frame without a first frame
    loop: bool = False  # can make a clip that ends where it begins
    references_with_frames: bool = True  # takes reference images along with first/last frames
    native_audio: bool = False
    reference_audio: bool = False  # animates faces to the shot's voice (``VideoRequest.voice``)
    seed: bool = False
    webhooks: bool = False
    concurrency: int = 1  # jobs in flight at once
    requests_per_minute: int | None = None
    price_per_second: float = 0.0  # USD per second of output
    expected_latency: float = 0.0  # typical seconds from submit to done

    def __post_init__(self) -> None:
        for name in (
            "durations",
            "aspect_ratios",
            "resolutions",
            "video_edit",
            "draws_own",
        ):  # accept lists, keep tuples
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))
        if self.concurrency < 1:
            raise ValueError("Capabilities.concurrency must be at least 1")
        unknown = sorted(set(self.video_edit) - set(PASSES))
        if unknown:
            raise ValueError(f"Capabilities.video_edit: unknown {unknown}; passes are {PASSES}")
        if self.snap_duration not in ("up", "refuse"):
            raise ValueError("Capabilities.snap_duration must be 'up' or 'refuse'")


@dataclass(frozen=True)
class Variant:
    """One way an engine renders: a model, in one mode where the engine has modes (Kling's
    ``std``/``pro``), with what that way takes. An engine whose inputs depend on model, mode
    or length declares one per combination, cheapest first (``EngineSpec.variants``); the
    core then picks, per shot, the first variant of the routed model (and pinned mode) that
    renders the film's format and the shot's length and drops the fewest of its inputs
    (``ministudio.engines.variants``). A request made with it carries ``model`` and, when set,
    ``options["mode"]``; its length is snapped to this variant's durations."""

    model: str
    capabilities: Capabilities
    mode: str | None = None

    @property
    def label(self) -> str:
        """How ``plan`` names it: the model, and the mode when there is one."""
        return f"{self.model} {self.mode}" if self.mode else self.model


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
    # The models it serves, with their lifecycle (stage, shutdown, replacement): ``validate`` and
    # ``plan`` refuse a retired one and warn before a shutdown (``ministudio.engines.lifecycle``).
    models: tuple[Model, ...] = ()
    # What each model (and mode) takes, where that differs from ``capabilities`` (which stay
    # the engine's envelope: webhooks, concurrency, latency; and the inputs of a model no
    # variant names). Cheapest first: the core picks the first that fits a shot.
    variants: tuple[Variant, ...] = ()
    legacy: bool = False
    # submit_video calls ``context.sending()`` right before each request that may create (and
    # bill) a job, so the journal marks the job in flight only then. False (any plugin that
    # never calls it): the core marks the job before calling submit_video.
    marks_sending: bool = False
    # What of the engine's code its job keys cover. None: the plugin distribution's version,
    # so upgrading the plugin makes its clips and lines again. A number: only it (0 adds
    # nothing to the key); bump it when the same request now makes different output (a fixed
    # request format, say a voice that spoke its instructions). Paid engines pin a number so
    # that an upgrade which changes nothing they make never pays for a clip twice.
    revision: int | None = None

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"engine id {self.id!r}: use lowercase letters, digits, '-', '_', '.'")
        if self.kind not in KINDS:
            raise ValueError(f"engine {self.id!r}: kind must be one of {', '.join(KINDS)}")
        object.__setattr__(self, "key_env", tuple(self.key_env))
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "variants", tuple(self.variants))


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
    on_sending: Callable[[], None] | None = None  # set by the core around submit_video

    def sending(self) -> None:
        """Say that the request that creates (and bills) the job leaves now: call it right
        before sending it, after any preparation (uploads, an identity image), in every
        ``submit_video`` of an engine declared with ``marks_sending``. The journal then
        marks the job in flight, so a crash before this point resubmits it freely and a
        crash after it looks the job up instead. Calling it again in the same submit (a
        second try after a refusal) changes nothing."""
        if self.on_sending is not None:
            self.on_sending()

    async def upload(self, path: Path) -> str:
        """The engine's reference (URL or id) for a local file, uploaded once per content."""
        if self.uploader is None:
            raise RuntimeError("this engine context has no uploader (the core sets one)")
        return await self.uploader(path)

    async def once(self, key: str, make: Made) -> str:
        """What ``make()`` returns (a URL or an id, or a ``HostedAsset`` with its expiry) the
        first time this engine asks for ``key``. Later shots, renders and productions sharing
        the store get it back from the journal, until it nears its expiry; shots asking at
        the same moment wait for the one call. For a side job that is paid for (an identity
        image every shot of a character starts from), use ``paid``: a crash while it is made
        then neither pays for it twice nor loses it."""
        if self.remember is not None:
            return await self.remember(key, make)
        made = await make()  # no core behind this context (a unit test): nothing is kept
        return made if isinstance(made, str) else made.reference

    async def paid(self, key: str, make: PaidMade) -> str:
        """As ``once``, for a side job that is paid for (an identity image): it is a job of
        its own in the journal. ``make`` gets its ``SideJob``: when ``job.job_id`` is set, an
        earlier run created the job, so wait for it; when ``job.lost_since`` is set, an
        earlier run sent it and lost the answer, so look it up. Otherwise create it, calling
        ``job.sending()`` right before the request leaves and ``job.accepted(id)`` as soon
        as the engine names it, and ``job.failed()`` if it ends without a result."""
        return await self.once(key, Paid(make))

    def keys(self, spec: EngineSpec) -> dict[str, str]:
        """Every one of the engine's `key_env` variables (a key pair), each from `env`, else
        the key store; a ``MissingKeyError`` naming the ones that are missing."""
        from ministudio.errors import MissingKeyError
        from ministudio.safety.keys import lookup

        found = {name: lookup(name, self.env) for name in spec.key_env}
        missing = [name for name, value in found.items() if not value]
        if missing:
            raise MissingKeyError(spec.id, missing)
        return {name: value.strip() for name, value in found.items() if value}

    def check_keys(self, spec: EngineSpec) -> None:
        """Raise ``MissingKeyError`` unless the engine's key is found (every variable of a key
        pair, ``all_keys``); nothing for an engine without ``key_env``."""
        if spec.all_keys:
            self.keys(spec)
        elif spec.key_env:
            self.key(spec)

    def key(self, spec: EngineSpec) -> str:
        """The engine's API key: the first of its `key_env` variables set in `env`, else the
        first of them in the key store (``ministudio keys set``)."""
        from ministudio.errors import MissingKeyError
        from ministudio.safety.keys import lookup_any

        value = lookup_any(spec.key_env, self.env)
        if value:
            return value
        raise MissingKeyError(spec.id, list(spec.key_env))


@dataclass
class SideJob:
    """A paid side job as the journal knows it (see ``EngineContext.paid``)."""

    job_id: str | None = None  # created by an earlier run: wait for it, create nothing
    lost_since: float | None = None  # sent by an earlier run (epoch s), answer lost: look it up
    on_sending: Callable[[], None] = lambda: None  # set by the core
    on_accepted: Callable[[str], None] = lambda job_id: None
    on_failed: Callable[[], None] = lambda: None

    def sending(self) -> None:
        """The request that creates (and bills) the job leaves now."""
        self.on_sending()

    def accepted(self, job_id: str) -> None:
        """The engine named the job ``job_id``."""
        self.job_id, self.lost_since = job_id, None
        self.on_accepted(job_id)

    def failed(self) -> None:
        """The job ended without a result: the next attempt creates a new one."""
        self.job_id = None
        self.on_failed()


@dataclass(frozen=True)
class Paid:
    """A paid side job's maker, as ``EngineContext.paid`` hands it to the core's ``remember``.
    Called with no argument (no core: a unit test), it runs with a fresh ``SideJob``."""

    make: PaidMade

    async def __call__(self) -> str | HostedAsset:
        return await self.make(SideJob())


@dataclass(frozen=True)
class Judging:
    """The production's call for a vision judge (``qc.judge``) to look at a shot: passed to
    every ``qc_check``; a plugin answers for ``engine`` only if that engine is its own."""

    engine: str  # the judge engine's id
    context: EngineContext  # its keys (``context.key(spec)``) and scratch dir
    options: Mapping[str, object] = field(default_factory=dict)  # routing.options[engine]
    # the shot's on-screen lines as one mono WAV on the clip's timeline, where a character in
    # frame speaks (the clip itself has no sound): for a question on its lips
    voice: Path | None = None
