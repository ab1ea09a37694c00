"""Plain-text reader: paragraphs by blank lines, bullets and numbered items as list items."""

from __future__ import annotations

import re

from pipeline.errors import ExtractionError
from pipeline.extract.layout import RawBlock

BULLET_ONLY = re.compile(r"^\s*[•·▪●◦■*–-]\s*$")
BULLET = re.compile(r"^\s*(?:[•·▪●◦■*–-]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s+\S")


CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")
MAX_DAMAGE = 0.05  # share of characters that may be NUL, control or undecodable before a file is binary, not text


def decode_text(data: bytes) -> tuple[str, list[str]]:
    """The text of a plain-text file and what had to be mended to read it.

    A few NUL bytes or invalid UTF-8 sequences in a file of readable prose (a bad copy, a truncated download)
    are removed or replaced, with a warning, and the rest is kept; a file where they are more than a few in
    a hundred characters is binary data, not text."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), []
    warnings: list[str] = []
    nuls = data.count(b"\x00")
    if nuls and nuls * 3 >= len(data):  # UTF-16 without a byte-order mark: every other byte is NUL
        for enc in ("utf-16-le", "utf-16-be"):
            text = data[: len(data) // 2 * 2].decode(enc, errors="replace")
            if len(CONTROL.findall(text)) <= MAX_DAMAGE * max(1, len(text)):
                return text, []
        raise ExtractionError("not text: the file is binary data (NUL bytes throughout)")
    if nuls:
        data = data.replace(b"\x00", b"")
        warnings.append(f"removed {nuls} NUL byte{'s' if nuls > 1 else ''} (binary debris in a text file)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Valid multi-byte sequences elsewhere mean the file is UTF-8 with damage, not a legacy encoding.
        if re.search(rb"[\xc2-\xf4][\x80-\xbf]", data):
            text = data.decode("utf-8-sig", errors="replace")
            bad = text.count("\ufffd")
            warnings.append(f"replaced {bad} invalid UTF-8 byte sequence{'s' if bad > 1 else ''} with U+FFFD")
        else:
            text = data.decode("cp1252", errors="replace")
            warnings.append("not UTF-8: read as Windows-1252")
    damage = len(CONTROL.findall(text)) + nuls
    if damage > MAX_DAMAGE * max(1, len(text) + nuls):
        raise ExtractionError(
            f"not text: {damage} of {len(text) + nuls} characters are binary data (NUL, control or undecodable bytes)"
        )
    return CONTROL.sub(lambda m: "" if m.group(0) != "\ufffd" else m.group(0), text), warnings


def read_text(data: bytes) -> tuple[list[RawBlock], dict]:
    """The blocks of a plain-text file, and what the reader found: `warnings` (what had to be mended to read
    it) and `lines`, the opening as written, for the metadata (a dateline is a line of its own, which
    paragraphs join up)."""
    text, warnings = decode_text(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
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
    return blocks, {"warnings": warnings, "lines": text[:20000]}


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
