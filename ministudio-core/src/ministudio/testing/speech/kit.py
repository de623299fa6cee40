"""The speech conformance kit's base: its settings, its lines, its films and its WAVs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ministudio.testing._kit import EngineKit

if TYPE_CHECKING:
    from ministudio.jobs import SpeechRequest, SpeechResult
    from ministudio.plugins import PluginHost
    from ministudio.spec import Production

FPS = 24


class SpeechKit(EngineKit):
    """What the speech kit's tests share: the subclass's settings, a line spoken once as the
    core does, the kit's films, and the WAVs and counters they check."""

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
