"""``ministudio import``: a Fountain screenplay becomes a production that validates, points back
to the script's lines, and renders keyless. The showcase films as scripts, a public-domain
play of 1,600 lines counted independently, the mapping's rules, and hostile input."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from ministudio.authoring.fountain import ScriptError
from ministudio.authoring.screenplay import import_script, to_yaml
from ministudio.errors import ProductionError
from ministudio.spec import Production
from ministudio.spec.loading import load_production

from .conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MACBETH = Path(__file__).parent / "screenplays" / "macbeth-acts-1-2.fountain"


def script(tmp_path: Path, text: str, name: str = "film.fountain") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def imported(tmp_path: Path, text: str) -> Production:
    return import_script(script(tmp_path, text))[0]


def written(tmp_path: Path, path: Path) -> Production:
    """``path`` imported, written as YAML, and that file loaded as ``render`` loads it."""
    found = import_script(path)[1]
    out = tmp_path / path.with_suffix(".yaml").name
    out.write_text(to_yaml(found, path.name), encoding="utf-8")
    return load_production(out)


def spoken(production: Production) -> list[str]:
    found: list[str] = []
    for _, shot, _ in production.shots():
        found += [line.text for line in shot.dialogue]
        found += [shot.narration] if shot.narration else []
    return found


# -- the showcase films ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["quantum-mechanics", "contextbytes", "last-algorithm"])
def test_each_showcase_script_imports_into_the_film_it_was_written_from(
    name: str, tmp_path: Path
) -> None:
    production = written(tmp_path, EXAMPLES / f"{name}.fountain")
    original = load_production(EXAMPLES / f"{name}.yaml")
    assert production.title == original.title
    assert spoken(production) == spoken(original)
    # names in title case from the cues (ARIA reads Aria)
    assert sorted(c.name.lower() for c in production.characters.values()) == sorted(
        c.name.lower() for c in original.characters.values()
    )
    assert len(production.environments) == len(original.environments)
    assert len(production.scenes) == len(original.scenes)
    for character in production.characters.values():
        assert "does not describe" not in character.dna  # each is introduced in the action


def test_the_last_algorithm_keeps_one_lab_and_changes_its_light(tmp_path: Path) -> None:
    production = import_script(EXAMPLES / "last-algorithm.fountain")[0]
    assert list(production.environments) == ["lab"]
    assert production.environments["lab"].lighting.startswith("night")
    night, dawn = production.scenes
    assert night.lighting is None and dawn.lighting is not None and "dawn" in dawn.lighting
    assert production.characters["dr-sarah"].name == "Dr. Sarah"
    assert "auburn hair" in production.characters["dr-sarah"].dna


def test_the_smallest_showcase_renders_keyless_through_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "quantum.yaml"
    made = run_cli(
        "import",
        str(EXAMPLES / "quantum-mechanics.fountain"),
        *("-o", str(out), "--aspect", "9:16", "--resolution", "360p", "--fps", "12"),
    )
    assert made.returncode == 0, made.stderr
    assert "1 scenes, 1 environments, 2 characters, 7 shots, 7 lines" in made.stdout
    assert "left out of the film: 1 note" in made.stdout
    film = tmp_path / "film"
    rendered = run_cli("render", str(out), "-o", str(film), "--store", str(tmp_path / "store"))
    assert rendered.returncode == 0, rendered.stderr
    assert (film / "film.mp4").stat().st_size > 10_000
    assert "Science is amazing!" in (film / "film.srt").read_text(encoding="utf-8")


# -- a real screenplay, counted independently ---------------------------------------------------


def counted(text: str) -> tuple[int, set[str], int, int]:
    """Scene headings, speaking characters, dialogue blocks and spoken words, counted with plain
    regular expressions over the script (not with the parser)."""
    lines = text.split("\n")
    headings = sum(1 for line in lines if re.match(r"^(INT|EXT)\. ", line))
    cue = re.compile(r"^[A-Z][A-Z' .]*[A-Z]$")
    speakers: set[str] = set()
    blocks = words = 0
    for i, line in enumerate(lines):
        if cue.match(line) and i > 0 and not lines[i - 1].strip() and lines[i + 1].strip():
            speakers.add(line)
            blocks += 1
            j = i + 1
            while j < len(lines) and lines[j].strip():
                if not lines[j].startswith("("):
                    words += len(lines[j].split())
                j += 1
    return headings, speakers, blocks, words


def test_a_public_screenplay_imports_with_every_scene_character_and_line(tmp_path: Path) -> None:
    text = MACBETH.read_text(encoding="utf-8")
    assert len(text.split("\n")) >= 1_100  # about 30 pages
    headings, speakers, blocks, words = counted(text)
    assert (headings, len(speakers), blocks) == (11, 19, 263)
    out = tmp_path / "macbeth.yaml"
    result = run_cli("import", str(MACBETH), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert f"11 scenes, 8 environments, 19 characters, 276 shots, {blocks} lines" in result.stdout
    production = load_production(out)
    lines = [line for _, shot, _ in production.shots() for line in shot.dialogue]
    assert len(production.scenes) == headings
    assert {production.characters[line.speaker].name.upper() for line in lines} == speakers
    assert len(lines) == blocks
    assert sum(len(line.text.split()) for line in lines) == words
    # the same castle at day and at night is one place, lit two ways
    castle = [s for s in production.scenes if s.environment == "inverness-macbeth-s-castle"]
    assert len(castle) == 2 and castle[1].lighting == "night, dim light"
    # II.ii follows II.i in the same court CONTINUOUS: it continues
    court = [s for s in production.scenes if s.environment == "court-of-macbeth-s-castle"]
    assert court[1].shots[0].continuity == "continue" and court[2].shots[0].continuity == "cut"


def test_every_shot_in_the_yaml_names_its_script_line(tmp_path: Path) -> None:
    written = to_yaml(import_script(MACBETH)[1], MACBETH.name).split("\n")
    script_lines = MACBETH.read_text(encoding="utf-8").split("\n")
    shots = [i for i, line in enumerate(written) if line.startswith("      - id: ")]
    assert len(shots) == 276
    for i in shots:
        found = re.fullmatch(r"\s*# macbeth-acts-1-2\.fountain:(\d+)", written[i - 1])
        assert found, written[i - 1]
        source = script_lines[int(found.group(1)) - 1]
        assert source.strip() and not source.startswith(("#", "=", "("))


# -- the mapping ---------------------------------------------------------------------------------

MAPPING = """\
Title: The *Test*
Credit: by

