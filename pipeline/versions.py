"""Versions of each stage's logic. Bump one and only what that stage produced is reprocessed.

Kept apart from the stages so that checking for work to do never imports
pdfplumber or spaCy.
"""

EXTRACT = "extract-1"
SEGMENT = "segment-1"


def stage_versions() -> dict[str, str]:
    return {"extract": EXTRACT, "segment": SEGMENT}
