"""The review page without a browser: its data (shots, takes, previz, jobs, cost), the
escaping of what the render wrote, the server's rules, and the review.json it writes."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ministudio.review.decisions import Review, read_review
from ministudio.review.page import write_page
from ministudio.review.serve import ReviewServer
from ministudio.run.manifest import Manifest, PrevizRecord, TakeRecord
from ministudio.run.store import ContentStore

from tests.conftest import SHOWCASES

# Tests that need no other film use last-algorithm, on the worker that renders it.
LAST = pytest.mark.xdist_group("showcase-last-algorithm")

HOSTILE = (
    '</script><script>window.pwned=1</script><!-- <img src=x onerror="window.pwned=2">\u2028&amp;'
)


def embedded(index: Path) -> dict[str, Any]:
    """The data the page embeds (its JSON script element)."""
    html = index.read_text(encoding="utf-8")
    found = re.search(
        r'<script id="review-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert found
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def copied(film: Any, tmp_path: Path) -> Path:
    """A copy of a showcase film's output folder (the shared one is never written)."""
    folder = tmp_path / film.name
    shutil.copytree(film.out, folder)
    return folder


def doctored(film: Any, tmp_path: Path) -> Path:
    """A copy of a showcase film made to hold what a paid render would: its first shot
    retaken (take 1 failing a check, take 2 kept), its second promoted from a previz, a
    hostile prompt, and journal events, in a store of its own."""
    folder = copied(film, tmp_path)
    manifest = Manifest.of_folder(folder)
    store = ContentStore(tmp_path / "store")
    for shot in manifest.shots:
        assert shot.clip
        source = film.store.get(shot.clip, ".mp4")
        store.put(shot.clip, source, ".mp4")
    first, second, third = manifest.shots[:3]
    failing = first.qc[0].model_copy(update={"passed": False, "reason": "she looks away"})
    first.takes = [
        TakeRecord(
            rung="first",
            engine="fickle",
            seed=1,
            job_key="k1",
            clip=third.clip,
            prompt=HOSTILE,
            cost=0.4,
            qc=[failing],
        ),
        TakeRecord(
            rung="seed",
            engine="steady",
            seed=2,
            job_key="k2",
            clip=first.clip,
            prompt=first.prompt,
            cost=0.6,
            qc=first.qc,
            kept=True,
        ),
    ]
    first.job_key, first.engine, first.cost, first.prompt = "k2", "steady", 1.0, HOSTILE
    second.previz = PrevizRecord(clip=third.clip or "")
    second.job_key = "k3"
    manifest.store = str(store.root)
    manifest.write(folder / "manifest.json")
    (folder / "previz").mkdir()
    shutil.copyfile(folder / "film.mp4", folder / "previz" / "film.mp4")
    from ministudio.remote.journal import Journal

    journal = Journal(store.root / "journal.sqlite")
    for key, shot in (("k1", first.id), ("k2", first.id), ("k3", second.id)):
        journal.submitting(key, "fickle", shot)
        journal.submitted(key, f"job-{key}")
        journal.done(key)
    journal.close()
    return folder


# -- the page's data ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHOWCASES)
def test_the_page_holds_every_shot_and_plays_from_its_own_folder(
    name: str, showcase: Any, tmp_path: Path
) -> None:
    film = showcase(name)
    folder = copied(film, tmp_path)
    index = write_page(folder)
    assert index == folder / "review" / "index.html"
    for asset in ("review.css", "review.js", "film.mp4"):
        assert (folder / "review" / asset).is_file()
    data = embedded(index)
    manifest = film.manifest
    assert data["title"] == manifest.title and data["film"] == "film.mp4"
    assert [(s["id"], s["start"], s["duration"]) for s in data["shots"]] == [
        (s.id, s.start, s.duration) for s in manifest.shots
    ]
    for shot, record in zip(data["shots"], manifest.shots, strict=True):
        assert shot["clip"] == f"clips/{record.clip}.mp4"
        assert (folder / "review" / shot["clip"]).is_file()
        assert shot["prompt"] == record.prompt and shot["seed"] == record.seed
        assert [v["check"] for v in shot["qc"]] == [v.check for v in record.qc]
    # keyless: no journal, each shot's render time on this machine
    assert data["jobs"]["local"] and len(data["jobs"]["shots"]) == len(manifest.shots)
    assert data["cost_by_engine"] == {"animatic": 0.0}
    assert data["review"] is None and data["previz_film"] is None
    assert not (film.out / "review").exists()  # the shared film untouched


