"""The Google Veo + Gemini TTS fake (tests/fakes/google_server.py), driven by the real
``google-genai`` SDK (2.x) on the Gemini Developer API, Vertex AI and Vertex express."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.fakes.google_server import (
    CLOUD_PLATFORM,
    EXTENSION_SECONDS,
    RAI_FILTERED_REASON,
    TTS_MIME,
    TTS_RATE,
    GoogleServer,
    tts_pcm_bytes,
    voice_pitch,
)

genai = pytest.importorskip("google.genai")
from google.genai import errors, types  # noqa: E402

TTS_MODEL = "gemini-2.5-flash-preview-tts"
VEO = "veo-3.1-generate-preview"
VERTEX_VEO = "veo-3.1-fast-generate-001"
PNG = types.Image(image_bytes=b"\x89PNG\r\n\x1a\nfake", mime_type="image/png")


@pytest.fixture
def google() -> Iterator[GoogleServer]:
    with GoogleServer(latency=0.1, serve_retired_veo=True) as server:
        yield server


_TLS = ssl.create_default_context()


def http_options(base_url: str, **more: Any) -> Any:
    """``HttpOptions(base_url=...)`` (how a client is pointed at the fake), plus one shared
    TLS context: the SDK otherwise loads the CA bundle three times per Client (~0.15 s)."""
    return types.HttpOptions(
        base_url=base_url, client_args={"verify": _TLS}, async_client_args={"ssl": _TLS}, **more
    )


def gemini(server: GoogleServer, key: str | None = None, **http: Any) -> Any:
    options = http_options(server.gemini_base_url, **http)
    return genai.Client(api_key=key or server.api_key, http_options=options)


def vertex(server: GoogleServer, token: str | None = None, credentials: Any = None) -> Any:
    from google.oauth2.credentials import Credentials

    return genai.Client(
        vertexai=True,
        project="film-proj",
        location="us-central1",
        credentials=credentials or Credentials(token=token or server.access_token),
        http_options=http_options(server.vertex_base_url),
    )


def express(server: GoogleServer) -> Any:
    return genai.Client(
        vertexai=True,
        api_key=server.vertex_api_key,
        http_options=http_options(server.vertex_base_url),
    )


def src(prompt: str) -> Any:
    return types.GenerateVideosSource(prompt=prompt)


def wait_done(client: Any, op: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not op.done:
        assert time.monotonic() < deadline, f"{op.name} still running"
        time.sleep(0.05)
        op = client.operations.get(op)
    return op


def say(text: str, voice: str = "Kore", model: str = TTS_MODEL) -> dict[str, Any]:
    return {
        "model": model,
        "contents": text,
        "config": types.GenerateContentConfig(
            response_modalities=["AUDIO"],
            speech_config=types.SpeechConfig(
                voice_config=types.VoiceConfig(
                    prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=voice)
                )
            ),
        ),
    }


def pcm_of(response: Any) -> np.ndarray:
    part = response.candidates[0].content.parts[0].inline_data
    assert part.mime_type == TTS_MIME
    return np.frombuffer(part.data, "<i2").astype(np.float64)


def pitch(samples: np.ndarray) -> float:
    """The strongest frequency between 60 and 400 Hz."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    freqs = np.fft.rfftfreq(samples.size, 1 / TTS_RATE)
    band = (freqs > 60) & (freqs < 400)
    return float(freqs[band][np.argmax(spectrum[band])])


def probe_bytes(data: bytes, tmp_path: Path, name: str = "clip.mp4") -> Any:
    from ministudio.media.probe import probe

    path = tmp_path / name
    path.write_bytes(data)
    return probe(path)


# -- TTS ------------------------------------------------------------------------------------
def test_tts_single_voice(google: GoogleServer) -> None:
    c = gemini(google)
    text = "Say cheerfully: Have a wonderful day!"
    pcm = pcm_of(c.models.generate_content(**say(text)))
    assert pcm.size * 2 == tts_pcm_bytes(text) == 2 * round(TTS_RATE * len(text) / 15)
    assert np.sqrt(np.mean(pcm**2)) > 1000  # audible, not silence
    assert pitch(pcm) == pytest.approx(voice_pitch("Kore"), abs=5)
    request = google.tts_requests[-1]
    assert (request.backend, request.model, request.text) == ("gemini", TTS_MODEL, text)
    assert request.voice == "Kore" and request.speakers == {}
    assert request.speech_config == {
        "voice_config": {"prebuilt_voice_config": {"voice_name": "Kore"}}
    }

    # a short text still lasts 0.5 s; a plain voice name (the SDK mixes the spellings) works
    short = c.models.generate_content(
        model=TTS_MODEL,
        contents="Hi",
        config=types.GenerateContentConfig(response_modalities=["AUDIO"], speech_config="Puck"),
    )
    assert pcm_of(short).size == TTS_RATE // 2
    assert google.tts_requests[-1].voice == "Puck"
    assert pitch(pcm_of(short)) == pytest.approx(voice_pitch("Puck"), abs=5)

    # Vertex ids have no "preview"
    v = vertex(google)  # keep a reference: a dropped Client closes its HTTP client
    pcm = pcm_of(v.models.generate_content(**say(text, "Charon", "gemini-2.5-flash-tts")))
    assert pcm.size * 2 == tts_pcm_bytes(text)
    assert google.tts_requests[-1].backend == "vertex"


