"""The engine conformance kit (ministudio.testing) run on the embedded animatic engine and on
the sim engine (a remote, paid engine against its loopback fake API)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ministudio.testing import VideoEngineConformance

from .fakes.sim_server import SimServer
from .test_sim_engine import _load_plugin

SIM = _load_plugin()


class TestAnimaticConformance(VideoEngineConformance):
    engine_id = "animatic"
    sdk_modules = ("PIL", "numpy", "av")

    def plugin(self) -> object:
        from ministudio.engines.animatic import plugin

        return plugin


class TestSimConformance(VideoEngineConformance):
    engine_id = "sim"
    sdk_modules = ("httpx",)
    refused_action = "Ann does something forbidden"  # the fake's safety filter blocks it

    def plugin(self) -> object:
        return SIM

    @pytest.fixture(autouse=True)
    def server(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
        monkeypatch.setenv("SIM_EXPECTED_LATENCY", "0.2")  # read by ministudio_engines
        with SimServer(api_key="sim-conformance-SECRET-7f3a", latency=(0.1, 0.2)) as server:
            yield server

    @pytest.fixture
    def engine_env(self, server: SimServer) -> dict[str, str]:
        return {"SIM_BASE_URL": server.base_url, "SIM_API_KEY": server.api_key}

    @pytest.fixture
    def engine_faults(self, server: SimServer) -> SimServer:
        return server
