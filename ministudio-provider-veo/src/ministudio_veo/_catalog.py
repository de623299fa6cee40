"""Google's models for each engine of this plugin, with their lifecycle, and their prices.

Plain data (no SDK, no pydantic), so declaring the engines stays cheap. Dates are Google's
where Google published them; each one says where it comes from.
"""

from __future__ import annotations

import datetime as dt

from ministudio.engines import Model

OMNI_DEFAULT = "gemini-omni-1.1-flash"
VERTEX_DEFAULT = "veo-3.1-generate-001"
JUDGE_MODEL = "gemini-3.8-flash"  # GA since September 2026; see judge.PRICES

# -- gemini-omni: Gemini Omni on the Gemini API's Interactions endpoint -------------------------
OMNI_MODELS = (
    Model(
        OMNI_DEFAULT,
        stage="ga",
        aliases=("omni-1.1",),
        # https://ai.google.dev/gemini-api/docs/omni names it in every sample; the Gemini API
        # deprecations page lists it (released 2026-08-27) with no shutdown announced.
        use="default: text or images to a 3-10 s clip with sound; edits by instruction",
    ),
    Model(
        "gemini-omni-1.2-flash",
        stage="ga",
        aliases=("omni-1.2",),
        # Google's SDK release notes (python-genai v3.1.0, java-genai v2.1.0, 2026-11-10): "Add
        # gemini-omni-1.2-flash and make it the gemini-api video default"; no Gemini API page
        # documents its limits yet, so it is not the default here.
        use="latest Omni (Google's SDK default since November 2026); same limits assumed",
    ),
    Model(
        "gemini-omni-flash-preview",
        stage="retired",
        # Third-party date (no Google page found): turned off on the Gemini API on 2026-09-30,
        # replaced by 1.1. Vertex deprecated it on 2026-11-06 (Google's Vertex model page).
        shutdown=dt.date(2026, 9, 30),
        replacement=OMNI_DEFAULT,
        use="the 720p preview of June 2026",
    ),
)

# -- veo: Veo on the Gemini API, which no longer serves any Veo model ------------------------
# https://ai.google.dev/gemini-api/docs/deprecations ("Veo models"): the 3.1 previews shut down
# on 2026-10-22 with gemini-omni-1.1-flash as the replacement; 3.0 and 2.0 on 2026-06-30 (their
# listed replacement, the 3.1 preview, is gone too, so Omni it is).
GEMINI_VEO_MODELS = (
    Model(
        "veo-3.1-generate-preview",
        stage="retired",
        shutdown=dt.date(2026, 10, 22),
        replacement=OMNI_DEFAULT,
        replacement_engine="gemini-omni",
        aliases=("veo-3.1",),
    ),
    Model(
        "veo-3.1-fast-generate-preview",
        stage="retired",
        shutdown=dt.date(2026, 10, 22),
        replacement=OMNI_DEFAULT,
        replacement_engine="gemini-omni",
        aliases=("veo-3.1-fast",),
    ),
    Model(
        "veo-3.1-lite-generate-preview",
        stage="retired",
        shutdown=dt.date(2026, 10, 22),
        replacement=OMNI_DEFAULT,
        replacement_engine="gemini-omni",
        aliases=("veo-3.1-lite",),
    ),
    *(
        Model(
            model,
            stage="retired",
            shutdown=dt.date(2026, 6, 30),
            replacement=OMNI_DEFAULT,
            replacement_engine="gemini-omni",
        )
        for model in ("veo-3.0-generate-001", "veo-3.0-fast-generate-001", "veo-2.0-generate-001")
    ),
)
GEMINI_VEO_DEFAULT = "veo-3.1-generate-preview"  # retired: validate names the replacement

# -- veo-vertex: Veo on Vertex AI (Gemini Enterprise Agent Platform) -------------------------
# Model versions page (docs.cloud.google.com/gemini-enterprise-agent-platform/models/
# model-versions): 3.1 and 3.1 Fast GA since 2025-11-17, "retirement on or after 2026-11-17"
# with no date nor replacement announced since, so no shutdown is declared (a passed date
# would refuse every render); 3.0 and 2.0 retired on 2026-06-30 for the 3.1 ids. 3.1 Lite's
# stage is not on a Google page found; public clients and Google's SDK tests use it.
VERTEX_MODELS = (
    Model(
        VERTEX_DEFAULT,
        stage="ga",
        aliases=("veo-3.1",),
        use="default: 4/6/8 s, up to 4k; reference images; seed, sound on or off",
    ),
    Model(
        "veo-3.1-fast-generate-001",
        stage="ga",
        aliases=("veo-3.1-fast",),
        use="a quarter of the price, slightly lower quality",
    ),
    Model(
        "veo-3.1-lite-generate-001",
        stage="ga",
        aliases=("veo-3.1-lite",),
        use="cheapest: 720p/1080p, no reference images",
    ),
    Model(
        "veo-3.0-generate-001",
        stage="retired",
        shutdown=dt.date(2026, 6, 30),
        replacement=VERTEX_DEFAULT,
    ),
    Model(
        "veo-3.0-fast-generate-001",
        stage="retired",
        shutdown=dt.date(2026, 6, 30),
        replacement="veo-3.1-fast-generate-001",
    ),
    Model(
        "veo-2.0-generate-001",
        stage="retired",
        shutdown=dt.date(2026, 6, 30),
        replacement=VERTEX_DEFAULT,
    ),
)

