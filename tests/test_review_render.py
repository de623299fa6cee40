"""`render --review review.json`: retake exactly the shots a review names (the note in the
prompt), keep the picked and approved takes, everything else from the store; pay once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from ministudio.review.apply import decide
from ministudio.review.decisions import Review, ReviewError, read_review
from ministudio.run.manifest import Manifest
from ministudio.run.render import RenderError, RenderOptions, render
from ministudio.run.store import ContentStore

from .conftest import EXAMPLES, SHOWCASES, run_cli
from .test_retakes import Fickle, black, film, go


def write_review(folder: Path, shots: dict[str, Any]) -> Path:
    path = folder / "review.json"
    path.write_text(json.dumps({"version": 1, "shots": shots}))
    return path


def retakable(production: Any, manifest: Manifest) -> str:
    """A whole shot (not split) that no `continue` shot follows: retaking it changes no
    other shot."""
    shots = [shot for scene in production.scenes for shot in scene.shots]
    split = {s.part_of for s in manifest.shots if s.part_of}
    for shot, after in zip(shots, [*shots[1:], None], strict=True):
        if shot.id not in split and (after is None or after.continuity != "continue"):
            return str(shot.id)
    raise AssertionError("no shot to retake alone")


@pytest.mark.parametrize("name", SHOWCASES)
def test_a_review_retakes_one_shot_and_keeps_the_rest_from_the_store(
    name: str, showcase, tmp_path: Path
) -> None:
    film_ = showcase(name)
    out = tmp_path / "out"
    shutil.copytree(film_.out, out)
    before = {s.id: s for s in film_.manifest.shots}
    shot = retakable(film_.production, film_.manifest)
    note = "the camera lingers on the faces"
    review = write_review(out, {shot: {"decision": "retake", "note": note}})

    args = ("render", str(EXAMPLES / f"{name}.yaml"), "-o", str(out), "-q")
    done = run_cli(*args, "--store", str(film_.store.root), "--review", str(review))
    assert done.returncode == 0, done.stderr
    assert "the review: 1 shot(s) retaken" in done.stdout
    after = Manifest.of_folder(out)
    assert [s.id for s in after.shots if not s.cached] == [shot]
    for record in after.shots:
        if record.id != shot:  # the same clip as the film reviewed
            assert record.output_hash == before[record.id].output_hash, record.id
    retaken = next(s for s in after.shots if s.id == shot)
    assert note in json.dumps(retaken.prompt)  # into the prompt as sent
    assert retaken.review is not None and retaken.review.decision == "retake"
    assert [(t.rung, t.kept) for t in retaken.takes] == [("first", False), ("review", True)]
    assert retaken.takes[0].clip == before[shot].clip  # the reviewed take, still to pick
    assert retaken.seed != before[shot].seed


def test_a_picked_take_is_kept_as_it_was_and_nothing_is_rendered(tmp_path: Path) -> None:
    # s2's first take is black; the ladder's new seed makes a good one: two takes
    asked_s2: list[int] = []

    def good(request: Any) -> bool:
        asked_s2.extend([request.seed] if request.shot.shot_id == "s2" else [])
        return request.shot.shot_id != "s2" or len(asked_s2) > 1

    engine = Fickle(good=good)
    production = film({"retakes": 3, "ladder": ["seed", "seed", "seed"]})
    first = go(production, engine, tmp_path)
    s1, s2 = first.shots
    assert len(s2.takes) >= 2 and black(s2.takes[0].qc) and not black(s2.qc)
    asked = len(engine.requests)

    # the reviewer prefers the first take of s2 (say, its acting), and approves s1
    review = Review.model_validate(
        {"shots": {"s2": {"decision": "pick", "take": 1}, "s1": {"decision": "approve"}}}
    )
    options = RenderOptions(review=decide(review, first, production))
    host_engine = engine
    manifest = _render(production, host_engine, tmp_path, "picked", options)
    assert len(engine.requests) == asked  # nothing made: the take was in the store
    p1, p2 = manifest.shots
    assert [t.kept for t in p2.takes] == [True] + [False] * (len(s2.takes) - 1)
    assert p2.clip == s2.takes[0].clip and p2.seed == s2.takes[0].seed
    assert black(p2.qc)  # checked again, and kept all the same: a person decided
    assert p2.review is not None and (p2.review.decision, p2.review.take) == ("pick", 1)
    assert p1.output_hash == s1.output_hash and p1.review is not None
    assert p1.review.decision == "approve" and not p1.takes


def test_a_retake_note_reaches_the_engine_and_is_paid_for_once(tmp_path: Path) -> None:
    engine = Fickle(good=lambda request: True)
    production = film({"retakes": 0})
    first = go(production, engine, tmp_path)
    review = Review.model_validate(
        {"shots": {"s1": {"decision": "retake", "note": "  slower,\n and from the left "}}}
    )
    options = RenderOptions(review=decide(review, first, production))
    second = _render(production, engine, tmp_path, "out", options)
    asked = [r for _, r in engine.requests]
    assert len(asked) == 3 and asked[-1].shot.shot_id == "s1"
    assert "thing 1. slower, and from the left" in str(asked[-1].prompt)
    assert asked[-1].seed != asked[0].seed
    assert second.cost == pytest.approx(0.2)  # one 2 s clip at $0.10/s
    # the same review acted on again (the manifest now shows the retake): nothing is paid
    options = RenderOptions(review=decide(review, second, production))
    third = _render(production, engine, tmp_path, "out", options)
    assert len(engine.requests) == 3 and third.cost == 0
    assert [t.kept for t in third.shots[0].takes] == [False, True]
    # the reviewer goes back to the first take: nothing is paid either
    pick = Review.model_validate({"shots": {"s1": {"decision": "pick", "take": 1}}})
    options = RenderOptions(review=decide(pick, third, production))
    fourth = _render(production, engine, tmp_path, "out", options)
    assert len(engine.requests) == 3
    assert fourth.shots[0].output_hash == first.shots[0].output_hash


def test_a_review_that_cannot_be_acted_on_names_each_entry(tmp_path: Path) -> None:
    engine = Fickle(good=lambda request: True)
    production = film({"retakes": 0})
    manifest = go(production, engine, tmp_path)
    review = Review.model_validate(
        {
            "shots": {
                "s9": {"decision": "approve"},
                "s1": {"decision": "pick", "take": 3},
            }
        }
    )
    with pytest.raises(ReviewError) as caught:
        decide(review, manifest, production)
    message = str(caught.value)
    assert "s9: the reviewed render has no such shot (it has: s1, s2)" in message
    assert "s1: it has 1 take(s): there is no take 3" in message

    broken = tmp_path / "broken.json"
    broken.write_text('{"shots": {"s1": {"decision": "pick"}, "s2": {"decision": "redo"}}}')
    with pytest.raises(ReviewError) as caught:
        read_review(broken)
    assert "shots.s1" in str(caught.value) and "shots.s2.decision" in str(caught.value)
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * (2 << 20))
    with pytest.raises(ReviewError, match="larger than"):
        read_review(huge)


def test_a_picked_take_gone_from_the_store_fails_its_shot_saying_what_to_do(
    tmp_path: Path,
) -> None:
    engine = Fickle(good=lambda request: True)
    production = film({"retakes": 0})
    manifest = go(production, engine, tmp_path)
    store = ContentStore(tmp_path / "store")
    clip = manifest.shots[1].clip
    assert clip is not None
    path = store.get(clip, ".mp4")
    assert path is not None
    path.unlink()
    review = Review.model_validate({"shots": {"s2": {"decision": "pick", "take": 1}}})
    options = RenderOptions(review=decide(review, manifest, production))
    with pytest.raises(RenderError) as caught:
        _render(production, engine, tmp_path, "out", options)
    assert "pick another take or retake the shot" in (caught.value.result.shots[1].error or "")


def test_the_cli_refuses_a_broken_review_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    review = write_review(out, {"s1": {"decision": "retake", "take": 2}})
    done = run_cli("render", str(EXAMPLES / "last-algorithm.yaml"), "-o", str(out),
                   "--review", str(review))  # fmt: skip
    assert done.returncode == 2
    assert '"take" goes with "pick", not "retake"' in done.stderr
    assert not (out / "film.mp4").exists()


def _render(production: Any, engine: Fickle, tmp_path: Path, out: str, options: Any) -> Any:
    from ministudio.plugins import PluginHost

    host = PluginHost()
    host.register(engine, "fickle")
    store = ContentStore(tmp_path / "store")
    return render(production, tmp_path / out, host=host, store=store, options=options)
