"""What orbit promises beyond the kit: a loop ends where it begins, the picture follows the
place (not the prompt), and a film of it passes every built-in check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import av
import ministudio_example_orbit as orbit
import numpy as np
from ministudio.engines import EngineContext
from ministudio.jobs import EnvironmentBrief, ShotPrompt, VideoRequest
from ministudio.plugins import PluginHost


def request(action: str = "Ann waves", place: str = "park", **fields: Any) -> VideoRequest:
    shot = ShotPrompt(
        shot_id="s1",
        scene_id="one",
        index=0,
        action=action,
        shot_size="close-up",
        camera_move="static",
        environment=EnvironmentBrief(id=place, description=f"a {place}", lighting="day"),
    )
    values: dict[str, Any] = {
        "shot": shot,
        "prompt": action,
        "duration": 1.0,
        "aspect_ratio": "16:9",
        "width": 320,
        "height": 180,
        "fps": 24,
        "seed": 7,
        **fields,
    }
    return VideoRequest(**values)


def frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as clip:
        return np.stack([f.to_ndarray(format="rgb24") for f in clip.decode(video=0)])


def generate(tmp_path: Path, name: str, req: VideoRequest) -> np.ndarray:
    host = PluginHost(discover=False)
    host.register(orbit, "orbit")
    context = EngineContext(engine="orbit", work_dir=tmp_path)
    output = tmp_path / f"{name}.mp4"
    result = anyio.run(lambda: host.generate_video("orbit", req, output, context))
    assert result.path == output and not output.with_name(f"{name}.mp4.part").exists()
    return frames(output)


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_a_clip_has_the_requested_size_rate_and_frames(tmp_path: Path) -> None:
    clip = generate(tmp_path, "c", request(duration=1.5))
    with av.open(str(tmp_path / "c.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (320, 180)
        assert stream.average_rate == 24 and stream.codec_context.name == "h264"
    assert clip.shape == (36, 180, 320, 3)


def test_a_loop_ends_where_it_begins(tmp_path: Path) -> None:
    looped = generate(tmp_path, "loop", request(duration=2.0, loop=True))
    plain = generate(tmp_path, "plain", request(duration=2.0))
    apart = max(difference(frame, looped[0]) for frame in looped)  # discs far apart
    assert difference(looped[-1], looped[0]) < 0.5 * apart  # one step from the start
    assert difference(plain[-1], plain[0]) > 0.75 * apart  # a third of a turn on


def test_the_picture_follows_the_place_not_the_prompt(tmp_path: Path) -> None:
    waves = generate(tmp_path, "a", request("Ann waves"))
    sits = generate(tmp_path, "b", request("Ann sits down on a red bench"))
    elsewhere = generate(tmp_path, "c", request("Ann waves", place="harbour"))
    corner = (slice(0, 20), slice(0, 20))  # the background, where no disc passes
    assert difference(waves[0][corner], sits[0][corner]) < 2
    assert difference(waves[0][corner], elsewhere[0][corner]) > 20


def test_a_continue_shot_starts_on_its_first_frame(tmp_path: Path) -> None:
    from PIL import Image

    start = tmp_path / "start.png"
    Image.new("RGB", (320, 180), (10, 200, 30)).save(start)
    clip = generate(tmp_path, "cont", request(first_frame=start))
    assert np.abs(clip[0].mean(axis=(0, 1)) - (10, 200, 30)).max() < 8
    assert np.abs(clip[-1].mean(axis=(0, 1)) - (10, 200, 30)).max() > 20


def test_a_film_passes_every_built_in_check(tmp_path: Path) -> None:
    """Two shots of one place, different actions: duration, fps, black, frozen, flash and
    the scene's environment check all pass."""
    from ministudio.qc import builtin as qc
    from ministudio.run.render import render
    from ministudio.run.store import ContentStore
    from ministudio.spec import Production

    film = Production.model_validate(
        {
            "title": "Orbit",
            "format": {"aspect_ratio": "16:9", "resolution": "360p", "fps": 24},
            "characters": {"ann": {"name": "Ann", "dna": "a woman in a red coat"}},
            "environments": {"park": {"description": "a park", "palette": ["#5a8f4e"]}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [
                        {
                            "action": "Ann waves",
                            "camera": "pan-right",
                            "duration": 1.5,
                            "characters": ["ann"],
                        },
                        {
                            "action": "Ann sits on a bench",
                            "size": "close-up",
                            "duration": 1.5,
                            "characters": ["ann"],
                        },
                    ],
                }
            ],
            "routing": {"video": "orbit"},
        }
    )
    host = PluginHost(discover=False)
    host.register(orbit, "orbit")
    host.register(qc, "builtin-qc")
    manifest = render(film, tmp_path / "out", host=host, store=ContentStore(tmp_path / "s"))
    checks = {v.check for shot in manifest.shots for v in shot.qc}
    assert {"duration", "fps", "black", "frozen", "flash", "environment"} <= checks
    failed = [(s.id, v.check, v.reason) for s in manifest.shots for v in s.qc if not v.passed]
    assert failed == []
