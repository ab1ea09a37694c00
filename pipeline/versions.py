"""Versions of each stage's logic. Bump one and only what that stage produced is reprocessed.

Kept apart from the stages so that checking for work to do never imports
pdfplumber or spaCy.
"""

import json
from pathlib import Path

EXTRACT = "extract-1"
SEGMENT = "segment-2"


def model_version(models_dir: Path | None, scheme: str = "areas") -> str:
    """The trained classifier's name-version from its JSON sidecar, or 'none' when there is no model."""
    if models_dir is None:
        return "none"
    sidecar = Path(models_dir) / f"{scheme}.skops.json"
    try:
        return str(json.loads(sidecar.read_text(encoding="utf-8"))["model"])
    except (OSError, ValueError, KeyError):
        return "none"


def stage_versions(models_dir: Path | None = None) -> dict[str, str]:
    return {"extract": EXTRACT, "segment": SEGMENT, "classify": model_version(models_dir)}
