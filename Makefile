# Scrutiny: every set-up step lives here, so a fresh clone needs only `make run` or `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Fine-tuning (PyTorch, transformers) has an environment of its own, so that the one Scrutiny runs in stays what a
# fresh machine's `make venv` builds: where PyTorch and pandas are installed, skops (through scikit-learn's estimator
# discovery) and sqlite-utils import them into every process of a run, for nothing (README, "Performance").
TRAIN_VENV  := .venv-train
TRAIN_BIN   := $(TRAIN_VENV)/bin
TRAIN_STAMP := $(TRAIN_VENV)/.installed
DB     ?= data/scrutiny.db
PORT   ?= 8001
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

MODEL  := models/areas.skops
LABELS := $(wildcard corpus/labels/*.jsonl)
RECUR_MODEL := models/recur.skops
RECUR_DATA  := corpus/recurrence-grounded.jsonl corpus/recurrence-gold.jsonl corpus/recurrence-picking.jsonl \
               models/recurrence-issues.toml $(wildcard pipeline/recur/learned.py pipeline/recur/training.py pipeline/recur/evaluation.py)

.PHONY: venv model finetune status-model recur-model run ingest serve test test-fast lint typecheck check bench drills clean

# A .venv that has the training packages (tools.bench.report.training_packages; installed there by `make finetune`
# before it had .venv-train) loads them
# into every process of a run: say so, and how to build it again.
venv: $(STAMP)
	@$(BIN)/python -c 'import sys; from tools.bench.report import training_packages as t; n = ", ".join(t()); \
	  n and print("warning: .venv has " + n + ", which every run then loads; build it again: rm -rf .venv && make venv", file=sys.stderr)'

# A virtual environment $(1) with the extras $(2) (comma-separated), marked done by its stamp.
define new_venv
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Python 3.11 is required")'
	$(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade "pip==26.3"
	$(1)/bin/python -m pip install --quiet -c constraints.txt -e ".[$(2)]"
	touch $(1)/.installed
endef
comma := ,

$(STAMP): pyproject.toml constraints.txt
	$(call new_venv,$(VENV),dev)

$(TRAIN_STAMP): pyproject.toml constraints.txt
	$(call new_venv,$(TRAIN_VENV),dev$(comma)train)

# The classifier is built, never committed: trained here when missing or when its data or config changed.
$(MODEL): $(STAMP) $(LABELS) models/classifier.toml models/taxonomy/areas.toml
	$(BIN)/scrutiny train --out $(MODEL)

model: $(MODEL)

# The fine-tuned encoder, the default classifier, is committed (models/areas-minilm.int8.onnx, checked against the
# sha256 in its sidecar on load). This rebuilds it from corpus/labels and the packaged all-MiniLM-L6-v2 weights:
# grouped cross-validation, then the final fit and the int8 export (5 grouped folds, about 40 minutes on two cores, no GPU).
# PyTorch comes with the train extra, installed in .venv-train (never in .venv). The dev set, when ../shared is beside the clone, is only reported.
# FINETUNE_ARGS passes options through, e.g. FINETUNE_ARGS="--cv-only --lr 2e-4" to judge a recipe by grouped CV
# alone, then FINETUNE_ARGS="--reuse-oof --lr 2e-4" to fit it without fine-tuning the folds again.
DEV_LABELS := ../shared/corpus-samples/dev-labels.jsonl
FINETUNE_ARGS ?=
finetune: $(TRAIN_STAMP)
	$(TRAIN_BIN)/python -m pipeline.classify.finetune $(if $(wildcard $(DEV_LABELS)),--dev $(DEV_LABELS)) $(FINETUNE_ARGS)

# The status reader's encoder (models/status-minilm.int8.onnx, committed like the areas encoder): all-MiniLM-L6-v2
# fine-tuned on the grouped statements and the statuses of labels/grounded.jsonl, 5 folds of whole councils for its
# out-of-fold readings, then the final fit and the int8 export (about 30 minutes on two cores).
STATUS_ARGS ?=
status-model: $(TRAIN_STAMP)
	$(TRAIN_BIN)/python -m pipeline.recur.status_encoder $(STATUS_ARGS)

# The recurrence models (picking, status in the text, issues, pairs) are built the same way, never committed:
# `scrutiny train-recur` (about a minute). `scrutiny evaluate-recur` prints the leave-one-council-out figures.
$(RECUR_MODEL): $(STAMP) $(RECUR_DATA)
	$(BIN)/scrutiny train-recur --out $(RECUR_MODEL)

recur-model: $(RECUR_MODEL)

ingest: venv $(MODEL) $(RECUR_MODEL)
	$(BIN)/scrutiny ingest corpus/ --db $(DB)

run: ingest
	@echo "Serving Scrutiny at http://127.0.0.1:$(PORT)/"
	$(BIN)/scrutiny serve --db $(DB) --port $(PORT)

# The whole suite (slow ones too: drills, bench, Prefect's server, the browser), after the lint.
test: venv lint typecheck $(MODEL) $(RECUR_MODEL)
	$(BIN)/python -m pytest -q

test-fast: venv $(MODEL) $(RECUR_MODEL)
	$(BIN)/python -m pytest -q -m "not slow"

lint: venv
	$(BIN)/ruff check pipeline flows tools tests
	$(BIN)/ruff format --check pipeline flows tools tests

typecheck: venv
	$(BIN)/mypy pipeline flows

# Benchmarks: every stage against a baseline measured in the same run (ratios, never asserted absolute times).
# BENCH_ARGS="--scale list" shows growth over 100, 1,000 and 10,000 documents; "--quick" is a smoke run.
BENCH_ARGS ?=
bench: venv $(MODEL) $(RECUR_MODEL)
	$(BIN)/python -m tools.bench $(BENCH_ARGS)

# Fault drills: kill -9 (20 seeded trials), full disk, locked database, fetch failures, hostile files, Datasette
# under load while the served file is swapped. DRILLS_ARGS="--profile ci" is the small profile the tests run.
DRILLS_ARGS ?=
drills: venv
	$(BIN)/python -m tools.drills $(DRILLS_ARGS)

check: venv $(MODEL) $(RECUR_MODEL)
	$(BIN)/python ../shared/checks/contract_check.py --cli $(BIN)/scrutiny

clean:
	rm -rf $(VENV) $(TRAIN_VENV) data build $(MODEL) $(MODEL).json models/areas.linear.npz $(RECUR_MODEL) $(RECUR_MODEL).json
