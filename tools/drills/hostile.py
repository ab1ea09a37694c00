"""Every kind of hostile file the documents issue names, written from scratch, plus a normal batch to mix in.

Each is bounded: extraction must end with a stored document or a `failures` row
with a plain reason, within the time limits of Settings, and the normal
documents of the batch must come out exactly as they do without the hostile ones.
"""

from __future__ import annotations

import zlib
from pathlib import Path

PDF_HEAD = b"%PDF-1.4\n"


def _pdf(path: Path, lines: list[str]) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    y = 780
    for line in lines:
        c.drawString(60, y, line)
        y -= 16
    c.showPage()
    c.save()
    return path


def repeated_pages_pdf(path: Path) -> Path:
    """Three pages that carry the same paragraphs, starting high on the page (inside the band where running
    headers sit), under a real running header: a good file, to be kept whole."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    lines = [
        "Inspectors found that the quality of assessments had improved over the year and that",
        "managers now check every plan before it is agreed with the family, which was not",
        "recorded.",
    ]
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    for page in range(3):
        c.setFont("Helvetica", 8)
        c.drawString(56, 814, "Annual review \u2013 Afonwy")
        c.drawString(56, 28, f"Page {page + 1}")
        c.setFont("Helvetica", 11)
        y = 792.0
        for _ in range(3):
            for line in lines:
                c.drawString(56, y, line)
                y -= 14
            y -= 10
        c.drawString(56, y, "Senior leaders have improved oversight.")
        c.showPage()
    c.save()
    return path


def normal_batch(folder: Path) -> list[Path]:
    """Three ordinary documents (PDF, HTML, text) written for the drills."""
    folder.mkdir(parents=True, exist_ok=True)
    pdf = _pdf(
        folder / "inspection.pdf",
        [
            "Inspection of Adult Services, Afonwy County Borough Council",
            "Recommendations",
            "1. The council should shorten waits for assessments.",
            "2. Ensure carers are offered an assessment of their own.",
        ],
    )
    html = folder / "news.html"
    html.write_text(
        "<html><head><title>Care waits</title></head><body><main><h1>Care waits grow</h1>"
        "<p>Families in Afonwy wait longer for care at home, the council heard on Tuesday.</p>"
        "<p>The cabinet member said new staff would start in the spring.</p></main></body></html>",
        encoding="utf-8",
    )
    text = folder / "minutes.txt"
    text.write_text(
        "Cabinet minutes\n\nMembers noted the inspection report and agreed an action plan.\n", encoding="utf-8"
    )
    return [pdf, html, text]


def hostile_batch(folder: Path, big_html_mb: int = 50) -> dict[str, Path]:
    """kind -> file, one of each hostile kind."""
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    def put(kind: str, name: str, data: bytes) -> None:
        (folder / name).write_bytes(data)
        files[kind] = folder / name

    whole = _pdf(folder / "whole.pdf", ["A report that will be cut short on purpose."]).read_bytes()
    (folder / "whole.pdf").unlink()
    put("truncated PDF", "truncated.pdf", whole[: len(whole) // 2])
    put("random bytes named .pdf", "random.pdf", bytes((n * 197 + 13) % 256 for n in range(40_000)))
    locked = folder / "encrypted.pdf"
    c = canvas.Canvas(str(locked), encrypt=pdfencrypt.StandardEncryption("secret", canPrint=0))
    c.drawString(100, 700, "Nobody reads this without the password.")
    c.save()
    files["encrypted PDF"] = locked
    bomb = zlib.compress(b"0" * (150 * 2**20), 9)
    put(
        "decompression bomb",
        "bomb.pdf",
        PDF_HEAD + b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >> endobj\n"
        b"4 0 obj << /Length "
        + str(len(bomb)).encode()
        + b" /Filter /FlateDecode >> stream\n"
        + bomb
        + b"\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
    )
    put(
        "self-referencing page tree",
        "loop.pdf",
        PDF_HEAD + b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [2 0 R] /Count 1 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
    )
    blank = folder / "no-text.pdf"
    c = canvas.Canvas(str(blank), invariant=1)
    c.rect(100, 100, 200, 200, fill=1)
    c.showPage()
    c.save()
    files["PDF with no text"] = blank
    put("empty file", "empty.txt", b"")
    put(
        "HTML nested 20,000 deep",
        "deep.html",
        b"<html><body>"
        + b"<div>" * 20_000
        + b"<p>The panel found that supervision is now monthly in every team.</p>"
        + b"</div>" * 20_000
        + b"</body></html>",
    )
    big = folder / "huge.html"
    with big.open("wb") as f:
        f.write(b"<html><body>")
        chunk = b"<p>Words about care at home and the waiting list in the county.</p>\n" * 1000
        for _ in range(big_html_mb * 2**20 // len(chunk) + 1):
            f.write(chunk)
        f.write(b"</body></html>")
    files[f"{big_html_mb} MB HTML"] = big
    put("binary named .html", "binary.html", bytes(range(256)) * 64)
    put("NUL bytes in text", "nul.txt", b"The board met \x00 in June and agreed the plan.\n")
    put(
        "broken UTF-8 text",
        "broken-utf8.txt",
        "The council\u2019s plan ".encode() + b"\xff\xfe\xfd" + b" was agreed.\n",
    )
    files["PDF whose pages repeat their paragraphs"] = repeated_pages_pdf(folder / "repeated-pages.pdf")
    return files
