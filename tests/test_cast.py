"""``ministudio cast``: reference images drawn for the characters and places without any,
made once (the store), written beside the production and named in its file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from ministudio import hookimpl
from ministudio.authoring.cast import Ask, Caster, CastError, add_references, missing
from ministudio.engines import EngineContext, EngineSpec
from ministudio.errors import MissingKeyError
from ministudio.jobs import ImageRequest, ImageResult
from ministudio.plugins import PluginHost
from ministudio.run.store import ContentStore
from ministudio.spec.loading import load_production
from PIL import Image

FILM = """\
# A film to cast: Ada has no pictures yet, Bo has one.
title: Cast me
format: {aspect_ratio: "16:9", resolution: 360p, fps: 12}
style:
  description: ink and watercolour
characters:
  ada:
    name: Ada
    dna: a tall woman of 30, red scarf, round glasses   # keep the scarf
  bo:
    name: Bo
    dna: a small boy in a yellow raincoat
    reference_images: [bo.png]
environments:
  dock:
    description: a wooden dock at low tide
    palette: [grey, teal]
    lighting: overcast noon
  shed:
    description: a boat shed
    reference_images: [shed.png]
scenes:
  - id: one
    environment: dock
    shots:
      - action: Ada waits on the dock
        duration: 2
"""


class Painter:
    """An image engine ``painter`` ($0.04 a still) drawing a flat colour from the prompt."""

    def __init__(self, draws: bytes | None = None) -> None:
        self.requests: list[ImageRequest] = []
        self.draws = draws

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        return [EngineSpec(id="painter", kind="image", key_env=("PAINTER_KEY",))]

    @hookimpl
    def generate_image(
        self, engine: str, request: ImageRequest, output: Path, context: EngineContext
    ) -> ImageResult:
        self.requests.append(request)
        if self.draws is not None:
            output.write_bytes(self.draws)
        else:
            shade = hashlib.sha256(request.prompt.encode()).digest()[:3]
            Image.new("RGB", (request.width, request.height), tuple(shade)).save(output)
        return ImageResult(path=output, cost=0.04)

    @hookimpl
    def estimate_cost(self, engine: str, request: Any) -> float | None:
        return 0.04 if isinstance(request, ImageRequest) else None


def film(tmp_path: Path, text: str = FILM, name: str = "film.yaml") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for picture in ("bo.png", "shed.png"):
        Image.new("RGB", (64, 64), (90, 90, 90)).save(tmp_path / picture)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def cast(path: Path, painter: Painter, store: Path, **ask: Any) -> list[Any]:
    host = PluginHost()
    host.register(painter, "painter")
    production = load_production(path)
    caster = Caster(
        production,
        path.parent,
        host,
        ContentStore(store),
        {"PAINTER_KEY": "k"},
        Ask(engine="painter", **ask),
    )
    drawn = anyio.run(caster.draw_all, missing(production))
    add_references(path, drawn)
    return drawn


def test_cast_fills_every_missing_reference_image_and_keeps_the_file_as_written(
    tmp_path: Path,
) -> None:
    path = film(tmp_path / "film")
    painter = Painter()
    drawn = cast(path, painter, tmp_path / "store")
    files = sorted(d.still.file for d in drawn)
    assert files == [
        "cast/ada-front.png",
        "cast/ada-profile.png",
        "cast/ada-three-quarter.png",
        "cast/dock-set.png",
    ]
    production = load_production(path)  # validates, every image checked
    ada = production.characters["ada"]
    assert [p.name for p in ada.reference_images] == [
        "ada-front.png",
        "ada-three-quarter.png",
        "ada-profile.png",
    ]
    assert [p.name for p in production.characters["bo"].reference_images] == ["bo.png"]
    assert [p.name for p in production.environments["dock"].reference_images] == ["dock-set.png"]
    assert [p.name for p in production.environments["shed"].reference_images] == ["shed.png"]
    text = path.read_text(encoding="utf-8")
    assert "# A film to cast" in text and "# keep the scarf" in text
    assert 'format: {aspect_ratio: "16:9", resolution: 360p, fps: 12}' in text
    assert not missing(production)
    # the sheet's other views match its front; sizes: 3:4 sheets, the film's frame for a set
    by_view = {r.view: r for r in painter.requests}
    with Image.open(path.parent / "cast/ada-front.png") as front:
        assert front.text == {"ministudio-engine": "painter"}  # who drew it, kept here
        front_pixels = front.convert("RGB").tobytes()
    for view in ("three-quarter", "profile"):
        (reference,) = by_view[view].reference_images
        with Image.open(reference) as sent:  # the front's pixels, and nothing else
            assert not sent.text and sent.convert("RGB").tobytes() == front_pixels
    assert (by_view["front"].width, by_view["front"].height) == (768, 1024)
    assert (by_view["set"].width, by_view["set"].height) == (640, 360)
    assert "ink and watercolour" in by_view["set"].prompt and "no people" in by_view["set"].prompt
    assert "red scarf" in by_view["front"].prompt


def test_each_still_is_drawn_and_paid_for_once(tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = Painter()
    cast(film(tmp_path / "a"), first, store)
    assert len(first.requests) == 4
    again = Painter()
    drawn = cast(film(tmp_path / "b"), again, store)  # another copy of the same film
    assert again.requests == [] and all(d.cached and d.cost == 0 for d in drawn)
    assert (tmp_path / "b/cast/ada-front.png").read_bytes() == (
        tmp_path / "a/cast/ada-front.png"
    ).read_bytes()
    changed = Painter()
    cast(film(tmp_path / "c", FILM.replace("red scarf", "blue scarf")), changed, store)
    assert sorted(r.view for r in changed.requests) == ["front", "profile", "three-quarter"]


def test_a_cost_cap_stops_before_the_still_that_would_pass_it_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    painter = Painter()
    with pytest.raises(CastError, match="--max-cost"):
        cast(film(tmp_path / "a"), painter, store, max_cost=0.05)
    assert len(painter.requests) == 1
    rest = Painter()
    cast(film(tmp_path / "a"), rest, store)
    assert len(rest.requests) == 3  # the first still came from the store


def test_a_file_of_someone_elses_in_cast_is_not_overwritten_unless_forced(tmp_path: Path) -> None:
    path = film(tmp_path / "film")
    (path.parent / "cast").mkdir()
    mine = path.parent / "cast/ada-front.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(mine)
    before = mine.read_bytes()
    with pytest.raises(CastError, match="--force"):
        cast(path, Painter(), tmp_path / "store")
    assert mine.read_bytes() == before
    assert "cast/" not in path.read_text(encoding="utf-8")
    cast(path, Painter(), tmp_path / "store", force=True)
    assert mine.read_bytes() != before


def test_an_engine_that_answers_no_picture_gets_a_clear_error(tmp_path: Path) -> None:
    path = film(tmp_path / "film")
    with pytest.raises(CastError, match="painter drew ada \\(front\\), but the picture"):
        cast(path, Painter(draws=b"<html>not an image</html>"), tmp_path / "store")
    assert "cast/" not in path.read_text(encoding="utf-8")


def test_a_missing_key_is_said_before_anything_is_drawn(tmp_path: Path) -> None:
    path = film(tmp_path / "film")
    host = PluginHost()
    painter = Painter()
    host.register(painter, "painter")
    production = load_production(path)
    caster = Caster(
        production, path.parent, host, ContentStore(tmp_path / "s"), {}, Ask(engine="painter")
    )
    with pytest.raises(MissingKeyError, match="PAINTER_KEY"):
        anyio.run(caster.draw_all, missing(production))
    assert painter.requests == []


def test_a_json_production_is_updated_too(tmp_path: Path) -> None:
    import yaml

    data = yaml.safe_load(FILM)
    path = film(tmp_path / "film", json.dumps(data), "film.json")
    cast(path, Painter(), tmp_path / "store")
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["characters"]["ada"]["reference_images"][0] == "cast/ada-front.png"
    assert load_production(path).environments["dock"].reference_images


@pytest.mark.parametrize("name", ["quantum-mechanics", "contextbytes", "last-algorithm"])
def test_cast_fills_every_missing_image_of_a_showcase_film_keyless(
    tmp_path: Path, name: str
) -> None:
    import shutil

    from .conftest import EXAMPLES, run_cli

    path = tmp_path / f"{name}.yaml"
    shutil.copyfile(EXAMPLES / f"{name}.yaml", path)
    before = load_production(path)
    wanted = 3 * len(before.characters) + len(before.environments)
    env = {"MINISTUDIO_STORE": str(tmp_path / "store")}
    done = run_cli("cast", str(path), env=env)
    assert done.returncode == 0, done.stderr
    assert f"{wanted} stills" in done.stdout and f"{wanted} drawn by animatic-stills" in done.stdout
    after = load_production(path)
    assert not missing(after)
    for character in after.characters.values():
        assert len(character.reference_images) == 3
        assert all(
            p.is_file() and p.parent == tmp_path / "cast" for p in character.reference_images
        )
    again = run_cli("cast", str(path), env=env)
    assert again.returncode == 0 and "nothing to draw" in again.stdout


def _first_frame(path: Path, out: Path, store: Path) -> Any:
    """The first frame of ``path``'s keyless film, rendered in this process."""
    import av
    import numpy as np
    from click.testing import CliRunner
    from ministudio.cli import cli

    done = CliRunner().invoke(cli, ["render", str(path), "-o", str(out), "--store", str(store)])
    assert done.exit_code == 0, done.output
    with av.open(str(out / "film.mp4")) as container:
        return np.asarray(next(container.decode(video=0)).to_ndarray(format="rgb24"))


