"""``gemini-writer`` against the loopback fake Google server (``fakes/google_generate.py``):
the request as Google's API receives it (the schema accepted with nothing ignored, the system
instruction, a repair round's draft and errors, the token limit), the cost from usage, and the
failures (a 429 then an answer, a rejected key, a blocked brief, a refusal, a cut answer)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from ministudio.engines import EngineContext
from ministudio.errors import EngineError, EngineRefusal, MissingKeyError, TransientError
from ministudio.jobs import WritingRequest
from ministudio.plugins import PluginHost
from ministudio.spec import Production

from .fakes.google_generate import WriterRequest
from .fakes.google_server import GoogleServer

pytest.importorskip("google.genai")
from ministudio_veo import _generate, writer
from ministudio_veo._errors import KeyRejected

KEY = "gemini-writer-SECRET-7c1d09"
WRITER = "gemini-writer"
INSTRUCTIONS = "You write films as JSON productions. Open every scene on an establishing shot."
BRIEF = "Two friends fix an old lighthouse lamp before a storm."
SCHEMA = Production.model_json_schema()


@pytest.fixture(scope="module")
def server() -> Iterator[GoogleServer]:
    with GoogleServer(api_key=KEY, fault_retry_after=0.05) as s:
        yield s


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_generate, "BACKOFF", 0.01)


def context(server: GoogleServer, tmp_path: Path, key: str | None = KEY) -> EngineContext:
    env = {"GEMINI_BASE_URL": server.base_url}
    return EngineContext(WRITER, tmp_path, env={**env, "GEMINI_API_KEY": key} if key else env)


def ask(**fields: object) -> WritingRequest:
    return WritingRequest.model_validate({"brief": BRIEF, "instructions": INSTRUCTIONS, **fields})


def last(server: GoogleServer, seen: int) -> WriterRequest:
    requests = server.writer_requests[seen:]
    assert len(requests) == 1
    return requests[0]


def test_the_first_round_sends_the_schema_the_instructions_and_the_brief(
    server: GoogleServer, tmp_path: Path
) -> None:
    seen = len(server.writer_requests)
    draft = writer.write(ask(max_output_tokens=20_000), SCHEMA, context(server, tmp_path))
    sent = last(server, seen)
    assert sent.error is None and sent.model == "gemini-3.8-flash" == draft.model
    assert sent.schema_field == "response_json_schema"
    assert sent.ignored == []  # every keyword sent is one the API uses
    assert sent.generation_config["response_mime_type"] == "application/json"
    assert sent.max_output_tokens == 20_000
    assert sent.system_instruction == INSTRUCTIONS
    assert [role for role, _ in sent.turns] == ["user"] and BRIEF in sent.text
    # what pydantic says only in keywords the API ignores reaches the model in words
    shot = sent.schema["$defs"]["Shot"]["properties"]
    assert "at least 1 character" in shot["action"]["description"].lower()
    assert shot["duration"]["anyOf"][1]["enum"] == ["audio"]  # const as a one-value enum
    assert not _keys(sent.schema) & {"title", "default", "const", "minLength", "minProperties"}
    assert json.loads(draft.text) == json.loads(sent.answer)  # returned as it came


def _keys(node: object, under_properties: bool = False) -> set[str]:
    """The schema keywords used anywhere in ``node`` (property names left out)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if not under_properties:
                found.add(key)
            found |= _keys(value, key in ("properties", "$defs") and not under_properties)
    elif isinstance(node, list):
        for item in node:
            found |= _keys(item)
    return found


def test_a_repair_round_sends_the_draft_back_then_the_errors(
    server: GoogleServer, tmp_path: Path
) -> None:
    seen = len(server.writer_requests)
    refused = '{"title": "Lamp", "scenes": []}'
    errors = ("scenes: at least 1 scene", "environments: field required")
    request = ask(round=1, draft=refused, errors=errors)
    writer.write(request, SCHEMA, context(server, tmp_path))
    sent = last(server, seen)
    roles = [role for role, _ in sent.turns]
    assert roles == ["user", "model", "user"]
    assert BRIEF in sent.turns[0][1] and sent.turns[1][1] == refused
    assert all(e in sent.turns[2][1] for e in errors)


