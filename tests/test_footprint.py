"""What a long render keeps and has in flight (issue 17: the 10-minute film's peak memory):
each shot's footage sample, its thumbnail, the decoders at once, the allocator's arenas."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from ministudio.media import memory
from ministudio.media.contact_sheet import contact_sheet_of
from ministudio.media.film import THUMB_WIDTH, _thumbnail
from ministudio.qc.checks import footage
from ministudio.qc.checks import synthetic as syn
from ministudio.qc.checks.continuity import sample
from PIL import Image

FPS = 24


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six seconds at 320x180: long enough for ``decode`` to split it at its middle."""
    pictures = syn.frames(syn.place(3, 640, 360), 320, 180, FPS * 6, move=(0.3, 0.1))
    return syn.write(tmp_path_factory.mktemp("clip") / "six.mp4", pictures, FPS)


def test_a_sample_keeps_only_its_frames_of_every_per_frame_array(clip: Path) -> None:
    whole = footage.decode(clip, sound=False)
    kept = sample(whole)
    assert whole.frames == FPS * 6 and kept.frames == 8
    assert whole.times is not None and kept.times is not None
    picks = [int(np.flatnonzero(whole.times == t)[0]) for t in kept.times]
    assert picks[0] == 0 and picks[-1] == whole.frames - 1
    for name in ("grey", "fine", "colour", "times"):
        assert len(getattr(kept, name)) == 8, name
        assert np.array_equal(getattr(kept, name), getattr(whole, name)[picks]), name
    # copies, not views that would keep the whole clip's arrays alive
    assert all(getattr(kept, n).base is None for n in ("grey", "fine", "colour", "times"))


def test_a_clip_is_decoded_in_two_halves_only_while_a_second_decoder_is_free(
    clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots = threading.BoundedSemaphore(2)
    monkeypatch.setattr(footage, "_DECODERS", slots)
    middles: list[float | None] = []
    split_decode = footage._split_decode

    def recorded(path, middle, grid, fps, pool):  # type: ignore[no-untyped-def]
        middles.append(middle)
        return split_decode(path, middle, grid, fps, pool)

    monkeypatch.setattr(footage, "_split_decode", recorded)
    alone = footage.decode(clip, sound=False)
    assert slots.acquire(blocking=False)  # another decode holds a decoder: one pass
    beside = footage.decode(clip, sound=False)
    slots.release()
    assert middles[0] is not None and middles[1] is None
    assert np.array_equal(alone.fine, beside.fine) and np.array_equal(alone.times, beside.times)
    assert slots.acquire(blocking=False) and slots.acquire(blocking=False)  # all given back


def test_thumbnails_are_kept_as_png_and_make_the_same_contact_sheet(
    clip: Path, tmp_path: Path
) -> None:
    png = _thumbnail(clip)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    picture = Image.open(io.BytesIO(png))
    assert picture.size == (THUMB_WIDTH, 180 * THUMB_WIDTH // 320)
    labels = ["s1 · wide · sim", "s2 · close · sim"]
    kept = contact_sheet_of([png, png], labels, tmp_path / "from-png.png")
    shown = contact_sheet_of([picture, picture], labels, tmp_path / "from-pictures.png")
    assert np.array_equal(np.asarray(Image.open(kept)), np.asarray(Image.open(shown)))


def test_the_allocator_settings_do_nothing_where_there_is_no_glibc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memory.release()  # on glibc: hands back free pages; anywhere: never raises
    default = 8 * (os.cpu_count() or 2)  # glibc's own limit: changes nothing here
    assert isinstance(memory.cap_arenas(default), bool)
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    assert memory.cap_arenas(2) is False
    memory.release()
