"""The production spec: loading, errors a user can act on, and lossless round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ministudio.errors import ProductionError
from ministudio.spec import Format, Production
from ministudio.spec.loading import load_production
from ruamel.yaml import YAML

from .conftest import EXAMPLES, GOOD, run_cli


def write(tmp_path: Path, text: str, name: str = "film.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ProductionError) as info:
        load_production(write(tmp_path, text))
    return [str(p) for p in info.value.problems]


def test_good_file_loads(tmp_path: Path) -> None:
    production = load_production(write(tmp_path, GOOD))
    assert production.shots()[0][2] == "s1"
    assert production.format.size == (1280, 720)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("  room: {description: a small room}", "  room: {"))
    assert len(found) == 1 and "syntax error" in found[0] and found[0].startswith("line ")


def test_unknown_field_is_an_error_with_path_and_line(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        GOOD.replace(
            "      - action: Bob waves", "      - action: Bob waves\n        camra: pan-left"
        ),
    )
    assert found == [
        "line 11: scenes[0].shots[0].camra: unknown field (check its spelling; "
        "`ministudio schema` lists every field)"
    ]


def test_wrong_type_is_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD + "seed: lots\n")
    assert len(found) == 1 and found[0].startswith("line 13: seed: ")


def test_every_problem_is_listed(tmp_path: Path) -> None:
    text = GOOD.replace("title: Test", "title: Test\nformat: {fps: 5, aspect_ratio: 2:1}")
    found = problems(tmp_path, text)
    assert [f.split(": ")[1] for f in found] == ["format.aspect_ratio", "format.fps"]


def test_missing_character_is_named(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("speaker: bob", "speaker: alice"))
    assert found == [
        "line 12: scenes[0].shots[0].dialogue[0].speaker: unknown character 'alice'; defined: bob"
    ]


def test_missing_reference_image(tmp_path: Path) -> None:
    text = GOOD.replace("dna: a man in a blue coat}", "dna: a man, reference_images: [bob.png]}")
    found = problems(tmp_path, text)
    assert len(found) == 1 and "reference image 'bob.png' does not exist" in found[0]
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "bob.png")
    production = load_production(tmp_path / "film.yaml")
    assert production.characters["bob"].reference_images == [(tmp_path / "bob.png").resolve()]


def test_continue_on_first_shot_and_unknown_routed_shot(tmp_path: Path) -> None:
    text = GOOD.replace(
        "      - action: Bob waves", "      - action: Bob waves\n        continuity: continue"
    )
    text += "routing:\n  shots: {nope: animatic}\n"
    found = problems(tmp_path, text)
    assert any("nothing to continue from" in f for f in found)
    assert any("routing.shots.nope: no shot has the id 'nope'" in f for f in found)


def test_json_files_load_too(tmp_path: Path) -> None:
    production = load_production(write(tmp_path, GOOD))
    path = write(tmp_path, production.model_dump_json(), "film.json")
    assert load_production(path) == production


def test_cli_reports_bad_file_with_exit_code_2_and_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("speaker: bob", "speaker: alice"))
    result = run_cli("validate", str(path))
    assert result.returncode == 2
    assert "unknown character 'alice'" in result.stderr and "line 12" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_checks_routing_against_installed_engines(tmp_path: Path) -> None:
    good = run_cli("validate", str(write(tmp_path, GOOD)))
    assert good.returncode == 0 and "engines: animatic, espeak" in good.stdout
    bad = run_cli("validate", str(write(tmp_path, GOOD + "routing: {video: lumaa}\n")))
    assert bad.returncode == 2 and "no video engine 'lumaa' is installed" in bad.stderr
    judged = run_cli("validate", str(write(tmp_path, GOOD + "qc: {judge: gemini-judge}\n")))
    assert judged.returncode == 0 and "engines: animatic, espeak, gemini-judge" in judged.stdout
    nobody = run_cli("validate", str(write(tmp_path, GOOD + "qc: {judge: nobody}\n")))
    assert nobody.returncode == 2 and "no judge engine 'nobody' is installed" in nobody.stderr


def test_schema_command_prints_json_schema() -> None:
    result = run_cli("schema")
    schema = json.loads(result.stdout)
    assert "scenes" in schema["properties"] and "Shot" in schema["$defs"]


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_examples_are_valid(example: Path) -> None:
    load_production(example)


@pytest.mark.parametrize(
    ("ratio", "res", "size"),
    [
        ("16:9", "720p", (1280, 720)),
        ("9:16", "720p", (720, 1280)),
        ("1:1", "480p", (480, 480)),
        ("21:9", "1080p", (2520, 1080)),
    ],
)
def test_format_size(ratio: str, res: str, size: tuple[int, int]) -> None:
    assert Format(aspect_ratio=ratio, resolution=res).size == size  # type: ignore[arg-type]


# -- property: any valid production survives a YAML and a JSON round trip ------------------

ids = st.text("abcdefgh", min_size=1, max_size=6)
words = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=20,
)


@st.composite
def productions(draw: st.DrawFn) -> Production:
    char_ids = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    env_ids = draw(st.lists(ids, min_size=1, max_size=2, unique=True))
    shots = []
    for i in range(draw(st.integers(1, 4))):
        speaker = draw(st.sampled_from(char_ids))
        shots.append(
            {
                "action": draw(words),
                "size": draw(st.sampled_from(["wide", "medium", "close-up"])),
                "camera": draw(st.sampled_from(["static", "pan-left", "push-in"])),
                "dialogue": [
                    {
                        "speaker": speaker,
                        "text": draw(words),
                        "emotion": draw(st.sampled_from(["neutral", "happy", "sad"])),
                    }
                ],
                "duration": draw(
                    st.one_of(st.just("audio"), st.floats(0.5, 30).map(lambda f: round(f, 2)))
                ),
                "continuity": "cut" if i == 0 else draw(st.sampled_from(["cut", "continue"])),
                "narration": draw(st.one_of(st.none(), words)),
            }
        )
    data = {
        "title": draw(words),
        "seed": draw(st.integers(0, 2**31)),
        "format": {
            "aspect_ratio": draw(st.sampled_from(["16:9", "9:16", "1:1"])),
            "fps": draw(st.integers(12, 60)),
        },
        "characters": {
            c: {
                "name": draw(words),
                "dna": draw(words),
                "voice": {"pitch": draw(st.integers(0, 100))},
            }
            for c in char_ids
        },
        "environments": {
            e: {"description": draw(words), "palette": draw(st.lists(words, max_size=2))}
            for e in env_ids
        },
        "scenes": [{"id": "sc", "environment": draw(st.sampled_from(env_ids)), "shots": shots}],
    }
    return Production.model_validate(data)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(productions())
def test_round_trip_yaml_and_json(tmp_path: Path, production: Production) -> None:
    data = production.model_dump(mode="json")
    yaml_path = tmp_path / "p.yaml"
    with yaml_path.open("w") as f:
        yaml = YAML(typ="safe", pure=True)
        yaml.default_flow_style = False  # ruamel's flow emitter writes '?0' it cannot read back
        yaml.dump(data, f)
    assert load_production(yaml_path) == production
    json_path = tmp_path / "p.json"
    json_path.write_text(json.dumps(data))
    assert load_production(json_path) == production
