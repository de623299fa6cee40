"""Loudness normalisation: every film's soundtrack at -16 LUFS, its true peaks under -1 dBTP."""

from __future__ import annotations

import wave
from pathlib import Path

import anyio
import numpy as np
import pytest
from ministudio.media.audio import AudioTrack, normalise, true_level
from ministudio.media.film import FilmAssembly, Spoken
from ministudio.media.loudness import LOUDNESS_TARGET, PEAK_CEILING, integrated_loudness
from ministudio.qc.checks import check_sound, decode, sound
from ministudio.qc.checks import synthetic as syn

RATE = syn.RATE
CEILING = 10 ** (PEAK_CEILING / 20)


def line(seconds: float = 2.0, seed: int = 1, db: float = 0.0) -> np.ndarray:
    """A speech-like line at -16 LUFS + ``db``."""
    samples: np.ndarray = syn.speech(seconds, [(0.1, seconds - 0.1)], seed) * 10 ** (db / 20)
    return samples


def track_of(*lines: tuple[np.ndarray, float], seconds: float = 20.0) -> AudioTrack:
    track = AudioTrack(RATE, seconds)
    for samples, at in lines:
        track.place(samples, at)
    return track


@pytest.mark.parametrize("db", [-20.0, 12.0])
def test_quiet_and_loud_tracks_come_out_at_the_target(db: float) -> None:
    track = track_of(*((line(seed=k, db=db), 1.0 + 4 * k) for k in range(4)))
    done = normalise(track)
    assert done.measured_lufs is not None and not done.limited
    assert done.gain_db == pytest.approx(LOUDNESS_TARGET - done.measured_lufs, abs=0.01)
    assert abs(done.gain_db + db) < 1  # the pauses between lines are gated out
    assert integrated_loudness(track.samples, RATE) == pytest.approx(LOUDNESS_TARGET, abs=0.5)
    assert float(np.abs(track.samples).max()) <= CEILING + 1e-6


def test_a_peaky_track_is_limited_under_the_ceiling_and_still_reaches_the_target() -> None:
    speech = line(8.0, db=-8.0)
    for at in np.random.default_rng(0).integers(RATE, 7 * RATE, 25):
        speech[at : at + 30] = 0.95  # clicks, far over the speech
    track = track_of((speech, 2.0))
    done = normalise(track)
    assert done.limited and done.true_peak_dbtp is not None
    assert done.true_peak_dbtp >= 20 * np.log10(0.95)  # a click's edges overshoot between samples
    mixed = track.samples
    assert float(true_level(mixed).max()) <= CEILING * 1.01
    assert integrated_loudness(mixed, RATE) == pytest.approx(LOUDNESS_TARGET, abs=0.5)
    assert done.lufs == pytest.approx(integrated_loudness(mixed, RATE), abs=0.01)


def test_peaks_between_samples_are_limited_too() -> None:
    """A tone at a quarter of the sample rate, sampled 45 degrees off its crests: every sample
    is at 0.71 of the wave's true peak (ITU-R BS.1770-4 annex 2 reads it by oversampling)."""
    n = np.arange(4 * RATE)
    wave = (0.5 * np.sin(np.pi / 2 * n + np.pi / 4)).astype(np.float32)
    assert float(true_level(wave[100:-100]).max()) == pytest.approx(0.5, abs=0.01)
    assert float(np.abs(wave).max()) == pytest.approx(0.354, abs=0.01)
    track = track_of((wave, 0.0))
    done = normalise(track, target=0.0)  # loud enough that only the true peak is over
    assert done.limited and float(np.abs(track.samples).max()) < CEILING
    assert float(true_level(track.samples)[100:-100].max()) <= CEILING * 1.01


def test_limited_reads_join_exactly_and_the_streamed_measure_is_the_whole_one() -> None:
    """The film is encoded a stretch at a time: stretches of the limited track join without
    a seam, and the measure over the track's sound alone equals the one over all of it."""
    loud = line(3.0, db=-10.0)
    loud[RATE : RATE + 50] = 0.9
    track = track_of((loud, 0.5), (line(2.0, seed=2, db=-10.0), 2.5))
    done = normalise(track)
    assert done.limited
    whole = track.samples
    pieces = np.concatenate([track.read(lo, lo + 4321) for lo in range(0, track.size, 4321)])
    np.testing.assert_array_equal(pieces[: track.size], whole)
    assert done.lufs == pytest.approx(integrated_loudness(whole, RATE), abs=0.006)


def test_a_silent_track_is_left_alone() -> None:
    empty = track_of()
    assert normalise(empty).measured_lufs is None
    assert empty.ceiling is None and not empty.samples.any()
    short = AudioTrack(RATE, 0.3)  # shorter than one 400 ms block: no loudness
    short.place(np.full(100, 0.5, np.float32), 0.1)
    done = normalise(short)
    assert (done.measured_lufs, done.gain_db, done.lufs) == (None, 0.0, None)
    assert float(short.samples.max()) == 0.5


