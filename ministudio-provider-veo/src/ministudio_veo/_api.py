"""The Veo calls through ``google-genai`` on Vertex AI: client, requests, statuses, downloads.

Imported by the hooks only, so ``import ministudio_veo`` stays free of the SDK. The legacy
``veo`` engine (the Gemini API, which serves no Veo model since 2026-10-22) sends nothing:
its submit refuses, naming ``gemini-omni``.

Rules (Vertex's Veo 3.1 model page and the Gemini API's Veo parameter table; veo.md §3):
4, 6 or 8 s; 8 s with reference images, at 1080p and at 4k; at most 3 reference images (as
``asset``), none on Lite and none with frames; 4k not on Lite.

Extension (``veo-vertex``; ``_extension``): a `continue` shot whose previous shot Veo on Vertex
made sends that clip (``instances[0].video``: its inline bytes, or its ``gs://`` uri) instead of
the previous clip's last frame. Vertex's "Extend videos" page
(https://docs.cloud.google.com/gemini-enterprise-agent-platform/models/video/extend-a-veo-video,
English revision): "With Veo, the input video must be 1 to 30 seconds in length and can be
extended by 7 seconds (up to 37 seconds total)"; all three 3.1 ids (-001) are listed; input
MP4, 24 fps, 16:9 or 9:16 (its localized revisions' "Limitations"). Sent only at 720p (the
3.1 model card: "1080, except for video extension"; the Gemini API guide: 720p inputs), with
no end frame and no reference images, and no ``durationSeconds`` (the page's 7 s is the
model's; ``parameters`` then take "a default value appropriate for the model"). Anything
else, ``extend: false``, or a source operation or object that is gone: the last frame, as
before. "37 seconds total" (and the Gemini API guide: "a single video combining the
user-provided video and the generated extended video") says the answer holds the source and
the extension; an answer longer than the extension by about the source's length has the
source cut off its head (``_cut_head``: PyAV, frame-exact, sound kept in sync), so the clip
kept is the new shot only; a 7 s answer is kept as it is. Billed as the seconds it makes
(Vertex prices Veo per second of output; the extension's 7 s, ``EXTENSION_SECONDS``).

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
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
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
EXTENSION_SECONDS = 7  # Vertex "Extend videos": a Veo video "can be extended by 7 seconds"
SOURCE_SECONDS = (1.0, 30.0)  # the same page: "the input video must be 1 to 30 seconds"
EXTENSION_FPS = 24  # the same page (its limitations): 24 frames per second
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
    extension = await _extension(engine, request, context)
    if extension is not None:
        try:
            return await _create(engine, request, context, extension)
        except EngineRefusal:
            # Vertex refused the extension (400: not billed): start from the last frame.
            pass
    return await _create(engine, request, context, None)


async def _create(
    engine: str, request: VideoRequest, context: EngineContext, extension: Source | None
) -> Submission:
    """One create: an extension of ``extension``'s clip, or a clip from the first frame."""
    client, http = _client(engine, context)
    try:
        if extension is not None:
            source = types.GenerateVideosSource(prompt=_prompt(request), video=extension.video)
            config = _config(request, extending=True)
        else:
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
    status.check_done(engine, refusal="the video was refused")
    output.parent.mkdir(parents=True, exist_ok=True)
    part = output.with_name(output.name + ".part")
    cut = output.with_name(output.name + ".cut.part")
    extended = False
    try:
        video = _video(engine, operation or await _operation(engine, job_id, context))
        if video.video_bytes:
            part.write_bytes(video.video_bytes)
        elif video.uri and video.uri.startswith("gs://"):
            await _download_gcs(engine, video.uri, part, context)
        else:
            raise EngineError(engine, f"job {job_id} finished without a video to fetch")
        # The same answer as at submit: the source is still there (then this job extended
        # it, unless Vertex refused that) or still gone (then it started from the last frame).
        source = await _extension(engine, request, context)
        if source is not None:
            extended, was_cut = await anyio.to_thread.run_sync(_new_part, part, cut, source)
            if was_cut:
                cut.replace(part)
    except BaseException:
        part.unlink(missing_ok=True)
        cut.unlink(missing_ok=True)
        raise
    part.replace(output)
    return VideoResult(
        path=output,
        engine_job_id=job_id,
        model=model_id(engine, request.model),
        cost=cost(engine, request, extended=extended),
    )


