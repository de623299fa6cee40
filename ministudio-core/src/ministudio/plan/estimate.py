"""What a render will do before it does it: per shot cached or not (and why), cost and time."""

from __future__ import annotations

import math
from dataclasses import dataclass

INPUT_WORDS = {
    "engine": "engine",
    "model": "model",
    "prompt": "prompt",
    "shot": "shot description",
    "duration": "length",
    "seed": "seed",
    "first_frame": "first frame (the shot before changed)",
    "last_frame": "end frame",
    "loop": "loop",
    "options": "engine options",
    "aspect_ratio": "format",
    "width": "format",
    "height": "format",
    "fps": "format",
}


@dataclass(frozen=True)
class ShotPlan:
    id: str
    engine: str
    model: str  # the model (and mode, "kling-v3 pro") it is rendered with; "" if the engine's own
    duration: float  # seconds in the film
    requested: float  # seconds asked of the engine (snapped to what it renders)
    cached: bool
    reason: str  # why it is cached or must render, in words
    cost: float | None  # USD this run would spend on it; None: its engine cannot say
    seconds: float  # expected engine time for it (0 when cached)
    after: str | None  # the shot it continues from, when that one renders first
    ignored: tuple[str, ...] = ()  # what the shot asks for that its engine cannot take
    kind: str = "shot"  # or "plate", "lipsync" (a pass over the shot's clip)


@dataclass(frozen=True)
class FilmPlan:
    shots: list[ShotPlan]
    concurrency: dict[str, int]  # engine id -> jobs it runs at once

    @property
    def cost(self) -> float:
        """USD of the shots whose cost is known (``unpriced`` lists the others)."""
        return sum(s.cost or 0.0 for s in self.shots)

    @property
    def unpriced(self) -> list[str]:
        """The shots (and passes) to render whose engine could not say what they cost."""
        return [s.id for s in self.shots if s.cost is None]

    def wall_time(self) -> float:
        """Expected seconds: engines work in parallel waves; continuing shots chain."""
        by_engine: dict[str, list[float]] = {}
        for shot in self.shots:
            if not shot.cached:
                by_engine.setdefault(shot.engine, []).append(shot.seconds)
        waves = max(
            (math.ceil(len(t) / self.concurrency.get(e, 1)) * max(t) for e, t in by_engine.items()),
            default=0.0,
        )
        chain = longest = 0.0
        for shot in self.shots:
            chain = (chain if shot.after else 0.0) + (0.0 if shot.cached else shot.seconds)
            longest = max(longest, chain)
        return max(waves, longest)


def money(cost: float | None) -> str:
    """``$1.25``, or "cost unknown"."""
    return "cost unknown" if cost is None else f"${cost:.2f}"


def changed_inputs(before: dict[str, str], now: dict[str, str]) -> str:
    """Which inputs differ, in words ('prompt, seed'), from two ``ShotRecord.inputs``."""
    names = [
        f"engine updated: {before[k]} -> {now[k]}" if k == "code" else INPUT_WORDS.get(k, k)
        for k in sorted(now)
        if before.get(k) != now[k] and (k != "code" or k in before)  # older manifests lack it
    ]
    return ", ".join(dict.fromkeys(names)) or "inputs unchanged, but the clip is not in the store"