def test_tts_two_speakers_snake_and_camel(google: GoogleServer) -> None:
    text = "Joe: How's it going today, Jane?\nJane: Not too bad, how about you?"
    speakers = [("Joe", "Kore"), ("Jane", "Fenrir")]
    config = types.GenerateContentConfig(
        response_modalities=["AUDIO"],
        speech_config=types.SpeechConfig(
            multi_speaker_voice_config=types.MultiSpeakerVoiceConfig(
                speaker_voice_configs=[
                    types.SpeakerVoiceConfig(
                        speaker=name,
                        voice_config=types.VoiceConfig(
                            prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=voice)
                        ),
                    )
                    for name, voice in speakers
                ]
            )
        ),
    )
    c = gemini(google)
    snake = pcm_of(c.models.generate_content(model=TTS_MODEL, contents=text, config=config))
    assert snake.size * 2 == tts_pcm_bytes(text)
    half = snake.size // 2  # Joe's turn, then Jane's (the turns are about as long)
    assert pitch(snake[: half - 2000]) == pytest.approx(voice_pitch("Kore"), abs=5)
    assert pitch(snake[half + 2000 :]) == pytest.approx(voice_pitch("Fenrir"), abs=5)
    assert google.tts_requests[-1].speakers == dict(speakers)
    assert google.tts_requests[-1].voice is None

    # the REST docs' camelCase spelling, by hand
    body = {
        "contents": [{"parts": [{"text": text}], "role": "user"}],
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "speechConfig": {
                "multiSpeakerVoiceConfig": {
                    "speakerVoiceConfigs": [
                        {"speaker": n, "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": v}}}
                        for n, v in speakers
                    ]
                }
            },
        },
    }
    r = httpx.post(
        f"{google.base_url}/v1beta/models/{TTS_MODEL}:generateContent",
        headers={"x-goog-api-key": google.api_key},
        json=body,
    )
    assert r.status_code == 200
    part = r.json()["candidates"][0]["content"]["parts"][0]["inlineData"]
    assert part["mimeType"] == TTS_MIME
    camel = np.frombuffer(base64.b64decode(part["data"]), "<i2").astype(np.float64)
    assert np.array_equal(camel, snake)
    assert google.tts_requests[-1].speech_config == google.tts_requests[-2].speech_config
    assert r.json()["usageMetadata"]["candidatesTokenCount"] > 0


def test_tts_errors(google: GoogleServer) -> None:
    c = gemini(google)
    with pytest.raises(errors.ClientError) as err:
        c.models.generate_content(**say("Hello there", voice="Bob"))
    assert (err.value.code, err.value.status) == (400, "INVALID_ARGUMENT")
    assert "Bob" in err.value.message
    rejected = google.tts_requests[-1]  # rejected requests are recorded too
    assert rejected.error == err.value.message and rejected.text == "Hello there"
    assert rejected.body["generationConfig"]["responseModalities"] == ["AUDIO"]

    def multi(names: list[str], text: str) -> Any:
        configs = [
            {"speaker": n, "voice_config": {"prebuilt_voice_config": {"voice_name": "Kore"}}}
            for n in names
        ]
        return c.models.generate_content(
            model=TTS_MODEL,
            contents=text,
            config={
                "response_modalities": ["AUDIO"],
                "speech_config": {"multi_speaker_voice_config": {"speaker_voice_configs": configs}},
            },
        )

    with pytest.raises(errors.ClientError, match="does not appear"):
        multi(["Joe", "Ann"], "Joe: hi there")
    with pytest.raises(errors.ClientError, match="exactly 2 speakers"):
        multi(["A", "B", "C"], "A: one. B: two. C: three.")
    with pytest.raises(errors.ClientError, match="response modalities"):
        c.models.generate_content(model=TTS_MODEL, contents="Hello there")
    with pytest.raises(errors.ClientError) as err:
        c.models.generate_content(**say("Hello", model="gemini-2.5-flash-tts"))  # a Vertex id
    assert (err.value.code, err.value.status) == (404, "NOT_FOUND")
    blocked = c.models.generate_content(**say("a forbidden line"))
    assert not blocked.candidates
    assert blocked.prompt_feedback.block_reason == "PROHIBITED_CONTENT"
    assert google.tts_requests[-1].blocked


# -- auth -----------------------------------------------------------------------------------
def test_auth_failures(google: GoogleServer) -> None:
    wrong = gemini(google, key="wrong")
    with pytest.raises(errors.ClientError) as err:
        wrong.models.generate_content(**say("Hello"))
    assert (err.value.code, err.value.status) == (400, "INVALID_ARGUMENT")
    assert err.value.message == "API key not valid. Please pass a valid API key."
    assert err.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    no_key = httpx.get(f"{google.base_url}/v1beta/models/{VEO}/operations/x")
    assert no_key.status_code == 403 and no_key.json()["error"]["status"] == "PERMISSION_DENIED"
    with_query_key = httpx.get(
        f"{google.base_url}/v1beta/models/{VEO}/operations/x?key={google.api_key}"
    )
    assert with_query_key.status_code == 404  # authenticated; no such operation

    expired = vertex(google, token="expired")
    with pytest.raises(errors.ClientError) as err:
        expired.models.generate_videos(model=VERTEX_VEO, source=src("a cat"))
    assert (err.value.code, err.value.status) == (401, "UNAUTHENTICATED")
    wrong_express = genai.Client(
        vertexai=True, api_key="wrong", http_options=http_options(google.base_url)
    )
    with pytest.raises(errors.ClientError) as err:
        wrong_express.models.generate_videos(model=VERTEX_VEO, source=src("a cat"))
    assert (err.value.code, err.value.status) == (400, "INVALID_ARGUMENT")
    missing = httpx.post(
        f"{google.base_url}/v1beta1/projects/p/locations/l/publishers/google/models/"
        f"{VERTEX_VEO}:predictLongRunning",
        json={"instances": [{"prompt": "a cat"}]},
    )
    assert missing.status_code == 401 and "missing" in missing.json()["error"]["message"]
    assert google.submissions == 0


