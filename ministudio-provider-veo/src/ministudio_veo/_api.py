"""The Veo calls through ``google-genai`` on Vertex AI: client, requests, statuses, downloads.

Imported by the hooks only, so ``import ministudio_veo`` stays free of the SDK. The legacy
``veo`` engine (the Gemini API, which serves no Veo model since 2026-10-22) sends nothing:
its submit refuses, naming ``gemini-omni``.

Rules (Vertex's Veo 3.1 model page and the Gemini API's Veo parameter table; veo.md §3):
4, 6 or 8 s; 8 s with reference images, at 1080p and at 4k; at most 3 reference images (as
``asset``), none on Lite and none with frames; 4k not on Lite.

How failures map, so the core never pays twice:

- create: 429 and 5xx, or a connection that failed before the request went out:
  ``TransientError``; 400 (and 404, an unknown model): ``EngineRefusal`` with Google's message;
  401/403 or an invalid key: ``KeyRejected``; anything after the request was sent:
  ``AmbiguousSubmission`` (Veo has no lookup by external id).
- poll: transport errors, 429 and 5xx: ``TransientError``.
- a finished operation with an ``error``: a failed status (``refused`` for INVALID_ARGUMENT);
  with every video filtered by safety: a refused status carrying Google's reasons.
- download: a cut-off download: ``TransientError``; nothing is left at ``output``.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from google.genai import errors, types
from ministudio import http
from ministudio.engines import EngineContext, EngineSpec
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MinistudioError,
    MissingKeyError,
    TransientError,
)
from ministudio.http import tls_context
from ministudio.jobs import JobStatus, Submission, VideoRequest, VideoResult

from ministudio_veo import GEMINI, OMNI, VERTEX, specs
from ministudio_veo._catalog import OMNI_DEFAULT, VEO_PRICES
from ministudio_veo._errors import KeyRejected

if TYPE_CHECKING:
    from google import genai

MAX_REFERENCES = 3
LONG_ONLY = 8  # Veo makes 8 s clips with reference images, at 1080p and at 4k
CLOUD_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
REFUSED_CODES = (3, 400)  # INVALID_ARGUMENT


# -- the hooks' work ------------------------------------------------------------------------
async def submit(engine: str, request: VideoRequest, context: EngineContext) -> Submission:
    if engine == GEMINI:
        raise EngineRefusal(
            GEMINI,
            "the Gemini API no longer serves Veo (turned off on 2026-10-22): route the shots "
            f"to engine '{OMNI}' (model {OMNI_DEFAULT}), or to 'veo-vertex' with a Google "
            "Cloud project",
        )
    _check(engine, request)  # before any request: a refusal here is free
    client, http = _client(engine, context)
    try:
        source = types.GenerateVideosSource(
            prompt=_prompt(request), image=_image(request.first_frame)
        )
        config = _config(request)
        context.sending()  # the images are read: the paid request leaves now
        operation = await client.aio.models.generate_videos(
            model=model_id(engine, request.model), source=source, config=config
        )
    except errors.APIError as exc:
        if exc.code in (400, 404) and not _bad_key(exc):
            raise EngineRefusal(engine, _message(exc)) from None
        raise _failure(engine, exc, "submit") from None
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        # The request never left: sending it again cannot pay twice.
        raise TransientError(engine, f"cannot reach the Veo API ({_why(exc)})") from None
    except httpx.HTTPError as exc:
        raise AmbiguousSubmission(
            engine,
            f"the submit was sent but its answer was lost ({_why(exc)}); the video may exist "
            "and be billed: Veo offers no lookup by external id",
        ) from None
    finally:
        await http.aclose()
    if not operation.name:
        raise AmbiguousSubmission(engine, "the submit was accepted but its answer has no name")
    return Submission(job_id=operation.name)


def _check(engine: str, request: VideoRequest) -> None:
    """What the model refuses, refused here for nothing."""
    model = model_id(engine, request.model)
    if "-lite" in model:
        if _resolution(request) == "4k":
            raise EngineRefusal(engine, f"{model} makes 720p or 1080p clips, not 4k: use veo-3.1")
        if _all_references(request):
            raise EngineRefusal(
                engine,
                f"{model} takes no reference images: route the shot to veo-3.1 or "
                "veo-3.1-fast, or drop the references",
            )


async def poll(engine: str, job_id: str, context: EngineContext) -> JobStatus:
    return status_of(await _operation(engine, job_id, context))


async def download(
    engine: str,
    job_id: str,
    status: JobStatus,
    output: Path,
    context: EngineContext,
    request: VideoRequest,
) -> VideoResult:
    operation = None
    if status.state != "succeeded":
        operation = await _operation(engine, job_id, context)
        status = status_of(operation)
    if status.state == "failed":
        if status.refused:
            raise EngineRefusal(engine, status.error or "the video was refused")
        raise EngineError(engine, f"job {job_id} failed: {status.error or 'no reason given'}")
    if status.state != "succeeded":
        raise TransientError(engine, f"job {job_id} has no video yet (state {status.state})")
    output.parent.mkdir(parents=True, exist_ok=True)
    part = output.with_name(output.name + ".part")
    try:
        video = _video(engine, operation or await _operation(engine, job_id, context))
        if video.video_bytes:
            part.write_bytes(video.video_bytes)
        elif video.uri and video.uri.startswith("gs://"):
            await _download_gcs(engine, video.uri, part, context)
        else:
            raise EngineError(engine, f"job {job_id} finished without a video to fetch")
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(output)
    return VideoResult(
        path=output,
        engine_job_id=job_id,
        model=model_id(engine, request.model),
        cost=cost(engine, request),
    )


# -- requests -------------------------------------------------------------------------------
def model_id(engine: str, model: str | None) -> str:
    """The model id for a declared id or alias (``veo-3.1-fast``), or ``model`` as given."""
    from ministudio.lifecycle import find

    spec = _spec(engine)
    model = model or spec.default_model or ""
    declared = find(spec.models, model)
    return declared.id if declared else model


def cost(engine: str, request: VideoRequest) -> float:
    """What ``request`` costs: the model's price at its resolution, with or without sound,
    for the seconds sent."""
    model = model_id(engine, request.model)
    sound = request.shot.native_audio
    return round(_sent_duration(request) * price(model, _resolution(request), sound), 6)


def price(model: str, resolution: str, sound: bool = True) -> float:
    """USD per second (``_catalog.VEO_PRICES``); an unknown pairing costs what standard does."""
    family = "fast" if "-fast" in model else "lite" if "-lite" in model else "standard"
    size = "2160p" if resolution == "4k" else resolution
    known = VEO_PRICES.get((family, size, sound))
    return known if known is not None else VEO_PRICES[("standard", size, sound)]


def _prompt(request: VideoRequest) -> str:
    prompt = request.prompt
    return prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True)


def _config(request: VideoRequest) -> types.GenerateVideosConfig:
    options = request.options
    config: dict[str, Any] = {
        "number_of_videos": 1,
        "duration_seconds": _sent_duration(request),
        "aspect_ratio": request.aspect_ratio,
        "resolution": _resolution(request),
    }
    if request.shot.negative:
        config["negative_prompt"] = ", ".join(request.shot.negative)
    if request.last_frame is not None:
        config["last_frame"] = _image(request.last_frame)
    references = _references(request)
    if references:
        config["reference_images"] = [
            types.VideoGenerationReferenceImage(image=_image(path), reference_type="ASSET")
            for path in references
        ]
    for name in ("person_generation", "enhance_prompt"):
        if name in options:
            config[name] = options[name]
    config["seed"] = request.seed % 2**32
    config["generate_audio"] = request.shot.native_audio
    if options.get("output_gcs_uri"):
        config["output_gcs_uri"] = str(options["output_gcs_uri"])
    return types.GenerateVideosConfig(**config)


def _references(request: VideoRequest) -> list[Path]:
    """Up to three reference images (characters first, then the place); none with frames,
    which Veo refuses to combine with them (the core already left them out)."""
    if request.first_frame is not None or request.last_frame is not None:
        return []
    return _all_references(request)[:MAX_REFERENCES]


def _all_references(request: VideoRequest) -> list[Path]:
    paths = [p for c in request.shot.characters for p in c.reference_images]
    paths += list(request.shot.environment.reference_images)
    if request.first_frame is not None or request.last_frame is not None:
        return []
    return [Path(p) for p in paths]


def _sent_duration(request: VideoRequest) -> int:
    if _references(request) or _resolution(request) != "720p":
        return LONG_ONLY
    return round(request.duration)


def _resolution(request: VideoRequest) -> str:
    """Veo's name for the film's resolution: 720p, 1080p or 4k (2160p)."""
    side = min(request.width, request.height)
    return "4k" if side >= 2160 else "1080p" if side >= 1080 else "720p"


def _image(path: Path | None) -> types.Image | None:
    if path is None:
        return None
    mime = mimetypes.guess_type(str(path))[0] or "image/png"
    return types.Image(image_bytes=Path(path).read_bytes(), mime_type=mime)


# -- statuses -------------------------------------------------------------------------------
def status_of(operation: types.GenerateVideosOperation) -> JobStatus:
    job_id = operation.name or ""
    if not operation.done:
        return JobStatus(job_id=job_id, state="running")
    if operation.error:
        code = operation.error.get("code")
        message = str(operation.error.get("message") or "no reason given")
        return JobStatus(
            job_id=job_id, state="failed", error=message, refused=code in REFUSED_CODES
        )
    response = operation.response
    videos = (response.generated_videos if response else None) or []
    if not videos or videos[0].video is None:
        reasons = (response.rai_media_filtered_reasons if response else None) or []
        if response and response.rai_media_filtered_count:
            why = "; ".join(reasons) or "filtered by Google's safety filters"
            return JobStatus(job_id=job_id, state="failed", error=why, refused=True)
        return JobStatus(job_id=job_id, state="failed", error="the job finished without a video")
    uri = videos[0].video.uri
    return JobStatus(job_id=job_id, state="succeeded", video_url=uri)


def _video(engine: str, operation: types.GenerateVideosOperation) -> types.Video:
    response = operation.response
    videos = (response.generated_videos if response else None) or []
    if not videos or videos[0].video is None:
        raise EngineError(engine, f"job {operation.name} has no video")
    return videos[0].video


async def _operation(
    engine: str, job_id: str, context: EngineContext
) -> types.GenerateVideosOperation:
    client, http = _client(engine, context)
    try:
        return await client.aio.operations.get(
            types.GenerateVideosOperation.model_validate({"name": job_id})
        )
    except errors.APIError as exc:
        if exc.code == 404:
            raise EngineError(engine, f"job {job_id} is unknown to Veo") from None
        raise _failure(engine, exc, f"status of job {job_id}") from None
    except httpx.HTTPError as exc:
        raise TransientError(engine, f"status of job {job_id} failed ({_why(exc)})") from None
    finally:
        await http.aclose()


# -- downloads ------------------------------------------------------------------------------
async def _download_gcs(engine: str, uri: str, part: Path, context: EngineContext) -> None:
    """A ``gs://bucket/object`` through the Cloud Storage JSON API, with the render's
    credentials, checked against its Content-Length."""
    from urllib.parse import quote

    bucket, _, name = uri[len("gs://") :].partition("/")
    base = (context.env.get("VEO_STORAGE_BASE_URL") or "https://storage.googleapis.com").rstrip("/")
    url = f"{base}/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}?alt=media"
    headers = {"Authorization": f"Bearer {_access_token(context)}"}
    try:
        await http.download(url, part, engine=engine, headers=headers, timeout=_timeout(context))
    except http.DownloadError as exc:
        if exc.status in (401, 403):
            raise KeyRejected(engine, _credential_names(), exc.status) from None
        raise


# -- clients and credentials ----------------------------------------------------------------
def _client(engine: str, context: EngineContext) -> tuple[genai.Client, httpx.AsyncClient]:
    """A client for the engine's backend, on an httpx client we own (and close)."""
    from google import genai

    tls = tls_context()  # shared: a new one per call costs ~70 ms
    http = httpx.AsyncClient(timeout=httpx.Timeout(_timeout(context), connect=5.0), verify=tls)
    options = types.HttpOptions(
        httpx_async_client=http,
        client_args={"verify": tls},  # the SDK's own sync client
        # Its websocket context: without one the SDK loads the CA bundle anew for every
        # client (~50 ms, on the path from a webhook to the download).
        async_client_args={"ssl": tls},
        timeout=int(_timeout(context) * 1000),
    )
    base = context.env.get("VERTEX_BASE_URL")
    if base:
        options.base_url = base
    project = context.env.get("GOOGLE_CLOUD_PROJECT")
    if project:
        location = context.env.get("GOOGLE_CLOUD_LOCATION") or "us-central1"
        client = genai.Client(
            vertexai=True,
            project=project,
            location=location,
            credentials=_credentials(context),
            http_options=options,
        )
        return client, http
    express = context.env.get("VERTEX_AI_API_KEY") or _stored("VERTEX_AI_API_KEY", context)
    if not express:
        raise MissingKeyError(VERTEX, ["VERTEX_AI_API_KEY", "GOOGLE_CLOUD_PROJECT"])
    return genai.Client(vertexai=True, api_key=express, http_options=options), http


