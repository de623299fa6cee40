"""The quality checks on damaged copies of the showcase films, content they were not tuned on
(issue 15, item 6).

Target: every defect caught on every film, on the right shot; no flag on a clean film or a
near-miss; `qc` under 2 s per minute of film on 2 cores, in both orientations.
Run: python benchmarks/qc_films.py [--work DIR] [--kinds freeze,drops,...] [--films a,b]
     [--repeat N: each copy's qc timed N times, the median counted; default 3]

1. Renders the three showcase films keyless (`ministudio render`, cached in --work).
2. Makes copies of each film with one defect each, placed in a shot chosen from the
   manifest, written with PyAV: the picture re-encoded (libx264, CRF 16) when the defect is
   in the picture, else its packets copied; the sound re-encoded (AAC) when the defect is in
   the sound, else its packets copied; the subtitles copied.
3. Verifies each defect by its own measurement on the decoded copy against the original
   (frame timestamps, identical frames, cross-correlation, hue, full-scale samples, a
   BS.1770 loudness in numpy), never with MiniStudio's checks. A copy whose defect does not
   measure as made is reported and not scored.
4. Runs the checks of `ministudio qc DIR` (`ministudio.qc.film.check_film`, in this process,
   one film at a time, timed: the median of --repeat runs) on each copy, in a folder of its
   own with the manifest, and
   scores each defect against the clean film's own verdicts: caught on the right shot,
   caught only film-wide with no shot or time inside the shot (unplaced), caught on another
   shot (wrong shot), or missed; for clean films and near-misses, any new failing verdict is
   a false flag.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FILMS = {"quantum-mechanics": "9:16", "last-algorithm": "16:9", "contextbytes": "16:9"}
TARGET = 2.0  # seconds of qc per minute of film
RATE = 48000
THUMB = 8  # verification looks at frames scaled down by this factor
STILL = 0.05  # mean absolute thumbnail difference (0-255) under which two frames are the same
CRF = "16"
VERSION = 5  # bump when a defect's recipe changes: cached copies are made again


# -- the films -------------------------------------------------------------------------------


@dataclasses.dataclass
class Shot:
    id: str
    scene: str
    lighting: str
    camera: str
    first: int  # index of its first frame in the film
    frames: int
    start: float
    end: float
    lines: list[tuple[float, float]]
    in_frame: float  # seconds of its lines spoken by someone in frame


@dataclasses.dataclass
class Film:
    """A rendered showcase film: its manifest and what verification compares copies with."""

    name: str
    folder: Path
    fps: int
    shots: list[Shot]
    pts: np.ndarray  # each decoded frame's presentation time stamp, in the stream's ticks
    tick: int  # ticks per frame
    thumbs: np.ndarray  # (frames, h/8, w/8, 3) uint8 RGB
    audio: np.ndarray  # mono float32 at RATE

    @property
    def minutes(self) -> float:
        return len(self.pts) / self.fps / 60

    def shot(self, shot_id: str) -> Shot:
        return next(s for s in self.shots if s.id == shot_id)


def render(name: str, work: Path) -> Path:
    """The film rendered keyless into work/films/name (once: a later run reuses it)."""
    out = work / "films" / name
    if not (out / "film.mp4").exists():
        cmd = [sys.executable, "-m", "ministudio", "render", f"examples/{name}.yaml"]
        cmd += ["-o", str(out), "--store", str(work / "store"), "-q"]
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return out


@cache
def film(name: str, work: Path) -> Film:
    folder = work / "films" / name
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    fps = manifest["fps"]
    shots = []
    for s in manifest["shots"]:
        first = round(s["start"] * fps)
        lines = [(line["start"], line["end"]) for line in s.get("lines", [])]
        cast = s.get("cast", [])
        in_frame = sum(x["end"] - x["start"] for x in s.get("lines", []) if x["speaker"] in cast)
        shots.append(
            Shot(s["id"], s["scene"], s.get("lighting", ""), s.get("camera", ""), first,
                 s["frames"], s["start"], s["start"] + s["frames"] / fps, lines, in_frame)
        )  # fmt: skip
    cache = folder / "analysis.npz"
    if not cache.exists() or cache.stat().st_mtime < (folder / "film.mp4").stat().st_mtime:
        pts, thumbs = decode_picture(folder / "film.mp4")
        partial = folder / "analysis.partial.npz"
        np.savez(partial, pts=pts, thumbs=thumbs, audio=decode_sound(folder / "film.mp4"))
        partial.replace(cache)
    data = np.load(cache)
    tick = int(np.median(np.diff(data["pts"])))
    return Film(name, folder, fps, shots, data["pts"], tick, data["thumbs"], data["audio"])


# -- decoding and writing --------------------------------------------------------------------


def decode_picture(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's timestamp and a small RGB thumbnail of it."""
    with av.open(str(path)) as src:
        stream = src.streams.video[0]
        stream.thread_type = "AUTO"
        pts, thumbs = [], []
        for f in src.decode(stream):
            pts.append(f.pts)
            small = f.reformat(width=f.width // THUMB, height=f.height // THUMB, format="rgb24")
            thumbs.append(small.to_ndarray())
    return np.array(pts, np.int64), np.array(thumbs)


def decode_sound(path: Path) -> np.ndarray:
    with av.open(str(path)) as src:
        parts = [f.to_ndarray().reshape(-1) for f in src.decode(src.streams.audio[0])]
    return np.concatenate(parts).astype(np.float32)


Frames = Iterator[tuple[int, av.VideoFrame]]  # (pts, frame) in presentation order


def rewrite(
    src_path: Path,
    dst_path: Path,
    picture: Callable[[Frames], Frames] | None = None,
    sound: Callable[[np.ndarray], np.ndarray] | None = None,
) -> None:
    """A copy of the film with its frames passed through ``picture`` (re-encoded) and its mono
    sound through ``sound`` (re-encoded); what neither touches is copied packet for packet."""
    dst_path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(src_path)) as src, av.open(str(dst_path), "w") as dst:
        v_in, a_in, s_in = src.streams.video[0], src.streams.audio[0], src.streams.subtitles
        if picture is None:
            v_out = dst.add_stream_from_template(v_in)
        else:
            v_out = dst.add_stream("libx264", rate=v_in.average_rate)
            v_out.width, v_out.height = v_in.codec_context.width, v_in.codec_context.height
            v_out.pix_fmt = "yuv420p"
            v_out.time_base = v_out.codec_context.time_base = v_in.time_base
            v_out.options = {"crf": CRF, "preset": "veryfast"}
        if sound is None:
            a_out = dst.add_stream_from_template(a_in)
        else:
            a_out = dst.add_stream("aac", rate=RATE, layout="mono")
            a_out.bit_rate = 128000
        subs = {s.index: dst.add_stream_from_template(s) for s in s_in}
        copied = {v_in.index: v_out} if picture is None else {}
        if sound is None:
            copied[a_in.index] = a_out
        copied.update(subs)
        for packet in src.demux(*[src.streams[i] for i in copied]):
            if packet.dts is None:
                continue
            packet.stream = copied[packet.stream.index]
            dst.mux(packet)
        if picture is not None:
            with av.open(str(src_path)) as again:
                stream = again.streams.video[0]
                stream.thread_type = "AUTO"
                frames = ((f.pts, f) for f in again.decode(stream))
                for pts, frame in picture(frames):
                    frame.pts, frame.time_base = pts, v_in.time_base
                    dst.mux(v_out.encode(frame))
                dst.mux(v_out.encode())
        if sound is not None:
            samples = np.clip(sound(decode_sound(src_path)), -1.0, 1.0).astype(np.float32)
            size = 1024
            for at in range(0, len(samples), size):
                chunk = samples[at : at + size].reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                frame.sample_rate, frame.pts = RATE, at
                dst.mux(a_out.encode(frame))
            dst.mux(a_out.encode())


