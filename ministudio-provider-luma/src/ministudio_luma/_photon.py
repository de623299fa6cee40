"""``luma-dream-machine``'s identity keyframes: a Photon image (``photon-1``, character
reference) that a shot with a referenced character and no first frame starts from. A paid side
job of its own in the journal (``context.paid``). Imported by the hooks only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ministudio.engines import EngineContext, EngineSpec, SideJob
from ministudio.errors import EngineError, EngineRefusal, TransientError

from ministudio_luma._catalog import DM_MAX_CHARACTER_REFS, dream_machine_spec
from ministudio_luma._client import timeout
from ministudio_luma._dream_machine import (
    ENGINE,
    MAX_PROMPT,
    REFUSAL_WORDS,
    _client,
    _detail,
    _failure,
    _get_job,
    _why,
)

if TYPE_CHECKING:
    from ministudio.jobs import VideoRequest

IMAGE_MODEL: Final = "photon-1"
MAX_CHARACTER_REFS = DM_MAX_CHARACTER_REFS


async def identity_frame(request: VideoRequest, context: EngineContext) -> str | None:
    """A Photon keyframe (its URL) holding the shot's first referenced character, or None.

    Used when the shot has no first frame, a character in it has reference images and the
    engine option ``identity`` is not false. One image per (reference images' content,
    environment, lighting, aspect ratio), kept by the core (``context.once``): shots, runs
    and productions that match share it.
    """
    import hashlib

    if request.first_frame is not None or request.options.get("identity", True) is False:
        return None
    character = next((c for c in request.shot.characters if c.reference_images), None)
    if character is None:
        return None
    images = [Path(p) for p in character.reference_images[:MAX_CHARACTER_REFS]]
    environment = request.shot.environment
    place = environment.description.strip()
    if environment.lighting:
        place = f"{place}, {environment.lighting}"
    prompt = f"@character {character.name}, {character.dna}, in {place}"
    if request.shot.style:
        prompt = f"{prompt}; {request.shot.style}"
    prompt = prompt[:MAX_PROMPT]
    identity = {
        "api": (context.env.get("LUMAAI_BASE_URL") or "").rstrip("/"),
        "model": IMAGE_MODEL,
        "images": [hashlib.sha256(p.read_bytes()).hexdigest() for p in images],
        "prompt": prompt,
        "ratio": request.aspect_ratio,
    }
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()

    async def make(job: SideJob) -> str:
        urls = [await context.upload(p) for p in images]
        asked = {"prompt": prompt, "aspect_ratio": request.aspect_ratio, "refs": urls}
        if job.job_id is None and job.lost_since is not None:  # sent before, answer lost
            from ministudio_luma._dm_lookup import find_image

            found = await find_image(asked, job.lost_since, context)
            if found is not None:
                job.accepted(found)
        if job.job_id is None:
            job.accepted(await _photon(asked, job, context))
        assert job.job_id is not None
        return await _photon_image(job.job_id, job, context)

    return await context.paid(f"photon:{key}", make)


async def _photon(asked: dict[str, Any], job: SideJob, context: EngineContext) -> str:
    """Create one Photon image with ``asked["refs"]`` as identity0; its generation id."""
    import lumaai

    client = _client(context)
    try:
        job.sending()
        generation = await client.generations.image.create(
            model=IMAGE_MODEL,
            prompt=asked["prompt"],
            aspect_ratio=asked["aspect_ratio"],
            character_ref={"identity0": {"images": asked["refs"]}},
        )
    except lumaai.APIStatusError as exc:
        if exc.status_code in (400, 422):
            raise EngineRefusal(
                ENGINE, f"identity keyframe (Photon): {_detail(exc)}; or set option identity: false"
            ) from None
        raise _failure(exc, "identity keyframe (Photon)") from None
    except lumaai.APIError as exc:
        # The image may exist: the journal says it was sent, so the next try looks it up
        # among the account's generations before making another.
        raise TransientError(ENGINE, f"identity keyframe (Photon) failed ({_why(exc)})") from None
    finally:
        await client.close()
    image_id = getattr(generation, "id", None)
    if not isinstance(image_id, str) or not image_id:
        raise TransientError(ENGINE, "identity keyframe (Photon): the answer has no id")
    return image_id


async def _photon_image(image_id: str, job: SideJob, context: EngineContext) -> str:
    """Wait for Photon generation ``image_id``; its image URL."""
    latency = dream_machine_spec().capabilities.expected_latency
    job_json = await settled(image_id, context, latency, "identity keyframe")
    if job_json is None:  # gone (deleted): make another
        job.failed()
        raise TransientError(ENGINE, f"identity keyframe {image_id} is gone")
    if job_json.get("state") == "completed":
        url = image_url(job_json)
        if url:
            return url
        job.failed()
        raise EngineError(ENGINE, f"identity keyframe {image_id} completed without image")
    job.failed()
    reason = str(job_json.get("failure_reason") or "no reason given")
    if any(w in reason.lower() for w in REFUSAL_WORDS):
        raise EngineRefusal(ENGINE, f"identity keyframe (Photon): {reason}")
    raise TransientError(ENGINE, f"identity keyframe {image_id} failed: {reason}")


async def settled(
    image_id: str,
    context: EngineContext,
    latency: float,
    what: str,
    spec: EngineSpec | None = None,
) -> dict[str, Any] | None:
    """Poll Photon generation ``image_id`` until it is ``completed`` or ``failed``: the
    generation as Luma has it, or None if it is gone (deleted). Polled every twentieth of
    ``latency`` (0.05 s to 1 s), for ``LUMA_TIMEOUT`` or ten latencies, whichever is longer;
    up to five status requests in a row may fail in passing. Errors name ``spec``'s engine."""
    import anyio

    engine = spec.id if spec is not None else ENGINE
    interval = min(1.0, max(0.05, latency / 20))
    deadline = anyio.current_time() + max(timeout(context), 10 * latency)
    misses = 0
    while True:
        try:
            job_json: dict[str, Any] | None = await _get_job(image_id, context, spec)
        except TransientError:
            misses += 1
            if misses > 5:
                raise
            job_json = None
        except EngineError:
            return None
        if job_json is not None and job_json.get("state") in ("completed", "failed"):
            return job_json
        if anyio.current_time() > deadline:
            raise TransientError(engine, f"{what} {image_id} is still not done")
        await anyio.sleep(interval)


def image_url(job_json: dict[str, Any]) -> str | None:
    """The image URL of a completed Photon generation, None if it names none."""
    assets = job_json.get("assets")
    url = assets.get("image") if isinstance(assets, dict) else None
    return url if isinstance(url, str) and url else None
