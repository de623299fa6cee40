"""A remote, paid engine as a plugin: "sim", the loopback fake API in tests/fakes/sim_server.py.

Written with ``ministudio.plugin_kit``: the class ``Sim`` is the engine (its declaration, and
submit, poll, download, find_job, parse_webhook over real HTTP with httpx and no retries of
its own: the core retries, waits and keeps the journal), and ``engine_hooks`` makes it the
module's hooks.
Set ``SIM_BASE_URL`` and ``SIM_API_KEY`` in the render's environment.

How failures map, so the core never pays twice:

- submit: 429 and 5xx, or a connection that failed before the request went out:
  ``TransientError`` (with the server's ``Retry-After``); 400: ``EngineRefusal``; 401/403:
  ``KeyRejected`` (a ``MissingKeyError`` naming SIM_API_KEY); anything that went wrong after
  the request was sent (no answer, a cut connection, a timeout, an unreadable 2xx):
  ``AmbiguousSubmission``, and ``find_video_job`` can then look the job up by its external id.
- poll, lookup: transport errors, 429 and 5xx: ``TransientError``.
- download: a cut-off or short download: ``TransientError``; nothing is left at ``output``.
  It streams from the terminal status's ``video_url`` (a poll's or a webhook's) without
  another status request; the billed seconds come from the file's ``X-Content-Duration``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ministudio.engines import Capabilities, EngineContext, EngineSpec, Model
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MinistudioError,
    MissingKeyError,
    TransientError,
)
from ministudio.plugin_kit import Engine, engine_hooks

if TYPE_CHECKING:
    import httpx
    from ministudio.jobs import JobStatus, Submission, VideoRequest, VideoResult

ENGINE = "sim"
MODEL = "sim-1"
KEY_ENV = ("SIM_API_KEY",)
PRICE_PER_SECOND = 0.10
REFUSAL_CODES = ("safety", "invalid_request")
CHUNK = 1 << 16


class KeyRejected(MissingKeyError):
    """The engine turned the key down (401/403): it is set, but wrong or revoked."""

    def __init__(self, engine: str, variables: list[str], status: int) -> None:
        self.engine = engine
        self.variables = variables
        names = " or ".join(variables)
        MinistudioError.__init__(
            self,
            f"engine '{engine}' rejected its API key (HTTP {status}): check {names} and run again",
        )


class Sim(Engine):
    """The engine "sim": its declaration, and one method per remote-engine hook."""

    id = ENGINE

    def spec(self) -> EngineSpec:
        return EngineSpec(
            id=self.id,
            kind="video",
            description="loopback fake paid video API (tests and benchmarks)",
            key_env=KEY_ENV,
            default_model=MODEL,
            models=(Model(MODEL, "ga", use="the loopback simulator"),),
            marks_sending=True,  # submit calls context.sending()
            capabilities=Capabilities(
                durations=(4.0, 8.0),
                snap_duration="up",
                aspect_ratios=("16:9", "9:16", "1:1"),
                resolutions=("480p", "720p"),
                first_frame=True,
                seed=True,
                webhooks=True,
                concurrency=4,
                requests_per_minute=60,
                price_per_second=PRICE_PER_SECOND,
                expected_latency=float(os.environ.get("SIM_EXPECTED_LATENCY", "30")),
            ),
        )

    async def submit(
        self, request: VideoRequest, idempotency_key: str, context: EngineContext
    ) -> Submission:
        import base64
        import json

        import httpx
        from ministudio.jobs import Submission

        base, headers = _endpoint(context)
        prompt = request.prompt
        body: dict[str, Any] = {
            "prompt": prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True),
            "duration": request.duration,
            "width": request.width,
            "height": request.height,
            "fps": request.fps,
            "seed": request.seed,
            "external_id": idempotency_key,
            "callback_url": context.webhook_url,
            "first_frame": None,
        }
        if request.first_frame is not None:
            body["first_frame"] = base64.b64encode(Path(request.first_frame).read_bytes()).decode()
        async with _client(context) as client:
            context.sending()  # the paid request leaves now
            try:
                answer = await client.post(f"{base}/v1/clips", json=body, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # The request never left: sending it again cannot pay twice.
                raise TransientError(ENGINE, f"cannot reach {base} ({_why(exc)})") from None
            except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
                raise EngineError(
                    ENGINE, f"cannot send to SIM_BASE_URL {base} ({_why(exc)})"
                ) from None
            except httpx.TransportError as exc:
                raise AmbiguousSubmission(
                    ENGINE,
                    f"the submit was sent but its answer was lost ({_why(exc)}); the job may "
                    f"exist: look it up by external id {idempotency_key!r}",
                ) from None
        if answer.status_code in (200, 201, 202):
            try:
                job_id = answer.json()["id"]
            except (ValueError, KeyError, TypeError):
                job_id = None
            if not isinstance(job_id, str) or not job_id:
                raise AmbiguousSubmission(
                    ENGINE,
                    f"the submit was accepted (HTTP {answer.status_code}) but its answer has no "
                    f"job id; look it up by external id {idempotency_key!r}",
                )
            return Submission(job_id=job_id)
        if answer.status_code in (400, 422):
            raise EngineRefusal(ENGINE, _message(answer))
        raise _failure(answer, "submit")

    async def poll(self, job_id: str, context: EngineContext) -> JobStatus:
        job, answer = await _get_job(job_id, context)
        return _status(job, retry_after=_poll_after(answer))

    async def download(
        self, job_id: str, status: JobStatus, output: Path, context: EngineContext
    ) -> VideoResult:
        import httpx
        from ministudio.jobs import VideoResult

        job: dict[str, Any] | None = None
        if status.state != "succeeded" or not status.video_url:  # ask the engine where it is
            job, _ = await _get_job(job_id, context)
            status = _status(job, retry_after=None)
        if status.state == "failed":
            if status.refused:
                raise EngineRefusal(ENGINE, status.error or "the job failed")
            raise EngineError(ENGINE, f"job {job_id} failed: {status.error or 'no reason given'}")
        url = status.video_url
        if status.state != "succeeded" or not url:
            raise TransientError(ENGINE, f"job {job_id} has no video yet (state {status.state})")
        output.parent.mkdir(parents=True, exist_ok=True)
        part = output.with_name(output.name + ".part")
        received, expected, seconds = 0, None, None
        try:
            async with _client(context) as client, client.stream("GET", url) as answer:
                if answer.status_code != 200:
                    raise _failure(answer, "download", read=False)
                length = answer.headers.get("Content-Length")
                expected = int(length) if length and length.isdigit() else None
                seconds = _float(answer.headers.get("X-Content-Duration"))
                with part.open("wb") as sink:
                    async for chunk in answer.aiter_raw(CHUNK):
                        sink.write(chunk)
                        received += len(chunk)
        except httpx.TransportError as exc:
            part.unlink(missing_ok=True)
            raise TransientError(
                ENGINE, f"download cut short after {received} bytes ({_why(exc)}); download again"
            ) from None
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        if expected is not None and received != expected:
            part.unlink(missing_ok=True)
            raise TransientError(
                ENGINE, f"download cut short: {received} of {expected} bytes; download again"
            )
        part.replace(output)
        if job is not None:
            seconds = _float(job.get("duration"))
        if seconds is None:  # the clip's length is what is billed: ask for it
            job, _ = await _get_job(job_id, context)
            seconds = _float(job.get("duration"))
        duration = seconds or 0.0
        return VideoResult(
            path=output,
            engine_job_id=job_id,
            model=MODEL,
            cost=round(PRICE_PER_SECOND * duration, 6),
        )

    async def find_job(self, idempotency_key: str, context: EngineContext) -> str | None:
        import httpx

        base, headers = _endpoint(context)
        async with _client(context) as client:
            try:
                answer = await client.get(
                    f"{base}/v1/clips", params={"external_id": idempotency_key}, headers=headers
                )
            except httpx.TransportError as exc:
                raise TransientError(ENGINE, f"job lookup failed ({_why(exc)})") from None
        if answer.status_code != 200:
            raise _failure(answer, "job lookup")
        try:
            data = answer.json()["data"]
        except (ValueError, KeyError, TypeError):
            raise TransientError(ENGINE, "job lookup answered without a job list") from None
        ids = [
            job["id"]
            for job in data
            if isinstance(job, dict) and job.get("external_id") == idempotency_key and job.get("id")
        ]
        return ids[0] if ids else None

    def parse_webhook(self, body: bytes) -> JobStatus | None:
        """A callback's job as a status (unsigned: the fake signs nothing)."""
        import json

        try:
            job = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if not isinstance(job, dict) or not isinstance(job.get("id"), str) or "state" not in job:
            return None
        return _status(job, retry_after=None)


