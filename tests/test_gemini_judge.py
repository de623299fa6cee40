"""The Gemini vision judge (engine ``gemini-judge`` in ministudio-provider-veo) against the
loopback fake of Google's APIs (tests/fakes/google_server.py), through the real google-genai
SDK: verdicts per character and per shot in a render's manifest, what the request carries,
what it costs, keys, passing failures, answers that are not verdicts, and the fake's checks."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from ministudio.engines import EngineContext, Judging
from ministudio.errors import EngineError, EngineRefusal, MissingKeyError, TransientError
from ministudio.jobs import CharacterBrief, EnvironmentBrief, LineBrief, QCVerdict, ShotPrompt
from ministudio.plugins import PluginHost
from ministudio.remote.pacing import RetryPolicy
from ministudio.run.manifest import Manifest
from ministudio.run.render import RenderError, RenderOptions, render
from ministudio.run.store import ContentStore
from ministudio.spec import Production
from PIL import Image

from .fakes.google_server import JUDGE_FAIL_SCORE, JUDGE_PASS_SCORE, GoogleServer

genai = pytest.importorskip("google.genai")
from google.genai import errors, types  # noqa: E402
from ministudio_veo import judge as vision  # noqa: E402

KEY = "gemini-judge-SECRET-4b7e21"
JUDGE = "gemini-judge"
RED, YELLOW, GREEN = (200, 30, 30), (230, 200, 40), (40, 160, 60)


@pytest.fixture
def server() -> Iterator[GoogleServer]:
    with GoogleServer(api_key=KEY, fault_retry_after=0.05) as s:
        yield s


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vision, "BACKOFF", 0.01)


def judge_env(server: GoogleServer, key: str | None = KEY) -> dict[str, str]:
    env = {"GEMINI_BASE_URL": server.base_url}
    return {**env, "GEMINI_API_KEY": key} if key else env


def picture(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (96, 96)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


# -- films ----------------------------------------------------------------------------------
def film(tmp_path: Path, qc: dict[str, Any] | None = None, **options: Any) -> Production:
    """Two 2 s animatic shots: Ann and Bo in the park, then the park alone."""
    ann = picture(tmp_path / "ann.png", RED, (1600, 1200))
    bo = picture(tmp_path / "bo.jpg", YELLOW)
    park = picture(tmp_path / "park.png", GREEN)
    data: dict[str, Any] = {
        "title": "Judged",
        "format": {"aspect_ratio": "16:9", "resolution": "480p", "fps": 24},
        "characters": {
            "ann": {"name": "Ann", "dna": "a woman, red coat", "reference_images": [ann]},
            "bo": {"name": "Bo", "dna": "a boy, yellow T-shirt", "reference_images": [bo]},
        },
        "environments": {
            "park": {
                "description": "a green park with trees",
                "lighting": "day",
                "reference_images": [park],
            }
        },
        "scenes": [
            {
                "id": "one",
                "environment": "park",
                "shots": [
                    {
                        "id": "meet",
                        "action": "Ann waves",
                        "characters": ["ann", "bo"],
                        "duration": 2,
                    },
                    {"id": "empty", "action": "Leaves fall", "duration": 2},
                ],
            }
        ],
        "routing": {"video": "animatic", "options": {JUDGE: options} if options else {}},
    }
    if qc is not None:
        data["qc"] = qc
    return Production.model_validate(data)


def render_film(production: Production, tmp_path: Path, env: dict[str, str]) -> Manifest:
    return render(
        production,
        tmp_path / "out",
        host=PluginHost(env={}),
        store=ContentStore(tmp_path / "store"),
        env=env,
        options=RenderOptions(retry=RetryPolicy(attempts=3, base=0.02, cap=0.2)),
    )


def judged(manifest: Manifest, shot: str) -> dict[str, QCVerdict]:
    """The judge's verdicts on one shot, by check name."""
    record = next(s for s in manifest.shots if s.id == shot)
    return {v.check: v for v in record.qc if v.check.startswith(("identity:", "continuity"))}


