"""The search page in headless Chromium (Playwright) against a real uvicorn server on
127.0.0.1: typo notice, facets, the chart, the clip view and Back, hostile clip text
shown as text, and the screenshots in docs/ (refreshed with CLIPSEARCH_SCREENSHOTS=1).

Skipped only when /usr/bin/chromium is missing (CI installs it: .ci/run)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

import uvicorn  # noqa: E402
from conftest import Corpus, write_clip  # noqa: E402
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from clipsearch import update_index  # noqa: E402
from clipsearch.server.app import make_app  # noqa: E402

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE_TITLE = "Hostile <script>alert(1)</script> headline"
HOSTILE_EXCERPT = "Look <img src=x onerror=alert(2)> here, zebra crossing news"
DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def served(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A copy of the corpus plus a hostile clip, served by uvicorn in a thread."""
    base = tmp_path_factory.mktemp("served")
    root = base / "clips"
    shutil.copytree(corpus.root, root)
    write_clip(
        root / "hostile.md",
        title=HOSTILE_TITLE,
        excerpt=HOSTILE_EXCERPT,
        body="<b>bold?</b> javascript:alert(3)\n",
        webUrl="javascript:alert(4)",
        date="2021-06-01",
        id="hostile-1",
        topics=["<i>Topic</i>"],
    )
    assert update_index([root], base / "index").ok
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(make_app(str(base / "index")), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()
        assert not thread.is_alive()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, served: str) -> Iterator[Page]:
    """A fresh page that records dialogs, console errors and page errors."""
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    p = ctx.new_page()
    p.problems = []  # type: ignore[attr-defined]

    def on_dialog(d):
        p.problems.append(f"dialog: {d.message}")  # type: ignore[attr-defined]
        d.dismiss()

    p.on("dialog", on_dialog)
    p.on("pageerror", lambda e: p.problems.append(f"pageerror: {e}"))  # type: ignore[attr-defined]
    p.on(
        "console",
        lambda m: m.type == "error" and p.problems.append(f"console: {m.text}"),  # type: ignore[attr-defined]
    )
    p.set_default_timeout(10_000)
    try:
        yield p
    finally:
        ctx.close()


def test_typing_a_misspelt_query_shows_corrected_results(page: Page, served: str) -> None:
    page.goto(served + "/")
    page.locator("#q").press_sequentially("vacine", delay=30)
    expect(page.locator("#notice")).to_contain_text("vacine \u2192 vaccine")
    expect(page.locator("#hits li").first).to_contain_text("accine")
    assert "q=vacine" in page.url
    marks = page.locator("#hits mark")
    assert marks.count() > 0 and marks.first.inner_text().lower() == "vaccine"
    # The exact-words link turns correction off.
    page.locator("#notice a").click()
    expect(page.locator("#summary")).to_have_text("No clips found.")
    assert "exact=1" in page.url
    assert page.problems == []  # type: ignore[attr-defined]


def test_the_count_says_when_it_is_of_any_word(page: Page, served: str) -> None:
    page.goto(served + "/?q=glacier+vaccine&exact=1")
    expect(page.locator("#summary")).to_contain_text("no clip has all the words")
    page.goto(served + "/?q=vaccine+booster&exact=1")
    expect(page.locator("#summary")).not_to_contain_text("any of them")
    assert page.problems == []  # type: ignore[attr-defined]


def test_ticking_a_facet_changes_results_and_counts(page: Page, served: str) -> None:
    page.goto(served + "/?q=vaccine")
    expect(page.locator("#summary")).to_contain_text("6 clips")
    topic = page.locator('.facet[data-field="topic"]')
    covid = topic.locator("li", has_text="COVID-19")
    expect(page.locator("#q")).to_have_value("vaccine")  # the URL fills the form
    expect(covid.locator(".count")).to_have_text("3")
    covid.locator("input").check()
    expect(page.locator("#summary")).to_contain_text("3 clips")
    assert "topic=COVID-19" in page.url
    # Provider counts now respect the topic filter; topic counts stay disjunctive.
    providers = page.locator('.facet[data-field="provider"] .count')
    total = sum(int(t) for t in providers.all_inner_texts())
    assert total == 3
    expect(topic.locator("li", has_text="Health").locator(".count")).to_have_text("6")
    expect(covid.locator("input")).to_be_checked()
    # The fuzzy filter box narrows a long list.
    page.locator('.facet[data-field="provider"] .facet-filter').fill("rtrs")
    expect(page.locator('.facet[data-field="provider"] li')).to_have_count(1)
    page.go_back()
    expect(page.locator("#summary")).to_contain_text("6 clips")
    assert page.problems == []  # type: ignore[attr-defined]


