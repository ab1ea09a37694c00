"""Bounded full-text search: query parsing, ranking, snippets, and the canned queries through Datasette."""

from __future__ import annotations

import csv
import io
import sqlite3
from urllib.parse import urlencode

import pytest
from store.test_store import a_document

from pipeline import publish, store
from pipeline.publish import search

pytestmark = pytest.mark.anyio


def test_query_terms_are_quoted_so_no_fts_syntax_gets_through():
    assert search.fts_query("children") == '"children"'
    # OR is an operator between quoted terms; NEAR( and the like stay words; y is dropped (a stop word)
    assert search.fts_query('care OR NEAR(x y) "direct payments"') == '("care" OR "NEAR") AND "x" AND "direct payments"'
    assert search.fts_query("safeg*") == '"safeg"*'
    assert search.fts_query("") == '""'
    assert search.fts_query('a "quote" that " never closes') == '"quote" AND "never closes"'


def test_stop_words_are_dropped_unless_quoted_or_alone():
    assert search.fts_query("care and support plans") == '"care" AND "support" AND "plans"'
    assert search.fts_query('"care and support"') == '"care and support"'
    assert search.fts_query("the and") == '"the" AND "and"'


def test_every_built_query_is_valid_fts5():
    con = sqlite3.connect(":memory:")
    con.execute("CREATE VIRTUAL TABLE t USING fts5(text, tokenize='porter')")
    con.execute("INSERT INTO t VALUES ('Direct payments were reviewed; care and support plans too.')")
    for q in ['"', "((", "NEAR(", "x:y", "*", "a-b", "O'Brien", "ŵyr ŷd", "care* payments", ":q", "'; DROP"]:
        con.execute("SELECT rowid FROM t WHERE t MATCH ?", (search.fts_query(q),)).fetchall()
    hits = con.execute("SELECT rowid FROM t WHERE t MATCH ?", (search.fts_query("payment"),)).fetchall()
    assert hits == [(1,)]  # the porter index finds "payments" for "payment"


def test_snippet_marks_the_words_found_and_keeps_a_window():
    text = ("The council agreed a new plan. " * 10) + "Direct payments were slow to start for carers. " + "x " * 200
    s = search.snippet(text, "direct payment")
    assert "\u27e6Direct\u27e7 \u27e6payments\u27e7" in s
    assert s.startswith("\u2026") and s.endswith("\u2026") and len(s) <= 230
    assert search.snippet("No match here.", "reablement") == "No match here."


def test_score_prefers_more_terms_then_closer_terms_then_shorter():
    q = "supervision caseloads"
    both_close = "Supervision and caseloads were reviewed."
    both_far = "Supervision was reviewed. " + "Other matters were discussed at length. " * 5 + "Caseloads rose."
    one = "Supervision was regular."
    assert search.score(both_close, q) > search.score(both_far, q) > search.score(one, q) > 0
    assert search.score(None, q) == 0.0


@pytest.fixture
def search_db(tmp_path):
    """Statements about supervision in two documents, more matches for "children" than the bound, a
    recommendation, and text that must stay inert when shown."""
    path = tmp_path / "scrutiny.db"
    db = store.open_db(path)
    store.start_run(db, "r1", 1, "t")
    many = tuple(f"Children's case {i} was reviewed." for i in range(search.BOUND + 60))
    doc, statements = a_document("b" * 64, many)
    store.save_document(
        db, doc, statements, run_id="r1", source={"source_path": "b.txt", "sha256": doc.id}, versions={}
    )
    doc, statements = a_document(
        "c" * 64,
        (
            "Supervision of social workers was not regular and caseloads were high.",
            "Members asked how supervision would be recorded.",
            "Caseloads were discussed <img src=x onerror=alert(1)> with supervision.",
        ),
    )
    store.save_document(
        db, doc, statements, run_id="r1", source={"source_path": "c.txt", "sha256": doc.id}, versions={}
    )
    db["recommendations"].insert(
        {
            "statement_id": statements[0].id,
            "document_id": doc.id,
            "local_authority": "Glanmor County Council",
            "service": "children",
            "date": "2018-05-01",
            "doc_type": "inspection_report",
            "role": "raised",
            "raises": 1,
            "concern_id": "k1",
            "text": statements[0].text,
        }
    )
    db.close()
    return path


