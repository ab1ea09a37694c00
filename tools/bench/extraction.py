"""Extraction on both kinds of generated PDF, the agreement of its text, and the fixed cost of a small file.

| row | ours | baseline |
|---|---|---|
| extract | `extract_bytes` on two threads (PDFs read in the two-process reader pool) on the corpus's PDFs, laid out as publishers lay them out (two columns, running header and footer, tables, letters beside long reports) | pdfplumber `page.extract_text()` loop, one process |
| extract_simple | the same on the same documents drawn as the first corpus drew them (one column, every line placed) | the same loop |
| agreement | words in the same order in `read_pdf` (PDFium) and `read_pdf_pdfplumber` (the same layout code on pdfplumber's words and tables, the reading before PDFium), over both samples | target >= 0.98 |
| file_cost | `extract_bytes` one file at a time on 1-3 page PDFs: hand-off to the reader process, reading, metadata and language | `read_pdf` alone on the same files, in this process |
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tools.bench.measure import Variant, interleave
from tools.bench.report import TARGETS, StageResult, Target, skipped
from tools.bench.stages import Context, naive_pdf, source_for

AGREEMENT = Target(">=", 0.98, "\u2265 0.98")
SMALL_PAGES = 3
SMALL_FILES = 24


def _words(data: bytes, reader: Callable[..., Any]) -> list[str]:
    from pipeline.extract.layout import assemble

    return assemble(reader(data, "off")[0])[0].split()


def agreement(datas: list[bytes]) -> tuple[float, int]:
    """(words in the same order in both readings / words of the longer reading, words compared) over `datas`."""
    from pipeline.extract.pdf import read_pdf, read_pdf_pdfplumber

    same = total = 0
    for data in datas:
        ours, theirs = _words(data, read_pdf), _words(data, read_pdf_pdfplumber)
        matcher = difflib.SequenceMatcher(None, ours, theirs, autojunk=False)
        same += sum(m.size for m in matcher.get_matching_blocks())
        total += max(len(ours), len(theirs))
    return (same / total if total else 1.0), total


def _compare(
    ctx: Context,
    key: str,
    title: str,
    datas: list[bytes],
    sources: list[Any],
    pages: int,
    target: Target | None,
    note: str,
) -> StageResult:
    from pipeline.extract import extract_bytes

    settings = ctx.settings()

    def ours() -> None:
        with ThreadPoolExecutor(max_workers=2) as pool:  # as the flow runs it: two threads, two reader processes
            list(pool.map(lambda p: extract_bytes(p[0], p[1], settings), zip(datas, sources, strict=True)))

    a, b = interleave(
        [
            Variant("extract_bytes, 2 threads + 2 reader processes", ours),
            Variant("pdfplumber page.extract_text() loop, 1 process", lambda: naive_pdf(datas)),
        ],
        ctx.plan.repeats,
        progress=ctx.log,
    )
    return StageResult(
        key,
        title,
        a,
        b,
        ratio=b.median / a.median,
        ratio_kind="speedup",
        target=target,
        unit="pages",
        amount=pages,
        work={"pdfs": len(datas), "pages": pages, "bytes": sum(map(len, datas))},
        details={"note": note},
    )


def _simple_sample(ctx: Context) -> tuple[list[bytes], list[Any], int]:
    """The first corpus's drawing of the corpus's PDFs, in corpus order, up to `extract_pages` pages."""
    from pipeline.records import Source
    from tools.bench.corpus import simple_pdf

    datas, sources, pages = [], [], 0
    for e in ctx.corpus.by_format("pdf"):
        made = simple_pdf(ctx.plan.seed, e.spec.index, ctx.plan.max_pages)
        if made is None:
            continue
        data, n = made
        if pages + n > ctx.plan.extract_pages and datas:
            continue
        datas.append(data)
        sources.append(Source(f"simple-{e.path.name}", source_for(e).meta))
        pages += n
    return datas, sources, pages


def measure(ctx: Context) -> list[StageResult]:
    sample = ctx.pdf_sample()
    if not sample:
        return [
            skipped(k, t, "the corpus has no PDF at this scale")
            for k, t in (
                ("extract", "Extraction (PDF)"),
                ("extract_simple", "Extraction, first corpus's PDFs"),
                ("agreement", "Text agreement"),
                ("file_cost", "Per-file cost"),
            )
        ]
    datas = [e.path.read_bytes() for e in sample]
    pages = sum(e.pages or 0 for e in sample)
    note = (
        "ours also finds tables, columns, headings and furniture and infers metadata; first (warm-up) runs "
        "start the reader processes"
    )
    results = [
        _compare(
            ctx,
            "extract",
            "Extraction, realistic PDFs (pages/s)",
            datas,
            [source_for(e) for e in sample],
            pages,
            TARGETS["extract"],
            note + "; two-column reports with running headers, footers and tables, 1-3 page letters",
        )
    ]
    simple, simple_sources, simple_pages = _simple_sample(ctx)
    results.append(
        _compare(
            ctx,
            "extract_simple",
            "Extraction, the first corpus's PDFs (pages/s)",
            simple,
            simple_sources,
            simple_pages,
            None,
            note + "; the same documents drawn one column, every line placed",
        )
    )
    ctx.log("  text agreement: PDFium's reading against pdfplumber's, both samples")
    realistic_agreement, words = agreement(datas)
    simple_agreement, simple_words = agreement(simple)
    overall = (realistic_agreement * words + simple_agreement * simple_words) / max(1, words + simple_words)
    results.append(
        StageResult(
            "agreement",
            "Text agreement, PDFium vs pdfplumber reading",
            ratio=overall,
            ratio_kind="agreement",
            target=AGREEMENT,
            work={"words": words + simple_words},
            details={
                "realistic": round(realistic_agreement, 4),
                "simple": round(simple_agreement, 4),
                "note": f"words in the same order in both readings over the longer one: realistic PDFs "
                f"{realistic_agreement:.4f} ({words:,} words), the first corpus's PDFs "
                f"{simple_agreement:.4f} ({simple_words:,} words); pdfplumber's reading runs the same "
                f"layout code on pdfplumber's words and tables (the reading before PDFium)",
            },
        )
    )
    results.append(file_cost(ctx))
    return results


def file_cost(ctx: Context) -> StageResult:
    """The fixed cost of a small PDF: the whole per-file path against the reading alone."""
    from pipeline.extract import extract_bytes
    from pipeline.extract.pdf import read_pdf

    small = [e for e in ctx.corpus.by_format("pdf") if (e.pages or 0) <= SMALL_PAGES][:SMALL_FILES]
    if not small:
        return skipped("file_cost", "Per-file cost, small PDFs", "the corpus has no PDF of 1-3 pages here")
    datas = [e.path.read_bytes() for e in small]
    sources = [source_for(e) for e in small]
    settings = dataclasses.replace(ctx.settings(), workers=1)

    def whole() -> None:
        for data, source in zip(datas, sources, strict=True):
            extract_bytes(data, source, settings)

    def reading() -> None:
        for data in datas:
            read_pdf(data, "off")

    a, b = interleave(
        [Variant("extract_bytes, one file at a time", whole), Variant("read_pdf alone, in this process", reading)],
        ctx.plan.repeats,
        progress=ctx.log,
    )
    per_file, read_per_file = a.median / len(datas), b.median / len(datas)
    meta = _metadata_cost(datas, sources, settings)
    return StageResult(
        "file_cost",
        f"Per-file cost, {len(datas)} PDFs of 1-{SMALL_PAGES} pages",
        a,
        b,
        ratio=a.median / b.median,
        unit="documents",
        amount=len(datas),
        work={"pdfs": len(datas), "pages": sum(e.pages or 0 for e in small)},
        details={
            "per_file_ms": round(per_file * 1000, 1),
            "reading_ms": round(read_per_file * 1000, 1),
            "metadata_ms": round(meta * 1000, 1),
            "note": f"{per_file * 1000:.0f} ms a file: reading {read_per_file * 1000:.0f} ms, metadata and "
            f"language {meta * 1000:.0f} ms, the hand-off to the reader process and the rest "
            f"{max(0.0, per_file - read_per_file - meta) * 1000:.0f} ms",
        },
    )


def _metadata_cost(datas: list[bytes], sources: list[Any], settings: Any) -> float:
    """Seconds per file spent inferring metadata (council, type, date, language) from the read text."""
    import time

    from pipeline.extract.layout import assemble, clean_inline
    from pipeline.extract.metadata import infer_metadata
    from pipeline.extract.pdf import read_pdf
    from pipeline.lexicon.councils import load_gazetteer

    read = [read_pdf(d, "off") for d in datas]
    gazetteer = load_gazetteer()
    started = time.perf_counter()
    for (raw, _, info), source in zip(read, sources, strict=True):
        everything = "\n\n".join(clean_inline(b.text) for b in raw)
        _, blocks, _ = assemble(raw)
        infer_metadata(gazetteer, everything, blocks, {"title": info.get("Title")}, source.meta, None, source.path)
    return (time.perf_counter() - started) / max(1, len(datas))