def test_chart_has_one_bar_per_month(page: Page, served: str) -> None:
    page.goto(served + "/?q=vaccine")
    # vaccine clips 0-5 are dated 13 days apart from 2021-01-04: Jan to Mar 2021.
    expect(page.locator("#chart rect.bar")).to_have_count(3)
    page.goto(served + "/")
    expect(page.locator("#chart rect.bar")).to_have_count(14)  # 2021-01 .. 2022-02
    assert page.problems == []  # type: ignore[attr-defined]


def test_open_a_clip_and_go_back(page: Page, served: str) -> None:
    page.goto(served + "/?q=facial+recognition")
    first = page.locator("#hits .hit-link").first
    title = first.inner_text()
    first.click()
    expect(page.locator("#clip-title")).to_have_text(title)
    expect(page.locator("#results-view")).to_be_hidden()
    link = page.locator("#original")
    assert link.get_attribute("href", timeout=5000).startswith("https://")
    expect(page.locator("#clip-related li").first).to_be_visible()
    assert "clip=" in page.url
    page.go_back()
    expect(page.locator("#results-view")).to_be_visible()
    expect(page.locator("#hits .hit-link").first).to_have_text(title)
    page.go_forward()
    expect(page.locator("#clip-title")).to_have_text(title)
    page.keyboard.press("Escape")  # keyboard: Escape returns to the results
    expect(page.locator("#results-view")).to_be_visible()
    assert page.problems == []  # type: ignore[attr-defined]


def test_hostile_clip_text_is_shown_as_text(page: Page, served: str) -> None:
    page.goto(served + "/?q=zebra")
    hit = page.locator("#hits li").first
    expect(hit.locator("h3")).to_have_text(HOSTILE_TITLE)
    expect(hit.locator(".snippet")).to_contain_text("<img src=x onerror=alert(2)>")
    assert page.locator("#hits script, #hits img").count() == 0
    expect(page.locator('.facet[data-field="topic"]')).to_contain_text("<i>Topic</i>")
    hit.locator(".hit-link").click()
    expect(page.locator("#clip-title")).to_have_text(HOSTILE_TITLE)
    expect(page.locator("#clip-excerpt")).to_have_text(HOSTILE_EXCERPT)
    expect(page.locator("#clip-body")).to_contain_text("<b>bold?</b>")
    assert page.locator("#clip-view script, #clip-view img, #clip-view b").count() == 0
    assert page.locator("#clip-link a").count() == 0  # javascript: never becomes a link
    expect(page.locator("#clip-link")).to_contain_text("javascript:alert(4)")
    page.wait_for_timeout(300)  # give any injected handler the chance to fire
    assert page.problems == []  # type: ignore[attr-defined]


def test_screenshots(page: Page, served: str, tmp_path: Path) -> None:
    """Screenshots of the results and a clip; written to docs/ with
    CLIPSEARCH_SCREENSHOTS=1 (and to a temporary folder otherwise)."""
    out = DOCS if os.environ.get("CLIPSEARCH_SCREENSHOTS") == "1" else tmp_path
    page.goto(served + "/?q=solar+OR+wildfire+OR+satelite")
    expect(page.locator("#chart rect.bar").first).to_be_attached()
    expect(page.locator("#notice")).to_be_visible()
    page.screenshot(path=str(out / "serve-results.png"), full_page=True)
    page.goto(served + "/?q=facial+recognition")
    page.locator("#hits .hit-link").first.click()
    expect(page.locator("#clip-related li").first).to_be_visible()
    expect(page.locator("#clip-title")).not_to_be_empty()
    page.screenshot(path=str(out / "serve-clip.png"), full_page=True)
    assert (out / "serve-results.png").stat().st_size > 10_000
