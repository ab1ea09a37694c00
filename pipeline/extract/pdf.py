"""PDF reader: words with their positions grouped into lines, columns, headings, list items and tables.

Pages are read with PDFium (pipeline.extract.pdfpages); a file PDFium cannot open or page through (other than
a locked one) is read again with pdfplumber, which gives the reasons people see for broken files.

Reading order: each page is split at a clear vertical gutter into columns, read left column first; running
headers and footers and page numbers are dropped; words hyphenated across line ends are rejoined; headings
are recognised by font size and weight.

Furniture: a line is a running header or footer only when it sits in the top or bottom band of the page, is
short, stands apart from the body (no body line within a paragraph's line spacing of it, directly or through
other band lines), and recurs on at least half the pages. Body text is never dropped for repeating: pages
that carry near-identical paragraphs keep them all.
"""

from __future__ import annotations

import io
import pickle
import re
import shutil
import subprocess
from collections import Counter
from typing import Any

from pipeline.errors import ExtractionError, NoText
from pipeline.extract.layout import RawBlock
from pipeline.extract.pdfpages import Line, Pages, TableRows, Unreadable, pdfium_pages, plumber_pages

LIST_MARKER = re.compile(r"^(?:\(?\d{1,2}[.)]|\(?[a-z][.)]|\(?[ivx]{1,4}[.)]|[•·▪●◦■–-])\s+")
PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$|^-\s*\d{1,4}\s*-$", re.I)
DOT_LEADER = re.compile(r"(?:\.\s?){4,}\s*\d{1,4}$|…{2,}\s*\d{1,4}$")
MAX_FURNITURE_CHARS = 90  # a running header or footer is short: a longer line is body text wherever it sits


def _norm_furniture(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower()).strip()


def furniture_candidates(lines: list[Line]) -> list[Line]:
    """A page's lines that may be running headers or footers: short lines in the top or bottom band that stand
    apart from the body. A band line within a paragraph's line spacing of body text, directly or through other
    band lines, belongs to that text (a paragraph that starts high on the page), however often it repeats."""
    band = [l for l in lines if l.band]
    if not band:
        return []
    attached = {id(l) for l in lines if not l.band}
    grew = True
    while grew:
        grew = False
        for l in band:
            if id(l) in attached:
                continue
            for o in lines:
                if id(o) not in attached or o.x1 < l.x0 or o.x0 > l.x1:
                    continue
                gap = o.top - l.bottom if o.top >= l.top else l.top - o.bottom
                if -2.0 <= gap <= 0.9 * max(l.size, o.size):
                    attached.add(id(l))
                    grew = True
                    break
    return [l for l in band if id(l) not in attached and len(l.text.strip()) <= MAX_FURNITURE_CHARS]


def _strip_page(lines: list[Line], furniture: set[str], counts: Counter[str], need: int) -> list[Line]:
    """Drop running headers/footers (this page's candidates recurring on `need` pages), page numbers in the
    bands and table-of-contents entries."""
    kept = []
    for l in lines:
        if l.band and (
            (_norm_furniture(l.text) in furniture and counts.get(_norm_furniture(l.text), 0) >= need)
            or PAGE_NUMBER.match(l.text.strip())
        ):
            continue
        if DOT_LEADER.search(l.text):  # table of contents entry
            continue
        kept.append(l)
    return kept


def _join(prev: str, nxt: str) -> str:
    if re.search(r"[A-Za-z]-$", prev) and nxt[:1].islower():
        return prev[:-1] + nxt
    return prev + " " + nxt


