"""The model: the scikit-learn Pipeline built from models/classifier.toml, saving and loading with skops (hash-
checked), and classifying texts in batches.
"""

from __future__ import annotations

import copy
import json
import logging
import platform
import threading
import tomllib
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline import __version__
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.hashing import sha256_file
from pipeline.ngrams import predict_proba
from pipeline.records import Prediction, Statement
from pipeline.skopsfile import load_trusted
from pipeline.versions import blend_partner

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# scikit-learn is imported where a pipeline is built, fitted or read from skops, never at import: a process that
# only classifies reads the models' linear forms (pipeline.classify.linear) and does without it.

logger = logging.getLogger(__name__)

CONFIG_FILE = "classifier.toml"


# Texts per call to the pipeline: large enough that per-call overhead vanishes,
# small enough that the character n-gram matrix of one batch stays modest.
BATCH_SIZE = 4096


# The only types a model file may contain. skops refuses anything else, so a
# tampered or foreign file cannot run code when it is loaded.
TRUSTED_TYPES = [
    "builtins.dict",
    "builtins.float",
    "builtins.int",
    "builtins.list",
    "builtins.str",
    "builtins.tuple",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.feature_extraction.text.HashingVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.svm._classes.LinearSVC",
    "sklearn.multiclass.OneVsRestClassifier",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.pipeline.Pipeline",
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

    pipeline: Any  # a scikit-learn Pipeline, its LinearForm, or an EncoderScorer: all have predict_proba(texts)
    scheme: str
    codes: tuple[str, ...]
    thresholds: tuple[float, ...]
    abstain_band: float
    name: str  # "name-version", as written in every prediction
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def kind(self) -> str:
        """ "fast" for the TF-IDF pipeline, "encoder" for the fine-tuned sentence encoder."""
        from pipeline.classify.encoder import EncoderScorer

        return "encoder" if isinstance(self.pipeline, EncoderScorer) else "fast"

    @property
    def vectorizer(self) -> Any:
        """The feature step alone (texts to the sparse matrix the classifiers read); None for the encoder and for
        a linear form."""
        if type(self.pipeline).__module__.startswith("sklearn."):
            return self.pipeline[:-1]
        return None


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


def build_pipeline(config: Mapping[str, Any], codes: Sequence[str]) -> Pipeline:
    """The one factory: a scikit-learn Pipeline (features -> calibrated one-vs-rest linear models).

    `codes` are the labels the output columns stand for, in order: the
    pipeline is fitted on an indicator matrix with one column per code.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

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
    calibrated = CalibratedClassifierCV(
        base, method=cal.get("method", "sigmoid"), cv=int(cal.get("cv", 5)), ensemble=False
    )  # one model per label at prediction time: cheap
    return Pipeline([("features", FeatureUnion(views)), ("classifier", OneVsRestClassifier(calibrated))])


def fit_pipeline(
    pipeline: Pipeline, texts: Sequence[str], y: np.ndarray, weights: np.ndarray | None = None
) -> Pipeline:
    """Fit a pipeline from `build_pipeline`, with one weight per statement when `weights` is given.

    The weights reach the linear models and their calibration through
    scikit-learn's metadata routing. Routing leaves its requests on every
    estimator; they are removed after fitting, so that a saved model holds
    only the types in TRUSTED_TYPES.
    """
    if weights is None or np.allclose(weights, 1.0):
        return pipeline.fit(list(texts), y)
    import sklearn

    calibrated = pipeline[-1].estimator
    with sklearn.config_context(enable_metadata_routing=True):
        calibrated.set_fit_request(sample_weight=True)
        calibrated.estimator.set_fit_request(sample_weight=True)
        try:
            pipeline.fit(list(texts), y, sample_weight=np.asarray(weights, dtype=float))
        finally:
            _drop_routing_requests(pipeline, set())
    return pipeline


def _drop_routing_requests(obj: Any, seen: set[int]) -> None:
    if id(obj) in seen or isinstance(obj, (type, np.ndarray, str, bytes, int, float)):
        return
    seen.add(id(obj))
    if isinstance(obj, dict):
        children: Any = obj.values()
    elif isinstance(obj, (list, tuple)):
        children = obj
    elif hasattr(obj, "__dict__"):
        obj.__dict__.pop("_metadata_request", None)
        children = obj.__dict__.values()
    else:
        return
    for child in list(children):
        _drop_routing_requests(child, seen)


TFIDF_OPTIONS = ("norm", "use_idf", "smooth_idf", "sublinear_tf")


def _vectorizer(name: str, options: Mapping[str, Any]) -> Pipeline:
    """Hashed n-gram counts, then TF-IDF weighting.

    Hashing instead of a vocabulary keeps the saved model small and quick to
    load (a vocabulary of n-grams is tens of megabytes of skops JSON), at the
    cost of rare collisions between n-grams.
    """
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.pipeline import Pipeline

    options = {k: v for k, v in options.items() if k != "enabled"}
    if "ngram_range" in options:
        options["ngram_range"] = tuple(options["ngram_range"])
    weighting = {k: options.pop(k) for k in TFIDF_OPTIONS if k in options}
    try:
        counts = HashingVectorizer(alternate_sign=False, norm=None, **options)
        return Pipeline([("hash", counts), ("tfidf", TfidfTransformer(**weighting))])
    except TypeError as exc:
        raise ClassifyError(f"[features.{name}]: {exc}") from None


def library_versions() -> dict[str, str]:
    import scipy
    import sklearn
    import skops

    return {
        "scrutiny": __version__,
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def sidecar_path(path: Path) -> Path:
    """Where a model's JSON sidecar lives: `<path>.json`."""
    return Path(f"{path}.json")


MODEL_KINDS = ("default", "fast", "encoder")


def default_model_path(settings: Settings, scheme: str = "areas", kind: str = "default") -> Path:
    """Where the scheme's model lives.

    kind "fast" is the TF-IDF model (`<scheme>.skops`, trained by `scrutiny
    train`); "encoder" the fine-tuned sentence encoder
    (`<scheme>-minilm.int8.onnx`); "default" the encoder when the scheme has
    one and its runtime is installed, else the TF-IDF model.
    """
    from pipeline.versions import classifier_file

    if kind not in MODEL_KINDS:
        raise ClassifyError(f"unknown model kind {kind!r}: use one of {', '.join(MODEL_KINDS)} or a path")
    return classifier_file(settings.models_dir, scheme, kind)


def save_model(model: Model, path: Path) -> None:
    """Write the model with skops and its metadata to `<path>.json`."""
    import skops.io as sio

    from pipeline.classify.linear import FORMAT, from_pipeline, linear_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "pipeline": model.pipeline,
        "scheme": model.scheme,
        "codes": list(model.codes),
        "thresholds": list(model.thresholds),
        "abstain_band": model.abstain_band,
        "name": model.name,
    }
    tmp = path.with_name(path.name + ".tmp")
    sio.dump(payload, tmp, compression=zipfile.ZIP_DEFLATED)
    tmp.replace(path)  # a reader never sees half a model
    metadata = {k: v for k, v in model.metadata.items() if k != "linear"}
    form = from_pipeline(model.pipeline)
    flat = linear_path(path)
    if form is not None:  # the same scores as plain arrays, for the processes that only classify
        about = {
            "name": model.name,
            "scheme": model.scheme,
            "codes": list(model.codes),
            "thresholds": list(model.thresholds),
            "abstain_band": model.abstain_band,
        }
        form.save(flat, about)
        metadata["linear"] = {
            "file": flat.name,
            "sha256": sha256_file(flat),
            "model_sha256": sha256_file(path),  # the skops file it was made from
            "format": FORMAT,
        }
    else:
        flat.unlink(missing_ok=True)
    sidecar_path(path).write_text(
        json.dumps(metadata, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )


def load_model(path: Path, linear: bool = False) -> Model:
    """Load a model saved by `save_model` (cached per file and modification time).

    Only the types in TRUSTED_TYPES may appear in the file; anything else is
    refused before it is loaded. With `linear`, a TF-IDF model whose sidecar names a linear form is read from
    that instead (hash-checked; the same scores, without scikit-learn): for classifying only, since the
    model's `pipeline` is then not a scikit-learn Pipeline. An encoder always reads its TF-IDF partner so.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        hint = (
            "restore it from the repository or run `make finetune`"
            if path.suffix == ".onnx"
            else "run `scrutiny train` first"
        )
        raise ClassifyError(f"no model at {path}: {hint}") from None
    # loaded again when the sidecar changes (thresholds, blend) or the TF-IDF model an encoder blends with
    watched = [sidecar_path(path), blend_partner(path)]
    stamps = tuple((w.stat().st_mtime_ns, w.stat().st_size) if w is not None and w.is_file() else None for w in watched)
    with _LOAD_LOCK:  # threads classifying their first documents together share one model, loaded once
        return _load(path.resolve(), stat.st_mtime_ns, stat.st_size, stamps, linear and path.suffix != ".onnx")


_LOAD_LOCK = threading.RLock()


@lru_cache(maxsize=4)
def _load(
    path: Path, mtime_ns: int, size: int, watched: tuple[tuple[int, int] | None, ...] = (), linear: bool = False
) -> Model:
    from pipeline.classify.encoder import is_encoder_file

    if is_encoder_file(path):
        return _load_encoder(path)
    if linear:
        flat = _load_linear(path)
        if flat is not None:
            return flat
    payload = load_trusted(path, TRUSTED_TYPES, ClassifyError, "a Scrutiny model")
    metadata: dict[str, Any] = {}
    side = sidecar_path(path)
    if side.is_file():
        metadata = json.loads(side.read_text(encoding="utf-8"))
        if metadata.get("model") != payload["name"]:
            raise ClassifyError(
                f"{side} describes model {metadata.get('model')!r}, but {path} holds "
                f"{payload['name']!r}: retrain or restore the matching pair"
            )
    return Model(
        pipeline=payload["pipeline"],
        scheme=payload["scheme"],
        codes=tuple(payload["codes"]),
        thresholds=tuple(float(t) for t in payload["thresholds"]),
        abstain_band=float(payload["abstain_band"]),
        name=payload["name"],
        metadata=metadata,
    )


def _load_linear(path: Path) -> Model | None:
    """The model from the linear form its sidecar names, or None: when it names none, or when the form is
    missing, damaged or not of this skops file (both sha256s are in the sidecar), in which case the skops file
    is read instead, with a warning. The skops file is the model; its linear form only saves memory."""
    from pipeline.classify.linear import FORMAT, LinearForm, LinearFormError

    side = sidecar_path(path)
    try:
        metadata = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entry = metadata.get("linear") if isinstance(metadata, dict) else None
    if not isinstance(entry, dict) or entry.get("format") != FORMAT or not metadata.get("model"):
        if path.suffix == ".skops":
            _warn_once(
                f"{side} names no linear form (a model saved by an older version, or of a shape that has none): "
                f"{path.name} is read with scikit-learn"
            )
        return None
    flat = path.parent / Path(str(entry.get("file"))).name  # beside the model, whatever the sidecar says
    if not flat.is_file():
        _warn_once(f"{side} names {flat.name}, which is missing: {path.name} is read with scikit-learn instead")
        return None
    if sha256_file(path) != entry.get("model_sha256") or sha256_file(flat) != entry.get("sha256"):
        _warn_once(
            f"{flat} and {path.name} are not the pair {side.name} describes (a file damaged, replaced, or being "
            f"written): {path.name} is read with scikit-learn instead"
        )
        return None
    try:
        form, about = LinearForm.load(flat)
        model = Model(
            pipeline=form,
            scheme=str(about["scheme"]),
            codes=tuple(str(c) for c in about["codes"]),
            thresholds=tuple(float(t) for t in about["thresholds"]),
            abstain_band=float(about["abstain_band"]),
            name=str(about["name"]),
            metadata=metadata,
        )
    except (LinearFormError, KeyError, TypeError, ValueError) as exc:
        _warn_once(f"{flat} cannot be used ({exc}): {path.name} is read with scikit-learn instead")
        return None
    if model.name != metadata["model"] or not len(model.codes) == form.coef.shape[0] == len(model.thresholds):
        _warn_once(f"{flat} does not hold {metadata['model']!r}: {path.name} is read with scikit-learn instead")
        return None
    return model


@lru_cache(maxsize=16)
def _warn_once(message: str) -> None:
    logger.warning(message)


def _load_encoder(path: Path) -> Model:
    from pipeline.classify.encoder import EncoderError, EncoderScorer, read_encoder

    try:
        session, tokenizer, meta = read_encoder(path)
    except EncoderError as exc:
        raise ClassifyError(str(exc)) from None
    fast = None
    fast_path = blend_partner(path)
    weight = float((meta.get("blend") or {}).get("fast_weight") or 0.0) if fast_path is not None else 0.0
    if fast_path is not None:
        if not fast_path.is_file():
            raise ClassifyError(
                f"{path.name} blends its scores with the TF-IDF model {fast_path.name}, which is missing: "
                "run `scrutiny train` (or `make model`) first"
            )
        partner = load_model(fast_path, linear=True)
        if partner.scheme != meta["scheme"] or tuple(partner.codes) != tuple(meta["codes"]):
            raise ClassifyError(
                f"{path.name} ({meta['scheme']}: {', '.join(meta['codes'])}) cannot blend with {fast_path.name} "
                f"({partner.scheme}: {', '.join(partner.codes)}): retrain that with `scrutiny train`"
            )
        fast = partner.pipeline
    return Model(
        pipeline=EncoderScorer(session, tokenizer, fast, weight),
        scheme=str(meta["scheme"]),
        codes=tuple(meta["codes"]),
        thresholds=tuple(float(meta["thresholds"][c]) for c in meta["codes"]),
        abstain_band=float(meta["abstain_band"]),
        name=str(meta["model"]),
        metadata=meta,
    )


def classify(model: Model, texts: list[str]) -> list[dict[str, Any]]:
    """Label texts in batches: one {"labels", "scores", "abstain", "model"} per text, in order. A text that comes
    again in the call (a table's header repeated on every page, a standing paragraph) is scored once and its
    result given to every copy, so copies in one call always get the same labels."""
    unique = list(dict.fromkeys(texts))
    if len(unique) < len(texts):
        results = dict(zip(unique, _classify_texts(model, unique)))
        return [
            {**results[t], "labels": list(results[t]["labels"]), "scores": dict(results[t]["scores"])} for t in texts
        ]
    return _classify_texts(model, texts)


def _classify_texts(model: Model, texts: list[str]) -> list[dict[str, Any]]:
    thresholds = np.asarray(model.thresholds)
    out: list[dict[str, Any]] = []
    for start in range(0, len(texts), BATCH_SIZE):
        scores = predict_proba(model.pipeline, texts[start : start + BATCH_SIZE])
        chosen = scores >= thresholds
        margins = np.abs(scores - thresholds).min(axis=1)
        unsure = margins < model.abstain_band
        rounded = np.round(scores, 4).tolist()
        for row, picks, doubt, margin in zip(rounded, chosen.tolist(), unsure.tolist(), margins.tolist()):
            out.append(
                {
                    "labels": [c for c, on in zip(model.codes, picks) if on],
                    "scores": dict(zip(model.codes, row)),
                    "abstain": doubt,
                    "model": model.name,
                    "margin": round(margin, 4),
                }
            )
    return out


def classify_statements(
    statements: Sequence[Statement], settings: Settings, scheme: str = "areas", model_path: Path | None = None
) -> list[Prediction]:
    """The stage's entry point for the flow: Predictions for Statements, with the scheme's saved model."""
    if model_path is None:
        choice = settings.classifier
        model_path = default_model_path(settings, scheme, choice) if choice in MODEL_KINDS else Path(choice)
    model = load_model(model_path, linear=True)
    if model.scheme != scheme:
        raise ClassifyError(f"the model {model.name} labels scheme '{model.scheme}', not '{scheme}'")
    results = classify(model, [s.text for s in statements])
    return [
        Prediction(
            statement_id=s.id,
            labels=tuple(r["labels"]),
            scores=r["scores"],
            abstain=r["abstain"],
            model=r["model"],
            scheme=scheme,
            margin=r["margin"],
        )
        for s, r in zip(statements, results)
    ]
