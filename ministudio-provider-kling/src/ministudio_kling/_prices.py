"""What a Kling clip costs: units per second by model, mode and sound, at 0.14 USD a unit.

Kling bills prepaid resource-pack units; the official price page
(https://kling.ai/document-api/pricing/base/video) was not readable by us, so the rates are
the third-party transcriptions gathered in ``docs/providers/kling.md`` section 1.3 (four
sources agreeing: a CN price-list snapshot of 2026-07-13, renderhaus checked 2026-10-08, the
``unmodel`` catalog verified 2026-08-13, a user-confirmed kling-v2-6 pro silent rate). The
task's real charge comes back as ``final_unit_deduction``.

A model the table does not know is priced at the highest known rate, so that a budget is
never understated.
"""

from __future__ import annotations

USD_PER_UNIT = 0.14  # global site: "video Units are $0.14 each"
# (model, mode) -> units per second of silent video; mode None: the model has no mode.
SILENT: dict[tuple[str, str | None], float] = {
    ("kling-v1", "std"): 0.2,
    ("kling-v1", "pro"): 0.7,
    **{(m, "std"): 0.4 for m in ("kling-v1-5", "kling-v1-6", "kling-v2-1")},
    **{(m, "pro"): 0.7 for m in ("kling-v1-5", "kling-v1-6", "kling-v2-1")},
    ("kling-v2-master", None): 2.0,
    ("kling-v2-1-master", None): 2.0,
    ("kling-v2-5-turbo", "std"): 0.3,
    ("kling-v2-5-turbo", "pro"): 0.5,
    ("kling-v2-6", "std"): 0.3,
    ("kling-v2-6", "pro"): 0.5,
    ("kling-v3", "std"): 0.6,
    ("kling-v3", "pro"): 0.8,
}
# With native audio (sound: "on"), no voice control.
SOUND: dict[tuple[str, str | None], float] = {
    ("kling-v2-6", "pro"): 1.0,
    ("kling-v3", "std"): 0.9,
    ("kling-v3", "pro"): 1.2,
}
HIGHEST = max(SILENT.values())


def price(model: str, mode: str | None, *, sound: bool) -> float:
    """USD per second of ``model`` in ``mode``, with native audio or silent."""
    table = SOUND if sound else SILENT
    units = table.get((model, mode))
    if units is None:
        units = HIGHEST if not sound else max(HIGHEST, *SOUND.values())
    return round(units * USD_PER_UNIT, 6)


# -- lip-sync (the engine kling-lipsync) ------------------------------------------------------
# Kling's price page shows no Advanced Lip-Sync rate we could read (calesthio/generative-media-
# skills, kling-advanced-lip-sync SKILL.md, verified 2026-07-12: "The public pricing page did
# not clearly establish a dedicated Advanced Lip-Sync list price"). Aggregators bill it per
# started 5 s: runware.ai $0.0462 per 5 s; apimodels.app $0.0063 per 5 s at "85% off" (about
# $0.042 listed) and $0.0007 a face identification (about $0.005); a second apimodels.app
# page $0.065 per 5 s and $0.01 a face identification. So, never understated: 0.5 units per
# started 5 s of the video, and 0.1 unit for the face identification each pass makes first.
LIPSYNC_BLOCK = 5.0  # seconds billed as one
LIPSYNC_UNITS_PER_BLOCK = 0.5
IDENTIFY_UNITS = 0.1


def lipsync_price(seconds: float) -> float:
    """USD for one lip-sync pass over a clip of ``seconds`` (its face identification too)."""
    import math

    blocks = max(1, math.ceil(round(seconds, 3) / LIPSYNC_BLOCK))
    return round((blocks * LIPSYNC_UNITS_PER_BLOCK + IDENTIFY_UNITS) * USD_PER_UNIT, 6)