def test_verdicts_per_character_and_per_shot_land_in_the_manifest(
    tmp_path: Path, server: GoogleServer
) -> None:
    manifest = render_film(film(tmp_path, {"judge": JUDGE}), tmp_path, judge_env(server))
    meet, empty = judged(manifest, "meet"), judged(manifest, "empty")
    assert sorted(meet) == ["continuity", "identity:Ann", "identity:Bo"]
    assert sorted(empty) == ["continuity"]  # no one in the shot: no identity verdict
    assert all(v.passed and v.score == JUDGE_PASS_SCORE for v in [*meet.values(), *empty.values()])
    assert (
        meet["identity:Bo"].reason
        == "bo matches the reference images and the description in every frame."
    )
    assert len(server.judge_requests) == 2 and not any(r.error for r in server.judge_requests)
    saved = json.loads((tmp_path / "out" / "manifest.json").read_text())
    checks = {v["check"] for v in saved["shots"][0]["qc"]}
    assert {"identity:Ann", "identity:Bo", "continuity"} <= checks
    assert KEY not in (tmp_path / "out" / "manifest.json").read_text()


def test_a_failing_identity_is_reported_with_the_judges_reason(
    tmp_path: Path, server: GoogleServer
) -> None:
    why = "Frames 2 to 4: Bo wears a blue jumper, not a yellow T-shirt, and looks older."
    server.judge_failures["bo"] = why
    manifest = render_film(
        film(tmp_path, {"judge": JUDGE, "retakes": 0}), tmp_path, judge_env(server)
    )
    meet = judged(manifest, "meet")
    bo = meet["identity:Bo"]
    assert (bo.passed, bo.score, bo.reason) == (False, JUDGE_FAIL_SCORE, why)
    assert meet["identity:Ann"].passed and meet["continuity"].passed


def test_a_clip_is_judged_and_paid_for_once(tmp_path: Path, server: GoogleServer) -> None:
    production = film(tmp_path, {"judge": JUDGE})
    first = render_film(production, tmp_path, judge_env(server))
    asked = len(server.judge_requests)
    again = render_film(production, tmp_path, judge_env(server))
    assert len(server.judge_requests) == asked == 2  # the second render reuses the verdicts
    assert judged(again, "meet") == {
        name: v.model_copy(update={"cost": 0.0}) for name, v in judged(first, "meet").items()
    }
    assert first.cost > 0 and again.cost == 0.0


def test_a_failing_verdict_gets_the_shot_retaken(tmp_path: Path, server: GoogleServer) -> None:
    server.judge_failures["bo"] = "Bo is missing from every frame."
    production = film(tmp_path, {"judge": JUDGE, "retakes": 1, "ladder": ["seed"]})
    manifest = render_film(production, tmp_path, judge_env(server))
    meet = next(s for s in manifest.shots if s.id == "meet")
    assert [t.rung for t in meet.takes] == ["first", "seed"]
    assert all(
        any(v.check == "identity:Bo" and not v.passed for v in t.qc) for t in meet.takes
    )  # the judge looked at each take
    assert meet.takes[0].seed != meet.takes[1].seed
    assert meet.retakes_stopped == "all 1 retakes were used"
    assert len(server.judge_requests) == 3  # two takes of "meet", one of "empty"


def test_the_request_carries_frames_references_dna_and_a_schema(
    tmp_path: Path, server: GoogleServer
) -> None:
    render_film(film(tmp_path, {"judge": JUDGE}, frames=3), tmp_path, judge_env(server))
    request = next(r for r in server.judge_requests if "Ann" in r.text)
    assert request.model == "gemini-3.8-flash" and request.backend == "gemini"
    # the place's reference, Ann's, Bo's, then the three frames: every one a JPEG <= 768 px
    assert [mime for mime, _ in request.images] == ["image/jpeg"] * 6
    pictures = [Image.open(io.BytesIO(data)) for _, data in request.images]
    assert all(max(p.size) <= vision.LONG_SIDE for p in pictures)
    assert pictures[1].size == (768, 576)  # Ann's 1600x1200 reference, scaled down
    colours = [np.asarray(p.convert("RGB"), dtype=float).mean(axis=(0, 1)) for p in pictures[:3]]
    for colour, expected in zip(colours, (GREEN, RED, YELLOW), strict=True):
        assert np.abs(colour - expected).max() < 8
    assert pictures[3].size == (768, 432)  # an 854x480 frame
    text = request.text
    for words in ("a woman, red coat", "a boy, yellow T-shirt", "a green park with trees"):
        assert words in text
    assert "Ann waves" in text and "day" in text and "Frame 3 of 3" in text
    assert "continuity supervisor" in request.system_instruction
    generation = request.body["generationConfig"]
    assert generation["responseMimeType"] == "application/json"
    schema = generation["responseJsonSchema"]
    assert list(schema["properties"]) == ["identity", "continuity"]
    assert list(schema["properties"]["identity"]["properties"]) == ["ann", "bo"]


