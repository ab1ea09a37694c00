"""The search page: all the words first, then some of them, ranked below and said so; exports with the full
text. The query language is pipeline/publish/search.py's (registered on every connection as SQL functions)."""

from __future__ import annotations

import csv
import io
from typing import Any

from datasette.database import QueryInterrupted
from datasette.utils.asgi import Response

from pipeline.publish.site.common import (
    allowed,
    area_names,
    bounded_int,
    document_source,
    fetch_rows,
    json_list,
    links_for,
    marked,
    render,
    scrutiny_database,
    slug,
)

SEARCH_PAGE = 20  # hits per page
SEARCH_RANKED = 200  # the newest matches ranked by score (pipeline/publish/search.py BOUND); older ones follow
SEARCH_CAP = 1000  # matches counted, paged and exported at most: the cost of a search stays bounded
EXAMPLE_SEARCHES = (
    "agency staff",
    "supervision caseloads",
    "care and support plans",
    "safeguarding",
    "recommendations",
    "social workers",
)


async def example_search(db) -> dict[str, Any] | None:
    """The first of the example searches that finds something here, with how many statements it finds."""
    for q in EXAMPLE_SEARCHES:
        try:
            n = await search_count(db, q, "all")
        except QueryInterrupted:
            return None
        if n:
            return {"q": q, "count": n}
    return None


# ---------------------------------------------------------------- search


def _search_sql(which: str, ranked: bool, marked: bool = True) -> str:
    expr = "scrutiny_fts(:q)" if which == "all" else "scrutiny_fts_some(:q)"
    score = "scrutiny_score(x.text, :q)" if ranked else "0.0"
    order = "score DESC, x.rowid DESC" if ranked else "x.rowid DESC"
    return f"""
WITH hits AS (
  SELECT rowid FROM statements_fts WHERE statements_fts MATCH {expr} ORDER BY rowid DESC LIMIT :window
), ranked AS (
  SELECT x.rowid AS rid, {score} AS score FROM hits JOIN statements x ON x.rowid = hits.rowid
  ORDER BY {order} LIMIT :limit OFFSET :offset
)
SELECT t.id, t.document_id, t.seq, t.page, t.text, {"scrutiny_snippet(t.text, :q, 100000)" if marked else "NULL"} AS marked,
  t.kind,
  t.language, t.speaker, t.heading, d.part_of, d.source_path, d.title, d.local_authority, d.published,
  d.doc_type, d.format, d.source_url,
  (SELECT m.concern_id FROM concern_mentions m WHERE m.statement_id = t.id) AS concern_id,
  (SELECT c.label FROM concern_mentions m JOIN concerns c ON c.concern_id = m.concern_id
     WHERE m.statement_id = t.id) AS concern_label,
  (SELECT p.labels FROM predictions p WHERE p.statement_id = t.id) AS labels,
  ranked.score AS score
FROM ranked JOIN statements t ON t.rowid = ranked.rid JOIN documents d ON d.id = t.document_id
ORDER BY ranked.score DESC, ranked.rid DESC"""


async def search_count(db, q: str, which: str) -> int:
    """Matches of `q` (all words, or `some` of them and not all), counted up to SEARCH_CAP + 1 at most."""
    expr = "scrutiny_fts(:q)" if which == "all" else "scrutiny_fts_some(:q)"
    sql = (
        f"SELECT count(*) AS n FROM (SELECT rowid FROM statements_fts WHERE statements_fts MATCH {expr} "
        f"LIMIT {SEARCH_CAP + 1})"
    )
    return int((await db.execute(sql, {"q": q})).rows[0]["n"])


async def search_hits(db, q: str, which: str, offset: int, limit: int, marked: bool = True) -> list[dict[str, Any]]:
    """Hits `offset` to `offset + limit` of the search: the newest SEARCH_RANKED matches ranked by score, then
    older matches newest first."""
    out: list[dict[str, Any]] = []
    if offset < SEARCH_RANKED:
        take = min(limit, SEARCH_RANKED - offset)
        out += await fetch_rows(
            db, _search_sql(which, True, marked), {"q": q, "window": SEARCH_RANKED, "limit": take, "offset": offset}
        )
        offset, limit = offset + take, limit - take
    if limit > 0 and offset < SEARCH_CAP:
        out += await fetch_rows(
            db,
            _search_sql(which, False, marked),
            {"q": q, "window": min(offset + limit, SEARCH_CAP), "limit": limit, "offset": offset},
        )
    for r in out:
        r["labels"] = json_list(r["labels"])
        r["match"] = which
    return out


async def query_shape(db, q: str) -> dict[str, Any]:
    """Whether the query has anything to search for, whether "some of the words" differs from "all", and how
    many statements have all of them (up to SEARCH_CAP + 1): one query."""
    sql = (
        "SELECT scrutiny_fts(:q) AS all_expr, scrutiny_fts_some(:q) AS some_expr, (SELECT count(*) FROM (SELECT "
        f"rowid FROM statements_fts WHERE statements_fts MATCH scrutiny_fts(:q) LIMIT {SEARCH_CAP + 1})) AS n"
    )
    row = (await db.execute(sql, {"q": q})).rows[0]
    return {"empty": row["all_expr"] == '""', "has_some": row["some_expr"] not in (None, '""'), "all_total": row["n"]}


