"""Adapters for the stages being written in their own issues: classification and linking.

Each adapter checks by import and attribute that the stage's code exists and
returns either what the benchmark needs or the reason it cannot be measured
yet ("pipeline/classify.py does not exist yet"). When the module lands, the
stage lights up with no change here, provided it keeps the expected API:

- `pipeline.classify.load_model(default_model_path(settings))` (or
  `load_model(settings)`, or no argument) and `classify(model, texts)`, with a
  fitted scikit-learn `Pipeline` inside the model whose vectoriser step can be
  timed alone (`model.vectorizer`, or the steps before the final estimator);
- `pipeline.recur.link(items, index[, config])` returning (assignments, index),
  with `Item`, and for the baseline `cues`, `vectorise` and `council_key`.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.bench import BENCH_VERSION, corpus, prose

ITEMS_VERSION = f"{BENCH_VERSION}/link-items-1"


def _module(name: str, path: str) -> Any | str:
    """The module, or why it cannot be used."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return f"{path} does not exist yet"
        return f"{name} cannot be imported ({exc})"
    except Exception as exc:
        return f"{name} cannot be imported ({type(exc).__name__}: {exc})"


def _missing(module: Any, names: Sequence[str]) -> str | None:
    gone = [n for n in names if not callable(getattr(module, n, None))]
    return f"{module.__name__} has no {', '.join(gone)} yet" if gone else None


# ---------------------------------------------------------------- classification


@dataclass(frozen=True)
class Classifier:
    classify: Callable[[Sequence[Any]], Any]  # our stage on statements
    vectorize: Callable[[list[str]], Any]  # the fitted vectoriser step alone on their texts
    description: str
    features: Callable[[list[str]], Any]  # the same features as the stage computes them (pipeline.ngrams)


def _find_pipeline(model: Any) -> Any | None:
    from sklearn.pipeline import Pipeline

    seen: list[Any] = [model]
    for name in ("pipeline", "pipeline_", "estimator", "estimator_", "model", "model_", "clf", "classifier"):
        seen.append(getattr(model, name, None))
    if isinstance(model, dict):
        seen.extend(model.values())
    for candidate in seen:
        if isinstance(candidate, Pipeline):
            return candidate
        inner = getattr(candidate, "estimator", None) or getattr(candidate, "base_estimator", None)
        if isinstance(inner, Pipeline):
            return inner
    return None


def _vectorizer(pipe: Any) -> tuple[Any, str]:
    for name, step in pipe.steps[:-1]:
        if any(k in name.lower() for k in ("vector", "tfidf", "features", "union", "text")):
            return step, name
    return pipe[:-1], " + ".join(n for n, _ in pipe.steps[:-1])


def classifier(settings: Any, kind: str = "fast") -> Classifier | str:
    """The classification stage with the TF-IDF ("fast") model and its vectoriser, or the reason it cannot be
    measured yet."""
    mod = _module("pipeline.classify", "pipeline/classify.py")
    if isinstance(mod, str):
        return mod
    if (why := _missing(mod, ("load_model", "classify"))) is not None:
        return why
    try:
        if callable(getattr(mod, "default_model_path", None)):  # load_model(path), as the module has it
            params = inspect.signature(mod.default_model_path).parameters
            path = mod.default_model_path(settings, kind=kind) if "kind" in params else mod.default_model_path(settings)
            model = mod.load_model(path)
        elif inspect.signature(mod.load_model).parameters:
            model = mod.load_model(settings)
        else:
            model = mod.load_model()
    except Exception as exc:
        return f"no trained model could be loaded ({exc})"
    vec = getattr(model, "vectorizer", None)
    name = "vectorizer"
    if not callable(getattr(vec, "transform", None)):
        pipe = _find_pipeline(model)
        if pipe is None or len(pipe.steps) < 2:
            return "the loaded model holds no scikit-learn Pipeline with a separate vectoriser step"
        vec, name = _vectorizer(pipe)
    params = list(inspect.signature(mod.classify).parameters)
    wants_records = len(params) > 1 and "statement" in params[1].lower()

    def run(statements: Sequence[Any]) -> Any:
        return mod.classify(model, list(statements) if wants_records else [s.text for s in statements])

    from pipeline.ngrams import transform as ngram_features  # how the stage computes the same features

    return Classifier(
        run,
        vec.transform,
        f"pipeline.classify.classify(model, texts) vs the fitted {name}'s transform alone",
        lambda texts: ngram_features(vec, texts),
    )


