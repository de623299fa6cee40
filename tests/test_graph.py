"""The render as a job graph (issue 17): built before anything runs, each job with its key,
its needs and its engine; keys change downstream of an edit only; `plan --json` prints it
and `plan --dot` draws it without speaking a line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ministudio.plan.graph import JobGraph, build_graph
from ministudio.plan.shots import plan_shots
from ministudio.plugins import PluginHost
from ministudio.spec import Production

from .conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent


def _production(**changes: Any) -> Production:
    scene_shots: list[dict[str, Any]] = [
        {
            "id": "a",
            "action": "she opens the door",
            "characters": ["ana"],
            "layers": ["plate"],
            "dialogue": [
                {"speaker": "ana", "text": "Hello?"},
                {"speaker": "ana", "text": "Anyone?"},
            ],
        },
        {
            "id": "b",
            "action": "she steps in",
            "continuity": "continue",
            "layers": ["plate"],
            "narration": "The hall was empty.",
        },
        {"id": "c", "action": "the lamp flickers", "duration": 4, "layers": ["plate"]},
    ]
    for shot in scene_shots:
        shot.update(changes.get(shot["id"], {}))
    return Production.model_validate(
        {
            "title": "Graph",
            "characters": {"ana": {"name": "Ana", "dna": "thirty, red coat"}},
            "environments": {"hall": {"description": "an empty hall", "lighting": "dusk"}},
            "scenes": [
                {"id": "one", "environment": "hall", "shots": scene_shots},
                {
                    "id": "two",
                    "environment": "hall",
                    "shots": [{"id": "d", "action": "she leaves", "duration": 4}],
                },
            ],
        }
    )


def _graph(production: Production) -> JobGraph:
    host = PluginHost()
    return build_graph(production, plan_shots(production, host), host)


def test_every_job_comes_after_the_jobs_it_needs() -> None:
    graph = _graph(_production())
    jobs = {job.id: job for job in graph}
    assert [j.id for j in graph.of_kind("speech")] == ["speech:a:1", "speech:a:2", "speech:b:1"]
    assert jobs["budget"].needs == ("speech:a:1", "speech:a:2", "speech:b:1")
    # one plate for the place in its light, shared by the three shots that ask for it
    assert [j.id for j in graph.of_kind("plate")] == ["plate:hall:dusk"]
    assert jobs["plate:hall:dusk"].needs == ("budget",)  # nothing is paid before the budget
    assert jobs["clip:a"].needs == ("speech:a:1", "speech:a:2", "budget", "plate:hall:dusk")
    assert jobs["clip:b"].starts_from == "clip:a"  # its first frame is a's last
    assert jobs["clip:c"].starts_from is None
    assert jobs["clip:d"].needs == ("budget",)
    # the shots of one scene in one light are checked against each other; d is alone in two
    assert [(j.id, j.needs) for j in graph.of_kind("check")] == [
        ("check:one:dusk", ("clip:a", "clip:b", "clip:c"))
    ]
    assert set(jobs["film"].needs) == {
        "soundtrack",
        "clip:a",
        "clip:b",
        "clip:c",
        "clip:d",
        "check:one:dusk",
    }
    seen: set[str] = set()
    for job in graph:
        assert set(job.needs) <= seen and (job.starts_from is None or job.starts_from in seen)
        seen.add(job.id)
    assert {job.engine for job in graph.of_kind("clip")} == {"animatic"}
    assert {job.runs for job in graph.of_kind("clip")} == {"local"}  # keyless: any worker


def test_an_edit_changes_the_keys_downstream_of_it_only() -> None:
    before = {job.id: job.key for job in _graph(_production())}
    after = {job.id: job.key for job in _graph(_production(a={"action": "she knocks"}))}
    changed = {job_id for job_id in before if before[job_id] != after[job_id]}
    # a's clip, b (which starts from a's last frame), the place's check and the film
    assert changed == {"clip:a", "clip:b", "check:one:dusk", "film"}
    assert _graph(_production()).as_json() == _graph(_production()).as_json()  # deterministic


def test_a_line_edit_changes_its_speech_key_and_what_it_times() -> None:
    edited = _production(
        a={"dialogue": [{"speaker": "ana", "text": "Hi?"}, {"speaker": "ana", "text": "Anyone?"}]}
    )
    before = {job.id: job.key for job in _graph(_production())}
    after = {job.id: job.key for job in _graph(edited)}
    changed = {job_id for job_id in before if before[job_id] != after[job_id]}
    assert "speech:a:1" in changed and "speech:a:2" not in changed
    assert "clip:d" in changed  # every clip waits for the budget, which waits for every line


def test_the_dot_drawing_names_every_job_and_edge() -> None:
    graph = _graph(_production())
    dot = graph.to_dot()
    assert dot.startswith("digraph render {") and dot.rstrip().endswith("}")
    for job in graph:
        assert f'"{job.id}" [label=' in dot
        for need in job.needs:
            assert f'"{need}" -> "{job.id}";' in dot
    assert '"clip:a" -> "clip:b" [style=dashed];' in dot


def test_plan_dot_speaks_nothing_and_plan_json_carries_the_graph(tmp_path: Path) -> None:
    store = tmp_path / "store"
    example = str(ROOT / "examples" / "last-algorithm.yaml")
    drawn = run_cli("plan", example, "--dot", "--store", str(store), "-o", str(tmp_path / "o"))
    assert drawn.returncode == 0, drawn.stderr
    assert drawn.stdout.startswith("digraph render {") and "[style=dashed]" in drawn.stdout
    assert not store.exists()  # nothing was spoken: no store, no journal
    listed = run_cli("plan", example, "--json", "--store", str(store), "-o", str(tmp_path / "o"))
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    assert found["to_render"] == len(found["shots"]) and found["cost"] == 0.0
    kinds = found["graph"]["counts"]
    assert kinds["clip"] == len(found["shots"]) and kinds["film"] == 1
    assert all(
        {"id", "kind", "needs", "key", "engine", "runs"} <= set(j) for j in found["graph"]["jobs"]
    )
