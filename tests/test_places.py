"""The same place in the same light: the render and `ministudio qc DIR` group shots alike."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import pytest
from ministudio.qc import checks
from ministudio.qc import film as filmqc
from ministudio.qc.checks import synthetic as syn
from ministudio.qc.places import Place, places
from ministudio.run.render import render
from ministudio.run.store import ContentStore

from .conftest import tiny_production

LIGHTS = {"a": None, "b": None, "c": "night, lit by a street lamp", "d": None}  # day, night, day


def test_places_group_a_scene_by_light_neighbours_or_not() -> None:
    shots = [("s", "a", "day"), ("s", "b", "day"), ("s", "c", "night"), ("s", "d", "day")]
    shots += [("t", "e", "day")]  # another scene in the same light is another place
    found = places(shots, lambda s: Place(s[0], "lab", s[2]))
    assert [(p, [s[1] for s in same]) for p, same in found] == [
        (Place("s", "lab", "day"), ["a", "b", "d"]),
        (Place("s", "lab", "night"), ["c"]),
        (Place("t", "lab", "day"), ["e"]),
    ]
    assert Place("s", "lab", "night").name == "the lab (night)"
    assert Place("s", "", "").name == "the place"


def day_night_day():  # type: ignore[no-untyped-def]
    """A scene in a park lit day, day, night, day: four 2 s shots (keyless animatic engine)."""
    shots = [
        {"id": k, "action": f"Ann walks ({k})", "duration": 2}
        | ({"lighting": light} if light else {})
        for k, light in LIGHTS.items()
    ]
    return tiny_production(scenes=[{"id": "walk", "environment": "park", "shots": shots}])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("places")
    render(day_night_day(), base / "out", store=ContentStore(base / "store"))
    return base / "out"


def test_the_render_and_qc_form_the_same_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, list[list[str]]] = {"render": [], "qc": []}
    real = checks.scene_stability

    def spy(who: str):  # type: ignore[no-untyped-def]
        def stability(clips, environment="the place"):  # type: ignore[no-untyped-def]
            seen[who].append(list(clips))
            return real(clips, environment)

        return stability

    monkeypatch.setattr(checks, "scene_stability", spy("render"))
    monkeypatch.setattr(filmqc, "scene_stability", spy("qc"))
    manifest = render(day_night_day(), tmp_path / "out", store=ContentStore(tmp_path / "store"))
    assert [s.lighting for s in manifest.shots] == ["day", "day", LIGHTS["c"], "day"]
    filmqc.check_film(tmp_path / "out")
    assert seen["render"] == seen["qc"] == [["a", "b", "d"]]


def test_a_recoloured_shot_in_a_scene_lit_twice_alike_is_blamed_alone(
    rendered: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(rendered, out)
    clean = {who: v for who, v in filmqc.check_film(out) if v.check == "environment"}
    assert set(clean) == {"a", "b", "d"} and all(v.passed for v in clean.values()), clean
    fps = 24
    with av.open(str(out / "film.mp4")) as container:
        pictures = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    lo, hi = 2 * fps, 4 * fps  # shot b
    pictures[lo:hi] = [syn.recolour(p) for p in pictures[lo:hi]]
    syn.write(out / "film.mp4", pictures, fps)  # without sound: the sound checks stay out
    found = {who: v for who, v in filmqc.check_film(out) if v.check == "environment"}
    assert {who for who, v in found.items() if not v.passed} == {"b"}, found
    assert found["b"].reason.startswith("the place (day)'s colours moved: shot b ")