# -- Veo on the Developer API -------------------------------------------------------------
def test_gemini_first_and_last_frame(google: GoogleServer, tmp_path: Path) -> None:
    c = gemini(google)
    op = c.models.generate_videos(
        model=VEO,
        source=types.GenerateVideosSource(prompt="a cat leaps onto a sunlit sill", image=PNG),
        config=types.GenerateVideosConfig(
            last_frame=PNG, duration_seconds=4, aspect_ratio="9:16", resolution="720p"
        ),
    )
    assert op.name.startswith(f"models/{VEO}/operations/") and not op.done
    record = google.operations[op.name]
    assert record.backend == "gemini" and record.state == "running"
    assert set(record.instance) == {"prompt", "image", "lastFrame"}
    assert record.parameters == {"durationSeconds": 4, "aspectRatio": "9:16", "resolution": "720p"}
    assert (record.width, record.height) == (720, 1280)
    assert c.operations.get(op).done is None  # still running: no `done`
    op = wait_done(c, op)
    assert op.error is None and op.response.rai_media_filtered_count == 0
    video = op.response.generated_videos[0].video
    assert video.uri.startswith("https://generativelanguage.googleapis.com/v1beta/files/")
    info = probe_bytes(c.files.download(file=op.response.generated_videos[0]), tmp_path)
    assert info.duration == pytest.approx(4.0, abs=0.1) and info.fps == 24
    assert info.width / info.height == pytest.approx(9 / 16, rel=0.05)
    assert info.has_audio  # Veo 3.x always makes sound on the Gemini API
    assert video.video_bytes  # files.download fills it in too
    # raw REST: the uri with &key= appended, on this server
    raw = httpx.get(google.local_url(video.uri) + f"&key={google.api_key}")
    assert raw.status_code == 200 and raw.content == video.video_bytes
    assert record.state == "succeeded" and record.downloads == 2
    assert google.status_requests >= 2 and google.submissions == 1
    assert google.billed_seconds == 4 and google.billed_usd == pytest.approx(1.6)
    assert ("GET", f"/v1beta/{op.name}") in google.requests

    # extend the clip (the SDK sends only its uri): the answer is about 7 s longer
    more = wait_done(
        c,
        c.models.generate_videos(
            model=VEO, source=types.GenerateVideosSource(prompt="it jumps down", video=video)
        ),
    )
    assert google.operations[more.name].extends == op.name
    assert google.operations[more.name].instance["video"] == {"uri": video.uri}
    longer = probe_bytes(c.files.download(file=more.response.generated_videos[0]), tmp_path)
    assert longer.duration == pytest.approx(4.0 + EXTENSION_SECONDS, abs=0.1)


def test_gemini_v1_routes_and_redirected_download(tmp_path: Path) -> None:
    """google-genai 3.x sends /v1/...; the real download answers a 302 to storage."""
    with GoogleServer(latency=0.1, redirect_downloads=True, serve_retired_veo=True) as google:
        c = gemini(google, api_version="v1")
        op = wait_done(
            c,
            c.models.generate_videos(
                model="veo-3.1-lite-generate-preview",
                source=src("rain"),
                config={"duration_seconds": 6},
            ),
        )
        sample = op.response.generated_videos[0]
        assert "/v1/files/" in sample.video.uri
        info = probe_bytes(c.files.download(file=sample), tmp_path)
        assert info.duration == pytest.approx(6.0, abs=0.1)
        assert (info.width, info.height) == (160, 90)  # 1280x720 at render_scale 1/8
        r = httpx.get(
            google.local_url(sample.video.uri), headers={"x-goog-api-key": google.api_key}
        )
        assert r.status_code == 302 and "/blob/" in r.headers["location"]
        assert httpx.get(r.headers["location"]).content == sample.video.video_bytes
        assert (
            "POST",
            "/v1/models/veo-3.1-lite-generate-preview:predictLongRunning",
        ) in google.requests


def test_reference_images(google: GoogleServer) -> None:
    c = gemini(google)
    asset = types.VideoGenerationReferenceImage(image=PNG, reference_type="ASSET")
    op = c.models.generate_videos(
        model="veo-3.1-fast-generate-preview",
        source=src("the same character walks home"),
        config=types.GenerateVideosConfig(reference_images=[asset, asset], duration_seconds=8),
    )
    assert google.operations[op.name].reference_types == ["ASSET", "ASSET"]
    with pytest.raises(errors.ClientError, match="referenceImages cannot be combined with image"):
        c.models.generate_videos(
            model=VEO,
            source=types.GenerateVideosSource(prompt="walks", image=PNG),
            config=types.GenerateVideosConfig(reference_images=[asset]),
        )
    with pytest.raises(errors.ClientError, match="At most 3 reference images"):
        c.models.generate_videos(
            model=VEO,
            source=src("walks"),
            config=types.GenerateVideosConfig(reference_images=[asset] * 4),
        )
    # the REST docs spell the type in lower case: compared case-insensitively
    image = {"bytesBase64Encoded": base64.b64encode(b"png").decode(), "mimeType": "image/png"}
    r = httpx.post(
        f"{google.base_url}/v1beta/models/{VEO}:predictLongRunning",
        headers={"x-goog-api-key": google.api_key},
        json={
            "instances": [
                {"prompt": "walks", "referenceImages": [{"image": image, "referenceType": "asset"}]}
            ]
        },
    )
    assert r.status_code == 200 and r.json()["name"].startswith(f"models/{VEO}/operations/")
    assert google.submissions == 2


def test_veo_validation(google: GoogleServer) -> None:
    c = gemini(google)
    cases: list[tuple[str, dict[str, Any], str]] = [
        (VEO, {"duration_seconds": 5}, "durationSeconds"),
        (VEO, {"aspect_ratio": "1:1"}, "Aspect ratio"),
        (VEO, {"resolution": "8k"}, "Resolution"),
        ("veo-3.1-lite-generate-preview", {"resolution": "4k"}, "720p and 1080p only"),
        (VEO, {"last_frame": PNG}, "lastFrame must be used together with image"),
    ]
    for model, config, message in cases:
        with pytest.raises(errors.ClientError, match=message) as err:
            c.models.generate_videos(model=model, source=src("a cat"), config=config)
        assert (err.value.code, err.value.status) == (400, "INVALID_ARGUMENT")
    for model in ("veo-3.0-generate-001", VERTEX_VEO):  # retired / a Vertex id
        with pytest.raises(errors.ClientError) as err:
            c.models.generate_videos(model=model, source=src("a cat"))
        assert (err.value.code, err.value.status) == (404, "NOT_FOUND")
    raw = httpx.post(
        f"{google.base_url}/v1beta/models/{VEO}:predictLongRunning",
        headers={"x-goog-api-key": google.api_key},
        json={"instances": [{"prompt": "a cat"}], "parameters": {"seed": 3}},
    )
    assert (
        raw.status_code == 400 and "not supported in Gemini API" in raw.json()["error"]["message"]
    )
    assert google.submissions == 0

    with GoogleServer(
        strict_durations=True, serve_retired_veo=True
    ) as strict:  # 1080p, 4k, references: 8 s only
        url = f"{strict.base_url}/v1beta/models/{VEO}:predictLongRunning"
        body: dict[str, Any] = {"instances": [{"prompt": "a cat"}]}
        headers = {"x-goog-api-key": strict.api_key}
        for resolution, status in (("1080p", 400), ("720p", 200)):
            body["parameters"] = {"durationSeconds": 4, "resolution": resolution}
            assert httpx.post(url, headers=headers, json=body).status_code == status


