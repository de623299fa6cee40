"""``luma-dream-machine``: Ray 2 through Luma's legacy Dream Machine API and the ``lumaai`` SDK.

Unchanged in behaviour from the engine that was called ``luma`` before the Agents API engine
took that name (issue 14). It implements the remote-engine hooks (submit, poll, download,
find_video_job, parse_webhook, upload_asset) with ``AsyncLumaAI`` (``max_retries=0``: the core
retries, waits and keeps the journal). Imported by the hooks only.

Environment (the render's, ``context.env``): ``LUMAAI_API_KEY`` (required), ``LUMAAI_BASE_URL``
(default: the SDK's), ``LUMA_TIMEOUT``, and the asset host, since Dream Machine takes images
(first frames, character references) by URL only (``ministudio.remote.hosting``): either
``LUMA_ASSET_STORE`` (an object store that signs URLs, e.g. ``s3://bucket/prefix``; needs its
fsspec backend, s3fs through ``ministudio-core[s3]``) with ``LUMA_ASSET_STORE_OPTIONS`` (a JSON
object of fsspec storage options, e.g. ``{"endpoint_url": ...}``) and
``LUMA_ASSET_URL_EXPIRES`` (seconds a signed URL lasts, default 7 days), or
``LUMA_ASSET_BASE_URL`` + ``LUMA_ASSET_DIR`` (a folder served at that public URL; with
``LUMA_ASSET_STORE``, the base URL of a public bucket instead of signing). Each image is
uploaded once per content; expired URLs are signed anew.

How failures map, so the core never pays twice:

- submit: 429 and 5xx, or a connection that failed before the request went out:
  ``TransientError`` (with the server's ``retry-after``); 400/422: ``EngineRefusal``; 401/403:
  ``KeyRejected`` (a ``MissingKeyError`` naming LUMAAI_API_KEY); anything that went wrong
  after the request was sent: ``AmbiguousSubmission``. The journal marks a job in flight only
  as its create request leaves (``context.sending()``), after the keyframes are ready.
- a lost submit answer: Luma takes no external id, so ``find_video_job`` lists the account's
  generations (``GET /generations``, newest first) and looks for the one request that matches
  what was sent (model, prompt, keyframes, aspect ratio, resolution, duration, loop, camera
  concepts) created in the window around the lost request; several matches, or a window
  the listing could not cover, stay ambiguous (the core stops the shot). See ``_dm_lookup``.
- a character's identity keyframe (Photon) is a paid side job of its own: ``_photon``.
- poll: transport errors, 429 and 5xx: ``TransientError``.
- a callback (``parse_webhook``): unsigned (Luma documents no signature), so it is a hint
  only: one that names a finished generation comes back thin (``JobStatus.thin``) and the core
  asks Luma for the generation by id before anything is downloaded; the pushed URL is never
  fetched. Progress (queued, dreaming) is taken as it is.
- a generation ``failed``: a failed status, ``refused`` when moderation or blacklisted words
  caused it.
- download: a cut-off or short download: ``TransientError``; nothing is left at ``output``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ministudio.engines import EngineContext, EngineSpec
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MinistudioError,
    TransientError,
)

from ministudio_luma._catalog import (
    DM_ASPECT_RATIOS,
    DM_KEYS,
    DM_MODEL,
    DM_PRICE_PER_SECOND,
    DREAM_MACHINE,
    dream_machine_spec,
)
from ministudio_luma._client import timeout
from ministudio_luma._errors import KeyRejected, detail, retry_after, why

if TYPE_CHECKING:
    from lumaai import AsyncLumaAI
    from ministudio.jobs import HostedAsset, JobStatus, Submission, VideoRequest, VideoResult

ENGINE = DREAM_MACHINE
MODEL = DM_MODEL
KEY_ENV = DM_KEYS
ASPECT_RATIOS = DM_ASPECT_RATIOS
# Secondary figures (third-party pass-through price lists; no official list found):
# USD per million nominal pixels at 24 fps. ray-2 720p 16:9 is about 0.14 USD/s.
PRICE_PER_MPX = {"ray-2": 0.0064, "ray-flash-2": 0.0022}
PRICE_PER_SECOND = DM_PRICE_PER_SECOND
NOMINAL_FPS = 24
MAX_PROMPT = 5000
REFUSAL_WORDS = ("moderation", "blacklist")
CAMERA_CONCEPTS = {
    "pan-left": "pan_left",
    "pan-right": "pan_right",
    "tilt-up": "tilt_up",
    "tilt-down": "tilt_down",
    "push-in": "push_in",
    "pull-back": "pull_out",
    "handheld": "handheld",
    "static": "static",
}
ASSET_PREFIX = "LUMA_ASSET_"
ASSET_VARS = (
    "LUMA_ASSET_STORE",
    "LUMA_ASSET_STORE_OPTIONS",
    "LUMA_ASSET_URL_EXPIRES",
    "LUMA_ASSET_BASE_URL",
    "LUMA_ASSET_DIR",
)


# -- hooks' entry points --------------------------------------------------------------------
def parse_webhook(body: bytes) -> JobStatus | None:
    """A Dream Machine callback (a ``Generation`` object) as a status; None if it is not one.

    Callbacks are unsigned, so one that says the generation ended is only a hint: it comes
    back thin, with no URL, and the core asks Luma for the generation before downloading.
    """
    from ministudio.jobs import JobStatus

    try:
        job = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(job, dict) or not isinstance(job.get("id"), str) or "state" not in job:
        return None
    status = _status(job)
    if status.state in ("succeeded", "failed"):
        return JobStatus(job_id=status.job_id, state="running", thin=True)
    return status.model_copy(update={"video_url": None})


def estimate_cost(request: VideoRequest) -> float:
    """The per-pixel price of what ``request`` asks for (as ``_cost`` prices a finished job)."""
    asked = {
        "duration": f"{round(request.duration)}s",
        "resolution": _resolution(request.width, request.height),
        "aspect_ratio": request.aspect_ratio,
    }
    return _cost({"model": request.model or MODEL, "request": asked})


def prompt(shot: Any) -> str:
    """The shot in words, without its dialogue (Ray 2 makes no sound), cut to MAX_PROMPT."""
    from ministudio.prompts import describe_shot

    return describe_shot(shot, include_dialogue=False)[:MAX_PROMPT]


# -- the calls ------------------------------------------------------------------------------
async def _submit(request: VideoRequest, context: EngineContext) -> Submission:
    import httpx
    import lumaai
    from ministudio.jobs import Submission

    body = await _body(request, context)
    keyframes = body.get("keyframes", {})
    client = _client(context)
    try:
        try:
            context.sending()  # the keyframes are ready: the paid request leaves now
            generation = await client.generations.create(**body)
        except lumaai.APIStatusError as exc:
            extends = keyframes.get("frame0", {}).get("type") == "generation"
            if exc.status_code not in (400, 422) or not extends or request.first_frame is None:
                raise
            # The generation to extend is gone (deleted, or another account's): a refused
            # create is not billed, so start from the previous clip's last frame instead.
            keyframes["frame0"] = await _image(request.first_frame, context)
            generation = await client.generations.create(**body)
    except lumaai.APIStatusError as exc:
        if exc.status_code in (400, 422):
            raise EngineRefusal(ENGINE, _detail(exc)) from None
        raise _failure(exc, "submit") from None
    except lumaai.APIConnectionError as exc:
        cause = exc.__cause__
        if isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
            # The request never left: sending it again cannot pay twice.
            raise TransientError(ENGINE, f"cannot reach the Luma API ({_why(cause)})") from None
        if isinstance(cause, (httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
            raise EngineError(ENGINE, f"cannot send to LUMAAI_BASE_URL ({_why(cause)})") from None
        raise AmbiguousSubmission(
            ENGINE,
            f"the submit was sent but its answer was lost ({_why(cause or exc)}); the "
            "generation may exist and be billed: it is looked up among the account's generations",
        ) from None
    except lumaai.APIError as exc:  # an unreadable 2xx answer, for one
        raise AmbiguousSubmission(
            ENGINE, f"the submit was sent but its answer is unreadable ({_why(exc)})"
        ) from None
    finally:
        await client.close()
    job_id = getattr(generation, "id", None)
    if not isinstance(job_id, str) or not job_id:
        raise AmbiguousSubmission(ENGINE, "the submit was accepted but its answer has no id")
    return Submission(job_id=job_id)


async def _body(request: VideoRequest, context: EngineContext) -> dict[str, Any]:
    """The create request's body for ``request`` (its images uploaded, its identity made)."""
    prompt = request.prompt
    text = prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True)
    body: dict[str, Any] = {
        "model": request.model or MODEL,
        "prompt": text[:MAX_PROMPT],
        "aspect_ratio": request.aspect_ratio,
        "resolution": _resolution(request.width, request.height),
        "duration": f"{round(request.duration)}s",
    }
    concept = CAMERA_CONCEPTS.get(request.shot.camera_move)
    if concept:
        body["concepts"] = [{"key": concept}]
    if context.webhook_url:
        body["callback_url"] = context.webhook_url
    keyframes = await _keyframes(request, context)
    if keyframes:
        body["keyframes"] = keyframes
    if request.loop and "frame1" not in keyframes:  # Luma loops no clip given an end frame
        body["loop"] = True
    return body


