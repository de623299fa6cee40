"""The animatic engine: real clips probed with PyAV, as a person watching them would notice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from ministudio.engines import EngineContext
from ministudio.engines.animatic.looks import figure_look, grade_for
from ministudio.engines.animatic.plugin import generate_video, ministudio_engines, prompt_map
from ministudio.engines.animatic.render import render_clip
from ministudio.jobs import (
    CharacterBrief,
    EnvironmentBrief,
    LineBrief,
    ShotPrompt,
    VideoRequest,
    VideoResult,
)
from PIL import Image

RED = (200, 40, 40)  # "red" in the DNA colour words
GREEN = (50, 140, 70)  # "green"
ANN = CharacterBrief(id="ann", name="Ann", dna="a man in a red sweater and black trousers")
BO = CharacterBrief(id="bo", name="Bo", dna="a woman in a green coat and grey trousers")
LAB = EnvironmentBrief(id="lab", description="a research lab with desks and monitors")


def grey_room(
    tmp_path: Path, colour: tuple[int, int, int] = (128, 128, 128), **kw: object
) -> EnvironmentBrief:
    """A place whose background is a flat reference picture: figures are all that has colour."""
    path = tmp_path / f"bg-{colour[0]}-{colour[1]}-{colour[2]}.png"
    Image.new("RGB", (64, 36), colour).save(path)
    return EnvironmentBrief(id="room", description="a room", reference_images=(path,), **kw)


def request(
    *,
    size: str = "wide",
    move: str = "static",
    cast: tuple[CharacterBrief, ...] = (ANN, BO),
    env: EnvironmentBrief = LAB,
    width: int = 480,
    height: int = 270,
    fps: int = 24,
    duration: float = 1.0,
    seed: int = 7,
    action: str = "Ann points at the screen while Bo takes notes",
    lines: tuple[LineBrief, ...] = (),
    first_frame: Path | None = None,
) -> VideoRequest:
    shot = ShotPrompt(
        shot_id="s1",
        scene_id="sc",
        index=0,
        action=action,
        shot_size=size,
        camera_move=move,
        characters=cast,
        environment=env,
        lines=lines,
    )
    return VideoRequest(
        shot=shot,
        prompt=action,
        duration=duration,
        aspect_ratio="16:9",
        width=width,
        height=height,
        fps=fps,
        seed=seed,
        first_frame=first_frame,
    )


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def render(tmp_path: Path, name: str, req: VideoRequest) -> Path:
    return render_clip(req, tmp_path / f"{name}.mp4")


def near(image: np.ndarray, colour: tuple[int, int, int], tol: float = 40) -> int:
    """How many pixels are within ``tol`` (RGB distance) of ``colour``."""
    d = np.linalg.norm(image.astype(np.float32) - np.asarray(colour, np.float32), axis=-1)
    return int((d < tol).sum())


def test_clip_has_the_requested_size_rate_and_exact_frame_count(tmp_path: Path) -> None:
    clip = render(tmp_path, "a", request(width=320, height=180, fps=25, duration=1.3))
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (320, 180)
        assert stream.average_rate == 25
        count = sum(1 for _ in container.decode(video=0))
    assert count == round(1.3 * 25)


def test_vertical_9_16_renders_with_the_caption_inside(tmp_path: Path) -> None:
    req = request(width=270, height=480, duration=0.5, move="pan-left", action="word " * 60)
    shots = frames(render(tmp_path, "v", req))
    assert shots[0].shape == (480, 270, 3)
    assert len(shots) == 12


def test_same_request_same_bytes_other_seed_or_shot_other_frames(tmp_path: Path) -> None:
    one = render(tmp_path, "one", request(seed=1, move="handheld"))
    two = render(tmp_path, "two", request(seed=1, move="handheld"))
    assert one.read_bytes() == two.read_bytes()
    reseeded = frames(render(tmp_path, "three", request(seed=2, move="handheld")))
    other_shot = frames(render(tmp_path, "four", request(seed=1, move="handheld", size="medium")))
    base = frames(one)
    assert np.abs(base[5].astype(int) - reseeded[5].astype(int)).mean() > 1.0
    assert np.abs(base[5].astype(int) - other_shot[5].astype(int)).mean() > 5.0


def test_two_clips_at_once_on_threads_match_clips_rendered_alone(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    reqs = [request(move="push-in", size="medium"), request(move="pan-left", seed=3)]
    alone = [render(tmp_path, f"alone{i}", r).read_bytes() for i, r in enumerate(reqs)]
    with ThreadPoolExecutor(2) as pool:
        paths = list(pool.map(lambda a: render(tmp_path, f"both{a[0]}", a[1]), enumerate(reqs)))
    assert [p.read_bytes() for p in paths] == alone


def test_a_character_keeps_its_look_across_shot_sizes(tmp_path: Path) -> None:
    env = grey_room(tmp_path)
    wide = frames(render(tmp_path, "w", request(size="wide", cast=(ANN,), env=env)))[0]
    medium = frames(render(tmp_path, "m", request(size="medium", cast=(ANN,), env=env)))[0]
    close = frames(render(tmp_path, "c", request(size="close-up", cast=(ANN,), env=env)))[0]
    for image in (wide, medium, close):
        assert near(image, RED) > 150  # the red sweater, whatever the framing
        assert near(image, GREEN) == 0
    # a bigger framing shows more of the same sweater
    assert near(wide, RED) < near(medium, RED)


def test_two_characters_look_different(tmp_path: Path) -> None:
    env = grey_room(tmp_path)
    ann = frames(render(tmp_path, "ann", request(cast=(ANN,), env=env)))[0]
    bo = frames(render(tmp_path, "bo", request(cast=(BO,), env=env)))[0]
    assert near(ann, RED) > 150 and near(ann, GREEN) == 0
    assert near(bo, GREEN) > 150 and near(bo, RED) == 0
    assert figure_look("ann", ANN.dna) != figure_look("bo", BO.dna)


def test_environment_reference_image_is_the_background(tmp_path: Path) -> None:
    teal = (30, 150, 140)
    env = grey_room(tmp_path, teal)
    image = frames(render(tmp_path, "bg", request(cast=(), env=env, action="")))[0]
    corner = image[10:60, -80:-10].reshape(-1, 3).mean(axis=0)  # top right, clear of the slate
    assert np.abs(corner - np.asarray(teal)).max() < 12


def test_lighting_regrades_the_same_place(tmp_path: Path) -> None:
    red = LAB.model_copy(update={"lighting": "alarm red"})
    blue = LAB.model_copy(update={"lighting": "night, lab blue"})
    alarm = frames(render(tmp_path, "red", request(env=red)))[0].reshape(-1, 3).mean(axis=0)
    night = frames(render(tmp_path, "blue", request(env=blue)))[0].reshape(-1, 3).mean(axis=0)
    plain = frames(render(tmp_path, "none", request()))[0].reshape(-1, 3).mean(axis=0)
    assert alarm[0] > alarm[2] + 20  # red over blue
    assert night[2] > night[0] + 20  # blue over red
    assert night.mean() < plain.mean()  # night is darker
    assert grade_for("").identity


def test_pan_moves_the_picture_static_holds_it(tmp_path: Path) -> None:
    pan = frames(render(tmp_path, "pan", request(move="pan-right")))
    still = frames(render(tmp_path, "still", request(move="static")))
    moved = np.abs(pan[0].astype(int) - pan[-1].astype(int)).mean()
    held = np.abs(still[0].astype(int) - still[-1].astype(int)).mean()
    assert moved > 5.0
    assert held < 0.5


@pytest.mark.parametrize("move", ["tilt-up", "push-in", "pull-back"])
def test_other_camera_moves_change_the_frame(tmp_path: Path, move: str) -> None:
    clip = frames(render(tmp_path, move, request(move=move, size="medium", duration=0.5)))
    assert np.abs(clip[0].astype(int) - clip[-1].astype(int)).mean() > 2.0


def test_a_speaking_character_moves_its_mouth_only_while_talking(tmp_path: Path) -> None:
    line = LineBrief(speaker="ann", text="Hello", start=0.25, end=0.75)
    clip = frames(render(tmp_path, "talk", request(size="close-up", cast=(ANN,), lines=(line,))))
    before = clip[0].astype(int)

    def changed(frame: np.ndarray) -> int:  # pixels clearly unlike the first (closed) frame
        return int((np.abs(frame.astype(int) - before).max(axis=-1) > 40).sum())

    assert max(changed(f) for f in clip[7:17]) > 100  # the mouth opened during the line
    assert changed(clip[-1]) < 10  # and closed again after it


@pytest.mark.parametrize(
    "dna",
    [
        "a man in a red sweater and black trousers",
        "a robot with a grey metal body",
        "a holographic AI, translucent blue humanoid figure",
    ],
)
def test_each_viseme_is_its_own_mouth(dna: str) -> None:
    """closed, teeth, round, wide, open, mid and rest: seven mouths a viewer tells apart
    (a robot's grille too); the shapes that open with the voice open further when louder."""
    from ministudio.engines.animatic.draw import FEET, Pen, View, anchors, draw_mouth
    from ministudio.engines.animatic.visemes import VISEMES

    look = figure_look("x", dna)
    a = anchors(look, 0.0, FEET)
    assert a.mouth is not None
    mx, my = a.mouth[0], a.mouth[1]

    def mouth(shape: str, openness: float) -> np.ndarray:
        image = Image.new("RGB", (120, 90), (128, 128, 128))
        draw_mouth(
            Pen(image, View(mx - 0.06, my + 0.045, 1000, 120, 90)), look, 0, FEET, openness, shape
        )
        return np.asarray(image).astype(int)

    drawn = {shape: mouth(shape, 1.0) for shape in VISEMES}
    for i, one in enumerate(VISEMES):
        for other in VISEMES[i + 1 :]:
            apart = int((np.abs(drawn[one] - drawn[other]).max(axis=-1) > 30).sum())
            assert apart > 40, f"{one} and {other} look alike ({apart} px differ)"
    for shape in ("round", "wide", "open", "mid"):
        quiet, loud = mouth(shape, 0.35), mouth(shape, 1.0)
        grey = np.asarray((128, 128, 128))
        assert (np.abs(loud - grey).max(-1) > 0).sum() > (np.abs(quiet - grey).max(-1) > 0).sum()


def test_first_frame_dissolves_in_from_the_previous_shot(tmp_path: Path) -> None:
    magenta = (230, 30, 220)
    png = tmp_path / "last.png"
    Image.new("RGB", (320, 200), magenta).save(png)  # another size: cover-fitted
    clip = frames(render(tmp_path, "cont", request(first_frame=png)))
    first = clip[0].reshape(-1, 3).mean(axis=0)
    later = clip[12].reshape(-1, 3).mean(axis=0)
    assert np.abs(first - np.asarray(magenta)).max() < 12
    assert np.abs(later - np.asarray(magenta)).max() > 60


def test_dna_keywords_shape_the_figure() -> None:
    grandpa = figure_look("g", "about 70, white beard, glasses, brown cardigan, khaki trousers")
    assert grandpa.elderly and grandpa.glasses and grandpa.beard == (240, 240, 236)
    assert grandpa.top == (121, 85, 58) and grandpa.bottom == (189, 170, 120)
    girl = figure_look("l", "about 10, ponytail, colourful T-shirt, jeans")
    assert girl.child and girl.height < grandpa.height
    assert girl.hair_style == "ponytail" and girl.top_pattern == "colourful"
    assert figure_look("k", "a glowing golden orb, softly pulsing").kind == "orb"
    aria = figure_look("a", "a holographic AI, translucent blue humanoid figure")
    assert aria.kind == "hologram" and aria.glow[2] > aria.glow[0]
    # no DNA colour: a stable colour from the id, and two ids differ
    assert figure_look("x", "a person").top == figure_look("x", "a person").top
    assert figure_look("x", "a person") != figure_look("y", "a person")


def test_plugin_hooks(tmp_path: Path) -> None:
    spec = ministudio_engines()[0]  # then animatic-stills (tests/test_animatic_stills.py)
    assert spec.id == "animatic" and spec.kind == "video" and spec.default_model == "animatic-1"
    assert spec.capabilities.first_frame and spec.capabilities.price_per_second == 0.0
    shot = request().shot
    assert prompt_map("veo", shot) is None
    assert "Wide shot" in str(prompt_map("animatic", shot))
    assert generate_video("veo", request(), tmp_path / "x.mp4", None) is None  # type: ignore[arg-type]
    seen: list[float] = []
    context = EngineContext(engine="animatic", work_dir=tmp_path, progress=seen.append)
    result = generate_video("animatic", request(duration=0.5), tmp_path / "a.mp4", context)
    assert isinstance(result, VideoResult)
    assert result.path.is_file() and result.cost == 0.0 and result.model == "animatic-1"
    assert seen and seen[-1] == 1.0


def test_importing_the_plugin_is_cheap() -> None:
    code = (
        "import sys, ministudio.engines.animatic.plugin\n"
        "heavy = [m for m in ('numpy', 'PIL', 'av') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
