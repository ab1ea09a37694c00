"""The stage benchmarks: each stage of the pipeline against a baseline on the same input, interleaved.

| stage | ours | baseline |
|---|---|---|
| extract | `extract_bytes` on two threads, PDFs parsed in the two-process reader pool | pdfplumber `page.extract_text()` loop, one process |
| segment | `segment(document, settings)` | `nlp.pipe` over the same texts with the same pipeline and batch size |
| classify | `classify(model, texts)` | the fitted vectoriser's `transform` alone |
| link, link_add | `link(items)`; adding k items to the index of the others | one chunked sparse product within each council; k/N of the full link |
| store | `save_document` per document into a fresh database | one plain `executemany` per table into the same schema |
| search, canned | `scrutiny serve` over loopback, 1 and 4 concurrent clients, the canned bounded search; every canned query | the same SQL on a bare sqlite3 connection |
| pdf_memory | peak memory reading a 500-page report | peak memory reading its first 10 pages |

Every function returns `StageResult`s; each `probe_*` function is run by
`measure.child_peak` in a fresh process and returns the stage to run there.
"""

from __future__ import annotations

import asyncio
import io
import pickle
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tools.bench import adapters, searchdb
from tools.bench.corpus import Corpus, Entry
from tools.bench.measure import Timing, Variant, interleave
from tools.bench.report import TARGETS, StageResult, Target, skipped


@dataclass(frozen=True)
class Plan:
    """Sizes of everything measured; `--quick` shrinks them all."""

    out: Path
    seed: int
    scales: tuple[int, ...]
    repeats: int
    quick: bool
    sample_docs: int  # documents extracted, segmented, classified and stored in the stage comparisons
    extract_pages: int  # PDF pages in the extraction comparison (whole documents up to this many pages)
    prefect_docs: int
    search_rows: int
    link_items: int
    link_add: int
    long_pages: int
    long_first: int
    prefect: bool  # the ephemeral Prefect server takes 10-50 s to start: --quick does without
    max_pages: int | None = None  # shorter PDFs in the corpus (--quick)
    model: str = "default"  # the classifier of the whole run and re-run (`scrutiny ingest --model`)
    probes: tuple[str, ...] = ("extract", "segment", "classify", "link", "store", "search_1")  # memory measured


@dataclass
class Context:
    plan: Plan
    corpus: Corpus
    log: Callable[[str], None]
    _extracted: list[tuple[Entry, Any]] | None = field(default=None, repr=False)
    _segmented: list[tuple[Entry, Any, list[Any]]] | None = field(default=None, repr=False)

    @property
    def work(self) -> Path:
        path = self.plan.out / "work"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def settings(self, **changes: Any) -> Any:
        from pipeline.config import Settings

        return Settings(db_path=self.work / "scratch.db", workers=2, **changes)

    @property
    def sample(self) -> list[Entry]:
        return list(self.corpus.entries[: self.plan.sample_docs])

    def pdf_sample(self) -> list[Entry]:
        """Whole PDFs in corpus order that fit in `extract_pages` pages (at least one)."""
        pdfs = self.corpus.by_format("pdf")
        chosen, pages = [], 0
        for e in pdfs:
            if pages + (e.pages or 0) <= self.plan.extract_pages:
                chosen.append(e)
                pages += e.pages or 0
        return chosen or sorted(pdfs, key=lambda e: e.pages or 0)[:1]

    def extracted(self) -> list[tuple[Entry, Any]]:
        """The sample's Documents (extracted once, untimed); failures are left out."""
        if self._extracted is None:
            from pipeline.errors import PipelineError
            from pipeline.extract import extract_bytes

            settings, out = self.settings(), []
            for e in self.sample:
                try:
                    out.append((e, extract_bytes(e.path.read_bytes(), source_for(e), settings)))
                except PipelineError as exc:
                    self.log(f"  sample document {e.path.name} failed to extract: {exc}")
            self._extracted = out
        return self._extracted

    def segmented(self) -> list[tuple[Entry, Any, list[Any]]]:
        if self._segmented is None:
            from pipeline.segment import segment

            settings = self.settings()
            self._segmented = [(e, d, segment(d, settings)) for e, d in self.extracted()]
            with (self.work / "segmented.pkl").open("wb") as f:  # the input of the memory probes
                pickle.dump([(e.path, d, s) for e, d, s in self._segmented], f)
        return self._segmented


