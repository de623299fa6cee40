"""The review page: ``ministudio review DIR`` writes ``DIR/review/``, a static page that
opens from disk (no server, no CDN) or is served by ``ministudio.review.serve``.

    DIR/review/index.html   the page, its data embedded as a JSON script tag
    DIR/review/review.css   its style and script (package data: ``review/assets``)
    DIR/review/review.js
    DIR/review/film.mp4     the film (a hard link when the filesystem allows, else a copy)
    DIR/review/previz.mp4   the previz film, when the film was promoted from one
    DIR/review/clips/       every shot's, take's and previz's clip, named by store key

Everything the page plays sits under ``DIR/review``: relative URLs work from ``file://``,
and the server serves that folder alone. The data is JSON escaped for a script element
(``<``, ``>``, ``&`` and the line separators as ``\\uXXXX``), and the script renders it
as text only: a prompt holding ``</script>`` or HTML stays text.
"""

from __future__ import annotations

import json
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from ministudio.errors import MinistudioError
from ministudio.run.manifest import Manifest, ShotRecord, TakeRecord
from ministudio.run.store import ContentStore

PAGE = "review"  # the page's folder in the output folder
ASSETS = ("review.css", "review.js")
DATA_MARK = "{{REVIEW_DATA}}"  # where index.html takes the page's data
_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def script_json(data: Any) -> str:
    """``data`` as JSON that is safe inside a ``<script type="application/json">`` element:
    no ``</script>``, no ``<!--``, nothing an HTML parser reads as markup."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return "".join(_ESCAPES.get(c, c) for c in text)


def asset(name: str) -> str:
    """The text of one of the page's files (package data in ``ministudio/review/assets``)."""
    return resources.files("ministudio.review").joinpath("assets").joinpath(name).read_text("utf-8")


def write_page(folder: Path) -> Path:
    """Write the review page of the render in ``folder``; return its ``index.html``.
    ``MinistudioError`` when ``folder`` holds no render."""
    manifest = Manifest.of_folder(folder)
    # the film is a file of the folder itself (a manifest anyone may edit names no other)
    if not manifest.film or Path(manifest.film).name != manifest.film:
        manifest.film = None
    if not manifest.film or not (folder / manifest.film).is_file():
        raise MinistudioError(
            f"{folder} has no film to review (its render made none: a shot failed with "
            "--no-partial?); render it again, then `ministudio review` it"
        )
    page = folder / PAGE
    media = _Media(folder, page, ContentStore(Path(manifest.store)))
    data = page_data(folder, manifest, media)
    for name in ASSETS:
        (page / name).write_text(asset(name), encoding="utf-8")
    html = asset("index.html").replace(DATA_MARK, script_json(data))
    _write_atomic(page / "index.html", html)
    return page / "index.html"


def page_data(folder: Path, manifest: Manifest, media: _Media) -> dict[str, Any]:
    """What the page shows: the film, its shots (takes, previz, checks), its jobs, the cost
    by engine, and the decisions already in ``folder/review.json``."""
    film = media.link(folder / (manifest.film or "film.mp4"), "film.mp4")
    previz = None
    if any(s.previz for s in manifest.shots):
        previz = media.link(folder / "previz" / "film.mp4", "previz.mp4")
    return {
        "title": manifest.title,
        "film": film,
        "previz_film": previz,
        "duration": manifest.duration,
        "fps": manifest.fps,
        "width": manifest.width,
        "height": manifest.height,
        "cost": manifest.cost,
        "seconds": manifest.seconds,
        "is_previz": manifest.previz,
        "shots": [_shot(shot, media) for shot in manifest.shots],
        "cost_by_engine": cost_by_engine(manifest),
        "jobs": jobs(manifest),
        "review": existing_review(folder),
    }


def _shot(shot: ShotRecord, media: _Media) -> dict[str, Any]:
    """One shot as the page shows it."""
    return {
        "id": shot.id,
        "scene": shot.scene,
        "index": shot.index,
        "part_of": shot.part_of,
        "start": shot.start,
        "duration": shot.duration,
        "frames": shot.frames,
        "engine": shot.engine,
        "model": shot.model,
        "prompt": _text(shot.prompt),
        "seed": shot.seed,
        "conditioning": shot.conditioning,
        "cost": shot.cost,
        "seconds": shot.seconds,
        "state": shot.state,
        "cached": shot.cached,
        "job_key": shot.job_key,
        "error": shot.error,
        "slate": shot.slate,
        "fallback_from": shot.fallback_from.engine if shot.fallback_from else None,
        "retakes_stopped": shot.retakes_stopped,
        "clip": media.clip(shot.clip),
        "qc": [_verdict(v) for v in shot.qc],
        "takes": [_take(n, take, media) for n, take in enumerate(shot.takes, 1)],
        "previz": media.clip(shot.previz.clip) if shot.previz else None,
        "lines": [{"speaker": li.speaker, "text": li.text, "start": li.start} for li in shot.lines],
    }


def _take(n: int, take: TakeRecord, media: _Media) -> dict[str, Any]:
    return {
        "n": n,
        "rung": take.rung,
        "engine": take.engine,
        "model": take.model,
        "prompt": _text(take.prompt),
        "seed": take.seed,
        "job_key": take.job_key,
        "conditioning": take.conditioning,
        "cost": take.cost,
        "error": take.error,
        "kept": take.kept,
        "clip": media.clip(take.clip),
        "qc": [_verdict(v) for v in take.qc],
    }


