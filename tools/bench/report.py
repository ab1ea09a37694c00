"""Results: one record per stage, the targets from the issues, results.json and a Markdown table.

Absolute times are reported, never asserted. Each measured stage has a ratio
(ours against its baseline, measured interleaved on the same input); where an
issue sets a target for that ratio the table says whether it holds. A stage
whose code does not exist yet is listed with "not yet measured: <reason>".
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.bench import BENCH_VERSION
from tools.bench.measure import Memory, Timing

SCHEMA_VERSION = 1
DASH = "\u2014"


@dataclass(frozen=True)
class Target:
    """A bound on a stage's ratio: `op` is "<=" or ">="."""

    op: str
    value: float
    text: str

    def holds(self, ratio: float) -> bool:
        return ratio <= self.value if self.op == "<=" else ratio >= self.value

    def as_dict(self) -> dict[str, Any]:
        return {"op": self.op, "value": round(self.value, 6), "text": self.text}


# The targets set in the issues. A ratio is ours / baseline time, except extraction (a speed-up: baseline / ours).
TARGETS: dict[str, Target] = {
    "extract": Target(">=", 6.0, "\u2265 6x faster (goal 10x)"),
    "segment": Target("<=", 1.2, "\u2264 1.2x"),
    "classify": Target("<=", 1.1, "\u2264 1.1x"),
    "classify_encoder": Target(">=", 500.0, "\u2265 500 statements/s"),  # ratio_kind "rate": statements per second
    "link": Target("<=", 3.0, "\u2264 3x"),
    "link_add": Target("<=", 1.5, "\u2264 1.5x"),
    "pdf_memory": Target("<=", 1.3, "\u2264 1.3x"),
    # "rerun" is bounded in seconds, max(5 s, 2% of the cold run): its Target is made once the cold run is known.
}


@dataclass
class StageResult:
    key: str
    title: str
    ours: Timing | None = None
    baseline: Timing | None = None
    ratio: float | None = None
    ratio_kind: str = "time"  # "time": ours/baseline; "speedup": baseline/ours; "memory": peak/peak; "p95": seconds;
    # "rate": `amount` per second of ours
    target: Target | None = None
    status: str = "measured"  # measured, skipped or error
    reason: str | None = None
    unit: str | None = None  # what `amount` counts, for throughput ("pages", "documents", "queries")
    amount: float | None = None
    work: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    memory: Memory | None = None
    memory_note: str | None = None

    @property
    def holds(self) -> bool | None:
        if self.target is None or self.ratio is None or self.status != "measured":
            return None
        return self.target.holds(self.ratio)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "status": self.status,
            "reason": self.reason,
            "ours": self.ours.as_dict() if self.ours else None,
            "baseline": self.baseline.as_dict() if self.baseline else None,
            "ratio": None if self.ratio is None else round(self.ratio, 4),
            "ratio_kind": self.ratio_kind,
            "target": self.target.as_dict() if self.target else None,
            "holds": self.holds,
            "unit": self.unit,
            "amount": self.amount,
            "work": self.work,
            "details": self.details,
            "memory": self.memory.as_dict() if self.memory else None,
            "memory_note": self.memory_note,
        }


def skipped(key: str, title: str, reason: str) -> StageResult:
    text = reason if reason.startswith("not yet measured") else f"not yet measured: {reason}"
    return StageResult(key, title, status="skipped", reason=text)


# ---------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


# Installed only for fine-tuning (the train extra, in .venv-train). Where they are installed in the environment a
# run uses, libraries we import load them anyway (skops through scikit-learn's estimator discovery, sqlite-utils),
# and on 7 December that added about 500 MB to a 1,000-document run's peak: such figures are not a user's.
TRAINING_ONLY = ("torch", "transformers", "pandas")


def training_packages() -> list[str]:
    """The training-only packages installed where this bench runs (none in the environment `make venv` builds)."""
    import importlib.util

    return [name for name in TRAINING_ONLY if importlib.util.find_spec(name) is not None]


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "training_packages": training_packages(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": _ram_gb(),
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
        "load_at_start": [round(x, 2) for x in load] if load else None,
    }