def test_a_click_alone_gets_a_bounded_top_up() -> None:
    """All peak and no body: limiting eats the gain, which stops 6 dB over the plain one."""
    click = track_of((np.full(100, 0.5, np.float32), 1.0))
    done = normalise(click)
    assert done.limited and done.measured_lufs is not None and done.lufs is not None
    assert done.gain_db == pytest.approx(LOUDNESS_TARGET - done.measured_lufs + 6, abs=0.01)
    assert done.lufs < LOUDNESS_TARGET and float(np.abs(click.samples).max()) <= CEILING + 1e-6


def test_a_film_without_lines_is_left_alone(tmp_path: Path) -> None:
    clip = syn.write(tmp_path / "c.mp4", syn.frames(syn.place(1, 640, 360), 320, 180, 24), 24)
    film = FilmAssembly(tmp_path, width=320, height=180, fps=24, limiter=anyio.CapacityLimiter(1))
    film.open([], 1.0)
    assert film.loudness is not None and film.loudness.measured_lufs is None
    assert film.loudness.gain_db == 0.0
    anyio.run(film.append_ready, [(True, clip)])
    film.close(["s1"])
    assert decode(tmp_path / "film.mp4").audio is not None


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def test_voiced_lines_and_native_sound_are_each_brought_to_the_target(tmp_path: Path) -> None:
    """Voiced lines are normalised as mixed when the film opens; a clip's own sound, placed
    later, on its own before it goes in (the track before it is already encoded)."""
    voiced = write_wav(tmp_path / "a.wav", line(3.0, db=-8.0))
    native = write_wav(tmp_path / "native.wav", line(3.0, seed=3, db=-12.0))
    film = FilmAssembly(tmp_path, width=320, height=180, fps=24, limiter=anyio.CapacityLimiter(1))
    film.open([Spoken(voiced, 0.0, 3.0, "Hi.", "Ann")], 8.0)
    assert film.loudness is not None
    assert film.loudness.measured_lufs == pytest.approx(-24.0, abs=0.5)
    assert film.loudness.lufs == pytest.approx(LOUDNESS_TARGET, abs=0.1)
    done = anyio.run(film.place_audio, native, 4.0, 3.0, "veo")
    assert done.measured_lufs == pytest.approx(-28.0, abs=0.5)
    track = film._track
    assert track is not None
    for lo, hi in ((0.0, 3.0), (4.0, 7.0)):
        part = track.samples[round(lo * RATE) : round(hi * RATE)]
        assert integrated_loudness(part, RATE) == pytest.approx(LOUDNESS_TARGET, abs=0.5)
    assert integrated_loudness(track.samples, RATE) == pytest.approx(LOUDNESS_TARGET, abs=0.5)
    film.abort()


def test_a_rendered_film_passes_the_loudness_check(tmp_path: Path) -> None:
    """eSpeak's lines are quieter than the web target, with peaks near full scale: the
    finished film (through the AAC encoder) still lands on it, without clipping."""
    from ministudio.run.render import render
    from ministudio.run.store import ContentStore

    from .conftest import tiny_production

    manifest = render(tiny_production(), tmp_path / "out", store=ContentStore(tmp_path / "s"))
    film = decode(tmp_path / "out" / "film.mp4")
    assert film.audio is not None
    verdicts = {v.check: v for v in check_sound(film.audio, film.sample_rate)}
    assert verdicts["loudness"].passed and verdicts["clipping"].passed, verdicts
    lufs = integrated_loudness(film.audio, film.sample_rate)
    assert lufs == pytest.approx(LOUDNESS_TARGET, abs=0.5)
    recorded = manifest.loudness  # what was done, for the user
    assert recorded is not None and recorded.measured_lufs is not None
    assert recorded.measured_lufs < LOUDNESS_TARGET - 1 and recorded.gain_db > 1
    assert recorded.lufs == pytest.approx(lufs, abs=0.2)  # what the film measures
    assert recorded.true_peak_dbtp is not None
    assert sound.true_peak(film.audio).passed  # under -1 dBTP after the AAC encoder


def test_the_true_peak_oversamples_only_where_it_can_pass_the_sample_peak() -> None:
    """``true_peak_level`` skips blocks that cannot beat the sample peak: on speech, noise,
    a near-Nyquist tone, alternating full-scale samples and clipped noise it returns exactly
    what oversampling everything does."""
    from ministudio.media.audio import true_level, true_peak_level

    rng = np.random.default_rng(7)
    signals = [
        syn.speech(20.0, [(1.0, 9.0), (11.0, 19.0)], seed=3),
        rng.normal(0, 0.2, 50_000).astype(np.float32),
        np.clip(rng.normal(0, 0.6, 30_000), -1, 1).astype(np.float32),
        (0.9 * np.sin(np.arange(48_000) * 2 * np.pi * 11_000 / 48_000)).astype(np.float32),
        np.tile(np.float32([0.7, -0.7]), 4000),
        np.float32([0.5]),
        np.zeros(3, np.float32),
    ]
    for x in signals:
        assert true_peak_level(x) == float(true_level(x).max(initial=0.0))
