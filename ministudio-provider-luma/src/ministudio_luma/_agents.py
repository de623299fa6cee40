"""``luma``'s remote-engine hooks on the Agents API: submit, poll, download. Imported by the
hooks only; the request body and its rules are ``_request``, images ``_files``.

How failures map, so the core never pays twice (notes §1.5, §1.6):

- create: a request Ray 3.2 cannot take is refused before anything is uploaded or sent
  (``_request.check``); 400/413/422 are ``EngineRefusal`` with Luma's ``detail``; 401/403
  ``KeyRejected`` naming LUMA_AGENTS_API_KEY; 402 a refusal saying to add funds; 429, 502 and
  503, or a connection that failed before the request went out, ``TransientError`` (with
  ``Retry-After``); anything else once the request was sent (a lost answer, a 500 or 504, an
  unreadable answer) is ``AmbiguousSubmission``: the Agents API has no list of generations
  and no idempotency key, so a lost create cannot be found again and the core stops the shot
  instead of paying twice. ``context.sending()`` is called right before the create, after
  the uploads.
- a promotion (``request.source``) is a ``video_edit`` of the previz clip, uploaded through
  the Files API before the create (``_request.promotion``); refused before that upload when
  Luma would not take it (over 18 s, a loop, an unknown ``promote`` option).
- an extension whose source generation Luma refuses (400/422: gone, not ours, not done)
  is sent again once from the previous clip's last frame (a refused create is not billed).
- poll: transport errors, 429 and 5xx: ``TransientError``; an unknown id: ``EngineError``.
- a generation ``failed``: ``refused`` when ``failure_code`` says the input or the content
  will not pass as it is (``content_moderated``, ``invalid_request``, ``image_too_large``,
  ``unsupported_format``, ``corrupt_input``, ``budget_exhausted``), else a plain failure
  (``generation_failed``, ``output_not_found``, ``rate_limited``: worth another try).
- download: output URLs are presigned for one hour (``GenerationOutput.url``), so the clip is
  fetched as soon as it is done; a URL that no longer works (403, 400, 410) is replaced by
  a fresh one from ``GET /generations/{id}`` (re-polling "mints a fresh URL") and fetched
  once more. A cut-off download is ``TransientError``; nothing is left at ``output``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ministudio.engines import EngineContext, EngineSpec
from ministudio.errors import AmbiguousSubmission, EngineError, EngineRefusal, TransientError
from ministudio.jobs import JobState, JobStatus, Submission, VideoRequest, VideoResult

from ministudio_luma import _request
from ministudio_luma._catalog import AGENTS, AGENTS_MODEL, EXTENSION_SECONDS
from ministudio_luma._client import REFUSED, RETRYABLE, client, failure, timeout
from ministudio_luma._errors import why

if TYPE_CHECKING:
    from luma_agents.types import Generation

STATES: Final[dict[str, JobState]] = {
    "queued": "queued",
    "processing": "running",
    "completed": "succeeded",
    "failed": "failed",
}
# failure_code values (generation_failure_code.py) whose job will fail again as sent
REFUSING: Final = frozenset(
    {
        "content_moderated",
        "invalid_request",
        "image_too_large",
        "unsupported_format",
        "corrupt_input",
        "budget_exhausted",
    }
)
EXPIRED: Final = (400, 403, 410)  # what a storage answers for a presigned URL past its time
LOST: Final = (
    "the generation may exist and be billed, and the Agents API cannot look it up (no list, "
    "no idempotency key): check the account's generations on Luma, then run `ministudio "
    "render --forget-lost` to send it again"
)


async def submit(request: VideoRequest, context: EngineContext) -> Submission:
    """Create the generation for ``request``; its id."""
    _request.check(request)
    sent = await _request.body(request, context)
    try:
        made = await _create(sent, context)
    except _Refused as refused:
        if "image_ref" in sent:
            raise EngineRefusal(
                AGENTS,
                f"{refused.error}; the request carried reference images (routing option "
                "image_ref: true), which Luma documents for image generations only: try "
                "without it",
            ) from None
        if not _request.extends(request) or request.first_frame is None:
            raise refused.error from None
        # The generation to extend is gone, not ours or not done: a refused create is not
        # billed, so start from the previous clip's last frame instead.
        fallback = request.model_copy(update={"options": {**request.options, "extend": False}})
        made = await _create(await _request.body(fallback, context), context, refusal=True)
    return Submission(job_id=made)


class _Refused(Exception):
    """A create Luma refused (400/422), carrying the error to raise if nothing else helps."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


