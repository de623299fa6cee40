"""MiniStudio cloud voices: the speech engine ``gemini`` (Gemini text-to-speech).

A character speaks with a Gemini voice through its ``voice``::

    characters:
      ann: {name: Ann, dna: ..., voice: {engine: gemini, voice: Kore}}

or every line does, with ``routing: {speech: gemini}``. Each line is one
``generate_content`` call with an AUDIO answer (``google-genai``'s async client, imported only
inside the hook); the PCM it returns (s16le, mono, 24 kHz) becomes the line's WAV. The line's
emotion, and a ``rate``/``pitch`` well away from the defaults, become a style instruction in
front of the text ("Say cheerfully and slowly: ..."). ``voice.options``: ``model`` (default
``DEFAULT_MODEL``), ``language`` (a BCP-47 code) and ``speakers`` (two names in the text ->
two voices, for a two-speaker line). Voices, models and emotions are in ``style``.

Settings (the render's environment, or the key store for the keys), in the Veo plugin's
scheme: ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY`` (the Gemini Developer API; another root in
``GEMINI_BASE_URL``); else Vertex AI (another root in ``VERTEX_BASE_URL``) with a project,
``GOOGLE_CLOUD_PROJECT`` and ``GOOGLE_CLOUD_LOCATION`` (default ``us-central1``), its
credentials from ``VERTEX_AI_ACCESS_TOKEN``, ``GOOGLE_APPLICATION_CREDENTIALS`` (a service
account key file) or Application Default Credentials; else Vertex AI express mode with
``VERTEX_AI_API_KEY``. ``GEMINI_TTS_TIMEOUT``: seconds per line (default 120).

Failures: 429/5xx and lost connections raise ``TransientError`` (with the server's retry
hint); 400 and safety stops raise ``EngineRefusal`` with Google's reason; 401/403 and invalid
keys raise a ``MissingKeyError`` naming the variables; an unknown voice, option or empty line
fails before any request.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec

from ministudio_tts.style import DEFAULT_MODEL, EMOTIONS, ENGINE, MODELS, VOICES

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from ministudio.jobs import SpeechRequest, SpeechResult

__version__ = "0.1.0"
__all__ = ["DEFAULT_MODEL", "EMOTIONS", "ENGINE", "KEY_ENV", "MODELS", "VOICES", "spec"]

# The secrets the engine reads (blanked from every error and log); `ministudio keys set gemini`
# stores the first. A Gemini API key suffices, or a Vertex AI express key; the access token
# goes with GOOGLE_CLOUD_PROJECT (which is no secret), as for the Veo plugin.
KEY_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "VERTEX_AI_API_KEY", "VERTEX_AI_ACCESS_TOKEN")
# About 25 audio tokens a second at $6 per million (secondary figures, see gemini.py).
PRICE_PER_SECOND = 25 * 6.0 / 1e6


def spec() -> EngineSpec:
    return EngineSpec(
        id=ENGINE,
        kind="speech",
        description="Gemini text-to-speech (30 prebuilt voices, styles, two speakers)",
        key_env=KEY_ENV,
        default_model=DEFAULT_MODEL,
        capabilities=Capabilities(
            concurrency=4,
            requests_per_minute=10,  # the lowest paid tier's; `routing.limits` raises it
            price_per_second=PRICE_PER_SECOND,
            expected_latency=3.0,
        ),
    )


@hookimpl
def ministudio_engines() -> list[EngineSpec]:
    return [spec()]


@hookimpl
def speech_voices(engine: str) -> list[str] | None:
    return list(VOICES) if engine == ENGINE else None


@hookimpl
def synthesize_speech(
    engine: str, request: SpeechRequest, output: Path, context: EngineContext
) -> Awaitable[SpeechResult] | None:
    if engine != ENGINE:
        return None
    from ministudio_tts.gemini import synthesize

    return synthesize(spec(), request, Path(output), context)
