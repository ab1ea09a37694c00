"""DOCX reader: python-docx paragraphs and tables in body order, keeping headings and lists."""

from __future__ import annotations

import io
import re
import zipfile

from pipeline.errors import ExtractionError
from pipeline.extract.layout import RawBlock


def read_docx(data: bytes) -> tuple[list[RawBlock], dict]:
    import docx
    from docx.oxml.ns import qn

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ExtractionError(f"not a readable DOCX file ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:
        raise ExtractionError(f"not a readable DOCX file ({type(exc).__name__}: {exc})") from exc
    blocks: list[RawBlock] = []
    body = document.element.body
    para_by_el = {p._p: p for p in document.paragraphs}
    table_by_el = {t._tbl: t for t in document.tables}
    counters: dict[tuple[str, int], int] = {}
    style_names: dict[str | None, str] = {}  # python-docx looks a style up by id across all styles on every call
    for child in body.iterchildren():
        if child.tag == qn("w:p"):
            p = para_by_el.get(child)
            if p is None:
                continue
            text = p.text.strip()
            if not text:
                continue
            style_id = child.style
            style = style_names.get(style_id)
            if style is None:
                style = style_names[style_id] = (p.style.name if p.style is not None else "") or ""
            numbered = child.find(f"{qn('w:pPr')}/{qn('w:numPr')}") is not None
            m = re.match(r"(?:Heading|Title)\s*(\d*)", style)
            if m:
                blocks.append(RawBlock("heading", text, None, int(m.group(1) or 1)))
                counters.clear()
            elif style.startswith("List") or numbered:
                if "Number" in style and not re.match(r"^\(?\d+[.)]", text):
                    key = (style, 0)
                    counters[key] = counters.get(key, 0) + 1
                    text = f"{counters[key]}. {text}"
                blocks.append(RawBlock("list_item", text))
            else:
                blocks.append(RawBlock("paragraph", text))
                counters.clear()
        elif child.tag == qn("w:tbl"):
            table = table_by_el.get(child)
            if table is None:
                continue
            for row in table.rows:
                cells: list[str] = []
                for cell in row.cells:
                    value = " ".join(cell.text.split())
                    if not cells or value != cells[-1]:  # merged cells repeat their text
                        cells.append(value)
                if any(cells):
                    blocks.append(RawBlock("table_row", " | ".join(cells)))
    props = document.core_properties
    meta = {
        "title": props.title or None,
        "byline": props.author or None,
        "created": props.created.isoformat() if props.created else None,
    }
    return blocks, meta
