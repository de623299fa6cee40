"""What a render does with a review (``render --review review.json``).

A review is made on one render (its manifest, beside review.json). For the next render:

- **retake**: the shot is rendered again, its note added to its action (so to every engine's
  prompt) and a new seed (derived from the take reviewed, so acting on the same review twice
  pays once). Its earlier takes stay listed beside the new one, to pick from later. A
  retake of one part of a split shot retakes the whole shot.
- **pick** take N: that take's clip (from the store) is the shot's clip; no retakes.
- **approve**: the take the film shows is kept as it is; no retakes.

Shots the review does not name render as they would without it (from the store).
"""

from __future__ import annotations

from dataclasses import dataclass

from ministudio.plan.shots import shot_seed
from ministudio.review.decisions import Review, ReviewError, ShotDecision
from ministudio.run.manifest import Manifest, ReviewRecord, ShotRecord, TakeRecord
from ministudio.spec import Production


@dataclass(frozen=True)
class Decided:
    """A review read against the render it was made on (``RenderOptions.review``)."""

    notes: dict[str, str]  # production shot id -> the note its retake adds to its action
    seeds: dict[str, int]  # production shot id -> its retake's seed
    earlier: dict[str, list[TakeRecord]]  # shot record id -> its takes before the retake
    keep: dict[str, TakeRecord]  # shot record id -> the take to keep (picked or approved)
    takes: dict[str, list[TakeRecord]]  # shot record id -> its takes as reviewed
    records: dict[str, ReviewRecord]  # shot record id -> what its manifest entry says

    def production(self, production: Production) -> Production:
        """``production`` with each retake's note added to its shot's action."""
        if not self.notes:
            return production
        scenes = []
        for scene in production.scenes:
            shots = [
                s.model_copy(update={"action": with_note(s.action, self.notes[s.id])})
                if s.id in self.notes
                else s
                for s in scene.shots
            ]
            scenes.append(scene.model_copy(update={"shots": shots}))
        return production.model_copy(update={"scenes": scenes})

    def record(self, shot_id: str, part_of: str | None) -> ReviewRecord | None:
        """What the manifest records of the review of this shot (or part)."""
        return self.records.get(shot_id) or (self.records.get(part_of) if part_of else None)


def with_note(action: str, note: str) -> str:
    """The action a retake asks for: the shot's own, then the reviewer's note."""
    note = " ".join(note.split())
    return f"{action.rstrip().rstrip('.')}. {note}" if note else action


def decide(review: Review, reviewed: Manifest, production: Production) -> Decided:
    """``review`` (made on the render whose manifest is ``reviewed``) as the next render of
    ``production`` acts on it; ``ReviewError`` naming each decision it cannot act on."""
    records = {s.id: s for s in reviewed.shots}
    shot_ids = {s.id for scene in production.scenes for s in scene.shots}
    problems: list[str] = []
    decided = Decided({}, {}, {}, {}, {}, {})
    for shot_id, decision in review.shots.items():
        record = records.get(shot_id)
        if record is None:
            known = ", ".join(records) or "none"
            problems.append(f"{shot_id}: the reviewed render has no such shot (it has: {known})")
            continue
        parent = record.part_of or record.id
        if parent not in shot_ids:
            problems.append(f"{shot_id}: the production no longer has shot '{parent}'")
            continue
        takes = takes_of(record)
        try:
            _decide(decided, decision, record, takes, parent, production.seed)
        except ReviewError as exc:
            problems.append(f"{shot_id}: {exc}")
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise ReviewError(f"the review cannot be acted on; fix these in review.json:\n{listed}")
    return decided


def _decide(
    decided: Decided,
    decision: ShotDecision,
    record: ShotRecord,
    takes: list[TakeRecord],
    parent: str,
    production_seed: int,
) -> None:
    """Put one shot's decision into ``decided`` (``ReviewError`` if it cannot be)."""
    if decision.decision == "retake":
        reviewed = _reviewed_key(decision, record)
        decided.notes[parent] = decision.note
        decided.seeds[parent] = shot_seed(production_seed, f"{parent}|review|{reviewed}")
        decided.earlier[record.id] = [t for t in takes if t.clip]
        decided.records[record.id] = ReviewRecord(
            decision="retake", note=decision.note, reviewed=reviewed
        )
        return
    if not takes:
        raise ReviewError(f"it failed ({record.error or 'no clip'}): retake it instead")
    if decision.decision == "approve":
        number = next(i for i, t in enumerate(takes, 1) if t.kept)
    else:
        number = decision.take or 1
        if number > len(takes):
            raise ReviewError(f"it has {len(takes)} take(s): there is no take {number}")
    chosen = takes[number - 1]
    if chosen.clip is None:
        raise ReviewError(f"take {number} has no clip ({chosen.error or 'not made'})")
    decided.keep[record.id] = chosen
    decided.takes[record.id] = takes
    decided.records[record.id] = ReviewRecord(
        decision=decision.decision, take=number, reviewed=chosen.job_key
    )


def takes_of(record: ShotRecord) -> list[TakeRecord]:
    """A shot's takes as its manifest lists them; a shot made in one take, as that take."""
    if record.takes:
        return list(record.takes)
    if record.clip is None:
        return []
    return [
        TakeRecord(
            rung="first",
            engine=record.engine or "",
            model=record.model,
            prompt=record.prompt,
            seed=record.seed,
            job_key=record.job_key,
            clip=record.clip,
            engine_job_id=record.engine_job_id,
            conditioning=record.conditioning,
            cached=record.cached,
            cost=record.cost,
            qc=record.qc,
            kept=True,
        )
    ]


def _reviewed_key(decision: ShotDecision, record: ShotRecord) -> str:
    """The job of the take a retake replaces: what review.json names, else (the same
    retake acted on before) the one that render recorded, else the shot's."""
    if decision.job_key:
        return decision.job_key
    earlier = record.review
    if earlier is not None and earlier.decision == "retake" and earlier.note == decision.note:
        return earlier.reviewed or ""
    return record.job_key or record.id
