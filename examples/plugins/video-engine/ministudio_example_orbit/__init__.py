"""orbit: a local video engine. Each character in frame is a disc orbiting over the place.

A complete example of a video engine that renders on this machine: it declares what it
takes (``ministudio_engines``) and writes a real H.264 MP4 with PyAV and numpy
(``generate_video``). It uses what the request carries:

- the place (``request.shot.environment``): its first reference image as the background,
  else a gradient in its first ``#rrggbb`` palette colour, else a colour from its id; the
  lighting darkens it at night. The picture depends on the place, never on the prompt, so
  every shot of a scene keeps its colours (the core's environment check compares them);
- the characters (``request.shot.characters``): one disc each, in the mean colour of the
  character's first reference image, else a colour from its id;
- ``request.seed`` (where the discs start), ``request.loop`` (one whole turn: the clip ends
  where it begins), ``request.first_frame`` (a ``continue`` shot fades in from it);
- ``request.width``, ``request.height``, ``request.fps`` and ``request.duration``.

numpy, Pillow and PyAV are imported inside the hooks: importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec, Model

if TYPE_CHECKING:
    import numpy as np
    from ministudio.jobs import EnvironmentBrief, VideoRequest, VideoResult

ENGINE = "orbit"
MODEL = "orbit-1"
FADE_IN = 0.5  # seconds a `continue` shot takes to leave its first frame
TURN = 6.0  # seconds per revolution, unless the clip loops
SIZES = {  # a disc's radius, as a share of the picture's short side, by shot size
    "extreme-wide": 0.05,
    "wide": 0.08,
    "full": 0.1,
    "medium": 0.12,
    "close-up": 0.2,
    "extreme-close-up": 0.28,
}

SPEC = EngineSpec(
    id=ENGINE,
    kind="video",
    description="local example: characters as discs orbiting over their place",
    default_model=MODEL,
    models=(Model(MODEL, "ga", use="the only model"),),
    capabilities=Capabilities(
        min_duration=0.5,
        max_duration=30.0,  # any length in between: no duration grid
        aspect_ratios=("16:9", "9:16", "1:1", "4:3", "3:4", "21:9"),
        resolutions=("360p", "480p", "720p", "1080p"),
        max_references=4,  # characters' images first, then the place's
        first_frame=True,
        loop=True,
        seed=True,
        concurrency=2,  # clips rendered at once (each keeps about one core busy)
        expected_latency=1.0,
    ),
)


@hookimpl
def ministudio_engines() -> list[EngineSpec]:
    return [SPEC]


@hookimpl
def generate_video(
    engine: str, request: VideoRequest, output: Path, context: EngineContext
) -> VideoResult | None:
    """Render the clip; the core runs this sync hook in a worker thread."""
    if engine != ENGINE:
        return None  # another plugin's engine
    import av
    import numpy as np
    from ministudio.jobs import VideoResult

    width, height, fps = request.width, request.height, request.fps
    frames = max(1, round(request.duration * fps))
    background = _background(request.shot.environment, width, height)
    first = None
    if request.first_frame is not None:  # a PNG of the previous clip's last frame
        first = _image(request.first_frame, width, height).astype(np.float32)
    discs = [  # one per character in frame (none in a shot of the place alone)
        _colour(c.reference_images[0]) if c.reference_images else _hashed(c.id)
        for c in request.shot.characters
    ] or [_hashed("subject")]
    radius = SIZES.get(request.shot.shot_size, 0.12) * min(width, height)
    orbit = 0.3 * min(width, height)
    turn = frames / fps if request.loop else TURN  # a loop makes exactly one whole turn
    phase = (request.seed % 3600) / 3600 * 2 * math.pi
    ys, xs = np.ogrid[0:height, 0:width]

    part = output.with_name(output.name + ".part")  # nothing at `output` unless complete
    try:
        with av.open(str(part), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"preset": "ultrafast", "crf": "20"}  # the core re-encodes it
            for i in range(frames):
                t = i / fps
                picture = background.copy()  # uint8: the discs are blended in their boxes
                for k, colour in enumerate(discs):
                    angle = phase + 2 * math.pi * (t / turn + k / len(discs))
                    cx = width / 2 + orbit * math.cos(angle)
                    cy = height / 2 + orbit * math.sin(angle)
                    x0, x1 = max(0, int(cx - radius) - 1), min(width, int(cx + radius) + 2)
                    y0, y1 = max(0, int(cy - radius) - 1), min(height, int(cy + radius) + 2)
                    distance = np.hypot(xs[:, x0:x1] - cx, ys[y0:y1] - cy)
                    alpha = np.clip(radius - distance + 0.5, 0.0, 1.0)[..., None]
                    box = picture[y0:y1, x0:x1]  # a view: drawn in place, anti-aliased
                    box[:] = box + (colour - box) * alpha + 0.5
                if first is not None and t < FADE_IN:  # frame 0 is the first frame itself
                    picture[:] = first + (picture - first) * (t / FADE_IN) + 0.5
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                container.mux(stream.encode(frame))
                context.progress((i + 1) / frames)
            container.mux(stream.encode(None))  # flush the encoder
        os.replace(part, output)
    finally:
        part.unlink(missing_ok=True)
    return VideoResult(path=output, model=request.model or MODEL, cost=0.0)


# -- the picture ---------------------------------------------------------------------------
def _background(place: EnvironmentBrief, width: int, height: int) -> np.ndarray:
    """The place: its reference image, else a vertical gradient in its colour (H x W x 3
    uint8)."""
    import numpy as np

    if place.reference_images:
        return _image(place.reference_images[0], width, height)
    hexes = [p for p in place.palette if re.fullmatch(r"#[0-9a-fA-F]{6}", p)]
    base = _hex(hexes[0]) if hexes else _hashed(place.id)
    if "night" in place.lighting.lower():
        base = base * 0.45
    shade = np.linspace(1.15, 0.75, height, dtype=np.float32)[:, None, None]
    rows = np.clip(base * shade + 0.5, 0, 255).astype(np.uint8)  # (H, 1, 3)
    return np.ascontiguousarray(np.broadcast_to(rows, (height, width, 3)))


def _image(path: Path, width: int, height: int) -> np.ndarray:
    """An image (a PNG the core wrote) scaled to cover width x height, centre-cropped
    (H x W x 3 uint8)."""
    import numpy as np
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        fitted = ImageOps.fit(image.convert("RGB"), (width, height))
    return np.array(fitted, dtype=np.uint8)


def _colour(path: Path) -> np.ndarray:
    """The mean colour of an image."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"), np.float32).reshape(-1, 3)
    colour: np.ndarray = pixels.mean(axis=0)
    return colour


def _hashed(name: str) -> np.ndarray:
    """A mid-bright colour of its own for a name: the same on every run and machine."""
    import numpy as np

    digest = hashlib.sha256(name.encode()).digest()
    return np.array([70 + digest[i] * 150 / 255 for i in range(3)], np.float32)


def _hex(code: str) -> np.ndarray:
    import numpy as np

    return np.array([int(code[i : i + 2], 16) for i in (1, 3, 5)], np.float32)
