"""Speech engines: the speech conformance kit (``ministudio.testing.SpeechEngineConformance``)
on the embedded ``espeak`` engine and on ``gemini`` (ministudio-tts) against the loopback fake
Google API (tests/fakes/google_server.py) through the official google-genai SDK; a film whose
characters speak with two Gemini voices and whose audio says the film's lines and nothing
else; and the gemini engine's own cases: the 3.8 models' verbatim transcript with the style in
``speech_metadata``, one part per turn for two speakers, the older models' in-text style, the
declared models, Vertex locations, WAV and PCM answers, errors, answers it must refuse."""

from __future__ import annotations

import struct
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
from ministudio_tts import gemini, models, style, wav

from .fakes.google_server import TTS_MIME, GoogleServer, TtsRequest, tts_samples

KEY = "gemini-conformance-SECRET-9c2d"


class TestEspeakSpeechConformance(SpeechEngineConformance):
    engine_id = "espeak"
    sdk_modules = ("numpy", "espeakng_loader", "pydantic")
    voice = "en-us"

    def plugin(self) -> object:
        from ministudio.engines.espeak import plugin

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

    def test_emotion_reaches_the_engine(  # type: ignore[override]
        self, tmp_path: Path, engine_env: dict[str, str], server: GoogleServer
    ) -> None:
        """The kit compares the audio of a neutral and a happy line; the fake's audio is a
        function of the transcript and the voice only (it ignores speech_metadata.style), and
        with 3.8 the transcript no longer carries the emotion. So the emotion is checked
        where the fake can see it: the same words, a different style, reached Google."""
        host = self.host()
        self.speak(tmp_path, engine_env, self.request(), "neutral", host)
        self.speak(tmp_path, engine_env, self.request(emotion="happy"), "happy", host)
        neutral, happy = server.tts_requests
        assert neutral.transcript == happy.transcript
        assert (neutral.styles, happy.styles) == ([""], ["cheerful"])


# -- helpers ----------------------------------------------------------------------------------


def _voices(record: TtsRequest) -> list[str]:
    """The voices one recorded request asked for, in order."""
    return list(record.speakers.values()) if record.speakers else [record.voice or ""]


def _host() -> PluginHost:
    from ministudio.engines.animatic import plugin as animatic

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
    from ministudio.remote.pacing import RetryPolicy
    from ministudio.run.render import RenderOptions, render
    from ministudio.run.store import ContentStore

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
    spoken = [p for p in store.root.rglob("*.wav") if not p.name.endswith(".voice.wav")]
    stored = sorted(round(_seconds(p), 3) for p in spoken)
    assert sorted(round(line.end - line.start, 3) for line in lines) == pytest.approx(
        stored, abs=0.002
    )
    for shot, line in zip(manifest.shots, lines, strict=True):
        assert shot.duration >= line.end - line.start  # audio first: the shot holds its line
    # What the film says is its lines and nothing else: the fake's transcripts (the text
    # parts it would read aloud) are exactly the lines; the happy line's manner went in
    # speech_metadata, with both voices.
    assert sorted(r.transcript for r in server.tts_requests) == [
        "Only two of them.",
        "The boats are back, Bo!",
    ]
    recorded = {r.transcript: (_voices(r), r.styles) for r in server.tts_requests}
    assert recorded == {
        "The boats are back, Bo!": (["Kore"], ["cheerful"]),
        "Only two of them.": (["Puck"], [""]),
    }
    assert {r.model for r in server.tts_requests} == {models.DEFAULT_MODEL}
    assert {r.mime_type for r in server.tts_requests} == {"audio/wav"}  # 3.8 answers a WAV
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
    assert [r.transcript for r in server.tts_requests[seen:]] == ["Only three of them."]
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


def _parts(record: TtsRequest) -> list[dict[str, Any]]:
    """The text parts of a recorded request's body, as sent."""
    return [part for content in record.body["contents"] for part in content["parts"]]


