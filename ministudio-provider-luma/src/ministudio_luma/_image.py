"""``luma-photon``: one still for ``ministudio cast`` (hook ``generate_image``) drawn by Photon on
the Dream Machine API (``POST /generations/image`` through ``lumaai``'s
``generations.image.create``), polled and fetched. Imported by the hooks only.

It shares ``luma-dream-machine``'s client, key (``LUMAAI_API_KEY``, ``LUMAAI_BASE_URL``),
polling (``_photon.settled``) and error mapping (``_dream_machine._failure``), each naming
``luma-photon``. What is sent (docs.lumalabs.ai/docs/image-generation; lumaai 1.21
``types/generations/image_create_params.py``):

- ``prompt`` (cut to 5000 characters), ``model`` (``request.model`` or ``photon-1``, "the
  default"), ``aspect_ratio`` (of the docs' seven, the one nearest the still's size), ``format``
  (``png`` unless the option ``format: jpg``);
- ``request.reference_images`` (the sheet's front view, up to 4) by URL, since "currently this
  is the only way to pass an image": re-encoded as PNG without metadata, published on the asset
  host (the ``LUMA_ASSET_*`` settings, as ``luma-dream-machine``'s images) or through
  ``context.upload`` where the core offers it. A character's views get them as
  ``character_ref.identity0.images`` (Photon's identity reference) and the prompt starts with
  ``@character`` (the tag that invokes it: the package's identity keyframes do the same); a place
  gets them as ``image_ref``.

Errors: a create refused (400/422) or a generation that ``failed`` is an ``EngineRefusal`` with
Luma's words; 401/403 ``KeyRejected``; 429 and 5xx ``TransientError`` (the core tries again,
after ``retry-after``). The generation is a paid job in the core's journal (``context.paid``):
a create whose answer was lost (in this run, or a run killed meanwhile) is looked up among the
account's generations before another is made, and one whose id was kept is waited for. The
finished image is fetched (a cut-off download is tried again here, never the paid generation),
at most ``MAX_IMAGE_BYTES``, and must be a PNG or JPEG.
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ministudio.engines import EngineContext, SideJob
from ministudio.errors import EngineError, EngineRefusal, TransientError

from ministudio_luma._catalog import (
    PHOTON,
    PHOTON_ASPECT_RATIOS,
    PHOTON_MAX_REFERENCES,
    PHOTON_MODEL,
    PHOTON_MODELS,
    PHOTON_PRICES,
    photon_spec,
)
from ministudio_luma._client import timeout
from ministudio_luma._errors import why

if TYPE_CHECKING:
    from ministudio.jobs import HostedAsset, ImageRequest, ImageResult

MAX_PROMPT: Final = 5000  # "Prompt is too long, maximum length is 5000 characters" (the API)
MAX_IMAGE_BYTES: Final = 50 * 1024 * 1024  # the core's bound on an image (safety.images)
FORMATS: Final = ("png", "jpg")  # image_create_params.py: format "jpg" | "png"
OPTIONS: Final = ("format",)
DOWNLOAD_TRIES: Final = 3
# How long a finished generation's URL is taken to stay good (the docs give no lifetime): a run
# killed before its download fetches it from that URL within this, else draws it again.
URL_KEPT: Final = 24 * 3600.0
SIGNATURES: Final = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}


def estimate_cost(request: ImageRequest) -> float:
    """USD for one still of ``request``'s model (see ``PHOTON_PRICES``); an unknown model is
    priced as the default (``generate`` refuses it before anything is paid)."""
    return PHOTON_PRICES.get(request.model or PHOTON_MODEL, PHOTON_PRICES[PHOTON_MODEL])


async def generate(request: ImageRequest, output: Path, context: EngineContext) -> ImageResult:
    """Draw ``request`` with Photon and write the picture (PNG or JPEG) to ``output``.

    The generation is a paid job in the core's journal (``context.paid``): a run killed after
    the create left waits for that generation next time, or looks it up if its answer was
    lost, instead of paying again. Its cost is counted by the run that made or resumed it."""
    from ministudio.jobs import ImageResult

    body = _body(request)
    references = [Path(p) for p in request.reference_images]
    label = f"{request.id} ({request.view})"
    made: list[bool] = []

    async def make(job: SideJob) -> HostedAsset:
        from ministudio.jobs import HostedAsset

        made.append(True)
        sent = dict(body)
        urls = [await _reference(p, context) for p in references]
        if urls and request.subject == "character":
            sent["prompt"] = f"@character {sent['prompt']}"[:MAX_PROMPT]
            sent["character_ref"] = {"identity0": {"images": urls}}
        elif urls:
            sent["image_ref"] = [{"url": url} for url in urls]
        if job.job_id is None and job.lost_since is not None:  # sent before, answer lost
            found = await _lost(sent, job.lost_since, context)
            if found is not None:
                job.accepted(found)
        if job.job_id is None:
            job.accepted(await _create(sent, label, job, context))
        assert job.job_id is not None
        url = await _finished(job, label, context)
        return HostedAsset(reference=url, expires_at=time.time() + URL_KEPT)

    api = context.env.get("LUMAAI_BASE_URL") or ""
    url = await context.paid(f"photon-still:{still_key(api, body, references)}", make)
    await _fetch(url, Path(output), context)
    cost = estimate_cost(request) if made else 0.0  # else paid by the run that made it
    return ImageResult(path=Path(output), model=body["model"], cost=cost)


def still_key(api: str, body: dict[str, Any], references: list[Path]) -> str:
    """What makes one still (``luma-photon``'s and ``luma-uni``'s): the API, the body, and the
    references' content."""
    import json

    still = {
        "api": api.rstrip("/"),
        "body": body,
        "references": [hashlib.sha256(p.read_bytes()).hexdigest() for p in references],
    }
    return hashlib.sha256(json.dumps(still, sort_keys=True).encode()).hexdigest()


