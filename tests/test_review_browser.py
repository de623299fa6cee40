"""The review page in a real browser: the system's Chromium, driven by Playwright (which
downloads no browser of its own). It loads from disk without a console error, the film
and a clip play, the timeline moves the film to a shot, and the buttons write the
review.json the next render reads (served), or download the same file (from disk).

Chromium: ``apt-get install chromium`` (Debian, Ubuntu); ``MINISTUDIO_CHROMIUM`` names
another. Without one the tests are skipped, except on CI (``CI`` set), where they fail.
A screenshot of each showcase film's page is kept in ``artifacts/review/`` (or
``$MINISTUDIO_ARTIFACTS/review/``)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ministudio.review.apply import decide
from ministudio.review.decisions import read_review
from ministudio.review.page import write_page
from ministudio.review.serve import ReviewServer

from tests.conftest import ROOT, SHOWCASES
from tests.test_review_page import HOSTILE, LAST, copied, doctored


def film_of(showcase: Any, name: str) -> Any:
    """The showcase film, rendered (the first time) in a thread of its own: Playwright's
    sync API keeps an event loop running in this one, where a render cannot start its own."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(showcase, name).result()


def chromium() -> str | None:
    """The system Chromium: ``$MINISTUDIO_CHROMIUM``, else ``chromium`` or
    ``chromium-browser`` on the PATH."""
    named = os.environ.get("MINISTUDIO_CHROMIUM")
    if named:
        return named if Path(named).is_file() else shutil.which(named)
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module's tests."""
    found = chromium()
    if found is None:
        why = (
            "no Chromium found (set MINISTUDIO_CHROMIUM, or `apt-get install chromium`): "
            "the review page's browser tests need one"
        )
        if os.environ.get("CI"):
            pytest.fail(why + "; CI must run them")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=found,
            headless=True,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        yield launched
        launched.close()


class Page:
    """A browser page that keeps every console error and uncaught exception."""

    def __init__(self, browser: Any, *, downloads: bool = False) -> None:
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=downloads
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", lambda d: (self.errors.append("dialog: " + d.message), d.dismiss()))

    def open(self, url: str) -> Any:
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready]")
        return self.page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def opened(browser: Any) -> Iterator[Any]:
    """``opened(downloads=...)``: a fresh page (closed after the test)."""
    made: list[Page] = []

    def make(*, downloads: bool = False) -> Page:
        made.append(Page(browser, downloads=downloads))
        return made[-1]

    yield make
    for page in made:
        page.close()


def plays(page: Any, selector: str) -> None:
    """The video at ``selector`` plays: its currentTime advances."""
    page.eval_on_selector(selector, "v => { v.muted = true; v.play(); }")
    page.wait_for_function(
        "s => document.querySelector(s).currentTime > 0.2", arg=selector, timeout=10_000
    )
    page.eval_on_selector(selector, "v => v.pause()")


def click_decisions(page: Any, shots: list[str]) -> None:
    """Approve the first shot, retake the second with a note, approve then clear the third."""
    first, second, third = (f'article[data-shot="{s}"]' for s in shots[:3])
    page.click(f'{first} [data-action="approve"]')
    page.fill(f"{second} textarea", "  she turns to the window  ")
    page.click(f'{second} [data-action="retake"]')
    page.click(f'{third} [data-action="approve"]')
    page.click(f'{third} [data-action="clear"]')


def served(folder: Path) -> ReviewServer:
    server = ReviewServer(folder)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def saved(page: Any) -> None:
    """Wait until the page's last change reached the server."""
    page.wait_for_function(
        "() => document.getElementById('save-state').textContent.startsWith('saved')"
    )
    page.evaluate("() => new Promise(r => setTimeout(r, 100))")


def artifacts() -> Path:
    base = Path(os.environ.get("MINISTUDIO_ARTIFACTS") or ROOT / "artifacts")
    (base / "review").mkdir(parents=True, exist_ok=True)
    return base / "review"


