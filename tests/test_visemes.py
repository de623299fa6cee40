"""Mouths that follow the phonemes (issue 18 item 4): eSpeak's phoneme events become each
line's phonemes, which reach the animatic (and no job key), and the animatic draws a viseme
per frame for the character speaking, and for no one else."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineSpec
from ministudio.engines.animatic import plugin as animatic
from ministudio.engines.animatic.render import render_clip
from ministudio.engines.animatic.talk import mouths
from ministudio.engines.animatic.visemes import (
    CLOSED,
    MID,
    OPEN,
    REST,
    ROUND,
    TEETH,
    WIDE,
    frame_visemes,
    viseme,
)
from ministudio.engines.espeak import plugin as espeak
from ministudio.engines.espeak import synth
from ministudio.jobs import (
    CharacterBrief,
    EnvironmentBrief,
    LineBrief,
    ShotPrompt,
    VideoRequest,
    VideoResult,
)
from ministudio.plan.voicing import write_voice
from ministudio.plugins import PluginHost, PluginInfo

from .conftest import tiny_production

FPS = 24
ANN = CharacterBrief(id="ann", name="Ann", dna="a man in a red sweater and black trousers")
BO = CharacterBrief(id="bo", name="Bo", dna="a woman in a green coat and grey trousers")


# --- the mapping -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mnemonic", "shape"),
    [
        ("m", CLOSED), ("p", CLOSED), ("b", CLOSED),
        ("f", TEETH), ("v", TEETH), ("T", TEETH), ("D", TEETH),
        ("'oU", ROUND), ("u:", ROUND), ("U", ROUND), ("w", ROUND), ("OI", ROUND), ("S", ROUND),
        ("tS", ROUND), ("dZ", ROUND),
        ("i:", WIDE), ("'I", WIDE), (",eI", WIDE), ("E", WIDE), ("j", WIDE),
        ("a", OPEN), ("'A:", OPEN), ("aI", OPEN), ("aU", OPEN), ("V", OPEN), ("0", OPEN),
        ("t", MID), ("d", MID), ("s", MID), ("n", MID), ("l", MID), ("k", MID), ("@", MID),
        ("3:", MID), ("h", MID), ("r", MID), ("??", MID),
        ("_", REST), ("_:", REST), ("_!", REST), ("", REST), ("'", REST),
    ],
)  # fmt: skip
def test_each_phoneme_has_its_viseme(mnemonic: str, shape: str) -> None:
    assert viseme(mnemonic) == shape


def test_a_frame_shows_the_shape_it_spends_most_time_in_and_every_closure() -> None:
    # 0.0-0.1 "a", 0.1-0.13 "m" (30 ms: most of frame 2 is still "a"), 0.13-0.3 "i:"
    phonemes = ((0.0, "a"), (0.1, "m"), (0.13, "i:"), (0.3, "_"))
    shapes = frame_visemes(phonemes, 0.4, 12, FPS)
    assert shapes[0] == shapes[1] == OPEN
    assert shapes[2] == CLOSED  # 29 of the frame's 42 ms are "a", yet the lips meet
    assert shapes[4:7] == [WIDE] * 3
    assert shapes[8] == REST and shapes[10:] == [None, None]  # past the line's end: none


def test_the_track_closes_shapes_and_opens_the_rest_with_the_voice() -> None:
    line = LineBrief(
        speaker="ann", text="ma", start=0.0, end=0.5, phonemes=((0.0, "m"), (0.1, "'A:"))
    )
    levels = [3] * 12 + [2] * 3
    track = mouths(15, FPS, [line], levels, voiced_levels=True)
    assert track[0] == (CLOSED, 0) and track[1] == (CLOSED, 0)  # loud, but the lips meet
    assert track[4] == (OPEN, 3)
    assert track[12:] == [(OPEN, 2)] * 3  # after the line: the voice's level alone
    quiet = mouths(15, FPS, [line], [0] * 15, voiced_levels=True)
    assert quiet[4] == (REST, 0)  # as open as the voice is loud: shut in silence
    beat = mouths(15, FPS, [line], [0] * 15, voiced_levels=False)
    assert beat[4] == (OPEN, 3)  # no voice: each shape opens its own amount
    # a line without phonemes (another speech engine): the plain mouth, as loud as the voice
    plain = LineBrief(speaker="ann", text="ma", start=0.0, end=0.5)
    assert mouths(3, FPS, [plain], [0, 2, 3], voiced_levels=True) == [
        (REST, 0),
        (OPEN, 2),
        (OPEN, 3),
    ]


# --- eSpeak's phonemes -------------------------------------------------------------------


def test_espeak_says_which_phonemes_and_when(tmp_path: Path) -> None:
    spoken = synth.speak_line("Mama made my muffins.", tmp_path / "a.wav")
    names = [name for _, name in spoken.phonemes]
    assert names[:4] == ["m", "'A:", "m", "a#"]
    times = [t for t, _ in spoken.phonemes]
    assert times == sorted(times) and times[0] >= 0 and times[-1] <= spoken.seconds


# --- the animatic -------------------------------------------------------------------------


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def spoken_line(
    tmp_path: Path, text: str, speaker: str, start: float, name: str
) -> tuple[LineBrief, Path]:
    said = synth.speak_line(text, tmp_path / f"{name}.wav")
    line = LineBrief(
        speaker=speaker,
        text=text,
        start=start,
        end=round(start + said.seconds, 3),
        phonemes=tuple((round(start + t, 4), p) for t, p in said.phonemes),
    )
    return line, tmp_path / f"{name}.wav"


def talking_request(
    tmp_path: Path,
    lines: tuple[LineBrief, ...],
    wavs: list[Path],
    cast: tuple[CharacterBrief, ...],
    size: str,
    duration: float,
) -> VideoRequest:
    voice = write_voice(
        list(zip(wavs, [line.start for line in lines], strict=True)),
        duration,
        tmp_path / "voice.wav",
    )
    shot = ShotPrompt(
        shot_id="s1",
        scene_id="sc",
        index=0,
        action="",  # no caption over the faces
        shot_size=size,
        camera_move="static",
        characters=tuple(c.model_copy(update={"speaking": True}) for c in cast),
        environment=EnvironmentBrief(id="lab", description="a lab"),
        lines=lines,
    )
    return VideoRequest(
        shot=shot,
        prompt="",
        duration=duration,
        aspect_ratio="16:9",
        width=640,
        height=360,
        fps=FPS,
        seed=1,
        voice=voice,
    )


def mouth_boxes(clip: list[np.ndarray], count: int) -> list[tuple[slice, slice]]:
    """The ``count`` regions that change in the clip (the mouths), left to right."""
    still = clip[0].astype(int)
    moved = np.zeros(still.shape[:2], bool)
    for frame in clip:
        moved |= np.abs(frame.astype(int) - still).max(axis=-1) > 30
    cols = np.flatnonzero(moved.any(axis=0))
    groups = np.split(cols, np.flatnonzero(np.diff(cols) > 8) + 1)
    assert len(groups) == count, f"{len(groups)} moving regions, expected {count}"
    boxes = []
    for g in groups:
        rows = np.flatnonzero(moved[:, g[0] : g[-1] + 1].any(axis=1))
        boxes.append((slice(rows[0], rows[-1] + 1), slice(g[0], g[-1] + 1)))
    return boxes


def test_each_mouth_moves_only_in_its_own_lines(tmp_path: Path) -> None:
    """Two characters take turns: each mouth changes only inside its speaker's line spans
    (give or take the frame it closes on), and rests in the other's."""
    ann, ann_wav = spoken_line(tmp_path, "Where were you all morning?", "ann", 0.3, "a")
    bo, bo_wav = spoken_line(tmp_path, "Fixing the big blue machine.", "bo", ann.end + 0.3, "b")
    duration = round(bo.end + 0.6, 2)
    request = talking_request(tmp_path, (ann, bo), [ann_wav, bo_wav], (ANN, BO), "medium", duration)
    clip = frames(render_clip(request, tmp_path / "two.mp4"))
    boxes = mouth_boxes(clip, 2)
    rest = clip[0]
    for box, line, other in ((boxes[0], ann, bo), (boxes[1], bo, ann)):
        moving = [
            i
            for i, frame in enumerate(clip)
            if np.abs(frame[box].astype(int) - rest[box].astype(int)).max() > 30
        ]
        assert moving, "the speaker's mouth never moved"
        assert all(line.start - 1 / FPS <= i / FPS <= line.end for i in moving), (line, moving)
        assert not [i for i in moving if other.start <= i / FPS <= other.end]