# -- Veo on Vertex --------------------------------------------------------------------------
def test_vertex_project_inline_bytes(google: GoogleServer, tmp_path: Path) -> None:
    v = vertex(google)
    op = v.models.generate_videos(
        model=VERTEX_VEO,
        source=src("waves at dusk"),
        config=types.GenerateVideosConfig(
            seed=42,
            generate_audio=True,
            duration_seconds=6,
            number_of_videos=2,
            labels={"film": "demo"},
        ),
    )
    prefix = "projects/film-proj/locations/us-central1/publishers/google/models/"
    prefix += f"{VERTEX_VEO}/operations/"
    assert op.name.startswith(prefix)
    record = google.operations[op.name]
    assert record.backend == "vertex" and record.labels == {"film": "demo"}
    assert record.parameters["seed"] == 42 and record.audio
    op = wait_done(v, op)
    videos = op.response.generated_videos
    assert len(videos) == 2 and videos[0].video.uri is None
    info = probe_bytes(videos[0].video.video_bytes, tmp_path)
    assert info.duration == pytest.approx(6.0, abs=0.1) and info.has_audio
    assert google.billed_seconds == 12
    poll = f"/v1beta1/{op.name.rpartition('/operations/')[0]}:fetchPredictOperation"
    assert ("POST", poll) in google.requests

    silent = wait_done(
        v,
        v.models.generate_videos(
            model=VERTEX_VEO, source=src("quiet"), config={"duration_seconds": 4}
        ),
    )
    assert not probe_bytes(
        silent.response.generated_videos[0].video.video_bytes, tmp_path, "q.mp4"
    ).has_audio


def test_vertex_storage_uri_and_gcs_download(google: GoogleServer, tmp_path: Path) -> None:
    v = vertex(google)
    op = wait_done(
        v,
        v.models.generate_videos(
            model=VERTEX_VEO,
            source=src("a lighthouse"),
            config=types.GenerateVideosConfig(
                output_gcs_uri="gs://film-bucket/shots/",
                duration_seconds=4,
                fps=24,
                compression_quality="OPTIMIZED",
                resize_mode="PAD",
            ),
        ),
    )
    video = op.response.generated_videos[0].video
    assert video.uri.startswith("gs://film-bucket/shots/") and video.uri.endswith("/sample_0.mp4")
    assert video.video_bytes is None
    obj = video.uri.removeprefix("gs://film-bucket/")
    url = f"{google.base_url}/storage/v1/b/film-bucket/o/{obj.replace('/', '%2F')}"
    bearer = {"Authorization": f"Bearer {google.access_token}"}
    r = httpx.get(url + "?alt=media", headers=bearer)
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    assert probe_bytes(r.content, tmp_path).duration == pytest.approx(4.0, abs=0.1)
    meta = httpx.get(url, headers=bearer).json()
    assert meta["name"] == obj and int(meta["size"]) == len(r.content)
    assert httpx.get(url + "?alt=media").status_code == 401


def test_express_mode(google: GoogleServer, tmp_path: Path) -> None:
    e = express(google)
    op = e.models.generate_videos(
        model="veo-3.1-lite-generate-001", source=src("snow"), config={"duration_seconds": 4}
    )
    assert op.name.startswith("publishers/google/models/veo-3.1-lite-generate-001/operations/")
    assert google.operations[op.name].backend == "express"
    op = wait_done(e, op)
    assert probe_bytes(
        op.response.generated_videos[0].video.video_bytes, tmp_path
    ).duration == pytest.approx(4.0, abs=0.1)
    assert (
        "POST",
        "/v1beta1/publishers/google/models/veo-3.1-lite-generate-001:fetchPredictOperation",
    ) in google.requests


def test_service_account_token_flow(google: GoogleServer, tmp_path: Path) -> None:
    from google.auth.exceptions import RefreshError
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    info = google.service_account_info()
    assert info["token_uri"] == f"{google.base_url}/token" and info["type"] == "service_account"
    creds = service_account.Credentials.from_service_account_info(info, scopes=[CLOUD_PLATFORM])
    v = vertex(google, credentials=creds)
    op = wait_done(
        v,
        v.models.generate_videos(
            model=VERTEX_VEO, source=src("a kite"), config={"duration_seconds": 4}
        ),
    )
    assert probe_bytes(op.response.generated_videos[0].video.video_bytes, tmp_path).frames == 96
    (grant,) = google.tokens_issued
    assert creds.token == grant.token and grant.client_email == info["client_email"]
    assert grant.scopes == [CLOUD_PLATFORM]

    # a key the server does not know: the signature fails
    other = GoogleServer()
    with other:
        forged = {**info, "private_key": other.service_account_info()["private_key"]}
    bad = service_account.Credentials.from_service_account_info(forged, scopes=[CLOUD_PLATFORM])
    with pytest.raises(RefreshError, match="Invalid JWT Signature"):
        bad.refresh(Request())
    assert len(google.tokens_issued) == 1


def test_async_client(google: GoogleServer, tmp_path: Path) -> None:
    async def run() -> bytes:
        client = gemini(google)
        c = client.aio
        op = await c.models.generate_videos(
            model=VEO, source=src("a red kite"), config={"duration_seconds": 4}
        )
        while not op.done:
            await asyncio.sleep(0.05)
            op = await c.operations.get(op)
        return await c.files.download(file=op.response.generated_videos[0])

    info = probe_bytes(asyncio.run(run()), tmp_path)
    assert info.duration == pytest.approx(4.0, abs=0.1)