def same_frame(frame: av.VideoFrame) -> av.VideoFrame:
    """A new frame with the same pixels (the picture held, exactly)."""
    return av.VideoFrame.from_ndarray(frame.to_ndarray(format="yuv420p"), format="yuv420p")


def brighter(frame: av.VideoFrame, gain: float) -> av.VideoFrame:
    """The frame with its luma above black (16) times ``gain``; chroma kept."""
    planes = frame.to_ndarray(format="yuv420p")
    y = planes[: frame.height].astype(np.float32)
    planes[: frame.height] = np.clip(16 + (y - 16) * gain + 0.5, 0, 255).astype(np.uint8)
    return av.VideoFrame.from_ndarray(planes, format="yuv420p")


def recoloured(frame: av.VideoFrame, change: Callable[[np.ndarray], np.ndarray]) -> av.VideoFrame:
    rgb = frame.to_ndarray(format="rgb24").astype(np.float32)
    out = np.clip(change(rgb), 0, 255).astype(np.uint8)
    return av.VideoFrame.from_ndarray(out, format="rgb24").reformat(format="yuv420p")


# -- measures (independent of MiniStudio's checks) ------------------------------------------


def still_runs(thumbs: np.ndarray) -> np.ndarray:
    """For each frame, whether it is the same picture as the one before (first: False)."""
    diff = np.abs(np.diff(thumbs.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    return np.concatenate([[False], diff < STILL])


def longest_hold(same: np.ndarray) -> int:
    """The most frames in a row showing one picture."""
    best = run = 0
    for s in same:
        run = run + 1 if s else 0
        best = max(best, run)
    return best + 1


def lag_ms(copy: np.ndarray, original: np.ndarray, most: float = 0.5) -> float:
    """How late the copy's sound is against the original's (ms; cross-correlation by FFT,
    sub-sample by a parabola through the peak)."""
    n = min(len(copy), len(original))
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(copy[:n], size) * np.conj(np.fft.rfft(original[:n], size))
    corr = np.fft.irfft(spec, size)
    reach = int(most * RATE)
    window = np.concatenate([corr[-reach:], corr[: reach + 1]])
    k = int(np.argmax(window))
    if 0 < k < len(window) - 1:
        y0, y1, y2 = window[k - 1 : k + 2]
        k += 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
    return (k - reach) / RATE * 1000


def k_weighted_power(x: np.ndarray, rate: int = RATE) -> np.ndarray:
    """The signal's K-weighting (ITU-R BS.1770's shelf and high-pass, designed as pyloudnorm
    does), applied by its magnitude in the frequency domain: the squared signal per sample."""
    import math

    def biquad(kind: str, gain_db: float, q: float, fc: float):
        a = 10 ** (gain_db / 40)
        w = 2 * math.pi * fc / rate
        alpha = math.sin(w) / (2 * q)
        c = math.cos(w)
        if kind == "shelf":
            b = [a * ((a + 1) + (a - 1) * c + 2 * math.sqrt(a) * alpha),
                 -2 * a * ((a - 1) + (a + 1) * c),
                 a * ((a + 1) + (a - 1) * c - 2 * math.sqrt(a) * alpha)]  # fmt: skip
            d = [(a + 1) - (a - 1) * c + 2 * math.sqrt(a) * alpha,
                 2 * ((a - 1) - (a + 1) * c),
                 (a + 1) - (a - 1) * c - 2 * math.sqrt(a) * alpha]  # fmt: skip
        else:  # high-pass
            b = [(1 + c) / 2, -(1 + c), (1 + c) / 2]
            d = [1 + alpha, -2 * c, 1 - alpha]
        return np.array(b), np.array(d)

    spec = np.fft.rfft(x.astype(np.float64))
    z = np.exp(-1j * np.linspace(0, np.pi, len(spec)))
    for b, d in (biquad("shelf", 4.0, 1 / np.sqrt(2), 1500.0), biquad("hp", 0.0, 0.5, 38.0)):
        spec *= np.abs(np.polyval(b[::-1], z) / np.polyval(d[::-1], z))
    return np.fft.irfft(spec, len(x)) ** 2


def lufs(x: np.ndarray, rate: int = RATE) -> float:
    """Integrated loudness (ITU-R BS.1770-4, mono): 400 ms blocks, 75% overlap, gated."""
    power = k_weighted_power(x, rate)
    block, step = int(0.4 * rate), int(0.1 * rate)
    sums = np.concatenate([[0.0], np.cumsum(power)])
    starts = np.arange(0, len(power) - block + 1, step)
    z = (sums[starts + block] - sums[starts]) / block
    loud = -0.691 + 10 * np.log10(np.maximum(z, 1e-12))
    z = z[loud > -70]
    relative = -0.691 + 10 * np.log10(z.mean()) - 10
    z = z[-0.691 + 10 * np.log10(z) > relative]
    return float(-0.691 + 10 * np.log10(z.mean()))


def hue_shift(copy: np.ndarray, original: np.ndarray) -> tuple[float, float]:
    """The mean hue rotation (degrees, YIQ chroma angle, over coloured pixels) and the mean
    chroma distance (0-255 scale) between the copy's frames and the original's."""
    m = np.array([[0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
    a = copy.reshape(-1, 3).astype(np.float32) @ m.T
    b = original.reshape(-1, 3).astype(np.float32) @ m.T
    coloured = np.hypot(*b.T) > 8
    angle = np.angle((a[:, 0] + 1j * a[:, 1]) * np.conj(b[:, 0] + 1j * b[:, 1]))[coloured]
    return float(np.degrees(np.angle(np.exp(1j * angle).mean()))), float(
        np.hypot(*(a - b).T).mean()
    )


# -- choosing where the defects go -----------------------------------------------------------


def moving_shot(f: Film) -> Shot:
    """The shot with a camera move whose longest held picture is shortest (a freeze in it
    shows); shots under 4 s are left out."""
    same = still_runs(f.thumbs)
    moving = [s for s in f.shots if s.camera not in ("static", "") and s.frames >= 4 * f.fps]
    moving = moving or [s for s in f.shots if s.frames >= 4 * f.fps]
    return min(moving, key=lambda s: longest_hold(same[s.first + 1 : s.first + s.frames]))


def place_shot(f: Film) -> Shot:
    """A shot of the largest place seen in one light (scene and lighting) more than once: the
    first whose shot before belongs elsewhere (a place lit day, night, day), else the middle."""
    groups: dict[tuple[str, str], list[Shot]] = {}
    for s in f.shots:
        groups.setdefault((s.scene, s.lighting), []).append(s)
    group = max(groups.values(), key=len)
    for s in group[1:]:
        if f.shots[f.shots.index(s) - 1] not in group:
            return s
    return group[len(group) // 2]


def speaking_shot(f: Film) -> Shot:
    """The shot with the longest line."""
    return max(f.shots, key=lambda s: max((e - b for b, e in s.lines), default=0))


# -- the defects: each makes its copy, then measures it --------------------------------------


@dataclasses.dataclass
class Case:
    film: str
    kind: str
    shot: str | None  # where the defect is (None: the whole film, or no defect)
    must_fail: bool
    folder: Path
    made: str = ""  # what was done, in words
    verified: bool = False
    measured: str = ""  # what verification measured
    outcome: str = ""  # caught, unplaced, wrong shot, missed; passed or false flag
    blamed: list[str] = dataclasses.field(default_factory=list)  # new failing verdicts
    elsewhere: list[str] = dataclasses.field(default_factory=list)  # other shots blamed too
    qc_seconds: float = 0.0


def defect_freeze(f: Film, case: Case) -> None:
    """1.5 s held inside a moving shot: 36 frames show the first one's picture."""
    shot = moving_shot(f)
    n = round(1.5 * f.fps)
    first = shot.first + 2 * f.fps
    case.shot, case.made = shot.id, f"frames {first}-{first + n - 1} hold frame {first}"

    def picture(frames: Frames) -> Frames:
        held = None
        for i, (pts, frame) in enumerate(frames):
            if i == first:
                held = frame
            elif first < i < first + n:
                frame = same_frame(held)
            yield pts, frame

    rewrite(f.folder / "film.mp4", case.folder / "film.mp4", picture=picture)
    pts, thumbs = decode_picture(case.folder / "film.mp4")
    span = slice(shot.first + 1, shot.first + shot.frames)
    copy_hold = longest_hold(still_runs(thumbs)[span])
    orig_hold = longest_hold(still_runs(f.thumbs)[span])
    case.measured = f"longest held picture in the shot {copy_hold} frames (original {orig_hold})"
    case.verified = copy_hold >= n and orig_hold < n / 2 and len(pts) == len(f.pts)


def defect_drops(f: Film, case: Case) -> None:
    """3 frames dropped inside a moving shot: their timestamps are missing."""
    shot = moving_shot(f)
    first = shot.first + 3 * f.fps + 5
    case.shot, case.made = shot.id, f"frames {first}-{first + 2} removed, timestamps kept"

    def picture(frames: Frames) -> Frames:
        for i, (pts, frame) in enumerate(frames):
            if not first <= i < first + 3:
                yield pts, frame

    rewrite(f.folder / "film.mp4", case.folder / "film.mp4", picture=picture)
    pts, _ = decode_picture(case.folder / "film.mp4")
    gaps = np.diff(pts) // f.tick - 1
    at = np.flatnonzero(gaps)
    where = [f"{gaps[i]} after frame {i} ({pts[i] / f.tick / f.fps:.2f} s)" for i in at]
    case.measured = f"{len(pts)} frames (original {len(f.pts)}); missing: {', '.join(where)}"
    case.verified = len(pts) == len(f.pts) - 3 and list(at) == [first - 1] and gaps[at[0]] == 3


def defect_short(f: Film, case: Case) -> None:
    """A shot 12 frames short: its last 12 frames (and 0.5 s of sound) cut, the rest of the
    film pulled earlier."""
    shot = moving_shot(f)
    cut = 12
    end = shot.first + shot.frames
    case.shot, case.made = (
        shot.id,
        f"frames {end - cut}-{end - 1} cut, later frames and sound earlier",
    )

    def picture(frames: Frames) -> Frames:
        for i, (pts, frame) in enumerate(frames):
            if i >= end:
                yield pts - cut * f.tick, frame
            elif i < end - cut:
                yield pts, frame

    a, b = round((end - cut) / f.fps * RATE), round(end / f.fps * RATE)
    rewrite(
        f.folder / "film.mp4",
        case.folder / "film.mp4",
        picture=picture,
        sound=lambda x: np.concatenate([x[:a], x[b:]]),
    )
    pts, thumbs = decode_picture(case.folder / "film.mp4")
    steady = bool(np.all(np.diff(pts) == f.tick))
    # the next shot's first picture now comes 12 frames earlier
    moved = (
        np.abs(thumbs[end - cut].astype(np.int16) - f.thumbs[end]).mean()
        if end < len(f.pts)
        else 0.0
    )
    case.measured = (
        f"{len(pts)} frames (original {len(f.pts)}), timestamps even: {steady}; "
        f"frame {end - cut} against the original's {end}: {moved:.2f} mean difference"
    )
    case.verified = len(pts) == len(f.pts) - cut and steady and moved < 2.0


def defect_clipping(f: Film, case: Case) -> None:
    """The loudest 0.3 s of the longest line boosted until it clips (by the gain that takes
    the stretch's median sample to full scale), in that line's shot."""
    shot = speaking_shot(f)
    b, e = max(shot.lines, key=lambda line: line[1] - line[0])
    n = round(0.3 * RATE)
    energy = np.concatenate([[0.0], np.cumsum(f.audio[round(b * RATE) : round(e * RATE)] ** 2)])
    a = round(b * RATE) + int(np.argmax(energy[n:] - energy[:-n]))
    z, at = a + n, a / RATE
    case.shot, case.made = shot.id, f"{at:.2f}-{at + 0.3:.2f} s boosted to clip"

    def sound(x: np.ndarray) -> np.ndarray:
        x = x.copy()
        x[a:z] *= 1 / max(float(np.median(np.abs(x[a:z]))), 1e-4)
        return np.clip(x, -1, 1)

    rewrite(f.folder / "film.mp4", case.folder / "film.mp4", sound=sound)
    copy = decode_sound(case.folder / "film.mp4")
    full = lambda x: int((np.abs(x) >= 0.95).sum())  # noqa: E731  (AAC ripples a flat top)
    lo, hi = round((at - 0.05) * RATE), round((at + 0.35) * RATE)
    inside, outside, orig = full(copy[lo:hi]), full(copy) - full(copy[lo:hi]), full(f.audio)
    case.measured = (
        f"{inside} samples at full scale (|x| >= 0.95) in {at:.2f}-{at + 0.3:.2f} s "
        f"({inside / (z - a):.0%}), {outside} elsewhere (original {orig})"
    )
    case.verified = inside >= 0.05 * (z - a) and outside <= orig


def late_sound(ms: float) -> Callable[[Film, Case], None]:
    """The whole film's sound ``ms`` late against its picture (silence before it, its end cut;
    negative: early, its start cut and silence after it)."""

    def defect(f: Film, case: Case) -> None:
        n = round(abs(ms) / 1000 * RATE)
        case.made = f"sound {'delayed' if ms > 0 else 'advanced'} {abs(ms):g} ms ({n} samples)"

        def shifted(x: np.ndarray) -> np.ndarray:
            silence = np.zeros(n, x.dtype)
            return np.concatenate([silence, x[: len(x) - n]] if ms > 0 else [x[n:], silence])

        rewrite(f.folder / "film.mp4", case.folder / "film.mp4", sound=shifted)
        lag = lag_ms(decode_sound(case.folder / "film.mp4"), f.audio)
        case.measured = f"sound {lag:.1f} ms late against the original (cross-correlation)"
        case.verified = abs(lag - ms) <= 1.0
        seen = max(s.in_frame for s in f.shots)
        if seen < 1.0:  # sync is sound against a speaking face: with none, nothing to see
            case.measured += (
                f"; no shot has a second of speech by someone in frame (at most {seen:.1f} s):"
                " not a sync defect anyone can see, not scored"
            )
            case.verified = False

    defect.__doc__ = f"The whole film's sound {abs(ms):g} ms {'late' if ms > 0 else 'early'}."
    return defect


def defect_recolour(f: Film, case: Case) -> None:
    """A shot of a place seen in the same light more than once, its hue turned 45 degrees
    (luma kept: a YIQ rotation)."""
    shot = place_shot(f)
    case.shot, case.made = shot.id, "hue rotated 45 degrees (YIQ)"
    turn = _hue_matrix(45.0)
    last = shot.first + shot.frames

    def picture(frames: Frames) -> Frames:
        for i, (pts, frame) in enumerate(frames):
            if shot.first <= i < last:
                frame = recoloured(frame, lambda rgb: rgb @ turn.T)
            yield pts, frame

    rewrite(f.folder / "film.mp4", case.folder / "film.mp4", picture=picture)
    _, thumbs = decode_picture(case.folder / "film.mp4")
    angle, chroma = hue_shift(thumbs[shot.first : last], f.thumbs[shot.first : last])
    rest, rest_chroma = hue_shift(
        np.delete(thumbs, np.s_[shot.first : last], 0),
        np.delete(f.thumbs, np.s_[shot.first : last], 0),
    )
    case.measured = (
        f"shot's hue turned {angle:.1f} degrees (mean chroma change {chroma:.1f}/255); "
        f"the rest {rest:.1f} degrees ({rest_chroma:.1f})"
    )
    case.verified = abs(angle - 45) < 8 and abs(rest) < 1 and rest_chroma < 2


def _hue_matrix(degrees: float) -> np.ndarray:
    """RGB to RGB: the chroma of YIQ turned by ``degrees``, Y kept."""
    to_yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    turn = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    return (np.linalg.inv(to_yiq) @ turn @ to_yiq).astype(np.float32)


def defect_grade(f: Film, case: Case) -> None:
    """Near-miss: a 5% grade on the shot the recolour goes in: luma above black times 1.05,
    in the decoded YUV planes (an RGB round trip through swscale would lose part of it)."""
    shot = place_shot(f)
    case.shot, case.made = shot.id, "luma above black x1.05"
    last = shot.first + shot.frames

    def picture(frames: Frames) -> Frames:
        for i, (pts, frame) in enumerate(frames):
            if shot.first <= i < last:
                frame = brighter(frame, 1.05)
            yield pts, frame

    rewrite(f.folder / "film.mp4", case.folder / "film.mp4", picture=picture)
    _, thumbs = decode_picture(case.folder / "film.mp4")
    inside = _gain(thumbs[shot.first : last], f.thumbs[shot.first : last])
    outside = _gain(
        np.delete(thumbs, np.s_[shot.first : last], 0),
        np.delete(f.thumbs, np.s_[shot.first : last], 0),
    )
    case.measured = f"shot's luma x{inside:.3f} (mid-tones), the rest x{outside:.3f}"
    case.verified = 1.04 <= inside <= 1.06 and abs(outside - 1) < 0.005


def _gain(copy: np.ndarray, original: np.ndarray) -> float:
    """The copy's luma against the original's, over the original's mid-tones (luma 16-230,
    which a 5% gain cannot push into clipping)."""
    weights = np.array([0.299, 0.587, 0.114])
    y_copy, y_orig = copy.astype(np.float64) @ weights, original.astype(np.float64) @ weights
    mid = (y_orig >= 16) & (y_orig <= 230)
    return float(y_copy[mid].mean() / y_orig[mid].mean())


def defect_held(f: Film, case: Case) -> None:
    """Near-miss: one frame of a moving shot shows the picture before it (timestamps kept)."""
    shot = moving_shot(f)
    at = shot.first + 3 * f.fps + 5
    case.shot, case.made = shot.id, f"frame {at} shows frame {at - 1}"

    def picture(frames: Frames) -> Frames:
        before = None
        for i, (pts, frame) in enumerate(frames):
            yield pts, same_frame(before) if i == at else frame
            before = frame

    rewrite(f.folder / "film.mp4", case.folder / "film.mp4", picture=picture)
    pts, thumbs = decode_picture(case.folder / "film.mp4")
    same, was = still_runs(thumbs), still_runs(f.thumbs)
    diff = np.abs(np.diff(f.thumbs.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    noise = [int(i) for i in np.flatnonzero(same & ~was) if i != at and diff[i - 1] < 4 * STILL]
    other = [int(i) for i in np.flatnonzero(same & ~was) if i != at and i not in noise]
    case.measured = (
        f"frame {at} repeats the one before: {bool(same[at])} (original: {bool(was[at])}); "
        f"other new repeats: {other}, where the original nearly repeated: {noise}; "
        f"{len(pts)} frames, timestamps as the original's: {np.array_equal(pts, f.pts)}"
    )
    case.verified = same[at] and not was[at] and not other and np.array_equal(pts, f.pts)


def defect_loudness(f: Film, case: Case) -> None:
    """Near-miss: the film's sound set to -16.5 LUFS (BS.1770, measured here)."""
    gain = -16.5 - lufs(f.audio)
    case.made = f"sound gain {gain:+.2f} dB"
    rewrite(f.folder / "film.mp4", case.folder / "film.mp4", sound=lambda x: x * 10 ** (gain / 20))
    measured = lufs(decode_sound(case.folder / "film.mp4"))
    case.measured = f"{measured:.2f} LUFS (original {lufs(f.audio):.2f})"
    case.verified = abs(measured + 16.5) <= 0.1


def defect_clean(f: Film, case: Case) -> None:
    """The rendered film as it is."""
    case.made = "the render, untouched"
    shutil.copy(f.folder / "film.mp4", case.folder / "film.mp4")
    case.measured, case.verified = "", True


DEFECTS: dict[str, tuple[Callable[[Film, Case], None], bool]] = {
    "clean": (defect_clean, False),
    "freeze 1.5 s": (defect_freeze, True),
    "3 frames dropped": (defect_drops, True),
    "shot 12 frames short": (defect_short, True),
    "clipping 0.3 s": (defect_clipping, True),
    "sound 200 ms late": (late_sound(200), True),
    "sound 100 ms early": (late_sound(-100), True),
    "recoloured shot": (defect_recolour, True),
    "near-miss 5% grade": (defect_grade, False),
    "near-miss held frame": (defect_held, False),
    "near-miss sound 10 ms": (late_sound(10), False),
    "near-miss -16.5 LUFS": (defect_loudness, False),
}


# -- running ---------------------------------------------------------------------------------


def make(name: str, kind: str, work: Path) -> Case:
    """The copy of film ``name`` with defect ``kind``, made and verified (or read back when
    an earlier run made it with the same recipe)."""
    folder = work / "copies" / name / re.sub(r"[^a-z0-9]+", "-", kind).strip("-")
    record = folder / "case.json"
    make_it, must_fail = DEFECTS[kind]
    if record.exists():
        saved = json.loads(record.read_text("utf-8"))
        if saved.pop("version", None) == VERSION:
            return Case(**{**saved, "folder": folder})
    f = film(name, work)
    case = Case(name, kind, None, must_fail, folder)
    folder.mkdir(parents=True, exist_ok=True)
    make_it(f, case)
    case.verified = bool(case.verified)
    shutil.copy(f.folder / "manifest.json", folder / "manifest.json")
    data = dataclasses.asdict(case) | {"folder": str(folder), "version": VERSION}
    record.write_text(json.dumps(data, indent=1), "utf-8")
    return case


def analysed(name: str, work: Path) -> None:
    film(name, work)


def failing(folder: Path, repeat: int) -> tuple[set[tuple[str, str, str]], float]:
    """The checks of `ministudio qc DIR` that fail on the film in ``folder``, and the median
    of ``repeat`` timed runs (this machine's speed drifts by a fifth from run to run)."""
    from ministudio.qc.film import check_film

    seconds, verdicts = [], set()
    for _ in range(repeat):
        started = time.perf_counter()
        found = check_film(folder)
        seconds.append(time.perf_counter() - started)
        verdicts.add(frozenset((where, v.check, v.reason) for where, v in found if not v.passed))
    assert len(verdicts) == 1, f"{folder}: the checks said different things on each run"
    return set(verdicts.pop()), sorted(seconds)[len(seconds) // 2]


TIME = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:-|\u2013|to)\s*(\d+(?:\.\d+)?)\s*s\b|\bat (\d+(?:\.\d+)?)\s*s\b"
)


def names_shot(reason: str, shot: Shot) -> bool:
    """Whether a film-wide reason places its finding in the shot: by its id or a time in it."""
    if re.search(rf"\b{re.escape(shot.id)}\b", reason):
        return True
    for m in TIME.finditer(reason):
        t = float(m.group(1) or m.group(3))
        if shot.start <= t < shot.end:
            return True
    return False


def score(case: Case, f: Film, clean: set[tuple[str, str, str]], found: set) -> None:
    new = {(w, c, r) for w, c, r in found if (w, c) not in {(w2, c2) for w2, c2, _ in clean}}
    if case.kind == "clean":
        new = found
    case.blamed = [f"{w}: {c}: {r}" for w, c, r in sorted(new)]
    if not case.must_fail:
        case.outcome = "false flag" if new else "passed"
    elif not new:
        case.outcome = "missed"
    elif case.shot is None:
        case.outcome = "caught"
    else:
        shot = f.shot(case.shot)
        case.elsewhere = sorted({w for w, _, _ in new} - {shot.id, "film"})
        if any(w == shot.id or (w == "film" and names_shot(r, shot)) for w, _, r in new):
            case.outcome = "caught"
        elif all(w == "film" for w, _, _ in new):
            case.outcome = "unplaced"
        else:
            case.outcome = "wrong shot"


COLUMNS = ["caught", "missed", "wrong shot", "unplaced", "false flag", "unverified"]
# "+ others": of the defects caught on the right shot, those that blamed other shots as well


def report(cases: list[Case], times: dict[str, list[tuple[float, float]]]) -> None:
    print("\nper case (film, kind, shot: outcome; what was measured; new failing verdicts)")
    for c in cases:
        where = c.shot or "film"
        also = f" (also blamed: {', '.join(c.elsewhere)})" if c.elsewhere else ""
        print(f"  {c.film:<17} {c.kind:<21} {where:<15} {c.outcome or 'unverified'}{also}")
        if c.measured:
            print(f"      measured: {c.measured}")
        for b in c.blamed:
            print(f"      FAIL {b[:150]}")
    print(f"\n{'kind':<22}" + "".join(f"{h:>11}" for h in [*COLUMNS, "+ others"]) + "   by film")
    for kind in dict.fromkeys(c.kind for c in cases):
        row = [c for c in cases if c.kind == kind]
        counts = [sum((c.outcome or "unverified") == h for c in row) for h in COLUMNS]
        counts.append(sum(c.outcome == "caught" and bool(c.elsewhere) for c in row))
        by = ", ".join(f"{c.film}: {c.outcome or 'unverified'}" for c in row)
        print(f"{kind:<22}" + "".join(f"{n:>11}" for n in counts) + f"   {by}")
    scored = [c for c in cases if c.outcome]
    defects = [c for c in scored if c.must_fail]
    clean = [c for c in scored if not c.must_fail]
    print(
        f"\ncaught on the right shot {sum(c.outcome == 'caught' for c in defects)} of "
        f"{len(defects)} verified defects; false flags on "
        f"{sum(c.outcome == 'false flag' for c in clean)} of {len(clean)} clean films and "
        f"near-misses; {len(cases) - len(scored)} copies not verified (not scored)"
    )
    for orientation, runs in times.items():
        seconds, minutes = sum(s for s, _ in runs), sum(m for _, m in runs)
        each = sorted(s / m for s, m in runs)
        print(
            f"qc wall time, {orientation}: {seconds / minutes:.2f} s per minute of film "
            f"(median {each[len(each) // 2]:.2f}, worst {each[-1]:.2f}; {len(runs)} copies; "
            f"target {TARGET:.1f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/ministudio-qc-films"))
    parser.add_argument("--films", default=",".join(FILMS))
    parser.add_argument("--kinds", default=",".join(DEFECTS), help="defect kinds, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="timed qc runs per copy (median)")
    args = parser.parse_args()
    work = args.work.resolve()
    names = args.films.split(",")
    kinds = ["clean"] + [k for k in args.kinds.split(",") if k != "clean"]
    started = time.perf_counter()
    for name in names:
        render(name, work)
    print(f"films rendered (or reused) in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    jobs = [(name, kind) for name in names for kind in kinds]
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(analysed, names, [work] * len(names)))  # each film decoded once
        cases = list(pool.map(make, *zip(*jobs, strict=True), [work] * len(jobs)))
    took = time.perf_counter() - started
    print(f"{len(cases)} copies made and verified (or reused) in {took:.1f} s")
    for c in cases:
        if not c.verified:
            print(f"  NOT VERIFIED, not scored: {c.film} {c.kind} ({c.made}): {c.measured}")
    times: dict[str, list[tuple[float, float]]] = {}
    clean: dict[str, set] = {}
    for c in sorted(cases, key=lambda c: c.kind != "clean"):  # the clean films first
        if not c.verified:
            continue
        f = film(c.film, work)
        found, seconds = failing(c.folder, args.repeat)
        c.qc_seconds = seconds
        times.setdefault(FILMS[c.film], []).append((seconds, f.minutes))
        if c.kind == "clean":
            clean[c.film] = found
        score(c, f, clean[c.film], found)
    report(cases, times)


if __name__ == "__main__":
    main()