async def _create(
    sent: dict[str, Any],
    context: EngineContext,
    refusal: bool = False,
    *,
    spec: EngineSpec | None = None,
    lost: str = LOST,
    sending: Callable[[], None] | None = None,
) -> str:
    """``POST /generations`` with ``sent``; the generation's id. ``_Refused`` for a 400/422
    (unless ``refusal``: then the refusal itself), typed errors otherwise. ``spec`` is the
    engine the errors name (``luma``'s by default), ``lost`` what an ambiguous answer tells
    to do, ``sending`` what marks the request leaving (``context.sending`` by default)."""
    import httpx
    import luma_agents

    engine = spec.id if spec is not None else AGENTS
    luma = client(context, spec)
    try:
        (sending or context.sending)()  # uploads done: the paid request leaves now
        made = await luma.generations.create(**sent)
    except luma_agents.APIStatusError as exc:
        status = exc.status_code
        error = failure(exc, "submit", engine)
        if status in REFUSED and not refusal:
            raise _Refused(error) from None
        if status in RETRYABLE or status < 500:
            raise error from None
        raise AmbiguousSubmission(
            engine, f"the submit was sent and Luma answered HTTP {status}; {lost}"
        ) from None
    except luma_agents.APIConnectionError as exc:
        cause = exc.__cause__
        if isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
            # The request never left: sending it again cannot pay twice.
            raise TransientError(engine, f"cannot reach the Luma API ({why(cause)})") from None
        if isinstance(cause, (httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
            raise EngineError(engine, f"cannot send to LUMA_BASE_URL ({why(cause)})") from None
        raise AmbiguousSubmission(
            engine, f"the submit was sent but its answer was lost ({why(cause or exc)}); {lost}"
        ) from None
    except luma_agents.APIError as exc:  # an unreadable 2xx answer, for one
        raise AmbiguousSubmission(
            engine, f"the submit was sent but its answer is unreadable ({why(exc)}); {lost}"
        ) from None
    finally:
        await luma.close()
    job_id = getattr(made, "id", None)
    if not isinstance(job_id, str) or not job_id:
        raise AmbiguousSubmission(
            engine, f"the submit was accepted but its answer has no id; {lost}"
        )
    return job_id


async def find_lost() -> str | None:
    """A create whose answer was lost cannot be found on the Agents API (no list of
    generations, no idempotency key, no client reference): always ``AmbiguousSubmission``,
    so the core stops the shot instead of sending it again."""
    raise AmbiguousSubmission(AGENTS, f"a submit's answer was lost; {LOST}")


async def poll(job_id: str, context: EngineContext) -> JobStatus:
    """One ``GET /generations/{id}`` as a status."""
    return status_of(await generation(job_id, context))


class Gone(EngineError):
    """Luma does not know the generation (404): deleted, or never made with this key."""


async def generation(
    job_id: str, context: EngineContext, spec: EngineSpec | None = None
) -> Generation:
    """The generation ``job_id`` as Luma has it now (with fresh output URLs); errors name
    ``spec``'s engine (``luma``'s by default)."""
    import luma_agents

    engine = spec.id if spec is not None else AGENTS
    luma = client(context, spec)
    try:
        return await luma.generations.get(job_id)
    except luma_agents.APIStatusError as exc:
        if exc.status_code == 404:
            raise Gone(engine, f"job {job_id} is unknown to Luma") from None
        raise failure(exc, f"status of job {job_id}", engine) from None
    except luma_agents.APIError as exc:
        why_ = why(exc.__cause__ or exc)
        raise TransientError(engine, f"status of job {job_id} failed ({why_})") from None
    finally:
        await luma.close()


def status_of(found: Generation) -> JobStatus:
    """A generation as a status: its state, its MP4's URL, why it failed and whether that
    was a refusal (``failure_code``)."""
    state = STATES.get(str(found.state), "running")
    url = next((o.url for o in found.output or [] if o.type == "video" and o.url), None)
    code = found.failure_code
    error = found.failure_reason or (str(code) if code else None)
    if code and error and code not in error:
        error = f"{error} ({code})"
    if state == "succeeded" and url is None:
        state, error = "failed", error or "the generation completed without a video"
    failed = state == "failed"
    return JobStatus(
        job_id=found.id,
        state=state,
        error=error if failed else None,
        refused=failed and code in REFUSING,
        video_url=url,
    )


async def download(
    job_id: str, status: JobStatus, output: Path, context: EngineContext, request: VideoRequest
) -> VideoResult:
    """Fetch the finished clip to ``output`` (a fresh URL if the one given has expired);
    an extension that came back with its source keeps only its new 5 s."""
    import anyio
    from ministudio import http

    from ministudio_luma._media import new_part

    if status.state != "succeeded" or not status.video_url:
        status = status_of(await generation(job_id, context))
    status.check_done(AGENTS, refusal="the generation was refused", url=True)
    part = output.with_name(output.name + ".luma.part")
    cut = output.with_name(output.name + ".cut.part")
    try:
        try:
            await http.download(
                status.video_url or "", part, engine=AGENTS, timeout=timeout(context)
            )
        except http.DownloadError as exc:
            if exc.status not in EXPIRED:
                raise
            fresh = status_of(await generation(job_id, context))  # mints a fresh URL
            fresh.check_done(AGENTS, refusal="the generation was refused", url=True)
            await http.download(
                fresh.video_url or "", part, engine=AGENTS, timeout=timeout(context)
            )
        if _request.extends(request) and await anyio.to_thread.run_sync(
            new_part, part, cut, EXTENSION_SECONDS
        ):
            cut.replace(part)
    except BaseException:
        part.unlink(missing_ok=True)
        cut.unlink(missing_ok=True)
        raise
    part.replace(output)
    return VideoResult(
        path=output, engine_job_id=job_id, model=AGENTS_MODEL, cost=_request.cost(request)
    )
