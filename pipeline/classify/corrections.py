"""Human corrections of the classifier: read from CSV or JSON Lines, checked, and laid over predictions.

A corrections file is a CSV with a header row and at least the columns
`statement_id` and `labels`:

    statement_id,labels,note
    3f2a9c1d0b7e4a55:1200-1318,A;D,multi-agency safeguarding
    3f2a9c1d0b7e4a55:1319-1402,,navigation text: none

`labels` holds codes of the scheme separated by `;`, `,`, `|` or spaces; an
empty cell or `none` means no label. Other columns (`note`, `text`, ...) are
kept.

It may also be JSON Lines in the training format of `corpus/labels/` (one
object per line, told from CSV by its first character `{`):

    {"statement_id": "3f2a9c1d0b7e4a55:1200-1318", "labels": ["A", "D"], "note": "..."}
    {"text": "The improvement board met monthly.", "labels": ["A"], "source_url": "https://..."}

A line with a `statement_id` corrects that statement; a line with only a `text`
corrects every stored statement with that text, or, when none has it, is kept
as a labelled text for training. Storing them is the store's job (the
`corrections` and `labelled_texts` tables); this module is pure: it reads,
checks and applies.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError
from pipeline.lexicon.taxonomy import Taxonomy, load_taxonomy
from pipeline.records import Prediction
from pipeline.store.predictions import text_key

STATEMENT_ID = re.compile(r"^[0-9a-f]{16}:(\d+)-(\d+)$")
SEPARATORS = re.compile(r"[;,|\s]+")
CORRECTION_MODEL = "correction"  # the `model` of a prediction a person has set


class CorrectionsError(PipelineError):
    """A corrections file that cannot be imported; the message lists every bad row."""

    stage = "classify"


def parse_labels(cell: str | None) -> list[str]:
    """'A; D' -> ['A', 'D']; '' or 'none' -> []."""
    parts = [p for p in SEPARATORS.split((cell or "").strip()) if p]
    return [] if [p.lower() for p in parts] == ["none"] else parts


def read_corrections_csv(path: Path, taxonomy: Taxonomy | None = None) -> list[dict[str, Any]]:
    """Read and check a corrections CSV: one {"statement_id", "labels", "scheme", ...} per row.

    Statement ids must look like the pipeline's (`<16 hex>:<start>-<end>`),
    labels must be codes of the scheme (default: areas), and a statement may be
    corrected only once per file. Nothing is returned unless every row is good:
    the error names each bad row by its line number.
    """
    taxonomy = taxonomy or load_taxonomy()
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            fields = [f.strip() for f in reader.fieldnames or []]
            missing = [c for c in ("statement_id", "labels") if c not in fields]
            if missing:
                raise CorrectionsError(
                    f"{path}: missing column(s) {', '.join(missing)}; the header must include statement_id and labels"
                )
            rows = [(reader.line_num, {(k or "").strip(): v for k, v in row.items()}) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CorrectionsError(f"{path}: cannot be read as CSV: {exc}") from None

    return check_correction_rows(rows, taxonomy, str(path))


def check_correction_rows(
    rows: Iterable[tuple[int, Mapping[str, Any]]], taxonomy: Taxonomy, where: str
) -> list[dict[str, Any]]:
    """Check (line, row) pairs as `read_corrections_csv` checks a file's rows (`where` names their origin in the
    error): the good rows, or CorrectionsError naming each bad one. The site's reviewers' decisions are
    checked by this too (pipeline/run/site_reviews.py)."""
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # a blank row
        errors = []
        sid = (row.get("statement_id") or "").strip()
        m = STATEMENT_ID.match(sid)
        if not m:
            errors.append(f"statement id {sid!r} is not of the form <16 hex digits>:<start>-<end>")
        elif int(m.group(1)) >= int(m.group(2)):
            errors.append(f"statement id {sid!r} ends before it starts")
        elif sid in seen:
            errors.append(f"statement {sid} is already corrected on line {seen[sid]}")
        labels = parse_labels(row.get("labels"))
        unknown = taxonomy.unknown_codes(labels)
        if unknown:
            errors.append(
                f"unknown label(s) {', '.join(unknown)} (scheme '{taxonomy.scheme}' has "
                f"{', '.join(taxonomy.codes)}; leave empty or write 'none' for no label)"
            )
        if len(set(labels)) != len(labels):
            errors.append(f"a label is repeated: {row.get('labels')!r}")
        scheme = (row.get("scheme") or "").strip()
        if scheme and scheme != taxonomy.scheme:
            errors.append(f"scheme {scheme!r} does not match '{taxonomy.scheme}'")
        if errors:
            problems.append(f"line {line}: " + "; ".join(errors))
            continue
        seen[sid] = line
        extra = {k: v for k, v in row.items() if k and k not in ("statement_id", "labels", "scheme") and v}
        out.append(
            {
                **extra,
                "statement_id": sid,
                "labels": sorted(labels, key=taxonomy.codes.index),
                "scheme": taxonomy.scheme,
            }
        )
    if problems:
        raise CorrectionsError(f"{where}: {len(problems)} bad row(s), nothing imported:\n  " + "\n  ".join(problems))
    return out


def read_corrections(path: Path, taxonomy: Taxonomy | None = None) -> list[dict[str, Any]]:
    """Read people's labels from a CSV or a JSON Lines file (the training format); see the module docstring.

    The format is told by content, not by name: a file whose first non-blank
    character is `{` is JSON Lines, anything else is CSV.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig") as handle:
            head = handle.read(4096).lstrip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CorrectionsError(f"{path}: cannot be read: {exc}") from None
    if head.startswith("{"):
        return read_corrections_jsonl(path, taxonomy)
    return read_corrections_csv(path, taxonomy)


