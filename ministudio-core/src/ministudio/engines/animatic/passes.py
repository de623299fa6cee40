"""Control passes from the animatic: for a clip it renders, frame-exact pictures a video-edit
engine can be conditioned on.

Each pass is drawn once at the size of the shot's layer and moved by the very camera path of
``render_clip`` (the same plan, layer and crops), so frame ``i`` of every pass lines up with
frame ``i`` of the clip. Every MP4 has the clip's size, rate and frame count, encoded as the
clip is (H.264, yuv420p); the grey passes are limited-range luma (16..235, so a decoder shows
0..255) with neutral chroma.

- ``clip``: the clip without its text (no caption, slate or name labels) and without the
  dissolve from ``request.first_frame``: the picture an engine may be shown as a source.
- ``depth``: grey, near bright and far dark (the MiDaS / Depth Anything convention): the
  wall or a reference picture 40, the sky 8, the floor brightening linearly below the
  horizon (160 where the cast stands, up to 255), every figure (orbs, holograms too) 200.
- ``pose``: each drawn figure's OpenPose COCO-18 skeleton on black, in OpenPose's colours
  (limbs at 60 %, joints full); orbs and reference-picture characters have none. A limb to a
  joint out of frame runs to the frame's edge. ``pose.json`` beside it has the keypoints per
  frame in frame pixels (x, y, 1; or 0, 0, 0 out of frame).
- ``mask.<character id>``: white (255) where that character is drawn (outline included),
  black (0) elsewhere; ``mask`` asks for one per character in frame.
- ``edge``: white Sobel edges of the clean picture (mouths moving) on black.
- ``camera``: ``camera.json``, the crop of the layer per frame (see ``camera_data``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ministudio.engines.animatic import control, pose
from ministudio.engines.animatic.planes import Patch, Planes, crop, encode_frames, rgb_to_yuv420
from ministudio.engines.animatic.render import Shot, prepare
from ministudio.jobs import VideoRequest

PASSES = ("clip", "depth", "pose", "mask", "edge", "camera")


def pass_names(request: VideoRequest, names: Collection[str], in_frame: list[str]) -> list[str]:
    """``names`` checked and expanded (``mask`` to one mask per character in frame)."""
    ids = [c.id for c in request.shot.characters]
    valid = [*PASSES, *(f"mask.{i}" for i in ids)]
    unknown = sorted(set(names) - set(valid))
    if unknown:
        raise ValueError(f"unknown control pass(es) {unknown}: valid are {', '.join(valid)}")
    out: list[str] = []
    for name in sorted(names, key=valid.index):
        for n in [f"mask.{i}" for i in in_frame] if name == "mask" else [name]:
            if n not in out:
                out.append(n)
    return out


def render_passes(request: VideoRequest, names: Collection[str], out_dir: Path) -> dict[str, Path]:
    """Write the control passes ``names`` of ``request``'s clip into ``out_dir``.

    Returns each pass's name and file (``<name>.mp4``, ``camera.json``; asking for ``pose``
    also writes ``pose.json``, returned under that name). A ``mask.<id>`` of a character of
    the shot the framing leaves out (a close-up on another) is black throughout.
    Raises ValueError on an unknown name, listing the valid ones.
    """
    shot = prepare(request, clean=True)
    plan, view = shot.plan, shot.view
    wanted = pass_names(request, names, [m.brief.id for m in plan.cast])
    out_dir.mkdir(parents=True, exist_ok=True)
    masks: dict[str, np.ndarray] = {}

    def mask(cid: str) -> np.ndarray:
        if cid not in masks:
            member = next((m for m in plan.cast if m.brief.id == cid), None)
            masks[cid] = (
                control.figure_mask(member, view)
                if member is not None
                else np.zeros((view.h, view.w), bool)
            )
        return masks[cid]

    # every layer is made before any encoding: encoding pastes patches into its layer
    layers: dict[str, tuple[Planes, list[Patch]]] = {}
    for name in wanted:
        if name == "edge":
            y = shot.layer[0]
            layers[name] = (
                control.luma(control.sobel_edges(y)),
                control.edge_patches(y, shot.patches),
            )
        elif name == "depth":
            all_masks = [mask(m.brief.id) for m in plan.cast]
            layers[name] = (control.luma(control.depth_layer(request, view, all_masks)), [])
        elif name == "pose":
            stick = pose.stick_width(plan.width, plan.height)
            layers[name] = (rgb_to_yuv420(pose.draw_skeletons(plan.cast, view, stick)), [])
        elif name.startswith("mask."):
            grey = np.where(mask(name.removeprefix("mask.")), 255, 0).astype(np.uint8)
            layers[name] = (control.luma(grey), [])
    if "clip" in wanted:
        layers["clip"] = (shot.layer, shot.patches)
    written: dict[str, Path] = {}
    jobs: list[Callable[[], None]] = []
    for name, (planes, patches) in layers.items():
        path = out_dir / f"{name}.mp4"
        written[name] = path
        jobs.append(_encoder(shot, planes, patches, path))
    with ThreadPoolExecutor(2, thread_name_prefix="animatic-passes") as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()
    if "pose" in wanted:
        written["pose.json"] = _write_json(out_dir / "pose.json", _pose_data(shot), compact=True)
    if "camera" in wanted:
        written["camera"] = _write_json(out_dir / "camera.json", camera_data(shot))
    return {n: written[n] for n in [*wanted, "pose.json"] if n in written}


def _encoder(shot: Shot, planes: Planes, patches: list[Patch], path: Path) -> Callable[[], None]:
    def run() -> None:
        encode_frames(shot.plan, planes, patches, [], None, shot.path, path, None)

    return run


def _write_json(path: Path, data: dict[str, object], compact: bool = False) -> Path:
    text = json.dumps(data, separators=(",", ":")) if compact else json.dumps(data, indent=1)
    path.write_text(text + "\n")
    return path


def _crops(shot: Shot) -> list[tuple[float, float, float]]:
    size, frame = (shot.view.w, shot.view.h), (shot.plan.width, shot.plan.height)
    return [crop(at, size, frame) for at in shot.path]


def camera_data(shot: Shot) -> dict[str, object]:
    """The camera as data: per frame the crop's left, top, width and height over the layer's
    (0..1) and its zoom (frame width over crop width; 1 unless pushing in or pulling back)."""
    plan, view = shot.plan, shot.view
    per_frame = []
    for i, (x, y, cw) in enumerate(_crops(shot)):
        ch = cw * plan.height / plan.width
        per_frame.append(
            {
                "frame": i,
                "x": round(x / view.w, 6),
                "y": round(y / view.h, 6),
                "w": round(cw / view.w, 6),
                "h": round(ch / view.h, 6),
                "zoom": round(plan.width / cw, 6),
            }
        )
    return {
        "fps": plan.fps,
        "frames": plan.frames,
        "width": plan.width,
        "height": plan.height,
        "move": plan.move,
        "layer": {"width": view.w, "height": view.h},
        "frames_data": per_frame,
    }


def _pose_data(shot: Shot) -> dict[str, object]:
    """Each frame's skeletons in frame pixels, OpenPose style: x, y, confidence per keypoint
    (0, 0, 0 for a keypoint outside the frame)."""
    plan, view = shot.plan, shot.view
    bodies = [
        (m.brief.id, [(view.px(x), view.py(y)) for x, y in pose.skeleton(m)])
        for m in plan.cast
        if pose.has_skeleton(m)
    ]
    per_frame = []
    for i, (x, y, cw) in enumerate(_crops(shot)):
        k = cw / plan.width
        people = []
        for cid, pts in bodies:
            flat: list[float] = []
            for px, py in pts:
                u, v = (px - x) / k, (py - y) / k
                inside = 0 <= u < plan.width and 0 <= v < plan.height
                flat += [round(u, 2), round(v, 2), 1.0] if inside else [0.0, 0.0, 0.0]
            people.append({"id": cid, "pose_keypoints_2d": flat})
        per_frame.append({"frame": i, "people": people})
    return {
        "width": plan.width,
        "height": plan.height,
        "fps": plan.fps,
        "frames": plan.frames,
        "keypoints": list(pose.KEYPOINTS),
        "limbs": [list(limb) for limb in pose.LIMBS],
        "frames_data": per_frame,
    }