def source_for(e: Entry) -> Any:
    from pipeline.records import Source

    meta = {k: v for k, v in e.manifest_row().items() if k != "path" and v}
    return Source(str(e.path), meta)


# ---------------------------------------------------------------- extraction


def naive_pdf(datas: list[bytes]) -> int:
    """The baseline: pdfplumber's plain text of every page, one process."""
    import pdfplumber

    pages = 0
    for data in datas:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for page in pdf.pages:
                page.extract_text()
                pages += 1
    return pages


def probe_extract(paths: list[str]) -> Callable[[], object]:
    """What each reader process does: `read_pdf` on the sample PDFs."""
    from pipeline.extract.pdf import read_pdf

    datas = [Path(p).read_bytes() for p in paths]

    def run() -> None:
        for data in datas:
            read_pdf(data)

    return run


# ---------------------------------------------------------------- segmentation


def _unit_texts(document: Any) -> list[str]:
    """The texts `segment` puts through the pipeline (its units), or the non-heading blocks if the private
    helper has moved."""
    from pipeline import segment as seg

    units = getattr(seg, "_units", None)
    if callable(units):
        return [document.text[u.start : u.end] for u in units(document)]
    return [b.text for b in document.blocks if b.kind != "heading"]


def segment(ctx: Context) -> StageResult:
    from pipeline.segment import load_nlp
    from pipeline.segment import segment as run_segment

    docs = [d for _, d in ctx.extracted()]
    settings = ctx.settings()
    nlp = load_nlp(settings.segmenter_config)
    texts = [_unit_texts(d) for d in docs]

    def ours() -> None:
        for d in docs:
            run_segment(d, settings)

    def raw() -> None:
        for t in texts:  # one pipe per document, as segment() does
            for _ in nlp.pipe(t, batch_size=settings.batch_size):
                pass

    a, b = interleave(
        [
            Variant("segment(document, settings)", ours),
            Variant(f"nlp.pipe, same {len(nlp.pipe_names)} components", raw),
        ],
        ctx.plan.repeats,
        progress=ctx.log,
    )
    statements = sum(len(s) for _, _, s in ctx.segmented())
    return StageResult(
        "segment",
        "Segmentation",
        a,
        b,
        ratio=a.median / b.median,
        target=TARGETS["segment"],
        unit="statements",
        amount=statements,
        work={
            "documents": len(docs),
            "texts": sum(map(len, texts)),
            "statements": statements,
            "components": list(nlp.pipe_names),
        },
    )


def probe_segment(pickled: str) -> Callable[[], object]:
    from pipeline.config import Settings
    from pipeline.segment import load_nlp
    from pipeline.segment import segment as run_segment

    with open(pickled, "rb") as f:
        docs = [d for _, d, _ in pickle.load(f)]
    settings = Settings()
    load_nlp(settings.segmenter_config)

    def run() -> None:
        for d in docs:
            run_segment(d, settings)

    return run


# ---------------------------------------------------------------- classification