def nearest_ratio(
    width: float, height: float, ratios: tuple[str, ...] = PHOTON_ASPECT_RATIOS
) -> str:
    """Of ``ratios`` (Photon's by default), the one nearest ``width``:``height`` (by log ratio)."""

    def distance(ratio: str) -> float:
        w, _, h = ratio.partition(":")
        return abs(math.log((int(w) / int(h)) / (width / height)))

    return min(ratios, key=distance)


def _body(request: ImageRequest) -> dict[str, Any]:
    """The create body for ``request`` without its references; refused (before anything is
    uploaded or paid) if it asks for what Photon does not take."""
    model = request.model or PHOTON_MODEL
    if model not in PHOTON_MODELS:
        raise EngineRefusal(
            PHOTON, f"model '{model}' is not a Photon model: use {' or '.join(PHOTON_MODELS)}"
        )
    unknown = sorted(set(request.options) - set(OPTIONS))
    if unknown:
        raise EngineRefusal(
            PHOTON, f"unknown option {', '.join(unknown)}: {PHOTON} takes {', '.join(OPTIONS)}"
        )
    fmt = request.options.get("format", "png")
    if fmt not in FORMATS:
        raise EngineRefusal(PHOTON, f"option format must be png or jpg, not {fmt!r}")
    if len(request.reference_images) > PHOTON_MAX_REFERENCES:
        raise EngineRefusal(
            PHOTON,
            f"{len(request.reference_images)} reference images: Photon takes at most "
            f"{PHOTON_MAX_REFERENCES}",
        )
    if request.width > 0 and request.height > 0:
        ratio = nearest_ratio(request.width, request.height)
    else:
        w, _, h = request.aspect_ratio.partition(":")
        ratio = nearest_ratio(int(w), int(h)) if w.isdigit() and h.isdigit() else "16:9"
    return {
        "model": model,
        "prompt": request.prompt[:MAX_PROMPT],
        "aspect_ratio": ratio,
        "format": fmt,
    }


# -- references -----------------------------------------------------------------------------
async def _reference(path: Path, context: EngineContext) -> str:
    """A URL for a reference image: ``context.upload`` where the core offers it (kept once
    per content), else published here (``ministudio cast`` hands the engine no uploader)."""
    import anyio

    if context.uploader is not None:
        return await context.upload(path)
    asset = await anyio.to_thread.run_sync(publish, path, context)
    return asset.reference


