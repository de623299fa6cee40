"""The follows-the-previz check on a labelled set of pairs (issue 20).

Run: python benchmarks/follows_previz.py [--seconds S] [--limit N]

Previz clips: the animatic's own clips of the three showcase productions (examples/*.yaml at
360p): each production is rendered once with the animatic's `render_clip` wrapped to record
the requests the core makes of it; each request is then rendered again here (without its
first frame, at most ``--seconds`` long). Character masks come from two more renders of the
request with the place swapped for a flat picture of two different colours and the captions
left off (same framing, camera and figures): pixels that do not change with the place are
figures; they are split among the shot's characters left to right by the columns they fill.

"Follows" finals are made from each previz by what a video-edit engine does to its source,
with FFmpeg filters (PyAV's filter graph) and numpy, none of it the check's code: a heavy
regrade, posterize after a blur, film grain, a paper texture, a 4% zoom with a shift, a
brightness change, frames jittered by up to 3 px, and two combinations. "Ignores" finals: the
previz mirrored left-right, time-reversed and frozen on its middle frame (only where the
previz moves), another shot of the same place (the cast in reverse order where it has two or
more), each figure moved by a third of the frame (the hole filled from the blurred
background), and another production's shot (size fitted).

It prints false flags (a following final failed), misses (an ignoring final passed), the
score and the measured parts of each kind, and the check's time per pair.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from ministudio.engines.animatic import render as animatic
from ministudio.jobs import EnvironmentBrief, VideoRequest
from ministudio.media.encode import VideoWriter
from ministudio.qc.checks import follows
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PRODUCTIONS = ("last-algorithm", "quantum-mechanics", "contextbytes")


def showcase_requests(tmp: Path) -> list[VideoRequest]:
    """Every animatic request the showcase productions make, rendered at 360p (their voice
    files stay in ``tmp``'s store)."""
    from ministudio.run.render import render
    from ministudio.run.store import ContentStore
    from ministudio.spec.loading import load_production

    got: list[VideoRequest] = []
    original = animatic.render_clip

    def record(request: VideoRequest, output: Path, progress: object = None) -> Path:
        got.append(request)
        return original(request, output, progress)  # type: ignore[arg-type]

    animatic.render_clip = record  # type: ignore[assignment]
    try:
        for name in PRODUCTIONS:
            p = load_production(ROOT / "examples" / f"{name}.yaml")
            p = p.model_copy(update={"format": p.format.model_copy(update={"resolution": "360p"})})
            render(p, tmp / name, store=ContentStore(tmp / "store"))
    finally:
        animatic.render_clip = original  # type: ignore[assignment]
    return got


def read(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def write(path: Path, frames: np.ndarray, fps: int) -> Path:
    h, w = frames.shape[1:3]
    with VideoWriter(path, w, h, fps) as out:
        for f in frames:
            out.write(np.ascontiguousarray(f))
    return path


def ffmpeg(frames: np.ndarray, chain: str, fps: int) -> np.ndarray:
    """``frames`` through an FFmpeg filter chain ("name=args,name=args")."""
    h, w = frames.shape[1:3]
    graph = av.filter.Graph()
    node = graph.add_buffer(width=w, height=h, format="rgb24", time_base=Fraction(1, fps))
    first = node
    for part in chain.split(","):
        name, _, args = part.partition("=")
        nxt = graph.add(name, args or None)
        node.link_to(nxt)
        node = nxt
    fmt = graph.add("format", "rgb24")
    node.link_to(fmt)
    sink = graph.add("buffersink")
    fmt.link_to(sink)
    graph.configure()
    out = []
    for k, f in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
        frame.pts, frame.time_base = k, Fraction(1, fps)
        first.push(frame)
        out.append(sink.pull().to_ndarray(format="rgb24"))
    return np.stack(out)


def box(img: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)^2 box, per channel (summed-area table)."""
    p = np.pad(img.astype(np.float64), ((r + 1, r), (r + 1, r)) + ((0, 0),) * (img.ndim - 2))
    s = p.cumsum(0).cumsum(1)
    k = 2 * r + 1
    out: np.ndarray = (s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]) / (k * k)
    return out


def texture(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    paper = box(rng.normal(0, 1, (h, w)), 3)
    paper = (paper - paper.mean()) / (paper.std() + 1e-9)
    return np.clip(1 + 0.18 * paper, 0.6, 1.4)[..., None]


def jitter(frames: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = frames.copy()
    for k in range(len(out)):
        dy, dx = rng.integers(-3, 4, size=2)
        out[k] = np.roll(frames[k], (int(dy), int(dx)), axis=(0, 1))
    return out


def zoom_shift(frames: np.ndarray, fps: int) -> np.ndarray:
    h, w = frames.shape[1:3]
    big_w, big_h = round(w * 1.04) // 2 * 2, round(h * 1.04) // 2 * 2
    return ffmpeg(frames, f"scale={big_w}:{big_h},crop={w}:{h}:{big_w - w}:{(big_h - h) // 3}", fps)


def follow_kinds(fps: int, seed: int) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    def texture_over(f: np.ndarray) -> np.ndarray:
        t = texture(f.shape[1], f.shape[2], seed)
        return np.clip(f * t[None], 0, 255).astype(np.uint8)

    regrade = (
        "curves=preset=strong_contrast,hue=h=140:s=2.2,colorbalance=rs=0.3:bs=-0.3,"
        "colortemperature=temperature=3500"
    )
    level = "'floor(val/64)*64+32'"  # four levels per channel
    posterize = f"bilateral=sigmaS=6:sigmaR=0.2,lutrgb=r={level}:g={level}:b={level}"
    return {
        "regrade": lambda f: ffmpeg(f, regrade, fps),
        "stylise (posterize)": lambda f: ffmpeg(f, posterize, fps),
        "grain": lambda f: ffmpeg(f, "noise=alls=45:allf=t+u", fps),
        "texture": texture_over,
        "zoom 4% + shift": lambda f: zoom_shift(f, fps),
        "brighter": lambda f: ffmpeg(f, "lutyuv=y='val*0.75+70'", fps),
        "jitter": lambda f: jitter(f, seed),
        "regrade+grain+zoom": lambda f: zoom_shift(
            ffmpeg(f, regrade + ",noise=alls=30:allf=t+u", fps), fps
        ),
        "stylise+texture+jitter": lambda f: jitter(texture_over(ffmpeg(f, posterize, fps)), seed),
    }


def flat_place(tmp: Path, colour: tuple[int, int, int]) -> Path:
    path = tmp / f"flat-{colour[0]}-{colour[1]}-{colour[2]}.png"
    Image.new("RGB", (64, 36), colour).save(path)
    return path


def figure_masks(request: VideoRequest, tmp: Path) -> dict[str, np.ndarray]:
    """Per character id, (frames, h, w) bool: where that character is."""
    clips = []
    original = animatic._overlays
    animatic._overlays = lambda r: ([], original(r)[1])  # type: ignore[assignment]
    try:
        for colour in ((20, 200, 40), (230, 30, 220)):
            env = request.shot.environment
            place = EnvironmentBrief(
                id=env.id,
                description=env.description,
                lighting=env.lighting,
                reference_images=(flat_place(tmp, colour),),
            )
            shot = request.shot.model_copy(update={"environment": place})
            r = request.model_copy(update={"shot": shot})
            out = tmp / f"mask-{colour[0]}.mp4"
            animatic.render_clip(r, out)
            clips.append(read(out).astype(np.int16))
    finally:
        animatic._overlays = original  # type: ignore[assignment]
    a, b = clips
    # the place changes by about 200 levels per channel between the two: a figure, which
    # stays, changes by a coding error only (a translucent one by less than half)
    union = np.abs(a - b).max(axis=3) < 90
    ids = [c.id for c in request.shot.characters]
    plan = animatic.plan_shot(request)
    visible = [c.brief.id for c in plan.cast]
    masks = {i: np.zeros_like(union) for i in visible}
    if len(visible) == 1:
        masks[visible[0]] = union
        return masks
    for k in range(len(union)):
        cols = union[k].sum(axis=0) > 2
        runs = _runs(cols, close=6)
        if len(runs) == len(visible):  # figures apart: left to right in cast order
            order = [i for i in ids if i in visible]
            for cid, (lo, hi) in zip(order, runs, strict=True):
                masks[cid][k, :, lo:hi] = union[k, :, lo:hi]
    return masks


def _runs(cols: np.ndarray, close: int) -> list[tuple[int, int]]:
    runs: list[list[int]] = []
    for x in np.flatnonzero(cols):
        if runs and x - runs[-1][1] <= close:
            runs[-1][1] = int(x) + 1
        else:
            runs.append([int(x), int(x) + 1])
    return [(lo, hi) for lo, hi in runs if hi - lo >= 6]


def displaced(frames: np.ndarray, union: np.ndarray) -> np.ndarray:
    """Every figure moved by a third of the frame (towards the roomier side); where it stood,
    the background around it, blurred."""
    w = frames.shape[2]
    cx = np.flatnonzero(union.any(axis=(0, 1)))
    centre = (cx.min() + cx.max()) / 2 if cx.size else w / 2
    dx = -(w // 3) if centre > w / 2 else w // 3
    out = frames.copy()
    for k in range(len(frames)):
        m = union[k]
        if not m.any():
            continue
        keep = (~m).astype(np.float64)
        fill = box(frames[k] * keep[..., None], 15) / np.maximum(box(keep, 15), 1e-3)[..., None]
        pic = np.where(m[..., None], fill, frames[k]).astype(np.uint8)
        moved_m = np.roll(m, dx, axis=1)
        moved = np.roll(frames[k], dx, axis=1)
        out[k] = np.where(moved_m[..., None], moved, pic)
    return out


def previz_clip(n: int, request: VideoRequest, tmp: Path, seconds: float) -> Path:
    """Shot ``n``'s previz: the request without its first frame, at most ``seconds`` long."""
    req = request.model_copy(
        update={"first_frame": None, "duration": min(request.duration, seconds)}
    )
    return animatic.render_clip(req, tmp / f"p{n}.mp4")


def pairs_of(
    n: int, request: VideoRequest, other: VideoRequest, tmp: Path, seconds: float
) -> Iterator[tuple[str, str, Path, Path, dict[str, Path]]]:
    """(label, kind, final, previz, masks) for each labelled pair of shot ``n``."""
    req = request.model_copy(
        update={"first_frame": None, "duration": min(request.duration, seconds)}
    )
    path = previz_clip(n, request, tmp, seconds)
    frames = read(path)
    fps = req.fps
    d = tmp / f"{n}"
    d.mkdir()
    masks = figure_masks(req, d)
    mask_paths = {
        cid: write(
            d / f"mask-{cid}.mp4", np.repeat(m[..., None], 3, axis=3).astype(np.uint8) * 255, fps
        )
        for cid, m in masks.items()
        if m.any()
    }
    union = np.any(np.stack(list(masks.values())), axis=0) if masks else None
    for kind, make in follow_kinds(fps, n).items():
        yield "follows", kind, write(d / f"f-{kind}.mp4", make(frames), fps), path, mask_paths
    yield "ignores", "mirrored", write(d / "mirror.mp4", frames[:, :, ::-1], fps), path, mask_paths
    if req.shot.camera_move != "static":
        yield "ignores", "reversed", write(d / "rev.mp4", frames[::-1], fps), path, mask_paths
        held = np.repeat(frames[len(frames) // 2][None], len(frames), axis=0)
        yield "ignores", "frozen", write(d / "frozen.mp4", held, fps), path, mask_paths
    cast = req.shot.characters
    if len(cast) >= 2:
        reblocked = req.shot.model_copy(update={"characters": tuple(reversed(cast))})
        clip = animatic.render_clip(req.model_copy(update={"shot": reblocked}), d / "reblock.mp4")
        yield "ignores", "re-blocked", clip, path, mask_paths
    if union is not None and union.any():
        moved = write(d / "displaced.mp4", displaced(frames, union), fps)
        yield "ignores", "figures moved", moved, path, mask_paths
    # another production's shot, rendered at this one's size and length
    elsewhere = other.model_copy(
        update={
            "first_frame": None,
            "duration": req.duration,
            "width": req.width,
            "height": req.height,
            "fps": req.fps,
        }
    )
    clip = animatic.render_clip(elsewhere, d / "other.mp4")
    yield "ignores", "other shot", clip, path, mask_paths


def measure(job: tuple[int, VideoRequest, VideoRequest, str, float]) -> list[dict[str, object]]:
    """Every labelled pair of one previz shot, measured (in a worker process)."""
    n, request, other, tmp, seconds = job
    rows: list[dict[str, object]] = []
    for label, kind, final, previz, masks in pairs_of(n, request, other, Path(tmp), seconds):
        t = time.perf_counter()
        verdict = follows.follows_previz(final, previz, masks)
        spent = time.perf_counter() - t
        found = follows.compare(final, previz, masks)  # the parts, for the table
        assert not isinstance(found, str), found
        rows.append(
            {
                "shot": request.shot.shot_id,
                "label": label,
                "kind": kind,
                "seconds": spent,
                "found": dataclasses.asdict(found),
                "reason": verdict.reason,
            }
        )
    return rows


def report(rows: list[dict[str, object]]) -> None:
    """The table, the errors and the time, with the module's thresholds."""
    print(
        f"thresholds: layout >= {follows.LAYOUT_MIN}, motion >= {follows.MOTION_MIN}, "
        f"character >= {follows.CHARACTER_MIN}"
    )
    judged = []
    for row in rows:
        found = follows.Comparison(**row["found"])  # type: ignore[arg-type]
        verdict = follows.verdict(found)
        worst = min(found.characters.values(), default=float("nan"))
        judged.append((row["label"], row["kind"], verdict, found, worst, row["shot"]))
    by_kind: dict[tuple[object, object], list[tuple]] = defaultdict(list)
    for j in judged:
        by_kind[(j[0], j[1])].append(j)
    print(
        f"{'label':8} {'kind':26} {'n':>3} {'wrong':>5}  score min/med/max   "
        "layout min/max  motion min/max  char min/max"
    )
    for (label, kind), js in by_kind.items():
        wrong = sum(1 for j in js if j[2].passed != (label == "follows"))
        sc = [j[2].score for j in js]
        lay = [j[3].layout for j in js]
        mot = [j[3].motion for j in js]
        ch = [j[4] for j in js if not np.isnan(j[4])]
        chs = f"{min(ch):.2f}/{max(ch):.2f}" if ch else "-"
        print(
            f"{label:8} {kind:26} {len(js):3d} {wrong:5d}  {min(sc):.2f}/{np.median(sc):.2f}/"
            f"{max(sc):.2f}     {min(lay):.2f}/{max(lay):.2f}      {min(mot):.2f}/{max(mot):.2f}"
            f"      {chs}"
        )
    follow = [j for j in judged if j[0] == "follows"]
    ignore = [j for j in judged if j[0] == "ignores"]
    flags = [j for j in follow if not j[2].passed]
    misses = [j for j in ignore if j[2].passed]
    print(
        f"{len(judged)} pairs ({len(follow)} follow, {len(ignore)} ignore): "
        f"{len(flags)} false flags, {len(misses)} misses"
    )
    for j in flags:
        print(f"  false flag ({j[5]}, {j[1]}): {j[2].reason}")
    for j in misses:
        print(f"  miss ({j[5]}, {j[1]}): {j[2].reason}")
    spent = [float(row["seconds"]) for row in rows]  # type: ignore[arg-type]
    print(
        f"check time per pair (360p, two clips and the masks decoded): median "
        f"{np.median(spent) * 1000:.0f} ms, max {max(spent) * 1000:.0f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0, help="previz clips at most this long")
    ap.add_argument("--limit", type=int, default=0, help="only the first N previz shots")
    ap.add_argument("--jobs", type=int, default=2, help="previz shots measured at once")
    ap.add_argument("--cache", type=Path, help="keep the recorded showcase renders here")
    ap.add_argument("--save", type=Path, help="write the measurements here (JSON)")
    ap.add_argument("--load", type=Path, help="report saved measurements (new thresholds)")
    args = ap.parse_args()
    if args.load is not None:
        report(json.loads(args.load.read_text()))
        return
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        if args.cache is not None and (args.cache / "requests.json").is_file():
            raw = json.loads((args.cache / "requests.json").read_text())
            requests = [VideoRequest.model_validate(r) for r in raw]
        elif args.cache is not None:
            requests = showcase_requests(args.cache)
            dumped = [r.model_dump(mode="json") for r in requests]
            (args.cache / "requests.json").write_text(json.dumps(dumped))
        else:
            requests = showcase_requests(Path(tmp))
        if args.limit:
            requests = requests[: args.limit]
        print(f"{len(requests)} showcase previz shots ({time.perf_counter() - began:.0f} s)")
        half = len(requests) // 2  # the other shot: from another production, mostly
        jobs = [
            (n, r, requests[(n + half) % len(requests)], tmp, args.seconds)
            for n, r in enumerate(requests)
        ]
        with ProcessPoolExecutor(args.jobs) as pool:
            rows = [row for found in pool.map(measure, jobs) for row in found]
    if args.save is not None:
        args.save.write_text(json.dumps(rows))
    report(rows)


if __name__ == "__main__":
    main()
