"""`ministudio qc DIR` against the manifest: dropped, repeated and cut frames, on real films."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest
from ministudio.qc.checks.timeline import Expected, check_timeline
from ministudio.qc.film import check_film
from ministudio.run.render import render
from ministudio.run.store import ContentStore

from .conftest import tiny_production

FPS = 24
SHOTS = {"a": "wide", "b": "close-up", "c": "medium"}  # 2 s each: b is frames 48 to 95


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("timeline")
    shots = [
        {"id": k, "action": f"Ann walks ({k})", "size": size, "camera": "pan-right", "duration": 2}
        for k, size in SHOTS.items()
    ]
    production = tiny_production(scenes=[{"id": "walk", "environment": "park", "shots": shots}])
    render(production, base / "out", store=ContentStore(base / "store"))
    return base / "out"


def remux(out: Path, drop: range, pull: int = 0) -> None:
    """Copy the film's packets without the video frames ``drop`` (by frame number), their
    timestamps kept (a gap), or with every later frame's pulled ``pull`` frames earlier (no gap:
    the shot is cut short). No frame is re-encoded."""
    source = out / "film.mp4"
    damaged = out / "damaged.mp4"
    with av.open(str(source)) as inp, av.open(str(damaged), "w", format="mp4") as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in inp.streams}
        video = inp.streams.video[0]
        tick = round(1 / (FPS * video.time_base))  # one frame in the stream's time base
        for packet in inp.demux():
            if packet.dts is None:  # the demuxer's end-of-stream packets
                continue
            stream = streams[packet.stream.index]
            if packet.stream.index == video.index and packet.pts is not None:
                frame = round(packet.pts / tick)
                if frame in drop:
                    continue
                if frame >= drop.stop and pull:
                    packet.pts -= pull * tick
                    packet.dts -= pull * tick
            packet.stream = stream
            dst.mux(packet)
    damaged.replace(source)


def timeline(out: Path) -> dict[str, tuple[bool, str]]:
    return {who: (v.passed, v.reason) for who, v in check_film(out) if v.check == "timeline"}


def damaged(rendered: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(rendered, out)
    return out


def test_the_undamaged_film_passes(rendered: Path) -> None:
    found = timeline(rendered)
    assert found == {
        "a": (True, "48 frames from 0.00 s, as the manifest has it"),
        "b": (True, "48 frames from 2.00 s, as the manifest has it"),
        "c": (True, "48 frames from 4.00 s, as the manifest has it"),
        "film": (True, "144 frames, one every 41.7 ms, as the manifest has it"),
    }


def test_three_frames_dropped_inside_shot_b(rendered: Path, tmp_path: Path) -> None:
    out = damaged(rendered, tmp_path)
    remux(out, range(61, 64))  # 2.54 s to 2.62 s
    found = timeline(out)
    assert found["a"][0] and found["c"][0], found
    assert found["b"] == (False, "3 frames missing at 2.54 s"), found
    assert found["film"] == (
        False,
        "3 frames dropped in 1 gap(s), the first at 2.54 s; 141 frames for the manifest's 144: "
        "3 frames (0.12 s) missing",
    )
    fps = {shot: v.passed for shot, v in check_film(out) if v.check == "fps"}
    failing = {shot for shot, passed in fps.items() if not passed}
    assert failing == {"film"}, "the stream's rate is the film's, not blamed on each shot"


def test_shot_b_cut_twelve_frames_short(rendered: Path, tmp_path: Path) -> None:
    out = damaged(rendered, tmp_path)
    remux(out, range(84, 96), pull=12)  # b's last half second, c pulled back to 3.50 s
    found = timeline(out)
    assert found["a"][0] and found["c"] == (True, "48 frames from 3.50 s, as the manifest has it")
    assert found["b"] == (
        False,
        "shot ends 0.50 s early: 1.50 s from 2.00 s to 3.50 s for the manifest's 2.00 s "
        "(12 frames)",
    ), found
    assert not found["film"][0] and "132 frames for the manifest's 144" in found["film"][1]


def test_the_last_shot_cut_short_and_a_repeated_timestamp() -> None:
    """Pure: timestamps of a 3-shot film whose last shot lost 12 frames at its end, and whose
    first shot shows one frame twice."""
    period = 1 / FPS
    times = np.concatenate([[0.0], np.arange(132) * period])
    changes = np.zeros(times.size)
    changes[[49, 97]] = 0.2  # the cuts (one frame later: the repeated timestamp)
    shots = [Expected(k, 2.0 * i, 48) for i, k in enumerate(SHOTS)]
    found = dict(check_timeline(times, changes, shots, FPS))
    assert found["a"].reason == "1 frame repeated (a timestamp twice) at 0.00 s"
    assert found["b"].passed, found["b"].reason
    assert found["c"].reason == (
        "shot ends 0.50 s early: 1.50 s from 4.00 s to 5.50 s for the manifest's 2.00 s (12 frames)"
    )
    assert found["film"].reason == (
        "1 frame repeated, the first at 0.00 s; 133 frames for the manifest's 144: "
        "11 frames (0.46 s) missing"
    )


# -- a shot that continues the one before: no cut between them --------------------------------

CONTINUED = [  # b continues a: it starts on a's last frame, so no cut (or a faint one) shows
    {"id": "a", "action": "Ann walks", "size": "wide", "camera": "pan-right", "duration": 2},
    {
        "id": "b",
        "action": "Ann walks on",
        "size": "wide",
        "camera": "pan-right",
        "duration": 2,
        "continuity": "continue",
    },
    {"id": "c", "action": "Ann stops", "size": "close-up", "camera": "pan-right", "duration": 2},
]


@pytest.fixture(scope="module")
def continued(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("continued")
    scenes = [{"id": "walk", "environment": "park", "shots": CONTINUED}]
    render(tiny_production(scenes=scenes), base / "out", store=ContentStore(base / "store"))
    return base / "out"


def test_a_shot_cut_short_where_the_next_continues_it_is_blamed(
    continued: Path, tmp_path: Path
) -> None:
    assert all(passed for passed, _ in timeline(continued).values()), timeline(continued)
    out = damaged(continued, tmp_path)
    remux(out, range(36, 48), pull=12)  # a's last half second; b (and c) 12 frames earlier
    found = timeline(out)
    # placed by the cut to b if the picture shows one, else by the jump where a was cut
    assert not found["a"][0] and found["a"][1].startswith(
        "shot ends 0.50 s early: 1.50 s from 0.00 s to 1.50 s for the manifest's 2.00 s (12 frames)"
    ), found
    assert found["b"] == (True, "48 frames from 1.50 s, as the manifest has it"), found
    assert found["c"] == (True, "48 frames from 3.50 s, as the manifest has it"), found


def moving(frames: int, cut: int) -> np.ndarray:
    """Picture changes of a film whose camera moves (0.002 to 0.004 a frame), with a cut at
    frame ``cut``."""
    changes = 0.003 + 0.001 * np.sin(np.arange(frames))
    changes[[0, cut]] = [0.0, 0.2]
    return changes


def continued_timeline(changes: np.ndarray) -> dict[str, tuple[bool, str]]:
    """Three 2 s shots, b continuing a, of a film that lost 12 frames before c."""
    times = np.arange(132) / FPS
    shots = [Expected(k, 2.0 * i, 48) for i, k in enumerate("abc")]
    return {k: (v.passed, v.reason) for k, v in check_timeline(times, changes, shots, FPS)}


def test_frames_lost_at_the_end_of_a_shot_the_next_continues() -> None:
    changes = moving(132, 84)
    changes[36] = 0.03  # a's frames 36-47 cut out: a's frame 35, then b's first
    found = continued_timeline(changes)
    assert found["a"] == (
        False,
        "shot ends 0.50 s early: 1.50 s from 0.00 s to 1.50 s for the manifest's 2.00 s "
        "(12 frames), placed by a jump in the picture at 1.50 s",
    )
    assert found["b"] == (True, "48 frames from 1.50 s, as the manifest has it")
    assert found["c"] == (True, "48 frames from 3.50 s, as the manifest has it")


def test_frames_lost_at_the_start_of_the_continuing_shot() -> None:
    changes = moving(132, 84)
    changes[48] = 0.03  # b's frames 0-11 cut out: a's last frame, then b's 12th
    found = continued_timeline(changes)
    assert found["a"] == (True, "48 frames from 0.00 s, as the manifest has it")
    assert found["b"] == (
        False,
        "shot ends 0.50 s early: 1.50 s from 2.00 s to 3.50 s for the manifest's 2.00 s "
        "(12 frames), placed by a jump in the picture at 2.00 s",
    )


def test_frames_lost_where_no_jump_shows_blame_both_shots() -> None:
    changes = np.zeros(132)  # a still picture: where frames went, nothing shows
    changes[84] = 0.2
    found = continued_timeline(changes)
    both = (
        "a and b together end 0.50 s early: 3.50 s from 0.00 s to 3.50 s for the manifest's "
        "4.00 s (12 frames); the picture shows no cut between them, nor one jump to say which "
        "of them it is"
    )
    assert found["a"] == found["b"] == (False, both)
    assert found["c"] == (True, "48 frames from 3.50 s, as the manifest has it")
