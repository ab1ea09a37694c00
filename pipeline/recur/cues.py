"""Recurrence, what the text says: the configuration (numbers and cue lists, and the learned models), the cues a
statement carries (topics, issue and thread, status in text, recap) and which statements are picked for linking.

The numbers and cue lists live in `models/recurrence.toml`, read by the cached `load_config`; the learned models
(picking, status in the text, the issue model and the pair model, `pipeline.recur.learned`) in models/recur.skops
beside it, built by `make recur-model`, and the status reader's encoder (`pipeline.recur.status_encoder`,
models/status-minilm.int8.onnx, committed) when present. The standard for what one concern is, is
../shared/recurrence-guidelines.md. Linking itself is in `recur`.
"""

from __future__ import annotations

import re
import threading
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from pipeline.config import Settings
from pipeline.recur.learned import (
    MODEL_FILE,
    STATUSES,
    Info,
    Models,
    RecurModelError,
    load_models,
    statement_info,
)
from pipeline.recur.records import Item, Pick
from pipeline.recur.status_encoder import read as read_status_reader
from pipeline.recur.status_encoder import worth_reading

INSPECTION = "inspection_report"
STATUS_NAMES: tuple[str | None, ...] = tuple(None if s == "none" else s for s in STATUSES)


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class RecurConfig:
    version: str
    linking: Mapping[str, float]
    episodes: Mapping[str, float]
    patterns: Mapping[str, re.Pattern[str]]  # recap, process, process_headings, headings, service_*, ...
    imperatives: frozenset[str]
    model: Models | None = None  # the learned models (models/recur.skops); None until built
    # the status reader's encoder (pipeline.recur.status_encoder), None when there is none; read on first use
    status_reader: Any = None

    def with_overrides(self, **sections: Mapping[str, Any]) -> RecurConfig:
        """A copy with some numbers changed: `config.with_overrides(linking={"max_candidates": 10})`."""
        changed: dict[str, Any] = {k: {**getattr(self, k), **v} for k, v in sections.items()}
        return replace(self, **changed)

    def with_model(self, model: Models | None) -> RecurConfig:
        return replace(self, model=model)

    def with_status_reader(self, reader: Any) -> RecurConfig:
        return replace(self, status_reader=reader)

    @property
    def learned(self) -> Models:
        if self.model is None:
            raise RecurModelError("no recurrence model loaded: run `make recur-model` (or `scrutiny train-recur`)")
        return self.model

    @property
    def support(self) -> int:
        return int(self.learned.settings["support"])

    @property
    def link_threshold(self) -> float:
        return float(self.learned.settings["link_threshold"])


def _any(patterns: str | Iterable[str]) -> re.Pattern[str]:
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    return re.compile("|".join(f"(?:{p})" for p in patterns))  # lower case, matched against lower-cased text


def load_config(path: Path) -> RecurConfig:
    """Read models/recurrence.toml and the learned models beside it (models/recur.skops), when built (cached per
    path; nothing is read at import; threads asking together share one)."""
    with _CONFIG_LOCK:
        return _load_config(Path(path))


_CONFIG_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _load_config(path: Path) -> RecurConfig:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    cue_patterns = {k: v for k, v in data["cues"].items() if k != "imperatives"}
    model_path = Path(path).parent / MODEL_FILE
    return RecurConfig(
        version=data["version"],
        linking=data["linking"],
        episodes=data["episodes"],
        patterns={k: _any(v) for k, v in cue_patterns.items()},
        imperatives=frozenset(data["cues"]["imperatives"].split()),
        model=load_models(model_path) if model_path.is_file() else None,
        status_reader=LazyReader(Path(path).parent) if data.get("status", {}).get("encoder", False) else None,
    )


class LazyReader:
    """The status reader of a models folder, read (and checked by sha256) the first time a statement needs it, so
    that a process that never reads a status never loads the graph; `probabilities` of texts, or None when the
    folder holds no reader (the TF-IDF reader then reads alone)."""

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = Path(models_dir)
        self._reader: Any = None
        self._read = False
        self._lock = threading.Lock()

    @property
    def reader(self) -> Any:
        with self._lock:  # read once, however many threads need it first
            if not self._read:
                self._reader = read_status_reader(self.models_dir)  # raises StatusModelError when damaged or replaced
                self._read = True
        return self._reader

    def probabilities(self, texts: Sequence[str]) -> np.ndarray | None:
        reader = self.reader
        return None if reader is None else reader.probabilities(texts)


def config_for(settings: Settings) -> RecurConfig:
    """The recurrence configuration with its learned models; an error that says how to build them when missing."""
    config = load_config(settings.models_dir / "recurrence.toml")
    if config.model is None:
        config = config.with_model(load_models(settings.models_dir / MODEL_FILE))  # raises RecurModelError
    return config


