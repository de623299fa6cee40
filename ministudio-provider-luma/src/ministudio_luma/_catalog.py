"""What the two Luma engines are: ids, models with their lifecycle, capabilities, variants and
prices. Imports nothing but ``ministudio.engines``, so declaring the engines stays cheap.

Sources are Luma's (docs/providers/luma.md cites each): the ``luma-agents`` 0.5 SDK types
(``types/video_options_param.py`` and friends) and the Agents API guides at
docs.agents.lumalabs.ai for ``luma``; the ``lumaai`` 1.21 SDK for ``luma-dream-machine``.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Final

from ministudio.engines import Capabilities, EngineSpec, Model, Variant

# -- luma: the Agents API (Ray 3.2) -----------------------------------------------------------
AGENTS: Final = "luma"
AGENTS_MODEL: Final = "ray-3.2"
AGENTS_KEYS: Final = ("LUMA_AGENTS_API_KEY",)  # the SDK's own variable (luma_agents._client)
AGENTS_BASE_URL: Final = "https://agents.lumalabs.ai/v1"  # the SDK's default; LUMA_BASE_URL
# ray-3.2 video aspect ratios: the SDK enum is the image list and "the server validates the
# final model-specific set" (generation_create_params.py); the video set is these six
# (notes §1.2). Dream Machine's 9:21 is gone.
AGENTS_ASPECT_RATIOS: Final = ("9:16", "3:4", "1:1", "4:3", "16:9", "21:9")
# video_resolution.py: 360p (draft, SDR only), 540p, 720p, 1080p. A 480p film is rendered
# at 540p (the core fits it down): Luma has no 480p.
AGENTS_RESOLUTIONS: Final = ("360p", "480p", "720p", "1080p")
EXTENSION_SECONDS: Final = 5.0  # "Extensions are always 5 seconds" (notes §3.1)
MAX_PROMPT: Final = 6000  # 1-6,000 characters (notes §1.2)
FPS: Final = 24  # the keyframe grid: 5 s = frames 0..120, 10 s = 0..240 (video_options_param)
# video_edit: "The source video must be 18 seconds or shorter; output duration matches the
# source" (video_edit_options_param.py; the FAQ's 30 s and the marketing page's 20 s are looser:
# the typed schema is the wire contract, notes §3.2 and §6.2)
EDIT_MAX_SOURCE: Final = 18.0
# A previz is promoted from its picture alone: Luma derives depth, pose, face, normals and
# trajectory from the source video itself (advanced_controls_param.py: each control only says
# enabled or not, with a blur/strength/augmentation/sparsity; no field takes a control video),
# so the previz's own depth and pose passes cannot be sent.
PROMOTE_PASSES: Final = ("clip",)

# USD per generation, pay as you go: https://docs.agents.lumalabs.ai/guides/pricing/ as
# transcribed on 2026-07-10 by a third party that links it (notes §2; the first-party excerpt
# confirms "videos are priced by request type, resolution, dynamic range, and duration").
# (operation, seconds) -> {resolution: price}. 360p draft prices are not transcribed: a 360p
# job is estimated at the 540p price (an upper bound). An extension costs a 5 s generation.
AGENTS_PRICES: Final[dict[tuple[str, int], dict[str, float]]] = {
    ("video", 5): {"540p": 0.15, "720p": 0.30, "1080p": 1.20},
    ("video", 10): {"540p": 0.45, "720p": 0.90, "1080p": 3.60},
    ("video_edit", 5): {"540p": 0.72, "720p": 1.08, "1080p": 2.16},
    ("video_edit", 10): {"540p": 1.44, "720p": 2.16, "1080p": 4.32},
}
# An edit's output "matches the source" (video_edit_options_param.py), so its price follows
# the source's length. The table's 10 s edit is exactly two 5 s edits at every resolution, and
# GMI Cloud says "a 10s video bills as two 5s blocks" (notes §2, §6.6): an edit is priced here per
# started 5 s of source (a 7 s previz costs the 10 s edit). Past 10 s (up to 18 s) no source
# gives a price: the same 5 s rate per block is our extrapolation (an 18 s previz: 4 blocks).
EDIT_BLOCK_SECONDS: Final = 5


def agents_spec() -> EngineSpec:
    """``luma``: Ray 3.2 through the Agents API and the official ``luma-agents`` SDK."""
    envelope = Capabilities(
        durations=(5.0, 10.0),
        min_duration=5.0,
        max_duration=10.0,
        snap_duration="up",
        aspect_ratios=AGENTS_ASPECT_RATIOS,
        resolutions=AGENTS_RESOLUTIONS,
        max_references=0,  # image_ref on type=video is undocumented: routing option image_ref
        first_frame=True,
        last_frame=True,
        last_frame_alone=True,
        loop=True,
        extend=True,
        edit=True,  # type=video_edit on the take's generation_id
        video_edit=PROMOTE_PASSES,  # a previz promoted by type=video_edit (_request.promote)
        webhooks=False,  # the Agents API has no callbacks (notes §1.4)
        concurrency=5,  # per account (X-RateLimit-*): override in routing.limits
        price_per_second=AGENTS_PRICES[("video", 5)]["720p"] / 5,
        expected_latency=_latency(90.0),
    )
    # Frames, loop and extension: start_frame/end_frame ("the legacy 2-frame surface") and an
    # extension take 5 s only; loop is "not supported with duration=10s" (video_options_param).
    five = replace(envelope, durations=(5.0,), max_duration=5.0)
    # 10 s: text, or frames as keyframes at output frames 0 and 240 (keyframes "support
    # arbitrary positions, 10s durations"); no loop, no extension.
    ten = replace(
        envelope,
        durations=(10.0,),
        loop=False,
        extend=False,
        price_per_second=AGENTS_PRICES[("video", 10)]["720p"] / 10,
    )
    return EngineSpec(
        id=AGENTS,
        revision=0,  # paid: pinned, so a package upgrade never re-pays a clip
        kind="video",
        description="Luma Ray 3.2 through the Agents API (luma-agents SDK): text, frames, "
        "extension, loops, video-to-video edits, previz promotion",
        key_env=AGENTS_KEYS,
        default_model=AGENTS_MODEL,
        models=(
            Model(
                AGENTS_MODEL,
                "preview",  # the pricing page: rates "may change ahead of general availability"
                use="Luma's current video model: text/image to video, keyframes, 5 s "
                "extensions, video-to-video edits; silent",
            ),
        ),
        variants=(Variant(AGENTS_MODEL, five), Variant(AGENTS_MODEL, ten)),
        capabilities=envelope,
        marks_sending=True,  # _agents.submit calls context.sending() right before the create
    )


# -- luma-dream-machine: the legacy Dream Machine API (Ray 2) ---------------------------------
DREAM_MACHINE: Final = "luma-dream-machine"
DM_MODEL: Final = "ray-2"
DM_KEYS: Final = ("LUMAAI_API_KEY",)
DM_ASPECT_RATIOS: Final = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")
DM_PRICE_PER_SECOND: Final = 0.14  # ray-2 720p 16:9 (secondary figure, see _dream_machine)
DM_MAX_CHARACTER_REFS: Final = 4  # through a Photon identity keyframe
_LEGACY = (
    "Luma calls the Dream Machine API its legacy surface; the Agents API's ray-3.2 replaces "
    "it (no shutdown date announced)"
)


def dream_machine_spec() -> EngineSpec:
    """``luma-dream-machine``: Ray 2 through the Dream Machine API and the ``lumaai`` SDK."""
    return EngineSpec(
        id=DREAM_MACHINE,
        revision=0,  # paid: pinned, so a package upgrade never re-pays a clip
        kind="video",
        description="Luma Dream Machine (Ray 2, legacy API) through the lumaai SDK",
        key_env=DM_KEYS,
        default_model=DM_MODEL,
        models=tuple(
            Model(
                model,
                "deprecated",  # legacy, still served: no shutdown date (notes §1)
                replacement=AGENTS_MODEL,
                replacement_engine=AGENTS,
                use=use,
                why=_LEGACY,
            )
            for model, use in (
                (DM_MODEL, "Ray 2 on the legacy API"),
                ("ray-flash-2", "faster and cheaper Ray 2 on the legacy API"),
            )
        ),
        capabilities=Capabilities(
            durations=(5.0, 9.0),
            min_duration=5.0,
            max_duration=9.0,
            snap_duration="up",
            aspect_ratios=DM_ASPECT_RATIOS,
            resolutions=("720p", "1080p"),
            max_references=DM_MAX_CHARACTER_REFS,
            first_frame=True,
            extend=True,  # a `continue` shot extends the previous Dream Machine generation
            last_frame=True,
            loop=True,
            webhooks=True,
            concurrency=10,
            requests_per_minute=20,
            price_per_second=DM_PRICE_PER_SECOND,
            expected_latency=_latency(45.0),
        ),
        marks_sending=True,
    )


def _latency(default: float) -> float:
    """``LUMA_EXPECTED_LATENCY`` (read when the engines are declared), else ``default``."""
    try:
        return float(os.environ.get("LUMA_EXPECTED_LATENCY") or default)
    except ValueError:
        return default


# -- luma-photon: Photon stills on the Dream Machine API ---------------------------------------
PHOTON: Final = "luma-photon"
PHOTON_MODEL: Final = "photon-1"  # "photon-1 (default)": docs.lumalabs.ai/docs/image-generation
PHOTON_MODELS: Final = ("photon-1", "photon-flash-1")  # ibid.; lumaai image_create_params.py
# The seven ratios of docs.lumalabs.ai/docs/image-generation ("16:9 (default)") and of lumaai
# image_create_params.py; a still is drawn at the one nearest what the cast asks for.
PHOTON_ASPECT_RATIOS: Final = DM_ASPECT_RATIOS
# "You can use up to 4 images as references" (image_ref, docs.lumalabs.ai/docs/image-generation);
# character_ref identity0 takes a list of image URLs (image_create_params.py): held to 4 as well.
PHOTON_MAX_REFERENCES: Final = 4
# USD per image. Luma publishes no Photon price in its docs or SDK: these are WaveSpeedAI's
# flat per-image rates for Luma's models (wavespeed.ai/docs/docs-api/luma/luma-photon and
# .../luma-photon-flash, read 2026-12-04), a reseller's and so an upper bound of Luma's own.
PHOTON_PRICES: Final = {"photon-1": 0.015, "photon-flash-1": 0.005}


def photon_spec() -> EngineSpec:
    """``luma-photon``: Photon stills for ``ministudio cast`` (the ``lumaai`` SDK's
    ``generations.image``), with the Dream Machine key."""
    return EngineSpec(
        id=PHOTON,
        revision=0,  # paid: pinned, so a package upgrade never re-pays a still
        kind="image",
        description="Luma Photon stills (Dream Machine API, lumaai SDK): character sheets "
        "and sets, a sheet's views matched to its front through character_ref",
        key_env=DM_KEYS,
        default_model=PHOTON_MODEL,
        models=tuple(
            Model(
                model,
                "deprecated",  # legacy, still served: no shutdown date (notes §1)
                use=use,
                why="Luma calls the Dream Machine API its legacy surface; its Agents API draws "
                "images with uni-1 instead (no shutdown date announced)",
            )
            for model, use in (
                (PHOTON_MODEL, "Photon: Luma's image model on the legacy API"),
                ("photon-flash-1", "Photon Flash: faster and cheaper Photon"),
            )
        ),
        capabilities=Capabilities(
            aspect_ratios=PHOTON_ASPECT_RATIOS,
            max_references=PHOTON_MAX_REFERENCES,
            concurrency=4,  # cast's stills at once; override in routing.limits
            expected_latency=_latency(20.0),
        ),
    )


# -- luma-uni: uni-1 stills on the Agents API --------------------------------------------------
UNI: Final = "luma-uni"
UNI_MODEL: Final = "uni-1"  # "Defaults to uni-1" (docs.agents.lumalabs.ai/guides/image-generation)
UNI_MODELS: Final = ("uni-1", "uni-1-max")  # ibid.; luma-agents types/model.py
# The nine of guides/image-generation (the SDK's enum also has 21:9, 4:3 and 3:4, but "the
# server validates the final model-specific set"); a still is drawn at the one nearest its size.
UNI_ASPECT_RATIOS: Final = ("3:1", "2:1", "16:9", "3:2", "1:1", "2:3", "9:16", "1:2", "1:3")
# image_ref: "Up to 9 for type 'image'" (generation_create_params.py; guides/model)
UNI_MAX_REFERENCES: Final = 9
# USD per image, pay as you go (docs.agents.lumalabs.ai/guides/pricing, read 2026-12-04):
# (text to image, image reference with 1 image); "Each extra reference image adds $0.0030".
UNI_PRICES: Final = {"uni-1": (0.0404, 0.0434), "uni-1-max": (0.1000, 0.1030)}
UNI_EXTRA_REFERENCE: Final = 0.0030


def uni_price(model: str, references: int) -> float:
    """USD for one ``model`` image with ``references`` reference images (the pricing page)."""
    text, one = UNI_PRICES.get(model, UNI_PRICES[UNI_MODEL])
    if references <= 0:
        return text
    return round(one + UNI_EXTRA_REFERENCE * (min(references, UNI_MAX_REFERENCES) - 1), 4)


def uni_spec() -> EngineSpec:
    """``luma-uni``: uni-1 stills for ``ministudio cast`` on the Agents API (``luma``'s
    ``luma-agents`` SDK and key)."""
    return EngineSpec(
        id=UNI,
        revision=0,  # paid: pinned, so a package upgrade never re-pays a still
        kind="image",
        description="Luma uni-1 stills (Agents API, luma-agents SDK): character sheets and "
        "sets, a sheet's views matched to its front through image_ref (sent inline)",
        key_env=AGENTS_KEYS,
        default_model=UNI_MODEL,
        models=(
            Model(UNI_MODEL, use="Luma's current image model: text and reference images to image"),
            Model("uni-1-max", use="higher-quality uni-1 at about 2.5 times the price"),
        ),
        capabilities=Capabilities(
            aspect_ratios=UNI_ASPECT_RATIOS,
            max_references=UNI_MAX_REFERENCES,
            concurrency=4,  # cast's stills at once; override in routing.limits
            expected_latency=_latency(20.0),
        ),
    )
