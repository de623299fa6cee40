"""The speech engine conformance kit: see ``ministudio.testing``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ministudio.testing._kit import EngineKit, FaultInjector

if TYPE_CHECKING:
    from ministudio.jobs import SpeechRequest, SpeechResult
    from ministudio.plugins import PluginHost
    from ministudio.spec import Production

FPS = 24


class SpeechEngineConformance(EngineKit):
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

    kind = "speech"
    voice: str = "en-us"
    voice_options: Mapping[str, Any] = {}
    unknown_voice: str = "no-such-voice-q7"
    emotional: bool = True
    text: str = "The lighthouse keeper counted the ships until the fog came in."

    # -- helpers -------------------------------------------------------------------------

    def host(self) -> PluginHost:
        """A plugin host holding the plugin under test, and the animatic for the films."""
        from ministudio.engines.animatic import plugin as animatic

        host = super().host()
        if "animatic" not in host.engines:
            host.register(animatic, "animatic")
        return host

    def request(
        self, text: str | None = None, emotion: str = "neutral", voice: str | None = None
    ) -> SpeechRequest:
        """A line in the kit's voice (or ``voice``)."""
        from ministudio.jobs import SpeechRequest, Voice

        chosen = Voice(voice=voice or self.voice, options=dict(self.voice_options))
        return SpeechRequest(text=text or self.text, voice=chosen, emotion=emotion)

    def speak(
        self,
        tmp_path: Path,
        env: Mapping[str, str],
        request: SpeechRequest,
        name: str = "line",
        host: PluginHost | None = None,
    ) -> SpeechResult:
        """Call the engine's ``synthesize_speech`` once, as the core does, into ``name``.wav."""
        import anyio

        from ministudio.engines import EngineContext

        host = host or self.host()
        work = tmp_path / f"{name}-work"
        work.mkdir(parents=True, exist_ok=True)
        context = EngineContext(engine=self.engine_id, work_dir=work, env=dict(env))
        output = tmp_path / f"{name}.wav"
        return anyio.run(lambda: host.synthesize_speech(self.engine_id, request, output, context))

    def film(self) -> Production:
        """The kit's production (see ``production``)."""
        return self.production()

    def production(self, texts: tuple[str, ...] = ()) -> Production:
        """Two shots of the animatic at 480p, each with one line (the first one happy) in
        the kit's voice, every line routed to the engine."""
        from ministudio.spec import Production

        texts = texts or ("Good morning, Ann.", "The tide comes in at noon.")
        voice = {"voice": self.voice, "options": dict(self.voice_options)}
        return Production.model_validate(
            {
                "title": "Speech conformance",
                "format": {"aspect_ratio": "16:9", "resolution": "480p", "fps": FPS},
                "characters": {"ann": {"name": "Ann", "dna": "a woman, red coat", "voice": voice}},
                "environments": {"quay": {"description": "a stone quay", "lighting": "day"}},
                "scenes": [
                    {
                        "id": "one",
                        "environment": "quay",
                        "shots": [
                            {
                                "id": f"s{i + 1}",
                                "action": "Ann speaks",
                                "dialogue": [
                                    {
                                        "speaker": "ann",
                                        "text": text,
                                        "emotion": "happy" if i == 0 else "neutral",
                                    }
                                ],
                            }
                            for i, text in enumerate(texts)
                        ],
                    }
                ],
                "routing": {
                    "video": "animatic",
                    "speech": self.engine_id,
                    "limits": self.routing_limits(),
                },
            }
        )

    @staticmethod
    def _requests(faults: object) -> int | None:
        count = getattr(faults, "speech_requests", None)
        return count if isinstance(count, int) else None

    @staticmethod
    def _samples(path: Path) -> tuple[Any, int]:
        """A WAV's samples (int16) and rate; asserts it is mono 16-bit."""
        import wave

        import numpy as np

        with wave.open(str(path), "rb") as w:
            assert w.getnchannels() == 1, f"{w.getnchannels()} channels: write mono"
            assert w.getsampwidth() == 2, f"{8 * w.getsampwidth()}-bit samples: write 16-bit"
            assert w.getframerate() > 0
            frames = w.readframes(w.getnframes())
            return np.frombuffer(frames, dtype="<i2"), w.getframerate()

    # -- the tests -----------------------------------------------------------------------

    def test_capabilities_are_declared_and_consistent(self) -> None:
        """The engine is declared once, as a speech engine, with sane capabilities.

        Check first: ``ministudio_engines`` returns one ``EngineSpec`` with ``id`` equal to
        the subclass's ``engine_id`` and ``kind="speech"``; concurrency at least 1, price and
        latency not negative, key variables in capitals.
        """
        from ministudio.engines import EngineSpec

        host = self.host()
        plugin: Any = self.plugin()
        declared = list(plugin.ministudio_engines() or [])
        assert [s.id for s in declared].count(self.engine_id) == 1, [s.id for s in declared]
        spec = host.engines[self.engine_id]
        assert isinstance(spec, EngineSpec)
        assert spec.kind == "speech", f"declared as a {spec.kind} engine"
        caps = spec.capabilities
        assert caps.concurrency >= 1
        assert caps.price_per_second >= 0
        assert caps.expected_latency >= 0
        assert caps.requests_per_minute is None or caps.requests_per_minute >= 1
        assert all(name and name.upper() == name for name in spec.key_env), spec.key_env

    def test_a_line_is_a_mono_16_bit_wav_of_the_reported_length(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """A line becomes a mono 16-bit WAV at ``output``, as long as the result says, audible,
        and a longer line lasts longer.

        Check first: the engine writes to the ``output`` path it is given (not to its work
        dir), with ``wave`` settings nchannels=1, sampwidth=2 and the true sample rate, and
        reports ``duration`` = frames / rate.
        """
        import numpy as np

        host = self.host()
        short = self.speak(tmp_path, engine_env, self.request("Hello."), "short", host)
        result = self.speak(tmp_path, engine_env, self.request(), "long", host)
        assert result.path == tmp_path / "long.wav" and result.path.is_file()
        samples, rate = self._samples(result.path)
        assert result.duration == pytest.approx(len(samples) / rate, abs=0.01)
        assert result.duration > 0.5, f"{result.duration:.2f} s for a sentence"
        rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
        assert rms > 100, f"the line is (nearly) silent: RMS {rms:.0f} of 32767"
        assert result.cost >= 0
        assert short.duration < result.duration, "a longer line should last longer"

    def test_the_same_line_twice_lasts_as_long(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """The same request spoken twice gives audio of (nearly) the same length.

        Check first: nothing in the request sent may depend on time, randomness or paths;
        a model that varies a little passes (within 15%, at least 0.25 s).
        """
        host = self.host()
        first = self.speak(tmp_path, engine_env, self.request(), "first", host)
        second = self.speak(tmp_path, engine_env, self.request(), "second", host)
        tolerance = max(0.25, 0.15 * first.duration)
        assert second.duration == pytest.approx(first.duration, abs=tolerance)

    def test_a_second_render_speaks_from_the_store(
        self,
        tmp_path: Path,
        engine_env: dict[str, str],
        engine_faults: object,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A film's lines are spoken once: rendering it again calls the engine no more, and
        its lines are timed from the audio.

        Check first: the line errors in the raised ``SpeechError``; then that the request
        (the job key hashes it) and the WAV written depend only on the line.
        """
        host = self.host()
        spoken: list[str] = []
        original = host.synthesize_speech

        async def counting(
            engine_id: str, request: SpeechRequest, output: Path, context: Any
        ) -> SpeechResult:
            spoken.append(request.text)
            return await original(engine_id, request, output, context)

        monkeypatch.setattr(host, "synthesize_speech", counting)  # a spy on the core's calls
        production = self.production()
        first = self.render_production(tmp_path, engine_env, production, host=host)
        lines = [line for shot in first.shots for line in shot.lines]
        assert len(spoken) == len(lines) == 2
        assert all(line.engine == self.engine_id and not line.cached for line in lines)
        assert all(line.end - line.start > 0.2 for line in lines)
        assert (tmp_path / "out" / "film.mp4").is_file()
        before = self._requests(engine_faults)
        second = self.render_production(tmp_path, engine_env, production, host=host)
        assert len(spoken) == 2, "the second render called the engine again"
        assert all(line.cached for shot in second.shots for line in shot.lines)
        assert self._requests(engine_faults) == before

    def test_emotion_reaches_the_engine(self, tmp_path: Path, engine_env: dict[str, str]) -> None:
        """A line's emotion changes what the engine makes of it.

        Check first: the engine reads ``request.emotion`` (a word such as "happy", "sad",
        "whispering"). Engines that ignore emotion set ``emotional = False``.
        """
        if not self.emotional:
            pytest.skip("the engine declares it ignores emotion (emotional = False)")
        host = self.host()
        neutral = self.speak(tmp_path, engine_env, self.request(), "neutral", host)
        happy = self.speak(tmp_path, engine_env, self.request(emotion="happy"), "happy", host)
        assert neutral.path.read_bytes() != happy.path.read_bytes(), "emotion changed nothing"

    def test_an_unknown_voice_fails_with_a_typed_error_naming_it(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: object
    ) -> None:
        """A voice the engine does not have fails with a ``MinistudioError`` naming it, and
        (where the faults count requests) before any request is paid for.

        Check first: the engine validates ``request.voice.voice`` against its voices before
        calling its API, and raises ``EngineError`` (not ``TransientError``: it will not pass).
        """
        from ministudio.errors import MinistudioError, TransientError

        before = self._requests(engine_faults)
        request = self.request(voice=self.unknown_voice)
        with pytest.raises(MinistudioError) as info:
            self.speak(tmp_path, engine_env, request)
        assert not isinstance(info.value, TransientError), "an unknown voice is not passing"
        assert self.unknown_voice.lower() in str(info.value).lower(), str(info.value)
        assert self._requests(engine_faults) == before, "a request was sent for a bad voice"
        assert not (tmp_path / "line.wav").exists()

    def test_the_key_never_appears(
        self,
        tmp_path: Path,
        engine_env: dict[str, str],
        engine_faults: FaultInjector | None,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """The key is in no log record, error, manifest.json or journal.

        Check first: error messages built from the request (headers, URLs with the key in
        the query) and anything the engine puts in its results.
        """
        from ministudio.errors import MinistudioError

        spec = self.spec()
        secrets = [engine_env[n] for n in spec.key_env if engine_env.get(n)]
        if not secrets:
            pytest.skip("the engine needs no key, or engine_env sets none")
        caplog.set_level("DEBUG")
        errors: list[str] = []
        self.render_production(tmp_path, engine_env, self.production())
        if engine_faults is not None:  # errors from failed lines, through the core and not
            # more failures than the core's retries of both lines, and one for speak() below
            for _ in range(2 * self.render_options().retry.attempts + 1):
                engine_faults.fail_next("speech", "500")
            film = self.production(("Ann sits down.", "Ann stands up."))
            try:
                self.render_production(tmp_path, engine_env, film, out="bad")
            except MinistudioError as exc:
                errors += [str(exc), repr(exc)]
            try:
                self.speak(tmp_path, engine_env, self.request("Ann waits."))
            except MinistudioError as exc:
                errors += [str(exc), repr(exc), repr(exc.args)]
            assert errors, "no request failed: check fail_next('speech', '500')"
        texts = {
            "manifest.json": (tmp_path / "out" / "manifest.json").read_bytes(),
            "the log": caplog.text.encode(),
            "the errors": "\n".join(errors).encode(),
        }
        for path in (tmp_path / "store").glob("journal*"):
            texts[path.name] = path.read_bytes()
        for where, data in texts.items():
            for secret in secrets:
                assert secret.encode() not in data, f"the key appears in {where}"

    def test_a_429_is_a_transient_error(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A 429 raises ``TransientError`` (or is retried by the engine), and the next request
        works.

        Check first: 429 maps to ``TransientError`` with ``retry_after`` from the server's
        hint, not to ``EngineError`` or ``EngineRefusal``.
        """
        self._passes(tmp_path, engine_env, engine_faults, "429")

    def test_a_5xx_is_a_transient_error(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A 500 raises ``TransientError`` (or is retried by the engine), and the next request
        works.

        Check first: 5xx maps to ``TransientError``, not to ``EngineError``.
        """
        self._passes(tmp_path, engine_env, engine_faults, "500")

    def test_a_dropped_connection_is_a_transient_error(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A connection closed without an answer raises ``TransientError`` (or is retried by
        the engine), and the next request works.

        Check first: the HTTP client's transport errors (``httpx.TransportError``, for one)
        map to ``TransientError``. Needs the ``"drop"`` fault kind.
        """
        self._passes(tmp_path, engine_env, engine_faults, "drop")

    def _passes(
        self, tmp_path: Path, env: dict[str, str], faults: FaultInjector | None, kind: str
    ) -> None:
        from ministudio.errors import TransientError

        if faults is None:
            pytest.skip("no engine_faults fixture")
        try:
            faults.fail_next("speech", kind)
        except (ValueError, KeyError, NotImplementedError):
            pytest.skip(f"the faults have no {kind!r} kind")
        host = self.host()
        try:
            result = self.speak(tmp_path, env, self.request(), "faulted", host)
        except TransientError:
            result = self.speak(tmp_path, env, self.request(), "again", host)
        assert result.path.is_file() and result.duration > 0
