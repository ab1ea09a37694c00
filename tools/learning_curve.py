"""`python -m tools.learning_curve`: what each share of the statements from real pages buys.

    python -m tools.learning_curve                       # 0, 25, 50 and 100% of the pages, folds of classifier.toml
    python -m tools.learning_curve --folds 3 --shares 0.25,1

The folds are those `scrutiny train` measures with (grouped by source_url;
our own statements fitted on in every fold). For each share, only that share
of the pages on the fitted side of each fold is kept (the same pages at every
fold, drawn once with the model's seed), and every held-out statement is
scored, each fold with thresholds chosen on the other folds. One JSON line
per share on standard output; progress on standard error.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from pipeline.classify.data import indicators, label_files, read_labelled
from pipeline.classify.model import CONFIG_FILE, load_config
from pipeline.classify.train import cross_validated_metrics, cv_splits, out_of_fold_scores, statement_weights
from pipeline.config import Settings
from pipeline.lexicon.taxonomy import load_taxonomy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.learning_curve", description=__doc__.split("\n")[0])
    parser.add_argument("--scheme", default="areas")
    parser.add_argument("--data", help="folder of labelled JSON Lines files (default: the scheme's, corpus/labels)")
    parser.add_argument("--folds", type=int, help="default: [thresholds] cv_folds of classifier.toml")
    parser.add_argument(
        "--shares", default="0,0.25,0.5,1", help="comma-separated shares of the pages (default %(default)s)"
    )
    args = parser.parse_args(argv)

    settings = Settings()
    taxonomy = load_taxonomy(args.scheme, settings.models_dir)
    config = load_config(settings.models_dir / CONFIG_FILE)
    folder = Path(args.data) if args.data else taxonomy.data_dir(settings.models_dir.parent)
    records = read_labelled(label_files(folder), taxonomy)
    texts, y = [r["text"] for r in records], indicators(records, taxonomy.codes)
    weights = statement_weights(records, config)
    seed = int(config.get("model", {}).get("seed", 0))
    folds = args.folds or int(config.get("thresholds", {}).get("cv_folds", 5))
    splits, how = cv_splits(records, folds, seed)
    if "grouped" not in how:
        print("no statements with a source_url: nothing to draw a curve over", file=sys.stderr)
        return 2
    pages = sorted({str(r["source_url"]) for r in records if r.get("source_url")})
    random.Random(seed).shuffle(pages)
    band = float(config.get("abstain", {}).get("band", 0.0))
    for share in (float(s) for s in args.shares.split(",")):
        started = time.perf_counter()
        kept = set(pages[: round(share * len(pages))])
        fewer = [
            (np.array([i for i in fit if not records[i].get("source_url") or records[i]["source_url"] in kept]), held)
            for fit, held in splits
        ]
        oof = out_of_fold_scores(texts, y, weights, fewer, config, taxonomy.codes)
        m = cross_validated_metrics(y, oof, fewer, config, taxonomy.codes, band)
        fitted_pages = len(kept) * (folds - 1) // folds
        row = {
            "share": share,
            "pages_fitted_per_fold": fitted_pages,
            "macro_f1": m["macro_f1"],
            "per_label": {c: v["f1"] for c, v in m["per_label"].items()},
            "none_precision": m["none_precision"],
            "none_recall": m["none_recall"],
            "folds": how,
        }
        print(json.dumps(row), flush=True)
        print(
            f"share {share:.2f}: macro-F1 {m['macro_f1']:.3f} ({time.perf_counter() - started:.0f} s)", file=sys.stderr
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
