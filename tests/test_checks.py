"""Local quality checks: clips made to fail each check are caught with the right reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ministudio.engines.animatic.render import render_clip
from ministudio.jobs import EnvironmentBrief, LineBrief, QCVerdict, ShotPrompt, VideoRequest
from ministudio.media.loudness import integrated_loudness
from ministudio.qc.builtin import qc_check
from ministudio.qc.checks import check_clip, check_sound, scene_stability, seam
from ministudio.qc.checks import synthetic as syn

FPS, W, H, SECONDS = 24, 320, 180, 2.0
N = int(FPS * SECONDS)
LINES = [(0.4, 1.4)]


def scene(seed: int = 1) -> np.ndarray:
    return syn.place(seed, 2 * W, 2 * H)


def shot(seed: int = 1, **kw: object) -> list[np.ndarray]:
    return syn.frames(scene(seed), W, H, N, seed=seed, **kw)  # type: ignore[arg-type]


def failed(verdicts: list[QCVerdict]) -> dict[str, str]:
    return {v.check: v.reason for v in verdicts if not v.passed}


def test_good_clips_with_motion_and_sound_pass(tmp_path: Path) -> None:
    for seed, move in ((1, (0.1, 0.0)), (2, (0.0, 0.2)), (3, (0.02, 0.01))):
        audio = syn.speech(SECONDS, LINES, seed)
        clip = syn.write(tmp_path / f"g{seed}.mp4", shot(seed, move=move), FPS, audio)
        verdicts = check_clip(clip, SECONDS, FPS, lines=LINES, aspect="16:9")
        assert failed(verdicts) == {}
        assert {v.check for v in verdicts} >= {"duration", "black", "silence", "loudness"}


def test_black_stretch(tmp_path: Path) -> None:
    pics = shot()
    for i in range(24, 48):
        pics[i] = np.zeros_like(pics[i])
    bad = failed(check_clip(syn.write(tmp_path / "b.mp4", pics, FPS), SECONDS, FPS))
    assert bad == {"black": "1.0 s of black from 1.0 s"}


def test_frozen_stretch(tmp_path: Path) -> None:
    pics = shot()
    pics[20:] = [pics[20]] * (N - 20)
    bad = failed(check_clip(syn.write(tmp_path / "f.mp4", pics, FPS), SECONDS, FPS))
    assert bad == {"frozen": "frozen for 1.2 s from 0.83 s"}


def test_flash(tmp_path: Path) -> None:
    pics = shot()
    pics[30] = np.full_like(pics[30], 255)
    bad = failed(check_clip(syn.write(tmp_path / "x.mp4", pics, FPS), SECONDS, FPS))
    assert list(bad) == ["flash"] and bad["flash"].startswith("a flash at 1.25 s")


def test_off_duration_and_wrong_format(tmp_path: Path) -> None:
    short = syn.write(tmp_path / "s.mp4", shot()[:40], FPS)
    bad = failed(check_clip(short, SECONDS, FPS))
    assert list(bad) == ["duration"] and "333 ms apart" in bad["duration"]
    pics = [p[:, :240] for p in shot()]  # 240x180 is 4:3
    odd = syn.write(tmp_path / "o.mp4", pics, 25)
    bad = failed(check_clip(odd, 48 / 25, FPS, aspect="16:9"))
    assert bad["fps"] == "25 fps, not the film's 24 fps"
    assert bad["resolution"] == "240x180 is 1.333:1, not 16:9"


def test_silent_line_clipping_and_quiet_sound(tmp_path: Path) -> None:
    audio = syn.speech(SECONDS, LINES)
    muted = audio.copy()
    muted[: int(1.5 * syn.RATE)] = 0
    clip = syn.write(tmp_path / "m.mp4", shot(), FPS, muted)
    bad = failed(check_clip(clip, SECONDS, FPS, lines=LINES))
    assert bad["silence"].startswith("speech at 0.4-1.4 s") and "is silent" in bad["silence"]
    clipped = syn.write(tmp_path / "c.mp4", shot(), FPS, np.clip(audio * 8, -1, 1))
    bad = failed(check_clip(clipped, SECONDS, FPS, lines=LINES))
    assert bad["clipping"].startswith("clipped at 0.4") and "in clips (limit" in bad["clipping"]
    quiet = check_sound(audio * 10 ** (-15 / 20), syn.RATE, LINES)
    assert failed(quiet) == {
        "loudness": "-31.0 LUFS, 15.0 LU under the -16 LUFS target (limit 2 LU)"
    }


def test_loudness_of_a_sine_matches_bs1770() -> None:
    t = np.arange(5 * 48000) / 48000
    assert integrated_loudness(0.1 * np.sin(2 * np.pi * 997 * t), 48000) == pytest.approx(
        -23.0, abs=0.05
    )


def test_seam_continues_or_jumps(tmp_path: Path) -> None:
    a = shot(1, move=(0.1, 0.0))
    cont = syn.frames(scene(1), W, H, N, start=(0.2, 0.1), move=(0.1, 0.0), seed=1)
    cont[0] = a[-1]  # a continued shot starts on the last frame
    one = syn.write(tmp_path / "a.mp4", a, FPS)
    assert seam(one, syn.write(tmp_path / "b.mp4", cont, FPS)).passed
    verdict = seam(one, syn.write(tmp_path / "j.mp4", shot(5), FPS))
    assert not verdict.passed and verdict.reason.startswith("the seam jumps: the next shot's")


def place_shots(tmp_path: Path, seed: int) -> dict[str, Path]:
    """Four shots of one place: a slow pan, a pan across it while the light dims by a fifth
    and flickers, a closer view, and a tilt."""
    light = np.linspace(1.0, 0.8, N) * (1 + 0.04 * np.sin(1.7 * np.arange(N)))
    pictures = {
        "s1": shot(seed, move=(0.1, 0.0)),
        "s2": syn.relight(shot(seed, start=(0.0, 0.3), move=(0.9, 0.1)), light),
        "s3": shot(seed, zoom=0.7, start=(0.5, 0.3)),
        "s4": shot(seed, start=(0.3, 0.0), move=(0.0, 0.6)),
    }
    return {k: syn.write(tmp_path / f"{seed}-{k}.mp4", v, FPS) for k, v in pictures.items()}


@pytest.mark.parametrize("seed", [1, 7])
def test_the_same_place_from_a_moved_camera_passes(tmp_path: Path, seed: int) -> None:
    verdicts = scene_stability(place_shots(tmp_path, seed), "the lab")
    assert [v.passed for v in verdicts] == [True] * 4, [v.reason for v in verdicts]
    assert all(v.reason.startswith(f"shot s{k} matches") for k, v in enumerate(verdicts, 1))
    assert all("% of the picture, limit 40%; detail " in v.reason for v in verdicts)


@pytest.mark.parametrize("seed", [1, 7])
def test_a_recoloured_place_is_caught_and_says_how_much(tmp_path: Path, seed: int) -> None:
    clips = place_shots(tmp_path, seed)
    clips["s3"] = syn.rewrite(clips["s3"], tmp_path / "recoloured.mp4", syn.recolour)
    verdicts = scene_stability(clips, "the lab")
    assert [v.passed for v in verdicts] == [True, True, False, True]
    reason = verdicts[2].reason
    assert reason.startswith("the lab's colours moved: shot s3 and the scene's other shots "), (
        reason
    )
    assert reason.endswith("% of the picture, in colours one shows and the other lacks (limit 40%)")
    assert int(reason.split("differ in ")[1].split("%")[0]) > 60


def test_a_wide_shot_and_a_close_up_of_the_same_place_pass(tmp_path: Path) -> None:
    """The close-up's colours are all in the wide shot, though not the wide shot's in it."""
    wide = syn.write(tmp_path / "wide.mp4", shot(1, move=(0.2, 0.0)), FPS)
    close = syn.write(tmp_path / "close.mp4", shot(1, zoom=0.4, start=(0.4, 0.5)), FPS)
    verdicts = scene_stability({"wide": wide, "close": close}, "the lab")
    assert all(v.passed for v in verdicts), [v.reason for v in verdicts]


def test_a_scene_of_one_shot_and_a_blank_shot(tmp_path: Path) -> None:
    clips = place_shots(tmp_path, 1)
    (alone,) = scene_stability({"s1": clips["s1"]}, "the lab")
    assert alone.passed and alone.reason == "the scene has one shot"
    grey = [np.full_like(p, 128) for p in shot(1)]
    clips["s4"] = syn.write(tmp_path / "blank.mp4", grey, FPS)
    verdicts = scene_stability(clips, "the lab")
    assert [v.passed for v in verdicts] == [True, True, True, False]
    assert "the lab's structure changed: shot s4 has 0.0x the detail" in verdicts[3].reason


def test_the_animatic_clip_passes_the_hook(tmp_path: Path) -> None:
    env = EnvironmentBrief(id="lab", description="a research lab with desks and monitors")
    for move in ("static", "push-in"):
        prompt = ShotPrompt(
            shot_id="s1",
            scene_id="sc",
            index=0,
            action="Ann talks",
            shot_size="medium",
            camera_move=move,
            environment=env,
            lines=(LineBrief(speaker="narrator", text="Hello.", start=0.2, end=1.0),),
        )
        request = VideoRequest(
            shot=prompt,
            prompt="x",
            duration=1.5,
            aspect_ratio="16:9",
            width=320,
            height=180,
            fps=FPS,
            seed=3,
        )
        clip = render_clip(request, tmp_path / f"{move}.mp4")
        verdicts = qc_check(prompt, clip, 1.5, FPS)
        assert failed(verdicts) == {}
        assert {"duration", "black", "frozen", "flash", "fps"} <= {v.check for v in verdicts}


def test_ministudio_qc_checks_a_finished_film_again(tmp_path: Path) -> None:
    """`ministudio qc DIR` decodes the film once and checks every shot's stretch, the scene's
    place and the film's sound, normalised to the web loudness target: all pass (exit 0).
    A folder without a film says to render first."""
    from ministudio.run.render import render
    from ministudio.run.store import ContentStore

    from .conftest import run_cli, tiny_production

    render(tiny_production(), tmp_path / "out", store=ContentStore(tmp_path / "store"))
    checked = run_cli("qc", str(tmp_path / "out"))
    lines = checked.stdout.splitlines()
    total = int(lines[-1].split(" of ")[1].split()[0])
    assert total >= 2 * 6 + 3  # six per shot, three on the film's sound, plus the place
    failed = [line for line in lines if line.startswith("FAIL")]
    assert checked.returncode == 0 and not failed, failed
    (loudness,) = [line for line in lines if "loudness" in line]
    assert "-16." in loudness or "-15.9 LUFS" in loudness, loudness
    missing = run_cli("qc", str(tmp_path / "nothing"))
    assert missing.returncode == 1 and "render first" in missing.stderr


def test_a_clip_decoded_in_two_halves_at_once_is_the_clip_decoded_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``decode`` splits a clip of 4 s or more at its middle and decodes both halves at once;
    the footage is the same, frame for frame, timestamps included."""
    from ministudio.qc.checks import footage

    pictures = syn.frames(syn.place(5, 640, 360), 320, 180, 24 * 6, move=(0.3, 0.1))
    clip = syn.write(tmp_path / "six.mp4", pictures, 24, syn.speech(6.0, [(1.0, 5.0)]))
    halves = footage.decode(clip)
    monkeypatch.setattr(footage, "_SPLIT_MIN", 1e9)
    whole = footage.decode(clip)
    assert halves.frames == whole.frames == 144
    assert halves.audio is not None and whole.audio is not None
    for name in ("times", "grey", "fine", "colour", "audio"):
        assert np.array_equal(getattr(halves, name), getattr(whole, name)), name


def test_a_picture_that_changes_size_mid_stream_is_refused_with_what_to_do(
    tmp_path: Path,
) -> None:
    """Two encodings of different sizes in one stream (an MPEG-TS, which allows it): the
    checks say the picture changes size and to re-encode it, never a numpy error."""
    from fractions import Fraction

    import av
    from ministudio.errors import MediaError
    from ministudio.qc.checks.footage import decode

    path = tmp_path / "two-sizes.ts"
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for size in ((320, 180), (160, 90)):
            encoder = av.CodecContext.create("libx264", "w")
            encoder.width, encoder.height, encoder.pix_fmt = *size, "yuv420p"
            encoder.time_base = Fraction(1, 24)
            for i in range(24):
                picture = np.full((size[1], size[0], 3), i * 10, np.uint8)
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts, frame.time_base = i + (24 if size[0] == 160 else 0), Fraction(1, 24)
                for packet in encoder.encode(frame.reformat(format="yuv420p")):
                    packet.stream = stream
                    out.mux(packet)
            for packet in encoder.encode(None):
                packet.stream = stream
                out.mux(packet)
    with pytest.raises(
        MediaError, match=r"changes size mid-stream \(320x180 to 160x90\).*re-encode"
    ):
        decode(path)
