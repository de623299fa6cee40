"""The film of one render, assembled as shots land: soundtrack and subtitles first, each
shot (or a failed shot's slate) in order, the checks across shots of one place, and the
manifest."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from pathlib import Path

import anyio.to_thread

from ministudio import __version__
from ministudio.errors import MinistudioError
from ministudio.media.film import FilmAssembly, Spoken
from ministudio.run.context import RenderContext, crashed
from ministudio.run.errors import RenderError
from ministudio.run.failpoints import checkpoint
from ministudio.run.manifest import LoudnessRecord, Manifest, ShotRecord
from ministudio.run.shots import Shot
from ministudio.run.store import job_key

log = logging.getLogger("ministudio.run.assembly")


class Assembly:
    """The film file and manifest of one render."""

    def __init__(
        self, ctx: RenderContext, plates: dict[str, ShotRecord], limiter: anyio.CapacityLimiter
    ) -> None:
        self.ctx, self.plates, self.limiter = ctx, plates, limiter
        self.film = FilmAssembly(
            ctx.out, width=ctx.width, height=ctx.height, fps=ctx.fps, limiter=limiter
        )
        self._slates: Path | None = None  # a scratch folder for the slates of failed shots

    def open(self, shots: list[Shot]) -> None:
        """Start the film file with its soundtrack and subtitles (audio first)."""
        lines = [
            Spoken(line.path, record.start, record.end, record.text, line.planned.speaker_name)
            for shot in shots
            for line, record in zip(shot.lines, shot.record.lines, strict=True)
        ]
        self.film.open(lines, sum(s.timing.frames for s in shots) / self.ctx.fps)

    async def append_ready(self, shots: list[Shot]) -> None:
        """Append every shot now ready in order (a failed shot's slate stands in for it)."""
        await self.film.append_ready([(s.final.is_set(), s.slate or s.clip) for s in shots])

    async def native_audio(self, shot: Shot) -> None:
        """Put the sound of a shot whose engine spoke its lines into the film."""
        host, engine = self.ctx.host, shot.record.engine or ""
        speaks = engine in host.engines and host.engines[engine].capabilities.native_audio
        if not speaks or shot.source is None:
            raise MinistudioError(
                f"its lines were to be spoken by {shot.planned.engine.id}, which failed, and "
                f"{engine} cannot speak them: set the shot's audio to voiced, or render again"
            )
        await self.film.place_audio(shot.source, shot.record.start, shot.timing.duration, engine)

    async def slate(self, shots: list[Shot], shot: Shot) -> Path | None:
        """The slate of a failed shot (its id and why, its planned length), made for this
        render only: never stored, so the next render tries the shot again. None if it
        cannot be made (the film is then not assembled, as without ``partial``)."""
        assert shot.record.error is not None
        if self._slates is None:
            self._slates = self.ctx.store.scratch()
        index = shots.index(shot)
        try:
            return await self.film.slate(
                self._slates / f"{index:04d}.mp4",
                shot.planned.id,
                shot.record.error,
                frames=shot.timing.frames,
                index=index,
            )
        except Exception as exc:  # no slate: this render ends as it would have without them
            log.warning("no slate for shot %s: %s", shot.planned.id, self.ctx.traceback(exc))
            return None

    def check_place(self, same: list[Shot], name: str) -> None:
        """Shots of the same place in the same light should look like the same place:
        verdicts into each shot's QC. (Each `continue` shot's seam was checked with its
        takes.)"""
        from ministudio.qc.checks import scene_stability

        seen = [s for s in same if s.footage is not None]
        if len(seen) > 1:
            clips = {s.planned.id: s.footage for s in seen if s.footage is not None}
            for shot, verdict in zip(seen, scene_stability(clips, name), strict=True):
                shot.record.qc.append(verdict)

    async def finish(self, shots: list[Shot], started: float) -> Manifest:
        """Close the film and write the manifest; ``RenderError`` when a shot failed (with
        the film of slates, unless ``partial`` is off)."""
        out, blank = self.ctx.out, self.ctx.blanker.blank
        manifest = self.manifest(shots)
        failed = [s for s in shots if s.record.error]
        failures = {s.planned.id: s.record.error for s in failed if s.record.error}
        causes = [s.cause for s in failed if s.cause is not None]
        crashes = [c for c in causes if crashed(c)]
        cause = next(iter(crashes + causes), None)  # what --debug prints: a crash's, if any
        if failed and not all(s.slate for s in failed):  # no film (--no-partial)
            self.film.abort()
            for shot in failed:
                shot.record.slate = None
            manifest.seconds = round(time.monotonic() - started, 3)
            manifest.write(out / "manifest.json", blank)
            raise RenderError(failures, out / "manifest.json", crashed=bool(crashes)) from cause
        labels = [
            f"{s.planned.id} · slate (failed)"
            if s.slate
            else f"{s.planned.id} · {s.planned.shot.size} · {s.record.engine}"
            for s in shots
        ]
        checkpoint("assembling")
        await anyio.to_thread.run_sync(self.film.close, labels)
        manifest.film = "film.mp4"
        manifest.subtitles = ["film.srt", "film.vtt"]
        manifest.contact_sheet = "contact_sheet.png"
        if self.film.loudness is not None:
            manifest.loudness = LoudnessRecord(**dataclasses.asdict(self.film.loudness))
        manifest.seconds = round(time.monotonic() - started, 3)
        manifest.write(out / "manifest.json", blank)
        if failures:  # a film with slates: still a failed render
            raise RenderError(
                failures,
                out / "manifest.json",
                film=out / "film.mp4",
                result=manifest,
                crashed=bool(crashes),
            ) from cause
        return manifest

    def manifest(self, shots: list[Shot]) -> Manifest:
        """The manifest as the render stands."""
        ctx = self.ctx
        return Manifest(
            title=ctx.p.title,
            ministudio_version=__version__,
            production_hash=job_key("production", ctx.p.model_dump(mode="json")),
            store=str(ctx.store.root),
            width=ctx.width,
            height=ctx.height,
            fps=ctx.fps,
            aspect_ratio=ctx.p.format.aspect_ratio,
            duration=round(sum(s.timing.frames for s in shots) / ctx.fps, 6),
            cost=round(
                sum(s.record.cost + sum(line.cost for line in s.lines) for s in shots)
                + sum(p.cost for p in self.plates.values()),
                4,
            ),
            seconds=0.0,
            film=None,
            shots=[s.record for s in shots],
            plates=list(self.plates.values()),
            previz=ctx.options.previz,
            production_file=ctx.options.production_file,
        )

    def abort(self) -> None:
        self.film.abort()

    def clean(self) -> None:
        """Slates live as long as the render: never stored."""
        if self._slates is not None:
            shutil.rmtree(self._slates, ignore_errors=True)