def test_the_cost_comes_from_the_usage_metadata(tmp_path: Path, server: GoogleServer) -> None:
    manifest = render_film(film(tmp_path, {"judge": JUDGE}), tmp_path, judge_env(server))
    meet = judged(manifest, "meet")
    request = next(r for r in server.judge_requests if "Ann" in r.text)
    usage = request.usage
    per_input, per_output = vision.price("gemini-3.8-flash")
    expected = usage["promptTokenCount"] * per_input
    expected += (usage["candidatesTokenCount"] + usage["thoughtsTokenCount"]) * per_output
    assert meet["continuity"].cost == pytest.approx(round(expected, 6)) and expected > 0
    assert meet["identity:Ann"].cost == meet["identity:Bo"].cost == 0.0


def test_prices_follow_the_launch_offer_and_unknown_models_cost_the_default() -> None:
    from datetime import date

    assert vision.price("gemini-3.8-flash", date(2026, 12, 31)) == (0.75e-6, 3.75e-6)
    assert vision.price("gemini-3.8-flash", date(2027, 1, 1)) == (1.50e-6, 7.50e-6)
    assert vision.price("gemini-3.5-flash-lite", date(2026, 12, 31)) == (0.30e-6, 2.50e-6)
    assert vision.price("gemini-9-mystery", date(2027, 6, 1)) == (1.50e-6, 7.50e-6)


def test_a_missing_key_names_the_variable_and_the_keys_command(
    tmp_path: Path, server: GoogleServer
) -> None:
    # found while planning: before any shot is rendered (and paid for)
    with pytest.raises(MissingKeyError) as info:
        render_film(film(tmp_path, {"judge": JUDGE}), tmp_path, judge_env(server, key=None))
    text = str(info.value)
    assert "GEMINI_API_KEY" in text and f"ministudio keys set {JUDGE}" in text
    assert not server.judge_requests and not (tmp_path / "out" / "film.mp4").exists()


def test_a_refused_key_is_named_and_never_shown(tmp_path: Path, server: GoogleServer) -> None:
    wrong = "wrong-judge-key-7731c0"
    with pytest.raises(RenderError) as info:
        render_film(film(tmp_path, {"judge": JUDGE}), tmp_path, judge_env(server, key=wrong))
    text = str(info.value)
    assert "GEMINI_API_KEY" in text and "refused" in text and wrong not in text
    assert wrong not in (tmp_path / "out" / "manifest.json").read_text()


def test_a_429_then_an_answer(tmp_path: Path, server: GoogleServer) -> None:
    server.fail_next("judge", "429")
    manifest = render_film(film(tmp_path, {"judge": JUDGE}), tmp_path, judge_env(server))
    assert sorted(judged(manifest, "meet")) == ["continuity", "identity:Ann", "identity:Bo"]
    assert server.rejected["injected"] == 1
    calls = [path for method, path in server.requests if path.endswith(":generateContent")]
    assert len(calls) == 3 and len(server.judge_requests) == 2  # the 429 is not recorded


def test_no_judge_no_request(tmp_path: Path, server: GoogleServer) -> None:
    manifest = render_film(film(tmp_path), tmp_path, judge_env(server))
    assert not judged(manifest, "meet") and not server.requests