# -- outcomes -------------------------------------------------------------------------------
def test_safety_filter_and_failed_job(google: GoogleServer) -> None:
    c = gemini(google)
    op = wait_done(c, c.models.generate_videos(model=VEO, source=src("something forbidden")))
    assert op.error is None and not op.response.generated_videos
    assert op.response.rai_media_filtered_count == 1
    assert op.response.rai_media_filtered_reasons == [RAI_FILTERED_REASON]
    assert google.operations[op.name].state == "filtered"
    v = vertex(google)
    vop = wait_done(v, v.models.generate_videos(model=VERTEX_VEO, source=src("forbidden too")))
    assert vop.response.rai_media_filtered_count == 1 and not vop.response.generated_videos

    google.fail_next_job(13, "Video generation failed. Please try again.")
    failed = wait_done(c, c.models.generate_videos(model=VEO, source=src("a calm lake")))
    assert failed.error == {"code": 13, "message": "Video generation failed. Please try again."}
    assert failed.response is None and google.operations[failed.name].state == "failed"
    assert google.submissions == 3 and google.billed_seconds == 0 and google.billed_usd == 0


def test_concurrency_limit() -> None:
    with GoogleServer(latency=0.5, concurrency=1, serve_retired_veo=True) as google:
        c = gemini(google)
        c.models.generate_videos(model=VEO, source=src("one"))
        with pytest.raises(errors.ClientError) as err:
            c.models.generate_videos(model=VEO, source=src("two"))
        assert (err.value.code, err.value.status) == (429, "RESOURCE_EXHAUSTED")
        assert google.rejected["concurrency_limit"] == 1 and google.submissions == 1


def test_injected_faults(google: GoogleServer, tmp_path: Path) -> None:
    c = gemini(google)
    for kind, code, status in (
        ("429", 429, "RESOURCE_EXHAUSTED"),
        ("500", 500, "INTERNAL"),
        ("503", 503, "UNAVAILABLE"),
    ):
        google.fail_next("create", kind)
        with pytest.raises(errors.APIError) as err:
            c.models.generate_videos(model=VEO, source=src("a cat"))
        assert (err.value.code, err.value.status) == (code, status)
    google.fail_next("create", "drop")
    with pytest.raises(httpx.HTTPError):
        c.models.generate_videos(model=VEO, source=src("a cat"))
    assert google.submissions == 0
    google.fail_next("create", "drop_after_accept")
    with pytest.raises(httpx.HTTPError):
        c.models.generate_videos(model=VEO, source=src("lost answer"))
    assert google.submissions == 1  # accepted although the answer was lost

    op = c.models.generate_videos(model=VEO, source=src("a dog"), config={"duration_seconds": 4})
    google.fail_next("poll", "500")
    with pytest.raises(errors.ServerError):
        c.operations.get(op)
    op = wait_done(c, op)
    sample = op.response.generated_videos[0]
    url = google.local_url(sample.video.uri)
    google.fail_next("download", "truncate")
    with httpx.stream("GET", url, headers={"x-goog-api-key": google.api_key}) as r:
        expected, got = int(r.headers["content-length"]), b""
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in r.iter_raw():
                got += chunk
    assert 0 < len(got) < expected
    google.fail_next("download", "drop")
    with pytest.raises(httpx.HTTPError):
        c.files.download(file=sample)
    assert len(c.files.download(file=sample)) == expected

    google.fail_next("tts", "503")
    with pytest.raises(errors.ServerError):
        c.models.generate_content(**say("Hello"))
    google.fail_next("token", "429")
    r = httpx.post(f"{google.base_url}/token", data={"grant_type": "x"})
    assert r.status_code == 429 and r.json()["error"] == "rate_limit_exceeded"
    with pytest.raises(ValueError, match="applies to"):
        google.fail_next("poll", "truncate")


def test_token_fault_retried_by_google_auth(google: GoogleServer) -> None:
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    creds = service_account.Credentials.from_service_account_info(
        google.service_account_info(), scopes=[CLOUD_PLATFORM]
    )
    google.fail_next("token", "503")
    creds.refresh(Request())  # google-auth retries 503 on its own (~1 s later)
    assert creds.token == google.tokens_issued[0].token
    assert sum(1 for m, p in google.requests if p == "/token") == 2


