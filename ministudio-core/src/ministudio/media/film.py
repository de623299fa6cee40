"""The film file, written as shots land: audio and subtitles first, then each shot in order."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

if TYPE_CHECKING:
    import numpy as np

    from ministudio.media.assemble import FilmWriter
    from ministudio.media.audio import AudioTrack, Loudness
    from ministudio.media.subtitles import Cue

SAMPLE_RATE = 48000
# Contact-sheet thumbnails are kept this small (a 720p frame is 2.7 MB), as PNG (a 320 px
# picture is 230 KB in memory, 17 MB over a 10-minute film's 75 shots).
THUMB_WIDTH = 320


@dataclass(frozen=True)
class Spoken:
    """A spoken line at its place in the film."""

    path: Path | None  # its WAV; None when the shot's clip carries it (native audio)
    start: float  # seconds from the film's start
    end: float
    text: str
    speaker: str  # the name shown in subtitles


class FilmAssembly:
    """Writes ``out/film.mp4`` (and its subtitles and contact sheet) as the shots finish."""

    def __init__(
        self, out: Path, *, width: int, height: int, fps: int, limiter: anyio.CapacityLimiter
    ) -> None:
        self.out = out
        self.size = (width, height)
        self.fps = fps
        self._limiter = limiter  # local media work: one job per core
        self._writer: FilmWriter | None = None
        self._track: AudioTrack | None = None
        # The voiced track's normalisation to the web target (set by ``open``).
        self.loudness: Loudness | None = None
        self._cues: list[Cue] = []
        self._thumbs: list[bytes] = []  # PNG
        self._appended = 0
        self._lock = anyio.Lock()

    def open(self, lines: Sequence[Spoken], duration: float) -> None:
        """Start the file: the soundtrack and subtitles are final before any picture exists.

        The voiced lines, as mixed, are normalised to the web loudness target (``loudness``
        says how) before any of the track is encoded.
        """
        from ministudio.media.assemble import FilmWriter
        from ministudio.media.audio import AudioTrack, normalise, read_wav, resample
        from ministudio.media.subtitles import Cue

        track = self._track = AudioTrack(SAMPLE_RATE, duration)
        for line in lines:
            if line.path is not None:
                samples, rate = read_wav(line.path)
                track.place(resample(samples, rate, SAMPLE_RATE), line.start)
        self.loudness = normalise(track)
        self._cues = [Cue(line.start, line.end, line.text, line.speaker) for line in lines]
        width, height = self.size
        self._writer = FilmWriter(
            self.out / "film.mp4.part",
            width=width,
            height=height,
            fps=self.fps,
            sample_rate=SAMPLE_RATE,
        )
        self._writer.set_audio(track)
        self._writer.set_cues(self._cues)

    async def place_audio(self, clip: Path, start: float, seconds: float, engine: str) -> Loudness:
        """Mix a clip's own sound (an engine that spoke the shot's lines) in at ``start``,
        cut to ``seconds`` and normalised on its own to the web loudness target (the part of
        the track before it is already encoded). Call it before the shot is appended.
        Returns what normalisation did to it."""
        from ministudio.errors import MediaError
        from ministudio.media.audio import normalised, read_wav, resample

        def read() -> tuple[np.ndarray, Loudness]:
            samples, rate = read_wav(clip)
            return normalised(
                resample(samples[: round(seconds * rate)], rate, SAMPLE_RATE), SAMPLE_RATE
            )

        try:
            samples, loudness = await anyio.to_thread.run_sync(read, limiter=self._limiter)
        except MediaError as exc:
            raise MediaError(
                f"the clip from {engine} has no usable sound for its spoken lines ({exc}); "
                "set the shot's audio to voiced"
            ) from exc
        assert self._track is not None
        self._track.place(samples, start)
        return loudness

    async def append_ready(self, shots: Sequence[tuple[bool, Path | None]]) -> None:
        """Append, in film order, each finished shot whose predecessors are all in.

        ``shots`` is every shot's (finished, clip); a finished shot without a clip failed
        (give its ``slate`` as its clip to assemble the film anyway).
        """
        assert self._writer is not None
        async with self._lock:
            while self._appended < len(shots) and shots[self._appended][0]:
                clip = shots[self._appended][1]
                if clip is None:
                    return  # a failed shot: the film cannot be finished in this run
                await anyio.to_thread.run_sync(self._writer.append_clip, clip)
                self._thumbs.append(
                    await anyio.to_thread.run_sync(_thumbnail, clip, limiter=self._limiter)
                )
                self._appended += 1

    async def slate(
        self, output: Path, shot_id: str, reason: str, *, frames: int, index: int
    ) -> Path:
        """Write the slate that stands in for a failed shot (``ministudio.media.slate``): ``frames``
        frames at the film's size and rate, encoded to join it by stream copy. Its sound is
        the film's, laid down already: the shot's spoken lines where they were synthesised,
        else silence. ``index`` is the shot's place in the film (neighbouring slates differ)."""
        from ministudio.media.slate import write_slate

        width, height = self.size
        return await anyio.to_thread.run_sync(
            lambda: write_slate(
                output,
                shot_id,
                reason,
                width=width,
                height=height,
                fps=self.fps,
                frames=frames,
                index=index,
            ),
            limiter=self._limiter,
        )

    def abort(self) -> None:
        """Give up: no film, no partial file."""
        if self._writer is not None:
            self._writer.abort()

    def close(self, labels: Sequence[str]) -> None:
        """Finish film.mp4, write film.srt, film.vtt and contact_sheet.png."""
        from ministudio.media.contact_sheet import contact_sheet_of
        from ministudio.media.subtitles import to_srt, to_vtt

        assert self._writer is not None
        os.replace(self._writer.close(), self.out / "film.mp4")
        (self.out / "film.srt").write_text(to_srt(self._cues), encoding="utf-8")
        (self.out / "film.vtt").write_text(to_vtt(self._cues), encoding="utf-8")
        contact_sheet_of(self._thumbs, labels, self.out / "contact_sheet.png")


def _thumbnail(clip: Path) -> bytes:
    """The clip's contact-sheet thumbnail, as PNG. A shot joins the film once its checks
    and frame grabs are done: what their decoders freed then goes back to the system
    (``memory.release``), so a long render holds what it keeps, not every worker thread's
    high-water mark."""
    from ministudio.media.contact_sheet import middle_frame
    from ministudio.media.memory import release

    png = io.BytesIO()
    middle_frame(clip, THUMB_WIDTH).save(png, format="PNG", compress_level=1)
    release()
    return png.getvalue()
