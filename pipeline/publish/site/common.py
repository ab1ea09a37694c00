"""What every page of the site shares: settings, helpers, links between pages, the chart, the SQL."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from datasette.database import QueryInterrupted
from datasette.utils import tilde_encode
from datasette.utils.asgi import NotFound, Response

PLUGIN = "scrutiny-site"
DOCUMENT_LIMIT = 5000  # statements shown on one document page; longer documents say they are cut
# Okabe-Ito colours: told apart by readers with the common colour-vision deficiencies.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
ROLE_ORDER = ("raised", "repeated", "progress", "discussed")
STATUSES = ("new", "repeated", "improved", "resolved")
MARK_OPEN, MARK_CLOSE = "\u27e6", "\u27e7"  # as pipeline/publish/search.py marks the words found

REVIEW_PERMISSION = "scrutiny-review"
REVIEWS_DATABASE = "reviews"
REVIEW_TOKEN_ENV = "SCRUTINY_REVIEW_TOKEN"
REVIEW_TOKEN_MIN = 12  # characters: shorter tokens are refused at start-up
REVIEWS_PATH_ENV = "SCRUTINY_REVIEWS_DB"  # a folder served by `datasette DIR`: where reviewers' decisions go


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


def plugin_config(datasette) -> dict[str, Any]:
    return datasette.plugin_config(PLUGIN) or {}


def area_names(datasette) -> dict[str, str]:
    areas = plugin_config(datasette).get("areas") or {}
    return {str(k): str(v) for k, v in areas.items()} if isinstance(areas, dict) else {}


def area_details(datasette) -> list[dict[str, str]]:
    """[{code, name, description}] of the taxonomy's areas, in the taxonomy's order."""
    details = plugin_config(datasette).get("area_details") or []
    names = area_names(datasette)
    if not details:
        return [{"code": c, "name": n, "description": ""} for c, n in names.items()]
    return [
        {"code": str(d.get("code")), "name": str(d.get("name")), "description": str(d.get("description") or "")}
        for d in details
        if isinstance(d, dict)
    ]


def private(datasette) -> dict[str, Any]:
    """Settings that must not appear in the public metadata: where the archive is, the reviewers' token."""
    return getattr(datasette, "_scrutiny_private", None) or {}


def review_token(datasette) -> str | None:
    return private(datasette).get("review_token") or os.environ.get(REVIEW_TOKEN_ENV) or None