def _verdict(verdict: Any) -> dict[str, Any]:
    return {"check": verdict.check, "passed": verdict.passed, "reason": verdict.reason}


def _text(prompt: str | dict[str, Any] | None) -> str | None:
    """A prompt as sent: a string, or a structured prompt as indented JSON."""
    if prompt is None or isinstance(prompt, str):
        return prompt
    return json.dumps(prompt, indent=2, ensure_ascii=False)


def cost_by_engine(manifest: Manifest) -> dict[str, float]:
    """USD spent in this render per engine: each take on its engine (a shot without takes on
    its own), lip-sync passes and background plates on theirs; largest first."""
    spent: dict[str, float] = {}

    def add(engine: str | None, cost: float) -> None:
        key = engine or "(none)"
        spent[key] = spent.get(key, 0.0) + cost

    for shot in [*manifest.plates, *manifest.shots]:
        if shot.takes:
            for take in shot.takes:
                add(take.engine, take.cost)
        else:
            add(shot.engine, shot.cost)
        if shot.lipsync is not None:
            add(shot.lipsync.engine, shot.lipsync.cost)
    return dict(sorted(spent.items(), key=lambda item: (-item[1], item[0])))


def jobs(manifest: Manifest) -> dict[str, Any]:
    """The job timeline: each paid job's events (from the journal beside the store), or,
    when the film had none (keyless engines), each shot's render time on this machine."""
    labels = _job_labels(manifest)
    events = _journal_events(Path(manifest.store) / "journal.sqlite", list(labels))
    if not events:
        local = [{"label": s.id, "seconds": s.seconds, "cached": s.cached} for s in manifest.shots]
        return {"local": True, "shots": local}
    ordered = sorted(events.items(), key=lambda item: min(at for _, at in item[1]))
    rows = [
        {"label": labels[key], "key": key[:12], "events": [[e, at] for e, at in found]}
        for key, found in ordered
    ]
    return {"local": False, "rows": rows}


def _job_labels(manifest: Manifest) -> dict[str, str]:
    """Each paid job key of the render -> what it made (a plate, a shot, a take, a pass)."""
    labels: dict[str, str] = {}
    for plate in manifest.plates:
        if plate.job_key:
            labels.setdefault(plate.job_key, f"plate {plate.id}")
    for shot in manifest.shots:
        if shot.job_key:
            labels.setdefault(shot.job_key, shot.id)
        for n, take in enumerate(shot.takes, 1):
            if take.job_key:
                labels[take.job_key] = f"{shot.id} take {n} ({take.rung})"
        if shot.lipsync is not None and shot.lipsync.job_key:
            labels.setdefault(shot.lipsync.job_key, f"{shot.id} lip-sync")
    return labels


def _journal_events(path: Path, keys: list[str]) -> dict[str, list[tuple[str, float]]]:
    """Each job's (event, Unix time) from the journal at ``path``: its own timeline where the
    journal keeps one, else made from the rows (submitted, then done or failed). Empty
    when there is no journal (a keyless render never opens one)."""
    if not keys or not path.is_file():
        return {}
    from ministudio.remote.journal import Journal

    journal = Journal(path)
    try:
        if hasattr(journal, "timeline"):
            found = journal.timeline(keys)
            if found:
                return {k: [(str(e), float(at)) for e, at in v] for k, v in found.items()}
        built: dict[str, list[tuple[str, float]]] = {}
        for key, row in journal.rows(keys).items():
            events: list[tuple[str, float]] = []
            if row.submitted_at:
                events.append(("submitted", row.submitted_at))
            if row.finished_at:
                events.append(("failed" if row.state == "failed" else "done", row.finished_at))
            if events:
                built[key] = events
        return built
    finally:
        journal.close()


def existing_review(folder: Path) -> dict[str, Any] | None:
    """The decisions already in ``folder/review.json`` (None when there is none or it is not
    a review: the page starts empty then)."""
    from ministudio.review.decisions import ReviewError, read_review

    path = folder / "review.json"
    if not path.is_file():
        return None
    try:
        found = read_review(path).model_dump(mode="json", exclude_defaults=True)
    except ReviewError:
        return None
    return {"version": 1, "shots": found.get("shots", {})}


class _Media:
    """Puts the files the page plays under its folder: hard links into the store where the
    filesystem allows (no space taken), else copies. A clip is named by its store key."""

    def __init__(self, folder: Path, page: Path, store: ContentStore) -> None:
        self.folder, self.page, self.store = folder, page, store
        shutil.rmtree(page / "clips", ignore_errors=True)  # a previous render's clips
        (page / "clips").mkdir(parents=True)

    def link(self, source: Path, name: str) -> str | None:
        """``source`` as ``page/name``; its URL from the page (None when it is missing)."""
        if not source.is_file():
            return None
        _place(source, self.page / name)
        return name

    def clip(self, key: str | None) -> str | None:
        """The clip stored under ``key`` in ``clips/``; its URL (None when not stored)."""
        if not key or not _is_key(key):
            return None
        source = self.store.get(key, ".mp4")
        if source is None:
            return None
        target = self.page / "clips" / f"{key}.mp4"
        if not target.exists():
            _place(source, target)
        return f"clips/{key}.mp4"


def _is_key(key: str) -> bool:
    """A store key as the manifest writes it: a name, never a path."""
    return key.replace("-", "").replace("_", "").isalnum() and len(key) <= 128


def _place(source: Path, target: Path) -> None:
    """``target`` becomes ``source``'s content (replacing what was there)."""
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another filesystem, or links not allowed
        shutil.copyfile(source, target)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
