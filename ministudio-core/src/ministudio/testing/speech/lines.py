"""The speech kit's tests of the lines an engine speaks: declared once as a speech engine,
an audible mono 16-bit WAV of the reported length, stable lengths, lines spoken once per film,
emotion, and an unknown voice refused before any request."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ministudio.testing.speech.kit import SpeechKit

if TYPE_CHECKING:
    from ministudio.jobs import SpeechRequest, SpeechResult


class LineTests(SpeechKit):
    """A line is spoken right, once, with its emotion, in a voice the engine has."""

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
