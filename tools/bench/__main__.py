"""`python -m tools.bench`: generate the corpus, measure every stage, write results.json and a table.

    python -m tools.bench                      # 1,000 documents, 5 interleaved runs per comparison
    python -m tools.bench --scale list         # the whole-run figures at 100, 1,000 and 10,000 documents
    python -m tools.bench --scale 100,1000     # ... or at the scales given
    python -m tools.bench --quick              # a smoke run in well under a minute (the tests use it)

Progress goes to standard error; the Markdown table is printed on standard
output and written to <out>/results.md beside <out>/results.json. The exit
status is 1 only when the harness itself failed somewhere (a stage "error"),
never because a target does not hold.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.bench import corpus as corpus_mod
from tools.bench.report import StageResult, growth_rows, machine, markdown, results, write
from tools.bench.stages import Context, Plan

DEFAULT_SCALES = (100, 1000, 10_000)
STAGES = ("extract", "segment", "classify", "link", "store", "search", "pdf_memory", "prefect")
EXPANDS = {
    "extract": ("extract", "extract_simple", "agreement", "file_cost"),
    "classify": ("classify", "classify_encoder"),
    "link": ("link", "link_add"),
    "search": ("search_1", "search_4", "canned"),
}
TITLES = {
    "extract": "Extraction, realistic PDFs (pages/s)",
    "extract_simple": "Extraction, the first corpus's PDFs (pages/s)",
    "agreement": "Text agreement, PDFium vs pdfplumber reading",
    "file_cost": "Per-file cost, small PDFs",
    "segment": "Segmentation",
    "classify": "Classification (TF-IDF, --model fast)",
    "classify_encoder": "Classification (fine-tuned encoder, the default)",
    "link": "Linking",
    "link_add": "Adding statements to the index",
    "store": "Database writes",
    "search_1": "Search, 1 client (p95 latency)",
    "search_4": "Search, 4 concurrent clients (p95 latency)",
    "canned": "Canned queries, slowest p95",
    "pdf_memory": "Memory, long PDF vs its first pages",
    "prefect": "Prefect overhead (ingest)",
}


def _scales(value: str | None, quick: bool) -> tuple[int, ...]:
    if value is None:
        return (6,) if quick else (1000,)
    if value == "list":
        return DEFAULT_SCALES
    try:
        scales = tuple(sorted({int(v.replace("_", "")) for v in value.split(",") if v.strip()}))
    except ValueError:
        raise SystemExit(
            f"--scale: expected a number of documents, a comma-separated list or 'list', not {value!r}"
        ) from None
    if not scales or min(scales) < 1:
        raise SystemExit("--scale: at least one document")
    return scales


def primary_scale(scales: tuple[int, ...]) -> int:
    """The scale whose corpus the stage comparisons use: 1,000 when measured, else the largest."""
    return 1000 if 1000 in scales else max(scales)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.bench",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--scale",
        help="documents in the corpus: a number (default 1000), a comma-separated list, or "
        "'list' for 100,1000,10000; with several, the whole-run figures are measured at "
        "each and the table reports the growth",
    )
    p.add_argument("--seed", type=int, default=1, help="seed of everything generated (default 1)")
    p.add_argument("--repeats", type=int, help="interleaved runs per side, medians taken (default 5; --quick 2)")
    p.add_argument("--quick", action="store_true", help="shrink everything: a six-document smoke run, no Prefect")
    p.add_argument("--out", type=Path, default=Path("build/bench"), help="output folder (default build/bench)")
    p.add_argument("--search-rows", type=int, help="statements in the search database (default 1,000,000)")
    p.add_argument(
        "--link-items",
        type=int,
        help="statements to link (default 100 per document, at most 100,000: 100,000 at the default scale)",
    )
    p.add_argument(
        "--model",
        default="default",
        help="classifier of the whole run (scrutiny ingest --model: default, fast, encoder or a file)",
    )
    p.add_argument(
        "--only",
        help=f"comma-separated stages to measure ({', '.join(STAGES)}, run); the rest are listed as not measured",
    )
    return p


def make_plan(args: argparse.Namespace) -> Plan:
    quick = bool(args.quick)
    scales = _scales(args.scale, quick)
    # 100 statements to link per document of the corpus, at most 100,000 (the figure, reached at the
    # default scale): linking cost grows with the square of a council's statements, so it follows the scale.
    link_items = args.link_items or (600 if quick else min(100_000, 100 * primary_scale(scales)))
    return Plan(
        out=args.out.resolve(),
        seed=args.seed,
        scales=scales,
        repeats=args.repeats or (2 if quick else 5),
        quick=quick,
        sample_docs=6 if quick else 40,
        extract_pages=4 if quick else 120,
        prefect_docs=0 if quick else 12,
        search_rows=args.search_rows or (5_000 if quick else 1_000_000),
        link_items=link_items,
        link_add=max(1, min(1_000, link_items // 10)),
        long_pages=6 if quick else 500,
        long_first=3 if quick else 10,
        prefect=not quick,
        max_pages=4 if quick else None,
        model=args.model,
        # in a fresh process each probe loads spaCy, the model, ... again: the smoke run keeps the cheap one
        probes=("extract",) if quick else ("extract", "segment", "classify", "link", "store", "search_1"),
    )


class Log:
    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.lines: list[str] = []

    def __call__(self, message: str) -> None:
        line = f"[{time.perf_counter() - self.start:7.1f} s] {message}"
        self.lines.append(line)
        print(line, file=sys.stderr, flush=True)


def _attempt(key: str, fn: Callable[[], Any], log: Log) -> list[StageResult]:
    log(f"stage {key}")
    try:
        found = fn()
    except Exception as exc:  # the harness reports a broken stage and goes on with the others
        import traceback

        log(traceback.format_exc())
        return [
            StageResult(k, TITLES[k], status="error", reason=f"error: {type(exc).__name__}: {exc}")
            for k in EXPANDS.get(key, (key,))
        ]
    return found if isinstance(found, list) else [found]


def _memory(ctx: Context, results_: list[StageResult], log: Log) -> None:
    """Peak memory of each measured stage, each in a fresh process."""
    from tools.bench import searchdb
    from tools.bench.measure import child_peak

    plan, work = ctx.plan, ctx.work
    pickled = str(work / "segmented.pkl")
    probes: dict[str, tuple[str, tuple, bool]] = {
        "extract": ("probe_extract", ([str(e.path) for e in ctx.pdf_sample()],), False),
        "segment": ("probe_segment", (pickled,), True),
        "classify": ("probe_classify", (pickled,), True),
        "link": ("probe_link", (str(plan.out), plan.seed, plan.link_items), False),
        "store": ("probe_store", (pickled, str(work / "probe-store")), True),
        "search_1": ("probe_search", (str(searchdb.path_for(plan.out, plan.seed, plan.search_rows)),), False),
    }
    for r in results_:
        if r.key not in probes or r.status != "measured":
            continue
        if r.key not in plan.probes:
            r.memory_note = "not measured in --quick"
            continue
        name, args, traced = probes[r.key]
        log(f"memory of {r.key} (a fresh process)")
        try:
            r.memory = child_peak(f"tools.bench.stages:{name}", *args, traced=traced)
        except Exception as exc:
            r.memory_note = f"not measured: {exc}"
            log(f"  memory of {r.key} failed: {exc}")


MEASURED_MODULES = (
    "pipeline.store",
    "pipeline.extract",
    "pipeline.extract.pdf",
    "pipeline.segment",
    "pipeline.classify",
    "pipeline.recur",
    "pipeline.publish",
    "pipeline.run.plan",
    "flows.ingest",
)


def _import_measured_code(log: Log) -> None:
    """Import everything measured before anything runs, so that a run measures one version of the code even
    while the tree is being edited (a module imported ten minutes later may no longer fit the others)."""
    import importlib

    for name in MEASURED_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as exc:  # a stage not written yet: its adapter says so
            log(f"  {name} is not importable yet ({exc})")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    plan = make_plan(args)
    started, log = datetime.now(UTC), Log()
    info = machine()
    plan.out.mkdir(parents=True, exist_ok=True)
    from pipeline.cli.ingest import prefect_environment

    prefect_environment(plan.out)  # before anything imports Prefect: state under <out>/prefect, no telemetry
    _import_measured_code(log)
    if info["training_packages"]:
        log(
            f"warning: {', '.join(info['training_packages'])} installed in this environment (the train extra belongs "
            "in .venv-train): the run's figures will not be a user's; the report says so"
        )
    only = set(args.only.split(",")) if args.only else set(STAGES) | {"run"}
    primary = primary_scale(plan.scales)
    log(f"corpus: {primary:,} documents, seed {plan.seed} (generated once, then reused)")
    corpus = corpus_mod.generate(plan.out, plan.seed, primary, log, plan.max_pages)
    ctx = Context(plan, corpus, log)

    from tools.bench import extraction, runs, stages

    measures: dict[str, Callable[[], Any]] = {
        "extract": lambda: extraction.measure(ctx),
        "segment": lambda: stages.segment(ctx),
        "classify": lambda: stages.classify(ctx),
        "link": lambda: stages.link(ctx),
        "store": lambda: stages.store(ctx),
        "search": lambda: stages.search(ctx),
        "pdf_memory": lambda: stages.pdf_memory(ctx),
        "prefect": lambda: runs.prefect(ctx),
    }
    found: list[StageResult] = []
    for key in STAGES:
        if key in only:
            found += _attempt(key, measures[key], log)
        else:
            found += [
                StageResult(k, TITLES[k], status="skipped", reason="not measured in this run (--only)")
                for k in EXPANDS.get(key, (key,))
            ]
    _memory(ctx, found, log)

    run: dict[str, Any] = {}
    growth: list[dict[str, Any]] = []
    if "run" in only:
        for scale in plan.scales:
            c = corpus if scale == primary else corpus_mod.generate(plan.out, plan.seed, scale, log, plan.max_pages)
            key = "rerun" if scale == primary else f"rerun_{scale}"
            try:
                cold = runs.cold_run(ctx, c)
            except Exception as exc:
                log(f"cold run at {scale:,} documents failed: {exc}")
                found.append(
                    StageResult(
                        key,
                        f"No-change re-run ({scale:,} documents)",
                        status="error",
                        reason=f"error: the cold run failed: {exc}",
                    )
                )
                continue
            [again] = _attempt(key, lambda c=c, cold=cold: runs.rerun(ctx, c, cold), log)
            again.key = key
            found.append(again)
            if scale == primary:
                run = {k: v for k, v in cold.items() if k != "db"}
            growth.append(
                {**{k: v for k, v in cold.items() if k != "db"}, "rerun_s": again.ours.median if again.ours else None}
            )
    else:
        found.append(
            StageResult("rerun", "No-change re-run", status="skipped", reason="not measured in this run (--only)")
        )

    config = {
        "seed": plan.seed,
        "scales": list(plan.scales),
        "repeats": plan.repeats,
        "quick": plan.quick,
        "sample_docs": plan.sample_docs,
        "extract_pages": plan.extract_pages,
        "search_rows": plan.search_rows,
        "link_items": plan.link_items,
        "link_add": plan.link_add,
        "long_pages": plan.long_pages,
        "long_first": plan.long_first,
        "max_pages": plan.max_pages,
        "prefect": plan.prefect,
        "out": str(plan.out),
    }
    data = results(
        found,
        config=config,
        corpus=corpus.summary(),
        run=run,
        growth=growth_rows(growth),
        machine_info=info,
        started=started,
        log=log.lines,
    )
    json_path, md_path = write(plan.out, data, found)
    sys.stdout.write(markdown(data, found))
    log(f"wrote {json_path} and {md_path}")
    return 1 if any(r.status == "error" for r in found) else 0


if __name__ == "__main__":  # the guard matters: reader and probe processes are spawned and import this module
    sys.exit(main())