JUDGE_MODELS = (Model(JUDGE_MODEL, stage="ga", use="vision judge of identity and continuity"),)

# -- gemini-writer: a text model's structured output (``writer``) ---------------------------
WRITER_MODEL = "gemini-3.8-flash"
# Stages: gemini-3.8-flash GA 2026-09-02 (the judge's model); 3.5 Flash and 3.1 Flash-Lite on
# ai.google.dev/gemini-api/docs/pricing (2026-10-07 transcription); 3.1 Pro as a preview there.
WRITER_MODELS = (
    Model(WRITER_MODEL, stage="ga", use="default: writes a production from a brief (JSON)"),
    Model("gemini-3.5-flash", stage="ga", use="the previous Flash, dearer"),
    Model("gemini-3.1-flash-lite", stage="ga", use="cheapest; weaker at long productions"),
    Model("gemini-3.1-pro-preview", stage="preview", use="strongest, slowest and dearest"),
)
# USD per 1M tokens (input, output with thinking), paid tier: ai.google.dev/gemini-api/docs/
# pricing as transcribed on 2026-10-07 ("Gemini 3.8 Flash input $0.75 through December 31,
# 2026": the launch price, ``WRITER_PROMOTIONS``). A model not listed is priced as the default.
WRITER_PRICES: dict[str, tuple[float, float]] = {
    WRITER_MODEL: (1.50, 7.50),
    "gemini-3.5-flash": (1.50, 9.00),
    "gemini-3.1-flash-lite": (0.25, 1.50),
    "gemini-3.1-pro-preview": (2.00, 12.00),
}
WRITER_PROMOTIONS: dict[str, tuple[dt.date, tuple[float, float]]] = {
    WRITER_MODEL: (dt.date(2027, 1, 1), (0.75, 3.75)),
}

# -- gemini-image: Gemini's image models (``image``) -----------------------------------------
IMAGE_MODEL = "gemini-3.1-flash-image"
# ai.google.dev/gemini-api/docs/image-generation and Vertex's model cards: the previews were
# shut down on 2026-06-25 (the deprecations page, as a third party quotes it).
IMAGE_MODELS = (
    Model(
        IMAGE_MODEL,
        stage="ga",
        use="default: 512 to 4K, 14 ratios, up to 14 reference images (GA 2026-05-28)",
    ),
    Model("gemini-3-pro-image", stage="ga", use="finest detail and text, 1K to 4K, dearer"),
    Model("gemini-2.5-flash-image", stage="ga", use="cheapest: 1K only, 3 reference images"),
    *(
        Model(
            old,
            stage="retired",
            shutdown=dt.date(2026, 6, 25),
            replacement=new,
        )
        for old, new in (
            ("gemini-3-pro-image-preview", "gemini-3-pro-image"),
            ("gemini-3.1-flash-image-preview", IMAGE_MODEL),
            ("gemini-2.5-flash-image-preview", "gemini-2.5-flash-image"),
            ("gemini-2.0-flash-preview-image-generation", IMAGE_MODEL),
        )
    ),
)


# -- prices (USD per second of output) -------------------------------------------------------
# Gemini Omni bills output video as tokens ($17.50 per 1M). Google publishes no per-second
# table: 5,792 tokens/s at 720p and 1,931 at 360p are third-party measurements, 8,688 (1080p)
# and 17,376 (4k) a third-party transcription of Vertex's pricing (/tmp notes: omni.md §4,
# veo.md §5). Treat them as estimates.
OMNI_PRICES = {
    "360p": 0.0338,
    "720p": 0.1014,
    "1080p": 0.1520,
    "2160p": 0.3041,
}

# Veo on Vertex by (family, resolution, with sound), as transcribed by two third parties from
# cloud.google.com/gemini-enterprise-agent-platform/generative-ai/pricing (September 2026).
VEO_PRICES = {
    ("standard", "720p", True): 0.40,
    ("standard", "1080p", True): 0.40,
    ("standard", "2160p", True): 0.60,
    ("standard", "720p", False): 0.20,
    ("standard", "1080p", False): 0.20,
    ("standard", "2160p", False): 0.40,
    ("fast", "720p", True): 0.10,
    ("fast", "1080p", True): 0.12,
    ("fast", "2160p", True): 0.30,
    ("fast", "720p", False): 0.08,
    ("fast", "1080p", False): 0.10,
    ("fast", "2160p", False): 0.25,
    ("lite", "720p", True): 0.05,
    ("lite", "1080p", True): 0.08,
    ("lite", "720p", False): 0.03,
    ("lite", "1080p", False): 0.05,
}

__all__ = [
    "GEMINI_VEO_DEFAULT",
    "GEMINI_VEO_MODELS",
    "IMAGE_MODEL",
    "IMAGE_MODELS",
    "JUDGE_MODEL",
    "JUDGE_MODELS",
    "OMNI_DEFAULT",
    "OMNI_MODELS",
    "OMNI_PRICES",
    "VEO_PRICES",
    "VERTEX_DEFAULT",
    "VERTEX_MODELS",
    "WRITER_MODEL",
    "WRITER_MODELS",
    "WRITER_PRICES",
    "WRITER_PROMOTIONS",
]
