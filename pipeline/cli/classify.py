"""The `scrutiny train`, `scrutiny classify` and `scrutiny evaluate` commands (see ../shared/cli-contract.md).

Each is a thin shell over a function of `pipeline.classify`. JSON goes to
standard output; progress, warnings and readable tables to standard error.
`classify` with no model file for the scheme trains the default model first
(about half a minute) and says so on standard error, so a fresh clone answers.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from pipeline.cli.common import emit, say, warn
from pipeline.config import Settings
from pipeline.errors import PipelineError

# Lines of standard input classified together: one pipeline call per chunk,
# and output flows while a long input is still being read.
CHUNK_LINES = 2048


def _train_and_save(
    settings: Settings, scheme: str, data: Path | None, out: Path, corrections: list[dict] | None = None
) -> Any:
    from pipeline.classify import label_files, save_model, train
    from pipeline.lexicon.taxonomy import load_taxonomy

    folder = data or load_taxonomy(scheme, settings.models_dir).data_dir(settings.models_dir.parent)
    files = label_files(folder) if folder and folder.is_dir() else []
    say(f"training the '{scheme}' classifier on {len(files)} file(s) in {folder} ...")
    model = train(files, settings, scheme=scheme, corrections=corrections)
    save_model(model, out)
    return model


def cmd_train(args: argparse.Namespace) -> int:
    """Train a model for a scheme and save it (skops + JSON sidecar); print its summary as JSON."""
    from pipeline.classify import default_model_path

    settings = Settings()
    out = Path(args.out) if args.out else default_model_path(settings, args.scheme, kind="fast")
    try:
        corrections = _corrections_from_db(Path(args.with_corrections), args.scheme) if args.with_corrections else None
        model = _train_and_save(settings, args.scheme, Path(args.data) if args.data else None, out, corrections)
    except PipelineError as exc:
        say(str(exc))
        return 2
    meta = model.metadata
    cv = meta["metrics"]["cross_validation"]
    emit(
        {
            "model": model.name,
            "path": str(out),
            "sidecar": f"{out}.json",
            "scheme": model.scheme,
            "statements": meta["training"]["statements"],
            "corrections": meta["training"]["corrections"],
            "corpus_hash": meta["corpus_hash"],
            "thresholds": meta["thresholds"],
            "cross_validation": cv,
            "seconds": meta["training"]["seconds"],
        }
    )
    say(f"saved {model.name} to {out} in {meta['training']['seconds']} s")
    say(format_metrics(cv, title="cross-validated on the training data"))
    return 0


def _corrections_from_db(db_path: Path, scheme: str) -> list[dict]:
    """Human corrections, as {"statement_id", "text", "labels"}, from the database's corrections table."""
    from pipeline import store

    if not db_path.exists():
        raise PipelineError(f"no database at {db_path}")
    db = store.open_db(db_path)
    try:
        return store.corrections_for_training(db, scheme)
    finally:
        db.close()


def _model_for(args: argparse.Namespace, settings: Settings) -> Any:
    """The model named by --model: "default" (or nothing), "fast", "encoder" or a file.

    "default" is the scheme's fine-tuned encoder when it has one, else its
    TF-IDF model; "fast" is the TF-IDF model. A TF-IDF model that does not
    exist yet (also the one an encoder blends with) is trained first.
    """
    from pipeline.classify import MODEL_KINDS, ClassifyError, default_model_path, load_model
    from pipeline.versions import blend_partner

    scheme = args.scheme or "areas"
    choice = args.model or "default"
    if choice in MODEL_KINDS:
        path = default_model_path(settings, scheme, kind=choice)
        fast = path if path.suffix == ".skops" else blend_partner(path)
        if fast is not None and not fast.exists():
            say(f"no model at {fast} yet: training it first")
            _train_and_save(settings, scheme, None, fast)
    else:
        path = Path(choice)
        fast = blend_partner(path)
        if fast is not None and not fast.exists():
            raise ClassifyError(f"{path.name} blends with {fast}, which is missing: run `scrutiny train --out {fast}`")
    model = load_model(path)
    if args.scheme and model.scheme != args.scheme:
        raise ClassifyError(f"the model {model.name} labels scheme '{model.scheme}', not '{args.scheme}'")
    return model