async def _keyframes(request: VideoRequest, context: EngineContext) -> dict[str, Any]:
    """Luma keyframes: where the clip starts (``frame0``) and where it ends (``frame1``).

    A `continue` shot extends the previous clip's Luma generation when there is one (option
    ``extend: false`` starts from its last frame instead); a shot with no first frame starts
    from the character's identity image, if any. An end frame becomes ``frame1``.
    """
    frames: dict[str, Any] = {}
    previous = request.previous
    extend = request.options.get("extend", True) is not False
    if previous is not None and previous.engine == ENGINE and extend:
        frames["frame0"] = {"type": "generation", "id": previous.job_id}
    elif request.first_frame is not None:
        frames["frame0"] = await _image(request.first_frame, context)
    else:
        from ministudio_luma._photon import identity_frame

        identity = await identity_frame(request, context)
        if identity:
            frames["frame0"] = {"type": "image", "url": identity}
    if request.last_frame is not None:
        frames["frame1"] = await _image(request.last_frame, context)
    return frames


async def _image(path: Path, context: EngineContext) -> dict[str, str]:
    return {"type": "image", "url": await context.upload(Path(path))}


async def _poll(job_id: str, context: EngineContext) -> JobStatus:
    return _status(await _get_job(job_id, context))


async def _download(
    job_id: str,
    status: JobStatus,
    output: Path,
    context: EngineContext,
    request: VideoRequest | None = None,
) -> VideoResult:
    """Fetch the finished clip; priced from what was asked (``request``), else from the
    generation as Luma has it (one status request more)."""
    from ministudio.http import download
    from ministudio.jobs import VideoResult

    job: dict[str, Any] | None = None
    if status.state != "succeeded" or not status.video_url:  # ask Luma where it is
        job = await _get_job(job_id, context)
        status = _status(job)
    status.check_done(ENGINE, refusal="the generation failed", url=True)
    url = status.video_url or ""
    await download(url, output, engine=ENGINE, timeout=timeout(context))
    if job is None and request is not None:
        model = request.model or MODEL
        return VideoResult(
            path=output, engine_job_id=job_id, model=model, cost=estimate_cost(request)
        )
    if job is None:
        try:
            job = await _get_job(job_id, context)
        except EngineError:
            job = None  # the price is an estimate: do not fail a finished clip over it
    return VideoResult(path=output, engine_job_id=job_id, model=_model(job), cost=_cost(job))


