"""``gemini-omni``: Gemini Omni through the Gemini API's Interactions endpoint, with the SDK
(``client.aio.interactions``). Imported by the hooks only.

The facts this follows (Google's Omni guide, https://ai.google.dev/gemini-api/docs/omni,
unless said otherwise):

- a job is an interaction created with ``background=True, store=True`` (stored, so a later
  turn can edit it) and read back with ``GET /interactions/{id}``;
- images are content blocks before the text; their roles come from tags in the prompt
  (``<FIRST_FRAME>``, ``<LAST_FRAME>`` (only with a first frame), ``<IMAGE_REF_N>`` from 0),
  spelt out as ``[# Sources <FIRST_FRAME>@Image1 ...] [# References <IMAGE_REF_0>@Image2]``;
  ``generation_config.video_config.task`` is left out ("relying primarily on prompting ...
  using the task field adds some constraints") unless the routing option ``task`` asks;
- ``response_format {type: video, aspect_ratio, resolution: 360p|720p|1080p|4k, duration}``,
  turn-scoped, so an edit sends it again; a duration is "<n>s" within 3-10 s (Vertex's Omni
  notebook; the API's own 400s quote the bounds);
- an edit is ``previous_interaction_id`` and an instruction as the input: "Keep everything
  else the same" is Google's advice for edit prompts;
- the video is in the last ``model_output`` step, inline base64 (what a GET returns) or a
  Files API uri (``delivery: uri``); fetching a uri sends the API key, so only a file of the
  configured API host is fetched, and on that host;
- the Interactions API has no lookup by external id: a create whose answer is lost is
  ``AmbiguousSubmission``. The SDK's own retries are turned off, so nothing resends a paid
  create behind the core's back.

How Omni says "blocked" is not documented: a completed interaction without a video (what a
third-party client observed) and a failed one whose error names safety, a policy, a block or
an invalid argument are refusals (``refused=True``: not resent).
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from google.genai import _interactions as compat
from google.genai import types
from ministudio import http
from ministudio.engines import EngineContext
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MinistudioError,
    TransientError,
)
from ministudio.http import tls_context
from ministudio.jobs import JobStatus, Submission, VideoRequest, VideoResult

from ministudio_veo import GEMINI_KEYS, OMNI, specs
from ministudio_veo._catalog import OMNI_DEFAULT, OMNI_MODELS, OMNI_PRICES
from ministudio_veo._errors import KeyRejected

if TYPE_CHECKING:
    from google import genai

DEFAULT_BASE = "https://generativelanguage.googleapis.com"
MIN_SECONDS, MAX_SECONDS = 3.0, 10.0
RUNNING = {"in_progress", "requires_continuation", "idle"}
REFUSAL = re.compile(r"safety|polic|block|prohibit|filter|invalid[_ ]argument", re.IGNORECASE)
FILE_PATH = re.compile(r"^/v1(?:beta)?/files/([a-z0-9-]+)(?::download)?$")


# -- the hooks' work ------------------------------------------------------------------------
async def submit(request: VideoRequest, context: EngineContext) -> Submission:
    """Create the interaction (a new clip, or an edit of the engine's last take)."""
    body = _body(request, context)  # the images are read before anything leaves
    client, transport = _client(context)
    try:
        context.sending()  # the paid request leaves now
        interaction = await _interactions(client).create(**body)
    except compat.APIStatusError as exc:
        raise _create_failure(exc) from None
    except compat.APIConnectionError as exc:
        if _never_sent(exc):  # connection refused or not made: sending again cannot pay twice
            raise TransientError(OMNI, f"cannot reach the Gemini API ({_why(exc)})") from None
        raise AmbiguousSubmission(
            OMNI,
            f"the request was sent but its answer was lost ({_why(exc)}); the clip may exist "
            "and be billed: the Interactions API offers no lookup by external id",
        ) from None
    except compat.APIError as exc:  # a 200 the SDK could not read
        raise AmbiguousSubmission(
            OMNI, f"the request was accepted but its answer is unreadable ({_why(exc)})"
        ) from None
    finally:
        await transport.aclose()
    job_id = getattr(interaction, "id", None)
    if not isinstance(job_id, str) or not job_id:
        raise AmbiguousSubmission(OMNI, "the request was accepted but its answer has no id")
    return Submission(job_id=job_id)


async def poll(job_id: str, context: EngineContext) -> JobStatus:
    """One ``GET /interactions/{id}``, as a status. A finished one carries its video inline:
    it is kept in the shot's scratch dir, so the download asks for nothing more."""
    found = await _interaction(job_id, context)
    status = status_of(found)
    data = _video(found).get("data")
    if status.state == "succeeded" and isinstance(data, str) and data:
        _write(_kept(job_id, context), _decode(job_id, data))
    return status


async def download(
    job_id: str,
    status: JobStatus,
    output: Path,
    context: EngineContext,
    request: VideoRequest,
) -> VideoResult:
    """Write the clip to ``output`` through a ``.part`` file; nothing is left on failure."""
    data = None
    kept = _kept(job_id, context)
    if status.state == "succeeded" and kept.exists():
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(kept), str(output))
        return _result(job_id, output, request)
    if status.state != "succeeded" or not status.video_url:
        found = await _interaction(job_id, context)
        status = status_of(found)
        data = _video(found).get("data")
    status.check_done(OMNI, refusal="the clip was refused")
    output.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str) and data:
        _write(output, _decode(job_id, data))
    else:
        await _download_file(status.video_url or "", output, context)
    return _result(job_id, output, request)


