"""Measuring a model on a labelled file: per-label precision, recall, F1, macro-F1, abstain rate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pipeline.classify.data import indicators
from pipeline.classify.model import Model, classify


def f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """F1 of one label (0 when there is nothing to find and nothing found)."""
    from sklearn.metrics import f1_score

    return float(f1_score(truth.astype(bool), predicted.astype(bool), zero_division=0.0))


def metrics(truth: np.ndarray, predicted: np.ndarray, abstained: np.ndarray, codes: Sequence[str]) -> dict[str, Any]:
    """Per-label precision, recall, F1 and support, macro-F1, none precision and recall, exact match and abstain rate."""
    from sklearn.metrics import precision_recall_fscore_support

    truth, predicted = truth.astype(bool), predicted.astype(bool)
    precision, recall, f1s, support = precision_recall_fscore_support(truth, predicted, zero_division=0.0)
    per_label = {
        code: {
            "precision": round(float(precision[k]), 3),
            "recall": round(float(recall[k]), 3),
            "f1": round(float(f1s[k]), 3),
            "support": int(support[k]),
        }
        for k, code in enumerate(codes)
    }
    kept = ~abstained
    truly_none, said_none = ~truth.any(axis=1), ~predicted.any(axis=1)
    both_none = int((truly_none & said_none).sum())
    return {
        "statements": int(len(truth)),
        "per_label": per_label,
        "macro_f1": round(float(np.mean([m["f1"] for m in per_label.values()])), 3),
        # "none" (no area) is a fifth answer: how often a statement left unlabelled should be, and is
        "none_precision": round(both_none / int(said_none.sum()), 3) if said_none.any() else 0.0,
        "none_recall": round(both_none / int(truly_none.sum()), 3) if truly_none.any() else 0.0,
        "exact_match": round(float((truth == predicted).all(axis=1).mean()), 3) if len(truth) else 0.0,
        "abstain_rate": round(float(abstained.mean()), 3) if len(truth) else 0.0,
        "macro_f1_when_not_abstaining": round(
            float(np.mean([f1(truth[kept, k], predicted[kept, k]) for k in range(len(codes))])), 3
        )
        if kept.any()
        else 0.0,
    }


def evaluate(model: Model, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-label precision, recall and F1, macro-F1 and the abstain rate of `model` on labelled records."""
    results = classify(model, [r["text"] for r in records])
    truth = indicators(records, model.codes).astype(bool)
    predicted = np.array([[c in r["labels"] for c in model.codes] for r in results], dtype=bool).reshape(truth.shape)
    abstained = np.array([r["abstain"] for r in results], dtype=bool)
    return {"model": model.name, "scheme": model.scheme, **metrics(truth, predicted, abstained, model.codes)}
