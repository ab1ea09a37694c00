"""Format-independent layout: raw blocks from a format reader become the document text.

Each reader (pdf, html, docx, text) yields `RawBlock`s in reading order. This
module drops page furniture, and lays the blocks out into one text with exact
offsets, so that every statement can point back into `Document.text`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.lexicon import DATA_DIR
from pipeline.records import Block, Page

BOILERPLATE_FILE = DATA_DIR / "boilerplate.txt"
_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u3000]+")


@dataclass(slots=True)  # a long PDF holds tens of thousands of them at once
class RawBlock:
    kind: str  # heading | paragraph | list_item | table_row
    text: str
    page: int | None = None
    level: int = 0


@lru_cache(maxsize=2)
def boilerplate_patterns(path: Path = BOILERPLATE_FILE) -> tuple[re.Pattern[str], ...]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return tuple(re.compile(p, re.IGNORECASE) for p in lines if p.strip() and not p.startswith("#"))


def is_boilerplate(text: str) -> bool:
    flat = " ".join(text.split())
    if not flat:
        return True
    return any(p.search(flat) for p in boilerplate_patterns())


def clean_inline(text: str) -> str:
    """Collapse runs of spaces; keep single newlines out of blocks."""
    text = text.replace("\u00ad", "")  # soft hyphens
    return _SPACE.sub(" ", " ".join(text.split("\n"))).strip()


def assemble(
    raw: list[RawBlock], page_count: int = 0, ocr_pages: frozenset[int] = frozenset()
) -> tuple[str, tuple[Block, ...], tuple[Page, ...]]:
    """Lay blocks out as text separated by blank lines, dropping boilerplate.

    Returns the text, the blocks with offsets into it, and the page spans.
    """
    parts: list[str] = []
    blocks: list[Block] = []
    pos = 0
    page_start: dict[int, int] = {}
    page_end: dict[int, int] = {}
    for rb in raw:
        text = clean_inline(rb.text)
        if not text or is_boilerplate(text):
            continue
        if parts:
            parts.append("\n\n")
            pos += 2
        start, end = pos, pos + len(text)
        parts.append(text)
        pos = end
        blocks.append(Block(rb.kind, text, start, end, rb.page, rb.level))  # type: ignore[arg-type]
        if rb.page is not None:
            page_start.setdefault(rb.page, start)
            page_end[rb.page] = end
    pages = []
    last = 0
    for n in range(1, page_count + 1):
        start = page_start.get(n, last)
        end = page_end.get(n, start)
        pages.append(Page(n, start, end, ocr=n in ocr_pages))
        last = end
    return "".join(parts), tuple(blocks), tuple(pages)


def drop_menu_runs(raw: list[RawBlock], min_run: int = 3) -> list[RawBlock]:
    """Drop runs of short unpunctuated lines: site menus pasted as text.

    A run of `min_run` or more consecutive short blocks (at most six words, no
    sentence punctuation) is a menu or a link list, not prose, unless a block in
    it is a heading followed by prose.
    """

    def menu_like(b: RawBlock) -> bool:
        t = b.text.strip()
        return (
            b.kind in ("paragraph", "list_item", "heading") and len(t.split()) <= 6 and not re.search(r"[.!?:;\"”]$", t)
        )

    # Items of a list the text introduces ("Membership includes:") are content however short, and so are
    # the wrapped lines that carry them on; the list ends at the first other block.
    introduced = [False] * len(raw)
    in_list = False
    for k, b in enumerate(raw):
        if in_list and (
            b.kind == "list_item" or (b.kind == "paragraph" and menu_like(b) and k and raw[k - 1].kind == "list_item")
        ):
            introduced[k] = True
        else:
            in_list = bool(re.search(r":[-–]?$", b.text.strip()))
    keep = [True] * len(raw)
    i = 0
    while i < len(raw):
        j = i
        while j < len(raw) and menu_like(raw[j]):
            j += 1
        if j - i >= min_run:
            for k in range(i, j):
                keep[k] = introduced[k]
            # The last short line before prose is usually that prose's heading.
            if j < len(raw) and raw[j - 1].kind == "heading":
                keep[j - 1] = True
        i = max(j, i + 1)
    return [b for b, k in zip(raw, keep) if k]
