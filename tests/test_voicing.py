"""The shot's voice (issue 15, with issue 18's request input): engines that declare
``reference_audio`` get the lines spoken on screen as one WAV on the shot's timeline, never a
narrator's; the animatic opens its mouths with that voice; and ``ministudio qc`` measures the
finished film's sync against those mouths."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec
from ministudio.engines.animatic.render import render_clip
from ministudio.errors import MinistudioError
from ministudio.jobs import LineBrief, VideoRequest, VideoResult
from ministudio.media.audio import read_wav
from ministudio.plugins import PluginHost
from ministudio.qc.checks import synthetic as syn
from ministudio.qc.film import check_film
from ministudio.run.render import render

from .conftest import tiny_production
from .test_animatic import ANN, frames, grey_room, request


class Recording:
    """Two engines that draw the animatic and keep every request: ``lips`` animates faces to
    the voice (``reference_audio``), ``deaf`` does not."""

    def __init__(self) -> None:
        self.requests: dict[str, list[VideoRequest]] = {"lips": [], "deaf": []}
        self.voices: dict[str, tuple[np.ndarray, int]] = {}

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        return [
            EngineSpec(
                id=name,
                kind="video",
                capabilities=Capabilities(resolutions=("480p",), reference_audio=name == "lips"),
            )
            for name in ("lips", "deaf")
        ]

    @hookimpl
    def generate_video(
        self, engine: str, request: VideoRequest, output: Path, context: EngineContext
    ) -> VideoResult | None:
        if engine not in self.requests:
            return None
        self.requests[engine].append(request)
        if request.voice is not None:
            self.voices[request.shot.shot_id] = read_wav(request.voice)
        render_clip(request, output)
        return VideoResult(path=output)


def narrated(**routing: object) -> object:
    """Two shots: in ``hello`` Ann (in frame) speaks, then a narrator; in ``reply`` only the
    narrator speaks over Bo."""
    production = tiny_production(routing=routing).model_dump()
    hello, reply = production["scenes"][0]["shots"]
    hello["dialogue"] = [{"speaker": "ann", "text": "Hello there, how are you?"}]
    hello["narration"] = "It was a bright morning."
    reply["dialogue"] = []
    reply["narration"] = "Bo said nothing at all."
    return type(tiny_production()).model_validate(production)


def rms(samples: np.ndarray, rate: int, span: tuple[float, float]) -> float:
    part = samples[round(span[0] * rate) : round(span[1] * rate)]
    return float(np.sqrt(np.mean(np.square(part)))) if part.size else 0.0


def test_the_voice_carries_the_lines_spoken_on_screen_and_never_the_narrator(
    store, tmp_path: Path
) -> None:
    host = PluginHost()
    engines = Recording()
    host.register(engines, "recording")
    manifest = render(narrated(video="lips"), tmp_path / "out", host=host, store=store)
    hello = manifest.shots[0]
    ann, narration = ((line.start - hello.start, line.end - hello.start) for line in hello.lines)
    assert [line.speaker for line in hello.lines] == ["ann", "narrator"]
    samples, rate = engines.voices["hello"]
    assert samples.size / rate == pytest.approx(hello.duration, abs=1e-3)  # the shot's timeline
    assert rms(samples, rate, ann) > 0.02  # Ann's line, where she says it
    assert rms(samples, rate, narration) < 1e-4  # and silence where the narrator speaks
    assert rms(samples, rate, (0.0, ann[0])) < 1e-4
    by_shot = {r.shot.shot_id: r for r in engines.requests["lips"]}
    assert by_shot["reply"].voice is None  # nobody in frame speaks
    assert "the shot's voice" in " ".join(hello.conditioning)
    assert hello.cast == ["ann", "bo"]


def test_an_engine_that_does_not_take_the_voice_never_gets_it(store, tmp_path: Path) -> None:
    host = PluginHost()
    engines = Recording()
    host.register(engines, "recording")
    render(narrated(video="deaf"), tmp_path / "out", host=host, store=store)
    assert engines.requests["deaf"] and all(r.voice is None for r in engines.requests["deaf"])


def voice_wav(path: Path, seconds: float, loud: tuple[float, float], rate: int = 16000) -> Path:
    """A WAV of ``seconds``, silent but for a vowel in ``loud``."""
    t = np.arange(round(seconds * rate)) / rate
    inside = (t >= loud[0]) & (t < loud[1])
    samples = np.where(inside, 0.5 * np.sin(2 * np.pi * 180 * t), 0.0)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


def test_the_animatic_opens_the_mouth_only_while_the_voice_sounds(tmp_path: Path) -> None:
    """Ann's line runs 0.25-1.75 s, but her voice sounds only from 1.0 to 1.5 s: the mouth
    stays shut through the line's silent start and end (a beat would flap through them)."""
    line = LineBrief(speaker="ann", text="Hello", start=0.25, end=1.75)
    voice = voice_wav(tmp_path / "voice.wav", 2.0, (1.0, 1.5))
    req = request(
        size="close-up", cast=(ANN,), lines=(line,), env=grey_room(tmp_path), duration=2.0
    ).model_copy(update={"voice": voice})
    clip = frames(render_clip(req, tmp_path / "talk.mp4"))
    closed = clip[0].astype(int)

    def opened(frame: np.ndarray) -> int:  # pixels clearly unlike the closed mouth
        return int((np.abs(frame.astype(int) - closed).max(axis=-1) > 40).sum())

    assert max(opened(f) for f in clip[1:24]) < 10  # 0-1.0 s: line started, voice silent
    assert min(opened(f) for f in clip[25:35]) > 100  # 1.04-1.46 s: the voice sounds
    assert max(opened(f) for f in clip[37:]) < 10  # after it


