"""Sound against picture where a face speaks (issue 15): the measured offset, EBU R37's window
(40 ms early to 60 ms late), and no measure where no mouth follows the voice.

The content is made here, not by the animatic: a face on a textured place whose mouth opens
with an irregular syllable envelope (random syllable lengths and gaps, as speech has; a
regular rhythm would let the lag alias), through H.264 and AAC like a film."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ministudio.qc.checks import Footage, check_footage, decode, sync
from ministudio.qc.checks import synthetic as syn

FPS = 24
SECONDS = 6.0
LINE = (1.0, 5.0)  # the face speaks
NARRATION = (0.1, 0.9)  # a narrator speaks before it (the mouth stays shut)


def syllables(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A voice (samples at syn.RATE) that speaks in LINE with irregular syllables and a
    narrator's in NARRATION, and the face's mouth opening per sample (0..1, LINE only)."""
    rng = np.random.default_rng(seed)
    n = round(SECONDS * syn.RATE)
    opening = np.zeros(n)
    narrator = np.zeros(n)
    for (a, b), target in ((LINE, opening), (NARRATION, narrator)):
        t = a
        while t < b:
            length, gap = rng.uniform(0.09, 0.3), rng.uniform(0.03, 0.2)
            lo, hi = round(t * syn.RATE), round(min(b, t + length) * syn.RATE)
            target[lo:hi] = np.sin(np.linspace(0, np.pi, hi - lo)) * rng.uniform(0.5, 1.0)
            t += length + gap
    time = np.arange(n) / syn.RATE
    voice = sum(np.sin(2 * np.pi * 140 * k * time) / k for k in range(1, 10))
    sound = voice * (opening + narrator) * 0.3 + rng.normal(0, 1e-3, n)
    return sound.astype(np.float32), opening


def face_film(tmp_path: Path, late: float = 0.0, still: bool = False, seed: int = 3) -> Footage:
    """The talking face, its sound ``late`` seconds against its picture (negative: early)."""
    sound, opening = syllables(seed)
    shift = round(late * syn.RATE)
    sound = np.roll(sound, shift)
    sound[:shift] = 0 if shift > 0 else sound[:shift]
    if shift < 0:
        sound[shift:] = 0
    place = syn.place(seed, 640, 360)
    pictures = []
    for i in range(round(SECONDS * FPS)):
        frame = place[:360, :640].copy()
        window = opening[round(i / FPS * syn.RATE) : round((i + 1) / FPS * syn.RATE)]
        frame[120:260, 260:380] = (205, 160, 130)  # the face
        mouth = 0.0 if still else float(window.mean())
        height = 4 + round(30 * mouth)
        frame[215 - height // 2 : 215 + height // 2 + 1, 290:350] = (60, 20, 25)
        pictures.append(frame)
    return decode(syn.write(tmp_path / f"face{late}-{still}-{seed}.mp4", pictures, FPS, sound))


def measured(footage: Footage, spans=(LINE,), others=(NARRATION,)) -> sync.Sync:
    assert footage.audio is not None
    return sync.measure(footage.fine, FPS, footage.audio, footage.sample_rate, spans, others=others)


@pytest.mark.parametrize("late", [0.0, 0.2, -0.1, 0.05, -0.05])
def test_the_offset_is_measured_to_a_frame_and_judged_by_ebu_r37(
    tmp_path: Path, late: float
) -> None:
    found = measured(face_film(tmp_path, late))
    assert found.offset is not None and abs(found.offset - late) < 0.02, found
    verdict = sync.verdict(found)
    assert verdict.passed == (-0.040 <= late <= 0.060), verdict.reason
    ms = round(abs(found.offset) * 1000)
    words = "late" if found.offset >= 0 else "early"
    assert f"{ms} ms {words}" in verdict.reason
    assert "EBU R37 allows 40 ms early to 60 ms late" in verdict.reason


def test_a_still_mouth_is_not_measured_and_does_not_fail(tmp_path: Path) -> None:
    found = measured(face_film(tmp_path, still=True))
    assert found.offset is None
    verdict = sync.verdict(found)
    assert verdict.passed and "no mouth moves with the on-screen speech" in verdict.reason


def test_narration_is_never_taken_for_the_face(tmp_path: Path) -> None:
    """Only the narrator speaks in the stretch asked about: the face's own sound is masked
    out as someone else's line, so nothing is measured."""
    footage = face_film(tmp_path, late=0.2)
    found = measured(footage, spans=(NARRATION,), others=(LINE,))
    assert found.offset is None


def test_too_little_speech_is_not_measured(tmp_path: Path) -> None:
    found = measured(face_film(tmp_path), spans=((1.0, 1.6),), others=(NARRATION, (1.6, 5.0)))
    assert found.offset is None and found.spoken == pytest.approx(0.6)
    assert "0.6 s of on-screen speech is too little" in sync.verdict(found).reason


def test_the_film_wide_offset_combines_the_shots(tmp_path: Path) -> None:
    one, two = (
        measured(face_film(tmp_path, 0.2, seed=3)),
        measured(face_film(tmp_path, 0.2, seed=9)),
    )
    film = sync.combined([one, two, sync.Sync(None, 0.0, np.zeros(sync.lags().size), 50)])
    assert film.offset is not None and abs(film.offset - 0.2) < 0.02
    assert not sync.verdict(film, "the film").passed
    assert "in the film" in sync.verdict(film, "the film").reason


def test_a_clip_with_its_own_sound_gets_the_sync_check(tmp_path: Path) -> None:
    """The per-clip checks (a clip from an engine that speaks its lines) measure sync on the
    lines spoken on screen, and leave it out when no one in frame speaks."""
    footage = face_film(tmp_path, late=0.2)
    lines = [NARRATION, LINE]
    checks = check_footage(footage, SECONDS, FPS, lines=lines, on_screen=[LINE])
    (verdict,) = [v for v in checks if v.check == "sync"]
    assert not verdict.passed and "ms late" in verdict.reason
    without = check_footage(footage, SECONDS, FPS, lines=lines)
    assert not [v for v in without if v.check == "sync"]


def test_a_line_said_to_run_for_ever_is_bounded_by_the_sound(tmp_path: Path) -> None:
    """Spans come from a manifest anyone may edit: a line ending at 10^12 s reads only the
    sound there is (no mask of 10^12 seconds), and the face is still measured."""
    found = measured(face_film(tmp_path, 0.2), spans=((LINE[0], 1e12),))
    assert found.offset is not None and abs(found.offset - 0.2) < 0.02