def test_a_line_is_said_verbatim_with_its_style_in_speech_metadata(
    tmp_path: Path, server: GoogleServer
) -> None:
    """Gemini 3.8 reads its text aloud word for word: the line goes alone, its emotion, pace
    and pitch in speech_metadata.style; nothing 3.8 rejects (temperature, top_p, top_k,
    candidate count, a system instruction) is sent."""
    _speak(tmp_path, _env(server), _line("Over here.", "whispering", rate=120, pitch=20))
    _speak(tmp_path, _env(server), _line("So this is it.", "wistful"), "wistful")
    _speak(tmp_path, _env(server), _line("Is it?", "curious", rate=230, pitch=80), "curious")
    _speak(tmp_path, _env(server), _line("Fine."), "neutral")
    said = [(r.transcript, r.styles) for r in server.tts_requests]
    assert said == [
        ("Over here.", ["whispering, speaking slowly, low pitch"]),
        ("So this is it.", ["wistful"]),
        ("Is it?", ["curious, speaking rapidly, high pitch"]),
        ("Fine.", [""]),
    ]
    assert all(r.error is None for r in server.tts_requests)
    first, *_, neutral = server.tts_requests
    assert _parts(first) == [
        {
            "text": "Over here.",
            "speechMetadata": {"style": "whispering, speaking slowly, low pitch"},
        }
    ]
    assert _parts(neutral) == [{"text": "Fine."}]  # no style: no speech_metadata at all
    for record in server.tts_requests:
        generation = record.body["generationConfig"]
        assert not {"temperature", "topP", "topK", "candidateCount"} & set(generation)
        assert "systemInstruction" not in record.body


def test_two_speakers_are_one_part_per_turn(tmp_path: Path, server: GoogleServer) -> None:
    text = "Ann: Did you hear that?\nBo: Only the wind.\nIt howls here.\nAnn: Let's go."
    request = _line(text, "fearful", options={"speakers": {"Ann": "Kore", "Bo": "puck"}})
    result = _speak(tmp_path, _env(server), request)
    assert result.duration == pytest.approx(_seconds(result.path), abs=1e-6)
    (record,) = server.tts_requests
    assert record.error is None
    assert record.speakers == {"Ann": "Kore", "Bo": "Puck"}  # exactly two, bound to voices
    assert record.turns == [
        ("Ann", "Did you hear that?"),
        ("Bo", "Only the wind.\nIt howls here."),  # a line without a name continues a turn
        ("Ann", "Let's go."),
    ]
    assert "Ann:" not in record.transcript and "Read" not in record.transcript
    assert record.styles == ["fearful"] * 3
    assert [p["speechMetadata"]["speaker"] for p in _parts(record)] == ["Ann", "Bo", "Ann"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Hello.\nAnn: Hi.\nBo: Hey.", "must open with a speaker's turn"),
        ("Ann:\nBo: Hey.", "a turn of 'Ann' is empty"),
    ],
)
def test_a_two_speaker_line_needs_a_speaker_on_every_turn(
    tmp_path: Path, server: GoogleServer, text: str, match: str
) -> None:
    request = _line(text, options={"speakers": {"Ann": "Kore", "Bo": "Puck"}})
    with pytest.raises(EngineError, match=match):
        _speak(tmp_path, _env(server), request)
    assert server.tts_requests == []


@pytest.mark.parametrize("model", ["gemini-2.5-pro-preview-tts", "gemini-3.1-flash-tts-preview"])
def test_older_models_keep_the_style_in_the_text(
    tmp_path: Path, server: GoogleServer, model: str
) -> None:
    """The 2.5 and 3.1 previews refuse speech_metadata (the fake, like Google, answers 400):
    they get the instruction in front of the text, and answer PCM."""
    options = {"model": model}
    _speak(tmp_path, _env(server), _line("Over here.", "whispering", rate=120, options=options))
    duo = {"model": model, "speakers": {"Ann": "Kore", "Bo": "Puck"}}
    text = "Ann: Did you hear that?\nBo: Only the wind."
    _speak(tmp_path, _env(server), _line(text, "fearful", options=duo), "duo")
    one, two = server.tts_requests
    assert (one.error, two.error) == (None, None)
    assert one.transcript == "Say in a whisper and slowly: Over here."
    assert two.transcript == f"Read this conversation between Ann and Bo fearfully:\n{text}"
    assert all("speechMetadata" not in part for r in (one, two) for part in _parts(r))
    assert {one.mime_type, two.mime_type} == {"audio/L16;codec=pcm;rate=24000"}


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
    used = [r.model for r in server.tts_requests]
    assert used == ["gemini-2.5-pro-preview-tts", "gemini-3.8-flash-tts"]


