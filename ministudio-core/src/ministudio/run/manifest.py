"""manifest.json: what was rendered, by which engine, from which prompt, at what cost."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ministudio.jobs import QCVerdict


class LineRecord(BaseModel):
    # times are finite: `ministudio qc DIR` reads them back from a file anyone may edit
    model_config = ConfigDict(allow_inf_nan=False)

    speaker: str
    text: str
    emotion: str
    engine: str
    start: float  # seconds from the film's start
    end: float
    cached: bool
    cost: float = 0.0  # USD spent on it in this run


class AttemptRecord(BaseModel):
    engine: str
    error: str


class FallbackRecord(BaseModel):
    """The engine a shot was routed to, which failed, before a fallback engine saved it."""

    engine: str
    reason: str  # its failure, keys blanked


class TakeRecord(BaseModel):
    """One rendering of a shot, and what the quality checks made of it."""

    rung: str  # "first", "review" (a reviewer asked), or the qc.ladder rung that made it
    engine: str
    model: str | None = None
    prompt: str | dict[str, Any] | None = None  # as sent to the engine
    seed: int
    job_key: str | None = None
    clip: str | None = None  # store key of the take's clip fitted to the film (.mp4)
    engine_job_id: str | None = None
    conditioning: list[str] = []
    cached: bool = False
    cost: float = 0.0  # USD spent on it in this run (the judge's included)
    error: str | None = None  # it could not be rendered
    qc: list[QCVerdict] = []
    kept: bool = False  # the take that is in the film


class LipSyncRecord(BaseModel):
    """A shot's lip-sync pass (``routing.lipsync``): the engine's job, its cost, its state."""

    engine: str
    model: str | None = None
    # waiting, done, cached; failed (the take is in the film: ``error``); "not made" (the
    # budget left none: ``stopped``); "not needed" (the take's engine animated to the voice,
    # and the lips follow it)
    state: str = "waiting"
    job_key: str | None = None
    engine_job_id: str | None = None
    passes: int = 0  # passes made or found (the ``lipsync`` retake rung asks for more)
    cost: float = 0.0  # USD spent on it in this run
    error: str | None = None  # why the pass could not be made (the take's clip is kept)
    stopped: str | None = None  # why no further pass was asked while the check still failed


class ReviewRecord(BaseModel):
    """What a review (``render --review``) decided for a shot, as this render acted on it."""

    decision: str  # approve, retake or pick
    note: str = ""  # a retake's note, added to the shot's action
    take: int | None = None  # the take kept (approve, pick), from 1 in the reviewed ``takes``
    reviewed: str | None = None  # job key of the take reviewed (a retake's seed comes from it)


class PrevizRecord(BaseModel):
    """The previz a promoted shot was made from (``routing.previz``): store keys."""

    clip: str  # the previz as its film shows it (fitted, captions and all)
    passes: dict[str, str] = {}  # pass name -> store key of its file (``run.promotion``)
    film: str = "previz/film.mp4"  # the previz film, from the output folder


class ShotRecord(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)  # as LineRecord

    id: str
    scene: str
    index: int
    part_of: str | None = None  # the shot this clip is part of, when its lines outlast a clip
    engine: str | None = None
    model: str | None = None
    prompt: str | dict[str, Any] | None = None  # as sent to the engine
    seed: int
    start: float  # seconds from the film's start
    duration: float  # seconds in the film
    frames: int
    requested_duration: float | None = None  # what the engine was asked for, after snapping
    stretched: bool = False  # an explicit duration was lengthened to fit the lines
    lighting: str = ""  # the light the shot's place is in (shots in one light look alike)
    camera: str = ""  # the shot's camera move ("static" holds still on purpose); "" in old ones
    cast: list[str] = []  # characters in frame: others' lines (a narrator's) are off screen
    cached: bool = False
    state: str = "waiting"  # waiting, rendering, cached, done or failed
    job_key: str | None = None
    inputs: dict[str, str] = {}  # a short hash of each input of the job (engine, prompt, seed...)
    output_hash: str | None = None  # sha256 of the shot's clip as it enters the film
    clip: str | None = None  # store key of that clip (.mp4 in ``Manifest.store``)
    engine_job_id: str | None = None
    conditioning: list[str] = []  # images and continuations given to the engine
    ignored: list[str] = []  # what the shot asked for that its engine cannot take
    cost: float = 0.0
    seconds: float = 0.0  # wall time spent on this shot in this run
    failed_attempts: list[AttemptRecord] = []
    fallback_from: FallbackRecord | None = (
        None  # its engine failed (or failed the checks) and another rendered it
    )
    error: str | None = None
    slate: str | None = None  # the film shows a slate here, which says this (why it failed)
    qc: list[QCVerdict] = []  # the kept take's verdicts (then the checks across shots)
    takes: list[TakeRecord] = []  # every take when a failing check made the shot retaken
    retakes_stopped: str | None = None  # why the ladder stopped while a check still failed
    lines: list[LineRecord] = []
    lipsync: LipSyncRecord | None = None  # its lip-sync pass, where routing asks for one
    passes: dict[str, str] = {}  # a previz's control passes: name -> store key
    previz: PrevizRecord | None = None  # a promoted shot's previz
    review: ReviewRecord | None = None  # what the review this render acted on said of it


class LoudnessRecord(BaseModel):
    """What normalising the soundtrack to the web loudness target (-16 LUFS) did."""

    measured_lufs: float | None  # integrated loudness as mixed; None: silent, left alone
    true_peak_dbtp: float | None  # true peak as mixed (BS.1770-4, 4x oversampled)
    gain_db: float  # the gain applied to the whole track
    limited: bool  # true peaks would have passed -1 dBTP: the limiter brought them under
    lufs: float | None  # integrated loudness after normalisation


class Manifest(BaseModel):
    title: str
    ministudio_version: str
    production_hash: str
    store: str  # the content store (and journal) this render used
    width: int
    height: int
    fps: int
    aspect_ratio: str
    duration: float
    cost: float
    seconds: float  # wall time of the whole render
    # file name in the output folder; None when a shot failed and the render was told not to
    # assemble the film around it (``--no-partial``): else each failed shot is a slate in it
    film: str | None
    subtitles: list[str] = []
    contact_sheet: str | None = None
    loudness: LoudnessRecord | None = None  # the soundtrack's normalisation
    shots: list[ShotRecord] = []
    plates: list[ShotRecord] = []  # background plates made (or reused) for this film
    previz: bool = False  # the film is the previz (``render --previz``)
    production_file: str | None = None  # the production rendered, for ``ministudio promote``

    def job_keys(self) -> list[str]:
        """The journal keys of this render's paid jobs: plates, shots, every take, lip-sync
        passes (once each, in that order)."""
        shots = [*self.plates, *self.shots]
        keys = [s.job_key for s in shots] + [t.job_key for s in self.shots for t in s.takes]
        keys += [s.lipsync.job_key for s in self.shots if s.lipsync is not None]
        return list(dict.fromkeys(k for k in keys if k))

    @classmethod
    def of_folder(cls, folder: Path) -> Manifest:
        """The manifest of the render in ``folder``; ``MinistudioError`` saying what to do
        when there is none."""
        from ministudio.errors import MinistudioError

        path = folder / "manifest.json"
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise MinistudioError(
                f"{path} is missing or unreadable: is {folder} a render's output "
                f"folder? (`ministudio render FILE -o {folder}` makes one)"
            ) from None

    def write(self, path: Path, blank: Callable[[str], str] | None = None) -> None:
        """Write it as JSON, every string (keys and values) through ``blank``, the blanking
        gate (the process's, ``ministudio.safety.secrets.gate()``, unless the render gives
        its own)."""
        from ministudio.safety.secrets import gate

        data = _blanked(self.model_dump(mode="json"), blank or gate().blank)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _blanked(value: Any, blank: Callable[[str], str]) -> Any:
    """``value`` (JSON data) with every string passed through ``blank``."""
    if isinstance(value, str):
        return blank(value)
    if isinstance(value, dict):
        return {blank(k): _blanked(v, blank) for k, v in value.items()}
    if isinstance(value, list):
        return [_blanked(v, blank) for v in value]
    return value
