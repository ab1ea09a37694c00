"""The status reader's encoder (pipeline.recur.status_encoder): what the committed reader reads, that a damaged or
replaced graph is refused, where linking uses it, that training keeps each held-out council's statements out of
its fold, and that leave-one-council-out evaluation never scores a council with a reader trained on it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import Settings
from pipeline.recur import Item, config_for
from pipeline.recur.cues import describe
from pipeline.recur.learned import STATUSES
from pipeline.recur.status_encoder import (
    CODES,
    GRAPH_FILE,
    KeptReader,
    StatusModelError,
    areas_rows,
    read,
    text_key,
    worth_reading,
)

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"


def test_the_committed_reader_reads_what_statements_say():
    reader = read(MODELS)
    assert reader is not None, f"models/{GRAPH_FILE} is committed with the repository"
    texts = [
        "The recommendation on care leavers' accommodation has been met: no young person is now placed in bed and "
        "breakfast.",
        "Caseloads remain too high in the assessment teams, as they were at the last inspection.",
        "Supervision is more regular and better recorded than it was at our last visit.",
        "The meeting began at 10am and apologies were received from two members.",
    ]
    p = reader.probabilities(texts)
    assert p.shape == (4, len(STATUSES)) and np.allclose(p.sum(1), 1.0) and (p[:, STATUSES.index("new")] == 0).all()
    assert [STATUSES[k] for k in p.argmax(1)] == ["resolved", "persisting", "improved", "none"]


def test_no_graph_no_reader_and_a_replaced_graph_is_refused(tmp_path):
    assert read(tmp_path) is None
    for name in (GRAPH_FILE, f"{GRAPH_FILE}.json", "minilm-tokenizer.json"):
        shutil.copy(MODELS / name, tmp_path / name)
    graph = tmp_path / GRAPH_FILE
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0xFF
    graph.write_bytes(bytes(data))
    with pytest.raises(StatusModelError, match="sha256"):
        read(tmp_path)
    side = json.loads((MODELS / f"{GRAPH_FILE}.json").read_text())
    shutil.copy(MODELS / GRAPH_FILE, graph)
    (tmp_path / f"{GRAPH_FILE}.json").write_text(
        json.dumps({**side, "codes": list("ABCD"), "thresholds": dict.fromkeys("ABCD", 0.5)})
    )
    with pytest.raises(StatusModelError, match="statuses"):
        read(tmp_path)


def test_kept_readings_stand_in_by_text_and_a_missing_one_is_an_error():
    kept = KeptReader({"out_of_fold": {text_key("Caseloads are still too high."): [0.1, 0.7, 0.1, 0.1]}})
    p = kept.probabilities(["Caseloads are still too high."])
    assert STATUSES[int(p[0].argmax())] == "persisting" and np.isclose(p.sum(), 1.0)
    with pytest.raises(StatusModelError, match="make status-model"):
        kept.probabilities(["A statement no fold read."])


def test_a_text_two_councils_share_is_refused_since_kept_readings_go_by_text():
    from pipeline.recur.status_encoder import one_council_each

    rows = [
        {"council": "Glanmor", "text": "Caseloads are still too high.", "status": "persisting"},
        {"council": "Afonwy", "text": "Caseloads remain high.", "status": "persisting"},
    ]
    one_council_each(rows)  # distinct texts pass
    one_council_each([*rows, dict(rows[0])])  # the same council twice passes: one fold reads both
    with pytest.raises(StatusModelError, match="two councils"):
        one_council_each([*rows, {**rows[0], "council": "Afonwy"}])


class Counting:
    """A reader that reads every text as resolved and remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def probabilities(self, texts):
        self.asked += list(texts)
        out = np.zeros((len(texts), len(STATUSES)))
        out[:, STATUSES.index("resolved")] = 1.0
        return out


def test_linking_reads_the_status_with_the_encoder_only_where_it_may_matter():
    """The encoder reads the statements whose words carry a status cue or where the TF-IDF reader is not sure there
    is none; the others keep the TF-IDF reading, and the pair model's inputs are the TF-IDF reader's either way."""
    from pipeline.recur.cues import READ_UNDER_NONE

    config = config_for(Settings())
    texts = [
        "The recommendation on supervision has been met.",  # a status cue
        "Caseloads are still too high in the assessment team.",  # a status cue
        "The Chair welcomed everyone to the meeting.",
        "Copies of the agenda are available from the clerk.",
        "Members noted the report.",
        "The committee will meet again in March.",
    ]
    items = [Item(str(k), t, "Somewhere") for k, t in enumerate(texts)]
    counting = Counting()
    found, info = describe(items, config.with_status_reader(counting))
    alone, alone_info = describe(items, config.with_status_reader(None))
    none = STATUSES.index("none")
    expected = [t for k, t in enumerate(texts) if worth_reading(t) or alone_info.status[k, none] < READ_UNDER_NONE]
    assert counting.asked == expected and texts[:2] == expected[:2] and len(expected) < len(texts)
    for k, t in enumerate(texts):
        if t in expected:  # averaged with a reader certain of "resolved"
            assert found[k].status == "resolved", t
        else:
            assert found[k].status == alone[k].status
    assert np.array_equal(info.status, alone_info.status)  # the pair model's inputs
    # describing a whole document before picking reads only what the picker may make a mention
    counting.asked.clear()
    describe(items, config.with_status_reader(counting), picking=True)
    attach = config.learned.settings["pick"]["attach"]
    assert counting.asked == [t for k, t in enumerate(texts) if t in expected and info.pick[k] >= attach]
    assert "The recommendation on supervision has been met." in counting.asked
    # callers that need vectors only never run the encoder
    counting.asked.clear()
    describe(items, config.with_status_reader(counting), read=False)
    assert counting.asked == []


