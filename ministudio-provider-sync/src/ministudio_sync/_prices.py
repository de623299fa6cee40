"""What a lip-sync pass costs: sync. bills per output frame ("output video frames x per-frame
model price", support.sync.so "Sync Support FAQ", 2026-04-07) and quotes each model's price
per second at 25 fps, as a range over plans (sync.so/docs/models/lipsync, "Pricing @ 25fps":
lipsync-2 0.04-0.05 USD/s, lipsync-2-pro 0.067-0.083, sync-3 0.107-0.133).

The top of each range is used, so that a budget is never understated; a model the table does
not know is priced at the highest rate. The frames are the clip's (its duration at its frame
rate), as sync. outputs the input video's frames.
"""

from __future__ import annotations

import math
from typing import Any

QUOTED_FPS = 25
# USD per second at 25 fps, the top of each plan range.
PER_SECOND: dict[str, float] = {
    "lipsync-2": 0.05,
    "lipsync-2-pro": 0.083,
    "sync-3": 0.133,
}
HIGHEST = max(PER_SECOND.values())


def per_frame(model: str) -> float:
    """USD per output frame of ``model``."""
    return PER_SECOND.get(model, HIGHEST) / QUOTED_FPS


def price_per_second(model: str, fps: int) -> float:
    """USD per second of a clip at ``fps`` frames a second."""
    return round(per_frame(model) * fps, 6)


def frames(duration: float, fps: int) -> int:
    return max(1, math.ceil(round(duration * fps, 6)))


def cost(request: Any) -> float:
    """What ``request`` (a ``LipSyncRequest``) costs: its frames at its model's price."""
    from ministudio_sync._request import model

    fps = int(getattr(request, "fps", QUOTED_FPS) or QUOTED_FPS)
    return round(frames(float(request.duration), fps) * per_frame(model(request)), 6)
