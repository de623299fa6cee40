"""What the engine ``runway`` is: its id, models, capabilities, variants and prices. Imports
nothing but ``ministudio.engines``, so declaring the engine stays cheap.

Sources (the package README cites each): the ``runwayml`` 5.13 SDK types
(``types/image_to_video_create_params.py``, ``types/text_to_video_create_params.py``) and
Runway's API reference at docs.dev.runwayml.com.
"""

from __future__ import annotations

import os
from typing import Final

from ministudio.engines import Capabilities, EngineSpec, Model, Variant

ENGINE: Final = "runway"
GEN45: Final = "gen4.5"
TURBO: Final = "gen4_turbo"
# Aleph 2.0, video to video: the ``edit`` retake rung (runwayml 5.24
# types/video_to_video_create_params.py Variant0: model "aleph2"). Its predecessor gen4_aleph
# left the API spec in June 2026 (sdk-python d106617): not offered.
ALEPH: Final = "aleph2"
RETIRED_ALEPH: Final = "gen4_aleph"
DEFAULT_MODEL: Final = GEN45
KEYS: Final = ("RUNWAYML_API_SECRET",)  # the SDK's own variable (runwayml._client)
BASE_URL: Final = "https://api.dev.runwayml.com"  # the SDK's default; RUNWAYML_BASE_URL
API_VERSION: Final = "2024-11-06"  # X-Runway-Version, the SDK's runway_version default
MAX_PROMPT: Final = 1000  # "up to 1000 characters (measured in UTF-16 code units)"
# "The length of the encoded data URI must be under 5MB (1024 x 1024 x 5 bytes)"
# (docs.dev.runwayml.com/assets/inputs/)
MAX_DATA_URI: Final = 5 * 1024 * 1024

# The film's aspect ratio -> Runway's ``ratio`` (an output size). Image to video, both
# models: 1280:720, 720:1280, 1104:832, 832:1104, 960:960, 1584:672.
RATIOS: Final[dict[str, str]] = {
    "16:9": "1280:720",
    "9:16": "720:1280",
    "4:3": "1104:832",
    "3:4": "832:1104",
    "1:1": "960:960",
    "21:9": "1584:672",
}
# Gen-4.5 text to video takes only these two (text_to_video_create_params.Gen4_5.ratio).
TEXT_RATIOS: Final = ("1280:720", "720:1280")
# gen4.5: "an integer from 2 to 10". gen4_turbo: the SDK gives no range; 5 and 10 are the
# lengths every source lists (README: re-check for 2-10).
GEN45_DURATIONS: Final = tuple(float(s) for s in range(2, 11))
TURBO_DURATIONS: Final = (5.0, 10.0)

# "A minimum payment of $10 (at $0.01 per credit)" (docs.dev.runwayml.com/guides/setup)
CREDIT_USD: Final = 0.01
# Credits per second of output, per https://docs.dev.runwayml.com/guides/pricing/ as the
# README "Prices" cites it (read 2026-12-03 through first- and third-party copies: the page
# itself was not reachable here; re-check before a release).
CREDITS_PER_SECOND: Final[dict[str, int]] = {GEN45: 12, TURBO: 5, ALEPH: 28}
# aleph2 bills "a 56-credit minimum": 2 s at 28 credits/s (README "Prices")
MIN_CREDITS: Final[dict[str, int]] = {ALEPH: 56}
# aleph2 takes input videos of 2 to 30 s (README "Aleph"); its output has the input's length
# (no duration parameter; docs/providers/runway.md): a previz over 30 s cannot be promoted
EDIT_SECONDS: Final = (2.0, 30.0)
# aleph2 input frame rate: "2-30 seconds at 30 fps or less" (Comfy's Aleph2 node docs, a third
# party: docs/providers/runway.md)
EDIT_MAX_FPS: Final = 30
# "The maximum uploadable file is 200MB. The minimum uploadable file is 512 bytes."
# (docs.dev.runwayml.com/assets/uploads): the previz clip goes through POST /v1/uploads
UPLOAD_BYTES: Final = (512, 200 * 1024 * 1024)
# The previz passes aleph2 takes (``Capabilities.video_edit``): the clip as ``videoUri``;
# no control passes (depth, pose, ...) in video_to_video_create_params.Variant0
PROMOTE_PASSES: Final = ("clip",)
HIGHEST: Final = max(CREDITS_PER_SECOND.values())

MODELS: Final = (
    Model(GEN45, "ga", aliases=("gen-4.5",), use="the default: text or first frame to video"),
    Model(TURBO, "ga", aliases=("gen-4-turbo",), use="cheaper and faster; needs a first frame"),
)


def price_per_second(model: str) -> float:
    """USD per second of output of ``model`` (an unknown model at the highest rate)."""
    return round(CREDITS_PER_SECOND.get(model, HIGHEST) * CREDIT_USD, 6)


def _number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


def spec() -> EngineSpec:
    """``runway``: Gen-4.5 (default) and Gen-4 Turbo through the official SDK; the ``edit``
    retake rung and previz promotion (``video_edit``) through Aleph 2.0 (``aleph2``, video
    to video)."""
    envelope = Capabilities(
        durations=GEN45_DURATIONS,
        min_duration=2.0,
        max_duration=10.0,
        snap_duration="up",
        aspect_ratios=tuple(RATIOS),
        resolutions=("720p",),
        max_references=0,  # no referenceImages on the gen4.5 / gen4_turbo video endpoints
        first_frame=True,  # promptImage position "first"
        last_frame=False,  # position "last" is not allowed for gen4.5 / gen4_turbo
        last_frame_alone=False,
        seed=True,
        edit=True,  # the edit rung: aleph2 (video_to_video) on the take's own output
        video_edit=PROMOTE_PASSES,  # promote a previz: aleph2 on the uploaded previz clip
        webhooks=False,  # task polling only
        concurrency=max(1, int(_number("RUNWAY_CONCURRENCY", 1.0))),
        price_per_second=price_per_second(GEN45),
        expected_latency=_number("RUNWAY_EXPECTED_LATENCY", 120.0),
    )
    # gen4_turbo is a model, not a variant: it takes images only, and no capability says "a
    # first frame is required" (a variant is tested, and picked, on text shots too). A shot
    # routed to it without a first frame, or off its 5/10 s grid, is refused before sending.
    return EngineSpec(
        id=ENGINE,
        kind="video",
        description="Runway Gen-4.5 and Gen-4 Turbo through the official runwayml SDK; edits "
        "of its own takes and previz promotion with Aleph 2.0",
        key_env=KEYS,
        default_model=DEFAULT_MODEL,
        models=MODELS,
        variants=(Variant(GEN45, envelope),),
        marks_sending=True,  # submit calls context.sending() right before the create
        revision=0,  # paid: pinned, so a package upgrade never re-pays a clip
        capabilities=envelope,
    )
