"""Versions of each stage's logic. Bump one and only what that stage produced is reprocessed.

Kept apart from the stages so that checking for work to do never imports
pdfplumber or spaCy.
"""

import hashlib
import json
import tomllib
from pathlib import Path

EXTRACT = "extract-2"
SEGMENT = "segment-3"


ENCODER_SUFFIX = "-minilm.int8.onnx"  # the fine-tuned encoder beside the TF-IDF model (pipeline.classify.encoder)


def encoder_runtime_installed() -> bool:
    """onnxruntime and tokenizers are importable (found, not imported: this stays cheap)."""
    from importlib.util import find_spec

    return find_spec("onnxruntime") is not None and find_spec("tokenizers") is not None


def classifier_file(models_dir: Path, scheme: str = "areas", classifier: str = "default") -> Path:
    """The model file a classifier choice names: "default" (the encoder when the scheme has one and its runtime
    is installed, else the TF-IDF model), "fast" (TF-IDF), "encoder", or a path."""
    fast = Path(models_dir) / f"{scheme}.skops"
    encoder = Path(models_dir) / f"{scheme}{ENCODER_SUFFIX}"
    if classifier == "fast":
        return fast
    if classifier == "encoder":
        return encoder
    if classifier == "default":
        return encoder if encoder.is_file() and encoder_runtime_installed() else fast
    return Path(classifier)


def _sidecar(path: Path) -> dict:
    try:
        data = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def model_version(models_dir: Path | None, scheme: str = "areas", classifier: str = "default") -> str:
    """The classifier's name-version from its JSON sidecar, or 'none' when there is no model. An encoder that
    blends its scores with the TF-IDF model names both, so retraining either re-classifies."""
    if models_dir is None:
        return "none"
    path = classifier_file(models_dir, scheme, classifier)
    meta = _sidecar(path)
    if "model" not in meta or not path.is_file():
        return "none"
    blend = meta.get("blend") or {}
    if float(blend.get("fast_weight", 0) or 0) > 0:
        fast = _sidecar(path.parent / str(blend.get("fast_model", f"{scheme}.skops")))
        return f"{meta['model']}+{fast.get('model', 'none')}"
    return str(meta["model"])


def link_version(models_dir: Path | None) -> str:
    """The recurrence linker's version: the `version` its config declares plus a digest of the config, so
    editing a threshold or a cue list, or retraining the recurrence models, relinks as surely as a new release of
    the code."""
    if models_dir is None:
        return "none"
    path = Path(models_dir) / "recurrence.toml"
    try:
        data = path.read_bytes()
        declared = str(tomllib.loads(data.decode("utf-8")).get("version", "recur"))
    except (OSError, ValueError):
        return "none"
    side = Path(models_dir) / "recur.skops.json"  # the learned models' sidecar: retraining relinks too
    trained = hashlib.sha256(side.read_bytes()).hexdigest()[:12] if side.is_file() else "untrained"
    return f"{declared}:{hashlib.sha256(data).hexdigest()[:12]}:{trained}"


def stage_versions(models_dir: Path | None = None, classifier: str = "default") -> dict[str, str]:
    return {
        "extract": EXTRACT,
        "segment": SEGMENT,
        "classify": model_version(models_dir, classifier=classifier),
        "link": link_version(models_dir),
    }