def _credentials(context: EngineContext) -> Any:
    """Vertex credentials: an access token, a service account file, or application defaults."""
    token = context.env.get("VERTEX_AI_ACCESS_TOKEN") or _stored("VERTEX_AI_ACCESS_TOKEN", context)
    if token:
        from google.oauth2.credentials import Credentials

        return Credentials(token=token)  # type: ignore[no-untyped-call]
    path = context.env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if path:
        from google.oauth2 import service_account

        try:
            load = service_account.Credentials.from_service_account_file
            return load(path, scopes=[CLOUD_SCOPE])  # type: ignore[no-untyped-call]
        except (OSError, ValueError) as exc:
            raise EngineError(
                VERTEX,
                f"GOOGLE_APPLICATION_CREDENTIALS ({path}) is not a usable service account file "
                f"({type(exc).__name__}); download the key file again",
            ) from None
    import google.auth
    import google.auth.exceptions

    try:
        credentials, _ = google.auth.default(scopes=[CLOUD_SCOPE])
    except google.auth.exceptions.DefaultCredentialsError:
        raise MissingKeyError(VERTEX, _credential_names()) from None
    return credentials


def _access_token(context: EngineContext) -> str:
    """A bearer token for Cloud Storage from the same credentials as the Vertex client."""
    credentials = _credentials(context)
    if not credentials.valid:
        import google.auth.transport.requests

        credentials.refresh(google.auth.transport.requests.Request())
    return str(credentials.token)


