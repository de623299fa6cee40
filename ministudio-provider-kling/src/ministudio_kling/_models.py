"""Kling's models and what each takes, per mode and length: the official capability map.

Source for every row: the official "Capability Map" (Video Models) and the "Text to Video" /
"Image to Video" request bodies, read from a verbatim copy of Kling's English API docs
(github.com/artykrd/ai-bot-misha ``docs/kling_full.md``, 2026-03; live page
https://kling.ai/document-api/guides/capability-map/video); resolutions from the same docs'
resolution table. Summarised with citations in ``docs/providers/kling.md`` section 2.

Each ``Way`` is one row of the map (a model, a mode, the lengths that share the same
inputs); ``variants`` turns them into ``EngineSpec.variants``, cheapest first per model.
Camera control has no ``Capabilities`` field: the move is always in the prompt, and
``camera_control`` is sent only where a ``Way`` names the endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

from ministudio.engines import Capabilities, Model, Variant

from ministudio_kling._prices import price

ASPECT_RATIOS = ("16:9", "9:16", "1:1")  # text2video's enum; image2video follows its image
TEXT2VIDEO = "text2video"
IMAGE2VIDEO = "image2video"
V3_LENGTHS = tuple(range(3, 16))  # "duration" enum "3".."15" (kling-v3 only)
CLASSIC = (5, 10)
ELEMENTS = 3  # image2video's element_list: "Supports up to 3 reference elements"


@dataclass(frozen=True)
class Way:
    """One row of the capability map: a model in a mode at some lengths, and its inputs."""

    model: str
    mode: str | None  # None: the model has no mode (the "master" models): none is sent
    seconds: tuple[int, ...]
    renders: str  # what it makes: "720p" or "1080p"
    text: bool = True  # text2video (else image2video only)
    frames: bool = False  # start and end frame together (image + image_tail)
    end_alone: bool = False  # an end frame without a start frame (image_tail alone)
    sound: bool = False  # native audio (sound: "on")
    sound_with_end: bool = True  # kling-v2-6: start+end frames "only no audio"
    camera: str | None = None  # the endpoint that takes camera_control here, if any
    elements: int = 0  # element_list entries on image2video

    def takes(self, seconds: int) -> bool:
        return seconds in self.seconds


# The map, model by model (cheapest way first). "-" in the map is False here.
WAYS: tuple[Way, ...] = (
    # kling-v1: 720p in both modes; start/end frame and motion brush at 5 s only; camera
    # control on text2video, std 5 s only.
    Way("kling-v1", "std", (5,), "720p", frames=True, camera=TEXT2VIDEO),
    Way("kling-v1", "std", (10,), "720p"),
    Way("kling-v1", "pro", (5,), "720p", frames=True),
    Way("kling-v1", "pro", (10,), "720p"),
    # kling-v1-5: image2video only; pro: start/end frame and end frame alone, 5 and 10 s;
    # camera control (simple only) at pro 5 s.
    Way("kling-v1-5", "std", CLASSIC, "720p", text=False),
    Way(
        "kling-v1-5",
        "pro",
        (5,),
        "1080p",
        text=False,
        frames=True,
        end_alone=True,
        camera=IMAGE2VIDEO,
    ),
    Way("kling-v1-5", "pro", (10,), "1080p", text=False, frames=True, end_alone=True),
    # kling-v1-6: pro takes start/end frame and end frame alone; no camera control.
    Way("kling-v1-6", "std", CLASSIC, "720p"),
    Way("kling-v1-6", "pro", CLASSIC, "1080p", frames=True, end_alone=True),
    # kling-v2-master: no mode; plain text and image to video. Resolution table: 720p
    # (third-party price lists say 1080p: the official table is followed).
    Way("kling-v2-master", None, CLASSIC, "720p"),
    # kling-v2-1: image2video only; start/end frame in pro.
    Way("kling-v2-1", "std", CLASSIC, "720p", text=False),
    Way("kling-v2-1", "pro", CLASSIC, "1080p", text=False, frames=True),
    # kling-v2-1-master: no mode, 1080p.
    Way("kling-v2-1-master", None, CLASSIC, "1080p"),
    # kling-v2-5-turbo: start/end frame in pro (the resolution table lists only pro 1080p;
    # the map and the price list have std too, at 720p).
    Way("kling-v2-5-turbo", "std", CLASSIC, "720p"),
    Way("kling-v2-5-turbo", "pro", CLASSIC, "1080p", frames=True),
    # kling-v2-6: std "only no audio"; pro with audio, start/end frame "only no audio".
    Way("kling-v2-6", "std", CLASSIC, "720p"),
    Way("kling-v2-6", "pro", CLASSIC, "1080p", frames=True, sound=True, sound_with_end=False),
    # kling-v3: 3-15 s in both modes; start & end frame, elements, native audio. No end
    # frame alone (no "end frame" row) and no camera control (no camera row). 4K is not a
    # mode of the legacy endpoints (mode enum: std, pro).
    Way("kling-v3", "std", V3_LENGTHS, "720p", frames=True, sound=True, elements=ELEMENTS),
    Way("kling-v3", "pro", V3_LENGTHS, "1080p", frames=True, sound=True, elements=ELEMENTS),
)
MODEL_IDS = tuple(dict.fromkeys(w.model for w in WAYS))
MODES = ("std", "pro")

# Lifecycle. Kling announces no shutdown dates: neither copy of the official docs (2025-12,
# 2026-03) deprecates a video model, and a 2026-07-13 snapshot of Kling's price list shows
# every one of these ids on sale (docs/providers/kling.md section 1.2). All GA, no dates.
MODELS: tuple[Model, ...] = (
    Model("kling-v3", "ga", use="default: 3-15 s, std 720p / pro 1080p, audio, elements"),
    Model("kling-v2-6", "ga", use="5/10 s; pro speaks (native audio)"),
    Model("kling-v2-5-turbo", "ga", use="5/10 s, cheap; pro takes start+end frames"),
    Model("kling-v2-1-master", "ga", use="5/10 s, 1080p, no mode"),
    Model("kling-v2-1", "ga", use="image to video only, 5/10 s"),
    Model("kling-v2-master", "ga", use="5/10 s, no mode"),
    Model("kling-v1-6", "ga", use="5/10 s; pro takes an end frame, also alone"),
    Model("kling-v1-5", "ga", use="image to video only, 5/10 s; pro takes an end frame"),
    Model("kling-v1", "ga", use="5/10 s, 720p; start+end frames at 5 s"),
)


def ways(model: str) -> tuple[Way, ...]:
    """The rows of ``model`` (empty for a model the map does not know)."""
    return tuple(w for w in WAYS if w.model == model)


def way(model: str, mode: str | None, seconds: int) -> Way | None:
    """The row for ``model`` in ``mode`` at ``seconds``, or None."""
    return next((w for w in ways(model) if w.mode == mode and w.takes(seconds)), None)


def resolutions(w: Way) -> tuple[str, ...]:
    """The film resolutions a way serves: what it renders and below (the core scales the
    clip down to the film's format), so a 720p film can pick pro for its inputs."""
    return ("720p",) if w.renders == "720p" else ("720p", "1080p")


def capabilities(w: Way, *, latency: float) -> Capabilities:
    """What ``w`` takes, as the core reads it. A way whose end frames come only without
    audio (kling-v2-6 pro) declares both: the plugin refuses the two together (``_request``)."""
    return Capabilities(
        durations=tuple(float(s) for s in w.seconds),
        min_duration=float(min(w.seconds)),
        max_duration=float(max(w.seconds)),
        snap_duration="up",
        aspect_ratios=ASPECT_RATIOS,
        resolutions=resolutions(w),
        max_references=w.elements or 1,  # elements, else one image to start from
        references_with_frames=bool(w.elements),  # else image2video's one image: frames win
        first_frame=True,
        last_frame=w.frames or w.end_alone,
        last_frame_alone=w.end_alone,
        native_audio=w.sound,
        webhooks=True,
        concurrency=5,
        price_per_second=price(w.model, w.mode, sound=False),
        expected_latency=latency,
    )


def variants(latency: float) -> tuple[Variant, ...]:
    """One variant per way, cheapest first within each model."""
    return tuple(Variant(w.model, capabilities(w, latency=latency), w.mode) for w in WAYS)