def test_the_previz_draws_a_keyless_cast_itself_and_a_photo_as_a_card(tmp_path: Path) -> None:
    """After a keyless cast the animatic still draws Ada and the dock as it did (the sheet and
    set are its own drawing, marked so by ``cast``): the film's frame is unchanged. The same
    pictures without the mark are taken as what they look like, a photo: the frame changes."""
    from ministudio.authoring.provenance import ENGINE_MARK, drawn_by

    path = film(tmp_path / "film")
    store = tmp_path / "store"
    before = _first_frame(path, tmp_path / "before", store)
    production = load_production(path)
    caster = Caster(production, path.parent, PluginHost(), ContentStore(store), {}, Ask())
    drawn = anyio.run(caster.draw_all, missing(production))
    add_references(path, drawn)
    assert {drawn_by(path.parent / d.still.file) for d in drawn} == {"animatic-stills"}
    after = _first_frame(path, tmp_path / "after", store)
    assert (after == before).all()
    manifest = json.loads((tmp_path / "after" / "manifest.json").read_text(encoding="utf-8"))
    assert all(shot["cached"] for shot in manifest["shots"])  # the same request as before

    for item in drawn:  # the same pixels, unmarked: as if they were photos
        picture = path.parent / item.still.file
        with Image.open(picture) as still:
            assert ENGINE_MARK in still.text
            still.convert("RGB").save(picture)
    photo = _first_frame(path, tmp_path / "photo", store)
    assert abs(photo.astype(int) - before.astype(int)).mean() > 5


