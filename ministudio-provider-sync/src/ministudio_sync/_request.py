"""What a lip-sync request becomes on the wire: the model, the options, the output's name.

The create body (syncsdk 0.3.0 ``generations.create``; sync.so/docs API reference "Create
Generation"): ``model``, ``input`` (one video and at least one audio, each by ``url``),
``options`` (``GenerationOptions``), ``webhookUrl``, ``outputFileName``.

Routing options (``routing.options.sync``) the engine takes: ``sync_mode`` (how a length
mismatch is handled: bounce, loop, cut_off, silence, remap; default ``cut_off``, since the
voice is cut to the clip's timeline already), ``temperature`` (0..1, how expressive),
``occlusion_detection`` (bool: slower, for faces partly hidden) and
``active_speaker_detection`` (bool: sync only the person speaking, for two in frame). Any
other option is refused before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ministudio.errors import EngineError

from ministudio_sync import ENGINE, MODEL

SYNC_MODES = ("bounce", "loop", "cut_off", "silence", "remap")  # syncsdk SyncMode
DEFAULT_SYNC_MODE = "cut_off"
OPTIONS = ("sync_mode", "temperature", "occlusion_detection", "active_speaker_detection")
_NAME = re.compile(r"[^A-Za-z0-9_-]")  # outputFileName: "Only alphanumeric ... _ and -"


def model(request: Any) -> str:
    return str(getattr(request, "model", None) or MODEL)


def options(request: Any, env: Mapping[str, str]) -> dict[str, Any]:
    """The ``options`` object for ``request`` (the SDK's field names)."""
    given: Mapping[str, Any] = getattr(request, "options", None) or {}
    unknown = sorted(set(given) - set(OPTIONS))
    if unknown:
        raise EngineError(
            ENGINE,
            f"unknown option(s) {', '.join(unknown)} in routing.options.{ENGINE}: it takes "
            f"{', '.join(OPTIONS)}",
        )
    mode = str(given.get("sync_mode") or env.get("SYNC_SYNC_MODE") or DEFAULT_SYNC_MODE)
    if mode not in SYNC_MODES:
        raise EngineError(ENGINE, f"sync_mode {mode!r}: use one of {', '.join(SYNC_MODES)}")
    out: dict[str, Any] = {"sync_mode": mode}
    if "temperature" in given:
        try:
            temperature = float(given["temperature"])
        except (TypeError, ValueError):
            temperature = -1.0
        if not 0.0 <= temperature <= 1.0:
            raise EngineError(ENGINE, "temperature must be a number from 0 to 1")
        out["temperature"] = temperature
    if "occlusion_detection" in given:
        out["occlusion_detection_enabled"] = bool(given["occlusion_detection"])
    if "active_speaker_detection" in given:
        out["active_speaker_detection"] = {"auto_detect": bool(given["active_speaker_detection"])}
    return out


def output_name(idempotency_key: str) -> str:
    """``outputFileName`` for the job: its key, so a listed generation can be told apart from
    another attempt on the same inputs (when sync. lists the name back)."""
    return "ministudio-" + _NAME.sub("-", idempotency_key)[:200]
