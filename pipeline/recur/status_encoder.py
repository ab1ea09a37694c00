"""The status in the text, read by a fine-tuned encoder beside the TF-IDF status reader.

all-MiniLM-L6-v2 (the same packaged, sha256-checked weights as the areas encoder) fine-tuned with a four-way head:
none, persisting, improved, resolved ("new" stays the `says_new` cue's: the words rarely say it). Used when
`[status] encoder = true` in models/recurrence.toml (off by default: its cost, README "Performance"). At run time the
graph runs on ONNX Runtime (no PyTorch), and a statement's status reading is the average of its probabilities and
the TF-IDF reader's (`pipeline.recur.learned`), for the statements that may be concern mentions or whose words
could say a status (`pipeline.recur.cues.read_status`); the pair model keeps the TF-IDF reader's probabilities it
was trained on.

Training (`make status-model`, `python -m pipeline.recur.status_encoder`; the train extra, about 30 minutes on two cores) reads:
- the grouped statements (corpus/recurrence-grounded.jsonl and corpus/recurrence-gold.jsonl) with their
  `status_in_text`;
- the statements of corpus/labels/grounded.jsonl (6,804 statements from real pages, most of them no concern at
  all) with the status their words say, read by annotators by the same rule (corpus/recurrence-status-areas.jsonl,
  `line` in labels/grounded.jsonl).
Classes are balanced by weight. Five folds of whole councils give every grouped statement an out-of-fold
probability (in each fold, the statements of labels/grounded.jsonl from a held-out council's pages or naming it
are left out too);
these are kept in the sidecar, so that `scrutiny evaluate-recur` never scores a council with a reader trained on
it. Then the reader is fitted on everything, exported int8 to models/status-minilm.int8.onnx and recorded by
sha256 in its sidecar, which loading checks.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import PipelineError
from pipeline.hashing import sha256_file
from pipeline.recur.learned import CUES, STATUSES, normalise, searchable

CODES = ("none", "persisting", "improved", "resolved")
GRAPH_FILE = "status-minilm.int8.onnx"
AREAS_STATUS_FILE = "recurrence-status-areas.jsonl"
FOLDS = 5
EPOCHS = 3
LR = 1e-4
# The words that could say a status: the generic status cues of pipeline.recur.learned (with the picker, they
# choose the statements the encoder reads; pipeline.recur.cues.read_status).
_SAYS = searchable("|".join(f"(?:{CUES[k]})" for k in ("resolved", "persisting", "improved")))


class StatusModelError(PipelineError):
    """A status reader that cannot be trained or used, with the reason."""

    stage = "recur"


def worth_reading(text: str) -> bool:
    """True when the statement's words could say a status (a cue for persisting, improved or resolved)."""
    return bool(_SAYS.search(normalise(text)))


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# ---------------------------------------------------------------- reading (ONNX Runtime)


class StatusReader:
    """Status probabilities (STATUSES order, "new" always 0) for texts, from the exported graph."""

    def __init__(self, session: Any, tokenizer: Any, metadata: Mapping[str, Any]) -> None:
        from pipeline.classify.encoder import EncoderScorer

        self.metadata = dict(metadata)
        self.scorer = EncoderScorer(session, tokenizer, width=len(CODES))

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return to_statuses(self.scorer.encoder_scores(list(texts)).astype(np.float64))


class KeptReader:
    """The out-of-fold probabilities kept in a sidecar, by text: each grouped statement read by a reader trained
    without its council (leave-one-council-out evaluation uses these, never the final reader)."""

    def __init__(self, metadata: Mapping[str, Any]) -> None:
        self.kept = {k: np.asarray(v, dtype=np.float64) for k, v in metadata.get("out_of_fold", {}).items()}

    @classmethod
    def beside(cls, models_dir: Path, rows: Sequence[Mapping[str, Any]]) -> KeptReader | None:
        """The kept readings of the status reader in `models_dir` (its sidecar alone is read), None when there is
        no reader; refused when they were made on other grouped statements or statuses than `rows`."""
        side = Path(models_dir) / f"{GRAPH_FILE}.json"
        if not (Path(models_dir) / GRAPH_FILE).is_file():
            return None
        try:
            metadata = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StatusModelError(f"{side}: cannot be read ({exc})") from None
        if metadata.get("grouped_digest") != grouped_digest(rows):
            raise StatusModelError(
                f"{side}: its out-of-fold readings were made on other grouped statements or statuses: "
                "run `make status-model` again"
            )
        return cls(metadata)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in texts if text_key(t) not in self.kept]
        if missing:
            raise StatusModelError(
                f"the status reader kept no out-of-fold reading for {len(missing)} statement(s) "
                f"(first: {missing[0][:80]!r}): run `make status-model` again"
            )
        if not texts:
            return np.zeros((0, len(STATUSES)))
        return to_statuses(np.vstack([self.kept[text_key(t)] for t in texts]))


