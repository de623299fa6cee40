"""``luma-uni``: one still for ``ministudio cast`` (hook ``generate_image``) drawn by uni-1 on
Luma's Agents API (``POST /v1/generations`` with ``type: "image"`` through ``luma-agents``'
``generations.create``), polled (``GET /v1/generations/{id}``) and fetched
(``output[0].url``). Imported by the hooks only.

It shares ``luma``'s client, key (``LUMA_AGENTS_API_KEY``, ``LUMA_BASE_URL``), create and
status calls and error mapping (``_agents``, ``_client``), each naming ``luma-uni``. What is
sent (docs.agents.lumalabs.ai/guides/image-generation; luma-agents 0.5
``types/generation_create_params.py``, ``types/image_ref_param.py``):

- ``type: "image"``; ``model`` (``request.model`` or ``uni-1``, "the default"; or
  ``uni-1-max``); ``prompt`` (cut to 6000 characters: "from 1 to 6,000 characters");
- ``aspect_ratio``: of the guide's nine, the one nearest the still's size (left unset, "the
  model selects an appropriate ratio", so it is always sent);
- ``output_format``: ``png`` unless the option ``format: jpeg``; ``style`` only with the
  option ``style`` (``auto`` or ``manga``; the API's default is ``auto``);
- ``image_ref``: the request's reference images (a sheet's front view, a place's pictures),
  at most 9 ("Up to 9 for type 'image'"), each INLINE as ``{data, media_type}`` ("Provide
  exactly one of url, inline base64 data, or generation_id"; ``media_type`` "Required with
  data"): re-encoded here without metadata (pixels only), at most ``REFERENCE_LONG_SIDE``
  pixels on the long side, a PNG or, over ``MAX_REFERENCE_BYTES``, a JPEG. No asset host.

Errors: 400/413/422 ``EngineRefusal`` with Luma's ``detail``; 401/403 ``KeyRejected`` naming
LUMA_AGENTS_API_KEY; 402 a refusal saying to add funds; 429, 502, 503 ``TransientError``
(after ``Retry-After``). A generation that ``failed`` with a ``failure_code`` that will fail
again (``content_moderated``, ``invalid_request``...) is an ``EngineRefusal``, another a
``TransientError`` (a new generation next try). The generation is a paid job in the core's
journal (``context.paid``): ``job.sending()`` right before the create, ``job.accepted(id)``
when Luma names it, ``job.failed()`` when it fails or is gone. A create whose answer was lost
(a dropped connection, a 500/504, a kill) cannot be looked up (the Agents API has no list of
generations and no idempotency key): ``AmbiguousSubmission``, which says to run
``ministudio cast FILE --forget-lost``. The finished image is fetched from a freshly minted
URL (a cut-off download is tried again, never the paid generation; an expired URL is minted
again), at most ``MAX_IMAGE_BYTES``, and must be a PNG or JPEG.
"""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ministudio.engines import EngineContext, SideJob
from ministudio.errors import AmbiguousSubmission, EngineError, EngineRefusal, TransientError

from ministudio_luma._catalog import (
    UNI,
    UNI_ASPECT_RATIOS,
    UNI_MAX_REFERENCES,
    UNI_MODEL,
    UNI_MODELS,
    uni_price,
    uni_spec,
)
from ministudio_luma._image import nearest_ratio, still_key

if TYPE_CHECKING:
    from luma_agents.types import Generation
    from ministudio.jobs import HostedAsset, ImageRequest, ImageResult

MAX_PROMPT: Final = 6000  # "from 1 to 6,000 characters" (guides/image-generation)
FORMATS: Final = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg"}  # output_format "png" | "jpeg"
STYLES: Final = ("auto", "manga")  # style "auto" | "manga" (generation_create_params.py)
OPTIONS: Final = ("format", "style")
REFERENCE_LONG_SIDE: Final = 2048  # pixels: uni-1 draws at 2048 ("2K"); more is only weight
MAX_REFERENCE_BYTES: Final = 8 * 1024 * 1024  # a PNG over this goes as a JPEG
JPEG_QUALITY: Final = 90
DOWNLOAD_TRIES: Final = 3
# How long a finished generation is taken to stay on Luma (the docs give no retention; its
# output URLs last an hour, and each status request mints a fresh one): a run killed before
# its download fetches the picture within this, else draws it again.
GENERATION_KEPT: Final = 24 * 3600.0
EXPIRED: Final = (400, 403, 410)  # what a storage answers for a presigned URL past its time


def lost(label: str) -> str:
    """What to do about a create for ``label`` whose answer was lost."""
    return (
        f"Luma may have drawn and billed {label}, and the Agents API cannot look a generation "
        "up (no list, no idempotency key), so it is not sent again: check the account's "
        "generations on Luma, then run `ministudio cast FILE --forget-lost` to draw it once more"
    )


