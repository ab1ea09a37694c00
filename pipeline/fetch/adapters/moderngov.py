"""ModernGov committee sites: meetings and their documents."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import lxml.etree
import lxml.html

from pipeline.fetch.adapters.common import (
    absolute,
    clean,
    link_title,
    parse_date,
    parse_html,
    text_of,
    unique_links,
)
from pipeline.fetch.records import DocumentLink
from pipeline.lexicon.services import infer_service

_MG_DOCUMENT = re.compile(r"/documents/[a-z]\d+/", re.I)


_MG_LINK_TITLE = re.compile(r"Link to document '(.+?)'", re.I)


_MG_PAGE_TITLE = re.compile(
    r"^(?:agenda(?: and (?:draft )?minutes)?|minutes|decisions|agenda item)\s+"
    r"(?:for|of)\s+(.+?)\s+on\s+(.+)$",
    re.I,
)


_CANCELLED = re.compile(r"cancel+ed|postponed|wedi'?i ganslo|gohiriwyd", re.I)


def _mg_doc_type(title: str) -> str:
    lowered = title.lower()
    if "minutes" in lowered or "decisions" in lowered or "cofnodion" in lowered:
        return "council_minutes"
    if re.search(r"\bagenda\b(?! item)", lowered) and "reports pack" not in lowered:
        return "other"
    return "council_report"


def _mg_meeting(root: lxml.html.HtmlElement) -> tuple[str | None, str | None]:
    """(committee, ISO meeting date) from a meeting or agenda-item page."""
    subtitle = text_of(next(iter(root.xpath("//*[contains(@class,'mgSubTitleTxt')]")), None))
    if " - " in subtitle:
        committee, when = subtitle.split(" - ", 1)
        return clean(committee), parse_date(when)
    title = clean(root.findtext(".//title"))
    m = _MG_PAGE_TITLE.match(title.split("|")[0].strip())
    if m:
        return m[1], parse_date(m[2])
    # Item pages say "Meeting: 12/03/2024 - Health and Care Scrutiny Committee (Item 5.)".
    m = re.search(r"Meeting:\s*(\d{1,2}/\d{1,2}/\d{4})\s*-\s*(.+?)(?:\s*\(Item|$)", text_of(root))
    if m:
        return clean(m[2]), parse_date(m[1])
    return None, None


def _mg_item_title(a: lxml.html.HtmlElement) -> str | None:
    # The item's title sits in the same table row as its documents; packs outside the table have none.
    row = next(a.iterancestors("tr"), None)
    titles = row.xpath(".//*[contains(@class,'mgAiTitleTxt')]") if row is not None else []
    return clean(_NUMBERING.sub("", text_of(titles[0]))) if titles else None


_NUMBERING = re.compile(r"^\d+[a-z]?\.?\s+")


def moderngov(data: bytes, url: str) -> list[DocumentLink]:
    """ModernGov (Civica) committee pages, used by many Welsh councils.

    Meeting pages (ieListDocuments.aspx) and agenda item pages (mgAi.aspx) give
    their documents (minutes, report packs, reports): PDFs under
    `documents/sNNN/` or `documents/gNNN/`. Any other ModernGov page (a
    committee's meetings, the calendar, "what's new") gives its meetings as
    follow-on listings, newest first, skipping cancelled ones, plus any
    document it links to directly.
    """
    root = parse_html(data, url)
    page = urlsplit(url).path.rsplit("/", 1)[-1].lower()
    if page in ("ielistdocuments.aspx", "mgai.aspx"):
        return _mg_documents(root, url)
    # A meeting page links to its own Welsh rendering and to other meetings; only
    # listing pages are followed, so one run never wanders from meeting to meeting.
    return _mg_meetings(root, url) + _mg_documents(root, url)


def _mg_documents(root: lxml.html.HtmlElement, url: str) -> list[DocumentLink]:
    committee, meeting_date = _mg_meeting(root)
    links = []
    for a in root.iter("a"):
        target = absolute(url, a.get("href"))
        if target is None or not _MG_DOCUMENT.search(urlsplit(target).path):
            continue
        named = _MG_LINK_TITLE.search(a.get("title") or "")
        title = clean(named[1]) if named else link_title(a)
        item = _mg_item_title(a)
        extra = {
            k: v
            for k, v in (
                ("committee", committee),
                ("meeting_date", meeting_date),
                ("agenda_item", item),
                ("meeting_url", url),
            )
            if v
        }
        links.append(
            DocumentLink(
                target,
                title=title or None,
                published=meeting_date,
                doc_type=_mg_doc_type(title),
                service=infer_service(f"{item or ''} {title}"),
                extra=extra,
            )
        )
    return unique_links(links)


def _mg_meetings(root: lxml.html.HtmlElement, url: str) -> list[DocumentLink]:
    meetings: dict[tuple[str, str], DocumentLink] = {}
    for a in root.iter("a"):
        target = absolute(url, a.get("href"))
        if target is None or urlsplit(target).path.rsplit("/", 1)[-1].lower() != "ielistdocuments.aspx":
            continue
        query = {k.lower(): v[0] for k, v in parse_qs(urlsplit(target).query).items()}
        if "mid" not in query:
            continue
        label = clean(f"{text_of(a)} {a.get('title') or ''}")
        if _CANCELLED.search(label):
            continue
        key = (query.get("cid", ""), query["mid"])
        # The Welsh rendering of the same meeting (LLL=1) is the same documents: keep one.
        if key in meetings and "lll" in query:
            continue
        meetings[key] = DocumentLink(
            target, title=clean(a.get("title")) or text_of(a) or None, published=parse_date(label), listing=True
        )
    ordered = sorted(meetings.values(), key=lambda link: link.published or "", reverse=True)
    return ordered
