"""The media layer (PyAV, in-process): probe, fit, audio, subtitles, assembly, contact sheet."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import pytest
from ministudio.errors import MediaError
from ministudio.media.assemble import FilmWriter, assemble_film
from ministudio.media.audio import AudioTrack, read_wav, resample
from ministudio.media.contact_sheet import cell_origin, label_height, sheet_size
from ministudio.media.contact_sheet import contact_sheet as make_contact_sheet
from ministudio.media.encode import VideoWriter
from ministudio.media.fit import fit_clip, frame_at, last_frame_png
from ministudio.media.probe import probe
from ministudio.media.subtitles import Cue, to_srt, to_vtt
from PIL import Image

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 30), (30, 30, 220)


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 24) -> Path:
    h, w = frames[0].shape[:2]
    with VideoWriter(path, w, h, fps) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def solid(colour: tuple[int, int, int], n: int, w: int = 320, h: int = 180) -> list[np.ndarray]:
    return [np.full((h, w, 3), colour, np.uint8) for _ in range(n)]


def greys(n: int, step: int, w: int = 320, h: int = 180) -> list[np.ndarray]:
    """Frame i is flat grey at level 10 + i * step: its index can be read back from a pixel."""
    return [np.full((h, w, 3), 10 + i * step, np.uint8) for i in range(n)]


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def level(frame: np.ndarray) -> float:
    return float(frame.astype(np.float64).mean())


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    return {
        "grey10": write_clip(d / "grey10.mp4", greys(10, 20)),
        "grey48": write_clip(d / "grey48.mp4", greys(48, 4)),
        "grey30fps": write_clip(d / "grey30fps.mp4", greys(60, 4), fps=30),
        "red": write_clip(d / "red.mp4", solid(RED, 12)),
        "green": write_clip(d / "green.mp4", solid(GREEN, 18)),
        "blue": write_clip(d / "blue.mp4", solid(BLUE, 24)),
    }


# -- probe ---------------------------------------------------------------------------------


def test_probe_reports_the_clip(clips: dict[str, Path]) -> None:
    info = probe(clips["grey48"])
    assert (info.width, info.height, info.fps, info.frames) == (320, 180, 24.0, 48)
    assert info.duration == pytest.approx(2.0)
    assert (info.video_codec, info.pix_fmt) == ("h264", "yuv420p")
    assert not info.has_audio and not info.has_subtitles
    assert info.size_bytes == clips["grey48"].stat().st_size


def test_probe_rejects_missing_empty_and_truncated(clips: dict[str, Path], tmp_path: Path) -> None:
    data = clips["grey48"].read_bytes()
    (tmp_path / "half.mp4").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.mp4").write_bytes(b"")
    for name in ("half.mp4", "empty.mp4", "missing.mp4"):
        with pytest.raises(MediaError, match="re-render or re-download"):
            probe(tmp_path / name)
    with pytest.raises(MediaError, match="truncated"):
        probe(tmp_path / "half.mp4")


def test_probe_rejects_truncated_faststart_file(clips: dict[str, Path], tmp_path: Path) -> None:
    # the index is at the front, so the file opens; the missing frames must still be caught
    film = assemble_film(
        [clips["grey48"]], None, 48000, [], tmp_path / "film.mp4", width=320, height=180, fps=24
    )
    data = film.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(MediaError, match="truncated"):
        probe(cut)


# -- fit -----------------------------------------------------------------------------------


def test_fit_pads_by_holding_the_last_frame(clips: dict[str, Path], tmp_path: Path) -> None:
    out = fit_clip(clips["grey10"], tmp_path / "pad.mp4", width=320, height=180, fps=24, frames=16)
    assert probe(out).frames == 16
    source, fitted = decoded(clips["grey10"]), decoded(out)
    for i in range(10):
        assert level(fitted[i]) == pytest.approx(level(source[i]), abs=2)
    for frame in fitted[10:]:
        assert level(frame) == pytest.approx(level(source[-1]), abs=2)


def test_fit_trims_to_the_exact_frame(clips: dict[str, Path], tmp_path: Path) -> None:
    out = fit_clip(clips["grey10"], tmp_path / "trim.mp4", width=320, height=180, fps=24, frames=6)
    info = probe(out)
    assert info.frames == 6 and info.duration == pytest.approx(6 / 24)
    assert level(decoded(out)[-1]) == pytest.approx(level(decoded(clips["grey10"])[5]), abs=2)


def test_fit_cover_crops_landscape_into_portrait(tmp_path: Path) -> None:
    # 640x360: red | green centre band | blue, white stripe along the top of the band.
    frame = np.zeros((360, 640, 3), np.uint8)
    frame[:, :200] = RED
    frame[:, 200:440] = GREEN
    frame[:, 440:] = BLUE
    frame[:20, 200:440] = 255
    src = write_clip(tmp_path / "wide.mp4", [frame] * 4)
    out = fit_clip(src, tmp_path / "tall.mp4", width=180, height=320, fps=24, frames=4)
    info = probe(out)
    assert (info.width, info.height) == (180, 320)
    picture = decoded(out)[0].astype(int)
    # the centre of the picture fills the frame: no bars, no squeezed side bands
    body = picture[40:, 8:-8]
    assert np.abs(body - np.array(GREEN)).max() < 40
    # full height kept: the stripe at the source's top is at the output's top
    assert picture[:12, 20:-20].min() > 200


def test_fit_converts_30_to_24_fps(clips: dict[str, Path], tmp_path: Path) -> None:
    out = fit_clip(
        clips["grey30fps"], tmp_path / "24.mp4", width=320, height=180, fps=24, frames=48
    )
    info = probe(out)
    assert (info.fps, info.frames) == (24.0, 48)
    assert info.duration == pytest.approx(2.0)
    fitted = decoded(out)
    for k in (0, 1, 7, 23, 47):  # output frame k shows source frame floor(k * 30 / 24)
        assert level(fitted[k]) == pytest.approx(10 + (k * 30 // 24) * 4, abs=2)


def test_fit_fast_path_leaves_a_matching_clip_untouched(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    src = clips["grey48"]
    out = fit_clip(src, tmp_path / "same.mp4", width=320, height=180, fps=24, frames=48)
    assert out.read_bytes() == src.read_bytes()
    before = src.stat().st_mtime_ns
    assert fit_clip(src, src, width=320, height=180, fps=24, frames=48) == src
    assert src.stat().st_mtime_ns == before


def test_frame_grabs(clips: dict[str, Path], tmp_path: Path) -> None:
    source = decoded(clips["grey10"])
    png = last_frame_png(clips["grey10"], tmp_path / "last.png")
    last = np.asarray(Image.open(png).convert("RGB"))
    assert last.shape == (180, 320, 3)
    assert level(last) == pytest.approx(level(source[-1]), abs=2)
    middle = np.asarray(frame_at(clips["grey10"], 5 / 24 + 0.01))
    assert level(middle) == pytest.approx(level(source[5]), abs=2)


# -- audio ---------------------------------------------------------------------------------


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * rate / samples.size)


def test_resample_keeps_duration_and_pitch() -> None:
    t = np.arange(22050 * 2) / 22050
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = resample(tone, 22050, 48000)
    assert out.dtype == np.float32 and out.size == 96000
    assert peak_hz(out, 48000) == pytest.approx(440, abs=1)
    expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(out.size) / 48000)
    assert np.abs(out[1000:-1000] - expected[1000:-1000]).max() < 1e-3
    down = resample(out, 48000, 16000)
    assert down.size == 32000 and peak_hz(down, 16000) == pytest.approx(440, abs=1)


def test_read_wav_mixes_to_mono_float(tmp_path: Path) -> None:
    left = (np.sin(2 * np.pi * 300 * np.arange(8000) / 16000) * 16000).astype(np.int16)
    stereo = np.stack([left, left // 2], axis=1)
    with wave.open(str(tmp_path / "a.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(stereo.tobytes())
    samples, rate = read_wav(tmp_path / "a.wav")
    assert rate == 16000 and samples.dtype == np.float32 and samples.shape == (8000,)
    np.testing.assert_allclose(samples, (left * 0.75) / 32768, atol=1e-4)
    with pytest.raises(MediaError):
        read_wav(tmp_path / "missing.wav")


def test_audio_track_places_at_the_sample() -> None:
    track = AudioTrack(1000, 1.0)
    assert track.samples.size == 1000 and track.duration == 1.0
    assert track.place(np.full(10, 0.5, np.float32), 0.25) == 10
    assert np.count_nonzero(track.samples) == 10
    assert (track.samples[250:260] == 0.5).all()
    track.place(np.full(5, 0.8, np.float32), 0.252)  # overlaps: mixed, clamped to 1.0
    np.testing.assert_allclose(track.samples[250:262], [0.5, 0.5] + [1.0] * 5 + [0.5] * 3 + [0, 0])
    assert track.place(np.ones(100, np.float32), 0.95) == 50  # cut at the end
    assert track.samples.dtype == np.float32


# -- subtitles -----------------------------------------------------------------------------

CUES = [
    Cue(62.5, 64.25, "Where is it?", speaker="ANN"),
    Cue(0.0, 1.5, "Tom & <Jerry>\n\nrun"),
]


def test_srt_text() -> None:
    assert to_srt(CUES) == (
        "1\n00:00:00,000 --> 00:00:01,500\nTom & <Jerry>\nrun\n"
        "\n"
        "2\n00:01:02,500 --> 00:01:04,250\nANN: Where is it?\n"
    )


def test_vtt_text() -> None:
    assert to_vtt(CUES) == (
        "WEBVTT\n"
        "\n"
        "00:00:00.000 --> 00:00:01.500\nTom &amp; &lt;Jerry&gt;\nrun\n"
        "\n"
        "00:01:02.500 --> 00:01:04.250\n<v ANN>Where is it?\n"
    )


def test_cue_rejects_backwards_times() -> None:
    with pytest.raises(ValueError):
        Cue(2.0, 1.0, "no")


# -- assembly ------------------------------------------------------------------------------


def read_subtitles(path: Path) -> list[tuple[float, float, str]]:
    found = []
    with av.open(str(path)) as container:
        stream = container.streams.subtitles[0]
        assert stream.codec_context.name == "mov_text"
        assert stream.metadata.get("language") == "eng"
        for packet in container.demux(stream):
            if not packet.size or packet.pts is None:
                continue
            for sub in packet.decode():
                text = sub.ass.decode().split(",", 8)[8].replace("\\N", "\n")
                if text:
                    start = float(packet.pts * packet.time_base)
                    found.append((start, start + float(packet.duration * packet.time_base), text))
    return found


def test_film_writer_joins_clips_with_audio_and_subtitles(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    frames = 12 + 18 + 24
    rate = 48000
    audio = (0.3 * np.sin(2 * np.pi * 440 * np.arange(frames * rate // 24) / rate)).astype(
        np.float32
    )
    cues = [Cue(0.2, 0.9, "First & <one>", speaker="ANN"), Cue(1.0, 2.0, "Second\nline")]
    with FilmWriter(tmp_path / "film.mp4", width=320, height=180, fps=24, sample_rate=rate) as film:
        film.set_audio(audio)  # known up front: written as the video goes
        film.append_clip(clips["red"])
        film.set_cues(cues)
        film.append_clip(clips["green"])
        film.append_clip(clips["blue"])
    out = film.output
    assert not list(tmp_path.glob(".*partial"))

    info = probe(out)
    assert info.has_audio and info.has_subtitles
    assert info.frames == frames
    assert abs(info.duration - audio.size / rate) <= 1 / 24
    with av.open(str(out)) as container:
        kinds = [s.type for s in container.streams]
        assert kinds == ["video", "audio", "subtitle"]
        assert container.streams.audio[0].codec_context.name == "aac"
        assert container.streams.audio[0].codec_context.sample_rate == rate
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart

    pictures = decoded(out)
    assert len(pictures) == frames
    expected = [RED] * 12 + [GREEN] * 18 + [BLUE] * 24
    for i, (picture, colour) in enumerate(zip(pictures, expected, strict=True)):
        assert np.abs(picture[90, 160].astype(int) - colour).max() < 12, f"frame {i}"

    subs = read_subtitles(out)
    assert [t for _, _, t in subs] == ["ANN: First & <one>", "Second\nline"]
    assert [(round(a, 3), round(b, 3)) for a, b, _ in subs] == [(0.2, 0.9), (1.0, 2.0)]


def test_film_writer_reencodes_a_clip_in_another_format(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    other = write_clip(tmp_path / "other.mp4", solid(GREEN, 15, w=640, h=360), fps=30)
    out = assemble_film(
        [clips["red"], other],
        None,
        48000,
        [Cue(0.1, 5.0, "cut at the end")],
        tmp_path / "film.mp4",
        width=320,
        height=180,
        fps=24,
    )
    info = probe(out)
    assert (info.width, info.height, info.frames) == (320, 180, 12 + 12)
    assert info.duration == pytest.approx(1.0, abs=1 / 24)
    assert read_subtitles(out)[0][1] == pytest.approx(1.0, abs=1 / 24)
    pictures = decoded(out)
    assert np.abs(pictures[-1][90, 160].astype(int) - GREEN).max() < 12


def test_film_writer_without_clips_fails_and_leaves_nothing(tmp_path: Path) -> None:
    film = FilmWriter(tmp_path / "film.mp4", width=320, height=180, fps=24)
    with pytest.raises(MediaError, match="no clips"):
        film.close()
    assert list(tmp_path.iterdir()) == []


# -- contact sheet -------------------------------------------------------------------------


def test_contact_sheet_vertical(tmp_path: Path) -> None:
    colours = [RED, GREEN, BLUE, (200, 200, 40), (200, 40, 200)]
    shots = [
        write_clip(tmp_path / f"s{i}.mp4", solid(c, 6, w=180, h=320)) for i, c in enumerate(colours)
    ]
    labels = [f"shot-{i}" for i in range(len(shots))]
    sheet_path = make_contact_sheet(
        shots, labels, tmp_path / "sheet.png", columns=3, thumb_width=90
    )
    thumb = (90, 160)
    width, height, cols, rows = sheet_size(len(shots), thumb, 3)
    assert (cols, rows) == (3, 2)
    sheet = np.asarray(Image.open(sheet_path).convert("RGB"))
    assert sheet.shape == (height, width, 3)
    assert height == 2 * (160 + label_height(90)) + 3 * 8
    for i, colour in enumerate(colours):
        x, y = cell_origin(i, thumb, cols)
        centre = sheet[y + 80, x + 45].astype(int)
        assert np.abs(centre - colour).max() < 16, f"thumbnail {i}"
        caption = sheet[y + 160 : y + 160 + label_height(90), x : x + 90]
        assert caption.max() > 150  # the label is drawn