def publish(path: Path, context: EngineContext) -> HostedAsset:
    """The image at ``path`` re-encoded (pixels only, as PNG) and put on the asset host the
    ``LUMA_ASSET_*`` settings name: its URL, with its expiry when signed."""
    from ministudio.remote.hosting import AssetHost
    from ministudio.safety.images import ImageError, reencoded

    from ministudio_luma._dream_machine import ASSET_PREFIX

    try:
        data = reencoded(path)
    except ImageError as exc:
        raise EngineRefusal(PHOTON, f"reference image {path.name} {exc.problem}") from None
    clean = Path(context.work_dir) / "luma-photon" / f"{hashlib.sha256(data).hexdigest()}.png"
    clean.parent.mkdir(parents=True, exist_ok=True)
    if not clean.exists():  # views drawn at once may publish the same front: one part each
        part = clean.with_name(f"{clean.name}.{uuid.uuid4().hex}.part")
        part.write_bytes(data)
        part.replace(clean)
    return AssetHost.from_env(context.env, ASSET_PREFIX, engine=PHOTON).publish(clean)


# -- the generation ---------------------------------------------------------------------------
async def _create(body: dict[str, Any], label: str, job: SideJob, context: EngineContext) -> str:
    """Send the create; the generation's id. A lost answer is looked up before sending again."""
    import httpx
    import lumaai

    from ministudio_luma._dream_machine import _client, _detail, _failure

    client = _client(context, photon_spec())
    sent = time.time()
    try:
        job.sending()
        generation = await client.generations.image.create(**body)
    except lumaai.APIStatusError as exc:
        if exc.status_code in (400, 422):
            said = f"{_detail(exc)} (HTTP {exc.status_code})"
            raise EngineRefusal(PHOTON, f"Luma refused to draw {label}: {said}") from None
        raise _failure(exc, f"drawing {label}", PHOTON) from None
    except lumaai.APIConnectionError as exc:
        cause = exc.__cause__
        if isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
            raise TransientError(PHOTON, f"cannot reach the Luma API ({why(cause)})") from None
        found = await _lost(body, sent, context)
        if found is None:
            raise TransientError(
                PHOTON, f"drawing {label}: the answer was lost ({why(cause or exc)})"
            ) from None
        return found
    except lumaai.APIError as exc:  # an unreadable 2xx answer
        found = await _lost(body, sent, context)
        if found is None:
            raise TransientError(PHOTON, f"drawing {label}: {why(exc)}") from None
        return found
    finally:
        await client.close()
    image_id = getattr(generation, "id", None)
    if not isinstance(image_id, str) or not image_id:
        found = await _lost(body, sent, context)
        if found is None:
            raise TransientError(PHOTON, f"drawing {label}: the answer has no id")
        return found
    return image_id


async def _lost(body: dict[str, Any], since: float, context: EngineContext) -> str | None:
    """The image generation a create whose answer was lost made (the newest that matches what
    was sent and has not failed), None if there is none: sending again then pays once."""
    from ministudio_luma._dm_lookup import _listed, _request_of, _where

    def sent(request: dict[str, Any]) -> tuple[Any, ...]:
        refs = (request.get("character_ref") or {}).get("identity0", {}).get("images") or []
        images = [r.get("url", "") for r in request.get("image_ref") or [] if isinstance(r, dict)]
        return (
            request.get("model", PHOTON_MODEL),
            request.get("prompt"),
            request.get("aspect_ratio", "16:9"),
            request.get("format", "jpg"),
            tuple(_where(str(u)) for u in refs),
            tuple(_where(str(u)) for u in images),
        )

    wanted = sent(body)
    for generation in await _listed(since, context):  # newest first
        if (
            generation.get("generation_type") == "image"
            and generation.get("state") != "failed"
            and sent(_request_of(generation)) == wanted
        ):
            return str(generation["id"])
    return None


