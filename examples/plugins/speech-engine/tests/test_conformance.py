"""The speech conformance kit on hum: a local engine (no key, no faults to inject)."""

from __future__ import annotations

from types import MappingProxyType

import ministudio_example_hum
from ministudio.testing import SpeechEngineConformance


class TestHumConformance(SpeechEngineConformance):
    engine_id = "hum"
    sdk_modules = ("numpy",)  # importing the plugin must not import these
    voice = "tenor"  # the kit speaks its lines with this voice (its default is "en-us")
    voice_options = MappingProxyType({"vibrato": 0.3})  # and these Voice.options

    def plugin(self) -> object:
        return ministudio_example_hum
