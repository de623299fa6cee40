"""The Fountain parser on the examples of the syntax page (https://fountain.io/syntax): each
element's kind, text and script line."""

from __future__ import annotations

import time

import pytest
from ministudio.authoring.fountain import Element, ScriptError, parse, plain


def kinds(text: str) -> list[tuple[str, str]]:
    return [(e.kind, e.text) for e in parse(text).elements]


def first(text: str, kind: str) -> Element:
    return next(e for e in parse(text).elements if e.kind == kind)


@pytest.mark.parametrize(
    "heading",
    [
        "INT. HOUSE - DAY",
        "EXT. BRICK'S PATIO - DAY",
        "EST. CITY SKYLINE - NIGHT",
        "INT./EXT. RONNIE'S CAR - MOVING - NIGHT",
        "INT/EXT. CAR - DAY",
        "I/E. TRUCK - NIGHT",
        "int. kitchen - day",
        "INT HOUSE - DAY",
    ],
)
def test_scene_headings(heading: str) -> None:
    assert kinds(f"Some action.\n\n{heading}\n\nMore action.")[1] == ("scene_heading", heading)


def test_a_heading_needs_a_blank_line_before_it() -> None:
    assert kinds("He waits.\nINT. HOUSE - DAY") == [("action", "He waits.\nINT. HOUSE - DAY")]
    # lenient: action straight after a heading (as some apps write it) is still action
    assert kinds("INT. HOUSE - DAY\nThe door opens.") == [
        ("scene_heading", "INT. HOUSE - DAY"),
        ("action", "The door opens."),
    ]


def test_forced_heading_and_scene_numbers() -> None:
    script = parse(
        ".SNIPER SCOPE POV\n\nINT. HOUSE - DAY #1#\n\nINT. HOUSE - DAY #1A#\n\n"
        "EXT. GARDEN - NIGHT #I-1-A#\n\n...and then nothing."
    )
    headings = [e for e in script.elements if e.kind == "scene_heading"]
    assert [(h.text, h.forced, h.scene_number) for h in headings] == [
        ("SNIPER SCOPE POV", True, None),
        ("INT. HOUSE - DAY", False, "1"),
        ("INT. HOUSE - DAY", False, "1A"),
        ("EXT. GARDEN - NIGHT", False, "I-1-A"),
    ]
    assert script.elements[-1] == Element("action", "...and then nothing.", 9)


def test_action_keeps_line_breaks_and_indenting_and_forced_action() -> None:
    script = parse(
        "They drink long and well from the beers.\n\nAnd then there's a long beat.\n"
        "Longer than is funny.\n\n\tTwo spaces in.\n\n!SCANNING THE AISLES...\nWhere is he?"
    )
    assert [(e.kind, e.text, e.line) for e in script.elements] == [
        ("action", "They drink long and well from the beers.", 1),
        ("action", "And then there's a long beat.\nLonger than is funny.", 3),
        ("action", "    Two spaces in.", 6),
        ("action", "SCANNING THE AISLES...\nWhere is he?", 8),
    ]


def test_character_cues_extensions_forced_and_numbers() -> None:
    script = parse(
        "STEEL\nThe man's a myth!\n\nMOM (O. S.)\nLuke! Come down for supper!\n\n"
        "HANS (on the radio)\nWhat was it you said?\n\n@McCLANE\nYippie ki-yay!\n\n"
        "R2D2\nBeep.\n\n23\nNot a name."
    )
    cues = [
        (e.name, e.extensions, e.forced, e.line) for e in script.elements if e.kind == "character"
    ]
    assert cues == [
        ("STEEL", (), False, 1),
        ("MOM", ("O. S.",), False, 4),
        ("HANS", ("on the radio",), False, 7),
        ("McCLANE", (), True, 10),
        ("R2D2", (), False, 13),
    ]
    assert script.elements[-1] == Element("action", "23\nNot a name.", 16)


