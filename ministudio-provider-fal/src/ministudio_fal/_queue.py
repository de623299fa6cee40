"""fal's queue API over httpx (see the README for the protocol and its sources): submit,
status, result, cancel; and the download of the output file. Imported by the hooks only.

Paying once: fal's queue has no idempotency key, so a submit whose answer was lost (sent,
then the connection dropped, or a 5xx) is an ``AmbiguousSubmission``: the core looks the job
up, and ``find_job`` answers ``AmbiguousSubmission`` too (fal lists no requests by content),
so the shot stops for the user instead of paying twice. A submit that never left (connect
error) is a ``TransientError``: sending it again cannot pay twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from ministudio.engines import EngineContext
from ministudio.errors import AmbiguousSubmission, EngineError, EngineRefusal, TransientError
from ministudio.jobs import JobState, JobStatus, Submission, VideoResult

from ministudio_fal._request import body, uploads
from ministudio_fal._request import cost as price_of
from ministudio_fal._table import Endpoint

DEFAULT_QUEUE_URL = "https://queue.fal.run"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
STATES: dict[str, JobState] = {
    "IN_QUEUE": "queued",
    "IN_PROGRESS": "running",
    "COMPLETED": "succeeded",  # the result may still be an error: read on download
}


class Api:
    def __init__(self, endpoint: Endpoint, key: str, env: Any) -> None:
        self.endpoint = endpoint
        self.key = key
        self.env = env
        self.base = str(env.get("FAL_QUEUE_URL") or DEFAULT_QUEUE_URL).rstrip("/")
        try:
            self.timeout = float(env.get("FAL_TIMEOUT") or 60.0)
        except ValueError:
            self.timeout = 60.0

    def client(self) -> Any:
        import httpx

        return httpx.AsyncClient(
            headers={"Authorization": f"Key {self.key}"},
            timeout=httpx.Timeout(self.timeout, connect=15.0),
            trust_env=urlsplit(self.base).hostname not in LOOPBACK,
        )

    def request_url(self, job: str, tail: str = "") -> str:
        return f"{self.base}/{self.endpoint.app}/requests/{job}{tail}"

    def failure(self, response: Any, what: str) -> EngineError:
        code = response.status_code
        text = _detail(response)
        engine = self.endpoint.engine
        if code in (401, 403):
            return EngineError(engine, f"fal refused the key on {what} ({code}): check FAL_KEY")
        if code == 422:
            return EngineRefusal(engine, f"fal refused the input on {what}: {text}")
        if code == 429 or code >= 500:
            retry = response.headers.get("Retry-After")
            try:
                after = float(retry) if retry is not None else None
            except ValueError:
                after = None
            return TransientError(
                engine, f"fal answered {code} on {what}: {text}", retry_after=after
            )
        return EngineError(engine, f"fal answered {code} on {what}: {text}")


def _detail(response: Any) -> str:
    try:
        data = response.json()
    except ValueError:
        return str(response.text)[:200]
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])[:300]
    return str(data)[:300]


def webhook(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK):
        return url
    return None


PLACEHOLDER = "https://example.invalid/ministudio-check/{role}"


def check(endpoint: Endpoint, request: Any) -> None:
    """Refuse (``EngineError``) a request ``endpoint`` cannot take, before anything is
    uploaded or paid for: the body is built as ``submit`` builds it, with a placeholder URL
    for each file the request sends (frames, a promote job's passes and references)."""
    placeholders: dict[str, Any] = {}
    for role, value in uploads(endpoint, request).items():
        if isinstance(value, list):
            placeholders[role] = [PLACEHOLDER.format(role=f"{role}-{i}") for i in range(len(value))]
        else:
            placeholders[role] = PLACEHOLDER.format(role=role.replace(":", "-"))
    body(endpoint, request, placeholders)


async def _hosted(api: Api, request: Any, context: EngineContext) -> dict[str, Any]:
    """Each file of ``uploads`` hosted: the frames where the core's uploader puts them
    (``upload``: the ``FAL_ASSET_*`` host), a promote job's passes and reference images in
    fal's own storage (``_storage``), once per content."""
    from ministudio_fal import _storage

    hosted: dict[str, Any] = {}
    for role, value in uploads(api.endpoint, request).items():
        if role in ("first_frame", "last_frame"):
            hosted[role] = await context.upload(Path(value))
        elif isinstance(value, list):
            hosted[role] = [await _storage.hosted(api, Path(p), context) for p in value]
        else:
            hosted[role] = await _storage.hosted(api, Path(value), context)
    return hosted


async def submit(
    api: Api, request: Any, context: EngineContext, *, webhooks: bool = True
) -> Submission:
    import httpx

    check(api.endpoint, request)  # refused before any upload
    images = await _hosted(api, request, context)
    payload = body(api.endpoint, request, images)
    url = f"{api.base}/{api.endpoint.endpoint}"
    hook = webhook(context.webhook_url) if webhooks else None
    if hook:
        url += "?" + urlencode({"fal_webhook": hook})
    engine = api.endpoint.engine
    async with api.client() as http:
        try:
            context.sending()
            response = await http.post(url, json=payload)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(
                engine, f"cannot reach {api.base} ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise AmbiguousSubmission(
                engine,
                f"the submit was sent but its answer was lost ({type(exc).__name__}); fal has "
                "no idempotency key, so it is not sent again. Check fal's dashboard, then run "
                "`ministudio render --forget-lost` to submit it once more",
            ) from None
    if response.status_code >= 400:  # a 5xx or 429 queued nothing: TransientError
        raise api.failure(response, "submit")
    try:
        ident = response.json().get("request_id")
    except (ValueError, AttributeError):
        ident = None
    if not isinstance(ident, str) or not ident:
        raise AmbiguousSubmission(engine, "fal accepted the submit without a request_id")
    return Submission(job_id=ident)


async def poll(api: Api, job: str) -> JobStatus:
    import httpx

    async with api.client() as http:
        try:
            response = await http.get(api.request_url(job, "/status"), params={"logs": "1"})
        except httpx.TransportError as exc:
            raise TransientError(api.endpoint.engine, f"status: {type(exc).__name__}") from None
    if response.status_code >= 400:
        raise api.failure(response, "status")
    data = response.json()
    raw = str(data.get("status") or "")
    state = STATES.get(raw, "running")
    progress = None
    if state == "queued" and isinstance(data.get("queue_position"), int):
        progress = 0.0
    return JobStatus(job_id=job, state=state, progress=progress)


async def result(api: Api, job: str) -> dict[str, Any]:
    import httpx

    async with api.client() as http:
        try:
            response = await http.get(api.request_url(job))
        except httpx.TransportError as exc:
            raise TransientError(api.endpoint.engine, f"result: {type(exc).__name__}") from None
    if response.status_code == 422:
        raise EngineRefusal(api.endpoint.engine, f"fal refused the request: {_detail(response)}")
    if response.status_code >= 400:
        raise api.failure(response, "result")
    data = response.json()
    if not isinstance(data, dict):
        raise EngineError(api.endpoint.engine, "fal's result is not an object")
    return data


async def download(
    api: Api, job: str, status: JobStatus, output: Path, request: Any, cost: float | None = None
) -> VideoResult:
    from ministudio.http import download as fetch

    status.check_done(api.endpoint.engine, noun="request")
    data = await result(api, job)
    video = data.get("video")
    url = video.get("url") if isinstance(video, dict) else None
    if not isinstance(url, str) or not url:
        raise EngineError(api.endpoint.engine, f"fal's result for {job} names no video")
    await fetch(url, output, engine=api.endpoint.engine, timeout=api.timeout)
    if cost is None:  # the price of the values the body sent (a field's ``prices``)
        cost = price_of(api.endpoint, request)
    return VideoResult(path=output, engine_job_id=job, model=api.endpoint.endpoint, cost=cost)


async def cancel(api: Api, job: str) -> str:
    """PUT .../cancel; fal's answer status (OK, CANCELLATION_REQUESTED, ALREADY_COMPLETED,
    NOT_FOUND)."""
    import httpx

    async with api.client() as http:
        try:
            response = await http.put(api.request_url(job, "/cancel"))
        except httpx.TransportError as exc:
            raise TransientError(api.endpoint.engine, f"cancel: {type(exc).__name__}") from None
    if response.status_code >= 400 and response.status_code not in (400, 404):
        raise api.failure(response, "cancel")
    try:
        return str(response.json().get("status") or "")
    except (ValueError, AttributeError):
        return ""


def cancelled(engine: str, job: str, answer: str) -> bool:
    """``cancel_video``'s answer for fal's: True only when the request left the queue unrun
    (``OK``: not billed); ``CANCELLATION_REQUESTED`` (it was running: it may still finish and
    be billed) and ``ALREADY_COMPLETED`` are too late, so the job is never sent twice."""
    if answer == "OK":
        return True
    if answer in ("CANCELLATION_REQUESTED", "ALREADY_COMPLETED"):
        return False
    raise EngineError(engine, f"fal could not cancel {job}: {answer or 'no answer'}")