# -- extension ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """The previous shot's clip as an extension sends it, and its length."""

    video: types.Video
    frames: int
    fps: float

    @property
    def seconds(self) -> float:
        return self.frames / self.fps if self.fps else 0.0


def extendable(engine: str, request: VideoRequest) -> bool:
    """Whether ``request`` may extend its previous clip rather than start from its last
    frame: a `continue` shot after a clip this engine made, at 720p, with no end frame (Veo
    takes a video, or frames), unless the option ``extend: false`` says otherwise."""
    previous = request.previous
    return (
        engine == VERTEX
        and previous is not None
        and previous.engine == engine
        and request.options.get("extend", True) is not False
        and request.last_frame is None
        and _resolution(request) == "720p"
    )


async def _extension(engine: str, request: VideoRequest, context: EngineContext) -> Source | None:
    """The source to extend, or None (then the shot starts from the last frame): not
    ``extendable``, its operation or clip gone or refused, or a clip Veo does not extend
    (1-30 s, 24 fps). A failure worth retrying (5xx, a lost connection) is raised."""
    if request.previous is None or not extendable(engine, request):
        return None
    job_id = request.previous.job_id
    try:
        operation = await _operation(engine, job_id, context)
    except TransientError:
        raise
    except EngineError:
        return None  # gone: unknown to Veo now
    if status_of(operation).state != "succeeded":
        return None
    video = _video(engine, operation)
    if video.video_bytes:
        data, sent = video.video_bytes, types.Video(video_bytes=video.video_bytes)
    elif video.uri and video.uri.startswith("gs://"):
        fetched = await _fetch_source(engine, video.uri, context)
        if fetched is None:
            return None
        data, sent = fetched, types.Video(uri=video.uri)
    else:
        return None
    sent.mime_type = video.mime_type or "video/mp4"
    measured = await anyio.to_thread.run_sync(_measure, data)
    if measured is None:
        return None
    frames, fps = measured
    source = Source(sent, frames, fps)
    low, high = SOURCE_SECONDS
    if not low <= source.seconds <= high or round(fps) != EXTENSION_FPS:
        return None
    return source


async def _fetch_source(engine: str, uri: str, context: EngineContext) -> bytes | None:
    """A ``gs://`` clip's bytes (to measure it); None when the object is gone (404) or
    refused (403: another project's)."""
    from urllib.parse import quote

    bucket, _, name = uri[len("gs://") :].partition("/")
    base = (context.env.get("VEO_STORAGE_BASE_URL") or "https://storage.googleapis.com").rstrip("/")
    url = f"{base}/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}?alt=media"
    headers = {"Authorization": f"Bearer {_access_token(context)}"}
    timeout = httpx.Timeout(_timeout(context), connect=5.0)
    try:
        async with httpx.AsyncClient(timeout=timeout, verify=tls_context()) as client:
            answer = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise TransientError(engine, f"fetching the clip to extend failed ({_why(exc)})") from None
    if answer.status_code in (403, 404):
        return None
    if answer.status_code == 401:
        raise KeyRejected(engine, _credential_names(), 401)
    if answer.status_code != 200:
        raise TransientError(engine, f"fetching the clip to extend: HTTP {answer.status_code}")
    return answer.content


def _measure(data: bytes) -> tuple[int, float] | None:
    """A clip's frame count and rate, or None when it is no readable video."""
    import tempfile

    from ministudio.media.probe import probe

    with tempfile.TemporaryDirectory(prefix="ministudio-veo-") as tmp:
        path = Path(tmp) / "source.mp4"
        path.write_bytes(data)
        try:
            info = probe(path)
        except MinistudioError:
            return None
    return info.frames, info.fps


def _new_part(clip: Path, cut: Path, source: Source) -> tuple[bool, bool]:
    """(whether ``clip`` extends ``source``, whether the extension alone is now in ``cut``).
    A clip longer than the extension by about the source's length holds both: its head is
    cut off. One of the extension's length is the extension. Any other started from the
    last frame (Vertex refused the extension, and the create was sent again)."""
    from ministudio.media.probe import probe

    info = probe(clip)
    made = info.frames / info.fps if info.fps else info.duration
    if made - EXTENSION_SECONDS >= source.seconds - 1.0 and made - source.seconds >= 0.5:
        _cut_head(clip, cut, round(source.seconds * info.fps))
        return True, True
    return abs(made - EXTENSION_SECONDS) < 0.5, False


