"""HTML reader: main content by trafilatura, kept as headings, paragraphs, list items and table rows."""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

from pipeline.errors import ExtractionError, NoText
from pipeline.extract.layout import RawBlock
from pipeline.extract.pagemeta import page_metadata

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)


def decode_html(data: bytes, declared: str | None = None) -> str:
    """Decode HTML bytes honouring a BOM, then the declared charset, then UTF-8, then Windows-1252."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(enc, errors="replace")
    candidates = []
    if declared:
        candidates.append(declared)
    m = _META_CHARSET.search(data[:4096])
    if m:
        candidates.append(m.group(1).decode("ascii", "ignore"))
    candidates += ["utf-8", "cp1252"]
    for enc in candidates:
        try:
            codecs.lookup(enc)
            return data.decode(enc)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


def looks_like_html(data: bytes) -> bool:
    head = data[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<body" in head or b"<head" in head


def _text(el) -> str:
    return " ".join("".join(el.itertext()).split())


def read_html(data: bytes, url: str | None = None, declared_encoding: str | None = None) -> tuple[list[RawBlock], dict]:
    """Extract the main content of an HTML page. Returns (blocks, metadata found in the page)."""
    import trafilatura

    if b"\x00" in data[:65536] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ExtractionError("not HTML: the file contains binary data (NUL bytes)")
    html = decode_html(data, declared_encoding)
    if not looks_like_html(html[:4096].encode("utf-8", "ignore")):
        raise ExtractionError("not HTML: no HTML markup found")
    try:
        doc = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_tables=True,
            include_comments=False,
            favor_precision=True,
            include_formatting=False,
            deduplicate=False,
        )
    except RecursionError as exc:
        raise ExtractionError("HTML nested too deeply to read") from exc
    assert not isinstance(doc, dict)  # as_dict=False (the default) gives a Document
    if doc is None or doc.body is None:
        # lxml stops building the tree 256 elements deep, so a deeply nested page can look empty to
        # trafilatura; a streaming reader has no depth limit and keeps the text.
        flat = FlatReader.read(html)
        if not flat:
            raise NoText("no main content found in the HTML page")
        page = page_metadata(html)
        return flat, {
            "title": FlatReader.title(html),
            "lang": _declared_lang(html),
            "url": url,
            "extractor": "flat",
            "dates": page["dates"],
            "og_type": page["og_type"],
            "ld_types": page["ld_types"],
            "sitename": page["sitename"],
            "copyright": page["copyright"],
        }
    blocks: list[RawBlock] = []
    for el in doc.body.iter("head", "p", "item", "row", "quote"):
        # Only leaf-level structure: an <item> inside a <p> or a <p> inside a <quote> is read once.
        if el.tag in ("p", "quote") and any(a.tag in ("item", "row") for a in el.iterancestors()):
            continue
        if el.tag == "quote" and el.find("p") is not None:
            continue
        if el.tag == "p" and any(a.tag in ("p", "quote") for a in el.iterancestors()) and el.getparent().tag != "quote":
            continue
        if el.tag == "item" and el.find(".//item") is not None:
            text = " ".join((el.text or "").split())
        elif el.tag == "row":
            text = " | ".join(_text(c) for c in el.iter("cell"))
        else:
            text = _text(el)
        if not text:
            continue
        kind = {"head": "heading", "item": "list_item", "row": "table_row"}.get(el.tag, "paragraph")
        level = int(re.sub(r"\D", "", el.get("rend", "h2")) or 2) if el.tag == "head" else 0
        blocks.append(RawBlock(kind, text, None, level))
    page = page_metadata(html)
    # trafilatura's own date (htmldate's guess) reads footers and copyright lines: the markup is asked instead.
    meta = {
        "title": doc.title or None,
        "dates": page["dates"],
        "modified": page["modified"],
        "og_type": page["og_type"],
        "ld_types": page["ld_types"],
        "byline": doc.author or None,
        "sitename": page["sitename"] or doc.sitename or None,
        "copyright": page["copyright"],
        "url": doc.url or url,
        "lang": _declared_lang(html),
    }
    return blocks, meta


def _declared_lang(html: str) -> str | None:
    m = re.search(r"<html[^>]*\blang\s*=\s*[\"']?([A-Za-z-]+)", html[:4096], re.I)
    return m.group(1).split("-")[0].lower() if m else None


class FlatReader(HTMLParser):
    """A streaming reader of block-level text, for pages lxml cannot build a tree for.

    It skips scripts, styles and the usual page furniture containers, and makes a block of
    each paragraph, heading, list item and table row, however deeply nested.
    """

    SKIP = {
        "script",
        "style",
        "noscript",
        "nav",
        "header",
        "footer",
        "aside",
        "form",
        "button",
        "select",
        "template",
        "svg",
        "iframe",
    }
    BLOCKS = {
        "p": "paragraph",
        "li": "list_item",
        "tr": "table_row",
        "h1": "heading",
        "h2": "heading",
        "h3": "heading",
        "h4": "heading",
        "h5": "heading",
        "h6": "heading",
        "blockquote": "paragraph",
        "div": "paragraph",
        "section": "paragraph",
        "article": "paragraph",
        "td": None,
        "th": None,
        "br": None,
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skip_depth = 0
        self.blocks: list[RawBlock] = []
        self.buffer: list[str] = []
        self.kind = "paragraph"

    def _flush(self) -> None:
        text = " ".join("".join(self.buffer).split())
        if text:
            level = int(self.kind[1]) if self.kind.startswith("h") and len(self.kind) == 2 else 0
            kind = "heading" if level else self.BLOCKS.get(self.kind) or "paragraph"
            self.blocks.append(RawBlock(kind, text, None, level))
        self.buffer = []

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip_depth += 1
        elif tag in self.BLOCKS and not self.skip_depth:
            if self.BLOCKS[tag] is None:
                self.buffer.append(" | " if tag in ("td", "th") and self.buffer else " ")
            else:
                self._flush()
                self.kind = tag if tag.startswith("h") and len(tag) == 2 else tag

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in self.BLOCKS and self.BLOCKS[tag] is not None and not self.skip_depth:
            self._flush()
            self.kind = "paragraph"

    def handle_data(self, data):
        if not self.skip_depth:
            self.buffer.append(data)

    @classmethod
    def read(cls, html: str) -> list[RawBlock]:
        reader = cls()
        body = re.search(r"<body\b", html, re.I)
        reader.feed(html[body.start() :] if body else html)
        reader.close()
        reader._flush()
        return [b for b in reader.blocks if b.kind != "table_row" or "|" in b.text or len(b.text.split()) > 3]

    @staticmethod
    def title(html: str) -> str | None:
        m = re.search(r"<title[^>]*>(.*?)</title>", html[:20000], re.I | re.S)
        return " ".join(m.group(1).split()) if m else None
