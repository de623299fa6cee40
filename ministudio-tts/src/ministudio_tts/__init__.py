"""MiniStudio cloud voices: the speech engine ``gemini`` (Gemini text-to-speech).

A character speaks with a Gemini voice through its ``voice``::

    characters:
      ann: {name: Ann, dna: ..., voice: {engine: gemini, voice: Kore}}

or every line does, with ``routing: {speech: gemini}``. Each line is one
``generate_content`` call with an AUDIO answer (``google-genai``'s async client, imported only
inside the hook); the audio it returns (a WAV from the 3.8 models, PCM from older ones; mono,
16-bit) becomes the line's WAV. The 3.8 models read their text verbatim, so they get the line
alone: its emotion, and a ``rate``/``pitch`` well away from the defaults, go in the part's
``speech_metadata.style`` ("cheerful, speaking slowly"), and a two-speaker line is one part
per turn with its ``speech_metadata.speaker``. The 2.5 and 3.1 previews get the style in
front of the text ("Say cheerfully and slowly: ..."). ``voice.options``: ``model`` (default
``DEFAULT_MODEL``), ``language`` (a BCP-47 code) and ``speakers`` (two names in the text ->
two voices, for a two-speaker line). Voices and emotions are in ``style``, the models (their
lifecycle, prices and Vertex locations) in ``models``.

Settings (the render's environment, or the key store for the keys), in the Veo plugin's
scheme: ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY`` (the Gemini Developer API; another root in
``GEMINI_BASE_URL``); else Vertex AI (another root in ``VERTEX_BASE_URL``) with a project,
``GOOGLE_CLOUD_PROJECT`` and ``GEMINI_TTS_LOCATION`` or ``GOOGLE_CLOUD_LOCATION`` (default
``global``; a single region with a 3.8 model is refused before any request), its
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

from ministudio_tts.models import AUDIO_TOKENS_PER_SECOND, DEFAULT_MODEL, ENGINE, MODELS, prices
from ministudio_tts.style import EMOTIONS, VOICES

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from ministudio.jobs import SpeechRequest, SpeechResult

__version__ = "0.1.0"
__all__ = ["DEFAULT_MODEL", "EMOTIONS", "ENGINE", "KEY_ENV", "MODELS", "VOICES", "spec"]

# The secrets the engine reads (blanked from every error and log); `ministudio keys set gemini`
# stores the first. A Gemini API key suffices, or a Vertex AI express key; the access token
# goes with GOOGLE_CLOUD_PROJECT (which is no secret), as for the Veo plugin.
KEY_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "VERTEX_AI_API_KEY", "VERTEX_AI_ACCESS_TOKEN")
# The default model's audio price for a second of speech (secondary figures: models.py).
PRICE_PER_SECOND = AUDIO_TOKENS_PER_SECOND * prices(DEFAULT_MODEL)[1]


def spec() -> EngineSpec:
    """The ``gemini`` speech engine: its keys, models (with their lifecycle) and limits."""
    return EngineSpec(
        id=ENGINE,
        kind="speech",
        description="Gemini text-to-speech (30 prebuilt voices, styles, two speakers)",
        key_env=KEY_ENV,
        default_model=DEFAULT_MODEL,
        models=MODELS,
        # 1: the 3.8 models get the line alone, its manner in speech_metadata (revision 0
        # sent "Say curiously: ..." in the text, which they speak): those lines are redone.
        revision=1,
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
