"""Pages across things: every concern with filters, councils compared, a council's feed as a page."""

from __future__ import annotations

from urllib.parse import unquote

from datasette.database import QueryInterrupted

from pipeline.publish.site.common import (
    ALL_AREAS_BY_YEAR_SQL,
    COLOURS,
    STATUSES,
    allowed,
    area_names,
    bar_chart,
    councils,
    fetch_rows,
    find_council,
    json_list,
    render,
    scrutiny_database,
)
from pipeline.publish.site.pages import (
    similar_concerns,
)


async def concerns_page(datasette, request):
    """Every concern, filtered by council, status, area, service or words of its label."""
    db = await scrutiny_database(datasette)
    await allowed(datasette, request, db, ("concerns",))
    every = await councils(db)
    wanted = request.args.get("council") or ""
    council = (await find_council(db, wanted))[0] if wanted else None
    status = request.args.get("status") if request.args.get("status") in STATUSES else ""
    names = area_names(datasette)
    area = request.args.get("area") if request.args.get("area") in names else ""
    service = request.args.get("service") or ""
    q = (request.args.get("q") or "").strip()
    where, params = ["1 = 1"], {}
    if council:
        where.append("c.local_authority = :council")
        params["council"] = council["name"]
    if status:
        where.append("c.status = :status")
        params["status"] = status
    if area:
        where.append("EXISTS (SELECT 1 FROM json_each(c.areas) j WHERE j.value = :area)")
        params["area"] = area
    if service:
        where.append("c.service = :service")
        params["service"] = service
    if q:
        where.append("c.rowid IN (SELECT rowid FROM concerns_fts WHERE concerns_fts MATCH scrutiny_fts(:q) LIMIT 1000)")
        params["q"] = q
    if request.args.get("recurring") == "1":
        where.append("c.inspections >= 2")
    rows = await fetch_rows(
        db,
        f"""SELECT c.concern_id, c.label, c.local_authority, c.service, c.status, c.areas,
        c.first_raised, c.last_raised, c.inspections, c.mentions FROM concerns c WHERE {" AND ".join(where)}
        ORDER BY c.status = 'resolved', c.inspections DESC, c.last_raised DESC LIMIT 501""",
        params,
    )
    services = [
        r["service"]
        for r in await fetch_rows(
            db, "SELECT DISTINCT service FROM concerns WHERE service IS NOT NULL AND service != '' ORDER BY service"
        )
    ]
    return await render(
        datasette,
        request,
        "scrutiny_concerns.html",
        {
            "concerns": [{**r, "areas": json_list(r["areas"])} for r in rows[:500]],
            "cut": len(rows) > 500,
            "councils": every,
            "statuses": STATUSES,
            "services": services,
            "area_names": names,
            "filters": {
                "council": council["name"] if council else "",
                "status": status,
                "area": area,
                "service": service,
                "q": q,
                "recurring": request.args.get("recurring") == "1",
            },
            "unknown_council": wanted if wanted and not council else None,
            "database": db.name,
        },
    )


async def compare_page(datasette, request):
    """Councils side by side: areas by year, concerns by status, and the same issue in other councils."""
    db = await scrutiny_database(datasette)
    await allowed(datasette, request, db, ("documents", "statements", "predictions", "concerns"))
    names = area_names(datasette)
    every = await councils(db)
    try:
        found = await fetch_rows(db, ALL_AREAS_BY_YEAR_SQL)
    except QueryInterrupted:
        found = []
    years = sorted({int(r["year"]) for r in found})
    seen = {str(r["area"]) for r in found}
    areas = [a for a in names if a in seen] + sorted(seen - set(names))
    charts = []
    for c in every:
        counts = {(int(r["year"]), str(r["area"])): int(r["n"]) for r in found if r["council"] == c["name"]}
        charts.append(
            {
                "council": c,
                "chart": bar_chart(
                    counts,
                    areas,
                    names,
                    bar=8,
                    plot_height=140,
                    years=list(range(years[0], years[-1] + 1)) if years else None,
                )
                if counts
                else None,
            }
        )
    status_rows = await fetch_rows(
        db,
        """SELECT local_authority AS council, status, count(*) AS n FROM concerns
        GROUP BY local_authority, status""",
    )
    by_status = {c["name"]: {s: 0 for s in STATUSES} for c in every}
    for r in status_rows:
        by_status.setdefault(r["council"], {s: 0 for s in STATUSES})[r["status"]] = r["n"]
    recurring = await fetch_rows(
        db,
        """SELECT concern_id, label, local_authority, status, inspections, service FROM concerns
        WHERE inspections >= 2 ORDER BY inspections DESC, mentions DESC LIMIT 30""",
    )
    same_issue = []
    for c in recurring:
        others = await similar_concerns(db, c, limit=3)
        if others:
            same_issue.append({"concern": c, "others": others})
    return await render(
        datasette,
        request,
        "scrutiny_compare.html",
        {
            "charts": charts,
            "by_status": by_status,
            "statuses": STATUSES,
            "same_issue": same_issue,
            "area_names": names,
            "legend": [
                {"code": a, "name": names.get(a, a), "colour": COLOURS[j % len(COLOURS)]} for j, a in enumerate(areas)
            ],
            "database": db.name,
        },
    )


async def feed_page(datasette, request):
    """A council's feed of new and repeated concerns as a page (the Atom feed is for feed readers)."""
    db = await scrutiny_database(datasette)
    await allowed(datasette, request, db, ("concerns",))
    council, every = await find_council(db, request.url_vars["slug"])
    if council is None:
        return await render(
            datasette,
            request,
            "scrutiny_not_found.html",
            {"what": "council", "wanted": unquote(request.url_vars["slug"]), "councils": every, "database": db.name},
            status=404,
        )
    entries = await fetch_rows(
        db,
        """SELECT concern_id, label, status, first_raised, last_raised, inspections, mentions
        FROM concerns WHERE status IN ('new', 'repeated') AND local_authority = :council
        ORDER BY coalesce(last_raised, first_raised) DESC LIMIT 200""",
        {"council": council["name"]},
    )
    return await render(
        datasette, request, "scrutiny_feed.html", {"council": council, "entries": entries, "database": db.name}
    )
