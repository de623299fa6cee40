"""relay: a remote, paid video engine, the Relay API (a loopback fake ships in ``.fake``).

A complete example of a remote engine. It implements the hooks that send and fetch, and
leaves the waiting, retrying, rate limits and the journal to the core:

- ``submit_video``: uploads the first frame and reference images (``context.upload``, which
  calls ``upload_asset`` once per file content), then sends the job with the idempotency key
  as its ``client_ref``, calling ``context.sending()`` right before (``marks_sending=True``);
- ``poll_video``: one status request; ``download_video``: the clip, through
  ``ministudio.http.download`` (length checked, a cut-off download is a ``TransientError``),
  priced from the request; ``find_video_job``: the job a lost submit answer created, by its
  ``client_ref``; ``parse_webhook``: a signed push (HMAC-SHA256 with
  ``RELAY_WEBHOOK_SECRET``), refused with ``WebhookRejected`` when unsigned or forged;
- ``prompt_map``: a structured prompt (the text, the setting, what to avoid);
  ``estimate_cost``: the price by resolution and length.

How failures map, so the core never pays twice: 429, 5xx and a connection that failed before
the request left are ``TransientError`` (retried, with the server's ``Retry-After``); a 400
is ``EngineRefusal`` (not resent); a 401 is ``EngineError`` naming the key variable; a
request that may have arrived but whose answer was lost is ``AmbiguousSubmission`` (the core
then looks it up with ``find_video_job``). Set ``RELAY_BASE_URL`` and ``RELAY_API_KEY`` (and
``RELAY_WEBHOOK_SECRET`` for webhooks) in the environment or with ``ministudio keys set``.

httpx is imported inside the hooks: importing this module stays cheap.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec, Model
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    TransientError,
    WebhookRejected,
)

if TYPE_CHECKING:
    import httpx
    from ministudio.jobs import JobStatus, ShotPrompt, Submission, VideoRequest, VideoResult

ENGINE = "relay"
KEY_ENV = ("RELAY_API_KEY",)
PRICES = {"480p": 0.05, "720p": 0.10}  # USD per second of clip
EXPECTED_LATENCY = 40.0  # typical seconds from submit to done: the first poll comes at ~0.7 x
SIGNATURE_TOLERANCE = 300  # seconds a webhook's timestamp may be off
STATES: dict[str, Any] = {
    "queued": "queued",
    "in_progress": "running",
    "completed": "succeeded",
    "failed": "failed",
}


def spec() -> EngineSpec:
    """The engine's declaration (a function: tests lower ``EXPECTED_LATENCY``)."""
    return EngineSpec(
        id=ENGINE,
        kind="video",
        description="example remote engine: the Relay API (or its loopback fake)",
        key_env=KEY_ENV,
        default_model="relay-2",
        models=(
            Model("relay-2", "ga", use="the current model"),
            Model(
                "relay-1",
                "deprecated",
                shutdown=dt.date(2027, 6, 30),
                replacement="relay-2",
                why="Relay retires its first model",
            ),
        ),
        marks_sending=True,  # submit_video calls context.sending()
        # A paid engine pins its revision: a new version of this package re-renders nothing
        # (and pays for nothing) unless the revision moves, when the same request makes
        # different clips.
        revision=1,
        capabilities=Capabilities(
            durations=(2.0, 4.0, 8.0),  # the clip lengths the API makes; others snap up
            snap_duration="up",
            aspect_ratios=("16:9", "9:16", "1:1"),
            resolutions=("480p", "720p"),
            max_references=2,
            first_frame=True,
            seed=True,
            webhooks=True,
            concurrency=4,
            price_per_second=PRICES["480p"],
            expected_latency=EXPECTED_LATENCY,
        ),
    )


@hookimpl
def ministudio_engines() -> list[EngineSpec]:
    return [spec()]