def test_ids_that_would_share_a_file_name_each_get_their_own(tmp_path: Path) -> None:
    """Ids "a b" and "a-b" (and "A-B" on a case-blind disk) would all be a-b.png: each gets its
    own file, and the production names each character's own pictures."""
    text = FILM.replace(
        "  bo:\n",
        '  "a b":\n    name: A1\n    dna: a tall woman in red\n'
        '  "A-B":\n    name: A2\n    dna: a short man in blue\n'
        '  "../../etc":\n    name: C\n    dna: a cat\n  bo:\n',
    ).replace("  ada:\n", "  a-b:\n")
    path = film(tmp_path / "film", text)
    drawn = cast(path, Painter(), tmp_path / "store")
    files = [d.still.file for d in drawn]
    assert len(files) == len({f.lower() for f in files}) == 4 * 3 + 1
    assert all(f.startswith("cast/") and ".." not in f for f in files)
    production = load_production(path)
    pictures = [production.characters[c].reference_images for c in ("a b", "A-B", "a-b")]
    assert len({p for group in pictures for p in group}) == 9
    assert "cast/a-b-front.png" not in files  # no one of them has the plain name


def test_characters_that_share_one_mapping_by_alias_each_get_their_own_stills(
    tmp_path: Path,
) -> None:
    """``bo: *ada`` is one mapping under two names: each character names its own sheet."""
    text = FILM.replace("  ada:\n", "  ada: &twin\n").replace(
        "  bo:\n    name: Bo\n    dna: a small boy in a yellow raincoat\n"
        "    reference_images: [bo.png]\n",
        "  bo: *twin\n",
    )
    assert "bo: *twin" in text
    path = film(tmp_path / "film", text)
    cast(path, Painter(), tmp_path / "store")
    production = load_production(path)
    ada, bo = (production.characters[c].reference_images for c in ("ada", "bo"))
    assert [p.name for p in ada] == ["ada-front.png", "ada-three-quarter.png", "ada-profile.png"]
    assert [p.name for p in bo] == ["bo-front.png", "bo-three-quarter.png", "bo-profile.png"]
