"""The ids the plugin makes: job ids that name their endpoint, and external task ids.

A task is queried only on the endpoint that made it (official docs: each of
``/v1/videos/text2video`` and ``/v1/videos/image2video`` has its own "Query Task (Single)"),
so the job id the core records is ``<endpoint>:<task_id>`` (``image2video:8668...``) and
poll and download ask that endpoint alone.

``external_task_id`` ("must be unique within a single user account", official docs) is
``<endpoint>-<job key>`` for a job's first task and ``<endpoint>-<job key>-<n>`` for the n-th,
after earlier ones failed. The endpoint in it lets a callback (which carries
``task_info.external_task_id`` but not the endpoint) name the job as the core recorded it.
"""

from __future__ import annotations

from ministudio.errors import EngineError

from ministudio_kling import ENGINE
from ministudio_kling._models import IMAGE2VIDEO, TEXT2VIDEO

LIPSYNC = "advanced-lip-sync"  # the engine kling-lipsync: /v1/videos/advanced-lip-sync
VIDEO_KINDS = (TEXT2VIDEO, IMAGE2VIDEO)
KINDS = (*VIDEO_KINDS, LIPSYNC)
MAX_ATTEMPTS = 10  # external ids per job key: a job whose tasks failed 10 times stops


def job_id(kind: str, task_id: str) -> str:
    """The job id the core records for task ``task_id`` made on endpoint ``kind``."""
    return f"{kind}:{task_id}"


def parse_job(job: str) -> tuple[str, str]:
    """(endpoint, task id) of a job id; an ``EngineError`` for one that names no endpoint
    (made by plugin 0.1, which looked tasks up on every endpoint in turn)."""
    kind, sep, task = job.partition(":")
    if not sep or kind not in KINDS or not task:
        raise EngineError(
            ENGINE,
            f"job {job!r} does not name its Kling endpoint (made by an older plugin?): "
            "render the shot again (`ministudio render --forget-lost` if it is in flight)",
        )
    return kind, task


def external_id(kind: str, key: str, attempt: int) -> str:
    """The ``external_task_id`` of the ``attempt``-th task (from 0) of job ``key``."""
    base = f"{kind}-{key}"
    return base if attempt == 0 else f"{base}-{attempt + 1}"


def kind_of_external(ext: object, kinds: tuple[str, ...] = KINDS) -> str | None:
    """The endpoint (of ``kinds``) an external task id of ours names, or None."""
    if not isinstance(ext, str):
        return None
    return next((k for k in kinds if ext.startswith(f"{k}-")), None)
