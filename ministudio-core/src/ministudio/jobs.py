"""What engines are asked to do and what they give back: briefs, requests, results, verdicts.

Frozen pydantic models, so the core can hash a request into a job key. Plugins should import
this module inside their hooks (it imports pydantic): declaring engines needs only
``ministudio.engines``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LineBrief(_Frozen):
    """One spoken line as the engine sees it."""

    speaker: str  # character id, or "narrator"
    text: str
    emotion: str = "neutral"
    start: float = 0.0  # seconds from the shot's start
    end: float = 0.0
    # the phonemes spoken, where the speech engine said them (espeak does): (seconds from
    # the shot's start, the engine's mnemonic), in order; each lasts until the next. Left
    # out of job keys: they follow from the line's audio, and a clip made before they were
    # known is the same clip for every engine but one that draws mouths to them
    phonemes: tuple[tuple[float, str], ...] = ()


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
    native_audio: bool = False  # the engine speaks ``lines`` itself (with its own sound)


class PreviousClip(_Frozen):
    """The clip a `continue` shot follows: an engine may extend it instead of its last frame."""

    engine: str
    job_id: str  # the engine's id of the job that made it


class EditRequest(_Frozen):
    """Change a take the engine made (the ``edit`` retake rung): which job, and what to fix."""

    job_id: str  # the engine's id of the job that made the take
    reasons: tuple[str, ...]  # the failed checks' reasons, in a person's words


class PrevizSource(_Frozen):
    """The approved previz a promote job turns into the final (``VideoRequest.source``): the
    passes its engine declares (``Capabilities.video_edit``), frame-aligned, each with the
    shot's exact frames at the request's size and rate.

    ``clip`` is the previz without its captions, slate and name labels (H.264 MP4);
    ``depth`` a grey MP4 (near is bright); ``pose`` each figure's OpenPose COCO-18 skeleton
    on black (MP4); ``mask.<character id>`` white where that character is (MP4; declared as
    ``mask``); ``edge`` the scene's edges (MP4); ``camera`` the crop per frame (JSON)."""

    frames: int
    passes: dict[str, Path]


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
    previous: PreviousClip | None = None  # the clip a `continue` shot continues
    last_frame: Path | None = None  # the shot should end on this image
    loop: bool = False  # the clip should end where it begins
    edit: EditRequest | None = None  # change this take of the engine's instead of a new clip
    # promote this previz to the final (``Capabilities.video_edit``): the clip keeps its
    # length (``duration`` is the previz's, not snapped), timing, blocking and camera
    source: PrevizSource | None = None
    # the shot's on-screen lines as one mono WAV on its timeline, for engines that animate
    # faces to it (``Capabilities.reference_audio``); ``shot.lines`` say who speaks when
    # (only lines of characters in ``shot.characters`` are in it: never a narrator's)
    voice: Path | None = None
    options: dict[str, Any] = {}  # engine options from routing


class LipSyncRequest(_Frozen):
    """Re-sync the mouths of one shot's clip to its voice (a lip-sync engine's job). The
    engine writes an MP4 of the same picture, mouths moved to ``voice``, to its output path."""

    shot: ShotPrompt  # who is in frame; ``shot.lines`` say who speaks when
    video: Path  # the take fitted to the film: its size and rate, the shot's frames, no sound
    # the shot's on-screen lines as one mono WAV on its timeline (never a narrator's)
    voice: Path
    duration: float  # seconds (the clip's and the voice's length)
    width: int
    height: int
    fps: int
    model: str | None = None
    attempt: int = 0  # 1, 2, ...: the ``lipsync`` retake rung asking for the pass again
    options: dict[str, Any] = {}  # engine options from routing


class ImageRequest(_Frozen):
    """Draw one still for ``ministudio cast``: one view of a character's sheet, or a place.

    ``prompt`` is the core's engine-neutral text (what to draw, in words); the fields beside it
    say the same as data, for engines that draw from data (the animatic). The engine writes a
    PNG or JPEG of ``width`` x ``height`` (or the nearest size it makes at that aspect ratio) to
    its output path."""

    subject: Literal["character", "environment"]
    id: str  # the character's or the environment's id in the production
    name: str  # a character's name, an environment's id
    description: str  # the character's DNA, the place's description
    view: Literal["front", "three-quarter", "profile", "set"]  # "set": a place, no one in it
    prompt: str
    aspect_ratio: str
    width: int
    height: int
    style: str = ""
    lighting: str = ""
    palette: tuple[str, ...] = ()
    # pictures the new one must match (a sheet's front view, when drawing its other views)
    reference_images: tuple[Path, ...] = ()
    seed: int = 0
    model: str | None = None
    options: dict[str, Any] = {}  # engine options (``ministudio cast --option``)


