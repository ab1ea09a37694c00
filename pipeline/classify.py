"""Classification: statements get the labels of a scheme (default: the four priority areas).

One factory, `build_pipeline`, turns models/classifier.toml into a scikit-learn
Pipeline: TF-IDF over hashed word and character n-grams feeding one calibrated
linear model per label. `train` fits it on labelled statements, chooses a
decision threshold per label on out-of-fold scores and records what it did;
`save_model` writes the model with skops (never pickle) beside a JSON sidecar;
`classify` labels texts in batches; `evaluate` measures a model on a labelled
file. This is the only module of the pipeline that imports scikit-learn.
"""

from __future__ import annotations

import copy
import hashlib
import json
import platform
import time
import tomllib
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from . import __version__
from .config import Settings
from .errors import PipelineError
from .records import Prediction, Statement
from .taxonomy import Taxonomy, load_taxonomy

CONFIG_FILE = "classifier.toml"
# Texts per call to the pipeline: large enough that per-call overhead vanishes,
# small enough that the character n-gram matrix of one batch stays modest.
BATCH_SIZE = 4096
# The only types a model file may contain. skops refuses anything else, so a
# tampered or foreign file cannot run code when it is loaded.
TRUSTED_TYPES = [
    "builtins.dict", "builtins.float", "builtins.int", "builtins.list", "builtins.str", "builtins.tuple",
    "numpy.dtype", "numpy.float64", "numpy.int64", "numpy.ndarray",
    "sklearn.calibration.CalibratedClassifierCV", "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration", "sklearn.isotonic.IsotonicRegression",
    "sklearn.feature_extraction.text.HashingVectorizer", "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression", "sklearn.svm._classes.LinearSVC",
    "sklearn.multiclass.OneVsRestClassifier", "sklearn.pipeline.FeatureUnion", "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._label.LabelBinarizer",
]


class ClassifyError(PipelineError):
    """Labelled data, configuration or a model file that cannot be used, with the reason."""

    stage = "classify"


@dataclass(frozen=True)
class Model:
    """A fitted pipeline and the decisions made on top of its scores.

    `thresholds[i]` is the decision threshold of `codes[i]`; a statement
    abstains when any score lies within `abstain_band` of its threshold.
    `metadata` is what the JSON sidecar holds: provenance, versions, metrics.
    """

    pipeline: Pipeline
    scheme: str
    codes: tuple[str, ...]
    thresholds: tuple[float, ...]
    abstain_band: float
    name: str  # "name-version", as written in every prediction
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def vectorizer(self) -> Pipeline:
        """The feature step alone (texts to the sparse matrix the classifiers read)."""
        return self.pipeline[:-1]


# ---------------------------------------------------------------- configuration and data

def load_config(path: Path) -> dict[str, Any]:
    """Read models/classifier.toml (cached per path; a fresh copy each call)."""
    return copy.deepcopy(_read_config(Path(path)))