# -- the judge on its own: one shot, one clip -----------------------------------------------
@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1 s 24 fps clip, 320x180, growing lighter."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for i in range(24):
            frame = av.VideoFrame.from_ndarray(
                np.full((180, 320, 3), 40 + 8 * i, np.uint8), format="rgb24"
            )
            frame.pts, frame.time_base = i, Fraction(1, 24)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def shot(tmp_path: Path, action: str = "Ann waves") -> ShotPrompt:
    ann = CharacterBrief(
        id="ann",
        name="Ann",
        dna="a woman, red coat",
        reference_images=(picture(tmp_path / "ann.png", RED),),
    )
    return ShotPrompt(
        shot_id="s1",
        scene_id="one",
        index=0,
        action=action,
        shot_size="wide",
        camera_move="static",
        characters=(ann,),
        environment=EnvironmentBrief(id="park", description="a park", lighting="day"),
    )


def ask(
    server: GoogleServer, tmp_path: Path, clip: Path, action: str = "Ann waves", **options: Any
) -> list[QCVerdict]:
    context = EngineContext(engine=JUDGE, work_dir=tmp_path, env=judge_env(server))
    return vision.judge(shot(tmp_path, action), clip, Judging(JUDGE, context, options))


def test_frames_are_spread_through_the_clip(
    tmp_path: Path, server: GoogleServer, clip: Path
) -> None:
    ask(server, tmp_path, clip, frames=4)
    frames = server.judge_requests[-1].images[-4:]
    lightness = [np.asarray(Image.open(io.BytesIO(data))).mean() for _, data in frames]
    # frames 3, 9, 15 and 21 of 24 (at 0.125, 0.375, 0.625, 0.875 s)
    assert lightness == pytest.approx([40 + 8 * i for i in (3, 9, 15, 21)], abs=3)


def test_only_its_own_engine_is_answered(tmp_path: Path, clip: Path) -> None:
    import ministudio_veo

    context = EngineContext(engine="other", work_dir=tmp_path, env={})
    assert ministudio_veo.qc_check(shot=shot(tmp_path), clip=clip, judge=None) is None
    other = Judging("other-judge", context)
    assert ministudio_veo.qc_check(shot=shot(tmp_path), clip=clip, judge=other) is None


def test_passing_failures_are_tried_again_then_given_up(
    tmp_path: Path, server: GoogleServer, clip: Path, fast_backoff: None
) -> None:
    server.fail_next("judge", "500")
    server.fail_next("judge", "drop")
    server.fail_next("judge", "503")
    assert [v.check for v in ask(server, tmp_path, clip)] == ["identity:Ann", "continuity"]
    server.fail_next("judge", "429", count=vision.ATTEMPTS)
    with pytest.raises(TransientError, match=r"HTTP 429 RESOURCE_EXHAUSTED.*after 4 tries") as info:
        ask(server, tmp_path, clip)
    assert info.value.retry_after == pytest.approx(0.05)
    assert "render again" in str(info.value)


@pytest.mark.parametrize(
    ("answer", "finish", "error", "words"),
    [
        ("the shot looks fine", "STOP", EngineError, "not JSON"),
        (
            '{"identity": {"ann": {"reason": "ok", "score": 0.9, "passed": true}}',
            "MAX_TOKENS",
            EngineError,
            "cut off",
        ),
        (
            {"continuity": {"reason": "ok", "score": 0.9, "passed": True}},
            "STOP",
            EngineError,
            "'identity'",
        ),
        (
            {
                "identity": {"ann": {"reason": "ok", "score": 1.5, "passed": True}},
                "continuity": {"reason": "ok", "score": 0.9, "passed": True},
            },
            "STOP",
            EngineError,
            "'identity.ann.score' is 1.5",
        ),
        (
            {
                "identity": {"ann": {"reason": "", "score": 0.5, "passed": True}},
                "continuity": {"reason": "ok", "score": 0.9, "passed": "yes"},
            },
            "STOP",
            EngineError,
            "'identity.ann.reason'",
        ),
        (None, "SAFETY", EngineRefusal, "refused to judge the shot (SAFETY)"),
        (None, "STOP", EngineError, "holds no text"),
    ],
)
def test_answers_that_are_not_verdicts_are_typed_errors(
    tmp_path: Path,
    server: GoogleServer,
    clip: Path,
    answer: Any,
    finish: str,
    error: type[Exception],
    words: str,
) -> None:
    server.script_judge(answer, finish_reason=finish)
    with pytest.raises(error) as info:
        ask(server, tmp_path, clip)
    assert words in str(info.value) and str(info.value).startswith(f"{JUDGE}: ")