def linking_numbers(settings: Settings) -> Mapping[str, Any]:
    """The `[linking]` numbers of models/recurrence.toml alone, for a process that hands the linking to workers and
    needs no model (the learned models cost such a process about 150 MB). Refused, as `config_for` refuses, when
    the learned models are missing, so that a run says so before any council is handed out."""
    path = settings.models_dir / "recurrence.toml"
    if not (settings.models_dir / MODEL_FILE).is_file():
        load_models(settings.models_dir / MODEL_FILE)  # raises the error that says how to build them
    return dict(tomllib.loads(path.read_text(encoding="utf-8"))["linking"])


# ---------------------------------------------------------------- cues from the text


@dataclass(frozen=True)
class Cues:
    """What a statement says, as linking needs it. `issue` and `status_p` are the learned models'
    probabilities (the issue model's classes; STATUSES order); `thread` is the overall judgement, intervention or
    corporate thread when that is the most likely issue; `status` the status the text alone reads."""

    thread: str | None
    status: str | None
    recap: bool
    service: str | None
    issue: np.ndarray
    status_p: np.ndarray
    pick: float = 1.0


def normalise(text: str) -> str:
    """Lower case, one kind of apostrophe, single spaces: what cue patterns are matched against."""
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").lower().split())


# The TF-IDF reader's probability of "none" under which the encoder reads a statement too (with the statements
# whose words carry a status cue). Chosen for cost on the first fit's out-of-fold readings (5 folds of whole
# councils, 1,378 grouped statements): averaging both on every statement read 0.819; on those under 0.5 or with a
# cue (47% of them, 30% of the bench's statements to link) 0.809; under 0.8 or with a cue (61%, 45%) 0.817. On the
# committed reader's out-of-fold readings (refitted with whole pages left out): 0.819 and 0.811 (one-off script).
READ_UNDER_NONE = 0.5


def read_status(info: Info, texts: Sequence[str], reader: Any, attach: float | None = None) -> np.ndarray:
    """The status reading (STATUSES order): the TF-IDF reader's probabilities, averaged with the status encoder's
    for the statements where the TF-IDF reader is not sure there is no status (its "none" under READ_UNDER_NONE)
    or whose words carry a status cue (`worth_reading`); the others keep the TF-IDF reading alone, so the encoder
    runs on a part of the statements only. The pair model keeps the TF-IDF reader's probabilities (it was trained
    on them). With `attach`, only statements the picker may make mentions (its probability at least `attach`)
    are read: describing a whole document for picking reads no statement that cannot be linked."""
    said = np.array(info.status, dtype=np.float64, copy=True)
    if reader is None or not texts:
        return said
    none = STATUSES.index("none")
    rows = [
        k
        for k, t in enumerate(texts)
        if (said[k, none] < READ_UNDER_NONE or worth_reading(t)) and (attach is None or info.pick[k] >= attach)
    ]
    if not rows:
        return said
    enc = reader.probabilities([texts[k] for k in rows])
    if enc is not None:
        said[rows] = 0.5 * said[rows] + 0.5 * enc
    return said


def describe(
    items: Sequence[Item], config: RecurConfig, read: bool = True, picking: bool = False
) -> tuple[list[Cues], Info]:
    """The cues of a batch of statements and the learned models' view of them, with one call to the models.
    `read=False` leaves out the status encoder (callers that need the vectors and the models' probabilities only:
    each cue's status is then the TF-IDF reader's); `picking=True` (a whole document, before picking) reads with
    it only the statements the picker may make mentions."""
    model = config.learned
    texts = [item.text for item in items]
    info = statement_info(model, texts)
    issues = model.issues
    attach = float(model.settings.get("pick", {}).get("attach", 0.0)) if picking else None
    said = read_status(info, texts, config.status_reader if read else None, attach)
    out = []
    for k, item in enumerate(items):
        t, p = normalise(item.text), config.patterns
        service = item.service
        if service is None:
            named = [name for name in ("children", "adults") if p[f"service_{name}"].search(t)]
            service = named[0] if len(named) == 1 else ("both" if named else None)
        # the model's reading, with "new" only where the words say so (a model file from before may read "new")
        status = STATUS_NAMES[int(said[k].argmax())]
        if status in (None, "new"):
            status = "new" if p["says_new"].search(t) and not p["denies_new"].search(t) else None
        out.append(
            Cues(
                info.thread(k, issues),
                status,
                bool(p["recap"].search(t)),
                service,
                info.issue[k],
                info.status[k],
                float(info.pick[k]),
            )
        )
    return out, info


