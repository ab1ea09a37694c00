"""Extraction: a source's bytes become a Document (text, blocks, pages, metadata).

`extract(source, settings)` is the stage's one entry point. The format is
decided from the bytes (with the file name as a hint), never from the name
alone, so a binary file named .html or random bytes named .pdf fail clearly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline import versions
from pipeline.config import Settings
from pipeline.errors import ExtractionError, NoText
from pipeline.extract.layout import RawBlock, assemble, clean_inline, drop_menu_runs, is_boilerplate
from pipeline.lexicon.councils import load_gazetteer
from pipeline.records import Document, Source, document_id_for

EXTRACTOR_VERSION = versions.EXTRACT
__all__ = ["EXTRACTOR_VERSION", "extract", "extract_bytes", "sniff_format", "read_source"]


def sniff_format(data: bytes, name: str = "") -> str:
    suffix = Path(name).suffix.lower()
    if data.startswith(b"%PDF-") or data[:1024].lstrip().startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        if b"word/" in data[:65536] or suffix == ".docx":
            return "docx"
        raise ExtractionError("unsupported format: a ZIP archive that is not a Word document")
    if suffix == ".pdf":
        raise ExtractionError("not a PDF: the file does not start with a PDF header")
    if suffix == ".docx":
        raise ExtractionError("not a DOCX file: it is not a ZIP archive")
    if suffix in (".doc", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".rtf", ".zip", ".png", ".jpg", ".jpeg", ".gif"):
        raise ExtractionError(f"unsupported format: {suffix} files are not read")
    if suffix in (".html", ".htm", ".xhtml"):
        return "html"
    from pipeline.extract.html import looks_like_html

    return "html" if looks_like_html(data) else "text"


def check_size(size: int, settings: Settings) -> None:
    """Refuse a file over the size cap before a byte of it is read."""
    if size > settings.max_file_bytes:
        raise ExtractionError(
            f"too large: {size / 2**20:.0f} MB is over the {settings.max_file_bytes / 2**20:.0f} MB limit"
        )


def read_source(source: Source, settings: Settings) -> bytes:
    path = Path(source.path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ExtractionError("file not found") from None
    except OSError as exc:
        raise ExtractionError(f"cannot read the file: {exc.strerror}") from exc
    if path.is_dir():
        raise ExtractionError("is a directory, not a document")
    if size == 0:
        raise NoText("empty file")
    check_size(size, settings)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ExtractionError(f"cannot read the file: {exc.strerror}") from exc


def extract(source: Source, settings: Settings) -> Document:
    """Read one source file into a Document, or raise an ExtractionError with a reason."""
    return extract_bytes(read_source(source, settings), source, settings)


def extract_bytes(data: bytes, source: Source, settings: Settings) -> Document:
    if not data:
        raise NoText("empty file")
    fmt = sniff_format(data, source.path)
    found: dict[str, Any] = {}
    page_count = 0
    if fmt == "pdf":
        from pipeline.extract.isolate import worker

        timeout = min(
            settings.pdf_timeout_max_s, max(settings.pdf_timeout_s, len(data) / 2**20 * settings.pdf_seconds_per_mb)
        )
        raw, page_count, info = worker(settings.pdf_memory_mb, settings.workers).call(
            "pdf", data, settings.ocr, settings.ocr_languages, timeout=timeout
        )
        found = {
            "title": info.get("Title") or None,
            "created": info.get("CreationDate") or None,
            "ocr_pages": info.get("ocr_pages", []),
            "pages_without_text": info.get("pages_without_text", []),
        }
    elif fmt == "html":
        from pipeline.extract.html import read_html

        if len(data) > settings.max_html_bytes:
            raise ExtractionError(
                f"too large: {len(data) / 2**20:.0f} MB of HTML is over the "
                f"{settings.max_html_bytes / 2**20:.0f} MB limit"
            )
        raw, found = read_html(data, url=source.url or source.meta.get("url"))
    elif fmt == "docx":
        from pipeline.extract.docx import read_docx

        raw, found = read_docx(data)
    else:
        from pipeline.extract.text import read_text

        raw, found = read_text(data)
    return _document(data, fmt, raw, page_count, found, source)


def _document(
    data: bytes, fmt: str, raw: list[RawBlock], page_count: int, found: dict[str, Any], source: Source
) -> Document:
    from pipeline.extract.metadata import infer_metadata

    # Datelines and bylines are page furniture, not statements, but they tell the date and author:
    # metadata is read from everything the reader found, statements only from the content.
    everything = "\n\n".join(clean_inline(b.text) for b in raw)
    raw = [b for b in raw if not is_boilerplate(clean_inline(b.text))]
    if fmt == "text":
        from pipeline.extract.text import mark_headings

        raw = mark_headings(drop_menu_runs(raw))
    text, blocks, pages = assemble(raw, page_count, frozenset(found.get("ocr_pages", [])))
    if not text.strip():
        raise NoText("no text: nothing readable was found in the document")
    meta = infer_metadata(load_gazetteer(), everything, blocks, found, source.meta, source.url, source.path)
    return Document(
        id=document_id_for(data),
        source_path=str(source.path),
        format=fmt,  # type: ignore[arg-type]
        text=text,
        blocks=blocks,
        pages=pages,
        metadata=meta,
        size=len(data),
        extractor_version=EXTRACTOR_VERSION,
        notes=_notes(found),
    )


def _notes(found: dict[str, Any]) -> tuple[str, ...]:
    notes = list(found.get("warnings") or ())
    missing = found.get("pages_without_text") or []
    if missing:
        notes.append(
            f"page(s) {', '.join(map(str, missing))} have no text layer and were not OCRed "
            f"(Tesseract is not installed or OCR is off)"
        )
    return tuple(notes)
