"""Keys never reach an output. Every remote engine's fake echoes the credentials it was sent
(tests/fakes/loopback.py: the ``echo`` fault and ``ECHO_MARK``) in the errors of submit,
status and download, in a failed job's reason, for shots and for background plates; then
every output of ``ministudio render`` is scanned for the marker keys and their derived forms:
what the command printed, every file of the output folder and the store, every column of
every table of the journal, and ``ministudio status``. Plus the gate's forms, unit by unit."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from .fakes.google_server import GoogleServer
from .fakes.kling_server import KlingServer
from .fakes.loopback import ECHO, ECHO_MARK, LoopbackServer
from .fakes.luma_server import LumaServer
from .fakes.sim_server import SimServer

# Marker keys: '/', '+' and '=' make their URL-encoded and base64 forms differ from the raw key.
LUMA_KEY = "luma-MARK/7f3a+9c2e=41d8b6"
KLING_ACCESS = "kling-ACCESS-MARK/5b9e+d27c"
KLING_SECRET = "kling-SECRET-MARK+0a64=e19f-4c2d8b"  # 32+ bytes, as HS256 wants
SORA_KEY = "sk-sora-MARK/8d1c+f05a=7e2"
GEMINI_KEY = "gemini-MARK/3e8b+c71d=a09f"
VERTEX_KEY = "vertex-MARK/6a2f+e83b=d15c"
SIM_KEY = "sim-MARK/2c7d+b94e=f60a1"
MARKERS = (LUMA_KEY, KLING_ACCESS, KLING_SECRET, SORA_KEY, GEMINI_KEY, VERTEX_KEY, SIM_KEY)
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def leaked_forms(key: str) -> dict[str, str]:
    """What a scan looks for (its own derivation, not the gate's): the raw key, its base64 and
    base64url at each byte alignment, URL-encoded, and its first 8 characters."""
    forms = {"raw": key, "url-encoded": quote(key, safe=""), "8-char prefix": key[:8]}
    raw = key.encode()
    for align in range(3):
        encoded = base64.b64encode(b"\0" * align + raw).decode()
        core = encoded[-(-8 * align // 6) : 8 * (align + len(raw)) // 6]
        forms[f"base64 @{align}"] = core
        forms[f"base64url @{align}"] = core.replace("+", "-").replace("/", "_")
    return forms


def leaks(text: str) -> list[str]:
    """Every marker form (or JWT) found in ``text``."""
    found = [
        f"{key!r} as {name}"
        for key in MARKERS
        for name, form in leaked_forms(key).items()
        if form in text
    ]
    return found + [f"a JWT {m.group()[:24]}..." for m in JWT.finditer(text)]


# -- the engines, each with its fake in echoing mode ----------------------------------------
@dataclass
class Case:
    """How to run one engine against its fake: its env, and the endpoints to make echo."""

    engine: str
    start: Callable[[Path], tuple[LoopbackServer, dict[str, str]]]
    endpoints: tuple[str, ...]  # submit, status, download (as the fake names them)
    fail_job: Callable[[Any], None] | None  # make the next job fail with an echoing reason
    kind: str = "video"  # or "speech", "judge"
    stored: dict[str, str] = field(default_factory=dict)  # keys put in the key store instead


def _luma(tmp: Path) -> tuple[LoopbackServer, dict[str, str]]:
    server = LumaServer(api_key=LUMA_KEY, latency=(0.05, 0.1), render_scale=0.05)
    return server, {
        "LUMAAI_BASE_URL": "{api_url}",
        "LUMA_ASSET_BASE_URL": "http://127.0.0.1:9/assets",
        "LUMA_ASSET_DIR": str(tmp / "assets"),
        "LUMA_EXPECTED_LATENCY": "0.2",
    }


def _kling(tmp: Path) -> tuple[LoopbackServer, dict[str, str]]:
    server = KlingServer(KLING_ACCESS, KLING_SECRET, latency=(0.05, 0.1), render_scale=0.05)
    return server, {
        "KLING_BASE_URL": "{base_url}",
        "KLING_ACCESS_KEY": KLING_ACCESS,
        "KLING_SECRET_KEY": KLING_SECRET,
        "KLING_BUSY_WAIT": "0.05",
        "KLING_EXPECTED_LATENCY": "0.1",
    }


def _google(
    tmp: Path, latency: tuple[float, float] = (0.05, 0.1)
) -> tuple[LoopbackServer, dict[str, str]]:
    server = GoogleServer(
        api_key=GEMINI_KEY, vertex_api_key=VERTEX_KEY, latency=latency, render_scale=0.05
    )
    return server, {
        "GEMINI_BASE_URL": "{base_url}",
        "GEMINI_API_KEY": GEMINI_KEY,
        "VERTEX_BASE_URL": "{base_url}",
        "VERTEX_AI_API_KEY": VERTEX_KEY,
        "VEO_EXPECTED_LATENCY": "0.3",
        "OMNI_EXPECTED_LATENCY": "0.3",
        "NO_GCE_CHECK": "True",
        "CLOUDSDK_CONFIG": "/nonexistent-gcloud-config",
    }


def _sim(tmp: Path) -> tuple[LoopbackServer, dict[str, str]]:
    server = SimServer(api_key=SIM_KEY, latency=(0.05, 0.1))
    return server, {
        "SIM_BASE_URL": "{base_url}",
        "SIM_API_KEY": SIM_KEY,
        "SIM_EXPECTED_LATENCY": "0.2",
    }


def _veo_failure(server: Any) -> None:
    server.fail_next_job(message=ECHO_MARK)


CASES = {
    "luma-dream-machine": Case(
        "luma-dream-machine",
        _luma,
        ("create", "get", "download"),
        lambda s: s.fail_next_job(ECHO_MARK),
        stored={"LUMAAI_API_KEY": LUMA_KEY},  # from the key store, not the env
    ),
    "kling": Case(
        "kling", _kling, ("create", "get", "download"), lambda s: s.fail_next_task(ECHO_MARK)
    ),
    # Omni's "poll" is a GET of a running interaction and its "download" the GET of a
    # finished one: the jobs outlast the first poll (0.3 s expected), so both happen.
    "gemini-omni": Case(
        "gemini-omni",
        lambda tmp: _google(tmp, latency=(1.5, 0.1)),
        ("create", "poll", "download"),
        _veo_failure,
    ),
    "veo-vertex": Case("veo-vertex", _google, ("create", "poll"), _veo_failure),  # inline video
    "sim": Case("sim", _sim, ("submit", "status", "download"), None),  # fails by prompt only
    "gemini": Case("gemini", _google, ("tts",), None, kind="speech"),
    "gemini-judge": Case("gemini-judge", _google, ("judge",), None, kind="judge"),
}


def production(
    case: Case, *, plates: bool = False, shots: int = 3, tag: str = ""
) -> dict[str, Any]:
    """``shots`` shots on the engine; with ``plates``, two animatic shots on two plates made by
    it. ``tag`` makes the shots' prompts (so their jobs) differ from another render's."""
    video = "animatic" if plates or case.kind != "video" else case.engine
    voice = {"engine": "gemini", "voice": "Kore"} if case.kind == "speech" else {}
    places = ("park", "quay") if plates else ("park",)
    made = [
        {
            "id": f"s{i}",
            "action": f"Ann looks around{tag}, take {i}",
            "characters": ["ann"],
            "duration": 4,
            **({"layers": ["plate"]} if plates else {}),
            **({"dialogue": [{"speaker": "ann", "text": "Hello."}]} if voice else {}),
        }
        for i in range(2 if plates else shots)
    ]
    ann: dict[str, Any] = {"name": "Ann", "dna": "a woman, red coat"}
    if voice:
        ann["voice"] = voice
    data: dict[str, Any] = {
        "title": "Echoes",
        "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 24},
        "characters": {"ann": ann},
        "environments": {
            place: {"description": f"a quiet {place}", "lighting": "day"} for place in places
        },
        "scenes": [
            {"id": f"sc{i}", "environment": place, "shots": made[i :: len(places)]}
            for i, place in enumerate(places)
        ],
        "routing": {"video": video, **({"plate": case.engine} if plates else {})},
    }
    if case.kind == "judge":
        data["qc"] = {"judge": case.engine, "retakes": 0}
    return data


# -- running the command --------------------------------------------------------------------
@pytest.fixture
def ministudio(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., str]:
    """Run ``ministudio ARGS`` in this process (its real entry point); all it printed."""
    from ministudio.cli import main

    def run(*args: str) -> str:
        monkeypatch.setattr(sys, "argv", ["ministudio", *args])
        with suppress(SystemExit):
            main()
        printed = capsys.readouterr()
        return printed.out + printed.err

    return run


@pytest.fixture
def started(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    keys_file: Path,
) -> Iterator[tuple[Case, LoopbackServer]]:
    """The case's fake, started, and the process's environment pointed at it."""
    from ministudio.safety.keys import save

    case: Case = CASES[request.param]
    server, env = case.start(tmp_path)
    if case.engine == "sim":  # the test plugin, built and installed for the session
        monkeypatch.syspath_prepend(str(request.getfixturevalue("plugin_sites")["sim"]))
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)  # google-auth looks for nothing else
    with ExitStack() as stack:
        stack.enter_context(server)
        urls = {"{api_url}": getattr(server, "api_url", ""), "{base_url}": server.base_url}
        for name, value in env.items():
            monkeypatch.setenv(name, urls.get(value, value))
        for name in case.stored:
            monkeypatch.delenv(name, raising=False)
        if case.stored:
            save(keys_file, case.stored)
        yield case, server


def render(
    ministudio: Callable[..., str], tmp_path: Path, film: dict[str, Any], out: str
) -> tuple[str, str]:
    """``ministudio render`` of ``film`` into ``tmp_path/out``, then ``ministudio status``:
    what each printed."""
    path = tmp_path / f"{out}.json"
    path.write_text(json.dumps(film))
    folder, store = str(tmp_path / out), str(tmp_path / "store")
    printed = ministudio("render", str(path), "-o", folder, "--store", store, "-q")
    return printed, ministudio("status", folder)


def scan_everything(tmp_path: Path, printed: str, status: str) -> list[str]:
    """Every leak in what was printed, the output folders, the store and the journal."""
    found = [f"printed: {leak}" for leak in leaks(printed)]
    found += [f"status: {leak}" for leak in leaks(status)]
    for folder in (tmp_path / "out", tmp_path / "again", tmp_path / "store"):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):  # none: no folder
            text = path.read_bytes().decode("latin-1")
            found += [f"{path.relative_to(tmp_path)}: {leak}" for leak in leaks(text)]
    found += [f"journal: {leak}" for leak in leaks(journal_dump(tmp_path / "store"))]
    return found


def journal_dump(store: Path) -> str:
    """Every column of every row of every table of the journal."""
    db = sqlite3.connect(store / "journal.sqlite")
    try:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(
            repr(row) for table in tables for row in db.execute(f'SELECT * FROM "{table}"')
        )
    finally:
        db.close()


ENGINES = list(CASES)
VIDEO = [name for name, case in CASES.items() if case.kind == "video"]


@pytest.mark.parametrize("started", ENGINES, indirect=True)
def test_echoed_credentials_of_shots_reach_no_output(
    started: tuple[Case, LoopbackServer], tmp_path: Path, ministudio: Callable[..., str]
) -> None:
    """Three shots: one refused at submit, one at status and one at download, each with an
    echo; then, in a second render, a shot whose job fails with an echoing reason."""
    case, server = started
    for endpoint in case.endpoints:
        server.fail_next(endpoint, ECHO)
    printed, status = render(ministudio, tmp_path, production(case), "out")
    assert all(not queue for queue in server._faults.values()), "an echo was never asked for"
    assert "***" in printed
    if case.kind != "speech":  # lines are spoken before anything is written
        assert "***" in (tmp_path / "out" / "manifest.json").read_text()
    if case.fail_job is not None:
        case.fail_job(server)
        again = render(ministudio, tmp_path, production(case, shots=1, tag=" again"), "again")
        printed, status = printed + again[0], status + again[1]
        failed = journal_dump(tmp_path / "store")
        assert "***" in failed  # the failed job's echoing reason reached the journal, blanked
    assert scan_everything(tmp_path, printed, status) == []


@pytest.mark.parametrize("started", VIDEO, indirect=True)
def test_echoed_credentials_of_background_plates_reach_no_output(
    started: tuple[Case, LoopbackServer], tmp_path: Path, ministudio: Callable[..., str]
) -> None:
    """Two plates on the engine: one refused at submit with an echo; the other's job fails
    with an echoing reason (or, where the fake cannot fail a job, echoes at status)."""
    case, server = started
    server.fail_next(case.endpoints[0], ECHO)
    if case.fail_job is not None:
        case.fail_job(server)
    else:
        server.fail_next(case.endpoints[1], ECHO)
    printed, status = render(ministudio, tmp_path, production(case, plates=True), "out")
    assert all(not queue for queue in server._faults.values()), "an echo was never asked for"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [p["state"] for p in manifest["plates"]] == ["failed", "failed"]
    assert all("***" in p["error"] for p in manifest["plates"])
    assert "plate" in status and "***" in status
    assert scan_everything(tmp_path, printed, status) == []


# -- the gate -------------------------------------------------------------------------------
def test_the_gate_blanks_kling_s_signed_token_and_every_form_of_its_keys() -> None:
    from ministudio.safety.secrets import Blanker
    from ministudio_kling._auth import Credentials

    gate = Blanker([KLING_ACCESS, KLING_SECRET])
    token = Credentials(KLING_ACCESS, KLING_SECRET).token()
    header, payload, _ = token.split(".")
    texts = [
        f"Authorization: Bearer {token}",  # the header, verbatim
        f"token={token}&x=1",  # a bare token
        f"claims {payload} seen",  # the payload alone: the access key in base64url
        f"cut {token[: len(header) + 30]}",  # a token cut short
        json.dumps({"echo": {"key": KLING_SECRET, "iss": KLING_ACCESS}}),
    ]
    for key in (KLING_ACCESS, KLING_SECRET):
        raw = key.encode()
        texts += [
            f"raw {key} end",
            f"basic {base64.b64encode(b'user:' + raw).decode()}",  # inside longer base64
            f"b64 {base64.b64encode(raw).decode()}",
            f"b64url {base64.urlsafe_b64encode(b'ab' + raw).decode().rstrip('=')}",
            f"url {quote(key, safe='')}",
            f"cut {key[:8]}... (truncated)",
            f"cut at the end {key[:11]}",
        ]
    for text in texts:
        blanked = gate.blank(text)
        assert leaks(blanked) == [], (text, blanked)
        assert "***" in blanked
    assert gate.blank(f"Bearer {token}").startswith("***")


def test_the_gate_leaves_ordinary_text_and_short_values_alone() -> None:
    from ministudio.safety.secrets import Blanker

    gate = Blanker(["gemini-test-key", "short"])
    text = "engine gemini-tts refused: a short answer"
    assert gate.blank(text) == text  # a shared 8-character start inside another word stays
    assert gate.blank("key gemini-test-key!") == "key ***!"
    assert gate.blank("key gemini-tes") == "key ***"  # cut short at the end of the text
    assert Blanker(["short"]).secrets == frozenset()  # under 8 characters: never blanked


def test_derived_forms_cover_each_alignment_and_encoding() -> None:
    from ministudio.safety.secrets import derived_forms

    forms = derived_forms(LUMA_KEY)
    assert LUMA_KEY in forms and quote(LUMA_KEY, safe="") in forms
    for prefix in (b"", b"x", b"xy"):
        encoded = base64.b64encode(prefix + LUMA_KEY.encode() + b"tail").decode()
        assert any(form in encoded for form in forms), prefix
        assert any(form in encoded.replace("+", "-").replace("/", "_") for form in forms)


def test_the_journal_and_the_manifest_blank_what_they_are_given(tmp_path: Path) -> None:
    from ministudio.remote.journal import Journal
    from ministudio.run.manifest import Manifest
    from ministudio.safety.secrets import Blanker

    gate = Blanker([SORA_KEY])
    journal = Journal(tmp_path / "journal.sqlite", blank=gate.blank)
    journal.submitting("k", "sora", "s1")
    journal.failed("k", f"job failed: you sent Bearer {SORA_KEY}")
    row = journal.get("k")
    journal.close()
    assert row is not None and row.error == "job failed: you sent ***"
    manifest = Manifest(
        title=f"title {SORA_KEY}",
        ministudio_version="0",
        production_hash="h",
        store=str(tmp_path),
        width=1,
        height=1,
        fps=1,
        aspect_ratio="16:9",
        duration=0.0,
        cost=0.0,
        seconds=0.0,
        film=None,
    )
    manifest.write(tmp_path / "manifest.json", gate.blank)
    assert leaks((tmp_path / "manifest.json").read_text()) == []


def test_the_process_gate_knows_the_env_the_store_and_registered_secrets(
    monkeypatch: pytest.MonkeyPatch, keys_file: Path
) -> None:
    from ministudio.safety import secrets
    from ministudio.safety.keys import save

    monkeypatch.setenv("SORA_API_KEY", SORA_KEY)
    monkeypatch.setenv("SOME_SERVICE_TOKEN", SIM_KEY)  # a secret-looking name
    monkeypatch.setenv("LUMA_ASSET_STORE_OPTIONS", json.dumps({"secret": GEMINI_KEY}))
    save(keys_file, {"KLING_SECRET_KEY": KLING_SECRET})
    secrets.register(VERTEX_KEY)
    text = " ".join([SORA_KEY, SIM_KEY, GEMINI_KEY, KLING_SECRET, VERTEX_KEY])
    assert leaks(secrets.blank(text)) == []


def test_log_records_are_blanked(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    import logging

    from ministudio.safety.secrets import guard_logging

    monkeypatch.setenv("SORA_API_KEY", SORA_KEY)
    guard_logging()
    with caplog.at_level(logging.WARNING, logger="ministudio_kling"):
        logging.getLogger("ministudio_kling").warning("answer: %s", f"Bearer {SORA_KEY}")
    assert caplog.records and leaks(caplog.text) == []


def test_the_command_s_own_usage_errors_are_blanked(
    monkeypatch: pytest.MonkeyPatch, ministudio: Callable[..., str]
) -> None:
    """A key pasted where an engine id belongs comes back in click's error: blanked there too."""
    monkeypatch.setenv("LUMAAI_API_KEY", LUMA_KEY)
    printed = ministudio("voices", LUMA_KEY)
    assert "Error:" in printed and "***" in printed
    assert leaks(printed) == []


def test_everything_the_command_prints_passes_the_gate(
    monkeypatch: pytest.MonkeyPatch, ministudio: Callable[..., str], tmp_path: Path
) -> None:
    """Not only errors: a key that found its way into a production (its title, say) is blanked
    in what `validate` prints on stdout."""
    monkeypatch.setenv("LUMAAI_API_KEY", LUMA_KEY)
    film = tmp_path / "film.yaml"
    film.write_text(
        f'title: "{LUMA_KEY}"\n'
        "environments: {park: {description: a park}}\n"
        "scenes: [{id: one, environment: park, shots: [{action: Ann waves}]}]\n"
    )
    printed = ministudio("validate", str(film))
    assert "valid: '***'" in printed and leaks(printed) == []


def test_output_the_gate_cannot_check_is_withheld(monkeypatch: pytest.MonkeyPatch) -> None:
    """A gate that fails (a broken plugin set, say) withholds the text rather than print it."""
    import io

    from ministudio.safety import secrets

    def broken(text: str) -> str:
        raise RuntimeError("no gate")

    monkeypatch.setattr(secrets, "blank", broken)
    out = io.StringIO()
    secrets.BlankedStream(out).write(f"error: {LUMA_KEY} refused\n")
    assert out.getvalue() == secrets.BlankedStream.WITHHELD
