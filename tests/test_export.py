"""``ministudio export``: every format read back with OpenTimelineIO puts each clip at its
frame, each line at its place, the markers and (OTIO) the metadata where they belong."""

from __future__ import annotations

import json
import re
import shutil
import wave
import zipfile
from pathlib import Path
from typing import Any

import av
import numpy as np
import opentimelineio as otio
import pytest
from click.testing import CliRunner
from ministudio import hookimpl
from ministudio.cli import cli
from ministudio.cli.exporting import FORMATS as CLI_FORMATS
from ministudio.engines import Capabilities, EngineSpec
from ministudio.jobs import VideoRequest, VideoResult
from ministudio.plugins import PluginHost, PluginInfo
from ministudio.review.export import FORMATS, ExportError, export_film
from ministudio.review.timeline import line_frames
from ministudio.run.manifest import Manifest
from ministudio.run.render import RenderError, render
from ministudio.run.store import ContentStore

from .conftest import SHOWCASES, tiny_production

HOUR = 3600
# the tests of the small failing film share a worker, which renders it once
FAILING = pytest.mark.xdist_group("export-failing")


def place(item: Any) -> tuple[int, int, int]:
    """An item's record frame on its track, its source in and its length, in frames."""
    return (
        item.range_in_parent().start_time.to_frames(),
        item.source_range.start_time.to_frames(),
        item.source_range.duration.to_frames(),
    )


def shot_places(manifest: Manifest) -> list[tuple[int, int, int]]:
    return [(round(s.start * manifest.fps), 0, s.frames) for s in manifest.shots]


def line_places(manifest: Manifest) -> list[tuple[int, int, int]]:
    lines = sorted((line for s in manifest.shots for line in s.lines), key=lambda x: x.start)
    spans = [line_frames(line, manifest.fps) for line in lines]
    return [(first, 0, end - first) for first, end in spans]


def clips(track: Any) -> list[Any]:
    return [c for c in track if isinstance(c, otio.schema.Clip)]


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def export_all(folder: Path, fps: int) -> dict[str, Any]:
    """Every format exported, then read back with OTIO (an EDL at the film's rate: CMX 3600
    does not say it)."""
    found = {}
    for to in FORMATS:
        path = export_film(folder, to)
        assert path == folder / "export" / FORMATS[to][1]
        rate = {"rate": fps} if to == "edl" else {}
        found[to] = otio.adapters.read_from_file(str(path), **rate)
    return found


def check_places(timeline: Any, manifest: Manifest, to: str) -> None:
    """Each shot's clip at its frame, exact; each line's clip at its place (not in an EDL)."""
    video = timeline.video_tracks()
    assert len(video) == 1, to
    assert [place(c) for c in clips(video[0])] == shot_places(manifest), to
    if to == "edl":  # the picture cut alone, record times from 01:00:00:00
        assert timeline.tracks[0].source_range.start_time.to_frames() == -HOUR * manifest.fps
        return
    start = timeline.global_start_time
    assert (start.to_frames(), start.rate) == (HOUR * manifest.fps, manifest.fps), to
    spoken = sorted(
        (place(c) for track in timeline.audio_tracks() for c in clips(track)),
        key=lambda p: p[0],
    )
    assert spoken == line_places(manifest), to


def media_path(clip: Any, base: Path) -> Path:
    """The file a clip's media reference names: a file:// URL, an absolute path, or a path
    relative to ``base``."""
    url = clip.media_reference.target_url
    return base / otio.url_utils.filepath_from_url(url)  # base / an absolute path: the path