@pytest.mark.parametrize("name", SHOWCASES)
def test_the_page_plays_jumps_and_writes_review_json(
    name: str, showcase: Any, browser: Any, opened: Any, tmp_path: Path
) -> None:
    film = film_of(showcase, name)
    folder = copied(film, tmp_path)
    index = write_page(folder)
    shots = [s.id for s in film.manifest.shots]

    # from disk: no console error, the film and a clip play, the timeline jumps
    disk = opened(downloads=True)
    page = disk.open(index.as_uri())
    plays(page, "#film")
    plays(page, f'article[data-shot="{shots[1]}"] video')
    target = film.manifest.shots[2]
    page.click(f'#timeline [data-shot="{target.id}"]')
    at = page.eval_on_selector("#film", "v => v.currentTime")
    assert at == pytest.approx(target.start, abs=0.05)
    assert page.is_visible(f'article[data-shot="{target.id}"].selected')
    page.screenshot(path=str(artifacts() / f"{name}.png"))
    click_decisions(page, shots)
    with page.expect_download() as download:
        page.click("#download")
    downloaded = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename == "review.json"
    assert disk.errors == []

    # served: the same clicks write review.json beside the film
    server = served(folder)
    try:
        live = opened()
        page = live.open(server.url)
        click_decisions(page, shots)
        saved(page)
        assert live.errors == []
    finally:
        server.shutdown()
        server.server_close()
    review = read_review(folder / "review.json")
    assert {shot: (d.decision, d.note) for shot, d in review.shots.items()} == {
        shots[0]: ("approve", ""),
        shots[1]: ("retake", "she turns to the window"),
    }
    assert review.shots[shots[0]].job_key == film.manifest.shots[0].job_key
    assert (folder / "review.json").read_bytes() == downloaded
    # the next render can act on it: the retake's note goes into the shot's action
    decided = decide(review, film.manifest, film.production)
    assert decided.notes == {shots[1]: "she turns to the window"}
    assert set(decided.keep) == {shots[0]}


@LAST
def test_takes_previz_jobs_and_a_pick_in_the_browser(
    showcase: Any, browser: Any, opened: Any, tmp_path: Path
) -> None:
    film = film_of(showcase, "last-algorithm")
    folder = doctored(film, tmp_path)
    write_page(folder)
    first, second = (s.id for s in film.manifest.shots[:2])
    server = served(folder)
    try:
        live = opened()
        page = live.open(server.url)
        card = f'article[data-shot="{first}"]'
        assert page.locator(f"{card} figure.take").count() == 2
        assert "kept" in page.inner_text(f"{card} figure.take.kept figcaption")
        assert page.locator(f"{card} tr.fail").count() == 1  # take 1's failing check
        plays(page, f"{card} figure.take video")
        assert "previz" in page.inner_text(f'article[data-shot="{second}"] .clips')
        assert page.locator("#jobs .job").count() == 3
        # the hostile prompt is shown as text, and ran nothing
        page.click(f"{card} .prompt summary")
        assert page.inner_text(f"{card} .prompt pre") == HOSTILE
        assert page.evaluate("window.pwned") is None
        assert page.locator("#shots img").count() == 0
        page.click(f'{card} [data-action="pick-1"]')
        saved(page)
        # a reload shows the decision made
        page.reload()
        page.wait_for_selector("body[data-ready]")
        page.wait_for_function(
            f"() => document.querySelector('{card} .badge').textContent === 'take 1 picked'"
        )
        assert live.errors == []
    finally:
        server.shutdown()
        server.server_close()
    review = read_review(folder / "review.json")
    decision = review.shots[first]
    assert (decision.decision, decision.take, decision.job_key) == ("pick", 1, "k1")
    reviewed = type(film.manifest).of_folder(folder)
    assert decide(review, reviewed, film.production).keep[first].job_key == "k1"
