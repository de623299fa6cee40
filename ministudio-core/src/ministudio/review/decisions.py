"""``review.json``: what the people reviewing a film decided about its shots.

The review page writes it (served: beside the film; from disk: as a download); a person may
write it by hand. ``ministudio render FILE --review review.json`` acts on it: an approved
shot is kept as it is, a shot to retake is rendered again with the note in its prompt, and a
picked take becomes the shot's clip. Shots it does not name are kept from the store.

    {"version": 1,
     "shots": {"intro": {"decision": "approve"},
               "glitch": {"decision": "retake", "note": "she looks at the camera"},
               "fear": {"decision": "pick", "take": 2}}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ministudio.errors import MinistudioError

MAX_BYTES = 1 << 20  # a review.json past this is refused (a film has at most a few hundred shots)
MAX_NOTE = 2000  # characters in a retake note: it goes into an engine's prompt
MAX_SHOTS = 10_000

Decision = Literal["approve", "retake", "pick"]


class ReviewError(MinistudioError):
    """A review.json that cannot be acted on: it says which entry and what to do."""

    exit_code = 2


class ShotDecision(BaseModel):
    """One shot's decision. ``take`` (pick) counts from 1 in the manifest's ``takes``;
    ``job_key`` (optional, the page writes it) is the job of the take that was reviewed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: Decision
    note: str = Field("", max_length=MAX_NOTE)
    take: int | None = Field(None, ge=1)
    job_key: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _complete(self) -> ShotDecision:
        if self.decision == "pick" and self.take is None:
            raise ValueError('a pick names its take: add "take": N (1 is the first take)')
        if self.decision != "pick" and self.take is not None:
            raise ValueError(f'"take" goes with "pick", not "{self.decision}"')
        if self.decision != "retake" and self.note.strip():
            raise ValueError(f'a note goes with "retake", not "{self.decision}"')
        return self


class Review(BaseModel):
    """The decisions of one review: shot id -> decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    shots: dict[str, ShotDecision] = Field(default_factory=dict, max_length=MAX_SHOTS)

    def of(self, decision: Decision) -> dict[str, ShotDecision]:
        """The shots given ``decision``."""
        return {shot: d for shot, d in self.shots.items() if d.decision == decision}


def read_review(path: Path) -> Review:
    """The review in ``path``; ``ReviewError`` saying what is wrong and where."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ReviewError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(raw) > MAX_BYTES:
        raise ReviewError(f"{path}: larger than {MAX_BYTES:,} bytes; is it a review.json?")
    try:
        return Review.model_validate_json(raw)
    except ValidationError as exc:
        problems = "\n".join(
            f"  - {'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
            for e in exc.errors(include_url=False)[:20]
        )
        raise ReviewError(
            f"{path}: not a review the render can act on; fix these:\n{problems}"
        ) from None