def test_the_models_are_declared_once_with_their_lifecycle() -> None:
    """EngineSpec.models is the one declaration: the default GA 3.8 Flash, the older ids
    deprecated with a 3.8 replacement and no shutdown date (Google announces none)."""
    spec = ministudio_tts.spec()
    assert spec.models is models.MODELS and not hasattr(style, "MODELS")
    stages = {m.id: (m.stage, m.shutdown, m.replacement) for m in spec.models}
    assert stages == {
        "gemini-3.8-flash-tts": ("ga", None, None),
        "gemini-3.8-flash-lite-tts": ("ga", None, None),
        "gemini-3.1-flash-tts-preview": ("deprecated", None, "gemini-3.8-flash-lite-tts"),
        "gemini-2.5-flash-preview-tts": ("deprecated", None, "gemini-3.8-flash-tts"),
        "gemini-2.5-pro-preview-tts": ("deprecated", None, "gemini-3.8-flash-tts"),
        "gemini-2.5-flash-tts": ("ga", None, "gemini-3.8-flash-tts"),
        "gemini-2.5-pro-tts": ("ga", None, "gemini-3.8-flash-tts"),
    }
    assert spec.default_model == "gemini-3.8-flash-tts"
    assert all(m.use for m in spec.models)
    # verbatim (speech_metadata) or in-text style, from the id; later models are verbatim
    in_text = [m.id for m in spec.models if models.in_text_style(m.id)]
    assert all(i.startswith(("gemini-2.5-", "gemini-3.1-")) for i in in_text)
    assert len(in_text) == 5 and not models.in_text_style("gemini-4-flash-tts")


def test_the_google_api_key_variable_works_too(tmp_path: Path, server: GoogleServer) -> None:
    env = {"GEMINI_BASE_URL": server.base_url, "GOOGLE_API_KEY": KEY}
    assert _speak(tmp_path, env, _line()).duration > 0


def test_vertex_express_mode(tmp_path: Path, server: GoogleServer) -> None:
    env = {"VERTEX_BASE_URL": server.base_url, "VERTEX_AI_API_KEY": server.vertex_api_key}
    assert _speak(tmp_path, env, _line()).duration > 0
    assert [(r.backend, r.model) for r in server.tts_requests] == [
        ("express", models.DEFAULT_MODEL)
    ]


def _vertex(server: GoogleServer, **more: str) -> dict[str, str]:
    return {
        "VERTEX_BASE_URL": server.base_url,
        "GOOGLE_CLOUD_PROJECT": "films",
        "VERTEX_AI_ACCESS_TOKEN": server.access_token,
        **more,
    }


def _path(location: str, model: str = models.DEFAULT_MODEL) -> tuple[str, str]:
    return (
        "POST",
        f"/v1beta1/projects/films/locations/{location}/publishers/google/models/{model}"
        ":generateContent",
    )


def test_vertex_without_a_location_goes_to_global(tmp_path: Path, server: GoogleServer) -> None:
    result = _speak(tmp_path, _vertex(server), _line("Hello from the quay.", "happy"))
    assert result.duration > 0
    assert _path("global") in server.requests
    (record,) = server.tts_requests
    assert (record.transcript, record.styles) == ("Hello from the quay.", ["cheerful"])


@pytest.mark.parametrize("location", ["us", "eu", "global"])
def test_gemini_tts_location_wins_over_the_shared_one(
    tmp_path: Path, server: GoogleServer, location: str
) -> None:
    """GOOGLE_CLOUD_LOCATION=us-central1 stays for Veo; GEMINI_TTS_LOCATION is speech's."""
    env = _vertex(server, GOOGLE_CLOUD_LOCATION="us-central1", GEMINI_TTS_LOCATION=location)
    assert _speak(tmp_path, env, _line()).duration > 0
    assert _path(location) in server.requests


@pytest.mark.parametrize("variable", ["GOOGLE_CLOUD_LOCATION", "GEMINI_TTS_LOCATION"])
def test_a_single_region_is_refused_for_a_38_model(
    tmp_path: Path, server: GoogleServer, variable: str
) -> None:
    """The user's region is honoured or refused, loudly and before any request: 3.8 is not
    served at us-central1, and sending it to global behind their back is not ours to do."""
    with pytest.raises(models.LocationRefused) as info:
        _speak(tmp_path, _vertex(server, **{variable: "us-central1"}), _line())
    message = str(info.value)
    assert "us-central1" in message and variable in message
    assert "GEMINI_TTS_LOCATION=global" in message
    assert server.tts_requests == [] and server.requests == []
    assert not isinstance(info.value, TransientError)