# -- webhooks -------------------------------------------------------------------------------
class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server: Any = self.server
        server.hits += 1
        ok = server.hits > server.fail_first
        if ok:
            server.got.append(json.loads(body))
        self.send_response(200 if ok else 500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


# -- webhooks: signed thin events --------------------------------------------------------------
class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server: Any = self.server
        server.hits += 1
        ok = server.hits > server.fail_first
        if ok:
            server.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200 if ok else 500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.got, server.hits, server.fail_first = [], 0, 0
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _verify_jwt(google: GoogleServer, token: str, audience: str | None) -> dict[str, Any]:
    import jwt

    keys = jwt.PyJWKClient(google.jwks_url).get_signing_key_from_jwt(token)
    options = {} if audience else {"verify_aud": False}
    claims: dict[str, Any] = jwt.decode(
        token, keys.key, algorithms=["RS256"], audience=audience, options=options
    )
    return claims


@pytest.mark.parametrize("carries", [True, False])
def test_dynamic_webhook_jwt(receiver: Any, carries: bool) -> None:
    receiver.fail_first = 1  # the first try gets a 500: retried
    with GoogleServer(latency=0.1, jwt_carries_event=carries) as google:
        c = gemini(google)
        ix = c.interactions.create(
            model="gemini-omni-1.1-flash",
            input="a paper boat",
            background=True,
            response_format={"type": "video", "duration": "3s", "resolution": "360p"},
            webhook_config={"uris": [receiver.url], "user_metadata": {"shot": "s1"}},
        )
        assert google.wait_idle()
        (headers, body), (record,) = receiver.got[-1], google.webhooks
        assert record.attempts == 2 and record.delivered and record.status == 200
        assert record.kind == "dynamic" and record.type == "interaction.completed"
        event = json.loads(body)
        assert event["type"] == "interaction.completed" and event["version"] == "v1"
        assert event["data"] == {"id": ix.id, "user_metadata": {"shot": "s1"}}
        assert headers["webhook-id"].startswith("msg_") and headers["webhook-timestamp"]
        token = headers["webhook-signature"]
        if carries:  # the claims are the event itself (+ iat/exp)
            claims = _verify_jwt(google, token, None)
            assert {k: claims[k] for k in event} == event and claims["exp"] > claims["iat"]
        else:  # only iat/exp/aud: the body carries the event
            claims = _verify_jwt(google, token, receiver.url)
            assert set(claims) == {"iat", "exp", "aud"}
        import jwt

        with GoogleServer() as other, pytest.raises(jwt.PyJWKClientError):
            _verify_jwt(other, token, None)  # another server's key set has no such kid


def test_static_webhook_hmac_and_failure_event(receiver: Any) -> None:
    import hashlib
    import hmac

    with GoogleServer(latency=0.1, static_webhook_uri=receiver.url) as google:
        assert google.webhook_secret.startswith("whsec_")
        google.fail_next_job(13, "boom")
        c = gemini(google)
        ix = c.interactions.create(
            model="gemini-omni-1.2-flash",
            input="a kite",
            background=True,
            response_format={"type": "video", "duration": "3s", "resolution": "360p"},
        )
        assert google.wait_idle()
        ((headers, body),) = receiver.got
        key = base64.b64decode(google.webhook_secret.removeprefix("whsec_"))
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        assert headers["webhook-signature"] == f"v1,{expected}"
        event = json.loads(body)
        assert event["type"] == "interaction.failed"
        assert event["data"] == {"id": ix.id, "error_code": "INTERNAL", "error_message": "boom"}
        got = c.interactions.get(ix.id)
        assert got.status == "failed" and got.errors[0].message == "boom"
        # webhook_config needs background=true
        r = httpx.post(
            f"{google.base_url}/v1beta/interactions",
            headers={"x-goog-api-key": google.api_key},
            json={
                "model": "gemini-omni-1.1-flash",
                "input": "x",
                "webhook_config": {"uris": [receiver.url]},
            },
        )
        assert r.status_code == 400 and "background" in r.json()["error"]["message"]


def test_legacy_veo_video_generated_event(receiver: Any) -> None:
    with GoogleServer(latency=0.1, serve_retired_veo=True) as google:
        c = gemini(google)
        op = c.models.generate_videos(
            model=VEO,
            source=src("a paper boat"),
            config=types.GenerateVideosConfig(
                webhook_config=types.WebhookConfig(uris=[receiver.url], user_metadata={"s": 1})
            ),
        )
        c.models.generate_videos(  # filtered: Veo has no failure event
            model=VEO,
            source=src("a forbidden boat"),
            config=types.GenerateVideosConfig(
                webhook_config=types.WebhookConfig(uris=[receiver.url])
            ),
        )
        assert google.wait_idle()
        ((_, body),) = receiver.got
        data = json.loads(body)["data"]
        assert json.loads(body)["type"] == "video.generated" and data["id"] == op.name
        file_id = google.operations[op.name].files[0]
        assert data["file_name"] == f"files/{file_id}" and data["user_metadata"] == {"s": 1}
        assert data["output_file_uri"].endswith(f"/files/{file_id}:download?alt=media")


# -- model lifecycle -----------------------------------------------------------------------------
def test_retired_models_404() -> None:
    with GoogleServer(latency=0.1) as google:
        c, v = gemini(google), vertex(google)
        for model in ("veo-3.1-generate-preview", "veo-3.0-generate-001", "veo-2.0-generate-001"):
            with pytest.raises(errors.ClientError) as err:
                c.models.generate_videos(model=model, source=src("a cat"))
            assert (err.value.code, err.value.status) == (404, "NOT_FOUND")
            assert "is no longer available" in err.value.message
        with pytest.raises(errors.ClientError) as err:
            v.models.generate_videos(model="veo-3.0-generate-001", source=src("a cat"))
        assert err.value.code == 404
        with pytest.raises(Exception) as caught:  # the Interactions SDK's own error classes
            c.interactions.create(model="gemini-omni-flash-preview", input="a cat")
        assert caught.value.status_code == 404  # type: ignore[attr-defined]
        assert "no longer available" in str(caught.value)
        assert google.submissions == 0
    with GoogleServer(retire_older_tts=True) as google:
        c = gemini(google)
        with pytest.raises(errors.ClientError) as err:
            c.models.generate_content(**say("Hi", model="gemini-2.5-flash-preview-tts"))
        assert err.value.code == 404 and "no longer available" in err.value.message
        assert c.models.generate_content(**say("Hi", model="gemini-3.8-flash-tts")).candidates


def test_vertex_veo_locations_and_lite_rules(google: GoogleServer) -> None:
    token = {"Authorization": f"Bearer {google.access_token}"}
    body = {"instances": [{"prompt": "a cat"}], "parameters": {"durationSeconds": 8}}

    def post(location: str, model: str = VERTEX_VEO, json_body: Any = body) -> httpx.Response:
        return httpx.post(
            f"{google.base_url}/v1/projects/p/locations/{location}/publishers/google/models/"
            f"{model}:predictLongRunning",
            headers=token,
            json=json_body,
        )

    assert post("us-central1").status_code == 200
    assert post("global").status_code == 404 and post("europe-west4").status_code == 404
    lite = "veo-3.1-lite-generate-001"
    refs = {
        "instances": [
            {
                "prompt": "a cat",
                "referenceImages": [
                    {
                        "image": {
                            "bytesBase64Encoded": base64.b64encode(b"\x89PNG").decode(),
                            "mimeType": "image/png",
                        },
                        "referenceType": "asset",
                    }
                ],
            }
        ],
        "parameters": {"durationSeconds": 8},
    }
    assert post("us-central1", lite, refs).status_code == 400
    assert post("us-central1", VERTEX_VEO, refs).status_code == 200
    short = {**refs, "parameters": {"durationSeconds": 6}}
    assert post("us-central1", VERTEX_VEO, short).status_code == 400  # 8 s with references
    with GoogleServer(veo_global=True) as g2:
        r = httpx.post(
            f"{g2.base_url}/v1/projects/p/locations/global/publishers/google/models/"
            f"{VERTEX_VEO}:predictLongRunning",
            headers={"Authorization": f"Bearer {g2.access_token}"},
            json=body,
        )
        assert r.status_code == 200


# -- Gemini TTS 3.8 --------------------------------------------------------------------------------
def _tts38(
    c: Any, parts: list[Any], speech: Any, model: str = "gemini-3.8-flash-tts", **config: Any
) -> Any:
    return c.models.generate_content(
        model=model,
        contents=[types.Content(role="user", parts=parts)],
        config=types.GenerateContentConfig(
            response_modalities=["AUDIO"], speech_config=speech, **config
        ),
    )


def test_tts_38_wav_transcript_and_speakers(google: GoogleServer) -> None:
    c = gemini(google)
    line = "Have a wonderful day!"
    r = _tts38(
        c,
        [types.Part(text=line, speech_metadata=types.SpeechMetadata(style="cheerful"))],
        types.SpeechConfig(voice_config=types.VoiceConfig(voice="Kore")),
    )
    blob = r.candidates[0].content.parts[0].inline_data
    assert blob.mime_type == "audio/wav" and blob.data[:4] == b"RIFF" and blob.data[8:12] == b"WAVE"
    rec = google.tts_requests[-1]
    assert rec.transcript == line and rec.styles == ["cheerful"] and rec.voice == "Kore"
    assert len(blob.data) == 44 + tts_pcm_bytes(line)  # the audio follows the line alone
    # two speakers: one part per turn, each with its speaker
    speakers = types.SpeechConfig(
        multi_speaker_voice_config=types.MultiSpeakerVoiceConfig(
            speaker_voice_configs=[
                types.SpeakerVoiceConfig(
                    speaker="Joe", voice_config=types.VoiceConfig(voice="Puck")
                ),
                types.SpeakerVoiceConfig(
                    speaker="Jane", voice_config=types.VoiceConfig(voice="Kore")
                ),
            ]
        )
    )
    turns = [
        types.Part(text="How's it going?", speech_metadata=types.SpeechMetadata(speaker="Joe")),
        types.Part(text="Not bad.", speech_metadata=types.SpeechMetadata(speaker="Jane")),
    ]
    _tts38(c, turns, speakers)
    rec = google.tts_requests[-1]
    assert rec.turns == [("Joe", "How's it going?"), ("Jane", "Not bad.")]
    assert "Joe" not in rec.transcript  # no speaker labels are spoken
    with pytest.raises(errors.ClientError, match="speaker"):  # a turn without its speaker
        _tts38(c, [*turns, types.Part(text="Bye.")], speakers)
    with pytest.raises(errors.ClientError) as err:  # temperature: INVALID_ARGUMENT on 3.8
        _tts38(c, [types.Part(text=line)], "Kore", temperature=0.5)
    assert err.value.status == "INVALID_ARGUMENT"
    r = httpx.post(  # speechMetadata has speaker and style only
        f"{google.base_url}/v1beta/models/gemini-3.8-flash-tts:generateContent",
        headers={"x-goog-api-key": google.api_key},
        json={
            "contents": [{"parts": [{"text": "hi", "speechMetadata": {"emotion": "sad"}}]}],
            "generationConfig": {"responseModalities": ["AUDIO"]},
        },
    )
    assert r.status_code == 400 and 'Unknown name "emotion"' in r.json()["error"]["message"]
    # older models: raw PCM, and speechMetadata refused
    r = c.models.generate_content(**say("Hello there"))
    assert r.candidates[0].content.parts[0].inline_data.mime_type == TTS_MIME
    with pytest.raises(errors.ClientError):
        _tts38(
            c,
            [types.Part(text="hi", speech_metadata=types.SpeechMetadata(style="calm"))],
            "Kore",
            model=TTS_MODEL,
        )


def _vertex_tts(google: GoogleServer, location: str, model: str) -> int:
    """The status of a minimal Vertex TTS request at ``location``."""
    return httpx.post(
        f"{google.base_url}/v1/projects/p/locations/{location}/publishers/google/models/"
        f"{model}:generateContent",
        headers={"Authorization": f"Bearer {google.access_token}"},
        json={
            "contents": [{"parts": [{"text": "hi"}]}],
            "generationConfig": {"responseModalities": ["AUDIO"]},
        },
    ).status_code


def test_tts_38_vertex_locations() -> None:
    with GoogleServer() as google:
        for location, ok in (("global", True), ("us", True), ("eu", True), ("us-central1", False)):
            status = _vertex_tts(google, location, "gemini-3.8-flash-tts")
            assert status == (200 if ok else 404), location
        # 2.5 ids keep regional service
        assert _vertex_tts(google, "us-central1", "gemini-2.5-flash-tts") == 200
    with GoogleServer(tts_multiregions=False) as google:
        assert _vertex_tts(google, "us", "gemini-3.8-flash-tts") == 404


# -- Gemini Omni (Interactions API) ----------------------------------------------------------------
def _wait_interaction(c: Any, ident: str) -> Any:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = c.interactions.get(ident)
        if got.status != "in_progress":
            return got
        time.sleep(0.05)
    raise AssertionError("the interaction did not end")


def test_omni_create_poll_edit(google: GoogleServer, tmp_path: Path) -> None:
    c = gemini(google)
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    ix = c.interactions.create(
        model="gemini-omni-1.1-flash",
        input=[
            {"type": "image", "data": png, "mime_type": "image/png"},
            {"type": "text", "text": "<FIRST_FRAME> a red fox runs"},
        ],
        background=True,
        response_format={
            "type": "video",
            "aspect_ratio": "9:16",
            "resolution": "360p",
            "duration": "4s",
        },
        generation_config={"video_config": {"task": "image_to_video"}},
    )
    assert ix.id.startswith("v1_") and ix.status == "in_progress"
    done = _wait_interaction(c, ix.id)
    assert done.status == "completed"
    assert [s.type for s in done.steps] == ["user_input", "thought", "model_output"]
    info = probe_bytes(base64.b64decode(done.output_video.data), tmp_path)
    assert info.duration == pytest.approx(4.0, abs=0.1) and info.has_audio
    assert info.width < info.height
    record = google.interactions[ix.id]
    assert (
        record.images == [("image/png", base64.b64decode(png))] and record.task == "image_to_video"
    )
    assert record.resolution == "360p" and record.polls >= 1
    assert google.billed_usd == pytest.approx(4 * 1931 * 17.5e-6)
    # an edit: a new clip, the instruction recorded, the chain kept
    edit = c.interactions.create(
        model="gemini-omni-1.1-flash",
        previous_interaction_id=ix.id,
        input="Make the fox blue. Keep everything else the same.",
        background=True,
        response_format={"type": "video", "resolution": "360p"},
    )
    edited = _wait_interaction(c, edit.id)
    assert edited.output_video.data != done.output_video.data
    rec = google.interactions[edit.id]
    assert rec.chain == [ix.id] and rec.texts == [
        "Make the fox blue. Keep everything else the same."
    ]
    assert rec.duration == 4.0
    assert google.submissions == 2 and google.status_requests >= 2


def test_omni_rules(google: GoogleServer) -> None:
    url = f"{google.base_url}/v1beta/interactions"
    key = {"x-goog-api-key": google.api_key}

    def post(**body: Any) -> httpx.Response:
        return httpx.post(url, headers=key, json={"model": "gemini-omni-1.1-flash", **body})

    for body, message in (
        ({"input": "x", "negative_prompt": "y"}, 'Unknown name "negative_prompt"'),
        ({"input": "x", "generation_config": {"temperature": 0.2}}, "temperature"),
        ({"input": "x", "system_instruction": "be nice"}, "system_instruction"),
        ({"input": "<LAST_FRAME> x"}, "FIRST_FRAME"),
        ({"input": "x", "response_format": {"type": "video", "duration": "12s"}}, "maximum"),
        ({"input": "x", "response_format": {"type": "video", "resolution": "8k"}}, "resolution"),
        (
            {
                "input": [
                    {
                        "type": "image",
                        "data": base64.b64encode(b"GIF89a").decode(),
                        "mime_type": "image/png",
                    }
                ]
            },
            "Unable to process input image",
        ),
        ({"input": "x", "previous_interaction_id": "v1_nothere"}, "not found"),
    ):
        r = post(**body)
        assert r.status_code in (400, 404), (body, r.text)
        assert message in r.json()["error"]["message"], (body, r.text)
    assert post(input="x", previous_interaction_id="v1_nothere").status_code == 404
    # unknown keys inside video_config are ignored (third-party probe)
    r = post(
        input="a cat",
        background=True,
        response_format={"type": "video", "duration": "3s", "resolution": "360p"},
        generation_config={"video_config": {"task": "text_to_video", "duration_seconds": 999}},
    )
    assert r.status_code == 200 and r.json()["object"] == "interaction"
    assert google.interactions[r.json()["id"]].ignored_fields == [
        "generation_config.video_config.duration_seconds"
    ]
    # store=false: not editable later
    r = post(
        input="a dog",
        store=False,
        response_format={
            "type": "video",
            "duration": "3s",
            "resolution": "360p",
            "delivery": "uri",
        },
    )
    assert r.status_code == 200 and r.json()["status"] == "completed"  # synchronous
    video = r.json()["steps"][-1]["content"][0]
    assert video["uri"].endswith(":download?alt=media") and "data" not in video
    got = httpx.get(f"{url}/{r.json()['id']}", headers=key).json()
    assert got["steps"][-1]["content"][0]["data"]  # GET answers inline even for delivery=uri
    clip = httpx.get(google.local_url(video["uri"]), headers=key)
    assert clip.status_code == 200 and clip.content[4:8] == b"ftyp"
    assert post(input="edit", previous_interaction_id=r.json()["id"]).status_code == 404


@pytest.mark.parametrize("mode", ["failed", "empty"])
def test_omni_blocked_prompt(mode: str) -> None:
    with GoogleServer(latency=0.05, omni_blocked=mode) as google:
        c = gemini(google)
        ix = c.interactions.create(
            model="gemini-omni-1.1-flash", input="a forbidden thing", background=True
        )
        done = _wait_interaction(c, ix.id)
        assert done.output_video is None and google.billed_usd == 0
        assert done.status == ("failed" if mode == "failed" else "completed")
        if mode == "failed":
            assert done.errors


def test_omni_faults() -> None:
    # The interaction outlasts the first GET on a loaded machine ("poll" is a GET while it
    # runs); 0.1 s did not, in CI.
    with GoogleServer(latency=1.0) as google:
        _omni_faults(google)


def _omni_faults(google: GoogleServer) -> None:
    url = f"{google.base_url}/v1beta/interactions"
    key = {"x-goog-api-key": google.api_key}
    body = {
        "model": "gemini-omni-1.1-flash",
        "input": "a cat",
        "background": True,
        "response_format": {"type": "video", "duration": "3s", "resolution": "360p"},
    }
    google.fail_next("create", "503")
    r = httpx.post(url, headers=key, json=body)
    assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
    ident = httpx.post(url, headers=key, json=body).json()["id"]
    google.fail_next("poll", "429")
    assert httpx.get(f"{url}/{ident}", headers=key).status_code == 429
    assert google.wait_idle()
    google.fail_next("download", "500")
    assert httpx.get(f"{url}/{ident}", headers=key).status_code == 500
    google.fail_next("download", "truncate")
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/{ident}", headers=key)
    assert httpx.get(f"{url}/{ident}", headers=key).json()["status"] == "completed"
    assert google.rejected["injected"] == 3 and google.submissions == 1
