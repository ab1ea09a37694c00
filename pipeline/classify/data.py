"""Labelled statements: the label files, their hash, corrections folded in."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.classify.model import ClassifyError
from pipeline.lexicon.taxonomy import Taxonomy


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
            if taxonomy is not None and codes is not None and not set(labels) <= codes:
                unknown = sorted(set(labels) - codes)
                problems.append(
                    f"{where}: labels {unknown} are not codes of scheme "
                    f"'{taxonomy.scheme}' ({', '.join(taxonomy.codes)})"
                )
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
    for c in sorted(_correction_key(c) for c in corrections or ()):
        digest.update(c.encode() + b"\0")
    return digest.hexdigest()


def _correction_key(correction: Mapping[str, Any]) -> str:
    return json.dumps({"text": correction["text"], "labels": sorted(correction["labels"])}, sort_keys=True)


def checked_corrections(corrections: list[dict], taxonomy: Taxonomy) -> list[dict]:
    checked = []
    for i, c in enumerate(corrections, 1):
        text, labels = c.get("text"), c.get("labels")
        if not isinstance(text, str) or not text.strip() or not isinstance(labels, (list, tuple)):
            raise ClassifyError(f"correction {i} ({c.get('statement_id', 'no id')}) needs a text and a list of labels")
        unknown = taxonomy.unknown_codes(labels)
        if unknown:
            raise ClassifyError(
                f"correction {i} ({c.get('statement_id', 'no id')}): labels {unknown} are not "
                f"codes of scheme '{taxonomy.scheme}'"
            )
        checked.append({"text": text, "labels": sorted(set(labels))})
    return checked


def fold_in(records: list[dict], corrections: list[dict]) -> tuple[list[dict], int]:
    """Corrections win over the files' labels for the same text; new texts are added."""
    if not corrections:
        return records, 0
    fixed = {normalise_text(c["text"]): c for c in corrections}
    out, replaced = [], 0
    for r in records:
        c = fixed.pop(normalise_text(r["text"]), None)
        if c is None:
            out.append(r)
        else:
            replaced += 1
            out.append({**r, "labels": c["labels"]})
    out.extend({"text": c["text"], "labels": c["labels"], "source": "correction"} for c in fixed.values())
    return out, replaced


def normalise_text(text: str) -> str:
    return " ".join(text.split()).casefold()


def indicators(records: Sequence[Mapping[str, Any]], codes: Sequence[str]) -> np.ndarray:
    return np.array([[code in r["labels"] for code in codes] for r in records], dtype=np.int8).reshape(-1, len(codes))
