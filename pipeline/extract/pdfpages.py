"""Reading a PDF's pages into positioned lines and table rows, with PDFium or with pdfplumber.

`pdfium_pages` reads with PDFium (pypdfium2): its text layer gives each word, and its character boxes the
word's position, size and font, at a few milliseconds a page. Ruled tables are found from the page's drawn
lines (thin path objects and rectangle sides): rows and columns from the line positions, each cell's text from
the words inside it. `plumber_pages` reads with pdfplumber (pdfminer), the slower reader used before, whose
word geometry the layout thresholds were set on; PDFium's boxes are placed the same way (one font size tall,
standing on the font's descent line), and the two agree on the text (see `make bench`, "text agreement").

Both yield the document info and page count first, then (page number, (lines, table rows, no text), a thunk
that renders the page for OCR) for each page. Each page's words are split into columns at a clear vertical
gutter (left column first) and grouped into lines; a line in the top or bottom band is marked for the
furniture rule in pipeline.extract.pdf.
"""

from __future__ import annotations

import ctypes
import io
import re
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pipeline.errors import ExtractionError
from pipeline.extract.layout import RawBlock

BAND = 0.09  # fraction of page height treated as header / footer band
CHUNK = 40  # pages read per opening of the file by pdfplumber: pdfminer caches every object it resolves
EDGE = 3.0  # a drawn path no thicker than this (points) is a ruled line
# A word: a run of non-space characters, ending at PDFium's line-end hyphen (U+FFFE or U+0002), which it puts
# where a word is hyphenated across lines, with no line break after it.
WORD = re.compile(r"[^\s\x00\x02\u3000\ufffe]+[\x02\ufffe]?|[\x02\ufffe]")

TableRows = list[tuple[tuple[float, float, float, float], RawBlock]]  # (the table's box, a row), in order
Pages = Iterator[Any]


class Unreadable(Exception):
    """PDFium could not open or page through the file: read it with pdfplumber instead."""


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


def group_lines(words: list[dict], page_no: int, height: float) -> list[Line]:
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


def columns(words: list[dict], width: float) -> list[list[dict]]:
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


# ---------------------------------------------------------------- PDFium


def pdfium_pages(data: bytes) -> Pages:
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if re.search(r"password", str(exc), re.I):
            raise ExtractionError("encrypted PDF: it needs a password to open") from exc
        raise Unreadable(str(exc)) from exc
    try:
        try:
            info = {k: str(v) for k, v in doc.get_metadata_dict(skip_empty=True).items()}
            n_pages = len(doc)
        except Exception as exc:
            raise Unreadable(str(exc)) from exc
        yield info, n_pages
        for index in range(n_pages):
            try:
                page = doc[index]
            except pdfium.PdfiumError as exc:  # a page PDFium cannot load: pdfplumber reports why
                raise Unreadable(str(exc)) from exc
            try:
                read = _pdfium_page(page, index + 1)
                yield index + 1, read, lambda page=page: page.render(scale=300 / 72).to_pil()
            except (ExtractionError, Unreadable):
                raise
            except Exception as exc:
                raise ExtractionError(f"cannot read page {index + 1} ({type(exc).__name__}: {exc})") from exc
            finally:
                page.close()
    finally:
        doc.close()


def _pdfium_page(page: Any, number: int) -> tuple[list[Line], TableRows, bool]:
    """One page's lines (column by column) and table rows, and whether it has no text at all."""
    height, width = float(page.get_height()), float(page.get_width())
    textpage = page.get_textpage()
    try:
        words = _pdfium_words(textpage, height)
    finally:
        textpage.close()
    tables, boxes = _grid_tables(_pdfium_edges(page, height), words, number)
    if boxes:
        words = [w for w in words if not _inside(w, boxes)]
    lines: list[Line] = []
    for column in columns(words, width):
        lines.extend(group_lines(column, number, height))
    return lines, tables, not words and not tables