# ---------------------------------------------------------------- output


def results(
    stages: list[StageResult],
    *,
    config: dict[str, Any],
    corpus: dict[str, Any],
    run: dict[str, Any],
    growth: list[dict[str, Any]],
    machine_info: dict[str, Any],
    started: datetime,
    log: list[str],
) -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "schema": SCHEMA_VERSION,
        "bench_version": BENCH_VERSION,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**machine_info, "load_at_end": [round(x, 2) for x in load] if load else None},
        "config": config,
        "corpus": corpus,
        "stages": {s.key: s.as_dict() for s in stages},
        "run": run,
        "growth": growth,
        "command": " ".join([Path(sys.executable).name, "-m", "tools.bench", *sys.argv[1:]]),
        "log": log,
    }


def _s(seconds: float | None) -> str:
    if seconds is None:
        return "\u2014"
    if seconds >= 100:
        return f"{seconds:,.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 0.001:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1e6:.0f} \u00b5s"


def _rate(amount: float | None, unit: str | None, seconds: float) -> str:
    if not amount or not unit or seconds <= 0:
        return ""
    rate = amount / seconds
    return f" ({rate:,.0f} {unit}/s)" if rate >= 100 else f" ({rate:,.1f} {unit}/s)"


def _ratio(s: StageResult) -> str:
    if s.ratio is None:
        return "\u2014"
    if s.ratio_kind == "speedup":
        return f"{s.ratio:.2f}x faster"
    if s.ratio_kind == "p95":  # a latency: `ratio` holds the p95 in seconds
        return f"p95 {_s(s.ratio)}"
    if s.ratio_kind == "agreement":
        return f"{s.ratio:.4f}"
    if s.ratio_kind == "rate":
        return f"{s.ratio:,.0f} {s.unit or 'items'}/s"
    if s.ratio_kind == "share":
        return f"{s.ratio * 100:.2f}%"
    return f"{s.ratio:.2f}x"


def _memory(s: StageResult) -> str:
    if s.memory is None:
        return s.memory_note or "\u2014"
    m = s.memory
    return f"{m.peak_mb:,.0f} MB" if m.increment_mb is None else f"{m.peak_mb:,.0f} MB (+{m.increment_mb:,.0f})"


def _phases(run: dict[str, Any]) -> str:
    p = run.get("phases")
    if not p:
        return ""
    stored = run["documents"] / p["documents_s"] * 60 if p["documents_s"] else 0
    return (
        f"; {p['to_first_document_s']:.0f} s from the run's start to the first document stored, "
        f"{p['documents_s']:.0f} s storing them all ({stored:,.0f} per minute), {p['tail_s']:.0f} s after the last "
        "(pairing, people, linking)"
    )


def _orchestration(run: dict[str, Any], stages: list[StageResult]) -> str:
    """Prefect's share of the cold run: the fixed cost of a flow run plus its task runs times the cost per task
    run, both as the Prefect row measured them."""
    prefect = next((s for s in stages if s.key == "prefect"), None)
    per_task = prefect.details.get("overhead_per_task_ms") if prefect is not None else None
    if not run.get("task_runs") or per_task is None or "scrutiny ingest" not in run.get("mode", ""):
        return ""
    fixed = float(prefect.details.get("overhead_fixed_s") or 0.0) if prefect is not None else 0.0
    seconds = fixed + run["task_runs"] * max(0.0, per_task) / 1000
    return (
        f"; orchestration {fixed:.1f} s + {run['task_runs']} task runs \u00d7 {per_task:,.0f} ms = {seconds:.1f} s, "
        f"{seconds / run['cold_s'] * 100:.1f}% of the cold run"
    )


