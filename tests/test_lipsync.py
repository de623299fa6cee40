"""The lip-sync job (issue 18 item 2): routing.lipsync adds a pass after the clip of every
shot where a character speaks on screen; the pass gets the take and the shot's voice (never
a narrator's), its clip is what the film shows, `plan` prices it, the store keeps it, and an
edited line re-syncs without the picture being made again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineSpec
from ministudio.errors import EngineRefusal
from ministudio.jobs import LipSyncRequest, VideoRequest, VideoResult
from ministudio.plugins import PluginHost
from ministudio.run.render import plan, render

from .conftest import tiny_production

TEAL = (0, 160, 160)
MAGENTA = (200, 40, 200)


def _solid(output: Path, width: int, height: int, fps: int, frames: int, colour: Any) -> None:
    from ministudio.media.encode import VideoWriter

    frame = np.full((height, width, 3), colour, np.uint8)
    with VideoWriter(output, width, height, fps) as writer:
        for _ in range(frames):
            writer.write(frame)


class Painter:
    """A video engine that takes no voice: every clip a teal field."""

    def __init__(self) -> None:
        self.jobs: list[VideoRequest] = []

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        caps = Capabilities(resolutions=("480p",), min_duration=1.0)
        return [EngineSpec(id="painter", kind="video", capabilities=caps, revision=1)]

    @hookimpl
    def generate_video(self, engine, request: VideoRequest, output: Path, context):
        self.jobs.append(request)
        frames = round(request.duration * request.fps)
        _solid(output, request.width, request.height, request.fps, frames, TEAL)
        return VideoResult(path=output, model="paint-1")


class Lipper:
    """A local lip-sync engine: answers a magenta clip, priced per second; may refuse."""

    def __init__(self, refuse: bool = False) -> None:
        self.jobs: list[LipSyncRequest] = []
        self.refuse = refuse

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        caps = Capabilities(price_per_second=0.05)
        return [EngineSpec(id="lipper", kind="lipsync", capabilities=caps, revision=1)]

    @hookimpl
    def lip_sync(self, engine, request: LipSyncRequest, output: Path, context):
        self.jobs.append(request)
        if self.refuse:
            raise EngineRefusal("lipper", "no face found in the clip")
        frames = round(request.duration * request.fps)
        _solid(output, request.width, request.height, request.fps, frames, MAGENTA)
        return VideoResult(path=output, model="lips-2", cost=0.05 * request.duration)


def film(**routing: Any) -> Any:
    """Three shots: Ann speaks on screen; Bo answers in close-up; a narrated shot of Ann."""
    base = tiny_production().model_dump()
    base["scenes"][0]["shots"].append(
        {"id": "told", "action": "Ann walks", "characters": ["ann"], "narration": "Later."}
    )
    base["scenes"][0]["shots"][1]["duration"] = 3  # a length of its own: lines may change
    base["routing"] = {"video": "painter", "lipsync": "lipper", **routing}
    from ministudio.spec import Production

    return Production.model_validate(base)


@pytest.fixture
def engines() -> tuple[PluginHost, Painter, Lipper]:
    host, painter, lipper = PluginHost(), Painter(), Lipper()
    host.register(painter, "painter")
    host.register(lipper, "lipper")
    return host, painter, lipper


def middle_colour(path: Path, at: float) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= at:
                image = frame.to_ndarray(format="rgb24")
                h, w = image.shape[:2]
                return image[h // 2, w // 2].astype(int)
    raise AssertionError(f"no frame at {at} s")


def test_a_pass_follows_each_shot_a_character_speaks_in(engines, store, tmp_path) -> None:
    from ministudio.media.audio import read_wav

    host, _, lipper = engines
    manifest = render(film(), tmp_path / "out", host=host, store=store)
    assert sorted(r.shot.shot_id for r in lipper.jobs) == ["hello", "reply"]  # not "told"
    for request in lipper.jobs:
        shot = next(s for s in manifest.shots if s.id == request.shot.shot_id)
        samples, rate = read_wav(request.voice)
        assert abs(len(samples) / rate - shot.duration) < 0.05  # on the shot's timeline
        spoken = [line for line in request.shot.lines if line.end > line.start]
        assert spoken and np.abs(samples).max() > 0
        assert request.video.exists() and request.duration == pytest.approx(shot.duration)
    saved = json.loads((tmp_path / "out" / "manifest.json").read_text())
    by_id = {s["id"]: s for s in saved["shots"]}
    assert by_id["hello"]["lipsync"]["state"] == "done"
    assert by_id["hello"]["lipsync"]["engine"] == "lipper"
    assert by_id["told"]["lipsync"] is None
    assert by_id["reply"]["cost"] == pytest.approx(0.05 * by_id["reply"]["duration"], abs=0.01)
    # the film shows each pass's clip where a character speaks, the take elsewhere
    for shot in manifest.shots:
        colour = middle_colour(tmp_path / "out" / "film.mp4", shot.start + shot.duration / 2)
        wanted = TEAL if shot.id == "told" else MAGENTA
        assert np.abs(colour - np.array(wanted)).sum() < 60, (shot.id, colour)


def test_plan_prices_the_passes_and_the_store_keeps_them(engines, store, tmp_path) -> None:
    host, painter, lipper = engines
    before = plan(film(), tmp_path / "out", host=host, store=store)
    rows = {s.id: s for s in before.shots}
    assert set(rows) == {"hello", "reply", "told", "hello.lipsync", "reply.lipsync"}
    assert rows["reply.lipsync"].engine == "lipper"
    assert rows["reply.lipsync"].cost == pytest.approx(0.05 * rows["reply"].duration, abs=0.01)
    render(film(), tmp_path / "out", host=host, store=store)
    again = render(film(), tmp_path / "again", host=host, store=store)
    assert len(lipper.jobs) == 2 and len(painter.jobs) == 3  # nothing made twice
    assert {s.lipsync.state for s in again.shots if s.lipsync} == {"cached"}
    after = plan(film(), tmp_path / "out", host=host, store=store)
    assert all(s.cached and s.cost == 0 for s in after.shots)


def test_an_edited_line_resyncs_without_a_new_picture(engines, store, tmp_path) -> None:
    host, painter, lipper = engines
    render(film(), tmp_path / "out", host=host, store=store)
    edited = film().model_dump()
    edited["scenes"][0]["shots"][1]["dialogue"][0]["text"] = "Hi Ann, hi!"
    from ministudio.spec import Production

    render(Production.model_validate(edited), tmp_path / "out", host=host, store=store)
    assert len(painter.jobs) == 3  # the picture came from the store
    assert [r.shot.shot_id for r in lipper.jobs[2:]] == ["reply"]  # only its lips again


def test_routing_turns_a_pass_off_per_shot_and_refuses_a_video_engine(engines, store, tmp_path):
    from ministudio.errors import UnknownEngineError

    host, _, lipper = engines
    render(film(shots={"reply.lipsync": "off"}), tmp_path / "out", host=host, store=store)
    assert [r.shot.shot_id for r in lipper.jobs] == ["hello"]
    with pytest.raises(UnknownEngineError, match="lipsync"):
        render(film(lipsync="painter"), tmp_path / "bad", host=host, store=store)


def test_a_refused_pass_keeps_the_take_and_says_why(store, tmp_path) -> None:
    host, lipper = PluginHost(), Lipper(refuse=True)
    host.register(Painter(), "painter")
    host.register(lipper, "lipper")
    manifest = render(film(), tmp_path / "out", host=host, store=store)
    hello = next(s for s in manifest.shots if s.id == "hello")
    assert hello.error is None and hello.lipsync is not None
    assert hello.lipsync.state == "failed" and "no face found" in (hello.lipsync.error or "")
    colour = middle_colour(tmp_path / "out" / "film.mp4", hello.start + hello.duration / 2)
    assert np.abs(colour - np.array(TEAL)).sum() < 60  # the take is in the film


def test_a_lip_sync_engine_written_with_the_plugin_kit(store, tmp_path) -> None:
    """``ministudio.plugin_kit``: a class with ``lip_sync`` is a local lip-sync engine; one
    with ``submit_lip_sync``, ``poll`` and ``download`` a remote one (half of that trio is
    refused when the plugin is made)."""
    from ministudio.plugin_kit import Engine, EnginePlugin

    made: list[str] = []

    class Lips(Engine):
        id = "kit-lips"

        def spec(self) -> EngineSpec:
            return EngineSpec(id=self.id, kind="lipsync", revision=1)

        def lip_sync(self, request: LipSyncRequest, output: Path) -> VideoResult:
            made.append(request.shot.shot_id)
            frames = round(request.duration * request.fps)
            _solid(output, request.width, request.height, request.fps, frames, MAGENTA)
            return VideoResult(path=output)

    class HalfRemote(Engine):
        id = "half"

        def spec(self) -> EngineSpec:
            return EngineSpec(id=self.id, kind="lipsync")

        async def submit_lip_sync(self, request, idempotency_key, context): ...

    host = PluginHost()
    host.register(Painter(), "painter")
    host.register(EnginePlugin(Lips()), "kit-lips")
    render(film(lipsync="kit-lips"), tmp_path / "out", host=host, store=store)
    assert sorted(made) == ["hello", "reply"]
    with pytest.raises(TypeError, match="without poll, download"):
        EnginePlugin(HalfRemote())


def test_the_graph_has_a_lipsync_job_after_each_speaking_clip(engines) -> None:
    """Each pass needs its clip and its shot's lines, the film needs the passes; an edited
    line changes the pass's key."""
    from ministudio.run.render import graph

    host, _, _ = engines
    jobs = {job.id: job for job in graph(film(), host=host)}
    assert {j for j in jobs if j.startswith("lipsync:")} == {"lipsync:hello", "lipsync:reply"}
    reply = jobs["lipsync:reply"]
    assert reply.needs == ("clip:reply", "speech:reply:1") and reply.engine == "lipper"
    assert {"lipsync:hello", "lipsync:reply", "clip:told"} <= set(jobs["film"].needs)
    assert "clip:hello" not in jobs["film"].needs  # it joins the film through its pass
    edited = film().model_dump()
    edited["scenes"][0]["shots"][1]["dialogue"][0]["text"] = "Hi Ann, hi!"
    from ministudio.spec import Production

    again = {job.id: job for job in graph(Production.model_validate(edited), host=host)}
    assert again["lipsync:reply"].key != reply.key