def _result(job_id: str, output: Path, request: VideoRequest) -> VideoResult:
    return VideoResult(
        path=output, engine_job_id=job_id, model=model_id(request.model), cost=cost(request)
    )


def _kept(job_id: str, context: EngineContext) -> Path:
    """Where a poll keeps a finished clip for the download (the shot's scratch dir)."""
    return Path(context.work_dir) / f"omni-{re.sub(r'[^A-Za-z0-9_-]', '_', job_id)}.mp4"


def _write(path: Path, data: bytes) -> None:
    """``data`` at ``path`` through a ``.part`` file; nothing left behind on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        part.write_bytes(data)
        part.replace(path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def cost(request: VideoRequest) -> float:
    """What ``request`` costs: the seconds asked for at the resolution's price (an edit makes
    a whole new clip, so it costs one)."""
    return round(_seconds(request) * OMNI_PRICES[_resolution(request)[0]], 6)


def model_id(model: str | None) -> str:
    """The API's id for a declared id or alias (``omni-1.2``), or ``model`` as given."""
    from ministudio.engines.lifecycle import find

    declared = find(OMNI_MODELS, model or OMNI_DEFAULT)
    return declared.id if declared else (model or OMNI_DEFAULT)


# -- requests -------------------------------------------------------------------------------
def _body(request: VideoRequest, context: EngineContext) -> dict[str, Any]:
    """The create body: the input, the response format, and the job's settings."""
    ratio = request.aspect_ratio
    if ratio not in ("16:9", "9:16"):
        raise EngineRefusal(OMNI, f"Omni makes 16:9 or 9:16 clips, not {ratio}")
    body: dict[str, Any] = {
        "model": model_id(request.model),
        "response_format": {
            "type": "video",
            "aspect_ratio": ratio,
            "resolution": _resolution(request)[1],
            "duration": f"{_seconds(request):g}s",
        },
        "background": True,  # a job to poll (or to be told about), not a held connection
        "store": True,  # kept server-side, so the edit rung can change it
    }
    if request.edit is not None:
        body["previous_interaction_id"] = request.edit.job_id
        body["input"] = _instruction(request.edit.reasons)
    else:
        body["input"] = _input(request)
        task = request.options.get("task")
        if isinstance(task, str) and task:
            body["generation_config"] = {"video_config": {"task": task}}
    if context.webhook_url and not context.env.get("GEMINI_WEBHOOK_SECRET"):
        # A per-request ("dynamic") webhook, signed with a JWT. With GEMINI_WEBHOOK_SECRET
        # set, the project's registered ("static") webhook is meant to point at the render's
        # URL: it is left to report (per-request uris would be used "instead of the
        # registered webhooks", SDK WebhookConfig docstring) and signs with that secret.
        body["webhook_config"] = {"uris": [context.webhook_url]}
        from ministudio_veo import _webhooks

        _webhooks.warm(context.env)  # the pushes will be checked against Google's key set
    return body


def _input(request: VideoRequest) -> str | list[dict[str, Any]]:
    """The prompt alone, or image blocks and the prompt, each image's role tagged."""
    prompt = _prompt(request)
    images: list[Path] = []
    sources: list[str] = []
    if request.first_frame is not None:
        images.append(request.first_frame)
        sources.append(f"<FIRST_FRAME>@Image{len(images)}")
        if request.last_frame is not None:
            images.append(request.last_frame)
            sources.append(f"<LAST_FRAME>@Image{len(images)}")
    references: list[str] = []
    named: list[str] = []
    for path, who in _references(request):
        images.append(path)
        tag = f"<IMAGE_REF_{len(references)}>"
        references.append(f"{tag}@Image{len(images)}")
        named.append(f"{tag} shows {who}.")
    if not images:
        return prompt
    header = []
    if sources:
        header.append(f"[# Sources {' '.join(sources)}]")
    if references:
        header.append(f"[# References {' '.join(references)}]")
    text = " ".join(header) + "\n" + " ".join([*named, prompt]).strip()
    return [*(_image(path) for path in images), {"type": "text", "text": text}]


