"""Datasette over the database, through its in-process client."""

from __future__ import annotations

import pytest
from store.test_store import a_document

from pipeline import publish, store

pytestmark = pytest.mark.anyio


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "scrutiny.db"
    db = store.open_db(path)
    store.start_run(db, "r1", 1, "t")
    doc, statements = a_document(
        text_blocks=(
            "Ensure the recommendations of the inspection are tracked by the improvement board.",
            "Recruitment of foster carers has improved since the last inspection.",
            "<script>alert('x')</script> appeared in a pasted page.",
        )
    )
    store.save_document(
        db, doc, statements, run_id="r1", source={"source_path": "x.txt", "sha256": doc.id}, versions={}
    )
    db.close()
    return path


async def test_search_returns_statements(db_path):
    ds = publish.datasette_app(db_path)
    response = await ds.client.get("/scrutiny/statements.json?_search=recommendations&_shape=objects")
    assert response.status_code == 200
    rows = response.json()["rows"]
    assert [r["text"][:20] for r in rows] == ["Ensure the recommend"]


async def test_metadata_describes_every_table_and_column(db_path):
    ds = publish.datasette_app(db_path)
    meta = (await ds.client.get("/-/metadata.json")).json()
    assert meta["license"] == "Open Government Licence v3.0" and meta["source"]
    tables = meta["databases"]["scrutiny"]["tables"]
    for table in store.SCHEMA:
        assert tables[table.name]["description"] == table.description
        assert set(tables[table.name]["columns"]) == {c.name for c in table.columns}
    page = await ds.client.get("/scrutiny/statements")
    assert "One row per statement" in page.text


async def test_database_is_served_read_only(db_path):
    ds = publish.datasette_app(db_path)
    assert ds.databases["scrutiny"].is_mutable is False
    response = await ds.client.get("/scrutiny.json?sql=DELETE+FROM+statements")
    assert response.status_code == 400
    count = (await ds.client.get("/scrutiny.json?sql=select+count(*)+as+n+from+statements&_shape=array")).json()
    assert count == [{"n": 3}]


async def test_document_text_is_escaped(db_path):
    ds = publish.datasette_app(db_path)
    page = await ds.client.get("/scrutiny/statements")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;" in page.text


@pytest.mark.parametrize(
    "sql",
    [
        "select hex(fts3_tokenizer('simple'))",
        "select load_extension('/tmp/evil.so')",
        "attach database '/tmp/other.db' as other",
        "pragma writable_schema = 1",
        "select * from pragma_writable_schema()",
    ],
)
async def test_dangerous_sql_is_refused_over_http(db_path, sql):
    ds = publish.datasette_app(db_path)
    response = await ds.client.get("/scrutiny.json", params={"sql": sql})
    assert response.status_code in (400, 403)
    body = response.text.lower()
    assert any(reason in body for reason in ("not authorized", "must be a select", "disallowed pragma"))


@pytest.mark.parametrize(
    "sql",
    [
        "select fts3_tokenizer('simple')",
        "select load_extension('/tmp/evil.so')",
        "attach database ':memory:' as other",
        "pragma writable_schema = 1",
    ],
)
def test_authorizer_refuses_even_what_datasette_lets_through(db_path, sql):
    import sqlite3

    from pipeline.publish.plugin import prepare_connection

    conn = sqlite3.connect(db_path)
    prepare_connection(conn)
    with pytest.raises(sqlite3.DatabaseError, match="not authorized|no such function"):
        conn.execute(sql)
    assert conn.execute("select count(*) from statements").fetchone()[0] == 3


async def test_ordinary_sql_and_pragmas_still_work(db_path):
    ds = publish.datasette_app(db_path)
    ok = await ds.client.get(
        "/scrutiny.json", params={"sql": "select count(*) as n from pragma_table_info('statements')", "_shape": "array"}
    )
    assert ok.status_code == 200 and ok.json()[0]["n"] > 5


async def test_public_mode_switches_off_arbitrary_sql_but_keeps_canned_queries(db_path):
    from pipeline.store import open_db

    ds = publish.datasette_app(db_path, public=True)
    assert (await ds.client.get("/scrutiny.json", params={"sql": "select 1"})).status_code == 403
    doc_id = next(open_db(db_path)["documents"].rows)["id"]
    canned = await ds.client.get(
        "/scrutiny/document_statements.json", params={"document_id": doc_id, "_shape": "array"}
    )
    assert canned.status_code == 200
    assert [r["seq"] for r in canned.json()] == [0, 1, 2]


