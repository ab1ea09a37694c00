"""Document-level figures on the real samples in ../shared/corpus-samples: publication-date precision and coverage,
document-type accuracy, sentence boundaries and (given a hand-checked gold file) quote speakers.

The samples are plain-text excerpts; each is also rendered the way such pages are published, so that the HTML and
PDF paths are measured too:

- txt: the excerpt as a .txt file (what ../shared/checks/contract_check.py does);
- html: an HTML page with a cookie banner, a menu, and a footer "© 2026 <publisher>. All rights reserved." and
  no machine-readable date (the hostile case: the date must come from the text, or stay empty);
- html_meta: the same page stating a full-day gold date in its markup, one of article:published_time, JSON-LD
  datePublished, <time datetime> and DC.date in turn (a check of the readers, not of the rules);
- pdf: a PDF with a running header (publisher | title) and footer (© 2026, page n of m).

Date precision is over the dates given (a partial gold date matches on its precision; a date given where the gold
has none is wrong); coverage is the share of gold-dated documents given their right date. Type accuracy is over all
65 documents with the samples' `council_press_release` counted as our `news`, and also as the contract check counts
it (only documents whose gold type is one of ours other than `other`). Boundaries: precision and recall of
statement starts and ends against tests/data/segmentation-gold.jsonl, each excerpt rendered as above.

    .venv/bin/python tools/documents_figures.py [--shared ../shared] [--speaker-gold FILE] [--only dates,boundaries]

The speaker gold is kept outside the repository (sentences of the samples must not be copied into it): a JSON list of
{"doc": <documents.jsonl id or seed file stem>, "key": <the first words of the quote statement>, "speaker": <surname>}.
"""

from __future__ import annotations

import argparse
import html as htmlmod
import json
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BULLETS = "•·▪●◦-*"


def paragraphs(text: str) -> list[str]:
    """Paragraphs by blank lines; a line that starts with a bullet is an item of its own."""
    out = []
    for p in text.split("\n\n"):
        current: list[str] = []
        for line in p.split("\n"):
            line = line.strip()
            if line[:1] in BULLETS and line[1:2] == " " and current:
                out.append(" ".join(current).strip())
                current = []
            current.append(line)
        if " ".join(current).strip():
            out.append(" ".join(current).strip())
    return out


def _item(p: str) -> bool:
    return p[:1] in BULLETS and p[1:2] == " "


def date_markup(i: int, date: str) -> tuple[str, str]:
    k = i % 4
    if k == 0:
        return f'<meta property="article:published_time" content="{date}T09:30:00+00:00">', ""
    if k == 1:
        ld = json.dumps({"@context": "https://schema.org", "@type": "WebPage", "datePublished": date})
        return f'<script type="application/ld+json">{ld}</script>', ""
    if k == 2:
        return "", f'<p class="meta">Posted <time datetime="{date}">on the date</time></p>'
    return f'<meta name="DC.date" content="{date}">', ""


def html_page(d: dict, i: int = 0, with_date: bool = False) -> str:
    head, top = date_markup(i, d["date"]) if with_date and d.get("date") and len(d["date"]) == 10 else ("", "")
    pub, title = htmlmod.escape(d.get("publisher") or "Publisher"), htmlmod.escape(d.get("title") or "Document")
    body = "".join(
        f"<ul><li>{htmlmod.escape(p[2:])}</li></ul>" if _item(p) else f"<p>{htmlmod.escape(p)}</p>"
        for p in paragraphs(d["text"])
    )
    return f"""<!DOCTYPE html>
<html lang="{d.get("language") or "en"}"><head><meta charset="utf-8"><title>{title} | {pub}</title>
<meta property="og:site_name" content="{pub}">{head}</head><body>
<div class="cookie-banner"><p>We use cookies to make this site work and to understand how you use it.</p>
<button>Accept all cookies</button><button>Reject optional cookies</button><a href="/cookies">Cookie settings</a></div>
<a class="skip" href="#main">Skip to main content</a>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/services">Services</a></li><li><a href="/news">News</a></li>
<li><a href="/council">Your council</a></li><li><a href="/contact">Contact us</a></li></ul></nav></header>
<main id="main"><article><h1>{title}</h1>{top}{body}</article></main>
<footer><ul><li><a href="/privacy">Privacy notice</a></li><li><a href="/accessibility">Accessibility</a></li></ul>
<p>© 2026 {pub}. All rights reserved.</p></footer></body></html>"""