def _chunks(stream: TextIO, size: int) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    for n, line in enumerate(stream, 1):
        if line.strip():
            chunk.append((n, line))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def classify_lines(model: Any, lines: list[tuple[int, str]]) -> list[dict[str, Any]]:
    """Parse numbered JSON lines and classify the good ones in one batch; bad lines become {"error": ...}."""
    from pipeline.classify import classify

    rows: list[dict[str, Any]] = []
    todo: list[int] = []
    for n, line in lines:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append({"error": f"line {n}: not valid JSON ({exc.msg})"})
            continue
        if not isinstance(obj, dict):
            rows.append({"error": f"line {n}: expected a JSON object with a 'text' field"})
        elif not isinstance(obj.get("text"), str):
            rows.append({**obj, "error": f"line {n}: 'text' must be a string"})
        else:
            todo.append(len(rows))
            rows.append(obj)
    for i, result in zip(todo, classify(model, [rows[i]["text"] for i in todo])):
        rows[i] = {**rows[i], **result}
    return rows


def cmd_classify(args: argparse.Namespace) -> int:
    """Read JSON Lines with a "text" on standard input; write them back with labels, scores, abstain and model."""
    settings = Settings()
    try:
        model = _model_for(args, settings)
    except PipelineError as exc:
        say(str(exc))
        return 2
    good = bad = 0
    # undecodable bytes become U+FFFD on their line instead of ending the batch
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    for chunk in _chunks(stdin, CHUNK_LINES):
        for row in classify_lines(model, chunk):
            if "error" in row:
                bad += 1
                say(row["error"])
            else:
                good += 1
            emit(row)
        sys.stdout.flush()
    say(f"classified {good} statement(s) with {model.name}" + (f"; {bad} bad line(s)" if bad else ""))
    return 1 if bad and not good else 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Measure a model on a labelled JSON Lines file: metrics as JSON on stdout, a table on stderr."""
    from pipeline.classify import evaluate, read_labelled

    settings = Settings()
    try:
        model = _model_for(args, settings)
        from pipeline.lexicon.taxonomy import load_taxonomy

        records = read_labelled([Path(args.data)], load_taxonomy(model.scheme, settings.models_dir))
        metrics = evaluate(model, records)
    except (PipelineError, OSError) as exc:
        say(str(exc))
        return 2
    emit({"data": str(args.data), **metrics})
    say(format_metrics(metrics, title=f"{model.name} on {args.data}"))
    return 0


def format_metrics(metrics: dict[str, Any], title: str = "") -> str:
    """A readable table of per-label precision, recall and F1, with macro-F1 and the abstain rate."""
    lines = [title] if title else []
    lines.append(f"{'label':<8}{'precision':>10}{'recall':>8}{'F1':>7}{'support':>9}")
    for code, m in metrics["per_label"].items():
        lines.append(f"{code:<8}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>7.3f}{m['support']:>9}")
    lines.append(
        f"macro-F1 {metrics['macro_f1']:.3f}   abstain rate {metrics['abstain_rate']:.3f}   "
        f"statements {metrics['statements']}"
    )
    if "none_precision" in metrics:
        lines.append(f"none: precision {metrics['none_precision']:.3f}   recall {metrics['none_recall']:.3f}")
    if "folds" in metrics:
        lines.append(f"folds: {metrics['folds']}")
    return "\n".join(lines)


def cmd_label(args: argparse.Namespace) -> int:
    """Import people's labels from a CSV (statement_id, labels[, note]) or from JSON Lines in the training format
    ({"statement_id" or "text", "labels": [...], ...}): corrections of stored statements, and labelled texts; and
    the relabelling decisions reviewers recorded on the site (pipeline/run/site_reviews.py)."""
    from pipeline import store
    from pipeline.classify.corrections import read_corrections
    from pipeline.config import Settings
    from pipeline.lexicon.taxonomy import load_taxonomy
    from pipeline.run.site_reviews import import_site_labels, reviews_path_for

    db_path = Path(args.db)
    reviews = Path(args.reviews) if args.reviews else reviews_path_for(db_path)
    if not db_path.exists():
        warn(f"no database at {db_path}: run `scrutiny ingest` first")
        return 2
    try:
        rows = read_corrections(Path(args.file), load_taxonomy(args.scheme)) if args.file else []
        with store.connect(db_path) as db:
            counts = (
                store.save_labels(db, [{**r, "scheme": args.scheme} for r in rows])
                if rows
                else {"corrections": 0, "labelled_texts": 0}
            )
            site = import_site_labels(db, Settings(db_path=db_path), reviews, args.scheme)
    except PipelineError as exc:
        warn(str(exc))
        return 2
    from_site = site.as_dict()["label_decisions"] if site else None
    emit(
        {
            "imported": len(rows),
            **counts,
            "scheme": args.scheme,
            "db": str(db_path),
            **({"site": from_site} if from_site else {}),
        }
    )
    for outcome in site.labels if site else []:
        if outcome["error"]:
            warn(f"label: {reviews} decision {outcome['id']}: {outcome['error']}")
    warn(
        f"{len(rows)} label(s) imported: {counts['corrections']} statement correction(s), which override the model "
        f"now and after re-ingestion, and {counts['labelled_texts']} labelled text(s) no stored statement carries"
        + (f"; {from_site['recorded']} from the site ({from_site['failed']} refused)" if from_site else "")
        + f"; `scrutiny train --with-corrections {db_path}` folds them into the next model"
    )
    return 1 if from_site and from_site["failed"] else 0


MODEL_HELP = (
    "a model file (.skops or .onnx), or: default (the fine-tuned encoder models/SCHEME-minilm.int8.onnx when "
    "there is one, else the TF-IDF model), fast (the TF-IDF model models/SCHEME.skops, trained if missing), encoder"
)


def add_commands(subparsers: Any) -> None:
    """Register `train`, `classify` and `evaluate` on the `scrutiny` command's subparsers."""
    p = subparsers.add_parser("train", help="train the statement classifier from labelled statements")
    p.add_argument("--scheme", default="areas", help="label scheme: a file in models/taxonomy/ (default: areas)")
    p.add_argument(
        "--data",
        metavar="DIR",
        help="folder of labelled JSON Lines files (default: the scheme's folder, corpus/labels for areas)",
    )
    p.add_argument("--out", metavar="PATH", help="model file to write (default: models/SCHEME.skops)")
    p.add_argument("--with-corrections", metavar="DB", help="fold the corrections in this database into training")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("classify", help="label JSON Lines statements from standard input")
    p.add_argument("--model", metavar="PATH|KIND", help=MODEL_HELP)
    p.add_argument("--scheme", help="label scheme (default: the model's, or areas)")
    p.set_defaults(func=cmd_classify)

    p = subparsers.add_parser("evaluate", help="measure the classifier on a labelled JSON Lines file")
    p.add_argument("--data", metavar="FILE", required=True, help='labelled statements: {"text", "labels"} per line')
    p.add_argument("--model", metavar="PATH|KIND", help=MODEL_HELP)
    p.add_argument("--scheme", help="label scheme (default: the model's, or areas)")
    p.set_defaults(func=cmd_evaluate)

    p = subparsers.add_parser(
        "label", help="import people's labels: a CSV (statement_id, labels, note) or training-format JSON Lines"
    )
    p.add_argument(
        "file",
        metavar="FILE",
        nargs="?",
        help='CSV with columns statement_id, labels (e.g. A;D), note; or JSON Lines, one {"statement_id" or "text", '
        '"labels": ["A", "D"], ...} per line (the format of corpus/labels/); without one, only the relabelling '
        "decisions recorded on the site are read",
    )
    p.add_argument("--db", default="data/scrutiny.db", help="SQLite database (default: data/scrutiny.db)")
    p.add_argument("--scheme", default="areas", help="label scheme (default: areas)")
    p.add_argument(
        "--reviews",
        metavar="PATH",
        help="reviews database the site writes (default: beside the database, e.g. data/scrutiny.reviews.db)",
    )
    p.set_defaults(func=cmd_label)
