"""The retake ladder: a shot that fails a check is rendered again, rung by rung, in budget."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineContext, EngineSpec
from ministudio.jobs import VideoRequest, VideoResult
from ministudio.plugins import PluginHost
from ministudio.qc.checks import synthetic
from ministudio.run.render import render
from ministudio.run.store import ContentStore
from ministudio.spec import Production

Verdict = Callable[[VideoRequest], bool]  # the engine makes a good clip for this request


class Fickle:
    """Local test engines whose clips come out black unless ``good(request)``: ``fickle``
    (seeds, first frames, two reference images, $0.10 a second) and ``steady``, its
    fallback, whose clips are always good."""

    def __init__(self, good: Verdict) -> None:
        self.good = good
        self.requests: list[tuple[str, VideoRequest]] = []

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        caps = Capabilities(
            resolutions=("480p",),
            seed=True,
            first_frame=True,
            max_references=2,
            price_per_second=0.10,
        )
        return [
            EngineSpec(id="fickle", kind="video", capabilities=caps),
            EngineSpec(id="steady", kind="video", capabilities=caps),
        ]

    @hookimpl
    def generate_video(
        self, engine: str, request: VideoRequest, output: Path, context: EngineContext
    ) -> VideoResult:
        self.requests.append((engine, request))
        count = round(request.duration * request.fps)
        view = synthetic.frames(synthetic.place(7, 960, 540), request.width, request.height, count)
        if engine == "fickle" and not self.good(request):
            view = [np.zeros_like(frame) for frame in view]
        synthetic.write(output, view, request.fps)
        return VideoResult(path=output, cost=request.duration * 0.10)


def film(qc: dict[str, Any], shots: int = 2, **extra: Any) -> Production:
    return Production.model_validate(
        {
            "title": "Retakes",
            "format": {"resolution": "480p", "fps": 12},
            "environments": {"hall": {"description": "a hall"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "hall",
                    "shots": [
                        {"id": f"s{i + 1}", "action": f"thing {i + 1}", "duration": 2}
                        for i in range(shots)
                    ],
                }
            ],
            "routing": {"video": "fickle", "fallbacks": {"fickle": ["steady"]}},
            "qc": qc,
            **extra,
        }
    )


def go(production: Production, engine: Fickle, tmp_path: Path, out: str = "out") -> Any:
    host = PluginHost()
    host.register(engine, "fickle")
    return render(production, tmp_path / out, host=host, store=ContentStore(tmp_path / "store"))


def black(verdicts: list[Any]) -> bool:
    return any(v.check == "black" and not v.passed for v in verdicts)


def test_a_failing_shot_climbs_the_ladder_in_order_until_a_take_passes(tmp_path: Path) -> None:
    engine = Fickle(good=lambda request: request.shot.shot_id != "s2")
    ladder = ["seed", "references", "first-frame", "engine"]
    manifest = go(film({"retakes": 4, "ladder": ladder}), engine, tmp_path)
    s1, s2 = manifest.shots
    assert not s1.takes and not black(s1.qc)
    assert [t.rung for t in s2.takes] == ["first", *ladder]
    assert [t.engine for t in s2.takes] == ["fickle"] * 4 + ["steady"]
    assert [t.kept for t in s2.takes] == [False] * 4 + [True]
    assert all(black(t.qc) for t in s2.takes[:4]) and not black(s2.takes[4].qc)
    assert s2.engine == "steady" and not black(s2.qc)
    assert s2.fallback_from is not None and s2.fallback_from.engine == "fickle"
    assert s2.fallback_from.reason.startswith("its take failed the checks: ")
    assert s1.fallback_from is None
    assert s2.cost == pytest.approx(5 * 0.2) == sum(t.cost for t in s2.takes)
    assert manifest.film == "film.mp4"
    # each rung changed what it names, on top of the rungs below it
    asked = [request for _, request in engine.requests if request.shot.shot_id == "s2"]
    seeds = [request.seed for request in asked]
    assert seeds[1] != seeds[0] and len(set(seeds[1:])) == 1
    places = [len(request.shot.environment.reference_images) for request in asked]
    assert places == [0, 0, 1, 1, 1]
    assert [request.first_frame is not None for request in asked] == [False] * 3 + [True] * 2


def test_status_lists_the_takes_left_out(tmp_path: Path) -> None:
    from .conftest import run_cli

    engine = Fickle(good=lambda request: request.shot.shot_id != "s2")
    go(film({"retakes": 2, "ladder": ["seed", "seed"]}), engine, tmp_path)
    shown = run_cli("status", str(tmp_path / "out"), env={"COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    left_out = [line for line in shown.stdout.splitlines() if "not kept" in line]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    (s2,) = [shot for shot in manifest["shots"] if shot["id"] == "s2"]
    assert len(s2["takes"]) == 3 and s2["takes"][0]["kept"]  # all black: the first is kept
    assert len(left_out) == 2
    assert all("s2 (seed)" in line and "failed black" in line for line in left_out)


def test_the_ladder_stops_at_the_budget_and_keeps_the_best_take(tmp_path: Path) -> None:
    engine = Fickle(good=lambda request: False)
    # two shots of 2 s at $0.10/s are $0.40; $0.90 leaves room for two retakes, not three
    production = film({"retakes": 4, "ladder": ["seed", "seed", "seed", "seed"]}, budget=0.9)
    manifest = go(production, engine, tmp_path)
    assert manifest.cost <= 0.9 + 1e-9
    retaken = [shot for shot in manifest.shots if shot.takes]
    assert sum(len(shot.takes) - 1 for shot in retaken) == 2
    for shot in manifest.shots:
        assert black(shot.qc)  # still failing, and said so
        assert "would pass the budget" in (shot.retakes_stopped or "")
    assert manifest.film == "film.mp4"  # the film is still made, with its best takes


def test_rungs_that_cannot_apply_are_passed_over(tmp_path: Path) -> None:
    # the scene's first shot has no previous shot to take a frame from
    engine = Fickle(good=lambda request: False)
    manifest = go(
        film({"retakes": 2, "ladder": ["references", "first-frame"]}, 1), engine, tmp_path
    )
    (shot,) = manifest.shots
    assert not shot.takes
    assert shot.retakes_stopped == "no rung of the retake ladder applies any more"


def test_a_retake_fixed_by_a_new_seed_is_kept_and_costs_nothing_the_second_time(
    tmp_path: Path,
) -> None:
    first_seeds: list[int] = []

    def good(request: VideoRequest) -> bool:
        if request.shot.shot_id != "s1":
            return True
        first_seeds.append(request.seed)
        return request.seed != first_seeds[0]

    engine = Fickle(good)
    production = film({"retakes": 2})
    manifest = go(production, engine, tmp_path)
    shot = manifest.shots[0]
    assert [(t.rung, t.kept) for t in shot.takes] == [("first", False), ("seed", True)]
    assert shot.seed == shot.takes[1].seed != shot.takes[0].seed
    calls = len(engine.requests)
    again = go(production, engine, tmp_path, "again")
    assert len(engine.requests) == calls  # every take is in the store
    assert again.shots[0].seed == shot.seed and [t.cached for t in again.shots[0].takes] == [
        True,
        True,
    ]
    assert again.shots[0].cost == 0.0


def test_seeds_are_derived_from_the_production_seed_and_stable(tmp_path: Path) -> None:
    engine = Fickle(good=lambda request: True)
    one = go(film({}, 3, seed=42), engine, tmp_path / "a")
    two = go(film({}, 3, seed=42), engine, tmp_path / "b")
    other = go(film({}, 3, seed=43), engine, tmp_path / "c")
    seeds = [shot.seed for shot in one.shots]
    assert seeds == [shot.seed for shot in two.shots] and len(set(seeds)) == 3
    assert not set(seeds) & {shot.seed for shot in other.shots}
    assert [request.seed for _, request in engine.requests[:3]] == seeds


def test_without_retakes_a_failing_check_is_reported_and_nothing_is_rendered_again(
    tmp_path: Path,
) -> None:
    engine = Fickle(good=lambda request: request.shot.shot_id != "s2")
    manifest = go(film({}), engine, tmp_path)
    s2 = manifest.shots[1]
    assert black(s2.qc) and not s2.takes and len(engine.requests) == 2
    assert s2.retakes_stopped == "retakes are off (qc.retakes: 0)"


def test_an_unknown_judge_is_refused_before_any_work(tmp_path: Path) -> None:
    from ministudio.errors import UnknownEngineError

    engine = Fickle(good=lambda request: True)
    with pytest.raises(UnknownEngineError, match="no-such-judge"):
        go(film({"judge": "no-such-judge"}), engine, tmp_path)
    assert not engine.requests


class BrokenCheck:
    """A quality-check plugin that crashes."""

    @hookimpl
    def qc_check(self, clip: Path) -> None:
        raise RuntimeError("the check fell over")


def test_a_crashing_check_fails_its_shot_says_what_to_do_and_keeps_the_clip(
    tmp_path: Path,
) -> None:
    from ministudio.run.render import RenderError

    engine = Fickle(good=lambda request: True)
    host = PluginHost()
    host.register(engine, "fickle")
    host.register(BrokenCheck(), "broken-check")
    store = ContentStore(tmp_path / "store")
    with pytest.raises(RenderError, match="MINISTUDIO_DISABLE_PLUGINS") as info:
        render(film({}), tmp_path / "out", host=host, store=store)
    assert "the check fell over" in str(info.value)
    calls = len(engine.requests)
    go(film({}), engine, tmp_path)  # without the broken check: the clips come from the store
    assert len(engine.requests) == calls


class Editor(Fickle):
    """``fickle`` that can edit its own takes (``capabilities.edit``): an edit comes out good."""

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        caps = Capabilities(resolutions=("480p",), seed=True, edit=True, price_per_second=0.10)
        return [EngineSpec(id="fickle", kind="video", capabilities=caps)]

    @hookimpl
    def generate_video(
        self, engine: str, request: VideoRequest, output: Path, context: EngineContext
    ) -> VideoResult:
        made = Fickle.generate_video(self, engine, request, output, context)
        return made.model_copy(update={"engine_job_id": f"job-{len(self.requests)}"})


def test_the_edit_rung_asks_the_engine_to_fix_its_own_last_take(tmp_path: Path) -> None:
    engine = Editor(good=lambda request: request.edit is not None)
    production = film({"retakes": 2, "ladder": ["edit", "seed"]}, 1)
    production = production.model_copy(
        update={"routing": production.routing.model_copy(update={"fallbacks": {}})}
    )
    (shot,) = go(production, engine, tmp_path).shots
    assert [t.rung for t in shot.takes] == ["first", "edit"] and shot.takes[1].kept
    first, edit = (request for _, request in engine.requests)
    assert first.edit is None and edit.edit is not None
    assert edit.edit.job_id == "job-1" == shot.takes[0].engine_job_id
    assert any("black" in reason for reason in edit.edit.reasons), edit.edit.reasons
    assert edit.seed == first.seed  # the edit changes the take, not the seed
    assert not black(shot.qc) and shot.cost == pytest.approx(0.4)


def test_an_engine_that_cannot_edit_passes_the_edit_rung_over(tmp_path: Path) -> None:
    engine = Fickle(good=lambda request: False)
    engine.good = lambda request: len(engine.requests) > 1  # the second take is good
    manifest = go(film({"retakes": 1, "ladder": ["edit", "seed"]}, 1), engine, tmp_path)
    (shot,) = manifest.shots
    assert [t.rung for t in shot.takes] == ["first", "seed"]
    assert all(request.edit is None for _, request in engine.requests)
