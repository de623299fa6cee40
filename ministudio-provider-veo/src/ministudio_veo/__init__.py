"""MiniStudio engine plugins for Google video, through the official ``google-genai`` SDK, and
a Gemini vision judge for quality control.

- ``gemini-omni``: Gemini Omni on the Gemini API (``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``;
  ``GEMINI_BASE_URL`` to point elsewhere), through the Interactions API: text, a first frame
  (and a last one), up to five reference images; 360p to 4k, 3-10 s, always with sound; the
  ``edit`` retake rung (a take changed by instruction); webhooks, verified (``_webhooks``:
  ``GEMINI_WEBHOOK_SECRET`` for project webhooks, Google's key set for per-request ones).
- ``veo-vertex``: Veo 3.1 on Vertex AI, either a project (``GOOGLE_CLOUD_PROJECT``,
  ``GOOGLE_CLOUD_LOCATION``, credentials from ``GOOGLE_APPLICATION_CREDENTIALS`` (a service
  account file), ``VERTEX_AI_ACCESS_TOKEN`` or application default credentials) or express
  mode with ``VERTEX_AI_API_KEY``. Takes a seed and turns the soundtrack off; clips come back
  inline, or in Cloud Storage with the option ``output_gcs_uri``. Polling only. A `continue`
  shot after a Veo-on-Vertex clip extends that clip (7 s more, at 720p; the clip kept is the
  new part only), else starts from its last frame; option ``extend: false`` turns it off
  (``_api``, "Extension").
- ``veo`` (legacy): Veo on the Gemini API, which Google turned off (the last models on
  2026-10-22). Declared so ``validate`` can name the replacement (``gemini-omni``); it sends
  nothing.

And a judge (kind ``judge``), named by a production's ``qc: {judge: gemini-judge}``:

- ``gemini-judge``: the Gemini API with the same keys as ``gemini-omni``; ``qc_check`` sends a
  few frames of each rendered shot, the characters' reference images and DNA and the place's
  description to a Gemini Flash model and turns its structured answer into an
  ``identity:<character>`` verdict per character and a ``continuity`` verdict per shot
  (see ``judge``).

And two authoring engines with the same keys, for ``ministudio storyboard`` and ``ministudio
cast``:

- ``gemini-writer`` (kind ``writer``): a production from a brief, one ``generateContent`` a
  round with structured output (the production's JSON Schema; see ``writer``).
- ``gemini-image`` (kind ``image``): a character's sheet views and the places, drawn by a
  Gemini image model, reference images re-encoded before they leave (see ``image``).

Models and their lifecycle are in ``_catalog``. ``google-genai`` is pinned below 3 (see the
pyproject). Each engine is a class (``ministudio.plugin_kit``); the SDK is imported inside
their methods and ``qc_check`` only (``_omni``, ``_api``, ``_webhooks``, ``judge``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec
from ministudio.plugin_kit import Engine, engine_hooks

from ministudio_veo._catalog import (
    GEMINI_VEO_DEFAULT,
    GEMINI_VEO_MODELS,
    IMAGE_MODEL,
    IMAGE_MODELS,
    JUDGE_MODEL,
    JUDGE_MODELS,
    OMNI_DEFAULT,
    OMNI_MODELS,
    OMNI_PRICES,
    VERTEX_DEFAULT,
    VERTEX_MODELS,
    WRITER_MODEL,
    WRITER_MODELS,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from ministudio.engines import Judging
    from ministudio.jobs import (
        Draft,
        ImageRequest,
        ImageResult,
        JobStatus,
        QCVerdict,
        ShotPrompt,
        Submission,
        VideoRequest,
        VideoResult,
        WritingRequest,
    )

__version__ = "0.1.0"

OMNI = "gemini-omni"
GEMINI = "veo"  # legacy: the Gemini API serves no Veo model any more
VERTEX = "veo-vertex"
ENGINES = (GEMINI, VERTEX)  # the Veo engines (``_api``)
VIDEO = (OMNI, GEMINI, VERTEX)
JUDGE = "gemini-judge"
WRITER = "gemini-writer"
IMAGE = "gemini-image"
GEMINI_KEYS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
VERTEX_KEYS = ("VERTEX_AI_API_KEY", "VERTEX_AI_ACCESS_TOKEN")

__all__ = ["JUDGE_MODEL", "OMNI_DEFAULT", "specs"]


def _latency(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def _veo_capabilities(*, vertex: bool) -> Capabilities:
    return Capabilities(
        durations=(4.0, 6.0, 8.0),
        min_duration=4.0,
        max_duration=8.0,
        snap_duration="up",
        aspect_ratios=("16:9", "9:16"),
        # 4k on Vertex (8 s only; not on Lite, which refuses it before anything is sent).
        resolutions=("720p", "1080p", "2160p") if vertex else ("720p", "1080p"),
        max_references=3,
        references_with_frames=False,  # Veo takes reference images or frames, not both
        first_frame=True,
        # Vertex extends a Veo clip by 7 s (its "Extend videos" page); the Gemini API's Veo is
        # gone. The core then hands `request.previous` as well as the last frame (_api).
        extend=vertex,
        last_frame=True,
        last_frame_alone=False,  # Veo interpolates towards an end frame from a first frame
        native_audio=True,
        seed=vertex,
        # Quotas are per project and tier; 10 requests a minute is Vertex's published figure.
        concurrency=4,
        requests_per_minute=10,
        price_per_second=0.40,  # veo-3.1 standard with sound, 720p/1080p (see _catalog)
        expected_latency=_latency("VEO_EXPECTED_LATENCY", 90.0),
    )


def _omni_capabilities() -> Capabilities:
    return Capabilities(
        # Any length from 3 to 10 s (fractions too): a hint Omni follows closely; the core
        # reads the clip's real length and fits it to the audio. (Vertex's Omni notebook
        # "Duration: 3s - 10s"; the range is also what the API's own 400s quote.)
        durations=None,
        min_duration=3.0,
        max_duration=10.0,
        snap_duration="up",
        aspect_ratios=("16:9", "9:16"),
        resolutions=tuple(OMNI_PRICES),  # 360p, 720p, 1080p (upscaled), 4k (upscaled)
        # Google's Omni notebook: "no more than 5 reference images" for best results.
        max_references=5,
        references_with_frames=True,
        first_frame=True,
        last_frame=True,
        last_frame_alone=False,  # "<LAST_FRAME>: Must be used with <FIRST_FRAME>"
        native_audio=True,  # always: Omni has no switch for its soundtrack
        edit=True,  # previous_interaction_id and an instruction
        webhooks=True,
        # No published quota for Omni; conservative, like Veo's.
        concurrency=4,
        requests_per_minute=10,
        price_per_second=OMNI_PRICES["720p"],
        expected_latency=_latency("OMNI_EXPECTED_LATENCY", 60.0),
    )


class _Video(Engine):
    """What the video engines share: the prompt, with the lines only when the shot asks for
    native audio (the engine speaks them itself)."""

    def prompt(self, shot: ShotPrompt) -> str:
        from ministudio.prompts import describe_shot

        return describe_shot(shot, include_dialogue=shot.native_audio)


class Omni(_Video):
    """``gemini-omni`` (``_omni``; its webhooks verified in ``_webhooks``)."""

    id = OMNI

    def spec(self) -> EngineSpec:
        return EngineSpec(
            id=OMNI,
            revision=0,  # paid: pinned, so a package upgrade never re-pays a clip
            kind="video",
            description="Google Gemini Omni on the Gemini API (Interactions, google-genai)",
            key_env=GEMINI_KEYS,
            default_model=OMNI_DEFAULT,
            models=OMNI_MODELS,
            marks_sending=True,  # _omni.submit calls context.sending()
            capabilities=_omni_capabilities(),
        )

    def submit(
        self, request: VideoRequest, idempotency_key: str, context: EngineContext
    ) -> Awaitable[Submission]:
        from ministudio_veo import _omni

        return _omni.submit(request, context)

    def poll(self, job_id: str, context: EngineContext) -> Awaitable[JobStatus]:
        from ministudio_veo import _omni

        return _omni.poll(job_id, context)

    def download(
        self,
        job_id: str,
        status: JobStatus,
        output: Path,
        context: EngineContext,
        request: VideoRequest,
    ) -> Awaitable[VideoResult]:
        from ministudio_veo import _omni

        return _omni.download(job_id, status, Path(output), context, request)

    def parse_webhook(
        self, body: bytes, headers: dict[str, str], env: Mapping[str, str]
    ) -> JobStatus | None:
        """A Gemini API push: verified (``_webhooks``), then a thin status."""
        from ministudio_veo import _webhooks

        return _webhooks.parse(self.id, body, headers, env)

    def estimate_cost(self, request: VideoRequest) -> float:
        from ministudio_veo import _omni

        return _omni.cost(request)


class _Veo(_Video):
    """The Veo engines (``_api``): ``veo`` (the Gemini API's, gone) and ``veo-vertex``."""

    def submit(self, request: VideoRequest, context: EngineContext) -> Awaitable[Submission]:
        from ministudio_veo import _api

        return _api.submit(self.id, request, context)

    def poll(self, job_id: str, context: EngineContext) -> Awaitable[JobStatus]:
        from ministudio_veo import _api

        return _api.poll(self.id, job_id, context)

    def download(
        self,
        job_id: str,
        status: JobStatus,
        output: Path,
        context: EngineContext,
        request: VideoRequest,
    ) -> Awaitable[VideoResult]:
        from ministudio_veo import _api

        return _api.download(self.id, job_id, status, Path(output), context, request)

    def estimate_cost(self, request: VideoRequest) -> float:
        from ministudio_veo import _api

        return _api.cost(self.id, request)


class GeminiVeo(_Veo):
    id = GEMINI

    def spec(self) -> EngineSpec:
        return EngineSpec(
            id=GEMINI,
            revision=0,  # paid: pinned, so a package upgrade never re-pays a clip
            kind="video",
            description="Google Veo on the Gemini API: turned off by Google; use gemini-omni",
            key_env=GEMINI_KEYS,
            default_model=GEMINI_VEO_DEFAULT,
            models=GEMINI_VEO_MODELS,
            legacy=True,
            marks_sending=True,  # it never sends anything
            capabilities=_veo_capabilities(vertex=False),
        )


class VertexVeo(_Veo):
    id = VERTEX

    def spec(self) -> EngineSpec:
        return EngineSpec(
            id=VERTEX,
            revision=0,  # paid: pinned, so a package upgrade never re-pays a clip
            kind="video",
            description="Google Veo 3.1 on Vertex AI: a project, or express mode with a key",
            key_env=VERTEX_KEYS,
            default_model=VERTEX_DEFAULT,
            models=VERTEX_MODELS,
            marks_sending=True,
            capabilities=_veo_capabilities(vertex=True),
        )


class Judge(Engine):
    """``gemini-judge``: a declaration; its work is the module's ``qc_check``."""

    id = JUDGE

    def spec(self) -> EngineSpec:
        return EngineSpec(
            id=JUDGE,
            revision=0,  # paid: pinned, so a package upgrade never re-pays a clip
            kind="judge",
            description="Gemini vision judge: identity per character, continuity per shot",
            key_env=GEMINI_KEYS,
            default_model=JUDGE_MODEL,
            models=JUDGE_MODELS,
            capabilities=Capabilities(concurrency=4, expected_latency=8.0),
        )


class Writer(Engine):
    """``gemini-writer``: its declaration and price; its work is ``write_production``."""

    id = WRITER

    def spec(self) -> EngineSpec:
        return EngineSpec(
            id=WRITER,
            revision=0,  # paid: pinned, so a package upgrade never re-pays a draft
            kind="writer",
            description="Gemini writes a production from a brief (structured JSON output)",
            key_env=GEMINI_KEYS,
            default_model=WRITER_MODEL,
            models=WRITER_MODELS,
            capabilities=Capabilities(concurrency=2, expected_latency=60.0),
        )

    def estimate_cost(self, request: WritingRequest) -> float:
        from ministudio_veo import writer

        return writer.estimate(request)


class Image(Engine):
    """``gemini-image``: its declaration and price; its work is ``generate_image``."""

    id = IMAGE

    def spec(self) -> EngineSpec:
        return EngineSpec(
            id=IMAGE,
            revision=0,  # paid: pinned, so a package upgrade never re-pays a still
            kind="image",
            description="Gemini image models draw character sheets and places",
            key_env=GEMINI_KEYS,
            default_model=IMAGE_MODEL,
            models=IMAGE_MODELS,
            capabilities=Capabilities(
                aspect_ratios=(
                    *("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"),
                ),
                max_references=14,
                seed=True,
                concurrency=4,
                expected_latency=15.0,
            ),
        )

    def estimate_cost(self, request: ImageRequest) -> float:
        from ministudio_veo import image

        return image.estimate(request)


ENGINE_OBJECTS = (Omni(), GeminiVeo(), VertexVeo(), Judge(), Writer(), Image())


def specs() -> list[EngineSpec]:
    """The engines this plugin provides (with their models, see ``_catalog``)."""
    return [engine.spec() for engine in ENGINE_OBJECTS]


globals().update(engine_hooks(*ENGINE_OBJECTS))


@hookimpl
def qc_check(shot: ShotPrompt, clip: Path, judge: Judging | None) -> list[QCVerdict] | None:
    """The judge's verdicts on ``clip``, when the production names ``gemini-judge``."""
    if judge is None or judge.engine != JUDGE:
        return None
    from ministudio_veo import judge as vision

    return vision.judge(shot, Path(clip), judge)


@hookimpl
def write_production(
    engine: str, request: WritingRequest, schema: dict[str, Any], context: EngineContext
) -> Draft | None:
    """``gemini-writer``'s draft of one round (``writer.write``); None for another engine."""
    if engine != WRITER:
        return None
    from ministudio_veo import writer

    return writer.write(request, schema, context)


@hookimpl
def generate_image(
    engine: str, request: ImageRequest, output: Path, context: EngineContext
) -> Awaitable[ImageResult] | None:
    """``gemini-image``'s still (``image.draw_journaled``); None for another engine."""
    if engine != IMAGE:
        return None
    from ministudio_veo import image

    return image.draw_journaled(request, Path(output), context)
