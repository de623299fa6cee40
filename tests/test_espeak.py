"""The embedded ``espeak`` speech engine: real eSpeak NG audio through ctypes."""

from __future__ import annotations

import itertools
import sys
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from ministudio.engines import EngineContext
from ministudio.engines.espeak import plugin, prosody, synth
from ministudio.engines.espeak.voices import list_variants, list_voices
from ministudio.errors import EngineError
from ministudio.jobs import SpeechRequest, Voice

SENTENCE = "The quick brown fox jumps over the lazy dog, and then it runs away."


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def median_f0(samples: np.ndarray, sample_rate: int) -> float:
    """Median fundamental frequency over voiced 40 ms frames, by autocorrelation."""
    x = samples.astype(np.float64)
    frame = int(sample_rate * 0.04)
    loud = 0.1 * np.abs(x).max()
    low, high = int(sample_rate / 600), int(sample_rate / 60)  # 60..600 Hz
    found = []
    for start in range(0, len(x) - frame, frame // 2):
        chunk = x[start : start + frame] - x[start : start + frame].mean()
        if np.sqrt(np.mean(chunk**2)) < loud:
            continue
        ac = np.correlate(chunk, chunk, "full")[frame - 1 :]
        lag = low + int(np.argmax(ac[low:high]))
        if ac[lag] > 0.5 * ac[0]:  # clearly periodic: voiced
            found.append(sample_rate / lag)
    assert len(found) >= 10, "too few voiced frames to estimate F0"
    return float(np.median(found))


def speak(text: str = SENTENCE, **kwargs: object) -> tuple[np.ndarray, int]:
    samples, rate = synth.synthesize(text, **kwargs)  # type: ignore[arg-type]
    return synth.trim_silence(samples, rate), rate


def test_speech_is_real_audio_and_grows_with_the_text() -> None:
    short, rate = speak("Hello.")
    long, _ = speak(SENTENCE)
    assert rate == 22050
    assert short.dtype == np.int16
    assert rms(short) > 500 and rms(long) > 500
    assert len(long) > 2.5 * len(short)


def test_voices_differ_in_pitch() -> None:
    low, rate = speak(voice="en-us+m3", pitch=25)
    high, _ = speak(voice="en-us", variant="f3", pitch=75)
    child, _ = speak(voice="en-us+zac", pitch=60)
    f_low, f_high, f_child = (median_f0(s, rate) for s in (low, high, child))
    assert f_low < 120 < 180 < f_high < f_child
    assert f_high > 1.6 * f_low


def test_emotion_shifts_prosody() -> None:
    def line(emotion: str) -> tuple[np.ndarray, int]:
        return speak(**plugin.speech_settings(Voice(), emotion))

    (excited, rate), (sad, _) = line("excited"), line("sad")
    neutral, _ = line("neutral")
    assert len(excited) < len(neutral) < len(sad)  # faster vs slower
    assert median_f0(excited, rate) > median_f0(sad, rate) * 1.2


def test_emotion_table() -> None:
    for name in ("neutral", "happy", "excited", "sad", "angry", "fearful", "curious", "calm",
                 "whisper", "warm", "surprised"):  # fmt: skip
        assert prosody.prosody_for(name) is prosody.EMOTIONS[name]
    assert prosody.prosody_for("Quietly SAD") is prosody.EMOTIONS["sad"]
    assert prosody.prosody_for("scared") is prosody.EMOTIONS["fearful"]
    assert prosody.prosody_for("bemused-ish") is prosody.EMOTIONS["neutral"]
    assert prosody.prosody_for("") is prosody.EMOTIONS["neutral"]
    # a whisper keeps a female character female
    assert plugin.speech_settings(Voice(voice="en-gb+f2"), "whisper")["variant"] == "whisperf"
    assert plugin.speech_settings(Voice(voice="en-gb"), "whisper")["variant"] == "whisper"


def test_same_input_gives_the_same_samples() -> None:
    # f3 has breath noise, which eSpeak seeds from the clock: let a second pass in between
    first, _ = synth.synthesize(SENTENCE, voice="en-us+f3", pitch=60)
    synth.synthesize("Something else in between.", voice="en-gb+m3")
    time.sleep(1.05)
    second, _ = synth.synthesize(SENTENCE, voice="en-us+f3", pitch=60)
    assert np.array_equal(first, second)


def test_concurrent_calls_match_sequential_ones() -> None:
    jobs = [("One small step.", "en-us+m1"), ("Two voices at once.", "en-gb+f3"),
            ("Three is a crowd.", "en-us+zac"), ("Four and done.", "en-us")] * 2  # fmt: skip
    sequential = [synth.synthesize(text, voice=voice)[0] for text, voice in jobs]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        threaded = list(pool.map(lambda job: synth.synthesize(job[0], voice=job[1])[0], jobs))
    for a, b in zip(sequential, threaded, strict=True):
        assert np.array_equal(a, b)


def test_phoneme_events_come_in_order_inside_the_audio_and_the_same_each_time(
    tmp_path: Path,
) -> None:
    """eSpeak's phoneme events: every phoneme of the line, in order, each timed inside the
    WAV (the leading silence cut taken off), the same on every run; asking for them changes
    no sample."""
    first = synth.speak_line(SENTENCE, tmp_path / "a.wav", voice="en-us+f3", pitch=60)
    synth.speak_line("Something else in between.", tmp_path / "b.wav", voice="en-gb+m3")
    second = synth.speak_line(SENTENCE, tmp_path / "c.wav", voice="en-us+f3", pitch=60)
    assert (
        first == second and (tmp_path / "a.wav").read_bytes() == (tmp_path / "c.wav").read_bytes()
    )
    times = [t for t, _ in first.phonemes]
    assert len(times) > 30 and times == sorted(times)
    assert times[0] >= 0.0 and times[-1] <= first.seconds
    names = [name for _, name in first.phonemes]
    assert "D" in names and "f" in names and "_:" in names  # "the", "fox", the comma
    # the words' phonemes in the order they are said: "quick" before "brown" before "fox"
    said = "".join(name.lstrip("',") for name in names)
    assert said.index("kw") < said.index("br") < said.index("f0ks")

    # untrimmed, the same phonemes, later by the silence the WAV cut
    whole = synth.utter(SENTENCE, voice="en-us+f3", pitch=60)
    assert [n for _, n in whole.phonemes] == names
    samples, _ = synth.synthesize(SENTENCE, voice="en-us+f3", pitch=60)
    assert np.array_equal(whole.samples, samples)
    cut = (whole.samples.size - round(first.seconds * whole.sample_rate)) / whole.sample_rate
    assert 0 <= whole.phonemes[5][0] - first.phonemes[5][0] <= cut + 1e-3


def test_a_vowel_is_louder_than_the_closure_before_it(tmp_path: Path) -> None:
    """The events are timed on the audio: in "mama" the "m"s are quieter than the "a"s."""
    spoken = synth.speak_line("Mama, mama.", tmp_path / "m.wav")
    with wave.open(str(tmp_path / "m.wav"), "rb") as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    timed = [*spoken.phonemes, (spoken.seconds, "")]
    level: dict[str, list[float]] = {"m": [], "a": []}
    for (t, name), (end, _) in itertools.pairwise(timed):
        key = name.lstrip("',")[:1].lower()
        if key in level and end > t:
            level[key].append(rms(samples[round(t * rate) : round(end * rate)]))
    assert len(level["m"]) == 4 and len(level["a"]) == 4
    assert max(level["m"]) < min(level["a"])


def test_voice_names() -> None:
    voices = list_voices()
    assert {"en-us", "en-gb", "fr-fr"} <= set(voices)
    assert {"m3", "f3", "whisper"} <= set(list_variants())
    for name in ("en-gb", "English (America)", "gmw/en-US", "EN-US+F2", "en-us+13"):
        assert rms(speak("Yes.", voice=name)[0]) > 300


def test_unknown_voice_is_a_clear_error() -> None:
    with pytest.raises(EngineError) as caught:
        synth.synthesize("Hello.", voice="en-uss")
    message = str(caught.value)
    assert "unknown voice 'en-uss'" in message and "en-us" in message
    assert "ministudio voices" in message
    with pytest.raises(EngineError, match=r"unknown voice variant 'f9'.*f3"):
        synth.synthesize("Hello.", voice="en-us+f9")
    with pytest.raises(EngineError, match="empty"):
        synth.synthesize("   ")


def context(tmp_path: Path) -> EngineContext:
    return EngineContext(engine="espeak", work_dir=tmp_path)


def test_plugin_declares_the_engine() -> None:
    (spec,) = plugin.ministudio_engines()
    assert spec.id == "espeak" and spec.kind == "speech"
    assert spec.capabilities.concurrency == 1 and spec.capabilities.price_per_second == 0.0
    assert spec.key_env == ()


def test_plugin_writes_a_wav(tmp_path: Path) -> None:
    request = SpeechRequest(
        text="Hello there, Ann.", voice=Voice(voice="en-gb+f2", pitch=60), emotion="happy"
    )
    output = tmp_path / "line.wav"
    assert plugin.synthesize_speech("animatic", request, output, context(tmp_path)) is None
    result = plugin.synthesize_speech("espeak", request, output, context(tmp_path))
    assert result is not None and result.path == output and result.cost == 0.0
    with wave.open(str(output), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        frames = wav.getnframes()
        samples = np.frombuffer(wav.readframes(frames), dtype="<i2")
    assert result.duration == pytest.approx(frames / 22050)
    assert 0.5 < result.duration < 3.0
    assert result.phonemes and result.phonemes[0][1] == "h"  # "Hello"
    assert all(0 <= t <= result.duration for t, _ in result.phonemes)
    assert rms(samples) > 500
    # leading and trailing silence trimmed to about 50 ms
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 0.01 * np.abs(samples).max())
    assert loud[0] <= 0.06 * 22050 and frames - loud[-1] <= 0.06 * 22050


def test_plugin_errors(tmp_path: Path) -> None:
    ctx, out = context(tmp_path), tmp_path / "x.wav"
    with pytest.raises(EngineError, match="unknown voice 'xx'"):
        unknown = Voice(voice="xx")
        plugin.synthesize_speech("espeak", SpeechRequest(text="Hi", voice=unknown), out, ctx)
    with pytest.raises(EngineError, match="empty"):
        plugin.synthesize_speech("espeak", SpeechRequest(text=" \n", voice=Voice()), out, ctx)
    with pytest.raises(EngineError, match="unknown voice option"):
        bad = Voice(options={"speed": 2})
        plugin.synthesize_speech("espeak", SpeechRequest(text="Hi", voice=bad), out, ctx)


def test_plugin_import_is_cheap() -> None:
    import subprocess

    code = (
        "import sys, ministudio.engines.espeak.plugin\n"
        "assert 'numpy' not in sys.modules, 'numpy'\n"
        "assert 'ministudio.engines.espeak.synth' not in sys.modules, 'synth'\n"
        "assert 'ministudio.engines.espeak.binding' not in sys.modules, 'binding'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
