"""A real headless browser (Debian's chromium, driven by playwright) on the served site, as its users walk it.

Two sites: the bundled corpus, and the small ingest of tests/site_builder.py (which carries hostile
text), each served by uvicorn on 127.0.0.1 in a thread. Three people's paths are walked at 1280 and at
390 px wide: a researcher (search "agency staff", open a hit, reach its source, export CSV), a council
scrutiny officer (council, a recurring concern, its timeline, a link reviewed as a signed-in reviewer and
the same decision refused when signed out) and a newcomer (home page, the areas, a first search that
finds something). On the home, search, council, concern and document pages axe-core (vendored from npm
under tests/vendor/axe-core, injected from the file: nothing is fetched at run time) must find no serious
or critical violation, and no page may scroll sideways.

Every request the browser makes is recorded, and any that is not for 127.0.0.1 is blocked and fails
the test: the pages must draw with nothing fetched from elsewhere. Screenshots go to build/screenshots/.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import sqlite3
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
AXE = Path(__file__).resolve().parent.parent / "vendor" / "axe-core" / "axe.min.js"
TOKEN = "reviewers-token-for-the-test"
WIDTHS = (1280, 390)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium "
        "(.ci/run installs it when run as root: apt-get install chromium)",
    ),
]


@contextmanager
def served(db_path: Path, **options):
    """The database served over loopback by uvicorn in a thread, as `scrutiny serve` serves it."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            publish.datasette_app(db_path, **options).app(), host="127.0.0.1", port=port, log_level="warning"
        )
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


@pytest.fixture(scope="module")
def corpus_site(corpus_db, tmp_path_factory):
    reviews = tmp_path_factory.mktemp("reviews") / "scrutiny.reviews.db"
    with served(corpus_db, reviews=reviews, review_token=TOKEN) as url:
        yield url, reviews


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install .[dev])")
    with sync_api.sync_playwright() as p:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []  # chromium's sandbox refuses to run as root
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        yield browser
        browser.close()


class Tab:
    """A page of one browser context at one width, with every request recorded and any not for 127.0.0.1
    blocked, and the checks each page of a path gets."""

    def __init__(self, browser, width: int):
        self.width = width
        self.requests, self.blocked, self.dialogs = [], [], []
        self.context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
        self.context.route("**/*", self._guard)
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.new_page()
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def _guard(self, route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}-{self.width}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5000
        return path

    def check(self, name: str, *, axe: bool = True) -> None:
        """No sideways scrolling; no serious or critical axe-core violation; a screenshot."""
        scroll, client = self.page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll <= client, f"{name} at {self.width}px scrolls sideways ({scroll} > {client})"
        if axe:
            violations = axe_violations(self.page)
            assert not violations, f"{name} at {self.width}px: {violations}"
        self.shot(name)

    def close(self) -> None:
        assert self.requests and all(urlsplit(u).hostname == "127.0.0.1" for u in self.requests), self.requests
        assert self.blocked == [] and self.dialogs == []
        self.context.close()