def _pdfium_words(textpage: Any, height: float) -> list[dict]:
    """The page's words from PDFium's text layer (which already puts spaces and line breaks between words),
    each placed with the loose boxes of its first and last characters, with its font size and name. Boxes
    follow pdfminer's geometry (one font size tall, standing on the font's descent line), which the layout
    thresholds were set on."""
    import pypdfium2.raw as R

    raw = textpage.raw
    n = R.FPDFText_CountChars(raw)
    if n <= 0:
        return []
    text = textpage.get_text_range(0, n)
    if len(text) != n:  # characters outside the BMP: read one by one so that indices match
        text = "".join(chr(R.FPDFText_GetUnicode(raw, i)) for i in range(n))
    box, name_buffer, flags = R.FS_RECTF(), ctypes.create_string_buffer(128), ctypes.c_int()
    get_box, get_size, get_font = R.FPDFText_GetLooseCharBox, R.FPDFText_GetFontSize, R.FPDFText_GetFontInfo
    names: dict[bytes, str] = {}
    words = []
    spans = [m.span() for m in WORD.finditer(text)]
    k = 0
    while k < len(spans):
        start, end = spans[k]
        k += 1
        get_box(raw, start, box)
        x0, first = box.left, box.bottom
        get_box(raw, end - 1, box)
        x1, base = box.right, min(first, box.bottom)
        size = round(get_size(raw, start), 2)
        if abs(first - box.bottom) > max(2.0, 0.5 * size) and end - start > 1:
            # a word PDFium ran on across a line break: split it where the characters change line
            for i in range(start + 1, end):
                get_box(raw, i, box)
                if abs(box.bottom - first) > max(2.0, 0.5 * size):
                    spans[k - 1 : k] = [(start, i), (i, end)]
                    k -= 1
                    break
            continue
        word = text[start:end]
        if word[-1] in "\x02\ufffe":
            word = word[:-1] + "-"
        get_font(raw, start, name_buffer, 128, flags)
        name = names.get(name_buffer.value)
        if name is None:
            name = names[name_buffer.value] = name_buffer.value.decode("latin-1")
        words.append(
            {
                "text": word,
                "x0": x0,
                "x1": x1,
                "top": height - base - size,
                "bottom": height - base,
                "size": size,
                "fontname": name,
            }
        )
    return words


def _pdfium_edges(page: Any, height: float) -> list[tuple[float, float, float, float]]:
    """The page's ruled lines as (x0, top, x1, bottom), top-down: thin drawn paths, and the sides of drawn
    rectangles (cell borders and shaded cells alike, as pdfplumber takes them)."""
    import pypdfium2.raw as R

    raw = page.raw
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    edges = []
    for k in range(R.FPDFPage_CountObjects(raw)):
        obj = R.FPDFPage_GetObject(raw, k)
        if R.FPDFPageObj_GetType(obj) != R.FPDF_PAGEOBJ_PATH or not R.FPDFPageObj_GetBounds(
            obj, left, bottom, right, top
        ):
            continue
        x0, x1, y0, y1 = left.value, right.value, height - top.value, height - bottom.value
        if x1 - x0 <= EDGE and y1 - y0 <= EDGE:
            continue  # a dot
        if y1 - y0 <= EDGE or x1 - x0 <= EDGE:
            edges.append((x0, y0, x1, y1))
        else:
            edges += [(x0, y0, x1, y0), (x0, y1, x1, y1), (x0, y0, x0, y1), (x1, y0, x1, y1)]
    return edges


def _cluster(values: list[float], tolerance: float = 3.0) -> list[float]:
    out: list[float] = []
    for v in sorted(values):
        if not out or v - out[-1] > tolerance:
            out.append(v)
    return out


def _inside(word: dict, boxes: list[tuple]) -> bool:
    return any(
        b[0] - 1 <= word["x0"] and word["x1"] <= b[2] + 1 and b[1] - 1 <= word["top"] and word["bottom"] <= b[3] + 1
        for b in boxes
    )


