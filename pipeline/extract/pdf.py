"""PDF reader: pdfplumber words grouped into lines, columns, headings, list items and tables.

Reading order: each page is split at a clear vertical gutter into columns, read
left column first; running headers and footers (lines repeated across pages in
the top or bottom band) and page numbers are dropped; words hyphenated across
line ends are rejoined; headings are recognised by font size and weight.
"""

from __future__ import annotations

import io
import pickle
import re
import shutil
import statistics
import subprocess
from collections import Counter
from dataclasses import dataclass

from pipeline.errors import ExtractionError, NoText
from pipeline.extract.layout import RawBlock

LIST_MARKER = re.compile(r"^(?:\(?\d{1,2}[.)]|\(?[a-z][.)]|\(?[ivx]{1,4}[.)]|[•·▪●◦■–-])\s+")
PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$|^-\s*\d{1,4}\s*-$", re.I)
DOT_LEADER = re.compile(r"(?:\.\s?){4,}\s*\d{1,4}$|…{2,}\s*\d{1,4}$")
BAND = 0.09  # fraction of page height treated as header / footer band
CHUNK = 40  # pages read per opening of the file: pdfminer caches every object it resolves until the file is closed


@dataclass(slots=True)
class Line:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool
    page: int
    band: str = ""  # "top", "bottom" or ""


def _group_lines(words: list[dict], page_no: int, height: float) -> list[Line]:
    words = sorted(words, key=lambda w: (round(w["top"]), w["x0"]))
    lines: list[list[dict]] = []
    for w in words:
        if lines and abs(lines[-1][0]["top"] - w["top"]) <= max(2.0, 0.3 * float(w.get("size", 10))):
            lines[-1].append(w)
        else:
            lines.append([w])
    out = []
    for ws in lines:
        ws.sort(key=lambda w: w["x0"])
        text = " ".join(w["text"] for w in ws)
        sizes = [float(w.get("size", 0)) for w in ws]
        bold = sum(len(w["text"]) for w in ws if "bold" in str(w.get("fontname", "")).lower())
        top = min(w["top"] for w in ws)
        bottom = max(w["bottom"] for w in ws)
        band = "top" if bottom < height * BAND else "bottom" if top > height * (1 - BAND) else ""
        out.append(
            Line(
                text,
                ws[0]["x0"],
                ws[-1]["x1"],
                top,
                bottom,
                statistics.median(sizes),
                bold >= 0.6 * sum(len(w["text"]) for w in ws),
                page_no,
                band,
            )
        )
    return out


def _columns(words: list[dict], width: float) -> list[list[dict]]:
    """Split a page's words at a vertical gutter near the middle, if there is one."""
    if len(words) < 40:
        return [words]
    best = None
    for frac in (0.5, 0.48, 0.52, 0.45, 0.55, 0.42, 0.58):
        x = width * frac
        crossing = sum(1 for w in words if w["x0"] < x - 3 < w["x1"] or w["x0"] < x + 3 < w["x1"])
        left = sum(1 for w in words if w["x1"] <= x)
        right = sum(1 for w in words if w["x0"] >= x)
        if crossing <= 0.02 * len(words) and min(left, right) >= 0.25 * len(words):
            best = x
            break
    if best is None:
        return [words]
    body = [w for w in words if not (w["x0"] < best < w["x1"])]
    full = [w for w in words if w["x0"] < best < w["x1"]]  # full-width lines (titles) read first
    return [full, [w for w in body if w["x1"] <= best], [w for w in body if w["x0"] >= best]]


def _norm_furniture(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower()).strip()


def _furniture_keys(lines: list[Line]) -> set[str]:
    """The lines of a page in its top or bottom band, normalised: candidates for running headers and footers."""
    return {_norm_furniture(l.text) for l in lines if l.band}


def _strip_page(lines: list[Line], counts: Counter[str], need: int) -> list[Line]:
    """Drop running headers/footers (repeated in the top or bottom band on `need` pages), page numbers and
    table-of-contents entries."""
    kept = []
    for l in lines:
        if l.band and (counts.get(_norm_furniture(l.text), 0) >= need or PAGE_NUMBER.match(l.text.strip())):
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
            and prev is not None  # (a gap implies a line before)
            and gap is not None
            and gap <= 0.9 * line.size
            and line.x0 > prev.x0 + 2
        ):
            last.text = _join(last.text, text)  # hanging indent of a list item
        else:
            blocks.append(RawBlock("paragraph", text, line.page))
        prev = line
    return blocks


def _tables(page, page_no: int) -> tuple[list[tuple[float, RawBlock]], list[tuple]]:
    found, boxes = [], []
    try:
        tables = page.find_tables()
    except Exception:  # a malformed table grid is not worth failing the page for
        return [], []
    for table in tables:
        rows = table.extract() or []
        if len(rows) < 2 or max((len(r) for r in rows), default=0) < 2:
            continue
        boxes.append(table.bbox)
        for i, row in enumerate(rows):
            cells = [" ".join((c or "").split()) for c in row]
            if any(cells):
                found.append((table.bbox[1] + i * 0.001, RawBlock("table_row", " | ".join(cells), page_no)))
    return found, boxes


def ocr_available() -> bool:
    return shutil.which("tesseract") is not None


