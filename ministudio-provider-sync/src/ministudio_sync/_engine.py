"""The hooks' work: submit (never paying twice), poll, download, the lookup of a lost answer,
and the hosting of the two input files. Imported by the hooks only.

Paying once. Every create carries the job's key as sync.'s ``Idempotency-Key``
(sync.so/docs/api-reference/guides/idempotency: "If a request times out or two copies arrive
concurrently, reusing the same key and inputs prevents another generation"). So:

- a create whose answer was lost (the connection dropped after the request left, a 5xx, a
  2xx without an id) is a ``TransientError``: the core sends the same body again under the
  same key, and sync. answers with the generation it made, if any;
- a create answered 409 (the key taken by a request still in flight, or by one whose body
  differed: the guide names neither answer) is an ``AmbiguousSubmission``: the core looks the
  generation up (``find``) before anything is sent again;
- ``find`` lists the account's generations (``GET /v2/generations``) and matches what was
  sent: the model, the two inputs (by the path of their URLs, which the asset host names by
  content hash, so a re-signed URL still matches) and, when sync. lists it back, the
  ``outputFileName`` made from the key; created since the lost request left (less
  ``SKEW``). One match is the job; none: None (the core sends it again, under the same key);
  several: ``AmbiguousSubmission`` (the core stops the shot).

A generation ``REJECTED`` is refused (``JobStatus.refused``); ``FAILED`` is a failure with
sync.'s ``error`` and ``error_code``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ministudio.engines import EngineContext
from ministudio.errors import AmbiguousSubmission, EngineError, TransientError
from ministudio.jobs import JobState, JobStatus, Submission, VideoResult

from ministudio_sync import ENGINE
from ministudio_sync._client import LOOPBACK, Api, why
from ministudio_sync._prices import cost
from ministudio_sync._request import model, options, output_name

if TYPE_CHECKING:
    from ministudio.jobs import HostedAsset

log = logging.getLogger("ministudio_sync")

ASSET_PREFIX = "SYNC_ASSET_"
SKEW = 300.0  # seconds of clock skew allowed around the lost request's departure
# syncsdk GenerationStatus: PENDING, PROCESSING, COMPLETED, FAILED, REJECTED.
STATES: dict[str, JobState] = {
    "PENDING": "queued",
    "PROCESSING": "running",
    "COMPLETED": "succeeded",
    "FAILED": "failed",
    "REJECTED": "failed",
}


# -- submit -----------------------------------------------------------------------------------
async def submit(request: Any, key: str, context: EngineContext) -> Submission:
    api = Api.of(context)  # the key first: a missing key costs no upload
    settings = options(request, context.env)
    video = await context.upload(Path(request.video))
    voice = await context.upload(Path(request.voice))
    import httpx
    from sync.common import Audio, GenerationOptions, Video
    from sync.core.api_error import ApiError

    arguments: dict[str, Any] = {
        "model": model(request),
        "input": [Video(url=video), Audio(url=voice)],
        "options": GenerationOptions(**settings),
        "output_file_name": output_name(key),
    }
    hook = webhook_url(context.webhook_url)
    if hook:
        arguments["webhook_url"] = hook
    sdk, http = api.client()
    try:
        context.sending()  # the inputs are hosted: the paid request leaves now
        made = await sdk.generations.create(
            **arguments, request_options=api.options(**{"Idempotency-Key": key})
        )
    except ApiError as exc:
        raise api.failure(exc, "submit", submit=True) from None
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        # The request never left: sending it again cannot pay twice.
        raise TransientError(ENGINE, f"cannot reach {api.base} ({api.blank(why(exc))})") from None
    except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as exc:
        raise EngineError(ENGINE, f"cannot send to SYNC_BASE_URL ({api.blank(why(exc))})") from None
    except httpx.TransportError as exc:
        raise TransientError(
            ENGINE,
            f"the submit was sent but its answer was lost ({api.blank(why(exc))}); it is sent "
            "again under the same Idempotency-Key, which sync. answers with the same generation",
        ) from None
    except ValueError as exc:  # an unreadable 2xx answer (JSON)
        raise TransientError(
            ENGINE, f"the submit's answer is unreadable ({api.blank(why(exc))}); sent again"
        ) from None
    finally:
        await http.aclose()
    ident = getattr(made, "id", None)
    if not isinstance(ident, str) or not ident:
        raise TransientError(
            ENGINE, "the submit was accepted without a generation id; sent again under its key"
        )
    return Submission(job_id=ident)


def webhook_url(url: str | None) -> str | None:
    """Where sync. should POST: https only ("your webhook URL must be configured to accept
    and process HTTPS POST requests", the webhooks guide), or a loopback receiver (tests)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK):
        return url
    log.warning("sync: webhook URL %s is not https: the job is polled instead", parts.hostname)
    return None


# -- poll and download --------------------------------------------------------------------------
async def poll(job: str, context: EngineContext) -> JobStatus:
    return status_of(await _generation(Api.of(context), job), job)


async def download(
    job: str, status: JobStatus, output: Path, context: EngineContext, request: Any
) -> VideoResult:
    """Stream the output MP4 to ``output`` (a plain GET of its signed URL, without the key:
    the SDK has no download call); priced from ``request``."""
    from ministudio.http import download as fetch

    api = Api.of(context)
    if status.state != "succeeded" or not status.video_url:  # ask sync. where it is
        status = status_of(await _generation(api, job), job)
    status.check_done(ENGINE, noun="generation", refusal="sync. rejected the generation", url=True)
    await fetch(status.video_url or "", output, engine=ENGINE, timeout=api.timeout)
    return VideoResult(path=output, engine_job_id=job, model=model(request), cost=cost(request))


def status_of(generation: Any, job: str) -> JobStatus:
    """sync.'s generation as the status of job ``job``."""
    raw = str(_field(generation, "status") or "")
    state: JobState = STATES.get(raw, "running")
    error = _field(generation, "error")
    code = _field(generation, "error_code", "errorCode")
    reason = str(error) if error else None
    if code:
        reason = f"{reason or 'failed'} ({code})"
    url = _field(generation, "output_url", "outputUrl")
    if state == "succeeded" and not url:
        state, reason = "failed", reason or "the generation completed without an output URL"
    failed = state == "failed"
    return JobStatus(
        job_id=job,
        state=state,
        error=(reason or "no reason given") if failed else None,
        refused=raw == "REJECTED",
        video_url=str(url) if state == "succeeded" and url else None,
    )


# -- the lookup of a lost answer ------------------------------------------------------------------
async def find(key: str, context: EngineContext, request: Any, since: float) -> str | None:
    """The generation a submit whose answer was lost created (see the module doc)."""
    api = Api.of(context)
    video = _path(await context.upload(Path(request.video)))
    voice = _path(await context.upload(Path(request.voice)))
    name = output_name(key)
    listed = await _list(api)
    matches = []
    for generation in listed:
        if _field(generation, "model") != model(request):
            continue
        created = _epoch(_field(generation, "created_at", "createdAt"))
        if created is not None and created < since - SKEW:
            continue
        urls = {_path(_input_url(item)) for item in _field(generation, "input") or []}
        if video not in urls or voice not in urls:
            continue
        named = _field(generation, "output_file_name", "outputFileName")
        if named is not None and named != name:
            continue  # another attempt on the same inputs
        matches.append(generation)
    if not matches:
        return None
    if len(matches) > 1:
        ids = ", ".join(str(_field(g, "id")) for g in matches[:5])
        raise AmbiguousSubmission(
            ENGINE,
            f"a submit's answer was lost and {len(matches)} generations match it ({ids}); "
            "none was sent again. Check them on sync.so, then run `ministudio render "
            "--forget-lost` to submit it once more",
        )
    return str(_field(matches[0], "id"))


# -- hosting ------------------------------------------------------------------------------------
def upload(path: Path, context: EngineContext) -> HostedAsset:
    """Publish the clip or the voice where the SYNC_ASSET_* settings say: its URL (signed,
    with its expiry, unless the store is public under SYNC_ASSET_BASE_URL)."""
    from ministudio.remote.hosting import AssetHost

    return AssetHost.from_env(context.env, ASSET_PREFIX, engine=ENGINE).publish(path)


# -- helpers ------------------------------------------------------------------------------------
async def _generation(api: Api, job: str) -> Any:
    import httpx
    from sync.common.errors.not_found_error import NotFoundError
    from sync.core.api_error import ApiError

    sdk, http = api.client()
    try:
        return await sdk.generations.get(job, request_options=api.options())
    except NotFoundError:
        raise EngineError(ENGINE, f"generation {job} is unknown to sync.") from None
    except ApiError as exc:
        raise api.failure(exc, f"status of generation {job}") from None
    except httpx.InvalidURL as exc:
        raise EngineError(ENGINE, f"cannot send to SYNC_BASE_URL ({api.blank(why(exc))})") from None
    except (httpx.TransportError, ValueError) as exc:
        what = f"status of generation {job} failed ({api.blank(why(exc))})"
        raise TransientError(ENGINE, what) from None
    finally:
        await http.aclose()


async def _list(api: Api) -> list[Any]:
    import httpx
    from sync.core.api_error import ApiError

    sdk, http = api.client()
    try:
        return list(await sdk.generations.list(request_options=api.options()))
    except ApiError as exc:
        raise api.failure(exc, "listing generations") from None
    except (httpx.TransportError, ValueError) as exc:
        what = f"listing generations failed ({api.blank(why(exc))})"
        raise TransientError(ENGINE, what) from None
    finally:
        await http.aclose()


def _field(item: Any, *names: str) -> Any:
    """A field of an SDK model (or of a dict), by attribute or alias; None if absent."""
    for name in names:
        if isinstance(item, dict):
            if item.get(name) is not None:
                return item[name]
            continue
        value = getattr(item, name, None)
        if value is None:
            extra = getattr(item, "model_extra", None) or {}
            value = extra.get(name) if isinstance(extra, dict) else None
        if value is not None:
            return value
    return None


def _input_url(item: Any) -> str:
    return str(_field(item, "url") or "")


def _path(url: str) -> str:
    """A URL without its query (a signature) and fragment: the hosted file's name."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _epoch(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None