def to_statuses(scores: np.ndarray) -> np.ndarray:
    """The graph's four sigmoid scores (CODES order) as probabilities in STATUSES order (summing to 1)."""
    out = np.zeros((scores.shape[0], len(STATUSES)))
    total = np.clip(scores.sum(1, keepdims=True), 1e-9, None)
    for k, code in enumerate(CODES):
        out[:, STATUSES.index(code)] = scores[:, k] / total[:, 0]
    return out


def read(models_dir: Path) -> StatusReader | None:
    """The status reader beside the recurrence models, checked by sha256; None when none was built."""
    from pipeline.classify.encoder import EncoderError, read_encoder

    path = Path(models_dir) / GRAPH_FILE
    if not path.is_file():
        return None
    try:
        session, tokenizer, metadata = read_encoder(path)
    except EncoderError as exc:
        raise StatusModelError(str(exc).replace("make finetune", "make status-model")) from None
    if tuple(metadata.get("codes", ())) != CODES:
        raise StatusModelError(f"{path}.json: codes {metadata.get('codes')} are not the statuses {list(CODES)}")
    return StatusReader(session, tokenizer, metadata)


# ---------------------------------------------------------------- training (PyTorch, the train extra)


def areas_rows(corpus: Path) -> list[dict[str, Any]]:
    """The statements of labels/grounded.jsonl with the status their words say (recurrence-status-areas.jsonl)."""
    labelled = [json.loads(x) for x in (corpus / "labels" / "grounded.jsonl").read_text("utf-8").splitlines() if x]
    said = [json.loads(x) for x in (corpus / AREAS_STATUS_FILE).read_text("utf-8").splitlines() if x.strip()]
    if [s["line"] for s in said] != list(range(1, len(labelled) + 1)):
        raise StatusModelError(f"{AREAS_STATUS_FILE} must give every line of labels/grounded.jsonl once, in order")
    bad = [s["line"] for s in said if s["status"] not in (*CODES, "new")]
    if bad:
        raise StatusModelError(f"{AREAS_STATUS_FILE}: lines {bad[:5]} have a status that is none of {CODES}")
    return [
        {"text": r["text"], "status": s["status"], "source_url": r.get("source_url", "")}
        for r, s in zip(labelled, said, strict=True)
    ]


def council_folds(rows: Sequence[Mapping[str, Any]], k: int = FOLDS) -> dict[str, int]:
    """Whole councils in `k` folds of about equal size (largest first, each to the smallest fold)."""
    sizes = collections.Counter(r["council"] for r in rows)
    load, fold = [0] * k, {}
    for council in sorted(sizes, key=lambda c: (-sizes[c], c)):
        f = min(range(k), key=lambda j: load[j])
        load[f] += sizes[council]
        fold[council] = f
    return fold


# Words of council names too common to say which council a statement is about (the others, by their first six
# letters, do: "border" finds scotborders.gov.uk, "northa" westnorthants.gov.uk).
_COMMON = frozenset(
    "county borough council city and of the health social care trust west western north south east scottish isles "
    "tower new".split()
)


def council_keys(council: str) -> set[str]:
    """What names `council` in a statement or a page's address: its full name, the first six letters of each of
    its distinctive words, and "<first word> trust" for a trust."""
    name = " ".join(council.lower().replace("-", " ").split())
    keys = {name} | {w[:6] for w in name.split() if w not in _COMMON and len(w) >= 4}
    if name.endswith(" trust"):
        keys.add(f"{name.split()[0]} trust")
    return keys


def names(row: Mapping[str, Any], keys: set[str]) -> bool:
    """Whether a statement's text or its page's address names a council (`keys`, from `council_keys`)."""
    words = f"{row['text']} {row.get('source_url', '')}".lower().replace("-", " ")
    return any(k in words for k in keys)


