"""Writers for the benchmark corpus: a small PDF layout engine, DOCX and HTML.

The PDF engine flows headings, paragraphs, numbered items, tables and contents
lines over A4 pages the way a report generator does (paragraphs break across
pages, headings keep with what follows), then draws each page with a running
header, a footer and "Page n of N". Paginating first and drawing second means
the first k pages of a long report can be drawn on their own, which is what the
memory check compares. All output is byte-for-byte reproducible: reportlab runs
in invariant mode and DOCX archives get fixed timestamps.
"""

from __future__ import annotations

import html
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

PAGE_W, PAGE_H = 595.2756, 841.8898  # A4 in points
LEFT, RIGHT = 56.0, PAGE_W - 56.0
TOP, BOTTOM = PAGE_H - 90.0, 90.0  # body area, clear of the header and footer bands
STYLES = {  # font, size, leading factor
    "title": ("Helvetica-Bold", 22.0, 1.25),
    "h1": ("Helvetica-Bold", 15.0, 1.3),
    "h2": ("Helvetica-Bold", 12.0, 1.3),
    "p": ("Helvetica", 10.0, 1.35),
    "li": ("Helvetica", 10.0, 1.35),
    "small": ("Helvetica", 8.5, 1.3),
}

Item = tuple  # ("title"|"h1"|"h2"|"p"|"small", text) | ("li", marker, text) | ("table", rows) | ("toc", entries) | ("break",)


@dataclass(frozen=True)
class Op:
    """One thing drawn on a page: text at (x, y), or a rectangle (a table cell border)."""

    kind: str  # "text" or "rect"
    x: float
    y: float
    text: str = ""
    font: str = "Helvetica"
    size: float = 10.0
    w: float = 0.0
    h: float = 0.0