def classify(ctx: Context) -> list[StageResult]:
    """The TF-IDF model against its own feature step, and the fine-tuned encoder's throughput."""
    title = "Classification (TF-IDF, --model fast)"
    statements = [s for _, _, ss in ctx.segmented() for s in ss if s.language == "en"]
    texts = [s.text for s in statements]
    results: list[StageResult] = []
    found = adapters.classifier(ctx.settings())
    if isinstance(found, str):
        results.append(skipped("classify", title, found))
    else:
        a, b, ours = interleave(
            [
                Variant("classify(model, texts)", lambda: found.classify(statements)),
                Variant("vectorizer.transform(texts)", lambda: found.vectorize(texts)),
                Variant("pipeline.ngrams.transform(vectorizer, texts)", lambda: found.features(texts)),
            ],
            ctx.plan.repeats,
            progress=ctx.log,
        )
        details = {
            "compared": found.description,
            "against_the_stages_own_feature_step": round(a.median / ours.median, 2),
            "feature_step_speedup": round(b.median / ours.median, 2),
            "note": "the stage computes the vectoriser's features with n-grams counted once per word (pipeline.ngrams, "
            "the same matrix); the target bounds the stage against the fitted vectoriser's own transform",
        }
        results.append(
            StageResult(
                "classify",
                title,
                a,
                b,
                ratio=a.median / b.median,
                target=TARGETS["classify"],
                unit="statements",
                amount=len(texts),
                work={"statements": len(texts)},
                details=details,
            )
        )
    title = "Classification (fine-tuned encoder, the default)"
    enc = adapters.encoder(ctx.settings())
    if isinstance(enc, str):
        results.append(skipped("classify_encoder", title, enc))
        return results
    batches = enc.prepare(texts)
    a, b = interleave(
        [
            Variant("classify(model, texts)", lambda: enc.classify(statements)),
            Variant("ONNX Runtime on prepared batches", lambda: enc.forward(batches)),
        ],
        ctx.plan.repeats,
        progress=ctx.log,
    )
    results.append(
        StageResult(
            "classify_encoder",
            title,
            a,
            b,
            ratio=len(texts) / a.median,
            ratio_kind="rate",
            target=TARGETS["classify_encoder"],
            unit="statements",
            amount=len(texts),
            work={"statements": len(texts)},
            details={
                "compared": f"{enc.name}: classify(model, texts) against ONNX Runtime alone on the same tokenised, "
                "length-sorted batches",
                "statements_per_second": round(len(texts) / a.median, 1),
                "share_in_onnx_runtime": round(b.median / a.median, 3),
            },
        )
    )
    return results


def probe_classify(pickled: str) -> Callable[[], object]:
    from pipeline.config import Settings

    found = adapters.classifier(Settings())
    if isinstance(found, str):
        raise RuntimeError(found)
    with open(pickled, "rb") as f:
        statements = [s for _, _, ss in pickle.load(f) for s in ss if s.language == "en"]
    return lambda: found.classify(statements)


# ---------------------------------------------------------------- linking


def link(ctx: Context) -> list[StageResult]:
    n, k = ctx.plan.link_items, ctx.plan.link_add
    title, add_title = f"Linking {n:,} statements", f"Adding {k:,} statements to {n - k:,}"
    settings = ctx.settings()
    found = adapters.linker(settings)
    if isinstance(found, str):
        return [skipped("link", title, found), skipped("link_add", add_title, found)]
    ctx.log(f"  statements to link: {n:,} (generated once, then cached)")
    rows = adapters.link_items(ctx.plan.out, ctx.plan.seed, n, adapters.lemmatiser(settings.segmenter_config))
    items = [found.make_item(r) for r in rows]
    _, base_index = found.link(items[:-k], None)  # the index before the newest k statements arrive (untimed)
    full, base, add = interleave(
        [
            Variant("link(all items)", lambda: found.link(items, None)),
            Variant("chunked sparse similarity product", lambda: found.baseline(items)),
            Variant(f"link({k} new items, index of the rest)", lambda: found.link(items[-k:], base_index)),
        ],
        ctx.plan.repeats,
        warmup=False,
        progress=ctx.log,
    )  # building the base index has warmed the linker up
    pairs = found.baseline(items[: min(n, 2000)])
    scaled = full.median * k / n
    councils = len({r["local_authority"] for r in rows})
    link_result = StageResult(
        "link",
        title,
        full,
        base,
        ratio=full.median / base.median,
        target=TARGETS["link"],
        unit="statements",
        amount=n,
        work={"statements": n, "councils": councils},
        details={"compared": found.description, "candidate_pairs_first_2000": pairs},
    )
    if n < 100_000:
        link_result.details["note"] = (
            f"the target is set for 100,000 statements (the default scale); this run links "
            f"{n:,}, 100 per document of the corpus"
        )
    add_result = StageResult(
        "link_add",
        add_title,
        add,
        None,
        ratio=add.median / scaled,
        target=TARGETS["link_add"],
        unit="statements",
        amount=k,
        work={"new": k, "indexed": n - k},
        details={
            "k_over_n_of_full_link_s": round(scaled, 6),
            "note": f"baseline is k/N = {k}/{n:,} of the full link's median ({full.median:.1f} s)",
        },
    )
    return [link_result, add_result]