def test_a_non_speaking_character_keeps_its_mouth_closed(tmp_path: Path) -> None:
    ann, wav = spoken_line(tmp_path, "Bo never says a word.", "ann", 0.3, "a")
    duration = round(ann.end + 0.5, 2)
    request = talking_request(tmp_path, (ann,), [wav], (ANN, BO), "medium", duration)
    request = request.model_copy(
        update={
            "shot": request.shot.model_copy(
                update={"characters": (ANN.model_copy(update={"speaking": True}), BO)}
            )
        }
    )
    clip = frames(render_clip(request, tmp_path / "one.mp4"))
    (box,) = mouth_boxes(clip, 1)  # only Ann's mouth changes
    assert box[1].stop < 640 / 2  # and Ann stands on the left


def mouth_darkness(frame: np.ndarray) -> int:
    """Pixels of the open mouth's dark inside."""
    return int((np.abs(frame.astype(int) - (70, 25, 30)).max(axis=-1) < 30).sum())


def test_the_mouth_closes_on_each_m_of_mama(tmp_path: Path) -> None:
    line, wav = spoken_line(tmp_path, "Mama, mama.", "ann", 0.3, "m")
    duration = round(line.end + 0.4, 2)
    request = talking_request(tmp_path, (line,), [wav], (ANN,), "extreme-close-up", duration)
    clip = frames(render_clip(request, tmp_path / "mama.mp4"))
    shapes = frame_visemes(line.phonemes, line.end, len(clip), FPS)
    closed = [i for i, s in enumerate(shapes) if s == CLOSED]
    opened = [i for i, s in enumerate(shapes) if s == OPEN]
    assert len(closed) >= 4 and len(opened) >= 4  # m-a-m-a twice
    (box,) = mouth_boxes(clip, 1)
    dark = [mouth_darkness(f[box]) for f in clip]
    assert max(dark[i] for i in closed) < 20  # the lips meet on every m
    assert min(dark[i] for i in opened) > 200  # and part on every a
    # the closed lips are their own shape, not the mouth at rest
    assert np.abs(clip[closed[0]].astype(int) - clip[0].astype(int)).max() > 30


