"""The pages of one thing: home, councils, a council, a concern, a document, a statement."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from datasette.database import QueryInterrupted
from datasette.utils.asgi import NotFound, Response

from pipeline.publish.site.common import (
    COUNCIL_CONCERNS_SQL,
    COUNCIL_DOCUMENTS_SQL,
    DOCUMENT_COLUMNS,
    DOCUMENT_CONCERNS_SQL,
    DOCUMENT_LIMIT,
    DOCUMENT_STATEMENTS_SQL,
    ROLE_ORDER,
    TIMELINE_SQL,
    allowed,
    area_details,
    area_names,
    council_chart,
    councils,
    document_source,
    fetch_rows,
    find_council,
    is_reviewer,
    json_list,
    links_for,
    plugin_config,
    render,
    reviews_database,
    scrutiny_database,
)
from pipeline.publish.site.search_page import (
    example_search,
)

# ---------------------------------------------------------------- views


async def home_context(datasette, request) -> dict[str, Any]:
    """What the home page shows: what Scrutiny is, the areas, coverage, starting points."""
    try:
        db = await scrutiny_database(datasette)
    except NotFound:
        return {}
    actor = request.actor if request else None
    if not await datasette.permission_allowed(actor, "view-database", db.name, default=True):
        return {}
    coverage = (
        await fetch_rows(
            db,
            """SELECT count(*) AS documents, count(DISTINCT nullif(local_authority, ''))
        AS councils, min(year) AS first_year, max(year) AS last_year, sum(statement_count) AS statements
        FROM documents""",
        )
    )[0]
    by_type = await fetch_rows(db, "SELECT doc_type, count(*) AS n FROM documents GROUP BY doc_type ORDER BY n DESC")
    by_language = await fetch_rows(
        db, "SELECT language, count(*) AS n FROM documents GROUP BY language ORDER BY n DESC"
    )
    every = await councils(db)
    fictional = set(plugin_config(datasette).get("fictional_councils") or [])
    concerns = (await fetch_rows(db, "SELECT count(*) AS n, sum(status != 'resolved') AS open FROM concerns"))[0]
    return {
        "scrutiny_home": {
            "coverage": coverage,
            "by_type": by_type,
            "by_language": by_language,
            "councils": every,
            "concerns": concerns,
            "areas": area_details(datasette),
            "example": await example_search(db),
            "fictional": sorted(c["name"] for c in every if c["name"] in fictional),
            "queries": [
                {"name": k, "title": v.get("title") or k}
                for k, v in (datasette.metadata("queries", database=db.name) or {}).items()
                if isinstance(v, dict) and not k.startswith("search_")
            ],
        },
        "scrutiny_links": links_for(datasette, db.name),
        "scrutiny_database": db.name,
    }


async def councils_page(datasette, request):
    db = await scrutiny_database(datasette)
    await allowed(datasette, request, db, ("documents", "concerns"))
    return await render(
        datasette, request, "scrutiny_councils.html", {"councils": await councils(db), "database": db.name}
    )


async def council_page(datasette, request):
    db = await scrutiny_database(datasette)
    await allowed(datasette, request, db, ("documents", "statements", "predictions", "concerns"))
    wanted = request.url_vars["slug"]
    council, every = await find_council(db, wanted)
    if council is None:
        return await render(
            datasette,
            request,
            "scrutiny_not_found.html",
            {"what": "council", "wanted": unquote(wanted), "councils": every, "database": db.name},
            status=404,
        )
    if council["slug"] != wanted:
        return Response.redirect(links_for(datasette, db.name)["council"](council["name"]))
    name, names = council["name"], area_names(datasette)
    concerns = [
        {**c, "areas": json_list(c["areas"])} for c in await fetch_rows(db, COUNCIL_CONCERNS_SQL, {"council": name})
    ]
    documents = await fetch_rows(db, COUNCIL_DOCUMENTS_SQL, {"council": name})
    latest = next((d for d in documents if d["doc_type"] == "inspection_report"), None)
    latest_concerns = (await fetch_rows(db, DOCUMENT_CONCERNS_SQL, {"document_id": latest["id"]})) if latest else []
    return await render(
        datasette,
        request,
        "scrutiny_council.html",
        {
            "council": council,
            "chart": await council_chart(db, name, names),
            "area_names": names,
            "open_concerns": [c for c in concerns if c["status"] != "resolved"],
            "resolved_concerns": [c for c in concerns if c["status"] == "resolved"],
            "documents": documents,
            "latest": latest,
            "latest_concerns": latest_concerns,
            "database": db.name,
        },
    )


async def pending_decisions(
    datasette, actor, *, statement_ids=(), concern_id: str | None = None
) -> list[dict[str, Any]]:
    """Decisions recorded on the site that the next `scrutiny review-links`, `scrutiny label` or ingest has not
    read yet (or read and refused), about these statements or this concern. Reviewers only: the decisions name
    their reviewers and carry their notes, and the reviews database is theirs alone, even to read."""
    reviews = reviews_database(datasette)
    if reviews is None or not await is_reviewer(datasette, actor):
        return []
    ids = list(statement_ids)
    marks = ", ".join(f":s{i}" for i in range(len(ids))) or "NULL"
    params = {f"s{i}": s for i, s in enumerate(ids)}
    params["concern"] = concern_id
    sql = f"""SELECT 'link' AS kind, id, action, statement_id, concern_id, other, NULL AS labels, note, reviewer, at,
        imported_at, status, error FROM link_decisions
        WHERE (statement_id IN ({marks}) OR concern_id = :concern OR other = :concern)
          AND (imported_at IS NULL OR status = 'failed')
        UNION ALL
        SELECT 'label', id, 'relabel', statement_id, NULL, NULL, labels, note, reviewer, at, imported_at, status, error
        FROM label_decisions WHERE statement_id IN ({marks}) AND (imported_at IS NULL OR status = 'failed')
        ORDER BY at, id"""
    try:
        return await fetch_rows(reviews, sql, params)
    except Exception:  # a reviews file without our tables: nothing pending to show
        return []


async def concern_choices(db, council: str | None, exclude: str | None = None) -> list[dict[str, Any]]:
    """Other concerns of the council, for a 'move to' menu."""
    return await fetch_rows(
        db,
        """SELECT concern_id, label, status FROM concerns WHERE local_authority = :council
        AND concern_id != coalesce(:exclude, '') ORDER BY label LIMIT 200""",
        {"council": council, "exclude": exclude},
    )


async def concern_page(datasette, request):
    db = await scrutiny_database(datasette)
    await allowed(datasette, request, db, ("concerns", "concern_mentions", "statements", "documents"))
    concern_id = request.url_vars["concern_id"]
    found = await fetch_rows(db, "SELECT * FROM concerns WHERE concern_id = :id", {"id": concern_id})
    if not found:
        return await render(
            datasette,
            request,
            "scrutiny_not_found.html",
            {"what": "concern", "wanted": concern_id, "database": db.name},
            status=404,
        )
    concern = {**found[0], "areas": json_list(found[0]["areas"])}
    links = links_for(datasette, db.name)
    mentions = await fetch_rows(db, TIMELINE_SQL, {"concern_id": concern_id})
    for m in mentions:
        m["source"] = document_source(links, m, m["page"])
    roles = {role: sum(1 for m in mentions if m["role"] == role) for role in ROLE_ORDER}
    similar = await similar_concerns(db, concern)
    return await render(
        datasette,
        request,
        "scrutiny_concern.html",
        {
            "concern": concern,
            "mentions": mentions,
            "roles": roles,
            "area_names": area_names(datasette),
            "similar": similar,
            "choices": await concern_choices(db, concern["local_authority"], concern_id),
            "pending": await pending_decisions(
                datasette, request.actor, statement_ids=[m["statement_id"] for m in mentions], concern_id=concern_id
            ),
            "next": request.path,
            "database": db.name,
        },
    )


async def similar_concerns(db, concern: dict[str, Any], limit: int = 5) -> list[dict[str, Any]]:
    """Concerns of other councils worded like this one (some of the label's words, ranked by how many): the
    same issue elsewhere. Bounded: the newest SEARCH_RANKED matches are ranked."""
    try:
        return await fetch_rows(
            db,
            """WITH hits AS (
              SELECT rowid FROM concerns_fts WHERE concerns_fts MATCH scrutiny_fts_any(:label)
              ORDER BY rowid DESC LIMIT 200)
            SELECT c.concern_id, c.label, c.local_authority, c.status, c.inspections,
              scrutiny_score(c.label, :label) AS score
            FROM hits JOIN concerns c ON c.rowid = hits.rowid
            WHERE c.local_authority != :council ORDER BY score DESC, c.inspections DESC LIMIT :limit""",
            {"label": concern["label"] or "", "council": concern["local_authority"] or "", "limit": limit},
        )
    except QueryInterrupted:
        return []


async def document_page(datasette, request):
    db = await scrutiny_database(datasette)
    await allowed(datasette, request, db, ("documents", "statements", "predictions", "concern_mentions"))
    document_id = request.url_vars["document_id"]
    found = await fetch_rows(db, f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = :id", {"id": document_id})
    if not found:
        return await render(
            datasette,
            request,
            "scrutiny_not_found.html",
            {"what": "document", "wanted": document_id, "database": db.name},
            status=404,
        )
    document = found[0]
    links = links_for(datasette, db.name)
    statements = await fetch_rows(
        db, DOCUMENT_STATEMENTS_SQL, {"document_id": document_id, "limit": DOCUMENT_LIMIT + 1}
    )
    for s in statements:
        s["labels"] = json_list(s["labels"])
        s["source"] = document_source(links, document, s["page"])
    pair = await fetch_rows(
        db,
        """SELECT english_id AS id, 'en' AS language FROM document_pairs WHERE welsh_id = :id
        UNION ALL SELECT welsh_id, 'cy' FROM document_pairs WHERE english_id = :id LIMIT 1""",
        {"id": document_id},
    )
    return await render(
        datasette,
        request,
        "scrutiny_document.html",
        {
            "document": document,
            "statements": statements[:DOCUMENT_LIMIT],
            "cut": len(statements) > DOCUMENT_LIMIT,
            "source": document_source(links, document),
            "pair": pair[0] if pair else None,
            "concerns": await fetch_rows(db, DOCUMENT_CONCERNS_SQL, {"document_id": document_id}),
            "area_names": area_names(datasette),
            "next": request.path,
            "database": db.name,
        },
    )


async def statement_page(datasette, request):
    """One statement, with its document, concern and source, and the review forms. An id that a new
    segmentation replaced still works: it is read through statement_aliases."""
    db = await scrutiny_database(datasette)
    await allowed(datasette, request, db, ("statements", "documents"))
    wanted = unquote(request.url_vars["statement_id"])
    sql = """SELECT s.id, s.document_id, s.seq, s.page, s.heading, s.kind, s.speaker, s.language, s.text,
        p.labels, p.abstain, p.model, m.concern_id, m.role, c.label AS concern_label, c.status AS concern_status
        FROM statements s LEFT JOIN predictions p ON p.statement_id = s.id
        LEFT JOIN concern_mentions m ON m.statement_id = s.id LEFT JOIN concerns c ON c.concern_id = m.concern_id
        WHERE s.id = :id"""
    found = await fetch_rows(db, sql, {"id": wanted})
    alias = None
    if not found and await db.table_exists("statement_aliases"):
        moved = await fetch_rows(db, "SELECT new_id FROM statement_aliases WHERE old_id = :id", {"id": wanted})
        if moved:
            alias = wanted
            found = await fetch_rows(db, sql, {"id": moved[0]["new_id"]})
    if not found:
        return await render(
            datasette,
            request,
            "scrutiny_not_found.html",
            {"what": "statement", "wanted": wanted, "database": db.name},
            status=404,
        )
    links = links_for(datasette, db.name)
    s = {**found[0], "labels": json_list(found[0]["labels"])}
    document = (
        await fetch_rows(db, f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = :id", {"id": s["document_id"]})
    )[0]
    context = await fetch_rows(
        db,
        """SELECT id, seq, text, language FROM statements WHERE document_id = :d
        AND seq BETWEEN :a AND :b ORDER BY seq""",
        {"d": s["document_id"], "a": s["seq"] - 2, "b": s["seq"] + 2},
    )
    return await render(
        datasette,
        request,
        "scrutiny_statement.html",
        {
            "s": s,
            "document": document,
            "alias": alias,
            "context": context,
            "source": document_source(links, document, s["page"]),
            "area_names": area_names(datasette),
            "choices": await concern_choices(db, document["local_authority"], s["concern_id"]),
            "pending": await pending_decisions(
                datasette, request.actor, statement_ids=[s["id"], *([alias] if alias else [])]
            ),
            "next": request.path,
            "database": db.name,
        },
    )