def _grid_tables(
    edges: list[tuple[float, float, float, float]], words: list[dict], page_no: int
) -> tuple[TableRows, list[tuple]]:
    """Ruled tables: edges that touch form a grid; its rows lie between horizontal lines and its cells between
    the vertical lines that cross each row (merged cells have none). A grid needs two rows and two columns."""
    if len(edges) < 4:
        return [], []
    parent = list(range(len(edges)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(edges):
        for j in range(i + 1, len(edges)):
            b = edges[j]
            if a[0] - 3 <= b[2] and b[0] - 3 <= a[2] and a[1] - 3 <= b[3] and b[1] - 3 <= a[3]:
                parent[root(i)] = root(j)
    groups: dict[int, list] = {}
    for i, e in enumerate(edges):
        groups.setdefault(root(i), []).append(e)
    found, boxes = [], []
    for group in groups.values():
        horizontal = [e for e in group if e[3] - e[1] <= EDGE]
        vertical = [e for e in group if e[2] - e[0] <= EDGE]
        ys = _cluster([(e[1] + e[3]) / 2 for e in horizontal])
        xs = _cluster([(e[0] + e[2]) / 2 for e in vertical])
        if len(ys) < 3 or len(xs) < 3:
            continue
        bbox = (min(e[0] for e in group), min(e[1] for e in group), max(e[2] for e in group), max(e[3] for e in group))
        near = [w for w in words if _inside(w, [bbox])]
        rows = []
        for y0, y1 in zip(ys, ys[1:]):
            middle = (y0 + y1) / 2
            cuts = [
                x
                for x in xs
                if any(abs((e[0] + e[2]) / 2 - x) <= 3 and e[1] - 2 <= middle <= e[3] + 2 for e in vertical)
            ]
            if len(cuts) < 2:
                continue
            cells = []
            for x0, x1 in zip(cuts, cuts[1:]):
                inside = [
                    w for w in near if x0 <= (w["x0"] + w["x1"]) / 2 <= x1 and y0 <= (w["top"] + w["bottom"]) / 2 <= y1
                ]
                inside.sort(key=lambda w: (round(w["top"]), w["x0"]))
                cells.append(" ".join(w["text"] for w in inside))
            rows.append(cells)
        if len(rows) < 2 or max(len(r) for r in rows) < 2:
            continue
        boxes.append(bbox)
        for cells in rows:
            cells = [" ".join(c.split()) for c in cells]
            if any(cells):
                found.append((bbox, RawBlock("table_row", " | ".join(cells), page_no)))
    return found, boxes


# ---------------------------------------------------------------- pdfplumber


def plumber_pages(data: bytes) -> Pages:
    import pdfplumber

    try:
        pdf = pdfplumber.open(io.BytesIO(data))
    except Exception as exc:
        raise open_error(exc) from exc
    with pdf:
        try:
            info = {
                k: v.decode("utf-8", "ignore") if isinstance(v, bytes) else str(v)
                for k, v in (pdf.metadata or {}).items()
            }
            n_pages = len(_page_refs(pdf))
        except Exception as exc:
            raise open_error(exc) from exc
    yield info, n_pages
    # Memory stays flat on long documents: each chunk of pages is read from a fresh opening of the file, and
    # each page is closed after use, so neither pdfminer's object cache nor pdfplumber's page caches grow.
    for first in range(1, n_pages + 1, CHUNK):
        numbers = list(range(first, min(n_pages, first + CHUNK - 1) + 1))
        try:
            chunk = pdfplumber.open(io.BytesIO(data), pages=numbers)
        except Exception as exc:
            raise open_error(exc) from exc
        with chunk:
            for page in chunk.pages:
                number = page.page_number
                try:
                    yield number, _plumber_page(page, number), lambda page=page: page.to_image(resolution=300).original
                except ExtractionError:
                    raise
                except Exception as exc:
                    raise ExtractionError(f"cannot read page {number} ({type(exc).__name__}: {exc})") from exc
                finally:
                    page.close()


def _plumber_tables(page, page_no: int) -> tuple[TableRows, list[tuple]]:
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
        for row in rows:
            cells = [" ".join((c or "").split()) for c in row]
            if any(cells):
                found.append((tuple(table.bbox)[:4], RawBlock("table_row", " | ".join(cells), page_no)))
    return found, boxes


def _page_refs(pdf) -> list:
    """The page objects of the file, without building pdfplumber's Page for each one."""
    from pdfminer.pdfpage import PDFPage

    return list(PDFPage.create_pages(pdf.doc))


def _plumber_page(page, number: int) -> tuple[list[Line], TableRows, bool]:
    """One page's lines (column by column) and table rows, and whether it has no text at all."""
    tables, boxes = _plumber_tables(page, number)
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
    for column in columns(words, float(page.width)):
        lines.extend(group_lines(column, number, float(page.height)))
    return lines, tables, not words and not tables


def open_error(exc: BaseException) -> ExtractionError:
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