def probe_link(out: str, seed: int, n: int) -> Callable[[], object]:
    from pipeline.config import Settings

    found = adapters.linker(Settings())
    if isinstance(found, str):
        raise RuntimeError(found)
    items = [found.make_item(r) for r in adapters.link_items(Path(out), seed, n)]
    return lambda: found.link(items, None)


# ---------------------------------------------------------------- database writes


def _ledger(e: Entry, doc: Any) -> dict[str, Any]:
    return {
        "source_path": str(e.path),
        "sha256": doc.id,
        "size": doc.size,
        "mtime_ns": 0,
        "meta": {k: v for k, v in e.manifest_row().items() if k != "path"},
    }


def _fresh_db(folder: Path) -> Any:
    from pipeline import __version__, store

    db = store.open_db(folder / f"store-{uuid.uuid4().hex}.db")
    store.start_run(db, "bench", 0, __version__)
    return db


def store(ctx: Context) -> StageResult:
    from pipeline import store as st
    from pipeline.versions import stage_versions

    data = ctx.segmented()
    versions = stage_versions(ctx.settings().models_dir)
    folder = ctx.work / "store"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    columns = {t: [c.name for c in st.TABLES[t].columns] for t in ("documents", "statements", "sources")}
    sql = {
        t: f"INSERT INTO [{t}] ({', '.join(f'[{c}]' for c in cols)}) VALUES ({', '.join('?' * len(cols))})"
        for t, cols in columns.items()
    }

    def ours(db: Any) -> None:
        for e, d, ss in data:
            st.save_document(db, d, ss, run_id="bench", source=_ledger(e, d), versions=versions)
        db.close()

    def plain_setup() -> tuple[Any, dict[str, list[list[Any]]]]:
        # The store's own rows, so both sides write the same values; building them is not timed.
        rows = {
            "documents": [st.document_row(d, ss, "bench", versions.get("segment", "")) for _, d, ss in data],
            "statements": [st.statement_row(s) for _, _, ss in data for s in ss],
            "sources": [st.ledger_row(_ledger(e, d), d.id, "ok", versions, "bench") for e, d, _ in data],
        }
        return _fresh_db(folder), {t: [[r.get(c) for c in columns[t]] for r in rs] for t, rs in rows.items()}

    def plain(arg: tuple[Any, dict[str, list[list[Any]]]]) -> None:
        db, rows = arg
        for table, values in rows.items():
            db.conn.executemany(sql[table], values)
        db.conn.commit()
        db.close()

    a, b = interleave(
        [
            Variant("save_document per document", ours, setup=lambda: _fresh_db(folder)),
            Variant("one executemany per table", plain, setup=plain_setup),
        ],
        ctx.plan.repeats,
        progress=ctx.log,
    )
    shutil.rmtree(folder, ignore_errors=True)
    statements = sum(len(ss) for _, _, ss in data)
    return StageResult(
        "store",
        "Database writes",
        a,
        b,
        ratio=a.median / b.median,
        unit="statements",
        amount=statements,
        work={"documents": len(data), "statements": statements},
        details={
            "note": "same schema, indexes and FTS triggers on both sides; ours is one "
            "transaction per document with its ledger row"
        },
    )


