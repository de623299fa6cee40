"""The Sora calls through ``openai`` (``AsyncOpenAI(max_retries=0)``: the core retries, waits
and keeps the journal): create or remix, retrieve with the poll-after hint, download.

Imported by the hooks only, so ``import ministudio_sora`` stays free of the SDK.

How failures map, so the core never pays twice:

- create and remix: 408, 409, 429 and 5xx, or a connection that failed before the request
  went out: ``TransientError`` (with ``retry-after``/``retry-after-ms``); a 429 for an
  exhausted quota (``insufficient_quota``) is an ``EngineError``; 400 (moderation or invalid
  input): ``EngineRefusal`` with OpenAI's message; 401/403: ``KeyRejected`` (naming
  SORA_API_KEY); 404/405/410 from ``POST /videos``: the endpoint does not speak the Sora API
  (naming SORA_BASE_URL); anything after the request was sent: ``AmbiguousSubmission`` (Sora
  has no lookup by external id, so there is no ``find_video_job``).
- retrieve: transport errors, 429 and 5xx: ``TransientError``; 404: ``EngineError``.
- a ``failed`` video: a failed status, ``refused`` when its error is a moderation block.
- download: cut short (fewer bytes than ``Content-Length``, or a dropped connection), 404,
  429 or 5xx: ``TransientError``; nothing is left at ``output``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import anyio
import openai
from ministudio.engines import EngineContext
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MinistudioError,
    MissingKeyError,
    TransientError,
)
from ministudio.jobs import JobStatus, Submission, VideoRequest, VideoResult
from openai.types import Video

from ministudio_sora import ENGINE, KEY_ENV, REMIX, RETIRED, _request, spec

# Every videos method is marked deprecated in openai >= 3.51: choosing this engine is choosing
# the retired API, so say it once in the docs rather than on every call.
warnings.filterwarnings("ignore", message="The Sora API is scheduled", category=DeprecationWarning)

CHUNK = 1 << 16
STATES = {
    "queued": "queued",
    "in_progress": "running",
    "completed": "succeeded",
    "failed": "failed",
}
REFUSAL_WORDS = ("moderation", "safety", "content_policy", "policy_violation", "blocked")
NOT_SORA = (404, 405, 410)


class KeyRejected(MissingKeyError):
    """The endpoint turned the key down (401/403): it is set, but wrong or revoked."""

    def __init__(self, engine: str, status: int) -> None:
        self.engine = engine
        self.variables = list(KEY_ENV)
        MinistudioError.__init__(
            self,
            f"engine '{engine}' rejected its API key (HTTP {status}): check SORA_API_KEY (or "
            "the stored key: `ministudio keys list`) and that SORA_BASE_URL is the endpoint it "
            "belongs to, and run again",
        )


# -- the hooks' work ------------------------------------------------------------------------
async def submit(engine: str, request: VideoRequest, context: EngineContext) -> Submission:
    client = _client(engine, context)
    try:
        video = await _send(engine, client, request, context)
    except openai.APIStatusError as exc:
        raise _submit_failure(engine, exc) from None
    except openai.APIConnectionError as exc:
        cause = exc.__cause__ or exc
        if _named(cause, "ConnectError", "ConnectTimeout", "PoolTimeout"):
            # The request never left: sending it again cannot pay twice.
            raise TransientError(engine, f"cannot reach SORA_BASE_URL ({_why(cause)})") from None
        if _named(cause, "UnsupportedProtocol", "LocalProtocolError", "InvalidURL"):
            raise EngineError(engine, f"cannot send to SORA_BASE_URL ({_why(cause)})") from None
        raise AmbiguousSubmission(
            engine,
            f"the submit was sent but its answer was lost ({_why(cause)}); the video may exist "
            "and be billed: Sora offers no lookup by external id",
        ) from None
    except openai.APIError as exc:  # an unreadable 2xx answer, for one
        raise AmbiguousSubmission(
            engine, f"the submit was sent but its answer is unreadable ({_why(exc)})"
        ) from None
    finally:
        await client.close()
    if not getattr(video, "id", None):
        raise AmbiguousSubmission(engine, "the submit was accepted but its answer has no id")
    return Submission(job_id=video.id)


async def poll(engine: str, job_id: str, context: EngineContext) -> JobStatus:
    video, hint = await _retrieve(engine, job_id, context)
    return status_of(video, hint)


async def download(
    engine: str, job_id: str, output: Path, context: EngineContext, request: VideoRequest
) -> VideoResult:
    output.parent.mkdir(parents=True, exist_ok=True)
    part = output.with_name(output.name + ".part")
    try:
        await _stream(engine, job_id, part, context)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(output)
    model = _request.model_id(request)
    size, seconds = _request.size(request), _request.seconds(request.duration)
    if engine == REMIX:  # the remix has its source's model, size and length
        try:
            video, _ = await _retrieve(engine, job_id, context)
            model, size, seconds = str(video.model), str(video.size), str(video.seconds)
        except EngineError:
            pass  # the price is an estimate: do not fail a finished clip over it
    return VideoResult(
        path=output,
        engine_job_id=job_id,
        model=model,
        cost=_request.cost(model, size, seconds),
    )


# -- requests -------------------------------------------------------------------------------
async def _send(
    engine: str, client: openai.AsyncOpenAI, request: VideoRequest, context: EngineContext
) -> Video:
    if engine != REMIX:
        params = await _create_params(request)
        context.sending()  # the paid request leaves now
        return await client.videos.create(**params)
    source = _remix_source(request)
    original, _ = await _retrieve(engine, source, context)
    try:
        length = float(original.seconds)
    except ValueError:
        length = request.duration
    if length + 1e-6 < request.duration:  # a remix keeps its source's length
        raise EngineRefusal(
            engine,
            f"video {source} lasts {length:g} s and a remix keeps that length, but shot "
            f"'{request.shot.shot_id}' lasts {request.duration:g} s: shorten the shot or remix "
            "a longer video",
        )
    context.sending()
    return await client.videos.remix(source, prompt=_request.prompt(request))


async def _create_params(request: VideoRequest) -> dict[str, Any]:
    size = _request.size(request)
    params: dict[str, Any] = {
        "prompt": _request.prompt(request),
        "model": _request.model_id(request),
        "seconds": _request.seconds(request.duration),
        "size": size,
    }
    if request.first_frame is not None:
        params["input_reference"] = await anyio.to_thread.run_sync(
            _request.first_frame, Path(request.first_frame), size
        )
    return params


def _remix_source(request: VideoRequest) -> str:
    """The video id ``routing.options.sora-remix.videos`` names for this shot."""
    videos = request.options.get("videos")
    source = videos.get(request.shot.shot_id) if isinstance(videos, dict) else None
    if not isinstance(source, str) or not source:
        raise EngineError(
            REMIX,
            f"shot '{request.shot.shot_id}' is routed to sora-remix, but "
            "routing.options.sora-remix.videos names no Sora video for it (add "
            f"'{request.shot.shot_id}: <video id>', e.g. the shot's engine_job_id in an "
            "earlier manifest.json)",
        )
    return source


# -- statuses -------------------------------------------------------------------------------
def status_of(video: Video, hint: float | None = None) -> JobStatus:
    """A Sora video as a status: progress 0..1, the poll-after hint, a refusal when its error
    is a moderation block."""
    state = STATES.get(str(video.status), "running")
    progress = min(max(float(video.progress or 0) / 100.0, 0.0), 1.0)
    if state == "succeeded":
        return JobStatus(job_id=video.id, state="succeeded", progress=1.0)
    if state != "failed":
        return JobStatus(job_id=video.id, state=state, progress=progress, retry_after=hint)
    error = video.error
    code = str(getattr(error, "code", "") or "")
    message = str(getattr(error, "message", "") or "") or "no reason given"
    text = f"{code}: {message}" if code else message
    refused = any(word in f"{code} {message}".lower() for word in REFUSAL_WORDS)
    return JobStatus(job_id=video.id, state="failed", error=text[:500], refused=refused)


async def _retrieve(engine: str, job_id: str, context: EngineContext) -> tuple[Video, float | None]:
    """The video and the ``openai-poll-after-ms`` hint (seconds) its answer carried."""
    client = _client(engine, context)
    try:
        raw = await client.videos.with_raw_response.retrieve(job_id)
        video = raw.parse()
    except openai.APIStatusError as exc:
        if exc.status_code == 404:
            raise EngineError(
                engine, f"video {job_id} is unknown to the endpoint (deleted or expired)"
            ) from None
        raise _failure(engine, exc, f"status of video {job_id}") from None
    except openai.APIError as exc:
        raise TransientError(engine, f"status of video {job_id} failed ({_why(exc)})") from None
    finally:
        await client.close()
    return video, _poll_after(raw.headers.get("openai-poll-after-ms"))


def _poll_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value) / 1000.0) if value else None
    except ValueError:
        return None


# -- downloads ------------------------------------------------------------------------------
async def _stream(engine: str, job_id: str, part: Path, context: EngineContext) -> None:
    """``download_content(variant="video")`` streamed to ``part``, checked against its length."""
    client = _client(engine, context)
    received, expected = 0, None
    try:
        async with client.videos.with_streaming_response.download_content(
            job_id, variant="video"
        ) as answer:
            length = answer.headers.get("content-length")
            expected = int(length) if length and length.isdigit() else None
            with part.open("wb") as sink:
                async for chunk in answer.http_response.aiter_raw(CHUNK):
                    sink.write(chunk)
                    received += len(chunk)
    except openai.APIStatusError as exc:
        if exc.status_code == 404:  # not there yet, or expired: a few tries tell
            raise TransientError(engine, f"download of video {job_id}: HTTP 404") from None
        raise _failure(engine, exc, f"download of video {job_id}") from None
    except openai.APIError as exc:
        raise TransientError(engine, f"download of video {job_id} failed ({_why(exc)})") from None
    except Exception as exc:
        if not _named(exc, "TransportError"):
            raise
        raise TransientError(
            engine, f"download cut short after {received} bytes ({_why(exc)}); download again"
        ) from None
    finally:
        await client.close()
    if expected is not None and received != expected:
        raise TransientError(
            engine, f"download cut short: {received} of {expected} bytes; download again"
        )
    if received == 0:
        raise TransientError(engine, f"download of video {job_id} was empty; download again")


# -- the client -----------------------------------------------------------------------------
def _client(engine: str, context: EngineContext) -> openai.AsyncOpenAI:
    key = context.key(spec(engine))
    base = (context.env.get("SORA_BASE_URL") or "").strip().rstrip("/")
    if not base:
        raise EngineError(
            engine,
            f"SORA_BASE_URL is not set: {RETIRED} and api.openai.com no longer serves it; set "
            "SORA_BASE_URL to an endpoint that still speaks it (e.g. https://host/v1)",
        )
    return openai.AsyncOpenAI(
        api_key=key,
        base_url=base,
        max_retries=0,
        timeout=openai.Timeout(_timeout(context), connect=min(10.0, _timeout(context))),
    )


def _timeout(context: EngineContext) -> float:
    try:
        return max(1.0, float(context.env.get("SORA_TIMEOUT") or 120.0))
    except ValueError:
        return 120.0


# -- errors ---------------------------------------------------------------------------------
def _submit_failure(engine: str, exc: openai.APIStatusError) -> MinistudioError:
    status = exc.status_code
    if status == 400 or status == 422:
        return EngineRefusal(engine, _message(exc))
    if status in NOT_SORA and engine == ENGINE:
        return EngineError(
            engine,
            f"POST /videos: HTTP {status} ({_message(exc)}): the endpoint at SORA_BASE_URL does "
            f"not speak the Sora API ({RETIRED})",
        )
    if status == 404:
        return EngineError(engine, f"the video to remix is unknown: {_message(exc)}")
    return _failure(engine, exc, "submit")


def _failure(engine: str, exc: openai.APIStatusError, what: str) -> MinistudioError:
    """The typed error for an answer that is not a success."""
    status = exc.status_code
    if status in (401, 403):
        return KeyRejected(engine, status)
    if status == 429 and _code(exc) == "insufficient_quota":
        return EngineError(engine, f"{what}: the account's quota is used up ({_message(exc)})")
    if status in (408, 409, 429) or status >= 500:
        return TransientError(
            engine, f"{what}: {_message(exc)} (HTTP {status})", retry_after=_retry_after(exc)
        )
    return EngineError(engine, f"{what}: {_message(exc)} (HTTP {status})")


def _code(exc: openai.APIStatusError) -> str:
    return str(getattr(exc, "code", None) or "")


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    error = body.get("error", body) if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    text = str(message) if message else f"HTTP {exc.status_code}"
    code, param = _code(exc), getattr(exc, "param", None)
    about = ", ".join(str(x) for x in (code, param and f"param {param}") if x)
    return (f"{text} ({about})" if about else text)[:500]


def _retry_after(exc: openai.APIStatusError) -> float | None:
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                continue
    return None


def _named(exc: BaseException, *names: str) -> bool:
    """Whether ``exc`` is one of the HTTP library's errors called ``names`` (httpx or httpx2,
    whichever the SDK version uses)."""
    return any(
        cls.__name__ in names and cls.__module__.split(".")[0] in ("httpx", "httpx2")
        for cls in type(exc).__mro__
    )


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
