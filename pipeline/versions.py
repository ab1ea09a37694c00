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


def model_version(models_dir: Path | None, scheme: str = "areas") -> str:
    """The trained classifier's name-version from its JSON sidecar, or 'none' when there is no model."""
    if models_dir is None:
        return "none"
    sidecar = Path(models_dir) / f"{scheme}.skops.json"
    try:
        return str(json.loads(sidecar.read_text(encoding="utf-8"))["model"])
    except (OSError, ValueError, KeyError):
        return "none"


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


def stage_versions(models_dir: Path | None = None) -> dict[str, str]:
    return {
        "extract": EXTRACT,
        "segment": SEGMENT,
        "classify": model_version(models_dir),
        "link": link_version(models_dir),
    }
