"""Adapters: one per kind of source, each turning a listing page into document links.

An adapter is a pure function `(data: bytes, url: str) -> list[DocumentLink]`:
the bytes of a fetched listing page and the address it came from in, links
with whatever metadata the page gives out. No network here; `watch.py`
decides what to fetch. Links marked `listing=True` are follow-on pages (a
ModernGov meeting, the next page of results) to be read by the same adapter.
"""

from __future__ import annotations

import email.utils
import re
from datetime import date
from typing import Callable, Iterable
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import lxml.etree
import lxml.html

from ..errors import PipelineError
from ..gazetteer import load_gazetteer
from .records import DocumentLink

Adapter = Callable[[bytes, str], list[DocumentLink]]

DOCUMENT_SUFFIXES = (".pdf", ".docx", ".doc", ".odt", ".rtf")


class AdapterError(PipelineError):
    """A listing page the adapter cannot read at all (not HTML, not a feed)."""

    stage = "fetch"


# -- shared helpers ------------------------------------------------------------------------------

_EN_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
              "october", "november", "december")
# Welsh too, for the Welsh-language pages councils and the inspectorate also publish.
_CY_MONTHS = ("ionawr", "chwefror", "mawrth", "ebrill", "mai", "mehefin", "gorffennaf", "awst", "medi", "hydref",
              "tachwedd", "rhagfyr")
_MONTHS = {name: n for n, name in enumerate(_EN_MONTHS, 1)}
_MONTHS.update({name[:3]: n for n, name in enumerate(_EN_MONTHS, 1)})
_MONTHS.update({name: n for n, name in enumerate(_CY_MONTHS, 1)})
_MONTHS["sept"] = 9
_MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ORDINAL = r"(?:st|nd|rd|th|af|il|ydd|fed|ed|eg)?"  # English and Welsh: 12th, 12fed
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}}){_ORDINAL}\s+(?:o\s+)?({_MONTH_ALT})\.?,?\s+(\d{{4}})\b", re.I)
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?!\d)")  # also inside "2020-02-20T12:00:00Z"
_DMY_NUMERIC = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")


def _valid(y: int, m: int, d: int) -> str | None:
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return None


def parse_date(text: str | None) -> str | None:
    """The first date written in `text` as an ISO date ("12th March, 2024", "2024-03-12", "12/03/2024")."""
    if not text:
        return None
    found = []
    for pattern, order in ((_ISO, "ymd"), (_DAY_MONTH_YEAR, "dMy"), (_DMY_NUMERIC, "dmy")):
        m = pattern.search(text)
        if not m:
            continue
        if order == "ymd":
            iso = _valid(int(m[1]), int(m[2]), int(m[3]))
        elif order == "dMy":
            iso = _valid(int(m[3]), _MONTHS[m[2].lower()], int(m[1]))
        else:  # UK order: day first
            iso = _valid(int(m[3]), int(m[2]), int(m[1]))
        if iso:
            found.append((m.start(), iso))
    return min(found)[1] if found else None


def parse_feed_date(text: str | None) -> str | None:
    """An RSS (RFC 822) or Atom (RFC 3339) date as an ISO date."""
    if not text:
        return None
    try:
        return email.utils.parsedate_to_datetime(text.strip()).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return parse_date(text)


_CHILDREN = re.compile(r"\bchild(?:ren)?(?:['’]s)?\b|\byoung people\b|\blooked[- ]after\b|\bfostering\b|"
                       r"\badoption\b|\bplant\b|\bpobl ifanc\b", re.I)
_ADULTS = re.compile(r"\badults?\b|\bolder (?:people|adults?)\b|\bcare homes?\b|\bdomiciliary\b|\boedolion\b",
                     re.I)


def infer_service(text: str) -> str | None:
    """children, adults or both when the words say so; None when they do not."""
    children, adults = bool(_CHILDREN.search(text)), bool(_ADULTS.search(text))
    if children and adults:
        return "both"
    return "children" if children else "adults" if adults else None


def infer_council(text: str) -> str | None:
    """The council a title names, if exactly one stands out."""
    evidence = load_gazetteer().council_counts(text)
    if not evidence:
        return None
    ranked = evidence.most_common(2)
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