def estimate_cost(request: ImageRequest) -> float:
    """USD for one still of ``request``'s model and references (``_catalog.uni_price``); an
    unknown model is priced as the default (``generate`` refuses it before anything is paid)."""
    refs = min(len(request.reference_images), UNI_MAX_REFERENCES)
    return uni_price(request.model or UNI_MODEL, refs)


async def generate(request: ImageRequest, output: Path, context: EngineContext) -> ImageResult:
    """Draw ``request`` with uni-1 and write the picture (PNG or JPEG) to ``output``.

    The generation is a paid job in the core's journal (``context.paid``): a run killed after
    Luma named it waits for it next time instead of paying again. Its cost is counted by the
    run that made it."""
    import anyio
    from ministudio.jobs import ImageResult

    body = _body(request)
    spec = uni_spec()
    context.key(spec)  # MissingKeyError before anything is read or sent
    references = [Path(p) for p in request.reference_images]
    label = f"{request.id} ({request.view})"
    made: list[bool] = []

    async def make(job: SideJob) -> HostedAsset:
        from ministudio.jobs import HostedAsset

        from ministudio_luma._agents import _create

        if job.job_id is None and job.lost_since is not None:  # sent before, answer lost
            raise AmbiguousSubmission(
                UNI, f"the answer to drawing {label} was lost when a run stopped; {lost(label)}"
            )
        if job.job_id is None:
            sent = dict(body)
            if references:  # read and re-encoded off the event loop
                sent["image_ref"] = [await anyio.to_thread.run_sync(_inline, p) for p in references]
            made.append(True)
            try:
                created = await _create(
                    sent, context, True, spec=spec, lost=lost(label), sending=job.sending
                )
            except AmbiguousSubmission:
                raise  # it may exist: the journal keeps it in flight
            except Exception:
                job.failed()  # refused, or never sent: nothing was made
                raise
            job.accepted(created)
        assert job.job_id is not None
        await _finished(job, label, context)
        return HostedAsset(reference=job.job_id, expires_at=time.time() + GENERATION_KEPT)

    api = context.env.get("LUMA_BASE_URL") or ""
    generation_id = await context.paid(f"uni-still:{still_key(api, body, references)}", make)
    await _fetch(generation_id, Path(output), label, context)
    cost = estimate_cost(request) if made else 0.0  # else paid by the run that made it
    return ImageResult(path=Path(output), model=body["model"], cost=cost)


def _body(request: ImageRequest) -> dict[str, Any]:
    """The create body for ``request`` without its references; refused (before anything is
    read or paid) if it asks for what uni-1 does not take."""
    model = request.model or UNI_MODEL
    if model not in UNI_MODELS:
        raise EngineRefusal(
            UNI, f"model '{model}' is not a uni-1 model: use {' or '.join(UNI_MODELS)}"
        )
    unknown = sorted(set(request.options) - set(OPTIONS))
    if unknown:
        raise EngineRefusal(
            UNI, f"unknown option {', '.join(unknown)}: {UNI} takes {', '.join(OPTIONS)}"
        )
    fmt = FORMATS.get(str(request.options.get("format", "png")))
    if fmt is None:
        raise EngineRefusal(
            UNI, f"option format must be png or jpeg, not {request.options['format']!r}"
        )
    if len(request.reference_images) > UNI_MAX_REFERENCES:
        raise EngineRefusal(
            UNI,
            f"{len(request.reference_images)} reference images: uni-1 takes at most "
            f"{UNI_MAX_REFERENCES}",
        )
    if not request.prompt.strip():
        raise EngineRefusal(UNI, "the prompt is empty: uni-1 needs 1 to 6000 characters")
    if request.width > 0 and request.height > 0:
        ratio = nearest_ratio(request.width, request.height, UNI_ASPECT_RATIOS)
    else:
        w, _, h = request.aspect_ratio.partition(":")
        given = w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0
        ratio = nearest_ratio(int(w), int(h), UNI_ASPECT_RATIOS) if given else "16:9"
    body: dict[str, Any] = {
        "type": "image",
        "model": model,
        "prompt": request.prompt[:MAX_PROMPT],
        "aspect_ratio": ratio,
        "output_format": fmt,
    }
    if "style" in request.options:
        style = request.options["style"]
        if style not in STYLES:
            raise EngineRefusal(UNI, f"option style must be auto or manga, not {style!r}")
        body["style"] = style
    return body


