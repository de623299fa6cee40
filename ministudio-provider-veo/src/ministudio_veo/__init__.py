"""MiniStudio engine plugin for Google Veo 3.1, through the official ``google-genai`` SDK,
and a Gemini vision judge for quality control.

Two video engines, because the two Google backends take different inputs:

- ``veo``: the Gemini Developer API, with ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``. Clips are
  downloaded from the Gemini files endpoint; results can arrive by webhook
  (``webhook_config``); Veo always makes a soundtrack there; no seed.
- ``veo-vertex``: Vertex AI, either a project (``GOOGLE_CLOUD_PROJECT``,
  ``GOOGLE_CLOUD_LOCATION``, credentials from ``GOOGLE_APPLICATION_CREDENTIALS`` (a service
  account file), ``VERTEX_AI_ACCESS_TOKEN`` or application default credentials) or express
  mode with ``VERTEX_AI_API_KEY``. Takes a seed and turns the soundtrack off; clips come back
  inline, or in Cloud Storage with the option ``output_gcs_uri``. Polling only.

And a judge (kind ``judge``), named by a production's ``qc: {judge: gemini-judge}``:

- ``gemini-judge``: the Gemini API with the same keys as ``veo``; ``qc_check`` sends a few
  frames of each rendered shot, the characters' reference images and DNA and the place's
  description to a Gemini Flash model and turns its structured answer into an
  ``identity:<character>`` verdict per character and a ``continuity`` verdict per shot
  (see ``judge``).

``google-genai`` is pinned below 3: 3.x refuses Veo on the Gemini Developer API.

The SDK is imported inside the hooks only (see ``_api`` and ``judge``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from ministudio.engines import Judging
    from ministudio.jobs import (
        JobStatus,
        QCVerdict,
        ShotPrompt,
        Submission,
        VideoRequest,
        VideoResult,
    )

__version__ = "0.1.0"

GEMINI = "veo"
VERTEX = "veo-vertex"
ENGINES = (GEMINI, VERTEX)
JUDGE = "gemini-judge"
JUDGE_MODEL = "gemini-3.8-flash"  # GA since September 2026; see judge.PRICES
GEMINI_KEYS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
VERTEX_KEYS = ("VERTEX_AI_API_KEY", "VERTEX_AI_ACCESS_TOKEN")


def _capabilities(*, vertex: bool) -> Capabilities:
    return Capabilities(
        durations=(4.0, 6.0, 8.0),
        min_duration=4.0,
        max_duration=8.0,
        snap_duration="up",
        aspect_ratios=("16:9", "9:16"),
        resolutions=("720p", "1080p"),
        max_references=3,
        references_with_frames=False,  # Veo takes reference images or frames, not both
        first_frame=True,
        last_frame=True,
        last_frame_alone=False,  # Veo interpolates towards an end frame from a first frame
        native_audio=True,
        seed=vertex,
        webhooks=not vertex,
        # Quotas are per project and tier; 10 requests a minute is Vertex's published figure.
        concurrency=4,
        requests_per_minute=10,
        price_per_second=0.40,  # veo-3.1 standard, 720p/1080p (secondary figure, May 2026)
        expected_latency=float(os.environ.get("VEO_EXPECTED_LATENCY") or 90.0),
    )


def specs() -> list[EngineSpec]:
    return [
        EngineSpec(
            id=GEMINI,
            kind="video",
            description="Google Veo 3.1 on the Gemini API (google-genai)",
            key_env=GEMINI_KEYS,
            default_model="veo-3.1-generate-preview",
            marks_sending=True,  # _api.submit calls context.sending()
            capabilities=_capabilities(vertex=False),
        ),
        EngineSpec(
            id=VERTEX,
            kind="video",
            description="Google Veo 3.1 on Vertex AI: a project, or express mode with a key",
            key_env=VERTEX_KEYS,
            default_model="veo-3.1-generate-001",
            marks_sending=True,
            capabilities=_capabilities(vertex=True),
        ),
        EngineSpec(
            id=JUDGE,
            kind="judge",
            description="Gemini vision judge: identity per character, continuity per shot",
            key_env=GEMINI_KEYS,
            default_model=JUDGE_MODEL,
            capabilities=Capabilities(concurrency=4, expected_latency=8.0),
        ),
    ]


@hookimpl
def ministudio_engines() -> list[EngineSpec]:
    return specs()


# -- hooks: sync shims, so a foreign engine id gets None rather than a coroutine -------------
@hookimpl
def submit_video(
    engine: str, request: VideoRequest, idempotency_key: str, context: EngineContext
) -> Awaitable[Submission] | None:
    from ministudio_veo import _api

    return _api.submit(engine, request, context) if engine in ENGINES else None


@hookimpl
def poll_video(engine: str, job_id: str, context: EngineContext) -> Awaitable[JobStatus] | None:
    from ministudio_veo import _api

    return _api.poll(engine, job_id, context) if engine in ENGINES else None


@hookimpl
def download_video(
    engine: str,
    job_id: str,
    status: JobStatus,
    output: Path,
    context: EngineContext,
    request: VideoRequest,
) -> Awaitable[VideoResult] | None:
    from ministudio_veo import _api

    if engine not in ENGINES:
        return None
    return _api.download(engine, job_id, status, Path(output), context, request)


@hookimpl
def parse_webhook(engine: str, body: bytes, headers: dict[str, str]) -> JobStatus | None:
    from ministudio_veo import _api

    return _api.parse_webhook(body) if engine == GEMINI else None


@hookimpl
def estimate_cost(engine: str, request: VideoRequest) -> float | None:
    from ministudio_veo import _api

    return _api.cost(engine, request) if engine in ENGINES else None


@hookimpl
def prompt_map(engine: str, shot: ShotPrompt) -> str | None:
    if engine not in ENGINES:
        return None
    from ministudio.prompts import describe_shot

    # Veo speaks the lines itself only when the shot asks for native audio.
    return describe_shot(shot, include_dialogue=shot.native_audio)


@hookimpl
def qc_check(shot: ShotPrompt, clip: Path, judge: Judging | None) -> list[QCVerdict] | None:
    """The judge's verdicts on ``clip``, when the production names ``gemini-judge``."""
    if judge is None or judge.engine != JUDGE:
        return None
    from ministudio_veo import judge as vision

    return vision.judge(shot, Path(clip), judge)