# --- phonemes through a render, and out of the job keys ----------------------------------


class PaidStyle:
    """A paid-style video engine: it pins its revision, takes no voice, and keeps every
    request it is sent (its clips are the animatic's)."""

    def __init__(self) -> None:
        self.requests: list[VideoRequest] = []

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        caps = Capabilities(
            durations=None, min_duration=0.5, max_duration=60, resolutions=("480p",)
        )
        return [EngineSpec(id="paidish", kind="video", capabilities=caps, revision=0)]

    @hookimpl
    def generate_video(self, engine, request, output, context):
        if engine != "paidish":
            return None
        self.requests.append(request)
        render_clip(request, output)
        return VideoResult(path=output)


def host_with(video: object, speech: object) -> PluginHost:
    host = PluginHost(discover=False)
    host.register(video, PluginInfo("video", "ministudio-core", "0.1.0", "v"))
    host.register(animatic, PluginInfo("animatic", "ministudio-core", "0.1.0", "a"))
    host.register(speech, PluginInfo("espeak", "ministudio-core", "0.1.0", "e"))
    return host


def test_phonemes_reach_the_engine_but_no_job_key(tmp_path: Path) -> None:
    """The lines' phonemes are stored beside them and reach the video engine, timed from
    the shot's start; a store without them (made before) serves the same clips, not paid
    for again."""
    from ministudio.run.render import render
    from ministudio.run.store import ContentStore

    production = tiny_production(routing={"video": "paidish"})
    store = ContentStore(tmp_path / "store")
    paid = PaidStyle()
    made = render(production, tmp_path / "a", host=host_with(paid, espeak), store=store)
    assert not any(s.cached for s in made.shots) and len(paid.requests) == 2
    for request in paid.requests:
        (line,) = request.shot.lines
        assert line.phonemes and line.start <= line.phonemes[0][0]
        assert [t for t, _ in line.phonemes] == sorted(t for t, _ in line.phonemes)
        assert line.phonemes[-1][0] <= line.end + 1e-6
    sidecars = sorted(store.root.glob("*/*.phonemes.json"))
    assert len(sidecars) == 2
    assert json.loads(sidecars[0].read_text())[0][1]  # [[seconds, mnemonic], ...]

    # the same store, the phonemes gone (a store from before): nothing is made again
    for sidecar in sidecars:
        sidecar.unlink()
    again = render(production, tmp_path / "b", host=host_with(paid, espeak), store=store)
    assert all(s.cached for s in again.shots) and len(paid.requests) == 2


def test_phonemes_stay_out_of_the_brief_a_job_key_hashes() -> None:
    """The brief hashed into a video job's key is the same with and without phonemes."""
    from ministudio.run.requests import Requests
    from ministudio.run.store import job_key

    line = LineBrief(speaker="ann", text="Mama.", start=0.3, end=0.9)
    said = line.model_copy(update={"phonemes": ((0.3, "m"), (0.4, "'A:"), (0.5, "m"))})
    shots = [
        ShotPrompt(
            shot_id="s1",
            scene_id="sc",
            index=0,
            action="Ann speaks",
            shot_size="medium",
            camera_move="static",
            characters=(ANN,),
            environment=EnvironmentBrief(id="lab", description="a lab"),
            lines=(one,),
        )
        for one in (line, said)
    ]
    requests = Requests(None)  # type: ignore[arg-type]  # no images: no file is hashed
    plain, phonemed = (requests.brief(shot) for shot in shots)
    assert plain == phonemed and "phonemes" not in plain["lines"][0]
    assert job_key("video", plain) == job_key("video", phonemed)
