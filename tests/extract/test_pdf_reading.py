"""PDF reading on PDFium: the same text as the pdfplumber reading on laid-out PDFs (two columns, running header
and footer, ruled tables, letters), running headers and footers still removed, and body text never dropped for
repeating from page to page."""

from __future__ import annotations

import difflib
import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen import canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Table,
    TableStyle,
)

from pipeline.extract import extract
from pipeline.extract.layout import assemble
from pipeline.extract.pdf import read_pdf, read_pdf_pdfplumber
from pipeline.records import Source

W, H = A4
HEADER = "Afonwy County Council \u2013 Review of adult services"
FOOTER = "Published by the review team, Afonwy"
BODY = ParagraphStyle("body", fontName="Helvetica", fontSize=10, leading=13.5, spaceAfter=6)
HEAD = ParagraphStyle("head", fontName="Helvetica-Bold", fontSize=13, leading=17, spaceBefore=8, spaceAfter=4)
CELL = ParagraphStyle("cell", fontName="Helvetica", fontSize=8.5, leading=10.5)

TOPICS = (
    "waiting lists for care at home",
    "carers' assessments",
    "reviews of care plans",
    "hospital discharge",
    "the reablement service",
    "supervision of social workers",
)


def _finding(i: int) -> str:
    topic = TOPICS[i % len(TOPICS)]
    return (
        f"Finding {i}: the review team looked again at {topic} in the north of the county and found that "
        f"{i + 40} of the {i + 70} files it read had been completed on time. Managers told us that "
        f"{topic} would be checked each month by the head of service, and that the results would be "
        f"reported to the scrutiny committee in the spring."
    )


def two_column_report(pages: int = 5) -> bytes:
    """A report as publishers lay them out: a cover, then two columns flowing over pages with a running header
    over a rule, a footer and page numbers, headings, and ruled tables the width of a column."""
    buf = io.BytesIO()
    doc = BaseDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=56,
        rightMargin=56,
        topMargin=72,
        bottomMargin=72,
        title="Review of adult services",
        author="Afonwy County Council",
        invariant=1,
    )
    width = (W - 112 - 18) / 2

    def furniture(c, d):
        c.saveState()
        c.setFont("Helvetica", 8)
        c.drawString(56, H - 40, HEADER)
        c.line(56, H - 46, W - 56, H - 46)
        c.drawString(56, 36, FOOTER)
        c.drawRightString(W - 56, 36, f"Page {d.page}")
        c.restoreState()

    columns = [
        Frame(56 + i * (width + 18), 72, width, H - 144, leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
        for i in range(2)
    ]
    doc.addPageTemplates(
        [PageTemplate("cover", [Frame(56, 72, W - 112, H - 144)]), PageTemplate("body", columns, onPage=furniture)]
    )
    story = [Paragraph("Review of adult services in Afonwy", HEAD), NextPageTemplate("body"), PageBreak()]
    i = 0
    while i < pages * 8:
        story.append(Paragraph(f"Section {i // 4 + 1}", HEAD))
        for _ in range(4):
            story.append(Paragraph(_finding(i), BODY))
            i += 1
        rows = [["Measure", "2023", "2024"]] + [
            [f"Files on time for {t} (%)", str(50 + k), str(60 + k)] for k, t in enumerate(TOPICS[:3])
        ]
        table = Table(
            [[Paragraph(c, CELL) for c in r] for r in rows], colWidths=[width * 0.5, width * 0.25, width * 0.25]
        )
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde4ee")),
                ]
            )
        )
        story.append(table)
    doc.build(story)
    return buf.getvalue()


def letter() -> bytes:
    """A two-page letter: a letterhead on the first page, a footer with the page number on both."""
    buf = io.BytesIO()
    doc = BaseDocTemplate(buf, pagesize=A4, leftMargin=66, rightMargin=66, topMargin=90, bottomMargin=72, invariant=1)

    def first(c, d):
        c.setFont("Helvetica-Bold", 12)
        c.drawRightString(W - 56, H - 40, "Review Team")
        c.setFont("Helvetica", 8)
        c.drawRightString(W - 56, H - 52, "Council Offices, Afonwy")
        later(c, d)

    def later(c, d):
        c.setFont("Helvetica", 7.5)
        c.drawCentredString(W / 2, 30, FOOTER)
        c.drawRightString(W - 56, 30, str(d.page))

    frame = Frame(66, 72, W - 132, H - 162)
    doc.addPageTemplates([PageTemplate("first", [frame], onPage=first), PageTemplate("later", [frame], onPage=later)])
    story = [NextPageTemplate("later"), Paragraph("Dear Director,", BODY)]
    story += [Paragraph(_finding(i), BODY) for i in range(12)]
    story += [Paragraph("Yours sincerely,", BODY), Paragraph("The review team", BODY)]
    doc.build(story)
    return buf.getvalue()


