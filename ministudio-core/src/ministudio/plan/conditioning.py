"""What a shot hands its video engine besides the prompt (frames, the clip it continues, a
loop, reference images, its voice), what of it an engine takes, and what it had to leave out.

An engine's capabilities decide: inputs it cannot take, or cannot take together, are left
out before anything is paid for, and ``ignored`` says so in words for ``plan`` and the
manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ministudio.engines import EngineSpec
from ministudio.engines.variants import label
from ministudio.jobs import PreviousClip, ShotPrompt, VideoRequest
from ministudio.plan.shots import PlannedShot
from ministudio.spec import Production


@dataclass(frozen=True)
class Conditioning:
    """A shot's brief (with its reference images) and the frames it starts or ends on."""

    brief: ShotPrompt
    first_frame: Path | None = None
    previous: PreviousClip | None = None
    last_frame: Path | None = None
    loop: bool = False
    voice: Path | None = None  # the shot's on-screen lines (``ministudio.plan.voicing``)

    def admitted_by(self, engine: EngineSpec) -> Conditioning:
        """What of this ``engine`` takes."""
        caps = engine.capabilities
        first = self.first_frame if caps.first_frame else None
        last = self.last_frame if caps.last_frame and (first or caps.last_frame_alone) else None
        brief = self.brief
        if not caps.references_with_frames and (first or last):
            brief = _without_references(brief)  # the frames win
        previous = self.previous if caps.extend else None
        voice = self.voice if caps.reference_audio else None
        return Conditioning(brief, first, previous, last, self.loop and caps.loop, voice)


def given(request: VideoRequest) -> list[str]:
    """The images and continuations ``request`` hands its engine, in words."""
    words = []
    if request.source is not None:
        words.append(f"its previz ({', '.join(sorted(request.source.passes))})")
    if request.previous is not None:
        words.append(f"continues {request.previous.engine} job {request.previous.job_id}")
    if request.first_frame is not None:
        words.append("first frame")
    if request.last_frame is not None:
        words.append("end frame")
    if request.loop:
        words.append("loop")
    if request.voice is not None:
        words.append("the shot's voice")
    references = sum(len(c.reference_images) for c in request.shot.characters)
    references += len(request.shot.environment.reference_images)
    if references:
        words.append(f"{references} reference image" + ("s" if references > 1 else ""))
    return words


def ignored(production: Production, ps: PlannedShot, engine: EngineSpec) -> list[str]:
    """What ``ps`` asks for that ``engine`` cannot take, each as a sentence."""
    caps, shot, notes = engine.capabilities, ps.shot, []
    name = engine.id + (f" ({variant})" if (variant := label(engine)) else "")
    starts = shot.continuity == "continue" and caps.first_frame
    if shot.continuity == "continue" and not caps.first_frame:
        notes.append(f"{name} cannot start from the previous shot's last frame")
    if shot.end_frame is not None and not caps.last_frame:
        notes.append(f"{name} takes no end frame")
    elif shot.end_frame is not None and not (starts or caps.last_frame_alone):
        notes.append(f"{name} takes an end frame only with a first frame (`continue`)")
    if shot.loop and not caps.loop:
        notes.append(f"{name} cannot loop a clip")
    if shot.audio == "native" and not caps.native_audio:
        notes.append(f"{name} cannot speak the lines: MiniStudio voices them")
    framed = starts or (shot.end_frame is not None and caps.last_frame and caps.last_frame_alone)
    if framed and not caps.references_with_frames and _has_references(production, ps):
        notes.append(f"{name} takes no reference images along with frames: the frames win")
    return notes


def _has_references(production: Production, ps: PlannedShot) -> bool:
    """Whether the shot's characters or place come with reference images (or a plate)."""
    characters = any(production.characters[c].reference_images for c in ps.shot.cast)
    place = production.environments[ps.scene.environment].reference_images
    return characters or bool(place) or ps.plate is not None


def _without_references(brief: ShotPrompt) -> ShotPrompt:
    characters = tuple(c.model_copy(update={"reference_images": ()}) for c in brief.characters)
    environment = brief.environment.model_copy(update={"reference_images": ()})
    return brief.model_copy(update={"characters": characters, "environment": environment})
