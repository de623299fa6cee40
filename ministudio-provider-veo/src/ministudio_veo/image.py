"""``gemini-image``: one still for ``ministudio cast`` (a character's sheet view, or a place)
drawn by a Gemini image model. Imported by the hooks only (it imports the SDK and Pillow).

One ``generateContent`` (ai.google.dev/gemini-api/docs/image-generation): the prompt, then each
of ``request.reference_images`` as an inline picture, read and re-encoded here with Pillow (a
PNG, or a JPEG if the PNG is over ``MAX_REFERENCE_BYTES``; at most ``REFERENCE_LONG_SIDE``
pixels on the long side; no metadata: only pixels leave the machine), at most the model's
limit (``ImageModel.max_references``: 14 on the Gemini 3 models, 3 on 2.5 Flash Image; the
rest are left out). ``generationConfig``: ``responseModalities: ["IMAGE"]`` (no text),
``imageConfig.aspectRatio`` (the model's ratio nearest ``request.aspect_ratio``, else the
still's size) and ``imageSize`` (the smallest of the model's sizes at least as large as the
still, about; option ``image_size`` picks one; not sent to a model with a single size), and
``seed`` (``request.seed``, in int32).

The answer's image is written to ``output`` as it came (a PNG or a JPEG; another format is
re-encoded as PNG), after Pillow has opened it. Its size is the model's for that ratio and
size (e.g. 896x1200 for 3:4 at 1K), not the still's: the core takes the nearest size at the
ratio.

Cost: ``usageMetadata``: prompt tokens at the model's input price, the image's (and any
thinking) tokens at its image-output price; without it, the model's price per image at that
size (``estimate``). Prices: ai.google.dev/gemini-api/docs/pricing (2.5 Flash Image $0.039 an
image; 3 Pro Image $0.134 at 1K/2K, $0.24 at 4K) and, for 3.1 Flash Image, third-party
transcriptions ($60 per 1M image tokens: 747/1120/1680/2520 tokens at 512/1K/2K/4K, Vertex's
model card).

Failures (``_generate``), and: an answer with no image (``IMAGE_SAFETY``,
``IMAGE_PROHIBITED_CONTENT``, ``NO_IMAGE``...) or a blocked prompt: ``EngineRefusal`` with the
reason and the model's words; no answer, or a picture Pillow cannot read: ``EngineError``.
"""

from __future__ import annotations

import io
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from google.genai import types
from ministudio.engines import EngineContext, EngineSpec, SideJob
from ministudio.errors import AmbiguousSubmission, EngineError, EngineRefusal
from ministudio.jobs import ImageRequest, ImageResult
from PIL import Image, ImageOps

from ministudio_veo import IMAGE, specs
from ministudio_veo._catalog import IMAGE_MODEL
from ministudio_veo._generate import Call, generate, name, texts, timeout

OPTIONS = ("image_size",)
MAX_PROMPT = 20_000  # characters; the core's prompts are a few hundred
REFERENCE_LONG_SIDE = 1536  # pixels: enough to match a face, small on the wire
MAX_REFERENCE_BYTES = 4 * 1024 * 1024  # a PNG over this goes as a JPEG (7 MB inline limit)
MAX_INPUT_BYTES = 50 * 1024 * 1024  # a reference file over this is not read
MAX_IMAGE_BYTES = 50 * 1024 * 1024  # the core's bound on an image (safety.images)
JPEG_QUALITY = 90
DEFAULT_TIMEOUT = 180.0
SEED_RANGE = 2**31  # generationConfig.seed is an int32
TEN_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
SIZE_FACTORS = {"512": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}  # long side vs 1K's


@dataclass(frozen=True)
class ImageModel:
    """What one Gemini image model takes, and its prices."""

    ratios: tuple[str, ...]
    sizes: tuple[str, ...]  # imageSize values, smallest first
    max_references: int
    per_image: Mapping[str, float]  # USD an image, by size
    input_per_million: float  # USD per 1M input tokens
    image_per_million: float  # USD per 1M output (image) tokens


MODELS: dict[str, ImageModel] = {
    # Vertex model card (3-1-flash-image): 14 ratios incl. 1:4 4:1 1:8 8:1; 512 to 4K; 14
    # images; 747/1120/1680/2520 tokens at $60 per 1M (third-party price transcriptions).
    "gemini-3.1-flash-image": ImageModel(
        (*TEN_RATIOS, "1:4", "4:1", "1:8", "8:1"),
        ("512", "1K", "2K", "4K"),
        14,
        {"512": 0.045, "1K": 0.067, "2K": 0.101, "4K": 0.151},
        0.50,
        60.0,
    ),
    # Image-generation guide: 1K/2K/4K, up to 14 images (5 of people); pricing page.
    "gemini-3-pro-image": ImageModel(
        TEN_RATIOS, ("1K", "2K", "4K"), 14, {"1K": 0.134, "2K": 0.134, "4K": 0.24}, 2.0, 120.0
    ),
    # Image-generation guide: 1K only (1290 tokens), "works best with up to 3 images".
    "gemini-2.5-flash-image": ImageModel(TEN_RATIOS, ("1K",), 3, {"1K": 0.039}, 0.30, 30.0),
}
REFUSED_IMAGE = "the model drew no picture"


