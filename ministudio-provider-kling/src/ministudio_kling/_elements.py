"""Characters as Kling Elements: registered once per character and content, reused like an
upload.

Official docs ("Element", copy of 2026-03): ``POST /v1/general/advanced-custom-elements``
with ``element_name`` (<= 20 characters), ``element_description`` (<= 100),
``reference_type: "image_refer"`` and ``element_image_list`` (a ``frontal_image`` and 1 to 3
``refer_images``, base64 or URL, the image rules of image2video) makes an async task;
``GET /v1/general/advanced-custom-elements/{task_id or external_task_id}`` gives, once
``succeed``, ``task_result.elements[0].element_id``, which image2video's ``element_list``
takes.

Creating one is a side job of its own in the journal (``EngineContext.paid``), keyed by the
API, the character and its images' content: every later shot, render and production sharing
the store reuses the id. Its ``external_task_id`` is ``element-<key>`` (``-<n>`` after failed
ones), and it is looked up by that id before any create, so a crash at any point neither
registers the character twice nor loses it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import anyio
from ministudio.engines import EngineContext, SideJob
from ministudio.errors import EngineRefusal, TransientError
from ministudio.jobs import CharacterBrief

from ministudio_kling import ENGINE, spec
from ministudio_kling._api import ELEMENTS, Answered, Api
from ministudio_kling._errors import refused
from ministudio_kling._ids import MAX_ATTEMPTS

NAME = 20
DESCRIPTION = 100
IMAGES = 4  # the frontal image and up to 3 more
CHARACTER_TAG = "o_102"  # "Character" in the docs' tag table


async def element(character: CharacterBrief, context: EngineContext) -> str:
    """The ``element_id`` of ``character`` (its reference images, the first frontal)."""
    api = Api.of(context)
    images = [Path(p) for p in character.reference_images[:IMAGES]]
    key = _key(api.base, character, images)

    async def make(job: SideJob) -> str:
        if job.job_id is None:  # not created by an earlier run, or its answer was lost
            found, attempt = await _existing(api, key)
            if found is None:
                found = await _create(api, character, images, external_id(key, attempt), job)
            job.accepted(found)
        return await _wait(api, job, context)

    return await context.paid(f"kling-element:{key}", make)


def external_id(key: str, attempt: int) -> str:
    base = f"element-{key[:32]}"
    return base if attempt == 0 else f"{base}-{attempt + 1}"


def _key(base: str, character: CharacterBrief, images: list[Path]) -> str:
    identity = {
        "api": base,
        "character": character.id,
        "name": character.name,
        "description": _description(character),
        "images": [hashlib.sha256(p.read_bytes()).hexdigest() for p in images],
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


async def _existing(api: Api, key: str) -> tuple[str | None, int]:
    """(the task id of this element's live or finished task, looked up by external id, or
    None; the attempt whose external id is free)."""
    for attempt in range(MAX_ATTEMPTS):
        task = await api.task(ELEMENTS, external_id(key, attempt))
        if task is None:
            return None, attempt
        if task.get("task_status") != "failed":
            return str(task["task_id"]), attempt
    raise EngineRefusal(ENGINE, f"element {key[:12]}: failed {MAX_ATTEMPTS} times on Kling")


async def _create(
    api: Api, character: CharacterBrief, images: list[Path], ext: str, job: SideJob
) -> str:
    """Create the element's task under external id ``ext``; its task id."""
    from ministudio_kling import _images

    encoded = [await anyio.to_thread.run_sync(_images.encode, p, None) for p in images]
    body: dict[str, Any] = {
        "element_name": character.name[:NAME] or character.id[:NAME],
        "element_description": _description(character),
        "reference_type": "image_refer",
        "element_image_list": {
            "frontal_image": encoded[0],
            "refer_images": [{"image_url": image} for image in encoded[1:]],
        },
        "tag_list": [{"tag_id": CHARACTER_TAG}],
        "external_task_id": ext,
    }
    job.sending()
    try:
        data = await api.create(ELEMENTS, body)
    except Answered as answer:
        task = await _quiet(api, ext)  # believe no error before asking for the id
        if task is not None and task.get("task_status") != "failed":
            return str(task["task_id"])
        if isinstance(answer.error, EngineRefusal):
            raise EngineRefusal(
                ENGINE,
                f"element for {character.id}: {answer.error.reason}; or set option elements: false",
            ) from None
        raise answer.error from None
    return str(data["task_id"])


async def _wait(api: Api, job: SideJob, context: EngineContext) -> str:
    """Wait for element task ``job.job_id``; its element id."""
    assert job.job_id is not None
    task_id = job.job_id
    latency = spec().capabilities.expected_latency
    interval = min(5.0, max(0.05, latency / 20))
    deadline = anyio.current_time() + _timeout(context)
    while True:
        task = await api.task(ELEMENTS, task_id)
        if task is None:
            job.failed()
            raise TransientError(ENGINE, f"element task {task_id} is gone")
        state = task.get("task_status")
        if state == "succeed":
            found = _element_id(task)
            if found is not None:
                return found
            job.failed()
            raise TransientError(ENGINE, f"element task {task_id} succeeded without an element")
        if state == "failed":
            job.failed()
            reason = str(task.get("task_status_msg") or "no reason given")
            if refused(reason):
                raise EngineRefusal(ENGINE, f"element (Kling): {reason}")
            raise TransientError(ENGINE, f"element task {task_id} failed: {reason}")
        if anyio.current_time() > deadline:
            raise TransientError(ENGINE, f"element task {task_id} is still not done")
        await anyio.sleep(interval)


async def _quiet(api: Api, ext: str) -> dict[str, Any] | None:
    try:
        return await api.task(ELEMENTS, ext)
    except Exception:  # the create's own error is the one to raise
        return None


def _element_id(task: dict[str, Any]) -> str | None:
    result = task.get("task_result")
    found = result.get("elements") if isinstance(result, dict) else None
    first = found[0] if isinstance(found, list) and found else None
    value = first.get("element_id") if isinstance(first, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        return None
    return str(value)


def _description(character: CharacterBrief) -> str:
    return (character.dna.strip() or character.name)[:DESCRIPTION]


def _timeout(context: EngineContext) -> float:
    try:
        return max(1.0, float(context.env.get("KLING_ELEMENT_TIMEOUT") or 600.0))
    except ValueError:
        return 600.0
