"""The engine conformance kits (ministudio.testing) run on the embedded animatic engine and on
the sim engine (a remote, paid engine against its loopback fake API); the lip-sync kit on a
local lip-sync engine and on sync. against its fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ministudio.testing import LipSyncEngineConformance, VideoEngineConformance

from .fakes.kling_server import KlingServer
from .fakes.sim_server import SimServer
from .fakes.sync_server import API_KEY as SYNC_KEY
from .fakes.sync_server import SyncServer
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


class TestLocalLipSyncConformance(LipSyncEngineConformance):
    """The lip-sync kit on a local engine (tests/test_lipsync.py's ``Lipper``)."""

    engine_id = "lipper"

    def plugin(self) -> object:
        from .test_lipsync import Lipper

        return Lipper()


class TestSyncConformance(LipSyncEngineConformance):
    """The lip-sync kit on sync. (ministudio-provider-sync) against its loopback fake."""

    engine_id = "sync"
    sdk_modules = ("syncsdk", "httpx")
    submit_endpoint = "create"

    def plugin(self) -> object:
        import ministudio_sync

        return ministudio_sync

    @pytest.fixture(autouse=True)
    def server(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[SyncServer]:
        monkeypatch.setenv("SYNC_EXPECTED_LATENCY", "0.2")  # read by ministudio_engines
        with SyncServer(latency=0.1, fault_retry_after=0.05) as server:
            yield server

    @pytest.fixture
    def engine_env(self, server: SyncServer) -> dict[str, str]:
        return {
            "SYNC_API_KEY": SYNC_KEY,
            "SYNC_BASE_URL": server.base_url,
            "SYNC_ASSET_STORE": f"file://{server.files_dir}",
            "SYNC_ASSET_BASE_URL": server.files_url,
        }

    @pytest.fixture
    def engine_faults(self, server: SyncServer) -> SyncServer:
        return server


class TestKlingLipSyncConformance(LipSyncEngineConformance):
    """The lip-sync kit on Kling's Advanced Lip-Sync (kling-lipsync) against the Kling fake;
    at 720p (Kling takes 720p or 1080p). The fake's faults speak Kling's codes, so the fault
    tests are left to tests/test_kling_lipsync.py."""

    engine_id = "kling-lipsync"
    sdk_modules = ("httpx", "jwt")
    resolution = "720p"

    def plugin(self) -> object:
        import ministudio_kling

        return ministudio_kling

    @pytest.fixture(autouse=True)
    def server(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[KlingServer]:
        monkeypatch.setenv("KLING_LIPSYNC_EXPECTED_LATENCY", "0.2")
        with KlingServer(latency=0.1, render_scale=0.05) as server:
            yield server

    @pytest.fixture
    def engine_env(self, server: KlingServer) -> dict[str, str]:
        return {
            "KLING_BASE_URL": server.base_url,
            "KLING_ACCESS_KEY": server.access_key,
            "KLING_SECRET_KEY": server.secret_key,
            "KLING_BUSY_WAIT": "0.05",
            "KLING_ASSET_STORE": f"file://{server.files_dir}",
            "KLING_ASSET_BASE_URL": server.files_url,
        }