@LAST
def test_takes_previz_jobs_and_cost_by_engine(showcase: Any, tmp_path: Path) -> None:
    folder = doctored(showcase("last-algorithm"), tmp_path)
    data = embedded(write_page(folder))
    first, second = data["shots"][:2]
    assert [(t["n"], t["rung"], t["kept"]) for t in first["takes"]] == [
        (1, "first", False),
        (2, "seed", True),
    ]
    assert not first["takes"][0]["qc"][0]["passed"]
    assert all((folder / "review" / t["clip"]).is_file() for t in first["takes"])
    assert second["previz"] and (folder / "review" / second["previz"]).is_file()
    assert data["previz_film"] == "previz.mp4" and (folder / "review/previz.mp4").is_file()
    assert data["cost_by_engine"] == {"steady": 0.6, "fickle": 0.4, "animatic": 0.0}
    jobs = data["jobs"]
    assert not jobs["local"]
    assert [row["label"] for row in jobs["rows"]] == [
        f"{first['id']} take 1 (first)",
        f"{first['id']} take 2 (seed)",
        second["id"],
    ]
    assert all([e for e, _ in row["events"]] == ["submitted", "downloaded"] for row in jobs["rows"])


@LAST
def test_without_a_journal_timeline_the_rows_make_one(
    showcase: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ministudio.remote.journal import Journal

    monkeypatch.delattr(Journal, "timeline")
    folder = doctored(showcase("last-algorithm"), tmp_path)
    rows = embedded(write_page(folder))["jobs"]["rows"]
    assert len(rows) == 3
    assert all([e for e, _ in row["events"]] == ["submitted", "done"] for row in rows)


@LAST
def test_a_hostile_prompt_stays_data(showcase: Any, tmp_path: Path) -> None:
    folder = doctored(showcase("last-algorithm"), tmp_path)
    html = write_page(folder).read_text(encoding="utf-8")
    # the data element holds no markup: the only script elements are the page's two
    assert html.lower().count("<script") == 2 and html.lower().count("</script") == 2
    assert "<!--" not in html and "<img" not in html and "\u2028" not in html
    data = embedded(folder / "review" / "index.html")
    assert data["shots"][0]["prompt"] == HOSTILE == data["shots"][0]["takes"][0]["prompt"]
    script = (folder / "review" / "review.js").read_text(encoding="utf-8")
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script


@LAST
def test_decisions_already_made_are_on_the_page(showcase: Any, tmp_path: Path) -> None:
    film = showcase("last-algorithm")
    folder = copied(film, tmp_path)
    first, second = (s.id for s in film.manifest.shots[:2])
    saved = {
        "version": 1,
        "shots": {first: {"decision": "retake", "note": "slower"}, second: {"decision": "approve"}},
    }
    (folder / "review.json").write_text(json.dumps(saved), encoding="utf-8")
    assert embedded(write_page(folder))["review"] == saved
    (folder / "review.json").write_text('{"shots": {"x": {"decision": "pick"}}}', encoding="utf-8")
    assert embedded(write_page(folder))["review"] is None  # not a review: the page starts empty


@LAST
def test_the_command_writes_the_page_and_says_where(showcase: Any, tmp_path: Path) -> None:
    from ministudio.cli import cli

    folder = copied(showcase("last-algorithm"), tmp_path)
    result = CliRunner().invoke(cli, ["review", str(folder)])
    assert result.exit_code == 0, result.output
    assert str(folder / "review" / "index.html") in result.output
    missing = CliRunner().invoke(cli, ["review", str(tmp_path / "nothing")])
    assert missing.exit_code != 0


# -- the server ---------------------------------------------------------------------------


@pytest.fixture
def served(showcase: Any, tmp_path: Path) -> Iterator[ReviewServer]:
    folder = copied(showcase("last-algorithm"), tmp_path)
    write_page(folder)
    server = ReviewServer(folder)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def ask(
    server: ReviewServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One request; ``Host`` is the server's own unless ``headers`` say otherwise."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    sent = {"Host": f"127.0.0.1:{server.port}", **(headers or {})}
    if body is not None:
        sent.setdefault("Content-Type", "application/json")
        sent.setdefault("Content-Length", str(len(body)))
    for name, value in sent.items():
        connection.putheader(name, value)
    connection.endheaders(body)
    answer = connection.getresponse()
    status, text = answer.status, answer.read()
    connection.close()
    return status, text


@LAST
def test_the_server_serves_the_page_and_its_clips_with_ranges(served: ReviewServer) -> None:
    status, page = ask(served, "GET", "/")
    assert status == 200 and b'id="review-data"' in page
    status, video = ask(served, "GET", "/film.mp4", headers={"Range": "bytes=0-99"})
    assert status == 206 and len(video) == 100
    clip = next((served.page / "clips").iterdir()).name
    assert ask(served, "GET", f"/clips/{clip}")[0] == 200
    assert ask(served, "GET", "/review.json") == (200, b'{"version": 1, "shots": {}}\n')


@LAST
@pytest.mark.parametrize(
    "path",
    [
        "/../manifest.json",
        "/%2e%2e/manifest.json",
        "/%2E%2E%2Fmanifest.json",
        "/clips/..%2f..%2fmanifest.json",
        "/clips/%2e%2e/%2e%2e/manifest.json",
        "//etc/passwd",
        "/%2Fetc%2Fpasswd",
        "/..%5cmanifest.json",
        "/escape.json",  # a symlink out of the page's folder
        "/nothing.html",
    ],
)
def test_nothing_outside_the_page_folder_is_served(served: ReviewServer, path: str) -> None:
    (served.page / "escape.json").symlink_to(served.folder / "manifest.json")
    status, text = ask(served, "GET", path)
    assert status == 404 and b"store" not in text and b"root:" not in text


@LAST
def test_a_foreign_host_or_origin_is_refused(served: ReviewServer) -> None:
    port = served.port
    assert ask(served, "GET", "/", headers={"Host": f"evil.example:{port}"})[0] == 403
    assert ask(served, "GET", "/", headers={"Host": "127.0.0.1:1"})[0] == 403
    assert ask(served, "GET", "/", headers={"Host": f"localhost:{port}"})[0] == 200
    body = b'{"version": 1, "shots": {}}'
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": f"http://evil.example:{port}"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Content-Type": "text/plain"},  # what another site may send without a preflight
    ):
        status, _ = ask(served, "POST", "/review.json", body, headers)
        assert status in (403, 415), headers
    assert not (served.folder / "review.json").exists()
    ok = {"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"}
    assert ask(served, "POST", "/review.json", body, ok)[0] == 200


@LAST
def test_a_posted_review_is_validated_bounded_and_written_whole(served: ReviewServer) -> None:
    target = served.folder / "review.json"
    good = json.dumps(
        {
            "version": 1,
            "shots": {
                "focused": {"decision": "retake", "note": "closer"},
                "glitch": {"decision": "pick", "take": 2, "job_key": "k"},
            },
        }
    ).encode()
    assert ask(served, "POST", "/review.json", good)[0] == 200
    assert target.read_bytes() == good
    assert read_review(target).shots["glitch"].take == 2
    assert ask(served, "GET", "/review.json") == (200, good)
    # not a review: 400 with the reason, the file as it was
    for bad in (
        b'{"version": 1, "shots": {"x": {"decision": "pick"}}}',
        b'{"version": 2}',
        b"not json",
        b'{"version": 1, "shots": {"x": {"decision": "approve", "rm": "-rf"}}}',
    ):
        status, text = ask(served, "POST", "/review.json", bad)
        assert status == 400 and text.startswith(b"not a review"), text
        assert target.read_bytes() == good
    # too large: refused before reading it
    status, _ = ask(served, "POST", "/review.json", b"{}", {"Content-Length": str(2 << 20)})
    assert status == 413
    assert ask(served, "POST", "/elsewhere.json", good)[0] == 404
    assert [p.name for p in served.folder.iterdir() if p.name.startswith(".review-")] == []
    assert Review.model_validate_json(target.read_bytes())
    assert oct(os.stat(target).st_mode & 0o777) == "0o644"


@LAST
def test_the_command_serves_the_page_on_loopback(showcase: Any, tmp_path: Path) -> None:
    import subprocess
    import sys

    folder = copied(showcase("last-algorithm"), tmp_path)
    command = [sys.executable, "-m", "ministudio", "review", str(folder), "--serve"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline(), process.stdout.readline()]
        found = re.search(r"serving http://127\.0\.0\.1:(\d+)/", lines[1])
        assert found, lines
        connection = http.client.HTTPConnection("127.0.0.1", int(found.group(1)), timeout=10)
        connection.request("GET", "/")
        answer = connection.getresponse()
        assert answer.status == 200 and b'id="review-data"' in answer.read()
        connection.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


@LAST
def test_a_manifest_naming_a_film_outside_its_folder_is_refused(
    showcase: Any, tmp_path: Path
) -> None:
    from ministudio.errors import MinistudioError

    folder = copied(showcase("last-algorithm"), tmp_path)
    manifest = Manifest.of_folder(folder)
    (tmp_path / "secret.mp4").write_bytes(b"not for the page")
    manifest.film = "../secret.mp4"
    manifest.write(folder / "manifest.json")
    with pytest.raises(MinistudioError, match="no film to review"):
        write_page(folder)
    assert not (folder / "review" / "film.mp4").exists()
