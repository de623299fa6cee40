"""Speech engines: the speech conformance kit (``ministudio.testing.SpeechEngineConformance``)
on the embedded ``espeak`` engine and on ``gemini`` (ministudio-tts) against the loopback fake
Google API (tests/fakes/google_server.py) through the official google-genai SDK; a film whose
characters speak with two Gemini voices; and the gemini engine's own cases (style
instructions, two speakers, models, Vertex express, errors, answers it must refuse)."""

from __future__ import annotations

import wave
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import anyio
import ministudio_tts
import pytest
from google.genai import types
from ministudio.engines import EngineContext
from ministudio.errors import (
    EngineError,
    EngineRefusal,
    MinistudioError,
    MissingKeyError,
    TransientError,
)
from ministudio.jobs import SpeechRequest, SpeechResult, Voice
from ministudio.plugins import PluginHost
from ministudio.spec import Production
from ministudio.testing import SpeechEngineConformance
from ministudio_tts import gemini, style

from .fakes.google_server import GoogleServer, TtsRequest

KEY = "gemini-conformance-SECRET-9c2d"


class TestEspeakSpeechConformance(SpeechEngineConformance):
    engine_id = "espeak"
    sdk_modules = ("numpy", "espeakng_loader", "pydantic")
    voice = "en-us"

    def plugin(self) -> object:
        from ministudio.espeak import plugin

        return plugin


class GoogleFaults:
    """The kit's fault names on the fake's: ``speech`` is the fake's ``tts``."""

    def __init__(self, server: GoogleServer) -> None:
        self.server = server

    def fail_next(self, endpoint: str, kind: str) -> None:
        self.server.fail_next({"speech": "tts"}.get(endpoint, endpoint), kind)

    @property
    def speech_requests(self) -> int:
        return len(self.server.tts_requests)


@pytest.fixture
def server() -> Iterator[GoogleServer]:
    with GoogleServer(api_key=KEY) as fake:
        yield fake


def _env(server: GoogleServer, **more: str) -> dict[str, str]:
    return {"GEMINI_BASE_URL": server.base_url, "GEMINI_API_KEY": server.api_key, **more}


class TestGeminiSpeechConformance(SpeechEngineConformance):
    engine_id = "gemini"
    sdk_modules = ("google.genai", "httpx", "pydantic")
    engine_limits: ClassVar[Mapping[str, Any]] = {"requests_per_minute": 600}  # Gemini says 10
    voice = "Kore"
    unknown_voice = "Korriban"

    def plugin(self) -> object:
        return ministudio_tts

    @pytest.fixture
    def engine_env(self, server: GoogleServer) -> dict[str, str]:
        return _env(server)

    @pytest.fixture
    def engine_faults(self, server: GoogleServer) -> GoogleFaults:
        return GoogleFaults(server)


# -- helpers ----------------------------------------------------------------------------------


def _voices(record: TtsRequest) -> list[str]:
    """The voices one recorded request asked for, in order."""
    return list(record.speakers.values()) if record.speakers else [record.voice or ""]


def _host() -> PluginHost:
    from ministudio.animatic import plugin as animatic

    host = PluginHost(discover=False)
    host.register(animatic, "animatic")
    host.register(ministudio_tts, "tts")
    return host


def _speak(
    tmp_path: Path, env: Mapping[str, str], request: SpeechRequest, name: str = "line"
) -> SpeechResult:
    context = EngineContext(engine="gemini", work_dir=tmp_path, env=dict(env))
    output = tmp_path / f"{name}.wav"
    return anyio.run(lambda: _host().synthesize_speech("gemini", request, output, context))


def _line(text: str = "Hello there.", emotion: str = "neutral", **voice: Any) -> SpeechRequest:
    return SpeechRequest(text=text, voice=Voice(**{"voice": "Kore", **voice}), emotion=emotion)


def _seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
        return w.getnframes() / w.getframerate()


# -- a film -----------------------------------------------------------------------------------


