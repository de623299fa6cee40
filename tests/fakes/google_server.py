"""A loopback fake of Google's generative-media APIs as the ``google-genai`` 2.34 SDK speaks
them: Veo (video) on Vertex AI, project and express mode, and on the Gemini Developer API,
where it is retired; Gemini Omni through the Interactions API (``google_interactions.py``);
signed webhooks (``google_webhooks.py``); Gemini TTS (speech); Gemini vision (a judge of
clips); a text model's structured output (a "writer") and Gemini's image models
(``google_generate.py``); and the OAuth token endpoint a service-account key file points at.
Wire protocol: spec ``provider-wire-protocols.md`` section 2 and the Google items of 6. Rules
follow Google's docs (issue 13 item 6), each with its source beside it in the code (a URL, an
SDK module, a research note); [3P] = a third-party source; what none documents is called the
fake's choice.

Use it as a context manager; it serves on 127.0.0.1 (a free port) from a background thread::

    with GoogleServer(latency=0.2) as google:
        http = types.HttpOptions(base_url=google.base_url)    # the SDK appends the version
        gemini = genai.Client(api_key=google.api_key, http_options=http)
        vertex = genai.Client(vertexai=True, project="p", location="us-central1",
                              credentials=Credentials(token=google.access_token),
                              http_options=http)
        express = genai.Client(vertexai=True, api_key=google.vertex_api_key, http_options=http)
        creds = service_account.Credentials.from_service_account_info(
            google.service_account_info(), scopes=[CLOUD_PLATFORM])  # token_uri is this server

(``gemini_base_url`` and ``vertex_base_url`` are both ``base_url``; the env vars
``GOOGLE_GEMINI_BASE_URL`` / ``GOOGLE_VERTEX_BASE_URL`` work too.) A request meets injected faults
first, then auth, then its endpoint's rules. Every success is HTTP 200 exactly (the SDK raises on
201/204; only ``redirect_downloads`` answers a 302). Errors are Google style, ``{"error": {"code",
"message", "status", "details"?}}`` (OAuth's and Omni's differ); an unknown path is a 404 NOT_FOUND;
every 400 is INVALID_ARGUMENT; an unknown field in a body is a 400 ``Invalid JSON payload received.
Unknown name ...``, as Google's proto JSON parsing answers (for Veo's free-form
``instances``/``parameters`` that strictness is the fake's, to catch typos).

Gemini Developer API (``/v1beta/...`` as SDK 2.x sends, ``/v1/...`` as 3.x does; Omni too)
    Auth: ``x-goog-api-key: <api_key>`` or ``?key=``. None: 403 PERMISSION_DENIED ("Method
    doesn't allow unregistered callers..."); a wrong key: 400 "API key not valid. Please pass
    a valid API key." with an ErrorInfo, reason ``API_KEY_INVALID``. Veo: NO model is served
    (``GEMINI_VIDEO_MODELS`` is empty; deprecations page: veo-3.1-*-preview shut down
    2026-10-22, veo-3.0/2.0 2026-06-30): ``RETIRED_GEMINI_VIDEO_MODELS`` answer 404 "models/{m}
    is no longer available. It has been shut down; ..." (wording [3P]: apiyi notice), other
    ids 404 "... is not found for API version ...". ``serve_retired_veo=True`` serves the 3.1
    preview ids (``LEGACY_GEMINI_VIDEO_MODELS``) under the rules below, for unmigrated tests.
Vertex AI (``/v1beta1/...``; ``/v1/...`` is routed too)
    Project mode: ``projects/{p}/locations/{l}/publishers/google/models/{model}:verb``,
    ``Authorization: Bearer`` ``access_token`` or an unexpired token this server issued. None: 401
    UNAUTHENTICATED "Request is missing required authentication credential..."; another: 401
    "Request had invalid authentication credentials..."; both with an ErrorInfo and
    ``WWW-Authenticate``. Express mode: no ``projects/{p}/locations/{l}/``, ``x-goog-api-key:
    <vertex_api_key>`` (wrong: 400 API_KEY_INVALID). Another publisher than ``google``: 404. Veo:
    ``VERTEX_VIDEO_MODELS`` = ``veo-3.1-{,fast-,lite-}generate-001`` (model-versions page; lite per
    the extend page); ``RETIRED_VERTEX_VIDEO_MODELS`` (veo-3.0/2.0 retired 2026-06-30, 3.1 previews
    2026-04-02): 404 "... is no longer available"; other ids 404 "Publisher Model ... was not
    found". Project mode locations: ``us-central1`` (every official REST sample; [3P] a model-card
    transcription says only there), ``global`` too with ``veo_global=True`` (unverified); any other:
    404 as an unknown model.

``POST .../models/{model}:predictLongRunning``  (endpoint ``create``; spec 2.3)
    Body ``{"instances": [exactly one], "parameters"}``, plus ``webhookConfig`` on the Gemini API
    (see Webhooks) or top-level ``labels`` (string -> string) on Vertex; each on the other backend:
    400. Instance: ``prompt``; ``image`` and ``lastFrame`` (``lastFrame`` needs ``image``), each
    exactly one of base64 ``bytesBase64Encoded`` and ``gcsUri`` (Vertex only, ``gs://``), an
    optional ``image/*`` ``mimeType``; ``mask`` (Vertex only: ``maskMode`` INSERT | REMOVE |
    REMOVE_STATIC | OUTPAINT, and an image); ``referenceImages``: 1-3 ``{image, referenceType
    ASSET}`` (case-insensitive), none on Lite (Gemini video guide: "n/a"), not beside
    ``image``/``lastFrame``/``video``, a prompt required; ``video`` (extension): Gemini API ``uri``
    (a file this server made with Veo, else 400) or ``encodedVideo``, Vertex ``gcsUri`` or
    ``bytesBase64Encoded``. A prompt is required unless an image or video is given. Parameters:
    ``sampleCount`` 1-4 (default 1), ``durationSeconds`` 4 | 6 | 8 (8), ``aspectRatio`` 16:9 | 9:16
    (16:9), ``resolution`` 720p | 1080p | 4k (720p; Lite: no 4k, Gemini video guide and Vertex
    pricing), ``personGeneration`` dont_allow | allow_adult | allow_all, ``negativePrompt`` (str),
    ``enhancePrompt`` (bool). ``strict_durations=True`` (default): ``durationSeconds`` must be 8
    with reference images, 1080p or 4k (either backend), or a Gemini API extension (Gemini video
    guide parameter table; Vertex card for references; Vertex extension takes 1-30 s inputs, so no
    rule there). Vertex only, a 400 on the Gemini API (the SDK refuses them there): ``seed``
    0-4294967295, ``fps`` > 0 (checked; the clip is encoded at the server's ``fps``),
    ``generateAudio`` (sound only when true), ``storageUri`` ``gs://bucket/prefix``, ``pubsubTopic``
    ``projects/*/topics/*`` (nothing is published), ``compressionQuality`` OPTIMIZED | LOSSLESS,
    ``resizeMode`` CROP | PAD. -> ``{"name": "models/{model}/operations/{12 lowercase
    alphanumerics}"}`` (Gemini API), ``"{the path's model resource}/operations/{uuid}"`` (Vertex).
    With ``concurrency`` (10; None: no limit) jobs running, Veo and Omni counted, a create is a 429
    RESOURCE_EXHAUSTED (each backend's quota message; ``RetryInfo`` and ``Retry-After``: until the
    first Veo operation ends).
``GET /{v}/models/{model}/operations/{id}`` (Gemini API), ``POST ...:fetchPredictOperation``
(Vertex: body exactly ``{"operationName"}``, under the path's model; gotcha 6)  (``poll``)
    Running: ``{"name"}`` (no ``done``: gotcha 7). Failed: ``{"name", "done": true, "error":
    {"code", "message"}}``. Done (spec 2.5): ``response`` with ``raiMediaFilteredCount`` and
    ``raiMediaFilteredReasons``, and per sample on the Gemini API (inside
    ``generateVideoResponse``) a ``generatedSamples[].video.uri``,
    ``https://generativelanguage.googleapis.com/{v}/files/{id}:download?alt=media`` (https and
    a lowercase alphanumeric id, or the SDK cannot parse it: gotcha 2; ``local_url(uri)``
    points it here), on Vertex a ``videos[]`` ``{"gcsUri", "mimeType"}`` under ``storageUri``
    (``{prefix}/{operation id}/sample_{i}.mp4``), else inline ``{"bytesBase64Encoded",
    "mimeType"}``. An unknown operation: 404.
``GET /{v}/files/{id}:download?alt=media``  (``download``)
    A Veo or Omni clip (Gemini API auth). ``redirect_downloads=True``: a 302 to an
    unauthenticated ``/blob/{id}?sig=...`` (wrong ``sig``: 403), as the real one redirects to
    storage. ``GET /storage/v1/b/{bucket}/o/{object}?alt=media`` (``download``): the GCS JSON
    API download of an object this server wrote, with Vertex's bearer auth; without
    ``alt=media`` its metadata. ``GET /{v}/files/{id}`` (``poll``): the clip's File (``name``,
    ``mimeType``, ``sizeBytes``, ``state: ACTIVE``, ``uri``, ``downloadUri``).

Video jobs run in virtual time: a job is running for its latency (``latency=(mean, jitter)``,
default (0.3, 0.25): ``mean * (1 +- jitter)`` drawn from the prompt; or a number; or a callable
``prompt -> seconds``), then done. Its clip is encoded from acceptance (``encoders`` threads, 2): an
H.264 MP4 of one colour (from the prompt) with a lighter bar sliding down, at ``fps`` (24, as Veo;
Omni at ``OMNI_FPS``, 24), with an AAC mono chord when it has sound (Veo on the Gemini API always,
on Vertex with ``generateAudio``; Omni always). Nominal sizes: 720p 16:9 is 1280x720, 9:16 720x1280,
1080p 1920x1080, 4k 3840x2160 (Omni 360p 640x360); the file is rendered at ``render_scale`` (0.125)
of that, even and >= 16 px. All samples of an operation share one file. A Veo extension of one of
this server's clips lasts that clip's duration plus ``EXTENSION_SECONDS`` (7; spec 2.8, secondary)
on the Gemini API. On Vertex (``_check_video``) the source is one of this server's finished
Veo clips (``gcsUri`` of an object it wrote, or those bytes inline: "extend videos that you
previously generated using Veo", Vertex's extend page), 1-30 s at 24 fps ("the input video must
be 1 to 30 seconds in length", same page, English revision; 24 fps: its localized
"Limitations"), never beside ``image``/``lastFrame`` (the SDK's ``last_frame``: "Only supported
for image to video"; an extension is video to video: the fake's choice). The extension is 7 s
("can be extended by 7 seconds (up to 37 seconds total)"), at the source's size, its first
frame the source's last and its bar sliding back. What the finished clip holds is
``veo_extension``: ``"combined"`` (default: the source, then the extension; "up to 37 seconds
total" on that page and "a single video combining the user-provided video and the generated
extended video" in the Gemini API guide) or ``"extension"`` (the new 7 s only: what Vertex
serves is not spelled out). Either way the 7 s made are billed.
A prompt holding one of ``blocked_words`` (default "forbidden", case-insensitive) is accepted and
not billed; Veo ends done with no samples, ``raiMediaFilteredCount: 1`` and
``raiMediaFilteredReasons: [RAI_FILTERED_REASON]``. ``fail_next_job(code=13, message, count=1)``:
the next accepted jobs (Veo or Omni, not blocked) end with that ``error``; so does (code 13) a
failed encoding. Billed: succeeded Veo samples at ``PRICE_PER_SECOND`` (spec 2.8, secondary; Vertex
assumed the same; Lite has a 720p price only, so its 1080p bills 0), completed Omni videos as below.

OAuth: ``POST /token``  (``token``)
    Form ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>``, as
    google-auth's ``service_account.Credentials`` sends to its key file's ``token_uri``. The
    JWT: RS256 (``kid`` absent or the key's), signed by the key of ``service_account_info()``
    (an RSA key made once per server; ``client_email`` ``veo-fake@{project_id}...``), ``iss``
    that email, ``aud`` Google's token URI (google-auth's) or this one, ``scope`` non-empty,
    ``iat``/``exp`` at most an hour apart and current (5 min slack). -> ``{"access_token",
    "expires_in": token_lifetime (3600), "token_type": "Bearer"}``. Errors: HTTP 400, OAuth
    style ``{"error": "invalid_grant" | "invalid_scope" | "unsupported_grant_type",
    "error_description"}``.

Speech: ``POST .../models/{model}:generateContent``, a model id holding ``tts``  (``tts``)
    ``GEMINI_TTS_MODELS`` / ``VERTEX_TTS_MODELS`` (research tts.md): ``TTS_38_MODELS`` (3.8 flash
    and flash-lite; GA 2026-09-22: changelog) and older ids, served unless ``retire_older_tts=True``
    (404 "no longer available"; Google names no shutdown date, third parties disagree). Vertex
    project mode serves 3.8 in ``global`` and ``us``/``eu`` (zh-cn overview;
    ``tts_multiregions=False``: global only), in no single region (404: no source names one); older
    ids anywhere. Keys in snake_case or camelCase, mixed freely (gotcha 3). Parts are text only,
    optionally with ``speechMetadata {speaker, style}`` (strings; SDK ``SpeechMetadata``); the
    transcript is their text verbatim, joined with newlines (styles are not spoken).
    ``responseModalities`` exactly ``["AUDIO"]``. ``speechConfig``: ``languageCode``; one
    ``voiceConfig`` (``prebuiltVoiceConfig.voiceName``, or on 3.8 ``voice``: one of ``VOICES``,
    case-insensitive; none: ``DEFAULT_VOICE``, an assumption) or, not both (SDK),
    ``multiSpeakerVoiceConfig`` with exactly 2 distinct speakers (SDK, Vertex overview). 3.8 (Vertex
    TTS migration guide, Gemini speech guide): ``systemInstruction``, ``temperature``, ``topP``,
    ``topK``, ``candidateCount``: 400; with two speakers every part's ``speaker`` names one. Older
    ids: each speaker named in the text ("Name:" turns); ``speechMetadata``, ``voice`` and
    ``responseFormat`` are a 400 Unknown name (``older_tts_refuse_metadata=True``, default; [3P] a
    test comment), else accepted. A ``speaker`` without two speakers configured: 400. Output: 3.8
    ``audio/wav``, a complete 44-byte-header WAV (speech guide "Audio output formats"; Vertex
    migration guide), older ids raw ``audio/L16;codec=pcm;rate=24000`` ([3P] clients), 16-bit mono
    24 kHz either way; ``tts_output="wav"|"pcm"`` overrides that, and ``responseFormat [{"audio":
    {"mimeType": "AUDIO_WAV"|"AUDIO_L16"}}]`` (Vertex overview; either backend) overrides both
    (other types: 400). The audio lasts ``max(TTS_MIN_SECONDS, len(text) / TTS_CHARS_PER_SECOND)``
    (``tts_samples``): a buzz of five harmonics at ``voice_pitch(voice)`` Hz, 4 syllables a second,
    each part (3.8) or "Name:" turn (older) in its speaker's voice. The answer: one candidate with
    one ``inlineData`` part, ``usageMetadata`` (a token per 4 characters, 25 audio tokens a second),
    ``modelVersion``, ``responseId``. A blocked word in the text: no candidates,
    ``promptFeedback.blockReason: PROHIBITED_CONTENT``. ``tts_latency`` (0) s pass before each
    answer.

Writer and image models (rules, sources and knobs in ``google_generate.py``)
    A ``generateContent`` to a model id holding ``image`` goes to the image models
    (``image``: ``IMAGE_MODELS``, PNG answers at the documented pixel size, ``image_requests``,
    ``script_image``, ``image_blocked``, ``serve_image_previews``, ``image_latency``); one
    with exactly one response schema that is not a verdict schema (no ``reason``/``score``/
    ``passed`` property at the top or under ``identity``) goes to the writer (``writer``:
    ``WRITER_MODELS``, the schema checked, one JSON text part from ``script_writer``, else the
    test's ``writer`` callable, else an instance drawn from the schema; ``maxOutputTokens``
    cuts it with ``MAX_TOKENS``; ``writer_requests``, ``writer_latency``).

Vision judge: any other ``generateContent``  (``judge``)
    ``JUDGE_MODELS`` (else 404). Checked as the API would: at most ``JUDGE_MAX_REQUEST_BYTES``;
    ``contents`` (a ``Content`` or a list, role user | model) of parts, each exactly one of
    ``text`` and ``inlineData`` (base64, standard or URL-safe, of an ``image/jpeg``,
    ``image/png`` or ``image/webp`` whose bytes are that type; of a ``JUDGE_VIDEO_TYPES``
    video, at most ``JUDGE_MAX_VIDEOS`` a request, or a ``JUDGE_AUDIO_TYPES`` sound, which the
    fake decodes (PyAV) and records in ``videos``/``sounds`` as ``JudgeMedia``: its frames,
    duration and sound; one it cannot decode: 400; ``fileData`` is refused: no uploaded files
    here). A video part may carry ``videoMetadata`` (``fps`` in (0, ``JUDGE_MAX_FPS``],
    ``startOffset``/``endOffset`` durations like ``"1.5s"``, start before end); on another part,
    400 (the fake's choice). ``systemInstruction`` of text parts; ``generationConfig`` with
    ``responseMimeType: application/json``, text output and exactly one of
    ``responseJsonSchema`` and ``responseSchema`` (an object schema). Otherwise 400 (without a
    schema the real API answers free text; this fake answers only as a judge). The answer is
    one JSON text part shaped by the schema: a verdict ``{"reason", "score", "passed"}`` per
    property under ``identity`` (the character ids) and per other top-level property whose
    schema has those fields (``continuity``); each passes (``JUDGE_PASS_SCORE``) unless its key
    is in ``judge_failures`` (key -> the reason; ``JUDGE_FAIL_SCORE``). A ``lipsync`` verdict
    (its key ``"lipsync"``) fails by itself when no video in the request has sound (the fake's
    choice: a judge that heard nothing cannot pass lips).
    ``script_judge(answer, finish_reason="STOP", count=1)`` queues exact answers instead (a
    dict as JSON, a str as it is, None a candidate without content). A blocked word in a text
    part: no candidates, ``promptFeedback.blockReason: PROHIBITED_CONTENT``. ``usageMetadata``:
    ``JUDGE_IMAGE_TOKENS`` per picture plus a token per 4 characters of text (system
    instruction included), per video its sampled frames (``ceil(seconds * fps)`` over its
    picture's seconds, fps 1 unless
    ``videoMetadata`` says) at ``judge_frame_tokens(model)`` plus ``JUDGE_AUDIO_TOKENS`` a
    second of sound (a sound part too) (``promptTokensDetails`` TEXT, IMAGE, VIDEO, AUDIO); a
    token per 4 characters answered; ``JUDGE_THOUGHT_TOKENS`` thoughts. ``judge_latency`` (0)
    s pass before each answer.

Gemini Omni: ``POST /{v}/interactions`` (``create``), ``GET /{v}/interactions/{id}`` (``poll``
while running, ``download`` once done), with Gemini API auth
    ``OMNI_MODELS`` (``gemini-omni-1.1-flash``, ``-1.2-flash``; a ``models/`` prefix is
    dropped); ``gemini-omni-flash-preview`` ([3P] shut down 2026-09-30): 404 "no longer
    available"; others: 404 "Model '...' not found." ([3P] probe). The body's rules, defaults
    and sources are ``google_interactions.py``'s (3-10 s, default 10; 360p-4k; tags; unknown
    ``video_config`` keys ignored, a 400 with ``omni_strict_video_config=True``).
    ``previous_interaction_id`` names a stored interaction here (else 404, ``store: false``
    too) that completed with a video (else 400): task ``extend`` adds the asked duration
    (default 10 s), 40 s in all at most; another task is an edit, a full video of the asked
    duration or the previous one's. Over ``concurrency``: 429, ``Retry-After:
    fault_retry_after``. Ids ``v1_`` + 24 alphanumerics ([3P] TanStack). ``background=true``:
    create answers at once (``status: in_progress``); else when done, with the model's steps
    only ([IX]), the video inline or a files ``uri`` per ``response_format.delivery``. GET:
    the stored resource with the ``user_input`` step, the video always inline ([OMNI]). The
    resource: ``id``, ``object``, ``model``, ``status`` (in_progress | completed | failed),
    ``created``, ``updated``, ``response_format``, ``previous_interaction_id``?,
    ``webhook_config``?; once done ``steps`` (``user_input``, ``thought``, ``model_output``
    with a ``video`` block) and ``usage``; failed: ``errors [{"code": "INTERNAL"...,
    "message"}]`` and a ``model_output`` ``error``. A blocked prompt (how it shows is
    undocumented): ``omni_blocked="failed"`` (default) fails, code 3, the fake's message;
    ``"empty"``: completed, ``model_output`` content ``[]``. Billed: a completed video's
    seconds at ``TOKENS_PER_SECOND`` of its resolution, $17.50 per 1M tokens ([3P]). Errors
    here are ``{"error": {"code": "<status in lower case>", "message"}}`` (SDK 2.34's
    Interactions error: a string code), no ``details``.

Webhooks (rules and sources in ``google_webhooks.py``)
    Thin Standard-Webhooks events ``{"type", "version": "v1", "timestamp", "data"}``: a succeeded
    Gemini API Veo operation sends ``video.generated`` {``id`` (its name), ``output_file_uri``,
    ``file_name``} (failed or filtered ones: nothing); a background Omni interaction
    ``interaction.completed`` {``id``} or ``interaction.failed`` {``id``, ``error_code``,
    ``error_message``}; ``user_metadata`` goes in ``data`` (the fake's choice). Targets: the
    request's ``webhookConfig``/``webhook_config`` ``uris`` (Veo: non-empty, http(s); Omni: needs
    ``background=true``), signed with an RS256 JWT (JWKS at ``jwks_url``; claims per
    ``jwt_carries_event``: True, default, the event plus ``iat``/``exp``; False,
    ``iat``/``exp``/``aud`` = the uri, [3P] hookdeck); without, ``static_webhook_uri`` for the
    ``static_webhook_events`` (all), signed ``v1,<HMAC-SHA256>`` with ``webhook_secret``
    (``whsec_...``, random unless given). At most ``WEBHOOK_ATTEMPTS`` (4) tries until a 2xx,
    ``webhook_retry_delay`` (0.1 s) doubling, one ``webhook-id``; recorded in ``webhooks``.

Faults, injected with ``fail_next(endpoint, kind, count=1)`` (or ``faults=``), hit the next
matching requests before anything else (those are not recorded in ``tts_requests``,
``judge_requests``, ``writer_requests`` or ``image_requests``). Endpoints: ``"create"`` (Veo,
Omni), ``"poll"`` (Veo polls, an Omni GET while running, a File GET), ``"download"`` (files
and GCS downloads, an Omni GET once done; not the ``/blob/`` a redirect points at), ``"tts"``,
``"judge"``, ``"writer"``, ``"image"``, ``"token"``. Kinds:
``"429"`` (RESOURCE_EXHAUSTED, ``Retry-After: fault_retry_after`` (0.1 s), a RetryInfo),
``"500"`` (INTERNAL), ``"503"`` (UNAVAILABLE), OAuth-style on ``token``; ``"drop"``: close
without answering, having done nothing; ``"drop_after_accept"`` (``create``, ``image``):
accept (an image: draw and bill it), then close without answering; ``"hold_after_accept"``
(``create``, ``image``): the same, answering nothing until the client goes away
(``fakes.hold``, for kill tests); ``"truncate"`` (``download``):
``Content-Length`` for the whole body, then half of it (with ``redirect_downloads`` at the
``/blob/``); ``"echo"`` (any): a 400 echoing the request's credentials (``loopback.py``).

Counters: ``submissions`` (accepted Veo and Omni creates, filtered and failed included),
``status_requests`` (Veo polls and Omni GETs answered), ``operations`` (name -> ``VeoOperation``),
``interactions`` (id -> ``InteractionRecord``), ``webhooks`` (``WebhookDelivery``), ``tts_requests``
(``TtsRequest``: ``transcript``, ``styles``, ``turns``, voices, the answered
``mime_type``/``audio``, ``error``...), ``judge_requests`` (``JudgeRequest``), ``writer_requests``
(``WriterRequest``), ``image_requests`` (``ImageRequest``), ``tokens_issued``
(``TokenGrant``), ``requests`` (``(method, path)``, query included), ``rejected`` (a Counter:
``concurrency_limit``, ``injected``), ``peak_concurrency``, ``billed_seconds``, ``billed_usd``,
``active``. Helpers: ``wait_idle(timeout)`` (every job done, every webhook delivery ended),
``local_url(uri)``, ``service_account_info()``, ``token_uri``, ``jwks_url``; ``seed`` (0) makes ids,
file names and tokens repeatable; module functions ``tts_samples(text)``, ``tts_pcm_bytes(text)``,
``voice_pitch(voice)`` and ``wav_file(pcm)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import random
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import numpy as np

from . import google_interactions as omni
from .clips import even, nominal_size, solid_planes
from .google_interactions import InteractionRecord
from .google_webhooks import (
    EVENT_INTERACTION_COMPLETED,
    EVENT_INTERACTION_FAILED,
    EVENT_VIDEO_GENERATED,
    EVENTS,
    JWKS_PATH,
    WebhookDelivery,
    WebhookSigner,
    deliver,
    event,
)
from .hold import HOLD, hold
from .loopback import Faults, JsonHandler, Latency, LoopbackServer, draw_latency

if TYPE_CHECKING:
    from .google_generate import Writer

# -- the API surface ------------------------------------------------------------------------
GEMINI_VERSIONS = ("v1beta", "v1")  # 2.x SDK / 3.x SDK (gotcha 4)
VERTEX_VERSIONS = ("v1beta1", "v1")
# The Gemini Developer API serves no Veo model any more (/tmp/research/veo.md §1):
# https://ai.google.dev/gemini-api/docs/deprecations "Veo models": veo-3.1-*-preview shut down
# 2026-10-22 (replacement gemini-omni-1.1-flash), veo-3.0-*/veo-2.0 on 2026-06-30. The 404
# "is no longer available" is a third-party notice:
# https://docs.apiyi.com/en/live/2026-10/veo-3-1-preview-retired.md
LEGACY_GEMINI_VIDEO_MODELS = (  # served only with GoogleServer(serve_retired_veo=True)
    "veo-3.1-generate-preview",
    "veo-3.1-fast-generate-preview",
    "veo-3.1-lite-generate-preview",
)
RETIRED_GEMINI_VIDEO_MODELS = (
    *LEGACY_GEMINI_VIDEO_MODELS,
    "veo-3.0-generate-001",
    "veo-3.0-fast-generate-001",
    "veo-2.0-generate-001",
    "veo-3.0-generate-preview",
    "veo-3.0-fast-generate-preview",
)
GEMINI_VIDEO_MODELS: tuple[str, ...] = ()
# Vertex: https://docs.cloud.google.com/gemini-enterprise-agent-platform/models/model-versions
# (veo-3.1-*-001 GA; veo-3.0/2.0 retired 2026-06-30); lite-001 per the extend page's model
# list (https://docs.cloud.google.com/gemini-enterprise-agent-platform/models/video/
# extend-a-veo-video); Vertex preview ids retired 2026-04-02 (Veo 2 page, retirement note).
VERTEX_VIDEO_MODELS = (
    "veo-3.1-generate-001",
    "veo-3.1-fast-generate-001",
    "veo-3.1-lite-generate-001",
)
RETIRED_VERTEX_VIDEO_MODELS = (
    "veo-3.0-generate-001",
    "veo-3.0-fast-generate-001",
    "veo-2.0-generate-001",
    "veo-3.1-generate-preview",
    "veo-3.1-fast-generate-preview",
)
# Vertex locations for Veo: every official REST sample uses us-central1 (veo.md §4); a
# third-party transcription of the model card says "us-central1 only"; `global` unverified
# (GoogleServer(veo_global=True) serves it there too).
VEO_LOCATIONS = ("us-central1",)
# Gemini TTS (/tmp/research/tts.md §1, §F): 3.8 GA on the Gemini API since 2026-09-22
# (changelog); the older ids "No shutdown date announced" on the deprecations page, third
# parties disagree -> GoogleServer(retire_older_tts=True) retires them (404).
TTS_38_MODELS = ("gemini-3.8-flash-tts", "gemini-3.8-flash-lite-tts")
OLDER_GEMINI_TTS_MODELS = (
    "gemini-2.5-flash-preview-tts",
    "gemini-2.5-pro-preview-tts",
    "gemini-3.1-flash-tts-preview",
)
GEMINI_TTS_MODELS = (*OLDER_GEMINI_TTS_MODELS, *TTS_38_MODELS)
# Vertex TTS overview's supported-models table (https://docs.cloud.google.com/gemini-
# enterprise-agent-platform/models/text-to-speech/overview) and the migration guide's list.
OLDER_VERTEX_TTS_MODELS = (
    "gemini-2.5-flash-tts",
    "gemini-2.5-pro-tts",
    "gemini-2.5-flash-lite-preview-tts",
    "gemini-3.1-flash-tts-preview",
)
VERTEX_TTS_MODELS = (*OLDER_VERTEX_TTS_MODELS, *TTS_38_MODELS)
# 3.8 TTS on Vertex: "available in the global location" (model page: "Global: global"); the
# newer zh-cn revision of the overview adds "the us and eu multi-region locations"
# (GoogleServer(tts_multiregions=False) keeps to global). No source names a single region.
TTS_38_LOCATIONS = ("global",)
TTS_38_MULTIREGIONS = ("us", "eu")
ENDPOINTS = ("create", "poll", "download", "tts", "judge", "writer", "image", "token")
FAULT_ENDPOINTS: dict[str, tuple[str, ...]] = {
    "429": ENDPOINTS,
    "500": ENDPOINTS,
    "503": ENDPOINTS,
    "drop": ENDPOINTS,
    "drop_after_accept": ("create", "image"),
    HOLD: ("create", "image"),
    "truncate": ("download",),
}

# -- Veo ------------------------------------------------------------------------------------
DURATIONS = (4, 6, 8)
DEFAULT_DURATION = 8
ASPECT_RATIOS = {"16:9": (16, 9), "9:16": (9, 16)}
RESOLUTIONS = {"720p": 720, "1080p": 1080, "4k": 2160}
MAX_SAMPLES = 4
MAX_REFERENCE_IMAGES = 3
EXTENSION_SECONDS = 7  # a Gemini API extension adds about 7 s (spec 2.8, secondary)
PERSON_GENERATION = ("dont_allow", "allow_adult", "allow_all")
COMPRESSION_QUALITIES = ("OPTIMIZED", "LOSSLESS")
RESIZE_MODES = ("CROP", "PAD")
VERTEX_ONLY_PARAMETERS = (
    "seed",
    "fps",
    "generateAudio",
    "storageUri",
    "pubsubTopic",
    "compressionQuality",
    "resizeMode",
)
COMMON_PARAMETERS = (
    "sampleCount",
    "durationSeconds",
    "aspectRatio",
    "resolution",
    "personGeneration",
    "negativePrompt",
    "enhancePrompt",
)
# US dollars per second of video by model tier and resolution (spec 2.8, secondary)
PRICE_PER_SECOND = {
    "standard": {"720p": 0.40, "1080p": 0.40, "4k": 0.60},
    "fast": {"720p": 0.10, "1080p": 0.12, "4k": 0.30},
    "lite": {"720p": 0.05, "1080p": 0.08},  # [3P] two transcriptions of the pricing page
}
RAI_FILTERED_REASON = (
    "Veo could not generate videos because the input prompt violates Google's Responsible AI"
    " practices. Try rephrasing the prompt. If you think this was an error, send feedback."
    " Support codes: 58061214"
)
FILE_HOST = "https://generativelanguage.googleapis.com"
GEMINI_RESPONSE_TYPE = (
    "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
)
VERTEX_RESPONSE_TYPE = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
AUDIO_RATE = 48000  # the Veo clip's soundtrack
WEBHOOK_ATTEMPTS = 4  # the first try and 3 retries

# -- TTS ------------------------------------------------------------------------------------
# the 30 prebuilt voices of spec 2.9
# fmt: off
VOICES = (
    "Zephyr", "Puck", "Charon", "Kore", "Fenrir", "Leda", "Orus", "Aoede", "Callirrhoe",
    "Autonoe", "Enceladus", "Iapetus", "Umbriel", "Algieba", "Despina", "Erinome", "Algenib",
    "Rasalgethi", "Laomedeia", "Achernar", "Alnilam", "Schedar", "Gacrux", "Pulcherrima",
    "Achird", "Zubenelgenubi", "Vindemiatrix", "Sadachbia", "Sadaltager", "Sulafat",
)
# fmt: on
DEFAULT_VOICE = "Zephyr"  # an assumption: the API picks some voice when none is given
MAX_SPEAKERS = 2
TTS_RATE = 24000
# Older models answer headerless PCM with this mimeType (third-party clients, tts.md §K); 3.8
# unary answers "a complete WAV (audio/wav) ... 24 kHz, mono, 16-bit" (Gemini API speech
# guide, "Audio output formats"; Vertex migration guide "Default output").
TTS_MIME = "audio/L16;codec=pcm;rate=24000"
TTS_WAV_MIME = "audio/wav"
# SDK types.SpeechMetadata (2.34 types.py:1628): exactly speaker and style.
SPEECH_METADATA_FIELDS = ("speaker", "style")
# 3.8: "temperature, topP, topK: Rejected with an INVALID_ARGUMENT error"; also remove
# candidateCount; "System instructions aren't supported" (Vertex TTS migration guide).
TTS_38_REJECTED = ("temperature", "top_p", "top_k", "candidate_count")
# Vertex TTS overview: responseFormat audio mimeTypes (MP3/Ogg "not supported"); the fake
# encodes WAV and L16 only.
TTS_RESPONSE_FORMATS = {"AUDIO_WAV": "wav", "AUDIO_L16": "pcm"}
TTS_CHARS_PER_SECOND = 15.0
TTS_MIN_SECONDS = 0.5
AUDIO_TOKENS_PER_SECOND = 25

# -- the vision judge -----------------------------------------------------------------------
JUDGE_MODELS = ("gemini-3.8-flash", "gemini-3.5-flash", "gemini-3.5-flash-lite", "gemini-2.5-flash")
JUDGE_IMAGE_TYPES = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG", "image/webp": b"RIFF"}
# Inline data: "< 100 MB" (ai.google.dev/gemini-api/docs/file-input-methods, input method
# comparison; video-understanding's table; blog.google "Increased file size limits and
# expanded inputs support in Gemini API", January 2026: 20 MB before). Applied to the request.
JUDGE_MAX_REQUEST_BYTES = 100 * 1024 * 1024
JUDGE_IMAGE_TOKENS = 258  # the fake's count per picture (Gemini's for a small image)
# ai.google.dev/gemini-api/docs/video-understanding, "Supported video formats".
JUDGE_VIDEO_TYPES = (
    "video/mp4",
    "video/mpeg",
    "video/mov",
    "video/avi",
    "video/x-flv",
    "video/mpg",
    "video/webm",
    "video/wmv",
    "video/3gpp",
)
# ai.google.dev/gemini-api/docs/audio, "Supported audio formats".
JUDGE_AUDIO_TYPES = ("audio/wav", "audio/mp3", "audio/aiff", "audio/aac", "audio/ogg", "audio/flac")
# "Maximum number of videos per prompt: 10" (Vertex AI video-understanding, supported models).
JUDGE_MAX_VIDEOS = 10
# VideoMetadata.fps: "If not specified, the default value is 1.0. The valid range is (0.0,
# 24.0]." (google-genai 2.34 types.VideoMetadata; the video guide's "set a custom frame rate").
JUDGE_DEFAULT_FPS = 1.0
JUDGE_MAX_FPS = 24.0
# video-understanding "Technical details": a frame 258 tokens (66 at low media resolution) on
# Gemini 2.x; media-resolution guide / Vertex model cards: 70 a video frame on Gemini 3 by
# default; audio 32 tokens a second.
JUDGE_FRAME_TOKENS_3 = 70
JUDGE_FRAME_TOKENS_2 = 258
JUDGE_AUDIO_TOKENS = 32
_DURATION = re.compile(r"^\d+(\.\d+)?s$")  # proto3 JSON Duration, e.g. "1.5s"
JUDGE_THOUGHT_TOKENS = 96
JUDGE_PASS_SCORE = 0.92
JUDGE_FAIL_SCORE = 0.18
VERDICT_FIELDS = ("reason", "score", "passed")
GENERATION_FIELDS = (
    "response_mime_type",
    "response_schema",
    "response_json_schema",
    "response_modalities",
    "temperature",
    "top_p",
    "top_k",
    "max_output_tokens",
    "candidate_count",
    "seed",
    "stop_sequences",
    "presence_penalty",
    "frequency_penalty",
    "thinking_config",
    "media_resolution",
)

# -- OAuth ----------------------------------------------------------------------------------
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # the aud google-auth always signs
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
MAX_ASSERTION_LIFETIME = 3600


# -- errors ---------------------------------------------------------------------------------
class GoogleError(Exception):
    """An error answer, Google style: ``{"error": {"code", "message", "status"}}``."""

    def __init__(
        self,
        code: int,
        status: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code} {status}: {message}")
        self.code, self.status, self.message = code, status, message
        self.details = details
        self.headers = dict(headers or {})

    string_code = False  # the Interactions API's error shape (see ``interactions_error``)

    def body(self) -> dict[str, Any]:
        if self.string_code:
            return {"error": {"code": self.status.lower(), "message": self.message}}
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class OAuthError(Exception):
    """A token-endpoint error: ``{"error", "error_description"}``."""

    def __init__(self, code: int, error: str, description: str) -> None:
        super().__init__(f"{code} {error}: {description}")
        self.code, self.error, self.description = code, error, description


def bad(message: str) -> GoogleError:
    return GoogleError(400, "INVALID_ARGUMENT", message)


def unknown_field(name: str, where: str) -> GoogleError:
    return bad(
        f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': Cannot find field."
    )


def not_found(message: str = "Requested entity was not found.") -> GoogleError:
    return GoogleError(404, "NOT_FOUND", message)


def _error_info(reason: str, service: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": service},
    }


def _retry_info(seconds: float) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{seconds:.3f}s"}


# -- records --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    """Where a request went: backend ``gemini`` | ``vertex`` (project) | ``express``."""

    backend: str
    version: str
    model: str = ""
    verb: str = ""
    project: str | None = None
    location: str | None = None
    ident: str = ""  # the operation id (Developer API poll) or file id (download)

    @property
    def resource(self) -> str:
        """The model's resource name as the path has it (the poll's ``resource``)."""
        if self.backend == "gemini":
            return f"models/{self.model}"
        prefix = f"projects/{self.project}/locations/{self.location}/" if self.project else ""
        return f"{prefix}publishers/google/models/{self.model}"


@dataclass
class VeoOperation:
    """One accepted video operation, as the server sees it."""

    name: str
    id: str
    backend: str  # "gemini" | "vertex" | "express"
    version: str
    model: str
    project: str | None
    location: str | None
    instance: dict[str, Any]  # instances[0] as received
    parameters: dict[str, Any]  # as received
    prompt: str | None
    duration: int  # seconds of the clip
    aspect_ratio: str
    resolution: str
    sample_count: int
    width: int  # nominal
    height: int
    render_width: int
    render_height: int
    fps: int  # the encoded frame rate
    audio: bool
    storage_uri: str | None
    labels: dict[str, str]
    webhook_uris: list[str]
    user_metadata: Any
    reference_types: list[str]
    extends: str | None  # the operation whose clip a `video` input extends
    latency: float
    submitted_at: float  # time.monotonic()
    state: str = "running"  # running | succeeded | filtered | failed
    error: dict[str, Any] | None = None
    planned_error: dict[str, Any] | None = None
    done_at: float | None = None
    polls: int = 0
    downloads: int = 0
    files: list[str] = field(default_factory=list)  # Developer API file ids, one per sample
    gcs_uris: list[str] = field(default_factory=list)  # Vertex with storageUri
    path: Path | None = None
    cost_usd: float = 0.0
    # (colour key, bar top per frame) of an extension (Vertex), from its source's timeline
    timeline: tuple[str, list[int]] | None = None

    @property
    def done(self) -> bool:
        return self.state != "running"


@dataclass
class TtsRequest:
    """One speech request that reached the TTS endpoint (answered, blocked or rejected)."""

    backend: str
    model: str
    body: dict[str, Any]  # the request JSON as received ({} if it was not JSON)
    text: str = ""
    voice: str | None = None  # single-voice requests
    speakers: dict[str, str] = field(default_factory=dict)  # multi-speaker: speaker -> voice
    speech_config: dict[str, Any] = field(default_factory=dict)  # normalised to snake_case
    language_code: str | None = None
    location: str | None = None  # Vertex project mode
    transcript: str = ""  # what is spoken: the text parts joined (the 3.8 verbatim rule)
    styles: list[str] = field(default_factory=list)  # speechMetadata.style per part ("" none)
    turns: list[tuple[str | None, str]] = field(default_factory=list)  # (speaker, text)/part
    mime_type: str = ""  # the inlineData mimeType answered
    audio: bytes = b""  # the answered bytes (a WAV file, or raw PCM)
    seconds: float = 0.0
    pcm: bytes = b""
    blocked: bool = False
    error: str | None = None  # the message of the 4xx it got, if rejected


@dataclass
class JudgeMedia:
    """A video or sound part of a judge request, as decoded."""

    mime_type: str
    data: bytes
    fps: float | None = None  # videoMetadata.fps as sent (None: not sent)
    metadata: dict[str, Any] = field(default_factory=dict)  # videoMetadata as sent
    seconds: float = 0.0  # the longest stream's duration
    picture_seconds: float = 0.0  # the video stream's duration (0: none)
    frames: list[np.ndarray] = field(default_factory=list)  # RGB pictures, in order
    frame_times: list[float] = field(default_factory=list)
    sound: np.ndarray | None = None  # mono float32 samples; None: no audio stream
    sample_rate: int = 0

    @property
    def sampled_fps(self) -> float:
        return self.fps if self.fps is not None else JUDGE_DEFAULT_FPS


@dataclass
class JudgeRequest:
    """One request that reached the vision judge (answered, blocked or rejected)."""

    backend: str
    model: str
    body: dict[str, Any]  # the request JSON as received ({} if it was not JSON)
    texts: list[str] = field(default_factory=list)  # the text parts, in order
    images: list[tuple[str, bytes]] = field(default_factory=list)  # (mime type, bytes), in order
    videos: list[JudgeMedia] = field(default_factory=list)  # in order
    sounds: list[JudgeMedia] = field(default_factory=list)  # audio parts, in order
    kinds: list[str] = field(default_factory=list)  # each part: text | image | video | audio
    system_instruction: str = ""
    schema: dict[str, Any] = field(default_factory=dict)
    answer: str = ""  # the JSON text answered
    usage: dict[str, Any] = field(default_factory=dict)
    blocked: bool = False
    error: str | None = None  # the message of the 4xx it got, if rejected

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


@dataclass
class TokenGrant:
    token: str
    client_email: str
    scopes: list[str]
    expires_at: float  # time.monotonic()


# -- the server -----------------------------------------------------------------------------
class GoogleServer(LoopbackServer):
    """The fake API. Start it with ``with`` (or ``start()``/``close()``)."""

    def __init__(
        self,
        api_key: str = "gemini-test-key",
        *,
        vertex_api_key: str = "vertex-express-test-key",
        access_token: str = "vertex-test-token",
        latency: Latency = (0.3, 0.25),
        concurrency: int | None = 10,
        blocked_words: Iterable[str] = ("forbidden",),
        faults: Faults = None,
        render_scale: float = 0.125,
        fps: int = 24,
        tts_latency: float = 0.0,
        judge_latency: float = 0.0,
        fault_retry_after: float = 0.1,
        webhook_retry_delay: float = 0.1,
        token_lifetime: int = 3600,
        project_id: str = "ministudio-fake",
        redirect_downloads: bool = False,
        strict_durations: bool = True,
        encoders: int = 2,
        seed: int = 0,
        serve_retired_veo: bool = False,
        veo_global: bool = False,
        retire_older_tts: bool = False,
        tts_multiregions: bool = True,
        older_tts_refuse_metadata: bool = True,
        tts_output: str | None = None,
        omni_blocked: str = "failed",
        omni_strict_video_config: bool = False,
        jwt_carries_event: bool = True,
        static_webhook_uri: str | None = None,
        webhook_secret: str | None = None,
        static_webhook_events: Iterable[str] = EVENTS,
        veo_extension: str = "combined",
        writer_latency: float = 0.0,
        image_latency: float = 0.0,
        image_blocked: str = "IMAGE_SAFETY",
        serve_image_previews: bool = False,
    ) -> None:
        """``api_key``: the Gemini Developer API key; ``vertex_api_key``: Vertex express;
        ``access_token``: a bearer token always accepted on Vertex (besides issued ones);
        ``render_scale``: the fraction of the nominal size actually encoded; ``fps``: the
        encoded frame rate; ``project_id``: the service account's project."""
        super().__init__(api_key, encoders)
        self.vertex_api_key = vertex_api_key
        self.access_token = access_token
        self.latency = latency
        self.concurrency = concurrency
        self.blocked_words = tuple(w.lower() for w in blocked_words)
        self.render_scale = render_scale
        self.fps = fps
        self.tts_latency = tts_latency
        self.judge_latency = judge_latency
        self.fault_retry_after = fault_retry_after
        self.webhook_retry_delay = webhook_retry_delay
        self.token_lifetime = token_lifetime
        self.project_id = project_id
        self.redirect_downloads = redirect_downloads
        self.strict_durations = strict_durations
        self.serve_retired_veo = serve_retired_veo
        self.veo_global = veo_global
        self.retire_older_tts = retire_older_tts
        self.tts_multiregions = tts_multiregions
        self.older_tts_refuse_metadata = older_tts_refuse_metadata
        if tts_output not in (None, "wav", "pcm"):
            raise ValueError("tts_output: None (per model), 'wav' or 'pcm'")
        self.tts_output = tts_output
        if omni_blocked not in ("failed", "empty"):
            raise ValueError("omni_blocked: 'failed' or 'empty'")
        self.omni_blocked = omni_blocked
        self.omni_strict_video_config = omni_strict_video_config
        if veo_extension not in ("combined", "extension"):
            raise ValueError("veo_extension: 'combined' or 'extension'")
        self.veo_extension = veo_extension
        # writer and image models: rules in google_generate.py
        self.writer_latency = writer_latency
        self.image_latency = image_latency
        if image_blocked not in ("IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "prompt"):
            raise ValueError(
                "image_blocked: 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT' or 'prompt'"
            )
        self.image_blocked = image_blocked
        self.serve_image_previews = serve_image_previews
        self.writer: Writer | None = None  # the test's stand-in model (google_generate.py)
        self.static_webhook_uri = static_webhook_uri
        self.static_webhook_events = tuple(static_webhook_events)
        self.signer = WebhookSigner(jwt_carries_event, webhook_secret)
        self._rng = random.Random(seed)

        self.submissions = 0
        self.status_requests = 0
        self.operations: dict[str, VeoOperation] = {}
        self.interactions: dict[str, InteractionRecord] = {}
        self.webhooks: list[WebhookDelivery] = []
        self.tts_requests: list[TtsRequest] = []
        self.judge_requests: list[JudgeRequest] = []
        self.judge_failures: dict[str, str] = {}  # character id or "continuity" -> reason
        self.writer_requests: list[Any] = []  # google_generate.WriterRequest
        self.image_requests: list[Any] = []  # google_generate.ImageRequest
        self.tokens_issued: list[TokenGrant] = []
        self.rejected: Counter[str] = Counter()
        self.peak_concurrency = 0
        self.billed_seconds = 0.0
        self.billed_usd = 0.0

        self._files: dict[str, VeoOperation | InteractionRecord] = {}  # file id -> its job
        self._objects: dict[str, VeoOperation] = {}  # "bucket/object" -> operation
        self._blob_sigs: dict[str, str] = {}  # file id -> signature of its redirect URL
        self._truncate_blobs: set[str] = set()
        self._job_errors: deque[dict[str, Any]] = deque()
        self._judge_script: deque[tuple[str | None, str]] = deque()
        self._writer_script: deque[tuple[str | None, str]] = deque()
        self._image_script: deque[tuple[str, str | None]] = deque()
        self._renders: dict[str, Future[None]] = {}
        self._inline: dict[str, str] = {}  # operation name -> base64 of its clip
        self._sa_key: Any = None  # the service account's RSA private key
        self._sa_info: dict[str, str] | None = None

        self.fail_with(faults)

    # -- addresses ------------------------------------------------------------------------------
    @property
    def gemini_base_url(self) -> str:
        """``HttpOptions(base_url=...)`` for the Developer API (the SDK appends ``v1beta``)."""
        return self.base_url

    @property
    def vertex_base_url(self) -> str:
        """``HttpOptions(base_url=...)`` for Vertex (the SDK appends ``v1beta1``)."""
        return self.base_url

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"

    @property
    def jwks_url(self) -> str:
        """The loopback JWKS of the dynamic-webhook JWTs (Google's:
        https://generativelanguage.googleapis.com/.well-known/jwks.json)."""
        return self.base_url + JWKS_PATH

    @property
    def webhook_secret(self) -> str:
        """The static webhooks' ``whsec_<base64>`` signing secret."""
        return self.signer.secret

    @property
    def jwt_carries_event(self) -> bool:
        return self.signer.jwt_carries_event

    def local_url(self, uri: str) -> str:
        """A ``generatedSamples[].video.uri`` (on Google's host) pointed at this server."""
        parts = urlsplit(uri)
        return f"{self.base_url}{parts.path}" + (f"?{parts.query}" if parts.query else "")

    # -- knobs and helpers for tests ------------------------------------------------------------
    def fail_next_job(
        self,
        code: int = 13,
        message: str = "Video generation failed due to an internal error. Please try again.",
        count: int = 1,
    ) -> None:
        """Make the next ``count`` accepted operations end ``done`` with ``error`` (``code``
        is a google.rpc code: 13 INTERNAL, 3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED...)."""
        with self._lock:
            self._job_errors.extend([{"code": code, "message": message}] * count)

    def script_judge(
        self, answer: str | Mapping[str, Any] | None, *, finish_reason: str = "STOP", count: int = 1
    ) -> None:
        """Make the judge's next ``count`` answers exactly ``answer`` (a dict: as JSON; a str:
        as it is, malformed or not; None: a candidate without content), ending ``finish_reason``."""
        text = json.dumps(answer) if isinstance(answer, Mapping) else answer
        with self._lock:
            self._judge_script.extend([(text, finish_reason)] * count)

    def script_writer(
        self, answer: str | Mapping[str, Any] | None, *, finish_reason: str = "STOP", count: int = 1
    ) -> None:
        """Make the writer's next ``count`` answers exactly ``answer`` (a dict: as JSON; a str:
        as it is; None: a candidate without content), ending ``finish_reason``."""
        text = json.dumps(answer) if isinstance(answer, Mapping) else answer
        with self._lock:
            self._writer_script.extend([(text, finish_reason)] * count)

    def script_image(
        self, *, finish_reason: str = "NO_IMAGE", text: str | None = None, count: int = 1
    ) -> None:
        """Make the image models' next ``count`` answers hold no image: ``finish_reason``,
        and a text part when ``text`` is given."""
        with self._lock:
            self._image_script.extend([(finish_reason, text)] * count)

    def service_account_info(self) -> dict[str, str]:
        """A service-account key file (as a dict) whose ``token_uri`` is this server's
        ``/token``; its RSA key is made once per server. Call it once the server is started."""
        with self._lock:
            if self._sa_info is None:
                from cryptography.hazmat.primitives import serialization
                from cryptography.hazmat.primitives.asymmetric import rsa

                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                pem = key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode()
                email = f"veo-fake@{self.project_id}.iam.gserviceaccount.com"
                self._sa_key = key
                self._sa_info = {
                    "type": "service_account",
                    "project_id": self.project_id,
                    "private_key_id": hashlib.sha1(pem.encode()).hexdigest(),
                    "private_key": pem,
                    "client_email": email,
                    "client_id": str(int(hashlib.sha256(email.encode()).hexdigest()[:18], 16)),
                    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                    "token_uri": self.token_uri,
                    "universe_domain": "googleapis.com",
                }
            return dict(self._sa_info)

    @property
    def active(self) -> int:
        """Operations accepted and still running."""
        with self._lock:
            return self._active()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every operation is done and every webhook delivery has ended."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._active() or self._webhooks_pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def _active(self) -> int:
        return sum(1 for op in self.operations.values() if not op.done) + sum(
            1 for ix in self.interactions.values() if not ix.done
        )

    # -- routing ----------------------------------------------------------------------------------
    def dispatch(self, h: _Handler, method: str, path: str, query: str, body: bytes) -> None:
        """Route one request; raises ``GoogleError`` / ``OAuthError`` for error answers."""
        if path == "/token" and method == "POST":
            if not self._guard(h, "token", oauth=True):
                self.token(h, body)
            return
        if path.startswith("/storage/v1/b/") and method == "GET":
            if not self._guard(h, "download"):
                self._check_bearer(h, "storage.googleapis.com")
                self.gcs_download(h, path, query)
            return
        if path.startswith("/blob/") and method == "GET":
            self.blob(h, path[len("/blob/") :], query)
            return
        if path == JWKS_PATH and method == "GET":
            h.send_json(200, self.signer.jwks())
            return
        version, _, rest = path.lstrip("/").partition("/")
        if version in GEMINI_VERSIONS and (rest == "interactions" or rest.startswith("inter")):
            try:
                self._interactions(h, method, version, rest, query, body)
            except GoogleError as exc:
                # The Interactions API's errors are {"error": {"code": <str>, "message"}}: SDK
                # 2.34 _gaos/types/interactions/error.py (code: str, "A URI that identifies the
                # error type"); the SDK's own tests use codes like "invalid_argument",
                # "resource_exhausted" (3.6.1 tests/interactions/test_live_interactions.py).
                exc.string_code = True
                raise
            return
        if version in GEMINI_VERSIONS and method == "GET" and _GEMINI_FILE_META.fullmatch(rest):
            if not self._guard(h, "poll"):
                self._authenticate(h, Route("gemini", version), query)
                self.file_meta(h, version, rest.partition("/")[2])
            return
        route: Route | None = None
        endpoint = ""
        if version in GEMINI_VERSIONS and rest.startswith(("models/", "files/")):
            if method == "POST" and (m := _GEMINI_CALL.fullmatch(rest)):
                route = Route("gemini", version, m["model"], m["verb"])
                endpoint = _call_endpoint(m["verb"], m["model"])
            elif method == "GET" and (m := _GEMINI_OPERATION.fullmatch(rest)):
                route = Route("gemini", version, m["model"], "get", ident=m["id"])
                endpoint = "poll"
            elif method == "GET" and (m := _GEMINI_FILE.fullmatch(rest)):
                route = Route("gemini", version, verb="download", ident=m["id"])
                endpoint = "download"
        elif version in VERTEX_VERSIONS and rest.startswith(("projects/", "publishers/")):
            m = _VERTEX_CALL.fullmatch(rest)
            if method == "POST" and m:
                backend = "vertex" if m["project"] else "express"
                route = Route(backend, version, m["model"], m["verb"], m["project"], m["location"])
                endpoint = _call_endpoint(m["verb"], m["model"])
                if endpoint and m["publisher"] != "google":
                    raise not_found(f"Publisher Model `{rest.partition(':')[0]}` was not found.")
        if route is None or not endpoint:
            raise not_found(f"The requested URL {path} was not found on this server.")
        if endpoint == "judge":
            from . import google_generate

            if google_generate.is_writer_request(body):
                endpoint = "writer"
        if self._guard(h, endpoint):
            return
        self._authenticate(h, route, query)
        if endpoint == "create":
            self.create(h, route, body)
        elif endpoint == "poll":
            self.poll(h, route, body)
        elif endpoint == "tts":
            self.tts(h, route, body)
        elif endpoint == "judge":
            self.judge(h, route, body)
        elif endpoint in ("writer", "image"):
            from . import google_generate

            getattr(google_generate, endpoint)(self, h, route, body)
        else:
            self.download(h, route.ident)

    def _guard(self, h: _Handler, endpoint: str, oauth: bool = False) -> bool:
        """Injected faults. True when the handler has dropped the connection; an error
        fault raises; any other fault is left on the handler for the endpoint."""
        fault = self._take_fault(endpoint)
        if fault == "drop":
            h.drop()
            return True
        if fault in ("429", "500", "503"):
            with self._lock:
                self.rejected["injected"] += 1
            if oauth:
                error = {"429": "rate_limit_exceeded", "500": "internal_failure"}
                raise OAuthError(
                    int(fault), error.get(fault, "temporarily_unavailable"), "injected"
                )
            if fault == "429":
                raise GoogleError(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "Resource has been exhausted (e.g. check quota).",
                    [_retry_info(self.fault_retry_after)],
                    {"Retry-After": f"{self.fault_retry_after:.3f}"},
                )
            if fault == "500":
                raise GoogleError(
                    500,
                    "INTERNAL",
                    "An internal error has occurred. Please retry or report in"
                    " https://developers.generativeai.google/guide/troubleshooting",
                )
            raise GoogleError(503, "UNAVAILABLE", "The service is currently unavailable.")
        h.fault = fault
        return False

    # -- auth -------------------------------------------------------------------------------------
    def _authenticate(self, h: _Handler, route: Route, query: str) -> None:
        if route.backend == "gemini":
            self._check_key(h, query, self.api_key, "generativelanguage.googleapis.com")
        elif route.backend == "express":
            self._check_key(h, query, self.vertex_api_key, "aiplatform.googleapis.com")
        else:
            self._check_bearer(h)

    def _check_key(self, h: _Handler, query: str, expected: str, service: str) -> None:
        given = h.headers.get("x-goog-api-key") or parse_qs(query).get("key", [""])[0]
        if not given:
            raise GoogleError(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established"
                " identity). Please use API Key or other form of API consumer identity to call"
                " this API.",
            )
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise GoogleError(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                [_error_info("API_KEY_INVALID", service)],
            )

    def _check_bearer(self, h: _Handler, service: str = "aiplatform.googleapis.com") -> None:
        header = h.headers.get("Authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        challenge = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
        if not token:
            raise GoogleError(
                401,
                "UNAUTHENTICATED",
                "Request is missing required authentication credential. Expected OAuth 2 access"
                " token, login cookie or other valid authentication credential. See"
                " https://developers.google.com/identity/sign-in/web/devconsole-project.",
                [_error_info("CREDENTIALS_MISSING", service)],
                challenge,
            )
        if not self._token_valid(token):
            raise GoogleError(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token,"
                " login cookie or other valid authentication credential. See"
                " https://developers.google.com/identity/sign-in/web/devconsole-project.",
                [_error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED", service)],
                challenge,
            )

    def _token_valid(self, token: str) -> bool:
        if hmac.compare_digest(token.encode(), self.access_token.encode()):
            return True
        now = time.monotonic()
        with self._lock:
            return any(
                hmac.compare_digest(token.encode(), g.token.encode()) and g.expires_at > now
                for g in self.tokens_issued
            )

    # -- OAuth token endpoint ---------------------------------------------------------------------
    def token(self, h: _Handler, body: bytes) -> None:
        form = parse_qs(body.decode("utf-8", "replace"))
        grant = form.get("grant_type", [""])[0]
        if grant != JWT_BEARER:
            raise OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")
        claims = self._verify_assertion(form.get("assertion", [""])[0])
        scopes = str(claims.get("scope", "")).split()
        if not scopes:
            raise OAuthError(
                400, "invalid_scope", "Invalid OAuth scope or ID token audience provided."
            )
        token = f"ya29.fake-{self._rng.getrandbits(128):032x}"
        with self._lock:
            self.tokens_issued.append(
                TokenGrant(
                    token, str(claims["iss"]), scopes, time.monotonic() + self.token_lifetime
                )
            )
        h.send_json(
            200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        )

    def _verify_assertion(self, assertion: str) -> dict[str, Any]:
        """Check the JWT's RS256 signature and claims; its claims."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            head_b64, claims_b64, sig_b64 = assertion.split(".")
            header = json.loads(_b64url(head_b64))
            claims = json.loads(_b64url(claims_b64))
            signature = _b64url(sig_b64)
        except (ValueError, binascii.Error):
            raise OAuthError(400, "invalid_grant", "Invalid JWT: malformed assertion") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise OAuthError(400, "invalid_grant", "Invalid JWT: malformed assertion")
        info, key = self._sa_info, self._sa_key
        if info is None or claims.get("iss") != info["client_email"]:
            raise OAuthError(400, "invalid_grant", "Invalid grant: account not found")
        if header.get("alg") != "RS256":
            raise OAuthError(400, "invalid_grant", "Invalid JWT: algorithm must be RS256")
        if header.get("kid") not in (None, info["private_key_id"]):
            raise OAuthError(400, "invalid_grant", "Invalid JWT Signature.")
        try:
            key.public_key().verify(
                signature,
                f"{head_b64}.{claims_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            raise OAuthError(400, "invalid_grant", "Invalid JWT Signature.") from None
        if claims.get("aud") not in (GOOGLE_TOKEN_URI, self.token_uri):
            raise OAuthError(400, "invalid_grant", "Invalid JWT: audience is not the token URI")
        iat, exp, now = claims.get("iat"), claims.get("exp"), time.time()
        if (
            not isinstance(iat, int)
            or not isinstance(exp, int)
            or not 0 < exp - iat <= MAX_ASSERTION_LIFETIME
            or iat > now + 300
            or exp < now - 300
        ):
            raise OAuthError(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable"
                " timeframe. Check your iat and exp values in the JWT claim.",
            )
        return claims

    # -- Veo create -------------------------------------------------------------------------------
    def create(self, h: _Handler, route: Route, body: bytes) -> None:
        data = _json_object(body)
        now = time.monotonic()
        with self._lock:
            fields = self._parse_veo(route, data)
            limit = self.concurrency
            if limit is not None and self._active() >= limit:
                self.rejected["concurrency_limit"] += 1
                running = [*self.operations.values(), *self.interactions.values()]
                ends = [job.submitted_at + job.latency for job in running if not job.done]
                wait = max(0.01, min(ends, default=now) - now)
                op = None
            else:
                op = self._accept(route, fields, now)
        if op is None:
            if route.backend == "gemini":
                message = (
                    "You exceeded your current quota, please check your plan and billing details."
                )
            else:
                message = (
                    "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_"
                    f"base_model with base model: {route.model}. Please submit a quota increase"
                    " request."
                )
            raise GoogleError(
                429,
                "RESOURCE_EXHAUSTED",
                message,
                [_retry_info(wait)],
                {"Retry-After": f"{wait:.3f}"},
            )
        if h.fault == "drop_after_accept":
            h.drop()
            return
        if h.fault == HOLD:
            hold(self, h)
            return
        h.send_json(200, {"name": op.name})

    def _model_not_found(self, route: Route) -> GoogleError:
        if route.backend == "gemini":
            return not_found(
                f"models/{route.model} is not found for API version {route.version}, or is not"
                f" supported for {route.verb}. Call ListModels to see the list of available"
                " models and their supported methods."
            )
        return not_found(
            f"Publisher Model `{route.resource}` was not found or your project does not have"
            " access to it. Please ensure you are using a valid model version. For more"
            " information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/"
            "model-versions"
        )

    def _model_retired(self, route: Route) -> GoogleError:
        """A shut-down model: 404 NOT_FOUND "... is no longer available" (the wording of the
        third-party notice https://docs.apiyi.com/en/live/2026-10/veo-3-1-preview-retired.md;
        Google's own text is not published)."""
        name = route.resource if route.backend != "gemini" else f"models/{route.model}"
        return not_found(
            f"{name} is no longer available. It has been shut down; see"
            " https://ai.google.dev/gemini-api/docs/deprecations for its replacement."
        )

    def _parse_veo(self, route: Route, data: dict[str, Any]) -> dict[str, Any]:
        """Check a predictLongRunning body (spec 2.3). Hold the lock (``video`` looks up
        operations). The fields of the new operation."""
        vertex = route.backend != "gemini"
        if vertex:
            if route.model in RETIRED_VERTEX_VIDEO_MODELS:  # model-versions page: retired
                raise self._model_retired(route)
            if route.model not in VERTEX_VIDEO_MODELS:
                raise self._model_not_found(route)
            locations = VEO_LOCATIONS + (("global",) if self.veo_global else ())
            if route.location is not None and route.location not in locations:
                raise self._model_not_found(route)  # not served in that location
        else:
            legacy = self.serve_retired_veo and route.model in LEGACY_GEMINI_VIDEO_MODELS
            if route.model in RETIRED_GEMINI_VIDEO_MODELS and not legacy:
                raise self._model_retired(route)
            if route.model not in GEMINI_VIDEO_MODELS and not legacy:
                raise self._model_not_found(route)
        top = {"instances", "parameters"}
        top |= {"labels"} if vertex else {"webhookConfig", "webhook_config"}
        for name in data:
            if name not in top:
                if name in ("labels", "webhookConfig", "webhook_config"):
                    where = "Gemini API" if name == "labels" else "Vertex AI"
                    raise bad(f"{name} parameter is not supported in {where}.")
                raise unknown_field(name, "")
        instances = data.get("instances")
        if not isinstance(instances, list) or len(instances) != 1:
            raise bad("instances must hold exactly one instance.")
        instance = instances[0]
        if not isinstance(instance, dict):
            raise bad("instances[0] must be an object.")
        parameters = data.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise bad("parameters must be an object.")

        # -- the instance
        allowed = {"prompt", "image", "lastFrame", "video", "referenceImages"}
        if vertex:
            allowed.add("mask")
        for name in instance:
            if name not in allowed:
                if name == "mask":
                    raise bad("mask parameter is not supported in Gemini API.")
                raise unknown_field(name, "instances[0]")
        prompt = instance.get("prompt")
        if prompt is not None and not isinstance(prompt, str):
            raise bad("instances[0].prompt must be a string.")
        prompt = prompt or None
        image = instance.get("image")
        if image is not None:
            _check_image(image, "instances[0].image", vertex)
        last_frame = instance.get("lastFrame")
        if last_frame is not None:
            _check_image(last_frame, "instances[0].lastFrame", vertex)
            if image is None:
                raise bad("lastFrame must be used together with image (the first frame).")
        if "mask" in instance:
            _check_mask(instance["mask"])
        video = instance.get("video")
        extends = None if video is None else self._check_video(video, vertex, route)
        references = instance.get("referenceImages")
        reference_types: list[str] = []
        if references is not None:
            if "lite" in route.model:  # Gemini video guide table: referenceImages "n/a" on Lite
                raise bad(f"referenceImages is not supported by {route.model}.")
            if not isinstance(references, list) or not references:
                raise bad("referenceImages must be a non-empty list.")
            if len(references) > MAX_REFERENCE_IMAGES:
                raise bad(f"At most {MAX_REFERENCE_IMAGES} reference images are supported.")
            for i, ref in enumerate(references):
                where = f"instances[0].referenceImages[{i}]"
                if not isinstance(ref, dict):
                    raise bad(f"{where} must be an object.")
                for name in ref:
                    if name not in ("image", "referenceType"):
                        raise unknown_field(name, where)
                _check_image(ref.get("image"), f"{where}.image", vertex)
                kind = str(ref.get("referenceType", "")).upper()
                if kind != "ASSET":
                    raise bad(
                        f"{where}.referenceType {ref.get('referenceType')!r} is not supported by"
                        f" {route.model}: use ASSET."
                    )
                reference_types.append(kind)
            present = [n for n in ("image", "lastFrame", "video") if n in instance]
            if present:
                raise bad(
                    f"referenceImages cannot be combined with {', '.join(present)}: use"
                    " reference images, or a first/last frame, or a video to extend."
                )
            if not prompt:
                raise bad("A prompt is required with referenceImages.")
        if not prompt and image is None and video is None:
            raise bad("A prompt is required (or an image to animate).")

        # -- the parameters
        for name in parameters:
            if name in VERTEX_ONLY_PARAMETERS:
                if not vertex:
                    raise bad(f"{name} parameter is not supported in Gemini API.")
            elif name not in COMMON_PARAMETERS:
                raise unknown_field(name, "parameters")
        samples = parameters.get("sampleCount", 1)
        if not _integer(samples) or not 1 <= samples <= MAX_SAMPLES:
            raise bad(f"sampleCount must be an integer from 1 to {MAX_SAMPLES}.")
        duration = parameters.get("durationSeconds", DEFAULT_DURATION)
        if not _integer(duration) or duration not in DURATIONS:
            raise bad(
                f"The number value for `durationSeconds` is out of bound: {duration!r}."
                f" Supported durations are {', '.join(map(str, DURATIONS))} seconds."
            )
        ratio = parameters.get("aspectRatio", "16:9")
        if ratio not in ASPECT_RATIOS:
            raise bad(f"Aspect ratio `{ratio}` is not supported. Supported: 16:9, 9:16.")
        resolution = str(parameters.get("resolution", "720p")).lower()
        if resolution not in RESOLUTIONS:
            raise bad(
                f"Resolution `{parameters.get('resolution')}` is not supported. Supported:"
                f" {', '.join(RESOLUTIONS)}."
            )
        # Lite: "720p" (default), "1080p" (8 s only), no 4k (Gemini video guide parameter
        # table; Vertex pricing lists Lite at 720p and 1080p only)
        if "lite" in route.model and resolution == "4k":
            raise bad(f"{route.model} supports 720p and 1080p only.")
        person = parameters.get("personGeneration")
        if person is not None and str(person).lower() not in PERSON_GENERATION:
            raise bad(f"personGeneration {person!r}: use one of {', '.join(PERSON_GENERATION)}.")
        if not isinstance(parameters.get("negativePrompt", ""), str):
            raise bad("negativePrompt must be a string.")
        if not isinstance(parameters.get("enhancePrompt", False), bool):
            raise bad("enhancePrompt must be a boolean.")
        # durationSeconds "must be "8" when using extension or reference images, or with
        # 1080p and 4k resolutions" (https://ai.google.dev/gemini-api/docs/video, parameter
        # table); Vertex card: "reference image to video only supports 8 seconds". Vertex
        # extension takes inputs of 1-30 s (extend page): no 8 s rule there.
        if self.strict_durations and duration != 8:
            why = (
                "reference images"
                if references
                else "extension"
                if video is not None and not vertex
                else f"{resolution}"
                if resolution != "720p"
                else None
            )
            if why:
                raise bad(f"durationSeconds must be 8 with {why}.")
        storage_uri = None
        audio = True  # Veo 3.x always makes sound on the Gemini API
        labels: dict[str, str] = {}
        if vertex:
            audio = _vertex_parameters(parameters)
            storage_uri = parameters.get("storageUri")
            labels = data.get("labels") or {}
            if not isinstance(labels, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
            ):
                raise bad("labels must map strings to strings.")
        webhook_uris, user_metadata = ([], None) if vertex else _webhook(data)
        width, height = nominal_size(RESOLUTIONS[resolution], ASPECT_RATIOS[ratio])
        if extends is not None:
            source = self.operations[extends]
            duration = source.duration + EXTENSION_SECONDS
            if vertex:  # the source's size; the new 7 s alone, or after the source
                if image is not None or last_frame is not None:
                    raise bad("video cannot be combined with image or lastFrame: extend a video.")
                width, height = source.width, source.height
                resolution, ratio = source.resolution, source.aspect_ratio
                if self.veo_extension == "extension":
                    duration = EXTENSION_SECONDS
        return {
            "model": route.model,
            "instance": instance,
            "parameters": parameters,
            "prompt": prompt,
            "duration": duration,
            "aspect_ratio": ratio,
            "resolution": resolution,
            "sample_count": samples,
            "width": width,
            "height": height,
            "audio": audio,
            "storage_uri": storage_uri,
            "labels": labels,
            "webhook_uris": webhook_uris,
            "user_metadata": user_metadata,
            "reference_types": reference_types,
            "extends": extends,
        }

    def _check_video(self, video: Any, vertex: bool, route: Route) -> str | None:
        """Check an extension input; the name of the operation it comes from, if ours."""
        where = "instances[0].video"
        if not isinstance(video, dict):
            raise bad(f"{where} must be an object.")
        names = (
            ("gcsUri", "bytesBase64Encoded", "mimeType")
            if vertex
            else ("uri", "encodedVideo", "encoding")
        )
        for name in video:
            if name not in names:
                raise unknown_field(name, where)
        if vertex:
            uri = video.get("gcsUri")
            if uri is None and video.get("bytesBase64Encoded") is None:
                raise bad(f"{where} needs gcsUri or bytesBase64Encoded.")
            found: VeoOperation | None = None
            if isinstance(uri, str):
                found = self._objects.get(uri.removeprefix("gs://"))
            else:
                data = _b64(video.get("bytesBase64Encoded"), f"{where}.bytesBase64Encoded")
                found = next(
                    (
                        op
                        for op in self.operations.values()
                        if op.backend != "gemini"
                        and op.state == "succeeded"
                        and op.path is not None
                        and op.path.read_bytes() == data
                    ),
                    None,
                )
            # Vertex extend page: "extend videos that you previously generated using Veo"
            if found is None or found.state != "succeeded" or found.path is None:
                raise bad(f"{where}: only videos generated by Veo can be extended.")
            # the same page: "1 to 30 seconds in length"; 24 fps (its "Limitations")
            if not 1 <= found.duration <= 30:
                raise bad(f"{where}: the video to extend must be 1 to 30 seconds long.")
            if found.fps != 24:
                raise bad(f"{where}: the video to extend must be 24 frames per second.")
            return found.name
        uri = video.get("uri")
        if uri is None:
            if video.get("encodedVideo") is None:
                raise bad(f"{where} needs a uri (or encodedVideo).")
            _b64(video["encodedVideo"], f"{where}.encodedVideo")
            return None
        m = re.search(r"files/([a-z0-9]+)", str(uri))
        source = self._files.get(m.group(1)) if m else None
        if not isinstance(source, VeoOperation):
            raise bad(f"{where}.uri {uri!r}: only videos generated by Veo can be extended.")
        return source.name

    def _accept(self, route: Route, fields: dict[str, Any], now: float) -> VeoOperation:
        """Create and start one operation. Hold the lock."""
        self.submissions += 1
        if route.backend == "gemini":
            op_id = _alnum(self._rng, 12)
            name = f"models/{route.model}/operations/{op_id}"
        else:
            op_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            name = f"{route.resource}/operations/{op_id}"
        scale = self.render_scale
        op = VeoOperation(
            name=name,
            id=op_id,
            backend=route.backend,
            version=route.version,
            project=route.project,
            location=route.location,
            render_width=even(fields["width"] * scale),
            render_height=even(fields["height"] * scale),
            fps=self.fps,
            latency=self._latency(fields["prompt"]),
            submitted_at=now,
            **fields,
        )
        if not self._blocked(op.prompt) and self._job_errors:
            op.planned_error = self._job_errors.popleft()
        if op.extends is not None and op.backend != "gemini":
            op.timeline = self._extension_timeline(op)
        self.operations[name] = op
        self.peak_concurrency = max(self.peak_concurrency, self._active())
        if not self._blocked(op.prompt) and op.planned_error is None:
            assert self._pool is not None and self._tmp is not None
            path = Path(self._tmp.name) / f"{uuid.UUID(int=self._rng.getrandbits(128))}.mp4"
            self._renders[name] = self._pool.submit(_render, op, path)
        self._timer(op.latency, self._finish, name)
        return op

    def _extension_timeline(self, op: VeoOperation) -> tuple[str, list[int]]:
        """A Vertex extension's frames: its source's colour, the bar going back from where
        the source left it over 7 s, after the source's own frames when ``combined``."""
        source = self.operations[op.extends or ""]
        key, before = source.timeline or (source.prompt or source.name, _tops(source))
        bar = max(2, op.render_height // 8)
        last, n = before[-1], EXTENSION_SECONDS * op.fps
        end = 0 if last > (op.render_height - bar) // 2 else op.render_height - bar
        new = [last + (end - last) * j // max(1, n - 1) for j in range(n)]
        return key, (before + new if self.veo_extension == "combined" else new)

    def _blocked(self, text: str | None) -> bool:
        lowered = (text or "").lower()
        return any(word in lowered for word in self.blocked_words)

    def _latency(self, prompt: str | None) -> float:
        return draw_latency(self.latency, prompt)

    def _render_error(self, name: str, planned: Any) -> Any:
        """The job's error: its clip's encoding failure, else the one a test planned."""
        render = self._renders.get(name)
        if render is not None:
            try:
                render.result()
            except Exception as exc:  # an encoding failure, or the server closing
                return {"code": 13, "message": f"Internal error encountered: {exc}"}
        return planned

    def _finish(self, name: str) -> None:
        op = self.operations[name]
        error = self._render_error(name, op.planned_error)
        with self._changed:
            if self._closed:
                return
            op.done_at = time.monotonic()
            if error is not None:
                op.state, op.error = "failed", error
            elif self._blocked(op.prompt):
                op.state = "filtered"
            else:
                op.state = "succeeded"
                self._publish(op)
            if op.backend == "gemini" and op.state == "succeeded":
                # webhooks guide catalog: video.generated {id, output_file_uri, file_name}; no
                # event for a failed or filtered video (none in the catalog or SDK enum)
                uri = f"{FILE_HOST}/{op.version}/files/{op.files[0]}:download?alt=media"
                self._emit(
                    op.webhook_uris,
                    event(
                        EVENT_VIDEO_GENERATED,
                        op.name,
                        op.user_metadata,
                        output_file_uri=uri,
                        file_name=f"files/{op.files[0]}",
                    ),
                )
            self._changed.notify_all()

    def _publish(self, op: VeoOperation) -> None:
        """Name the finished clip's samples, and bill them. Hold the lock."""
        for i in range(op.sample_count):
            if op.backend == "gemini":
                file_id = _alnum(self._rng, 12)
                op.files.append(file_id)
                self._files[file_id] = op
            elif op.storage_uri:
                prefix = op.storage_uri.rstrip("/")
                uri = f"{prefix}/{op.id}/sample_{i}.mp4"
                op.gcs_uris.append(uri)
                self._objects[uri.removeprefix("gs://")] = op
        tier = "lite" if "lite" in op.model else "fast" if "fast" in op.model else "standard"
        made = EXTENSION_SECONDS if op.timeline is not None else op.duration  # Vertex extension
        seconds = made * op.sample_count
        op.cost_usd = seconds * PRICE_PER_SECOND[tier].get(op.resolution, 0.0)
        self.billed_seconds += seconds
        self.billed_usd += op.cost_usd

    def _operation_json(self, op: VeoOperation) -> dict[str, Any]:
        """What a poll answers for ``op``. Hold the lock."""
        if not op.done:
            return {"name": op.name}  # no `done` while running (gotcha 7)
        if op.state == "failed":
            return {"name": op.name, "done": True, "error": dict(op.error or {})}
        filtered = op.state == "filtered"
        rai: dict[str, Any] = {
            "raiMediaFilteredCount": 1 if filtered else 0,
            "raiMediaFilteredReasons": [RAI_FILTERED_REASON] if filtered else [],
        }
        if op.backend == "gemini":
            result: dict[str, Any] = dict(rai)
            if not filtered:
                result["generatedSamples"] = [
                    {"video": {"uri": f"{FILE_HOST}/{op.version}/files/{f}:download?alt=media"}}
                    for f in op.files
                ]
            response: dict[str, Any] = {
                "@type": GEMINI_RESPONSE_TYPE,
                "generateVideoResponse": result,
            }
        else:
            response = {"@type": VERTEX_RESPONSE_TYPE, **rai}
            if not filtered:
                response["videos"] = self._vertex_videos(op)
        return {"name": op.name, "done": True, "response": response}

    def _vertex_videos(self, op: VeoOperation) -> list[dict[str, str]]:
        """A succeeded Vertex operation's ``videos``: GCS URIs, else inline bytes."""
        if op.gcs_uris:
            return [{"gcsUri": uri, "mimeType": "video/mp4"} for uri in op.gcs_uris]
        if op.name not in self._inline:
            assert op.path is not None
            self._inline[op.name] = base64.b64encode(op.path.read_bytes()).decode()
        inline = {"bytesBase64Encoded": self._inline[op.name], "mimeType": "video/mp4"}
        return [dict(inline) for _ in range(op.sample_count)]

    # -- Gemini Omni: the Interactions API (rules in google_interactions.py) ---------------------
    def _interactions(
        self, h: _Handler, method: str, version: str, rest: str, query: str, body: bytes
    ) -> None:
        """``POST /{v}/interactions`` (endpoint ``create``), ``GET /{v}/interactions/{id}``
        (``poll`` while running, ``download`` once done); Gemini API auth ([SDK]
        _gaos/_hooks/google_genai_auth.py: ``x-goog-api-key``; the Omni guide also uses
        ``?key=``)."""
        route = Route("gemini", version)
        if method == "POST" and rest == "interactions":
            if not self._guard(h, "create"):
                self._authenticate(h, route, query)
                self.interaction_create(h, version, body)
            return
        m = _INTERACTION.fullmatch(rest)
        if method == "GET" and m:
            with self._lock:
                ix = self.interactions.get(m["id"])
                endpoint = "download" if ix is not None and ix.done else "poll"
            if not self._guard(h, endpoint):
                self._authenticate(h, route, query)
                self.interaction_get(h, m["id"])
            return
        raise not_found(f"The requested URL /{version}/{rest} was not found on this server.")

    def interaction_create(self, h: _Handler, version: str, body: bytes) -> None:
        data = _json_object(body)
        model = data.get("model")
        if not isinstance(model, str) or not model:
            raise bad("model is required.")
        model = model.removeprefix("models/")
        if model in omni.RETIRED_OMNI_MODELS:
            raise not_found(
                f"models/{model} is no longer available. Use gemini-omni-1.1-flash or"
                " gemini-omni-1.2-flash."
            )
        if model not in omni.OMNI_MODELS:
            # [PROBE] "Model 'gemini-omni-9.9-flash' not found. Did you mean ...?"
            raise not_found(f"Model '{model}' not found.")
        try:
            fields = omni.parse_create(data, self.omni_strict_video_config)
        except omni.Invalid as exc:
            raise bad(exc.message) from None
        fmt = fields["response_format"]
        now = time.monotonic()
        with self._changed:
            previous = fields["previous_interaction_id"]
            base: InteractionRecord | None = None
            chain: list[str] = []
            if previous is not None:
                base = self.interactions.get(previous)
                # [IX] store=false: "won't be editable in subsequent turns using the
                # previous_interaction_id"; the fake answers it as an unknown id (404).
                if base is None or not base.store:
                    raise not_found(f"Interaction {previous} was not found.")
                if base.status != "completed" or base.path is None:
                    raise bad(f"Interaction {previous} has no video to continue from.")
                chain = [previous, *base.chain]
            asked = omni.parse_duration(fmt["duration"]) if "duration" in fmt else None
            if base is not None and fields["task"] == "extend":
                duration = base.duration + (asked or omni.DEFAULT_SECONDS)
                if duration > omni.MAX_TOTAL_SECONDS:  # [OMNI] "up to a total length of 40s"
                    raise bad(f"An extended video can be at most {omni.MAX_TOTAL_SECONDS:g}s.")
            elif base is not None:
                duration = asked or base.duration  # an edit returns a new full video [OMNI]
            else:
                duration = asked or omni.DEFAULT_SECONDS
            limit = self.concurrency
            if limit is not None and self._active() >= limit:
                self.rejected["concurrency_limit"] += 1
                raise GoogleError(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "You exceeded your current quota, please check your plan and billing details.",
                    [_retry_info(self.fault_retry_after)],
                    {"Retry-After": f"{self.fault_retry_after:.3f}"},
                )
            ratio = fmt.get("aspect_ratio", "16:9")
            resolution = fmt.get("resolution", "720p")
            width, height = nominal_size(omni.RESOLUTIONS[resolution], omni.ASPECT_RATIOS[ratio])
            stamp = _now_iso()
            ix = InteractionRecord(
                id="v1_" + _alnum(self._rng, 24),  # TanStack/ai#871: ids look like "v1_..."
                model=model,
                version=version,
                body=data,
                texts=fields["texts"],
                images=fields["images"],
                videos=fields["videos"],
                response_format=fmt,
                task=fields["task"],
                previous_interaction_id=previous,
                chain=chain,
                store=fields["store"],
                background=fields["background"],
                webhook_uris=fields["webhook_uris"],
                user_metadata=fields["user_metadata"],
                duration=duration,
                aspect_ratio=ratio,
                resolution=resolution,
                delivery=fmt.get("delivery", "inline"),
                width=width,
                height=height,
                render_width=even(width * self.render_scale),
                render_height=even(height * self.render_scale),
                fps=omni.OMNI_FPS,
                latency=self._latency(" ".join(fields["texts"])),
                submitted_at=now,
                created=stamp,
                updated=stamp,
                ignored_fields=fields["ignored_fields"],
            )
            ix.blocked = self._blocked(ix.prompt)
            if not ix.blocked and self._job_errors:
                ix.planned_error = self._job_errors.popleft()
            self.submissions += 1
            self.interactions[ix.id] = ix
            self.peak_concurrency = max(self.peak_concurrency, self._active())
            if not ix.blocked and ix.planned_error is None:
                assert self._pool is not None and self._tmp is not None
                path = Path(self._tmp.name) / f"{ix.id}.mp4"
                self._renders[ix.id] = self._pool.submit(_render, ix, path)
            self._timer(ix.latency, self._finish_interaction, ix.id)
        if h.fault == "drop_after_accept":
            h.drop()
            return
        if h.fault == HOLD:
            hold(self, h)
            return
        if ix.background:
            with self._lock:
                payload = self._interaction_json(ix, include_input=False, inline=True)
            h.send_json(200, payload)
            return
        # Synchronous (background=false): the answer waits for the video ([OMNI] samples are
        # unary calls); [IX] the create answer holds only the model's steps.
        with self._changed:
            while not ix.done and not self._closed:
                self._changed.wait(0.5)
            payload = self._interaction_json(ix, include_input=False, inline=ix.delivery != "uri")
        h.send_json(200, payload)

    def interaction_get(self, h: _Handler, ident: str) -> None:
        with self._lock:
            ix = self.interactions.get(ident)
            if ix is not None:
                ix.polls += 1
                self.status_requests += 1
                if ix.done:
                    ix.downloads += 1
                # [OMNI] "calling GET /v1beta/interactions/{id} returns the video as inline
                # base64 data in the data field, even if the interaction was originally created
                # with delivery: "uri"." [IX] the stored resource includes the user_input step.
                payload = self._interaction_json(ix, include_input=True, inline=True)
        if ix is None:
            raise not_found(f"Interaction {ident} was not found.")
        if h.fault == "truncate":
            data = json.dumps(payload).encode()
            h.send_bytes(data, "application/json", truncate=True)
            return
        h.send_json(200, payload)

    def _finish_interaction(self, ident: str) -> None:
        ix = self.interactions[ident]
        error = self._render_error(ident, ix.planned_error)
        with self._changed:
            if self._closed:
                return
            ix.done_at = time.monotonic()
            ix.updated = _now_iso()
            if error is not None:
                ix.status, ix.error = "failed", error
            elif ix.blocked and self.omni_blocked == "failed":
                ix.status = "failed"
                ix.error = {"code": 3, "message": OMNI_BLOCKED_MESSAGE}
            else:
                ix.status = "completed"
                if not ix.blocked:
                    file_id = _alnum(self._rng, 12)
                    ix.files.append(file_id)
                    self._files[file_id] = ix
                    ix.cost_usd = ix.duration * omni.price_per_second(ix.resolution)
                    self.billed_seconds += ix.duration
                    self.billed_usd += ix.cost_usd
            if ix.status == "failed":
                err = ix.error or {}
                payload = event(
                    EVENT_INTERACTION_FAILED,
                    ix.id,
                    ix.user_metadata,
                    error_code=_RPC_STATUS.get(int(err.get("code", 13)), "INTERNAL"),
                    error_message=str(err.get("message", "")),
                )
            else:
                payload = event(EVENT_INTERACTION_COMPLETED, ix.id, ix.user_metadata)
            if ix.background:
                self._emit(ix.webhook_uris, payload)
            self._changed.notify_all()

    def _interaction_json(
        self, ix: InteractionRecord, *, include_input: bool, inline: bool
    ) -> dict[str, Any]:
        """The Interaction resource ([OMNI] response sample; [SDK] interaction.py). Hold the
        lock."""
        out: dict[str, Any] = {
            "id": ix.id,
            "object": "interaction",
            "model": ix.model,
            "status": ix.status,
            "created": ix.created,
            "updated": ix.updated,
            "response_format": ix.response_format,
        }
        if ix.previous_interaction_id:
            out["previous_interaction_id"] = ix.previous_interaction_id
        if ix.webhook_uris or ix.user_metadata is not None:
            config: dict[str, Any] = {"uris": list(ix.webhook_uris)}
            if ix.user_metadata is not None:
                config["user_metadata"] = ix.user_metadata
            out["webhook_config"] = config
        if not ix.done:
            return out
        steps: list[dict[str, Any]] = []
        if include_input:
            content = [{"type": "text", "text": t} for t in ix.texts]
            content += [{"type": "image", "mime_type": m} for m, _ in ix.images]
            steps.append({"type": "user_input", "content": content})
        signature = base64.b64encode(hashlib.sha256(ix.id.encode()).digest()).decode()
        steps.append({"type": "thought", "signature": signature})
        if ix.status == "failed":
            err = ix.error or {}
            code = int(err.get("code", 13))
            out["errors"] = [
                {"code": _RPC_STATUS.get(code, "INTERNAL"), "message": err.get("message", "")}
            ]
            steps.append(
                {"type": "model_output", "error": {"code": code, "message": err.get("message", "")}}
            )
        elif ix.blocked:  # omni_blocked="empty": completed, no video (TanStack's "filtered")
            steps.append({"type": "model_output", "content": []})
        else:
            video: dict[str, Any] = {"type": "video", "mime_type": "video/mp4"}
            if inline:
                if ix.id not in self._inline:
                    assert ix.path is not None
                    self._inline[ix.id] = base64.b64encode(ix.path.read_bytes()).decode()
                video["data"] = self._inline[ix.id]
            else:
                video["uri"] = f"{FILE_HOST}/{ix.version}/files/{ix.files[0]}:download?alt=media"
            steps.append({"type": "model_output", "content": [video]})
            out["usage"] = omni.usage(ix)
        out["steps"] = steps
        return out

    def file_meta(self, h: _Handler, version: str, file_id: str) -> None:
        """``GET /{v}/files/{id}``: a generated clip's File (the Omni guide polls it until
        ``state`` is ACTIVE before downloading)."""
        with self._lock:
            job = self._files.get(file_id)
        if job is None or job.path is None:
            raise not_found()
        h.send_json(
            200,
            {
                "name": f"files/{file_id}",
                "mimeType": "video/mp4",
                "sizeBytes": str(job.path.stat().st_size),
                "state": "ACTIVE",
                "uri": f"{FILE_HOST}/{version}/files/{file_id}",
                "downloadUri": f"{FILE_HOST}/{version}/files/{file_id}:download?alt=media",
            },
        )

    # -- polls ------------------------------------------------------------------------------------
    def poll(self, h: _Handler, route: Route, body: bytes) -> None:
        if route.backend == "gemini":
            name = f"models/{route.model}/operations/{route.ident}"
        else:
            data = _json_object(body)
            for key in data:
                if key != "operationName":
                    raise unknown_field(key, "")
            given = data.get("operationName")
            if not isinstance(given, str) or not given:
                raise bad("operationName is required.")
            name = given
            if not name.startswith(route.resource + "/operations/"):
                raise bad(f"operationName {name!r} does not belong to {route.resource}.")
        with self._lock:
            op = self.operations.get(name)
            if op is None or op.backend != route.backend:
                op = None
            else:
                op.polls += 1
                self.status_requests += 1
                payload = self._operation_json(op)
        if op is None:
            raise not_found()
        h.send_json(200, payload)

    # -- downloads --------------------------------------------------------------------------------
    def download(self, h: _Handler, file_id: str) -> None:
        with self._lock:
            op = self._files.get(file_id)
            if op is not None:
                op.downloads += 1
        if op is None or op.path is None:
            raise not_found()
        if self.redirect_downloads:
            with self._lock:
                sig = self._blob_sigs.setdefault(file_id, f"{self._rng.getrandbits(64):016x}")
                if h.fault == "truncate":
                    self._truncate_blobs.add(file_id)
            h.send_response(302)
            h.send_header("Location", f"{self.base_url}/blob/{file_id}?sig={sig}")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        h.send_bytes(op.path.read_bytes(), "video/mp4", truncate=h.fault == "truncate")

    def blob(self, h: _Handler, file_id: str, query: str) -> None:
        """The target of a download redirect: no auth, a signed URL."""
        with self._lock:
            sig = self._blob_sigs.get(file_id)
            op = self._files.get(file_id)
            truncate = file_id in self._truncate_blobs
            self._truncate_blobs.discard(file_id)
        given = parse_qs(query).get("sig", [""])[0]
        if sig is None or op is None or op.path is None or not hmac.compare_digest(given, sig):
            raise GoogleError(403, "PERMISSION_DENIED", "The signature does not match.")
        h.send_bytes(op.path.read_bytes(), "video/mp4", truncate=truncate)

    def gcs_download(self, h: _Handler, path: str, query: str) -> None:
        m = re.fullmatch(r"/storage/v1/b/([^/]+)/o/(.+)", path)
        if m is None:
            raise not_found()
        bucket, obj = m.group(1), unquote(m.group(2))
        with self._lock:
            op = self._objects.get(f"{bucket}/{obj}")
        if op is None or op.path is None:
            raise not_found(f"No such object: {bucket}/{obj}")
        if parse_qs(query).get("alt", [""])[0] != "media":
            size = op.path.stat().st_size
            h.send_json(
                200,
                {
                    "kind": "storage#object",
                    "id": f"{bucket}/{obj}",
                    "name": obj,
                    "bucket": bucket,
                    "contentType": "video/mp4",
                    "size": str(size),
                    "mediaLink": f"{self.base_url}/storage/v1/b/{bucket}/o/{quote(obj, safe='')}"
                    "?alt=media",
                },
            )
            return
        with self._lock:
            op.downloads += 1
        h.send_bytes(op.path.read_bytes(), "video/mp4", truncate=h.fault == "truncate")

    # -- webhooks ---------------------------------------------------------------------------------
    def _emit(self, uris: list[str], payload: dict[str, Any]) -> None:
        """Send one event: to the request's ``webhook_config.uris`` (dynamic, JWT-signed), else
        to the static webhook if it subscribes to the event ("If set, these webhook URIs will
        be used instead of the registered webhooks": SDK types.WebhookConfig docstring). Hold
        the lock."""
        if uris:
            targets = [(u, "dynamic") for u in uris]
        elif self.static_webhook_uri and payload["type"] in self.static_webhook_events:
            targets = [(self.static_webhook_uri, "static")]
        else:
            return
        self._webhooks_pending += len(targets)
        threading.Thread(target=self._deliver_all, args=(targets, payload), daemon=True).start()

    def _deliver_all(self, targets: list[tuple[str, str]], payload: dict[str, Any]) -> None:
        for url, kind in targets:
            record = deliver(
                url,
                payload,
                self.signer,
                kind,
                attempts=WEBHOOK_ATTEMPTS,
                delay=self.webhook_retry_delay,
                closed=lambda: self._closed,
            )
            with self._changed:
                self.webhooks.append(record)
                self._webhooks_pending -= 1
                self._changed.notify_all()

    # -- TTS --------------------------------------------------------------------------------------
    def _check_tts_model(self, route: Route) -> None:
        gemini = route.backend == "gemini"
        older = OLDER_GEMINI_TTS_MODELS if gemini else OLDER_VERTEX_TTS_MODELS
        if route.model in older and self.retire_older_tts:
            raise self._model_retired(route)
        if route.model not in (GEMINI_TTS_MODELS if gemini else VERTEX_TTS_MODELS):
            raise self._model_not_found(route)
        if route.model in TTS_38_MODELS and route.location is not None:
            allowed = TTS_38_LOCATIONS + (TTS_38_MULTIREGIONS if self.tts_multiregions else ())
            if route.location not in allowed:
                # Vertex 3.8 model pages: "Supported regions ... Global: global"; no single
                # region serves them (tts.md §4): the model is not found there.
                raise self._model_not_found(route)

    def tts(self, h: _Handler, route: Route, body: bytes) -> None:
        try:
            raw = json.loads(body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raw = None
        record = TtsRequest(route.backend, route.model, raw if isinstance(raw, dict) else {})
        try:
            record.location = route.location
            self._check_tts_model(route)
            is38 = route.model in TTS_38_MODELS
            data = _snake_keys(_json_object(body))
            if is38 and "system_instruction" in data:
                # "System instructions aren't supported" (Vertex TTS migration guide)
                raise bad("System instructions are not supported by this model.")
            turns, config, generation = _parse_tts(data)
            text = "\n".join(t for _, t, _ in turns)
            record.text = record.transcript = text
            record.styles = [style or "" for _, _, style in turns]
            record.turns = [(speaker, t) for speaker, t, _ in turns]
            record.speech_config = config
            metadata = any(speaker is not None or style is not None for speaker, _, style in turns)
            if is38:
                for name in TTS_38_REJECTED:  # Vertex TTS migration guide: INVALID_ARGUMENT
                    if name in generation:
                        raise bad(f"generation_config.{name} is not supported by {route.model}.")
            elif metadata and self.older_tts_refuse_metadata:
                # third-party test comment (tts.md §K): "gemini-3.1-flash-tts-preview answers
                # speech_metadata and responseFormat with HTTP 400"
                raise unknown_field("speech_metadata", "contents[0].parts[0]")
            voice, speakers, record.language_code = _parse_speech_config(
                config, text, is38 or not self.older_tts_refuse_metadata, is38
            )
            record.voice, record.speakers = (None if speakers else voice), speakers
            if speakers and is38:
                # "Every turn in a multi-speaker request must explicitly include speaker
                # inside speech_metadata matching one of the configured speakers" (Gemini API
                # speech guide, migration step 3)
                for i, (speaker, _, _) in enumerate(turns):
                    if speaker not in speakers:
                        raise bad(
                            f"contents.parts[{i}].speech_metadata.speaker must name one of the"
                            f" configured speakers ({', '.join(speakers)}); got {speaker!r}."
                        )
            elif not speakers and any(speaker for speaker, _, _ in turns):
                raise bad("speech_metadata.speaker needs a multi_speaker_voice_config.")
            output = self.tts_output or ("wav" if is38 else "pcm")
            output = _tts_response_format(
                generation, output, is38 or not self.older_tts_refuse_metadata
            )
        except GoogleError as exc:
            record.error = exc.message
            with self._lock:
                self.tts_requests.append(record)
            raise
        blocked = self._blocked(text)
        if speakers and is38:
            segments = [(speakers[str(speaker)], len(t)) for speaker, t, _ in turns]
        elif speakers:
            segments = _turns(text, speakers)
        else:
            segments = [(voice or DEFAULT_VOICE, len(text))]
        pcm = b"" if blocked else synthesize(segments, tts_samples(text))
        seconds = len(pcm) / 2 / TTS_RATE
        record.pcm, record.seconds, record.blocked = pcm, seconds, blocked
        record.mime_type = TTS_WAV_MIME if output == "wav" else TTS_MIME
        record.audio = wav_file(pcm) if output == "wav" else pcm
        if self.tts_latency:
            time.sleep(self.tts_latency)
        with self._lock:
            self.tts_requests.append(record)
            response_id = _alnum(self._rng, 20)
        prompt_tokens = max(1, len(text) // 4)
        audio_tokens = round(seconds * AUDIO_TOKENS_PER_SECOND)
        usage: dict[str, Any] = {
            "promptTokenCount": prompt_tokens,
            "totalTokenCount": prompt_tokens + audio_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
        }
        answer: dict[str, Any] = {"usageMetadata": usage, "modelVersion": route.model}
        if blocked:
            answer["promptFeedback"] = {"blockReason": "PROHIBITED_CONTENT"}
        else:
            usage["candidatesTokenCount"] = audio_tokens
            usage["candidatesTokensDetails"] = [{"modality": "AUDIO", "tokenCount": audio_tokens}]
            audio = base64.b64encode(record.audio).decode()
            part = {"inlineData": {"mimeType": record.mime_type, "data": audio}}
            answer["candidates"] = [
                {
                    "content": {"role": "model", "parts": [part]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ]
        answer["responseId"] = response_id
        h.send_json(200, answer)

    # -- the vision judge -------------------------------------------------------------------------
    def judge(self, h: _Handler, route: Route, body: bytes) -> None:
        try:
            raw = json.loads(body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raw = None
        record = JudgeRequest(route.backend, route.model, raw if isinstance(raw, dict) else {})
        try:
            if route.model not in JUDGE_MODELS:
                raise self._model_not_found(route)
            if len(body) > JUDGE_MAX_REQUEST_BYTES:
                raise bad(
                    f"Request payload size exceeds the limit: {JUDGE_MAX_REQUEST_BYTES} bytes."
                )
            _parse_judge(_json_object(body), record)
        except GoogleError as exc:
            record.error = exc.message
            with self._lock:
                self.judge_requests.append(record)
            raise
        if self.judge_latency:
            time.sleep(self.judge_latency)
        with self._lock:
            scripted = self._judge_script.popleft() if self._judge_script else None
            failures = dict(self.judge_failures)
            response_id = _alnum(self._rng, 20)
        record.blocked = any(self._blocked(t) for t in record.texts)
        answer: dict[str, Any] = {"modelVersion": route.model, "responseId": response_id}
        if record.blocked:
            answer["promptFeedback"] = {"blockReason": "PROHIBITED_CONTENT"}
        else:
            if not any(v.sound is not None for v in record.videos):
                failures.setdefault("lipsync", "No speech is heard: no video here has sound.")
            text, finish = scripted or (json.dumps(_verdicts(record.schema, failures)), "STOP")
            record.answer = text or ""
            candidate: dict[str, Any] = {"finishReason": finish, "index": 0}
            if text is not None:
                candidate["content"] = {"role": "model", "parts": [{"text": text}]}
            answer["candidates"] = [candidate]
        record.usage = answer["usageMetadata"] = _judge_usage(record, route.model)
        with self._lock:
            self.judge_requests.append(record)
        h.send_json(200, answer)


# -- the handler ----------------------------------------------------------------------------
_GEMINI_CALL = re.compile(r"models/(?P<model>[^/:]+):(?P<verb>\w+)")
_GEMINI_OPERATION = re.compile(r"models/(?P<model>[^/:]+)/operations/(?P<id>[^/:]+)")
_GEMINI_FILE = re.compile(r"files/(?P<id>[^/:]+):download")
_GEMINI_FILE_META = re.compile(r"files/[a-z0-9]+")
_INTERACTION = re.compile(r"interactions/(?P<id>[A-Za-z0-9_-]+)")
_RPC_STATUS = {3: "INVALID_ARGUMENT", 8: "RESOURCE_EXHAUSTED", 13: "INTERNAL", 14: "UNAVAILABLE"}
# The Omni guide says prompts "that violate usage policies are blocked" but not how it shows;
# this text is the fake's.
OMNI_BLOCKED_MESSAGE = (
    "The prompt could not be processed because it violates the usage policies. Try rephrasing"
    " the prompt."
)


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


_VERTEX_CALL = re.compile(
    r"(?:projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/)?"
    r"publishers/(?P<publisher>[^/]+)/models/(?P<model>[^/:]+):(?P<verb>\w+)"
)


class _Handler(JsonHandler):
    server_version = "ESF"

    @property
    def google(self) -> GoogleServer:
        return self.fake  # type: ignore[no-any-return]

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def _serve(self, method: str) -> None:
        self.fault = None
        self.google._log(method, self.path)
        body = self._body()
        parts = urlsplit(self.path)
        try:
            self.google.dispatch(self, method, parts.path, parts.query, body)
        except GoogleError as exc:
            self.send_json(exc.code, exc.body(), exc.headers)
        except OAuthError as exc:
            self.send_json(exc.code, {"error": exc.error, "error_description": exc.description})


# -- request parsing ------------------------------------------------------------------------
def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad(f"Invalid JSON payload received. {exc}") from None
    if not isinstance(data, dict):
        raise bad("Invalid JSON payload received. Expected an object.")
    return data


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _b64(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise bad(f"{where} must be a non-empty base64 string.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise bad(f"Invalid value at '{where}': invalid base64 data.") from None


def _proto_bytes(value: Any, where: str) -> bytes:
    """A proto3 JSON ``bytes`` field: standard or URL-safe base64, padded or not (the SDK
    sends inline data URL-safe)."""
    if not isinstance(value, str) or not value:
        raise bad(f"{where} must be a non-empty base64 string.")
    text = value.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise bad(f"Invalid value at '{where}': invalid base64 data.") from None


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _check_image(image: Any, where: str, vertex: bool) -> None:
    if not isinstance(image, dict):
        raise bad(f"{where} must be an object.")
    for name in image:
        if name not in ("bytesBase64Encoded", "gcsUri", "mimeType"):
            raise unknown_field(name, where)
    has_bytes, has_gcs = "bytesBase64Encoded" in image, "gcsUri" in image
    if has_bytes == has_gcs:
        raise bad(f"{where} needs exactly one of bytesBase64Encoded and gcsUri.")
    if has_gcs:
        if not vertex:
            raise bad(f"{where}: gcsUri is not supported in Gemini API; send the bytes.")
        if not str(image["gcsUri"]).startswith("gs://"):
            raise bad(f"{where}.gcsUri must be a gs:// URI.")
    else:
        _b64(image["bytesBase64Encoded"], f"{where}.bytesBase64Encoded")
    mime = image.get("mimeType")
    if mime is not None and not str(mime).startswith("image/"):
        raise bad(f"{where}.mimeType {mime!r} is not an image type.")


def _check_mask(mask: Any) -> None:
    where = "instances[0].mask"
    if not isinstance(mask, dict):
        raise bad(f"{where} must be an object.")
    modes = ("INSERT", "REMOVE", "REMOVE_STATIC", "OUTPAINT")
    if str(mask.get("maskMode", "")).upper() not in modes:
        raise bad(f"{where}.maskMode must be one of {', '.join(modes)}.")
    _check_image({k: v for k, v in mask.items() if k != "maskMode"}, where, vertex=True)


def _vertex_parameters(parameters: dict[str, Any]) -> bool:
    """Check the Vertex-only parameters; whether the clip gets sound."""
    seed = parameters.get("seed")
    if seed is not None and (not _integer(seed) or not 0 <= seed <= 0xFFFFFFFF):
        raise bad("seed must be an integer from 0 to 4294967295.")
    fps = parameters.get("fps")
    if fps is not None and (not _integer(fps) or fps <= 0):
        raise bad("fps must be a positive integer.")
    audio = parameters.get("generateAudio", False)
    if not isinstance(audio, bool):
        raise bad("generateAudio must be a boolean.")
    uri = parameters.get("storageUri")
    if uri is not None and (not isinstance(uri, str) or not re.match(r"gs://[^/]+", uri)):
        raise bad(f"storageUri {uri!r} must be a gs://bucket/prefix URI.")
    topic = parameters.get("pubsubTopic")
    if topic is not None and not re.fullmatch(r"projects/[^/]+/topics/[^/]+", str(topic)):
        raise bad("pubsubTopic must be projects/{project}/topics/{topic}.")
    for name, allowed in (
        ("compressionQuality", COMPRESSION_QUALITIES),
        ("resizeMode", RESIZE_MODES),
    ):
        value = parameters.get(name)
        if value is not None and str(value).upper() not in allowed:
            raise bad(f"{name} {value!r}: use one of {', '.join(allowed)}.")
    return audio


def _webhook(data: dict[str, Any]) -> tuple[list[str], Any]:
    """The Developer API's ``webhookConfig`` (either spelling inside): (uris, metadata)."""
    config = data.get("webhookConfig", data.get("webhook_config"))
    if config is None:
        return [], None
    if not isinstance(config, dict):
        raise bad("webhookConfig must be an object.")
    config = {_snake(k): v for k, v in config.items()}
    for name in config:
        if name not in ("uris", "user_metadata"):
            raise unknown_field(name, "webhook_config")
    uris = config.get("uris")
    if (
        not isinstance(uris, list)
        or not uris
        or not all(isinstance(u, str) and urlsplit(u).scheme in ("http", "https") for u in uris)
    ):
        raise bad("webhookConfig.uris must be a non-empty list of http(s) URLs.")
    return list(uris), config.get("user_metadata")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _snake_keys(value: Any) -> Any:
    """Every object key in ``value`` in snake_case (proto JSON accepts both spellings)."""
    if isinstance(value, dict):
        return {_snake(k): _snake_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake_keys(v) for v in value]
    return value


def _contents(data: dict[str, Any]) -> list[Any]:
    """A generateContent body's contents, after checking its fields as the API does."""
    for name in data:
        if name not in ("contents", "generation_config", "system_instruction", "safety_settings"):
            raise unknown_field(name, "")
    contents = data.get("contents")
    if isinstance(contents, dict):
        contents = [contents]
    if not isinstance(contents, list) or not contents:
        raise bad("* GenerateContentRequest.contents: contents is not specified")
    return contents


def _parse_tts(
    data: dict[str, Any],
) -> tuple[list[tuple[str | None, str, str | None]], dict[str, Any], dict[str, Any]]:
    """(speaker, text, style) per text part, the speech config and the generation config of a
    snake_case generateContent body."""
    contents = _contents(data)
    turns: list[tuple[str | None, str, str | None]] = []
    for i, content in enumerate(contents):
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list) or not parts:
            raise bad("* GenerateContentRequest.contents.parts: contents.parts must not be empty.")
        for j, part in enumerate(parts):
            where = f"contents[{i}].parts[{j}]"
            if not isinstance(part, dict) or not isinstance(part.get("text"), str):
                raise bad("Speech generation only accepts text parts.")  # text-only input
            for name in part:
                if name not in ("text", "speech_metadata"):
                    raise unknown_field(name, where)
            meta = part.get("speech_metadata")
            speaker = style = None
            if meta is not None:
                # SDK types.SpeechMetadata: speaker and style only ("Only valid when
                # Part.data is set to text")
                if not isinstance(meta, dict):
                    raise bad(f"{where}.speech_metadata must be an object.")
                for name in meta:
                    if name not in SPEECH_METADATA_FIELDS:
                        raise unknown_field(name, f"{where}.speech_metadata")
                speaker, style = meta.get("speaker"), meta.get("style")
                for value in (speaker, style):
                    if value is not None and not isinstance(value, str):
                        raise bad(f"{where}.speech_metadata fields must be strings.")
            turns.append((speaker, part["text"], style))
    if not "".join(t for _, t, _ in turns).strip():
        raise bad("The input text is empty.")
    generation = data.get("generation_config") or {}
    if not isinstance(generation, dict):
        raise bad("generationConfig must be an object.")
    for name in generation:
        if name not in GENERATION_FIELDS and name not in ("speech_config", "response_format"):
            raise unknown_field(name, "generation_config")
    modalities = [str(m).upper() for m in generation.get("response_modalities") or ["TEXT"]]
    if modalities != ["AUDIO"]:
        raise bad(
            f"The requested combination of response modalities ({', '.join(modalities)}) is not"
            " supported by the model."
        )
    config = generation.get("speech_config") or {}
    if not isinstance(config, dict):
        raise bad("generationConfig.speechConfig must be an object.")
    return turns, config, generation


def _tts_response_format(generation: dict[str, Any], default: str, allowed: bool) -> str:
    """``responseFormat: [{"audio": {"mimeType": "AUDIO_WAV" | "AUDIO_L16" ...}}]`` (a list:
    Vertex TTS overview); older models refuse it (third party, as speech_metadata)."""
    formats = generation.get("response_format")
    if formats is None:
        return default
    if not allowed:
        raise unknown_field("response_format", "generation_config")
    formats = formats if isinstance(formats, list) else [formats]
    for entry in formats:
        audio = entry.get("audio") if isinstance(entry, dict) else None
        mime = str((audio or {}).get("mime_type", "")).upper()
        if mime in TTS_RESPONSE_FORMATS:
            return TTS_RESPONSE_FORMATS[mime]
        raise bad(
            f"responseFormat audio mimeType {mime or '(none)'}: this fake encodes"
            f" {' and '.join(TTS_RESPONSE_FORMATS)} only."
        )
    return default


def wav_file(pcm: bytes, rate: int = TTS_RATE) -> bytes:
    """A complete RIFF WAV (16-bit mono) around ``pcm``: the 44-byte header 3.8 sends."""
    import struct

    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(pcm),
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        rate,
        rate * 2,
        2,
        16,
        b"data",
        len(pcm),
    )
    return header + pcm


def _voice_name(voice_config: Any, where: str, new_fields: bool) -> str:
    """``voice_config``: ``prebuilt_voice_config.voice_name``, or (3.8) ``voice`` — "voiceConfig.
    voice ... prebuiltVoiceConfig.voiceName still works for prebuilt voices" (Vertex TTS
    migration guide; SDK types.VoiceConfig.voice)."""
    if not isinstance(voice_config, dict):
        raise bad(f"{where} must be an object.")
    for name in voice_config:
        if name not in ("prebuilt_voice_config", "voice") or (name == "voice" and not new_fields):
            raise unknown_field(name, where)
    if ("voice" in voice_config) == ("prebuilt_voice_config" in voice_config):
        raise bad(f"{where} needs exactly one of voice and prebuilt_voice_config.")
    if "voice" in voice_config:
        given = voice_config["voice"]
        if not isinstance(given, str):
            raise bad(f"{where}.voice must be a string.")
    else:
        prebuilt = voice_config.get("prebuilt_voice_config")
        if not isinstance(prebuilt, dict) or not isinstance(prebuilt.get("voice_name"), str):
            raise bad(f"{where}.prebuilt_voice_config.voice_name is required.")
        for name in prebuilt:
            if name != "voice_name":
                raise unknown_field(name, f"{where}.prebuilt_voice_config")
        given = prebuilt["voice_name"]
    for voice in VOICES:
        if voice.lower() == given.lower():
            return voice
    # designed/replicated voices (voice_..., voicekey_...) exist, but this fake has none
    raise bad(f"Voice name {given} is not supported. Supported voices: {', '.join(VOICES)}.")


def _parse_speech_config(
    config: dict[str, Any], text: str, new_fields: bool, verbatim: bool
) -> tuple[str | None, dict[str, str], str | None]:
    """(the voice, or speaker -> voice, the language code) of a snake_case speech config.
    ``verbatim``: a 3.8 model (speakers named in speech_metadata, not in the text)."""
    where = "generation_config.speech_config"
    for name in config:
        if name not in ("voice_config", "multi_speaker_voice_config", "language_code"):
            raise unknown_field(name, where)
    language = config.get("language_code")
    if language is not None and not isinstance(language, str):
        raise bad(f"{where}.language_code must be a string.")
    multi = config.get("multi_speaker_voice_config")
    if multi is None:
        single = config.get("voice_config")
        voice = None if single is None else _voice_name(single, f"{where}.voice_config", new_fields)
        return voice or DEFAULT_VOICE, {}, language
    if "voice_config" in config:
        # SDK types.SpeechConfig: "This field is mutually exclusive with voice_config"
        raise bad("voice_config and multi_speaker_voice_config cannot both be set.")
    where += ".multi_speaker_voice_config"
    if not isinstance(multi, dict):
        raise bad(f"{where} must be an object.")
    for name in multi:
        if name != "speaker_voice_configs":
            raise unknown_field(name, where)
    configs = multi.get("speaker_voice_configs")
    if not isinstance(configs, list) or len(configs) != MAX_SPEAKERS:
        # SDK types.MultiSpeakerVoiceConfig: "Exactly two speaker voice configurations must be
        # provided"; Vertex TTS overview: "Multi-speaker requests require exactly two speakers"
        n = len(configs) if isinstance(configs, list) else 0
        raise bad(f"{where}.speaker_voice_configs must list exactly 2 speakers; got {n}.")
    speakers: dict[str, str] = {}
    for i, entry in enumerate(configs):
        here = f"{where}.speaker_voice_configs[{i}]"
        if not isinstance(entry, dict):
            raise bad(f"{here} must be an object.")
        for name in entry:
            if name not in ("speaker", "voice_config"):
                raise unknown_field(name, here)
        speaker = entry.get("speaker")
        if not isinstance(speaker, str) or not speaker:
            raise bad(f"{here}.speaker is required.")
        if speaker in speakers:
            raise bad(f"Speaker {speaker} is listed twice.")
        if not verbatim and speaker not in text:  # older models: "Name:" turns in the text
            raise bad(f"Speaker {speaker} does not appear in the input text.")
        speakers[speaker] = _voice_name(
            entry.get("voice_config"), f"{here}.voice_config", new_fields
        )
    return None, speakers, language


def _call_endpoint(verb: str, model: str) -> str:
    """The endpoint of a ``models/{model}:{verb}`` POST (either backend); "" if none."""
    if verb == "generateContent":
        return "tts" if "tts" in model else "image" if "image" in model else "judge"
    return {"predictLongRunning": "create", "fetchPredictOperation": "poll"}.get(verb, "")


def _parse_judge(data: dict[str, Any], record: JudgeRequest) -> None:
    """Check a vision generateContent body; fill ``record``'s texts, images and schema."""
    data = {_snake(k): v for k, v in data.items()}
    contents = _contents(data)
    for i, content in enumerate(contents):
        _parse_content(content, f"contents[{i}]", record, images=True)
    if len(record.videos) > JUDGE_MAX_VIDEOS:
        raise bad(f"Too many videos: {len(record.videos)} (at most {JUDGE_MAX_VIDEOS} a request).")
    system = data.get("system_instruction")
    if system is not None:
        texts: list[str] = []
        _parse_content(system, "system_instruction", JudgeRequest("", "", {}, texts), images=False)
        record.system_instruction = "\n".join(texts)
    record.schema = _parse_generation(data.get("generation_config"))


def _parse_content(content: Any, where: str, record: JudgeRequest, *, images: bool) -> None:
    if not isinstance(content, dict):
        raise bad(f"{where} must be an object.")
    content = {_snake(k): v for k, v in content.items()}
    for name in content:
        if name not in ("role", "parts"):
            raise unknown_field(name, where)
    if content.get("role", "user") not in ("user", "model"):
        raise bad(f"Please use a valid role: user, model. ({where}.role)")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise bad(f"* GenerateContentRequest.{where}.parts: contents.parts must not be empty.")
    for j, part in enumerate(parts):
        _parse_part(part, f"{where}.parts[{j}]", record, images)


def _parse_part(part: Any, where: str, record: JudgeRequest, images: bool) -> None:
    if not isinstance(part, dict):
        raise bad(f"{where} must be an object.")
    part = {_snake(k): v for k, v in part.items()}
    data = [k for k in part if k not in ("thought", "thought_signature", "video_metadata")]
    if len(data) != 1:
        raise bad(f"{where} must hold exactly one of text and inline_data.")
    kind = data[0]
    metadata = part.get("video_metadata")
    if metadata is not None and not (kind == "inline_data" and images and _is_video(part)):
        # the fake's choice: videoMetadata describes a video (types.VideoMetadata)
        raise bad(f"{where}.video_metadata is only valid on a video part.")
    if kind == "text" and isinstance(part["text"], str):
        record.texts.append(part["text"])
        record.kinds.append("text")
    elif kind == "inline_data" and images and _is_video(part):
        video = _parse_media(part["inline_data"], f"{where}.inline_data")
        if metadata is not None:
            _parse_video_metadata(metadata, f"{where}.video_metadata", video)
        record.videos.append(video)
        record.kinds.append("video")
    elif kind == "inline_data" and images and _is_audio(part):
        record.sounds.append(_parse_media(part["inline_data"], f"{where}.inline_data"))
        record.kinds.append("audio")
    elif kind == "inline_data" and images:
        record.images.append(_parse_image(part["inline_data"], f"{where}.inline_data"))
        record.kinds.append("image")
    elif kind == "file_data":
        raise bad(f"{where}.file_data: this fake holds no uploaded files; send inline_data.")
    elif kind in ("text", "inline_data"):
        raise bad(f"{where}.{kind} is not valid here.")
    else:
        raise unknown_field(kind, where)


def _parse_image(blob: Any, where: str) -> tuple[str, bytes]:
    if not isinstance(blob, dict):
        raise bad(f"{where} must be an object.")
    blob = {_snake(k): v for k, v in blob.items()}
    for name in blob:
        if name not in ("mime_type", "data"):
            raise unknown_field(name, where)
    mime = str(blob.get("mime_type") or "").lower()
    if mime not in JUDGE_IMAGE_TYPES:
        raise bad(f"Unsupported MIME type: {mime or '(none)'} ({where}.mime_type)")
    data = _proto_bytes(blob.get("data"), f"{where}.data")
    if not data.startswith(JUDGE_IMAGE_TYPES[mime]):
        raise bad(
            "Unable to process input image. Please retry or report in"
            f" https://developers.generativeai.google/guide/troubleshooting ({where})"
        )
    return mime, data


def _blob_mime(part: dict[str, Any]) -> str:
    blob = part.get("inline_data")
    if not isinstance(blob, dict):
        return ""
    blob = {_snake(k): v for k, v in blob.items()}
    return str(blob.get("mime_type") or "").lower()


def _is_video(part: dict[str, Any]) -> bool:
    return _blob_mime(part) in JUDGE_VIDEO_TYPES


def _is_audio(part: dict[str, Any]) -> bool:
    return _blob_mime(part) in JUDGE_AUDIO_TYPES


def _parse_media(blob: dict[str, Any], where: str) -> JudgeMedia:
    """A video or sound, decoded (PyAV): its pictures, sound and duration; 400 when it cannot
    be decoded (the message is the fake's)."""
    import io

    import av

    blob = {_snake(k): v for k, v in blob.items()}
    for name in blob:
        if name not in ("mime_type", "data"):
            raise unknown_field(name, where)
    mime = str(blob.get("mime_type")).lower()
    media = JudgeMedia(mime, _proto_bytes(blob.get("data"), f"{where}.data"))
    sound: list[np.ndarray] = []
    try:
        with av.open(io.BytesIO(media.data)) as container:
            pictures = container.streams.video[:1] if mime.startswith("video/") else []
            heard = container.streams.audio[:1]
            if mime.startswith("video/") and not pictures:
                raise ValueError("no video stream")
            if not (pictures or heard):
                raise ValueError("no audio stream")
            resampler = av.AudioResampler(format="flt", layout="mono") if heard else None
            for frame in container.decode(*pictures, *heard):
                if isinstance(frame, av.VideoFrame):
                    media.frames.append(frame.to_ndarray(format="rgb24"))
                    media.frame_times.append(float(frame.time or 0.0))
                elif resampler is not None and isinstance(frame, av.AudioFrame):
                    media.sample_rate = frame.sample_rate
                    sound += [f.to_ndarray().ravel() for f in resampler.resample(frame)]
            if heard:
                media.sound = np.concatenate(sound) if sound else np.zeros(0, np.float32)
            if pictures:
                stream = pictures[0]
                media.picture_seconds = (
                    float(stream.duration * stream.time_base)
                    if stream.duration
                    else float(container.duration or 0) / av.time_base
                )
            durations = [media.picture_seconds]
            if media.sound is not None and media.sample_rate:
                durations.append(media.sound.size / media.sample_rate)
            media.seconds = max(durations)
    except (av.FFmpegError, ValueError) as exc:
        raise bad(f"Unable to process input {mime.split('/')[0]}: {exc} ({where})") from None
    return media


def _parse_video_metadata(metadata: Any, where: str, video: JudgeMedia) -> None:
    if not isinstance(metadata, dict):
        raise bad(f"{where} must be an object.")
    metadata = {_snake(k): v for k, v in metadata.items()}
    for name in metadata:  # types.VideoMetadata: fps, start_offset, end_offset
        if name not in ("fps", "start_offset", "end_offset"):
            raise unknown_field(name, where)
    fps = metadata.get("fps")
    if fps is not None:
        if isinstance(fps, bool) or not isinstance(fps, (int, float)):
            raise bad(f"Invalid value at '{where}.fps' ({fps!r}): a number.")
        if not 0 < fps <= JUDGE_MAX_FPS:  # "The valid range is (0.0, 24.0]."
            raise bad(f"{where}.fps must be in (0.0, {JUDGE_MAX_FPS}] ({fps} given).")
        video.fps = float(fps)
    offsets = []
    for name in ("start_offset", "end_offset"):
        value = metadata.get(name)
        if value is not None and (not isinstance(value, str) or not _DURATION.match(value)):
            raise bad(f"Invalid value at '{where}.{name}' ({value!r}): a duration like \"1.5s\".")
        offsets.append(float(value[:-1]) if value is not None else None)
    start, end = offsets
    if start is not None and end is not None and start >= end:
        raise bad(f"{where}: start_offset must be before end_offset.")
    video.metadata = metadata


def judge_frame_tokens(model: str) -> int:
    """Tokens a sampled video frame counts for ``model`` (default media resolution)."""
    return JUDGE_FRAME_TOKENS_2 if model.startswith("gemini-2") else JUDGE_FRAME_TOKENS_3


def _parse_generation(config: Any) -> dict[str, Any]:
    """The response schema a judge request must carry (JSON Schema or OpenAPI Schema)."""
    if not isinstance(config, dict):
        raise bad(
            "This fake answers generateContent as a vision judge only: set generationConfig"
            " with responseMimeType application/json and a responseJsonSchema."
        )
    config = {_snake(k): v for k, v in config.items()}
    for name in config:
        if name not in GENERATION_FIELDS:
            raise unknown_field(name, "generation_config")
    schemas = [n for n in ("response_json_schema", "response_schema") if config.get(n) is not None]
    if len(schemas) != 1:
        raise bad(
            "Exactly one of responseJsonSchema and responseSchema must be set"
            f" ({len(schemas)} given)."
        )
    mime = config.get("response_mime_type")
    if mime != "application/json":
        raise bad(
            f"responseMimeType {mime!r} is not supported with a response schema: use"
            " application/json."
        )
    modalities = [str(m).upper() for m in config.get("response_modalities") or ["TEXT"]]
    if modalities != ["TEXT"]:
        raise bad(f"Response modalities {', '.join(modalities)} are not supported here.")
    schema = config[schemas[0]]
    if not isinstance(schema, dict) or str(schema.get("type", "")).lower() != "object":
        raise bad(f"{schemas[0]} must be an object schema.")
    if not isinstance(schema.get("properties"), dict):
        raise bad(f"{schemas[0]}.properties must be an object.")
    return schema


def _is_verdict(schema: Any) -> bool:
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return isinstance(properties, dict) and all(f in properties for f in VERDICT_FIELDS)


def _verdicts(schema: dict[str, Any], failures: Mapping[str, str]) -> dict[str, Any]:
    """The answer the schema asks for: every verdict passes unless ``failures`` names it."""
    answer: dict[str, Any] = {}
    for name, sub in schema["properties"].items():
        if name == "identity" and isinstance(sub, dict):
            people = sub.get("properties") or {}
            answer[name] = {
                who: _verdict(who, people[who], failures)
                for who in people
                if _is_verdict(people[who])
            }
        elif _is_verdict(sub):
            answer[name] = _verdict(name, sub, failures)
    return answer


def _verdict(key: str, schema: dict[str, Any], failures: Mapping[str, str]) -> dict[str, Any]:
    failed = key in failures
    if failed:
        reason = failures[key]
    elif key == "lipsync":
        reason = "The lips open on the syllables heard and shut in the pauses, in time."
    elif key == "continuity":
        reason = "The place, light and people stay the same in every frame."
    else:
        reason = f"{key} matches the reference images and the description in every frame."
    values = {"reason": reason, "score": JUDGE_FAIL_SCORE if failed else JUDGE_PASS_SCORE}
    values["passed"] = not failed
    return {field: values[field] for field in schema["properties"] if field in values}


def _judge_usage(record: JudgeRequest, model: str = JUDGE_MODELS[0]) -> dict[str, Any]:
    text_tokens = -(-(len(record.system_instruction) + sum(map(len, record.texts))) // 4)
    image_tokens = JUDGE_IMAGE_TOKENS * len(record.images)
    video_tokens = sum(
        math.ceil(v.picture_seconds * v.sampled_fps - 1e-6) * judge_frame_tokens(model)
        for v in record.videos
    )
    heard = [m for m in (*record.videos, *record.sounds) if m.sound is not None and m.sample_rate]
    audio_tokens = sum(
        math.ceil(m.sound.size / m.sample_rate * JUDGE_AUDIO_TOKENS - 1e-6)
        for m in heard
        if m.sound is not None
    )
    prompt = text_tokens + image_tokens + video_tokens + audio_tokens
    details = [
        {"modality": "TEXT", "tokenCount": text_tokens},
        {"modality": "IMAGE", "tokenCount": image_tokens},
    ]
    if video_tokens:
        details.append({"modality": "VIDEO", "tokenCount": video_tokens})
    if audio_tokens:
        details.append({"modality": "AUDIO", "tokenCount": audio_tokens})
    usage: dict[str, Any] = {
        "promptTokenCount": prompt,
        "totalTokenCount": prompt,
        "promptTokensDetails": details,
    }
    if record.answer or not record.blocked:
        answer = -(-len(record.answer) // 4)
        usage["candidatesTokenCount"] = answer
        usage["thoughtsTokenCount"] = JUDGE_THOUGHT_TOKENS
        usage["totalTokenCount"] = prompt + answer + JUDGE_THOUGHT_TOKENS
    return usage


# -- audio ----------------------------------------------------------------------------------
def tts_samples(text: str) -> int:
    """The PCM samples the fake answers for ``text`` (15 characters a second, >= 0.5 s)."""
    return round(TTS_RATE * max(TTS_MIN_SECONDS, len(text) / TTS_CHARS_PER_SECOND))


def tts_pcm_bytes(text: str) -> int:
    return 2 * tts_samples(text)


def voice_pitch(voice: str) -> float:
    """The fundamental (Hz) of a voice's buzz: 85 Hz for Zephyr, up 7 Hz a voice."""
    return 85.0 + 7.0 * VOICES.index(voice)


def _turns(text: str, speakers: dict[str, str]) -> list[tuple[str, int]]:
    """(voice, characters) per speaker turn: each "Name:" starts that speaker's turn; the
    text before the first one goes to the first speaker."""
    pattern = "|".join(re.escape(s) for s in sorted(speakers, key=len, reverse=True))
    voices = list(speakers.values())
    turns: list[tuple[str, int]] = []
    current, start = voices[0], 0
    for m in re.finditer(rf"({pattern})\s*:", text):
        if m.start() > start:
            turns.append((current, m.start() - start))
        current, start = speakers[m.group(1)], m.start()
    turns.append((current, len(text) - start))
    return [t for t in turns if t[1] > 0] or [(voices[0], len(text))]


def synthesize(segments: list[tuple[str, int]], total: int) -> bytes:
    """``total`` samples of PCM s16le, split between ``(voice, weight)`` segments."""
    weights = np.array([max(1, w) for _, w in segments], dtype=float)
    bounds = np.round(np.cumsum(weights) / weights.sum() * total).astype(int)
    pieces: list[np.ndarray] = []
    start = 0
    for (voice, _), end in zip(segments, bounds, strict=True):
        pieces.append(_buzz(end - start, voice_pitch(voice), start))
        start = end
    signal = np.concatenate(pieces) if pieces else np.zeros(0)
    return (np.clip(signal, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def _buzz(n: int, f0: float, offset: int) -> np.ndarray:
    """A voice-like buzz: five harmonics, a slight pitch drift, 4 syllables a second with
    every fourth one quiet (a pause between words)."""
    t = (np.arange(n) + offset) / TTS_RATE
    pitch = f0 * (1.0 + 0.03 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / TTS_RATE
    wave = sum(np.sin(k * phase) / k for k in range(1, 6))
    syllable = t * 4.0
    envelope = np.sin(np.pi * (syllable % 1.0)) ** 2
    envelope = envelope * np.where(np.floor(syllable) % 4 == 3, 0.1, 1.0)
    return 0.3 * envelope * wave


# -- video ----------------------------------------------------------------------------------


def _alnum(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


def _render(op: VeoOperation, path: Path) -> None:
    """Encode the operation's clip into ``path`` (H.264, plus AAC mono if ``op.audio``)."""
    import av
    from ministudio.media.encode import PIXEL_FORMAT, VIDEO_CODEC, X264_OPTIONS

    w, h, fps = op.render_width, op.render_height, op.fps
    timeline = getattr(op, "timeline", None)  # an Omni interaction has none
    key, tops = timeline or (op.prompt or op.name, _tops(op))
    base = solid_planes(w, h, key, band=False)
    luma = int(base[0, 0])
    frames = len(tops)
    bar = max(2, h // 8)
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream(VIDEO_CODEC, rate=fps, options=dict(X264_OPTIONS))
        video.width, video.height, video.pix_fmt = w, h, PIXEL_FORMAT
        video.codec_context.time_base = Fraction(1, fps)
        audio = container.add_stream("aac", rate=AUDIO_RATE, layout="mono") if op.audio else None
        sound = _soundtrack(op.duration) if audio is not None else np.zeros(0, np.float32)
        written = 0
        for i in range(frames):
            planes = base.copy()
            top = tops[i]
            planes[top : top + bar] = min(255, luma + 90)
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            container.mux(video.encode(frame))
            if audio is None:
                continue
            until = sound.size if i == frames - 1 else (i + 1) * AUDIO_RATE // fps
            if i < frames - 1:
                until = written + (until - written) // 1024 * 1024  # whole AAC frames
            while written < until:
                chunk = sound[written : min(written + 1024, until)]
                a = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                a.sample_rate, a.pts, a.time_base = AUDIO_RATE, written, Fraction(1, AUDIO_RATE)
                container.mux(audio.encode(a))
                written += chunk.size
        container.mux(video.encode(None))
        if audio is not None:
            container.mux(audio.encode(None))
    op.path = path


def _tops(op: Any) -> list[int]:
    """Where the bar's top is in each frame of a clip made from scratch: sliding down."""
    h = op.render_height
    bar = max(2, h // 8)
    frames = max(1, round(op.duration * op.fps))
    return [(i * (h - bar) // max(1, frames - 1)) if frames > 1 else 0 for i in range(frames)]


def _soundtrack(seconds: float) -> np.ndarray:
    """A quiet, slowly swelling A-major chord: the clip's ambience."""
    t = np.arange(round(seconds * AUDIO_RATE)) / AUDIO_RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63)) / 3
    return (0.2 * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)) * chord).astype(np.float32)


GoogleServer.name = "google"
GoogleServer.handler = _Handler
GoogleServer.endpoints = ENDPOINTS
GoogleServer.fault_endpoints = FAULT_ENDPOINTS
