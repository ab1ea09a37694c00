"""Bounded full-text search: query parsing, ranking, snippets, and the canned queries through Datasette."""

from __future__ import annotations

import sqlite3

import pytest
from store.test_store import a_document

from pipeline import publish, store
from pipeline.publish import search

pytestmark = pytest.mark.anyio


def test_query_terms_are_quoted_so_no_fts_syntax_gets_through():
    assert search.fts_query("children") == '"children"'
    assert (
        search.fts_query('care OR NEAR(x y) "direct payments"') == '"direct payments" "care" "NEAR" "x"'
    )  # or, y: stop words
    assert search.fts_query("safeg*") == '"safeg"*'
    assert search.fts_query("") == '""'
    assert search.fts_query('a "quote" that " never closes') == '"quote" "never" "closes"'


def test_stop_words_are_dropped_unless_quoted_or_alone():
    assert search.fts_query("care and support plans") == '"care" "support" "plans"'
    assert search.fts_query('"care and support"') == '"care and support"'
    assert search.fts_query("the and") == '"the" "and"'


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
    assert 'action="/scrutiny/search_statements"' in index.text and 'name="q"' in index.text
    page = await ds.client.get("/scrutiny/search_statements?q=supervision")
    assert "<mark>Supervision</mark> of social workers" in page.text