# -- the lip-sync check and its rung, on mouths the animatic draws --------------------------
LINE = "Well, I looked everywhere for the little green frog, and then it jumped right out."


def _late(voice: Path, seconds: float, out: Path) -> Path:
    """``voice`` with ``seconds`` of silence before it (the same length): mouths drawn to it
    move that much after the sound."""
    import wave

    from ministudio.media.audio import read_wav

    samples, rate = read_wav(voice)
    shift = round(seconds * rate)
    moved = np.concatenate([np.zeros(shift, samples.dtype), samples[: samples.size - shift]])
    with wave.open(str(out), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((np.clip(moved, -1, 1) * 32767).astype("<i2").tobytes())
    return out


def _animatic(shot, voice: Path, duration: float, size: tuple[int, int, int], output: Path):
    from ministudio.engines.animatic.render import render_clip

    width, height, fps = size
    request = VideoRequest(shot=shot, prompt="", duration=duration, aspect_ratio="16:9",
                           width=width, height=height, fps=fps, seed=1, voice=voice)  # fmt: skip
    render_clip(request, output)
    return VideoResult(path=output)


class Mouths:
    """``late-lips``: an engine animating faces to the voice, 300 ms late (it takes the
    voice: ``reference_audio``); ``redo``: a lip-sync engine drawing the mouths to the voice,
    300 ms late on its first pass if ``late_first``, on time after."""

    def __init__(self, late_first: bool = False) -> None:
        self.late_first = late_first
        self.passes: list[int] = []

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        caps = Capabilities(resolutions=("480p",), reference_audio=True, min_duration=1.0)
        return [
            EngineSpec(id="late-lips", kind="video", capabilities=caps, revision=1),
            EngineSpec(
                id="redo",
                kind="lipsync",
                capabilities=Capabilities(price_per_second=0.1),
                revision=1,
            ),
        ]

    @hookimpl
    def generate_video(self, engine, request: VideoRequest, output: Path):
        if engine != "late-lips":
            return None
        assert request.voice is not None
        late = _late(request.voice, 0.3, output.with_suffix(".late.wav"))
        size = (request.width, request.height, request.fps)
        return _animatic(request.shot, late, request.duration, size, output)

    @hookimpl
    def lip_sync(self, engine, request: LipSyncRequest, output: Path):
        self.passes.append(request.attempt)
        voice = request.voice
        if self.late_first and request.attempt == 0:
            voice = _late(voice, 0.3, output.with_suffix(".late.wav"))
        size = (request.width, request.height, request.fps)
        return _animatic(request.shot, voice, request.duration, size, output)


def talking(retakes: int = 0, **routing: Any) -> Any:
    from ministudio.spec import Production

    return Production.model_validate(
        {
            "title": "Frog",
            "format": {"aspect_ratio": "16:9", "resolution": "480p", "fps": 24},
            "characters": {"ann": {"name": "Ann", "dna": "a woman", "voice": {"rate": 150}}},
            "environments": {"room": {"description": "a plain room", "lighting": "day"}},
            "scenes": [{"id": "one", "environment": "room", "shots": [{
                "id": "talk", "action": "Ann talks about the frog", "size": "close-up",
                "characters": ["ann"], "dialogue": [{"speaker": "ann", "text": LINE}],
            }]}],
            "routing": routing,
            "qc": {"retakes": retakes},
        }
    )  # fmt: skip


def test_a_take_whose_lips_miss_the_voice_fails_the_check_and_a_pass_mends_it(store, tmp_path):
    """The take's engine animated to the voice but 300 ms late: the lip-sync check fails it
    with the offset; routed to a lip-sync engine, the shot gets a pass, which is in sync."""
    mouths = Mouths()
    host = PluginHost()
    host.register(mouths, "mouths")
    alone = render(talking(video="late-lips"), tmp_path / "alone", host=host, store=store)
    lips = next(v for v in alone.shots[0].qc if v.check == "lipsync")
    assert not lips.passed and "late" in lips.reason, lips.reason
    mended = render(
        talking(video="late-lips", lipsync="redo"), tmp_path / "out", host=host, store=store
    )
    shot = mended.shots[0]
    assert mouths.passes == [0] and shot.lipsync is not None and shot.lipsync.state == "done"
    lips = next(v for v in shot.qc if v.check == "lipsync")
    assert lips.passed, lips.reason


@pytest.mark.parametrize("retakes", [0, 1])
def test_the_lipsync_rung_asks_for_the_pass_again(store, tmp_path, retakes: int) -> None:
    """The lip-sync engine's first pass is 300 ms late: with a retake left, the `lipsync`
    rung asks for a second pass, which is kept; without, the failing verdict stays."""
    mouths = Mouths(late_first=True)
    host = PluginHost()
    host.register(mouths, "mouths")
    host.register(Painter(), "painter")
    production = talking(retakes, video="painter", lipsync="redo")
    manifest = render(production, tmp_path / "out", host=host, store=store)
    shot = manifest.shots[0]
    lips = next(v for v in shot.qc if v.check == "lipsync")
    assert mouths.passes == list(range(retakes + 1))
    assert shot.lipsync is not None and shot.lipsync.passes == retakes + 1
    assert lips.passed == bool(retakes), lips.reason


def test_a_second_pass_is_not_asked_for_past_the_budget(store, tmp_path) -> None:
    """The budget covers the planned render (the first pass included) but not a second
    pass: the rung stops, and the manifest says why."""
    mouths = Mouths(late_first=True)
    host = PluginHost()
    host.register(mouths, "mouths")
    host.register(Painter(), "painter")
    production = talking(1, video="painter", lipsync="redo")
    planned = plan(production, tmp_path / "out", host=host, store=store)
    assert planned.cost > 0
    capped = production.model_copy(update={"budget": planned.cost + 0.01})
    shot = render(capped, tmp_path / "out", host=host, store=store).shots[0]
    assert mouths.passes == [0]
    assert shot.lipsync is not None and "would pass the budget" in (shot.lipsync.stopped or "")


class ShortPainter(Painter):
    """The painter, whose clips last 3 s at most: a longer speaking shot is split."""

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        caps = Capabilities(resolutions=("480p",), min_duration=1.0, max_duration=3.0)
        return [EngineSpec(id="painter", kind="video", capabilities=caps, revision=1)]


def test_each_part_of_a_split_shot_gets_its_own_pass(store, tmp_path) -> None:
    """A line longer than the engine's longest clip splits the shot: each part is passed
    with its own stretch of the voice (a part the line goes on into included), and the film
    shows every part's pass."""
    host, lipper = PluginHost(), Lipper()
    host.register(ShortPainter(), "painter")
    host.register(lipper, "lipper")
    production = talking(video="painter", lipsync="lipper")
    manifest = render(production, tmp_path / "out", host=host, store=store)
    parts = [s for s in manifest.shots if s.part_of == "talk"]
    assert len(parts) >= 2
    assert len(lipper.jobs) == len(parts)
    assert all(s.lipsync is not None and s.lipsync.state == "done" for s in parts)
    from ministudio.media.audio import read_wav

    for request in lipper.jobs:  # the line goes on in the later parts: so does their voice
        samples, _ = read_wav(request.voice)
        assert np.sqrt(np.mean(np.square(samples))) > 0.01, request.shot.shot_id
        assert [line.speaker for line in request.shot.lines] == ["ann"]
    for shot in parts:
        colour = middle_colour(tmp_path / "out" / "film.mp4", shot.start + shot.duration / 2)
        assert np.abs(colour - np.array(MAGENTA)).sum() < 60, (shot.id, colour)


def test_validate_names_each_wrong_lipsync_routing(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A shot's pass routed to a video engine, and one routed for a shot that does not
    exist: `ministudio validate` names both, with the line, and exits 2."""
    import sys

    from ministudio import cli

    path = tmp_path / "film.yaml"
    path.write_text(
        "title: Bad\n"
        "characters: {ann: {name: Ann, dna: a woman}}\n"
        "environments: {park: {description: a park}}\n"
        "scenes:\n"
        "  - id: one\n"
        "    environment: park\n"
        "    shots:\n"
        "      - {id: a, action: Ann waves, dialogue: [{speaker: ann, text: Hello}]}\n"
        "routing:\n"
        '  shots: {"nope.lipsync": "off", "a.lipsync": animatic}\n'
    )
    monkeypatch.setattr(sys, "argv", ["ministudio", "validate", str(path)])
    with pytest.raises(SystemExit) as info:
        cli.main()
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert "routing.shots.a.lipsync: 'animatic' is a video engine, not a lipsync engine" in err
    assert "routing.shots.nope.lipsync: no shot has the id 'nope.lipsync'" in err
