"""Memory stays flat on long PDFs: reading 220 pages peaks at most 1.3 times reading the first 10.

Each file is read in a fresh process and its peak resident memory (ru_maxrss) compared, which is what the
reader's memory cap sees. Without closing pages (pdfplumber keeps each page's layout objects) the long file
peaks at about twice the short one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import resource, sys
from pathlib import Path
from pipeline.extract.pdf import read_pdf
blocks, pages, _ = read_pdf(Path(sys.argv[1]).read_bytes(), ocr="off")
assert pages == int(sys.argv[2]), pages
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _long_pdf(path: Path, pages: int) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    for n in range(1, pages + 1):
        c.setFont("Helvetica-Bold", 14)
        c.drawString(72, 780, f"Section {n}: case file audit")
        c.setFont("Helvetica", 10)
        for i in range(10):
            c.drawString(
                72,
                750 - 14 * i,
                f"Audit {n}.{i}: the team checked plans, visits and supervision records for family {n * 10 + i}.",
            )
        c.drawString(290, 30, str(n))
        c.showPage()
    c.save()
    return path


def _peak_kb(path: Path, pages: int) -> int:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), str(pages)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return int(out.stdout.strip().splitlines()[-1])


def test_long_pdf_peaks_at_most_1_3_times_its_first_ten_pages(tmp_path):
    short = _peak_kb(_long_pdf(tmp_path / "first10.pdf", 10), 10)
    long = _peak_kb(_long_pdf(tmp_path / "long.pdf", 220), 220)
    assert long <= 1.3 * short, f"220 pages peaked at {long / 1024:.1f} MB, 10 pages at {short / 1024:.1f} MB"