def probe_store(pickled: str, folder: str) -> Callable[[], object]:
    from pipeline import store as st
    from pipeline.versions import stage_versions

    with open(pickled, "rb") as f:
        data = pickle.load(f)
    Path(folder).mkdir(parents=True, exist_ok=True)
    db = _fresh_db(Path(folder))
    versions = stage_versions()

    def run() -> None:
        for path, d, ss in data:
            st.save_document(
                db,
                d,
                ss,
                run_id="bench",
                versions=versions,
                source={"source_path": str(path), "sha256": d.id, "size": d.size, "meta": {}},
            )
        db.close()

    return run


# ---------------------------------------------------------------- search


def _paths(name: str) -> list[str]:
    return [f"/{name}/search_statements.json?" + urlencode({"q": q.text, "_shape": "array"}) for q in searchdb.QUERIES]


def search(ctx: Context) -> list[StageResult]:
    """Search (the canned bounded search) and every canned query through `scrutiny serve` over loopback, against
    the same SQL on a bare connection; p95 latencies, with the targets of the publishing issue."""
    from pipeline.publish import QUERIES, SETTINGS
    from tools.bench import loopback

    rows = ctx.plan.search_rows
    ctx.log(f"  search database: {rows:,} statements (built once per seed and size, then cached)")
    path = searchdb.build(ctx.plan.out, ctx.plan.seed, rows, ctx.log)
    paths = _paths(path.stem)
    sql = QUERIES["search_statements"]["sql"]
    queries = [(sql, {"q": q.text}) for q in searchdb.QUERIES]
    params = loopback.canned_params(path)
    canned_paths = {
        name: f"/{path.stem}/{name}.json?" + urlencode({**params.get(name, {}), "_shape": "array"}) for name in QUERIES
    }
    bare = loopback.Bare(path)
    with loopback.server(path) as base:
        one, four = loopback.Clients(base, 1), loopback.Clients(base, 4)
        bare4 = loopback.Bare(path)
        one.run(paths), four.run(paths), bare.run(queries), bare4.run(queries)  # warm-up, not recorded
        for side in (one, four, bare, bare4):
            side.latencies = []
        d1, b1, d4, b4 = interleave(
            [
                Variant("Datasette over loopback, 1 client", lambda: one.run(paths)),
                Variant("bare sqlite3", lambda: bare.run(queries)),
                Variant("Datasette over loopback, 4 concurrent clients", lambda: four.run(paths)),
                Variant("bare sqlite3, the same 4 x queries", lambda: bare4.run(queries, times=4)),
            ],
            ctx.plan.repeats,
            warmup=False,
            progress=ctx.log,
        )
        canned = loopback.Clients(base, 1)
        per_query: dict[str, list[float]] = {}
        rounds = Timing("Datasette over loopback, every canned query once")
        for _ in range(max(5, ctx.plan.repeats)):
            started = time.perf_counter()
            for name, p in canned_paths.items():
                canned.latencies = []
                canned.run([p])
                per_query.setdefault(name, []).extend(canned.latencies)
            rounds.runs.append(time.perf_counter() - started)
        errors = one.errors + four.errors + canned.errors
        for c in (one, four, canned):
            c.close()
    bare.close()
    bare4.close()
    if errors:
        raise RuntimeError(f"Datasette answered errors: {errors[:5]}")
    n = len(paths)
    s1, sb, s4 = loopback.summary(one.latencies), loopback.summary(bare.latencies), loopback.summary(four.latencies)
    work = {
        "statements": rows,
        "queries": [q.text for q in searchdb.QUERIES],
        "page_size": 20,
        "endpoint": "search_statements (canned, bounded)",
        "transport": "HTTP over 127.0.0.1, keep-alive",
    }
    limit_s = SETTINGS["sql_time_limit_ms"] / 1000
    canned_p95 = {name: loopback.p95(ts) for name, ts in per_query.items()}
    slowest = max(canned_p95, key=canned_p95.get)
    note = (
        f"p95 over every request of every round ({s1['requests']} per side); bare p95 {sb['p95_ms']:.1f} ms; "
        "Datasette also parses the request, checks permissions and renders JSON"
    )
    return [
        StageResult(
            "search_1",
            "Search, 1 client (p95 latency)",
            d1,
            b1,
            ratio=loopback.p95(one.latencies),
            ratio_kind="p95",
            target=Target("<=", 0.010, "p95 \u2264 10 ms"),
            unit="queries",
            amount=n,
            work=work,
            details={
                "datasette": s1,
                "bare": sb,
                "p95_ratio_to_bare": round(s1["p95_ms"] / max(sb["p95_ms"], 1e-6), 2),
                "median_s_per_query_by_frequency": _by_frequency(one.latencies),
                "note": note,
            },
        ),
        StageResult(
            "search_4",
            "Search, 4 concurrent clients (p95 latency)",
            d4,
            b4,
            ratio=loopback.p95(four.latencies),
            ratio_kind="p95",
            target=Target("<=", 0.050, "p95 \u2264 50 ms"),
            unit="queries",
            amount=4 * n,
            work=work,
            details={"datasette": s4, "bare": loopback.summary(bare4.latencies)},
        ),
        StageResult(
            "canned",
            "Canned queries, slowest p95",
            rounds,
            ratio=canned_p95[slowest],
            ratio_kind="p95",
            target=Target("<=", limit_s / 2, f"p95 \u2264 {limit_s / 2 * 1000:,.0f} ms (half the SQL time limit)"),
            unit="queries",
            amount=len(canned_paths),
            work={"params": params},
            details={
                "p95_ms": {k: round(v * 1000, 2) for k, v in sorted(canned_p95.items())},
                "note": f"slowest: {slowest}; p95 of every canned query over "
                f"{len(per_query[slowest])} requests each, over loopback",
            },
        ),
    ]


