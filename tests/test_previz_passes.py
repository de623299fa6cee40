"""Control passes from the animatic: decoded with PyAV and checked against the clip they
belong to, as an engine conditioned on them (or a person looking at them) would notice."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from ministudio.engines.animatic.passes import render_passes
from ministudio.engines.animatic.pose import COLOURS, KEYPOINTS
from ministudio.engines.animatic.render import render_clip
from ministudio.jobs import VideoRequest
from PIL import Image

from .test_animatic import GREEN, LAB, RED, grey_room, near, request

ALL = ("clip", "depth", "pose", "mask", "edge", "camera")


def pan_request(tmp: Path) -> VideoRequest:
    """Two characters in a flat grey room, the camera panning right: figures are all we see."""
    return request(move="pan-right", env=grey_room(tmp), width=640, height=360, duration=0.5)


def push_request() -> VideoRequest:
    return request(move="push-in", size="medium", env=LAB, width=640, height=360, duration=0.5)


# render_clip's bytes for these two requests, computed before the passes existed
PAN_SHA256 = "74f617be50eafda209e8ecd51395ea22ad7dbc5a2dcb75d45133361cc51eebf7"
PUSH_SHA256 = "b25570b958dbf84170aa449ef547e2aea7cd985bce6db664121d7935574a5d58"


def decode(path: Path) -> tuple[list[np.ndarray], tuple[int, int], float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        size = (stream.codec_context.width, stream.codec_context.height)
        rate = float(stream.average_rate or 0)
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)], size, rate


class Rendered:
    def __init__(self, req: VideoRequest, out: Path) -> None:
        self.request = req
        self.clip_path = render_clip(req, out / "clip-with-text.mp4")
        self.clip = decode(self.clip_path)[0]
        self.paths = render_passes(req, ALL, out / "passes")
        self._decoded: dict[str, list[np.ndarray]] = {}

    def frames(self, name: str) -> list[np.ndarray]:
        if name not in self._decoded:
            self._decoded[name] = decode(self.paths[name])[0]
        return self._decoded[name]

    def mask(self, name: str) -> list[np.ndarray]:
        if f"{name}?" not in self._decoded:
            self._decoded[f"{name}?"] = [f[..., 0] > 127 for f in self.frames(name)]
        return self._decoded[f"{name}?"]

    def json(self, name: str) -> Any:
        return json.loads(self.paths[name].read_text())


@pytest.fixture(scope="module")
def pan(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    tmp = tmp_path_factory.mktemp("pan")
    return Rendered(pan_request(tmp), tmp)


@pytest.fixture(scope="module")
def push(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return Rendered(push_request(), tmp_path_factory.mktemp("push"))


def test_render_clip_bytes_did_not_change(pan: Rendered, push: Rendered) -> None:
    for shot, want in ((pan, PAN_SHA256), (push, PUSH_SHA256)):
        assert hashlib.sha256(shot.clip_path.read_bytes()).hexdigest() == want


@pytest.mark.parametrize("shot", ["pan", "push"])
def test_every_pass_has_the_clips_frames_size_and_rate(
    shot: str, request: pytest.FixtureRequest
) -> None:
    r: Rendered = request.getfixturevalue(shot)
    frames, size, rate = decode(r.clip_path)
    assert set(r.paths) == {
        "clip", "depth", "pose", "pose.json", "mask.ann", "mask.bo", "edge", "camera",
    }  # fmt: skip
    for name, path in r.paths.items():
        if path.suffix == ".json":
            continue
        assert path.name == f"{name}.mp4"
        got, got_size, got_rate = decode(path)
        assert (len(got), got_size, got_rate) == (len(frames), size, rate), name
    camera = r.json("camera")
    assert (camera["frames"], camera["fps"]) == (len(frames), rate)
    assert (camera["width"], camera["height"]) == size


def test_unknown_pass_names_are_refused_with_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"mask\.ann.*|depth"):
        render_passes(push_request(), ["depth", "normals"], tmp_path)
    assert not list(tmp_path.iterdir())


def test_clean_clip_is_the_clip_without_caption_slate_and_labels(pan: Rendered) -> None:
    clean = pan.frames("clip")
    masks = [a | b for a, b in zip(pan.mask("mask.ann"), pan.mask("mask.bo"), strict=True)]
    h, w = clean[0].shape[:2]
    for i in (0, len(clean) - 1):
        diff = np.abs(pan.clip[i].astype(int) - clean[i].astype(int)).max(axis=-1)
        assert diff[int(h * 0.8) :, w // 4 : 3 * w // 4].mean() > 10  # the caption is gone
        assert diff[: h // 12, : w // 4].mean() > 5  # the slate too
        for m in pan.mask("mask.ann")[i], pan.mask("mask.bo")[i]:  # and each name label
            rows = np.flatnonzero(m.any(axis=1))
            cols = np.flatnonzero(m.any(axis=0))
            above = diff[max(0, rows[0] - h // 10) : rows[0], cols[0] : cols[-1]]
            assert (above > 40).sum() > 20
        # the figures themselves and the picture between the text are the same
        assert diff[masks[i]].mean() < 2
        assert np.median(diff[h // 12 : int(h * 0.6)]) <= 1


def test_masks_cover_each_figure_and_move_with_the_pan(pan: Rendered) -> None:
    clean = pan.frames("clip")
    ann, bo = pan.mask("mask.ann"), pan.mask("mask.bo")
    grey = np.asarray((128, 128, 128))
    for i in (0, len(clean) - 1):
        drawn = np.abs(clean[i].astype(int) - grey).max(axis=-1) > 60  # figures, not shadows
        both = ann[i] | bo[i]
        assert (drawn & both).sum() > 0.95 * drawn.sum()  # every drawn pixel is in a mask
        assert (drawn & both).sum() > 0.85 * both.sum()  # and the masks are not much bigger
        assert not (ann[i] & bo[i]).any()
        red = near_mask(clean[i], RED)
        green = near_mask(clean[i], GREEN)
        assert (red & ann[i]).sum() > 0.95 * red.sum() > 50  # Ann's red sweater is Ann's
        assert (green & bo[i]).sum() > 0.95 * green.sum() > 50  # Bo's green coat is Bo's
    # the camera pans right: Ann (her mask and her sweater alike) slides left in the frame
    shift_mask = centre_x(ann[-1]) - centre_x(ann[0])
    shift_red = centre_x(near_mask(clean[-1], RED)) - centre_x(near_mask(clean[0], RED))
    assert shift_mask < -20
    assert abs(shift_mask - shift_red) < 2


def test_depth_is_near_bright_on_figures_far_dark_behind(pan: Rendered, push: Rendered) -> None:
    for r in (pan, push):
        depth = [f.mean(axis=-1) for f in r.frames("depth")]
        for i in (0, len(depth) - 1):
            both = r.mask("mask.ann")[i] | r.mask("mask.bo")[i]
            figures = depth[i][both].mean()
            wall = depth[i][: depth[i].shape[0] // 3][~both[: depth[i].shape[0] // 3]].mean()
            assert figures > wall + 100
            assert abs(figures - 200) < 6  # the grey is the one written (full range)
            # grey: no colour
            assert np.abs(r.frames("depth")[i].astype(int) - depth[i][..., None]).max() < 4
    # the floor nears toward the bottom of the frame (the medium shot shows none)
    column = pan.frames("depth")[0][:, 5, 0].astype(int)
    floor = column[np.flatnonzero(column > 60)[0] :]
    assert (np.diff(floor) >= -2).all() and floor[-1] > 240 and column[0] < 60
    # the push-in enlarges the figures in depth as in the picture
    d = push.frames("depth")
    assert (d[-1].mean(-1) > 190).sum() > 1.2 * (d[0].mean(-1) > 190).sum()


def test_pose_keypoints_lie_on_their_figures_in_openpose_colours(pan: Rendered) -> None:
    data = pan.json("pose.json")
    assert data["keypoints"] == list(KEYPOINTS) and len(KEYPOINTS) == 18
    pose = pan.frames("pose")
    masks = {"ann": pan.mask("mask.ann"), "bo": pan.mask("mask.bo")}
    frames_data = data["frames_data"]
    for i in (0, len(pose) - 1):
        people = frames_data[i]["people"]
        assert {p["id"] for p in people} == {"ann", "bo"}
        for person in people:
            pts = np.asarray(person["pose_keypoints_2d"]).reshape(18, 3)
            assert (pts[:, 2] == 1).all()
            mask = masks[person["id"]][i]
            inside = [mask[int(y), int(x)] for x, y, _ in pts]
            assert sum(inside) >= 17, person["id"]
            for k in (1, 2, 5, 8, 11):  # neck, shoulders and hips in their own colours
                x, y = int(pts[k, 0]), int(pts[k, 1])
                got = pose[i][y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(axis=0)
                assert np.abs(got - np.asarray(COLOURS[k])).max() < 70, (k, got)
        drawn = pose[i].max(axis=-1) > 60  # the skeletons lie on the figures
        both = masks["ann"][i] | masks["bo"][i]
        assert (drawn & both).sum() > 0.85 * drawn.sum() > 200


def test_edges_outline_the_clean_picture_only(pan: Rendered) -> None:
    edges = [f.mean(axis=-1) > 127 for f in pan.frames("edge")]
    clean = pan.frames("clip")
    masks = pan.mask("mask.ann")
    for i in (0, len(edges) - 1):
        assert edges[i][masks[i]].mean() > 0.05  # the figure has its outline and its parts
        text = np.abs(pan.clip[i].astype(int) - clean[i].astype(int)).max(axis=-1) > 40
        assert text.sum() > 1000
        assert edges[i][text].mean() < 0.01  # none of the caption's, slate's or labels' text
        assert edges[i].mean() < 0.15


def test_camera_json_is_the_move_as_data(pan: Rendered, push: Rendered) -> None:
    for r, move in ((pan, "pan-right"), (push, "push-in")):
        camera = r.json("camera")
        assert camera["move"] == move
        again = render_passes(r.request, ["camera"], r.paths["camera"].parent / "again")
        assert json.loads(again["camera"].read_text()) == camera
    xs = [f["x"] for f in pan.json("camera")["frames_data"]]
    zooms = [f["zoom"] for f in pan.json("camera")["frames_data"]]
    assert xs == sorted(xs) and xs[-1] > xs[0] + 0.1 and xs[0] == 0
    assert set(zooms) == {1.0}
    frames = push.json("camera")["frames_data"]
    zooms = [f["zoom"] for f in frames]
    assert zooms == sorted(zooms) and zooms[-1] == 1.0 and zooms[-1] / zooms[0] > 1.15
    assert [f["frame"] for f in frames] == list(range(len(frames)))


def near_mask(image: np.ndarray, colour: tuple[int, int, int], tol: float = 40) -> np.ndarray:
    d = np.linalg.norm(image.astype(np.float32) - np.asarray(colour, np.float32), axis=-1)
    return np.asarray(d < tol)


def centre_x(mask: np.ndarray) -> float:
    return float(np.flatnonzero(mask.any(axis=0)).mean()) if mask.any() else -1.0


def test_a_close_up_with_a_first_frame_passes_its_own_picture_only(tmp_path: Path) -> None:
    """No dissolve from the shot before in the clean clip; the one character the close-up
    leaves out is asked for by name and gets an all-black mask; ``mask`` means the others."""
    magenta = (230, 30, 220)
    png = tmp_path / "last.png"
    Image.new("RGB", (320, 180), magenta).save(png)
    req = request(size="close-up", width=320, height=180, duration=0.5, first_frame=png)
    out = render_passes(req, ["clip", "mask", "mask.bo"], tmp_path / "p")
    assert sorted(out) == ["clip", "mask.ann", "mask.bo"]
    clip, with_text = decode(out["clip"])[0], decode(render_clip(req, tmp_path / "c.mp4"))[0]
    assert near(with_text[0], magenta) > 0.5 * 320 * 180
    assert near(clip[0], magenta) == 0
    assert max(f.max() for f in decode(out["mask.bo"])[0]) < 20
    assert np.mean(decode(out["mask.ann"])[0][0] > 127) > 0.3