def test_an_older_vertex_model_keeps_its_region(tmp_path: Path, server: GoogleServer) -> None:
    env = _vertex(server, GOOGLE_CLOUD_LOCATION="europe-west4")
    request = _line("Hello.", "sad", options={"model": "gemini-2.5-flash-tts"})
    assert _speak(tmp_path, env, request).duration > 0
    assert _path("europe-west4", "gemini-2.5-flash-tts") in server.requests
    (record,) = server.tts_requests
    assert record.transcript == "Say sadly: Hello."


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
    text, audio = models.prices(request.model)
    usage = {
        "prompt_token_count": 10,
        "candidates_token_count": 60,
        "candidates_tokens_details": [{"modality": "AUDIO", "token_count": 50}],
    }
    answer = _answer(candidates=[_candidate()], usage_metadata=usage)
    assert gemini._cost(answer, request, 2.0) == pytest.approx(10 * text + 50 * audio)
    bare = _answer(candidates=[_candidate()])  # no usage: 32 audio tokens a second
    expected = len(request.prompt) / 4 * text + 2.0 * 32 * audio
    assert gemini._cost(bare, request, 2.0) == pytest.approx(expected, abs=1e-6)


def test_prices_per_model_and_day() -> None:
    """Third parties citing Google's pricing page: launch prices through 2026-12-31, doubled
    from 2027-01-01; Flash $0.50 / $9, Flash-Lite $0.50 / $6 per million tokens."""
    import datetime as dt

    december, january = dt.date(2026, 12, 31), dt.date(2027, 1, 1)
    assert models.prices("gemini-3.8-flash-tts", december) == pytest.approx((0.5e-6, 9e-6))
    assert models.prices("gemini-3.8-flash-lite-tts", december) == pytest.approx((0.5e-6, 6e-6))
    assert models.prices("gemini-3.8-flash-tts", january) == pytest.approx((1e-6, 18e-6))
    assert models.prices("gemini-3.8-flash-lite-tts", january) == pytest.approx((1e-6, 12e-6))


