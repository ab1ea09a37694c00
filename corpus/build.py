"""Build the sample PDF and DOCX documents in corpus/documents/ from corpus/sources/*.md.

    python corpus/build.py

Needs reportlab and python-docx. The HTML documents are written by hand and are
not touched. Building twice gives byte-identical files: reportlab runs in
invariant mode, and every file is dated with its publication date (the zip
entries inside a DOCX with a fixed date).

Source markup (one block per line; blank lines separate nothing but look nice):

    ---
    title: ...            shown on the cover (PDF) or as the Title (DOCX)
    subtitle: ...         optional, shown under the title
    date_line: ...        optional, e.g. "Published 12 October 2017"
    published: YYYY-MM-DD used for the document's metadata
    author: ...           the publisher, used for the document's metadata
    header: ...           running header on every page
    footer: ...           running footer on every page
    format: pdf | docx
    output: file name in corpus/documents/
    ---
    # Heading 1
    ## Heading 2
    1. numbered list item (the number is kept as written)
    - bulleted list item
    | table | row |       (the first row of a table is its header)
    Any other line is a paragraph.
"""
from __future__ import annotations

import io
import os
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import partial
from pathlib import Path
from xml.sax.saxutils import escape

from docx import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

CORPUS = Path(__file__).resolve().parent
SOURCES = CORPUS / "sources"
DOCUMENTS = CORPUS / "documents"

REQUIRED_KEYS = ("title", "published", "author", "header", "footer", "format", "output")
NUMBERED = re.compile(r"^(\d+)\.\s+(.*)$")
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
MARGIN = 22 * mm
# The PDFs use the standard Helvetica fonts, whose text only extracts cleanly for
# characters in the WinAnsi (cp1252) encoding: hence an en dash as the bullet.
BULLET = "\u2013"


@dataclass(frozen=True)
class Block:
    kind: str  # h1, h2, h3, para, number, bullet, table
    text: str = ""
    number: str = ""
    rows: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Source:
    path: Path
    meta: dict[str, str]
    blocks: tuple[Block, ...]

    @property
    def published(self) -> datetime:
        """Midnight UTC on the publication date: the fixed date stamped into the built file."""
        day = date.fromisoformat(self.meta["published"])
        return datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)


# --------------------------------------------------------------------------- parsing


def parse_source(path: Path) -> Source:
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].strip() != "---":
        raise ValueError(f"{path.name}: no front matter")
    end = lines.index("---", 1)
    meta = {}
    for line in lines[1:end]:
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip()
    missing = [key for key in REQUIRED_KEYS if not meta.get(key)]
    if missing:
        raise ValueError(f"{path.name}: front matter lacks {', '.join(missing)}")
    return Source(path, meta, tuple(parse_blocks(lines[end + 1:])))


def parse_blocks(lines: list[str]) -> list[Block]:
    blocks: list[Block] = []
    table: list[tuple[str, ...]] = []
    for raw in lines + [""]:
        line = raw.strip()
        if line.startswith("|"):
            table.append(tuple(cell.strip() for cell in line.strip("|").split("|")))
            continue
        if table:
            blocks.append(Block("table", rows=tuple(table)))
            table = []
        if not line:
            continue
        if line.startswith("### "):
            blocks.append(Block("h3", line[4:]))
        elif line.startswith("## "):
            blocks.append(Block("h2", line[3:]))
        elif line.startswith("# "):
            blocks.append(Block("h1", line[2:]))
        elif line.startswith("- "):
            blocks.append(Block("bullet", line[2:]))
        elif match := NUMBERED.match(line):
            blocks.append(Block("number", match.group(2), number=match.group(1)))
        else:
            blocks.append(Block("para", line))
    return blocks


# --------------------------------------------------------------------------- PDF