def pdf_file(path: Path, d: dict) -> Path:
    """A PDF of the excerpt: a title, its paragraphs and items, a running header and a footer on every page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    width, height = A4
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    header = f"{d.get('publisher') or 'Publisher'} | {d.get('title') or 'Document'}"[:110]
    footer = f"© 2026 {d.get('publisher') or 'Publisher'}. All rights reserved."
    number = [0]

    def new_page() -> float:
        if number[0]:
            c.showPage()
        number[0] += 1
        c.setFont("Helvetica", 8)
        c.drawString(50, height - 30, header)
        c.drawString(50, 30, footer)
        c.drawRightString(width - 50, 30, f"Page {number[0]}")
        return height - 80

    y = new_page()
    items = [("h1", d.get("title") or "Document")] + [
        ("li", "- " + p[2:]) if _item(p) else ("p", p) for p in paragraphs(d["text"])
    ]
    for style, text in items:
        font, size = ("Helvetica-Bold", 15) if style == "h1" else ("Helvetica", 10)
        indent = 12 if style == "li" else 0
        line = ""
        lines = []
        for word in text.split():
            candidate = f"{line} {word}".strip()
            if stringWidth(candidate, font, size) <= width - 100 - indent or not line:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
        for ln in lines:
            if y < 70:
                y = new_page()
            c.setFont(font, size)
            c.drawString(50 + indent, y, ln)
            y -= size * 1.3
        y -= size * 0.9
    c.showPage()
    c.save()
    return path


def write_variant(variant: str, d: dict, folder: Path, name: str, i: int = 0) -> Path:
    if variant == "txt":
        path = folder / f"{name}.txt"
        path.write_text(d["text"], encoding="utf-8")
        return path
    if variant == "pdf":
        return pdf_file(folder / f"{name}.pdf", d)
    path = folder / f"{name}.html"
    path.write_text(html_page(d, i, with_date=variant == "html_meta"), encoding="utf-8")
    return path


def dates_and_types(shared: Path, variants: list[str], settings) -> dict:
    from pipeline.extract import extract
    from pipeline.records import Source

    rows = [json.loads(line) for line in (shared / "corpus-samples" / "documents.jsonl").open(encoding="utf-8")]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in variants:
            folder = Path(tmp) / variant
            folder.mkdir()
            given = right = covered = dated = typed = ours = ours_right = late_wrong = 0
            for i, d in enumerate(rows):
                m = extract(Source(str(write_variant(variant, d, folder, d["id"][:80], i))), settings).metadata
                gold_date, gold_type = d["date"], {"council_press_release": "news"}.get(d["doc_type"], d["doc_type"])
                ok = bool(gold_date and m.published and m.published[: len(gold_date)] == gold_date)
                if m.published:
                    given += 1
                    right += ok
                    late_wrong += m.published >= "2026" and not ok
                if gold_date:
                    dated += 1
                    covered += ok
                typed += m.doc_type == gold_type
                if gold_type not in ("other", "news"):
                    ours += 1
                    ours_right += m.doc_type == gold_type
            out[variant] = {
                "date_precision": round(right / max(1, given), 3),
                "dates_given": given,
                "dates_right": right,
                "date_coverage": round(covered / max(1, dated), 3),
                "gold_dated": dated,
                "wrong_dates_2026": late_wrong,
                "type_accuracy": round(typed / len(rows), 3),
                "type_accuracy_contract": round(ours_right / max(1, ours), 3),
                "documents": len(rows),
            }
    return out


def _align(statements: list[str], source: str) -> list[tuple[int, int]]:
    """Offsets of each statement in the excerpt, in order; one not found (rendering moved it) is skipped."""
    spans, cursor = [], 0
    for text in statements:
        m = re.compile(r"\s+".join(re.escape(w) for w in text.split())).search(source, cursor)
        if m:
            spans.append((m.start(), m.end()))
            cursor = m.end()
    return spans


def _excerpt(row: dict, shared: Path) -> str:
    path = shared / row["file"]
    if "id" not in row:
        return path.read_text(encoding="utf-8")
    for line in path.open(encoding="utf-8"):
        d = json.loads(line)
        if d["id"] == row["id"]:
            return d["text"]
    raise KeyError(row["id"])


def boundaries(shared: Path, variants: list[str], settings) -> dict:
    from pipeline.extract import extract
    from pipeline.records import Source
    from pipeline.segment import segment

    gold_rows = [json.loads(line) for line in (ROOT / "tests" / "data" / "segmentation-gold.jsonl").open()]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in variants:
            folder = Path(tmp) / variant
            folder.mkdir()
            hits = found = gold = 0
            for n, row in enumerate(gold_rows):
                text = _excerpt(row, shared)
                d = {"text": text, "title": "Document", "publisher": "Publisher", "language": "en"}
                doc = extract(Source(str(write_variant(variant, d, folder, f"{n:02d}"))), settings)
                spans = _align([s.text for s in segment(doc, settings)], text)
                g = {("s", s) for s, _ in row["sentences"]} | {("e", e) for _, e in row["sentences"]}
                f = {("s", s) for s, _ in spans} | {("e", e) for _, e in spans}
                hits, found, gold = hits + len(g & f), found + len(f), gold + len(g)
            out[variant] = {
                "boundary_precision": round(hits / max(1, found), 3),
                "boundary_recall": round(hits / max(1, gold), 3),
                "gold_statements": gold // 2,
            }
    return out


def speakers(shared: Path, gold_path: Path, variants: list[str], settings) -> dict:
    from pipeline.extract import extract
    from pipeline.records import Source
    from pipeline.segment import segment

    gold = json.loads(gold_path.read_text(encoding="utf-8"))
    docs = {
        json.loads(line)["id"]: json.loads(line)
        for line in (shared / "corpus-samples" / "documents.jsonl").open(encoding="utf-8")
    }
    for p in (shared / "corpus-samples" / "seeds").glob("*.txt"):
        docs[p.stem] = {
            "text": p.read_text(encoding="utf-8"),
            "title": "News",
            "publisher": "Local news",
            "language": "en",
        }
    squash = lambda s: " ".join(s.replace("“", '"').replace("”", '"').split())  # noqa: E731
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in variants:
            folder = Path(tmp) / variant
            folder.mkdir()
            statements = {}
            for doc_id in {g["doc"] for g in gold}:
                path = write_variant(variant, docs[doc_id], folder, doc_id[:80])
                statements[doc_id] = segment(extract(Source(str(path)), settings), settings)
            right = 0
            for g in gold:
                key = squash(g["key"])
                s = next((s for s in statements[g["doc"]] if squash(s.text).startswith(key)), None)
                right += bool(s and s.speaker and g["speaker"].casefold() in s.speaker.casefold())
            out[variant] = {"speaker_accuracy": round(right / max(1, len(gold)), 3), "quotes": len(gold)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--speaker-gold", type=Path, help="hand-checked quotes and speakers (kept outside the repo)")
    ap.add_argument("--only", default="dates,boundaries,speakers")
    ap.add_argument("--variants", default="txt,html,html_meta,pdf")
    a = ap.parse_args(argv)
    if not (a.shared / "corpus-samples").is_dir():
        print(f"{a.shared}/corpus-samples is absent", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from pipeline.config import Settings

    settings = Settings(workers=1)
    variants = a.variants.split(",")
    only = set(a.only.split(","))
    figures: dict = {}
    if "dates" in only:
        figures["dates_and_types"] = dates_and_types(a.shared, variants, settings)
    if "boundaries" in only:
        figures["boundaries"] = boundaries(a.shared, [v for v in variants if v != "html_meta"], settings)
    if "speakers" in only and a.speaker_gold:
        figures["speakers"] = speakers(
            a.shared, a.speaker_gold, [v for v in variants if v in ("txt", "html")], settings
        )
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
