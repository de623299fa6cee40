"""The Gemini TTS models: their lifecycle (one declaration, ``MODELS``, which the engine's
``EngineSpec.models`` is), how each wants its requests (the line verbatim with the style in
``speech_metadata``, or the style written into the text), their prices, and where Vertex AI
serves them.

Pure Python and cheap to import. Sources (the plugin's README, "Models"): Google's Gemini API
deprecations page and changelog (2026-09-22), the Vertex AI TTS overview and migration guide,
and, for prices and the older models' shutdown dates, third parties (named where used).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from ministudio.engines import Model
from ministudio.errors import EngineError

ENGINE = "gemini"
DEFAULT_MODEL = "gemini-3.8-flash-tts"

# One source of truth for ids, stages, shutdowns and replacements. Google's deprecations page
# (read as of October 2026) announces no shutdown date for any TTS model; two third parties
# give 2026-11-17 and 2026-12-18 for the preview ones. Neither is Google's word, so no date is
# declared: Google's 404 then names the replacement (see gemini._failure).
MODELS: tuple[Model, ...] = (
    Model(
        DEFAULT_MODEL,
        "ga",
        use="the flagship (GA 2026-09-22; Preview on Vertex AI): best acting, two speakers, "
        "130 languages; the line is read verbatim, its style goes in speech_metadata",
    ),
    Model(
        "gemini-3.8-flash-lite-tts",
        "ga",
        use="faster and cheaper (GA 2026-09-22; Preview on Vertex AI), about 100 languages; "
        "the line is read verbatim, its style goes in speech_metadata",
    ),
    Model(
        "gemini-3.1-flash-tts-preview",
        "deprecated",
        replacement="gemini-3.8-flash-lite-tts",  # Google: its "direct replacement"
        use="legacy preview, style written into the text; no shutdown date announced "
        "(third parties: 2026-11-17 or 2026-12-18)",
    ),
    Model(
        "gemini-2.5-flash-preview-tts",
        "deprecated",
        replacement=DEFAULT_MODEL,
        use="Gemini API preview, style written into the text; no shutdown date announced "
        "(third parties: 2026-11-17 or 2026-12-18)",
    ),
    Model(
        "gemini-2.5-pro-preview-tts",
        "deprecated",
        replacement=DEFAULT_MODEL,
        use="Gemini API preview, style written into the text; no shutdown date announced "
        "(third parties: 2026-11-17 or 2026-12-18)",
    ),
    Model(
        "gemini-2.5-flash-tts",
        "ga",
        replacement=DEFAULT_MODEL,
        use="Vertex AI only (also regional), style written into the text; Google's migration "
        "guide moves it to gemini-3.8-flash-tts",
    ),
    Model(
        "gemini-2.5-pro-tts",
        "ga",
        replacement=DEFAULT_MODEL,
        use="Vertex AI only (also regional), style written into the text; Google's migration "
        "guide moves it to gemini-3.8-flash-tts",
    ),
)

# The models that take the style written into the text and refuse ``speech_metadata`` (a
# third party saw gemini-3.1-flash-tts-preview answer it with 400): the 2.5 and 3.1 families.
# Every other model, the 3.8 ones and any later one, reads its text verbatim (Google: "Say
# cheerfully: Hello!" "might be read aloud"), so it gets the line alone and the style in
# ``speech_metadata``; an instruction read aloud is worse than a 400.
_IN_TEXT_STYLE = re.compile(r"^gemini-(2\.5|3\.1)-")

# Vertex AI serves the 3.8 models at ``global`` and the ``us``/``eu`` multi-regions only
# (the newer overview; the older said ``global`` only); no source names a single region.
MULTI_REGION_MODELS = frozenset({"gemini-3.8-flash-tts", "gemini-3.8-flash-lite-tts"})
MULTI_REGIONS = ("global", "us", "eu")
DEFAULT_LOCATION = "global"
_LOCATION = re.compile(r"^[a-z][a-z0-9-]{1,40}$")

# USD per million tokens (text in, audio out), as (last day, in, out) steps. Third parties
# citing ai.google.dev/gemini-api/docs/pricing (LiteLLM's discussion, Vercel's AI Gateway, a
# trial report of 2026-09-27): launch prices through 2026-12-31, doubled from 2027-01-01.
# The older models' prices are not in the notes: they are estimated at Flash's.
_LAUNCH_END = dt.date(2026, 12, 31)
PRICES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "gemini-3.8-flash-tts": ((0.50, 9.0), (1.0, 18.0)),
    "gemini-3.8-flash-lite-tts": ((0.50, 6.0), (1.0, 12.0)),
}
# Audio tokens a second of speech: Google's figure is 25 (as a third party quotes it); a
# third party measured about 32 on 3.8 Flash-Lite. The higher one, so budgets are not short.
AUDIO_TOKENS_PER_SECOND = 32


def in_text_style(model: str) -> bool:
    """Whether ``model`` wants the style written into the text (the 2.5 and 3.1 previews)
    rather than the line verbatim with the style in ``speech_metadata``."""
    return bool(_IN_TEXT_STYLE.match(model))


def current() -> list[str]:
    """The ids of the declared models that are not deprecated or retired."""
    return [m.id for m in MODELS if m.stage in ("ga", "preview")]


def replacement(model: str) -> str | None:
    """The declared replacement of ``model``, if it has one."""
    found = next((m for m in MODELS if m.id == model), None)
    return found.replacement if found else None


def prices(model: str, on: dt.date | None = None) -> tuple[float, float]:
    """USD per token (text in, audio out) for ``model`` on the day ``on`` (default today)."""
    steps = PRICES.get(model, PRICES[DEFAULT_MODEL])
    day = on or dt.datetime.now(dt.timezone.utc).date()
    text, audio = steps[0] if day <= _LAUNCH_END else steps[1]
    return text / 1e6, audio / 1e6


class LocationRefused(EngineError):
    """A Vertex AI location that does not serve the model: refused before any request."""

    def __init__(self, model: str, location: str, variable: str) -> None:
        self.model = model
        self.location = location
        self.variable = variable
        served = ", ".join(MULTI_REGIONS)
        super().__init__(
            ENGINE,
            f"model '{model}' is served on Vertex AI only at the locations {served}, not at "
            f"'{location}' ({variable}): set GEMINI_TTS_LOCATION=global (or us, eu) for speech "
            "alone, leaving GOOGLE_CLOUD_LOCATION to the other engines, or pick a model served "
            "there with the voice option model (gemini-2.5-flash-tts, gemini-2.5-pro-tts)",
        )


def vertex_location(model: str, env: Mapping[str, str]) -> str:
    """The Vertex AI location for ``model``: ``GEMINI_TTS_LOCATION``, else
    ``GOOGLE_CLOUD_LOCATION``, else ``global``. A single region with a 3.8 model is refused
    (``LocationRefused``), never silently replaced: the user chose it."""
    for variable in ("GEMINI_TTS_LOCATION", "GOOGLE_CLOUD_LOCATION"):
        value = (env.get(variable) or "").strip().lower()
        if value:
            break
    else:
        return DEFAULT_LOCATION
    if not _LOCATION.match(value):
        raise EngineError(
            ENGINE, f"{variable} must be a location such as global, us or eu, not {value!r}"
        )
    if model in MULTI_REGION_MODELS and value not in MULTI_REGIONS:
        raise LocationRefused(model, value, variable)
    return value
