"""Character n-gram features counted once per word (pipeline.ngrams) give exactly scikit-learn's own output."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from pipeline import ngrams
from pipeline.classify.model import build_pipeline, fit_pipeline
from pipeline.recur.learned import text_union

TEXTS = [
    "The local authority has not yet addressed the recommendation on supervision.",
    "Caseloads remain too high in the front door team; staff turnover is 24%.",
    "Ni chafodd yr argymhelliad ei fodloni: mae'r llwyth achosion yn dal yn uchel.",
    "Café naïve Ünïcödé ΟΔΟΣ ΣΑΣ déjà-vu £1.2m 2017/18 (A)",
    "",
    "   ",
    "a",
    "ab  cd\t\nef\u00a0gh\u2003ij",
    "x" * 300,
    "I  am   here.   Again, AGAIN, again!",
    "Supervision supervision SUPERVISION: supervised, supervising.",
]
MORE = [
    f"Statement {i}: the council's plan {i % 7} for workforce and quality assurance was {'met' * (i % 3)}."
    for i in range(60)
]


def identical(a: sp.spmatrix, b: sp.spmatrix) -> bool:
    return (
        type(a) is type(b)
        and a.shape == b.shape
        and a.dtype == b.dtype
        and a.indices.dtype == b.indices.dtype
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
    )


def test_recurrence_features_are_sklearns_own() -> None:
    union = text_union().fit(TEXTS + MORE)
    texts = TEXTS + MORE + ["A new text with words never fitted: zyxwv qqq."]
    assert identical(ngrams.transform(union, texts), union.transform(texts))
    # and again, from the words remembered the first time
    assert identical(ngrams.transform(union, texts[::-1]), union.transform(texts[::-1]))


def test_classifier_features_and_scores_are_sklearns_own() -> None:
    config = {
        "features": {
            "words": {"ngram_range": [1, 2], "n_features": 2**12, "strip_accents": "unicode", "sublinear_tf": True},
            "chars": {"analyzer": "char_wb", "ngram_range": [3, 6], "n_features": 2**12, "sublinear_tf": True},
        },
        "classifier": {"kind": "linear_svc", "C": 0.5},
        "calibration": {"cv": 2},
    }
    texts = TEXTS + MORE
    y = np.array([[i % 2, (i // 2) % 2] for i in range(len(texts))])
    fitted = fit_pipeline(build_pipeline(config, ["A", "B"]), texts, y)
    assert identical(ngrams.transform(fitted[:-1], texts), fitted[:-1].transform(texts))
    assert np.array_equal(ngrams.predict_proba(fitted, texts), fitted.predict_proba(texts))


def test_a_full_cache_starts_again_and_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ngrams, "WORDS_KEPT", 5)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True).fit(TEXTS + MORE)
    assert identical(ngrams.transform(chars, TEXTS + MORE), chars.transform(TEXTS + MORE))
    assert len(ngrams._caches[chars][1]) <= 5


@pytest.mark.parametrize(
    "vectoriser",
    [
        HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5)),  # signed hashing and a norm: its own transform
        HashingVectorizer(analyzer="char", ngram_range=(3, 5), alternate_sign=False, norm=None),
        TfidfVectorizer(analyzer="char_wb", binary=True),
        TfidfVectorizer(analyzer="word"),
    ],
)
def test_other_vectorisers_use_their_own_transform(vectoriser: object) -> None:
    fitted = vectoriser.fit(TEXTS + MORE)  # type: ignore[attr-defined]
    assert identical(ngrams.transform(fitted, TEXTS), fitted.transform(TEXTS))  # type: ignore[attr-defined]
    assert fitted not in ngrams._caches


def test_pipelines_and_unions_of_them() -> None:
    hashed = Pipeline(
        [
            ("hash", HashingVectorizer(analyzer="char_wb", ngram_range=(3, 6), alternate_sign=False, norm=None)),
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
        ]
    )
    union = FeatureUnion([("hashed", hashed), ("vocab", TfidfVectorizer(analyzer="char_wb"))]).fit(TEXTS + MORE)
    assert identical(ngrams.transform(union, MORE + TEXTS), union.transform(MORE + TEXTS))
    assert identical(ngrams.transform(union, ["", " "]), union.transform(["", " "]))


def test_a_vectoriser_fitted_again_is_not_read_from_the_old_cache() -> None:
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit(TEXTS)
    ngrams.transform(chars, MORE)
    chars.fit(MORE)  # the same object, another vocabulary
    assert identical(ngrams.transform(chars, TEXTS + MORE), chars.transform(TEXTS + MORE))
    chars.set_params(ngram_range=(3, 3)).fit(MORE)
    assert identical(ngrams.transform(chars, TEXTS + MORE), chars.transform(TEXTS + MORE))


class _Hyphens(TfidfVectorizer):
    """A vectoriser that analyses text its own way: the fast path must leave it alone."""

    def build_preprocessor(self):  # type: ignore[no-untyped-def]
        return lambda text: text.lower().replace("-", " ")


def test_a_subclass_and_a_lone_string_are_left_to_scikit_learn() -> None:
    own = _Hyphens(analyzer="char_wb").fit(TEXTS + MORE)
    assert identical(ngrams.transform(own, ["follow-up visit"]), own.transform(["follow-up visit"]))
    assert own not in ngrams._caches
    with pytest.raises(ValueError):
        ngrams.transform(own, "one text, not a list")


def test_long_words_are_counted_but_not_remembered() -> None:
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit(TEXTS + MORE)
    run_on = "thelocalauthorityhasnotyetaddressedtherecommendationonsupervision" * 3  # a line read without spaces
    texts = [run_on, f"short words {run_on} again", "short words"]
    assert identical(ngrams.transform(chars, texts), chars.transform(texts))
    assert run_on not in ngrams._caches[chars][1] and "short" in ngrams._caches[chars][1]
