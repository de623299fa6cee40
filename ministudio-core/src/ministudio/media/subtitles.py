"""Subtitle cues and their SRT / WebVTT sidecar files."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Cue:
    """One subtitle: shown from `start` to `end` seconds on the film's timeline."""

    start: float
    end: float
    text: str
    speaker: str | None = None

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(
                f"cue times must satisfy 0 <= start <= end, got {self.start}..{self.end}"
            )

    def display_text(self) -> str:
        """The text as shown in SRT and the film's soft subtitles: 'NAME: text'."""
        text = clean_text(self.text)
        return f"{self.speaker}: {text}" if self.speaker else text


def clean_text(text: str) -> str:
    """Normalise newlines and drop blank lines (a blank line would end the cue early)."""
    lines = [line.strip() for line in re.split(r"\r\n|\r|\n", text)]
    return "\n".join(line for line in lines if line)


def ordered(cues: Iterable[Cue]) -> list[Cue]:
    """Cues in display order (by start, then end); the input order breaks ties."""
    return sorted(cues, key=lambda c: (c.start, c.end))


def _split_ms(seconds: float) -> tuple[int, int, int, int]:
    total = round(seconds * 1000)
    hours, rest = divmod(total, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return hours, minutes, secs, ms


def srt_time(seconds: float) -> str:
    """00:01:02,345"""
    h, m, s, ms = _split_ms(seconds)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def vtt_time(seconds: float) -> str:
    """00:01:02.345"""
    h, m, s, ms = _split_ms(seconds)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_srt(cues: Iterable[Cue]) -> str:
    """SubRip text: numbered cues, 'HH:MM:SS,mmm --> HH:MM:SS,mmm', speaker as 'NAME: '."""
    blocks = [
        f"{n}\n{srt_time(c.start)} --> {srt_time(c.end)}\n{c.display_text()}\n"
        for n, c in enumerate(ordered(cues), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(cues: Iterable[Cue]) -> str:
    """WebVTT text: 'HH:MM:SS.mmm --> HH:MM:SS.mmm', speaker as a voice tag '<v NAME>'."""
    blocks = ["WEBVTT\n"]
    for c in ordered(cues):
        text = _vtt_escape(clean_text(c.text))
        if c.speaker:
            text = f"<v {_vtt_escape(' '.join(c.speaker.split()))}>{text}"
        blocks.append(f"{vtt_time(c.start)} --> {vtt_time(c.end)}\n{text}\n")
    return "\n".join(blocks)
