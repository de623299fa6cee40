"""Capabilities per model and mode: the plan picks, per shot, the variant of the routed model
that takes the shot's inputs, prices it, and says what it had to leave out or why it cannot."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec, Model, Variant
from ministudio.errors import CapabilityError, EngineRefusal
from ministudio.jobs import VideoRequest, VideoResult
from ministudio.plugins import PluginHost
from ministudio.qc.checks import synthetic
from ministudio.run.render import RenderError, plan, render
from ministudio.run.store import ContentStore
from ministudio.spec import Production
from ministudio.testing import VideoEngineConformance
from PIL import Image

WHOLE = tuple(float(s) for s in range(3, 16))  # 3..15 s, whole seconds
SD = ("480p", "720p")  # 480p: the conformance kit's films, which stay quick
STD = Capabilities(durations=WHOLE, resolutions=SD, first_frame=True, native_audio=True)
PRO = Capabilities(
    durations=WHOLE,
    resolutions=(*SD, "1080p"),
    first_frame=True,
    last_frame=True,
    last_frame_alone=False,
    native_audio=True,
)
PRICE = {"std": 0.10, "pro": 0.20}


class Modal:
    """A local engine whose models take different inputs per mode and length: ``m1`` (std:
    first frames; pro: end frames too, and 1080p), ``old`` (5 or 10 s, silent) and ``ray``
    (loops and frames at 5 s only; 10 s from text alone). Priced per mode."""

    def __init__(self) -> None:
        self.requests: list[VideoRequest] = []

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        short = Capabilities(
            durations=(5.0,), resolutions=SD, first_frame=True, last_frame=True, loop=True
        )
        return [
            EngineSpec(
                id="modal",
                kind="video",
                default_model="m1",
                models=(Model("m1", aliases=("one",)), Model("old"), Model("ray")),
                capabilities=Capabilities(resolutions=(*SD, "1080p"), concurrency=3),
                variants=(
                    Variant("m1", STD, "std"),
                    Variant("m1", PRO, "pro"),
                    Variant("old", Capabilities(durations=(5.0, 10.0), resolutions=SD), "std"),
                    Variant("ray", short),
                    Variant("ray", Capabilities(durations=(5.0, 10.0), resolutions=SD)),
                ),
            )
        ]

    @hookimpl
    def estimate_cost(self, engine: str, request: VideoRequest) -> float:
        return request.duration * PRICE.get(request.options.get("mode", "std"), 0.05)

    @hookimpl
    def generate_video(
        self, engine: str, request: VideoRequest, output: Path, context: EngineContext
    ) -> VideoResult:
        self.requests.append(request)
        count = round(request.duration * request.fps)
        small = (request.width // 4 // 2 * 2, request.height // 4 // 2 * 2)  # the core fits it
        view = synthetic.frames(synthetic.place(3, 960, 540), *small, count)
        synthetic.write(output, view, request.fps)
        return VideoResult(path=output, cost=self.estimate_cost(engine, request))


def production(tmp_path: Path, shots: list[dict[str, Any]], **routing: Any) -> Production:
    end = tmp_path / "end.png"
    Image.new("RGB", (64, 36), (200, 80, 40)).save(end)
    for shot in shots:
        if shot.pop("end", False):
            shot["end_frame"] = str(end)
    return Production.model_validate(
        {
            "title": "Variants",
            "format": {"resolution": routing.pop("resolution", "720p"), "fps": 12},
            "environments": {"hall": {"description": "a hall"}},
            "scenes": [{"id": "one", "environment": "hall", "shots": shots}],
            "routing": {"video": "modal", **routing},
        }
    )


def host_with(engine: Modal) -> PluginHost:
    host = PluginHost()
    host.register(engine, "modal")
    return host


def shot(n: int, **more: Any) -> dict[str, Any]:
    return {"id": f"s{n}", "action": f"thing {n}", "duration": 4, **more}


def planned(tmp_path: Path, shots: list[dict[str, Any]], **routing: Any) -> dict[str, Any]:
    film = plan(
        production(tmp_path, shots, **routing),
        tmp_path / "out",
        host=host_with(Modal()),
        store=ContentStore(tmp_path / "store"),
    )
    return {s.id: s for s in film.shots}


def test_an_end_frame_takes_the_mode_that_allows_it_and_is_priced_in_it(tmp_path: Path) -> None:
    shots = planned(tmp_path, [shot(1), shot(2, end=True, continuity="continue")])
    assert (shots["s1"].model, shots["s1"].cost) == ("m1 std", pytest.approx(0.40))
    assert (shots["s2"].model, shots["s2"].cost) == ("m1 pro", pytest.approx(0.80))
    assert shots["s2"].ignored == ()


def test_a_pinned_mode_drops_what_it_cannot_take_and_says_so(tmp_path: Path) -> None:
    shots = planned(tmp_path, [shot(1, end=True)], options={"modal": {"mode": "std"}})
    assert shots["s1"].model == "m1 std"
    assert shots["s1"].ignored == ("modal (m1 std) takes no end frame",)


def test_the_film_format_picks_the_mode_that_renders_it(tmp_path: Path) -> None:
    shots = planned(tmp_path, [shot(1)], resolution="1080p")
    assert shots["s1"].model == "m1 pro"


def test_a_models_alias_takes_its_variants(tmp_path: Path) -> None:
    shots = planned(tmp_path, [shot(1)], resolution="1080p", options={"modal": {"model": "one"}})
    assert shots["s1"].model == "m1 pro"


def test_the_length_is_the_next_whole_second_the_model_renders(tmp_path: Path) -> None:
    shots = planned(tmp_path, [shot(1, duration=7.3)])
    assert shots["s1"].requested == 8.0


def test_a_length_picks_the_variant_that_renders_it_and_drops_its_loop(tmp_path: Path) -> None:
    shots = planned(
        tmp_path,
        [shot(1, loop=True), shot(2, loop=True, duration=8)],
        options={"modal": {"model": "ray"}},
    )
    assert (shots["s1"].requested, shots["s1"].ignored) == (5.0, ())
    assert shots["s2"].requested == 10.0
    assert shots["s2"].ignored == ("modal (ray) cannot loop a clip",)


def test_a_shot_no_mode_can_render_is_refused_with_each_modes_reason(tmp_path: Path) -> None:
    with pytest.raises(CapabilityError) as refused:
        planned(tmp_path, [shot(1, duration=20)])
    message = str(refused.value)
    assert "no mode of engine 'modal' renders it (20.00 s" in message
    assert "m1 std: 3-15 s, 480p/720p, first frame, speaks" in message and "m1 pro:" in message


def test_plugins_lists_what_each_mode_takes() -> None:
    from ministudio.cli.catalog import _model_lines

    (spec,) = Modal().ministudio_engines()
    lines = _model_lines(spec)
    assert lines[:3] == [
        "model m1  [ga (default)]",
        "  std: 3-15 s, 480p/720p, first frame, speaks",
        "  pro: 3-15 s, 480p/720p/1080p, first frame, end frame with a first, speaks",
    ]
    assert "  5 s, 480p/720p, first frame, end frame, loop" in lines


def test_a_mode_the_model_lacks_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(CapabilityError, match="model 'm1' has no mode 'turbo'"):
        planned(tmp_path, [shot(1)], options={"modal": {"mode": "turbo"}})


def test_the_format_check_holds_for_any_variant_of_the_routed_model(tmp_path: Path) -> None:
    with pytest.raises(CapabilityError, match="renders 480p, 720p, not 1080p"):
        planned(tmp_path, [shot(1)], resolution="1080p", options={"modal": {"model": "old"}})


def test_native_lines_need_a_model_that_speaks(tmp_path: Path) -> None:
    lines = {"duration": "audio", "audio": "native", "narration": "Hello there."}
    assert planned(tmp_path, [shot(1, **lines)])["s1"].ignored == ()
    old = planned(tmp_path, [shot(1, **lines)], options={"modal": {"model": "old"}})
    assert old["s1"].ignored == ("modal (old std) cannot speak the lines: MiniStudio voices them",)


def test_the_render_sends_the_chosen_model_and_mode(tmp_path: Path) -> None:
    engine = Modal()
    manifest = render(
        production(tmp_path, [shot(1), shot(2, end=True, continuity="continue")]),
        tmp_path / "out",
        host=host_with(engine),
        store=ContentStore(tmp_path / "store"),
    )
    sent = {r.shot.shot_id: (r.model, r.options.get("mode"), r.last_frame) for r in engine.requests}
    assert sent["s1"] == ("m1", "std", None)
    assert sent["s2"][:2] == ("m1", "pro") and sent["s2"][2] is not None
    assert manifest.cost == pytest.approx(0.40 + 0.80)


class TestModalConformance(VideoEngineConformance):
    """The conformance kit on the local engine above: each of its variants renders."""

    engine_id = "modal"

    def plugin(self) -> object:
        return Modal()


class Overclaiming(Modal):
    """An engine whose ``m1 std`` claims end frames its API (here: itself) refuses."""

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        (spec,) = super().ministudio_engines()
        lying = Variant("m1", dataclasses.replace(PRO, resolutions=SD), "std")
        return [dataclasses.replace(spec, variants=(lying, *spec.variants[1:]))]

    @hookimpl
    def generate_video(
        self, engine: str, request: VideoRequest, output: Path, context: EngineContext
    ) -> VideoResult:
        if request.options.get("mode") == "std" and request.last_frame is not None:
            raise EngineRefusal(engine, "end frames are pro only")
        return super().generate_video(engine, request, output, context)


def test_the_kit_fails_a_variant_that_claims_what_its_engine_refuses(tmp_path: Path) -> None:
    class Kit(TestModalConformance):
        def plugin(self) -> object:
            return Overclaiming()

    with pytest.raises(RenderError, match="end frames are pro only"):
        Kit().test_every_variant_takes_what_it_declares(tmp_path, {})
