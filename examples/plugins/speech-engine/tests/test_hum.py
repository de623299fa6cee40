"""What hum promises beyond the kit: its voices, the core's default voice, pitch and rate,
and a clear error for an unknown option."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import anyio
import ministudio_example_hum as hum
import pytest
from ministudio.engines import EngineContext
from ministudio.errors import EngineError
from ministudio.jobs import SpeechRequest, SpeechResult, Voice
from ministudio.plugins import PluginHost


def speak(tmp_path: Path, text: str = "Good morning, Ann.", **voice: Any) -> SpeechResult:
    host = PluginHost(discover=False)
    host.register(hum, "hum")
    request = SpeechRequest(text=text, voice=Voice(**voice))
    tmp_path.mkdir(exist_ok=True)
    output = tmp_path / "line.wav"
    context = EngineContext(engine="hum", work_dir=tmp_path)
    return anyio.run(lambda: host.synthesize_speech("hum", request, output, context))


def test_the_voices_are_listed() -> None:
    host = PluginHost(discover=False)
    host.register(hum, "hum")
    assert host.voices("hum") == ["alto", "bass", "soprano", "tenor"]


def test_a_line_is_a_24_khz_mono_16_bit_wav(tmp_path: Path) -> None:
    result = speak(tmp_path, voice="bass")
    with wave.open(str(result.path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 24000)
        assert result.duration == wav.getnframes() / 24000


def test_the_cores_default_voice_is_the_engines_own(tmp_path: Path) -> None:
    default = speak(tmp_path / "a", voice="en-us").path.read_bytes()
    alto = speak(tmp_path / "b", voice="alto").path.read_bytes()
    assert default == alto


def test_pitch_and_rate_reach_the_sound(tmp_path: Path) -> None:
    plain = speak(tmp_path / "a")
    assert speak(tmp_path / "b", pitch=80).path.read_bytes() != plain.path.read_bytes()
    assert speak(tmp_path / "c", rate=340).duration < 0.8 * plain.duration  # pauses stay


def test_an_unknown_option_fails_naming_it(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="vibratto"):
        speak(tmp_path, options={"vibratto": 1})
    assert not (tmp_path / "line.wav").exists()


def test_a_line_has_no_silence_at_its_ends(tmp_path: Path) -> None:
    """The core times the shot from the WAV (and adds its own lead-in and tail)."""
    import numpy as np

    result = speak(tmp_path, "Hello, Ann.")
    with wave.open(str(result.path)) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    sounding = np.flatnonzero(np.abs(samples) > 300)
    assert sounding[0] < 0.02 * 24000 and len(samples) - sounding[-1] < 0.04 * 24000
