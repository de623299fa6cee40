"""A film even when a shot fails: a slate (the shot's id and why) in its place, for its
planned length, with its sound; the render still fails, and the next one tries it again."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineSpec
from ministudio.jobs import VideoRequest, VideoResult
from ministudio.media.slate import slate_image
from ministudio.plugins import PluginHost, PluginInfo
from ministudio.qc.film import check_film
from ministudio.run.manifest import Manifest
from ministudio.run.render import RenderError, RenderOptions, render

from .conftest import tiny_production

SECRET = "sk-live-5f3c1a9e77d2b04c"
KEYED = EngineSpec(
    id="crashy",
    kind="video",
    key_env=("CRASHY_API_KEY",),
    capabilities=Capabilities(resolutions=("480p",)),
)


class Crashy:
    """A video engine with a bug: it divides by zero, or (``leak``) crashes with its key in
    the exception text. ``broken = False`` fixes it: it then renders solid green."""

    def __init__(self, *, leak: bool = False) -> None:
        self.leak = leak
        self.broken = True
        self.calls = 0

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        return [KEYED]

    @hookimpl
    def generate_video(self, engine: str, request: VideoRequest, output: Path, context):
        self.calls += 1
        if self.broken and self.leak:
            raise RuntimeError(f"401 from https://api.example/v1 for key {context.key(KEYED)}")
        if self.broken:
            return 1 / 0
        from ministudio.media.encode import VideoWriter

        with VideoWriter(output, request.width, request.height, request.fps) as writer:
            for _ in range(round(request.duration * request.fps)):
                writer.write(np.full((request.height, request.width, 3), (40, 200, 90), np.uint8))
        return VideoResult(path=output)


def crashy_host(engine: Crashy) -> PluginHost:
    host = PluginHost()
    info = PluginInfo("crashy", "ministudio-crashy", "0.3", "crashy_plugin")
    host.register(engine, info)
    return host


def go(tmp_path: Path, engine: Crashy, out: str = "out", **options) -> RenderError:
    production = tiny_production(routing={"shots": {"reply": "crashy"}})
    with pytest.raises(RenderError) as info:
        render(
            production,
            tmp_path / out,
            host=crashy_host(engine),
            store=_store(tmp_path),
            env={"CRASHY_API_KEY": SECRET},
            options=RenderOptions(**options),
        )
    return info.value


def _store(tmp_path: Path):
    from ministudio.run.store import ContentStore

    return ContentStore(tmp_path / "store")


def frames(film: Path) -> tuple[np.ndarray, list[float]]:
    """Every frame of the film (RGB, int16) and its time."""
    pictures, times = [], []
    with av.open(str(film)) as container:
        for frame in container.decode(video=0):
            pictures.append(frame.to_ndarray(format="rgb24").astype(np.int16))
            times.append(float(frame.time))
    return np.stack(pictures), times


def sound(film: Path) -> tuple[np.ndarray, int]:
    with av.open(str(film)) as container:
        rate = container.streams.audio[0].rate
        samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
    return samples.astype(np.float64), rate


def test_a_failed_shot_is_a_slate_in_a_film_of_the_planned_length(tmp_path: Path) -> None:
    error = go(tmp_path, Crashy())
    text = str(error)
    out = tmp_path / "out"
    # the render still fails, naming the shot, the film and where it is
    assert error.exit_code == 1
    assert "1 shot(s) failed; the film was assembled anyway, with a slate in place of each: " in (
        text
    )
    assert str(out / "film.mp4") in text
    assert "reply: ZeroDivisionError: division by zero" in text

    manifest = Manifest.model_validate_json((out / "manifest.json").read_text())
    hello, reply = manifest.shots
    assert manifest.film == "film.mp4" and manifest.subtitles == ["film.srt", "film.vtt"]
    assert hello.slate is None and hello.error is None
    assert reply.state == "failed" and reply.engine == "crashy"
    assert reply.slate == reply.error and "ZeroDivisionError" in reply.slate
    assert not reply.cached and reply.output_hash is None  # nothing of the slate is the shot's

    # the film: its planned length, to the frame; the slate where the shot should be
    pictures, times = frames(out / "film.mp4")
    assert len(pictures) == hello.frames + reply.frames
    assert abs(len(pictures) / manifest.fps - manifest.duration) < 1e-6
    first = next(i for i, t in enumerate(times) if t >= reply.start - 1e-6)
    assert first == hello.frames
    width, height = manifest.width, manifest.height
    card = np.asarray(
        slate_image("reply", reply.slate, width, height, seconds=reply.duration, index=1)
    ).astype(np.int16)
    slate = pictures[first:]
    assert np.abs(slate - card).mean() < 3.0  # every frame of its stretch is the slate
    assert np.abs(pictures[first - 1] - card).mean() > 20  # the shot before is not

    # its sound: the reply's line, synthesised before any video, still plays under the slate
    samples, rate = sound(out / "film.mp4")
    line = reply.lines[0]
    spoken = samples[round(line.start * rate) : round(line.end * rate)]
    assert np.sqrt(np.mean(spoken**2)) > 0.01
    # subtitles: every line, the slate's included
    assert (out / "film.srt").read_text().count(" --> ") == 2


def test_the_next_render_tries_the_failed_shot_again(tmp_path: Path) -> None:
    engine = Crashy()
    go(tmp_path, engine)
    assert engine.calls == 1
    engine.broken = False  # the plugin is fixed
    production = tiny_production(routing={"shots": {"reply": "crashy"}})
    manifest = render(
        production,
        tmp_path / "out",
        host=crashy_host(engine),
        store=_store(tmp_path),
        env={"CRASHY_API_KEY": SECRET},
    )
    assert engine.calls == 2  # the slate was never the shot's clip
    assert [(s.cached, s.slate, s.error) for s in manifest.shots] == [
        (True, None, None),
        (False, None, None),
    ]
    pictures, _ = frames(tmp_path / "out" / "film.mp4")
    reply = manifest.shots[1]
    green = pictures[manifest.shots[0].frames + reply.frames // 2]
    assert abs(green[..., 1].mean() - 200) < 10 and green[..., 0].mean() < 60  # no slate


def test_no_partial_keeps_the_film_unmade(tmp_path: Path) -> None:
    error = go(tmp_path, Crashy(), partial=False)
    assert "assembled" not in str(error) and error.film is None
    out = tmp_path / "out"
    assert not (out / "film.mp4").exists()
    assert not any(p.name.startswith(".film") for p in out.iterdir())  # no partial file
    saved = json.loads((out / "manifest.json").read_text())
    assert saved["film"] is None
    assert [s["slate"] for s in saved["shots"]] == [None, None]
    assert saved["shots"][1]["error"].startswith("ZeroDivisionError")


def test_a_key_in_the_reason_is_blanked_on_the_slate_and_in_the_manifest(tmp_path: Path) -> None:
    error = go(tmp_path, Crashy(leak=True))
    out = tmp_path / "out"
    saved = (out / "manifest.json").read_text()
    assert SECRET not in str(error) and SECRET not in saved
    reply = Manifest.model_validate_json(saved).shots[1]
    assert reply.slate is not None and "for key ***" in reply.slate

    # the picture: the card drawn with the blanked reason, not with the key
    manifest = Manifest.model_validate_json(saved)
    pictures, _ = frames(out / "film.mp4")
    shown = pictures[manifest.shots[0].frames + reply.frames // 2]

    def card(reason: str) -> np.ndarray:
        size = (manifest.width, manifest.height)
        drawn = slate_image("reply", reason, *size, seconds=reply.duration, index=1, blank=False)
        return np.asarray(drawn).astype(np.int16)

    blanked, leaked = card(reply.slate), card(reply.slate.replace("***", SECRET))
    differs = np.abs(blanked - leaked).sum(axis=2) > 60  # where the key would be drawn
    assert differs.sum() > 100
    assert np.abs(shown - blanked)[differs].mean() < np.abs(shown - leaked)[differs].mean() / 4
    # and the slate module blanks on its own what it is given (the process's keys)
    import ministudio.safety.secrets

    ministudio.safety.secrets.register(SECRET)
    assert np.array_equal(
        np.asarray(slate_image("reply", f"key {SECRET}", 320, 180, seconds=1.0)),
        np.asarray(slate_image("reply", "key ***", 320, 180, seconds=1.0)),
    )


def test_qc_reports_the_slate_and_judges_the_rest(tmp_path: Path) -> None:
    go(tmp_path, Crashy())
    found = check_film(tmp_path / "out")
    reply = [v for where, v in found if where == "reply"]
    # its frames count in the film's timeline (the cut to it is seen); its picture is a slate
    assert [(v.check, v.passed) for v in reply] == [("timeline", True), ("slate", False)]
    assert "failed to render (ZeroDivisionError: division by zero" in reply[1].reason
    # the slate's stillness, its lines and the cuts to it fail nothing else
    assert [(where, v.check, v.reason) for where, v in found if not v.passed] == [
        ("reply", "slate", reply[1].reason)
    ]
    assert {v.check for where, v in found if where == "film"} >= {"timeline", "loudness"}
