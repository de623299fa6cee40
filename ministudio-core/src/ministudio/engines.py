"""What engines declare (ids, capabilities) and what they are asked to do (requests, results).

These are the types a plugin author works with; they are plain frozen pydantic models so the
core can hash a request into a job key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

EngineKind = Literal["video", "speech"]


class _Frozen(BaseModel):
    # defer_build: schemas are built on first use, keeping `ministudio plugins` fast.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Capabilities(_Frozen):
    """What an engine can render. The planner checks every job against this before running it."""

    durations: tuple[float, ...] | None = None  # discrete clip lengths (s); None = any in range
    min_duration: float = 0.5
    max_duration: float = 60.0
    snap_duration: Literal["up", "refuse"] = "up"  # off-grid durations: snap up to a grid value
    aspect_ratios: tuple[str, ...] = ("16:9", "9:16", "1:1")
    resolutions: tuple[str, ...] = ("720p",)
    max_references: int = 0
    first_frame: bool = False
    last_frame: bool = False
    native_audio: bool = False
    seed: bool = False
    webhooks: bool = False
    concurrency: int = 1  # jobs in flight at once
    requests_per_minute: int | None = None
    price_per_second: float = 0.0  # USD per second of output
    expected_latency: float = 0.0  # typical seconds from submit to done


class EngineSpec(_Frozen):
    """An engine a plugin provides. `id` is what routing names."""

    id: str
    kind: EngineKind
    description: str = ""
    capabilities: Capabilities = Capabilities()
    key_env: tuple[str, ...] = ()  # environment variables that hold its key, any one suffices
    default_model: str | None = None
    legacy: bool = False


class LineBrief(_Frozen):
    """One spoken line as the engine sees it."""

    speaker: str  # character id, or "narrator"
    text: str
    emotion: str = "neutral"
    start: float = 0.0  # seconds from the shot's start
    end: float = 0.0


class CharacterBrief(_Frozen):
    """A character in frame: its identity DNA and reference images."""

    id: str
    name: str
    dna: str
    reference_images: tuple[Path, ...] = ()
    speaking: bool = False


class EnvironmentBrief(_Frozen):
    """The place a shot happens in, with the lighting in force for this shot."""

    id: str
    description: str
    lighting: str = ""
    palette: tuple[str, ...] = ()
    reference_images: tuple[Path, ...] = ()


class ShotPrompt(_Frozen):
    """The core's structured, engine-neutral description of one shot.

    `prompt_map` turns it into an engine's own prompt format.
    """

    shot_id: str
    scene_id: str
    index: int  # position in the film, from 0
    action: str
    shot_size: str
    camera_move: str
    continuity: Literal["cut", "continue"] = "cut"
    characters: tuple[CharacterBrief, ...] = ()
    environment: EnvironmentBrief
    style: str = ""
    negative: tuple[str, ...] = ()
    lines: tuple[LineBrief, ...] = ()


class VideoRequest(_Frozen):
    """Render one clip. The engine writes an MP4 to the output path it is given."""

    shot: ShotPrompt
    prompt: str | dict[str, Any]  # the engine's own prompt, from prompt_map
    duration: float  # seconds, already snapped to the engine's capabilities
    aspect_ratio: str
    width: int
    height: int
    fps: int
    seed: int
    model: str | None = None
    first_frame: Path | None = None  # a `continue` shot starts here
    options: dict[str, Any] = {}  # engine options from routing


class VideoResult(_Frozen):
    """What came back: the clip on disk and what it cost."""

    path: Path
    engine_job_id: str | None = None
    model: str | None = None
    cost: float = 0.0


class Voice(_Frozen):
    """How a character speaks: which speech engine and which of its voices."""

    engine: str | None = None  # None: the routing's default speech engine
    voice: str = "en-us"
    pitch: int = 50  # 0..100
    rate: int = 170  # words per minute
    options: dict[str, Any] = {}


class SpeechRequest(_Frozen):
    """Speak one line. The engine writes a mono 16-bit WAV (any sample rate) to its output path."""

    text: str
    voice: Voice
    emotion: str = "neutral"


class SpeechResult(_Frozen):
    path: Path
    duration: float  # seconds of audio written
    cost: float = 0.0


@dataclass
class EngineContext:
    """What the core hands an engine besides the request: its scratch dir, keys and progress."""

    engine: str
    work_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    progress: Callable[[float], None] = lambda fraction: None

    def key(self, spec: EngineSpec) -> str:
        """The engine's API key from the first of its `key_env` variables that is set."""
        from ministudio.errors import MissingKeyError

        for name in spec.key_env:
            value = self.env.get(name)
            if value:
                return value
        raise MissingKeyError(spec.id, list(spec.key_env))


class QCVerdict(_Frozen):
    """One quality check's finding on one clip."""

    check: str  # e.g. "duration"
    passed: bool
    score: float  # 0..1, higher is better
    reason: str  # a sentence a person understands
