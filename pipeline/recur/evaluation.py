"""Build the shipped recurrence models and measure them council by council (leave one council out).

`build` trains on everything we may train on: corpus/recurrence-grounded.jsonl (19 councils and trusts),
corpus/recurrence-gold.jsonl (the bundled corpus gold) and corpus/recurrence-picking.jsonl. `leave_one_out`
scores each of those councils with models trained without it, through the same `link` the pipeline runs, and
the shared dev file (../shared/corpus-samples/recurrence-dev.jsonl, measuring only) with models trained on no
dev text. Every threshold is chosen inside `training.train` on the training councils alone.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.recur import Item, link, load_config
from pipeline.recur.learned import Models
from pipeline.recur.status_encoder import KeptReader
from pipeline.recur.training import add, by_council, load_grouped, load_picking, load_taxonomy, scores, summary, train

log = logging.getLogger(__name__)


def corpus_paths(settings: Settings) -> dict[str, Path]:
    corpus = settings.models_dir.parent / "corpus"
    return {
        "grounded": corpus / "recurrence-grounded.jsonl",
        "gold": corpus / "recurrence-gold.jsonl",
        "picking": corpus / "recurrence-picking.jsonl",
        "taxonomy": settings.models_dir / "recurrence-issues.toml",
        "config": settings.models_dir / "recurrence.toml",
    }


def grouped_rows(settings: Settings) -> list[dict[str, Any]]:
    """The grouped statements we train on: the grounded file and the corpus gold (both with statuses by the
    guidelines: a status only where the statement says one)."""
    paths = corpus_paths(settings)
    taxonomy = load_taxonomy(paths["taxonomy"])
    return load_grouped(paths["grounded"], "grounded", taxonomy) + load_grouped(paths["gold"], "gold", taxonomy)


def picking_rows(settings: Settings, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Concern mentions of the grouped files (positives) and the labelled picking set."""
    positives = [{"text": r["text"], "y": 1, "site": f"{r['kind']}:{r['doc']}"} for r in rows]
    return positives + load_picking(corpus_paths(settings)["picking"])


def build(settings: Settings, out: Path) -> Models:
    from pipeline.recur.learned import save_models

    rows = grouped_rows(settings)
    started = time.time()
    models = train(rows, picking_rows(settings, rows))
    models.metadata.update({"trained_seconds": round(time.time() - started, 1)})
    save_models(models, out)
    return models


def _items(rs: Sequence[dict[str, Any]]) -> list[Item]:
    return [
        Item(r["id"], r["text"], r["council"], r["date"], r["doc"], r["pos"], r["doc_type"], r["service"]) for r in rs
    ]


def score_council(
    models: Models, rs: Sequence[dict[str, Any]], config_path: Path, kept: KeptReader | None = None
) -> dict[str, Any]:
    """Link one council's statements with `models` through `pipeline.recur.link`; pairwise and B-cubed sums and
    status-in-text agreement. `kept`: the status encoder beside the config was trained on this council's
    statements, so its out-of-fold readings (by a reader trained without the council) stand in for it."""
    config = load_config(config_path).with_model(models)
    if kept is not None:
        config = config.with_status_reader(kept)
    assigned = link(_items(rs), None, config)[0]
    said = [a.status_in_text or "none" for a in assigned]
    labelled = list(zip(said, (r["status"] for r in rs), strict=True))
    return {
        "sums": scores([r["concern"] for r in rs], [a.concern_id for a in assigned]),
        "status_ok": sum(s == g for s, g in labelled),
        "status_n": len(labelled),
    }


def leave_one_out(
    settings: Settings,
    dev_path: Path | None = None,
    councils: Sequence[str] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Per-council and overall figures: each grouped council scored by models trained without it; the dev
    councils by models trained on all grouped councils (no dev text)."""
    rows = grouped_rows(settings)
    config_path = corpus_paths(settings)["config"]
    # the status encoder saw every grouped council: they are read by its out-of-fold readings (None: no encoder,
    # or the configuration does not use it)
    uses_encoder = load_config(config_path).status_reader is not None
    kept = KeptReader.beside(config_path.parent, rows) if uses_encoder else None
    per: dict[str, dict[str, Any]] = {}
    totals: dict[str, dict[str, float]] = {}
    status: Counter[str] = Counter()
    held_out = [c for c in sorted({r["council"] for r in rows}) if not councils or c in councils]
    folds: list[tuple[list[str], list[dict[str, Any]]]] = [
        ([c], [r for r in rows if r["council"] == c]) for c in held_out
    ]
    if dev_path is not None and dev_path.is_file() and (not councils or "dev" in councils):
        folds.append(([], load_grouped(dev_path, "dev")))
    for held, test in folds:
        models = train([r for r in rows if r["council"] not in held])
        for council, rs in by_council(test).items():
            got = score_council(models, rs, config_path, kept if rs[0]["kind"] != "dev" else None)
            kind = rs[0]["kind"]
            totals[kind] = add(totals.get(kind, {}), got["sums"])
            status[f"{kind}:ok"] += got["status_ok"]
            status[f"{kind}:n"] += got["status_n"]
            per[council] = {
                "kind": kind,
                **summary(got["sums"]),
                "support": models.settings["support"],
                "link_threshold": models.settings["link_threshold"],
                "status_accuracy": got["status_ok"] / got["status_n"] if got["status_n"] else None,
            }
            if progress:
                progress({"council": council, **per[council]})
    overall: dict[str, dict[str, Any]] = {
        kind: {
            **summary(s),
            "status_accuracy": status[f"{kind}:ok"] / status[f"{kind}:n"] if status[f"{kind}:n"] else None,
        }
        for kind, s in totals.items()
    }
    if "grounded" in totals and "dev" in totals:
        both = status["grounded:n"] + status["dev:n"]
        overall["grounded+dev"] = {
            **summary(add(totals["grounded"], totals["dev"])),
            "status_accuracy": (status["grounded:ok"] + status["dev:ok"]) / both if both else None,
        }
    return {"councils": per, "overall": overall}
