"""Recurrence, the learned part: which statements are concern mentions (picking), what a statement says about
its concern (status in the text), which specific issue it is about (the issue model, over the taxonomy in
models/recurrence-issues.toml) and how likely two statements of one council are to be one concern (the pair model).

The models are trained from real-grounded groupings by `pipeline.recur.training` (`scrutiny train-recur`,
`make recur-model`) and saved with skops (never pickle) to models/recur.skops with a JSON sidecar. Nothing here
names a council: the cues below are generic inspection language, used as features beside the text, and a
council's statements are only ever compared with that council's.

Per council and per batch: `statement_info` describes statements once (text vectors, issue and status
probabilities, picking probability); `pair_features` describes an (earlier, later) pair. The status in the text
is the status model's reading of the words alone (the guidelines: a status only where the statement says one).
"""

from __future__ import annotations

import json
import re
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from pipeline.errors import PipelineError
from pipeline.ngrams import transform
from pipeline.skopsfile import load_trusted

# Generic cues (inspection and council language; no council's words): features of the status and picking
# models beside the text, never rules on their own.
CUES: dict[str, str] = {
    "resolved": r"(?<!not )(?<!not yet )(?:has|have|had) (?:now |since )?been (?:fully )?(?:met|addressed|resolved|"
    r"lifted|removed|withdrawn|closed)|no longer|\bresolved\b|withdr[ae]w|(?:were|was|are|is) (?:now )?met\b|"
    r"(?:lifted|ended|removed) (?:the|its)|out of (?:intervention|special measures)|returned (?:to|control)",
    "persisting": r"\bremain(?:s|ed|ing)?\b|\bstill\b|continu(?:e|es|ed|ing) to (?!improve|develop|make|progress)|"
    r"\bpersist|\byet to\b|\bnot yet\b|not (?:been )?(?:met|achieved|addressed)|too slow|insufficient progress|"
    r"lack of progress|\bagain\b|once more|\brepeated|same (?:concerns?|weaknesses|problems)|had not (?:improved|"
    r"changed)|no (?:real |significant )?(?:improvement|progress)|(?:limited|slow) progress",
    "improved": r"improv(?:ed|ing|ement)|progress|better|strengthened|(?:has|have) (?:reduced|fallen|risen|"
    r"increased)|now (?:in place|has|have|receive|being)|more (?:stable|timely|consistent|effective)|stabilis|"
    r"encourag|positive",
    "negative": r"\bfound\b|\bidentified\b|\bfail|serious|inadequate|\bconcerns?\b|criticis|\bweak|\bpoor|"
    r"\bdelays?\b|\brisk\b|\black|insufficient|too (?:many|few|long|slow|high)|backlog|shortage|unallocated|drift",
    "action": r"\bshould\b|\bmust\b|\bneeds? to\b|\brecommend|\brequire|\bensure\b|area for (?:improvement|development)",
    "recap": r"(?:last|previous|earlier|first|original) (?:inspection|visit|report|review)|at the time|"
    r"since (?:the|its|our)|monitoring visit|follow[- ]up|re-?inspect|progress review",
    "future": r"\bwill\b|\bplans? to\b|\baims? to\b",
    "negation": r"\bnot\b|\bno\b|\bnever\b|n't\b",
    "praise": r"\bgood\b|\bwell\b|\bstrong\b|\beffective(?:ly)?\b|outstanding|excellent|commend|committed|positive",
    "procedure": r"\bwe (?:wrote|met|visited|spoke|read|reviewed|looked|interviewed|will)\b|\bthis report\b|"
    r"\bagenda\b|\bminutes?\b|\bapolog|\bpresent\b|\bmeeting\b",
}


def searchable(pattern: str) -> re.Pattern[str]:
    r"""`pattern` compiled for `search` (does the text match anywhere?), with its top-level alternatives that
    start with a word boundary gathered under one: `\bA|\bB|C` becomes `\b(?:A|B)|C`. Python's engine then
    tests the boundary once a position instead of once an alternative, about twice as fast on statements; for
    patterns like the cues (no capturing groups, no inline flags) whether a text matches is unchanged (tested on
    every statement of the corpus). Any other pattern is compiled as it is."""
    if re.compile(pattern).groups or pattern.startswith("(?") or "(?#" in pattern:
        return re.compile(pattern)
    try:
        return re.compile(_gathered(pattern))
    except (IndexError, re.error):
        return re.compile(pattern)