@pytest.mark.parametrize("name", SHOWCASES)
def test_each_format_round_trips_every_clip_at_its_frame(name: str, showcase, tmp_path: Path):
    film = showcase(name)
    folder = tmp_path / "out"
    shutil.copytree(film.out, folder)
    manifest = film.manifest
    found = export_all(folder, manifest.fps)
    for to, timeline in found.items():
        check_places(timeline, manifest, to)

    # media: each shot's clip as it entered the film (from the store), each line's sound
    media = folder / "export" / "media"
    timeline = found["otio"]
    shots = clips(timeline.video_tracks()[0])
    for shot, clip in zip(manifest.shots, shots, strict=True):
        path = media_path(clip, folder)
        assert (
            path.parent == media
            and path.read_bytes() == film.store.get(shot.clip, ".mp4").read_bytes()
        )
        assert clip.media_reference.available_range.duration.to_frames() == shot.frames
    assert frame_count(media_path(shots[0], folder)) == manifest.shots[0].frames
    for track in timeline.audio_tracks():
        for clip in clips(track):
            with wave.open(str(media_path(clip, folder))) as sound:
                seconds = sound.getnframes() / sound.getframerate()
                voice = np.frombuffer(sound.readframes(sound.getnframes()), np.int16)
            assert seconds * manifest.fps == pytest.approx(clip.source_range.duration.value)
            assert np.abs(voice).max() > 1000  # the line is heard in it

    # the .otio names each file by its absolute path (as Resolve does), the FCP 7 XML and the
    # EDL by file:// URL
    paths = [media_path(c, folder) for c in shots]
    assert all(c.media_reference.target_url == str(p) for c, p in zip(shots, paths, strict=True))
    for to in ("fcpxml", "edl"):
        urls = [c.media_reference.target_url for c in clips(found[to].video_tracks()[0])]
        assert urls == [p.as_uri() for p in paths]

    # metadata: each shot's record under "ministudio" (OTIO, OTIOZ)
    for to in ("otio", "otioz"):
        for shot, clip in zip(manifest.shots, clips(found[to].video_tracks()[0]), strict=True):
            meta = clip.metadata["ministudio"]
            assert (meta["prompt"], meta["engine"], meta["model"]) == (
                shot.prompt,
                shot.engine,
                shot.model,
            )
            assert (meta["seed"], meta["engine_job_id"], meta["cost"], meta["take"]) == (
                shot.seed,
                shot.engine_job_id,
                shot.cost,
                1,
            )

    # subtitles: one marker per line, as film.srt words it, where the film shows it
    cues = re.findall(r"-->.*\n(.+)", (folder / "film.srt").read_text(encoding="utf-8"))
    for to in ("otio", "otioz", "fcpxml"):
        markers = found[to].tracks.markers
        assert [m.name for m in markers] == cues, to
        assert [
            (m.marked_range.start_time.to_frames(), 0, m.marked_range.duration.to_frames())
            for m in markers
        ] == line_places(manifest)

    # otioz: the media travels inside it, referenced relatively
    with zipfile.ZipFile(folder / "export" / "film.otioz") as bundle:
        inside = set(bundle.namelist())
    bundled = found["otioz"]
    urls = [c.media_reference.target_url for c in bundled.find_clips()]
    assert urls and all(u.startswith("media/") and u in inside for u in urls)


class Mixed:
    """A test engine: the shot 'hello' comes out black (it fails the black check), the shot
    'reply' crashes (the film shows a slate in its place), the shot 'bye' is a pattern that
    moves a lot from frame to frame (a clip one frame off would not match)."""

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        return [
            EngineSpec(id="mixed", kind="video", capabilities=Capabilities(resolutions=("480p",)))
        ]

    @hookimpl
    def generate_video(self, engine: str, request: VideoRequest, output: Path, context):
        if request.shot.shot_id == "reply":
            raise RuntimeError("the engine fell over")
        from ministudio.media.encode import VideoWriter

        width, height = request.width, request.height
        ramp = np.arange(width, dtype=np.int64)[None, :, None] * np.ones((height, 1, 3), np.int64)
        with VideoWriter(output, width, height, request.fps) as writer:
            for n in range(round(request.duration * request.fps)):
                moving = ((ramp + 37 * n) % 256).astype(np.uint8)
                writer.write(moving if request.shot.shot_id == "bye" else 0 * moving)
        return VideoResult(path=output)


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """A 30 fps film whose first shot fails a check and whose second is a slate."""
    base = tmp_path_factory.mktemp("failing")
    host = PluginHost()
    host.register(Mixed(), PluginInfo("mixed", "ministudio-mixed", "0.1", "mixed_plugin"))
    shots = [
        {"id": "hello", "action": "Ann waves", "dialogue": [{"speaker": "ann", "text": "Hi."}]},
        {"id": "reply", "action": "Bo answers", "dialogue": [{"speaker": "bo", "text": "Hi!"}]},
        {"id": "bye", "action": "Ann leaves", "narration": "And off she went."},
    ]
    production = tiny_production(
        format={"aspect_ratio": "16:9", "resolution": "480p", "fps": 30},
        routing={"video": "mixed"},
        scenes=[{"id": "one", "environment": "park", "shots": shots}],
    )
    with pytest.raises(RenderError):
        render(production, base / "out", host=host, store=ContentStore(base / "store"))
    return base / "out", Manifest.of_folder(base / "out")


