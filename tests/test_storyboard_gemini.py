"""Done when: `ministudio storyboard` against the fake Google server (structured output from
``gemini-writer``) writes a valid production in at most two repair rounds, for ten briefs.

The fake checks the request as Google's API would (the schema included); the words of each
answer come from the stand-in model in ``storyboard_model``, which mends a mistake only when the
errors the command sent back name it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .conftest import run_cli
from .fakes.google_generate import WriterRequest
from .fakes.google_server import GoogleServer
from .storyboard_model import BRIEFS, answer, mistakes_for

KEY = "AIza-storyboard-test-key-0123456789"


@pytest.fixture(scope="module")
def server() -> Iterator[GoogleServer]:
    with GoogleServer(api_key=KEY, fault_retry_after=0.05) as s:
        yield s


def play_the_model(server: GoogleServer, brief: str) -> None:
    """The fake's answers come from the stand-in model: it reads the instructions, the last
    draft it wrote (a model turn) and the user's words after it (the errors)."""

    def model(request: WriterRequest) -> str:
        turns = request.turns
        drafts = [i for i, (role, _) in enumerate(turns) if role == "model"]
        previous = turns[drafts[-1]][1] if drafts else None
        after = turns[drafts[-1] + 1 :] if drafts else []
        errors = "\n".join(text for role, text in after if role == "user")
        return answer(request.system_instruction, brief, previous, errors)

    server.writer = model


@pytest.mark.parametrize("index", range(len(BRIEFS)))
def test_ten_briefs_become_valid_productions_on_gemini(
    server: GoogleServer, tmp_path: Path, index: int
) -> None:
    brief = BRIEFS[index]
    play_the_model(server, brief)
    seen = len(server.writer_requests)
    out = tmp_path / "film.yaml"
    env = {"GEMINI_API_KEY": KEY, "GEMINI_BASE_URL": server.base_url}
    done = run_cli("storyboard", brief, "--shots", "5", "-o", str(out), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    requests = server.writer_requests[seen:]
    assert len(requests) == len(mistakes_for(brief)) + 1 <= 3
    assert all(r.error is None and r.schema_field == "response_json_schema" for r in requests)
    assert "establishing shot" in (requests[0].system_instruction or "")
    assert brief in requests[0].text
    for repair in requests[1:]:  # each repair names what the last draft got wrong
        assert "unknown" in repair.text or "used twice" in repair.text or "continue" in repair.text
    rounds = [line for line in done.stdout.splitlines() if line.startswith("round ")]
    assert len(rounds) == len(requests) and rounds[-1].endswith("valid")
    assert all("est. up to $" in line for line in rounds)
    checked = run_cli("validate", str(out), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "5 shots" in checked.stdout
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["routing"] == {"video": "animatic"}


def test_a_refused_brief_and_a_missing_key_say_what_to_do(
    server: GoogleServer, tmp_path: Path
) -> None:
    env = {"GEMINI_BASE_URL": server.base_url}
    done = run_cli("storyboard", "a quiet film", cwd=tmp_path, env=env)
    assert done.returncode == 1 and "GEMINI_API_KEY" in done.stderr
    play_the_model(server, "a forbidden film")
    env["GEMINI_API_KEY"] = KEY
    done = run_cli("storyboard", "a forbidden film", cwd=tmp_path, env=env)
    assert done.returncode != 0 and "refused" in done.stderr
    assert KEY not in done.stderr + done.stdout
    assert not list(tmp_path.glob("*.yaml"))
