"""Issue 17: a `continue` shot starts from the frame its previous clip ends on as soon as that
clip is in, not once the clip is fitted and checked (benchmarks/continue_links.py measures
it); the frame is the fit's own; a store filled before keeps its continue shots' keys."""

from __future__ import annotations

import threading
import time
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from ministudio import hookimpl
from ministudio.errors import MediaError
from ministudio.media.film import FilmAssembly
from ministudio.media.fit import fit_clip, fitted_last_frame, last_frame_png
from ministudio.plugins import PluginHost
from ministudio.remote.pacing import RetryPolicy
from ministudio.run.render import RenderOptions, render
from ministudio.run.store import ContentStore, file_hash, job_key
from ministudio.spec import Production
from PIL import Image

from .fakes.sim_server import SimServer
from .test_sim_engine import _load_plugin

FAST = RetryPolicy(attempts=6, base=0.02, cap=0.2)


# -- the frame ------------------------------------------------------------------------------
def _clip(path: Path, fps: int, count: int, options: dict[str, str], start: int = 0) -> Path:
    """A 320x180 clip whose every frame differs (a colour ramp and moving lines)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for i in range(count):
            rgb = np.zeros((180, 320, 3), np.uint8)
            rgb[..., 0] = (i * 7) % 256
            rgb[:, (i * 3) % 320] = 255
            rgb[(i * 2) % 180] = 128
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i + start, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(
    ("fps", "count", "options", "start"),
    [
        (12, 60, {}, 0),  # one keyframe: decoded from the start
        (24, 120, {"g": "12", "bf": "2"}, 0),  # short GOPs and B-frames: found by seeking
        (30, 150, {"g": "30", "bf": "3"}, 48),  # a stream that does not start at 0
    ],
)
@pytest.mark.parametrize(("size", "rate", "frames"), [((640, 360), 24, 96), ((360, 640), 25, 200)])
def test_the_continue_frame_is_the_fits_last_picture(
    tmp_path: Path,
    fps: int,
    count: int,
    options: dict[str, str],
    start: int,
    size: tuple[int, int],
    rate: int,
    frames: int,
) -> None:
    """What ``fitted_last_frame`` takes from the engine's clip is what the fitted clip ends on
    (trimmed, or padded with its last frame), up to the encoder's rounding."""
    src = _clip(tmp_path / "src.mp4", fps, count, options, start)
    width, height = size
    fitted = fit_clip(
        src, tmp_path / "fit.mp4", width=width, height=height, fps=rate, frames=frames
    )
    ours = fitted_last_frame(
        src, tmp_path / "ours.png", width=width, height=height, fps=rate, frames=frames
    )
    theirs = last_frame_png(fitted, tmp_path / "theirs.png")
    a = np.asarray(Image.open(ours), dtype=np.int16)
    b = np.asarray(Image.open(theirs), dtype=np.int16)
    assert a.shape == b.shape == (height, width, 3)
    assert float(np.abs(a - b).mean()) < 1.5  # the same picture, less the encoder's rounding
    # another moment of the clip is told apart by far more
    other = fitted_last_frame(
        src, tmp_path / "other.png", width=width, height=height, fps=rate, frames=frames // 2
    )
    c = np.asarray(Image.open(other), dtype=np.int16)
    assert float(np.abs(a - c).mean()) > 5 * float(np.abs(a - b).mean())


# -- in a render ----------------------------------------------------------------------------
def _chain(shots: int = 2, **qc: Any) -> Production:
    return Production.model_validate(
        {
            "title": "Links",
            "format": {"aspect_ratio": "16:9", "resolution": "480p", "fps": 24},
            "characters": {"ann": {"name": "Ann", "dna": "a woman in a red coat"}},
            "environments": {"park": {"description": "a park"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [
                        {
                            "id": f"s{i + 1}",
                            "action": f"Ann does thing number {i + 1}",
                            "duration": 2,
                            "continuity": "continue" if i else "cut",
                        }
                        for i in range(shots)
                    ],
                }
            ],
            "routing": {"video": "sim"},
            **({"qc": qc} if qc else {}),
        }
    )