@dataclass(frozen=True)
class Plan:
    """What is asked of the model for one still."""

    model: str
    spec: ImageModel
    aspect_ratio: str
    size: str


# -- the hook's work ------------------------------------------------------------------------
async def draw_journaled(
    request: ImageRequest, output: Path, context: EngineContext
) -> ImageResult:
    """``draw`` as a paid job in the core's journal (``context.paid``): marked just before
    the request leaves. Google offers no way to look a request up, so a request whose answer
    was lost (a dropped connection, a kill) is never sent again by itself: an
    ``AmbiguousSubmission`` says to check and use ``--forget-lost``."""
    import anyio
    from ministudio.jobs import HostedAsset

    label = f"{request.id} ({request.view})"
    results: list[ImageResult] = []

    async def make(job: SideJob) -> HostedAsset:
        if job.lost_since is not None:
            raise AmbiguousSubmission(IMAGE, lost(label, "an earlier run was stopped"))
        try:
            results.append(await anyio.to_thread.run_sync(draw, request, output, context, job))
        except AmbiguousSubmission:
            raise
        except Exception:
            job.failed()  # answered: nothing is pending at Google
            raise
        # The core keeps the picture at ``output`` until stored: the journal need not.
        return HostedAsset(reference=str(output), expires_at=time.time())

    await context.paid(f"gemini-still:{_job_key(request)}", make)
    if not results:
        raise EngineError(IMAGE, f"{label}: no picture came back")
    return results[0]


def lost(label: str, why: str) -> str:
    return (
        f"the answer to drawing {label} was lost after the request left ({why}). Google may "
        "have drawn and billed it and offers no way to look it up, so it was not sent again: "
        "run `ministudio cast FILE --forget-lost` to draw it once more"
    )


def _job_key(request: ImageRequest) -> str:
    """What makes one still: the request, with its references as their content."""
    import hashlib
    import json

    still = {
        "request": request.model_dump(mode="json", exclude={"reference_images"}),
        "references": [
            hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in request.reference_images
        ],
    }
    return hashlib.sha256(json.dumps(still, sort_keys=True).encode()).hexdigest()


def draw(
    request: ImageRequest, output: Path, context: EngineContext, job: SideJob | None = None
) -> ImageResult:
    """Draw ``request`` and write the picture to ``output``; ``job.sending()`` right before
    the request leaves. A request is sent once: an answer lost after it left is an
    ``AmbiguousSubmission``, not a second (billed) try."""
    plan = plan_for(request)
    key = context.key(_spec())  # MissingKeyError before any work
    contents = request_contents(request, plan)
    config = request_config(request, plan)
    call = Call(
        engine=IMAGE,
        model=plan.model,
        pick="use --model with a current one, e.g. " + IMAGE_MODEL,
        timeout=timeout(context.env, "GEMINI_IMAGE_TIMEOUT", DEFAULT_TIMEOUT),
        lost=lambda why: lost(f"{request.id} ({request.view})", why),
    )
    if job is not None:
        job.sending()
    response = generate(call, key, contents, config, context.env)
    write_picture(picture_of(response, request), output)
    return ImageResult(path=output, model=plan.model, cost=cost(response, plan))


def plan_for(request: ImageRequest) -> Plan:
    """The model, ratio and size for ``request``; its options checked."""
    unknown = sorted(set(request.options) - set(OPTIONS))
    if unknown:
        raise EngineError(IMAGE, f"unknown option {', '.join(unknown)}: use {', '.join(OPTIONS)}")
    model = (request.model or IMAGE_MODEL).strip().removeprefix("models/")
    if not model or len(model) > 200:
        raise EngineError(IMAGE, "--model must be a Gemini image model id, e.g. " + IMAGE_MODEL)
    spec = MODELS.get(model, MODELS[IMAGE_MODEL])  # an unknown id: Google says if it exists
    ratio = nearest_ratio(request.aspect_ratio, request.width, request.height, spec.ratios)
    size = request.options.get("image_size")
    if size is None:
        size = size_for(ratio, max(request.width, request.height), spec.sizes)
    elif size not in spec.sizes:
        raise EngineError(
            IMAGE, f"option image_size must be one of {', '.join(spec.sizes)} for {model}"
        )
    return Plan(model, spec, ratio, str(size))


def _ratio_value(ratio: str) -> float | None:
    width, _, height = ratio.partition(":")
    try:
        value = float(width) / float(height)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 and math.isfinite(value) else None


def nearest_ratio(asked: str, width: int, height: int, ratios: tuple[str, ...]) -> str:
    """The supported ratio nearest ``asked`` (else ``width``:``height``), by log distance."""
    value = _ratio_value(asked) or (width / height if width > 0 and height > 0 else 1.0)
    return min(ratios, key=lambda r: abs(math.log((_ratio_value(r) or 1.0) / value)))


