"""Plain-text reader: paragraphs by blank lines, bullets and numbered items as list items."""

from __future__ import annotations

import re

from pipeline.errors import ExtractionError
from pipeline.extract.layout import RawBlock

BULLET_ONLY = re.compile(r"^\s*[•·▪●◦■*–-]\s*$")
BULLET = re.compile(r"^\s*(?:[•·▪●◦■*–-]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s+\S")


def decode_text(data: bytes) -> str:
    if b"\x00" in data:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        raise ExtractionError("not text: the file contains NUL bytes (binary data)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Valid multi-byte sequences elsewhere mean the file is UTF-8 with damage, not a legacy encoding.
        if re.search(rb"[\xc2-\xf4][\x80-\xbf]", data):
            raise ExtractionError(f"broken UTF-8: the bytes at offset {exc.start} are not valid UTF-8") from None
        return data.decode("cp1252", errors="replace")


def read_text(data: bytes) -> list[RawBlock]:
    text = decode_text(data).replace("\r\n", "\n").replace("\r", "\n")
    blocks: list[RawBlock] = []
    pending_bullet = False
    for para in re.split(r"\n\s*\n", text):
        lines = [l for l in para.split("\n") if l.strip()]
        current: RawBlock | None = None
        for line in lines:
            if BULLET_ONLY.match(line):
                pending_bullet = True  # a bullet on its own line starts the next item
                current = None
                continue
            if pending_bullet or BULLET.match(line):
                current = RawBlock("list_item", line.strip())
                blocks.append(current)
                pending_bullet = False
            elif current is not None and current.kind == "paragraph":
                current.text += " " + line.strip()
            elif current is not None and current.kind == "list_item" and line.startswith((" ", "\t")):
                current.text += " " + line.strip()
            else:
                current = RawBlock("paragraph", line.strip())
                blocks.append(current)
    return blocks


def mark_headings(blocks: list[RawBlock]) -> list[RawBlock]:
    """A short unpunctuated line followed by prose is a heading (plain text has no markup to say so)."""
    out = []
    for i, b in enumerate(blocks):
        t = b.text
        if (
            b.kind == "paragraph"
            and len(t.split()) <= 14
            and not re.search(r"[.!?:;,\"”)][-–]?$", t)
            and i + 1 < len(blocks)
            and len(blocks[i + 1].text.split()) > 10
        ):
            b = RawBlock("heading", t, None, 2)
        out.append(b)
    return out