async def run_search(db, q: str, which: str, page: int) -> dict[str, Any]:
    """Everything the search page shows: the hits with all the words, and (when they are few, or asked for)
    those with some of the words, ranked below and said so."""
    q = (q or "").strip()
    result: dict[str, Any] = {
        "q": q,
        "which": which,
        "page": page,
        "hits": [],
        "total": 0,
        "some": [],
        "some_total": 0,
        "pages": 0,
        "empty": True,
        "has_some": False,
    }
    if not q:
        return result
    result.update(await query_shape(db, q))
    if result["empty"]:
        return result
    if which == "some" and not result["has_some"]:
        which = result["which"] = "all"
    total = result.pop("all_total") if which == "all" else await search_count(db, q, which)
    pages = max(1, -(-min(total, SEARCH_CAP) // SEARCH_PAGE))
    page = result["page"] = min(page, pages)
    result["hits"] = await search_hits(db, q, which, (page - 1) * SEARCH_PAGE, SEARCH_PAGE)
    result.update(total=total, pages=pages, capped=total > SEARCH_CAP)
    if which == "all" and page == 1 and total < SEARCH_PAGE and result["has_some"]:
        result["some_total"] = await search_count(db, q, "some")
        result["some"] = await search_hits(db, q, "some", 0, SEARCH_PAGE - total if total else SEARCH_PAGE)
    return result


EXPORT_COLUMNS = (
    "match",
    "rank",
    "statement_id",
    "text",
    "document_id",
    "seq",
    "page",
    "kind",
    "language",
    "speaker",
    "heading",
    "local_authority",
    "doc_type",
    "title",
    "published",
    "concern_id",
    "concern",
    "labels",
    "statement_url",
    "document_url",
    "source_url",
    "archived_url",
)


def _export_row(r: dict[str, Any], rank: int, links: dict[str, Any], base: str) -> dict[str, Any]:
    src = document_source(links, {**r, "id": r["document_id"]}, r["page"])
    return {
        "match": r["match"],
        "rank": rank,
        "statement_id": r["id"],
        "text": r["text"],
        "document_id": r["document_id"],
        "seq": r["seq"],
        "page": r["page"],
        "kind": r["kind"],
        "language": r["language"],
        "speaker": r["speaker"],
        "heading": r["heading"],
        "local_authority": r["local_authority"],
        "doc_type": r["doc_type"],
        "title": r["title"],
        "published": r["published"],
        "concern_id": r["concern_id"],
        "concern": r["concern_label"],
        "labels": ";".join(r["labels"]),
        "statement_url": base + links["statement"](r["id"]),
        "document_url": base + links["document"](r["document_id"], r["seq"]),
        "source_url": src["original"],
        "archived_url": base + src["archived"] if src["archived"] else None,
    }


async def search_page(datasette, request):
    db = await scrutiny_database(datasette)
    await allowed(datasette, request, db, ("statements", "documents"))
    fmt = request.url_vars.get("format")
    q = request.args.get("q") or ""
    which = "some" if request.args.get("match") == "some" else "all"
    links = links_for(datasette, db.name)
    if fmt:
        return await search_export(datasette, request, db, q, which, fmt, links)
    page = bounded_int(request.args.get("page"), 1, 1, SEARCH_CAP // SEARCH_PAGE)
    try:
        result = await run_search(db, q, which, page)
        error = None
    except QueryInterrupted:
        result, error = await run_search(db, "", which, 1), "The search took too long; try fewer or rarer words."
    for r in result["hits"] + result["some"]:
        r["marked"] = marked(r["marked"])
        r["source"] = document_source(links, {**r, "id": r["document_id"]}, r["page"])
    return await render(
        datasette,
        request,
        "scrutiny_search.html",
        {
            "result": result,
            "error": error,
            "area_names": area_names(datasette),
            "database": db.name,
            "page_size": SEARCH_PAGE,
            "ranked": SEARCH_RANKED,
            "cap": SEARCH_CAP,
            "example": None if q else await example_search(db),
        },
    )


async def search_export(datasette, request, db, q: str, which: str, fmt: str, links: dict[str, Any]) -> Response:
    """CSV or JSON of a search: every match up to SEARCH_CAP, with the statement's full text (no marks)."""
    base = f"{request.scheme}://{request.host}"
    rows: list[dict[str, Any]] = []
    if q.strip():
        shape = await query_shape(db, q)
        if not shape["empty"]:
            hits = await search_hits(db, q, which if shape["has_some"] else "all", 0, SEARCH_CAP, marked=False)
            if which == "all" and request.args.get("some") == "1" and shape["has_some"]:
                hits += await search_hits(db, q, "some", 0, SEARCH_CAP - len(hits), marked=False)
            rows = [_export_row(r, i + 1, links, base) for i, r in enumerate(hits)]
    if fmt == "json":
        return Response.json(
            {
                "q": q,
                "match": which,
                "rows": rows,
                "count": len(rows),
                "note": f"at most {SEARCH_CAP} matches: the newest {SEARCH_RANKED} ranked, then newest first",
            },
            default=str,
        )
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    name = slug(q)[:60] or "search"
    return Response(
        buffer.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="scrutiny-{name}.csv"'},
    )