INT. KITCHEN - DAY

A small kitchen. ANNA, a chef, about 30, red apron, is chopping onions.

ANNA
(cheerful)
Good morning!

BEN (o. s.)
Is breakfast ready?

ANNA (CONT'D)
Almost.

NARRATOR (V.O.)
She had never been late.

BEN
Coming!

ANNA ^
Hurry!

> CHAPTER TWO <

ANNA
~La la la,
~the onions sing.

MATCH CUT TO:

INT. KITCHEN - NIGHT

Ben washes up.

EXT. GARDEN - CONTINUOUS

Ben walks out.
"""


@pytest.fixture
def mapped(tmp_path: Path) -> Production:
    return imported(tmp_path, MAPPING)


def shots_of(production: Production) -> list[Any]:
    return [shot for _, shot, _ in production.shots()]


def test_title_characters_and_places(mapped: Production) -> None:
    assert mapped.title == "The Test"
    assert {k: c.name for k, c in mapped.characters.items()} == {"anna": "Anna", "ben": "Ben"}
    assert mapped.characters["anna"].dna.startswith("ANNA, a chef, about 30")
    assert "does not describe" in mapped.characters["ben"].dna
    assert list(mapped.environments) == ["kitchen", "garden"]
    assert mapped.environments["kitchen"].lighting == "daylight"
    assert [s.lighting for s in mapped.scenes] == [None, "night, dim light", None]
    assert [s.id for s in mapped.scenes] == ["kitchen-day", "kitchen-night", "garden-continuous"]


def test_shots_split_by_action_and_by_speaker(mapped: Production) -> None:
    shots = shots_of(mapped)
    first = shots[0]
    assert first.size == "wide" and first.continuity == "cut"
    assert [(d.speaker, d.text, d.emotion) for d in first.dialogue] == [
        ("anna", "Good morning!", "cheerful"),
        ("ben", "Is breakfast ready?", "neutral"),  # off-screen: no new shot, not in frame
    ]
    assert first.characters == ["anna"]
    # a new speaker after another's line: a new shot; CONT'D is the same Anna
    assert [d.speaker for d in shots[1].dialogue] == ["anna"] and shots[1].size == "close-up"
    assert shots[1].narration == "She had never been late."


def test_dual_dialogue_title_card_lyrics_and_transitions(mapped: Production) -> None:
    shots = shots_of(mapped)
    dual = shots[2]
    assert [d.speaker for d in dual.dialogue] == ["ben", "anna"]
    assert sorted(dual.characters or []) == ["anna", "ben"] and dual.size == "medium"
    card = shots[3]
    assert card.action == "Title card on screen: CHAPTER TWO" and card.characters == []
    assert card.duration == 3.0
    song = shots[4]
    assert song.dialogue[0].text == "La la la, the onions sing."
    assert song.dialogue[0].emotion == "singing"
    night, garden = shots[5], shots[6]
    assert night.continuity == "continue"  # MATCH CUT TO:
    assert garden.continuity == "cut"  # CONTINUOUS, but in another place


def test_positions_point_errors_at_the_script_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINISTUDIO_MAX_LINE_CHARS", "20")
    path = script(tmp_path, "INT. ROOM - DAY\n\nBOB\n(sad)\nThis line is far too long to say.\n")
    with pytest.raises(ProductionError) as info:
        import_script(path)
    message = str(info.value)
    assert isinstance(info.value, ScriptError) and info.value.problems[0].line == 5
    assert f"{path}:5: scenes[0].shots[0].dialogue[0].text" in message
    assert "MINISTUDIO_MAX_LINE_CHARS" in message


# -- the command ---------------------------------------------------------------------------------


def test_default_output_beside_the_script_and_no_overwrite_without_force(tmp_path: Path) -> None:
    path = script(tmp_path, MAPPING)
    first = run_cli("import", str(path))
    assert first.returncode == 0, first.stderr
    out = tmp_path / "film.yaml"
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["format"] == {"aspect_ratio": "16:9", "resolution": "720p", "fps": 24}
    assert "# film.fountain:4  INT. KITCHEN - DAY" in out.read_text(encoding="utf-8")
    again = run_cli("import", str(path))
    assert again.returncode != 0 and "exists" in again.stderr and "--force" in again.stderr
    forced = run_cli("import", str(path), "--force", "--seed", "9", "--fps", "30")
    assert forced.returncode == 0, forced.stderr
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["seed"] == 9 and data["format"]["fps"] == 30


# -- hostile input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "binary file"),
        (b"INT. A - DAY\n\n\xff\xfe\xfa broken", "not valid UTF-8"),
        (b"Just some words.\n\nNo heading at all.\n", "no scene heading"),
        (b"", "no scene heading"),
        (b"Title: Only a title page\n", "no scene heading"),
    ],
)
def test_unusable_scripts_are_refused_naming_the_script(
    tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "bad.fountain"
    path.write_bytes(content)
    with pytest.raises(ScriptError) as info:
        import_script(path)
    assert str(info.value).startswith(f"{path}: 1 problem") and says in str(info.value)
    assert info.value.exit_code == 2


def test_the_command_exits_2_naming_the_script_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "photo.fountain"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    result = run_cli("import", str(path), "-o", str(tmp_path / "out.yaml"))
    assert result.returncode == 2, result.stderr
    assert f"{path}: 1 problem" in result.stderr and "binary file" in result.stderr
    assert not (tmp_path / "out.yaml").exists()


def test_a_title_past_its_bound_is_refused_at_its_line(tmp_path: Path) -> None:
    path = script(tmp_path, "Credit: by\nTitle: " + "Long " * 60 + "\n\nINT. A - DAY\n\nHi.\n")
    with pytest.raises(ScriptError, match=rf"{re.escape(str(path))}:2: title: the title is"):
        import_script(path)


def test_inside_and_outside_the_same_house_are_two_places(tmp_path: Path) -> None:
    production = imported(tmp_path, "INT. HOUSE - DAY\n\nA.\n\nEXT. HOUSE - DAY\n\nB.\n")
    assert list(production.environments) == ["house", "house-exterior"]


def test_huge_and_missing_scripts_and_folders_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINISTUDIO_MAX_SCRIPT_BYTES", "1000")
    path = script(tmp_path, "INT. A - DAY\n\n" + "Words. " * 300)
    with pytest.raises(ScriptError, match="MINISTUDIO_MAX_SCRIPT_BYTES"):
        import_script(path)
    with pytest.raises(ScriptError, match="file not found"):
        import_script(tmp_path / "nothing.fountain")
    with pytest.raises(ScriptError, match="not a regular file"):
        import_script(tmp_path)


@pytest.mark.parametrize(
    "weird",
    [
        "INT. A - DAY\n\n" + "!!!\n\n" * 2000,
        "INT. A - DAY\n\n" + "".join(f"PERSON {i}\nHi.\n\n" for i in range(1500)),
        "INT. A - DAY\n\n" + "@\nHi.\n\n(\n)\n\n~\n\n>\n\n><\n\n.\n\n" * 50,
        "".join(f"INT. ROOM {i % 7} - DAY\n\n" for i in range(800)),
        "INT. 日本の家 - 夜\n\n@花子\nこんにちは。\n\n@HANAKO ^\nHello.\n",
        "INT. A - DAY\n\nBOB\n(" + "very " * 300 + "sad)\nOK.\n\nBOB\n(only a look)\n",
    ],
)
def test_deeply_weird_scripts_still_import_into_valid_productions(
    tmp_path: Path, weird: str
) -> None:
    production, found = import_script(script(tmp_path, weird))
    assert production.scenes and all(s.shots for s in production.scenes)
    written = tmp_path / "weird.yaml"
    written.write_text(to_yaml(found, "film.fountain"), encoding="utf-8")
    assert load_production(written) == production  # the YAML says the same
    for _, shot, _ in production.shots():
        for line in shot.dialogue:
            assert line.speaker in production.characters and len(line.emotion) <= 40


def test_the_syntax_tour_imports_with_each_element_where_the_mapping_puts_it(
    tmp_path: Path,
) -> None:
    tour = Path(__file__).parent / "screenplays" / "syntax-tour.fountain"
    result = run_cli("import", str(tour), "-o", str(tmp_path / "tour.yaml"))
    assert result.returncode == 0, result.stderr
    assert "1 boneyard block, 1 note, 1 page break, 3 sections, 1 synopsis" in result.stdout
    production = load_production(tmp_path / "tour.yaml")
    assert production.title == "THE SYNTAX TOUR every element of Fountain 1.1"
    assert set(production.characters) == {"brick", "steel", "mcclane"}
    assert production.characters["mcclane"].name == "McCLANE"
    assert "floral shirt" in production.characters["brick"].dna
    shots = shots_of(production)
    said = {(d.speaker, d.text): (d.emotion, shot) for shot in shots for d in shot.dialogue}
    emotion, dual = said[("brick", "And I was right.")]
    assert emotion == "neutral"
    assert ("steel", "You said that last year. And the year before.") in said
    assert sorted(dual.characters or []) == ["brick", "steel"]
    assert said[("steel", "I'm getting another beer.")][1] is dual  # a voice off joins the shot
    assert said[("steel", "Brick. It's starting again.")][0] == "into the phone"
    assert any(s.narration == "Some men never retire." for s in shots)
    assert [d.emotion for s in shots for d in s.dialogue if d.speaker == "mcclane"] == ["neutral"]
    sung = [s.narration for s in shots if s.narration and "burgers" in s.narration]
    assert sung == ["Oh, the burgers on the grill, they never get their fill!"]
    assert shots[-2].action == "Brick answers the phone." and shots[-2].continuity == "continue"
    assert shots[-1].action == "Title card on screen: THE END" and shots[-1].characters == []
    assert production.scenes[1].shots[0].continuity == "cut"  # CUT TO: beats CONTINUOUS
    assert [s.environment for s in production.scenes] == [
        "brick-s-patio",
        "brick-s-garage",
        "sniper-scope-pov",
        "steel-s-car",
        "brick-s-truck",
    ]
