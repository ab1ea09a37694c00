"""The TF-IDF model as plain arrays: its scores without scikit-learn, for the processes that only classify.

The TF-IDF classifier (`build_pipeline`) is hashed word and character n-grams, TF-IDF weighting, and one
linear model per label with Platt scaling. Once fitted, all of that is a few arrays: the IDF weights of each
view, one weight vector and intercept per label, and the two numbers of each label's sigmoid. `save_model`
writes them beside the skops file (`<name>.linear.npz`, its sha256 in the sidecar); a process that only
classifies (the ingest workers, and the TF-IDF model an encoder blends with) reads them with numpy and never
imports scikit-learn or skops, about 110 MB less per worker process.

The scores are scikit-learn's own to rounding error: the n-grams are those of its analysers (the same
preprocessing, token pattern and word-bounded character n-grams), hashed with the same MurmurHash3 (spaCy's
`murmurhash` package) into the same columns; the tests compare both on varied text. A pipeline of any other
shape has no linear form and is loaded from skops as before.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from murmurhash import hash as murmur

from pipeline.ngrams import sum_rows

FORMAT = "scrutiny-linear-1"
SUFFIX = ".linear.npz"
WORDS_KEPT = 65_536  # distinct words (or word n-grams) whose columns are remembered per view; cleared when full
LONGEST_KEPT = 40
_WHITE_SPACES = re.compile(r"\s\s+")  # scikit-learn's whitespace normalisation before character n-grams


class LinearFormError(ValueError):
    """A linear-form file that cannot be used, with the reason."""


def linear_path(model_path: Path) -> Path:
    """Where the linear form of the skops model at `model_path` is written: `<stem>.linear.npz`."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + SUFFIX)


def _hash(gram: str) -> int:
    """MurmurHash3 (x86, 32 bits, seed 0, signed) of the UTF-8 bytes: scikit-learn's `murmurhash3_32`. The
    `murmurhash` package (spaCy's) computes the same value (the tests compare the scores with scikit-learn's)."""
    return int(murmur(gram))


def _column(h: int, n_features: int) -> int:
    """scikit-learn's FeatureHasher column of a signed 32-bit MurmurHash3 value."""
    if h == -2147483648:  # abs(-2**31) is undefined in C: scikit-learn defines this case so
        return (2147483647 - (n_features - 1)) % n_features
    return abs(h) % n_features


def _strip_accents_unicode(s: str) -> str:
    try:
        s.encode("ASCII", errors="strict")
        return s
    except UnicodeEncodeError:
        normalized = unicodedata.normalize("NFKD", s)
        return "".join([c for c in normalized if not unicodedata.combining(c)])


@dataclass(eq=False)
class View:
    """One feature view: how texts become n-grams, hashed columns and TF-IDF weights."""

    analyzer: str  # "word" or "char_wb"
    ngram_range: tuple[int, int]
    lowercase: bool
    strip_accents: str | None  # None or "unicode"
    token_pattern: str
    n_features: int
    sublinear_tf: bool
    norm: str | None  # "l2" or None
    idf: np.ndarray | None

    def __post_init__(self) -> None:
        self._token = re.compile(self.token_pattern)
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def preprocess(self, text: str) -> str:
        if self.lowercase:
            text = text.lower()
        if self.strip_accents == "unicode":
            text = _strip_accents_unicode(text)
        return text

    def _grams(self, word: str) -> list[str]:
        """The character n-grams of one word, padded with a space at each end, as `char_wb` makes them."""
        lo, hi = self.ngram_range
        w = " " + word + " "
        w_len = len(w)
        out = []
        for n in range(lo, hi + 1):
            offset = 0
            out.append(w[offset : offset + n])
            while offset + n < w_len:
                offset += 1
                out.append(w[offset : offset + n])
            if offset == 0:  # a short word counts once
                break
        return out

    def _columns(self, grams: list[str]) -> np.ndarray:
        return np.fromiter((_column(_hash(g), self.n_features) for g in grams), dtype=np.int32, count=len(grams))

    def _cached(self, key: str) -> np.ndarray:
        """The columns of `key`'s n-grams (a word's character n-grams, or a word n-gram itself), remembered when
        the key is short."""
        cols = self._cache.get(key)
        if cols is None:
            cols = self._columns(self._grams(key) if self.analyzer == "char_wb" else [key])
            if len(key) <= LONGEST_KEPT:
                with self._lock:
                    if len(self._cache) >= WORDS_KEPT:
                        self._cache.clear()
                    self._cache[key] = cols
        return cols

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The hashed n-gram counts of each text: what HashingVectorizer(alternate_sign=False, norm=None) gives."""
        pieces: list[np.ndarray] = []
        times: list[int] = []
        rows: list[int] = []
        for r, text in enumerate(texts):
            doc = self.preprocess(text)
            if self.analyzer == "char_wb":
                units = Counter(_WHITE_SPACES.sub(" ", doc).split())
                for word, n in units.items():
                    cols = self._cached(word)
                    if len(cols):
                        pieces.append(cols)
                        times.append(n)
                        rows.append(r)
            else:
                tokens = self._token.findall(doc)
                grams = Counter(_word_ngrams(tokens, self.ngram_range))
                for gram, n in grams.items():
                    pieces.append(self._cached(gram))
                    times.append(n)
                    rows.append(r)
        return sum_rows(pieces, times, rows, (len(texts), self.n_features), np.float64)

    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Counts weighted as TfidfTransformer weighs them: 1 + log(tf) when sublinear, times IDF, row-normalised."""
        x = self.counts(texts)
        if self.sublinear_tf:
            np.log(x.data, x.data)
            x.data += 1.0
        if self.idf is not None:
            x.data *= self.idf[x.indices]
        if self.norm == "l2":
            lengths = np.diff(x.indptr)
            rows = np.repeat(np.arange(x.shape[0]), lengths)
            norms = np.sqrt(np.bincount(rows, weights=x.data**2, minlength=x.shape[0]))
            norms[norms == 0.0] = 1.0  # a text with no n-grams stays a row of zeros
            x.data /= norms[rows]
        return x

    def settings(self) -> dict[str, Any]:
        return {
            "analyzer": self.analyzer,
            "ngram_range": list(self.ngram_range),
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
            "token_pattern": self.token_pattern,
            "n_features": self.n_features,
            "sublinear_tf": self.sublinear_tf,
            "norm": self.norm,
        }