async def test_canned_search_ranks_and_marks_matches(search_db):
    ds = publish.datasette_app(search_db)
    r = await ds.client.get("/scrutiny/search_statements.json?_shape=array&q=supervision+and+caseloads")
    assert r.status_code == 200
    rows = r.json()
    assert len(rows) == 2  # the statement with only "supervision" is not a match: every word must be present
    assert rows[0]["snippet"].startswith("\u27e6Supervision\u27e7 of social workers")
    assert {row["doc_type"] for row in rows} == {"council_minutes"}


async def test_common_word_search_ranks_only_a_bounded_set_of_newest_matches(search_db):
    ds = publish.datasette_app(search_db)
    rows = (await ds.client.get("/scrutiny/search_statements.json?_shape=array&q=children")).json()
    assert len(rows) == search.PAGE
    cases = {int(r["snippet"].split("case ")[1].split()[0]) for r in rows}
    # only the newest BOUND of the BOUND + 60 matches are ranked: the 60 oldest never appear
    assert min(cases) >= 60


async def test_recommendation_search_and_escaping(search_db):
    ds = publish.datasette_app(search_db)
    rows = (await ds.client.get("/scrutiny/search_recommendations.json?_shape=array&q=caseloads")).json()
    assert [r["concern_id"] for r in rows] == ["k1"]
    page = await ds.client.get("/scrutiny/search_statements?q=onerror")
    assert page.status_code == 200
    assert "<img src=x" not in page.text and "&lt;img src=x <mark>onerror</mark>=alert(1)&gt;" in page.text


async def test_search_with_fts_syntax_is_not_an_error(search_db):
    ds = publish.datasette_app(search_db)
    for q in ['"unclosed', "NEAR(", "a:b", "*"]:
        r = await ds.client.get("/scrutiny/search_statements.json", params={"q": q, "_shape": "array"})
        assert r.status_code == 200, (q, r.text[:200])


async def test_index_has_a_search_form_that_leads_to_the_bounded_search(search_db):
    ds = publish.datasette_app(search_db)
    index = await ds.client.get("/")
    assert 'action="/-/search"' in index.text and 'name="q"' in index.text
    page = await ds.client.get("/-/search?q=supervision")
    assert "<mark>Supervision</mark> of social workers" in page.text
    canned = await ds.client.get("/scrutiny/search_statements?q=supervision")  # the canned search stays
    assert "<mark>Supervision</mark> of social workers" in canned.text


# ---------------------------------------------------------------- the operators people type


def test_or_not_minus_phrase_and_prefix_become_fts5_operators_on_quoted_terms():
    assert search.fts_query("agency staff") == '"agency" AND "staff"'
    assert search.fts_query("agency OR supervision") == '("agency" OR "supervision")'
    assert search.fts_query("agency -staff") == '"agency" NOT "staff"'
    assert search.fts_query('agency NOT "social work"') == '"agency" NOT "social work"'
    assert search.fts_query("children and families OR carers") == '"children" AND ("families" OR "carers")'
    assert search.fts_query("safeg*") == '"safeg"*'
    # lower-case or/not are words (stop words or text), never operators; a dangling operator is dropped
    assert search.fts_query("OR x") == '"x"' and search.fts_query("x OR") == '"x"'
    assert search.fts_query("NOT") == '""' and search.fts_query("-staff") == '""'


