"""A render as an OpenTimelineIO timeline: what ``ministudio export`` writes in each format.

One video track ("V1"), one clip per shot at its frame, each clip's media the shot's clip as
exported; the spoken lines on audio tracks ("Dialogue", "Narration"), one clip per line at its
place (a second track of a kind when lines overlap); the subtitles as markers on the
timeline; each failed check, and each slate, a red marker on its shot's clip; each clip's
MiniStudio record under ``metadata["ministudio"]``. The timeline starts at 01:00:00:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opentimelineio as otio  # type: ignore[import-untyped]

from ministudio.errors import MinistudioError
from ministudio.run.manifest import LineRecord, Manifest, ShotRecord

START_HOURS = 1  # the timeline's first frame is 01:00:00:00, the editors' convention
NAMESPACE = "ministudio"  # the metadata key of everything MiniStudio adds
SUBTITLE_COLOR = otio.schema.MarkerColor.YELLOW
FAILED_COLOR = otio.schema.MarkerColor.RED


@dataclass(frozen=True)
class Spoken:
    """One spoken line as exported: its record, its subtitle and its sound's file."""

    line: LineRecord
    shot: str  # the id of the shot it is spoken in
    subtitle: str  # as film.srt shows it ("Lily: Hello.")
    media: Path  # its stretch of the film's soundtrack (.wav)


def frame(seconds: float, fps: int) -> int:
    """The film frame at ``seconds``."""
    return round(seconds * fps)


def line_frames(line: LineRecord, fps: int) -> tuple[int, int]:
    """The frames a line's clip spans on the timeline: [first, end), at least one."""
    first = frame(line.start, fps)
    return first, max(frame(line.end, fps), first + 1)


def _range(first: int, count: int, fps: int) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(
        otio.opentime.RationalTime(first, fps), otio.opentime.RationalTime(count, fps)
    )


def _reference(path: Path, frames: int, fps: int) -> otio.schema.ExternalReference:
    """A reference to a media file by absolute file:// URL (``export.write`` makes it a plain
    path in a .otio, as Resolve writes them)."""
    return otio.schema.ExternalReference(
        target_url=path.resolve().as_uri(), available_range=_range(0, frames, fps)
    )


def take_number(shot: ShotRecord) -> int:
    """The kept take, counting from 1 (1 when the shot was made once)."""
    kept = [n for n, take in enumerate(shot.takes, 1) if take.kept]
    return kept[0] if kept else 1


def shot_metadata(shot: ShotRecord) -> dict[str, Any]:
    """What an editor wants to know about a shot's clip: how it was made, at what cost."""
    failed = [f"{v.check}: {v.reason}" for v in shot.qc if not v.passed]
    return {
        "shot": shot.id,
        "scene": shot.scene,
        "prompt": shot.prompt,
        "engine": shot.engine,
        "model": shot.model,
        "seed": shot.seed,
        "engine_job_id": shot.engine_job_id,
        "job_key": shot.job_key,
        "cost": shot.cost,
        "take": take_number(shot),
        "takes": max(len(shot.takes), 1),
        "clip": shot.clip,
        "slate": shot.slate,
        "failed_checks": failed,
    }


def _shot_clip(shot: ShotRecord, media: Path, fps: int) -> otio.schema.Clip:
    clip = otio.schema.Clip(
        name=shot.id,
        media_reference=_reference(media, shot.frames, fps),
        source_range=_range(0, shot.frames, fps),
        metadata={NAMESPACE: shot_metadata(shot)},
    )
    whole = _range(0, shot.frames, fps)
    if shot.slate:  # the film shows a slate here: the shot failed
        clip.markers.append(
            otio.schema.Marker(name=f"slate: {shot.slate}", marked_range=whole, color=FAILED_COLOR)
        )
    for verdict in shot.qc:
        if not verdict.passed:
            clip.markers.append(
                otio.schema.Marker(
                    name=f"{verdict.check} failed: {verdict.reason}",
                    marked_range=whole,
                    color=FAILED_COLOR,
                    metadata={NAMESPACE: {"check": verdict.check, "score": verdict.score}},
                )
            )
    return clip


