"""What every adapter shares: dates in listings, council and service hints, HTML helpers, unique links."""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable, Iterable
from urllib.parse import quote, urljoin, urlsplit

import lxml.etree
import lxml.html

from pipeline.errors import PipelineError
from pipeline.fetch.records import DocumentLink
from pipeline.lexicon import councils
from pipeline.lexicon.councils import load_gazetteer
from pipeline.lexicon.dates import day_date

Adapter = Callable[[bytes, str], list[DocumentLink]]


DOCUMENT_SUFFIXES = (".pdf", ".docx", ".doc", ".odt", ".rtf")


class AdapterError(PipelineError):
    """A listing page the adapter cannot read at all (not HTML, not a feed)."""

    stage = "fetch"


# One date parser for the project, English and Welsh: pipeline.lexicon.dates.
parse_date = day_date


def parse_feed_date(text: str | None) -> str | None:
    """An RSS (RFC 822) or Atom (RFC 3339) date as an ISO date."""
    if not text:
        return None
    try:
        return email.utils.parsedate_to_datetime(text.strip()).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return parse_date(text)


def infer_council(text: str) -> str | None:
    """The council a listing's title names, if exactly one stands out (pipeline.lexicon.councils' rules)."""
    return councils.infer_council(load_gazetteer(), title=text, unique=True)


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
