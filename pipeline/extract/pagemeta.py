"""What an HTML page says about itself: its publication date (meta tags, JSON-LD, <time>) and its kind
(og:type, JSON-LD @type). Read from the markup, never guessed from site furniture."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from pipeline.lexicon.dates import iso_value
from pipeline.lexicon.news import copyright_holders

# <meta> names and properties that state when a page was published, the most specific first.
PUBLISHED_META = (
    "article:published_time",
    "og:published_time",
    "og:article:published_time",
    "datepublished",
    "citation_publication_date",
    "citation_date",
    "citation_online_date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date.created",
    "dcterms.created",
    "dc.date",
    "dcterms.date",
    "prism.publicationdate",
    "article.published",
    "publication_date",
    "publish-date",
    "publishdate",
    "pubdate",
    "parsely-pub-date",
    "sailthru.date",
    "date",
)
MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified", "dcterms.modified", "last-modified")
TIME_LABEL = re.compile(r"(?:published|posted|first published|date|cyhoeddwyd|dyddiad)\W{0,3}(?:on\W{0,2})?$", re.I)
INLINE = frozenset({"a", "span", "small", "strong", "b", "em", "i", "abbr", "time", "sup", "sub", "br"})
LAST_LINES = 15  # where a page that marks no footer has its copyright line: its last blocks of text
BLOCKS = (
    "p",
    "div",
    "li",
    "td",
    "address",
    "section",
    "article",
    "aside",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
)
TIME_CLASS = re.compile(r"publish|posted|dateline|byline|article-?date|post-?date|entry-?date|meta", re.I)


def _json_ld(tree) -> Iterator[dict[str, Any]]:
    def walk(node):
        if isinstance(node, dict):
            yield node
            for v in node.values():
                if isinstance(v, (dict, list)):
                    yield from walk(v)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)

    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            yield from walk(json.loads(script.text_content() or "null"))
        except ValueError:
            continue


def _types(node: dict[str, Any]) -> list[str]:
    t = node.get("@type") or []
    return [str(x) for x in (t if isinstance(t, list) else [t])]


_FOOTERS = (
    "//footer | //*[@role='contentinfo'] | //*[@id or @class][re:test(concat(@id, ' ', @class), "
    "'footer|copyright|colophon', 'i')]"
)
_MARKED = '//text()[contains(., "©") or contains(., "opyright") or contains(., "(c)") or contains(., "(C)")]'


def _copyright_lines(tree: Any) -> list[str]:
    """The page's copyright lines, each read whole with its inline markup, once: from its footer (a <footer>,
    role=contentinfo, or an element whose id or class says footer, copyright or colophon), or when it marks
    none, from the last lines of its text. Where a site states who publishes it, never the body."""
    feet = tree.xpath(_FOOTERS, namespaces={"re": "http://exslt.org/regular-expressions"})
    tail = None
    if not feet:  # the last blocks of text (innermost) stand for the footer
        blocks = [
            el
            for el in tree.iter(*BLOCKS)
            if not any(isinstance(c.tag, str) and c.tag in BLOCKS for c in el) and el.text_content().strip()
        ]
        tail = " ".join(" ".join(el.text_content().split()) for el in blocks[-LAST_LINES:])
    out: dict[str, None] = {}
    seen: set[Any] = set()
    for root in feet or [tree]:
        for node in root.xpath("." + _MARKED):
            el = node.getparent()
            if el is not None and getattr(node, "is_tail", False):
                el = el.getparent()  # text after a <br>, a comment or an inline element belongs to its container
            while el is not None and isinstance(el.tag, str) and el.tag in INLINE and el.getparent() is not None:
                el = el.getparent()
            if el is None or not isinstance(el.tag, str) or el.tag in ("script", "style", "noscript") or el in seen:
                continue
            seen.add(el)
            line = " ".join(el.text_content().split())
            if len(line) <= 300 and (tail is None or line in tail):
                out[line] = None
    return list(out)


def page_metadata(html: str) -> dict[str, Any]:
    """{"dates": [(ISO, how), ...] most explicit first, "modified": ISO or None, "og_type": ...,
    "ld_types": [...], "sitename": ..., "copyright": [holders]} from the page's markup and its furniture (the
    copyright line is in the footer, which the text extraction leaves out)."""
    import lxml.html

    out: dict[str, Any] = {
        "dates": [],
        "modified": None,
        "og_type": None,
        "ld_types": [],
        "sitename": None,
        "copyright": [],
    }
    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return out
    metas: dict[str, str] = {}
    for m in tree.xpath("//meta"):
        key = (m.get("property") or m.get("name") or m.get("itemprop") or "").strip().lower()
        if key and m.get("content") and key not in metas:
            metas[key] = m.get("content")
    dates: list[tuple[str, str]] = []
    for key in PUBLISHED_META:
        value = iso_value(metas.get(key))
        if value:
            dates.append((value, f"meta {key}"))
    for node in _json_ld(tree):
        out["ld_types"] += _types(node)
        for key in ("datePublished", "dateCreated"):
            value = iso_value(str(node.get(key) or ""))
            if value:
                dates.append((value, f"JSON-LD {key}"))
    for el in tree.xpath("//time[@datetime]"):
        value = iso_value(el.get("datetime"))
        if not value:
            continue
        before = (el.getprevious().tail if el.getprevious() is not None else el.getparent().text) or ""
        classes = " ".join(
            filter(None, [el.get("class"), el.get("itemprop"), el.getparent().get("class"), el.getparent().get("id")])
        )
        if (
            el.get("pubdate") is not None
            or (el.get("itemprop") or "").lower() == "datepublished"
            or TIME_LABEL.search(before.strip())
            or TIME_CLASS.search(classes)
        ):
            dates.append((value, "<time datetime>"))
    out["dates"] = dates
    for key in MODIFIED_META:
        out["modified"] = out["modified"] or iso_value(metas.get(key))
    out["og_type"] = (metas.get("og:type") or "").strip().lower() or None
    out["sitename"] = metas.get("og:site_name") or metas.get("application-name") or None
    for node in _json_ld(tree):
        if "NewsMediaOrganization" in _types(node) and node.get("name"):
            out["sitename"] = out["sitename"] or str(node["name"])
    out["copyright"] = copyright_holders("\n".join(_copyright_lines(tree)), whole=True)
    return out