def test_a_blocked_request_is_a_refusal(tmp_path: Path, server: GoogleServer, clip: Path) -> None:
    with pytest.raises(EngineRefusal, match=r"blocked the judge.s request \(PROHIBITED_CONTENT"):
        ask(server, tmp_path, clip, action="Ann does something forbidden")
    assert server.judge_requests[-1].blocked


def test_options_are_checked_before_anything_is_sent(
    tmp_path: Path, server: GoogleServer, clip: Path
) -> None:
    for options, words in (
        ({"frames": 0}, "frames must be a whole number from 1 to 16"),
        ({"frames": True}, "frames must be"),
        ({"model": ""}, "model must be a model id"),
        ({"temperature": 0}, "unknown option temperature"),
    ):
        with pytest.raises(EngineError, match=words):
            ask(server, tmp_path, clip, **options)
    assert not server.requests


def test_an_unknown_model_says_which_option_to_set(
    tmp_path: Path, server: GoogleServer, clip: Path
) -> None:
    with pytest.raises(EngineError, match=f"routing.options.{JUDGE}.model") as info:
        ask(server, tmp_path, clip, model="gemini-1.0-pro-vision")
    assert "gemini-1.0-pro-vision" in str(info.value) and "404" in str(info.value)


def test_a_missing_key_is_raised_before_any_work(tmp_path: Path, clip: Path) -> None:
    context = EngineContext(engine=JUDGE, work_dir=tmp_path, env={})
    with pytest.raises(MissingKeyError) as info:
        vision.judge(shot(tmp_path), clip, Judging(JUDGE, context))
    assert "GEMINI_API_KEY" in str(info.value) and f"ministudio keys set {JUDGE}" in str(info.value)


# -- the fake's checks, through the SDK -----------------------------------------------------
JPEG = vision.jpeg(Image.new("RGB", (8, 8), RED))
SCHEMA = {"type": "object", "properties": {"continuity": vision._verdict_schema("consistent?")}}


def test_the_fake_checks_a_judge_request_as_the_api_would(server: GoogleServer) -> None:
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=server.base_url))
    image = types.Part.from_bytes(data=JPEG, mime_type="image/jpeg")

    def call(parts: list[Any], model: str = "gemini-3.8-flash", **config: Any) -> Any:
        settings = {"response_mime_type": "application/json", "response_json_schema": SCHEMA}
        return client.models.generate_content(
            model=model, contents=parts, config={**settings, **config}
        )

    answer = call(["Judge this frame:", image])
    assert json.loads(answer.text)["continuity"]["passed"] is True
    usage = answer.usage_metadata
    assert usage.prompt_token_count > 258 and usage.thoughts_token_count > 0
    cases = [
        (
            ["Judge:", types.Part.from_bytes(data=JPEG, mime_type="image/gif")],
            {},
            "Unsupported MIME",
        ),
        (
            ["Judge:", types.Part.from_bytes(data=JPEG, mime_type="image/png")],
            {},
            "Unable to process",
        ),
        (["Judge:", image], {"response_mime_type": "text/plain"}, "responseMimeType"),
        (["Judge:", image], {"response_json_schema": None}, "Exactly one of"),
        (
            ["Judge:", image],
            {"response_schema": {"type": "OBJECT", "properties": {}}},
            "Exactly one",
        ),
        (
            ["Judge:", types.Part.from_uri(file_uri="https://x/files/abc", mime_type="image/png")],
            {},
            "no uploaded files",
        ),
    ]
    for parts, config, words in cases:
        with pytest.raises(errors.ClientError, match=words) as info:
            call(parts, **config)
        assert (info.value.code, info.value.status) == (400, "INVALID_ARGUMENT")
    with pytest.raises(errors.ClientError) as info:
        call(["Judge:", image], model="gemini-1.0-pro-vision")
    assert (info.value.code, info.value.status) == (404, "NOT_FOUND")
    assert [bool(r.error) for r in server.judge_requests] == [False] + [True] * 7