def _gathered(pattern: str) -> str:
    alternatives, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":  # a class runs to its closing bracket; a "]" first in the class is literal
            j = i + 1 + (pattern[i + 1 : i + 2] == "^")
            j += pattern[j : j + 1] == "]"
            while pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            alternatives.append(pattern[start:i])
            start = i + 1
        i += 1
    alternatives.append(pattern[start:])
    bounded = [a[2:] for a in alternatives if a.startswith("\\b")]
    if len(bounded) < 2:
        return pattern
    rest = [a for a in alternatives if not a.startswith("\\b")]
    return "|".join([r"\b(?:" + "|".join(bounded) + ")", *rest])


_CUE_RX = [searchable(v) for v in CUES.values()]
STATUSES = ("new", "persisting", "improved", "resolved", "none")
THREADS = ("overall", "intervention", "corporate")
UNDATED = 10**7  # as pipeline.recur.index.UNDATED: an ordinal after every real date

# The only types a recurrence model file may contain; anything else is refused before loading.
TRUSTED_TYPES = [
    "builtins.dict",
    "builtins.float",
    "builtins.int",
    "builtins.list",
    "builtins.str",
    "builtins.tuple",
    "builtins.type",
    "numpy.dtype",
    "numpy.float32",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
]
MODEL_FILE = "recur.skops"


class RecurModelError(PipelineError):
    """A recurrence model file that is missing or cannot be used, with the reason."""

    stage = "recur"


