"""Training: fit on labelled statements, thresholds per label from out-of-fold scores, metrics recorded.

Statements that carry a `source_url` (written from a real page) are the ones
the figures are measured on: their out-of-fold scores come from folds grouped
by page (scikit-learn's GroupKFold), so no page is on both sides of a fold,
and the statements without one (the files we wrote, corrections) are always
fitted on. Thresholds are chosen on those scores. With no such statements the
folds are random over everything, as before.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.classify.data import checked_corrections, corpus_hash, fold_in, indicators, read_labelled
from pipeline.classify.evaluate import f1, metrics
from pipeline.classify.model import (
    CONFIG_FILE,
    ClassifyError,
    Model,
    build_pipeline,
    fit_pipeline,
    library_versions,
    load_config,
)
from pipeline.config import Settings
from pipeline.lexicon.taxonomy import load_taxonomy
from pipeline.ngrams import predict_proba


def train(
    label_paths: list[Path],
    settings: Settings,
    scheme: str = "areas",
    corrections: list[dict] | None = None,
    config: Mapping[str, Any] | None = None,
) -> Model:
    """Fit a model on labelled statements (plus human corrections), choosing thresholds by cross-validation.

    `corrections` are {"text", "labels"} objects (usually from the corrections
    table); a correction replaces the labels of the same text in the files, or
    adds the text. `config` defaults to models/classifier.toml in
    `settings.models_dir`.
    """
    started = time.perf_counter()
    taxonomy = load_taxonomy(scheme, settings.models_dir)
    config = dict(config) if config is not None else load_config(settings.models_dir / CONFIG_FILE)
    label_paths = [Path(p) for p in label_paths]
    if not label_paths:
        where = f" in {taxonomy.data}/" if taxonomy.data else ""
        raise ClassifyError(
            f"no labelled statements for scheme '{scheme}': add JSON Lines files{where} "
            f"with labels from {', '.join(taxonomy.codes)} (see models/README.md)"
        )
    records = read_labelled(label_paths, taxonomy)
    corrections = checked_corrections(corrections or [], taxonomy)
    records, replaced = fold_in(records, corrections)
    texts = [r["text"] for r in records]
    y = indicators(records, taxonomy.codes)
    _check_trainable(y, taxonomy.codes, config)

    folds = int(config.get("thresholds", {}).get("cv_folds", 5))
    seed = int(config.get("model", {}).get("seed", 0))
    weights = statement_weights(records, config)
    splits, scheme_of_folds = cv_splits(records, folds, seed)
    scored = np.sort(np.concatenate([held for _, held in splits]))
    oof = out_of_fold_scores(texts, y, weights, splits, config, taxonomy.codes)
    thresholds = np.array([best_threshold(y[scored, k], oof[scored, k], config) for k in range(y.shape[1])])
    band = float(config.get("abstain", {}).get("band", 0.0))
    cv_metrics = cross_validated_metrics(y, oof, splits, config, taxonomy.codes, band)
    cv_metrics["folds"] = scheme_of_folds

    pipeline = fit_pipeline(build_pipeline(config, taxonomy.codes), texts, y, weights)
    digest = corpus_hash(label_paths, corrections)
    model_cfg = config.get("model", {})
    # the version names the method, then what it was fitted on and how: data, configuration, taxonomy
    build = hashlib.sha256(json.dumps([digest, config, taxonomy.id], sort_keys=True).encode()).hexdigest()
    name = f"{scheme}-{model_cfg.get('name', 'model')}-{model_cfg.get('version', '0')}.{build[:8]}"
    metadata = {
        "model": name,
        "scheme": scheme,
        "taxonomy_version": taxonomy.version,
        "codes": list(taxonomy.codes),
        "thresholds": {c: round(float(t), 4) for c, t in zip(taxonomy.codes, thresholds)},
        "abstain_band": band,
        "corpus_hash": digest,
        "training": {
            "files": [p.name for p in label_paths],
            "statements": len(records),
            "per_label": {c: int(y[:, k].sum()) for k, c in enumerate(taxonomy.codes)},
            "none": int((y.sum(axis=1) == 0).sum()),
            "grounded": int(sum(1 for r in records if r.get("source_url"))),
            "written_weight": float(config.get("training", {}).get("written_weight", 1.0)),
            "corrections": len(corrections),
            "corrections_replacing_file_labels": replaced,
            "seconds": round(time.perf_counter() - started, 1),
        },
        "metrics": {"cross_validation": cv_metrics},
        "config": config,
        "versions": library_versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return Model(
        pipeline=pipeline,
        scheme=scheme,
        codes=taxonomy.codes,
        thresholds=tuple(round(float(t), 4) for t in thresholds),
        abstain_band=band,
        name=name,
        metadata=metadata,
    )


def _check_trainable(y: np.ndarray, codes: Sequence[str], config: Mapping[str, Any]) -> None:
    need = max(int(config.get("thresholds", {}).get("cv_folds", 5)), int(config.get("calibration", {}).get("cv", 5)))
    for k, code in enumerate(codes):
        positives = int(y[:, k].sum())
        if positives < need or len(y) - positives < need:
            raise ClassifyError(
                f"label {code} has {positives} positive and {len(y) - positives} negative "
                f"statements; each needs at least {need} to train and cross-validate"
            )


def statement_weights(records: Sequence[Mapping[str, Any]], config: Mapping[str, Any]) -> np.ndarray:
    """Weight in the fit: `[training] written_weight` for statements we wrote (no `source_url`), 1 for
    statements written from a real page and for people's corrections. All 1 when no statement has a
    `source_url` (a weight below 1 everywhere would only weaken the regularisation)."""
    written = float(config.get("training", {}).get("written_weight", 1.0))
    if written <= 0:
        raise ClassifyError(f"[training] written_weight must be positive, not {written}")
    if not any(r.get("source_url") for r in records):
        written = 1.0  # nothing written from real pages to weigh ours against
    return np.array(
        [1.0 if r.get("source_url") or r.get("source") == "correction" else written for r in records], dtype=float
    )


def cv_splits(
    records: Sequence[Mapping[str, Any]], folds: int, seed: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """(fitted, held-out) index pairs and a description of how they were made.

    Statements with a `source_url` are split by GroupKFold over their pages;
    the others are on the fitted side of every fold. Without enough pages,
    KFold over all statements.
    """
    from sklearn.model_selection import GroupKFold, KFold

    pages = [str(r.get("source_url") or "") for r in records]
    grouped = np.array([i for i, p in enumerate(pages) if p], dtype=int)
    free = np.array([i for i, p in enumerate(pages) if not p], dtype=int)
    distinct = len({pages[i] for i in grouped})
    if distinct >= max(folds, 2):
        gkf = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        splits = [
            (np.sort(np.concatenate([free, grouped[fit]])), grouped[held])
            for fit, held in gkf.split(grouped, groups=[pages[i] for i in grouped])
        ]
        return splits, (
            f"{folds} folds grouped by source_url over {len(grouped)} statements from {distinct} pages; "
            f"the {len(free)} statements without a source_url are fitted on in every fold"
        )
    kf = KFold(folds, shuffle=True, random_state=seed)
    return list(kf.split(np.arange(len(records)))), f"{folds} random folds over all {len(records)} statements"


def out_of_fold_scores(
    texts: list[str],
    y: np.ndarray,
    weights: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    config: Mapping[str, Any],
    codes: Sequence[str],
) -> np.ndarray:
    """Scores of every held-out statement from a pipeline fitted without it (zeros where never held out)."""
    scores = np.zeros(y.shape, dtype=float)
    for fit_idx, held in splits:
        fitted = fit_pipeline(build_pipeline(config, codes), [texts[i] for i in fit_idx], y[fit_idx], weights[fit_idx])
        scores[held] = predict_proba(fitted, [texts[i] for i in held])
    return scores


def best_threshold(y: np.ndarray, scores: np.ndarray, config: Mapping[str, Any]) -> float:
    """The threshold that maximises F1; the median of those within `tolerance` of the best."""
    t = config.get("thresholds", {})
    grid = np.arange(float(t.get("min", 0.2)), float(t.get("max", 0.8)) + 1e-9, float(t.get("step", 0.01)))
    by_threshold = np.array([f1(y, scores >= g) for g in grid])
    near = grid[by_threshold >= by_threshold.max() - float(t.get("tolerance", 0.0))]
    return float(np.median(near))


def cross_validated_metrics(
    y: np.ndarray,
    oof: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    config: Mapping[str, Any],
    codes: Sequence[str],
    band: float,
) -> dict[str, Any]:
    """Metrics on the held-out scores, each fold judged with thresholds chosen on the other folds only."""
    helds = [held for _, held in splits]
    decided = np.zeros(y.shape, dtype=bool)
    unsure = np.zeros(len(y), dtype=bool)
    for j, held in enumerate(helds):
        rest = np.concatenate([h for i, h in enumerate(helds) if i != j])
        thr = np.array([best_threshold(y[rest, k], oof[rest, k], config) for k in range(y.shape[1])])
        decided[held] = oof[held] >= thr
        unsure[held] = (np.abs(oof[held] - thr) < band).any(axis=1)
    scored = np.sort(np.concatenate(helds))
    return metrics(y[scored].astype(bool), decided[scored], unsure[scored], codes)