def _references(request: VideoRequest) -> list[tuple[Path, str]]:
    """Up to five reference images (Google's advice), characters first, then the place."""
    limit = specs()[0].capabilities.max_references
    found = [
        (Path(p), f"{c.name} ({c.dna})" if c.dna else c.name)
        for c in request.shot.characters
        for p in c.reference_images
    ]
    place = request.shot.environment
    found += [(Path(p), f"the place: {place.description}") for p in place.reference_images]
    return found[:limit]


def _instruction(reasons: tuple[str, ...]) -> str:
    """An edit turn's input: what to fix, in the checks' words, and nothing else changed."""
    fixes = "; ".join(r.strip().rstrip(".") for r in reasons if r.strip()) or "its flaws"
    return f"Edit this video to fix what is wrong with it: {fixes}. Keep everything else the same."


def _prompt(request: VideoRequest) -> str:
    prompt = request.prompt
    return prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True)


def _image(path: Path) -> dict[str, Any]:
    mime = mimetypes.guess_type(str(path))[0] or "image/png"
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return {"type": "image", "mime_type": mime, "data": data}


def _seconds(request: VideoRequest) -> float:
    return round(min(max(request.duration, MIN_SECONDS), MAX_SECONDS), 2)


def _resolution(request: VideoRequest) -> tuple[str, str]:
    """(the film's resolution, Omni's name for it): 2160p is Omni's "4k"."""
    side = min(request.width, request.height)
    if side >= 2160:
        return "2160p", "4k"
    if side >= 1080:
        return "1080p", "1080p"
    if side >= 720:
        return "720p", "720p"
    return "360p", "360p"


# -- statuses -------------------------------------------------------------------------------
def status_of(interaction: Any) -> JobStatus:
    """An interaction (the SDK's model) as a job status."""
    data = _plain(interaction)
    job_id = str(data.get("id") or "")
    state = str(data.get("status") or "")
    if state in RUNNING:
        return JobStatus(job_id=job_id, state="running")
    if state == "queued":
        return JobStatus(job_id=job_id, state="queued")
    if state == "completed":
        video = _video(data)
        if not video:
            text = _text(data)
            why = "Omni finished without a video (its safety filters may have blocked it)"
            return JobStatus(
                job_id=job_id,
                state="failed",
                error=f"{why}: {text}" if text else why,
                refused=True,
            )
        uri = video.get("uri") if not video.get("data") else None
        return JobStatus(
            job_id=job_id, state="succeeded", video_url=uri if isinstance(uri, str) else None
        )
    if state == "failed":
        why = _errors(data) or "no reason given"
        return JobStatus(
            job_id=job_id, state="failed", error=why, refused=bool(REFUSAL.search(why))
        )
    if state in ("cancelled", "incomplete", "budget_exceeded", "requires_action"):
        why = _errors(data)
        return JobStatus(
            job_id=job_id,
            state="failed",
            error=f"the interaction ended {state.replace('_', ' ')}" + (f": {why}" if why else ""),
        )
    return JobStatus(job_id=job_id, state="running")  # a state added since: ask again later


def _plain(interaction: Any) -> dict[str, Any]:
    if isinstance(interaction, dict):
        return interaction
    dump = getattr(interaction, "model_dump", None)
    data = dump(mode="json", exclude_none=True) if callable(dump) else {}
    return data if isinstance(data, dict) else {}


