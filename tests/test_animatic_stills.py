"""The ``animatic-stills`` image engine: the keyless character sheets and sets ``ministudio
cast`` draws, looked at as a person would: the right size, the same every time, three views
that differ but share the character's colours (the ones its figure wears in the previz), and a
set that is the previz's own background of the place, empty."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from click.testing import CliRunner
from ministudio.cli import cli
from ministudio.engines import EngineContext
from ministudio.engines.animatic.plugin import generate_image, generate_video
from ministudio.errors import EngineRefusal
from ministudio.jobs import (
    CharacterBrief,
    EnvironmentBrief,
    ImageRequest,
    ImageResult,
    ShotPrompt,
    VideoRequest,
)
from ministudio.plugins import PluginHost
from PIL import Image

ENGINE = "animatic-stills"
VIEWS = ("front", "three-quarter", "profile")
BACKDROP = (222, 222, 226)
# no colour words: the figure's colours come from the id and the DNA, as in the previz
MO = ("mo", "Mo", "a quiet person of 40")  # a mustard top
KAI = ("kai", "Kai", "a quiet person of 40")  # a red top
ADA = ("ada", "Ada", "a tall woman of 30 in a green coat, red scarf, round glasses, long hair")
DOCK = "a wooden dock at low tide"


def still(
    tmp_path: Path, view: str = "front", who: tuple[str, str, str] = ADA, **kw: Any
) -> ImageRequest:
    cid, name, dna = who
    fields: dict[str, Any] = {
        "subject": "character",
        "id": cid,
        "name": name,
        "description": dna,
        "view": view,
        "prompt": f"{name}, {view} view",
        "aspect_ratio": "3:4",
        "width": 300,
        "height": 400,
    }
    if view == "set":
        fields.update(subject="environment", id="dock", name="dock", description=DOCK)
        fields.update(aspect_ratio="16:9", width=320, height=180, lighting="overcast noon")
    return ImageRequest(**{**fields, **kw})


def draw(tmp_path: Path, request: ImageRequest, name: str = "still") -> np.ndarray:
    """The still drawn through the plugin's hook, as the core calls it, read back as RGB."""
    out = tmp_path / f"{name}.png"
    context = EngineContext(engine=ENGINE, work_dir=tmp_path)
    result = generate_image(ENGINE, request, out, context)
    assert isinstance(result, ImageResult) and result.path == out and result.cost == 0.0
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == (request.width, request.height)
        return np.asarray(im.convert("RGB"))