def size_for(ratio: str, long_side: int, sizes: tuple[str, ...]) -> str:
    """The smallest size whose image is about as large as ``long_side`` on its long side
    (1K is 1024 pixels on a square's side, more on a long ratio's); else the largest."""
    value = _ratio_value(ratio) or 1.0
    long_at_1k = 1024 * math.sqrt(max(value, 1 / value))
    for size in sizes:
        if long_at_1k * SIZE_FACTORS.get(size, 1.0) >= 0.9 * long_side:
            return size
    return sizes[-1]


# -- the request ----------------------------------------------------------------------------
def request_contents(request: ImageRequest, plan: Plan) -> list[types.Content]:
    """One user turn: the prompt, then the reference images (re-encoded here)."""
    if not request.prompt.strip() or len(request.prompt) > MAX_PROMPT:
        raise EngineError(IMAGE, f"the prompt must hold 1 to {MAX_PROMPT:,} characters")
    parts = [types.Part.from_text(text=request.prompt)]
    for path in request.reference_images[: plan.spec.max_references]:
        data, mime = reencoded(Path(path))
        parts.append(types.Part.from_bytes(data=data, mime_type=mime))
    return [types.Content(role="user", parts=parts)]


def request_config(request: ImageRequest, plan: Plan) -> types.GenerateContentConfig:
    single = len(plan.spec.sizes) == 1  # 2.5 Flash Image has no imageSize
    return types.GenerateContentConfig(
        response_modalities=["IMAGE"],
        image_config=types.ImageConfig(
            aspect_ratio=plan.aspect_ratio, image_size=None if single else plan.size
        ),
        seed=request.seed % SEED_RANGE,
    )


def reencoded(path: Path) -> tuple[bytes, str]:
    """A reference image's pixels as a fresh PNG (or JPEG when large), and its MIME type."""
    try:
        if path.stat().st_size > MAX_INPUT_BYTES:
            raise EngineError(
                IMAGE, f"the reference image {path} is over {MAX_INPUT_BYTES // 2**20} MB"
            )
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened) or opened
            image = _rgb(image)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise EngineError(
            IMAGE,
            f"cannot read the reference image {path} ({type(exc).__name__}); fix the file or "
            "its path in the production",
        ) from None
    image.thumbnail((REFERENCE_LONG_SIDE, REFERENCE_LONG_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    if out.tell() <= MAX_REFERENCE_BYTES:
        return out.getvalue(), "image/png"
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue(), "image/jpeg"


def _rgb(image: Image.Image) -> Image.Image:
    """``image`` in RGB, transparency laid on white."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


# -- the answer -----------------------------------------------------------------------------
def picture_of(response: types.GenerateContentResponse, request: ImageRequest) -> bytes:
    """The answer's image bytes; ``EngineRefusal`` when it holds none."""
    if not response.candidates:
        raise EngineError(IMAGE, "Gemini gave no answer (no candidate); run the command again")
    candidate = response.candidates[0]
    finish = name(candidate.finish_reason) or "no reason given"
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    for part in parts:
        blob = part.inline_data
        if blob is not None and blob.data and (blob.mime_type or "").startswith("image/"):
            return blob.data
    said = " ".join(texts(parts).split())[:300] or (candidate.finish_message or "")
    raise EngineRefusal(
        IMAGE,
        f"Gemini drew no picture of {request.name} ({request.view}): {finish}"
        + (f": {said}" if said else "")
        + "; reword the description, or draw this still with another engine",
    )


def write_picture(data: bytes, output: Path) -> None:
    """``data`` to ``output`` once Pillow has read it: a PNG or JPEG as it is, else as PNG."""
    if len(data) > MAX_IMAGE_BYTES:
        raise EngineError(IMAGE, f"Gemini's picture is over {MAX_IMAGE_BYTES // 2**20} MB")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            kind = image.format
            if kind not in ("PNG", "JPEG"):
                out = io.BytesIO()
                _rgb(image).save(out, format="PNG")
                data = out.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise EngineError(
            IMAGE, f"Gemini's picture cannot be read ({type(exc).__name__}); run it again"
        ) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    part = output.with_name(output.name + ".part")
    part.write_bytes(data)
    os.replace(part, output)


# -- cost -----------------------------------------------------------------------------------
def cost(response: types.GenerateContentResponse, plan: Plan) -> float:
    """What the still cost: ``usageMetadata`` at the model's prices, else its price per image."""
    usage = response.usage_metadata
    if usage is None or not usage.candidates_token_count:
        return plan.spec.per_image.get(plan.size, max(plan.spec.per_image.values()))
    output = usage.candidates_token_count + (usage.thoughts_token_count or 0)
    spent = (usage.prompt_token_count or 0) * plan.spec.input_per_million + (
        output * plan.spec.image_per_million
    )
    return round(spent / 1e6, 6)


def estimate(request: ImageRequest) -> float:
    """The model's price for one image at the size ``draw`` would ask for."""
    try:
        plan = plan_for(request)
    except EngineError:
        return MODELS[IMAGE_MODEL].per_image["1K"]
    return plan.spec.per_image.get(plan.size, max(plan.spec.per_image.values()))


def _spec() -> EngineSpec:
    return next(spec for spec in specs() if spec.id == IMAGE)
