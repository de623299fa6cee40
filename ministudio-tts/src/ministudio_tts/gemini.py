"""One line through Gemini TTS: ``client.aio.models.generate_content`` with an AUDIO answer,
its audio (a WAV from the 3.8 models, PCM from older ones) written as a WAV, its failures
turned into ``ministudio.errors``.

A verbatim model (3.8) gets one part per turn, each with its ``speech_metadata`` (the style,
and the speaker of a two-speaker line); an older one the text with its style written in front
(``style.plan`` decides). No ``temperature``, ``top_p``, ``top_k``, candidate count or system
instruction is ever sent: the 3.8 models reject them with 400 INVALID_ARGUMENT.

Imported by the ``synthesize_speech`` hook only: this module imports the SDK (and httpx).
The SDK retries nothing (its default), and its async transport is an ``httpx.AsyncClient``
of ours, so no aiohttp session (with its own hidden retry on dropped connections) is made
and every connection is closed when the line is done.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from google import genai
from google.auth import exceptions as auth_errors
from google.genai import errors as genai_errors
from google.genai import types
from ministudio.engines import EngineContext, EngineSpec
from ministudio.errors import (
    EngineError,
    EngineRefusal,
    MinistudioError,
    MissingKeyError,
    TransientError,
)
from ministudio.http import tls_context
from ministudio.jobs import SpeechRequest, SpeechResult
from ministudio.safety.keys import lookup, lookup_any

from ministudio_tts import models, wav
from ministudio_tts.models import DEFAULT_MODEL, ENGINE
from ministudio_tts.style import Plan, plan

DEVELOPER_KEYS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
VERTEX_KEY = "VERTEX_AI_API_KEY"
TOKEN = "VERTEX_AI_ACCESS_TOKEN"
# What to check when Vertex project credentials are missing or refused.
CREDENTIALS = [TOKEN, "GOOGLE_APPLICATION_CREDENTIALS", VERTEX_KEY]
CLOUD_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
DEFAULT_TIMEOUT = 120.0  # seconds for one line
# A candidate that ended for these reasons was refused: change the line, do not resend it.
REFUSED = frozenset(
    {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION", "IMAGE_SAFETY"}
)
_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


class KeyRejected(MissingKeyError):
    """Google turned the key (or the Vertex credentials) down: it is set, but wrong."""

    def __init__(self, variables: list[str], why: str) -> None:
        self.engine = ENGINE
        self.variables = variables
        MinistudioError.__init__(
            self,
            f"engine '{ENGINE}' could not authenticate ({why}): check {' or '.join(variables)} "
            "(or the stored key: `ministudio keys list`) and run again",
        )


async def synthesize(
    spec: EngineSpec, request: SpeechRequest, output: Path, context: EngineContext
) -> SpeechResult:
    """Speak ``request`` into a mono 16-bit WAV at ``output``."""
    decided = plan(request, spec.default_model or DEFAULT_MODEL)  # checks before any request
    client, http, backend = await _client(context, decided.model)
    try:
        response = await client.aio.models.generate_content(
            model=decided.model, contents=_contents(decided), config=_config(decided)
        )
    except genai_errors.APIError as exc:
        raise _scrub(_failure(exc, decided, backend), backend.secrets) from None
    except httpx.UnsupportedProtocol as exc:
        raise EngineError(ENGINE, f"cannot use the API base URL ({_why(exc)})") from None
    except (httpx.TransportError, auth_errors.TransportError) as exc:
        raise _scrub(
            TransientError(ENGINE, f"the request to Gemini failed ({_why(exc)}); try again"),
            backend.secrets,
        ) from None
    except auth_errors.GoogleAuthError as exc:  # Vertex credentials that cannot be refreshed
        raise KeyRejected(
            backend.variables, f"Vertex AI credentials: {type(exc).__name__}"
        ) from None
    finally:
        await http.aclose()
        client.close()
    pcm, rate = _audio(response)
    wav.write_wav(output, pcm, rate)
    duration = (len(pcm) // 2) / rate
    context.progress(1.0)
    return SpeechResult(path=output, duration=duration, cost=_cost(response, decided, duration))


async def _client(
    context: EngineContext, model: str
) -> tuple[genai.Client, httpx.AsyncClient, Backend]:
    """The SDK client for the settings in ``context.env``, on an httpx client we own: a Gemini
    API key first; else Vertex AI, with a project (and its credentials, at the location
    ``models.vertex_location`` picks for ``model``) or an express key."""
    env = context.env
    timeout = _timeout(env)
    key = lookup_any(DEVELOPER_KEYS, env)
    project = "" if key else (env.get("GOOGLE_CLOUD_PROJECT") or "").strip()
    express = None if key or project else lookup(VERTEX_KEY, env)
    if not (key or project or express):
        raise MissingKeyError(ENGINE, [*DEVELOPER_KEYS, VERTEX_KEY, "GOOGLE_CLOUD_PROJECT"])
    if key:
        backend = Backend(list(DEVELOPER_KEYS), [key])
    elif project:
        location = models.vertex_location(model, env)  # refuses before credentials are read
        credentials, secrets = _credentials(env)
        backend = Backend(CREDENTIALS, secrets)
    else:
        backend = Backend([VERTEX_KEY], [express or ""])
    base = env.get("GEMINI_BASE_URL" if key else "VERTEX_BASE_URL") or ""
    tls = tls_context()  # shared: a new one per line costs ~70 ms
    http = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), verify=tls)
    options = types.HttpOptions(
        base_url=base.strip().rstrip("/") or None,
        timeout=int(timeout * 1000),
        httpx_async_client=http,
        client_args={"verify": tls},  # the SDK's own sync client
    )
    try:
        if key:
            client = genai.Client(vertexai=False, api_key=key, http_options=options)
        elif project:
            client = genai.Client(
                vertexai=True,
                project=project,
                location=location,
                credentials=credentials,
                http_options=options,
            )
        else:
            client = genai.Client(vertexai=True, api_key=express, http_options=options)
    except ValueError as exc:
        await http.aclose()
        raise EngineError(ENGINE, f"cannot set up the Gemini client ({_why(exc)})") from None
    return client, http, backend


@dataclass(frozen=True)
class Backend:
    """What authenticates the requests: the variables to name when it is refused, and the
    secret values to keep out of error text."""

    variables: list[str]
    secrets: list[str]


def _credentials(env: Mapping[str, str]) -> tuple[Any, list[str]]:
    """Vertex project credentials, as the Veo plugin finds them: an access token, else a
    service account key file, else Application Default Credentials."""
    token = lookup(TOKEN, env)
    if token:
        from google.oauth2.credentials import Credentials

        return Credentials(token=token), [token]  # type: ignore[no-untyped-call]
    path = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if path:
        from google.oauth2 import service_account

        try:
            load = service_account.Credentials.from_service_account_file
            return load(path, scopes=[CLOUD_SCOPE]), []  # type: ignore[no-untyped-call]
        except (OSError, ValueError) as exc:
            raise EngineError(
                ENGINE,
                f"GOOGLE_APPLICATION_CREDENTIALS ({path}) is not a usable service account key "
                f"file ({type(exc).__name__}); download the key file again",
            ) from None
    import google.auth

    try:
        credentials, _ = google.auth.default(scopes=[CLOUD_SCOPE])
    except auth_errors.DefaultCredentialsError:
        raise MissingKeyError(ENGINE, CREDENTIALS) from None
    return credentials, []


def _contents(decided: Plan) -> str | types.Content:
    """The request's contents: the text with its in-text style for an older model; for a
    verbatim one, one part per turn with its ``speech_metadata`` (none when it has neither a
    speaker nor a style)."""
    if decided.in_text:
        return decided.prompt
    parts = [
        types.Part(
            text=turn.text,
            speech_metadata=types.SpeechMetadata(speaker=turn.speaker, style=turn.style or None)
            if turn.speaker or turn.style
            else None,
        )
        for turn in decided.turns
    ]
    return types.Content(role="user", parts=parts)


def _config(decided: Plan) -> types.GenerateContentConfig:
    if decided.speakers:
        speech = types.SpeechConfig(
            multi_speaker_voice_config=types.MultiSpeakerVoiceConfig(
                speaker_voice_configs=[
                    types.SpeakerVoiceConfig(speaker=name, voice_config=_voice(voice))
                    for name, voice in decided.speakers
                ]
            ),
            language_code=decided.language,
        )
    else:
        speech = types.SpeechConfig(
            voice_config=_voice(decided.voice or ""), language_code=decided.language
        )
    return types.GenerateContentConfig(response_modalities=["AUDIO"], speech_config=speech)


def _voice(name: str) -> types.VoiceConfig:
    return types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=name))


def _audio(response: types.GenerateContentResponse) -> tuple[bytes, int]:
    """The answer's PCM (s16le mono) and its sample rate; typed errors for anything else."""
    feedback = response.prompt_feedback
    blocked = _name(feedback.block_reason) if feedback else ""
    if blocked and blocked != "BLOCKED_REASON_UNSPECIFIED":
        detail = (
            f": {feedback.block_reason_message}"
            if feedback and feedback.block_reason_message
            else ""
        )
        raise EngineRefusal(ENGINE, f"the prompt was blocked ({blocked}{detail})")
    if not response.candidates:
        raise TransientError(ENGINE, "the answer has no candidate and no audio; try again")
    candidate = response.candidates[0]
    finish = _name(candidate.finish_reason)
    if finish in REFUSED:
        detail = f": {candidate.finish_message}" if candidate.finish_message else ""
        raise EngineRefusal(ENGINE, f"the line was refused ({finish}{detail})")
    chunks: list[bytes] = []
    rates: set[int] = set()
    unsupported = ""
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    for part in parts:
        blob = part.inline_data
        if blob is None or not blob.data:
            continue
        mime = (blob.mime_type or "").lower()
        if wav.is_audio(mime) or wav.is_wav(blob.data):
            pcm, rate = wav.read(mime, blob.data)
            chunks.append(pcm)
            rates.add(rate or wav.SAMPLE_RATE)
        elif mime.startswith("audio/"):
            unsupported = mime
    if not chunks:
        if unsupported:
            raise EngineError(ENGINE, f"the answer is {unsupported}, not PCM or WAV audio")
        if finish == "MAX_TOKENS":
            raise EngineError(ENGINE, "the line is too long for one request: split it")
        raise TransientError(
            ENGINE, f"the answer holds no audio (finish reason {finish or 'none'}); try again"
        )
    if len(rates) > 1:
        raise EngineError(
            ENGINE, f"the answer's audio parts differ in sample rate ({sorted(rates)} Hz)"
        )
    pcm = b"".join(chunk[: len(chunk) - len(chunk) % 2] for chunk in chunks)
    return pcm, rates.pop()