def test_dialogue_parentheticals_and_the_two_space_blank() -> None:
    script = parse(
        "STEEL\n(starting the engine)\nSo much for retirement!\n  \nOr not.\n(beat)\nLet's go."
    )
    assert [(e.kind, e.text, e.line) for e in script.elements] == [
        ("character", "STEEL", 1),
        ("parenthetical", "starting the engine", 2),
        ("dialogue", "So much for retirement!", 3),
        ("dialogue", "", 4),
        ("dialogue", "Or not.", 5),
        ("parenthetical", "beat", 6),
        ("dialogue", "Let's go.", 7),
    ]


def test_dual_dialogue() -> None:
    script = parse("BRICK\nScrew retirement.\n\nSTEEL ^\nScrew retirement.")
    cues = [(e.name, e.dual) for e in script.elements if e.kind == "character"]
    assert cues == [("BRICK", False), ("STEEL", True)]


def test_lyrics_transitions_and_centered_text() -> None:
    script = parse(
        "~Willy Wonka! Willy Wonka! The amazing chocolatier!\n\nJack begins to cry.\n\n"
        "CUT TO:\n\nEXT. HOUSE - DAY\n\n> Burn to White.\n\n> THE END <\n\n>INTERMISSION<\n\n"
        "SMASH CUT TO:\nnot a transition: no blank line after it."
    )
    assert [(e.kind, e.text) for e in script.elements] == [
        ("lyrics", "Willy Wonka! Willy Wonka! The amazing chocolatier!"),
        ("action", "Jack begins to cry."),
        ("transition", "CUT TO:"),
        ("scene_heading", "EXT. HOUSE - DAY"),
        ("transition", "Burn to White."),
        ("centered", "THE END"),
        ("centered", "INTERMISSION"),
        ("character", "SMASH CUT TO:"),
        ("dialogue", "not a transition: no blank line after it."),
    ]


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("*italics*", "italics"),
        ("**bold**", "bold"),
        ("***bold italics***", "bold italics"),
        ("_underline_", "underline"),
        ("_**underlined bold**_", "underlined bold"),
        ("Steel enters the code: \\*9765\\*", "Steel enters the code: *9765*"),
        ("He dialed *69 and then *23.", "He dialed *69 and then *23."),
        ("a * b * c", "a * b * c"),
    ],
)
def test_emphasis_is_removed(written: str, shown: str) -> None:
    assert plain(written) == shown


def test_title_page_with_multi_line_values() -> None:
    script = parse(
        "Title:\n    _**BRICK & STEEL**_\n    _**FULL RETIRED**_\nCredit: Written by\n"
        "Author: Stu Maschwitz\nDraft date: 1/20/2012\nContact:\n    Next Level Productions\n"
        "    Solvang, CA\n\nEXT. BRICK'S PATIO - DAY\n\nA gorgeous day."
    )
    assert script.title_page["title"] == "BRICK & STEEL\nFULL RETIRED"
    assert script.title_page["author"] == "Stu Maschwitz"
    assert script.title_page["draft date"] == "1/20/2012"
    assert script.title_page["contact"] == "Next Level Productions\nSolvang, CA"
    assert script.title_lines["title"] == 1 and script.title_lines["credit"] == 4
    assert script.elements[0] == Element("scene_heading", "EXT. BRICK'S PATIO - DAY", 11)


def test_a_first_line_that_is_no_title_key_starts_the_body() -> None:
    script = parse("FADE IN:\n\nEXT. FIELD - DAY\n\nWind.")
    assert script.title_page == {}
    assert kinds("FADE IN:\n\nEXT. FIELD - DAY\n\nWind.")[0] == ("action", "FADE IN:")


def test_notes_boneyard_sections_synopses_and_page_breaks_are_left_out_and_counted() -> None:
    script = parse(
        "# ACT I\n\n## Scene 1\n\n= Set up the characters and the story.\n\n"
        "INT. HOUSE - DAY\n\nHe opens the door. [[It was supposed to be red, right?]]\n"
        "[[A note on a line of its own]]\nHe steps in.\n\n/*\nCOGNITO\nEveryone's coming.\n*/\n\n"
        "===\n\nHe sits. [[Two\n\nlines]] Then rests.\n\nEnd."
    )
    assert [(e.kind, e.text, e.line) for e in script.elements] == [
        ("scene_heading", "INT. HOUSE - DAY", 7),
        ("action", "He opens the door. \nHe steps in.", 9),
        ("action", "He sits.  Then rests.", 20),
        ("action", "End.", 24),
    ]
    assert script.dropped == {
        "sections": 2,
        "synopses": 1,
        "notes": 3,
        "boneyard": 1,
        "page breaks": 1,
    }


