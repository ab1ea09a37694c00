"""The site's pages (pipeline/site), its feed and facets, through Datasette's in-process client."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

import lxml.html
import pytest
from site_builder import AFONWY, AFONWY_CONCERN, GLANMOR, HOSTILE_LABEL, HOSTILE_TITLE, RESOLVED, WORKFORCE

from pipeline import publish
from pipeline.publish.site import bar_chart, slug, source_link

pytestmark = pytest.mark.anyio
ATOM = {"a": "http://www.w3.org/2005/Atom"}


@pytest.fixture
def ds(site_db):
    return publish.datasette_app(site_db)


def rows(db, sql, *params):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, params)]
    finally:
        con.close()


def doc_id(db, title_start):
    return rows(db, "select id from documents where title like ?", title_start + "%")[0]["id"]


async def page(ds, path, status=200):
    response = await ds.client.get(path)
    assert response.status_code == status, (path, response.text[:500])
    return response, lxml.html.fromstring(response.text)


# ---------------------------------------------------------------- concern page


async def test_concern_page_status_council_areas_and_timeline_in_date_order(ds, site_db):
    _, html = await page(ds, f"/-/concern/{WORKFORCE}")
    facts = dict(
        zip(
            [dt.text_content().strip() for dt in html.cssselect("dl.facts dt")],
            [dd.text_content().strip() for dd in html.cssselect("dl.facts dd")],
        )
    )
    assert facts["Status"] == "repeated" and facts["Council"] == GLANMOR and facts["Service"] == "children"
    assert "C" in facts["Areas"] and "Workforce" in facts["Areas"]  # the name comes from the taxonomy
    mentions = html.cssselect("ol.timeline li.mention")
    assert [m.get("class").split()[-1] for m in mentions] == ["role-raised", "role-repeated", "role-discussed"]
    dates = [m.cssselect(".when strong")[0].text for m in mentions]
    assert dates == sorted(dates) == ["2017-10-12", "2018-11-08", "2018-11-09"]
    assert html.cssselect(f'a[href="/-/council/{slug(GLANMOR)}"]')


async def test_each_mention_links_to_its_statement_in_its_document_and_to_the_source_page(ds, site_db):
    _, html = await page(ds, f"/-/concern/{WORKFORCE}")
    expected = rows(
        site_db,
        """select m.statement_id, m.document_id, s.seq, s.page, d.source_url, d.format
        from concern_mentions m join statements s on s.id = m.statement_id join documents d on d.id = m.document_id
        where m.concern_id = ? order by m.date""",
        WORKFORCE,
    )
    for mention, want in zip(html.cssselect("ol.timeline li.mention"), expected):
        hrefs = [a.get("href") for a in mention.cssselect("a")]
        assert f"/-/document/{want['document_id']}#s{want['seq']}" in hrefs
        statement = next(h for h in hrefs if h.startswith("/-/statement/"))
        _, statement_page = await page(ds, statement)
        row_link = next(a.get("href") for a in statement_page.cssselect("a") if a.text == "as data")
        row = (await ds.client.get(row_link + ".json?_shape=objects")).json()["rows"][0]
        assert row["id"] == want["statement_id"]
        sources = [a.get("href") for a in mention.cssselect("a.source")]
        archived = [a.get("href") for a in mention.cssselect("a.archived")]
        assert archived and archived[0].startswith("/-/archive/")  # every mention reaches its source file
        if want["format"] == "pdf":
            assert sources == [f"{want['source_url']}#page={want['page']}"] and want["page"] == 2
        else:  # the gazette's address is javascript:, which must never become a link
            assert sources == []
    # the document page has the anchor the mention points to
    first = expected[0]
    _, doc = await page(ds, f"/-/document/{first['document_id']}")
    assert doc.get_element_by_id(f"s{first['seq']}") is not None


async def test_unknown_pages_are_404(ds):
    for path in ("/-/concern/nope", "/-/council/nowhere", "/-/document/" + "0" * 64):
        response = await ds.client.get(path)
        assert response.status_code == 404


# ---------------------------------------------------------------- council page


async def test_council_page_chart_counts_statements_per_area_per_year(ds, site_db):
    _, html = await page(ds, f"/-/council/{slug(GLANMOR)}")
    svg = html.cssselect("svg.scrutiny-chart")
    assert len(svg) == 1
    truth = rows(
        site_db,
        """select d.year, j.value as area, count(*) as n from statements s
        join documents d on d.id = s.document_id join predictions p on p.statement_id = s.id, json_each(p.labels) j
        where d.local_authority = ? group by 1, 2""",
        GLANMOR,
    )
    bars = svg[0].cssselect("rect.bar")
    assert len(bars) == len(truth) > 3
    titles = sorted(b.cssselect("title")[0].text for b in bars)
    for t in truth:
        assert any(
            title.startswith(f"{t['year']}, {t['area']} ")
            and title.endswith(f": {t['n']} statement" + "s" * (t["n"] != 1))
            for title in titles
        ), t
    heights = {b.cssselect("title")[0].text.split(":")[0]: float(b.get("height")) for b in bars}
    tallest = max(truth, key=lambda t: t["n"])
    assert max(heights.values()) == pytest.approx(
        heights[f"{tallest['year']}, {tallest['area']} {publish.area_names()[tallest['area']]}"]
    )
    years = [t.text for t in svg[0].cssselect("text")]
    assert "2017" in years and "2018" in years


async def test_council_page_open_concerns_latest_inspection_and_feed_link(ds, site_db):
    response, html = await page(ds, f"/-/council/{slug(GLANMOR)}")
    open_table = html.xpath("//h2[starts-with(., 'Open concerns')]/following-sibling::table[1]")[0]
    assert [a.get("href") for a in open_table.cssselect("a")] == [f"/-/concern/{WORKFORCE}"]
    assert html.cssselect(f'details a[href="/-/concern/{RESOLVED}"]')  # resolved ones are folded away
    assert AFONWY_CONCERN not in response.text
    latest = html.xpath("//h2[.='Latest inspection']/following-sibling::p[1]/a")[0]
    assert latest.get("href") == f"/-/document/{doc_id(site_db, 'Follow-up')}"
    feed = html.cssselect('link[rel="alternate"][type="application/atom+xml"]')[0].get("href")
    assert feed == "/scrutiny/concern_feed.atom?council=" + quote(GLANMOR, safe="").replace("%20", "+")
    assert html.cssselect(f'a[href="{feed}"]')
    atom = await ds.client.get(feed)
    assert atom.status_code == 200 and atom.headers["content-type"].startswith("application/atom+xml")
    entries = ElementTree.fromstring(atom.text).findall("a:entry", ATOM)
    # new or repeated only, this council only; the resolved concern and Afonwy's are not in it
    assert [e.findtext("a:title", namespaces=ATOM) for e in entries] == [
        f"{GLANMOR}: repeated concern: {HOSTILE_LABEL}"
    ]
    link = entries[0].find("a:link", ATOM).get("href")
    assert urlsplit(link).path == f"/-/concern/{WORKFORCE}"
    assert (await ds.client.get(urlsplit(link).path)).status_code == 200


async def test_councils_page_and_index_link_every_council(ds):
    for path in ("/-/councils", "/"):
        _, html = await page(ds, path)
        hrefs = {a.get("href") for a in html.cssselect("a")}
        assert {f"/-/council/{slug(GLANMOR)}", f"/-/council/{slug(AFONWY)}", "/-/councils"} <= hrefs, path
    for name in (GLANMOR, AFONWY):
        await page(ds, f"/-/council/{slug(name)}")


async def test_menu_links_reach_the_pages_from_every_datasette_page(ds):
    _, html = await page(ds, "/scrutiny/statements")
    menu = {a.text: a.get("href") for a in html.cssselect("details.nav-menu a")}
    assert menu["Councils"] == "/-/councils"
    assert menu["Search statements"] == "/-/search"
    assert menu["Concerns"] == "/-/concerns" and menu["Compare councils"] == "/-/compare"
    assert menu["Browse and facet statements"] == "/scrutiny/statements_labelled"
    for href in menu.values():
        assert (await ds.client.get(href)).status_code == 200


# ---------------------------------------------------------------- document page


async def test_document_page_statements_in_order_with_labels_kind_and_page(ds, site_db):
    document = doc_id(site_db, "Inspection of Children")
    _, html = await page(ds, f"/-/document/{document}")
    truth = rows(
        site_db,
        """select s.seq, s.page, s.kind, p.labels from statements s
        left join predictions p on p.statement_id = s.id where s.document_id = ? order by s.seq""",
        document,
    )
    shown = html.cssselect("tr.statement")
    assert [tr.get("id") for tr in shown] == [f"s{t['seq']}" for t in truth]
    for tr, t in zip(shown, truth):
        cells = tr.cssselect("td")
        assert cells[1].text_content().strip() == str(t["page"])
        assert cells[1].cssselect("a.source")[0].get("href").endswith(f".pdf#page={t['page']}")
        assert cells[2].text_content().strip() == t["kind"]
        assert [s.text for s in cells[3].cssselect(".area")] == eval(t["labels"])
    headings = [td.text_content().strip() for td in html.cssselect("tr.heading-row td")]
    assert headings == ["Inspection of children's services", "Recommendations"]
    concern_links = {a.get("href") for a in html.cssselect("tr.statement a") if "/-/concern/" in a.get("href")}
    assert concern_links == {f"/-/concern/{WORKFORCE}", f"/-/concern/{RESOLVED}"}


# ---------------------------------------------------------------- escaping

HOSTILE_PAGES = (
    "/-/councils",
    f"/-/council/{slug(GLANMOR)}",
    f"/-/concern/{WORKFORCE}",
    "/",
    "/scrutiny/statements",
    "/scrutiny/statements_labelled?_search=reader",
    f"/scrutiny/concern_timeline?concern_id={WORKFORCE}",
)


async def test_script_and_onerror_in_documents_are_shown_harmlessly(ds, site_db):
    paths = [*HOSTILE_PAGES, f"/-/document/{doc_id(site_db, '<script>')}"]
    for path in paths:
        response, html = await page(ds, path)
        for script in html.iter("script"):  # Datasette's own scripts only
            assert "alert" not in (script.text or ""), path
        for element in html.iter():
            if not isinstance(element.tag, str):
                continue
            assert not [a for a in element.attrib if a.lower().startswith("on")], (path, element.tag)
            assert not (element.get("href") or "").lower().startswith("javascript:"), path
            assert not (element.tag == "img" and element.get("src") == "x"), path
        assert "<script>alert" not in response.text and "<img src=x" not in response.text, path
    _, html = await page(ds, f"/-/document/{doc_id(site_db, '<script>')}")
    assert html.cssselect("h1")[0].text == HOSTILE_TITLE  # shown as text, exactly
    texts = [td.text_content() for td in html.cssselect("tr.statement td:nth-child(5)")]
    assert "A reader wrote <script>alert('x')</script> in the comments." in texts
    _, html = await page(ds, f"/-/concern/{WORKFORCE}")
    assert html.cssselect("h1")[0].text == HOSTILE_LABEL


# ---------------------------------------------------------------- facets and APIs


async def facets(ds, path):
    body = (await ds.client.get(path)).json()
    assert not body.get("facets_timed_out"), body.get("facets_timed_out")
    return {name: {str(v["value"]): v["count"] for v in f["results"]} for name, f in body["facet_results"].items()}


async def test_facets_on_area_council_service_type_year_language(ds, site_db):
    got = await facets(ds, "/scrutiny/statements_labelled.json?_size=0")
    truth = rows(site_db, "select j.value as v, count(*) as n from predictions p, json_each(p.labels) j group by 1")
    assert got["labels"] == {t["v"]: t["n"] for t in truth} and len(got["labels"]) == 4
    assert got["local_authority"] == {GLANMOR: 10, AFONWY: 2}
    assert got["service"] == {"children": 10, "adults": 2}
    assert got["doc_type"] == {"inspection_report": 7, "news": 3, "council_minutes": 2}
    assert got["year"] == {"2017": 4, "2018": 6, "2019": 2}
    assert got["language"] == {"en": 12}
    filtered = (
        await ds.client.get("/scrutiny/statements_labelled.json?labels__arraycontains=C&_shape=objects&_size=100")
    ).json()["rows"]
    assert filtered and all("C" in r["labels"] for r in filtered) and len(filtered) == got["labels"]["C"]
    narrowed = await facets(ds, "/scrutiny/statements_labelled.json?_size=0&local_authority=" + quote(AFONWY))
    assert narrowed["labels"] == {"B": 1}


async def test_facets_on_concern_status_and_documents(ds):
    got = await facets(ds, "/scrutiny/concerns.json?_size=0")
    assert got["status"] == {"repeated": 1, "resolved": 1, "new": 1}
    assert got["areas"] == {"B": 1, "C": 1, "D": 1}
    assert got["local_authority"] == {GLANMOR: 2, AFONWY: 1}
    documents = await facets(ds, "/scrutiny/documents.json?_size=0")
    assert set(documents) >= {"doc_type", "local_authority", "service", "year", "language"}
    assert documents["year"] == {"2017": 1, "2018": 2, "2019": 1}


async def test_json_and_csv_for_tables_and_queries(ds):
    for path in (
        "/scrutiny/statements_labelled",
        "/scrutiny/concerns",
        "/scrutiny/concern_mentions",
        f"/scrutiny/concern_timeline?concern_id={WORKFORCE}",
    ):
        base, _, query = path.partition("?")
        for fmt in ("json", "csv"):
            response = await ds.client.get(f"{base}.{fmt}" + (f"?{query}" if query else ""))
            assert response.status_code == 200, (path, fmt)
    csv = (await ds.client.get(f"/scrutiny/concern_timeline.csv?concern_id={WORKFORCE}")).text
    assert csv.splitlines()[0].startswith("date,role,") and len(csv.splitlines()) == 4


async def test_public_mode_keeps_the_pages_and_feed(site_db):
    ds = publish.datasette_app(site_db, public=True)
    assert (await ds.client.get("/scrutiny.json", params={"sql": "select 1"})).status_code == 403
    for path in (
        f"/-/concern/{WORKFORCE}",
        f"/-/council/{slug(GLANMOR)}",
        "/-/councils",
        "/scrutiny/concern_feed.atom?council=Glanmor",
    ):
        assert (await ds.client.get(path)).status_code == 200, path


# ---------------------------------------------------------------- pieces


def test_bar_chart_geometry():
    chart = bar_chart({(2017, "A"): 10, (2017, "C"): 5, (2019, "A"): 20}, ["A", "C"], {"A": "Leadership"})
    assert [label["text"] for label in chart["labels"]] == ["2017", "2018", "2019"]  # the empty year is drawn
    heights = {b["title"]: b["height"] for b in chart["bars"]}
    assert heights["2019, A Leadership: 20 statements"] == 2 * heights["2017, A Leadership: 10 statements"]
    assert heights["2017, C: 5 statements"] == pytest.approx(heights["2017, A Leadership: 10 statements"] / 2)
    assert [t["text"] for t in chart["ticks"]] == ["0", "5", "10", "15", "20"]
    assert chart["table"][1] == {"year": 2018, "counts": [0, 0]}
    assert bar_chart({}, [], {}) is None


@pytest.mark.parametrize(
    "url, fmt, page, expected",
    [
        ("https://example.org/a.pdf", "pdf", 3, "https://example.org/a.pdf#page=3"),
        ("https://example.org/a.pdf#page=1", "pdf", 3, "https://example.org/a.pdf#page=3"),
        ("https://example.org/a.html", "html", None, "https://example.org/a.html"),
        ("javascript:alert(1)", "pdf", 1, None),
        ("JAVASCRIPT:alert(1)", "html", None, None),
        (None, "pdf", 2, None),
    ],
)
def test_source_link(url, fmt, page, expected):
    assert source_link(url, fmt, page) == expected


def test_council_slugs():
    assert slug(GLANMOR) == "glanmor-county-council"
    assert slug("Rhondda Cynon Taf County Borough Council") == "rhondda-cynon-taf-county-borough-council"
    assert re.fullmatch(r"[a-z0-9-]+", slug("Ynys Môn / Isle of Anglesey"))


async def test_a_chart_that_takes_too_long_is_left_out_not_an_error():
    from datasette.database import QueryInterrupted

    from pipeline.publish.site import council_chart

    class SlowDatabase:
        async def execute(self, sql, params):
            raise QueryInterrupted(None, sql, params)

    assert await council_chart(SlowDatabase(), GLANMOR, {}) is None


async def test_index_hides_councils_from_who_may_not_see_the_database(site_db):
    from datasette.app import Datasette

    meta = publish.metadata("scrutiny")
    meta["databases"]["scrutiny"]["allow"] = {"id": "staff"}
    ds = Datasette(immutables=[str(site_db)], metadata=meta)
    index = await ds.client.get("/")
    assert index.status_code == 200 and "/-/council/" not in index.text
    assert (await ds.client.get(f"/-/council/{slug(GLANMOR)}")).status_code == 403


# ---------------------------------------------------------------- orientation


async def test_home_page_says_what_scrutiny_is_with_areas_coverage_and_an_example_that_finds(ds, site_db):
    response, html = await page(ds, "/")
    text = html.text_content()
    assert "Scrutiny turns social care inspection reports" in text
    areas = html.cssselect("dl.areas-list dt")
    names = publish.area_names()
    assert [dt.cssselect("abbr")[0].text for dt in areas] == list(names)
    for dt, name in zip(areas, names.values()):
        assert name in dt.text_content()
    descriptions = [dd.text_content().strip() for dd in html.cssselect("dl.areas-list dd")]
    assert all(descriptions) and len(descriptions) == 4
    coverage = html.xpath("//h2[.='What the database covers']/following-sibling::ul[1]")[0].text_content()
    assert "4 documents about 2 councils, published 2017 to 2019" in coverage
    assert "3 concerns" in coverage
    example = html.cssselect("a.example-search")[0]
    found = await ds.client.get(example.get("href"))
    assert found.status_code == 200 and 'ol class="hits"' in found.text  # the example finds something
    # the test councils are those of the bundled sample corpus, which the gazetteer marks fictional
    assert "fictional" in html.cssselect(".banner")[0].text_content()
    assert "hidden table" not in text and "/scrutiny/runs" not in response.text


async def test_home_page_banner_only_when_the_database_holds_the_fictional_corpus(site_db, monkeypatch):
    assert GLANMOR in publish.fictional_councils() and AFONWY in publish.fictional_councils()
    _, html = await page(publish.datasette_app(site_db), "/")
    assert GLANMOR in html.cssselect("p.banner")[0].text_content()
    monkeypatch.setattr(publish, "fictional_councils", lambda: ["Some Other Council"])  # real councils only
    _, html = await page(publish.datasette_app(site_db), "/")
    assert not html.cssselect("p.banner")


async def test_internal_tables_are_hidden_from_the_database_page(ds):
    body = (await ds.client.get("/scrutiny.json")).json()
    hidden = {t["name"] for t in body["tables"] if t["hidden"]}
    assert {"runs", "sources", "failures", "document_layout", "statement_aliases"} <= hidden
    assert not {"statements", "documents", "concerns"} & hidden


async def test_every_page_has_a_language_and_welsh_text_is_marked(ds, site_db):
    for path in (
        "/",
        "/-/search?q=supervision",
        f"/-/council/{slug(GLANMOR)}",
        f"/-/concern/{WORKFORCE}",
        "/scrutiny/recurring_concerns?council=Glanmor",
        "/-/concerns",
        "/-/compare",
    ):
        _, html = await page(ds, path)
        assert html.get("lang") == "en", path
        levels = [int(h.tag[1]) for h in html.iter("h1", "h2", "h3", "h4")]
        assert levels[0] == 1 and all(b - a <= 1 for a, b in zip(levels, levels[1:])), (path, levels)
        for field in html.iter("input", "select", "textarea"):
            if field.get("type") in ("hidden", "submit"):
                continue
            assert field.get("id") and html.cssselect(f'label[for="{field.get("id")}"]'), (path, field.attrib)


# ---------------------------------------------------------------- canned queries for people


async def test_canned_query_pages_have_titles_labelled_inputs_area_names_and_no_sql(ds):
    response, html = await page(ds, "/scrutiny/council_areas_by_year?council=Glanmor")
    assert html.cssselect("title")[0].text == "A council's statements by area and year - Scrutiny"
    assert html.cssselect("h1")[0].text_content().strip() == "A council's statements by area and year"
    assert not html.cssselect("pre#sql-query") and "SELECT" not in html.text_content()
    label = html.cssselect('label[for="qp1"]')[0].text_content()
    assert label == "Council (part of its name is enough)"
    shown = await ds.client.get("/scrutiny/council_areas_by_year?council=Glanmor&_show_sql=1")
    assert "SELECT d.year" in shown.text
    _, html = await page(ds, "/scrutiny/recurring_concerns?council=Glanmor")
    areas = html.cssselect("td.col-areas")[0].text_content()
    assert "C" in areas and publish.area_names()["C"] in areas and "[" not in areas
    link = html.cssselect("td.col-concern_id a")[0].get("href")
    assert link == f"/-/concern/{WORKFORCE}"


async def test_statement_rows_link_to_their_document_and_statement_pages(ds, site_db):
    _, html = await page(ds, "/scrutiny/statements_labelled?_search=supervision")
    cell = html.cssselect("td.col-id")[0]
    hrefs = [a.get("href") for a in cell.cssselect("a")]
    assert hrefs[0].startswith("/-/statement/") and "#s" in hrefs[1] and hrefs[1].startswith("/-/document/")
    assert (await ds.client.get(hrefs[0])).status_code == 200


# ---------------------------------------------------------------- forgiving addresses


async def test_council_addresses_in_any_case_or_by_name(ds):
    for wanted in ("Glanmor", "GLANMOR-COUNTY-COUNCIL", "glanmor%20county%20council", "Glanmor%20County%20Council"):
        response = await ds.client.get(f"/-/council/{wanted}")
        assert response.status_code == 302, wanted
        assert response.headers["location"] == f"/-/council/{slug(GLANMOR)}"
    missing = await ds.client.get("/-/council/county")  # both councils' names have "county": not one council
    assert missing.status_code == 404 and f"/-/council/{slug(GLANMOR)}" in missing.text  # the list to choose from


async def test_concerns_list_with_filters(ds):
    _, html = await page(ds, "/-/concerns")
    assert len(html.cssselect("tbody tr")) == 3
    assert (await ds.client.get("/-/concern")).status_code == 200  # the list, not a 404
    _, html = await page(ds, "/-/concerns?council=glanmor&status=repeated")
    assert [a.get("href") for a in html.cssselect("tbody td:first-child a")] == [f"/-/concern/{WORKFORCE}"]
    _, html = await page(ds, "/-/concerns?area=B")
    assert [a.get("href") for a in html.cssselect("tbody td:first-child a")] == [f"/-/concern/{AFONWY_CONCERN}"]
    _, html = await page(ds, "/-/concerns?recurring=1")
    assert len(html.cssselect("tbody tr")) == 2


async def test_feed_as_a_page_and_an_empty_feed_dated_now(ds):
    _, html = await page(ds, f"/-/feed/{slug(GLANMOR)}")
    assert [a.get("href") for a in html.cssselect("ul.feed a")] == [f"/-/concern/{WORKFORCE}"]
    assert html.cssselect('a[href^="/scrutiny/concern_feed.atom"]')
    atom = await ds.client.get("/scrutiny/concern_feed.atom?council=Nowhere")
    feed = ElementTree.fromstring(atom.text)
    assert not feed.findall("a:entry", ATOM)
    assert feed.findtext("a:updated", namespaces=ATOM)[:4] >= "2025"  # not 1970
    atom = await ds.client.get("/scrutiny/concern_feed.atom?council=Glanmor")
    alternate = ElementTree.fromstring(atom.text).find("a:link[@rel='alternate']", ATOM).get("href")
    assert urlsplit(alternate).path == "/-/feed/glanmor"


# ---------------------------------------------------------------- statements, sources, compare


async def test_statement_page_and_an_old_id_through_its_alias(ds, site_db):
    s = rows(site_db, "select id, document_id, seq from statements where text like 'Monthly supervision%'")[0]
    _, html = await page(ds, f"/-/statement/{s['id']}")
    hrefs = {a.get("href") for a in html.cssselect("a")}
    assert f"/-/document/{s['document_id']}#s{s['seq']}" in hrefs and f"/-/concern/{RESOLVED}" in hrefs
    old = s["document_id"][:16] + ":1-2"
    con = sqlite3.connect(site_db)
    try:
        # a copy: the shared database stays as it was for the other tests
        copy = site_db.with_name("aliased.db")
        con.execute("VACUUM INTO ?", (str(copy),))
    finally:
        con.close()
    con = sqlite3.connect(copy)
    with con:
        con.execute(
            "INSERT INTO statement_aliases (old_id, new_id, document_id, matched_by, recorded_at) "
            "VALUES (?, ?, ?, 'text', '2026-01-01')",
            (old, s["id"], s["document_id"]),
        )
    con.close()
    aliased = publish.datasette_app(copy)
    _, html = await page(aliased, f"/-/statement/{old}")
    assert "segmented again" in html.text_content()
    assert html.cssselect("blockquote.statement-text")[0].text_content().startswith("Monthly supervision")


async def test_archived_source_is_served_by_its_sha256_read_only(ds, site_db, tmp_path):
    document = rows(site_db, "select id, source_path from documents where format = 'pdf' limit 1")[0]
    _, html = await page(ds, f"/-/document/{document['id']}")
    archived = html.cssselect("a.archived")[0].get("href")
    assert archived.startswith(f"/-/archive/{document['id']}/")
    response = await ds.client.get(archived)
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(response.content).hexdigest() == document["id"]
    assert "immutable" in response.headers["cache-control"]
    assert (await ds.client.post(archived)).status_code in (403, 405)
    assert (await ds.client.get("/-/archive/" + "0" * 64)).status_code == 404
    assert (await ds.client.get("/-/archive/../../etc/passwd")).status_code == 404
    text = rows(site_db, "select id from documents where source_path like '%gazette.txt'")[0]["id"]
    response = await ds.client.get(f"/-/archive/{text}")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")  # never shown as a page of the site
    assert "sandbox" in response.headers["content-security-policy"]
    # from the fetch archive too, and only bytes that still hash to the address
    folder = tmp_path / "archive" / "objects" / "ab"
    folder.mkdir(parents=True)
    body = b"%PDF-1.4 archived bytes"
    sha = hashlib.sha256(body).hexdigest()
    (tmp_path / "archive" / "objects" / sha[:2]).mkdir(parents=True, exist_ok=True)
    (tmp_path / "archive" / "objects" / sha[:2] / f"{sha}.pdf").write_bytes(body)
    fake = "ab" + "0" * 62
    (folder / f"{fake}.pdf").write_bytes(b"not the bytes of that hash")
    archive_ds = publish.datasette_app(site_db, archive=tmp_path / "archive")
    assert (await archive_ds.client.get(f"/-/archive/{sha}")).content == body
    assert (await archive_ds.client.get(f"/-/archive/{fake}")).status_code == 404


async def test_compare_page_sets_councils_side_by_side(ds, site_db):
    _, html = await page(ds, "/-/compare")
    cards = html.cssselect("section.card")
    assert [c.cssselect("h3 a")[0].text for c in cards] == [AFONWY, GLANMOR]
    assert all(c.cssselect("svg.scrutiny-chart") for c in cards)
    table = html.xpath("//h2[.='Concerns by status']/following-sibling::table[1]")[0]
    counts = {
        tr.cssselect("td")[0].text_content(): [td.text_content() for td in tr.cssselect("td")[1:]]
        for tr in table.cssselect("tbody tr")
    }
    assert counts == {AFONWY: ["1", "0", "0", "0"], GLANMOR: ["0", "1", "0", "1"]}
    legend = html.cssselect("p.legend span")
    assert legend and all(
        publish.area_names().get(s.text_content().split()[0], "?") in s.text_content()
        for s in legend
        if s.text_content().strip()
    )


# ---------------------------------------------------------------- review in place


@pytest.fixture
def review_ds(site_db, tmp_path):
    copy = tmp_path / "scrutiny.db"
    con = sqlite3.connect(site_db)
    con.execute("VACUUM INTO ?", (str(copy),))
    con.close()
    return publish.datasette_app(copy, reviews=tmp_path / "scrutiny.reviews.db", review_token="reviewers-secret")


async def _csrf(ds, path="/-/review/login"):
    response = await ds.client.get(path)
    token = re.search(r'name="csrftoken" value="([^"]+)"', response.text).group(1)
    return token, dict(response.cookies)


async def test_anonymous_visitors_cannot_record_a_decision(review_ds, tmp_path):
    token, cookies = await _csrf(review_ds, f"/-/concern/{WORKFORCE}")
    sid = rows(tmp_path / "scrutiny.db", "select statement_id from concern_mentions where concern_id = ?", WORKFORCE)[
        0
    ]["statement_id"]
    form = {"csrftoken": token, "action": "reject", "statement_id": sid, "concern_id": WORKFORCE, "next": "/"}
    refused = await review_ds.client.post("/-/review/link", data=form, cookies=cookies)
    assert refused.status_code == 403 and "Only signed-in reviewers" in refused.text
    wrong = await review_ds.client.post(
        "/-/review/login", data={"csrftoken": token, "name": "x", "token": "guess"}, cookies=cookies
    )
    assert wrong.status_code == 403 and "ds_actor" not in wrong.cookies
    bearer = await review_ds.client.post("/-/review/link", data=form, headers={"authorization": "Bearer guess"})
    assert bearer.status_code == 403
    assert rows(tmp_path / "scrutiny.reviews.db", "select * from link_decisions") == []
    assert (await review_ds.client.get("/reviews/link_decisions")).status_code == 403  # not even to read


async def test_a_signed_in_reviewer_records_decisions_in_the_reviews_database(review_ds, tmp_path):
    token, cookies = await _csrf(review_ds)
    signed = await review_ds.client.post(
        "/-/review/login",
        data={
            "csrftoken": token,
            "name": "Ann Reviewer",
            "token": "reviewers-secret",
            "next": f"/-/concern/{WORKFORCE}",
        },
        cookies=cookies,
    )
    assert signed.status_code == 302 and signed.headers["location"] == f"/-/concern/{WORKFORCE}"
    cookies = {**cookies, "ds_actor": signed.cookies["ds_actor"]}
    sid = rows(
        tmp_path / "scrutiny.db",
        "select statement_id from concern_mentions where concern_id = ? and role = 'discussed'",
        WORKFORCE,
    )[0]["statement_id"]
    recorded = await review_ds.client.post(
        "/-/review/link",
        cookies=cookies,
        data={
            "csrftoken": token,
            "action": "reject",
            "statement_id": sid,
            "concern_id": WORKFORCE,
            "note": "only a mention",
            "next": f"/-/concern/{WORKFORCE}",
        },
    )
    assert recorded.status_code == 302
    moved = await review_ds.client.post(
        "/-/review/link",
        cookies=cookies,
        data={"csrftoken": token, "action": "move", "statement_id": sid, "concern_id": WORKFORCE, "target": RESOLVED},
    )
    assert moved.status_code == 302
    label = await review_ds.client.post(
        "/-/review/label", cookies=cookies, data={"csrftoken": token, "statement_id": sid, "area_A": "1", "area_C": "1"}
    )
    assert label.status_code == 302
    stored = rows(
        tmp_path / "scrutiny.reviews.db",
        "select action, statement_id, concern_id, note, reviewer from link_decisions order by id",
    )
    assert stored == [
        {
            "action": "reject",
            "statement_id": sid,
            "concern_id": WORKFORCE,
            "note": "only a mention",
            "reviewer": "Ann Reviewer",
        },
        {"action": "confirm", "statement_id": sid, "concern_id": RESOLVED, "note": None, "reviewer": "Ann Reviewer"},
    ]
    assert rows(tmp_path / "scrutiny.reviews.db", "select labels from label_decisions") == [{"labels": "A;C"}]
    signed_in = await review_ds.client.get(f"/-/concern/{WORKFORCE}", cookies=cookies)  # a reviewer sees what waits
    assert "Decisions waiting for the next run" in signed_in.text and "only a mention" in signed_in.text
    for path in (f"/-/concern/{WORKFORCE}", f"/-/statement/{sid}"):  # anonymous visitors see no reviewer's decision
        anonymous = await review_ds.client.get(path)
        assert anonymous.status_code == 200
        assert "Decisions waiting" not in anonymous.text and "only a mention" not in anonymous.text
        assert "Ann Reviewer" not in anonymous.text
    # the published database did not change
    assert len(rows(tmp_path / "scrutiny.db", "select * from link_reviews")) == 0
    # a script with the token may record too (no cookie, so no CSRF token needed)
    api = await review_ds.client.post(
        "/-/review/link",
        data={"action": "confirm", "statement_id": sid, "concern_id": WORKFORCE},
        headers={"authorization": "Bearer reviewers-secret", "accept": "application/json"},
    )
    assert api.status_code == 200 and api.json()["ok"]