def _cost(response: types.GenerateContentResponse, decided: Plan, seconds: float) -> float:
    """The estimated price at the model's prices (``models.prices``): prompt tokens at the
    text price, answer tokens at the audio price, from ``usageMetadata`` when present, else
    from the prompt's length and the audio's."""
    text_price, audio_price = models.prices(decided.model)
    usage = response.usage_metadata
    text_tokens = (usage.prompt_token_count if usage else None) or len(decided.prompt) / 4
    audio_tokens: float = 0
    if usage is not None:
        audio_tokens = sum(
            d.token_count or 0
            for d in usage.candidates_tokens_details or []
            if _name(d.modality) == "AUDIO"
        )
        audio_tokens = audio_tokens or usage.candidates_token_count or 0
    audio_tokens = audio_tokens or seconds * models.AUDIO_TOKENS_PER_SECOND
    return round(text_tokens * text_price + audio_tokens * audio_price, 6)


def _failure(exc: genai_errors.APIError, decided: Plan, backend: Backend) -> MinistudioError:
    """The typed error for an HTTP error answer from Gemini."""
    code = int(exc.code or 0)
    status = exc.status or ""
    message = (exc.message or "no message").strip()[:500]
    said = f"HTTP {code} {status}: {message}".replace("  ", " ")
    reasons = set(_reasons(exc.details))
    if code in (401, 403) or reasons & {"API_KEY_INVALID", "API_KEY_EXPIRED"}:
        return KeyRejected(backend.variables, said)
    if code == 429 or code >= 500:
        return TransientError(ENGINE, said, retry_after=_retry_after(exc))
    if code == 404:
        instead = models.replacement(decided.model)
        hint = f"use '{instead}'" if instead else "pick another"
        return EngineError(
            ENGINE,
            f"model '{decided.model}' is unknown, retired or not served here ({said}); {hint} "
            f"with the voice option model (current: {', '.join(models.current())}; on Vertex "
            "AI the 3.8 models are served at global, us and eu only)",
        )
    if code in (400, 422):
        return EngineRefusal(ENGINE, said)
    return EngineError(ENGINE, said)