def _publish(path: Path, context: EngineContext) -> str:
    """The URL of ``path`` on the asset host (see ``_host``)."""
    return _host(path, context).reference


def _host(path: Path, context: EngineContext) -> HostedAsset:
    """Publish ``path`` where the LUMA_ASSET_* settings say: its URL and, if signed, expiry."""
    from ministudio.remote.hosting import AssetHost

    return AssetHost.from_env(context.env, ASSET_PREFIX, engine=ENGINE).publish(path)


# -- helpers --------------------------------------------------------------------------------
def _client(context: EngineContext, spec: EngineSpec | None = None) -> AsyncLumaAI:
    """A client for one call (closed after it), on an HTTP client with the process's shared
    TLS context: the SDK's own builds a new one each time (tens of milliseconds on every
    submit and status request). ``spec``: the engine whose key it takes (``luma-photon``
    shares this API and key); this engine's by default."""
    import httpx
    from lumaai import AsyncLumaAI
    from ministudio.http import tls_context

    key = context.key(spec or dream_machine_spec())
    base = (context.env.get("LUMAAI_BASE_URL") or "").rstrip("/") or None
    wait = httpx.Timeout(timeout(context), connect=5.0)
    return AsyncLumaAI(
        auth_token=key,
        base_url=base,
        max_retries=0,
        timeout=wait,
        http_client=httpx.AsyncClient(timeout=wait, verify=tls_context(), follow_redirects=True),
    )