def _ocr_page(page, number: int, languages: str) -> list[RawBlock]:
    """OCR one page with Tesseract (English and Welsh): paragraphs by blank lines."""
    image = page.to_image(resolution=300).original
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
    import pdfplumber

    try:
        pdf = pdfplumber.open(io.BytesIO(data))
    except Exception as exc:
        raise _open_error(exc) from exc
    pages_lines: list[bytes] = []
    furniture: Counter[str] = Counter()
    ocr_blocks: dict[int, list[RawBlock]] = {}
    without_text: list[int] = []
    can_ocr = ocr == "auto" and ocr_available()
    info: dict = {}
    with pdf:
        try:
            info = {
                k: v.decode("utf-8", "ignore") if isinstance(v, bytes) else str(v)
                for k, v in (pdf.metadata or {}).items()
            }
            n_pages = len(_page_refs(pdf))
        except Exception as exc:
            raise _open_error(exc) from exc
    if n_pages == 0:
        raise ExtractionError("broken PDF: it has no pages (its page tree is empty or points to itself)")
    # Memory stays flat on long documents: each chunk of pages is read from a fresh opening of the file, and
    # each page is closed after use, so neither pdfminer's object cache nor pdfplumber's page caches grow.
    for first in range(1, n_pages + 1, CHUNK):
        numbers = list(range(first, min(n_pages, first + CHUNK - 1) + 1))
        try:
            chunk = pdfplumber.open(io.BytesIO(data), pages=numbers)
        except Exception as exc:
            raise _open_error(exc) from exc
        with chunk:
            for page in chunk.pages:
                number = page.page_number
                try:
                    lines, tables, empty = _read_page(page, number)
                    if empty:
                        if can_ocr:
                            ocr_blocks[number] = _ocr_page(page, number, ocr_languages)
                        else:
                            without_text.append(number)
                    furniture.update(_furniture_keys(lines))
                    # Kept as one pickled bytes object per page: thousands of small objects that live to the end
                    # would pin the allocator's arenas among the page's freed layout objects, and memory would grow.
                    pages_lines.append(pickle.dumps((lines, tables), protocol=pickle.HIGHEST_PROTOCOL))
                except ExtractionError:
                    raise
                except Exception as exc:
                    raise ExtractionError(f"cannot read page {number} ({type(exc).__name__}: {exc})") from exc
                finally:
                    page.close()
    info["ocr_pages"] = sorted(n for n, b in ocr_blocks.items() if b)
    info["pages_without_text"] = without_text
    need = max(2, int(0.5 * n_pages + 0.5)) if n_pages > 1 else 10**9

    def page_lines(number: int) -> tuple[list[Line], list[tuple[float, RawBlock]]]:
        lines, tables = pickle.loads(pages_lines[number - 1])
        return _strip_page(lines, furniture, need), tables

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
            positioned = [(_top_of(b, lines), b) for b in page_blocks] + tables
            positioned.sort(key=lambda t: t[0])
            page_blocks = [b for _, b in positioned]
        blocks.extend(page_blocks)
    return _merge_across_pages(blocks), n_pages, info


def _page_refs(pdf) -> list:
    """The page objects of the file, without building pdfplumber's Page for each one."""
    from pdfminer.pdfpage import PDFPage

    return list(PDFPage.create_pages(pdf.doc))


def _read_page(page, number: int) -> tuple[list[Line], list[tuple[float, RawBlock]], bool]:
    """One page's lines (column by column) and table rows, and whether it has no text at all."""
    tables, boxes = _tables(page, number)
    words = page.extract_words(extra_attrs=["size", "fontname"], keep_blank_chars=False)
    if boxes:
        words = [
            w
            for w in words
            if not any(
                b[0] - 1 <= w["x0"] and w["x1"] <= b[2] + 1 and b[1] - 1 <= w["top"] and w["bottom"] <= b[3] + 1
                for b in boxes
            )
        ]
    lines: list[Line] = []
    for column in _columns(words, float(page.width)):
        lines.extend(_group_lines(column, number, float(page.height)))
    return lines, tables, not words and not tables


def _weighted_median(counts: Counter[float]) -> float:
    """The body text size: the median font size, each size weighted by the characters set in it."""
    half = sum(counts.values()) / 2
    seen = 0
    for size in sorted(counts):
        seen += counts[size]
        if seen >= half:
            return size
    return 10.0


def _open_error(exc: BaseException) -> ExtractionError:
    """Turn whatever pdfminer raised into a reason a person understands."""
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and len(chain) < 5:
        chain.append(e)
        e = e.__cause__ or e.__context__
    names = " ".join(type(e).__name__ + " " + str(e) for e in chain)
    if re.search(r"Password|Encrypt", names, re.I):
        return ExtractionError("encrypted PDF: it needs a password to open")
    if isinstance(exc, RecursionError) or "Recursion" in names:
        return ExtractionError("broken PDF: its structure loops back on itself")
    detail = str(exc) or type(exc).__name__
    return ExtractionError(f"not a readable PDF ({detail[:200]})")


def _top_of(block: RawBlock, lines: list[Line]) -> float:
    head = block.text[:20]
    for l in lines:
        if l.text.strip().startswith(head[: len(l.text.strip())][:20]) and head.startswith(l.text.strip()[:10]):
            return l.top
    return 0.0


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