@dataclass(frozen=True)
class Encoder:
    classify: Callable[[Sequence[Any]], Any]  # our stage on statements, with the fine-tuned encoder
    forward: Callable[[Any], Any]  # ONNX Runtime alone on the prepared batches
    prepare: Callable[[list[str]], Any]  # tokenised, length-sorted, padded batches (not timed)
    name: str


def encoder(settings: Any) -> Encoder | str:
    """The classification stage with the fine-tuned encoder, and the bare ONNX forward pass on the same batches."""
    try:
        from pipeline.classify import classify, default_model_path, load_model

        path = default_model_path(settings, kind="encoder")
        if not path.is_file():
            return f"no fine-tuned encoder at {path}"
        model = load_model(path)
    except Exception as exc:
        return f"the encoder could not be loaded ({exc})"
    scorer = model.pipeline

    def prepare(texts: list[str]) -> tuple[Any, int]:
        return scorer.batches(texts), len(texts)

    def forward(prepared: tuple[Any, int]) -> Any:
        return scorer.run(*prepared)

    return Encoder(lambda statements: classify(model, [s.text for s in statements]), forward, prepare, model.name)


# ---------------------------------------------------------------- linking


@dataclass(frozen=True)
class Linker:
    link: Callable[[Sequence[Any], Any], tuple[Any, Any]]  # (items, index or None) -> (assignments, index)
    make_item: Callable[[dict[str, Any]], Any]
    baseline: Callable[[Sequence[Any]], int]  # one chunked sparse similarity product; returns candidate pairs
    description: str


def linker(settings: Any) -> Linker | str:
    """The linking stage and its similarity-product baseline, or the reason it cannot be measured yet."""
    mod = _module("pipeline.recur", "pipeline/recur.py")
    if isinstance(mod, str):
        return mod
    if (why := _missing(mod, ("link",))) is not None:
        return why
    if not dataclasses.is_dataclass(getattr(mod, "Item", None)):
        return "pipeline.recur has no Item record yet"
    params = list(inspect.signature(mod.link).parameters)
    config = mod.config_for(settings) if callable(getattr(mod, "config_for", None)) else None
    if "config" in params and config is None:
        return "pipeline.recur.link needs a config but there is no config_for(settings)"
    fields = {f.name for f in dataclasses.fields(mod.Item)}

    def link(items: Sequence[Any], index: Any = None) -> tuple[Any, Any]:
        if "config" in params:
            return mod.link(items, index, config)
        return mod.link(items, index=index)

    def make_item(row: dict[str, Any]) -> Any:
        return mod.Item(**{k: v for k, v in row.items() if k in fields})

    return Linker(
        link,
        make_item,
        _product_baseline(mod, config),
        "pipeline.recur.link vs one chunked sparse product of the same vectors within each council",
    )