def _credential_names() -> list[str]:
    return ["VERTEX_AI_ACCESS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS", "VERTEX_AI_API_KEY"]


def _stored(name: str, context: EngineContext) -> str | None:
    from ministudio.keys import lookup

    return lookup(name, context.env)


def _spec(engine: str) -> EngineSpec:
    return next(spec for spec in specs() if spec.id == engine)


def _timeout(context: EngineContext) -> float:
    try:
        return float(context.env.get("VEO_TIMEOUT") or 120.0)
    except ValueError:
        return 120.0


# -- errors ---------------------------------------------------------------------------------
def _failure(engine: str, exc: errors.APIError, what: str) -> MinistudioError:
    code = int(exc.code or 0)
    if code in (401, 403) or _bad_key(exc):
        return KeyRejected(engine, _credential_names(), code)
    if code in (408, 429) or code >= 500:
        return TransientError(
            engine, f"{what}: {_message(exc)} (HTTP {code})", retry_after=_retry_after(exc)
        )
    return EngineError(engine, f"{what}: {_message(exc)} (HTTP {code})")


def _bad_key(exc: errors.APIError) -> bool:
    text = f"{exc.status} {exc.message} {exc.details}"
    return "API_KEY_INVALID" in text or "API key not valid" in text


def _message(exc: errors.APIError) -> str:
    return str(exc.message or exc.status or "no message")[:500]


def _retry_after(exc: errors.APIError) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None)
    return http.retry_after(headers) if headers is not None else None


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
