"""When mouths move and how: the times each character speaks (from the shot's lines), the
shape its mouth makes (the viseme of the phoneme it says, where the speech engine gave the
phonemes), and how open it is (the voice's loudness, else a syllable beat)."""

from __future__ import annotations

import math
import random

import numpy as np

from ministudio.engines.animatic.framing import Plan
from ministudio.engines.animatic.visemes import (
    CLOSED,
    OPEN,
    REST,
    ROUND,
    TEETH,
    WIDE,
    frame_visemes,
)
from ministudio.jobs import CharacterBrief, LineBrief

Mouth = tuple[str, int]  # a viseme and how open (0..3); (REST, 0) the mouth at rest
AT_REST: Mouth = (REST, 0)
# how open each shape is when no voice says how loud it is
_UNVOICED = {OPEN: 3, WIDE: 2, ROUND: 2}


def talk_times(
    brief: CharacterBrief, lines: tuple[LineBrief, ...], duration: float
) -> list[tuple[float, float]]:
    spans = [
        (line.start, line.end if line.end > line.start else duration)
        for line in lines
        if line.speaker == brief.id
    ]
    if not spans and brief.speaking and not any(line.speaker == brief.id for line in lines):
        spans = [(0.0, duration)]
    return spans


def talking(
    plan: Plan,
    brief: CharacterBrief,
    lines: tuple[LineBrief, ...],
    spans: list[tuple[float, float]],
    voice: tuple[np.ndarray, int] | None,
) -> list[Mouth]:
    """Each frame's mouth for a character: open as loud as the shot's voice where the engine
    was given one and the character has lines, else on a syllable beat over its talking
    times; shaped by the phonemes of its own lines where they have them (``mouths``)."""
    own = [line for line in lines if line.speaker == brief.id]
    if voice is not None and own:
        levels = voiced(plan.frames, plan.fps, spans, voice)
    else:
        phase = random.Random(brief.id).uniform(0, math.tau)
        levels = schedule(plan.frames, plan.fps, spans, 3, phase)
    return mouths(plan.frames, plan.fps, own, levels, voiced_levels=voice is not None)


def mouths(
    frames: int,
    fps: int,
    lines: list[LineBrief],
    levels: list[int],
    *,
    voiced_levels: bool,
) -> list[Mouth]:
    """Each frame's (viseme, openness) for a character saying ``lines``, given how open its
    mouth is each frame (``levels``, 0..3). Inside a line with phonemes the shape is the
    phoneme's viseme: closed and f/v shapes whatever the loudness, the others opened by it
    (shut where the voice is quiet; by a fixed amount per shape when ``voiced_levels`` is
    False: no voice was given, the levels are only a beat). Elsewhere
    (a line without phonemes, another speech engine's): the plain open mouth at the level."""
    out: list[Mouth] = [(OPEN, level) if level > 0 else AT_REST for level in levels]
    for line in lines:
        if not line.phonemes:
            continue
        end = line.end if line.end > line.start else frames / fps
        for i, shape in enumerate(frame_visemes(line.phonemes, end, frames, fps)):
            if shape is None or not (line.start < (i + 1) / fps and i / fps < end):
                continue
            if shape in (REST, CLOSED, TEETH):
                out[i] = (shape, 0)
            elif voiced_levels:  # as open as the voice is loud: shut where it is quiet
                out[i] = (shape, levels[i]) if levels[i] else AT_REST
            else:
                out[i] = (shape, _UNVOICED.get(shape, 1))
    return out


def openness_levels(track: list[Mouth]) -> list[int | None]:
    """A mouth track as plain openness (0..3), for figures without a drawn mouth (an orb's
    pulse, a sprite's speech marks): closed shapes are 0, f/v a little open."""
    return [
        1 if shape == TEETH else level if shape not in (REST, CLOSED) else 0
        for shape, level in track
    ]


def voiced(
    frames: int, fps: int, spans: list[tuple[float, float]], voice: tuple[np.ndarray, int]
) -> list[int]:
    """Each frame's mouth (0 closed .. 3 wide open) from the loudness of the shot's voice
    while the frame is on screen, inside the character's own lines: the mouth moves with the
    sound, to the frame. Loudness is relative to the character's loud frames (their 90th
    percentile); under a tenth of that the mouth is closed."""
    samples, rate = voice
    level = np.zeros(frames)
    inside = np.zeros(frames, bool)
    for i in range(frames):
        t = i / fps
        if any(start <= t < end for start, end in spans):
            window = samples[round(t * rate) : round((t + 1 / fps) * rate)]
            level[i] = float(np.sqrt(np.mean(np.square(window)))) if window.size else 0.0
            inside[i] = True
    loud = float(np.percentile(level[inside], 90)) if inside.any() else 0.0
    if loud <= 0:
        return [0] * frames
    opened = np.where(level >= 0.1 * loud, np.clip(level / loud, 0.0, 1.0), 0.0)
    levels: list[int] = np.rint(opened * 3).astype(int).tolist()
    return levels


def openness(t: float, phase: float) -> float:
    """How open a talking mouth is at time t: a syllable beat under a slower phrase swell."""
    beat = max(0.0, math.sin(2 * math.pi * 4.3 * t + phase))
    swell = 0.55 + 0.45 * abs(math.sin(2 * math.pi * 0.9 * t + phase * 0.5))
    return beat * swell


def schedule(
    frames: int, fps: int, spans: list[tuple[float, float]], levels: int, phase: float
) -> list[int]:
    out: list[int] = []
    for i in range(frames):
        t = i / fps
        level = 0
        for start, end in spans:
            if start <= t < end:
                level = min(levels, max(0, round(openness(t - start, phase) * levels)))
                break
        out.append(level)
    return out