@hookimpl
def prompt_map(engine: str, shot: ShotPrompt) -> dict[str, str] | None:
    """Called on every plugin: answer for this engine only."""
    if engine != ENGINE:
        return None
    from ministudio.prompts import describe_shot

    place = shot.environment
    setting = place.description + (f"; lighting: {place.lighting}" if place.lighting else "")
    return {
        "prompt": describe_shot(shot),
        "setting": setting,
        "negative_prompt": ", ".join(shot.negative),
    }


@hookimpl
def estimate_cost(engine: str, request: VideoRequest) -> float | None:
    return _price(request) if engine == ENGINE else None


# Engine hooks are called only on the plugin that declared the engine, so they may be
# ``async def``: the core awaits them.
@hookimpl
async def upload_asset(engine: str, path: Path, context: EngineContext) -> str:
    """Upload an image once (the core keeps the answer per file content); its file id."""
    import httpx

    base, headers = _endpoint(context)
    async with _client() as client:
        try:
            answer = await client.post(
                f"{base}/v1/files",
                content=Path(path).read_bytes(),
                headers={**headers, "Content-Type": "image/png"},
            )
        except httpx.TransportError as exc:
            raise TransientError(ENGINE, f"upload failed ({_why(exc)})") from None
    if answer.status_code != 201:
        raise _failure(answer, "upload")
    return str(answer.json()["id"])


@hookimpl
async def submit_video(
    engine: str, request: VideoRequest, idempotency_key: str, context: EngineContext
) -> Submission:
    import httpx
    from ministudio.jobs import Submission

    base, headers = _endpoint(context)
    prompt = request.prompt if isinstance(request.prompt, dict) else {"prompt": request.prompt}
    images = [p for c in request.shot.characters for p in c.reference_images]
    images += request.shot.environment.reference_images
    body = {
        **prompt,
        "model": request.model or "relay-2",
        "seconds": round(request.duration),
        "aspect_ratio": request.aspect_ratio,
        "resolution": f"{min(request.width, request.height)}p",
        "fps": request.fps,
        "seed": request.seed,
        "client_ref": idempotency_key,  # find_video_job looks the job up by it
        "callback_url": context.webhook_url,  # None unless the render listens for webhooks
        # uploads first: a crash during them sends nothing, so the job may be sent again
        "first_frame": await context.upload(request.first_frame) if request.first_frame else None,
        "reference_images": [await context.upload(p) for p in images[:2]],
    }
    async with _client() as client:
        context.sending()  # the paid request leaves now
        try:
            answer = await client.post(f"{base}/v1/videos", json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(ENGINE, f"cannot reach {base} ({_why(exc)})") from None
        except httpx.TransportError as exc:  # sent; the answer was lost: the job may exist
            raise AmbiguousSubmission(
                ENGINE, f"the submit's answer was lost ({_why(exc)}); the job may exist"
            ) from None
    if answer.status_code == 201:
        return Submission(job_id=str(answer.json()["id"]))
    raise _failure(answer, "submit")


@hookimpl
async def poll_video(engine: str, job_id: str, context: EngineContext) -> JobStatus:
    import httpx

    base, headers = _endpoint(context)
    async with _client() as client:
        try:
            answer = await client.get(f"{base}/v1/videos/{job_id}", headers=headers)
        except httpx.TransportError as exc:
            raise TransientError(ENGINE, f"status of {job_id} failed ({_why(exc)})") from None
    if answer.status_code != 200:
        raise _failure(answer, f"status of {job_id}")
    return _status(answer.json())


@hookimpl
async def download_video(
    engine: str, job_id: str, status: JobStatus, output: Path, request: VideoRequest
) -> VideoResult:
    """``status`` is the job's terminal status (a poll's or a webhook's), with its URL."""
    from ministudio.http import download
    from ministudio.jobs import VideoResult

    status.check_done(ENGINE, noun="video", url=True)  # refused, failed, or no URL: raise
    assert status.video_url is not None
    await download(status.video_url, output, engine=ENGINE)
    return VideoResult(path=output, engine_job_id=job_id, model=request.model, cost=_price(request))


@hookimpl
async def find_video_job(engine: str, idempotency_key: str, context: EngineContext) -> str | None:
    """The job a lost submit created, by its client_ref; None if there is none."""
    import httpx

    base, headers = _endpoint(context)
    async with _client() as client:
        try:
            answer = await client.get(
                f"{base}/v1/videos", params={"client_ref": idempotency_key}, headers=headers
            )
        except httpx.TransportError as exc:
            raise TransientError(ENGINE, f"job lookup failed ({_why(exc)})") from None
    if answer.status_code != 200:
        raise _failure(answer, "job lookup")
    jobs = answer.json()["data"]
    if len(jobs) > 1:
        raise AmbiguousSubmission(ENGINE, f"{len(jobs)} jobs have client_ref {idempotency_key}")
    return str(jobs[0]["id"]) if jobs else None


@hookimpl
def parse_webhook(
    engine: str, body: bytes, headers: dict[str, str], env: Mapping[str, str]
) -> JobStatus | None:
    """A signed push as a status. Runs in a worker thread; ``headers`` are lowercase."""
    if engine != ENGINE:
        return None
    secret = env.get("RELAY_WEBHOOK_SECRET")
    if not secret:
        raise WebhookRejected(ENGINE, "RELAY_WEBHOOK_SECRET is not set: set it to verify pushes")
    parts = headers.get("x-relay-signature", "").split(",")
    fields = dict(part.split("=", 1) for part in parts if "=" in part)
    stamp, signature = fields.get("t", ""), fields.get("v1", "")
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest(), signature):
        raise WebhookRejected(ENGINE, "the push's signature does not match")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > SIGNATURE_TOLERANCE:
        raise WebhookRejected(ENGINE, "the push is too old (or its clock is off)")
    try:
        return _status(json.loads(body))
    except (ValueError, KeyError, TypeError):
        return None  # signed, but not a job: nothing to wake