def delayed(film: Path, target: Path, seconds: float) -> None:
    """``film`` again with its sound ``seconds`` late (picture re-encoded the film's way)."""
    with av.open(str(film)) as container:
        pictures = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    samples, rate = read_wav(film)
    assert rate == syn.RATE
    shift = round(seconds * rate)
    late = np.concatenate([np.zeros(shift, np.float32), samples[: samples.size - shift]])
    syn.write(target, pictures, 24, late)


def test_qc_measures_the_films_sync_and_fails_it_200_ms_late(store, tmp_path: Path) -> None:
    production = tiny_production().model_dump()
    production["scenes"][0]["shots"][1]["dialogue"] = [
        {"speaker": "bo", "text": "Hi Ann! I found a frog by the pond, a green one."}
    ]
    out = tmp_path / "out"
    render(type(tiny_production()).model_validate(production), out, store=store)
    verdicts = {(where, v.check): v for where, v in check_film(out) if v.check == "sync"}
    assert verdicts[("reply", "sync")].passed and "ms" in verdicts[("reply", "sync")].reason
    assert verdicts[("film", "sync")].passed

    late = tmp_path / "late"
    shutil.copytree(out, late)
    delayed(out / "film.mp4", late / "film.mp4", 0.2)
    verdicts = {(where, v.check): v for where, v in check_film(late) if v.check == "sync"}
    for where in ("reply", "film"):
        verdict = verdicts[(where, "sync")]
        assert not verdict.passed, verdict.reason
        ms = int(verdict.reason.split("sound ")[1].split(" ms late")[0])
        assert 180 <= ms <= 220, verdict.reason
    saved = json.loads((out / "manifest.json").read_text())
    assert saved["shots"][1]["cast"] == ["bo"]


def test_qc_refuses_a_manifest_whose_line_times_are_not_numbers(store, tmp_path: Path) -> None:
    """A line time of NaN (JSON accepts it) is refused when the manifest is read, with what
    to do, not a crash in a check."""
    out = tmp_path / "out"
    render(tiny_production(), out, store=store)
    saved = json.loads((out / "manifest.json").read_text())
    saved["shots"][1]["lines"][0]["start"] = float("nan")
    (out / "manifest.json").write_text(json.dumps(saved))
    refused = r"(?s)no readable manifest\.json .*finite number.*render first"
    with pytest.raises(MinistudioError, match=refused):
        check_film(out)
