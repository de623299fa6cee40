"""The shot's voice for engines that animate faces to it (``Capabilities.reference_audio``):
its on-screen lines as one mono WAV on the shot's timeline (``VideoRequest.voice``).

Only lines spoken by a character in the shot go in: a narrator, or a speaker not in the
shot, moves no mouth on screen. The brief's lines say who speaks when.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ministudio.jobs import ShotPrompt


def on_screen(brief: ShotPrompt) -> list[int]:
    """Indices of the brief's lines spoken by a character in the shot."""
    cast = {c.id for c in brief.characters}
    return [i for i, line in enumerate(brief.lines) if line.speaker in cast]


def write_voice(lines: Sequence[tuple[Path, float]], seconds: float, output: Path) -> Path:
    """Mix each (WAV, start in seconds) onto ``seconds`` of silence and write a 16-bit mono
    WAV at the first line's rate (the others resampled to it); sound before the start (a
    negative start) and past the end is cut."""
    from ministudio.media.audio import read_wav, resample

    rate = 0
    track = np.zeros(0, np.float32)
    for path, start in lines:
        samples, source_rate = read_wav(path)
        if not rate:
            rate = source_rate
            track = np.zeros(round(seconds * rate), np.float32)
        elif source_rate != rate:
            samples = resample(samples, source_rate, rate)
        first = round(start * rate)
        if first < 0:  # begun before the shot (a split shot's part): its rest
            samples, first = samples[-first:], 0
        end = min(track.size, first + samples.size)
        if end > first:
            track[first:end] += samples[: end - first]
    pcm = (np.clip(track, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(output), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate or 16000)
        out.writeframes(pcm.tobytes())
    return output