@FAILING
def test_failed_checks_and_slates_are_red_markers_on_their_clips(failing, tmp_path: Path):
    source, manifest = failing
    folder = tmp_path / "out"
    shutil.copytree(source, folder)
    hello, reply, _ = manifest.shots
    assert any(not v.passed and v.check == "black" for v in hello.qc) and reply.slate
    found = export_all(folder, manifest.fps)
    for to, timeline in found.items():
        check_places(timeline, manifest, to)
        for shot, clip in zip(manifest.shots, clips(timeline.video_tracks()[0]), strict=True):
            failed = [f"{v.check} failed: {v.reason}" for v in shot.qc if not v.passed]
            expected = [f"slate: {shot.slate}"] * bool(shot.slate) + failed
            # an EDL's are in capitals; FCP 7 XML markers have no colour
            assert [m.name.lower() for m in clip.markers] == [e.lower() for e in expected]
            assert all(m.color == "RED" for m in clip.markers) or to == "fcpxml"
        first = clips(timeline.video_tracks()[0])[0]
        assert any(m.name.lower().startswith("black failed: ") for m in first.markers), to

    # the slate's clip: cut out of film.mp4, its frames exactly
    slate = clips(found["otio"].video_tracks()[0])[1]
    assert frame_count(media_path(slate, folder)) == reply.frames
    # the EDL's timecode at 30 fps: each event recorded at 01:00:00:00 + its start
    edl = (folder / "export" / "film.edl").read_text(encoding="utf-8")
    events = re.findall(r"^\d{3}  (\S+) +V +C +(\S+) (\S+) (\S+) (\S+)$", edl, re.M)
    expected = [
        otio.opentime.to_timecode(otio.opentime.RationalTime(HOUR * 30 + first, 30), 30)
        for first, _, _ in shot_places(manifest)
    ]
    assert [e[3] for e in events] == expected
    assert [e[0] for e in events] == ["SH001", "SH002", "SH003"]
    assert "* LOC: 00:00:00:00 RED     SLATE: " in edl


@FAILING
def test_without_the_store_each_clip_is_cut_out_of_the_film(failing, tmp_path: Path):
    source, manifest = failing
    folder = tmp_path / "out"
    shutil.copytree(source, folder)
    data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    data["store"] = str(tmp_path / "gone")  # the store was cleaned
    (folder / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    timeline = otio.adapters.read_from_file(str(export_film(folder, "otio")))
    check_places(timeline, manifest, "otio")
    bye = media_path(clips(timeline.video_tracks()[0])[2], folder)
    stored = ContentStore(Path(manifest.store)).get(manifest.shots[2].clip, ".mp4")
    with av.open(str(bye)) as cut, av.open(str(stored)) as kept:
        pairs = zip(cut.decode(video=0), kept.decode(video=0), strict=True)
        worst = max(
            np.abs(a.to_ndarray(format="rgb24") - b.to_ndarray(format="rgb24").astype(int)).mean()
            for a, b in pairs
        )
    assert worst < 3  # the same frames, encoded once more

    (folder / "film.mp4").unlink()  # and the film is gone too: nothing to cut from
    with pytest.raises(ExportError, match="has not got the clips of hello, reply, bye, and "):
        export_film(folder, "otio")
    assert bye.is_file() and sorted(p.name for p in (folder / "export").iterdir()) == [
        "film.otio",
        "media",
    ]  # the last export is left as it was


@FAILING
def test_the_command_writes_where_it_is_told_and_says_what_is_wrong(failing, tmp_path: Path):
    source, _ = failing
    folder = tmp_path / "out"
    shutil.copytree(source, folder)
    assert tuple(FORMATS) == CLI_FORMATS
    runner = CliRunner()
    done = runner.invoke(cli, ["export", str(folder), "--to", "edl", "-o", str(tmp_path / "x.edl")])
    assert done.exit_code == 0 and "x.edl" in done.output
    assert (tmp_path / "x.edl").read_text(encoding="utf-8").startswith("TITLE: Tiny")
    unknown = runner.invoke(cli, ["export", str(folder), "--to", "aaf"])
    assert unknown.exit_code == 2 and "'otio', 'otioz', 'fcpxml', 'edl'" in unknown.output
    with pytest.raises(ExportError, match="unknown export format 'aaf'"):
        export_film(folder, "aaf")
    missing = runner.invoke(cli, ["export", str(tmp_path / "nothing")])
    assert "is missing or unreadable" in str(missing.exception)