def marked(text: str | None) -> str:
    """Escaped text with the words a search found in <mark> (the marks come from scrutiny_snippet)."""
    from markupsafe import Markup, escape

    return Markup(str(escape(text or "")).replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>"))


def unmarked(text: str | None) -> str:
    return (text or "").replace(MARK_OPEN, "").replace(MARK_CLOSE, "")


def _nice_step(top: int, ticks: int = 5) -> int:
    """A step of 1, 2 or 5 times a power of ten giving at most `ticks` gridlines up to `top`."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if top / (step * factor) <= ticks:
                return step * factor
        step *= 10


def bar_chart(
    counts: dict[tuple[int, str], int],
    areas: list[str],
    names: dict[str, str],
    *,
    bar: int = 18,
    plot_height: int = 240,
    years: list[int] | None = None,
) -> dict[str, Any] | None:
    """Geometry of a grouped bar chart of statements per area (bars) per year (groups), for the SVG template.

    Every year between the first and the last is drawn, so a gap in the record shows as a gap. The chart is
    drawn in its viewBox and scales to the width it is given (the legend is HTML under it, so it wraps)."""
    if not counts:
        return None
    years = years or list(range(min(y for y, _ in counts), max(y for y, _ in counts) + 1))
    top = max(counts.values())
    step = _nice_step(top)
    top = -(-top // step) * step
    left, right, plot_top, gap = 40, 8, 14, max(8, bar)
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
    """The served database holding Scrutiny's tables (the first one with concerns and statements). Found once
    and remembered by name (every page and the menu ask); a database swapped in under the same name is used."""
    known = getattr(datasette, "_scrutiny_database_name", None)
    if known in datasette.databases:
        return datasette.databases[known]
    for name, db in datasette.databases.items():
        if name.startswith("_") or name == REVIEWS_DATABASE:
            continue
        if await db.table_exists("statements") and await db.table_exists("concerns"):
            datasette._scrutiny_database_name = name
            return db
    raise NotFound("No Scrutiny database is served here.")


def reviews_database(datasette):
    return datasette.databases.get(REVIEWS_DATABASE)


async def allowed(datasette, request, db, tables: tuple[str, ...]) -> None:
    await datasette.ensure_permissions(
        request.actor, [("view-table", (db.name, t)) for t in tables] + [("view-database", db.name), "view-instance"]
    )


async def fetch_rows(db, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [dict(r) for r in (await db.execute(sql, params or {})).rows]


async def is_reviewer(datasette, actor) -> bool:
    return bool(actor) and await datasette.permission_allowed(actor, REVIEW_PERMISSION, default=False)


async def render(datasette, request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    db_name = context.get("database")
    context = {
        "site_title": datasette.metadata("title") or "Scrutiny",
        "reviewer": await is_reviewer(datasette, request.actor),
        "review_enabled": reviews_database(datasette) is not None and bool(review_token(datasette)),
        **context,
    }
    if db_name and "links" not in context:
        context["links"] = links_for(datasette, db_name)
    html = await datasette.render_template(template, context, request=request, view_name=template[:-5])
    return Response.html(html, status=status)


# ---------------------------------------------------------------- links between pages


def links_for(datasette, db_name: str) -> dict[str, Any]:
    """URL builders the templates share, so every page links the same way (and honours base_url)."""
    urls = datasette.urls

    def with_params(base: str, params: dict[str, Any]) -> str:
        params = {k: v for k, v in params.items() if v not in (None, "")}
        return base + ("?" + urlencode(params) if params else "")

    return {
        "home": urls.instance(),
        "councils": urls.path("/-/councils"),
        "council": lambda name: urls.path(f"/-/council/{slug(name)}"),
        "concern": lambda cid: urls.path(f"/-/concern/{quote(str(cid), safe='')}"),
        "concerns": lambda **params: with_params(urls.path("/-/concerns"), params),
        "compare": urls.path("/-/compare"),
        "document": lambda did, seq=None: urls.path(f"/-/document/{quote(str(did), safe='')}")
        + (f"#s{int(seq)}" if seq is not None else ""),
        "statement": lambda sid: urls.path(f"/-/statement/{quote(str(sid), safe=':-')}"),
        "statement_row": lambda sid: urls.row(db_name, "statements", tilde_encode(str(sid))),
        "archive": lambda sha, name=None, page=None: urls.path(f"/-/archive/{sha}")
        + (f"/{quote(name)}" if name else "")
        + (f"#page={int(page)}" if page else ""),
        "feed": lambda name: urls.query(db_name, "concern_feed", format="atom") + "?" + urlencode({"council": name}),
        "feed_html": lambda name: urls.path(f"/-/feed/{slug(name)}"),
        "query": lambda query, **params: with_params(urls.query(db_name, query), params),
        "table": lambda table, **params: with_params(urls.table(db_name, table), params),
        "source": source_link,
        "search": lambda **params: with_params(urls.path("/-/search"), params),
        "search_export": lambda fmt, **params: with_params(urls.path(f"/-/search.{fmt}"), params),
        "review_login": lambda next=None: with_params(urls.path("/-/review/login"), {"next": next}),
        "review_link": urls.path("/-/review/link"),
        "review_label": urls.path("/-/review/label"),
        "logout": urls.logout(),
    }


def document_file(document: dict[str, Any]) -> str | None:
    """The sha256 of the file a document was read from (the Welsh part of a bilingual file: the file's)."""
    sha = document.get("part_of") or document.get("id")
    return sha if isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha) else None


def document_source(
    links: dict[str, Any], document: dict[str, Any], page: int | None = None, archived: bool = True
) -> dict[str, Any]:
    """Where a reader finds a document's source: its original address (at the page for PDFs) and the copy the
    site serves from the archive, content-addressed ({"original", "archived"}; either may be None)."""
    sha = document_file(document)
    name = Path(document.get("source_path") or "").name or None
    archive = (
        links["archive"](sha, name, page if document.get("format") == "pdf" else None) if (sha and archived) else None
    )
    return {"original": source_link(document.get("source_url"), document.get("format"), page), "archived": archive}


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

ALL_AREAS_BY_YEAR_SQL = """
SELECT d.local_authority AS council, d.year AS year, j.value AS area, count(*) AS n
FROM documents d JOIN statements s ON s.document_id = d.id
JOIN predictions p ON p.statement_id = s.id, json_each(p.labels) j
WHERE coalesce(d.local_authority, '') != '' AND d.year IS NOT NULL AND json_valid(p.labels)
GROUP BY d.local_authority, d.year, j.value"""

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
  s.language, d.id, d.part_of, d.source_path, d.title, d.doc_type, d.publisher, d.format, d.source_url
FROM concern_mentions m JOIN statements s ON s.id = m.statement_id JOIN documents d ON d.id = m.document_id
WHERE m.concern_id = :concern_id ORDER BY m.date, d.published, m.document_id, s.seq"""

DOCUMENT_STATEMENTS_SQL = """
SELECT s.id, s.seq, s.page, s.heading, s.kind, s.speaker, s.language, s.text, p.labels, p.abstain, p.model,
  m.concern_id, m.role
FROM statements s LEFT JOIN predictions p ON p.statement_id = s.id
LEFT JOIN concern_mentions m ON m.statement_id = s.id
WHERE s.document_id = :document_id ORDER BY s.seq LIMIT :limit"""

DOCUMENT_COLUMNS = (
    "id, part_of, source_path, source_url, format, title, publisher, doc_type, local_authority, "
    "service, published, year, language, pages, statement_count, notes"
)


async def councils(db) -> list[dict[str, Any]]:
    return [{**r, "slug": slug(r["name"])} for r in await fetch_rows(db, COUNCILS_SQL)]


async def council_chart(db, council: str, names: dict[str, str]) -> dict[str, Any] | None:
    """The chart's geometry, or None when there is nothing to draw or counting took longer than the SQL
    time limit (the rest of the page is still worth showing)."""
    try:
        found = await fetch_rows(db, AREAS_BY_YEAR_SQL, {"council": council})
    except QueryInterrupted:
        return None
    counts = {(int(r["year"]), str(r["area"])): int(r["n"]) for r in found}
    seen = {a for _, a in counts}
    areas = [a for a in names if a in seen] + sorted(seen - set(names))
    return bar_chart(counts, areas, names)


async def find_council(db, wanted: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The council an address names, forgivingly: its slug in any case, its name, or a part of its name that
    only one council has ('Glanmor'). Returns (council or None, every council)."""
    every = await councils(db)
    key = slug(unquote(wanted))
    exact = [c for c in every if c["slug"] == key]
    if exact:
        return exact[0], every
    partial = [c for c in every if key and (c["slug"].startswith(key + "-") or f"-{key}-" in f"-{c['slug']}-")]
    return (partial[0] if len(partial) == 1 else None), every


def bounded_int(value: str | None, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(hi, int(value or default)))
    except ValueError:
        return default
