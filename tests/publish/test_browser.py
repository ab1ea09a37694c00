"""A real headless browser (Debian's chromium, driven by playwright) on the served site.

Two sites: the bundled corpus, and the small ingest of tests/site_builder.py (which carries hostile
text), each served by uvicorn on 127.0.0.1 in a thread.
Every request the browser makes is recorded, and any that is not for 127.0.0.1 is blocked and fails
the test: the pages must draw with nothing fetched from elsewhere. Screenshots go to build/screenshots/.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from site_builder import GLANMOR, WORKFORCE, build_corpus_db

from pipeline import publish
from pipeline.publish.site import slug
from pipeline.run.childproc import free_port

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium "
        "(.ci/run installs it when run as root: apt-get install chromium)",
    ),
]


@contextmanager
def served(db_path: Path):
    """The database served over loopback by uvicorn in a thread, as `scrutiny serve` serves it."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(publish.datasette_app(db_path).app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def site(site_db):
    with served(site_db) as url:
        yield url


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory):
    from conftest import ROOT

    return build_corpus_db(tmp_path_factory.mktemp("corpus-site"), ROOT / "corpus")


@pytest.fixture
def browser_page():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install .[dev])")
    requests, blocked, dialogs = [], [], []
    with sync_api.sync_playwright() as p:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []  # chromium's sandbox refuses to run as root
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        context = browser.new_context(viewport={"width": 1200, "height": 900})

        def guard(route):
            host = urlsplit(route.request.url).hostname
            if host == "127.0.0.1":
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        context.on("request", lambda request: requests.append(request.url))
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        yield page, requests, blocked, dialogs
        context.close()
        browser.close()


def test_concern_council_and_search_pages_in_chromium(site, browser_page):
    page, requests, blocked, dialogs = browser_page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(f"{site}/-/council/{slug(GLANMOR)}")
    page.wait_for_selector("svg.scrutiny-chart rect.bar")
    chart = page.locator("svg.scrutiny-chart")
    box = chart.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 150
    bars = page.evaluate("""() => [...document.querySelectorAll('svg.scrutiny-chart rect.bar')]
        .map(r => r.getBBox()).filter(b => b.width > 0 && b.height > 0).length""")
    assert bars >= 4  # drawn, with a size, by the browser's SVG renderer
    page.screenshot(path=str(SCREENSHOTS / "council.png"), full_page=True)

    page.click(f"a[href='/-/concern/{WORKFORCE}']")
    page.wait_for_selector("ol.timeline li.mention")
    assert page.locator("ol.timeline li.mention").count() == 3
    assert page.locator("h1").inner_text().startswith("Agency staff <img")  # the label shown as text
    page.screenshot(path=str(SCREENSHOTS / "concern.png"), full_page=True)

    page.locator("ol.timeline li.mention").last.locator("a", has_text="in its document").click()
    page.wait_for_selector("tr.statement:target")  # the document page, at the statement
    page.screenshot(path=str(SCREENSHOTS / "document.png"), full_page=True)

    page.goto(f"{site}/scrutiny/statements_labelled?_search=social")
    page.wait_for_selector("table.rows-and-columns tbody tr")
    assert page.locator("table.rows-and-columns tbody tr").count() >= 3
    assert page.locator(".facet-info").count() >= 1  # the facets drew too
    page.screenshot(path=str(SCREENSHOTS / "search.png"), full_page=True)

    page.goto(site + "/")  # the bounded search, from the index's search box
    page.fill("#scrutiny-q", "social")
    page.click("form.scrutiny-search input[type=submit]")
    page.wait_for_selector("td.col-snippet mark")
    assert page.locator("td.col-snippet mark").first.inner_text().lower().startswith("social")
    page.screenshot(path=str(SCREENSHOTS / "search-ranked.png"), full_page=True)

    assert requests and all(urlsplit(u).hostname == "127.0.0.1" for u in requests), requests
    assert blocked == []
    assert dialogs == []  # no script from a document ran
    for name in ("council", "concern", "document", "search", "search-ranked"):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 5000


def test_the_bundled_corpus_site_in_chromium(corpus_db, browser_page):
    page, requests, blocked, dialogs = browser_page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with served(corpus_db) as site:
        page.goto(site + "/")
        page.click(f"a[href='/-/council/{slug(GLANMOR)}']")  # from the index to the council page
        page.wait_for_selector("svg.scrutiny-chart rect.bar")
        drawn = page.evaluate("""() => [...document.querySelectorAll('svg.scrutiny-chart rect.bar')]
            .filter(r => { const b = r.getBBox(); return b.width > 0 && b.height > 0; }).length""")
        assert drawn >= 8  # four areas over at least two years of Glanmor's papers
        page.screenshot(path=str(SCREENSHOTS / "corpus-council.png"), full_page=True)

        page.locator("xpath=//h2[starts-with(., 'Open concerns')]/following-sibling::table[1]//a").first.click()
        page.wait_for_selector("ol.timeline li.mention")
        assert page.locator("ol.timeline li.mention").count() >= 2
        assert page.locator("dl.facts dd .status").inner_text() in ("new", "repeated", "improved")
        page.screenshot(path=str(SCREENSHOTS / "corpus-concern.png"), full_page=True)

        page.goto(site + "/scrutiny/statements_labelled?_search=recommendations")
        page.wait_for_selector("table.rows-and-columns tbody tr")
        assert page.locator("table.rows-and-columns tbody tr").count() >= 5
        page.screenshot(path=str(SCREENSHOTS / "corpus-search.png"), full_page=True)
    assert requests and all(urlsplit(u).hostname == "127.0.0.1" for u in requests), requests
    assert blocked == [] and dialogs == []
