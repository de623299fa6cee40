"""End to end: productions become films a user can watch, checked with PyAV."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineSpec
from ministudio.errors import EngineRefusal
from ministudio.jobs import VideoRequest
from ministudio.plugins import PluginHost
from ministudio.run.render import BudgetError, RenderError, SpeechError, render
from ministudio.run.store import file_hash

from .conftest import ROOT, SHOWCASES, tiny_production


def frames_at(film: Path, times: list[float]) -> list[np.ndarray]:
    """The first decoded frame at or after each time (times ascending)."""
    out, pending = [], list(times)
    with av.open(str(film)) as container:
        for frame in container.decode(video=0):
            while pending and frame.time >= pending[0]:
                out.append(frame.to_ndarray(format="rgb24").astype(np.int16))
                pending.pop(0)
            if not pending:
                break
    return out


def check_film(out: Path, production, manifest) -> None:
    """What a viewer notices: picture format, sound, subtitles, length, shots that differ."""
    film = out / "film.mp4"
    width, height = production.format.size
    fps = production.format.fps
    with av.open(str(film)) as container:
        kinds = sorted(s.type for s in container.streams)
        assert kinds == ["audio", "subtitle", "video"]
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.width, video.codec_context.height) == (width, height)
        assert video.average_rate == fps
        video_seconds = float(video.duration * video.time_base)
        audio_seconds = float(audio.duration * audio.time_base)
        samples = np.concatenate([f.to_ndarray().ravel() for f in container.decode(audio=0)])
    assert abs(video_seconds - audio_seconds) <= 1 / fps
    assert abs(video_seconds - manifest.duration) <= 1 / fps
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 0.01  # audible speech

    spoken = [line for shot in manifest.shots for line in shot.lines]
    with av.open(str(film)) as container:
        subs = [p for p in container.demux(subtitles=0) if p.size > 2]  # 2 bytes: a gap
    assert len(subs) == len(spoken) > 0
    assert (out / "film.srt").read_text().count(" --> ") == len(spoken)
    assert (out / "film.vtt").read_text().startswith("WEBVTT")
    assert (out / "contact_sheet.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    middles = frames_at(film, [s.start + s.duration / 2 for s in manifest.shots])
    assert len(middles) == len(manifest.shots)
    for a, b in itertools.pairwise(middles):
        assert np.abs(a - b).mean() > 2.0  # consecutive shots are visibly different
    for shot in manifest.shots:
        assert shot.engine == "animatic" and shot.prompt and shot.output_hash
        assert all(v.passed for v in shot.qc), shot.qc


@pytest.mark.parametrize("name", SHOWCASES)
def test_showcase_film_renders(name: str, showcase, tmp_path: Path) -> None:
    film = showcase(name)
    production, store, manifest = film.production, film.store, film.manifest
    check_film(film.out, production, manifest)
    if name == "quantum-mechanics":
        assert abs(manifest.duration - 56) < 0.1  # 7 shots of 8 s
        # The Python-API version is the same production: it renders entirely from the store.
        env = {**os.environ, "MINISTUDIO_STORE": str(store.root)}
        subprocess.run(
            [sys.executable, str(ROOT / "examples" / "quantum_mechanics.py"), str(tmp_path / "py")],
            check=True,
            env=env,
            capture_output=True,
        )
        again = json.loads((tmp_path / "py" / "manifest.json").read_text())
        assert all(s["cached"] for s in again["shots"])
        assert file_hash(tmp_path / "py" / "film.mp4") == file_hash(film.out / "film.mp4")


@pytest.mark.xdist_group("showcase-last-algorithm")
def test_continue_shot_starts_from_the_previous_last_frame(showcase) -> None:
    """On last-algorithm.yaml as ``render`` makes it (the session's shared render of that
    film, read only: the same call this test used to make on its own)."""
    film = showcase("last-algorithm")
    manifest, movie = film.manifest, film.out / "film.mp4"
    glitch, fear = (s for s in manifest.shots if s.id in ("glitch", "fear"))
    last, first = frames_at(movie, [fear.start - 1.5 / 24, fear.start])
    other = frames_at(movie, [glitch.start])[0]
    assert np.abs(last - first).mean() < np.abs(other - first).mean()


def test_second_render_reuses_everything_and_an_edit_rerenders_one_shot(store, tmp_path) -> None:
    first = render(tiny_production(), tmp_path / "a", store=store)
    assert not any(s.cached for s in first.shots)
    again = render(tiny_production(), tmp_path / "b", store=store)
    assert all(s.cached for s in again.shots) and all(
        line.cached for s in again.shots for line in s.lines
    )
    assert file_hash(tmp_path / "a" / "film.mp4") == file_hash(tmp_path / "b" / "film.mp4")

    edited = tiny_production().model_dump()
    edited["scenes"][0]["shots"][1]["action"] = "Bo answers, grinning"
    production = type(tiny_production()).model_validate(edited)
    third = render(production, tmp_path / "c", store=store)
    assert {s.id: s.cached for s in third.shots} == {"hello": True, "reply": False}


class Priced:
    """A paid engine that renders 5 or 10 s clips at $1 a second."""

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        caps = Capabilities(durations=(5.0, 10.0), resolutions=("480p",), price_per_second=1.0)
        return [EngineSpec(id="pricey", kind="video", capabilities=caps)]


def test_budget_refuses_before_anything_is_rendered(store, tmp_path: Path) -> None:
    host = PluginHost()
    host.register(Priced(), "pricey")
    production = tiny_production(routing={"video": "pricey"}, budget=9.0)
    with pytest.raises(BudgetError, match=r"cost \$10.00, above the production's budget of \$9.00"):
        render(production, tmp_path / "out", host=host, store=store)
    assert not (tmp_path / "out").exists()


class Refusing:
    """An engine that refuses every job, as a safety filter would."""

    def __init__(self) -> None:
        self.requests: list[VideoRequest] = []

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        return [
            EngineSpec(
                id="refuser",
                kind="video",
                default_model="refuse-1",
                capabilities=Capabilities(resolutions=("480p",)),
            )
        ]

    @hookimpl
    def generate_video(self, engine: str, request: VideoRequest, output: Path, context):
        self.requests.append(request)
        raise EngineRefusal("refuser", "prompt flagged by the safety filter")


def test_a_failing_shot_keeps_the_others_and_says_what_to_do(store, tmp_path: Path) -> None:
    host = PluginHost()
    host.register(Refusing(), "refuser")
    production = tiny_production(routing={"shots": {"reply": "refuser"}})
    with pytest.raises(RenderError) as info:
        render(production, tmp_path / "out", host=host, store=store)
    assert "reply: refuser: refused: prompt flagged by the safety filter" in str(info.value)
    # the film is assembled anyway, a slate in place of the failed shot (test_partial_film.py)
    assert (tmp_path / "out" / "film.mp4").exists()
    saved = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [s["error"] is None for s in saved["shots"]] == [True, False]
    assert saved["shots"][1]["slate"] == saved["shots"][1]["error"]
    # Routed back to the animatic, the finished shot comes from the store.
    manifest = render(tiny_production(), tmp_path / "again", store=store)
    assert {s.id: s.cached for s in manifest.shots} == {"hello": True, "reply": False}


def test_fallback_engine_takes_over_and_options_reach_the_engine(store, tmp_path: Path) -> None:
    refusing = Refusing()
    host = PluginHost()
    host.register(refusing, "refuser")
    production = tiny_production(
        routing={
            "shots": {"reply": "refuser"},
            "fallbacks": {"refuser": ["animatic"]},
            "options": {"refuser": {"model": "refuse-2", "quality": "high"}},
        }
    )
    manifest = render(production, tmp_path / "out", host=host, store=store)
    reply = manifest.shots[1]
    assert reply.engine == "animatic" and reply.failed_attempts[0].engine == "refuser"
    assert refusing.requests[0].model == "refuse-2"
    assert refusing.requests[0].options == {"quality": "high"}
    assert (tmp_path / "out" / "film.mp4").exists()


LEAKY = EngineSpec(
    id="leaky",
    kind="video",
    key_env=("LEAKY_API_KEY",),
    capabilities=Capabilities(resolutions=("480p",)),
)


class Leaky:
    """A careless plugin: it crashes with its API key in the exception text."""

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        return [LEAKY]

    @hookimpl
    def generate_video(self, engine: str, request: VideoRequest, output: Path, context):
        raise RuntimeError(f"401 from server for key {context.key(LEAKY)}")


def test_a_crashing_plugin_fails_its_shot_and_its_key_is_never_shown(store, tmp_path) -> None:
    host = PluginHost()
    host.register(Leaky(), "leaky")
    production = tiny_production(routing={"shots": {"hello": "leaky"}})
    secret = "sk-live-0123456789abcdef"
    with pytest.raises(RenderError) as info:
        render(production, tmp_path / "out", host=host, store=store, env={"LEAKY_API_KEY": secret})
    saved = (tmp_path / "out" / "manifest.json").read_text()
    assert "RuntimeError: 401 from server for key ***" in str(info.value)
    assert secret not in str(info.value) and secret not in saved
    assert json.loads(saved)["shots"][1]["error"] is None  # the other shot rendered


def test_a_missing_key_names_the_variable(store, tmp_path: Path) -> None:
    host = PluginHost()
    host.register(Leaky(), "leaky")
    production = tiny_production(routing={"shots": {"hello": "leaky"}})
    with pytest.raises(RenderError, match="needs an API key: set LEAKY_API_KEY"):
        render(production, tmp_path / "out", host=host, store=store, env={})


def test_an_unknown_voice_is_one_clear_error_before_any_video(store, tmp_path: Path) -> None:
    production = tiny_production(
        characters={
            "ann": {"name": "Ann", "dna": "a woman", "voice": {"voice": "xx-nope"}},
            "bo": {"name": "Bo", "dna": "a boy"},
        }
    )
    with pytest.raises(SpeechError, match=r"hello line 1: espeak: unknown voice 'xx-nope'"):
        render(production, tmp_path / "out", host=PluginHost(), store=store)
    assert not list(store.root.rglob("*.mp4"))


class Uploading:
    """An engine that needs its reference images uploaded (as Luma needs URLs)."""

    def __init__(self) -> None:
        self.uploads: list[Path] = []
        self.sent: list[list[str]] = []

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        caps = Capabilities(resolutions=("480p",), max_references=4, concurrency=2)
        return [EngineSpec(id="uploader", kind="video", capabilities=caps)]

    @hookimpl
    def upload_asset(self, engine: str, path: Path, context) -> str:
        self.uploads.append(path)
        return f"https://assets.example/{len(self.uploads)}.png"

    @hookimpl
    async def generate_video(self, engine, request: VideoRequest, output: Path, context):
        from ministudio.jobs import VideoResult
        from ministudio.media.encode import VideoWriter

        images = [p for c in request.shot.characters for p in c.reference_images]
        self.sent.append([await context.upload(p) for p in images])
        frame = np.full((request.height, request.width, 3), 90, np.uint8)
        frame[: request.height // 4] = 250
        with VideoWriter(output, request.width, request.height, request.fps) as writer:
            for _ in range(round(request.duration * request.fps)):
                writer.write(frame)
        return VideoResult(path=output, model="up-1")


def test_reference_images_are_uploaded_once_per_content(store, tmp_path: Path) -> None:
    from PIL import Image

    face = tmp_path / "ann.png"
    Image.new("RGB", (64, 64), (200, 40, 40)).save(face)
    copy = tmp_path / "ann-copy.png"  # the same content under another name
    copy.write_bytes(face.read_bytes())
    engine = Uploading()
    host = PluginHost()
    host.register(engine, "uploader")
    characters = {
        "ann": {"name": "Ann", "dna": "a woman", "reference_images": [str(face)]},
        "bo": {"name": "Bo", "dna": "a boy", "reference_images": [str(copy)]},
    }
    film = tiny_production(characters=characters, routing={"video": "uploader"})
    render(film, tmp_path / "a", host=host, store=store)
    assert len(engine.uploads) == 1  # two shots, two files, one content: one upload
    url = "https://assets.example/1.png"
    assert sorted(engine.sent, key=len) == [[url], [url, url]]  # shots render concurrently
    other = tiny_production(
        characters=characters, title="Another film", seed=99, routing={"video": "uploader"}
    )
    render(other, tmp_path / "b", host=host, store=store)
    assert len(engine.uploads) == 1  # another production reuses the upload


def test_an_edit_rerenders_its_shot_and_the_continue_shots_after_it(store, tmp_path) -> None:
    def chain(action: str):
        return tiny_production(
            scenes=[
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [
                        {"id": "a", "action": "Ann waves", "characters": ["ann"]},
                        {"id": "b", "action": action, "characters": ["ann"]},
                        {
                            "id": "c",
                            "action": "Ann sits",
                            "continuity": "continue",
                            "characters": ["ann"],
                        },
                        {"id": "d", "action": "Bo runs", "characters": ["bo"]},
                    ],
                }
            ]
        )

    render(chain("Ann walks"), tmp_path / "a", store=store)
    again = render(chain("Ann walks fast"), tmp_path / "b", store=store)
    assert {s.id: s.cached for s in again.shots} == {"a": True, "b": False, "c": False, "d": True}


class Plater:
    """A plate engine that paints the place teal, and counts its jobs."""

    def __init__(self) -> None:
        self.jobs: list[VideoRequest] = []

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        caps = Capabilities(resolutions=("480p",), min_duration=1.0)
        return [EngineSpec(id="plater", kind="video", capabilities=caps)]

    @hookimpl
    def generate_video(self, engine, request: VideoRequest, output: Path, context):
        from ministudio.jobs import VideoResult
        from ministudio.media.encode import VideoWriter

        self.jobs.append(request)
        frame = np.full((request.height, request.width, 3), (0, 160, 160), np.uint8)
        with VideoWriter(output, request.width, request.height, request.fps) as writer:
            for _ in range(round(request.duration * request.fps)):
                writer.write(frame)
        return VideoResult(path=output, model="plate-1")


def test_background_plates_render_once_per_place_and_light(store, tmp_path: Path) -> None:
    plater = Plater()
    host = PluginHost()
    host.register(plater, "plater")
    shots = [
        {"id": "a", "action": "Ann waves", "layers": ["plate"], "characters": ["ann"]},
        {"id": "b", "action": "Bo waves", "layers": ["plate"], "characters": ["bo"]},
        {"id": "c", "action": "Ann waits", "layers": ["plate"], "lighting": "night"},
        {"id": "d", "action": "Bo leaves"},
    ]
    film = tiny_production(
        scenes=[{"id": "one", "environment": "park", "shots": shots}],
        routing={"plate": "plater"},
    )
    manifest = render(film, tmp_path / "out", host=host, store=store)
    assert len(plater.jobs) == 2  # day and night: one plate each, shared by a and b
    assert {p.id for p in manifest.plates} == {"plate-park"}
    assert [p.state for p in manifest.plates] == ["done", "done"]
    assert all(not r.shot.characters and not r.shot.action for r in plater.jobs)
    middles = frames_at(
        tmp_path / "out" / "film.mp4", [s.start + s.duration / 2 for s in manifest.shots]
    )
    teal = [
        bool((np.abs(m - np.array([0, 160, 160])).sum(axis=2) < 60).mean() > 0.2) for m in middles
    ]
    assert teal[:2] == [True, True] and not teal[3]  # the plate is the place; d has none
    again = render(film, tmp_path / "again", host=host, store=store)
    assert len(plater.jobs) == 2  # plates come from the store next time
    assert [p.state for p in again.plates] == ["cached", "cached"]


class RefusingOnce(Plater):
    """Refuses its first plate; would make any after it."""

    @hookimpl
    def generate_video(self, engine, request: VideoRequest, output: Path, context):
        if not self.jobs:
            self.jobs.append(request)
            raise EngineRefusal("plater", "refused: the place is flagged")
        return super().generate_video(engine, request, output, context)


def test_a_refused_plate_fails_every_shot_on_it_and_is_asked_for_once(store, tmp_path) -> None:
    """Two shots on one plate: the plate is refused once, and the second shot does not pay
    for it again in the same render; the manifest says the plate failed and why."""
    plater = RefusingOnce()
    host = PluginHost()
    host.register(plater, "plater")
    shots = [
        {"id": "a", "action": "Ann waves", "layers": ["plate"], "characters": ["ann"]},
        {"id": "b", "action": "Ann waits", "layers": ["plate"], "characters": ["ann"]},
    ]
    film = tiny_production(
        scenes=[{"id": "one", "environment": "park", "shots": shots}],
        routing={"plate": "plater"},
    )
    with pytest.raises(RenderError) as info:
        render(film, tmp_path / "out", host=host, store=store)
    assert len(plater.jobs) == 1
    assert "background plate could not be made" in str(info.value)
    saved = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [(p["state"], "flagged" in p["error"]) for p in saved["plates"]] == [("failed", True)]
    assert all(s["error"] for s in saved["shots"])


def test_plan_lists_plates_and_the_shots_waiting_for_them(store, tmp_path: Path) -> None:
    from ministudio.run.render import plan

    host = PluginHost()
    host.register(Plater(), "plater")
    shots = [{"id": "a", "action": "Ann waves", "layers": ["plate"], "characters": ["ann"]}]
    film = tiny_production(
        scenes=[{"id": "one", "environment": "park", "shots": shots}], routing={"plate": "plater"}
    )
    before = plan(film, tmp_path / "out", host=host, store=store)
    assert [(s.id, s.reason) for s in before.shots] == [
        ("plate-park", "background plate (day)"),
        ("a", "waits for its background plate"),
    ]
    render(film, tmp_path / "out", host=host, store=store)
    after = plan(film, tmp_path / "out", host=host, store=store)
    assert [(s.id, s.cached) for s in after.shots] == [("a", True)]


def test_a_continue_shot_that_does_not_continue_is_reported(store, tmp_path: Path) -> None:
    """The second shot `continue`s the first but is routed to an engine that takes no first
    frame: its picture jumps at the seam, and its QC verdicts say so in words (the film is
    still made: a check reports, it does not stop the render)."""
    from ministudio.spec import Production

    film = tiny_production().model_dump()
    film["scenes"][0]["shots"][1]["continuity"] = "continue"
    film["routing"] = {"video": "animatic", "shots": {"reply": "uploader"}}
    host = PluginHost()
    host.register(Uploading(), "uploader")
    manifest = render(Production.model_validate(film), tmp_path / "out", host=host, store=store)
    reply = manifest.shots[1]
    assert reply.ignored == ["uploader cannot start from the previous shot's last frame"]
    (seam,) = [v for v in reply.qc if v.check == "seam"]
    assert not seam.passed and seam.reason.startswith("the seam jumps")
    assert {v.check for v in reply.qc} >= {"duration", "environment"}
    assert (tmp_path / "out" / "film.mp4").exists()


class Voices:
    """A speech engine whose ``revision`` the test bumps, counting the lines it speaks."""

    def __init__(self) -> None:
        self.revision = 0
        self.spoken = 0

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        return [EngineSpec(id="voices", kind="speech", revision=self.revision)]

    @hookimpl
    def synthesize_speech(self, engine, request, output, context):
        import wave

        from ministudio.jobs import SpeechResult

        self.spoken += 1
        with wave.open(str(output), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(16000)
            tone = (np.sin(np.arange(8000) / 5) * 8000).astype("<i2")
            out.writeframes(tone.tobytes())
        return SpeechResult(path=output, duration=0.5)


def test_an_engine_revision_redoes_what_the_old_one_stored(store, tmp_path: Path) -> None:
    """A plugin that fixed its requests bumps ``revision``: lines stored before are spoken
    again, once; at an unchanged revision they come from the store."""
    voices = Voices()

    def go(out: str) -> None:
        host = PluginHost()
        host.register(voices, "voices")
        render(
            tiny_production(routing={"speech": "voices"}), tmp_path / out, host=host, store=store
        )

    go("a")
    lines = voices.spoken
    assert lines >= 2
    go("b")
    assert voices.spoken == lines
    voices.revision = 1
    go("c")
    go("d")
    assert voices.spoken == 2 * lines
