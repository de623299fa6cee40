"""The hooks a MiniStudio plugin may implement.

A plugin is a module (or object) registered under the entry point group ``ministudio``; the
entry point's name is the plugin id. Implement any of these with ``@ministudio.hookimpl``.

Engine hooks (``generate_video``, ``synthesize_speech``) are called only on the plugin that
declared the engine id in ``ministudio_engines``: routing picks by id, never by order.
Either hook may be ``async def``: the core awaits what it returns.
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from ministudio.engines import EngineContext, EngineSpec

if TYPE_CHECKING:
    from ministudio.jobs import ShotPrompt, SpeechRequest, SpeechResult, VideoRequest, VideoResult

hookspec = pluggy.HookspecMarker("ministudio")


@hookspec
def ministudio_engines() -> list[EngineSpec]:
    """Declare the engines this plugin provides: ids, kinds, capabilities, key variables."""
    raise NotImplementedError


@hookspec(firstresult=True)
def generate_video(
    engine: str, request: VideoRequest, output: Path, context: EngineContext
) -> VideoResult | Awaitable[VideoResult]:
    """Render ``request`` with ``engine`` and write an MP4 to ``output``."""
    raise NotImplementedError


@hookspec(firstresult=True)
def synthesize_speech(
    engine: str, request: SpeechRequest, output: Path, context: EngineContext
) -> SpeechResult | Awaitable[SpeechResult]:
    """Speak ``request`` with ``engine`` and write a mono 16-bit WAV to ``output``."""
    raise NotImplementedError


@hookspec(firstresult=True)
def prompt_map(engine: str, shot: ShotPrompt) -> str | dict[str, Any] | None:
    """Turn the structured shot prompt into ``engine``'s own prompt; None to pass.

    The first non-None answer wins; a ``hookwrapper``/``wrapper`` may rewrite another's answer.
    """
    raise NotImplementedError


@hookspec
def qc_check(shot: ShotPrompt, clip: Path, expected_duration: float, fps: int) -> Any:
    """Inspect a rendered clip; return a ``QCVerdict``, a list of them, or None.

    Every implementation runs; the verdicts are collected into the manifest.
    """
    raise NotImplementedError