def colours(image: np.ndarray, ignore: tuple[int, int, int], k: int = 3) -> list[np.ndarray]:
    """The ``k`` most common colours of the figure: pixels neither the backdrop ``ignore`` nor
    grey (outline, shadow, label), binned 16 levels a channel, each as its bin's mean."""
    px = image.reshape(-1, 3).astype(np.int32)
    away = np.abs(px - np.asarray(ignore)).max(axis=1) > 24
    coloured = (px.max(axis=1) - px.min(axis=1)) > 30
    px = px[away & coloured]
    bins = (px // 16) @ np.asarray([256, 16, 1])
    values, counts = np.unique(bins, return_counts=True)
    top = values[np.argsort(-counts, kind="stable")[:k]]
    return [px[bins == b].mean(axis=0) for b in top]


def close(a: np.ndarray, b: np.ndarray, tol: float = 36.0) -> bool:
    return float(np.linalg.norm(a - b)) < tol


def differ(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference per pixel and channel (0..255)."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def changed(a: np.ndarray, b: np.ndarray) -> float:
    """The fraction of pixels that visibly changed (a channel by more than 24 levels)."""
    return float((np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > 24).mean())


def previz_frame(
    tmp_path: Path, who: tuple[str, str, str] | None, env: EnvironmentBrief, **kw: Any
) -> np.ndarray:
    """The first frame of a tiny animatic shot, rendered by the animatic's own hook."""
    cast = (CharacterBrief(id=who[0], name=who[1], dna=who[2]),) if who else ()
    shot = ShotPrompt(
        shot_id="s1",
        scene_id="sc",
        index=0,
        action="",
        shot_size=kw.pop("size", "full"),
        camera_move="static",
        characters=cast,
        environment=env,
    )
    fields: dict[str, Any] = {"aspect_ratio": "4:3", "width": 240, "height": 180, "seed": 0}
    fields.update(kw)
    request = VideoRequest(shot=shot, prompt="", duration=0.5, fps=12, **fields)
    out = tmp_path / f"shot-{who[0] if who else 'empty'}.mp4"
    generate_video("animatic", request, out, EngineContext(engine="animatic", work_dir=tmp_path))
    with av.open(str(out)) as container:
        frame = next(container.decode(video=0))
        return np.asarray(frame.to_ndarray(format="rgb24"))


def grey_room(tmp_path: Path) -> EnvironmentBrief:
    """A place whose background is a flat grey picture: the figure is all that has colour."""
    path = tmp_path / "grey.png"
    Image.new("RGB", (64, 48), (128, 128, 128)).save(path)
    return EnvironmentBrief(id="room", description="a room", reference_images=(path,))


def test_the_engine_is_declared_keyless_and_free_and_listed() -> None:
    host = PluginHost(env={})
    spec = host.engine(ENGINE, "image")
    assert spec.key_env == () and spec.capabilities.price_per_second == 0.0
    assert spec.description and spec.default_model == "animatic-stills-1"
    assert host.owner(ENGINE).name == host.owner("animatic").name  # the animatic's own plugin
    listed = CliRunner().invoke(cli, ["plugins"])
    assert listed.exit_code == 0 and ENGINE in listed.output


@pytest.mark.parametrize("view", [*VIEWS, "set"])
def test_each_view_is_a_png_of_the_size_asked(tmp_path: Path, view: str) -> None:
    draw(tmp_path, still(tmp_path, view))
    draw(tmp_path, still(tmp_path, view, width=512, height=288), "wide")  # any aspect ratio


def test_the_same_request_makes_the_same_bytes(tmp_path: Path) -> None:
    for view in (*VIEWS, "set"):
        request = still(tmp_path, view)
        draw(tmp_path, request, "a")
        draw(tmp_path, request, "b")
        assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes(), view


@pytest.mark.parametrize(
    "who",
    [
        ADA,
        ("rob", "Rob", "a silver robot with a glowing chest"),
        ("aria", "Aria", "a holographic AI, translucent blue humanoid figure"),
        ("orb", "Orb", "a glowing golden orb"),
    ],
    ids=["person", "robot", "hologram", "orb"],
)
def test_three_views_differ_and_share_the_palette(
    tmp_path: Path, who: tuple[str, str, str]
) -> None:
    sheet = {v: draw(tmp_path, still(tmp_path, v, who), v) for v in VIEWS}
    for a, b in (("front", "three-quarter"), ("front", "profile"), ("three-quarter", "profile")):
        assert changed(sheet[a], sheet[b]) > 0.005, f"{a} and {b} look the same"
    main = colours(sheet["front"], BACKDROP)[0]
    for view in VIEWS[1:]:
        assert any(close(main, c) for c in colours(sheet[view], BACKDROP)), view


def test_turned_views_move_the_eyes_and_narrow_the_figure(tmp_path: Path) -> None:
    """Turned to the viewer's left, the eyes move left of the figure's middle (side-on, one
    eye shows), and the figure narrows: the three-quarter view less than the profile."""

    def width(image: np.ndarray) -> int:
        body = np.abs(image.astype(np.int16) - BACKDROP).max(axis=2) > 40
        rows = body[int(image.shape[0] * 0.35) : int(image.shape[0] * 0.5)]  # chest to hips
        cols = np.flatnonzero(rows.any(axis=0))
        return int(cols[-1] - cols[0])

    def pupils(image: np.ndarray) -> tuple[int, float]:
        """How many pupil pixels the head shows, and how far right of the middle they are."""
        head = image[: image.shape[0] // 4].astype(np.int16)
        dark = np.abs(head - np.asarray((45, 35, 30))).max(axis=2) <= 10  # the animatic's pupil
        cols = np.flatnonzero(dark.any(axis=0))
        return int(dark.sum()), float(cols.mean() - image.shape[1] / 2)

    sheet = [draw(tmp_path, still(tmp_path, v, MO), v) for v in VIEWS]
    (front_n, front_at), (_, turned_at), (side_n, side_at) = (pupils(im) for im in sheet)
    assert abs(front_at) <= 3 and turned_at < -8 and side_at < -8
    assert 0 < side_n < front_n
    widths = [width(im) for im in sheet]
    assert widths[0] > widths[1] > widths[2]


def test_two_characters_differ(tmp_path: Path) -> None:
    mo = colours(draw(tmp_path, still(tmp_path, "front", MO), "mo"), BACKDROP)[0]
    kai = colours(draw(tmp_path, still(tmp_path, "front", KAI), "kai"), BACKDROP)[0]
    assert not close(mo, kai)


@pytest.mark.parametrize("who", [MO, KAI], ids=["mo", "kai"])
def test_the_sheet_wears_the_colours_of_the_previz_figure(
    tmp_path: Path, who: tuple[str, str, str]
) -> None:
    """The character's main colour on its sheet is its figure's main colour in a previz shot."""
    frame = previz_frame(tmp_path, who, grey_room(tmp_path))
    in_shot = colours(frame, (128, 128, 128), k=1)[0]
    for view in VIEWS:
        sheet = draw(tmp_path, still(tmp_path, view, who), view)
        assert close(colours(sheet, BACKDROP)[0], in_shot), view
    other = KAI if who is MO else MO
    assert not close(colours(draw(tmp_path, still(tmp_path, "front", other)), BACKDROP)[0], in_shot)


def test_the_set_is_the_previz_background_with_no_one_in_it(tmp_path: Path) -> None:
    place = EnvironmentBrief(id="dock", description=DOCK, lighting="overcast noon")
    size = {"aspect_ratio": "16:9", "width": 320, "height": 180, "size": "wide"}
    empty = previz_frame(tmp_path, None, place, **size)
    peopled = previz_frame(tmp_path, ADA, place, **size)
    drawn = draw(tmp_path, still(tmp_path, "set"))
    assert differ(drawn, empty) < 8 and differ(drawn, empty) < differ(drawn, peopled)
    night = draw(tmp_path, still(tmp_path, "set", lighting="night, moonlight"), "night")
    assert differ(night, drawn) > 10  # the place's lighting grades it


def test_a_still_at_1024_px_takes_well_under_a_second(tmp_path: Path) -> None:
    for view in (*VIEWS, "set"):
        request = still(tmp_path, view, width=768, height=1024)
        started = time.perf_counter()
        draw(tmp_path, request, view)
        assert time.perf_counter() - started < 1.0, view


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"width": 0}, "each side must be 16 to 4096 px"),
        ({"height": 100_000}, "each side must be 16 to 4096 px"),
        ({"view": "set"}, "a character takes the view 'front', 'three-quarter' or 'profile'"),
        ({"subject": "environment"}, "an environment takes the view 'set'"),
        ({"model": "photon-1"}, "its one model is 'animatic-stills-1'"),
        ({"description": "x" * 20_001}, "longer than 20000 characters"),
    ],
)
def test_an_invalid_request_is_refused_clearly(
    tmp_path: Path, change: dict[str, Any], says: str
) -> None:
    request = still(tmp_path).model_copy(update=change)
    with pytest.raises(EngineRefusal, match=says) as refused:
        generate_image(
            ENGINE, request, tmp_path / "x.png", EngineContext(engine=ENGINE, work_dir=tmp_path)
        )
    assert not refused.value.retryable and not (tmp_path / "x.png").exists()


def test_other_engines_are_not_answered(tmp_path: Path) -> None:
    context = EngineContext(engine="animatic", work_dir=tmp_path)
    assert generate_image("animatic", still(tmp_path), tmp_path / "x.png", context) is None
    assert not (tmp_path / "x.png").exists()
