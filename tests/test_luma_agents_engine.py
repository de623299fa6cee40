"""The ``luma`` engine (ministudio-provider-luma: Ray 3.2 on Luma's Agents API, through the
official luma-agents SDK) against the strict loopback fake of the Agents API
(tests/fakes/luma_agents_server.py): the conformance kit, then hook by hook: what is sent for
each kind of shot, what is refused before sending, the Files API, how failures map, expired
output URLs, extensions (with and without their source in the answer) and edits. The
``luma-dream-machine`` engine runs the same kit in tests/test_luma_engine.py against its own
fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import ministudio_luma
import pytest
from ministudio.engines import EngineContext
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MissingKeyError,
    TransientError,
)
from ministudio.jobs import (
    EditRequest,
    EnvironmentBrief,
    JobStatus,
    PreviousClip,
    ShotPrompt,
    VideoRequest,
)
from ministudio.testing import VideoEngineConformance
from ministudio.testing._kit import solid_png
from ministudio_luma import _agents, _files, _request

from .fakes.kit import KitFaults
from .fakes.luma_agents_server import LumaAgentsServer

KEY = "luma-api-conformance-SECRET-9c2d"


class AgentsFaults(KitFaults):
    """The kit's faults on the Agents fake. The kit's "500" is a server error the engine may
    retry: Luma documents 502 and 503 as such (its error-handling guide); a 500 after the
    create was sent may have made a job, so the plugin takes it as ambiguous."""

    def kind(self, endpoint: str, kind: str) -> str:
        if endpoint == "create" and kind == "500":
            return "502"
        return kind


def agents_env(server: LumaAgentsServer, **more: str) -> dict[str, str]:
    return {"LUMA_BASE_URL": server.api_url, "LUMA_AGENTS_API_KEY": server.api_key, **more}


@pytest.fixture(autouse=True)
def _fast_luma(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")  # read when the engines are declared


class TestLumaAgentsConformance(VideoEngineConformance):
    engine_id = "luma"
    sdk_modules = ("luma_agents", "lumaai")
    refused_action = "Ann does something forbidden"  # the fake's moderation blocks it

    def plugin(self) -> object:
        return ministudio_luma

    @pytest.fixture(autouse=True)
    def server(self) -> Iterator[LumaAgentsServer]:
        with LumaAgentsServer(
            api_key=KEY, latency=(0.1, 0.1), render_scale=0.05, fault_retry_after=0.05
        ) as server:
            yield server

    @pytest.fixture
    def engine_env(self, server: LumaAgentsServer) -> dict[str, str]:
        return agents_env(server)

    @pytest.fixture
    def engine_faults(self, server: LumaAgentsServer) -> AgentsFaults:
        return AgentsFaults(server)
