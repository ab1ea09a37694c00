"""Scrutiny's pages on Datasette: one page per concern, per council and per document, linked from the index.

Datasette stays the engine. These are `register_routes` views rendered by Datasette's own Jinja
environment (autoescaped), and they read the database through Datasette, so the SQL time limit and
our authorizer apply to them as to any other page. Charts are inline SVG drawn here, on the server:
no page fetches a script, a style or a font from anywhere, and nothing needs JavaScript.

This module imports only the standard library and Datasette, so that `scrutiny publish` can copy it
unchanged into a deployable folder's plugins/ and the deployment needs nothing but Datasette.
Area names come from the metadata (`plugins.scrutiny-site.areas`, generated from the taxonomy).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlencode

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.utils import tilde_encode
from datasette.utils.asgi import NotFound, Response

PLUGIN = "scrutiny-site"
DOCUMENT_LIMIT = 5000  # statements shown on one document page; longer documents say they are cut
# Okabe-Ito colours: told apart by readers with the common colour-vision deficiencies.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
ROLE_ORDER = ("raised", "repeated", "progress", "discussed")


# ---------------------------------------------------------------- helpers


def slug(name: str) -> str:
    """URL name of a council: 'Glanmor County Council' -> 'glanmor-county-council'."""
    return re.sub(r"[^a-z0-9]+", "-", (name or "").lower()).strip("-")


def source_link(source_url: str | None, fmt: str | None, page: int | None) -> str | None:
    """The published source, at the statement's page for PDFs (`#page=N` is what PDF viewers follow).

    Only http(s) addresses become links: a `javascript:` address in a manifest must never be clickable."""
    if not source_url or not re.match(r"^https?://", source_url, re.IGNORECASE):
        return None
    if fmt == "pdf" and page:
        return f"{source_url.split('#', 1)[0]}#page={int(page)}"
    return source_url


def json_list(value: Any) -> list[str]:
    """A JSON list column (labels, areas) as a list of strings; anything else as an empty list."""
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return []
    return [str(v) for v in parsed] if isinstance(parsed, list) else []


def area_names(datasette) -> dict[str, str]:
    config = datasette.plugin_config(PLUGIN) or {}
    areas = config.get("areas") or {}
    return {str(k): str(v) for k, v in areas.items()} if isinstance(areas, dict) else {}


def _nice_step(top: int, ticks: int = 5) -> int:
    """A step of 1, 2 or 5 times a power of ten giving at most `ticks` gridlines up to `top`."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if top / (step * factor) <= ticks:
                return step * factor
        step *= 10