def build_pdf(source: Source, target: Path) -> None:
    _check_winansi(source)
    styles = _pdf_styles()
    meta = source.meta
    story = [Spacer(1, 60 * mm), Paragraph(escape(meta["title"]), styles["cover_title"])]
    if meta.get("subtitle"):
        story.append(Paragraph(escape(meta["subtitle"]), styles["cover_subtitle"]))
    if meta.get("date_line"):
        story.append(Paragraph(escape(meta["date_line"]), styles["cover_subtitle"]))
    story.append(PageBreak())

    for block in source.blocks:
        text = escape(block.text)
        if block.kind in ("h1", "h2", "h3"):
            story.append(Paragraph(text, styles[block.kind]))
        elif block.kind == "para":
            story.append(Paragraph(text, styles["body"]))
        elif block.kind == "number":
            story.append(Paragraph(text, styles["list"], bulletText=f"{block.number}."))
        elif block.kind == "bullet":
            story.append(Paragraph(text, styles["list"], bulletText=BULLET))
        elif block.kind == "table":
            story.append(_pdf_table(block.rows, styles))

    # reportlab honours SOURCE_DATE_EPOCH, so the PDF's dates become the publication date
    os.environ["SOURCE_DATE_EPOCH"] = str(int(source.published.timestamp()))
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=25 * mm,
        bottomMargin=25 * mm,
        title=meta["title"],
        author=meta["author"],
        subject=meta["footer"],
        creator="Scrutiny corpus/build.py",
        invariant=1,
    )
    canvasmaker = partial(RunningTextCanvas, header=meta["header"], footer=meta["footer"])
    document.build(story, canvasmaker=canvasmaker)
    target.write_bytes(buffer.getvalue())


def _check_winansi(source: Source) -> None:
    text = source.path.read_text(encoding="utf-8")
    bad = sorted({char for char in text if not _in_cp1252(char)})
    if bad:
        raise ValueError(f"{source.path.name}: characters the PDF fonts cannot encode: {bad}")