def _blocks_from_lines(lines: list[Line], body_size: float) -> list[RawBlock]:
    blocks: list[RawBlock] = []
    prev: Line | None = None
    for line in lines:
        text = line.text.strip()
        if not text:
            continue
        heading = line.size >= body_size * 1.15 or (
            line.bold and len(text) < 100 and not text.endswith((".", ",", ";"))
        )
        heading = heading and len(text.split()) <= 16 and not LIST_MARKER.match(text)
        gap = (line.top - prev.bottom) if prev is not None and prev.page == line.page else None
        new_para = (
            prev is None
            or gap is None
            or gap > 0.9 * line.size
            or gap < -2  # column jump goes upwards
            or abs(line.size - prev.size) > 0.8
        )
        last = blocks[-1] if blocks else None
        if heading:
            if (
                last
                and last.kind == "heading"
                and prev is not None
                and not new_para
                and abs(line.size - prev.size) < 0.5
            ):
                last.text = last.text + " " + text
            else:
                level = 1 if line.size >= body_size * 1.4 else 2
                blocks.append(RawBlock("heading", text, line.page, level))
        elif LIST_MARKER.match(text):
            blocks.append(RawBlock("list_item", text, line.page))
        elif last and last.kind in ("paragraph", "list_item") and not new_para:
            last.text = _join(last.text, text)
        elif (
            last
            and last.kind == "list_item"
            and gap is not None
            and prev is not None
            and gap <= 0.9 * line.size
            and line.x0 > prev.x0 + 2
        ):
            last.text = _join(last.text, text)  # hanging indent of a list item
        else:
            blocks.append(RawBlock("paragraph", text, line.page))
        prev = line
    return blocks


def ocr_available() -> bool:
    return shutil.which("tesseract") is not None


