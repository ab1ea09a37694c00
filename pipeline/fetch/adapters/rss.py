"""RSS and Atom feeds: one link per item."""

from __future__ import annotations

import re

import lxml.etree
import lxml.html

from pipeline.fetch.adapters.common import (
    AdapterError,
    absolute,
    clean,
    infer_council,
    parse_feed_date,
    text_of,
    unique_links,
)
from pipeline.fetch.records import DocumentLink
from pipeline.lexicon.services import infer_service


def _local(tag: object) -> str:
    return lxml.etree.QName(tag).localname.lower() if isinstance(tag, str) else ""


def _child(element: lxml.etree._Element, *names: str) -> lxml.etree._Element | None:
    for name in names:
        for child in element:
            if _local(child.tag) == name:
                return child
    return None


def _child_text(element: lxml.etree._Element, *names: str) -> str:
    found = _child(element, *names)
    return clean("".join(found.itertext())) if found is not None else ""


def _strip_markup(text: str) -> str:
    if "<" not in text:
        return clean(text)
    try:
        return text_of(lxml.html.fragment_fromstring(text, create_parent="div"))
    except (lxml.etree.ParserError, ValueError):
        return clean(re.sub(r"<[^>]+>", " ", text))


def rss(data: bytes, url: str) -> list[DocumentLink]:
    """News feeds: RSS 2.0, RSS 1.0 (RDF) and Atom. Each item becomes a `news` link."""
    # No entities, no network: a feed is untrusted input (XXE, billion laughs).
    parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)
    try:
        root = lxml.etree.fromstring(data, parser=parser)
    except lxml.etree.XMLSyntaxError as exc:
        raise AdapterError(f"the feed at {url} is not XML: {exc}") from exc
    if root is None or _local(root.tag) not in ("rss", "feed", "rdf"):
        raise AdapterError(f"the page at {url} is not an RSS or Atom feed")
    channel = _child(root, "channel")
    language = _child_text(channel if channel is not None else root, "language").lower()[:2] or None
    if language is None:
        language = (root.get("{http://www.w3.org/XML/1998/namespace}lang") or "").lower()[:2] or None
    links = []
    for entry in root.iter():
        kind = _local(entry.tag)
        if kind not in ("item", "entry"):
            continue
        title = _strip_markup(_child_text(entry, "title"))
        if kind == "entry":
            href = None
            for link in entry:
                if _local(link.tag) == "link" and link.get("rel", "alternate") == "alternate":
                    href = link.get("href")
                    break
            published = parse_feed_date(_child_text(entry, "published", "updated"))
            summary = _strip_markup(_child_text(entry, "summary", "content"))
        else:
            href = _child_text(entry, "link") or None
            guid = _child(entry, "guid")
            if not href and guid is not None and guid.get("isPermaLink", "true") == "true":
                href = clean(guid.text)
            published = parse_feed_date(_child_text(entry, "pubdate", "date"))
            summary = _strip_markup(_child_text(entry, "description", "encoded"))
        target = absolute(url, href)
        if target is None:
            continue
        about = f"{title} {summary}"
        links.append(
            DocumentLink(
                target,
                title=title or None,
                published=published,
                doc_type="news",
                local_authority=infer_council(about),
                service=infer_service(about),
                language=language,
                extra={"summary": summary[:500]} if summary else {},
            )
        )
    return unique_links(links)