async def _finished(job: SideJob, label: str, context: EngineContext) -> str:
    """Wait for the job's generation; its image URL, or Luma's reason it drew none (the
    journal then forgets the job: the next try makes a new one)."""
    from ministudio_luma._photon import image_url, settled

    image_id = str(job.job_id)
    spec = photon_spec()
    generation = await settled(image_id, context, spec.capabilities.expected_latency, label, spec)
    if generation is None:
        job.failed()
        raise TransientError(PHOTON, f"the generation of {label} ({image_id}) is gone")
    if generation.get("state") == "failed":
        job.failed()
        reason = str(generation.get("failure_reason") or "no reason given")
        raise EngineRefusal(PHOTON, f"Luma did not draw {label}: {reason}")
    url = image_url(generation)
    if url is None:
        job.failed()
        raise EngineError(PHOTON, f"the generation of {label} ({image_id}) completed without image")
    return url


# -- the download ------------------------------------------------------------------------------
class DownloadRefused(EngineError):
    """The image's URL answered an HTTP error that trying it again will not mend."""

    def __init__(self, engine: str, status: int) -> None:
        super().__init__(engine, f"image download refused (HTTP {status})")
        self.status = status


async def _fetch(url: str, output: Path, context: EngineContext, engine: str = PHOTON) -> None:
    """Download the image to ``output``, trying a passing failure (a cut-off answer, 429, 5xx)
    again: the image is paid for already, so only its download is repeated. Errors name
    ``engine``."""
    import anyio

    for attempt in range(DOWNLOAD_TRIES):
        try:
            await _download(url, output, context, engine)
            return
        except TransientError as exc:
            if attempt + 1 == DOWNLOAD_TRIES:
                raise
            await anyio.sleep(min(exc.retry_after or 0.25 * 2**attempt, 5.0))


async def _download(url: str, output: Path, context: EngineContext, engine: str = PHOTON) -> None:
    """One download through a ``.part`` file, bounded by ``MAX_IMAGE_BYTES``; nothing is left
    at ``output`` unless a whole PNG or JPEG arrived."""
    import httpx
    from ministudio.http import retry_after, tls_context

    output.parent.mkdir(parents=True, exist_ok=True)
    part = output.with_name(output.name + ".part")
    received, expected = 0, None
    try:
        async with (
            httpx.AsyncClient(
                timeout=httpx.Timeout(timeout(context), connect=5.0),
                verify=tls_context(),
                follow_redirects=True,
            ) as http,
            http.stream("GET", url, headers={"Accept-Encoding": "identity"}) as answer,
        ):
            code = answer.status_code
            if code != 200:
                if code in (404, 408, 429) or code >= 500:
                    raise TransientError(
                        engine,
                        f"image download: HTTP {code}",
                        retry_after=retry_after(answer.headers),
                    )
                raise DownloadRefused(engine, code)
            length = answer.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            if expected is not None and expected > MAX_IMAGE_BYTES:
                raise EngineError(engine, _too_big(expected))
            with part.open("wb") as sink:
                async for chunk in answer.aiter_raw(1 << 16):
                    received += len(chunk)
                    if received > MAX_IMAGE_BYTES:
                        raise EngineError(engine, _too_big(received))
                    sink.write(chunk)
        if expected is not None and received != expected:
            raise TransientError(engine, f"image download cut off: {received} of {expected} bytes")
        _check_picture(part, engine)
        part.replace(output)
    except httpx.RemoteProtocolError as exc:  # the answer ended before its Content-Length
        raise TransientError(engine, f"image download cut off ({why(exc)})") from None
    except httpx.TransportError as exc:
        raise TransientError(engine, f"image download failed ({why(exc)})") from None
    finally:
        part.unlink(missing_ok=True)


def _check_picture(path: Path, engine: str = PHOTON) -> None:
    """``EngineError`` unless ``path`` is a PNG or JPEG that decodes whole."""
    from ministudio.safety.images import ImageError, check_image

    with path.open("rb") as head:
        start = head.read(8)
    kind = next((name for sig, name in SIGNATURES.items() if start.startswith(sig)), None)
    if kind is None:
        raise EngineError(engine, "Luma's answer is not a PNG or JPEG image")
    try:
        check_image(path)
    except ImageError as exc:
        raise EngineError(engine, f"Luma's {kind} image {exc.problem}") from None


def _too_big(size: int) -> str:
    return (
        f"Luma's image is {size / 2**20:.1f} MB, over the {MAX_IMAGE_BYTES // 2**20} MB a still "
        "may have: draw it again"
    )
