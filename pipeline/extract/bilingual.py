"""A bilingual document split into its English and its Welsh part.

Welsh public bodies often publish one file in both languages: paragraphs that
alternate, Welsh first then English, or side-by-side columns (which the PDF
reader lays out column by column). Each language becomes a part of its own: a
Document with its own text, blocks, pages and language, so its statements,
search and classification (English only) behave as for any other document.

The English part keeps the file's id (the sha256 of its bytes), the Welsh part
gets an id derived from it; both name the file in `part_of`. The two parts are
translations of each other, which `pipeline.run.pairing` records as a pair.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

from pipeline.extract.layout import RawBlock, assemble
from pipeline.lexicon.language import detect_languages
from pipeline.records import Document

MIN_SHARE = 0.2  # each language must hold at least this share of the text ...
MIN_CHARS = 300  # ... and at least this many characters, so a quoted Welsh greeting does not split a page
_WORD = re.compile(r"[^\W\d_]+")
# Words frequent in one language and rare in the other: a cheap test before detecting each block's language.
_CY = frozenset(
    "mae yn yr y ac ei eu wedi sydd bod gyda hefyd cyngor gwasanaethau ar gyfer ynghylch fod oedd "
    "hyn hynny nid maen ydym rydym drwy gan".split()
)
_EN = frozenset("the and of to is that with for was were this which have has are be from by".split())


def part_id(file_id: str, language: str) -> str:
    """The id of a language part: the file's id for English, a derived sha256 for Welsh."""
    if language == "en":
        return file_id
    return hashlib.sha256(f"{file_id}:{language}".encode()).hexdigest()


def _looks_mixed(text: str) -> bool:
    words = [w.lower() for w in _WORD.findall(text)]
    cy = sum(w in _CY for w in words)
    en = sum(w in _EN for w in words)
    total = cy + en
    return total >= 20 and min(cy, en) >= 0.12 * total


def block_languages(texts: list[str]) -> list[str]:
    """The language of each block. Blocks too short to judge (headings of a word or two, numbers, table rows of
    figures) take the language of the block before them, or after them at the start."""
    judged: list[str | None] = [None] * len(texts)
    long_idx = [i for i, t in enumerate(texts) if len(_WORD.findall(t)) >= 4]
    for i, detected in zip(long_idx, detect_languages([texts[i] for i in long_idx])):
        judged[i] = detected
    out: list[str | None] = list(judged)
    last: str | None = None
    for i, lang in enumerate(out):
        if lang is None:
            out[i] = last
        else:
            last = lang
    nxt = None
    for i in range(len(out) - 1, -1, -1):
        if judged[i] is not None:
            nxt = judged[i]
        if out[i] is None:
            out[i] = nxt or "en"
    return [o or "en" for o in out]


def split_languages(doc: Document, known_language: str | None = None) -> tuple[Document, ...]:
    """The document's language parts: (doc,) when it is in one language, else (English part, Welsh part).

    A language given with the source (a manifest or --meta) declares the document monolingual: known values win.
    """
    if known_language in ("en", "cy") or not _looks_mixed(doc.text):
        return (doc,)
    langs = block_languages([b.text for b in doc.blocks])
    chars = {lang: sum(len(b.text) for b, l in zip(doc.blocks, langs) if l == lang) for lang in ("en", "cy")}
    total = sum(chars.values()) or 1
    if min(chars.values()) < max(MIN_CHARS, MIN_SHARE * total):
        return (doc,)
    ocr = frozenset(doc.ocr_pages)
    parts = []
    for lang in ("en", "cy"):
        raw = [RawBlock(b.kind, b.text, b.page, b.level) for b, l in zip(doc.blocks, langs) if l == lang]
        text, blocks, pages = assemble(raw, len(doc.pages), ocr)
        title = next((b.text[:300] for b in blocks[:8] if b.kind == "heading"), None) or doc.metadata.title
        parts.append(
            replace(
                doc,
                id=part_id(doc.id, lang),
                text=text,
                blocks=blocks,
                pages=pages,
                part_of=doc.id,
                metadata=replace(doc.metadata, language=lang, title=title),
            )
        )
    return tuple(parts)