def _cut_head(src: Path, dst: Path, skip: int) -> None:
    """Write ``dst``: ``src`` without its first ``skip`` frames, and its sound without the
    same span, re-encoded (frame-exact; the shared H.264 settings, AAC)."""
    import av
    from ministudio.media.encode import PIXEL_FORMAT, VIDEO_CODEC, X264_OPTIONS

    with av.open(str(src)) as source, av.open(str(dst), mode="w", format="mp4") as out:
        vin = source.streams.video[0]
        rate = Fraction(vin.average_rate or vin.guessed_rate or EXTENSION_FPS)
        vout = out.add_stream(VIDEO_CODEC, rate=rate, options=dict(X264_OPTIONS))
        vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
        vout.pix_fmt = PIXEL_FORMAT
        vout.codec_context.time_base = 1 / rate
        ain = source.streams.audio[0] if source.streams.audio else None
        aout = None
        if ain is not None:
            aout = out.add_stream("aac", rate=ain.codec_context.sample_rate, layout=ain.layout)
        made = 0
        for i, frame in enumerate(source.decode(vin)):
            if i < skip:
                continue
            picture = frame.reformat(format=PIXEL_FORMAT)
            picture.pts, picture.time_base = made, 1 / rate
            out.mux(vout.encode(picture))
            made += 1
        out.mux(vout.encode(None))
        if ain is None or aout is None:
            return
        start = skip / rate  # the sound kept starts with the first frame kept
        source.seek(0)
        sample_rate = ain.codec_context.sample_rate
        written = 0
        for sound in source.decode(ain):
            at = float(sound.time or 0.0)
            data = sound.to_ndarray()
            drop = max(0, round((float(start) - at) * sample_rate))
            if drop >= data.shape[-1]:
                continue
            kept = av.AudioFrame.from_ndarray(
                data[..., drop:], format=sound.format.name, layout=sound.layout.name
            )
            kept.sample_rate, kept.pts = sample_rate, written
            kept.time_base = Fraction(1, sample_rate)
            written += kept.samples
            out.mux(aout.encode(kept))
        out.mux(aout.encode(None))


# -- requests -------------------------------------------------------------------------------
def model_id(engine: str, model: str | None) -> str:
    """The model id for a declared id or alias (``veo-3.1-fast``), or ``model`` as given."""
    from ministudio.engines.lifecycle import find

    spec = _spec(engine)
    model = model or spec.default_model or ""
    declared = find(spec.models, model)
    return declared.id if declared else model


def cost(engine: str, request: VideoRequest, *, extended: bool | None = None) -> float:
    """What ``request`` costs: the model's price at its resolution, with or without sound,
    for the seconds made: those sent, or an extension's 7 s. ``extended`` None (a plan, before
    the source is looked at): an extension whenever the request may be one."""
    model = model_id(engine, request.model)
    sound = request.shot.native_audio
    if extended is None:
        extended = extendable(engine, request)
    seconds = EXTENSION_SECONDS if extended else _sent_duration(request)
    return round(seconds * price(model, _resolution(request), sound), 6)


def price(model: str, resolution: str, sound: bool = True) -> float:
    """USD per second (``_catalog.VEO_PRICES``); an unknown pairing costs what standard does."""
    family = "fast" if "-fast" in model else "lite" if "-lite" in model else "standard"
    size = "2160p" if resolution == "4k" else resolution
    known = VEO_PRICES.get((family, size, sound))
    return known if known is not None else VEO_PRICES[("standard", size, sound)]


def _prompt(request: VideoRequest) -> str:
    prompt = request.prompt
    return prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True)


def _config(request: VideoRequest, *, extending: bool = False) -> types.GenerateVideosConfig:
    """The parameters; an extension's (``extending``) carry no length (Veo extends by 7 s),
    no end frame and no reference images."""
    options = request.options
    config: dict[str, Any] = {
        "number_of_videos": 1,
        "aspect_ratio": request.aspect_ratio,
        "resolution": _resolution(request),
    }
    if not extending:
        config["duration_seconds"] = _sent_duration(request)
    if request.shot.negative:
        config["negative_prompt"] = ", ".join(request.shot.negative)
    if request.last_frame is not None and not extending:
        config["last_frame"] = _image(request.last_frame)
    references = [] if extending else _references(request)
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
    from ministudio.safety.keys import lookup

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
