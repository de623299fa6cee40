"""The conformance kit on orbit: every test the kit has for what orbit declares (a local
engine: no key, no faults; first frame, loop, reference images, seed)."""

from __future__ import annotations

import ministudio_example_orbit
from ministudio.testing import VideoEngineConformance


class TestOrbitConformance(VideoEngineConformance):
    engine_id = "orbit"
    sdk_modules = ("av", "numpy", "PIL")  # importing the plugin must not import these

    def plugin(self) -> object:
        return ministudio_example_orbit
