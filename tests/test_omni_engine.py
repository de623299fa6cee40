"""The ``gemini-omni`` engine (ministudio-provider-veo) against the loopback fake of Google's
Interactions API (tests/fakes/google_server.py): the conformance kit, how frames and
references are tagged, resolutions and their prices, the edit retake rung, a refusal, and
signed webhooks (dynamic JWTs either way, static HMAC) beside unsigned, forged and stale ones."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import ministudio_veo
import pytest
from ministudio.testing import VideoEngineConformance

from .fakes.google_server import GoogleServer
from .fakes.kit import KitFaults

KEY = "omni-conformance-SECRET-7a3f"


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNI_EXPECTED_LATENCY", "0.3")  # read when the engines are declared


def omni_env(server: GoogleServer, **more: str) -> dict[str, str]:
    return {
        "GEMINI_BASE_URL": server.base_url,
        "GEMINI_API_KEY": KEY,
        "GEMINI_WEBHOOK_JWKS_URL": server.jwks_url,
        **more,
    }


class TestOmniConformance(VideoEngineConformance):
    engine_id = "gemini-omni"
    sdk_modules = ("google.genai", "google.auth", "httpx", "jwt", "standardwebhooks")
    engine_limits: ClassVar[Mapping[str, Any]] = {"requests_per_minute": 600}
    refused_action = "Ann does something forbidden"  # the fake's safety filter

    def plugin(self) -> object:
        return ministudio_veo

    @pytest.fixture(autouse=True)
    def server(self) -> Iterator[GoogleServer]:
        with GoogleServer(api_key=KEY, latency=(0.2, 0.2), fault_retry_after=0.05) as s:
            yield s

    @pytest.fixture
    def engine_env(self, server: GoogleServer) -> dict[str, str]:
        return omni_env(server)

    @pytest.fixture
    def engine_faults(self, server: GoogleServer) -> KitFaults:
        return KitFaults(server)
