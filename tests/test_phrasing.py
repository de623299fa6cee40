"""Audio first: a shot whose lines outlast its engine's longest clip is cut at speech pauses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec
from ministudio.errors import CapabilityError
from ministudio.jobs import VideoRequest, VideoResult
from ministudio.media.audio import read_wav
from ministudio.plan.phrasing import cuts, pauses
from ministudio.plugins import PluginHost
from ministudio.run.render import render
from ministudio.run.store import ContentStore
from ministudio.spec import Production

from .test_retakes import Fickle

RATE = 16000
LONG_LINE = (
    "We walked along the river, past the mill and the old stone bridge. "
    "Then, when the light was going, we turned for home, slowly, talking all the way."
)


def tone(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32)


def quiet(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), np.float32)


def test_pauses_are_found_between_phrases_not_inside_words_or_at_the_ends() -> None:
    speech = np.concatenate(
        [quiet(0.3), tone(1.0), quiet(0.04), tone(1.0), quiet(0.4), tone(0.8), quiet(0.5)]
    )
    found = pauses(speech, RATE)
    assert found == [pytest.approx(0.3 + 1.0 + 0.04 + 1.0 + 0.2, abs=0.03)]


def test_cuts_fall_on_the_latest_pause_that_fits_else_where_a_clip_must_end() -> None:
    assert cuts(9.0, [2.0, 3.5, 6.0], longest=4.0, shortest=1.0) == [3.5, 6.0]
    assert cuts(9.0, [], longest=4.0, shortest=1.0) == [4.0, 8.0]
    assert cuts(4.0, [2.0], longest=4.0, shortest=1.0) == []
    # never leave a last part shorter than the engine renders
    assert cuts(8.5, [], longest=4.0, shortest=1.0) == [4.0, 7.5]


class Short(Fickle):
    """The test engines, but ``short`` renders at most 4 s."""

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        caps = Capabilities(resolutions=("480p",), max_duration=4.0, first_frame=True)
        return [EngineSpec(id="short", kind="video", capabilities=caps)]

    @hookimpl
    def generate_video(
        self, engine: str, request: VideoRequest, output: Path, context: EngineContext
    ) -> VideoResult:
        return super().generate_video("steady", request, output, context)


def film(**shot: Any) -> Production:
    return Production.model_validate(
        {
            "title": "Long line",
            "format": {"resolution": "480p", "fps": 12},
            "characters": {"ann": {"name": "Ann", "dna": "a woman in a red coat"}},
            "environments": {"bank": {"description": "a river bank"}},
            "scenes": [
                {
                    "id": "walk",
                    "environment": "bank",
                    "shots": [
                        {"id": "open", "action": "the river", "duration": 2},
                        {
                            "id": "talk",
                            "action": "Ann talks as she walks",
                            "dialogue": [{"speaker": "ann", "text": LONG_LINE}],
                            **shot,
                        },
                    ],
                }
            ],
            "routing": {"video": "short"},
        }
    )


def test_a_line_longer_than_a_clip_is_split_across_clips_at_its_pauses(tmp_path: Path) -> None:
    engine = Short(good=lambda request: True)
    host = PluginHost()
    host.register(engine, "short")
    manifest = render(film(), tmp_path / "out", host=host, store=ContentStore(tmp_path / "s"))
    opening, *parts = manifest.shots
    assert len(parts) >= 3 and opening.part_of is None
    assert [p.id for p in parts] == [f"talk.{n}" for n in range(1, len(parts) + 1)]
    assert all(p.part_of == "talk" and p.duration <= 4.0 for p in parts)
    assert [("first frame" in p.conditioning) for p in parts] == [False] + [True] * (len(parts) - 1)
    assert sum(p.frames for p in manifest.shots) / 12 == pytest.approx(manifest.duration)
    (line,) = [line for p in parts for line in p.lines]  # placed once, in the first part
    assert line.text == LONG_LINE
    # every cut is in a pause of the speech: quiet around it
    speech, rate = read_wav(next((tmp_path / "s").rglob("*.wav")))
    level = np.sqrt(np.mean(speech**2))
    for part in parts[1:]:
        at = round((part.start - line.start) * rate)
        around = speech[max(0, at - rate // 50) : at + rate // 50]
        assert np.sqrt(np.mean(around**2)) < level / 10, f"cut at {part.start:.2f} s is mid-word"
    assert all(v.passed for p in parts for v in p.qc if v.check != "seam")


def test_a_shot_given_its_own_duration_is_not_split_but_refused(tmp_path: Path) -> None:
    host = PluginHost()
    host.register(Short(good=lambda request: True), "short")
    with pytest.raises(CapabilityError, match="renders at most 4 s"):
        short_line = [{"speaker": "ann", "text": "Hello."}]
        render(
            film(duration=9, dialogue=short_line),
            tmp_path / "out",
            host=host,
            store=ContentStore(tmp_path / "s"),
        )