def _word_ngrams(tokens: list[str], ngram_range: tuple[int, int]) -> list[str]:
    lo, hi = ngram_range
    if hi == 1:
        return list(tokens)
    out = list(tokens) if lo == 1 else []
    start = max(lo, 2)
    for n in range(start, min(hi + 1, len(tokens) + 1)):
        for i in range(len(tokens) - n + 1):
            out.append(" ".join(tokens[i : i + n]))
    return out


@dataclass(eq=False)
class LinearForm:
    """Scores per label in [0, 1]: the mean over calibrated models of sigmoid(-(a * (x . w + c) + b))."""

    views: list[View]
    coef: np.ndarray  # (labels, calibrated models, features of all views side by side)
    intercept: np.ndarray  # (labels, calibrated models)
    a: np.ndarray  # (labels, calibrated models)
    b: np.ndarray  # (labels, calibrated models)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        k, m, _ = self.coef.shape
        decision = np.zeros((len(texts), k, m))
        start = 0
        for view in self.views:
            x = view.features(texts)
            w = self.coef[:, :, start : start + view.n_features].reshape(k * m, view.n_features)
            decision += np.asarray(x @ w.T).reshape(len(texts), k, m)
            start += view.n_features
        decision += self.intercept[None, :, :]
        proba = 1.0 / (1.0 + np.exp(self.a[None] * decision + self.b[None]))
        proba[(1.0 < proba) & (proba <= 1.0 + 1e-5)] = 1.0
        scores = proba.mean(axis=2)
        return scores

    # ------------------------------------------------------------ files

    def save(self, path: Path, about: dict[str, Any] | None = None) -> None:
        """Write the arrays to `path` (npz, no pickled objects), with `about` (the model's name, codes,
        thresholds: whatever the caller needs back) in the header."""
        header = {
            "format": FORMAT,
            "views": [v.settings() for v in self.views],
            "about": dict(about or {}),
        }
        arrays: dict[str, Any] = {f"idf{i}": v.idf for i, v in enumerate(self.views) if v.idf is not None}
        tmp = Path(path).with_name(Path(path).name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            header=np.array(json.dumps(header)),
            coef=self.coef,
            intercept=self.intercept,
            a=self.a,
            b=self.b,
            **arrays,
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> tuple[LinearForm, dict[str, Any]]:
        """The form and the `about` it was saved with."""
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                if header.get("format") != FORMAT:
                    raise LinearFormError(f"{path}: not a {FORMAT} file")
                views = [
                    View(
                        analyzer=str(s["analyzer"]),
                        ngram_range=(int(s["ngram_range"][0]), int(s["ngram_range"][1])),
                        lowercase=bool(s["lowercase"]),
                        strip_accents=s["strip_accents"],
                        token_pattern=str(s["token_pattern"]),
                        n_features=int(s["n_features"]),
                        sublinear_tf=bool(s["sublinear_tf"]),
                        norm=s["norm"],
                        idf=np.asarray(data[f"idf{i}"], dtype=np.float64) if f"idf{i}" in data.files else None,
                    )
                    for i, s in enumerate(header["views"])
                ]
                form = cls(
                    views,
                    np.asarray(data["coef"], dtype=np.float64),
                    np.asarray(data["intercept"], dtype=np.float64),
                    np.asarray(data["a"], dtype=np.float64),
                    np.asarray(data["b"], dtype=np.float64),
                )
                about = header.get("about") or {}
        except (OSError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile) as exc:
            if isinstance(exc, LinearFormError):
                raise
            raise LinearFormError(f"{path}: not a readable linear form ({type(exc).__name__}: {exc})") from None
        for v in views:
            known = (
                v.analyzer in ("word", "char_wb") and v.norm in (None, "l2") and v.strip_accents in (None, "unicode")
            )
            if not known or (v.idf is not None and v.idf.shape != (v.n_features,)):
                raise LinearFormError(f"{path}: a feature view this version cannot read ({v.settings()})")
        width = sum(v.n_features for v in views)
        k, m = form.intercept.shape if form.intercept.ndim == 2 else (-1, -1)
        if form.coef.shape != (k, m, width) or form.a.shape != (k, m) or form.b.shape != (k, m):
            raise LinearFormError(f"{path}: arrays of inconsistent shapes")
        if not isinstance(about, dict):
            raise LinearFormError(f"{path}: a header without its model's description")
        return form, about


# ---------------------------------------------------------------- from a fitted pipeline


def from_pipeline(pipeline: Any) -> LinearForm | None:
    """The linear form of a fitted TF-IDF pipeline as `build_pipeline` makes it, or None for any other shape
    (another analyser, a vocabulary instead of hashing, isotonic calibration, ...)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import FeatureUnion, Pipeline

    if type(pipeline) is not Pipeline or len(pipeline.steps) != 2:
        return None
    union, ovr = pipeline.steps[0][1], pipeline.steps[1][1]
    if type(union) is not FeatureUnion or union.transformer_weights or type(ovr) is not OneVsRestClassifier:
        return None
    if not getattr(ovr, "multilabel_", False) or len(getattr(ovr, "estimators_", [])) < 2:
        return None  # one label, or one class per text: scikit-learn's outputs take another shape
    views = []
    for _, part in union.transformer_list:
        if type(part) is not Pipeline or len(part.steps) != 2:
            return None
        hasher, tfidf = part.steps[0][1], part.steps[1][1]
        if type(hasher) is not HashingVectorizer or type(tfidf) is not TfidfTransformer:
            return None
        plain = (
            hasher.input == "content"
            and hasher.preprocessor is None
            and hasher.tokenizer is None
            and hasher.stop_words is None
            and not hasher.binary
            and not hasher.alternate_sign
            and hasher.norm is None
            and hasher.strip_accents in (None, "unicode")
            and hasher.analyzer in ("word", "char_wb")
            and np.dtype(hasher.dtype) == np.float64
            and tfidf.norm in (None, "l2")
        )
        if not plain:
            return None
        idf = getattr(tfidf, "idf_", None) if tfidf.use_idf else None
        views.append(
            View(
                analyzer=hasher.analyzer,
                ngram_range=tuple(hasher.ngram_range),
                lowercase=bool(hasher.lowercase),
                strip_accents=hasher.strip_accents,
                token_pattern=hasher.token_pattern or r"(?u)\b\w\w+\b",
                n_features=int(hasher.n_features),
                sublinear_tf=bool(tfidf.sublinear_tf),
                norm=tfidf.norm,
                idf=None if idf is None else np.asarray(idf, dtype=np.float64),
            )
        )
    coef, intercept, a, b = [], [], [], []
    for est in getattr(ovr, "estimators_", []):
        if type(est) is not CalibratedClassifierCV or est.method != "sigmoid" or len(est.classes_) != 2:
            return None
        rows = []
        for cal in est.calibrated_classifiers_:
            inner = cal.estimator
            w = getattr(inner, "coef_", None)
            if w is None or np.shape(w)[0] != 1 or len(cal.calibrators) != 1 or len(inner.classes_) != 2:
                return None
            if not hasattr(inner, "decision_function"):
                return None
            rows.append((np.asarray(w, dtype=np.float64)[0], float(np.ravel(inner.intercept_)[0]), cal.calibrators[0]))
        coef.append([r[0] for r in rows])
        intercept.append([r[1] for r in rows])
        a.append([float(r[2].a_) for r in rows])
        b.append([float(r[2].b_) for r in rows])
    if not coef or len({len(r) for r in coef}) != 1:
        return None
    c = np.asarray(coef)
    if c.shape[2] != sum(v.n_features for v in views):
        return None
    return LinearForm(views, c, np.asarray(intercept), np.asarray(a), np.asarray(b))