@lru_cache(maxsize=65536)
def _width(word: str, font: str, size: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return stringWidth(word, font, size)


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    space = _width(" ", font, size)
    lines: list[str] = []
    current: list[str] = []
    used = 0.0
    for word in text.split():
        w = _width(word, font, size)
        if current and used + space + w > width:
            lines.append(" ".join(current))
            current, used = [word], w
        else:
            used += (space if current else 0.0) + w
            current.append(word)
    if current:
        lines.append(" ".join(current))
    return lines


class _Pager:
    def __init__(self) -> None:
        self.pages: list[list[Op]] = [[]]
        self.y = TOP

    def new_page(self) -> None:
        if self.pages[-1]:
            self.pages.append([])
        self.y = TOP

    def need(self, height: float) -> None:
        if self.y - height < BOTTOM:
            self.new_page()

    def text(self, x: float, s: str, font: str, size: float, lead: float) -> None:
        self.need(lead)
        self.y -= lead
        self.pages[-1].append(Op("text", x, self.y, s, font, size))


def paginate(items: Sequence[Item]) -> list[list[Op]]:
    """Flow items over pages; returns each page's drawing operations (header and footer are added later)."""
    pg = _Pager()
    for i, item in enumerate(items):
        kind = item[0]
        if kind == "break":
            pg.new_page()
            continue
        if kind == "table":
            rows: list[list[str]] = item[1]
            height = 18.0 * len(rows)
            pg.need(height + 12)
            col = (RIGHT - LEFT) / max(len(r) for r in rows)
            for r_i, row in enumerate(rows):
                top = pg.y - 18.0 * r_i
                for c_i, cell in enumerate(row):
                    x = LEFT + c_i * col
                    font = "Helvetica-Bold" if r_i == 0 else "Helvetica"
                    pg.pages[-1].append(Op("rect", x, top - 18.0, w=col, h=18.0))
                    pg.pages[-1].append(
                        Op("text", x + 4, top - 13.0, (wrap(cell, font, 9.0, col - 8) or [""])[0], font, 9.0)
                    )
            pg.y -= height + 12
            continue
        if kind == "toc":
            for title, page in item[1]:
                dots = "." * max(4, int((RIGHT - LEFT - _width(title, "Helvetica", 10.0) - 30) / 2.8))
                pg.text(LEFT, f"{title} {dots} {page}", "Helvetica", 10.0, 14.0)
            pg.y -= 8
            continue
        style = "li" if kind == "li" else kind
        font, size, factor = STYLES[style]
        lead = size * factor
        if kind in ("h1", "h2", "title"):
            pg.y -= size * 0.9
            pg.need(lead * 2 + 4 * 13.5)  # keep a heading with the start of what follows
            if kind == "title" and i == 0:
                pg.y -= 120
        text = item[2] if kind == "li" else item[1]
        indent = 20.0 if kind == "li" else 0.0
        lines = wrap(text, font, size, RIGHT - LEFT - indent)
        for n, line in enumerate(lines):
            pg.text(LEFT + indent, line, font, size, lead)
            if kind == "li" and n == 0:
                pg.pages[-1].append(Op("text", LEFT, pg.y, item[1], font, size))
        pg.y -= size * (0.5 if kind in ("h1", "h2") else 0.8)
    return [p for p in pg.pages if p]


def draw_pdf(
    pages: Sequence[Sequence[Op]], *, header: str, footer: str, title: str, author: str, cover_furniture: bool = False
) -> bytes:
    """Draw paginated pages with a running header, a footer and page numbers. The first page (a cover)
    carries no header or footer unless `cover_furniture` is set."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(PAGE_W, PAGE_H), invariant=1, pageCompression=1)
    c.setTitle(title)
    c.setAuthor(author)
    total = len(pages)
    for number, ops in enumerate(pages, start=1):
        if number > 1 or cover_furniture:
            c.setFont("Helvetica", 8)
            c.drawString(LEFT, PAGE_H - 40, header)
            c.drawString(LEFT, 40, footer)
            c.drawRightString(RIGHT, 40, f"Page {number} of {total}")
        font = None
        for op in ops:
            if op.kind == "rect":
                c.rect(op.x, op.y, op.w, op.h, stroke=1, fill=0)
                continue
            if font != (op.font, op.size):
                c.setFont(op.font, op.size)
                font = (op.font, op.size)
            c.drawString(op.x, op.y, op.text)
        c.showPage()
    c.save()
    return buf.getvalue()


# ---------------------------------------------------------------- DOCX


def docx_bytes(items: Sequence[Item], *, header: str, footer: str, title: str, author: str) -> bytes:
    """A Word document: items as for PDFs ('num' and 'bullet' list items, 'table' rows), with a header,
    a footer and core properties. Zip entries get fixed timestamps so the bytes are reproducible."""
    import datetime

    import docx

    document = docx.Document()
    section = document.sections[0]
    section.header.paragraphs[0].text = header
    section.footer.paragraphs[0].text = footer
    styles = {"title": "Title", "h1": "Heading 1", "h2": "Heading 2", "num": "List Number", "bullet": "List Bullet"}
    for item in items:
        kind = item[0]
        if kind == "table":
            rows = item[1]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r_i, row in enumerate(rows):
                for c_i, value in enumerate(row):
                    table.cell(r_i, c_i).text = value
        elif kind in styles:
            document.add_paragraph(item[1], style=styles[kind])
        else:
            document.add_paragraph(item[1])
    props = document.core_properties
    props.title, props.author = title, author
    props.created = props.modified = datetime.datetime(2020, 1, 1)
    props.last_modified_by = author
    props.revision = 1
    raw = io.BytesIO()
    document.save(raw)
    return _fixed_zip(raw.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2020, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


# ---------------------------------------------------------------- HTML

_FURNITURE = (
    # (before the article, after the article): cookie banners, navigation, share links, related stories
    (
        """<div id="cookie-banner"><p>We use cookies to improve your experience of this website.</p>
<button>Accept all cookies</button> <a href="/cookies">Cookie settings</a></div>
<header><a class="skip" href="#main">Skip to main content</a><nav><ul><li><a href="/">Home</a></li>
<li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li><li><a href="/whats-on">What's On</a></li>
<li><a href="/contact">Contact us</a></li></ul></nav></header>""",
        """<aside><h3>Related stories</h3><ul><li><a href="/a">Road works on the bypass</a></li>
<li><a href="/b">School wins award</a></li><li><a href="/c">Market returns to the square</a></li></ul></aside>""",
    ),
    (
        """<div class="consent"><p>This site uses cookies. By continuing you agree to our cookie policy.</p>
<a href="#">Manage cookies</a></div><div class="topbar"><a href="/subscribe">Subscribe</a> <a href="/login">Sign in</a></div>
<nav class="menu"><a href="/">Home</a> <a href="/local">Local</a> <a href="/politics">Politics</a>
<a href="/health">Health</a> <a href="/opinion">Opinion</a></nav>""",
        """<section class="most-read"><h3>Most read</h3><ol><li><a href="/x">Bin collections change next month</a></li>
<li><a href="/y">New bus timetable announced</a></li></ol></section>
<div class="newsletter"><p>Sign up to our newsletter for the latest local news.</p></div>""",
    ),
    (
        """<header class="site"><div class="logo">Newsroom</div><nav><ul><li><a href="/">Home</a></li>
<li><a href="/news">News</a></li><li><a href="/business">Business</a></li><li><a href="/sport">Sport</a></li>
</ul></nav><form role="search"><input name="q"><button>Search</button></form></header>""",
        """<div class="tags"><a href="/t/social-care">Social care</a> <a href="/t/council">Council</a></div>
<section class="related"><h3>You may also like</h3><ul><li><a href="/p">Park upgrade approved</a></li>
<li><a href="/q">Library hours extended</a></li></ul></section>""",
    ),
)


def news_html(
    *,
    title: str,
    site: str,
    byline: str,
    dateline: str,
    paragraphs: Sequence[str],
    variant: int,
    lang: str = "en",
    headings: dict[int, str] | None = None,
) -> bytes:
    """A news or statement page: the article among the furniture real sites carry."""
    before, after = _FURNITURE[variant % len(_FURNITURE)]
    body = []
    for i, p in enumerate(paragraphs):
        if headings and i in headings:
            body.append(f"<h2>{html.escape(headings[i])}</h2>")
        body.append(f"<p>{html.escape(p, quote=False)}</p>")
    page = f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)} | {html.escape(site)}</title>
<meta property="og:site_name" content="{html.escape(site)}"><meta property="og:title" content="{html.escape(title)}">
</head><body>
{before}
<main id="main"><article>
<h1>{html.escape(title)}</h1>
<p class="byline">{html.escape(byline)}</p>
<p class="dateline">{html.escape(dateline)}</p>
<div class="share"><a href="#">Share this article</a> <a href="#">Follow us on Facebook</a>
<a href="#">Follow us on Twitter</a></div>
{chr(10).join(body)}
</article>
{after}
</main>
<footer><p>Copyright {html.escape(site)}. All rights reserved.</p><a href="/privacy">Privacy policy</a>
<a href="/accessibility">Accessibility statement</a></footer>
</body></html>
"""
    return page.encode("utf-8")