def _inline(path: Path) -> dict[str, str]:
    """A reference image as an inline ImageRef: its pixels only (no metadata), at most
    ``REFERENCE_LONG_SIDE`` on the long side, as a PNG (a JPEG if the PNG is large)."""
    from ministudio.safety.images import ImageError, reencoded
    from PIL import Image

    try:
        data = reencoded(path)
    except ImageError as exc:
        raise EngineRefusal(UNI, f"reference image {path.name} {exc.problem}") from None
    with Image.open(io.BytesIO(data)) as opened:
        picture = opened.convert("RGBA" if opened.mode in ("RGBA", "LA", "P") else "RGB")
    if max(picture.size) > REFERENCE_LONG_SIDE:
        picture.thumbnail((REFERENCE_LONG_SIDE, REFERENCE_LONG_SIDE), Image.Resampling.LANCZOS)
        sink = io.BytesIO()
        picture.save(sink, format="PNG", optimize=True)
        data = sink.getvalue()
    media_type = "image/png"
    if len(data) > MAX_REFERENCE_BYTES:
        sink = io.BytesIO()
        picture.convert("RGB").save(sink, format="JPEG", quality=JPEG_QUALITY)
        data, media_type = sink.getvalue(), "image/jpeg"
    return {"data": base64.b64encode(data).decode("ascii"), "media_type": media_type}


# -- the generation ---------------------------------------------------------------------------
async def _finished(job: SideJob, label: str, context: EngineContext) -> Generation:
    """Wait for the job's generation to complete; Luma's reason when it drew none (the
    journal then forgets the job: the next try makes a new one)."""
    from ministudio_luma._agents import REFUSING

    generation_id = str(job.job_id)
    found = await _settled(generation_id, label, context)
    if found is None:
        job.failed()
        raise TransientError(UNI, f"the generation of {label} ({generation_id}) is gone")
    if found.state == "failed":
        job.failed()
        code = str(found.failure_code or "")
        reason = found.failure_reason or code or "no reason given"
        if code and code not in reason:
            reason = f"{reason} ({code})"
        if code in REFUSING:
            raise EngineRefusal(UNI, f"Luma did not draw {label}: {reason}")
        raise TransientError(UNI, f"Luma did not draw {label}: {reason}; try again")
    if _image_url(found) is None:
        job.failed()
        raise EngineError(UNI, f"the generation of {label} ({generation_id}) has no image")
    return found


async def _settled(generation_id: str, label: str, context: EngineContext) -> Generation | None:
    """Poll until the generation is ``completed`` or ``failed``; None if Luma does not know
    it. Every twentieth of the expected latency (0.05 s to 1 s), for ``LUMA_TIMEOUT`` or ten
    latencies, whichever is longer; up to five status requests in a row may fail in passing."""
    import anyio

    from ministudio_luma._agents import Gone, generation
    from ministudio_luma._client import timeout

    spec = uni_spec()
    latency = spec.capabilities.expected_latency
    interval = min(1.0, max(0.05, latency / 20))
    deadline = anyio.current_time() + max(timeout(context), 10 * latency)
    misses = 0
    while True:
        try:
            found: Generation | None = await generation(generation_id, context, spec)
            misses = 0
        except Gone:
            return None
        except TransientError:
            misses += 1
            if misses > 5:
                raise
            found = None
        if found is not None and found.state in ("completed", "failed"):
            return found
        if anyio.current_time() > deadline:
            raise TransientError(UNI, f"the generation of {label} ({generation_id}) is not done")
        await anyio.sleep(interval)


def _image_url(found: Generation) -> str | None:
    """The URL of a completed generation's image (``output[0].url``), None if it has none."""
    for out in found.output or []:
        if out.url and out.type in ("image", ""):
            return str(out.url)
    return None


# -- the download ------------------------------------------------------------------------------
async def _fetch(generation_id: str, output: Path, label: str, context: EngineContext) -> None:
    """Download the generation's image to ``output`` from a freshly minted URL, trying a
    passing failure (a cut-off answer, 429, 5xx) and an expired URL again: the image is paid
    for already, so only its download is repeated."""
    import anyio

    from ministudio_luma._agents import Gone, generation
    from ministudio_luma._image import DownloadRefused, _download

    spec = uni_spec()
    for attempt in range(DOWNLOAD_TRIES):
        try:
            found = await generation(generation_id, context, spec)  # a fresh URL
        except Gone:
            raise EngineError(
                UNI, f"Luma no longer has the generation of {label} ({generation_id})"
            ) from None
        url = _image_url(found)
        if found.state != "completed" or url is None:
            raise EngineError(UNI, f"the generation of {label} ({generation_id}) has no image")
        try:
            await _download(url, output, context, UNI)
            return
        except DownloadRefused as exc:
            if exc.status not in EXPIRED or attempt + 1 == DOWNLOAD_TRIES:
                raise
        except TransientError as exc:
            if attempt + 1 == DOWNLOAD_TRIES:
                raise
            await anyio.sleep(min(exc.retry_after or 0.25 * 2**attempt, 5.0))
