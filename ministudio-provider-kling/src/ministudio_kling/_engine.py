"""The hooks' work: submit (never paying twice), poll, download, find by external id,
callbacks, and the price of a clip.

Job ids name their endpoint (``image2video:<task_id>``, see ``_ids``): poll and download ask
that endpoint only.

Submitting never trusts an undocumented answer. Before each create the task's external id
is looked up (the documented ``GET /v1/videos/{endpoint}/{external_task_id}``; Kling counts
no concurrency or rate for queries): a live or finished task under it is the job, sent
before (resumed, not sent again); a failed one moves on to the next id (``<id>-2``, ...);
none means the id is free and the create goes out. A create Kling answers with an error is
looked up the same way before the error is believed (a reused external id may be answered
with any code: the docs do not say which); a create answered with a failed task (a reused
id answered with its old task) moves on to the next id too.
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
from ministudio_kling._api import VIDEOS, Answered, Api
from ministudio_kling._errors import refused
from ministudio_kling._ids import (
    MAX_ATTEMPTS,
    VIDEO_KINDS,
    external_id,
    job_id,
    kind_of_external,
    parse_job,
)
from ministudio_kling._prices import price
from ministudio_kling._request import build, kind, mode, model, plan, seconds

log = logging.getLogger("ministudio_kling")

STATES: dict[str, JobState] = {
    "submitted": "queued",
    "processing": "running",
    "succeed": "succeeded",
    "failed": "failed",
}


async def submit(request: VideoRequest, key: str, context: EngineContext) -> Submission:
    api = Api.of(context)  # keys first: a missing key costs no image work
    endpoint, body = await build(request, context)
    path = f"{VIDEOS}/{endpoint}"
    attempt = 0
    while attempt < MAX_ATTEMPTS:
        ext = external_id(endpoint, key, attempt)
        task = await api.task(path, ext)
        if task is None:  # the id is free: send
            body["external_task_id"] = ext
            context.sending()  # the images are encoded: the paid request leaves now
            try:
                task = await api.create(path, body)
            except Answered as answer:
                task = await quiet(api, path, ext)  # an error may be a taken id: ask
                if task is None:
                    raise answer.error from None
        if task.get("task_status") != "failed":
            return Submission(job_id=job_id(endpoint, str(task["task_id"])))
        attempt += 1  # a failed task keeps its id: the job goes again under the next
    raise EngineError(ENGINE, f"job {key} failed on Kling {MAX_ATTEMPTS} times: not sent again")


async def poll(job: str, context: EngineContext) -> JobStatus:
    return status_of(await task_of(Api.of(context), job), job)


async def download(
    job: str, status: JobStatus, output: Path, context: EngineContext, request: VideoRequest
) -> VideoResult:
    api = Api.of(context)
    if status.state != "succeeded" or not status.video_url:  # ask Kling where it is
        status = status_of(await task_of(api, job), job)
    status.check_done(ENGINE, noun="task", refusal="the task failed a content check", url=True)
    await api.download(status.video_url or "", output)
    return VideoResult(path=output, engine_job_id=job, model=model(request), cost=cost(request))


async def find(key: str, context: EngineContext, request: VideoRequest) -> str | None:
    """The task sent for job ``key`` whose answer was lost, looked up by its external ids on
    the endpoint ``request`` goes to: the newest, unless it failed (then the job is sent
    again, under the next id); None if Kling has none."""
    api = Api.of(context)
    endpoint = kind(request)
    path = f"{VIDEOS}/{endpoint}"
    newest: dict[str, Any] | None = None
    for attempt in range(MAX_ATTEMPTS):
        task = await api.task(path, external_id(endpoint, key, attempt))
        if task is None:
            break
        newest = task
    if newest is None or newest.get("task_status") == "failed":
        return None
    return job_id(endpoint, str(newest["task_id"]))


def parse_webhook(body: bytes, kinds: tuple[str, ...] = VIDEO_KINDS) -> JobStatus | None:
    """A Kling callback (the task, without the envelope) as a status; None if it is not one
    of ours (made on one of ``kinds``). Callbacks are not signed (Kling documents no
    signature), so one that says the task ended is only a hint: it comes back thin, and the
    core asks Kling for the task before anything is downloaded. Progress is taken as it is.
    The job id's endpoint comes from the task's ``task_info.external_task_id`` (``_ids``)."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(data, dict) and "task_id" not in data and isinstance(data.get("data"), dict):
        data = data["data"]  # tolerate the envelope
    if not isinstance(data, dict) or "task_status" not in data:
        return None
    task_id = data.get("task_id")
    if not isinstance(task_id, (str, int)) or isinstance(task_id, bool):
        return None
    info = data.get("task_info")
    ext = info.get("external_task_id") if isinstance(info, dict) else None
    endpoint = kind_of_external(ext, kinds)
    if endpoint is None:
        return None  # not a task of ours (an element's, or another client's): polls decide
    job = job_id(endpoint, str(task_id))
    status = status_of(data, job)
    if status.state in ("succeeded", "failed"):
        return JobStatus(job_id=job, state="running", thin=True)
    return status


def status_of(task: dict[str, Any], job: str) -> JobStatus:
    """Kling's task as the status of job ``job``."""
    raw = task.get("task_status")
    state: JobState = STATES.get(raw if isinstance(raw, str) else "", "running")
    message = task.get("task_status_msg")
    error = str(message) if message else None
    url = _video_url(task)
    if state == "succeeded" and url is None:
        state, error = "failed", error or "the task succeeded without a video"
    failed = state == "failed"
    return JobStatus(
        job_id=job,
        state=state,
        error=(error or "no reason given") if failed else None,
        refused=failed and refused(error),
        video_url=url if state == "succeeded" else None,
    )


def cost(request: VideoRequest) -> float:
    """What ``request`` costs: its model, mode and sound's price for the seconds sent."""
    name, how = model(request), mode(request)
    try:
        sound = plan(request).sound
    except EngineError:  # a request Kling cannot take costs nothing: it is never sent
        return 0.0
    return round(price(name, how, sound=sound) * seconds(request), 6)


# -- lookups --------------------------------------------------------------------------------
async def task_of(api: Api, job: str) -> dict[str, Any]:
    endpoint, task_id = parse_job(job)
    task = await api.task(f"{VIDEOS}/{endpoint}", task_id)
    if task is None:
        raise EngineError(ENGINE, f"task {task_id} is unknown to Kling ({endpoint})")
    return task


async def quiet(api: Api, path: str, ext: str) -> dict[str, Any] | None:
    """The task under ``ext``, or None, also when the lookup itself fails."""
    try:
        return await api.task(path, ext)
    except Exception:  # the create's own error is the one to raise
        log.debug("kling: looking up %s after a refused create failed", ext, exc_info=True)
        return None


def _video_url(task: dict[str, Any]) -> str | None:
    result = task.get("task_result")
    videos = result.get("videos") if isinstance(result, dict) else None
    first = videos[0] if isinstance(videos, list) and videos else None
    url = first.get("url") if isinstance(first, dict) else None
    return url if isinstance(url, str) and url else None
