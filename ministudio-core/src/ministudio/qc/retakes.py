"""Retakes: what a shot that failed a quality check is rendered again with.

A production's ``qc.ladder`` lists rungs; each retake climbs the next rung that applies to
the shot, on top of what the rungs below it changed:

- ``seed``: a new seed (derived from the production seed, the shot and the take: stable);
- ``edit``: ask the engine to change its last take by the failed checks' reasons (engines
  whose capabilities say ``edit``; it pays for an edit, not a clip from nothing);
- ``promote``: make the take from the shot's previz (engines that declare ``video_edit``),
  so the engine follows the previz's timing, blocking and camera instead of improvising;
- ``references``: the frame the scene's previous shot ends on, as one more image of the place;
- ``first-frame``: start the shot from that frame;
- ``engine``: the next engine of ``routing.fallbacks`` not tried yet;
- ``lipsync``: run the lip-sync pass (``routing.lipsync``) again over the kept take, while
  the lip-sync check fails (``ministudio.run.lipsync``; it is not a new take).

A rung that cannot apply (no previous shot in the scene, an engine without first frames, no
fallback left) is passed over. The best take is kept: the first that passes every check,
else the one failing fewest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ministudio.engines import EngineSpec
from ministudio.jobs import EditRequest, PreviousClip, PrevizSource, QCVerdict
from ministudio.plan.shots import shot_seed
from ministudio.spec import Rung


@dataclass(frozen=True)
class Take:
    """One way of rendering a shot."""

    engine: EngineSpec
    seed: int
    first_frame: Path | None = None
    previous: PreviousClip | None = None  # the job a `continue` shot extends, where it can
    references: tuple[Path, ...] = ()  # images of the place added by the ladder
    edit: EditRequest | None = None  # change this earlier take instead (the ``edit`` rung)
    source: PrevizSource | None = None  # promote the shot's previz (``routing.previz``)
    rung: str = "first"  # the ladder rung that made this take ("first": none)


def failing(verdicts: Sequence[QCVerdict]) -> list[QCVerdict]:
    """The verdicts that fail."""
    return [v for v in verdicts if not v.passed]


def best(verdicts: Sequence[Sequence[QCVerdict]]) -> int:
    """The index of the take to keep: the first that passes, else the one failing fewest."""
    return min(range(len(verdicts)), key=lambda i: (len(failing(verdicts[i])), i))


def climb(
    take: Take,
    rung: Rung,
    *,
    number: int,
    production_seed: int,
    shot_id: str,
    scene_frame: Path | None,
    fallbacks: Sequence[EngineSpec],
    tried: Sequence[str],
    native_audio: bool,
    edit: EditRequest | None = None,
    previz: PrevizSource | None = None,
) -> Take | None:
    """Retake ``number`` (1, 2, ...): ``take`` changed by ``rung``; None if it cannot apply.

    ``scene_frame`` is the last frame of the scene's previous shot (None for a scene's first
    shot); ``tried`` the engines already used; ``native_audio`` whether the engine must speak
    the shot's lines (only engines that can are then tried); ``edit`` what changing the
    last take would ask of its engine (None when that take is not ``take.engine``'s or its
    job has no id); ``previz`` the shot's previz (for the ``promote`` rung). Only the
    ``edit`` rung's take edits: the others render anew (a promoted take stays promoted).
    """
    caps = take.engine.capabilities
    if rung == "lipsync":  # the shot's lip-sync job passes its clip again (``run.lipsync``)
        return None
    if rung == "edit":
        if edit is None or not caps.edit or take.edit == edit:
            return None
        return dataclasses.replace(take, edit=edit, source=None, rung=rung)
    if rung == "promote":
        if previz is None or not caps.video_edit or take.source is not None:
            return None
        return dataclasses.replace(take, source=previz, edit=None, rung=rung)
    take = dataclasses.replace(take, edit=None)
    if rung == "seed":
        seed = shot_seed(production_seed, f"{shot_id}|retake {number}")
        return dataclasses.replace(take, seed=seed, rung=rung)
    if rung == "references":
        if scene_frame is None or scene_frame in take.references or not caps.max_references:
            return None
        return dataclasses.replace(take, references=(*take.references, scene_frame), rung=rung)
    if rung == "first-frame":
        if scene_frame is None or take.first_frame is not None or not caps.first_frame:
            return None
        return dataclasses.replace(take, first_frame=scene_frame, rung=rung)
    for engine in fallbacks:
        if engine.id not in tried and (engine.capabilities.native_audio or not native_audio):
            return dataclasses.replace(take, engine=engine, rung=rung)
    return None
