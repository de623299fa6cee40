"""``runway``'s remote-engine hooks: submit, poll, download, through ``runwayml.AsyncRunwayML``.
Imported by the hooks only.

How failures map, so the core never pays twice:

- create: a request the models cannot take is refused before anything is uploaded or sent
  (``_request.check``); 400/422 are ``EngineRefusal`` with Runway's message; 401/403 a
  rejected key naming RUNWAYML_API_SECRET; 429, 502, 503, or a connection that failed before
  the request went out, ``TransientError``; anything else once the request was sent (a lost
  answer, a 500 or 504, an unreadable answer) is ``AmbiguousSubmission``: Runway has no list
  of tasks and no idempotency key, so a lost create cannot be found again and the core stops
  the shot instead of paying twice. ``context.sending()`` is called right before the create.
- poll: PENDING and THROTTLED are queued, RUNNING running (with its progress), SUCCEEDED
  succeeded with the first output URL, FAILED failed (a ``SAFETY`` ``failureCode`` is a
  refusal), CANCELLED failed. Transport errors, 429 and 5xx: ``TransientError``.
- download: output URLs expire within 24-48 hours; one that no longer works is replaced by
  a fresh one from ``GET /v1/tasks/{id}`` and fetched once more.
- edit (``request.edit``, the ``edit`` retake rung): ``GET /v1/tasks/{job_id}`` of the take
  for a fresh output URL, then ``POST /v1/video_to_video`` (aleph2) on it. A take Runway no
  longer has (deleted, expired, never finished) or a video it can no longer fetch is
  ``SourceGone``, which says what to do; the ladder goes on to its next rung.
- promotion (``request.source``): the previz clip is uploaded (``POST /v1/uploads``, then
  the file to the presigned URL it answers: ``uploads.create_ephemeral``), then
  ``POST /v1/video_to_video`` (aleph2) on its ``runway://`` URI. An upload that fails made
  nothing and cost nothing: 401/403 from the API a rejected key, 429/5xx ``TransientError``,
  a refusal ``EngineRefusal``. The final is checked to have the previz's length on download.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ministudio.engines import EngineContext
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MinistudioError,
    MissingKeyError,
    TransientError,
)
from ministudio.jobs import JobState, JobStatus, Submission, VideoRequest, VideoResult

from ministudio_runway import _request
from ministudio_runway._catalog import BASE_URL, ENGINE, KEYS, MAX_DATA_URI, spec

if TYPE_CHECKING:
    from runwayml import AsyncRunwayML

STATES: Final[dict[str, JobState]] = {
    "PENDING": "queued",
    "THROTTLED": "queued",
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CANCELLED": "failed",
}
# failureCode: "SAFETY.*" is content moderation of an input or the output, "You should not
# retry these generations"; INTERNAL.BAD_OUTPUT.* may pass on another try
# (docs.dev.runwayml.com/errors/task-failures/).
REFUSING: Final = "SAFETY"
RETRYABLE: Final = (429, 502, 503)
REFUSED: Final = (400, 413, 422)
EXPIRED: Final = (400, 403, 404, 410)
LOST: Final = (
    "the task may exist and be billed, and Runway cannot look it up (no list of tasks, no "
    "idempotency key): check the account's usage on dev.runwayml.com, then run `ministudio "
    "render --forget-lost` to send it again"
)


class SourceGone(EngineError):
    """The take an edit would change is gone from Runway: its task deleted or expired, or its
    output no longer fetchable. Nothing was paid; the retake ladder goes on to its next rung."""

    def __init__(self, job_id: str, why: str) -> None:
        super().__init__(
            ENGINE,
            f"cannot edit Runway task {job_id}: {why}. Runway keeps a task's output only "
            "for a while (output URLs expire within 24-48 hours; a deleted task cannot be "
            "fetched). Nothing was paid and the retake ladder goes on to its next rung. To "
            "have Aleph edit this shot, give it a fresh take first: put `seed` before `edit` "
            "in qc.ladder (the edit then changes the new take)",
            retryable=False,
        )
        self.job_id = job_id


class KeyRejected(MissingKeyError):
    """Runway turned the key down (401/403): it is set, but wrong or revoked."""

    def __init__(self, status: int) -> None:
        self.engine = ENGINE
        self.variables = list(KEYS)
        MinistudioError.__init__(
            self,
            f"engine '{ENGINE}' rejected its API key (HTTP {status}): check "
            f"{' or '.join(KEYS)} (or the stored key: `ministudio keys list`) and run again",
        )


def timeout(context: EngineContext) -> float:
    """``RUNWAY_TIMEOUT``: seconds an HTTP read may take (default 60)."""
    try:
        return float(context.env.get("RUNWAY_TIMEOUT") or 60.0)
    except ValueError:
        return 60.0


def poll_every(context: EngineContext) -> float:
    """``RUNWAY_POLL_INTERVAL``: seconds between two polls of a task (default 5: "Consumers of
    this API should not expect updates more frequent than once every five seconds for a given
    task", [SDK] ``resources/tasks.py``). Tests against the fake lower it."""
    try:
        return max(0.0, float(context.env.get("RUNWAY_POLL_INTERVAL") or 5.0))
    except ValueError:
        return 5.0


def client(context: EngineContext) -> AsyncRunwayML:
    """A client for the render's key and ``RUNWAYML_BASE_URL`` (from ``context.env``), with
    the SDK's retries off: the core retries, and only it knows whether a create may be sent
    again."""
    import httpx
    from ministudio.http import tls_context
    from runwayml import AsyncRunwayML

    key = context.key(spec())
    base = (context.env.get("RUNWAYML_BASE_URL") or "").rstrip("/") or BASE_URL
    wait = httpx.Timeout(timeout(context), connect=5.0)
    return AsyncRunwayML(
        api_key=key,
        base_url=base,
        max_retries=0,
        timeout=wait,
        http_client=httpx.AsyncClient(timeout=wait, verify=tls_context(), follow_redirects=True),
    )


def said(exc: Any) -> str:
    """Runway's message in an error answer."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        for name in ("error", "message", "detail"):
            if body.get(name):
                return str(body[name])
    return str(getattr(exc, "message", "") or exc)


def failure(exc: Any, what: str) -> MinistudioError:
    """The typed error for an answer that is not a success, to a request that creates
    nothing, or to a create known not to have made a task (4xx, 429, 502, 503)."""
    status = int(exc.status_code)
    if status in (401, 403):
        return KeyRejected(status)
    if status in REFUSED:
        return EngineRefusal(ENGINE, f"{what}: {said(exc)} (HTTP {status})")
    if status in RETRYABLE or status >= 500:
        wait = None
        headers = getattr(getattr(exc, "response", None), "headers", None)
        if headers is not None:
            from ministudio.http import retry_after

            wait = retry_after(headers)
        return TransientError(ENGINE, f"{what}: {said(exc)} (HTTP {status})", retry_after=wait)
    return EngineError(ENGINE, f"{what}: {said(exc)} (HTTP {status})")


def why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def submit(request: VideoRequest, context: EngineContext) -> Submission:
    """Create the task for ``request``; its id."""
    import httpx
    import runwayml

    _request.check(request)
    if request.edit is not None:
        sent = _request.edit_body(request, await source_url(request.edit.job_id, context))
    elif request.source is not None:
        sent = await promote_body(request, context)
    else:
        sent = await _request.body(request, context)
    runway = client(context)
    resource = getattr(runway, _request.endpoint(request))
    try:
        context.sending()  # the image is ready: the paid request leaves now
        made = await resource.create(**sent)
    except runwayml.APIStatusError as exc:
        status = exc.status_code
        if request.edit is not None and status == 400 and "videouri" in said(exc).lower():
            gone = f"Runway refused its video ({said(exc)})"
            raise SourceGone(request.edit.job_id, gone) from None
        if status in RETRYABLE or status < 500:
            raise failure(exc, "submit") from None
        raise AmbiguousSubmission(
            ENGINE, f"the submit was sent and Runway answered HTTP {status}; {LOST}"
        ) from None
    except runwayml.APIConnectionError as exc:
        cause = exc.__cause__
        if isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
            raise TransientError(ENGINE, f"cannot reach the Runway API ({why(cause)})") from None
        raise AmbiguousSubmission(
            ENGINE, f"the submit was sent but its answer was lost ({why(cause or exc)}); {LOST}"
        ) from None
    except runwayml.APIError as exc:  # an unreadable 2xx answer, for one
        raise AmbiguousSubmission(
            ENGINE, f"the submit was sent but its answer is unreadable ({why(exc)}); {LOST}"
        ) from None
    finally:
        await runway.close()
    job_id = getattr(made, "id", None)
    if not isinstance(job_id, str) or not job_id:
        raise AmbiguousSubmission(
            ENGINE, f"the submit was accepted but its answer has no id; {LOST}"
        )
    return Submission(job_id=job_id)


async def upload(path: Path, context: EngineContext) -> str:
    """``path`` uploaded to Runway (``uploads.create_ephemeral``: ``POST /v1/uploads``, then
    the file to the presigned URL it answers); its ``runway://`` URI, valid for 24 hours
    (docs.dev.runwayml.com/assets/uploads). Nothing is paid for an upload."""
    import runwayml

    runway = client(context)
    try:
        made = await runway.uploads.create_ephemeral(file=path)
    except runwayml.APIStatusError as exc:
        status = exc.status_code
        url = getattr(getattr(exc, "request", None), "url", None)
        at_api = url is None or str(getattr(url, "path", "")).startswith("/v1/")
        if status in (401, 403) and not at_api:  # the presigned storage URL, not the key
            raise TransientError(
                ENGINE, f"upload of {path.name}: the storage refused it (HTTP {status})"
            ) from None
        raise failure(exc, f"upload of {path.name}") from None
    except runwayml.APIError as exc:
        raise TransientError(
            ENGINE, f"upload of {path.name} failed ({why(exc.__cause__ or exc)})"
        ) from None
    finally:
        await runway.close()
    uri = getattr(made, "uri", None)
    if not isinstance(uri, str) or not uri.startswith("runway://"):
        raise TransientError(ENGINE, f"upload of {path.name}: Runway answered no runway:// URI")
    return uri


async def promote_body(request: VideoRequest, context: EngineContext) -> dict[str, Any]:
    """The create of a promotion: the previz clip uploaded (it may be over the 5 MB data URI
    limit of ``videoUri``, runwayml 5.24), a ``continue`` shot's first frame as a data URI
    (or uploaded, when over 5 MB) for the keyframe at 0."""
    assert request.source is not None
    clip = Path(request.source.passes["clip"])
    if not clip.is_file():
        raise EngineError(
            ENGINE,
            f"the previz clip of shot {request.shot.shot_id} is missing ({clip}): render "
            "the previz again",
            retryable=False,
        )
    video = await upload(clip, context)
    frame = None
    if request.first_frame is not None:
        path = Path(request.first_frame)
        frame = _request.data_uri(path)
        if len(frame) >= MAX_DATA_URI:  # "must be under 5MB"
            frame = await upload(path, context)
    return _request.promote_body(request, video, frame)


def check_length(request: VideoRequest, output: Path, job_id: str) -> None:
    """A promotion's final must be as long as its previz: one that came back shorter is an
    error that says so (it was paid for), never a short final."""
    from ministudio.media.probe import probe

    info = probe(output)
    got = info.frames / info.fps if info.fps else info.duration
    wanted = _request.previz_seconds(request)
    if got + 1.0 / max(request.fps, 1) + 0.05 < wanted:
        raise EngineError(
            ENGINE,
            f"Aleph returned {got:.2f} s for the {wanted:.2f} s previz of shot "
            f"{request.shot.shot_id} (task {job_id}, paid): the final would be short. Split "
            "the shot into shorter ones, or route it to an engine that renders it whole",
            retryable=False,
        )


async def source_url(job_id: str, context: EngineContext) -> str:
    """A fresh output URL of the take ``job_id`` (an edit's source), or ``SourceGone``."""
    try:
        found = status_of(await task(job_id, context))
    except EngineError as exc:
        if "unknown to Runway" in str(exc):
            raise SourceGone(job_id, "Runway no longer has that task") from None
        raise
    if found.state != "succeeded" or not found.video_url:
        raise SourceGone(job_id, f"the task has no output ({found.error or found.state})")
    return found.video_url


async def find_lost() -> str | None:
    """A create whose answer was lost cannot be found (no list of tasks, no idempotency key):
    always ``AmbiguousSubmission``, so the core stops the shot instead of sending it again."""
    raise AmbiguousSubmission(ENGINE, f"a submit's answer was lost; {LOST}")


async def task(job_id: str, context: EngineContext) -> Any:
    """``GET /v1/tasks/{id}``: the task as Runway has it now (with fresh output URLs)."""
    return await _on_task(job_id, context, "status", lambda tasks: tasks.retrieve(job_id))


async def cancel(job_id: str, context: EngineContext) -> bool:
    """Cancel a task still waiting to run (``ministudio cancel``): True once cancelled; False
    for one running or finished, left alone. ``DELETE /v1/tasks/{id}`` cancels a task that
    is "running, pending, or throttled" but deletes any other, its output with it (runwayml
    ``resources/tasks.py`` ``delete``: "Tasks that are running, pending, or throttled can be
    canceled ... Invoking this method for other tasks will delete them"), so only a waiting
    one is sent it: a running task is not stopped (what it is billed is not documented)."""
    found = await task(job_id, context)
    if str(_field(found, "status", "status") or "") not in ("PENDING", "THROTTLED"):
        return False
    await _on_task(job_id, context, "cancel", lambda tasks: tasks.delete(job_id))
    return True


async def _on_task(
    job_id: str, context: EngineContext, what: str, call: Callable[[Any], Awaitable[Any]]
) -> Any:
    """One call of the SDK's ``tasks`` on ``job_id``, its failures as MiniStudio's errors."""
    import runwayml

    runway = client(context)
    try:
        return await call(runway.tasks)
    except runwayml.APIStatusError as exc:
        if exc.status_code == 404:
            raise EngineError(ENGINE, f"task {job_id} is unknown to Runway") from None
        raise failure(exc, f"{what} of task {job_id}") from None
    except runwayml.APIError as exc:
        raise TransientError(
            ENGINE, f"{what} of task {job_id} failed ({why(exc.__cause__ or exc)})"
        ) from None
    finally:
        await runway.close()


def _field(found: Any, name: str, wire: str) -> Any:
    """A field of a task answer: the SDK parses every answer of ``tasks.retrieve`` into its
    awaitable wrapper (the ``Pending`` shape), keeping the other fields under their wire
    names (``failureCode``), so both spellings are read."""
    value = getattr(found, name, None)
    if value is None:
        value = getattr(found, wire, None)
    if value is None and isinstance(getattr(found, "model_extra", None), dict):
        value = found.model_extra.get(wire)
    return value


def status_of(found: Any, every: float = 5.0) -> JobStatus:
    """A task as a status (polled again after ``every`` seconds while unfinished)."""
    status = str(_field(found, "status", "status") or "")
    state: JobState = STATES.get(status, "running")
    urls = _field(found, "output", "output") or []
    url = next((u for u in urls if isinstance(u, str) and u), None)
    code = _field(found, "failure_code", "failureCode")
    error = _field(found, "failure", "failure") or (str(code) if code else None)
    if status == "CANCELLED":
        error = "the task was cancelled or deleted on Runway"
    if code and error and code not in error:
        error = f"{error} ({code})"
    if state == "succeeded" and url is None:
        state, error = "failed", "the task succeeded without an output"
    failed = state == "failed"
    progress = _field(found, "progress", "progress")
    return JobStatus(
        job_id=str(getattr(found, "id", "")),
        state=state,
        progress=float(progress) if isinstance(progress, (int, float)) else None,
        error=error if failed else None,
        refused=failed and bool(code) and REFUSING in str(code).upper().split("."),
        video_url=url,
        retry_after=every if state in ("queued", "running") else None,  # see poll_every
    )


async def poll(job_id: str, context: EngineContext) -> JobStatus:
    return status_of(await task(job_id, context), poll_every(context))


async def download(
    job_id: str, status: JobStatus, output: Path, context: EngineContext, request: VideoRequest
) -> VideoResult:
    """Fetch the finished clip to ``output``, with a fresh URL if the given one expired."""
    from ministudio import http

    if status.state != "succeeded" or not status.video_url:
        status = status_of(await task(job_id, context))
    status.check_done(ENGINE, refusal="the task was refused", url=True)
    part = output.with_name(output.name + ".runway.part")
    try:
        try:
            await http.download(
                status.video_url or "", part, engine=ENGINE, timeout=timeout(context)
            )
        except http.DownloadError as exc:
            if exc.status not in EXPIRED:
                raise
            fresh = status_of(await task(job_id, context))
            fresh.check_done(ENGINE, refusal="the task was refused", url=True)
            await http.download(
                fresh.video_url or "", part, engine=ENGINE, timeout=timeout(context)
            )
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    if _request.promoting(request):
        try:
            check_length(request, part, job_id)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    part.replace(output)
    return VideoResult(
        path=output,
        engine_job_id=job_id,
        model=_request.model(request),
        cost=_request.cost(request),
    )