def clean(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def text_of(element: lxml.html.HtmlElement | None) -> str:
    return clean(element.text_content()) if element is not None else ""


def absolute(base: str, href: str | None) -> str | None:
    """An absolute http(s) address for a link, with spaces and the like percent-encoded, or None."""
    if not href:
        return None
    href = href.strip()
    if href.startswith("#") or href.lower().startswith(("javascript:", "mailto:", "tel:", "data:")):
        return None
    joined = urljoin(base, href).split("#", 1)[0]
    if urlsplit(joined).scheme.lower() not in ("http", "https"):
        return None
    # ModernGov puts spaces in document paths; encode them, keeping any escapes already there.
    return quote(joined, safe=":/?&=%#+@;,!$'()*~[]")


def parse_html(data: bytes, url: str) -> lxml.html.HtmlElement:
    if not data.strip():
        raise AdapterError(f"the listing page at {url} is empty")
    try:
        return lxml.html.document_fromstring(data)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise AdapterError(f"the listing page at {url} is not HTML: {exc}") from exc


def _main_content(root: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """The page's main region, so navigation and footer links are never taken for documents."""
    for xpath in ("//main", "//*[@role='main']", "//*[@id='main-content']", "//*[@id='content']"):
        found = root.xpath(xpath)
        if found:
            return found[0]
    body = root.find("body")
    return body if body is not None else root


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _suffix(url: str) -> str:
    path = urlsplit(url).path.lower()
    return path[path.rfind("."):] if "." in path.rsplit("/", 1)[-1] else ""


_SIZE_NOTE = re.compile(r"\s*[\[(]?\s*(?:pdf|docx?|odt|rtf)\b[\s,]*(?:[\d.,]+\s*[kmg]?b)?\s*[\])]?\s*$", re.I)
_GENERIC_TITLES = {"", "download", "download report", "read the report", "read report", "view report", "view",
                   "pdf", "english", "saesneg", "report", "more", "read more", "lawrlwytho"}


def _link_title(a: lxml.html.HtmlElement) -> str:
    """A link's own words, without the "PDF 1.2 MB" notes publishers append."""
    return clean(_SIZE_NOTE.sub("", text_of(a)))


# -- Care Inspectorate Wales ---------------------------------------------------------------------

_ITEM_TAGS = {"article", "li", "tr"}
_ITEM_CLASSES = ("views-row", "card", "teaser", "result", "listing-item", "report-listing")
_REPORTISH_PATH = re.compile(r"(?:^|/)[^/]*(?:report|inspection|assurance|review|check|adroddiad|arolygiad)[^/]*/?$",
                             re.I)
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
    return lang.startswith("cy") or text_of(a).lower() in ("cymraeg", "welsh", "fersiwn gymraeg") \
        or bool(_WELSH_FILE.search(urlsplit(url).path))


def _item_date(item: lxml.html.HtmlElement) -> str | None:
    for stamp in item.xpath(".//time[@datetime]"):
        iso = parse_date(stamp.get("datetime"))
        if iso:
            return iso
    return parse_date(text_of(item))


def _item_heading(item: lxml.html.HtmlElement) -> str:
    for heading in item.xpath(".//h2|.//h3|.//h4|.//*[contains(@class,'title')]"):
        text = _link_title(heading)
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
    main = _main_content(root)
    site = _host(url)
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
        if _host(target) != site:
            continue
        is_document = _suffix(target) in DOCUMENT_SUFFIXES
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
        chosen.sort(key=lambda pair: _suffix(pair[1]) not in DOCUMENT_SUFFIXES)
        a, target = chosen[0]
        title = _link_title(a)
        if title.lower() in _GENERIC_TITLES:
            title = _item_heading(item) or clean(a.get("title")) or title
        published = _item_date(item)
        council = infer_council(title) or infer_council(text_of(item))
        if not published and not council:
            continue  # undated and about no council: a guidance or navigation link, not a report
        extra = {"welsh_url": welsh[0][1]} if english and welsh else {}
        links.append(DocumentLink(target, title=title or None, published=published, doc_type="inspection_report",
                                  local_authority=council, service=infer_service(title), language=language,
                                  extra=extra))
    return unique_links(links)


# -- ModernGov -----------------------------------------------------------------------------------

_MG_DOCUMENT = re.compile(r"/documents/[a-z]\d+/", re.I)
_MG_LINK_TITLE = re.compile(r"Link to document '(.+?)'", re.I)
_MG_PAGE_TITLE = re.compile(r"^(?:agenda(?: and (?:draft )?minutes)?|minutes|decisions|agenda item)\s+"
                            r"(?:for|of)\s+(.+?)\s+on\s+(.+)$", re.I)
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
        title = clean(named[1]) if named else _link_title(a)
        item = _mg_item_title(a)
        extra = {k: v for k, v in (("committee", committee), ("meeting_date", meeting_date),
                                   ("agenda_item", item), ("meeting_url", url)) if v}
        links.append(DocumentLink(target, title=title or None, published=meeting_date,
                                  doc_type=_mg_doc_type(title), service=infer_service(f"{item or ''} {title}"),
                                  extra=extra))
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
        meetings[key] = DocumentLink(target, title=clean(a.get("title")) or text_of(a) or None,
                                     published=parse_date(label), listing=True)
    ordered = sorted(meetings.values(), key=lambda link: link.published or "", reverse=True)
    return ordered


# -- RSS and Atom --------------------------------------------------------------------------------

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
        links.append(DocumentLink(target, title=title or None, published=published, doc_type="news",
                                  local_authority=infer_council(about), service=infer_service(about),
                                  language=language, extra={"summary": summary[:500]} if summary else {}))
    return unique_links(links)


def unique_links(links: Iterable[DocumentLink]) -> list[DocumentLink]:
    """The links in order, each address once (the first link to it wins)."""
    seen: set[str] = set()
    out = []
    for link in links:
        if link.url not in seen:
            seen.add(link.url)
            out.append(link)
    return out


ADAPTERS: dict[str, Adapter] = {"ciw_reports": ciw_reports, "moderngov": moderngov, "rss": rss}
