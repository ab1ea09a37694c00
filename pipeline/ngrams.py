"""Text features with character n-grams counted once per distinct word.

scikit-learn's `char_wb` analyser builds every n-gram of every word of every text in Python, and the
vectoriser then looks each one up (or hashes it) one at a time: for statements of about thirty words that is
most of the time the TF-IDF classifier and the recurrence models spend on a statement. A `char_wb` n-gram never
crosses a word boundary, so a text's counts are the sum, over its words, of each word's counts, and statements
repeat the same few thousand words. `transform(fitted, texts)` gives exactly what `fitted.transform(texts)`
gives (the same values, columns and order: tested against scikit-learn on varied text), with each distinct word's
columns worked out once and kept in a bounded cache per vectoriser.

Supported: a fitted `TfidfVectorizer` or `CountVectorizer` with `analyzer="char_wb"`, a `HashingVectorizer`
with `analyzer="char_wb"` and `alternate_sign=False`, and `Pipeline`s and `FeatureUnion`s of them (a pipeline's
later steps, such as a `TfidfTransformer`, run as usual). Anything else is handed to its own `transform`.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

WORDS_KEPT = 65_536  # distinct words remembered per vectoriser (about 15 MB); the cache starts again when full
LONGEST_KEPT = 40  # longer "words" (a PDF line read without spaces, a web address) are counted, not remembered

_caches: weakref.WeakKeyDictionary[Any, tuple[tuple, dict[str, np.ndarray]]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def transform(fitted: Any, texts: Sequence[str]) -> Any:
    """`fitted.transform(texts)`, with `char_wb` n-grams counted once per distinct word."""
    import sklearn
    from sklearn.pipeline import FeatureUnion, Pipeline

    if isinstance(texts, str):
        raise ValueError("an iterable of texts is expected, not one string")
    texts = list(texts)
    if sklearn.get_config().get("sparse_interface", "spmatrix") != "spmatrix":
        return fitted.transform(texts)  # the fast path builds scipy's sparse matrices, not sparse arrays
    if type(fitted) is FeatureUnion:
        steps = [t for _, t in fitted.transformer_list if not (isinstance(t, str) and t == "drop")]
        if (
            fitted.transformer_weights
            or fitted.n_jobs not in (None, 1)
            or not steps
            or any(isinstance(t, str) for t in steps)
        ):
            return fitted.transform(texts)
        parts = [transform(t, texts) for t in steps]
        if not all(sp.issparse(p) for p in parts):
            return fitted.transform(texts)
        return sp.hstack(parts).tocsr()
    if type(fitted) is Pipeline:
        steps = [s for _, s in fitted.steps if not (s is None or (isinstance(s, str) and s == "passthrough"))]
        if not steps:
            return fitted.transform(texts)
        x = transform(steps[0], texts)
        for step in steps[1:]:
            x = step.transform(x)
        return x
    kind = _kind(fitted)
    if kind is None:
        return fitted.transform(texts)
    counts = _counts(fitted, kind, texts)
    if kind == "tfidf":
        return fitted._tfidf.transform(counts, copy=False)
    return counts


def _kind(v: Any) -> str | None:
    """Which fast path a vectoriser takes: "tfidf", "count", "hash", or None for its own transform. Only
    scikit-learn's own classes: a subclass may analyse text its own way."""
    from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer

    if getattr(v, "analyzer", None) != "char_wb" or getattr(v, "input", "content") != "content":
        return None
    if type(v) is HashingVectorizer:
        ok = not v.alternate_sign and v.norm is None and not v.binary
        return "hash" if ok else None
    if type(v) in (CountVectorizer, TfidfVectorizer) and hasattr(v, "vocabulary_") and not v.binary:
        if type(v) is TfidfVectorizer:
            return "tfidf" if hasattr(v, "_tfidf") else None
        return "count"
    return None


def _columns(v: Any, kind: str, word: str) -> np.ndarray:
    """The columns of one word's n-grams, once per occurrence (a column repeats when an n-gram does)."""
    grams = v._char_wb_ngrams(word)
    if kind == "hash":
        row = v._get_hasher().transform([grams])
        row = sp.csr_matrix(row)
        return np.repeat(row.indices.astype(np.int32), row.data.astype(np.int64))
    vocabulary = v.vocabulary_
    return np.fromiter((vocabulary[g] for g in grams if g in vocabulary), dtype=np.int32)


def _counts(v: Any, kind: str, texts: list[str]) -> sp.csr_matrix:
    # what a word's columns depend on: a vectoriser fitted again, or given other settings, starts a new cache
    # (the vocabulary is held and compared by identity: fitting builds a new one)
    vocabulary = getattr(v, "vocabulary_", None)
    state = (
        vocabulary,
        v.ngram_range,
        v.lowercase,
        v.strip_accents,
        v.preprocessor,
        getattr(v, "n_features", None),
    )
    with _lock:
        kept = _caches.get(v)
        if kept is None or kept[0][0] is not vocabulary or kept[0][1:] != state[1:]:
            kept = _caches[v] = (state, {})
        cache = kept[1]
    preprocess, spaces = v.build_preprocessor(), v._white_spaces
    pieces: list[np.ndarray] = []
    times: list[int] = []
    rows: list[int] = []
    for r, text in enumerate(texts):
        words = Counter(spaces.sub(" ", preprocess(v.decode(text))).split())
        for word, n in words.items():
            cols = cache.get(word)
            if cols is None:
                cols = _columns(v, kind, word)
                if len(word) <= LONGEST_KEPT:
                    if len(cache) >= WORDS_KEPT:
                        cache.clear()
                    cache[word] = cols
            if len(cols):
                pieces.append(cols)
                times.append(n)
                rows.append(r)
    width = v.n_features if kind == "hash" else len(v.vocabulary_)
    return sum_rows(pieces, times, rows, (len(texts), width), v.dtype)


def sum_rows(
    pieces: list[np.ndarray], times: list[int], rows: list[int], shape: tuple[int, int], dtype: Any
) -> sp.csr_matrix:
    """The count matrix of pieces of columns: `pieces[i]` (a column once per occurrence) counted `times[i]`
    times in row `rows[i]`, duplicates summed and each row's columns sorted, as the vectorisers give them."""
    if not pieces:
        return sp.csr_matrix(shape, dtype=dtype)
    sizes = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
    x = sp.csr_matrix(
        (
            np.repeat(np.asarray(times, dtype=dtype), sizes),
            (np.repeat(np.asarray(rows, dtype=np.int64), sizes), np.concatenate(pieces)),
        ),
        shape=shape,
        dtype=dtype,
    )
    x.sum_duplicates()
    return x


def predict_proba(fitted: Any, texts: Sequence[str]) -> np.ndarray:
    """`fitted.predict_proba(texts)` for a scikit-learn `Pipeline` whose first steps turn text into features,
    with those features from `transform`; any other model's own `predict_proba` (scikit-learn is not imported
    for a model that is not its own)."""
    if not type(fitted).__module__.startswith("sklearn."):
        return fitted.predict_proba(list(texts))
    from sklearn.pipeline import Pipeline

    if type(fitted) is Pipeline and len(fitted.steps) >= 2:
        return fitted.steps[-1][1].predict_proba(transform(fitted[:-1], texts))
    return fitted.predict_proba(list(texts))
