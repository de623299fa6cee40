"""The speech engine conformance kit: see ``ministudio.testing``. Its tests are grouped by
theme: ``lines`` (what the engine speaks) and ``faults`` (keys, passing failures), on the
shared ``kit``."""

from __future__ import annotations

from ministudio.testing.speech.faults import FaultTests
from ministudio.testing.speech.kit import FPS, SpeechKit
from ministudio.testing.speech.lines import LineTests

__all__ = ["FPS", "SpeechEngineConformance", "SpeechKit"]


class SpeechEngineConformance(LineTests, FaultTests):
    """The conformance tests for a speech engine. Subclass it as ``Test...``::

        class TestAcmeVoices(SpeechEngineConformance):
            engine_id = "acme-voice"
            sdk_modules = ("acme_sdk",)
            voice = "Ada"  # a voice the engine has

            def plugin(self) -> object:
                return ministudio_acme_voice

            @pytest.fixture
            def engine_env(self, server) -> dict[str, str]:
                return {"ACME_BASE_URL": server.base_url, "ACME_API_KEY": server.api_key}

            @pytest.fixture
            def engine_faults(self, server):
                return server  # fail_next("speech", kind) and, optionally, speech_requests

    What the subclass provides, besides ``engine_id``, ``plugin()`` and ``sdk_modules`` as in
    :class:`VideoEngineConformance`:

    - ``voice`` and ``voice_options``: a voice of the engine (``Voice.voice``/``options``)
      the kit's lines are spoken with; ``unknown_voice``: a name the engine does not have;
    - ``emotional``: False if the engine ignores a line's emotion (skips that test);
    - the ``engine_env`` fixture: the environment (base URLs, a recognisable fake key);
    - the ``engine_faults`` fixture (remote engines): ``fail_next("speech", kind)`` with
      kinds ``"429"`` and ``"500"`` (and optionally ``"drop"``), and optionally a
      ``speech_requests`` counter of requests that reached the engine; default None, which
      skips the fault tests.

    What it checks: the engine is declared once as a speech engine with sane capabilities; a
    line becomes an audible mono 16-bit WAV whose length the result reports, longer for a
    longer line; the same line twice lasts as long; a film's lines are spoken once (a second
    render calls the engine no more, by a spy on the host) and timed from their audio;
    emotion changes the audio; an unknown voice fails with a typed error naming it, before
    any request; a missing key names its variable and the key never leaks; 429, 5xx and a
    dropped connection are ``TransientError``; importing the plugin imports no SDK. It skips
    the key tests when the engine declares no ``key_env``, the fault tests without
    ``engine_faults`` (or without the ``"drop"`` kind), and the emotion test when
    ``emotional`` is False.

    The kit's films are rendered with the embedded ``animatic`` video engine. The core
    retries a line whose engine raised ``TransientError`` (and stops the render with
    ``SpeechError`` on anything else, keeping the lines already spoken), so the fault tests
    check what the engine raises: a passing failure must be a ``TransientError`` (an engine
    that retries by itself passes too), and the next request must work.
    """