def _wav(
    pcm: bytes,
    rate: int = 24000,
    channels: int = 1,
    bits: int = 16,
    tag: int = 1,
    size: int | None = None,
    extra: bytes = b"",
) -> bytes:
    """A WAV file written by hand (so its header can lie)."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    if tag == 0xFFFE:
        fmt += struct.pack("<HHI16s", 22, bits, 4, b"\x01\x00" + b"\x00" * 14)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra
    body += b"data" + struct.pack("<I", len(pcm) if size is None else size) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_wav_answers_are_read_not_wrapped_again() -> None:
    pcm = b"\x01\x02" * 480
    answer = _answer(candidates=[_candidate(_audio_part(_wav(pcm), "audio/wav"))])
    assert gemini._audio(answer) == (pcm, 24000)
    # a WAV at another rate keeps its rate
    answer = _answer(candidates=[_candidate(_audio_part(_wav(pcm, 16000), "audio/wav"))])
    assert gemini._audio(answer) == (pcm, 16000)
    # a WAV labelled as raw PCM is still a WAV (its header is not read as samples)
    labelled = _audio_part(_wav(pcm, 22050), "audio/L16;codec=pcm;rate=24000")
    assert gemini._audio(_answer(candidates=[_candidate(labelled)])) == (pcm, 22050)
    # chunks before the samples (LIST), WAVE_FORMAT_EXTENSIBLE, a streamed header's size
    info = b"LIST" + struct.pack("<I", 5) + b"INFOx\x00"  # odd size, padded
    assert wav.read_wav(_wav(pcm, extra=info)) == (pcm, 24000)
    assert wav.read_wav(_wav(pcm, tag=0xFFFE)) == (pcm, 24000)
    assert wav.read_wav(_wav(pcm, size=0xFFFFFFFF)) == (pcm, 24000)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (_wav(b"\x00\x00" * 100)[:60], "truncated"),
        (_wav(b"\x00\x00" * 100)[:30], "cut short"),
        (_wav(b"\x00\x00" * 100)[:36], "no format or no samples"),
        (b"RIFF\x00\x00\x00\x00WAVEjunk", "no format or no samples"),
        (_wav(b"\x00\x00" * 100, channels=2), "not mono 16-bit"),
        (_wav(b"\x00" * 100, bits=8), "not mono 16-bit"),
        (_wav(b"\x00\x00" * 100, tag=3), "not mono 16-bit PCM"),
        (b"not a wav at all", "no RIFF/WAVE header"),
    ],
)
def test_a_broken_wav_is_a_typed_error(data: bytes, match: str) -> None:
    answer = _answer(candidates=[_candidate(_audio_part(data, "audio/wav"))])
    with pytest.raises(EngineError, match=match) as info:
        gemini._audio(answer)
    assert not isinstance(info.value, (TransientError, EngineRefusal))


@pytest.mark.parametrize("output", ["wav", "pcm"])
def test_both_answer_formats_make_the_same_line(tmp_path: Path, output: str) -> None:
    """Whatever Google answers (a WAV or raw PCM), the line's WAV holds exactly the samples
    the server made, once, and its duration is theirs."""
    with GoogleServer(api_key=KEY, tts_output=output) as fake:
        result = _speak(tmp_path, _env(fake), _line("The tide is turning now."))
        (record,) = fake.tts_requests
    assert record.mime_type == ("audio/wav" if output == "wav" else TTS_MIME)
    assert record.audio[:4] == (b"RIFF" if output == "wav" else record.pcm[:4])
    with wave.open(str(result.path), "rb") as w:
        assert w.readframes(w.getnframes()) == record.pcm  # no header read as samples
    assert result.duration == pytest.approx(record.seconds, abs=1e-6)
    assert result.duration == pytest.approx(tts_samples(record.transcript) / 24000, abs=1e-6)


def test_the_request_for_a_38_model(tmp_path: Path) -> None:
    """What the SDK is given, without a server: one part per turn with speech_metadata, the
    voices as prebuilt voice names, AUDIO only, and nothing 3.8 rejects."""
    text = "Ann: Look!\nBo: Where?"
    decided = style.plan(
        _line(text, "excited", options={"speakers": {"Ann": "Kore", "Bo": "Puck"}})
    )
    contents = gemini._contents(decided)
    assert isinstance(contents, types.Content)
    assert [(p.text, p.speech_metadata) for p in contents.parts or []] == [
        ("Look!", types.SpeechMetadata(speaker="Ann", style="excited")),
        ("Where?", types.SpeechMetadata(speaker="Bo", style="excited")),
    ]
    config = gemini._config(decided)
    assert config.response_modalities == ["AUDIO"]
    assert (config.temperature, config.top_p, config.top_k) == (None, None, None)
    assert config.system_instruction is None and config.candidate_count is None
    sent = config.model_dump(exclude_none=True)["speech_config"]["multi_speaker_voice_config"]
    assert [
        (p["speaker"], p["voice_config"]["prebuilt_voice_config"]["voice_name"])
        for p in sent["speaker_voice_configs"]
    ] == [("Ann", "Kore"), ("Bo", "Puck")]


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


def test_a_retired_model_names_its_replacement(tmp_path: Path) -> None:
    """If Google has turned the previews off (third parties say it has or will; Google has
    announced no date), its 404 names the declared replacement."""
    with GoogleServer(api_key=KEY, retire_older_tts=True) as fake:
        request = _line(options={"model": "gemini-3.1-flash-tts-preview"})
        with pytest.raises(EngineError, match=r"use 'gemini-3\.8-flash-lite-tts'") as info:
            _speak(tmp_path, _env(fake), request)
    assert not isinstance(info.value, (TransientError, EngineRefusal))


def test_a_location_google_does_not_serve_is_a_clear_404(tmp_path: Path) -> None:
    """Under the older docs (3.8 at global only), `us` is a 404: the error says where the
    3.8 models are served."""
    with GoogleServer(api_key=KEY, tts_multiregions=False) as fake:
        env = _vertex(fake, GEMINI_TTS_LOCATION="us")
        with pytest.raises(EngineError, match="served at global, us and eu only"):
            _speak(tmp_path, env, _line())
        assert [r.location for r in fake.tts_requests] == ["us"]