def test_a_film_speaks_with_two_gemini_voices(tmp_path: Path, server: GoogleServer) -> None:
    from ministudio.media.probe import probe
    from ministudio.remote import RetryPolicy
    from ministudio.render import RenderOptions, render
    from ministudio.store import ContentStore

    film = Production.model_validate(
        {
            "title": "Harbour",
            "format": {"aspect_ratio": "16:9", "resolution": "480p", "fps": 24},
            "characters": {
                "ann": {
                    "name": "Ann",
                    "dna": "a woman, red coat",
                    "voice": {"engine": "gemini", "voice": "Kore"},
                },
                "bo": {
                    "name": "Bo",
                    "dna": "a boy, yellow T-shirt",
                    "voice": {"engine": "gemini", "voice": "Puck"},
                },
            },
            "environments": {"quay": {"description": "a stone quay", "lighting": "dawn"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "quay",
                    "shots": [
                        {
                            "id": "hello",
                            "action": "Ann waves",
                            "dialogue": [
                                {
                                    "speaker": "ann",
                                    "text": "The boats are back, Bo!",
                                    "emotion": "happy",
                                }
                            ],
                        },
                        {
                            "id": "reply",
                            "action": "Bo looks at the sea",
                            "dialogue": [{"speaker": "bo", "text": "Only two of them."}],
                        },
                    ],
                }
            ],
            "routing": {"video": "animatic"},
        }
    )
    store = ContentStore(tmp_path / "store")
    manifest = render(film, tmp_path / "out", host=_host(), store=store, env=_env(server))

    assert probe(tmp_path / "out" / "film.mp4").has_audio
    lines = [line for shot in manifest.shots for line in shot.lines]
    assert [line.engine for line in lines] == ["gemini", "gemini"]
    # each line lasts as long as the PCM the fake answered (kept in the store as a WAV)
    stored = sorted(round(_seconds(p), 3) for p in store.root.rglob("*.wav"))
    assert sorted(round(line.end - line.start, 3) for line in lines) == pytest.approx(
        stored, abs=0.002
    )
    for shot, line in zip(manifest.shots, lines, strict=True):
        assert shot.duration >= line.end - line.start  # audio first: the shot holds its line
    # the fake saw both voices, and the happy line's style instruction
    recorded = {r.text: _voices(r) for r in server.tts_requests}
    assert recorded == {
        "Say cheerfully: The boats are back, Bo!": ["Kore"],
        "Only two of them.": ["Puck"],
    }
    assert {r.model for r in server.tts_requests} == {style.DEFAULT_MODEL}
    assert all(line.cost > 0 for line in lines)  # what each line cost is in the manifest
    assert manifest.cost == pytest.approx(sum(line.cost for line in lines), abs=1e-4)

    # A new line, a 429 then a 503 from Gemini: the core waits and asks again; the other
    # line comes from the store, free.
    data = film.model_dump()
    data["scenes"][0]["shots"][1]["dialogue"][0]["text"] = "Only three of them."
    retry = RenderOptions(retry=RetryPolicy(attempts=4, base=0.02, cap=0.1))
    seen = len(server.tts_requests)
    server.fail_next("tts", "429")
    server.fail_next("tts", "503")
    again = render(
        Production.model_validate(data),
        tmp_path / "again",
        host=_host(),
        store=store,
        env=_env(server),
        options=retry,
    )
    assert [r.text for r in server.tts_requests[seen:]] == ["Only three of them."]
    first, second = (shot.lines[0] for shot in again.shots)
    assert first.cached and first.cost == 0 and not second.cached and second.cost > 0

    # The routing's options for the engine reach it: another model speaks both lines again.
    data["routing"]["options"] = {"gemini": {"model": "gemini-3.8-flash-lite-tts"}}
    seen = len(server.tts_requests)
    render(
        Production.model_validate(data),
        tmp_path / "lite",
        host=_host(),
        store=store,
        env=_env(server),
        options=retry,
    )
    assert {r.model for r in server.tts_requests[seen:]} == {"gemini-3.8-flash-lite-tts"}
    assert len(server.tts_requests) - seen == 2


# -- the gemini engine's own cases -----------------------------------------------------------


def test_styles_become_an_instruction(tmp_path: Path, server: GoogleServer) -> None:
    _speak(tmp_path, _env(server), _line("Over here.", "whispering", rate=120, pitch=20))
    _speak(tmp_path, _env(server), _line("So this is it.", "wistful"), "wistful")
    texts = [r.text for r in server.tts_requests]
    assert texts == [
        "Say in a whisper, slowly and in a low voice: Over here.",
        "Say in a wistful tone: So this is it.",
    ]


def test_two_speakers_share_one_line(tmp_path: Path, server: GoogleServer) -> None:
    text = "Ann: Did you hear that?\nBo: Only the wind."
    request = _line(text, "fearful", options={"speakers": {"Ann": "Kore", "Bo": "puck"}})
    result = _speak(tmp_path, _env(server), request)
    assert result.duration == pytest.approx(_seconds(result.path), abs=1e-6)
    (record,) = server.tts_requests
    assert _voices(record) == ["Kore", "Puck"]
    assert record.text == f"Read this conversation between Ann and Bo fearfully:\n{text}"


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"speakers": {"Ann": "Kore"}}, "2 names"),
        ({"speakers": {"Ann": "Kore", "Cy": "Puck"}}, "speaker 'Cy' never speaks"),
        ({"speakers": {"Ann": "Kore", "Bo": "Nobody"}}, "unknown voice 'Nobody'"),
        ({"pitch_shift": 3}, "unknown voice option"),
        ({"model": 5}, "model"),
    ],
)
def test_bad_voices_fail_before_any_request(
    tmp_path: Path, server: GoogleServer, options: dict[str, Any], match: str
) -> None:
    request = _line("Ann: Hi.\nBo: Hello.", options=options)
    with pytest.raises(EngineError, match=match):
        _speak(tmp_path, _env(server), request)
    assert server.tts_requests == []


