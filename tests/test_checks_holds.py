"""Freezes an audience notices (issue 15): a held picture of a second inside a shot fails,
however the encoder flickers at its keyframes; one repeated frame or a short pause passes, and a
static camera may hold at its shot's ends."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from ministudio.jobs import EnvironmentBrief, ShotPrompt
from ministudio.qc.builtin import qc_check
from ministudio.qc.checks import decode, picture
from ministudio.qc.checks import synthetic as syn

FPS, W, H = 24, 320, 180
N = 4 * FPS  # a 4 s shot


def moving(seed: int = 1) -> list[np.ndarray]:
    """A slow pan with a moving figure, over a textured place (texture makes keyframes flicker)."""
    place = syn.place(seed, 2 * W, 2 * H).astype(np.float32)
    grain = np.random.default_rng(seed).normal(0, 18, place.shape[:2])[..., None]
    textured = np.clip(place + grain, 0, 255).astype(np.uint8)
    return syn.frames(textured, W, H, N, move=(0.1, 0.05), seed=seed)


def encode(path: Path, pictures: list[np.ndarray], options: dict[str, str]) -> Path:
    """H.264 with a keyframe every 12 frames (every keyframe re-codes a held picture)."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS, options=options)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.time_base = Fraction(1, FPS)
        stream.codec_context.gop_size = 12
        for i, p in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(p, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def held(first: int, frames: int) -> list[np.ndarray]:
    pics = moving()
    pics[first : first + frames] = [pics[first]] * frames
    return pics


ENCODINGS = {
    "qp23-ultrafast": {"preset": "ultrafast", "qp": "23"},  # the core's own
    "crf18": {"preset": "medium", "crf": "18"},
    "crf23": {"preset": "medium", "crf": "23"},
    "crf28": {"preset": "medium", "crf": "28"},
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_a_freeze_inside_a_shot_is_one_freeze_across_keyframes(tmp_path: Path, encoding) -> None:
    clip = encode(tmp_path / "f.mp4", held(40, 36), ENCODINGS[encoding])
    grey = decode(clip, sound=False).grey
    (hold,) = [h for h in picture.holds(grey) if h[1] > 4]
    assert abs(hold[0] - 40) <= 1 and abs(hold[1] - 36) <= 2, hold
    verdict = picture.frozen(grey, FPS)
    assert not verdict.passed
    assert verdict.reason == "frozen for 1.5 s from 1.67 s", verdict.reason


@pytest.mark.parametrize("encoding", ["qp23-ultrafast", "crf23"])
def test_a_repeated_frame_and_a_short_pause_pass(tmp_path: Path, encoding: str) -> None:
    for first, frames in ((40, 2), (40, 10), (30, 20)):  # one repeat, 10 frames, 0.8 s
        clip = encode(tmp_path / f"{first}-{frames}.mp4", held(first, frames), ENCODINGS[encoding])
        verdict = picture.frozen(decode(clip, sound=False).grey, FPS)
        assert verdict.passed, (frames, verdict.reason)


def test_a_static_camera_may_hold_at_its_ends_but_not_stall_between_moves(tmp_path: Path) -> None:
    options = ENCODINGS["qp23-ultrafast"]
    opening = decode(encode(tmp_path / "o.mp4", held(0, 48), options), sound=False).grey
    assert picture.frozen(opening, FPS, still_allowed=True).passed
    bad = picture.frozen(opening, FPS)  # a moving shot that stands still for half of it
    assert not bad.passed and bad.reason == "frozen for 2.0 s from 0.00 s", bad.reason
    eased = decode(encode(tmp_path / "e.mp4", held(0, 20), options), sound=False).grey
    assert picture.frozen(eased, FPS).passed  # a camera easing in: under a quarter of the shot
    middle = decode(encode(tmp_path / "m.mp4", held(30, 36), options), sound=False).grey
    assert not picture.frozen(middle, FPS, still_allowed=True).passed


@pytest.mark.parametrize(("camera", "passes"), [("push-in", False), ("static", True)])
def test_the_hook_asks_a_static_camera_only_for_stillness(tmp_path: Path, camera, passes) -> None:
    """A clip that stalls for its last 1.5 s fails in a moving shot and passes in a static one."""
    clip = syn.write(tmp_path / "c.mp4", held(N - 36, 36), FPS)
    env = EnvironmentBrief(id="lab", description="a lab")
    prompt = ShotPrompt(
        shot_id="s1",
        scene_id="sc",
        index=0,
        action="Ann waits",
        shot_size="medium",
        camera_move=camera,
        environment=env,
    )
    (verdict,) = [v for v in qc_check(prompt, clip, N / FPS, FPS) if v.check == "frozen"]
    assert verdict.passed is passes, verdict.reason
