"""The engine conformance kits: pytest test classes an engine package subclasses.
:class:`VideoEngineConformance` for video engines, :class:`SpeechEngineConformance` (see its
docstring) for voices, :class:`LipSyncEngineConformance` (see its docstring) for lip-sync
engines; all share :class:`EngineKit` (``engine_id``, ``plugin()``, ``sdk_modules``, the
``engine_env`` and ``engine_faults`` fixtures).

Subclass :class:`VideoEngineConformance` in your package's tests, name the engine and the
plugin, and pytest runs every check that applies to the engine's declared capabilities::

    # tests/test_conformance.py of ministudio-provider-acme
    import pytest
    from ministudio.testing import VideoEngineConformance

    import ministudio_acme
    from .fake_acme import FakeAcme  # your loopback fake of the Acme API


    class TestAcmeConformance(VideoEngineConformance):
        engine_id = "acme"
        sdk_modules = ("acme_sdk",)  # must not be imported by importing the plugin
        refused_action = "a shot the fake refuses"  # optional: checks refusals are not resent

        def plugin(self) -> object:
            return ministudio_acme

        @pytest.fixture(autouse=True)
        def server(self):
            with FakeAcme(api_key="acme-conformance-SECRET") as fake:
                self.fake = fake
                yield fake

        @pytest.fixture
        def engine_env(self, server) -> dict[str, str]:
            return {"ACME_BASE_URL": server.base_url, "ACME_API_KEY": server.api_key}

        @pytest.fixture
        def engine_faults(self, server):
            return server  # fail_next(endpoint, kind) and a `submissions` counter

What the subclass provides:

- ``engine_id``: the id the plugin declares in ``ministudio_engines``;
- ``plugin()``: the plugin module (or object) to register;
- the ``engine_env`` fixture: the render's environment (base URLs, keys); default ``{}``.
  Use a recognisable fake key: the kit checks it never leaks;
- the ``engine_faults`` fixture (remote engines): an object with ``fail_next(endpoint,
  kind)`` for endpoints ``"submit"``/``"download"`` and kinds ``"429"``, ``"500"`` and
  ``"truncate"`` (and optionally ``"refuse"``), a ``submissions`` counter of billed jobs and,
  optionally, a ``status_requests`` counter; default None, which skips the fault tests;
- ``sdk_modules``: modules importing the plugin must not import (keep SDKs inside hooks);
- ``refused_action``: a shot action the engine refuses (else the refusal test uses the
  ``"refuse"`` fault kind, or is skipped).
- ``engine_options``: the engine's routing options in the kit's films (a model, say).

The engine's declaration decides which tests run: the missing-key and leak tests need
``key_env``; the fault tests need the remote hooks (``submit_video``); then one test per
capability flag: ``webhooks`` (no polling needed), ``first_frame`` (a ``continue`` shot),
``last_frame`` and ``loop``, ``max_references`` (a character's reference image), ``seed``
(seeds recorded and stable), and ``aspect_ratios`` (an undeclared one is refused before any
submission). ``native_audio`` has no test yet. Every test's docstring says what to check
first when it fails.

The kit needs pytest, which ``ministudio-core`` does not depend on: a plugin's tests depend on
``ministudio-core[testing]``.
"""

try:
    import pytest  # noqa: F401  (the kit is pytest test classes)
except ModuleNotFoundError as exc:
    raise ModuleNotFoundError(
        'ministudio.testing (the conformance kit) needs pytest: pip install "ministudio-core'
        "[testing]\" (or add it to your plugin's test dependencies)",
        name=exc.name,
    ) from exc

from ministudio.testing._kit import EngineKit, FaultInjector
from ministudio.testing.lipsync import LipSyncEngineConformance
from ministudio.testing.speech import SpeechEngineConformance
from ministudio.testing.video import VideoEngineConformance

__all__ = [
    "EngineKit",
    "FaultInjector",
    "LipSyncEngineConformance",
    "SpeechEngineConformance",
    "VideoEngineConformance",
]
