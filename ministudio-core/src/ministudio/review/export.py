"""``ministudio export DIR --to otio|otioz|fcpxml|edl``: a render as a timeline an editor opens.

The media goes to ``DIR/export/media/``: each shot's clip as it enters the film (from the
content store, else cut to the frame out of film.mp4: a slate's stretch always is), and each
spoken line's stretch of the film's soundtrack as a WAV (the voices are mixed into the film's
one soundtrack; there is no music or effects under them). The timeline (``review.timeline``)
references them by absolute path (.otio) or file:// URL (FCP 7 XML, EDL); ``otioz`` bundles
them beside the timeline, linked relatively.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import wave
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio  # type: ignore[import-untyped]

from ministudio.errors import MinistudioError
from ministudio.review.timeline import Spoken, build_timeline, frame, line_frames
from ministudio.run.manifest import Manifest, ShotRecord

# --to name -> (OTIO adapter, file name in DIR/export)
FORMATS = {
    "otio": ("otio_json", "film.otio"),
    "otioz": ("otioz", "film.otioz"),
    "fcpxml": ("fcp_xml", "film.xml"),  # Final Cut Pro 7 XML (xmeml), not FCPX's .fcpxml
    "edl": ("cmx_3600", "film.edl"),
}
REEL_LENGTH = 8  # CMX 3600 reel names: at most 8 characters


class ExportError(MinistudioError):
    """A render that cannot be exported: the message says what to do."""


def export_film(folder: Path, to: str, output: Path | None = None) -> Path:
    """Export the render in ``folder`` as ``to`` (a key of ``FORMATS``) to ``output``
    (default ``folder/export/<file>``), its media in ``folder/export/media``; the path."""
    if to not in FORMATS:
        raise ExportError(f"unknown export format {to!r}: use one of {', '.join(FORMATS)}")
    manifest = Manifest.of_folder(folder)
    if not manifest.shots:
        raise ExportError(f"{folder} has no shots to export: render the film first")
    adapter, name = FORMATS[to]
    target = output or folder / "export" / name
    shots, spoken = export_media(manifest, folder, folder / "export" / "media")
    timeline = build_timeline(manifest, shots, spoken)
    target.parent.mkdir(parents=True, exist_ok=True)
    write(timeline, adapter, target, manifest.fps)
    return target


def export_media(manifest: Manifest, folder: Path, media: Path) -> tuple[list[Path], list[Spoken]]:
    """Each shot's clip and each line's sound in ``media``, made afresh beside it and put in
    its place once all are made (an export that fails leaves the last one's media alone)."""
    staging = media.with_name(media.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        shots = shot_media(manifest, folder, staging)
        spoken = spoken_media(manifest, folder, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(media, ignore_errors=True)  # nothing left from an export of an older render
    staging.rename(media)
    return [media / p.name for p in shots], [
        dataclasses.replace(s, media=media / s.media.name) for s in spoken
    ]


def write(timeline: otio.schema.Timeline, adapter: str, target: Path, fps: int) -> None:
    """Write ``timeline`` with ``adapter`` (an EDL: its picture track, see ``edl_timeline``)."""
    target.unlink(missing_ok=True)  # the otioz adapter will not overwrite
    if adapter == "cmx_3600":
        text = otio.adapters.write_to_string(
            edl_timeline(timeline), adapter, rate=fps, reelname_len=REEL_LENGTH
        )
        target.write_text(text, encoding="utf-8")
    elif adapter == "otio_json":
        otio.adapters.write_to_file(with_paths(timeline), str(target), adapter_name=adapter)
    else:  # otioz links its copies relatively; FCP 7 XML's pathurl is a file:// URL
        otio.adapters.write_to_file(timeline, str(target), adapter_name=adapter)


def with_paths(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """``timeline`` with each media's file:// URL as a plain absolute path: what Resolve
    writes in its .otio and reads (it has been reported not to find media by file:// URL)."""
    copy = timeline.clone()
    for clip in copy.find_clips():
        reference = clip.media_reference
        reference.target_url = otio.url_utils.filepath_from_url(reference.target_url)
    return copy


def edl_timeline(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """What a CMX 3600 EDL can hold: the video track alone (the adapter writes one track),
    each clip named as its file, with a reel name of its own (``SH001``...), record times
    from 01:00:00:00 (the track is offset as the EDL reader offsets it); its markers (failed
    checks, slates) as LOC comments; no metadata, no audio, no subtitles."""
    video = timeline.video_tracks()[0].clone()
    start = timeline.global_start_time or otio.opentime.RationalTime(0, video.duration().rate)
    video.source_range = otio.opentime.TimeRange(-start, video.duration())
    shots = [c for c in video if isinstance(c, otio.schema.Clip)]
    for n, clip in enumerate(shots, 1):
        clip.metadata.clear()
        # the file's name as the clip's: what Resolve and Premiere match media by
        clip.name = Path(clip.media_reference.target_url).name
        clip.metadata["cmx_3600"] = {"reel": f"SH{n:03d}"[:REEL_LENGTH]}
    edl = otio.schema.Timeline(name=timeline.name)
    edl.tracks.append(video)
    return edl


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "shot"


def shot_media(manifest: Manifest, folder: Path, media: Path) -> list[Path]:
    """Each shot's clip as it enters the film, in ``media``: copied from the store, else cut
    out of film.mp4 (a slate, and every shot whose clip the store no longer has)."""
    from ministudio.run.store import ContentStore

    store = ContentStore(Path(manifest.store))
    paths, cuts = [], {}
    for n, shot in enumerate(manifest.shots, 1):
        path = media / f"shot-{n:03d}-{_safe(shot.id)}.mp4"
        stored = store.get(shot.clip, ".mp4") if shot.clip and not shot.slate else None
        if stored is not None:
            shutil.copyfile(stored, path)
        else:
            cuts[path] = shot
        paths.append(path)
    if cuts:
        ids = ", ".join(s.id for s in cuts.values())
        missing = f"the store ({manifest.store}) has not got the clips of {ids}"
        cut_shots(_film(manifest, folder, missing), cuts, manifest.fps)
    return paths


def _film(manifest: Manifest, folder: Path, needed: str) -> Path:
    """The render's film, which ``needed`` (what must be cut out of it) is cut from."""
    film = folder / (manifest.film or "film.mp4")
    if manifest.film is None or not film.is_file():
        raise ExportError(
            f"{needed}, and {folder} has no film to cut them from: render the production "
            f"again into {folder} (it reuses what the store still has), then export"
        )
    return film


def cut_shots(film: Path, cuts: dict[Path, ShotRecord], fps: int) -> None:
    """Write each shot's frames of ``film`` (the frames [start, start + frames) of the film's
    timeline) to its path, in one pass over the film."""
    from ministudio.media.encode import VideoWriter

    spans = {path: (frame(s.start, fps), s.frames) for path, s in cuts.items()}
    with av.open(str(film)) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        writers = {path: VideoWriter(path, width, height, fps) for path in spans}
        last = max(first + count for first, count in spans.values())
        try:
            for index, picture in enumerate(container.decode(stream)):
                if index >= last:
                    break
                for path, (first, count) in spans.items():
                    if first <= index < first + count:
                        writers[path].write_frame(picture)
        finally:
            for writer in writers.values():
                writer.close()
    short = [p.name for p, w in writers.items() if w.frames != spans[p][1]]
    if short:
        raise ExportError(
            f"{film} is shorter than its manifest says ({', '.join(short)}): render again"
        )


def spoken_media(manifest: Manifest, folder: Path, media: Path) -> list[Spoken]:
    """Each spoken line (in the order of the film's subtitles) with its subtitle and its
    stretch of the film's soundtrack, on the film's frames, as ``media/line-<n>.wav``."""
    found = sorted(
        ((line, shot.id) for shot in manifest.shots for line in shot.lines),
        key=lambda each: (each[0].start, each[0].end),
    )
    if not found:
        return []
    titles = _subtitles(folder / "film.srt")
    if len(titles) != len(found):  # no film.srt, or one edited by hand: the manifest's words
        titles = [f"{line.speaker}: {line.text}" for line, _ in found]
    fps = manifest.fps
    sound, rate = soundtrack(_film(manifest, folder, "the lines' sound is only in the film"))
    spoken = []
    for n, ((line, shot), title) in enumerate(zip(found, titles, strict=True), 1):
        first, end = line_frames(line, fps)
        span = np.zeros(round((end - first) * rate / fps), np.int16)
        part = sound[round(first * rate / fps) :][: len(span)]
        span[: len(part)] = part
        path = media / f"line-{n:03d}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(span.tobytes())
        spoken.append(Spoken(line, shot, title, path))
    return spoken


def soundtrack(film: Path) -> tuple[np.ndarray, int]:
    """The film's soundtrack, mono 16-bit, each sample at its time from the film's start
    (silence where the film has none)."""
    with av.open(str(film)) as container:
        if not container.streams.audio:
            raise ExportError(f"{film} has no soundtrack: render the production again")
        stream = container.streams.audio[0]
        rate = stream.rate
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        parts: list[tuple[int, np.ndarray]] = []
        for decoded in [*container.decode(stream), None]:
            for out in resampler.resample(decoded):
                at = round(float(out.time or 0.0) * rate)
                samples = out.to_ndarray().reshape(-1)
                parts.append((max(at, 0), samples[max(-at, 0) :]))  # none before the start
    sound = np.zeros(max((at + len(p) for at, p in parts), default=0), np.int16)
    for at, part in parts:
        sound[at : at + len(part)] = part
    return sound, rate


def _subtitles(srt: Path) -> list[str]:
    """The text of each cue of an SRT file ([] when there is none)."""
    try:
        text = srt.read_text(encoding="utf-8-sig")
    except OSError:
        return []
    cues = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        rows = block.split("\n")
        if len(rows) >= 2 and "-->" in rows[1]:
            cues.append(" ".join(r.strip() for r in rows[2:]))
    return cues