def _place(track: otio.schema.Track, item: otio.core.Item, first: int, fps: int) -> None:
    """Append ``item`` to ``track`` so that it starts at frame ``first`` (a gap before it)."""
    end = track.duration().to_frames() if len(track) else 0
    if first < end:
        raise MinistudioError(f"{item.name} starts at frame {first}, inside what comes before it")
    if first > end:
        track.append(otio.schema.Gap(source_range=_range(0, first - end, fps)))
    track.append(item)


def video_track(manifest: Manifest, media: list[Path]) -> otio.schema.Track:
    """One clip per shot at its frame, ``media[n]`` the file of the n-th shot."""
    fps = manifest.fps
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for shot, path in zip(manifest.shots, media, strict=True):
        _place(track, _shot_clip(shot, path, fps), frame(shot.start, fps), fps)
    return track


def _line_clip(n: int, spoken: Spoken, fps: int) -> otio.schema.Clip:
    line = spoken.line
    first, end = line_frames(line, fps)
    return otio.schema.Clip(
        name=f"line-{n:03d} {line.speaker}",
        media_reference=_reference(spoken.media, end - first, fps),
        source_range=_range(0, end - first, fps),
        metadata={
            NAMESPACE: {
                "line": n,
                "shot": spoken.shot,
                "speaker": line.speaker,
                "text": line.text,
                "emotion": line.emotion,
                "engine": line.engine,
                "cost": line.cost,
                "start": line.start,
                "end": line.end,
            }
        },
    )


def audio_tracks(spoken: list[Spoken], fps: int) -> list[otio.schema.Track]:
    """Dialogue and narration tracks, one clip per line at its place; a line that overlaps
    the one before it on its track goes on a further track of its kind."""
    from ministudio.spec import NARRATOR

    tracks: dict[str, list[otio.schema.Track]] = {"Dialogue": [], "Narration": []}
    for n, each in enumerate(spoken, 1):
        kind = "Narration" if each.line.speaker == NARRATOR else "Dialogue"
        first = line_frames(each.line, fps)[0]
        free = [t for t in tracks[kind] if t.duration().to_frames() <= first]
        if not free:
            name = kind if not tracks[kind] else f"{kind} {len(tracks[kind]) + 1}"
            free = [otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio)]
            tracks[kind] += free
        _place(free[0], _line_clip(n, each, fps), first, fps)
    return [*tracks["Dialogue"], *tracks["Narration"]]


def subtitle_markers(spoken: list[Spoken], fps: int) -> list[otio.schema.Marker]:
    """One marker per subtitle, over its line's frames (timeline time, from frame 0)."""
    markers = []
    for each in spoken:
        first, end = line_frames(each.line, fps)
        markers.append(
            otio.schema.Marker(
                name=each.subtitle,
                marked_range=_range(first, end - first, fps),
                color=SUBTITLE_COLOR,
                metadata={NAMESPACE: {"subtitle": True, "shot": each.shot}},
            )
        )
    return markers


def build_timeline(
    manifest: Manifest, shot_media: list[Path], spoken: list[Spoken]
) -> otio.schema.Timeline:
    """The render as a timeline at the film's fps, starting at 01:00:00:00."""
    fps = manifest.fps
    timeline = otio.schema.Timeline(
        name=manifest.title,
        global_start_time=otio.opentime.RationalTime(START_HOURS * 3600 * fps, fps),
        metadata={
            NAMESPACE: {
                "title": manifest.title,
                "ministudio_version": manifest.ministudio_version,
                "production_hash": manifest.production_hash,
                "fps": fps,
                "width": manifest.width,
                "height": manifest.height,
                "cost": manifest.cost,
            }
        },
    )
    timeline.tracks.append(video_track(manifest, shot_media))
    timeline.tracks.extend(audio_tracks(spoken, fps))
    timeline.tracks.markers.extend(subtitle_markers(spoken, fps))
    return timeline