def test_the_areas_statuses_give_every_labelled_statement_one():
    rows = areas_rows(ROOT / "corpus")
    labelled = (ROOT / "corpus" / "labels" / "grounded.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == len(labelled) == 6804
    said = [r["status"] for r in rows]
    assert set(said) <= {*CODES, "new"}
    assert said.count("none") > 0.8 * len(said)  # most statements of whole pages say no status
    assert all(said.count(s) >= 20 for s in ("persisting", "improved", "resolved"))


def test_training_keeps_each_held_out_council_out_of_its_fold(monkeypatch, tmp_path):
    from pipeline.classify import finetune as ft
    from pipeline.recur import status_encoder as se
    from pipeline.recur.evaluation import grouped_rows

    fitted: list[list[str]] = []

    def fake_fit(texts, y, *args, **kwargs):
        assert y.shape == (len(texts), len(CODES)) and (y.sum(1) == 1).all()
        fitted.append(list(texts))
        return "net"

    def fake_export(net, out):
        Path(out).write_bytes(b"graph")
        return Path(out)

    def fake_scores(graph, texts, models_dir, width=4):
        assert width == len(CODES)
        return np.array([[(len(t) % 7) / 7, 0.3, 0.2, 0.1] for t in texts])

    monkeypatch.setattr(ft, "weights_dir", lambda cache: cache)
    monkeypatch.setattr(ft, "fit", fake_fit)
    monkeypatch.setattr(ft, "export_int8", fake_export)
    monkeypatch.setattr(ft, "graph_scores", fake_scores)
    out = tmp_path / GRAPH_FILE
    sidecar = se.train(Settings(), out, tmp_path / "work", folds=3, limit=200, say=lambda m: None)
    rows = grouped_rows(Settings())[:: max(1, len(grouped_rows(Settings())) // 200)]
    fold = se.council_folds(rows, 3)
    assert len(fitted) == 4  # three folds and the final reader
    for f, texts in enumerate(fitted[:3]):
        held = {r["text"] for r in rows if fold[r["council"]] == f} - {
            r["text"] for r in rows if fold[r["council"]] != f
        }
        assert held and not held & set(texts), f"fold {f + 1} fitted on statements of a council it scores"
    extra = areas_rows(ROOT / "corpus")[:: max(1, 6804 // 200)]
    for f, texts in enumerate(fitted[:3]):
        held = [c for c, g in fold.items() if g == f]
        keys = set().union(*(se.council_keys(c) for c in held))
        naming = {e["text"] for e in extra if se.names(e, keys)}
        assert not naming & set(texts), f"fold {f + 1} fitted on statements that name a council it scores"
    assert any(se.names(e, se.council_keys("Tower Hamlets")) for e in areas_rows(ROOT / "corpus"))
    assert {text_key(r["text"]) for r in rows} == set(sidecar["out_of_fold"])
    assert sidecar["grouped_digest"] == se.grouped_digest(rows)
    assert out.read_bytes() == b"graph" and sidecar["sha256"] == json.loads(Path(f"{out}.json").read_text())["sha256"]
    assert set(sidecar["cross_validation"]) >= {"tfidf_reader", "encoder", "blend"}


def with_encoder(tmp_path: Path, on: bool) -> Settings:
    """Settings whose models folder is the repository's with `[status] encoder` set to `on`."""
    models = tmp_path / "models"
    models.mkdir()
    for f in MODELS.iterdir():
        if f.name != "recurrence.toml":
            (models / f.name).symlink_to(f)
    text = (MODELS / "recurrence.toml").read_text(encoding="utf-8")
    assert "encoder = false" in text
    (models / "recurrence.toml").write_text(text.replace("encoder = false", f"encoder = {str(on).lower()}"))
    (tmp_path / "corpus").symlink_to(ROOT / "corpus")
    return Settings(models_dir=models)


def test_the_encoder_is_used_only_when_the_configuration_says_so(tmp_path):
    from pipeline.recur.cues import load_config

    assert load_config(MODELS / "recurrence.toml").status_reader is None  # off by default (its cost, README)
    settings = with_encoder(tmp_path, True)
    reader = load_config(settings.models_dir / "recurrence.toml").status_reader
    assert reader is not None and reader.probabilities(["Caseloads remain too high."]).shape == (1, len(STATUSES))


def test_evaluation_reads_the_councils_the_encoder_saw_by_its_kept_readings(monkeypatch, tmp_path):
    """Leave one council out with the encoder on: a grouped council is read by the encoder's out-of-fold readings
    (here a reader that kept nothing, so reading fails), the dev councils by the committed encoder (which saw no
    dev text); kept readings made on other grouped statements or statuses are refused."""
    from pipeline.recur import evaluation as ev
    from pipeline.recur import status_encoder as se

    settings = with_encoder(tmp_path, True)
    rows = ev.grouped_rows(settings)
    digest = se.grouped_digest(rows)
    monkeypatch.setattr(ev.KeptReader, "beside", classmethod(lambda cls, folder, rs: cls({"out_of_fold": {}})))
    with pytest.raises(StatusModelError, match="out-of-fold"):
        ev.leave_one_out(settings, None, ["Norfolk"])
    monkeypatch.undo()
    kept = KeptReader.beside(MODELS, rows)
    assert kept is not None and {text_key(r["text"]) for r in rows} <= set(kept.kept)
    moved = [dict(r, status="resolved") if k == 0 else r for k, r in enumerate(rows)]
    assert se.grouped_digest(moved) != digest
    with pytest.raises(StatusModelError, match="make status-model"):
        KeptReader.beside(MODELS, moved)