def _product_baseline(mod: Any, config: Any) -> Callable[[Sequence[Any]], int]:
    """The least any linker must do: vectorise the statements and take one chunked sparse product within each
    council block, keeping pairs above the candidate floor. It uses the linker's own vectors when it has them."""
    floor, cells = 0.12, 20_000_000
    if config is not None and hasattr(config, "linking"):
        floor = float(config.linking.get("candidate_floor", floor))
        cells = int(config.linking.get("chunk_cells", cells))
    own = all(callable(getattr(mod, n, None)) for n in ("cues", "vectorise", "council_key")) and config is not None

    def vectors(items: Sequence[Any]) -> Any:
        if own:
            return mod.vectorise(items, None, config)
        from sklearn.feature_extraction.text import HashingVectorizer

        return HashingVectorizer(
            analyzer="char_wb", ngram_range=(3, 5), n_features=2**20, alternate_sign=False
        ).transform([it.text for it in items])

    def run(items: Sequence[Any]) -> int:
        x = vectors(items).tocsr()
        blocks: dict[str, list[int]] = {}
        for i, it in enumerate(items):
            key = mod.council_key(it.local_authority) if own else it.local_authority
            blocks.setdefault(key, []).append(i)
        pairs = 0
        for rows in blocks.values():
            xb = x[rows]
            per = max(1, cells // max(1, len(rows)))
            for r0 in range(0, len(rows), per):
                s = xb[r0 : r0 + per] @ xb.T
                pairs += int((s.data >= floor).sum())
        return pairs

    return run


# ---------------------------------------------------------------- statements to link


def items_path(out: Path, seed: int, n: int) -> Path:
    return out / "work" / f"link-items-seed{seed}-{n}-{ITEMS_VERSION.replace('/', '-')}.jsonl"


def link_items(
    out: Path, seed: int, n: int, lemmatise: Callable[[list[str]], list[str]] | None = None
) -> list[dict[str, Any]]:
    """`n` statements to link, in time order, as plain dicts (cached as JSON Lines): recommendations, findings,
    recaps and committee discussion about each council's inspection issues, spread over the 22 councils and
    twelve years, with the lemmas our segmenter would give them."""
    path = items_path(out, seed, n)
    if path.exists():
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    r = random.Random(f"{seed}:link-items")
    rows: list[dict[str, Any]] = []
    doc, expected_docs = 0, max(1, n // 16)  # documents arrive in time order over the twelve years
    while len(rows) < n:
        council = prose.COUNCILS[doc % len(prose.COUNCILS)]
        year = prose.YEARS[min(len(prose.YEARS) - 1, doc * len(prose.YEARS) // expected_docs)]
        service = r.choice(("children", "adults"))
        rounds = [y for y in corpus.ROUNDS[service] if y <= year] or [corpus.ROUNDS[service][0]]
        topics = corpus.issues(seed, council, service, rounds[-1])
        doc_type = r.choice(("inspection_report", "inspection_report", "council_report", "council_minutes", "news"))
        doc_id = f"{r.getrandbits(128):032x}"
        date = f"{year}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
        for seq in range(r.randint(8, 24)):
            t = r.choice(topics)
            roll = r.random()
            text = (
                prose.recommendation(r, t, imperative=roll < 0.2)
                if roll < 0.4
                else prose.finding(r, t)
                if roll < 0.75
                else prose.recap(r, t, rounds[-2] if len(rounds) > 1 else year - 3)
                if roll < 0.85
                else prose.minutes_line(r, t)
            )
            rows.append(
                {
                    "id": f"{doc_id[:16]}:{seq * 200}-{seq * 200 + len(text)}",
                    "text": text,
                    "local_authority": council.name,
                    "date": date,
                    "document_id": doc_id,
                    "seq": seq,
                    "doc_type": doc_type,
                    "service": service,
                }
            )
        doc += 1
    rows = sorted(rows[:n], key=lambda row: (row["date"], row["document_id"], row["seq"]))
    if lemmatise is not None:
        for row, lemmas in zip(rows, lemmatise([row["text"] for row in rows])):
            row["lemmas"] = lemmas
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    tmp.replace(path)
    return rows


def lemmatiser(config_path: Path) -> Callable[[list[str]], list[str]]:
    """Lemmas as `segment` stores them (content words, lower case), from our spaCy pipeline."""
    from pipeline.segment import load_nlp

    nlp = load_nlp(config_path)

    def run(texts: list[str]) -> list[str]:
        return [
            " ".join(t.lemma_.lower() for t in doc if t.is_alpha and not t.is_stop)
            for doc in nlp.pipe(texts, batch_size=256)
        ]

    return run
