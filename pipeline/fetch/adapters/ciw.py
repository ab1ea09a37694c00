"""The inspectorate's report listings: report links with their council, service and date."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import lxml.etree
import lxml.html

from pipeline.fetch.adapters.common import (
    DOCUMENT_SUFFIXES,
    GENERIC_TITLES,
    absolute,
    clean,
    host_of,
    infer_council,
    link_title,
    main_content,
    parse_date,
    parse_html,
    suffix_of,
    text_of,
    unique_links,
)
from pipeline.fetch.records import DocumentLink
from pipeline.lexicon.services import infer_service

_ITEM_TAGS = {"article", "li", "tr"}


_ITEM_CLASSES = ("views-row", "card", "teaser", "result", "listing-item", "report-listing")


_REPORTISH_PATH = re.compile(
    r"(?:^|/)[^/]*(?:report|inspection|assurance|review|check|adroddiad|arolygiad)[^/]*/?$", re.I
)


_WELSH_FILE = re.compile(r"[-_](?:cy|cym|w)\.(?:pdf|docx?|odt)$", re.I)


_NEXT = re.compile(r"^(?:next|nesaf|next page|tudalen nesaf|›|»|>)", re.I)


def _item_of(a: lxml.html.HtmlElement, stop: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    for ancestor in a.iterancestors():
        if ancestor is stop:
            return None
        classes = (ancestor.get("class") or "").lower().split()
        if ancestor.tag in _ITEM_TAGS or any(c in _ITEM_CLASSES for c in classes):
            return ancestor
    return None


def _is_welsh(a: lxml.html.HtmlElement, url: str) -> bool:
    lang = (a.get("hreflang") or a.get("lang") or "").lower()
    return (
        lang.startswith("cy")
        or text_of(a).lower() in ("cymraeg", "welsh", "fersiwn gymraeg")
        or bool(_WELSH_FILE.search(urlsplit(url).path))
    )


def _item_date(item: lxml.html.HtmlElement) -> str | None:
    for stamp in item.xpath(".//time[@datetime]"):
        iso = parse_date(stamp.get("datetime"))
        if iso:
            return iso
    return parse_date(text_of(item))


def _item_heading(item: lxml.html.HtmlElement) -> str:
    for heading in item.xpath(".//h2|.//h3|.//h4|.//*[contains(@class,'title')]"):
        text = link_title(heading)
        if text:
            return text
    return ""


def ciw_reports(data: bytes, url: str) -> list[DocumentLink]:
    """Care Inspectorate Wales listings of local authority inspection reports.

    A report is a link to a document (or a report page) inside a listing item
    that is dated or names a council; intro and navigation links are neither.
    The Welsh version beside an English one is kept as `extra["welsh_url"]`.
    """
    root = parse_html(data, url)
    main = main_content(root)
    site = host_of(url)
    items: dict[int, tuple[lxml.html.HtmlElement, list[tuple[lxml.html.HtmlElement, str]]]] = {}
    links: list[DocumentLink] = []
    for a in main.iter("a"):
        target = absolute(url, a.get("href"))
        if target is None:
            continue
        if (a.get("rel") or "").lower() == "next" or (_NEXT.match(text_of(a)) and "page=" in target):
            if target != url:
                links.append(DocumentLink(target, title=text_of(a) or "next page", listing=True))
            continue
        if host_of(target) != site:
            continue
        is_document = suffix_of(target) in DOCUMENT_SUFFIXES
        if not is_document and not _REPORTISH_PATH.search(urlsplit(target).path):
            continue
        item = _item_of(a, main)
        if item is not None:
            items.setdefault(id(item), (item, []))[1].append((a, target))

    for item, anchors in items.values():
        english = [(a, t) for a, t in anchors if not _is_welsh(a, t)]
        welsh = [(a, t) for a, t in anchors if _is_welsh(a, t)]
        chosen, language = (english, "en") if english else (welsh, "cy")
        # Prefer the document itself over a report page when an item offers both.
        chosen.sort(key=lambda pair: suffix_of(pair[1]) not in DOCUMENT_SUFFIXES)
        a, target = chosen[0]
        title = link_title(a)
        if title.lower() in GENERIC_TITLES:
            title = _item_heading(item) or clean(a.get("title")) or title
        published = _item_date(item)
        council = infer_council(title) or infer_council(text_of(item))
        if not published and not council:
            continue  # undated and about no council: a guidance or navigation link, not a report
        extra = {"welsh_url": welsh[0][1]} if english and welsh else {}
        links.append(
            DocumentLink(
                target,
                title=title or None,
                published=published,
                doc_type="inspection_report",
                local_authority=council,
                service=infer_service(title),
                language=language,
                extra=extra,
            )
        )
    return unique_links(links)
