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