def _words(blocks) -> list[str]:
    return assemble(blocks)[0].split()


def agreement(a, b) -> float:
    """Words in the same order in both readings, over the longer reading."""
    x, y = _words(a), _words(b)
    matcher = difflib.SequenceMatcher(None, x, y, autojunk=False)
    return sum(m.size for m in matcher.get_matching_blocks()) / max(1, len(x), len(y))


def test_pdfium_reading_agrees_with_pdfplumber_on_a_two_column_report():
    data = two_column_report()
    ours, pages, info = read_pdf(data)
    theirs, their_pages, _ = read_pdf_pdfplumber(data)
    assert pages == their_pages >= 5 and info["Title"] == "Review of adult services"
    assert agreement(ours, theirs) >= 0.98
    rows = [b.text for b in ours if b.kind == "table_row"]
    assert rows and rows == [b.text for b in theirs if b.kind == "table_row"]
    assert "Measure | 2023 | 2024" in rows and "Files on time for carers' assessments (%) | 51 | 61" in rows
    # table cells do not leak into the paragraphs
    assert not any("Files on time" in b.text for b in ours if b.kind != "table_row")


def test_pdfium_reading_agrees_with_pdfplumber_on_a_letter():
    data = letter()
    ours, theirs = read_pdf(data)[0], read_pdf_pdfplumber(data)[0]
    assert agreement(ours, theirs) >= 0.98
    assert [b.kind for b in ours] == [b.kind for b in theirs]


def test_two_column_report_reads_column_by_column_without_its_furniture(tmp_path, settings):
    path = tmp_path / "report.pdf"
    path.write_bytes(two_column_report())
    doc = extract(Source(str(path)), settings)
    assert "Afonwy County Council" not in doc.text and "Review of adult services \u2013" not in doc.text
    assert FOOTER not in doc.text and "Page 3" not in doc.text
    # every finding once and in order (left column before right, page by page); a paragraph that runs on into
    # the next column is split there, as it was by the pdfplumber reading
    starts = [doc.text.find(f"Finding {i}: the review team looked again at") for i in range(40)]
    assert all(s >= 0 for s in starts) and starts == sorted(starts)
    flat = " ".join(doc.text.split())
    assert all(_finding(i) in flat or _finding(i)[:60] in flat for i in range(40))


def test_repeated_page_pdf_is_kept_whole(tmp_path, settings):
    from pipeline.segment import segment
    from tools.drills.hostile import repeated_pages_pdf  # the same good file the hostile-input drill feeds

    path = repeated_pages_pdf(tmp_path / "repeated.pdf")
    doc = extract(Source(str(path)), settings)
    assert doc.text.count("Inspectors found that the quality of assessments had improved") == 9
    assert doc.text.count("which was not recorded.") == 9
    assert doc.text.count("Senior leaders have improved oversight.") == 3
    assert "Annual review" not in doc.text and "Page 2" not in doc.text  # the real furniture still goes
    statements = [s.text for s in segment(doc, settings)]
    assert statements.count("Senior leaders have improved oversight.") == 3
    assert sum(s.startswith("Inspectors found that the quality of assessments") for s in statements) == 9
    assert "recorded." not in statements


def test_a_short_repeated_line_in_the_band_is_furniture_but_a_long_one_is_not():
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    long_line = (
        "This line runs right across the top of every page, is set apart from the body, and is "
        "far too long to be a running header"
    )
    for page in range(3):
        c.setFont("Helvetica", 8)
        c.drawString(40, H - 24, "Afonwy Council")
        c.drawString(40, H - 48, long_line)
        c.setFont("Helvetica", 11)
        c.drawString(56, H / 2, f"The body of page {page + 1} says that work on the plan goes on.")
        c.showPage()
    c.save()
    text = assemble(read_pdf(buf.getvalue())[0])[0]
    assert "Afonwy Council" not in text
    assert text.count(long_line) == 3