@lru_cache(maxsize=8)
def _read_config(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClassifyError(f"no classifier configuration at {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ClassifyError(f"{path}: not valid TOML: {exc}") from None


def label_files(folder: Path) -> list[Path]:
    """The labelled-statement files of a folder (`*.jsonl`, not recursive), in name order."""
    return sorted(Path(folder).glob("*.jsonl"))


def read_labelled(paths: Iterable[Path], taxonomy: Taxonomy | None = None) -> list[dict[str, Any]]:
    """Read labelled statements ({"text", "labels", ...} per line) from JSON Lines files.

    Each line needs a non-empty `text` and a list of `labels` (empty for none);
    with a taxonomy, every label must be one of its codes. Every problem is
    reported, with file and line, in one ClassifyError.
    """
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    codes = set(taxonomy.codes) if taxonomy else None
    for path in paths:
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot be read: {exc}")
            continue
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: not valid JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                problems.append(f"{where}: expected a JSON object")
                continue
            text, labels = row.get("text"), row.get("labels")
            if not isinstance(text, str) or not text.strip():
                problems.append(f"{where}: 'text' must be a non-empty string")
                continue
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                problems.append(f"{where}: 'labels' must be a list of codes ([] for none)")
                continue
            if len(set(labels)) != len(labels):
                problems.append(f"{where}: a label is repeated: {labels}")
                continue
            if codes is not None and not set(labels) <= codes:
                unknown = sorted(set(labels) - codes)
                problems.append(f"{where}: labels {unknown} are not codes of scheme "
                                f"'{taxonomy.scheme}' ({', '.join(taxonomy.codes)})")
                continue
            records.append(row)
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise ClassifyError(f"{len(problems)} bad labelled statement(s):\n  {shown}{more}")
    return records


def corpus_hash(paths: Iterable[Path], corrections: Sequence[Mapping[str, Any]] | None = None) -> str:
    """sha256 over the labelled files (by file name, so the hash is the same in any checkout) and corrections."""
    digest = hashlib.sha256()
    for path in sorted((Path(p) for p in paths), key=lambda p: p.name):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for c in sorted((_correction_key(c) for c in corrections or ())):
        digest.update(c.encode() + b"\0")
    return digest.hexdigest()


def _correction_key(correction: Mapping[str, Any]) -> str:
    return json.dumps({"text": correction["text"], "labels": sorted(correction["labels"])}, sort_keys=True)


# ---------------------------------------------------------------- the factory

def build_pipeline(config: Mapping[str, Any], codes: Sequence[str]) -> Pipeline:
    """The one factory: a scikit-learn Pipeline (features -> calibrated one-vs-rest linear models).

    `codes` are the labels the output columns stand for, in order: the
    pipeline is fitted on an indicator matrix with one column per code.
    """
    if not codes:
        raise ClassifyError("a classifier needs at least one label code")
    seed = int(config.get("model", {}).get("seed", 0))
    views = []
    for name, options in config.get("features", {}).items():
        if options.get("enabled", True):
            views.append((name, _vectorizer(name, options)))
    if not views:
        raise ClassifyError("the classifier configuration enables no [features.*] view")
    clf = dict(config.get("classifier", {}))
    kind = clf.pop("kind", "linear_svc")
    if kind == "linear_svc":
        base = LinearSVC(random_state=seed, **clf)
    elif kind == "logistic_regression":
        base = LogisticRegression(random_state=seed, **clf)
    else:
        raise ClassifyError(f"unknown classifier kind {kind!r}: use linear_svc or logistic_regression")
    cal = config.get("calibration", {})
    calibrated = CalibratedClassifierCV(base, method=cal.get("method", "sigmoid"), cv=int(cal.get("cv", 5)),
                                        ensemble=False)  # one model per label at prediction time: cheap
    return Pipeline([("features", FeatureUnion(views)), ("classifier", OneVsRestClassifier(calibrated))])


TFIDF_OPTIONS = ("norm", "use_idf", "smooth_idf", "sublinear_tf")


def _vectorizer(name: str, options: Mapping[str, Any]) -> Pipeline:
    """Hashed n-gram counts, then TF-IDF weighting.

    Hashing instead of a vocabulary keeps the saved model small and quick to
    load (a vocabulary of n-grams is tens of megabytes of skops JSON), at the
    cost of rare collisions between n-grams.
    """
    options = {k: v for k, v in options.items() if k != "enabled"}
    if "ngram_range" in options:
        options["ngram_range"] = tuple(options["ngram_range"])
    weighting = {k: options.pop(k) for k in TFIDF_OPTIONS if k in options}
    try:
        counts = HashingVectorizer(alternate_sign=False, norm=None, **options)
        return Pipeline([("hash", counts), ("tfidf", TfidfTransformer(**weighting))])
    except TypeError as exc:
        raise ClassifyError(f"[features.{name}]: {exc}") from None


# ---------------------------------------------------------------- training

def train(label_paths: list[Path], settings: Settings, scheme: str = "areas",
          corrections: list[dict] | None = None, config: Mapping[str, Any] | None = None) -> Model:
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
        raise ClassifyError(f"no labelled statements for scheme '{scheme}': add JSON Lines files{where} "
                            f"with labels from {', '.join(taxonomy.codes)} (see models/README.md)")
    records = read_labelled(label_paths, taxonomy)
    corrections = _checked_corrections(corrections or [], taxonomy)
    records, replaced = _fold_in(records, corrections)
    texts = [r["text"] for r in records]
    y = _indicators(records, taxonomy.codes)
    _check_trainable(y, taxonomy.codes, config)

    folds = int(config.get("thresholds", {}).get("cv_folds", 5))
    seed = int(config.get("model", {}).get("seed", 0))
    oof = _out_of_fold_scores(texts, y, config, taxonomy.codes, folds, seed)
    thresholds = np.array([_best_threshold(y[:, k], oof[:, k], config) for k in range(y.shape[1])])
    band = float(config.get("abstain", {}).get("band", 0.0))
    cv_metrics = _cross_validated_metrics(y, oof, config, folds, seed, taxonomy.codes, band)

    pipeline = build_pipeline(config, taxonomy.codes).fit(texts, y)
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
            "corrections": len(corrections),
            "corrections_replacing_file_labels": replaced,
            "seconds": round(time.perf_counter() - started, 1),
        },
        "metrics": {"cross_validation": cv_metrics},
        "config": config,
        "versions": _versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return Model(pipeline=pipeline, scheme=scheme, codes=taxonomy.codes,
                 thresholds=tuple(round(float(t), 4) for t in thresholds), abstain_band=band, name=name,
                 metadata=metadata)


def _checked_corrections(corrections: list[dict], taxonomy: Taxonomy) -> list[dict]:
    checked = []
    for i, c in enumerate(corrections, 1):
        text, labels = c.get("text"), c.get("labels")
        if not isinstance(text, str) or not text.strip() or not isinstance(labels, (list, tuple)):
            raise ClassifyError(f"correction {i} ({c.get('statement_id', 'no id')}) needs a text and a list of labels")
        unknown = taxonomy.unknown_codes(labels)
        if unknown:
            raise ClassifyError(f"correction {i} ({c.get('statement_id', 'no id')}): labels {unknown} are not "
                                f"codes of scheme '{taxonomy.scheme}'")
        checked.append({"text": text, "labels": sorted(set(labels))})
    return checked


def _fold_in(records: list[dict], corrections: list[dict]) -> tuple[list[dict], int]:
    """Corrections win over the files' labels for the same text; new texts are added."""
    if not corrections:
        return records, 0
    fixed = {_norm(c["text"]): c for c in corrections}
    out, replaced = [], 0
    for r in records:
        c = fixed.pop(_norm(r["text"]), None)
        if c is None:
            out.append(r)
        else:
            replaced += 1
            out.append({**r, "labels": c["labels"]})
    out.extend({"text": c["text"], "labels": c["labels"], "source": "correction"} for c in fixed.values())
    return out, replaced


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _indicators(records: Sequence[Mapping[str, Any]], codes: Sequence[str]) -> np.ndarray:
    return np.array([[code in r["labels"] for code in codes] for r in records], dtype=np.int8).reshape(-1, len(codes))


def _check_trainable(y: np.ndarray, codes: Sequence[str], config: Mapping[str, Any]) -> None:
    need = max(int(config.get("thresholds", {}).get("cv_folds", 5)), int(config.get("calibration", {}).get("cv", 5)))
    for k, code in enumerate(codes):
        positives = int(y[:, k].sum())
        if positives < need or len(y) - positives < need:
            raise ClassifyError(f"label {code} has {positives} positive and {len(y) - positives} negative "
                                f"statements; each needs at least {need} to train and cross-validate")


def _out_of_fold_scores(texts: list[str], y: np.ndarray, config: Mapping[str, Any], codes: Sequence[str],
                        folds: int, seed: int) -> np.ndarray:
    scores = np.zeros(y.shape, dtype=float)
    for fit_idx, test_idx in KFold(folds, shuffle=True, random_state=seed).split(texts):
        fitted = build_pipeline(config, codes).fit([texts[i] for i in fit_idx], y[fit_idx])
        scores[test_idx] = fitted.predict_proba([texts[i] for i in test_idx])
    return scores


def _best_threshold(y: np.ndarray, scores: np.ndarray, config: Mapping[str, Any]) -> float:
    """The threshold that maximises F1; the median of those within `tolerance` of the best."""
    t = config.get("thresholds", {})
    grid = np.arange(float(t.get("min", 0.2)), float(t.get("max", 0.8)) + 1e-9, float(t.get("step", 0.01)))
    f1 = np.array([_f1(y, scores >= g) for g in grid])
    near = grid[f1 >= f1.max() - float(t.get("tolerance", 0.0))]
    return float(np.median(near))


def _cross_validated_metrics(y: np.ndarray, oof: np.ndarray, config: Mapping[str, Any], folds: int, seed: int,
                             codes: Sequence[str], band: float) -> dict[str, Any]:
    """Metrics on out-of-fold scores, each fold judged with thresholds chosen on the other folds only."""
    decided = np.zeros(y.shape, dtype=bool)
    unsure = np.zeros(len(y), dtype=bool)
    for rest, held in KFold(folds, shuffle=True, random_state=seed + 1).split(oof):
        thr = np.array([_best_threshold(y[rest, k], oof[rest, k], config) for k in range(y.shape[1])])
        decided[held] = oof[held] >= thr
        unsure[held] = (np.abs(oof[held] - thr) < band).any(axis=1)
    return _metrics(y.astype(bool), decided, unsure, codes)


def _f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    truth, predicted = truth.astype(bool), predicted.astype(bool)
    tp = int((truth & predicted).sum())
    fp = int(predicted.sum()) - tp
    fn = int(truth.sum()) - tp
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _metrics(truth: np.ndarray, predicted: np.ndarray, abstained: np.ndarray, codes: Sequence[str]) -> dict[str, Any]:
    per_label = {}
    for k, code in enumerate(codes):
        t, p = truth[:, k], predicted[:, k]
        tp = int((t & p).sum())
        precision = tp / int(p.sum()) if p.sum() else 0.0
        recall = tp / int(t.sum()) if t.sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[code] = {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
                           "support": int(t.sum())}
    kept = ~abstained
    return {
        "statements": int(len(truth)),
        "per_label": per_label,
        "macro_f1": round(float(np.mean([m["f1"] for m in per_label.values()])), 3),
        "exact_match": round(float((truth == predicted).all(axis=1).mean()), 3) if len(truth) else 0.0,
        "abstain_rate": round(float(abstained.mean()), 3) if len(truth) else 0.0,
        "macro_f1_when_not_abstaining": round(float(np.mean(
            [_f1(truth[kept, k], predicted[kept, k]) for k in range(len(codes))])), 3) if kept.any() else 0.0,
    }


def _versions() -> dict[str, str]:
    import scipy
    import sklearn
    import skops

    return {"scrutiny": __version__, "python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "skops": skops.__version__, "numpy": np.__version__, "scipy": scipy.__version__}


# ---------------------------------------------------------------- persistence

def sidecar_path(path: Path) -> Path:
    """Where a model's JSON sidecar lives: `<path>.json`."""
    return Path(f"{path}.json")


def default_model_path(settings: Settings, scheme: str = "areas") -> Path:
    return settings.models_dir / f"{scheme}.skops"


def save_model(model: Model, path: Path) -> None:
    """Write the model with skops and its metadata to `<path>.json`."""
    import skops.io as sio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"pipeline": model.pipeline, "scheme": model.scheme, "codes": list(model.codes),
               "thresholds": list(model.thresholds), "abstain_band": model.abstain_band, "name": model.name}
    tmp = path.with_name(path.name + ".tmp")
    sio.dump(payload, tmp, compression=zipfile.ZIP_DEFLATED)
    tmp.replace(path)  # a reader never sees half a model
    sidecar_path(path).write_text(json.dumps(model.metadata, indent=2, ensure_ascii=False, default=str) + "\n",
                                  encoding="utf-8")


def load_model(path: Path) -> Model:
    """Load a model saved by `save_model` (cached per file and modification time).

    Only the types in TRUSTED_TYPES may appear in the file; anything else is
    refused before it is loaded.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ClassifyError(f"no model at {path}: run `scrutiny train` first") from None
    return _load(path.resolve(), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int, size: int) -> Model:
    import skops.io as sio

    try:
        # skops itself trusts every scikit-learn estimator; a Scrutiny model is held to a shorter list
        untrusted = sorted((_types_in(path) | set(sio.get_untrusted_types(file=path))) - set(TRUSTED_TYPES))
        if untrusted:
            raise ClassifyError(f"{path}: refusing to load types that a Scrutiny model never contains: "
                                f"{', '.join(untrusted)}")
        payload = sio.load(path, trusted=TRUSTED_TYPES)
    except ClassifyError:
        raise
    except Exception as exc:  # skops raises many kinds on a damaged or foreign file
        raise ClassifyError(f"{path}: not a readable skops model ({type(exc).__name__}: {exc})") from None
    metadata: dict[str, Any] = {}
    side = sidecar_path(path)
    if side.is_file():
        metadata = json.loads(side.read_text(encoding="utf-8"))
        if metadata.get("model") != payload["name"]:
            raise ClassifyError(f"{side} describes model {metadata.get('model')!r}, but {path} holds "
                                f"{payload['name']!r}: retrain or restore the matching pair")
    return Model(pipeline=payload["pipeline"], scheme=payload["scheme"], codes=tuple(payload["codes"]),
                 thresholds=tuple(float(t) for t in payload["thresholds"]),
                 abstain_band=float(payload["abstain_band"]), name=payload["name"], metadata=metadata)


def _types_in(path: Path) -> set[str]:
    """Every class named in a skops file's schema (the file is a zip with a schema.json)."""
    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__module__" in node and "__class__" in node:
                found.add(f"{node['__module__']}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


# ---------------------------------------------------------------- prediction and evaluation

def classify(model: Model, texts: list[str]) -> list[dict[str, Any]]:
    """Label texts in batches: one {"labels", "scores", "abstain", "model"} per text, in order."""
    thresholds = np.asarray(model.thresholds)
    out: list[dict[str, Any]] = []
    for start in range(0, len(texts), BATCH_SIZE):
        scores = model.pipeline.predict_proba(texts[start:start + BATCH_SIZE])
        chosen = scores >= thresholds
        margins = np.abs(scores - thresholds).min(axis=1)
        unsure = margins < model.abstain_band
        rounded = np.round(scores, 4).tolist()
        for row, picks, doubt, margin in zip(rounded, chosen.tolist(), unsure.tolist(), margins.tolist()):
            out.append({"labels": [c for c, on in zip(model.codes, picks) if on],
                        "scores": dict(zip(model.codes, row)), "abstain": doubt, "model": model.name,
                        "margin": round(margin, 4)})
    return out


def evaluate(model: Model, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-label precision, recall and F1, macro-F1 and the abstain rate of `model` on labelled records."""
    results = classify(model, [r["text"] for r in records])
    truth = _indicators(records, model.codes).astype(bool)
    predicted = np.array([[c in r["labels"] for c in model.codes] for r in results], dtype=bool).reshape(truth.shape)
    abstained = np.array([r["abstain"] for r in results], dtype=bool)
    return {"model": model.name, "scheme": model.scheme, **_metrics(truth, predicted, abstained, model.codes)}


def classify_statements(statements: Sequence[Statement], settings: Settings, scheme: str = "areas",
                        model_path: Path | None = None) -> list[Prediction]:
    """The stage's entry point for the flow: Predictions for Statements, with the scheme's saved model."""
    model = load_model(model_path or default_model_path(settings, scheme))
    if model.scheme != scheme:
        raise ClassifyError(f"the model {model.name} labels scheme '{model.scheme}', not '{scheme}'")
    results = classify(model, [s.text for s in statements])
    return [Prediction(statement_id=s.id, labels=tuple(r["labels"]), scores=r["scores"], abstain=r["abstain"],
                       model=r["model"], scheme=scheme, margin=r["margin"]) for s, r in zip(statements, results)]