def kept_apart(extra: Sequence[Mapping[str, Any]], keys: set[str], pages: set[str]) -> list[bool]:
    """For each statement of labels/grounded.jsonl, whether it stays out of a fold: its whole page does when that
    page is one a held-out council's grouped statements come from (`pages`) or when any statement of the page, or
    its address, names a held-out council (`keys`)."""
    apart = pages | {str(e.get("source_url", "")) for e in extra if names(e, keys)}
    return [str(e.get("source_url", "")) in apart or names(e, keys) for e in extra]


def one_council_each(rows: Sequence[Mapping[str, Any]]) -> None:
    """Refuse grouped statements whose text is one council's and another's too: the kept out-of-fold readings are
    looked up by text, so such a text would be read for one council by a reader that may have seen it."""
    councils: dict[str, set[str]] = collections.defaultdict(set)
    for r in rows:
        councils[text_key(r["text"])].add(r["council"])
    shared = [r["text"] for r in rows if len(councils[text_key(r["text"])]) > 1]
    if shared:
        raise StatusModelError(
            f"{len(set(shared))} grouped statement(s) are word for word in two councils "
            f"(first: {shared[0][:80]!r}): reword them, since the kept readings go by text"
        )


def grouped_digest(rows: Sequence[Mapping[str, Any]]) -> str:
    """A digest of the grouped statements, their councils and statuses: kept readings are for these only."""
    digest = hashlib.sha256()
    for r in sorted(rows, key=lambda r: (r["council"], r["text"])):
        digest.update(f"{r['council']}\0{r['text']}\0{r['status']}\n".encode())
    return digest.hexdigest()[:16]


