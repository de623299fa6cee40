"""The lip-sync check (issue 18, item 5) on the showcase films and on real talking faces.

Target: no false flag (a clean shot failing) and no miss (a shot whose voice is 200 ms off
passing) where the check judges; wide shots and shots with under a second of on-screen
speech are passed as not measurable, and counted as such.

Run: python benchmarks/lipsync_check.py [--work DIR] [--real DIR]
     (DIR for --real, or $MINISTUDIO_REAL_FACES: talking-face MP4s with their own sound, e.g.
     examples/face/*.mp4 of github.com/OpenTalker/video-retalking; skipped when absent)

1. Renders every showcase film (examples/*.yaml) keyless with the public API (cached in
   --work), and a copy of each film with a dialogue whose lines are spoken off screen (each
   speaker replaced by a character who is not in the shot, with the same voice: the same
   voices, the mouths shut).
2. For each shot where a character in frame speaks: the shot's clip (from the store, by its
   job key) and its voice (the film's sound over the lines spoken in frame, on the shot's
   timeline, silence elsewhere; a narrator never), and runs `check_lipsync` on (a) the clip
   with its own voice, (b) the voice 200 ms late, (c) 200 ms early, (d) the off-screen copy's
   clip (mouths shut) with the same voice.
3. Real faces: each clip with its own sound as one line spoken in frame, close-up, and the
   same sound 200 ms late and early.
Prints each verdict, per film: judged shots, false flags (clean failing), misses (shifted or
shut passing), and a summary table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
SHIFT = 0.2


@dataclass
class Case:
    film: str
    shot: str
    size: str
    kind: str  # clean, +200 ms, -200 ms, mouths shut
    passed: bool
    judged: bool
    reason: str


@dataclass
class Tally:
    shots: int = 0
    judged: int = 0
    counts: dict[str, list[int]] = field(default_factory=dict)  # kind -> [judged, failed]


def render_film(source: Path, out: Path, store: Path) -> Path:
    from ministudio.run.render import render
    from ministudio.run.store import ContentStore
    from ministudio.spec.loading import load_production

    if not (out / "manifest.json").exists():
        render(load_production(source), out, store=ContentStore(store))
    return out


def off_screen_copy(source: Path, target: Path) -> bool:
    """The production with every line spoken by a character not in the shot (a copy of the
    speaker, same voice): False when it has no dialogue."""
    data = yaml.safe_load(source.read_text("utf-8"))
    characters = data.get("characters", {})
    changed = False
    for scene in data["scenes"]:
        for shot in scene["shots"]:
            lines = shot.get("dialogue") or []
            if not lines:
                continue
            cast = shot.get("characters") or list(dict.fromkeys(x["speaker"] for x in lines))
            shot["characters"] = cast
            for line in lines:
                voice_of = line["speaker"]
                line["speaker"] = f"{voice_of}-off"
                characters[f"{voice_of}-off"] = dict(characters[voice_of])
                changed = True
    target.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return changed


def speaking_shots(folder: Path, store: Path, sizes: dict[str, str]):
    """(shot id, size, clip, voice, rate, spans on the shot's timeline, fps) of each shot
    where a character in frame speaks."""
    from ministudio.media.audio import read_wav
    from ministudio.run.store import ContentStore

    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    sound, rate = read_wav(folder / "film.mp4")
    fps = manifest["fps"]
    for s in manifest["shots"]:
        cast = set(s.get("cast", []))
        spans = [
            (line["start"] - s["start"], line["end"] - s["start"])
            for line in s.get("lines", [])
            if line["speaker"].removesuffix("-off") in cast
        ]
        if not spans or s.get("slate"):
            continue
        seconds = s["frames"] / fps
        first = round(s["start"] * rate)
        voice = np.zeros(round(seconds * rate), np.float32)
        for a, b in spans:
            lo, hi = round(a * rate), min(voice.size, round(b * rate))
            voice[lo:hi] = sound[first + lo : first + hi]
        clip = ContentStore(store).get(s["job_key"], ".mp4")
        assert clip is not None, f"{folder.name}/{s['id']}: no clip in the store"
        yield s["id"], sizes[s["id"]], clip, voice, rate, spans, fps


def shifted(voice: np.ndarray, rate: int, seconds: float) -> np.ndarray:
    shift = round(seconds * rate)
    out = np.zeros_like(voice)
    if shift >= 0:
        out[shift:] = voice[: voice.size - shift]
    else:
        out[:shift] = voice[-shift:]
    return out


def judge(picture, fps, voice, rate, spans, size, seconds=0.0, times=None):
    from ministudio.qc.checks.lipsync import check_lipsync

    moved = [(a + seconds, b + seconds) for a, b in spans]
    return check_lipsync(
        picture, fps, shifted(voice, rate, seconds), rate, moved, (), size, times=times
    )


def judged(verdict) -> bool:
    return "not measur" not in verdict.reason


def films(work: Path) -> list[Case]:
    from ministudio.qc.checks import decode

    cases = []
    for source in sorted((ROOT / "examples").glob("*.yaml")):
        name = source.stem
        store = work / "store"
        sizes = {
            shot["id"]: shot.get("size", "medium")
            for scene in yaml.safe_load(source.read_text("utf-8"))["scenes"]
            for shot in scene["shots"]
        }
        clean = render_film(source, work / "films" / name, store)
        copy = work / f"{name}-off.yaml"
        shut = {}
        if off_screen_copy(source, copy):
            folder = render_film(copy, work / "films" / f"{name}-off", store)
            # a line spoken off screen is nobody's in frame: take the copy's clips only
            manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
            shut = {s["id"]: s["job_key"] for s in manifest["shots"]}
        print(f"\n{name}:")
        cases.append(Case(name, "", "", "film", True, False, "rendered"))
        for shot, size, clip, voice, rate, spans, fps in speaking_shots(clean, store, sizes):
            picture = decode(clip, sound=False).fine
            runs = [("clean", picture, 0.0), (f"+{SHIFT * 1000:.0f} ms", picture, SHIFT),
                    (f"-{SHIFT * 1000:.0f} ms", picture, -SHIFT)]  # fmt: skip
            if shot in shut:
                from ministudio.run.store import ContentStore

                shut_clip = ContentStore(store).get(shut[shot], ".mp4")
                assert shut_clip is not None
                runs.append(("mouths shut", decode(shut_clip, sound=False).fine, 0.0))
            for kind, pic, seconds in runs:
                v = judge(pic, fps, voice, rate, spans, size, seconds)
                cases.append(Case(name, shot, size, kind, v.passed, judged(v), v.reason))
                mark = "pass" if v.passed else "FAIL"
                print(f"  {shot:14} {size:9} {kind:12} {mark}  {v.reason}")
    return cases


def real_faces(folder: Path) -> list[Case]:
    from ministudio.qc.checks import decode

    cases = []
    clips = sorted(folder.glob("*.mp4"))
    print(f"\nreal faces ({folder}, {len(clips)} clips, each as one close-up line):")
    for clip in clips:
        footage = decode(clip)
        if footage.audio is None or footage.times is None:
            print(f"  {clip.name}: no sound, skipped")
            continue
        seconds = footage.audio.size / footage.sample_rate
        times = footage.times - footage.times[0]
        for kind, shift in (("clean", 0.0), ("+200 ms", SHIFT), ("-200 ms", -SHIFT)):
            v = judge(footage.fine, footage.fps, footage.audio, footage.sample_rate,
                      [(0.0, seconds)], "close-up", shift, times)  # fmt: skip
            cases.append(Case("real faces", clip.stem, "close-up", kind, v.passed, judged(v),
                              v.reason))  # fmt: skip
            mark = "pass" if v.passed else "FAIL"
            print(f"  {clip.stem:22} {kind:12} {mark}  {v.reason}")
    return cases


def summary(cases: list[Case]) -> None:
    groups = list(dict.fromkeys(c.film for c in cases))
    kinds = list(dict.fromkeys(c.kind for c in cases if c.kind != "film"))
    print(f"\n{'content':20} {'shots':>5} {'judged':>6}   " + "   ".join(f"{k:>18}" for k in kinds))
    total: dict[str, list[int]] = {k: [0, 0] for k in kinds}
    for group in groups:
        mine = [c for c in cases if c.film == group]
        shots = len({c.shot for c in mine if c.kind != "film"})
        judged_shots = len({c.shot for c in mine if c.judged and c.kind == "clean"})
        cells = []
        for k in kinds:
            these = [c for c in mine if c.kind == k and c.judged]
            bad = [c for c in these if (not c.passed) == (k == "clean")]
            total[k][0] += len(these)
            total[k][1] += len(bad)
            word = "false flags" if k == "clean" else "misses"
            cells.append(f"{len(bad)} {word} of {len(these)}" if these else "-")
        print(f"{group:20} {shots:>5} {judged_shots:>6}   " + "   ".join(f"{c:>18}" for c in cells))
    print(
        "\nfalse flags (clean shots failing): "
        + ", ".join(f"{n[1]} of {n[0]}" for k, n in total.items() if k == "clean")
        + "; misses (off or shut shots passing): "
        + ", ".join(f"{k} {n[1]} of {n[0]}" for k, n in total.items() if k != "clean")
        + "; shots not judged (wide, or under 1 s of on-screen speech) left out"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/lipsync-bench"))
    parser.add_argument("--real", type=Path, default=os.environ.get("MINISTUDIO_REAL_FACES"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    cases = films(args.work)
    if args.real is not None and Path(args.real).is_dir():
        cases += real_faces(Path(args.real))
    else:
        print(
            "\nreal faces: skipped (give --real DIR or MINISTUDIO_REAL_FACES: talking-face "
            "MP4s with their own sound, e.g. examples/face/*.mp4 of "
            "github.com/OpenTalker/video-retalking)",
            file=sys.stderr,
        )
    summary(cases)


if __name__ == "__main__":
    main()
