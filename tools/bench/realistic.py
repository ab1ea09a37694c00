"""PDFs laid out the way publishers' tools lay them out (reportlab's platypus: text flowing through frames).

- reports: a one-column cover, then body pages in two columns (or one) with a running header over a rule, a
  footer and the page number; headings kept with what follows; ruled, shaded tables the width of a column;
  numbered recommendations with hanging indents
- letters: a letterhead on the first page, one column, a running head on later pages and a footer with the
  page number on every page

The bench's first corpus drew every line itself, one column, header and footer at fixed places; these are what
the extraction is measured on now (`simple_pdf` in tools.bench.corpus keeps the old drawing for the second row).
Items are the corpus's tuples: ("title"|"h1"|"h2"|"p"|"small", text), ("li", marker, text), ("table", rows),
("toc", entries), ("break",). Output is reproducible (reportlab's invariant mode).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Frame,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

W, H = A4
MARGIN = 56
STY = {
    "title": ParagraphStyle("title", fontName="Helvetica-Bold", fontSize=22, leading=27, spaceAfter=12),
    "h1": ParagraphStyle("h1", fontName="Helvetica-Bold", fontSize=14, leading=18, spaceBefore=10, spaceAfter=4),
    "h2": ParagraphStyle("h2", fontName="Helvetica-Bold", fontSize=11.5, leading=15, spaceBefore=6, spaceAfter=3),
    "p": ParagraphStyle("p", fontName="Helvetica", fontSize=10, leading=13.5, spaceAfter=6),
    "small": ParagraphStyle("small", fontName="Helvetica", fontSize=8, leading=10, spaceAfter=4),
    "li": ParagraphStyle(
        "li", fontName="Helvetica", fontSize=10, leading=13.5, leftIndent=18, bulletIndent=0, spaceAfter=4
    ),
    "cell": ParagraphStyle("cell", fontName="Helvetica", fontSize=8.5, leading=10.5),
    "cellb": ParagraphStyle("cellb", fontName="Helvetica-Bold", fontSize=8.5, leading=10.5),
}


def _flowables(items: Sequence[tuple], col_width: float) -> list:
    out: list = []
    for item in items:
        kind = item[0]
        if kind == "break":
            out.append(PageBreak())
        elif kind == "table":
            rows = item[1]
            n = max(len(r) for r in rows)
            widths = [col_width * 0.5] + [col_width * 0.5 / (n - 1)] * (n - 1) if n > 1 else [col_width]
            data = [[Paragraph(escape(c), STY["cellb" if i == 0 else "cell"]) for c in r] for i, r in enumerate(rows)]
            t = Table(data, colWidths=widths, repeatRows=1)
            t.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde4ee")),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
            out += [Spacer(1, 4), t, Spacer(1, 8)]
        elif kind == "toc":
            for title, page in item[1]:
                out.append(Paragraph(f"{escape(title)} {'.' * 30} {page}", STY["p"]))
        elif kind == "li":
            out.append(Paragraph(escape(item[2]), STY["li"], bulletText=item[1]))
        else:
            if kind in ("h1", "h2"):
                out.append(CondPageBreak(60))
            out.append(Paragraph(escape(item[1]), STY[kind]))
    return out


def report_pdf(
    cover: Sequence[tuple],
    body: Sequence[tuple],
    *,
    header: str,
    footer: str,
    title: str,
    author: str,
    columns: int = 2,
) -> bytes:
    """A report: the cover items on a page of their own (none: the body starts on page 1), then the body in
    `columns` columns under a running header and over a footer with the page number."""
    buf = io.BytesIO()
    doc = BaseDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=72,
        bottomMargin=72,
        title=title,
        author=author,
        invariant=1,
    )
    gutter = 18
    cw = (W - 2 * MARGIN - gutter * (columns - 1)) / columns

    def furniture(c, d):
        c.saveState()
        c.setFont("Helvetica", 8)
        c.drawString(MARGIN, H - 40, header)
        c.setStrokeColor(colors.grey)
        c.line(MARGIN, H - 46, W - MARGIN, H - 46)
        c.drawString(MARGIN, 36, footer)
        c.drawRightString(W - MARGIN, 36, f"Page {d.page}")
        c.restoreState()

    frames = [
        Frame(
            MARGIN + i * (cw + gutter),
            72,
            cw,
            H - 144,
            id=f"c{i}",
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )
        for i in range(columns)
    ]
    one = Frame(MARGIN, 72, W - 2 * MARGIN, H - 144, id="one", leftPadding=0, rightPadding=0)
    if not cover:  # the body from the first page
        doc.addPageTemplates([PageTemplate("body", frames, onPage=furniture)])
        doc.build(_flowables(body, cw))
        return buf.getvalue()
    doc.addPageTemplates([PageTemplate("cover", [one]), PageTemplate("body", frames, onPage=furniture)])
    story = _flowables(cover, W - 2 * MARGIN) + [NextPageTemplate("body"), PageBreak()] + _flowables(body, cw)
    doc.build(story)
    return buf.getvalue()


def letter_pdf(items: Sequence[tuple], *, letterhead: Sequence[str], footer: str, title: str, author: str) -> bytes:
    """A letter: the letterhead on the first page, a running head on later ones, a footer and the page number."""
    buf = io.BytesIO()
    doc = BaseDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN + 10,
        rightMargin=MARGIN + 10,
        topMargin=80,
        bottomMargin=72,
        title=title,
        author=author,
        invariant=1,
    )

    def first(c, d):
        c.saveState()
        c.setFont("Helvetica-Bold", 12)
        c.drawRightString(W - MARGIN, H - 40, letterhead[0])
        c.setFont("Helvetica", 8)
        for i, line in enumerate(letterhead[1:]):
            c.drawRightString(W - MARGIN, H - 52 - 10 * i, line)
        later(c, d, head=False)
        c.restoreState()

    def later(c, d, head=True):
        c.saveState()
        c.setFont("Helvetica", 7.5)
        if head:
            c.drawString(MARGIN, H - 40, letterhead[0])
        c.drawCentredString(W / 2, 30, footer)
        c.drawRightString(W - MARGIN, 30, f"{d.page}")
        c.restoreState()

    f = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="f")
    doc.addPageTemplates([PageTemplate("first", [f], onPage=first), PageTemplate("later", [f], onPage=later)])
    story = [NextPageTemplate("later")] + _flowables(items, doc.width)
    doc.build(story)
    return buf.getvalue()
