"""The hooks' work: submit (never paying twice), poll, download, find by external id,
callbacks, and the price of a clip.

Job ids are Kling's ``task_id``s (what its callbacks name). A task is queried on the endpoint
that made it (``text2video`` or ``image2video``): remembered from the submit in this process,
else found by trying both.

Submitting: ``external_task_id`` is the job key. When Kling refuses the parameters (1200/1201),
the plugin asks whether a task with that id exists: a live or finished one is the job (it was
sent before; it is not sent again), a failed one means "send again under the next id"
(``<key>-2``, ...). Otherwise, if the body had a ``camera_control``, it is sent once more
without it (support varies by model, mode and duration; a refused create is not billed); else
the refusal stands.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ministudio.engines import EngineContext
from ministudio.errors import EngineError
from ministudio.jobs import JobState, JobStatus, Submission, VideoRequest, VideoResult

from ministudio_kling import ENGINE
from ministudio_kling._api import KINDS, Api
from ministudio_kling._errors import ParameterRefusal, refused
from ministudio_kling._request import build, external_id, mode, model, seconds

log = logging.getLogger("ministudio_kling")

MAX_ATTEMPTS = 10  # external ids per job key: <key>, <key>-2, ... <key>-10
STATES: dict[str, JobState] = {
    "submitted": "queued",
    "processing": "running",
    "succeed": "succeeded",
    "failed": "failed",
}
# USD per second of output by (model, mode): the secondary per-clip figures of the wire spec
# (section 3.6: kling-v1 std 5 s 0.14; v1-5/v1-6 std 5 s 0.28; v1-6 pro 5 s 0.49; v2-master
# 5 s 1.40) divided by 5. Other v1 models in pro mode are priced as v1-6 pro; any other model
# at the highest known figure, so that a budget is never understated.
PRICES = {
    ("kling-v1", "std"): 0.028,
    ("kling-v1-5", "std"): 0.056,
    ("kling-v1-6", "std"): 0.056,
    ("kling-v1-6", "pro"): 0.098,
    ("kling-v2-master", "std"): 0.28,
}
HIGHEST = 0.28

_kinds: dict[str, str] = {}  # task id -> the endpoint that made it (this process)


async def submit(request: VideoRequest, key: str, context: EngineContext) -> Submission:
    api = Api.of(context)  # keys first: a missing key costs no image work
    kind, body = await build(request, context)
    attempt = 0
    while True:
        body["external_task_id"] = external_id(key, attempt)
        context.sending()  # the images are encoded: the paid request leaves now
        try:
            data = await api.create(kind, body)
        except ParameterRefusal as refusal:
            existing = await _by_external_id(api, body["external_task_id"])
            if existing is not None:
                if existing.get("task_status") != "failed":
                    return Submission(job_id=str(existing["task_id"]))  # already sent
                attempt += 1
                if attempt >= MAX_ATTEMPTS:
                    raise EngineError(
                        ENGINE, f"job {key} failed on Kling {MAX_ATTEMPTS} times: not sent again"
                    ) from None
                continue
            if "camera_control" in body:
                log.warning(
                    "kling: shot %s: Kling refused its camera_control (%s); sent without it",
                    request.shot.shot_id,
                    refusal.reason,
                )
                del body["camera_control"]
                continue
            raise
        task_id = str(data["task_id"])
        _kinds[task_id] = kind
        return Submission(job_id=task_id)


async def poll(job_id: str, context: EngineContext) -> JobStatus:
    task = await _task(Api.of(context), job_id)
    if task is None:
        raise EngineError(ENGINE, f"task {job_id} is unknown to Kling")
    return status_of(task)


async def download(
    job_id: str, status: JobStatus, output: Path, context: EngineContext, request: VideoRequest
) -> VideoResult:
    api = Api.of(context)
    if status.state != "succeeded" or not status.video_url:  # ask Kling where it is
        task = await _task(api, job_id)
        if task is None:
            raise EngineError(ENGINE, f"task {job_id} is unknown to Kling")
        status = status_of(task)
    status.check_done(ENGINE, noun="task", refusal="the task failed a content check", url=True)
    await api.download(status.video_url or "", output)
    return VideoResult(path=output, engine_job_id=job_id, model=model(request), cost=cost(request))


async def find(key: str, context: EngineContext) -> str | None:
    """The task sent for job ``key`` whose answer was lost: the newest of its external ids,
    unless that one failed (then the job is sent again, under the next id)."""
    api = Api.of(context)
    newest: dict[str, Any] | None = None
    for attempt in range(MAX_ATTEMPTS):
        task = await _by_external_id(api, external_id(key, attempt))
        if task is None:
            break
        newest = task
    if newest is None or newest.get("task_status") == "failed":
        return None
    return str(newest["task_id"])


def parse_webhook(body: bytes) -> JobStatus | None:
    """A Kling callback (the task, without the envelope) as a status; None if it is not one.
    Callbacks are not signed (Kling documents no signature), so one that says the task
    ended is only a hint: it comes back thin, and the core asks Kling for the task before
    anything is downloaded. Progress is taken as it is."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(data, dict) and "task_id" not in data and isinstance(data.get("data"), dict):
        data = data["data"]  # tolerate the envelope
    if not isinstance(data, dict) or "task_status" not in data:
        return None
    if not isinstance(data.get("task_id"), (str, int)) or isinstance(data.get("task_id"), bool):
        return None
    status = status_of(data)
    if status.state in ("succeeded", "failed"):
        return JobStatus(job_id=status.job_id, state="running", thin=True)
    return status


def status_of(task: dict[str, Any]) -> JobStatus:
    raw = task.get("task_status")
    state: JobState = STATES.get(raw if isinstance(raw, str) else "", "running")
    message = task.get("task_status_msg")
    error = str(message) if message else None
    url = _video_url(task)
    if state == "succeeded" and url is None:
        state, error = "failed", error or "the task succeeded without a video"
    failed = state == "failed"
    return JobStatus(
        job_id=str(task["task_id"]),
        state=state,
        error=(error or "no reason given") if failed else None,
        refused=failed and refused(error),
        video_url=url if state == "succeeded" else None,
    )


def cost(request: VideoRequest) -> float:
    """What ``request`` costs: its model and mode's price for the seconds sent."""
    return round(price(model(request), mode(request)) * seconds(request), 6)


def price(name: str, how: str) -> float:
    """USD per second for model ``name`` in mode ``how`` (see ``PRICES``)."""
    known = PRICES.get((name, how))
    if known is not None:
        return known
    if name.startswith("kling-v1"):
        return PRICES[("kling-v1-6", how if how == "pro" else "std")]
    return HIGHEST


# -- lookups --------------------------------------------------------------------------------
async def _task(api: Api, task_id: str) -> dict[str, Any] | None:
    known = _kinds.get(task_id)
    for kind in (known,) if known else KINDS:
        task = await api.task(kind, task_id)
        if task is not None:
            _kinds[task_id] = kind
            return task
    return None


async def _by_external_id(api: Api, ext: str) -> dict[str, Any] | None:
    for kind in KINDS:
        task = await api.task(kind, ext)
        if task is not None:
            _kinds[str(task["task_id"])] = kind
            return task
    return None


def _video_url(task: dict[str, Any]) -> str | None:
    result = task.get("task_result")
    videos = result.get("videos") if isinstance(result, dict) else None
    first = videos[0] if isinstance(videos, list) and videos else None
    url = first.get("url") if isinstance(first, dict) else None
    return url if isinstance(url, str) and url else None