def test_an_unknown_voice_suggests_a_close_one() -> None:
    with pytest.raises(EngineError, match="did you mean Kore"):
        style.voice_name("Koree")
    assert style.voice_name("zubenelgenubi") == "Zubenelgenubi"


def test_the_model_is_a_voice_option(tmp_path: Path, server: GoogleServer) -> None:
    _speak(tmp_path, _env(server), _line(options={"model": "gemini-2.5-pro-preview-tts"}))
    _speak(tmp_path, _env(server), _line(), "default")
    models = [r.model for r in server.tts_requests]
    assert models == ["gemini-2.5-pro-preview-tts", "gemini-3.8-flash-tts"]


def test_the_google_api_key_variable_works_too(tmp_path: Path, server: GoogleServer) -> None:
    env = {"GEMINI_BASE_URL": server.base_url, "GOOGLE_API_KEY": KEY}
    assert _speak(tmp_path, env, _line()).duration > 0


def test_vertex_express_mode(tmp_path: Path, server: GoogleServer) -> None:
    env = {"VERTEX_BASE_URL": server.base_url, "VERTEX_AI_API_KEY": server.vertex_api_key}
    assert _speak(tmp_path, env, _line()).duration > 0
    assert [(r.backend, r.model) for r in server.tts_requests] == [("express", style.DEFAULT_MODEL)]


def test_vertex_project_mode_with_an_access_token(tmp_path: Path, server: GoogleServer) -> None:
    env = {
        "VERTEX_BASE_URL": server.base_url,
        "GOOGLE_CLOUD_PROJECT": "films",
        "GOOGLE_CLOUD_LOCATION": "europe-west4",
        "VERTEX_AI_ACCESS_TOKEN": server.access_token,
    }
    assert _speak(tmp_path, env, _line()).duration > 0
    assert (
        "POST",
        "/v1beta1/projects/films/locations/europe-west4/publishers/google/models/"
        f"{style.DEFAULT_MODEL}:generateContent",
    ) in server.requests


def test_vertex_project_mode_with_a_service_account(tmp_path: Path, server: GoogleServer) -> None:
    import json

    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(server.service_account_info()))
    env = {
        "VERTEX_BASE_URL": server.base_url,
        "GOOGLE_CLOUD_PROJECT": "films",
        "GOOGLE_APPLICATION_CREDENTIALS": str(key_file),
    }
    assert _speak(tmp_path, env, _line()).duration > 0
    assert len(server.tokens_issued) == 1


def test_a_refused_vertex_token_names_the_credentials(tmp_path: Path, server: GoogleServer) -> None:
    env = {
        "VERTEX_BASE_URL": server.base_url,
        "GOOGLE_CLOUD_PROJECT": "films",
        "VERTEX_AI_ACCESS_TOKEN": "stale-token-77",
    }
    with pytest.raises(MissingKeyError, match="VERTEX_AI_ACCESS_TOKEN") as info:
        _speak(tmp_path, env, _line())
    assert "stale-token-77" not in str(info.value)


def test_a_blocked_line_is_a_refusal(tmp_path: Path, server: GoogleServer) -> None:
    with pytest.raises(EngineRefusal, match="PROHIBITED_CONTENT"):
        _speak(tmp_path, _env(server), _line("Say the forbidden word."))


def test_no_key_names_every_way_to_authenticate(tmp_path: Path) -> None:
    with pytest.raises(MissingKeyError) as info:
        _speak(tmp_path, {}, _line())
    for name in ("GEMINI_API_KEY", "VERTEX_AI_API_KEY", "GOOGLE_CLOUD_PROJECT"):
        assert name in str(info.value)


def test_a_wrong_key_names_the_variables_and_hides_the_key(
    tmp_path: Path, server: GoogleServer
) -> None:
    wrong = "gemini-WRONG-key-5a1f"
    with pytest.raises(MissingKeyError) as info:
        _speak(tmp_path, {"GEMINI_BASE_URL": server.base_url, "GEMINI_API_KEY": wrong}, _line())
    assert "GEMINI_API_KEY" in str(info.value)
    assert wrong not in str(info.value) and wrong not in repr(info.value)


