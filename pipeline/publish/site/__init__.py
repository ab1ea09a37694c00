"""Scrutiny's pages on Datasette: home, search, councils, concerns, documents, statements, compare, and review.

Datasette stays the engine. These are `register_routes` views rendered by Datasette's own Jinja
environment (autoescaped), and they read the database through Datasette, so the SQL time limit and
our authorizer apply to them as to any other page. Charts are inline SVG drawn here, on the server:
no page fetches a script, a style or a font from anywhere, and nothing needs JavaScript.

Reviewers record decisions (confirm, reject, move or split a link; relabel a statement) in place. They go
to a separate, writable reviews database (the published one stays immutable), only for an actor that
Datasette's permission `scrutiny-review` allows: a reviewer signed in with the token set at start-up
(`scrutiny serve --review-token-file`, or the SCRUTINY_REVIEW_TOKEN environment variable). `scrutiny
review-links`, `scrutiny label` and every ingest read them (pipeline/run/site_reviews.py).

This module imports only the standard library and Datasette, so that `scrutiny publish` can copy it
unchanged into a deployable folder's plugins/ and the deployment needs nothing but Datasette.
Area names come from the metadata (`plugins.scrutiny-site.areas`, generated from the taxonomy).
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import NotFound

from pipeline.publish.site.common import (
    REVIEW_PERMISSION,
    REVIEWS_DATABASE,
    area_names,
    bar_chart,
    council_chart,
    councils,
    json_list,
    links_for,
    marked,
    plugin_config,
    review_token,
    reviews_database,
    scrutiny_database,
    slug,
    source_link,
)
from pipeline.publish.site.overview import (
    compare_page,
    concerns_page,
    feed_page,
)
from pipeline.publish.site.pages import (
    concern_page,
    council_page,
    councils_page,
    document_page,
    home_context,
    statement_page,
)
from pipeline.publish.site.review import (
    actor_for_token,
    archive_download,
    ensure_reviews_schema,
    login_page,
    open_folder_reviews,
    review_label,
    review_link,
)
from pipeline.publish.site.search_page import (
    search_page,
)

# ---------------------------------------------------------------- hooks


# what other code (and the tests) use of the site, besides Datasette's hooks
__all__ = ["bar_chart", "council_chart", "councils", "ensure_reviews_schema", "slug", "source_link", "REVIEWS_DATABASE"]


@hookimpl
def register_routes(datasette):
    return [
        (r"^/-/search(\.(?P<format>csv|json))?$", search_page),
        (r"^/-/councils$", councils_page),
        (r"^/-/council/(?P<slug>[^/]+)$", council_page),
        (r"^/-/concerns$", concerns_page),
        (r"^/-/concern/?$", concerns_page),
        (r"^/-/concern/(?P<concern_id>[^/]+)$", concern_page),
        (r"^/-/compare$", compare_page),
        (r"^/-/feed/(?P<slug>[^/]+)$", feed_page),
        (r"^/-/document/(?P<document_id>[^/]+)$", document_page),
        (r"^/-/statement/(?P<statement_id>[^/]+)$", statement_page),
        (r"^/-/archive/(?P<sha>[0-9a-f]{64})(/(?P<name>[^/]+))?$", archive_download),
        (r"^/-/review/login$", login_page),
        (r"^/-/review/link$", review_link),
        (r"^/-/review/label$", review_label),
    ]


@hookimpl
def permission_allowed(datasette, actor, action, resource):
    """`scrutiny-review`: only an actor signed in as a reviewer (never anonymous visitors)."""
    if action != REVIEW_PERMISSION:
        return None
    return bool(actor and actor.get("scrutiny_reviewer"))


@hookimpl
def actor_from_request(datasette, request):
    """`Authorization: Bearer <reviewers' token>` makes a reviewer, for scripts (the site's forms sign in)."""
    header = request.headers.get("authorization") or ""
    if header.lower().startswith("bearer "):
        return actor_for_token(datasette, header[7:].strip(), request.headers.get("x-reviewer"))
    return None


@hookimpl
def skip_csrf(datasette, scope):
    """A script with the bearer token sends no cookie to forge: CSRF protection is for browsers' forms."""
    headers = dict(scope.get("headers") or [])
    return (
        scope.get("path", "").startswith("/-/review/")
        and headers.get(b"authorization", b"").lower().startswith(b"bearer ")
        and b"cookie" not in headers
    )


@hookimpl
def startup(datasette):
    open_folder_reviews(datasette)
    reviews = reviews_database(datasette)
    if reviews is not None and reviews.path:
        ensure_reviews_schema(reviews.path)


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """In Datasette's own table and query pages: statement, document and concern ids link to their pages,
    area codes show their names, Welsh text is marked lang="cy"."""
    if database == REVIEWS_DATABASE or value is None:
        return None
    from markupsafe import Markup, escape

    links = links_for(datasette, database)
    keys = _row_keys(row)
    if column in ("statement_id",) or (column == "id" and table in ("statements", "statements_labelled")):
        seq = _get(row, keys, "seq")
        doc = _get(row, keys, "document_id")
        extra = (
            f' <a class="muted" href="{escape(links["document"](doc, seq))}">in its document</a>'
            if doc and seq is not None
            else ""
        )
        return Markup(f'<a href="{escape(links["statement"](value))}">{escape(value)}</a>{extra}')
    if column == "document_id" or (column == "id" and table == "documents"):
        return Markup(f'<a href="{escape(links["document"](value))}">{escape(str(value)[:12])}\u2026</a>')
    if column in ("concern_id", "atom_id") or (column == "concern_id" and table == "concerns"):
        return Markup(f'<a href="{escape(links["concern"](value))}">{escape(value)}</a>')
    if column in ("labels", "areas") and isinstance(value, str) and value.startswith("["):
        names = area_names(datasette)
        codes = json_list(value)
        return Markup(
            ", ".join(
                f'<abbr class="area" title="{escape(names.get(c, c))}">{escape(c)}</abbr> {escape(names.get(c, ""))}'
                for c in codes
            )
            or "none"
        )
    if column in ("text", "snippet") and _get(row, keys, "language") == "cy":
        shown = marked(value) if column == "snippet" else escape(value)
        return Markup(f'<span lang="cy">{shown}</span>')
    return None


def _row_keys(row) -> set[str]:
    try:
        return set(row.keys())
    except (AttributeError, TypeError):
        return set()


def _get(row, keys: set[str], name: str) -> Any:
    return row[name] if name in keys else None


@hookimpl
def menu_links(datasette, actor, request):
    async def links():
        try:
            db = await scrutiny_database(datasette)
        except NotFound:
            return []
        out = [
            {"href": datasette.urls.path("/-/search"), "label": "Search statements"},
            {"href": datasette.urls.path("/-/councils"), "label": "Councils"},
            {"href": datasette.urls.path("/-/concerns"), "label": "Concerns"},
            {"href": datasette.urls.path("/-/compare"), "label": "Compare councils"},
            {"href": datasette.urls.table(db.name, "statements_labelled"), "label": "Browse and facet statements"},
            {
                "href": datasette.urls.query(db.name, "open_concerns_raised_twice"),
                "label": "Concerns raised twice, not resolved",
            },
        ]
        if (
            reviews_database(datasette) is not None
            and review_token(datasette)
            and not (actor and actor.get("scrutiny_reviewer"))
        ):
            out.append({"href": datasette.urls.path("/-/review/login"), "label": "Sign in to review"})
        return out

    return links


@hookimpl
def extra_template_vars(template, view_name, datasette, request, database, table):
    """The home page's orientation; the query pages' titles and labelled inputs."""
    if view_name == "index":
        return lambda: home_context(datasette, request)
    config = plugin_config(datasette)
    return {"scrutiny_param_labels": config.get("params") or {}, "scrutiny_links_home": datasette.urls.instance()}