async def _get_job(
    job_id: str, context: EngineContext, spec: EngineSpec | None = None
) -> dict[str, Any]:
    """Generation ``job_id`` as Luma has it; errors name ``spec``'s engine (default: this)."""
    import lumaai

    engine = spec.id if spec is not None else ENGINE
    client = _client(context, spec)
    try:
        generation = await client.generations.get(job_id)
    except lumaai.APIStatusError as exc:
        if exc.status_code == 404:
            raise EngineError(engine, f"job {job_id} is unknown to Luma") from None
        raise _failure(exc, f"status of job {job_id}", engine) from None
    except lumaai.APIConnectionError as exc:
        why = _why(exc.__cause__ or exc)
        raise TransientError(engine, f"status of job {job_id} failed ({why})") from None
    except lumaai.APIError as exc:
        raise TransientError(engine, f"status of job {job_id}: {_why(exc)}") from None
    finally:
        await client.close()
    job = generation.to_dict()
    if not isinstance(job.get("id"), str) or "state" not in job:
        raise TransientError(engine, f"status of job {job_id}: the answer has no state")
    return job


def _status(job: dict[str, Any]) -> JobStatus:
    from ministudio.jobs import JobStatus

    raw = job.get("state")
    state = {
        "queued": "queued",
        "dreaming": "running",
        "completed": "succeeded",
        "failed": "failed",
    }.get(raw if isinstance(raw, str) else "", "running")
    reason = job.get("failure_reason")
    reason = str(reason) if reason else None
    assets = job.get("assets")
    url = assets.get("video") if isinstance(assets, dict) else None
    if state == "succeeded" and not (isinstance(url, str) and url):
        state = "failed"
        reason = reason or "the generation completed without a video"
    refused = state == "failed" and any(w in (reason or "").lower() for w in REFUSAL_WORDS)
    return JobStatus(
        job_id=str(job["id"]),
        state=state,
        error=reason if state == "failed" else None,
        refused=refused,
        video_url=url if isinstance(url, str) and url else None,
    )


def _resolution(width: int, height: int) -> str:
    short = min(width, height)
    if short >= 1080:
        return "1080p"
    if short >= 720:
        return "720p"
    return "540p"


def _model(job: dict[str, Any] | None) -> str:
    model = job.get("model") if job else None
    return model if isinstance(model, str) and model else MODEL


def _cost(job: dict[str, Any] | None) -> float:
    """The estimated price (secondary figures): per-pixel for ray-2 and ray-flash-2."""
    if not job:
        return 0.0
    request = job.get("request") if isinstance(job.get("request"), dict) else {}
    assert isinstance(request, dict)
    try:
        seconds = float(str(request.get("duration") or "5s").rstrip("s"))
    except ValueError:
        seconds = 5.0
    short = {"540p": 540, "720p": 720, "1080p": 1080, "4k": 2160}.get(
        str(request.get("resolution") or "720p"), 720
    )
    w, _, h = str(request.get("aspect_ratio") or "16:9").partition(":")
    try:
        ratio = max(int(w), int(h)) / min(int(w), int(h))
    except (ValueError, ZeroDivisionError):
        ratio = 16 / 9
    pixels = short * short * ratio * NOMINAL_FPS * seconds
    rate = PRICE_PER_MPX.get(_model(job), PRICE_PER_MPX[MODEL])
    return round(rate * pixels / 1e6, 6)


def _failure(exc: Any, what: str, engine: str = ENGINE) -> MinistudioError:
    """The typed error for an API answer that is not a success (an ``APIStatusError``);
    ``engine``: the engine it names (``luma-photon`` shares this API and its key)."""
    status = int(exc.status_code)
    message = _detail(exc)
    if status in (401, 403):
        return KeyRejected(engine, list(KEY_ENV), status)
    if status == 429 or status >= 500:
        return TransientError(
            engine, f"{what}: {message} (HTTP {status})", retry_after=retry_after(exc)
        )
    return EngineError(engine, f"{what}: {message} (HTTP {status})")


_detail = detail
_why = why