def test_the_cost_is_the_usage_at_the_models_price_and_the_estimate_bounds_it(
    server: GoogleServer, tmp_path: Path
) -> None:
    seen = len(server.writer_requests)
    request = ask(model="gemini-3.5-flash", max_output_tokens=4000)
    draft = writer.write(request, SCHEMA, context(server, tmp_path))
    sent = last(server, seen)
    assert sent.usd is not None and sent.usage["thoughtsTokenCount"] > 0
    assert draft.cost == pytest.approx(sent.usd, rel=1e-4)  # thinking billed as output
    estimate = writer.estimate(request, SCHEMA)
    assert estimate >= draft.cost
    assert estimate >= 4000 * 9.00 / 1e6  # the whole max_output_tokens at the output price
    host = PluginHost(env={})
    assert host.engines[WRITER].kind == "writer"
    assert host.estimate_cost(host.engines[WRITER], request) == pytest.approx(estimate)


def test_a_429_is_tried_again(server: GoogleServer, tmp_path: Path) -> None:
    server.fail_next("writer", "429")
    server.fail_next("writer", "503")
    draft = writer.write(ask(), SCHEMA, context(server, tmp_path))
    assert json.loads(draft.text)


def test_failures_past_the_tries_are_transient(server: GoogleServer, tmp_path: Path) -> None:
    server.fail_next("writer", "500", count=_generate.ATTEMPTS)
    with pytest.raises(TransientError, match="after 4 tries"):
        writer.write(ask(), SCHEMA, context(server, tmp_path))


def test_a_wrong_key_is_rejected_and_never_shown(server: GoogleServer, tmp_path: Path) -> None:
    wrong = "AIza-wrong-SECRET-0000"
    with pytest.raises(KeyRejected) as caught:
        writer.write(ask(), SCHEMA, context(server, tmp_path, key=wrong))
    assert "GEMINI_API_KEY" in str(caught.value) and wrong not in str(caught.value)
    with pytest.raises(MissingKeyError):
        writer.write(ask(), SCHEMA, context(server, tmp_path, key=None))


def test_a_blocked_brief_and_a_refused_answer_are_refusals(
    server: GoogleServer, tmp_path: Path
) -> None:
    with pytest.raises(EngineRefusal, match="PROHIBITED_CONTENT"):
        writer.write(ask(brief="a forbidden film"), SCHEMA, context(server, tmp_path))
    server.script_writer(None, finish_reason="SAFETY")
    with pytest.raises(EngineRefusal, match="SAFETY"):
        writer.write(ask(), SCHEMA, context(server, tmp_path))


def test_an_answer_cut_at_the_token_limit_says_what_to_raise(
    server: GoogleServer, tmp_path: Path
) -> None:
    seen = len(server.writer_requests)
    server.writer = lambda request: {"title": "word " * 400}
    try:
        with pytest.raises(EngineError, match="max_output_tokens") as caught:
            writer.write(ask(max_output_tokens=50), SCHEMA, context(server, tmp_path))
    finally:
        server.writer = None
    assert last(server, seen).finish_reason == "MAX_TOKENS"
    assert "fewer shots" in str(caught.value)


def test_an_answer_without_text_is_an_error(server: GoogleServer, tmp_path: Path) -> None:
    server.script_writer(None)
    with pytest.raises(EngineError, match="no text"):
        writer.write(ask(), SCHEMA, context(server, tmp_path))


def test_options_are_checked_and_sent(server: GoogleServer, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="unknown option colour"):
        writer.write(ask(options={"colour": "red"}), SCHEMA, context(server, tmp_path))
    with pytest.raises(EngineError, match="max_output_tokens must be"):
        writer.write(ask(max_output_tokens=10**6), SCHEMA, context(server, tmp_path))
    seen = len(server.writer_requests)
    options = {"max_output_tokens": 9000, "temperature": 0.4}
    writer.write(ask(options=options), SCHEMA, context(server, tmp_path))
    sent = last(server, seen)
    assert sent.max_output_tokens == 9000 and sent.generation_config["temperature"] == 0.4
