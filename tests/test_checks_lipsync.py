"""The lip-sync check (issue 18): on a shot the animatic rendered with its line, the mouths
move with the voice and it passes; the voice 200 ms late or early fails with the offset; a
shot whose mouths stay shut under the voice is not judged (it says so); a wide shot is
passed as not measurable.

The content is made by MiniStudio's own render (keyless: eSpeak's voices, the animatic's
mouths, whatever they draw), once for the module: a close-up where Ann speaks, the same
close-up where her line is spoken off screen (her mouth stays shut; the same voice), and a
wide shot where she speaks."""

from __future__ import annotations

import json
import re
import wave
from pathlib import Path

import numpy as np
import pytest
from ministudio.media.audio import read_wav
from ministudio.qc.checks import decode
from ministudio.qc.checks.lipsync import check_lipsync, lipsync_of_clip
from ministudio.run.render import render
from ministudio.run.store import ContentStore
from ministudio.spec import Production

LINE = "Well, I looked everywhere for the little green frog, and then it jumped right out."


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Each shot of the rendered film: its clip, its voice (the film's sound over its lines
    spoken in frame, on the shot's timeline), those lines' spans and its size."""
    root = tmp_path_factory.mktemp("lipsync")
    ann = {"name": "Ann", "dna": "a woman, red coat, black hair", "voice": {"rate": 150}}

    def shot(id_: str, size: str, speaker: str) -> dict:
        return {
            "id": id_,
            "action": "Ann talks about the frog",
            "size": size,
            "characters": ["ann"],
            "dialogue": [{"speaker": speaker, "text": LINE}],
        }

    production = Production.model_validate(
        {
            "title": "Lips",
            "format": {"aspect_ratio": "16:9", "resolution": "480p", "fps": 24},
            "characters": {"ann": ann, "off": {**ann, "name": "Voice"}},
            "environments": {"room": {"description": "a plain room", "lighting": "day"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "room",
                    "shots": [
                        shot("talk", "close-up", "ann"),
                        shot("shut", "close-up", "off"),  # her line, spoken off screen
                        shot("far", "wide", "ann"),
                    ],
                }
            ],
        }
    )
    out = root / "out"
    render(production, out, store=ContentStore(root / "store"))
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    sound, rate = read_wav(out / "film.mp4")
    shots = {}
    for s in manifest["shots"]:
        seconds = s["frames"] / manifest["fps"]
        spans = [(line["start"] - s["start"], line["end"] - s["start"]) for line in s["lines"]]
        first = round(s["start"] * rate)
        voice = np.zeros(round(seconds * rate), np.float32)
        for a, b in spans:
            lo, hi = round(a * rate), min(voice.size, round(b * rate))
            voice[lo:hi] = sound[first + lo : first + hi]
        clip = ContentStore(root / "store").get(s["job_key"], ".mp4")
        size = {"talk": "close-up", "shut": "close-up", "far": "wide"}[s["id"]]
        shots[s["id"]] = {"clip": clip, "voice": voice, "rate": rate, "spans": spans,
                          "size": size, "fps": manifest["fps"]}  # fmt: skip
    return shots


def late(voice: np.ndarray, rate: int, seconds: float) -> np.ndarray:
    """The voice ``seconds`` later (negative: earlier), its length kept."""
    shift = round(seconds * rate)
    out = np.zeros_like(voice)
    if shift >= 0:
        out[shift:] = voice[: voice.size - shift]
    else:
        out[:shift] = voice[-shift:]
    return out


def judge(shot: dict, seconds: float = 0.0):
    picture = decode(shot["clip"], sound=False)
    spans = [(a + seconds, b + seconds) for a, b in shot["spans"]]
    voice = late(shot["voice"], shot["rate"], seconds)
    return check_lipsync(picture.fine, shot["fps"], voice, shot["rate"], spans, (), shot["size"])


def test_mouths_that_move_with_their_voice_pass(film: dict) -> None:
    verdict = judge(film["talk"])
    assert verdict.check == "lipsync" and verdict.passed, verdict.reason
    assert "the mouths move with the voice" in verdict.reason


@pytest.mark.parametrize("seconds", [0.2, -0.2])
def test_the_voice_200_ms_off_fails_and_says_by_how_much(film: dict, seconds: float) -> None:
    verdict = judge(film["talk"], seconds)
    assert not verdict.passed, verdict.reason
    words = "late" if seconds > 0 else "early"
    found = re.search(rf"(\d+) ms {words}", verdict.reason)
    assert found and 180 <= int(found[1]) <= 220, verdict.reason
    assert "the lips do not match" in verdict.reason


def test_mouths_that_stay_shut_under_the_voice_are_not_judged(film: dict) -> None:
    """The same close-up and voice, but the line is spoken off screen: Ann's mouth does not
    move. No mouth follows the voice, which this measure cannot tell from a real face it does
    not see, so the shot is passed as not judged, and the reason says so (a judge can look)."""
    verdict = judge(film["shut"])
    assert verdict.passed, verdict.reason
    assert "not judged" in verdict.reason and "no mouth follows the voice" in verdict.reason


def test_a_weak_pulse_far_from_the_voice_is_not_taken_for_a_mouth() -> None:
    """A patch that pulses with the voice, 450 ms after it, at a correlation under 0.5 (an
    alarm light), and nothing else moving: too weak and too far out for a lip-sync error, it
    is not judged; the same pulse 200 ms after the voice is taken as a mouth and fails."""
    from ministudio.qc.checks.lipsync import check_lipsync

    fps, rate, seconds = 24, 16000, 4.0
    rng = np.random.default_rng(7)
    syllables = np.repeat(rng.random(int(seconds * 5)) > 0.5, rate // 5).astype(float)
    voice = syllables * np.sin(np.arange(syllables.size) * 0.3) * 0.5
    loud = np.array([np.sqrt(np.mean(voice[int(i * rate / fps) : int((i + 1) * rate / fps)] ** 2))
                     for i in range(int(seconds * fps))])  # fmt: skip

    def pulsing(lag: float) -> np.ndarray:
        frames = np.zeros((loud.size, 16, 16), np.uint8)
        shifted = np.roll(loud, round(lag * fps))
        noise = np.random.default_rng(8).normal(0, 0.5, loud.size)
        noisy = shifted + noise * loud.max()
        frames[:, 6:9, 6:9] = (40 + 150 * np.clip(noisy / loud.max(), 0, 1))[:, None, None]
        return frames

    far = check_lipsync(pulsing(0.45), fps, voice, rate, [(0.0, seconds)], (), "close-up")
    near = check_lipsync(pulsing(0.2), fps, voice, rate, [(0.0, seconds)], (), "close-up")
    assert far.passed, far.reason
    assert "not judged" in far.reason
    found = re.search(r"(\d+) ms early", near.reason)
    assert not near.passed and found and 180 <= int(found[1]) <= 220, near.reason


def test_a_wide_shot_is_passed_as_not_measurable(film: dict) -> None:
    verdict = judge(film["far"], 0.2)  # even off time: faces of a few pixels are not judged
    assert verdict.passed and "not measurable" in verdict.reason
    assert "wide shot" in verdict.reason


def test_too_little_speech_is_not_judged(film: dict) -> None:
    """Half a second of the line: the lips are not judged on so little."""
    start = film["talk"]["spans"][0][0]
    verdict = judge(dict(film["talk"], spans=[(start, start + 0.5)]))
    assert verdict.passed and "too little to judge the lips" in verdict.reason


def test_a_clip_and_a_voice_file_are_checked_as_they_are(film: dict, tmp_path: Path) -> None:
    """`lipsync_of_clip` decodes the clip and reads the voice WAV itself."""
    talk = film["talk"]
    wav = tmp_path / "voice.wav"
    for name, seconds in (("in time", 0.0), ("late", 0.2)):
        voice = late(talk["voice"], talk["rate"], seconds)
        with wave.open(str(wav), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(talk["rate"])
            out.writeframes((np.clip(voice, -1, 1) * 32767).astype("<i2").tobytes())
        spans = [(a + seconds, b + seconds) for a, b in talk["spans"]]
        verdict = lipsync_of_clip(talk["clip"], wav, spans, [], "close-up", talk["fps"])
        assert verdict.passed == (name == "in time"), (name, verdict.reason)