def normalise(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").lower().split())


def cue_flags(texts: Sequence[str]) -> sp.csr_matrix:
    rows = [[1.0 if rx.search(t) else 0.0 for rx in _CUE_RX] for t in map(normalise, texts)]
    return sp.csr_matrix(np.array(rows, dtype=np.float64).reshape(len(texts), len(_CUE_RX)))


def text_union() -> Any:
    """Word (1-2) and character (3-5) TF-IDF, fitted once on the training text; adding statements never refits."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    words = TfidfVectorizer(
        ngram_range=(1, 2),
        sublinear_tf=True,
        min_df=2,
        stop_words="english",
        token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b",
        dtype=np.float32,
    )
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2, dtype=np.float32)
    return FeatureUnion([("words", words), ("chars", chars)])


def sgd(**kw: Any) -> Any:
    from sklearn.linear_model import SGDClassifier

    return SGDClassifier(loss="log_loss", alpha=1e-4, max_iter=30, tol=None, average=True, random_state=0, **kw)


@dataclass
class Models:
    """What training learns. `settings` holds the linking and picking thresholds chosen on the training
    councils; `metadata` what the sidecar says (training data, figures)."""

    text: Any
    issue: Any
    status: Any
    pick: Any
    pair: Any
    settings: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def issues(self) -> list[str]:
        return [str(c) for c in self.issue.classes_]


@dataclass(frozen=True)
class Info:
    """Model outputs for statements: l2-normalised text vectors, issue and status probabilities (STATUSES
    order) and the probability of being a concern mention."""

    vectors: sp.csr_matrix
    issue: np.ndarray
    status: np.ndarray
    pick: np.ndarray

    def rows(self, index: Sequence[int] | np.ndarray) -> Info:
        index = np.asarray(index, dtype=int)
        return Info(self.vectors[index], self.issue[index], self.status[index], self.pick[index])

    def thread(self, k: int, issues: Sequence[str]) -> str | None:
        name = issues[int(self.issue[k].argmax())]
        return name if name in THREADS else None


def _status_order(clf: Any, probs: np.ndarray) -> np.ndarray:
    out = np.zeros((probs.shape[0], len(STATUSES)))
    for k, c in enumerate(clf.classes_):
        out[:, STATUSES.index(str(c))] = probs[:, k]
    return out


def statement_info(models: Models, texts: Sequence[str]) -> Info:
    from sklearn.preprocessing import normalize

    texts = list(texts)
    if not texts:
        n = len(models.issues)
        return Info(
            sp.csr_matrix((0, 1), dtype=np.float32), np.zeros((0, n)), np.zeros((0, len(STATUSES))), np.zeros(0)
        )
    x = transform(models.text, texts)
    f = sp.hstack([x, cue_flags(texts)], format="csr")
    pick = models.pick.predict_proba(f)[:, 1] if models.pick is not None else np.ones(len(texts))
    return Info(
        normalize(x).tocsr(),
        models.issue.predict_proba(x),
        _status_order(models.status, models.status.predict_proba(f)),
        pick,
    )


def pair_features(
    issues: Sequence[str],
    earlier: Info,
    later: Info,
    sim: np.ndarray,
    gap_days: np.ndarray,
    same_doc: np.ndarray,
    adjacent: np.ndarray,
) -> np.ndarray:
    """Features of aligned (earlier, later) pairs of one council (row k of `earlier` with row k of `later`):
    text similarity, issue agreement, the overall and intervention threads, time apart and its interaction with
    the threads (episodes), document, and what the two say about status."""
    p, q = earlier.issue, later.issue
    ov, iv = issues.index("overall"), issues.index("intervention")
    dot = (p * q).sum(1)
    same = (p.argmax(1) == q.argmax(1)).astype(float)
    undated = gap_days >= UNDATED
    gap = np.where(undated, 0.0, np.abs(gap_days) / 365.25)
    si, sj = earlier.status, later.status
    r, n, ps, im = (STATUSES.index(s) for s in ("resolved", "new", "persisting", "improved"))
    entropy = -(p * np.log(p + 1e-9)).sum(1) - (q * np.log(q + 1e-9)).sum(1)
    return np.column_stack(
        [
            sim,
            dot,
            same,
            p[:, ov] * q[:, ov],
            p[:, iv] * q[:, iv],
            p[:, ov] + q[:, ov],
            p[:, iv] + q[:, iv],
            np.abs(p[:, ov] - q[:, ov]),
            np.abs(p[:, iv] - q[:, iv]),
            gap,
            undated.astype(float),
            same_doc,
            adjacent,
            gap * p[:, ov] * q[:, ov],
            gap * p[:, iv] * q[:, iv],
            si[:, r] + sj[:, r],
            sj[:, n],
            si[:, n],
            sj[:, ps] + sj[:, im],
            entropy,
            sim * dot,
        ]
    )


def pair_probability(models: Models, x: np.ndarray) -> np.ndarray:
    return models.pair.predict_proba(x)[:, 1] if len(x) else np.zeros(0)


# ---------------------------------------------------------------- saving and loading


def save_models(models: Models, path: Path) -> None:
    import skops.io as sio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {k: getattr(models, k) for k in ("text", "issue", "status", "pick", "pair")}
    payload["settings"] = json.dumps(models.settings)
    # The vocabularies go in as one JSON string: skops would audit and rebuild every word as a node of its own,
    # which made loading take seconds and a hundred megabytes more at its peak.
    vectorizers = [v for _, v in models.text.transformer_list]
    vocabularies = [v.vocabulary_ for v in vectorizers]
    payload["vocabularies"] = json.dumps(vocabularies)
    tmp = path.with_name(path.name + ".tmp")
    try:
        for v in vectorizers:
            v.vocabulary_ = {}
        sio.dump(payload, tmp, compression=zipfile.ZIP_DEFLATED)
    finally:
        for v, vocabulary in zip(vectorizers, vocabularies, strict=True):
            v.vocabulary_ = vocabulary
    tmp.replace(path)
    Path(f"{path}.json").write_text(
        json.dumps({**models.metadata, "settings": models.settings}, indent=2, default=str) + "\n", encoding="utf-8"
    )


def load_models(path: Path) -> Models:
    """Load a model saved by `save_models` (cached per file and modification time); only TRUSTED_TYPES."""
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise RecurModelError(
            f"no recurrence model at {path}: run `make recur-model` (or `scrutiny train-recur`) first"
        ) from None
    with _LOAD_LOCK:  # threads linking their first councils together share one copy, loaded once
        return _load(path.resolve(), stat.st_mtime_ns, stat.st_size)


_LOAD_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int, size: int) -> Models:
    payload = load_trusted(path, TRUSTED_TYPES, RecurModelError, "a recurrence model")
    if "vocabularies" in payload:  # saved by save_models; a file from before keeps them inside
        for (_, v), vocabulary in zip(
            payload["text"].transformer_list, json.loads(payload["vocabularies"]), strict=True
        ):
            v.vocabulary_ = vocabulary
    side = Path(f"{path}.json")
    metadata = json.loads(side.read_text(encoding="utf-8")) if side.is_file() else {}
    return Models(
        payload["text"],
        payload["issue"],
        payload["status"],
        payload["pick"],
        payload["pair"],  # a file from before may also hold a status-in-context model, no longer used
        json.loads(payload["settings"]),
        metadata,
    )