class ImageResult(_Frozen):
    """The still drawn, and what it cost."""

    path: Path
    model: str | None = None
    cost: float = 0.0


class WritingRequest(_Frozen):
    """Write a production from a brief (``ministudio storyboard``), one round of it.

    ``instructions`` is the core's prompt (what a good production holds: coverage, lengths that
    fit the lines and the routed engines, specific character DNA); ``brief`` the user's text.
    The answer must be one JSON document valid against the ``schema`` handed to the hook
    beside this request. From the second round on, ``draft`` is the previous answer and
    ``errors`` say why it was refused (each with its field path): fix those."""

    brief: str
    instructions: str
    round: int = 0  # 0: the first draft; 1, 2, ...: repairs
    draft: str | None = None
    errors: tuple[str, ...] = ()
    model: str | None = None
    options: dict[str, Any] = {}  # engine options (``ministudio storyboard --option``)
    max_output_tokens: int = 32768


class Draft(_Frozen):
    """A writer's answer: the production as JSON text, and what the round cost."""

    text: str
    model: str | None = None
    cost: float = 0.0


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
    pitch: int = Field(50, ge=0, le=100, description="0..100; 50 is the voice's own")
    rate: int = Field(170, ge=80, le=450, description="words per minute, 80..450")
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
    # the phonemes spoken, if the engine knows them: (seconds from the audio's first sample,
    # the engine's mnemonic for it, eSpeak's "m", "'A:", "_:" for a pause), in order
    phonemes: tuple[tuple[float, str], ...] = ()


class QCVerdict(_Frozen):
    """One quality check's finding on one clip."""

    check: str  # e.g. "duration"
    passed: bool
    score: float  # 0..1, higher is better
    reason: str  # a sentence a person understands
    cost: float = 0.0  # USD a paid check (a vision judge) spent to reach it


class Submission(_Frozen):
    """A remote engine accepted a job: its id on the engine's side."""

    job_id: str


JobState = Literal["queued", "running", "succeeded", "failed"]


class JobStatus(_Frozen):
    """A remote job's state, from a status request or a webhook."""

    job_id: str
    state: JobState
    progress: float | None = None  # 0..1 where the engine reports it
    retry_after: float | None = None  # the engine's hint: seconds until asking again is useful
    error: str | None = None  # why it failed, in the engine's words
    refused: bool = False  # failed by a safety filter or invalid input: do not resend as is
    video_url: str | None = None  # where the finished clip is, when the status says
    thin: bool = False  # a push that only says "this job changed": the core asks the engine

    def check_done(
        self, engine: str, *, noun: str = "job", refusal: str = "", url: bool = False
    ) -> None:
        """Before a download: raise unless the job succeeded (with a ``video_url`` if
        ``url``): ``EngineRefusal`` (with ``refusal`` when the engine gave no reason) if it
        was refused, ``EngineError`` if it failed, ``TransientError`` if it has not finished."""
        from ministudio.errors import EngineError, EngineRefusal, TransientError

        job = f"{noun} {self.job_id}"
        if self.state == "failed":
            if self.refused:
                raise EngineRefusal(engine, self.error or refusal or f"the {noun} was refused")
            raise EngineError(engine, f"{job} failed: {self.error or 'no reason given'}")
        if self.state != "succeeded" or (url and not self.video_url):
            raise TransientError(engine, f"{job} has no video yet (state {self.state})")


class HostedAsset(_Frozen):
    """A file made reachable by an engine (``upload_asset``'s answer): its URL or id, and when
    that stops working (epoch seconds; None: never, the same as answering a plain string).

    The core reuses it for the same content until shortly before ``expires_at`` (see
    ``Journal.asset``), then asks the hook again: a signed URL is signed anew.
    """

    reference: str
    expires_at: float | None = None