def _by_frequency(times: list[float]) -> dict[str, float]:
    """Median time of each query over the runs, averaged within each frequency class (common ... none)."""
    import statistics

    n = len(searchdb.QUERIES)
    per_query = [statistics.median(times[i::n]) for i in range(n)]
    classes: dict[str, list[float]] = {}
    for q, t in zip(searchdb.QUERIES, per_query):
        classes.setdefault(q.frequency, []).append(t)
    return {f: round(statistics.mean(ts), 6) for f, ts in classes.items()}


def probe_search(path: str) -> Callable[[], object]:
    from pipeline.publish import datasette_app

    ds = datasette_app(Path(path))
    paths = _paths(Path(path).stem)

    async def run() -> None:
        for p in paths:
            await ds.client.get(p)

    return lambda: asyncio.run(run())


# ---------------------------------------------------------------- memory of a long report


def probe_pdf(path: str) -> Callable[[], object]:
    from pipeline.extract.pdf import read_pdf

    data = Path(path).read_bytes()
    return lambda: read_pdf(data)


def pdf_memory(ctx: Context) -> StageResult:
    from tools.bench import corpus
    from tools.bench.measure import child_peak

    pages, first = ctx.plan.long_pages, ctx.plan.long_first
    full, head = corpus.long_report(ctx.plan.out, ctx.plan.seed, pages, first)
    ctx.log(f"  reading a {pages}-page report and its first {first} pages, each in a fresh process")
    big = child_peak("tools.bench.stages:probe_pdf", str(full))
    small = child_peak("tools.bench.stages:probe_pdf", str(head))
    return StageResult(
        "pdf_memory",
        f"Memory, {pages}-page PDF vs its first {first} pages",
        ratio=big.peak_mb / small.peak_mb,
        ratio_kind="memory",
        target=TARGETS["pdf_memory"],
        memory=big,
        work={"pages": pages, "bytes": full.stat().st_size},
        details={
            "peak_full_mb": round(big.peak_mb, 1),
            "peak_first_mb": round(small.peak_mb, 1),
            "increment_full_mb": big.increment_mb and round(big.increment_mb, 1),
            "increment_first_mb": small.increment_mb and round(small.increment_mb, 1),
            "note": "peak resident memory of the process reading the PDF (what the reader's "
            "memory cap sees), each in a fresh process",
        },
    )


def target_for_rerun(cold_s: float) -> Target:
    return Target("<=", max(5.0, 0.02 * cold_s) / cold_s, "\u2264 max(5 s, 2% of the cold run)")