def markdown(data: dict[str, Any], stages: list[StageResult]) -> str:
    """The table for the README's Performance section."""
    m, cfg, run = data["machine"], data["config"], data["run"]
    lines = [
        f"Measured by `{data['command']}` on {data['finished_at'][:10]}: {m['cpu']}, {m['cores']} cores, "
        f"{m['ram_gb']} GB RAM, Python {m['python']}, {m['os']} (load average {_load(m)}). "
        f"Corpus: {data['corpus'].get('documents', 0):,} generated documents (seed {cfg['seed']}; "
        f"{data['corpus'].get('pdf_pages', 0):,} PDF pages). Medians of {cfg['repeats']} interleaved runs; "
        f"ratios are ours / baseline on the same input unless marked faster. Absolute times depend on the machine; "
        f"the ratios are what the targets bound."
        + (
            f" **Not a user's environment:** {', '.join(m['training_packages'])} installed here (the train extra "
            f"belongs in .venv-train), and a run's processes load some of them."
            if m.get("training_packages")
            else ""
        ),
        "",
        "| stage | ours (median) | baseline (median) | ratio | target | holds | peak memory (+ over set-up) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in stages:
        if s.status != "measured":
            target = s.target or TARGETS.get(s.key)
            lines.append(f"| {s.title} | {s.reason} | | | {target.text if target else DASH} | {DASH} | {DASH} |")
            continue
        ours = f"{_s(s.ours.median)}{_rate(s.amount, s.unit, s.ours.median)}" if s.ours else "\u2014"
        base = f"{_s(s.baseline.median)}{_rate(s.amount, s.unit, s.baseline.median)}" if s.baseline else "\u2014"
        if s.ratio_kind == "memory" and s.details.get("peak_full_mb"):
            ours = f"{s.details['peak_full_mb']:,.0f} MB"
            base = f"{s.details['peak_first_mb']:,.0f} MB"
        holds = {True: "**yes**", False: "**no**", None: "no target"}[s.holds]
        lines.append(
            f"| {s.title} | {ours} | {base} | {_ratio(s)} | {s.target.text if s.target else DASH} | "
            f"{holds} | {_memory(s)} |"
        )
    if run.get("cold_s"):
        how = "`scrutiny ingest`" if "scrutiny ingest" in run.get("mode", "") else "the flow's tasks, no Prefect"
        lines += [
            "",
            f"Whole run ({how}, cold, {run['documents']:,} documents): {_s(run['cold_s'])}, "
            f"**{run['documents_per_minute']:,.0f} documents per minute**"
            + (
                f", peak memory {run['peak_mb']:,.0f} MB over all its processes (largest "
                f"{run['peak_process_mb']:,.0f} MB)"
                if run.get("peak_mb")
                else ""
            )
            + (f"; {run['note']}" if run.get("note") else "")
            + (f"; classifier `--model {run['model']}`" if run.get("model", "default") != "default" else "")
            + _phases(run)
            + _orchestration(run, stages)
            + ".",
        ]
    growth = data.get("growth") or []
    if len(growth) > 1:
        lines += [
            "",
            "| documents | PDF pages | statements | cold run | documents/min | no-change re-run | growth |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in growth:
            lines.append(
                f"| {row['documents']:,} | {row['pdf_pages']:,} | {row.get('statements') or 0:,} | "
                f"{_s(row['cold_s'])} | {row['documents_per_minute']:,.0f} | {_s(row['rerun_s'])} | "
                f"{row.get('growth') or DASH} |"
            )
    notes = [f"- {s.title}: {s.details['note']}" for s in stages if s.details.get("note")]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def _load(m: dict[str, Any]) -> str:
    start, end = m.get("load_at_start"), m.get("load_at_end")
    if not start:
        return "unknown"
    return f"{start[0]:.1f} at start, {end[0]:.1f} at end" if end else f"{start[0]:.1f}"


def growth_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add how the cold run's cost grew from the previous scale: time ratio, document ratio and the exponent
    (1.0 is linear)."""
    for prev, row in zip(rows, rows[1:]):
        d = row["documents"] / prev["documents"]
        t = row["cold_s"] / prev["cold_s"] if prev["cold_s"] else math.nan
        exponent = math.log(t) / math.log(d) if d > 1 and t > 0 else math.nan
        row["growth"] = f"x{t:.1f} time for x{d:.0f} documents (exponent {exponent:.2f})"
        row["growth_exponent"] = round(exponent, 3)
    return rows


def write(out: Path, data: dict[str, Any], stages: list[StageResult]) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "results.json", out / "results.md"
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown(data, stages), encoding="utf-8")
    return json_path, md_path
