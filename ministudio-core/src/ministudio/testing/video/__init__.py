"""The video engine conformance kit: see ``ministudio.testing``. Its tests are grouped by
theme: ``declaration`` (capabilities, variants, durations, aspect ratios), ``faults`` (keys,
retries, refusals, webhooks) and ``inputs`` (a real film, frames, references, voice, edits,
seeds), on the shared ``kit``."""

from __future__ import annotations

from ministudio.testing.video.declaration import DeclarationTests
from ministudio.testing.video.faults import FaultTests
from ministudio.testing.video.inputs import InputTests
from ministudio.testing.video.kit import FPS, VideoKit

__all__ = ["FPS", "VideoEngineConformance", "VideoKit"]


class VideoEngineConformance(DeclarationTests, FaultTests, InputTests):
    """The conformance tests for a video engine. Subclass it as ``Test...`` (see module doc)."""
