"""The Kling fake's task records (video and element tasks) and the JSON shapes it answers them
in: the create answer, a query's ``data``, a callback body, an element. Shapes from Kling's own
docs (OD-2026-03 = the official docs' copy ``docs/kling_full.md`` in
github.com/artykrd/ai-bot-misha @ 1455ed3); see ``kling_server`` for the wire."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .kling_rules import ElementInfo, ImageInfo

TERMINAL = ("succeed", "failed")
# "Task status, Enum values: submitted, processing, succeed, failed" (OD-2026-03)
STATUSES = ("submitted", "processing", "succeed", "failed")
# Preset elements (GET /v1/general/advanced-presets-elements, owned_by "kling"): the fake's.
PRESET_ELEMENTS = (ElementInfo(800000000000000001, "image_refer"),)


@dataclass
class Job:
    """What video and element tasks share: identity, status and callbacks."""

    task_id: str
    external_task_id: str | None
    callback_url: str | None
    latency: float
    submitted_at: float  # time.monotonic()
    created_at: int  # ms since the epoch
    updated_at: int
    status: str = "submitted"
    status_msg: str = ""
    planned_failure: str | None = None
    done_at: float | None = None
    units: float = 0.0  # deducted when it succeeds
    get_requests: int = 0

    @property
    def in_flight(self) -> bool:
        return self.status not in TERMINAL


@dataclass
class KlingTask(Job):
    """One accepted video task, as the server sees it."""

    kind: str = "text2video"  # text2video | image2video | omni-video
    model: str = ""
    mode: str = "std"
    duration: int = 5
    prompt: str = ""
    request: dict[str, Any] = field(default_factory=dict)  # the body, images summarised
    images: dict[str, ImageInfo] = field(default_factory=dict)
    width: int = 0  # nominal
    height: int = 0
    render_width: int = 16
    render_height: int = 16
    fps: int = 24
    sound: bool = False
    watermark: bool = False
    multi_shot: bool = False
    element_ids: tuple[int, ...] = ()
    video_id: str = ""
    path: Path | None = None
    cost_usd: float = 0.0
    downloads: int = 0
    # lip-sync tasks (kling_lipsync): the input video, whether task_info shows the external
    # id (a switch), and the exact length
    parent_video: dict[str, Any] | None = None
    echo_external: bool = True
    seconds: float = 0.0


@dataclass
class ElementTask(Job):
    """One element creation task (OD-2026-03 "Element")."""

    element_id: int = 0
    reference_type: str = "image_refer"
    request: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False


@dataclass
class WebhookDelivery:
    task_id: str
    status: str
    url: str
    attempts: int
    delivered: bool
    payload: dict[str, Any] = field(default_factory=dict)


def video_url(base_url: str, task: KlingTask, watermark: bool = False) -> str:
    suffix = "-wm" if watermark else ""
    return f"{base_url}/cdn/{task.task_id}/{task.video_id}{suffix}.mp4"


def info(job: Job) -> dict[str, Any]:
    """``task_info``: ``{"external_task_id"}`` when one was given (else empty); a lip-sync
    task's ``parent_video`` too (OD-2026-03 Lip-Sync Query Task), its external id as the
    switch ``lipsync_echo_external`` says."""
    shown = {"external_task_id": job.external_task_id} if job.external_task_id else {}
    if isinstance(job, KlingTask) and job.parent_video is not None:
        return {"parent_video": job.parent_video, **(shown if job.echo_external else {})}
    return shown


def deducted(job: Job) -> str:
    """``final_unit_deduction`` (a string): the units once it succeeded, else "0"."""
    return f"{job.units if job.status == 'succeed' else 0:g}"


def created_json(job: Job) -> dict[str, Any]:
    """The create answer's ``data`` (OD-2026-03 Create Task, 200)."""
    return {
        "task_id": job.task_id,
        "task_info": info(job),
        "task_status": job.status,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }


def videos(base_url: str, task: KlingTask, *, marks: bool) -> list[dict[str, Any]]:
    """``task_result.videos``: ``duration`` a string of seconds; ``watermark_url`` (query
    only) when ``watermark_info.enabled`` was asked."""
    video = {
        "id": task.video_id,
        "url": video_url(base_url, task),
        "duration": f"{task.seconds:g}" if task.seconds else f"{task.duration}.0",
    }
    if marks and task.watermark:
        video["watermark_url"] = video_url(base_url, task, watermark=True)
    return [video]


def task_json(base_url: str, task: KlingTask) -> dict[str, Any]:
    """A query's ``data`` (OD-2026-03 Query Task (Single), 200)."""
    data: dict[str, Any] = {
        "task_id": task.task_id,
        "task_status": task.status,
        "task_status_msg": task.status_msg,
        "task_info": info(task),
        "watermark_info": {"enabled": task.watermark},
        "final_unit_deduction": deducted(task),
        "created_at": task.created_at,
        "updated_at": task.updated_at,
    }
    if task.status == "succeed":
        data["task_result"] = {"videos": videos(base_url, task, marks=True)}
    return data


def element_entry(job: ElementTask | ElementInfo) -> dict[str, Any]:
    """One of ``task_result.elements`` (OD-2026-03 Query Custom Element (Single))."""
    request = job.request if isinstance(job, ElementTask) else {}
    deleted = isinstance(job, ElementTask) and job.deleted
    return {
        "element_id": job.element_id,
        "element_name": request.get("element_name", "preset"),
        "element_description": request.get("element_description", "a preset element"),
        "reference_type": job.reference_type,
        "element_image_list": request.get("element_image_list", {}),
        "element_video_list": request.get("element_video_list", {}),
        "element_voice_info": {},
        "tag_list": request.get("tag_list", []),
        "owned_by": "kling" if isinstance(job, ElementInfo) else "1",
        "status": "deleted" if deleted else "succeed",  # "succeed ..., deleted when removed"
    }


def element_json(job: ElementTask) -> dict[str, Any]:
    """Query Custom Element (Single)'s ``data`` (OD-2026-03 "Element")."""
    data: dict[str, Any] = {
        "task_id": job.task_id,
        "task_status": job.status,
        "task_status_msg": job.status_msg,
        "task_info": info(job),
        "final_unit_deduction": deducted(job),
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }
    if job.status == "succeed":
        data["task_result"] = {"elements": [element_entry(job)]}
    return data


def preset_json(preset: ElementInfo) -> dict[str, Any]:
    """Query Presets Element (List)'s item for one preset (the fake's timestamps: 0)."""
    return {
        "task_id": str(preset.element_id),
        "task_status": "succeed",
        "task_status_msg": "",
        "task_info": {},
        "task_result": {"elements": [element_entry(preset)]},
        "final_unit_deduction": "0",
        "created_at": 0,
        "updated_at": 0,
    }


def callback_json(base_url: str, job: Job) -> dict[str, Any]:
    """The callback body: the bare task object (OD-2026-03 "Callback Protocol"), no envelope."""
    data: dict[str, Any] = {
        "task_id": job.task_id,
        "task_status": job.status,
        "task_status_msg": job.status_msg,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "final_unit_deduction": deducted(job),
        "task_info": info(job),
    }
    if job.status == "succeed" and isinstance(job, KlingTask):
        data["task_result"] = {"videos": videos(base_url, job, marks=False)}
    if job.status == "succeed" and isinstance(job, ElementTask):
        data["task_result"] = {"elements": [element_entry(job)]}
    return data