def _outputs(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The model_output steps of the last turn (after the last user_input), in order."""
    steps = [s for s in data.get("steps") or [] if isinstance(s, dict)]
    last_input = max((i for i, s in enumerate(steps) if s.get("type") == "user_input"), default=-1)
    return [s for s in steps[last_input + 1 :] if s.get("type") == "model_output"]


def _video(interaction: Any) -> dict[str, Any]:
    """The last video block of the last turn, or {}."""
    videos = [
        block
        for step in _outputs(_plain(interaction))
        for block in step.get("content") or []
        if isinstance(block, dict) and block.get("type") == "video"
    ]
    return videos[-1] if videos else {}


def _text(data: dict[str, Any]) -> str:
    texts = [
        str(block.get("text"))
        for step in _outputs(data)
        for block in step.get("content") or []
        if isinstance(block, dict) and block.get("type") == "text" and block.get("text")
    ]
    return " ".join(texts)[:300]


def _errors(data: dict[str, Any]) -> str:
    found = [e for e in data.get("errors") or [] if isinstance(e, dict)]
    found += [s["error"] for s in _outputs(data) if isinstance(s.get("error"), dict)]
    return "; ".join(
        str(e.get("message") or e.get("status") or e.get("code") or "") for e in found
    ).strip("; ")[:500]


def _decode(job_id: str, data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise EngineError(
            OMNI, f"job {job_id}: the video came back garbled; render again"
        ) from None


# -- calls ----------------------------------------------------------------------------------
async def _interaction(job_id: str, context: EngineContext) -> Any:
    client, transport = _client(context)
    try:
        return await _interactions(client).get(job_id)
    except compat.APIStatusError as exc:
        if exc.status_code == 404:
            raise EngineError(OMNI, f"job {job_id} is unknown to the Gemini API") from None
        raise _failure(exc, f"status of job {job_id}") from None
    except compat.APIError as exc:
        raise TransientError(OMNI, f"status of job {job_id} failed ({_why(exc)})") from None
    finally:
        await transport.aclose()


async def _download_file(uri: str, output: Path, context: EngineContext) -> None:
    """A Files API video, fetched from the configured API host with the key (never from a
    host the answer names)."""
    match = FILE_PATH.match(urlsplit(uri).path)
    if not match:
        raise EngineError(OMNI, "the finished clip names no Gemini file to fetch")
    url = f"{_base(context)}/v1beta/files/{match.group(1)}:download?alt=media"
    headers = {"x-goog-api-key": context.key(specs()[0]) or ""}
    try:
        await http.download(url, output, engine=OMNI, headers=headers, timeout=_timeout(context))
    except http.DownloadError as exc:
        if exc.status in (401, 403):
            raise KeyRejected(OMNI, list(GEMINI_KEYS), exc.status) from None
        raise


def _client(context: EngineContext) -> tuple[genai.Client, httpx.AsyncClient]:
    """A Gemini API client on an httpx client we own (and close)."""
    from google import genai

    tls = tls_context()  # shared: a new one per call costs ~70 ms
    transport = httpx.AsyncClient(timeout=httpx.Timeout(_timeout(context), connect=5.0), verify=tls)
    options = types.HttpOptions(
        base_url=_base(context) + "/",
        httpx_async_client=transport,
        client_args={"verify": tls},  # the SDK's own sync client, never used
        # Its websocket context: without one the SDK loads the CA bundle anew for every
        # client (~50 ms, on the path from a webhook to the download).
        async_client_args={"ssl": tls},
        timeout=int(_timeout(context) * 1000),
    )
    key = context.key(specs()[0])
    return genai.Client(api_key=key, http_options=options), transport


def _interactions(client: genai.Client) -> Any:
    """The client's Interactions resource, with the SDK's retries off: it would resend a
    create after a timeout (a second paid clip); the core retries what is safe to retry."""
    from google.genai._gaos.utils import RetryConfig

    resource = client.aio.interactions
    resource.sdk_configuration.retry_config = RetryConfig("none", None, False)
    return resource


def _base(context: EngineContext) -> str:
    return (context.env.get("GEMINI_BASE_URL") or DEFAULT_BASE).rstrip("/")


def _timeout(context: EngineContext) -> float:
    try:
        return float(context.env.get("OMNI_TIMEOUT") or 120.0)
    except ValueError:
        return 120.0


# -- errors ---------------------------------------------------------------------------------
def _create_failure(exc: compat.APIStatusError) -> MinistudioError:
    code = int(exc.status_code or 0)
    if code in (400, 404, 422) and not _bad_key(exc):  # nothing was made nor billed
        return EngineRefusal(OMNI, _message(exc))
    return _failure(exc, "submit")


def _failure(exc: compat.APIStatusError, what: str) -> MinistudioError:
    code = int(exc.status_code or 0)
    if code in (401, 403) or _bad_key(exc):
        return KeyRejected(OMNI, list(GEMINI_KEYS), code)
    if code in (408, 429) or code >= 500:
        retry = http.retry_after(exc.response.headers)
        return TransientError(OMNI, f"{what}: {_message(exc)} (HTTP {code})", retry_after=retry)
    return EngineError(OMNI, f"{what}: {_message(exc)} (HTTP {code})")


def _bad_key(exc: compat.APIStatusError) -> bool:
    text = f"{exc.message} {exc.body}"
    return "API_KEY_INVALID" in text or "API key not valid" in text


def _message(exc: compat.APIStatusError) -> str:
    """Google's message from the error body, else the SDK's."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = body["error"].get("message")
        if message:
            return str(message)[:500]
    return str(exc.message or "no message")[:500]


def _never_sent(exc: BaseException) -> bool:
    cause = exc.__cause__
    while cause is not None and not isinstance(cause, httpx.HTTPError):
        cause = cause.__cause__
    return isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


def _why(exc: BaseException) -> str:
    cause = exc.__cause__ if isinstance(exc.__cause__, httpx.HTTPError) else exc
    return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
