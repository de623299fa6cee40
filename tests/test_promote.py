"""Previz to final: the animatic's previz renders first (keyless), then each shot is promoted
by an engine that edits video, keeping the previz's length, timing and blocking; only what
changed is promoted again."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineSpec
from ministudio.jobs import VideoRequest, VideoResult
from ministudio.plugins import PluginHost
from ministudio.run.render import RenderOptions, plan, render

from tests.conftest import tiny_production


def regraded(source: Path, output: Path, *, mirror: bool = False) -> None:
    """``source``'s frames with their colours turned (what an engine restyling a previz
    does), or mirrored left to right (an engine ignoring its blocking)."""
    with av.open(str(source)) as src, av.open(str(output), "w") as out:
        inp = src.streams.video[0]
        stream = out.add_stream("libx264", rate=inp.average_rate)
        stream.width, stream.height, stream.pix_fmt = inp.width, inp.height, "yuv420p"
        for frame in src.decode(inp):
            rgb = frame.to_ndarray(format="rgb24")[:, :, ::-1]  # blue for red
            if mirror:
                rgb = rgb[:, ::-1]
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            out.mux(stream.encode(picture))
        out.mux(stream.encode(None))


class Promoter:
    """An engine that promotes a previz from its clip and depth passes (only), recording
    every request it is given; ``mirror`` makes a take ignoring the blocking, and ``words``
    renders a request without a previz (from words: the previz clip of nothing, grey)."""

    def __init__(self, mirror: int = 0) -> None:
        self.requests: list[VideoRequest] = []
        self.mirror = mirror  # how many takes to mirror, first ones first

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        caps = Capabilities(
            durations=(5.0, 10.0),
            resolutions=("360p",),
            first_frame=True,
            video_edit=("clip", "depth"),
            price_per_second=0.1,
        )
        return [EngineSpec(id="promoter", kind="video", capabilities=caps, revision=1)]

    @hookimpl
    def generate_video(self, engine: str, request: VideoRequest, output: Path) -> VideoResult:
        self.requests.append(request)
        if request.source is None:  # a clip from words: a still grey picture
            from ministudio.media.encode import VideoWriter

            with VideoWriter(output, request.width, request.height, request.fps) as writer:
                grey = np.full((request.height, request.width, 3), 128, np.uint8)
                for _ in range(round(request.duration * request.fps)):
                    writer.write(grey)
            return VideoResult(path=output, cost=0.5)
        mirror = self.mirror > 0
        self.mirror -= 1
        regraded(request.source.passes["clip"], output, mirror=mirror)
        return VideoResult(path=output, cost=0.5)


class FailsBlankTakes:
    """A check failing a take whose picture is one flat colour (the take from words)."""

    @hookimpl
    def qc_check(self, clip: Path):
        from ministudio.jobs import QCVerdict

        with av.open(str(clip)) as video:
            frame = next(video.decode(video=0)).to_ndarray(format="gray")
        blank = float(frame.std()) < 1.0
        return QCVerdict(check="blank", passed=not blank, score=0.0, reason="a blank picture")


def small(**overrides: object):
    """The tiny production at 360p (quick to render and promote)."""
    return tiny_production(format={"aspect_ratio": "16:9", "resolution": "360p"}, **overrides)


def promoting(**routing: object):
    return small(routing={"video": "promoter", "previz": "animatic", **routing})


def frames_of(path: Path) -> int:
    from ministudio.media.probe import probe

    return probe(path).frames


def test_every_shot_is_promoted_from_its_previz_and_an_edit_promotes_only_its_shot(
    store, tmp_path: Path
) -> None:
    host, engine = PluginHost(), Promoter()
    host.register(engine, "promoter")
    manifest = render(promoting(), tmp_path / "out", host=host, store=store)
    assert [r.source is not None for r in engine.requests] == [True, True]
    previz = type(manifest).of_folder(tmp_path / "out" / "previz")
    assert previz.previz and not manifest.previz
    for shot, request, sketch in zip(manifest.shots, engine.requests, previz.shots, strict=True):
        assert request.source is not None
        assert sorted(request.source.passes) == ["clip", "depth"]  # what it declares, no mask
        assert request.duration == pytest.approx(shot.duration)  # the previz's, not 5 or 10 s
        assert request.source.frames == shot.frames == sketch.frames
        for path in request.source.passes.values():
            assert frames_of(path) == shot.frames
        assert shot.previz is not None and shot.previz.passes == sketch.passes
        assert shot.engine == "promoter" and "its previz (clip, depth)" in shot.conditioning
        follows = [v for v in shot.qc if v.check == "follows-previz"]
        assert follows and follows[0].passed, follows
    assert (tmp_path / "out" / "previz" / "film.mp4").is_file()

    # changing one line of dialogue promotes that shot alone again
    data = promoting().model_dump()
    data["scenes"][0]["shots"][1]["dialogue"][0]["text"] = "Hi Ann, what a day!"
    edited = type(promoting()).model_validate(data)
    again = render(edited, tmp_path / "out", host=host, store=store)
    assert len(engine.requests) == 3  # two first, then the edited shot alone
    assert engine.requests[-1].shot.shot_id == "reply"
    assert {s.id: s.cached for s in again.shots} == {"hello": True, "reply": False}


def test_a_final_that_ignores_its_previz_is_flagged_and_promoted_again(
    store, tmp_path: Path
) -> None:
    host, engine = PluginHost(), Promoter(mirror=1)
    host.register(engine, "promoter")
    production = promoting().model_copy(
        update={"qc": promoting().qc.model_copy(update={"retakes": 1, "ladder": ["seed"]})}
    )
    manifest = render(production, tmp_path / "out", host=host, store=store)
    first = manifest.shots[0]
    assert [t.rung for t in first.takes] == ["first", "seed"]
    flagged = [v for v in first.takes[0].qc if v.check == "follows-previz"]
    assert flagged and not flagged[0].passed
    assert first.takes[1].kept and engine.requests[-1].source is not None


def test_the_promote_rung_makes_a_failing_take_from_the_previz(store, tmp_path: Path) -> None:
    host, engine = PluginHost(), Promoter()
    host.register(engine, "promoter")
    production = small(  # no previz: the first takes are made from words
        routing={"video": "promoter"}, qc={"retakes": 1, "ladder": ["promote"]}
    )
    host.register(FailsBlankTakes(), "fails-blank-takes")
    manifest = render(production, tmp_path / "out", host=host, store=store)
    # the take from words fails a check; the rung promotes the previz instead
    for shot in manifest.shots:
        assert [t.rung for t in shot.takes] == ["first", "promote"], shot.qc
        assert shot.previz is not None and shot.takes[1].kept
    assert [r.source is None for r in engine.requests] == [True, True, False, False]


def test_plan_prices_each_promotion_from_its_previz(store, tmp_path: Path) -> None:
    host = PluginHost()
    host.register(Promoter(), "promoter")
    film = plan(promoting(), tmp_path / "out", host=host, store=store)
    shots = {s.id: s for s in film.shots}
    assert set(shots) == {"hello", "reply"}
    for shot in shots.values():
        assert not shot.cached and shot.reason.startswith("promotes its previz")
        assert shot.requested == pytest.approx(shot.duration)  # the previz's length
        assert shot.cost == pytest.approx(0.1 * shot.duration)


def test_previz_then_promote_chosen_shots(store, tmp_path: Path) -> None:
    host, engine = PluginHost(), Promoter()
    host.register(engine, "promoter")
    out = tmp_path / "out"
    sketch = render(promoting(), out, host=host, store=store, options=RenderOptions(previz=True))
    assert sketch.previz and {s.engine for s in sketch.shots} == {"animatic"}
    assert not engine.requests
    one = render(
        promoting(),
        out,
        host=host,
        store=store,
        options=RenderOptions(promote=frozenset({"reply"})),
    )
    assert {s.id: s.engine for s in one.shots} == {"hello": "animatic", "reply": "promoter"}
    assert one.shots[0].cached  # the approved previz, from the store
    assert len(engine.requests) == 1
    both = render(promoting(), out, host=host, store=store)
    assert {s.engine for s in both.shots} == {"promoter"}
    assert len(engine.requests) == 2  # reply came from the store


def test_promote_cli_promotes_the_folders_previz(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from ministudio.cli import cli

    production = tmp_path / "film.yaml"
    production.write_text(
        "title: Tiny\n"
        "format: {resolution: 360p}\n"
        "environments: {park: {description: a green park}}\n"
        "scenes:\n"
        "  - {id: one, environment: park, shots: [{id: a, action: A kite rises, duration: 1}]}\n"
        "routing: {video: animatic}\n",
        encoding="utf-8",
    )
    out, store_dir = tmp_path / "out", tmp_path / "store"
    runner = CliRunner()
    made = runner.invoke(
        cli, ["render", str(production), "--previz", "-o", str(out), "--store", str(store_dir)]
    )
    assert made.exit_code == 0, made.output
    assert "ministudio promote" in made.output
    refused = runner.invoke(cli, ["promote", str(out), "--shots", "a", "--store", str(store_dir)])
    assert refused.exit_code != 0
    assert "its engine edits no video" in str(refused.exception)


def test_a_previz_engine_that_makes_no_passes_is_refused_before_any_work(tmp_path: Path) -> None:
    from ministudio.errors import CapabilityError, UnknownEngineError

    host = PluginHost()
    host.register(Promoter(), "promoter")
    with pytest.raises(UnknownEngineError, match=r"routing\.previz"):
        render(promoting(previz="no-such-engine"), tmp_path / "a", host=host)
    with pytest.raises(CapabilityError, match="makes no control passes"):
        render(promoting(previz="promoter"), tmp_path / "b", host=host)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