@pytest.mark.parametrize("kind", ["429", "503"])
def test_passing_failures_carry_the_servers_hint(
    tmp_path: Path, server: GoogleServer, kind: str
) -> None:
    server.fail_next("tts", kind)
    with pytest.raises(TransientError) as info:
        _speak(tmp_path, _env(server), _line())
    assert kind in str(info.value)
    if kind == "429":  # Retry-After (and a RetryInfo detail) from the fake
        assert info.value.retry_after == pytest.approx(server.fault_retry_after)
    assert _speak(tmp_path, _env(server), _line(), "again").duration > 0


def test_a_voice_the_server_rejects_is_a_refusal(
    tmp_path: Path, server: GoogleServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past our own check (a voice Google dropped, say), Google's 400 is an EngineRefusal."""
    monkeypatch.setattr(style, "_BY_LOWER", {**style._BY_LOWER, "nobody": "Nobody"})
    with pytest.raises(EngineRefusal, match="INVALID_ARGUMENT"):
        _speak(tmp_path, _env(server), _line(voice="Nobody"))


# -- answers, without a server ---------------------------------------------------------------


def _answer(**fields: Any) -> types.GenerateContentResponse:
    return types.GenerateContentResponse.model_validate(fields)


def _audio_part(pcm: bytes, mime: str = "audio/L16;codec=pcm;rate=24000") -> dict[str, Any]:
    return {"inline_data": {"mime_type": mime, "data": pcm}}


def _candidate(*parts: dict[str, Any], finish: str = "STOP", **more: Any) -> dict[str, Any]:
    return {"content": {"role": "model", "parts": list(parts)}, "finish_reason": finish, **more}


def test_pcm_answers_are_read_with_their_rate() -> None:
    answer = _answer(candidates=[_candidate(_audio_part(b"\x01\x00" * 10 + b"\x07"))])
    assert gemini._audio(answer) == (b"\x01\x00" * 10, 24000)
    answer = _answer(candidates=[_candidate(_audio_part(b"\x00\x00" * 4, "audio/pcm;rate=16000"))])
    assert gemini._audio(answer) == (b"\x00\x00" * 4, 16000)


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        ({"prompt_feedback": {"block_reason": "PROHIBITED_CONTENT"}}, EngineRefusal, "PROHIBITED"),
        (
            {"candidates": [_candidate(finish="SAFETY", finish_message="unsafe")]},
            EngineRefusal,
            "SAFETY: unsafe",
        ),
        ({"candidates": []}, TransientError, "no candidate"),
        ({"candidates": [_candidate({"text": "I can't say that"})]}, TransientError, "no audio"),
        ({"candidates": [_candidate(finish="MAX_TOKENS")]}, EngineError, "too long"),
        (
            {"candidates": [_candidate(_audio_part(b"\x00\x01", "audio/mpeg"))]},
            EngineError,
            "audio/mpeg",
        ),
    ],
)
def test_answers_without_usable_audio_are_typed_errors(
    fields: dict[str, Any], error: type[MinistudioError], match: str
) -> None:
    with pytest.raises(error, match=match) as info:
        gemini._audio(_answer(**fields))
    if error is EngineError:
        assert not isinstance(info.value, (TransientError, EngineRefusal))


def test_cost_comes_from_the_usage_metadata() -> None:
    request = style.plan(_line())
    usage = {
        "prompt_token_count": 10,
        "candidates_token_count": 60,
        "candidates_tokens_details": [{"modality": "AUDIO", "token_count": 50}],
    }
    answer = _answer(candidates=[_candidate()], usage_metadata=usage)
    assert gemini._cost(answer, request, 2.0) == pytest.approx(10 * 0.5e-6 + 50 * 6e-6)
    bare = _answer(candidates=[_candidate()])  # no usage: 25 audio tokens a second
    expected = len(request.prompt) / 4 * 0.5e-6 + 2.0 * 25 * 6e-6
    assert gemini._cost(bare, request, 2.0) == pytest.approx(expected, abs=1e-6)


def test_ministudio_voices_lists_every_speech_engine() -> None:
    """`ministudio voices` shows eSpeak's and Gemini's voices (the installed plugins');
    `ministudio voices gemini` only Gemini's; an unknown engine is an error naming the
    installed ones."""
    from .conftest import run_cli

    every = run_cli("voices")
    assert every.returncode == 0, every.stderr
    lines = every.stdout.splitlines()
    assert any(line.startswith("espeak: ") and "en-us" in line for line in lines)
    assert any(line.startswith("gemini: ") and "Kore" in line for line in lines)
    one = run_cli("voices", "gemini")
    assert one.stdout.startswith("gemini: Zephyr, Puck") and "espeak" not in one.stdout
    unknown = run_cli("voices", "nope")
    assert unknown.returncode != 0 and "espeak, gemini" in unknown.stderr