SIM = Sim()
spec = SIM.spec  # the declaration (the tests and _endpoint read it)
globals().update(engine_hooks(SIM))  # ministudio_engines and the five remote-engine hooks


# -- helpers --------------------------------------------------------------------------------
def _endpoint(context: EngineContext) -> tuple[str, dict[str, str]]:
    base = (context.env.get("SIM_BASE_URL") or "").rstrip("/")
    if not base:
        raise EngineError(ENGINE, "SIM_BASE_URL is not set: point it at the sim server")
    key = context.key(spec())
    return base, {"Authorization": f"Bearer {key}"}


def _client(context: EngineContext) -> httpx.AsyncClient:
    import httpx
    from ministudio.http import tls_context

    read = float(context.env.get("SIM_TIMEOUT") or 30.0)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(read, connect=5.0),
        verify=tls_context(),
        trust_env=False,  # a loopback API: never through a proxy from the environment
        headers={"User-Agent": "ministudio-provider-sim/0.1.0"},
    )


async def _get_job(job_id: str, context: EngineContext) -> tuple[dict[str, Any], httpx.Response]:
    import httpx

    base, headers = _endpoint(context)
    async with _client(context) as client:
        try:
            answer = await client.get(f"{base}/v1/clips/{job_id}", headers=headers)
        except httpx.TransportError as exc:
            raise TransientError(ENGINE, f"status of job {job_id} failed ({_why(exc)})") from None
    if answer.status_code == 404:
        raise EngineError(ENGINE, f"job {job_id} is unknown to the engine")
    if answer.status_code != 200:
        raise _failure(answer, f"status of job {job_id}")
    try:
        job = answer.json()
    except ValueError:
        raise TransientError(ENGINE, f"status of job {job_id}: the answer is not JSON") from None
    if not isinstance(job, dict) or "state" not in job:
        raise TransientError(ENGINE, f"status of job {job_id}: the answer has no state")
    return job, answer