def test_some_words_means_at_least_one_and_not_all():
    assert search.fts_some("agency staff") == '("agency" OR "staff") NOT ("agency" AND "staff")'
    assert search.fts_some("agency") is None  # one word: "some" is "all"
    assert search.fts_some("agency OR staff") is None
    con = sqlite3.connect(":memory:")
    con.execute("CREATE VIRTUAL TABLE t USING fts5(text, tokenize='porter')")
    for text in ("agency staff were used", "agency costs rose", "staff morale", "nothing here"):
        con.execute("INSERT INTO t VALUES (?)", (text,))

    def match(expr):
        return [r[0] for r in con.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY rowid", (expr,))]

    assert match(search.fts_query("agency staff")) == [1]
    assert match(search.fts_some("agency staff")) == [2, 3]
    assert match(search.fts_query("agency OR morale")) == [1, 2, 3]
    assert match(search.fts_query("agency -staff")) == [2]
    assert match(search.fts_query('"staff were"')) == [1]
    assert match(search.fts_query("mor*")) == [3]


# ---------------------------------------------------------------- the search page


async def search_page(ds, q, **params):
    import lxml.html

    r = await ds.client.get("/-/search?" + urlencode({"q": q, **params}))
    assert r.status_code == 200, r.text[:300]
    return lxml.html.fromstring(r.text)


async def test_search_page_all_words_first_then_some_words_said_so(search_db):
    ds = publish.datasette_app(search_db)
    html = await search_page(ds, "supervision caseloads")
    sections = [h.text_content() for h in html.cssselect("h2")]
    assert sections[0].startswith("Statements with all the words: 2")
    assert any(s.startswith("Fewer words: statements with some of the words: 1") for s in sections)
    lists = html.cssselect("ol.hits")
    assert len(lists) == 2
    assert "recorded" in lists[1].text_content()  # "Members asked how supervision would be recorded."
    assert "ranked below" in html.text_content()


async def test_search_page_or_and_not(search_db):
    ds = publish.datasette_app(search_db)
    html = await search_page(ds, "recorded OR caseloads")
    assert html.cssselect("h2")[0].text_content().endswith(": 3")
    html = await search_page(ds, "supervision -caseloads")
    texts = [li.cssselect("p.text")[0].text_content() for li in html.cssselect("ol.hits li")]
    assert texts == ["Members asked how supervision would be recorded."]


async def test_search_page_has_a_total_and_further_pages(search_db):
    ds = publish.datasette_app(search_db)
    html = await search_page(ds, "children")
    assert html.cssselect("h2")[0].text_content().endswith(f": {search.BOUND + 60}")
    assert "Page 1 of 13" in html.cssselect("nav.pager")[0].text_content()
    first = {li.cssselect("p.text")[0].text_content() for li in html.cssselect("ol.hits li")}
    last = await search_page(ds, "children", page=13)
    texts = [li.cssselect("p.text")[0].text_content() for li in last.cssselect("ol.hits li")]
    assert len(texts) == 20 and not first & set(texts)
    assert not last.cssselect("a[rel=next]") and html.cssselect("a[rel=next]")
    # beyond the ranked matches, older ones follow newest first: the last page holds the oldest
    assert "Children's case 0 was reviewed." in texts


async def test_every_hit_links_to_its_statement_document_concern_and_source(site_db):
    from site_builder import WORKFORCE

    ds = publish.datasette_app(site_db)
    html = await search_page(ds, "agency social workers")
    hit = next(li for li in html.cssselect("ol.hits li") if "still relies on agency" in li.text_content())
    hrefs = {a.get("href") for a in hit.cssselect("a")}
    assert f"/-/concern/{WORKFORCE}" in hrefs
    document = next(h for h in hrefs if h.startswith("/-/document/") and "#s" in h)
    statement = next(h for h in hrefs if h.startswith("/-/statement/"))
    assert (await ds.client.get(document.split("#")[0])).status_code == 200
    assert (await ds.client.get(statement)).status_code == 200
    source = next(h for h in hrefs if h.startswith("https://example.org/reports/"))
    assert source.endswith(".pdf#page=2")


async def test_search_exports_carry_the_full_text_without_marks(search_db):
    ds = publish.datasette_app(search_db)
    r = await ds.client.get("/-/search.csv?q=supervision+caseloads")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["text"] for row in rows][0] == "Supervision of social workers was not regular and caseloads were high."
    assert all("\u27e6" not in row["text"] for row in rows) and len(rows) == 2
    assert all(row["statement_url"].startswith("http") and "/-/statement/" in row["statement_url"] for row in rows)
    body = (await ds.client.get("/-/search.json?q=supervision+caseloads&some=1")).json()
    assert [r["match"] for r in body["rows"]] == ["all", "all", "some"]
    assert body["rows"][2]["text"] == "Members asked how supervision would be recorded."
    big = (await ds.client.get("/-/search.json?q=children")).json()
    assert big["count"] == search.BOUND + 60  # every match, not a page


async def test_search_page_shows_text_inert(search_db):
    ds = publish.datasette_app(search_db)
    r = await ds.client.get("/-/search?q=caseloads")
    assert "<img src=x" not in r.text and "&lt;img src=x onerror=alert(1)&gt;" in r.text