def _in_cp1252(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _pdf_styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()["Normal"]
    body = ParagraphStyle("body", base, fontName="Helvetica", fontSize=10.5, leading=14, spaceAfter=7)
    return {
        "cover_title": ParagraphStyle("cover_title", body, fontName="Helvetica-Bold", fontSize=24,
                                      leading=30, spaceAfter=16),
        "cover_subtitle": ParagraphStyle("cover_subtitle", body, fontSize=13, leading=18, spaceAfter=8),
        "h1": ParagraphStyle("h1", body, fontName="Helvetica-Bold", fontSize=16, leading=20,
                             spaceBefore=14, spaceAfter=8, keepWithNext=1),
        "h2": ParagraphStyle("h2", body, fontName="Helvetica-Bold", fontSize=13, leading=17,
                             spaceBefore=10, spaceAfter=6, keepWithNext=1),
        "h3": ParagraphStyle("h3", body, fontName="Helvetica-Bold", fontSize=11, leading=15,
                             spaceBefore=8, spaceAfter=4, keepWithNext=1),
        "body": body,
        "list": ParagraphStyle("list", body, leftIndent=20, bulletIndent=4, spaceAfter=5),
        "cell": ParagraphStyle("cell", body, fontSize=9.5, leading=12, spaceAfter=0),
        "cell_head": ParagraphStyle("cell_head", body, fontName="Helvetica-Bold", fontSize=9.5,
                                    leading=12, spaceAfter=0),
    }


def _pdf_table(rows: tuple[tuple[str, ...], ...], styles: dict[str, ParagraphStyle]) -> Table:
    cells = [[Paragraph(escape(cell), styles["cell_head" if i == 0 else "cell"]) for cell in row]
             for i, row in enumerate(rows)]
    table = Table(cells, repeatRows=1, hAlign="LEFT", spaceBefore=4, spaceAfter=10)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6e6e6")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return table


class RunningTextCanvas(Canvas):
    """A canvas that holds back its pages so that each can say "Page N of M"."""

    def __init__(self, *args, header: str, footer: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._header = header
        self._footer = footer
        self._pages: list[dict] = []

    def showPage(self):
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._draw_running_text(number, total)
            super().showPage()
        super().save()

    def _draw_running_text(self, number: int, total: int) -> None:
        width, height = self._pagesize
        self.saveState()
        self.setFont("Helvetica", 8.5)
        self.setFillGray(0.3)
        self.drawString(MARGIN, height - 14 * mm, self._header)
        self.setLineWidth(0.4)
        self.setStrokeGray(0.6)
        self.line(MARGIN, height - 16 * mm, width - MARGIN, height - 16 * mm)
        self.line(MARGIN, 17 * mm, width - MARGIN, 17 * mm)
        self.drawString(MARGIN, 12 * mm, self._footer)
        self.drawRightString(width - MARGIN, 12 * mm, f"Page {number} of {total}")
        self.restoreState()


# --------------------------------------------------------------------------- DOCX


def build_docx(source: Source, target: Path) -> None:
    meta = source.meta
    document = Document()
    _set_core_properties(document, source)

    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.header.paragraphs[0].text = meta["header"]
    _add_footer(section.footer.paragraphs[0], meta["footer"])

    document.add_paragraph(meta["title"], style="Title")
    if meta.get("subtitle"):
        document.add_paragraph(meta["subtitle"], style="Subtitle")
    if meta.get("date_line"):
        document.add_paragraph(meta["date_line"])

    previous, num_id = "", 0
    for block in source.blocks:
        if block.kind in ("h1", "h2", "h3"):
            document.add_heading(block.text, level=int(block.kind[1]))
        elif block.kind == "para":
            document.add_paragraph(block.text)
        elif block.kind == "bullet":
            document.add_paragraph(block.text, style="List Bullet")
        elif block.kind == "number":
            paragraph = document.add_paragraph(block.text, style="List Number")
            if previous != "number":
                num_id = _new_numbering(document, start=int(block.number))
            _set_numbering(paragraph, num_id)
        elif block.kind == "table":
            _docx_table(document, block.rows)
        previous = block.kind

    buffer = io.BytesIO()
    document.save(buffer)
    target.write_bytes(_normalise_zip(buffer.getvalue()))


def _set_core_properties(document, source: Source) -> None:
    props = document.core_properties
    props.title = source.meta["title"]
    props.author = source.meta["author"]
    props.last_modified_by = source.meta["author"]
    props.subject = source.meta["footer"]
    props.comments = source.meta["footer"]
    props.created = source.published
    props.modified = source.published
    props.revision = 1


def _add_footer(paragraph, text: str) -> None:
    """Footer text followed by a live PAGE field."""
    paragraph.add_run(f"{text} | Page ")
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    shown = OxmlElement("w:t")
    shown.text = "1"
    run.append(shown)
    field.append(run)
    paragraph._p.append(field)


def _new_numbering(document, start: int) -> int:
    """A fresh instance of the "List Number" numbering, so each list starts at its own number."""
    numbering = document.part.numbering_part.element
    style = document.styles["List Number"]
    style_num_id = style.element.pPr.numPr.numId.val
    abstract_id = numbering.num_having_numId(style_num_id).abstractNumId.val
    num = numbering.add_num(abstract_id)
    num.add_lvlOverride(ilvl=0).add_startOverride(start)
    return num.numId


def _set_numbering(paragraph, num_id: int) -> None:
    num_pr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
    num_pr.get_or_add_ilvl().val = 0
    num_pr.get_or_add_numId().val = num_id


def _docx_table(document, rows: tuple[tuple[str, ...], ...]) -> None:
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Table Grid"
    for row_cells, row in zip(table.rows, rows):
        for cell, text in zip(row_cells.cells, row):
            cell.text = text
    for cell in table.rows[0].cells:
        for run in cell.paragraphs[0].runs:
            run.bold = True


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip package with fixed timestamps so that repeated builds are identical."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, source.read(item.filename))
    return out.getvalue()


# --------------------------------------------------------------------------- main

BUILDERS = {"pdf": build_pdf, "docx": build_docx}


def main() -> None:
    DOCUMENTS.mkdir(exist_ok=True)
    for path in sorted(SOURCES.glob("*.md")):
        source = parse_source(path)
        fmt = source.meta["format"]
        if fmt not in BUILDERS:
            raise ValueError(f"{path.name}: unknown format {fmt!r}")
        target = DOCUMENTS / source.meta["output"]
        BUILDERS[fmt](source, target)
        print(f"built {target.relative_to(CORPUS)}")


if __name__ == "__main__":
    main()