def _reasons(details: Any) -> Iterable[str]:
    """The ``ErrorInfo.reason`` values of a Google error body."""
    error = details.get("error") if isinstance(details, Mapping) else None
    items = error.get("details") if isinstance(error, Mapping) else None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("reason"), str):
            yield item["reason"]


def _retry_after(exc: genai_errors.APIError) -> float | None:
    """The server's hint: the ``Retry-After`` header, else ``RetryInfo.retryDelay``."""
    headers = getattr(exc.response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    error = exc.details.get("error") if isinstance(exc.details, Mapping) else None
    items = error.get("details") if isinstance(error, Mapping) else None
    for item in items if isinstance(items, list) else []:
        delay = item.get("retryDelay") if isinstance(item, Mapping) else None
        match = _DELAY.match(delay) if isinstance(delay, str) else None
        if match:
            return float(match.group(1))
    return None


def _scrub(error: MinistudioError, secrets: list[str]) -> MinistudioError:
    """``error`` with any key value blanked from its text (belt and braces: Google's messages
    do not echo keys, and the core blanks them again)."""
    text = str(error)
    if not any(secret in text for secret in secrets):
        return error
    for secret in secrets:
        text = text.replace(secret, "***")
    error.args = (text,)
    return error


def _timeout(env: Mapping[str, str]) -> float:
    try:
        value = float(env.get("GEMINI_TTS_TIMEOUT") or DEFAULT_TIMEOUT)
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def _name(value: Any) -> str:
    """An SDK enum's name (``FinishReason.SAFETY`` -> ``SAFETY``); "" for None."""
    if value is None:
        return ""
    return str(getattr(value, "value", value)).upper()


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