def bar_chart(counts: dict[tuple[int, str], int], areas: list[str], names: dict[str, str]) -> dict[str, Any] | None:
    """Geometry of a grouped bar chart of statements per area (bars) per year (groups), for the SVG template.

    Every year between the first and the last is drawn, so a gap in the record shows as a gap."""
    if not counts:
        return None
    years = list(range(min(y for y, _ in counts), max(y for y, _ in counts) + 1))
    top = max(counts.values())
    step = _nice_step(top)
    top = -(-top // step) * step
    left, right, plot_top, plot_height, bar, gap = 48, 12, 14, 240, 18, 22
    group = bar * len(areas) + gap
    width = left + right + group * len(years)
    baseline = plot_top + plot_height

    def y_of(value: float) -> float:
        return round(baseline - plot_height * value / top, 1)

    bars, labels = [], []
    for i, year in enumerate(years):
        x0 = left + gap / 2 + i * group
        labels.append({"x": round(x0 + bar * len(areas) / 2, 1), "text": str(year)})
        for j, area in enumerate(areas):
            n = counts.get((year, area), 0)
            if n:
                bars.append(
                    {
                        "x": round(x0 + j * bar, 1),
                        "y": y_of(n),
                        "width": bar - 1,
                        "height": round(baseline - y_of(n), 1),
                        "colour": COLOURS[j % len(COLOURS)],
                        "title": f"{year}, {' '.join(filter(None, (area, names.get(area))))}: "
                        f"{n} statement{'s' * (n != 1)}",
                    }
                )
    ticks = [{"y": y_of(v), "text": str(v)} for v in range(0, top + 1, step)]
    legend = [{"code": a, "name": names.get(a, a), "colour": COLOURS[j % len(COLOURS)]} for j, a in enumerate(areas)]
    table = [{"year": y, "counts": [counts.get((y, a), 0) for a in areas]} for y in years]
    return {
        "width": width,
        "height": baseline + 30,
        "left": left,
        "right": width - right,
        "baseline": baseline,
        "bars": bars,
        "labels": labels,
        "ticks": ticks,
        "legend": legend,
        "areas": areas,
        "table": table,
        "label_y": baseline + 18,
    }


async def scrutiny_database(datasette):
    """The served database holding Scrutiny's tables (the first one with concerns and statements)."""
    for name, db in datasette.databases.items():
        if name.startswith("_"):
            continue
        if await db.table_exists("statements") and await db.table_exists("concerns"):
            return db
    raise NotFound("No Scrutiny database is served here.")


async def _allowed(datasette, request, db, tables: tuple[str, ...]) -> None:
    await datasette.ensure_permissions(
        request.actor, [("view-table", (db.name, t)) for t in tables] + [("view-database", db.name), "view-instance"]
    )


async def _rows(db, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [dict(r) for r in (await db.execute(sql, params or {})).rows]


async def _render(datasette, request, template: str, context: dict[str, Any]) -> Response:
    context = {"site_title": datasette.metadata("title") or "Scrutiny", **context}
    html = await datasette.render_template(template, context, request=request, view_name=template[:-5])
    return Response.html(html)


# ---------------------------------------------------------------- links between pages


def _links(datasette, db_name: str) -> dict[str, Any]:
    """URL builders the templates share, so every page links the same way (and honours base_url)."""
    urls = datasette.urls
    return {
        "councils": urls.path("/-/councils"),
        "council": lambda name: urls.path(f"/-/council/{slug(name)}"),
        "concern": lambda cid: urls.path(f"/-/concern/{quote(str(cid), safe='')}"),
        "document": lambda did, seq=None: urls.path(f"/-/document/{quote(str(did), safe='')}")
        + (f"#s{int(seq)}" if seq is not None else ""),
        "statement_row": lambda sid: urls.row(db_name, "statements", tilde_encode(str(sid))),
        "feed": lambda name: urls.query(db_name, "concern_feed", format="atom") + "?" + urlencode({"council": name}),
        "query": lambda query, **params: urls.query(db_name, query) + ("?" + urlencode(params) if params else ""),
        "table": lambda table, **params: urls.table(db_name, table) + ("?" + urlencode(params) if params else ""),
        "source": source_link,
        "search": urls.query(db_name, "search_statements"),
    }


# ---------------------------------------------------------------- queries

COUNCILS_SQL = """
SELECT d.local_authority AS name, count(*) AS documents, sum(d.statement_count) AS statements,
  min(d.year) AS first_year, max(d.year) AS last_year,
  max(CASE WHEN d.doc_type = 'inspection_report' THEN d.published END) AS latest_inspection,
  (SELECT count(*) FROM concerns c WHERE c.local_authority = d.local_authority AND c.status != 'resolved')
    AS open_concerns,
  (SELECT count(*) FROM concerns c WHERE c.local_authority = d.local_authority) AS concerns
FROM documents d WHERE coalesce(d.local_authority, '') != ''
GROUP BY d.local_authority ORDER BY d.local_authority"""

AREAS_BY_YEAR_SQL = """
SELECT d.year AS year, j.value AS area, count(*) AS n
FROM documents d JOIN statements s ON s.document_id = d.id
JOIN predictions p ON p.statement_id = s.id, json_each(p.labels) j
WHERE d.local_authority = :council AND d.year IS NOT NULL AND json_valid(p.labels)
GROUP BY d.year, j.value"""

COUNCIL_CONCERNS_SQL = """
SELECT concern_id, label, status, service, areas, first_raised, last_raised, inspections, mentions
FROM concerns WHERE local_authority = :council
ORDER BY status = 'resolved', inspections DESC, last_raised DESC, concern_id"""

COUNCIL_DOCUMENTS_SQL = """
SELECT id, title, doc_type, published, service, language, statement_count, format, source_url
FROM documents WHERE local_authority = :council ORDER BY published DESC, title"""

DOCUMENT_CONCERNS_SQL = """
SELECT m.concern_id, c.label, c.status, group_concat(DISTINCT m.role) AS roles, count(*) AS statements,
  min(s.seq) AS first_seq
FROM concern_mentions m JOIN concerns c ON c.concern_id = m.concern_id JOIN statements s ON s.id = m.statement_id
WHERE m.document_id = :document_id GROUP BY m.concern_id ORDER BY min(s.seq)"""

TIMELINE_SQL = """
SELECT m.date, m.role, m.status_in_text, m.score, m.statement_id, m.document_id, s.text, s.seq, s.page,
  d.title, d.doc_type, d.publisher, d.format, d.source_url
FROM concern_mentions m JOIN statements s ON s.id = m.statement_id JOIN documents d ON d.id = m.document_id
WHERE m.concern_id = :concern_id ORDER BY m.date, d.published, m.document_id, s.seq"""

DOCUMENT_STATEMENTS_SQL = """
SELECT s.id, s.seq, s.page, s.heading, s.kind, s.speaker, s.language, s.text, p.labels, p.abstain, p.model,
  m.concern_id, m.role
FROM statements s LEFT JOIN predictions p ON p.statement_id = s.id
LEFT JOIN concern_mentions m ON m.statement_id = s.id
WHERE s.document_id = :document_id ORDER BY s.seq LIMIT :limit"""


async def councils(db) -> list[dict[str, Any]]:
    return [{**r, "slug": slug(r["name"])} for r in await _rows(db, COUNCILS_SQL)]


async def council_chart(db, council: str, names: dict[str, str]) -> dict[str, Any] | None:
    """The chart's geometry, or None when there is nothing to draw or counting took longer than the SQL
    time limit (the rest of the page is still worth showing)."""
    try:
        found = await _rows(db, AREAS_BY_YEAR_SQL, {"council": council})
    except QueryInterrupted:
        return None
    counts = {(int(r["year"]), str(r["area"])): int(r["n"]) for r in found}
    seen = {a for _, a in counts}
    areas = [a for a in names if a in seen] + sorted(seen - set(names))
    return bar_chart(counts, areas, names)


# ---------------------------------------------------------------- views


async def councils_page(datasette, request):
    db = await scrutiny_database(datasette)
    await _allowed(datasette, request, db, ("documents", "concerns"))
    return await _render(
        datasette,
        request,
        "scrutiny_councils.html",
        {"councils": await councils(db), "links": _links(datasette, db.name), "database": db.name},
    )


async def council_page(datasette, request):
    db = await scrutiny_database(datasette)
    await _allowed(datasette, request, db, ("documents", "statements", "predictions", "concerns"))
    wanted = request.url_vars["slug"]
    council = next((c for c in await councils(db) if c["slug"] == wanted), None)
    if council is None:
        raise NotFound(f"No council called {wanted!r} here.")
    name, names = council["name"], area_names(datasette)
    concerns = [{**c, "areas": json_list(c["areas"])} for c in await _rows(db, COUNCIL_CONCERNS_SQL, {"council": name})]
    documents = await _rows(db, COUNCIL_DOCUMENTS_SQL, {"council": name})
    latest = next((d for d in documents if d["doc_type"] == "inspection_report"), None)
    latest_concerns = (await _rows(db, DOCUMENT_CONCERNS_SQL, {"document_id": latest["id"]})) if latest else []
    return await _render(
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
            "links": _links(datasette, db.name),
            "database": db.name,
        },
    )


async def concern_page(datasette, request):
    db = await scrutiny_database(datasette)
    await _allowed(datasette, request, db, ("concerns", "concern_mentions", "statements", "documents"))
    concern_id = request.url_vars["concern_id"]
    found = await _rows(db, "SELECT * FROM concerns WHERE concern_id = :id", {"id": concern_id})
    if not found:
        raise NotFound(f"No concern {concern_id!r} here.")
    concern = {**found[0], "areas": json_list(found[0]["areas"])}
    mentions = await _rows(db, TIMELINE_SQL, {"concern_id": concern_id})
    roles = {role: sum(1 for m in mentions if m["role"] == role) for role in ROLE_ORDER}
    return await _render(
        datasette,
        request,
        "scrutiny_concern.html",
        {
            "concern": concern,
            "mentions": mentions,
            "roles": roles,
            "area_names": area_names(datasette),
            "links": _links(datasette, db.name),
            "database": db.name,
        },
    )


async def document_page(datasette, request):
    db = await scrutiny_database(datasette)
    await _allowed(datasette, request, db, ("documents", "statements", "predictions", "concern_mentions"))
    document_id = request.url_vars["document_id"]
    found = await _rows(
        db,
        "SELECT id, source_path, source_url, format, title, publisher, doc_type, local_authority,"
        " service, published, year, language, pages, statement_count, notes FROM documents"
        " WHERE id = :id",
        {"id": document_id},
    )
    if not found:
        raise NotFound(f"No document {document_id!r} here.")
    statements = await _rows(db, DOCUMENT_STATEMENTS_SQL, {"document_id": document_id, "limit": DOCUMENT_LIMIT + 1})
    for s in statements:
        s["labels"] = json_list(s["labels"])
    return await _render(
        datasette,
        request,
        "scrutiny_document.html",
        {
            "document": found[0],
            "statements": statements[:DOCUMENT_LIMIT],
            "cut": len(statements) > DOCUMENT_LIMIT,
            "concerns": await _rows(db, DOCUMENT_CONCERNS_SQL, {"document_id": document_id}),
            "area_names": area_names(datasette),
            "links": _links(datasette, db.name),
            "database": db.name,
        },
    )


# ---------------------------------------------------------------- hooks


@hookimpl
def register_routes(datasette):
    return [
        (r"^/-/councils$", councils_page),
        (r"^/-/council/(?P<slug>[a-z0-9-]+)$", council_page),
        (r"^/-/concern/(?P<concern_id>[^/]+)$", concern_page),
        (r"^/-/document/(?P<document_id>[^/]+)$", document_page),
    ]


@hookimpl
def menu_links(datasette, actor, request):
    async def links():
        try:
            db = await scrutiny_database(datasette)
        except NotFound:
            return []
        return [
            {"href": datasette.urls.path("/-/councils"), "label": "Councils"},
            {"href": datasette.urls.query(db.name, "search_statements"), "label": "Search statements"},
            {"href": datasette.urls.table(db.name, "statements_labelled"), "label": "Browse and facet statements"},
            {
                "href": datasette.urls.query(db.name, "open_concerns_raised_twice"),
                "label": "Concerns raised twice, not resolved",
            },
        ]

    return links


@hookimpl
def extra_template_vars(template, view_name, datasette, request):
    """The index lists the councils, so the council pages are one click from the front page."""
    if view_name != "index":
        return {}

    async def councils_on_index():
        try:
            db = await scrutiny_database(datasette)
        except NotFound:
            return {"scrutiny_councils": []}
        actor = request.actor if request else None
        if not await datasette.permission_allowed(actor, "view-database", db.name, default=True):
            return {"scrutiny_councils": []}
        return {"scrutiny_councils": await councils(db), "scrutiny_links": _links(datasette, db.name)}

    return councils_on_index
