"""`scrutiny recur`: link recommendations and concerns into concerns (see ../shared/cli-contract.md).

Standard input: JSON Lines, each {"id", "text", "local_authority", "date"} plus, optionally, "document_id",
"seq", "doc_type", "service", "labels" (area codes) and "lemmas" (as `scrutiny statements` computes them; worked
out here when absent). Lines of one document are taken in the order given unless "seq" says otherwise.

Standard output: one line per input line, in order:

    {"id": "...", "concern_id": "...", "status": "new" | "repeated" | "improved" | "resolved",
     "role": "raised" | "repeated" | "discussed" | "progress", "status_in_text": "persisting" | ... | null,
     "links": [{"id": "earlier id", "score": 0.87}]}

Inputs with the same concern_id are the same concern; `status` is the concern's, `status_in_text` what the
statement itself says, `links` its best links to earlier statements of the concern. A bad line gets
{"id": ..., "error": "reason"} and the batch goes on; the exit status is 1 only when no line was usable.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cli.common import emit, warn
from pipeline.config import Settings

if TYPE_CHECKING:  # the command is registered without importing scikit-learn and friends
    from pipeline.recur import Assignment, Item

_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")


def parse_line(line: str, position: int, seen: set[str]) -> dict[str, Any]:
    """One input line as a dict, or raise ValueError with a reason a person understands."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"line {position + 1} is not valid JSON: {exc.msg}") from None
    if not isinstance(row, dict):
        raise ValueError(f"line {position + 1} is not a JSON object")
    for name in ("id", "text", "local_authority"):
        if not isinstance(row.get(name), (str, int)) or not str(row[name]).strip():
            raise ValueError(f"'{name}' is missing or empty")
    if row.get("date") is not None and not (isinstance(row["date"], str) and _DATE.fullmatch(row["date"])):
        raise ValueError("'date' must be YYYY, YYYY-MM or YYYY-MM-DD")
    if not isinstance(row.get("labels") or [], list):
        raise ValueError("'labels' must be a list of area codes")
    if str(row["id"]) in seen:
        raise ValueError(f"duplicate id {row['id']!r}")
    seen.add(str(row["id"]))
    return row


def lemmatise(texts: list[str], settings: Settings) -> list[str]:
    """Content-word lemmas, exactly as `Statement.lemmas` (our spaCy pipeline, loaded once and cached)."""
    from pipeline.segment import load_nlp

    nlp = load_nlp(settings.segmenter_config)
    return [
        " ".join(t.lemma_.lower() for t in doc if t.is_alpha and not t.is_stop)
        for doc in nlp.pipe(texts, batch_size=settings.batch_size)
    ]


def items_from(rows: list[dict[str, Any]], settings: Settings) -> list[Item]:
    from pipeline.recur import Item

    missing = [i for i, r in enumerate(rows) if not r.get("lemmas")]
    lemmas = dict(zip(missing, lemmatise([str(rows[i]["text"]) for i in missing], settings))) if missing else {}
    position: dict[str, int] = {}
    items = []
    for i, r in enumerate(rows):
        doc = r.get("document_id")
        seq = r.get("seq") if isinstance(r.get("seq"), int) else position.get(str(doc), 0)
        position[str(doc)] = position.get(str(doc), 0) + 1
        items.append(
            Item(
                id=str(r["id"]),
                text=str(r["text"]),
                local_authority=str(r["local_authority"]),
                date=r.get("date"),
                document_id=str(doc) if doc is not None else None,
                seq=seq if doc is not None else None,
                doc_type=r.get("doc_type"),
                service=r.get("service"),
                lemmas=r.get("lemmas") or lemmas.get(i, ""),
                labels=tuple(str(a) for a in r.get("labels") or ()),
            )
        )
    return items


def as_row(a: Assignment) -> dict[str, Any]:
    return {
        "id": a.id,
        "concern_id": a.concern_id,
        "status": a.status,
        "role": a.role,
        "status_in_text": a.status_in_text,
        "links": [{"id": k.id, "score": k.score} for k in a.links],
    }


def run(lines: Iterable[str], settings: Settings, config_path: Path | None = None) -> tuple[int, int]:
    """Read JSON Lines, link them, write one line per input. Returns (usable, bad) counts."""
    from pipeline.recur import config_for, link, load_config

    config = load_config(config_path) if config_path else config_for(settings)
    parsed: list[dict[str, Any] | str] = []
    seen: set[str] = set()
    for position, line in enumerate(line for line in lines if line.strip()):
        try:
            parsed.append(parse_line(line, position, seen))
        except ValueError as exc:
            parsed.append(f"{exc}\t{_id_of(line)}")
    good = [p for p in parsed if isinstance(p, dict)]
    assignments = iter(link(items_from(good, settings), None, config)[0]) if good else iter(())
    for p in parsed:
        if isinstance(p, dict):
            emit(as_row(next(assignments)))
        else:
            reason, _, sid = p.partition("\t")
            warn(f"recur: {reason}")
            emit({"id": sid or None, "error": reason})
    return len(good), len(parsed) - len(good)


def _id_of(line: str) -> str:
    try:
        value = json.loads(line)
        return str(value.get("id", "")) if isinstance(value, dict) else ""
    except json.JSONDecodeError:
        return ""


def cmd_recur(args: argparse.Namespace) -> int:
    good, bad = run(sys.stdin, Settings(), Path(args.config) if args.config else None)
    return 1 if bad and not good else 0


def cmd_train_recur(args: argparse.Namespace) -> int:
    """Train the recurrence models (picking, status, issues, pairs) and save them with skops."""
    from pipeline.recur.evaluation import build

    settings = Settings()
    out = Path(args.out) if args.out else settings.models_dir / "recur.skops"
    models = build(settings, out)
    emit({"model": str(out), **models.settings, **models.metadata})
    return 0


def cmd_evaluate_recur(args: argparse.Namespace) -> int:
    """Leave one council out over the grounded councils, the corpus gold and the shared dev file; prints one
    JSON line per council, then the overall figures."""
    from pipeline.recur.evaluation import leave_one_out

    settings = Settings()
    dev = (
        Path(args.dev)
        if args.dev
        else settings.models_dir.parent.parent / "shared" / "corpus-samples" / ("recurrence-dev.jsonl")
    )

    def show(row: dict[str, Any]) -> None:
        emit({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})

    report = leave_one_out(settings, dev if dev.is_file() else None, args.council or None, progress=show)
    for kind, figures in report["overall"].items():
        show({"overall": kind, **figures})
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "recur",
        help="link recommendations and concerns into concerns; JSON Lines in, one line out per input",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("--config", help="recurrence settings (default: models/recurrence.toml)")
    p.set_defaults(func=cmd_recur)
    p = subparsers.add_parser("train-recur", help="train the recurrence models (models/recur.skops)")
    p.add_argument("--out", help="model file to write (default: models/recur.skops)")
    p.set_defaults(func=cmd_train_recur)
    p = subparsers.add_parser(
        "evaluate-recur",
        help="leave-one-council-out figures of recurrence (pairwise, B-cubed, status); takes about 10 minutes",
    )
    p.add_argument("--dev", help="the shared dev file (default: ../shared/corpus-samples/recurrence-dev.jsonl)")
    p.add_argument("--council", action="append", help="only this held-out council (repeatable; 'dev' for dev)")
    p.set_defaults(func=cmd_evaluate_recur)
