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


def _sidecar(path: Path) -> dict:
    try:
        data = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def blend_partner(path: Path) -> Path | None:
    """The TF-IDF model an encoder at `path` averages its scores with (from its sidecar), or None."""
    path = Path(path)
    if not path.name.endswith(".onnx"):
        return None
    meta = _sidecar(path)
    found = meta.get("blend")
    blend: dict = found if isinstance(found, dict) else {}
    try:
        weight = float(blend.get("fast_weight") or 0)
    except (TypeError, ValueError):
        weight = 0.0
    if weight <= 0:
        return None
    return path.parent / str(blend.get("fast_model") or f"{meta.get('scheme', 'areas')}.skops")


def classifier_file(models_dir: Path, scheme: str = "areas", classifier: str = "default") -> Path:
    """The model file a classifier choice names: "default" (the encoder when the scheme has one, its runtime is
    installed and the TF-IDF model it blends with exists; else the TF-IDF model), "fast" (TF-IDF), "encoder",
    or a path."""
    fast = Path(models_dir) / f"{scheme}.skops"
    encoder = Path(models_dir) / f"{scheme}{ENCODER_SUFFIX}"
    if classifier == "fast":
        return fast
    if classifier == "encoder":
        return encoder
    if classifier == "default":
        partner = blend_partner(encoder)
        usable = encoder.is_file() and encoder_runtime_installed() and (partner is None or partner.is_file())
        return encoder if usable else fast
    return Path(classifier)


def model_version(models_dir: Path | None, scheme: str = "areas", classifier: str = "default") -> str:
    """The classifier's name-version from its JSON sidecar, or 'none' when there is no usable model. An encoder
    that blends its scores with the TF-IDF model names both, so retraining either re-classifies."""
    if models_dir is None:
        return "none"
    path = classifier_file(models_dir, scheme, classifier)
    meta = _sidecar(path)
    if "model" not in meta or not path.is_file():
        return "none"
    partner = blend_partner(path)
    if partner is not None:
        fast = _sidecar(partner)
        if "model" not in fast or not partner.is_file():
            return "none"
        return f"{meta['model']}+{fast['model']}"
    return str(meta["model"])


# The sidecar of the status reader's encoder (pipeline.recur.status_encoder.GRAPH_FILE + ".json"; this module
# imports nothing of the pipeline).
STATUS_READER_SIDECAR = "status-minilm.int8.onnx.json"


def link_version(models_dir: Path | None) -> str:
    """The recurrence linker's version: the `version` its config declares plus a digest of the config, so
    editing a threshold or a cue list, or retraining the recurrence models, relinks as surely as a new release of
    the code."""
    if models_dir is None:
        return "none"
    path = Path(models_dir) / "recurrence.toml"
    try:
        data = path.read_bytes()
        config = tomllib.loads(data.decode("utf-8"))
        declared = str(config.get("version", "recur"))
    except (OSError, ValueError):
        return "none"
    side = Path(models_dir) / "recur.skops.json"  # the learned models' sidecar: retraining relinks too
    trained = hashlib.sha256(side.read_bytes()).hexdigest()[:12] if side.is_file() else "untrained"
    version = f"{declared}:{hashlib.sha256(data).hexdigest()[:12]}:{trained}"
    # the status reader's encoder, when the config turns it on (its sidecar records the graph's sha256): a new
    # reader relinks too; off, the linker never reads it, so rebuilding it changes nothing
    status = Path(models_dir) / STATUS_READER_SIDECAR
    if not (config.get("status", {}).get("encoder", False) and status.is_file()):
        return version
    return f"{version}:{hashlib.sha256(status.read_bytes()).hexdigest()[:12]}"


def stage_versions(models_dir: Path | None = None, classifier: str = "default") -> dict[str, str]:
    return {
        "extract": EXTRACT,
        "segment": SEGMENT,
        "classify": model_version(models_dir, classifier=classifier),
        "link": link_version(models_dir),
    }