def _ocr_image(image: Any, number: int, languages: str) -> list[RawBlock]:
    """OCR one page image with Tesseract (English and Welsh): paragraphs by blank lines."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    result = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", languages, "--psm", "3"],
        input=buffer.getvalue(),
        capture_output=True,
        timeout=180,
    )
    if result.returncode != 0:
        raise ExtractionError(f"OCR failed on page {number}: {result.stderr.decode('utf-8', 'replace')[:200]}")
    text = result.stdout.decode("utf-8", "replace")
    blocks = []
    for para in re.split(r"\n\s*\n", text):
        lines = [l.strip() for l in para.splitlines() if l.strip()]
        if not lines:
            continue
        joined = lines[0]
        for line in lines[1:]:
            joined = _join(joined, line)
        kind = "list_item" if LIST_MARKER.match(joined) else "paragraph"
        blocks.append(RawBlock(kind, joined, number))
    return blocks


def read_pdf(data: bytes, ocr: str = "auto", ocr_languages: str = "eng+cym") -> tuple[list[RawBlock], int, dict]:
    """Read a PDF's bytes into blocks. Returns (blocks, page count, document info).

    Pages with no text layer are OCRed with Tesseract when `ocr` is "auto" and Tesseract is installed;
    they are listed in info["ocr_pages"]. Pages that could not be OCRed are listed in
    info["pages_without_text"] so they are reported, never silently skipped. Pages with text are never OCRed.
    """
    try:
        return _read(pdfium_pages(data), ocr, ocr_languages)
    except Unreadable:
        return read_pdf_pdfplumber(data, ocr, ocr_languages)


def read_pdf_pdfplumber(data: bytes, ocr: str = "auto", ocr_languages: str = "eng+cym"):
    """The same reading on pdfplumber's words and table finder: for files PDFium cannot read, and the bench's
    agreement check."""
    return _read(plumber_pages(data), ocr, ocr_languages)


def _read(pages: Pages, ocr: str, ocr_languages: str) -> tuple[list[RawBlock], int, dict]:
    info, n_pages = next(pages)
    if n_pages == 0:
        raise ExtractionError("broken PDF: it has no pages (its page tree is empty or points to itself)")
    pages_lines: list[bytes] = []
    furniture: Counter[str] = Counter()
    ocr_blocks: dict[int, list[RawBlock]] = {}
    without_text: list[int] = []
    can_ocr = ocr == "auto" and ocr_available()
    for number, (lines, tables, empty), image in pages:
        if empty:
            if can_ocr:
                ocr_blocks[number] = _ocr_image(image(), number, ocr_languages)
            else:
                without_text.append(number)
        candidates = {_norm_furniture(l.text) for l in furniture_candidates(lines)}
        furniture.update(candidates)
        # Kept as one pickled bytes object per page: thousands of small objects that live to the end would
        # pin the allocator's arenas among the page's freed layout objects, and memory would grow.
        pages_lines.append(pickle.dumps((lines, tables, candidates), protocol=pickle.HIGHEST_PROTOCOL))
    info["ocr_pages"] = sorted(n for n, b in ocr_blocks.items() if b)
    info["pages_without_text"] = without_text
    need = max(2, int(0.5 * n_pages + 0.5)) if n_pages > 1 else 10**9

    def page_lines(number: int) -> tuple[list[Line], TableRows]:
        lines, tables, candidates = pickle.loads(pages_lines[number - 1])
        return _strip_page(lines, candidates, furniture, need), tables

    sizes: Counter[float] = Counter()
    has_tables = False
    for number in range(1, len(pages_lines) + 1):
        lines, tables = page_lines(number)
        has_tables = has_tables or bool(tables)
        for l in lines:
            sizes[l.size] += len(l.text)
    if not sizes and not has_tables and not any(ocr_blocks.values()):
        if without_text and ocr == "auto":
            raise NoText(
                "no text layer on any page, and Tesseract is not installed to OCR them "
                "(install Debian's tesseract-ocr with tesseract-ocr-cym)"
            )
        raise NoText(
            "no text: the PDF has no extractable text"
            + (" (OCR found none either)" if ocr_blocks else " (OCR is switched off)" if ocr != "auto" else "")
        )
    body = _weighted_median(sizes) if sizes else 10.0
    blocks: list[RawBlock] = []
    for number in range(1, len(pages_lines) + 1):
        if number in ocr_blocks:
            blocks.extend(ocr_blocks[number])
            continue
        lines, tables = page_lines(number)
        pages_lines[number - 1] = b""  # released once they are blocks
        page_blocks = _blocks_from_lines(lines, body)
        if tables:
            # Place table rows among the page's blocks by vertical position.
            page_blocks = place_tables(page_blocks, lines, tables)
        blocks.extend(page_blocks)
    return _merge_across_pages(blocks), n_pages, info


def _weighted_median(counts: Counter[float]) -> float:
    """The body text size: the median font size, each size weighted by the characters set in it."""
    half = sum(counts.values()) / 2
    seen = 0
    for size in sorted(counts):
        seen += counts[size]
        if seen >= half:
            return size
    return 10.0


def _first_lines(blocks: list[RawBlock], lines: list[Line]) -> list[Line | None]:
    """The line each block starts with. Blocks are made from the lines in order, so the search goes on from
    the last match (many paragraphs start with the same words)."""
    out: list[Line | None] = []
    at = 0
    for block in blocks:
        head = " ".join(block.text.split())[:20]
        found = None
        for i in range(at, len(lines)):
            text = " ".join(lines[i].text.split())
            if text and (head.startswith(text[:20]) or text.startswith(head)):
                found, at = lines[i], i + 1
                break
        out.append(found)
    return out


def place_tables(blocks: list[RawBlock], lines: list[Line], tables: TableRows) -> list[RawBlock]:
    """Put each table's rows among the page's blocks (in reading order) before the first block below the table
    in the same column (a block whose first line overlaps the table horizontally), or after the last block
    above it there; a table with neither goes last."""
    placed = list(zip(_first_lines(blocks, lines), blocks, strict=True))
    out = list(blocks)
    by_table: dict[tuple, list[RawBlock]] = {}
    for box, row in tables:
        by_table.setdefault(box, []).append(row)
    for (x0, top, x1, _), rows in sorted(by_table.items(), key=lambda t: t[0][1]):
        column = [i for i, (l, _) in enumerate(placed) if l is not None and l.x0 < x1 and l.x1 > x0]
        below = [i for i in column if placed[i][0].top >= top]  # type: ignore[union-attr]
        at = below[0] if below else column[-1] + 1 if column else len(placed)
        placed[at:at] = [(None, r) for r in rows]
        out = [b for _, b in placed]
    return out


def _merge_across_pages(blocks: list[RawBlock]) -> list[RawBlock]:
    out: list[RawBlock] = []
    for b in blocks:
        last = out[-1] if out else None
        if (
            last
            and b.kind == "paragraph"
            and last.kind in ("paragraph", "list_item")
            and last.page != b.page
            and not re.search(r"[.!?:]\W*$", last.text)
            and b.text[:1].islower()
        ):
            last.text = _join(last.text, b.text)
        else:
            out.append(b)
    return out