def axe_violations(page) -> list[str]:
    """Serious and critical violations axe-core finds on the page (injected from the vendored file)."""
    assert AXE.is_file(), f"axe-core is not vendored at {AXE}"
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))""")
    return list(found)


@pytest.fixture
def tabs(browser):
    opened = []

    def open_tab(width: int) -> Tab:
        tab = Tab(browser, width)
        opened.append(tab)
        return tab

    yield open_tab
    for tab in opened:
        tab.close()


# ---------------------------------------------------------------- the three paths, at both widths


@pytest.mark.parametrize("width", WIDTHS)
def test_researcher_searches_opens_a_hit_reaches_its_source_and_exports(corpus_site, corpus_db, tabs, width):
    site, _ = corpus_site
    tab = tabs(width)
    page = tab.page
    page.goto(site + "/")
    page.fill("#scrutiny-q", "agency staff")
    page.press("#scrutiny-q", "Enter")
    page.wait_for_selector("ol.hits li")
    assert page.locator("h2").first.inner_text().startswith("Statements with all the words")
    assert page.locator("ol.hits li mark").count() >= 2
    tab.check("researcher-1-search")

    hit = page.locator("ol.hits li").first
    hit.locator("a.document").click()  # the statement in its document
    page.wait_for_selector("tr.statement:target")
    target = page.locator("tr.statement:target")
    assert "agency" in target.inner_text().lower()
    tab.check("researcher-2-document")

    archived = page.locator("a.archived").first.get_attribute("href")
    response = page.request.get(site + archived.split("#")[0])
    assert response.ok
    sha = archived.split("/")[3]
    assert hashlib.sha256(response.body()).hexdigest() == sha  # the very bytes ingested
    page.locator("tr.statement:target a").first.click()  # the statement's own page: document, concern, source
    page.wait_for_selector("blockquote.statement-text")
    assert page.locator("dl.facts a.archived").count() == 1
    tab.check("researcher-3-statement")

    page.go_back()
    page.go_back()
    page.wait_for_selector("ol.hits li")
    with page.expect_download() as download:
        page.locator("a", has_text="CSV").first.click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    con = sqlite3.connect(corpus_db)
    try:
        texts = {r[0]: r[1] for r in con.execute("SELECT id, text FROM statements")}
    finally:
        con.close()
    assert rows and all(r["text"] == texts[r["statement_id"]] for r in rows)  # the whole statement, no marks
    assert all("\u27e6" not in r["text"] for r in rows)


@pytest.mark.parametrize("width", WIDTHS)
def test_officer_council_recurring_concern_timeline_and_review(corpus_site, tabs, width):
    site, reviews = corpus_site
    tab = tabs(width)
    page = tab.page
    page.goto(site + "/-/council/Glanmor")  # any case, or the name: redirected to the council's page
    page.wait_for_selector("h1")
    assert page.url.endswith(f"/-/council/{slug(GLANMOR)}")
    assert page.locator("svg.scrutiny-chart rect.bar").count() >= 4
    legend = page.locator("figure.chart .legend > span")
    assert legend.count() == 4
    for i in range(legend.count()):
        box = legend.nth(i).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width  # the legend is not cut
    tab.check("officer-1-council")

    page.goto(site + f"/-/concerns?council={slug(GLANMOR)}&recurring=1")
    tab.check("officer-2-concerns")
    page.locator("tbody tr td:first-child a").first.click()
    page.wait_for_selector("ol.timeline li.mention")
    mentions = page.locator("ol.timeline li.mention")
    assert mentions.count() >= 2
    dates = [d for d in page.locator("ol.timeline li.mention .when strong").all_inner_texts()]
    assert dates == sorted(dates)
    concern_url = page.url
    tab.check("officer-3-concern")

    def decide():
        mention = page.locator("ol.timeline li.mention").last
        mention.locator("details.review summary").click()
        mention.locator("input[value=reject]").check()
        mention.locator("input[name=note]").fill(f"not this issue ({width})")
        mention.locator("button", has_text="Record decision").click()

    decide()  # signed out: refused
    page.wait_for_load_state()
    assert "Only signed-in reviewers can record decisions" in page.content()
    tab.shot("officer-4-refused")
    before = _decisions(reviews)
    assert not [d for d in before if d["note"] == f"not this issue ({width})"]

    page.goto(site + "/-/review/login?next=" + urlsplit(concern_url).path)
    page.fill("#name", "Officer Test")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_selector("ol.timeline li.mention")
    decide()
    page.wait_for_selector(".message-info")
    assert "Recorded: reject statement" in page.locator(".message-info").inner_text()
    assert "Decisions waiting for the next run" in page.content()
    tab.check("officer-5-recorded")
    mine = [d for d in _decisions(reviews) if d["note"] == f"not this issue ({width})"]
    assert len(mine) == 1 and mine[0]["action"] == "reject" and mine[0]["reviewer"] == "Officer Test"


def _decisions(path: Path) -> list[dict]:
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM link_decisions")]
    finally:
        con.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_newcomer_home_areas_and_a_first_search(corpus_site, tabs, width):
    site, _ = corpus_site
    tab = tabs(width)
    page = tab.page
    page.goto(site + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "fictional" in page.locator("p.banner").inner_text()
    areas = page.locator("dl.areas-list dt")
    assert areas.count() == 4
    assert all(name in page.locator("dl.areas-list").inner_text() for name in publish.area_names().values())
    assert "hidden table" not in page.content()
    tab.check("newcomer-1-home")
    page.locator("a.example-search").click()
    page.wait_for_selector("ol.hits li")
    assert page.locator("ol.hits li").count() >= 1
    tab.check("newcomer-2-search")
    page.goto(site + "/-/search?q=" + "supervision caseloads")  # some words only: ranked below, and said so
    page.wait_for_selector("#some-words")
    tab.check("newcomer-3-some-words")


def test_welsh_text_is_marked_welsh(corpus_site, corpus_db, tabs):
    site, _ = corpus_site
    con = sqlite3.connect(corpus_db)
    try:
        welsh = con.execute("SELECT id FROM documents WHERE language = 'cy' LIMIT 1").fetchone()[0]
    finally:
        con.close()
    tab = tabs(1280)
    tab.page.goto(site + f"/-/document/{welsh}")
    assert tab.page.locator("tr.statement td[lang=cy]").count() >= 3
    tab.check("document-welsh")


# ---------------------------------------------------------------- the hostile site


def test_hostile_text_stays_text_in_chromium(site, tabs):
    tab = tabs(1280)
    page = tab.page
    page.goto(f"{site}/-/concern/{WORKFORCE}")
    page.wait_for_selector("ol.timeline li.mention")
    assert page.locator("h1").inner_text().startswith("Agency staff <img")  # the label shown as text
    page.locator("ol.timeline li.mention").last.locator("a", has_text="in its document").click()
    page.wait_for_selector("tr.statement:target")
    page.goto(site + "/-/search?q=reader+comments")
    page.wait_for_selector("ol.hits li mark")
    tab.shot("hostile-search")


# ---------------------------------------------------------------- Datasette's own pages


@pytest.mark.parametrize("width", WIDTHS)
def test_datasette_table_and_query_pages_pass_axe(corpus_site, tabs, width):
    """The database page and every table and canned query it lists (Datasette's own templates, with the site's
    style and labels): no sideways scrolling and no serious or critical axe-core violation."""
    site, _ = corpus_site
    tab = tabs(width)
    page = tab.page
    page.goto(site + "/scrutiny")
    listed = page.locator("a[href^='/scrutiny/']").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    paths = sorted({p for p in listed if "?" not in p and "." not in p.rsplit("/", 1)[-1]})
    assert {"/scrutiny/statements", "/scrutiny/documents", "/scrutiny/recurring_concerns"} <= set(paths)
    tab.check("datasette-database")
    failures = {}
    for path in paths:
        page.goto(site + path)
        scroll, client = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        if scroll > client:
            failures[path] = [f"scrolls sideways ({scroll} > {client})"]
        if found := axe_violations(page):
            failures[path] = failures.get(path, []) + found
    assert not failures, failures
    page.goto(site + "/scrutiny/statements")
    tab.check("datasette-statements")