def target(statuses: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Indicator rows (CODES order; "new" counts as none: the cue reads it) and balanced weights."""
    codes = [s if s in CODES else "none" for s in statuses]
    y = np.zeros((len(codes), len(CODES)))
    for i, c in enumerate(codes):
        y[i, CODES.index(c)] = 1.0
    count = collections.Counter(codes)
    weight = np.array([len(codes) / (len(count) * count[c]) for c in codes])
    return y, weight


def accuracy(probabilities: np.ndarray, statuses: Sequence[str]) -> float:
    gold = [s if s in CODES else "none" for s in statuses]
    said = [STATUSES[int(k)] for k in probabilities.argmax(1)]
    return float(np.mean([a == b for a, b in zip(said, gold, strict=True)])) if gold else 0.0


def train(
    settings: Any,
    out: Path,
    work: Path,
    folds: int = FOLDS,
    epochs: int = EPOCHS,
    lr: float = LR,
    limit: int | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Cross-fit over folds of whole councils, fit on everything, export and record (see the module's notes)."""
    from pipeline.classify import finetune as ft
    from pipeline.recur.evaluation import corpus_paths, grouped_rows
    from pipeline.recur.learned import Models, statement_info
    from pipeline.recur.training import fit_text_models

    rows = grouped_rows(settings)
    extra = areas_rows(corpus_paths(settings)["grounded"].parent)
    if limit:  # a smoke run: a few statements of each, to check the code path end to end
        rows, extra = rows[:: max(1, len(rows) // limit)], extra[:: max(1, len(extra) // limit)]
    one_council_each(rows)
    fold = council_folds(rows, folds)
    if len(set(fold.values())) < 2:
        raise StatusModelError("the status reader needs grouped statements from at least two councils")
    work.mkdir(parents=True, exist_ok=True)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    weights = ft.weights_dir(work / "all-MiniLM-L6-v2")
    started = time.time()
    encoder_oof = np.zeros((len(rows), len(STATUSES)))
    tfidf_oof = np.zeros((len(rows), len(STATUSES)))
    for f in sorted(set(fold.values())):
        held = [c for c, g in fold.items() if g == f]
        fitted = [r for r in rows if fold[r["council"]] != f]
        keys = set().union(*(council_keys(c) for c in held))
        pages = {r["source_url"] for r in rows if fold[r["council"]] == f and r.get("source_url")}
        more = [e for e, apart in zip(extra, kept_apart(extra, keys, pages), strict=True) if not apart]
        texts = [r["text"] for r in fitted] + [e["text"] for e in more]
        y, w = target([r["status"] for r in fitted] + [e["status"] for e in more])
        say(f"fold {f + 1}/{folds}: {len(fitted)} grouped statements and {len(more)} more, without {', '.join(held)}")
        net = ft.fit(texts, y, weights, settings.models_dir, say, w, epochs, lr)
        graph = ft.export_int8(net, work / f"status-fold{f + 1}-of-{folds}.int8.onnx")
        index = [i for i, r in enumerate(rows) if fold[r["council"]] == f]
        held_texts = [rows[i]["text"] for i in index]
        encoder_oof[index] = to_statuses(ft.graph_scores(graph, held_texts, settings.models_dir, len(CODES)))
        # the TF-IDF reader as `scrutiny train-recur` fits it, without the same councils
        union, issue, status, _ = fit_text_models(fitted)
        tfidf_oof[index] = statement_info(Models(union, issue, status, None, None, {}), held_texts).status
    gold = [r["status"] for r in rows]
    texts = [r["text"] for r in rows]
    blended = 0.5 * tfidf_oof + 0.5 * encoder_oof  # the reading, were the encoder run on every statement
    figures = {
        "tfidf_reader": round(accuracy(tfidf_oof, gold), 4),
        "encoder": round(accuracy(encoder_oof, gold), 4),
        "blend": round(accuracy(blended, gold), 4),
        "statements": len(rows),
        "councils": len(fold),
        "folds": folds,
    }
    say(f"grouped by council ({folds} folds, {len(rows)} statements): {json.dumps(figures)}")
    y, w = target(gold + [e["status"] for e in extra])
    say(f"the reader: fine-tuning on {len(y)} statements")
    net = ft.fit(texts + [e["text"] for e in extra], y, weights, settings.models_dir, say, w, epochs, lr)
    out = Path(out)
    graph = ft.export_int8(net, out.with_name(out.name + ".tmp"))
    sidecar = {
        "model": "all-MiniLM-L6-v2 fine-tuned, a four-way status head, int8 (ONNX Runtime)",
        "sha256": sha256_file(graph),
        "scheme": "status",
        "codes": list(CODES),
        "thresholds": {c: 0.0 for c in CODES},  # unused: the reading is the most probable status
        "abstain_band": 0.0,
        "max_tokens": ft.MAX_TOKENS,
        "recipe": {"epochs": epochs, "lr": lr, "batch": ft.BATCH, "classes": "balanced by weight"},
        "training": {
            "grouped_statements": len(rows),
            "areas_statements": len(extra),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.time() - started),
        },
        "cross_validation": figures,
        "grouped_digest": grouped_digest(rows),
        "out_of_fold": {text_key(t): [round(float(x), 5) for x in p] for t, p in zip(texts, _codes(encoder_oof))},
    }
    side = Path(f"{out}.json.tmp")
    side.write_text(json.dumps(sidecar, indent=1) + "\n", encoding="utf-8")
    graph.replace(out)  # the pair replaced together, once both are written
    side.replace(f"{out}.json")
    return sidecar


def _codes(probabilities: np.ndarray) -> np.ndarray:
    """STATUSES-order probabilities back in CODES order (what a kept reading holds, as the graph gives it)."""
    return np.column_stack([probabilities[:, STATUSES.index(c)] for c in CODES])


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.config import Settings

    parser = argparse.ArgumentParser(
        prog="python -m pipeline.recur.status_encoder", description=__doc__.splitlines()[0]
    )
    settings = Settings()
    parser.add_argument("--out", help=f"the graph (default models/{GRAPH_FILE}; with --limit, in --work)")
    parser.add_argument("--work", default="build/status", help="fold graphs and the packaged weights")
    parser.add_argument("--folds", type=int, default=FOLDS)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--lr", type=float, default=LR)
    parser.add_argument("--limit", type=int, default=None, help="a smoke run on about this many statements of each")
    args = parser.parse_args(argv)
    # a smoke run never replaces the committed reader
    out = Path(args.out) if args.out else (Path(args.work) if args.limit else settings.models_dir) / GRAPH_FILE
    try:
        sidecar = train(
            settings,
            out,
            Path(args.work),
            args.folds,
            args.epochs,
            args.lr,
            args.limit,
            say=lambda m: print(m, file=sys.stderr, flush=True),
        )
    except (PipelineError, OSError) as exc:
        print(f"status-model: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"out": str(out), "sha256": sidecar["sha256"], "cross_validation": sidecar["cross_validation"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