def test_unclosed_boneyard_and_note_are_kept_as_text() -> None:
    assert kinds("INT. A - DAY\n\nA /* b\n\nC [[ d") == [
        ("scene_heading", "INT. A - DAY"),
        ("action", "A /* b"),
        ("action", "C [[ d"),
    ]


def test_windows_and_old_mac_line_endings_and_a_bom() -> None:
    text = "\ufeffINT. A - DAY\r\n\r\nBOB\r\nHi.\rBye."
    assert [(e.kind, e.line) for e in parse(text).elements] == [
        ("scene_heading", 1),
        ("character", 3),
        ("dialogue", 4),
        ("dialogue", 5),
    ]


def test_a_line_past_the_bound_is_refused_with_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINISTUDIO_MAX_SCRIPT_LINE_CHARS", "50")
    with pytest.raises(ScriptError) as info:
        parse("INT. A - DAY\n\n" + "x" * 51, "film.fountain")
    assert info.value.problems[0].line == 3
    assert "MINISTUDIO_MAX_SCRIPT_LINE_CHARS" in str(info.value)


def test_too_many_elements_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINISTUDIO_MAX_SCRIPT_ELEMENTS", "10")
    with pytest.raises(ScriptError, match="MINISTUDIO_MAX_SCRIPT_ELEMENTS"):
        parse("\n\n".join(["Action."] * 11))


@pytest.mark.parametrize(
    "hostile",
    [
        ("/*" * 9_000 + "\n") * 40,
        ("[[" * 9_000 + "\n") * 40,
        ("*x " * 6_000 + "\n\n") * 30,
        ("_a " * 6_000 + "\n") * 30,
        "\n" * 500_000,
        ("@" + "A(" * 3_000 + "\nhi\n\n") * 20,
    ],
)
def test_hostile_text_parses_in_linear_time(hostile: str) -> None:
    started = time.perf_counter()
    parse(hostile)
    assert time.perf_counter() - started < 3


def test_the_syntax_tour_file_reads_element_by_element() -> None:
    from pathlib import Path

    text = (Path(__file__).parent / "screenplays" / "syntax-tour.fountain").read_text("utf-8")
    script = parse(text)
    assert script.title_page["title"] == "THE SYNTAX TOUR\nevery element of Fountain 1.1"
    found = [(e.kind, e.line) for e in script.elements]
    assert found == [
        ("transition", 18),
        ("scene_heading", 20),
        ("action", 22),
        ("action", 25),
        ("action", 27),
        ("character", 29),
        ("parenthetical", 30),
        ("dialogue", 31),
        ("character", 33),
        ("dialogue", 34),
        ("dialogue", 35),
        ("dialogue", 36),
        ("character", 38),
        ("dialogue", 39),
        ("character", 43),
        ("dialogue", 44),
        ("transition", 51),
        ("scene_heading", 53),
        ("action", 55),
        ("lyrics", 57),
        ("lyrics", 58),
        ("character", 60),
        ("dialogue", 61),
        ("character", 63),
        ("dialogue", 64),
        ("scene_heading", 66),
        ("action", 68),
        ("scene_heading", 74),
        ("action", 76),
        ("character", 78),
        ("parenthetical", 79),
        ("dialogue", 80),
        ("transition", 82),
        ("scene_heading", 84),
        ("action", 86),
        ("centered", 88),
    ]
    by_line = {e.line: e for e in script.elements}
    assert by_line[33].extensions == ("CONT'D",) and by_line[38].dual
    assert by_line[43].extensions == ("O.S.",) and by_line[63].name == "McCLANE"
    assert by_line[20].scene_number == "1" and by_line[66].forced
    assert by_line[76].text == (
        "Steel drives. The wipers beat; the radio hums; rain on the glass. He dialed *69 twice."
    )
    assert script.dropped == {
        "sections": 3,
        "synopses": 1,
        "notes": 1,
        "boneyard": 1,
        "page breaks": 1,
    }
