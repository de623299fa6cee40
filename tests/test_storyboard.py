"""``ministudio storyboard``'s loop, with an in-process writer engine whose "model" is the
stand-in in ``storyboard_model`` (it mends a mistake only when the errors sent back name it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from ministudio import hookimpl
from ministudio.authoring.storyboard import (
    Ask,
    RefusedDraft,
    StoryboardError,
    instructions,
    read_brief,
    storyboard,
)
from ministudio.engines import Capabilities, EngineContext, EngineSpec
from ministudio.errors import EngineRefusal, MissingKeyError, TransientError, UnknownEngineError
from ministudio.jobs import Draft, WritingRequest
from ministudio.plugins import PluginHost

from .conftest import run_cli
from .storyboard_model import BRIEFS, answer, mistakes_for


class Scribe:
    """A writer engine ``scribe`` ($0.01 a round, at most $0.02 estimated) and a video engine
    ``short`` (clips of 5 or 10 s), recording every request."""

    def __init__(self, fail_first: list[Exception] | None = None) -> None:
        self.requests: list[tuple[WritingRequest, dict[str, Any]]] = []
        self.fail_first = list(fail_first or [])

    @hookimpl
    def ministudio_engines(self) -> list[EngineSpec]:
        return [
            EngineSpec(id="scribe", kind="writer", key_env=("SCRIBE_KEY",)),
            EngineSpec(id="short", kind="video", capabilities=Capabilities(durations=(5, 10))),
        ]

    @hookimpl
    def write_production(
        self, engine: str, request: WritingRequest, schema: dict[str, Any], context: EngineContext
    ) -> Draft:
        self.requests.append((request, schema))
        if self.fail_first:
            raise self.fail_first.pop(0)
        text = answer(request.instructions, request.brief, request.draft, "\n".join(request.errors))
        return Draft(text=text, cost=0.01)

    @hookimpl
    def estimate_cost(self, engine: str, request: Any) -> float | None:
        return 0.02 if isinstance(request, WritingRequest) else None


def write(scribe: Scribe, tmp_path: Path, **ask: Any) -> Any:
    host = PluginHost()
    host.register(scribe, "scribe")
    fields: dict[str, Any] = {"brief": BRIEFS[0], "writer": "scribe", **ask}
    return anyio.run(storyboard, Ask(**fields), host, {"SCRIBE_KEY": "k"}, tmp_path)


def test_ten_briefs_become_valid_productions_in_at_most_two_repairs(tmp_path: Path) -> None:
    for brief in BRIEFS:
        scribe = Scribe()
        written = write(scribe, tmp_path, brief=brief, shots=5)
        mistakes = mistakes_for(brief)
        assert len(written.rounds) == len(mistakes) + 1 <= 3, brief
        assert written.production.routing.video == "animatic"
        assert len(written.production.shots()) == 5
        assert written.cost == pytest.approx(0.01 * len(written.rounds))
        # each repair carried the refused draft and the errors naming what to mend
        for (request, _), previous in zip(scribe.requests[1:], written.rounds, strict=False):
            assert request.draft and request.errors == previous.errors
            assert request.round == previous.index + 1


def test_the_writer_gets_the_schema_and_instructions_fitted_to_the_routed_engine(
    tmp_path: Path,
) -> None:
    scribe = Scribe()
    write(
        scribe, tmp_path, brief=BRIEFS[5], video="short", shots=6, minutes=1.5, aspect_ratio="9:16"
    )
    request, schema = scribe.requests[0]
    assert schema["title"] == "Production" and "scenes" in schema["properties"]
    text = request.instructions
    assert "'short'" in text and "one of 5, 10 seconds" in text and "under 25 words" in text
    assert "establishing shot" in text and "close-ups" in text
    assert "about 6 shots" in text and "about 1.5 minutes" in text and "framed 9:16" in text
    assert "distinctive feature" in text  # DNA specific enough to stay the same
    assert request.brief == BRIEFS[5] and request.round == 0


def test_what_the_user_chose_is_set_over_the_draft(tmp_path: Path) -> None:
    written = write(Scribe(), tmp_path, brief=BRIEFS[5], video="short", aspect_ratio="9:16")
    assert written.production.routing.video == "short"
    assert written.production.format.aspect_ratio == "9:16"
    assert written.data["routing"] == {"video": "short"}


def test_a_draft_still_refused_after_the_repairs_is_kept_with_its_errors(tmp_path: Path) -> None:
    brief = next(b for b in BRIEFS if len(mistakes_for(b)) == 2)
    with pytest.raises(RefusedDraft) as caught:
        write(Scribe(), tmp_path, brief=brief, repairs=1)
    assert "after 1 repair round(s)" in str(caught.value) and "--repairs" in str(caught.value)
    kept = json.loads(caught.value.draft)
    assert kept["scenes"] and caught.value.errors
    assert caught.value.exit_code == 2


def test_a_round_past_max_cost_is_refused_before_it_is_sent(tmp_path: Path) -> None:
    brief = next(b for b in BRIEFS if len(mistakes_for(b)) == 2)
    scribe = Scribe()
    with pytest.raises(StoryboardError, match=r"round 2 may cost up to \$0\.0200"):
        write(scribe, tmp_path, brief=brief, max_cost=0.025)
    assert len(scribe.requests) == 1


def test_a_passing_failure_is_tried_again_and_a_refusal_stops(tmp_path: Path) -> None:
    scribe = Scribe(fail_first=[TransientError("scribe", "busy", retry_after=0.01)])
    assert write(scribe, tmp_path, brief=BRIEFS[5]).production
    assert len(scribe.requests) == 2
    refusing = Scribe(fail_first=[EngineRefusal("scribe", "the brief was blocked")])
    with pytest.raises(EngineRefusal, match="blocked"):
        write(refusing, tmp_path)


def test_a_missing_key_or_writer_says_what_to_do(tmp_path: Path) -> None:
    host = PluginHost()
    host.register(Scribe(), "scribe")
    ask = Ask(brief="an idea", writer="scribe")
    with pytest.raises(MissingKeyError, match="SCRIBE_KEY"):
        anyio.run(storyboard, ask, host, {}, tmp_path)
    with pytest.raises(UnknownEngineError, match="pip install ministudio-provider-veo"):
        anyio.run(storyboard, Ask(brief="an idea", writer="nobody"), host, {}, tmp_path)


def test_the_brief_is_a_file_or_an_idea_and_bounded(tmp_path: Path) -> None:
    brief = tmp_path / "brief.txt"
    brief.write_text("  A film about tides.\n", encoding="utf-8")
    assert read_brief(str(brief)) == "A film about tides."
    assert read_brief("a one-line idea") == "a one-line idea"
    with pytest.raises(StoryboardError, match="empty"):
        read_brief("   ")
    with pytest.raises(StoryboardError, match="ministudio import"):
        read_brief("x" * 30_000)


def test_the_command_without_a_writer_says_which_plugin_to_install(tmp_path: Path) -> None:
    done = run_cli(
        "storyboard",
        "a robot learns to paint",
        cwd=tmp_path,
        env={"MINISTUDIO_DISABLE_PLUGINS": "veo"},
    )
    assert done.returncode == 2, done.stderr
    assert "pip install ministudio-provider-veo" in done.stderr
    assert "GEMINI_API_KEY" in done.stderr
    assert not list(tmp_path.iterdir())


def test_instructions_name_the_lengths_of_an_engine_with_a_range() -> None:
    spec = EngineSpec(id="anylen", kind="video", capabilities=Capabilities(max_duration=8))
    text = instructions(Ask(brief="x"), spec)
    assert "0.5 to 8 seconds" in text and "under 20 words" in text