@dataclass(frozen=True)
class Described:
    """Statements already described by `describe`, by id: `link` takes their rows instead of running the models
    on them again (picking describes every statement of a document; linking needs the picked ones)."""

    ids: Sequence[str]
    cues: Sequence[Cues]
    info: Info

    @cached_property
    def row(self) -> dict[str, int]:
        return {i: k for k, i in enumerate(self.ids)}

    def has(self, ids: Iterable[str]) -> bool:
        return all(i in self.row for i in ids)

    def only(self, ids: Iterable[str]) -> Described:
        index = [self.row[i] for i in ids]
        return Described([self.ids[k] for k in index], [self.cues[k] for k in index], self.info.rows(index))

    @staticmethod
    def joined(parts: Iterable[Described]) -> Described | None:
        """One `Described` of several (None when they hold nothing)."""
        parts = [p for p in parts if p.ids]
        if not parts:
            return None
        return Described(
            [i for p in parts for i in p.ids],
            [c for p in parts for c in p.cues],
            Info(
                sp.vstack([p.info.vectors for p in parts], format="csr"),
                np.vstack([p.info.issue for p in parts]),
                np.vstack([p.info.status for p in parts]),
                np.concatenate([p.info.pick for p in parts]),
            ),
        )

    def take(self, items: Sequence[Item], config: RecurConfig) -> tuple[list[Cues], Info]:
        """What `describe(items, config)` gives: the rows of these items, with each item's own service (the
        text's when the item has none, as `describe` does); when any item was not described, all are now."""
        if not self.has(item.id for item in items):
            return describe(items, config)
        index = [self.row[item.id] for item in items]
        out = [
            self.cues[k] if item.service is None else replace(self.cues[k], service=item.service)
            for k, item in zip(index, items, strict=True)
        ]
        return out, self.info.rows(index)


def describe_statements(ids: Sequence[str], texts: Sequence[str], config: RecurConfig) -> Described:
    """`describe` for statements in one call to the models, kept by id for `link`."""
    found, info = describe([Item(i, t, "") for i, t in zip(ids, texts, strict=True)], config, picking=True)
    return Described(list(ids), found, info)


def cues(item: Item, config: RecurConfig) -> Cues:
    return describe([item], config)[0][0]


def status_in_text(text: str, config: RecurConfig) -> str | None:
    """new, persisting, improved or resolved when the statement says so, else None: the learned status model
    on the words, "new" by the `says_new` cue (what linking records as the mention's status in the text)."""
    return cues(Item("", text, ""), config).status


def is_concern(
    text: str,
    kind: str | None,
    heading: str | None,
    doc_type: str | None,
    config: RecurConfig,
    described: Cues | None = None,
) -> Pick | None:
    """Is this statement a concern mention: a concern, a recommendation, an area for improvement, a required
    action or a judgement on an earlier concern? None for statements to leave out (praise, procedure,
    background, report furniture).

    The learned picker gives a probability (`described`: the statement's cues, worked out here when not
    given). At or above the `raise` threshold a statement may open a concern; between `attach` and `raise` it may
    only join an existing one. Recommendations (by the segmenter's kind, a recommendations heading or a leading
    imperative) always may. Outside inspection reports, and for recaps of an earlier inspection, a mention is
    discussion.
    """
    t, p = normalise(text), config.patterns
    heading = normalise(heading or "")
    listed = bool(p["headings"].search(heading))
    if (len(t.split()) < 4 and not listed) or p["process"].search(t) or p["process_headings"].search(heading):
        return None
    c = described if described is not None else cues(Item("", text, ""), config)
    pr = c.pick
    thresholds = config.learned.settings["pick"]
    first = re.sub(r"[^\w]", "", t.split()[0]).lower()
    required = kind == "recommendation" or listed or first in config.imperatives
    if pr < thresholds["attach"] and not required:
        return None
    raises = required or pr >= thresholds["raise"]
    if doc_type not in (INSPECTION, None) or c.recap:
        return Pick("discussed", raises)
    if c.status in ("improved", "resolved"):
        return Pick("progress", raises)
    return Pick("raised" if raises else None, raises)


def pick_recommendations(
    statements: Iterable[Any],
    *,
    local_authority: str,
    doc_type: str | None,
    date: str | None,
    service: str | None,
    config: RecurConfig,
    labels: Mapping[str, Sequence[str]] | None = None,
    described: Described | None = None,
) -> list[Item]:
    """The `Item`s to link from one document's `Statement`s, chosen by `is_concern` (the picker's probabilities
    worked out for the whole document at once, or taken from `described`)."""
    statements = list(statements)
    if not statements:
        described_cues: list[Cues] = []
    elif described is not None and described.has(s.id for s in statements):
        described_cues = [described.cues[described.row[s.id]] for s in statements]
    else:
        described_cues = describe([Item(s.id, s.text, local_authority) for s in statements], config, picking=True)[0]
    items = []
    for s, c in zip(statements, described_cues, strict=True):
        pick = is_concern(s.text, s.kind, s.heading, doc_type, config, c)
        if pick is not None:
            items.append(
                Item(
                    s.id,
                    s.text,
                    local_authority,
                    date,
                    s.document_id,
                    s.seq,
                    doc_type,
                    service,
                    s.lemmas,
                    tuple((labels or {}).get(s.id, ())),
                    pick.role,
                    not pick.raises,
                )
            )
    return items
