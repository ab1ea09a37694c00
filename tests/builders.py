"""Build real test documents: PDFs with reportlab, DOCX with python-docx, HTML by hand."""

from __future__ import annotations

import json
from pathlib import Path


def make_pdf(
    path: Path,
    pages: list[list[tuple[str, str]]],
    header: str | None = None,
    footer: str | None = None,
    two_columns: bool = False,
) -> Path:
    """Write a PDF. `pages` is a list of pages, each a list of (style, text) where style is
    'h1', 'h2', 'p' or 'li'. Lines are drawn at fixed positions so tests know the layout."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    width, height = A4
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    total = len(pages)
    for number, items in enumerate(pages, start=1):
        if header:
            c.setFont("Helvetica", 8)
            c.drawString(50, height - 30, header)
        if footer:
            c.setFont("Helvetica", 8)
            c.drawString(50, 30, footer)
        c.setFont("Helvetica", 8)
        c.drawRightString(width - 50, 30, f"Page {number} of {total}")
        columns = [(50, width / 2 - 20), (width / 2 + 20, width - 50)] if two_columns else [(50, width - 50)]
        col = 0
        y = height - 80
        for style, text in items:
            font, size = {"h1": ("Helvetica-Bold", 16), "h2": ("Helvetica-Bold", 13)}.get(style, ("Helvetica", 10))
            c.setFont(font, size)
            x0, x1 = columns[col]
            indent = 12 if style == "li" else 0
            for line in _wrap(text, font, size, x1 - x0 - indent):
                if y < 70:
                    col += 1
                    if col >= len(columns):
                        raise ValueError("page overflow in test PDF")
                    x0, x1 = columns[col]
                    y = height - 80
                c.drawString(x0 + indent, y, line)
                y -= size * 1.3
            y -= size * 0.9
        c.showPage()
    c.save()
    return path


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines, current = [], ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if stringWidth(candidate, font, size) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def make_docx(path: Path, items: list[tuple[str, str]], footer: str | None = None) -> Path:
    """Write a DOCX; items are (style, text) with style 'h1', 'h2', 'p', 'num' or 'bullet'."""
    import datetime

    import docx

    document = docx.Document()
    styles = {"h1": "Heading 1", "h2": "Heading 2", "p": None, "num": "List Number", "bullet": "List Bullet"}
    for style, text in items:
        document.add_paragraph(text, style=styles[style]) if styles[style] else document.add_paragraph(text)
    if footer:
        document.sections[0].footer.paragraphs[0].text = footer
    document.core_properties.created = datetime.datetime(2020, 1, 1)
    document.save(str(path))
    return path


NEWS_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | Valley Gazette</title>
<meta property="og:site_name" content="Valley Gazette"></head>
<body>
<div id="cookie-banner"><p>We use cookies to improve your experience of this website.</p>
<button>Accept all cookies</button> <a href="/cookies">Cookie settings</a></div>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/whats-on">What's On</a></li><li><a href="/contact">Contact us</a></li></ul></nav></header>
<main><article>
<h1>{title}</h1>
<p class="byline">By Nia Pritchard, Local Democracy Reporter</p>
<p class="dateline">Created on 12/03/2019 @ 10:15</p>
<div class="share"><a href="#">Share this article</a> <a href="#">Follow us on Facebook</a>
<a href="#">Follow us on Twitter</a></div>
<figure><img src="phone.png" alt=""><figcaption>mobile phone link image</figcaption></figure>
{body}
</article>
<aside><h3>Related stories</h3><ul><li><a href="/a">Road works on the bypass</a></li>
<li><a href="/b">School wins award</a></li><li><a href="/c">Market returns to the square</a></li></ul></aside>
</main>
<footer><p>Copyright 2019 Valley Gazette. All rights reserved.</p><a href="/privacy">Privacy policy</a></footer>
</body></html>
"""


def make_news_html(path: Path, title: str, paragraphs: list[str]) -> Path:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    path.write_text(NEWS_PAGE.format(title=title, body=body), encoding="utf-8")
    return path


def make_small_corpus(root: Path, news: bool = False) -> Path:
    """A folder `root/docs` of one council's papers in every format, and one broken file.

    An inspection report (PDF, two pages, the recommendations on page 2),
    cabinet minutes (DOCX), a note (text), with `news` a local news page
    (HTML), and `broken.pdf`, which extraction must refuse. So three documents
    (four with `news`) go in and one failure is recorded.
    """
    docs = Path(root) / "docs"
    docs.mkdir()
    make_pdf(
        docs / "report.pdf",
        [
            [("h1", "Inspection of Adult Services"), ("p", "We inspected adult social care in Afonwy in May 2019.")],
            [
                ("h2", "Recommendations"),
                ("li", "1. Ensure carers assessments are offered to every carer."),
                ("li", "2. Reduce the waiting list for domiciliary care packages."),
            ],
        ],
        header="Inspection of Adult Services | Afonwy",
        footer="Made by the Scrutiny tests",
    )
    make_docx(
        docs / "minutes.docx",
        [("h1", "Cabinet minutes"), ("p", "Members noted the recommendations of the inspection report.")],
    )
    if news:
        make_news_html(
            docs / "news.html",
            "Care at home waits grow",
            [
                "Families in Afonwy are waiting months for care at home, a report has found.",
            ],
        )
    (docs / "notes.txt").write_text("The improvement board met in June and reviewed the recommendations.\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this file was cut short")
    return docs


# ---------------------------------------------------------------- a small classifier, trained in seconds

AREA_CODES = ("A", "B", "C", "D")
# Small and fast: the shape of models/classifier.toml with fewer features and folds.
FAST_CLASSIFIER = {
    "model": {"name": "test", "version": "0", "seed": 1},
    "features": {
        "words": {"ngram_range": [1, 2], "n_features": 2**18, "sublinear_tf": True},
        "chars": {"analyzer": "char_wb", "ngram_range": [3, 5], "n_features": 2**18, "sublinear_tf": True},
    },
    "classifier": {"kind": "linear_svc", "C": 0.5, "class_weight": "balanced"},
    "calibration": {"method": "sigmoid", "cv": 3},
    "thresholds": {"cv_folds": 3, "min": 0.2, "max": 0.8, "step": 0.02, "tolerance": 0.01},
    "abstain": {"band": 0.1},
}


def labelled_subset(per_label: int = 70) -> list[dict]:
    """A deterministic slice of the team's labelled statements with every label and 'none' represented."""
    from pipeline import classify
    from pipeline.config import PROJECT_ROOT

    rows = classify.read_labelled(classify.label_files(PROJECT_ROOT / "corpus" / "labels"))
    picked, counts = [], dict.fromkeys((*AREA_CODES, "none"), 0)
    for r in rows:
        keys = r["labels"] or ["none"]
        if any(counts[k] < per_label for k in keys):
            picked.append(r)
            for k in keys:
                counts[k] += 1
    return picked


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path
