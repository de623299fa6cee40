"""Clipping per shot and per line (issue 15): one clipped shot in a long film fails on that
shot, with the times of its clips, though the film-wide share stays under the limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ministudio.qc.checks import check_sound, decode
from ministudio.qc.checks import synthetic as syn
from ministudio.qc.checks.sound import clipped, clipping

SHOT = 5.0  # twenty 5 s shots, one line each
SHOTS = 20
LINES = [(k * SHOT + 0.5, k * SHOT + 4.0) for k in range(SHOTS)]


def film_sound(tmp_path: Path, bad: int | None) -> np.ndarray:
    """The film's speech at -16 LUFS (through AAC, as a film carries it); shot ``bad``'s line
    driven 18 dB into clipping from 0.5 s into it for 0.5 s."""
    audio = syn.speech(SHOT * SHOTS, LINES, seed=4)
    if bad is not None:
        lo, hi = round((bad * SHOT + 1.0) * syn.RATE), round((bad * SHOT + 1.5) * syn.RATE)
        audio[lo:hi] = np.clip(audio[lo:hi] * 8, -1, 1)
    pictures = [np.full((36, 64, 3), 90, np.uint8)] * int(SHOT * SHOTS * 24)
    sound = decode(syn.write(tmp_path / f"film{bad}.mp4", pictures, 24, audio)).audio
    assert sound is not None
    return sound


def test_one_clipped_shot_in_a_long_film_fails_on_that_shot_only(tmp_path: Path) -> None:
    sound = film_sound(tmp_path, bad=7)
    assert clipping(sound).passed  # the film-wide share hides it
    verdicts = [
        clipped(sound, syn.RATE, (k * SHOT, (k + 1) * SHOT), [LINES[k]], what="the shot")
        for k in range(SHOTS)
    ]
    assert [k for k, v in enumerate(verdicts) if not v.passed] == [7]
    reason = verdicts[7].reason
    assert reason.startswith("clipped at 36.0"), reason
    first, last = reason.split("clipped at ")[1].split(":")[0].split(", ")[0].split(" s-")
    assert 36.0 <= float(first) < 36.1 and 36.4 < float(last.split()[0]) <= 36.5, reason
    assert "of the shot's samples" in reason and "(limit 0.1% of a shot or a line)" in reason
    film = [v for v in check_sound(sound, syn.RATE, LINES) if v.check == "clipping"]
    assert not film[0].passed and "of a line's" in film[0].reason, film[0].reason


def test_clean_speech_at_the_web_loudness_passes(tmp_path: Path) -> None:
    sound = film_sound(tmp_path, bad=None)
    verdicts = check_sound(sound, syn.RATE, LINES)
    assert all(v.passed for v in verdicts), [v.reason for v in verdicts]
    assert all(
        clipped(sound, syn.RATE, (k * SHOT, (k + 1) * SHOT), [LINES[k]]).passed
        for k in range(SHOTS)
    )