def read_corrections_jsonl(path: Path, taxonomy: Taxonomy | None = None) -> list[dict[str, Any]]:
    """Read and check labels in the training JSON Lines format: one object per line.

    Each object has `labels` (a list of codes, [] for none; a string such as
    "A;D" is accepted too) and either a `statement_id` of the pipeline (a
    correction of a stored statement) or a `text` (a labelled sentence: it
    corrects every stored statement with that text, and is kept for training
    when no statement has it). Other fields (`note`, `source_url`, `doc_type`,
    ...) are kept. Nothing is returned unless every line is good: the error
    names each bad line.
    """
    taxonomy = taxonomy or load_taxonomy()
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CorrectionsError(f"{path}: cannot be read: {exc}") from None
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {n}: not valid JSON ({exc.msg})")
            continue
        if not isinstance(row, dict):
            problems.append(f"line {n}: expected a JSON object")
            continue
        item, errors = _checked_line(row, taxonomy)
        key = item.get("statement_id") or text_key(item.get("text", ""))
        if not errors and key in seen:
            what = f"statement {key}" if "statement_id" in item else "the same text"
            errors.append(f"{what} is already labelled on line {seen[key]}")
        if errors:
            problems.append(f"line {n}: " + "; ".join(errors))
            continue
        seen[key] = n
        out.append(item)
    if problems:
        shown = "\n  ".join(problems[:30]) + (f"\n  ... and {len(problems) - 30} more" if len(problems) > 30 else "")
        raise CorrectionsError(f"{path}: {len(problems)} bad line(s), nothing imported:\n  {shown}")
    return out


def _checked_line(row: dict[str, Any], taxonomy: Taxonomy) -> tuple[dict[str, Any], list[str]]:
    """One JSON Lines label, normalised, and what is wrong with it (nothing when the list is empty)."""
    errors = []
    sid, text = row.get("statement_id"), row.get("text")
    if sid is not None:
        m = STATEMENT_ID.match(sid.strip()) if isinstance(sid, str) else None
        if m is None:
            errors.append(f"statement id {sid!r} is not of the form <16 hex digits>:<start>-<end>")
        elif int(m.group(1)) >= int(m.group(2)):
            errors.append(f"statement id {sid!r} ends before it starts")
    elif not isinstance(text, str) or not text.strip():
        errors.append("needs a statement_id or a non-empty text")
    raw = row.get("labels")
    labels: list[str] = []
    if raw is None:
        errors.append("needs labels: a list of codes ([] for none)")
    elif isinstance(raw, str):
        labels = parse_labels(raw)
    elif isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        labels = [x.strip() for x in raw]
    else:
        errors.append(f"labels {raw!r} must be a list of codes ([] for none)")
    unknown = taxonomy.unknown_codes(labels)
    if unknown:
        errors.append(
            f"unknown label(s) {', '.join(unknown)} (scheme '{taxonomy.scheme}' has "
            f"{', '.join(taxonomy.codes)}; [] for no label)"
        )
    if len(set(labels)) != len(labels):
        errors.append(f"a label is repeated: {raw!r}")
    scheme = row.get("scheme")
    if scheme and scheme != taxonomy.scheme:
        errors.append(f"scheme {scheme!r} does not match '{taxonomy.scheme}'")
    extra = {k: v for k, v in row.items() if k not in ("statement_id", "text", "labels", "scheme") and v is not None}
    item: dict[str, Any] = {**extra, "scheme": taxonomy.scheme}
    if not errors:
        item["labels"] = sorted(labels, key=taxonomy.codes.index)
    if isinstance(sid, str) and sid.strip():
        item["statement_id"] = sid.strip()
    if isinstance(text, str) and text.strip():
        item["text"] = text.strip()
    return item, errors


def apply_corrections(predictions: Iterable[Prediction], corrections: Mapping[str, Sequence[str]]) -> list[Prediction]:
    """Predictions with human corrections laid over them: a corrected statement gets the person's labels.

    `corrections` maps statement id to labels. The model's scores are kept for
    reference; `abstain` becomes False and `model` becomes "correction".
    """
    out = []
    for p in predictions:
        if p.statement_id in corrections:
            p = replace(p, labels=tuple(corrections[p.statement_id]), abstain=False, model=CORRECTION_MODEL)
        out.append(p)
    return out
