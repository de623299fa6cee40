"""Hostile and careless input: every input has a bound and a clear error past it, every problem
of a file is listed at once (unknown engines included), nothing is written before a production
is valid, and an unexpected error prints one line and exits 3."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ministudio.errors import ProductionError, UnknownEngineError
from ministudio.jobs import Voice
from ministudio.plugins import PluginHost
from ministudio.run.store import ContentStore
from ministudio.spec.loading import load_production
from pydantic import ValidationError

from .conftest import GOOD, run_cli, tiny_production

BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def write(tmp_path: Path, text: str | bytes, name: str = "film.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(ProductionError) as info:
        load_production(path, **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in info.value.problems]


def bounded(code: str, *args: str, memory: int = 1 << 30, seconds: float = 60) -> str:
    """Run ``code`` in a fresh interpreter limited to ``memory`` bytes of address space."""
    limit = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))\n"
    done = subprocess.run(
        [sys.executable, "-c", limit + textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=seconds,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


# -- bounds ----------------------------------------------------------------------------------


def test_an_alias_bomb_is_refused_quickly_in_bounded_memory(tmp_path: Path) -> None:
    path = write(tmp_path, BOMB)
    out = bounded(
        """
        import sys, time
        from ministudio.errors import ProductionError
        from ministudio.spec.loading import load_production
        began = time.perf_counter()
        try:
            load_production(sys.argv[1])
        except ProductionError as exc:
            print(time.perf_counter() - began, exc)
        """,
        str(path),
    )
    seconds, message = out.split(" ", 1)
    assert float(seconds) < 5
    assert "aliases add more than 100,000 values" in message
    assert "MINISTUDIO_MAX_ALIAS_NODES" in message and "line " in message


def test_aliases_and_merges_within_the_limit_still_work(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  bob: {name: Bob, dna: a man in a blue coat}",
        "  bob: &bob {name: Bob, dna: a man in a blue coat, voice: {pitch: 40}}\n"
        "  ann:\n    <<: *bob\n    name: Ann",
    )
    production = load_production(write(tmp_path, text))
    ann = production.characters["ann"]
    assert (ann.name, ann.dna, ann.voice.pitch) == ("Ann", "a man in a blue coat", 40)


def test_yaml_nested_5000_deep_is_a_production_error(tmp_path: Path) -> None:
    path = write(tmp_path, "title: " + "[" * 5000 + "]" * 5000 + "\n")
    found = problems(path)
    assert len(found) == 1 and found[0].startswith("line 1: title[0]")
    assert "nested more than 64 levels deep" in found[0] and "MINISTUDIO_MAX_DEPTH" in found[0]


def test_json_nested_100000_deep_is_a_production_error(tmp_path: Path) -> None:
    path = write(tmp_path, '{"title": ' + "[" * 100_000 + "]" * 100_000 + "}", "film.json")
    found = problems(path)
    assert len(found) == 1 and "nested more than 64 levels deep" in found[0]


def test_the_depth_limit_can_be_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path, GOOD + "routing: {options: {animatic: {a: " + "[" * 70 + "]" * 70 + "}}}"
    )
    assert "MINISTUDIO_MAX_DEPTH" in problems(path)[0]
    monkeypatch.setenv("MINISTUDIO_MAX_DEPTH", "100")
    assert load_production(path).title == "Test"


def test_a_file_past_the_size_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, GOOD)
    monkeypatch.setenv("MINISTUDIO_MAX_FILE_BYTES", "100")
    assert problems(path) == [
        f"<root>: the file is {len(GOOD):,} bytes: the limit is 100 bytes in a production file "
        "(set MINISTUDIO_MAX_FILE_BYTES to raise it)"
    ]
    monkeypatch.setenv("MINISTUDIO_MAX_FILE_BYTES", "lots")
    with pytest.raises(ProductionError, match="MINISTUDIO_MAX_FILE_BYTES"):
        load_production(path)


def test_only_a_regular_file_is_read(tmp_path: Path) -> None:
    assert "not a regular file" in problems(tmp_path)[0]


def test_a_spoken_line_past_the_limit_is_refused_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = GOOD.replace("text: hello", "text: " + "blah " * 20_001) + "        narration: fine\n"
    path = write(tmp_path, text)
    assert problems(path) == [
        "line 12: scenes[0].shots[0].dialogue[0].text: this line is 100,004 characters; split "
        "it into several lines: the limit is 10,000 characters in a spoken line (set "
        "MINISTUDIO_MAX_LINE_CHARS to raise it)"
    ]
    monkeypatch.setenv("MINISTUDIO_MAX_LINE_CHARS", "200000")
    assert len(load_production(path).scenes[0].shots[0].dialogue[0].text) == 100_004


def test_a_long_line_is_spoken_in_bounded_memory(tmp_path: Path) -> None:
    """Past the validation cap (raised), eSpeak's samples stream to disk: the peak memory stays
    near the interpreter's own, where the whole line was held several times over (30,000
    characters took 540 MB; 100,000 took 1.7 GB, and now 52 MB)."""
    out = bounded(
        """
        import sys
        from pathlib import Path
        from ministudio.engines import EngineContext
        from ministudio.engines.espeak import plugin
        from ministudio.jobs import SpeechRequest
        words = "The quick brown fox jumps over the lazy dog, and then it rests a while. "
        text = (words * 420)[:30_000]
        context = EngineContext(engine="espeak", work_dir=Path(sys.argv[1]))
        result = plugin.synthesize_speech(
            "espeak", SpeechRequest(text=text, voice={}), Path(sys.argv[1]) / "a.wav", context
        )
        peak = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
        print(result.duration, int(peak) // 1024)
        """,
        str(tmp_path),
        memory=2 << 30,
        seconds=120,
    )
    duration, peak_mb = out.split()
    assert float(duration) > 1500  # 28 minutes of speech, 75 MB of WAV
    assert int(peak_mb) < 150, f"peak RSS {peak_mb} MB"


def test_streamed_speech_is_the_same_as_speech_then_trim(tmp_path: Path) -> None:
    import wave

    import numpy as np
    from ministudio.engines.espeak import synth

    for text in ("Hello there.", "...", "A longer one, with a pause; then more words!"):
        samples, rate = synth.synthesize(text, voice="en-us+f3", pitch=60)
        trimmed = synth.trim_silence(samples, rate, keep=0.05)
        seconds = synth.speak_to_wav(text, tmp_path / "a.wav", voice="en-us+f3", pitch=60)
        with wave.open(str(tmp_path / "a.wav")) as w:
            streamed = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        assert np.array_equal(streamed, trimmed) and seconds == len(trimmed) / rate


def test_a_long_title_is_refused_and_folder_names_stay_short(tmp_path: Path) -> None:
    from ministudio.cli.common import slug

    found = problems(write(tmp_path, GOOD.replace("title: Test", "title: " + "x" * 5000)))
    assert found == [
        "line 1: title: the title is 5,000 characters; at most 200 (it names the film and its "
        "output folder): put the rest in style.description"
    ]
    assert len(slug("A long title, " * 14)) <= 80
    result = run_cli("plan", str(tmp_path / "film.yaml"), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


# -- encodings and JSON ------------------------------------------------------------------------


def test_json_duplicate_keys_are_refused_with_their_line(tmp_path: Path) -> None:
    text = '{\n  "title": "a",\n  "scenes": [],\n  "title": "b"\n}'
    found = problems(write(tmp_path, text, "film.json"))
    assert "line 4: title: this key appears twice in its object" in found
    assert any("environments: required field is missing" in f for f in found)


def test_yaml_duplicate_keys_are_listed_with_the_other_problems(tmp_path: Path) -> None:
    text = GOOD.replace("title: Test", "title: Test\ntitle: Again\nseed: -1")
    found = problems(write(tmp_path, text))
    assert found == [
        "line 2: title: this key appears twice in its mapping",
        "line 3: seed: Input should be greater than or equal to 0",
    ]


def test_utf8_bom_utf16_and_utf32_files_are_read(tmp_path: Path) -> None:
    expected = load_production(write(tmp_path, GOOD)).model_dump()
    as_json = json.dumps(load_production(write(tmp_path, GOOD)).model_dump(mode="json"))
    cases = [
        ("bom.json", b"\xef\xbb\xbf" + as_json.encode()),
        ("bom.yaml", b"\xef\xbb\xbf" + GOOD.encode()),
        ("utf16.yaml", GOOD.encode("utf-16")),  # with a BOM (Windows' "Unicode")
        ("utf16be.json", as_json.encode("utf-16-be")),  # without one
        ("utf32.yaml", GOOD.encode("utf-32")),
    ]
    for name, data in cases:
        assert load_production(write(tmp_path, data, name)).model_dump() == expected, name


def test_a_file_in_another_encoding_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("a small room", "a caf\u00e9").encode("latin-1"))
    found = problems(path)
    assert found == [
        "line 5: <root>: the file is not valid UTF-8 (byte 0xe9 at offset 111): save it as UTF-8"
    ]


def test_yaml_tags_and_second_documents_are_refused(tmp_path: Path) -> None:
    tagged = problems(write(tmp_path, GOOD + "seed: !!python/object:os.system echo\n"))
    assert tagged == [
        "line 13: seed: the tag tag:yaml.org,2002:python/object:os.system is not supported: "
        "write plain values"
    ]
    assert "one YAML document" in problems(write(tmp_path, GOOD + "---\n" + GOOD))[0]


def test_yaml_scalars_follow_yaml_1_2(tmp_path: Path) -> None:
    text = GOOD.replace("title: Test", "title: yes\nseed: 0x10").replace("hello", "no")
    production = load_production(write(tmp_path, text))
    assert production.title == "yes" and production.seed == 16
    assert production.scenes[0].shots[0].dialogue[0].text == "no"


# -- every problem at once -------------------------------------------------------------------


def test_four_problems_are_listed_as_four(tmp_path: Path) -> None:
    text = """\
title: Test
format: {fps: 5}
characters:
  bob: {name: Bob, dna: a man}
environments:
  room: {description: a small room}
scenes:
  - id: one
    environment: roomy
    shots:
      - id: a
        action: Bob waves
        dialogue:
          - {speaker: alice, text: hello}
      - id: a
        action: Bob waves again
"""
    assert problems(write(tmp_path, text)) == [
        "line 2: format.fps: Input should be greater than or equal to 12",
        "line 9: scenes[0].environment: unknown environment 'roomy'; defined: room",
        "line 14: scenes[0].shots[0].dialogue[0].speaker: unknown character 'alice'; defined: bob",
        "line 15: scenes[0].shots[1].id: shot id 'a' is used twice",
    ]


def test_unknown_engines_are_all_listed_with_their_lines(tmp_path: Path) -> None:
    text = GOOD.replace(
        "{name: Bob, dna: a man in a blue coat}", "{name: Bob, dna: x, voice: {engine: nope}}"
    )
    text += """\
seed: -1
narrator: {engine: animatic}
routing:
  video: lumaa
  plate: also-missing
  shots: {s1: sora2}
  fallbacks: {luma: [ghost]}
  options: {phantom: {model: x}}
  limits: {spectre: {concurrency: 2}}
qc: {judge: animatic}
"""
    found = problems(write(tmp_path, text), engines=PluginHost())
    located = [f.split(": ")[0:2] for f in found]
    assert located == [
        ["line 3", "characters.bob.voice.engine"],
        ["line 13", "seed"],
        ["line 14", "narrator.engine"],
        ["line 16", "routing.video"],
        ["line 17", "routing.plate"],
        ["line 18", "routing.shots.s1"],
        ["line 19", "routing.fallbacks.luma[0]"],
        ["line 20", "routing.options.phantom"],
        ["line 21", "routing.limits.spectre"],
        ["line 22", "qc.judge"],
    ]
    joined = "\n".join(found)
    assert "no speech engine 'nope' is installed (available: espeak" in joined
    assert "'animatic' is a video engine, not a speech engine" in joined
    assert "no video engine 'lumaa' is installed (available: animatic" in joined
    assert "'animatic' is a video engine, not a judge engine" in joined


def test_render_writes_nothing_before_its_production_is_valid(tmp_path: Path) -> None:
    from ministudio.run.render import plan, render

    bad = write(tmp_path, GOOD + "routing: {video: lumaa}\nqc: {judge: nobody}\n")
    for command in ("render", "plan"):
        out, store = tmp_path / f"{command}-out", tmp_path / f"{command}-store"
        result = run_cli(command, str(bad), "-o", str(out), "--store", str(store))
        assert result.returncode == 2, result.stderr
        assert "routing.video" in result.stderr and "qc.judge" in result.stderr
        assert not out.exists() and not store.exists()
    production = tiny_production(qc={"judge": "nobody"}, routing={"speech": "nothing"})
    for run in (render, plan):
        with pytest.raises(UnknownEngineError) as info:
            run(production, tmp_path / "out", store=ContentStore(tmp_path / "store"))
        assert "qc.judge" in str(info.value) and "routing.speech" in str(info.value)
    assert not (tmp_path / "out").exists() and not (tmp_path / "store").exists()


def test_pitch_and_rate_outside_the_documented_ranges_are_refused(tmp_path: Path) -> None:
    for fields in ({"pitch": 1000}, {"pitch": -1}, {"rate": 0}, {"rate": 451}):
        with pytest.raises(ValidationError):
            Voice(**fields)  # type: ignore[arg-type]
    assert Voice(pitch=0, rate=80) and Voice(pitch=100, rate=450)
    text = GOOD + "narrator: {pitch: 1000, rate: 0}\n"
    assert problems(write(tmp_path, text)) == [
        "line 13: narrator.pitch: Input should be less than or equal to 100",
        "line 13: narrator.rate: Input should be greater than or equal to 80",
    ]


# -- the command line ------------------------------------------------------------------------


def _crash(
    *args: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    from ministudio import cli
    from ministudio.spec import loading

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the disk\nis on fire")

    monkeypatch.setattr(loading, "load_production", broken)
    monkeypatch.setattr(sys, "argv", ["ministudio", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    return int(info.value.code or 0), capsys.readouterr().err


def test_an_unexpected_error_prints_one_line_and_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MINISTUDIO_DEBUG", raising=False)
    code, err = _crash(
        "validate", str(write(tmp_path, GOOD)), monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 3
    assert err == (
        "error: RuntimeError: the disk is on fire "
        "(unexpected: run again with --debug for the traceback)\n"
    )


def test_debug_shows_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(write(tmp_path, GOOD))
    code, err = _crash("--debug", "validate", path, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 3 and err.startswith("Traceback (most recent call last):")
    assert err.endswith("error: RuntimeError: the disk is on fire\n")
    monkeypatch.setenv("MINISTUDIO_DEBUG", "1")
    code, err = _crash("validate", path, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 3 and "Traceback" in err