# -- lips: the shot's voice -----------------------------------------------------------------
RATE = 16_000


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s of mono 16 kHz on the clip's timeline: silence, a 220 Hz line from 0.25 to 0.75 s."""
    import wave

    t = np.arange(RATE) / RATE
    samples = np.where((t >= 0.25) & (t < 0.75), 0.5 * np.sin(2 * np.pi * 220 * t), 0.0)
    path = tmp_path_factory.mktemp("voice") / "voice.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


def lines_shot(tmp_path: Path) -> ShotPrompt:
    line = LineBrief(speaker="ann", text="Over here!", start=0.25, end=0.75)
    return shot(tmp_path).model_copy(update={"lines": (line,)})


def ask_lips(
    server: GoogleServer, tmp_path: Path, clip: Path, voice: Path | None
) -> list[QCVerdict]:
    context = EngineContext(engine=JUDGE, work_dir=tmp_path, env=judge_env(server))
    return vision.judge(lines_shot(tmp_path), clip, Judging(JUDGE, context, {}, voice))


def envelope(samples: np.ndarray, rate: int, step: float = 0.05) -> np.ndarray:
    n = round(rate * step)
    usable = samples[: samples.size // n * n].reshape(-1, n)
    return np.sqrt((usable.astype(float) ** 2).mean(axis=1))


def test_with_a_voice_the_request_carries_the_clip_with_its_sound_and_asks_about_lips(
    tmp_path: Path, server: GoogleServer, clip: Path, voice: Path
) -> None:
    found = ask_lips(server, tmp_path, clip, voice)
    assert [v.check for v in found] == ["identity:Ann", "lipsync:judge", "continuity"]
    lips = found[1]
    assert lips.passed and lips.score == JUDGE_PASS_SCORE and "in time" in lips.reason
    request = server.judge_requests[-1]
    assert not request.error
    # one video, after the frames and before the task that asks about it
    assert len(request.videos) == 1 and request.kinds[-2:] == ["video", "text"]
    video = request.videos[0]
    assert video.mime_type == "video/mp4" and video.fps == 24.0  # videoMetadata.fps
    parts = request.body["contents"][0]["parts"]
    assert [p["videoMetadata"] for p in parts if "videoMetadata" in p] == [{"fps": 24.0}]
    # its picture: the clip's 24 frames, growing lighter, at its size (never scaled up)
    assert len(video.frames) == 24 and video.frames[0].shape == (180, 320, 3)
    lightness = [frame.mean() for frame in video.frames]
    assert lightness == pytest.approx([40 + 8 * i for i in range(24)], abs=4)
    # its sound: the voice, on the clip's timeline (silent, the line from 0.25 to 0.75 s)
    assert video.sound is not None and video.sample_rate == RATE
    heard, said = envelope(video.sound, RATE), envelope(read_voice(voice), RATE)
    size = min(heard.size, said.size)
    assert size >= 19 and np.corrcoef(heard[:size], said[:size])[0, 1] > 0.95
    assert heard[6:14].min() > 0.2 and heard[1:4].max() < 0.02 and heard[16:19].max() < 0.02
    assert video.seconds == pytest.approx(1.0, abs=0.1)
    # the question: in the schema, the task and the system instruction
    schema = request.body["generationConfig"]["responseJsonSchema"]
    assert list(schema["properties"]) == ["identity", "lipsync", "continuity"]
    assert schema["required"] == ["identity", "lipsync", "continuity"]
    assert (
        "lipsync verdict" in request.texts[-1]
        and 'Ann (0.2-0.8 s): "Over here!"' in (request.texts[-1])
    )
    assert "lip sync" in request.system_instruction
    # priced within the call: video and sound tokens are in the usage the continuity carries
    usage = request.usage
    modalities = {d["modality"]: d["tokenCount"] for d in usage["promptTokensDetails"]}
    assert modalities["VIDEO"] == 24 * 70  # 1 s at 24 fps, 70 tokens a frame (Gemini 3)
    assert modalities["AUDIO"] in (32, 33)  # 1 s at 32 a second (AAC pads its last frame)
    per_input, per_output = vision.price("gemini-3.8-flash")
    expected = usage["promptTokenCount"] * per_input
    expected += (usage["candidatesTokenCount"] + usage["thoughtsTokenCount"]) * per_output
    assert found[2].cost == pytest.approx(round(expected, 6)) and lips.cost == 0.0


def read_voice(path: Path) -> np.ndarray:
    from ministudio.media.audio import read_wav

    return read_wav(path)[0]


def test_a_lipsync_answer_can_fail_with_the_judges_reason(
    tmp_path: Path, server: GoogleServer, clip: Path, voice: Path
) -> None:
    why = "0.3-0.7 s: Ann's mouth stays shut while the line is heard."
    server.judge_failures["lipsync"] = why
    lips = {v.check: v for v in ask_lips(server, tmp_path, clip, voice)}["lipsync:judge"]
    assert (lips.passed, lips.score, lips.reason) == (False, JUDGE_FAIL_SCORE, why)
    server.judge_failures.clear()
    server.script_judge(
        {
            "identity": {"ann": {"reason": "ok", "score": 0.9, "passed": True}},
            "continuity": {"reason": "ok", "score": 0.9, "passed": True},
        }
    )  # asked and not answered: the schema is not met
    with pytest.raises(EngineError, match="'lipsync' is missing"):
        ask_lips(server, tmp_path, clip, voice)


def test_without_a_voice_the_request_is_unchanged(
    tmp_path: Path, server: GoogleServer, clip: Path
) -> None:
    found = ask_lips(server, tmp_path, clip, None)
    assert [v.check for v in found] == ["identity:Ann", "continuity"]
    request = server.judge_requests[-1]
    assert not request.videos and set(request.kinds) == {"text", "image"}
    assert "videoMetadata" not in json.dumps(request.body) and "lip" not in request.text
    schema = request.body["generationConfig"]["responseJsonSchema"]
    assert list(schema["properties"]) == ["identity", "continuity"]
    assert "VIDEO" not in json.dumps(request.usage)
    # an answer with a lipsync verdict nobody asked for is not a verdict
    server.script_judge(
        {
            "identity": {"ann": {"reason": "ok", "score": 0.9, "passed": True}},
            "lipsync": {"reason": "ok", "score": 0.9, "passed": True},
            "continuity": {"reason": "ok", "score": 0.9, "passed": True},
        }
    )
    assert [v.check for v in ask_lips(server, tmp_path, clip, None)] == [
        "identity:Ann",
        "continuity",
    ]


def test_a_video_over_the_cap_is_not_sent_and_lips_are_not_asked(
    tmp_path: Path,
    server: GoogleServer,
    clip: Path,
    voice: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ask_lips(server, tmp_path, clip, None)
    without = server.judge_requests[-1].body
    made = vision.lips_video(clip, voice)
    assert made is not None and len(made.data) <= vision.MAX_VIDEO_BYTES
    monkeypatch.setattr(vision, "MAX_VIDEO_BYTES", len(made.data) - 1)
    assert vision.lips_video(clip, voice) is None
    found = ask_lips(server, tmp_path, clip, voice)
    assert [v.check for v in found] == ["identity:Ann", "continuity"]
    assert server.judge_requests[-1].body == without  # the request without a voice


def test_without_usage_metadata_the_video_and_its_sound_are_estimated(
    tmp_path: Path, clip: Path, voice: Path
) -> None:
    brief = lines_shot(tmp_path)
    frames = vision.sample_frames(clip, 2)
    video = vision.lips_video(clip, voice)
    assert video is not None and video.fps == 24.0 and video.size == (320, 180)
    assert vision._even_size(854, 480) == (384, 216)  # a 480p take, at 384 px long side
    assert vision._even_size(1080, 1920) == (216, 384) and vision._even_size(99, 51) == (98, 50)
    plain = vision.request_contents(brief, frames)
    with_video = vision.request_contents(brief, frames, video)
    grown = vision._estimate_prompt(with_video, "gemini-3.8-flash")
    grown -= vision._estimate_prompt(plain, "gemini-3.8-flash")
    # 24 frames at 70 tokens, 1 s of sound at 32 and timestamps at 7, and the video's label
    assert 24 * 70 + 32 + 7 <= grown < 24 * 70 + 32 + 7 + 100
    older = vision._estimate_prompt(with_video, "gemini-2.5-flash")
    assert older - vision._estimate_prompt(plain, "gemini-2.5-flash") >= 24 * 258
    answer = types.GenerateContentResponse(
        candidates=[
            types.Candidate(content=types.Content(role="model", parts=[types.Part(text="{}")]))
        ]
    )
    per_input, _ = vision.price("gemini-3.8-flash")
    assert (
        vision.cost(answer, "gemini-3.8-flash", with_video)
        > vision.cost(answer, "gemini-3.8-flash", plain) + 1700 * per_input * 0.99
    )


def test_the_fake_checks_video_parts_as_the_api_would(
    server: GoogleServer, clip: Path, voice: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .fakes import google_server

    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=server.base_url))
    made = vision.lips_video(clip, voice)
    assert made is not None
    lips_schema = {"type": "object", "properties": {"lipsync": vision._verdict_schema("lips?")}}

    def video(data: bytes = made.data, mime: str = "video/mp4", **meta: Any) -> types.Part:
        metadata = types.VideoMetadata(**meta) if meta else None
        return types.Part(
            inline_data=types.Blob(data=data, mime_type=mime), video_metadata=metadata
        )

    def call(parts: list[Any]) -> Any:
        return client.models.generate_content(
            model="gemini-3.8-flash",
            contents=parts,
            config={"response_mime_type": "application/json", "response_json_schema": lips_schema},
        )

    answer = json.loads(call([video(fps=24.0), "Lips?"]).text)
    assert answer["lipsync"]["passed"] is True
    wav = voice.read_bytes()
    sound = types.Part.from_bytes(data=wav, mime_type="audio/wav")
    silent = json.loads(call([video(fps=0.5), sound, "Lips?"]).text)  # a sound part is fine
    assert silent["lipsync"]["passed"] is True
    recorded = server.judge_requests[-1]
    assert recorded.kinds == ["video", "audio", "text"] and recorded.videos[0].fps == 0.5
    assert recorded.sounds[0].sample_rate == RATE and recorded.sounds[0].seconds == 1.0
    # a video without sound (the bare clip): the fake's judge heard nothing, so lips fail
    no_sound = json.loads(call([video(data=clip.read_bytes()), "Lips?"]).text)
    assert no_sound["lipsync"]["passed"] is False
    cases = [
        ([video(fps=0.0), "Lips?"], "fps must be in"),
        ([video(fps=25.0), "Lips?"], "fps must be in"),
        ([video(mime="video/x-matroska"), "Lips?"], "Unsupported MIME"),
        ([video(data=b"not a video at all"), "Lips?"], "Unable to process input video"),
        ([video(start_offset="2s", end_offset="1s"), "Lips?"], "start_offset must be before"),
        (
            [
                types.Part(
                    inline_data=types.Blob(data=JPEG, mime_type="image/jpeg"),
                    video_metadata=types.VideoMetadata(fps=2.0),
                ),
                "Lips?",
            ],
            "only valid on a video part",
        ),
        ([video() for _ in range(google_server.JUDGE_MAX_VIDEOS + 1)], "Too many videos"),
    ]
    for parts, words in cases:
        with pytest.raises(errors.ClientError, match=words) as info:
            call(parts)
        assert (info.value.code, info.value.status) == (400, "INVALID_ARGUMENT")
    monkeypatch.setattr(google_server, "JUDGE_MAX_REQUEST_BYTES", len(made.data))
    with pytest.raises(errors.ClientError, match="payload size exceeds"):
        call([video(fps=24.0), "Lips?"])  # base64 and JSON make it larger than its bytes
