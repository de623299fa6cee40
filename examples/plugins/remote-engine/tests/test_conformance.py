"""The conformance kit on relay, against the loopback fake of the Relay API: a remote, paid
engine, so the fault tests (429, 5xx, a cut-off download, a refusal) and the webhook test
run too."""

from __future__ import annotations

from collections.abc import Iterator

import ministudio_example_relay as relay
import pytest
from ministudio.testing import VideoEngineConformance
from ministudio_example_relay.fake import FakeRelay


class TestRelayConformance(VideoEngineConformance):
    engine_id = "relay"
    sdk_modules = ("httpx",)  # importing the plugin must not import these
    refused_action = "Ann does something forbidden"  # the fake's content policy blocks it

    def plugin(self) -> object:
        return relay

    @pytest.fixture(autouse=True)
    def server(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRelay]:
        # the core's first poll comes at ~0.7 of the declared latency: the fake's is 0.2 s
        monkeypatch.setattr(relay, "EXPECTED_LATENCY", 0.3)
        with FakeRelay(api_key="relay-conformance-SECRET-5d1", latency=0.2) as fake:
            yield fake

    @pytest.fixture
    def engine_env(self, server: FakeRelay) -> dict[str, str]:
        return {
            "RELAY_BASE_URL": server.base_url,
            "RELAY_API_KEY": server.api_key,
            "RELAY_WEBHOOK_SECRET": server.webhook_secret,
        }

    @pytest.fixture
    def engine_faults(self, server: FakeRelay) -> FakeRelay:
        return server  # fail_next(endpoint, kind), submissions, status_requests