@pytest.fixture
def concern_db(db_path):
    from pipeline import recur

    db = store.open_db(db_path)
    rows = list(db.query("select id, document_id, text from statements order by seq"))
    mentions = [
        recur.Mention(
            r["id"],
            "glanmor-test-1",
            role,
            0.8 if i else None,
            date,
            r["document_id"],
            "inspection_report",
            None,
            "Glanmor County Council",
            "children",
            r["text"],
        )
        for i, (r, role, date) in enumerate(zip(rows[:2], ("raised", "repeated"), ("2017-10-12", "2018-11-08")))
    ]
    concern = recur.Concern(
        "glanmor-test-1",
        "Glanmor County Council",
        "children",
        ("C",),
        "2017-10-12",
        "2018-11-08",
        2,
        "repeated",
        "<script>alert(1)</script> foster carers",
        tuple(mentions),
    )
    store.save_recurrence(db, mentions, [concern])
    db.close()
    return db_path


async def test_concern_timeline_and_council_queries(concern_db):
    ds = publish.datasette_app(concern_db)
    recurring = (
        await ds.client.get("/scrutiny/recurring_concerns.json", params={"council": "Glanmor", "_shape": "array"})
    ).json()
    assert [c["concern_id"] for c in recurring] == ["glanmor-test-1"]
    timeline = (
        await ds.client.get(
            "/scrutiny/concern_timeline.json", params={"concern_id": "glanmor-test-1", "_shape": "array"}
        )
    ).json()
    assert [(m["date"], m["role"]) for m in timeline] == [("2017-10-12", "raised"), ("2018-11-08", "repeated")]
    page = await ds.client.get("/scrutiny/recurring_concerns", params={"council": "Glanmor"})
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text


async def test_atom_feed_of_new_and_repeated_concerns(concern_db):
    from xml.etree import ElementTree

    ds = publish.datasette_app(concern_db)
    response = await ds.client.get("/scrutiny/concern_feed.atom", params={"council": "Glanmor"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/atom+xml")
    feed = ElementTree.fromstring(response.text)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in feed.findall("a:entry", ns)]
    assert titles == ["Glanmor County Council: repeated concern: <script>alert(1)</script> foster carers"]
    assert feed.find("a:entry/a:updated", ns).text == "2018-11-08T00:00:00Z"


async def test_a_server_follows_an_atomic_swap_of_its_file(tmp_path):
    """`scrutiny serve` keeps serving while a new snapshot is renamed over its file, and shows the new data
    from the next request on, without a restart."""
    import httpx

    from pipeline.publish import swap

    work = tmp_path / "work.db"
    db = store.open_db(work)
    store.start_run(db, "r1", 1, "t")
    doc, statements = a_document("a" * 64, ("Members noted the first report.",))
    store.save_document(
        db, doc, statements, run_id="r1", source={"source_path": "a.txt", "sha256": doc.id}, versions={}
    )
    served = tmp_path / "scrutiny.db"
    swap.publish(work, served)
    ds = publish.datasette_app(served)
    app = publish.FollowSwaps(ds.app(), ds, served, check_every=0.0, close_after=0.1)
    count_sql = "/scrutiny.json?sql=select+count(*)+as+n+from+documents&_shape=array"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
        assert (await client.get(count_sql)).json() == [{"n": 1}]
        doc, statements = a_document("b" * 64, ("Members noted the second report.",))
        store.save_document(
            db, doc, statements, run_id="r1", source={"source_path": "b.txt", "sha256": doc.id}, versions={}
        )
        assert (await client.get(count_sql)).json() == [{"n": 1}]  # the working file is not what is served
        swap.publish(work, served)
        assert (await client.get(count_sql)).json() == [{"n": 2}]
        page = await client.get("/scrutiny/statements?_search=second")
        assert page.status_code == 200 and "second report" in page.text
        doc, statements = a_document("c" * 64, ("Members noted the third report.",))
        store.save_document(
            db, doc, statements, run_id="r1", source={"source_path": "c.txt", "sha256": doc.id}, versions={}
        )
        swap.publish(work, served)
        assert (await client.get(count_sql)).json() == [{"n": 3}]
    assert app.swaps == 2
    db.close()