class Watching:
    """A check that, on the first shot, waits (up to ``patience`` s) for the second shot's
    submission and notes how many the engine had accepted when it was done waiting (at each
    shot's first check)."""

    def __init__(self, server: SimServer, patience: float) -> None:
        self.server, self.patience = server, patience
        self.seen: dict[str, int] = {}

    @hookimpl
    def qc_check(self, shot: Any) -> list[Any]:
        if shot.shot_id == "s1":
            deadline = time.monotonic() + self.patience
            while self.server.submissions < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
        self.seen.setdefault(shot.shot_id, self.server.submissions)  # at its first check
        return []


def _render(film: Production, server: SimServer, host: PluginHost, out: Path, store: Path) -> Any:
    return render(
        film,
        out,
        host=host,
        store=ContentStore(store),
        env={"SIM_BASE_URL": server.base_url, "SIM_API_KEY": server.api_key},
        options=RenderOptions(retry=FAST),
    )


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> PluginHost:
    monkeypatch.setenv("SIM_EXPECTED_LATENCY", "0.2")
    plugins = PluginHost()
    plugins.register(_load_plugin(), "sim")
    return plugins


def test_the_next_shot_is_sent_while_the_previous_one_is_checked(
    host: PluginHost, tmp_path: Path
) -> None:
    with SimServer(latency=0.2) as server:
        watching = Watching(server, patience=30.0)
        host.register(watching, "watching")
        manifest = _render(_chain(3), server, host, tmp_path / "out", tmp_path / "store")
        jobs = sorted(server.jobs.values(), key=lambda job: job.submitted_at)
    assert watching.seen["s1"] >= 2  # s2 was accepted while s1's checks ran
    assert [job.first_frame for job in jobs] == [False, True, True]
    assert all(after.submitted_at >= before.done_at for before, after in pairwise(jobs))
    # each seam is still checked against the shot before, whose frames come with its checks
    assert [any(v.check == "seam" for v in s.qc) for s in manifest.shots] == [False, True, True]


def test_with_retakes_the_next_shot_waits_for_the_checks(host: PluginHost, tmp_path: Path) -> None:
    """A retake could replace the clip, and with it the frame the next shot starts from."""
    with SimServer(latency=0.2) as server:
        watching = Watching(server, patience=1.0)
        host.register(watching, "watching")
        _render(_chain(2, retakes=1), server, host, tmp_path / "out", tmp_path / "store")
    assert watching.seen["s1"] == 1


def test_a_frame_taken_by_an_earlier_version_keeps_its_shots_keys(
    host: PluginHost, tmp_path: Path
) -> None:
    """Before, the frame was grabbed from the fitted clip and filed under that clip's hash;
    where such a frame is in the store, the `continue` shot is still sent with it."""
    store = tmp_path / "store"
    with SimServer(latency=0.1) as server:
        first = _render(_chain(), server, host, tmp_path / "a", store)
        earlier = tmp_path / "earlier.png"
        Image.new("RGB", (854, 480), (10, 200, 30)).save(earlier)
        old_key = job_key("last-frame", {"clip": first.shots[0].output_hash})
        ContentStore(store).put(old_key, earlier, ".png")
        edited = _chain().model_dump()
        edited["scenes"][0]["shots"][1]["action"] = "Ann does something else"
        again = _render(Production.model_validate(edited), server, host, tmp_path / "b", store)
        assert server.submissions == 3
    assert again.shots[1].inputs["first_frame"] == job_key("first_frame", file_hash(earlier))[:12]
    assert first.shots[1].inputs["first_frame"] != again.shots[1].inputs["first_frame"]


def test_a_film_that_cannot_be_opened_fails_the_render_with_its_reason(
    host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The film is opened beside the first shots; its failure still ends the render plainly."""
    opened = threading.Event()

    def broken(self: FilmAssembly, lines: Any, duration: float) -> None:
        opened.set()
        raise MediaError("no room for film.mp4")

    monkeypatch.setattr(FilmAssembly, "open", broken)
    with SimServer(latency=0.1) as server, pytest.raises(MediaError, match="no room"):
        _render(_chain(), server, host, tmp_path / "out", tmp_path / "store")
    assert opened.is_set() and not (tmp_path / "out" / "film.mp4").exists()
