"""The letterbox check: on clips made here, and in a render, where a failing verdict sends
the shot down the retake ladder to another engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import ministudio_example_letterbox as letterbox
import numpy as np
import pytest
from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec, Judging
from ministudio.jobs import VideoRequest, VideoResult
from ministudio.plugins import PluginHost


def clip(path: Path, bars: tuple[int, int] = (0, 0), night: bool = False) -> Path:
    """A moving 2 s clip at 320 x 180, with black bars (rows, columns) at its edges."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for i in range(48):
            picture = np.full((180, 320, 3), 20 if night else 120, np.uint8)
            picture[60:100, 5 * i : 5 * i + 40] = 230  # a moving block (a moon at night)
            rows, columns = bars
            if rows:
                picture[:rows], picture[-rows:] = 0, 0
            if columns:
                picture[:, :columns], picture[:, -columns:] = 0, 0
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def test_a_clean_clip_passes(tmp_path: Path) -> None:
    verdict = letterbox.qc_check(clip(tmp_path / "c.mp4"), judge=None)
    assert verdict is not None and verdict.passed and verdict.check == "letterbox"


@pytest.mark.parametrize(("bars", "where"), [((24, 0), "top and bottom"), ((0, 40), "left")])
def test_bars_fail_naming_where_they_are(tmp_path: Path, bars: tuple[int, int], where: str) -> None:
    verdict = letterbox.qc_check(clip(tmp_path / "c.mp4", bars), judge=None)
    assert verdict is not None and not verdict.passed
    assert where in verdict.reason and "route the shot elsewhere" in verdict.reason


def test_a_dark_night_with_a_moon_is_no_letterbox(tmp_path: Path) -> None:
    verdict = letterbox.qc_check(clip(tmp_path / "c.mp4", night=True), judge=None)
    assert verdict is not None and verdict.passed


def test_the_check_stays_out_of_a_judges_call(tmp_path: Path) -> None:
    judging = Judging("gemini-judge", EngineContext("gemini-judge", tmp_path))
    assert letterbox.qc_check(clip(tmp_path / "c.mp4", (24, 0)), judge=judging) is None


class Boxed:
    """A careless engine: it pads a picture with black bars instead of filling the frame."""

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        caps = Capabilities(resolutions=("360p", "720p"), concurrency=2)
        return [EngineSpec(id="boxed", kind="video", capabilities=caps)]

    @hookimpl
    def generate_video(self, request: VideoRequest, output: Path) -> VideoResult:
        with av.open(str(output), mode="w") as container:
            stream = container.add_stream("libx264", rate=request.fps)
            stream.width, stream.height, stream.pix_fmt = request.width, request.height, "yuv420p"
            bar = request.height // 6
            for i in range(round(request.duration * request.fps)):
                picture = np.zeros((request.height, request.width, 3), np.uint8)
                picture[bar:-bar] = 110
                picture[bar + 10 : bar + 40, 4 * i : 4 * i + 30] = 240
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        return VideoResult(path=output, model="boxed-1")


def test_in_a_render_a_boxed_shot_is_retaken_on_another_engine(tmp_path: Path) -> None:
    from ministudio.engines.animatic import plugin as animatic
    from ministudio.qc import builtin as qc
    from ministudio.run.render import render
    from ministudio.run.store import ContentStore
    from ministudio.spec import Production

    host = PluginHost(discover=False)
    for plugin, name in (
        (animatic, "animatic"),
        (Boxed(), "boxed"),
        (qc, "builtin-qc"),
        (letterbox, "letterbox"),
    ):
        host.register(plugin, name)
    film: dict[str, Any] = {
        "title": "Boxed",
        "format": {"aspect_ratio": "16:9", "resolution": "360p", "fps": 24},
        "environments": {"room": {"description": "a room"}},
        "scenes": [
            {
                "id": "one",
                "environment": "room",
                "shots": [{"action": "a cat walks by", "camera": "pan-right", "duration": 1.5}],
            }
        ],
        "routing": {"video": "boxed", "fallbacks": {"boxed": ["animatic"]}},
        "qc": {"retakes": 1, "ladder": ["engine"]},
    }
    manifest = render(
        Production.model_validate(film),
        tmp_path / "out",
        host=host,
        store=ContentStore(tmp_path / "store"),
    )
    first, retake = manifest.shots[0].takes
    verdicts = {v.check: v for v in first.qc}
    assert first.engine == "boxed" and not verdicts["letterbox"].passed
    assert retake.engine == "animatic" and retake.kept
    assert [v.passed for v in manifest.shots[0].qc if v.check == "letterbox"] == [True]
