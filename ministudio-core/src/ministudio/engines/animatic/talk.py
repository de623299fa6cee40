"""When mouths move: the times each character speaks (from the shot's lines, or from the
voice's loudness), and how open a mouth is at a moment."""

from __future__ import annotations

import math
import random

import numpy as np

from ministudio.engines.animatic.framing import Plan
from ministudio.jobs import CharacterBrief, LineBrief


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
) -> list[int | None]:
    """Each frame's mouth for a character: from the shot's voice where the engine was given
    one and the character has lines, else a syllable beat over its talking times."""
    if voice is not None and any(line.speaker == brief.id for line in lines):
        return voiced(plan.frames, plan.fps, spans, voice)
    phase = random.Random(brief.id).uniform(0, math.tau)
    return schedule(plan.frames, plan.fps, spans, 3, phase)


def voiced(
    frames: int, fps: int, spans: list[tuple[float, float]], voice: tuple[np.ndarray, int]
) -> list[int | None]:
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
    levels: list[int | None] = np.rint(opened * 3).astype(int).tolist()
    return levels


def openness(t: float, phase: float) -> float:
    """How open a talking mouth is at time t: a syllable beat under a slower phrase swell."""
    beat = max(0.0, math.sin(2 * math.pi * 4.3 * t + phase))
    swell = 0.55 + 0.45 * abs(math.sin(2 * math.pi * 0.9 * t + phase * 0.5))
    return beat * swell


def schedule(
    frames: int, fps: int, spans: list[tuple[float, float]], levels: int, phase: float
) -> list[int | None]:
    out: list[int | None] = []
    for i in range(frames):
        t = i / fps
        level = 0
        for start, end in spans:
            if start <= t < end:
                level = min(levels, max(0, round(openness(t - start, phase) * levels)))
                break
        out.append(level)
    return out
