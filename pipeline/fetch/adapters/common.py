"""What every adapter shares: dates in listings, council and service hints, HTML helpers, unique links."""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable, Iterable
from datetime import date
from urllib.parse import quote, urljoin, urlsplit

import lxml.etree
import lxml.html

from pipeline.errors import PipelineError
from pipeline.fetch.records import DocumentLink
from pipeline.lexicon.councils import load_gazetteer

Adapter = Callable[[bytes, str], list[DocumentLink]]


DOCUMENT_SUFFIXES = (".pdf", ".docx", ".doc", ".odt", ".rtf")


class AdapterError(PipelineError):
    """A listing page the adapter cannot read at all (not HTML, not a feed)."""

    stage = "fetch"


_EN_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


# Welsh too, for the Welsh-language pages councils and the inspectorate also publish.
_CY_MONTHS = (
    "ionawr",
    "chwefror",
    "mawrth",
    "ebrill",
    "mai",
    "mehefin",
    "gorffennaf",
    "awst",
    "medi",
    "hydref",
    "tachwedd",
    "rhagfyr",
)


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


_CHILDREN = re.compile(
    r"\bchild(?:ren)?(?:['’]s)?\b|\byoung people\b|\blooked[- ]after\b|\bfostering\b|"
    r"\badoption\b|\bplant\b|\bpobl ifanc\b",
    re.I,
)


_ADULTS = re.compile(r"\badults?\b|\bolder (?:people|adults?)\b|\bcare homes?\b|\bdomiciliary\b|\boedolion\b", re.I)


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


def main_content(root: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """The page's main region, so navigation and footer links are never taken for documents."""
    for xpath in ("//main", "//*[@role='main']", "//*[@id='main-content']", "//*[@id='content']"):
        found = root.xpath(xpath)
        if found:
            return found[0]
    body = root.find("body")
    return body if body is not None else root


def host_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def suffix_of(url: str) -> str:
    path = urlsplit(url).path.lower()
    return path[path.rfind(".") :] if "." in path.rsplit("/", 1)[-1] else ""


_SIZE_NOTE = re.compile(r"\s*[\[(]?\s*(?:pdf|docx?|odt|rtf)\b[\s,]*(?:[\d.,]+\s*[kmg]?b)?\s*[\])]?\s*$", re.I)


GENERIC_TITLES = {
    "",
    "download",
    "download report",
    "read the report",
    "read report",
    "view report",
    "view",
    "pdf",
    "english",
    "saesneg",
    "report",
    "more",
    "read more",
    "lawrlwytho",
}


def link_title(a: lxml.html.HtmlElement) -> str:
    """A link's own words, without the "PDF 1.2 MB" notes publishers append."""
    return clean(_SIZE_NOTE.sub("", text_of(a)))


def unique_links(links: Iterable[DocumentLink]) -> list[DocumentLink]:
    """The links in order, each address once (the first link to it wins)."""
    seen: set[str] = set()
    out = []
    for link in links:
        if link.url not in seen:
            seen.add(link.url)
            out.append(link)
    return out