def _status(job: dict[str, Any], retry_after: float | None) -> JobStatus:
    from ministudio.jobs import JobStatus

    state = job.get("state")
    if state not in ("queued", "running", "succeeded", "failed"):
        state = "running"
    error = job.get("error")
    code = message = None
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
    elif error:
        message = str(error)
    progress = job.get("progress")
    if isinstance(progress, (int, float)) and not isinstance(progress, bool):
        progress = min(1.0, max(0.0, float(progress)))
    else:
        progress = None
    url = job.get("video_url")
    return JobStatus(
        job_id=str(job["id"]),
        state=state,
        progress=progress,
        retry_after=retry_after,
        error=(f"{code}: {message}" if code and message else code or message) or None,
        refused=state == "failed" and code in REFUSAL_CODES,
        video_url=url if isinstance(url, str) and url else None,
    )


def _failure(answer: httpx.Response, what: str, read: bool = True) -> EngineError:
    """The typed error for an HTTP answer that is not a success."""
    status = answer.status_code
    message = _message(answer) if read else f"HTTP {status}"
    if status in (401, 403):
        return KeyRejected(ENGINE, list(KEY_ENV), status)
    if status == 429 or status >= 500 or (what == "download" and status == 404):
        return TransientError(
            ENGINE, f"{what}: {message} (HTTP {status})", retry_after=_retry_after(answer)
        )
    return EngineError(ENGINE, f"{what}: {message} (HTTP {status})")


def _message(answer: httpx.Response) -> str:
    try:
        error = answer.json()["error"]
        return f"{error.get('code')}: {error.get('message')}"
    except (ValueError, KeyError, TypeError, AttributeError):
        return answer.text[:200] or f"HTTP {answer.status_code}"


def _retry_after(answer: httpx.Response) -> float | None:
    from ministudio.http import retry_after

    return retry_after(answer.headers)


def _poll_after(answer: httpx.Response) -> float | None:
    value = answer.headers.get("X-Poll-After-Ms")
    try:
        return max(0.0, float(value) / 1000.0) if value else None
    except ValueError:
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