# -- helpers --------------------------------------------------------------------------------
def _endpoint(context: EngineContext) -> tuple[str, dict[str, str]]:
    """The API's base URL and the authorisation header (the key from env or key store)."""
    base = (context.env.get("RELAY_BASE_URL") or "").rstrip("/")
    if not base:
        raise EngineError(ENGINE, "RELAY_BASE_URL is not set: point it at the Relay API")
    return base, {"Authorization": f"Bearer {context.key(spec())}"}


def _client() -> httpx.AsyncClient:
    import httpx
    from ministudio.http import tls_context

    return httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0), verify=tls_context())


def _status(job: dict[str, Any]) -> JobStatus:
    from ministudio.jobs import JobStatus

    error = job.get("error") or {}
    return JobStatus(
        job_id=str(job["id"]),
        state=STATES.get(job.get("status", ""), "running"),
        progress=min(1.0, max(0.0, float(job.get("progress") or 0) / 100)),
        error=f"{error.get('code')}: {error.get('message')}" if error else None,
        refused=error.get("code") == "content_policy",
        video_url=job.get("download_url"),
    )


def _failure(answer: httpx.Response, what: str) -> EngineError:
    """The typed error for an answer that is not a success."""
    from ministudio.http import retry_after

    code = answer.status_code
    try:
        error = answer.json()["error"]
        message = f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {code}"
    if code == 400:
        return EngineRefusal(ENGINE, message)
    if code in (401, 403):
        return EngineError(ENGINE, f"{what}: key rejected (HTTP {code}); check RELAY_API_KEY")
    if code == 429 or code >= 500:
        return TransientError(
            ENGINE, f"{what}: {message} (HTTP {code})", retry_after=retry_after(answer.headers)
        )
    return EngineError(ENGINE, f"{what}: {message} (HTTP {code})")


def _price(request: VideoRequest) -> float:
    resolution = f"{min(request.width, request.height)}p"
    return round(PRICES.get(resolution, PRICES["720p"]) * request.duration, 6)


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
