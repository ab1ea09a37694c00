"""Recurrence: grouping and statuses on the corpus gold, the guarantees of linking, and `scrutiny recur`."""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
import tracemalloc
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.cli.recur import lemmatise, run
from pipeline.config import Settings
from pipeline.recur import (
    Decisions,
    Item,
    Mention,
    concern_status,
    concerns_from,
    config_for,
    cues,
    index_from,
    is_concern,
    link,
    status_in_text,
)

ROOT = Path(__file__).resolve().parents[2]
GOLD = ROOT / "corpus" / "recurrence-gold.jsonl"


@pytest.fixture(scope="module")
def config():
    return config_for(Settings())


@pytest.fixture(scope="module")
def gold() -> list[dict]:
    rows = [json.loads(line) for line in GOLD.open(encoding="utf-8")]
    for row, lemmas in zip(rows, lemmatise([r["text"] for r in rows], Settings())):
        row["lemmas"] = lemmas
    return rows


def items_of(rows: list[dict]) -> list[Item]:
    """Gold rows as the ingest flow would give them: in document order, with the manifest's doc types."""
    with (ROOT / "corpus" / "manifest.csv").open(encoding="utf-8") as f:
        doc_types = {row["path"]: row["doc_type"] for row in csv.DictReader(f)}
    seqs: Counter[str] = Counter()
    items = []
    for r in rows:
        seqs[r["document"]] += 1
        items.append(
            Item(
                r["id"],
                r["text"],
                r["local_authority"],
                r["date"],
                r["document"],
                seqs[r["document"]],
                doc_types[r["document"]],
                r["service"],
                r["lemmas"],
            )
        )
    return items


def pairwise(truth: list[str], predicted: list[str | None]) -> tuple[float, float]:
    tp = fp = fn = 0
    for (t1, p1), (t2, p2) in itertools.combinations(zip(truth, predicted), 2):
        tp += t1 == t2 and p1 == p2
        fp += t1 != t2 and p1 == p2
        fn += t1 == t2 and p1 != p2
    return tp / max(1, tp + fp), tp / max(1, tp + fn)


def bcubed_f1(truth: list[str], predicted: list[str | None]) -> float:
    t_groups, p_groups = defaultdict(set), defaultdict(set)
    for i, (t, p) in enumerate(zip(truth, predicted)):
        t_groups[t].add(i)
        p_groups[p].add(i)
    precision = sum(len(t_groups[t] & p_groups[p]) / len(p_groups[p]) for t, p in zip(truth, predicted))
    recall = sum(len(t_groups[t] & p_groups[p]) / len(t_groups[t]) for t, p in zip(truth, predicted))
    precision, recall = precision / len(truth), recall / len(truth)
    return 2 * precision * recall / (precision + recall)


@pytest.fixture(scope="module")
def linked(gold, config):
    assignments, index = link(items_of(gold), None, config)
    return assignments, index


# ---------------------------------------------------------------- grouping and statuses on the gold


def test_grouping_on_the_corpus_gold(gold, linked):
    truth = [r["concern_id"] for r in gold]
    predicted = [a.concern_id for a in linked[0]]
    precision, recall = pairwise(truth, predicted)
    # The shipped models are trained on this gold among others (leave-one-council-out figures: README)
    assert precision >= 0.88, precision  # measured 0.905
    assert recall >= 0.83, recall  # measured 0.861
    assert bcubed_f1(truth, predicted) >= 0.88  # measured 0.902


def test_concern_statuses_follow_the_gold(gold, linked):
    """Each gold concern's main cluster has the status its gold mentions give (latest inspection first)."""
    gold_mentions = [
        Mention(
            r["id"],
            r["concern_id"],
            r["role"],
            None,
            r["date"],
            r["document"],
            None,
            r["status_in_text"],
            r["local_authority"],
            r["service"],
        )
        for r in gold
    ]
    expected = {c.concern_id: c.status for c in concerns_from(gold_mentions)}
    assert Counter(expected.values()) == {"resolved": 13, "improved": 7, "repeated": 6, "new": 5}
    truth = {r["id"]: r["concern_id"] for r in gold}
    found = concerns_from(a.mention for a in linked[0] if a.mention)
    main: dict[str, tuple[int, str]] = {}
    for c in found:
        concern, n = Counter(truth[m.statement_id] for m in c.mentions).most_common(1)[0]
        if n > main.get(concern, (0, ""))[0]:
            main[concern] = (n, c.status)
    agree = sum(expected[concern] == status for concern, (_, status) in main.items())
    assert len(main) >= 29 and agree >= 25, (len(main), agree)  # measured 27 of 29


def test_status_in_text_and_roles(gold, linked, config):
    """Status in the text as linking reads it, strictly against the gold (a status only where the words say one).
    The status model learned from this gold too, so this checks the path, not how it carries to councils it never
    saw (leave-one-council-out, README: "Measured council by council")."""
    said = [a.status_in_text for a in linked[0]]
    assert sum(s == r["status_in_text"] for s, r in zip(said, gold)) / len(gold) >= 0.95  # measured 0.997
    roles = [a.role for a in linked[0]]
    assert sum(a == r["role"] for a, r in zip(roles, gold)) / len(gold) >= 0.95  # measured 0.977


def test_concern_records(linked):
    concerns = {c.concern_id: c for c in concerns_from(a.mention for a in linked[0] if a.mention)}
    dols = next(c for c in concerns.values() if any("Deprivation of Liberty" in m.text for m in c.mentions))
    assert dols.status == "new" and dols.inspections == 1 and dols.first_raised == "2021-05-20"
    assert dols.local_authority == "Afonwy County Borough Council" and dols.service == "adults"
    overall = [c for c in concerns.values() if any(m.statement_id == "g001" for m in c.mentions)]
    assert overall[0].first_raised == "2017-10-12" and overall[0].status == "resolved"
    assert overall[0].inspections == 3
    for c in concerns.values():
        assert c.mentions[0].role != "repeated" and c.label
        # named from a mention, never after a heading or a thread
        assert c.label not in ("Overall judgement", "Intervention and monitoring", "Corporate support")
        assert any(" ".join(m.text.split()).startswith(c.label.removesuffix(" ...")) for m in c.mentions)
        assert c.first_raised is None or c.first_raised <= c.last_raised


def test_picking_and_linking_the_corpus_documents(gold, config):
    """The whole stage on the bundled documents: statements picked by `is_concern`, linked, compared with
    the gold on the statements it shares."""
    from pipeline.extract import extract
    from pipeline.recur import pick_recommendations
    from pipeline.run.inputs import discover
    from pipeline.segment import segment

    settings = Settings()
    wanted = {(r["document"].split("/")[-1], " ".join(r["text"].split())): r["concern_id"] for r in gold}
    items, truth = [], {}
    for source in discover([str(ROOT / "corpus")]):
        doc = extract(source, settings)
        m = doc.metadata
        picked = pick_recommendations(
            segment(doc, settings),
            local_authority=m.local_authority,
            doc_type=m.doc_type,
            date=m.published,
            service=m.service,
            config=config,
        )
        items += picked
        for it in picked:
            key = (Path(source.path).name, " ".join(it.text.split()))
            if key in wanted:
                truth[it.id] = wanted[key]
    assignments = {a.id: a for a in link(items, None, config)[0]}
    # every concern mention the stage finds, checked against the gold
    mentions = [(it, assignments[it.id]) for it in items if assignments[it.id].concern_id]
    in_gold = [it for it, _ in mentions if it.id in truth]
    extra = [" ".join(it.text.split()) for it, _ in mentions if it.id not in truth]
    assert len(truth) >= 340  # of 352 gold statements picked; measured 349
    assert len(in_gold) / len(mentions) >= 0.9, extra  # of the 360 mentions found, in the gold; measured 0.925
    ids = sorted(truth)
    precision, recall = pairwise([truth[i] for i in ids], [assignments[i].concern_id or i for i in ids])
    assert precision >= 0.88 and recall >= 0.83, (precision, recall)  # measured 0.907 and 0.857
    # praise and procedure never open a concern
    openers = {a.concern_id: it.text for it, a in reversed(mentions)}
    never = ("We wrote to the Chief Executive", "The members we met were well informed")
    assert not [t for t in openers.values() if t.startswith(never)]
    assert not [it for it in items if it.text.startswith("We wrote to")]  # procedure is never picked
    if [t for t in openers.values() if t.startswith("Senior managers have an honest")]:
        pytest.xfail("known miss: praise ('Senior managers have an honest understanding ...') still opens a concern")


def test_a_met_recommendation_is_resolved(linked):
    """Glanmor's recommendation on senior leadership was met at the follow-up and leadership was stable at the
    next inspection: the concern is resolved, not repeated."""
    concerns = concerns_from(a.mention for a in linked[0] if a.mention)
    met = [
        c
        for c in concerns
        if any(m.text == "The recommendation on senior leadership has been met." for m in c.mentions)
    ]
    assert len(met) == 1 and met[0].status == "resolved", [(m.date, m.role, m.status_in_text) for m in met[0].mentions]
    said = {m.text: m.status_in_text for m in met[0].mentions}
    assert said["The recommendation on senior leadership has been met."] == "resolved"


# ---------------------------------------------------------------- what must never link


def test_different_councils_never_link(gold, config):
    items = items_of(gold)
    moved = [
        replace(it, id=f"{it.id}-copy", local_authority="Powys County Council", document_id=f"{it.document_id}x")
        for it in items
    ]
    assignments, index = link(items + moved, None, config)
    councils = defaultdict(set)
    for it, a in zip(items + moved, assignments):
        councils[a.concern_id].add(it.local_authority)
    assert all(len(c) == 1 for c in councils.values())
    assert set(index.blocks) == {"Glanmor County Council", "Afonwy County Borough Council", "Powys County Council"}


@pytest.mark.parametrize(
    "first, second",
    [
        ("glanmor-children-social-worker-turnover", "glanmor-children-supervision"),
        ("glanmor-children-placement-sufficiency", "glanmor-children-foster-carers"),
        ("glanmor-children-placement-sufficiency", "glanmor-children-care-leavers-accommodation"),
        pytest.param(
            "afonwy-adults-domiciliary-care-capacity",
            "afonwy-adults-provider-monitoring",
            marks=pytest.mark.xfail(reason="the learned linker joins provider monitoring to capacity", strict=True),
        ),
        ("afonwy-adults-safeguarding-timeliness", "afonwy-adults-dols-backlog"),
        ("glanmor-children-intervention", "glanmor-children-overall"),
    ],
)
def test_a_shared_theme_is_not_enough(gold, linked, first, second):
    found = defaultdict(list)
    for r, a in zip(gold, linked[0]):
        found[r["concern_id"]].append(a.concern_id)
    together = sum(p == q for p in found[first] for q in found[second])
    assert together <= 0.05 * len(found[first]) * len(found[second])  # a stray statement at most, never a merge


def test_turnover_and_supervision_statements_stay_apart(config):
    texts = [
        "Turnover of social workers is high and the council relies on agency staff.",
        "Social workers do not receive regular supervision, and supervision is rarely recorded.",
        "Turnover remains high: a third of social work posts are filled by agency workers.",
        "Supervision is still infrequent and supervision records are out of date.",
    ]
    items = [Item(f"t{i}", t, "Glanmor", f"201{7 + i // 2}-01-01", f"d{i // 2}", i % 2) for i, t in enumerate(texts)]
    a = [x.concern_id for x in link(items, None, config)[0]]
    assert a[0] == a[2] and a[1] == a[3] and a[0] != a[1]


# ---------------------------------------------------------------- incremental, reviewable, sparse


def test_adding_documents_one_by_one_gives_the_batch_result(gold, linked, config):
    batch = {a.id: a.concern_id for a in linked[0]}
    by_document: dict[str, list[Item]] = defaultdict(list)
    for it in sorted(items_of(gold), key=lambda it: (it.date, it.document_id)):
        by_document[it.document_id].append(it)
    index, incremental = None, {}
    for document_items in by_document.values():
        before = index
        assignments, index = link(document_items, index, config)
        assert before is None or len(before) + len(document_items) == len(index)  # the old index is untouched
        incremental.update((a.id, a.concern_id) for a in assignments)
    assert incremental == batch


def test_linking_what_picking_described_gives_the_same_concerns(gold, linked, config):
    """Picking describes every statement; linking takes those rows instead of running the models again, and
    must give what it gives on its own: the same concerns, links, statuses, with each item's own service."""
    from pipeline.recur import describe, describe_statements

    items = items_of(gold)
    # described as picking describes them: by id and text, with no service (an item's own service wins)
    described = describe_statements([it.id for it in items], [it.text for it in items], config)
    assert {it.service for it in items} - {None}  # the gold's items carry services the description lacks
    took, fresh = described.take(items, config)[0], describe(items, config)[0]
    assert [(c.service, c.status, c.thread, c.recap) for c in took] == [
        (c.service, c.status, c.thread, c.recap) for c in fresh
    ]
    again = link(items, None, config, described=described)[0]
    assert [(a.id, a.concern_id, a.status, a.status_in_text, a.role, a.links, a.mention) for a in again] == [
        (a.id, a.concern_id, a.status, a.status_in_text, a.role, a.links, a.mention) for a in linked[0]
    ]  # the mentions too, with each item's service
    # an item picking never described (a reviewer's choice) sends the whole batch to the models
    partial = describe_statements([it.id for it in items[1:]], [it.text for it in items[1:]], config)
    assert [a.concern_id for a in link(items, None, config, described=partial)[0]] == [a.concern_id for a in linked[0]]


def test_index_rebuilt_from_stored_mentions_links_the_same(gold, config):
    items = items_of(gold)
    early = [it for it in items if it.date < "2020-01-01"]
    late = [it for it in items if it.date >= "2020-01-01"]
    assignments, index = link(early, None, config)
    rebuilt = index_from(zip(early, (a.mention for a in assignments)), config)
    assert len(rebuilt) == len(index)
    assert [a.concern_id for a in link(late, rebuilt, config)[0]] == [
        a.concern_id for a in link(late, index, config)[0]
    ]


def test_a_concern_repeated_past_the_cap_is_still_found_and_the_index_stays_small(gold, config):
    """The index offers the newest `rows_per_concern` statements of each concern as candidates. With a cap of
    16, below the gold's largest concerns (27 statements), the gold comes out as without a cap, document by
    document or rebuilt from stored mentions, while the index holds at most 16 rows a concern. (Lower caps
    start to move statements: at 8, one of the gold's 352; at 4, fifteen.)"""
    items = sorted(items_of(gold), key=lambda it: (it.date, it.document_id))
    cap = 16
    small = config.with_overrides(linking={"rows_per_concern": cap})
    expected = [a.concern_id for a in link(items, None, config)[0]]
    assert max(Counter(expected).values()) > cap  # the cap binds
    index, got = None, []
    for _, group in itertools.groupby(items, key=lambda it: it.document_id):
        assignments, index = link(list(group), index, small)
        got += [a.concern_id for a in assignments]
    assert got == expected
    assert len(index) < len(items)
    for b in index.blocks.values():
        newest = {i for s in b.concerns.values() for i in [m.statement_id for m in s.mentions][-cap:]}
        assert [r.id for c in b.chunks for r in c.rows if r.id not in newest] == []
        assert b.size == len(newest) == sum(b.indexed.values())
    # rebuilt from stored mentions: the same rows, and the same links for what comes next
    early = [it for it in items if it.date < "2021-01-01"]
    late = [it for it in items if it.date >= "2021-01-01"]
    assignments, live = link(early, None, small)
    rebuilt = index_from(zip(early, (a.mention for a in assignments)), small)
    assert len(rebuilt) == len(live) < len(early)
    assert [a.concern_id for a in link(late, rebuilt, small)[0]] == [a.concern_id for a in link(late, live, small)[0]]


def test_the_cap_keeps_the_newest_by_date_when_an_older_document_comes_late(gold, config):
    """A document stored after later ones (an archive back-filled): the index keeps each concern's newest rows
    by date, the rows an index rebuilt from the stored mentions keeps."""
    items = sorted(items_of(gold), key=lambda it: (it.date, it.document_id))
    small = config.with_overrides(linking={"rows_per_concern": 4})
    documents = [list(g) for _, g in itertools.groupby(items, key=lambda it: it.document_id)]
    late = documents.pop(0)  # the oldest document arrives last
    index, linked = None, []
    for group in [*documents, late]:
        assignments, index = link(group, index, small)
        linked += zip(group, (a.mention for a in assignments))
    rebuilt = index_from(linked, small)
    for key, block in index.blocks.items():
        assert sorted(r.id for c in block.chunks for r in c.rows) == sorted(
            r.id for c in rebuilt.blocks[key].chunks for r in c.rows
        )
    assert len(index) == len(rebuilt) < len(linked)  # the cap binds


def test_reviewer_decisions_win(gold, config):
    items = items_of(gold)[:60]
    base = {a.id: a.concern_id for a in link(items, None, config)[0]}
    # g025 and g026 (agency social workers, turnover) are one concern; g028 (supervision) another
    assert base["g025"] == base["g026"] != base["g028"]
    decisions = Decisions(
        fixed={"g001": "reviewed-1"}, must_link=frozenset({("g028", "g025")}), cannot_link=frozenset({("g026", "g025")})
    )
    result = {x.id: x.concern_id for x in link(items, None, config, decisions)[0]}
    assert result["g001"] == "reviewed-1" and result["g026"] != result["g025"] == result["g028"]


def test_no_dense_n_by_n_matrix(config):
    """Statements of one council, all alike (the worst case for candidates): memory grows with N, not N x N,
    and the index holds sparse chunks of statement rows."""
    rng = random.Random(1)
    words = (
        "assessment placement foster carer supervision turnover agency complaint audit front door referral "
        "discharge hospital waiting list carers direct payments review plan early help exploitation"
    ).split()
    small = config.with_overrides(linking={"chunk_cells": 200_000})

    def peak_for(n: int):
        items = [
            Item(f"s{i}", " ".join(rng.choices(words, k=12)), "Powys", f"20{10 + i % 10}-01-01", f"d{i // 30}", i % 30)
            for i in range(n)
        ]
        tracemalloc.start()
        _, index = link(items, None, small)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak, index.blocks["Powys County Council"]

    peak_for(50)  # warm the models
    small_peak, _ = peak_for(1500)
    big_peak, block = peak_for(3000)
    dense = 3000 * 3000 * 8  # 72 MB; measured peaks are about 20 MB (1,500) and 31 MB (3,000)
    assert big_peak < dense / 2 and big_peak - small_peak < (dense - 1500 * 1500 * 8) / 4, (small_peak, big_peak)
    # the index keeps the newest `rows_per_concern` statements of each concern as candidates
    cap = int(config.linking["rows_per_concern"])
    assert sum(len(s.mentions) for s in block.concerns.values()) == 3000
    assert block.size == sum(min(cap, len(s.mentions)) for s in block.concerns.values()) < 3000
    assert all(chunk.matrix.shape[0] == len(chunk.rows) for chunk in block.chunks)
    assert all(chunk.matrix.nnz < chunk.matrix.shape[0] * 400 for chunk in block.chunks)  # word and char n-grams


def test_dense_pruning_of_candidates_gives_what_sorting_gives(monkeypatch):
    """Where most pairs of a piece score above the floor (a council repeating its words), the best candidates
    are taken by a partition of a dense copy: the same candidates, scores and order (ties: the earlier row
    first) as sorting every pair."""
    import numpy as np
    import scipy.sparse as sp

    import pipeline.recur as recur_module
    from pipeline.recur import Block, Chunk, Row

    rng = np.random.default_rng(0)
    real, calls = recur_module._top_dense, []
    monkeypatch.setattr(recur_module, "_top_dense", lambda *a: calls.append(1) or real(*a))

    def matrix(n: int, vocab: int) -> sp.csr_matrix:
        m = sp.random(n, vocab, density=0.3, random_state=int(rng.integers(10**9)), format="csr")
        m.data = np.round(m.data * 4) / 4  # many equal scores
        return m.astype(np.float32)

    went_dense = 0
    for _ in range(12):
        k, n_old, vocab = int(rng.integers(1, 200)), int(rng.integers(0, 300)), int(rng.integers(5, 40))
        x, old = matrix(k, vocab), matrix(n_old, vocab)
        rows = tuple(
            Row(f"r{i}", "c", None, None, 0, None, frozenset(), np.zeros(1), np.zeros(1)) for i in range(n_old)
        )
        block = Block("k", (Chunk(old.tocsc(), rows),) if n_old else ())
        cfg = {"max_candidates": int(rng.integers(1, 50)), "candidate_floor": 0.02, "chunk_cells": 20_000}
        monkeypatch.setattr(recur_module, "_DENSE_SHARE", 10.0)  # never dense
        sorted_ = recur_module._candidates(x, x.T.tocsr(), block, cfg)
        assert not calls
        monkeypatch.setattr(recur_module, "_DENSE_SHARE", 0.0)  # dense wherever there are more pairs than kept
        dense = recur_module._candidates(x, x.T.tocsr(), block, cfg)
        went_dense += bool(calls)
        calls.clear()
        assert [(c.tolist(), v.tolist()) for c, v in dense] == [(c.tolist(), v.tolist()) for c, v in sorted_]
    assert went_dense >= 6


# ---------------------------------------------------------------- picking statements


@pytest.mark.parametrize(
    "text, kind, heading, doc_type, role, raises",
    [
        (
            "Ensure that every child's assessment is completed within statutory timescales.",
            "recommendation",
            "Recommendations",
            "inspection_report",
            "raised",
            True,
        ),
        (
            "At our last inspection we found that supervision was infrequent.",
            "finding",
            "Supervision",
            "inspection_report",
            "discussed",
            True,
        ),
        (
            "The recommendation on complaints has been met.",
            "finding",
            "Complaints",
            "inspection_report",
            "progress",
            True,
        ),
        ("We make the following recommendations.", "finding", "Recommendations", "inspection_report", None, None),
        (
            "Members noted that the placement sufficiency strategy had been approved.",
            "finding",
            None,
            "council_minutes",
            "discussed",
            False,
        ),
        pytest.param(
            "The Welsh Government served the council with a warning notice.",
            "finding",
            None,
            "news",
            "discussed",
            True,
            marks=pytest.mark.xfail(reason="the learned picker gives 0.40, under the attach threshold", strict=True),
        ),
        ("The meeting closed at 4.15pm.", "other", None, "council_minutes", None, None),
    ],
)
def test_is_concern(config, text, kind, heading, doc_type, role, raises):
    pick = is_concern(text, kind, heading, doc_type, config)
    if raises is None:
        assert pick is None
    else:
        assert (pick.role, pick.raises) == (role, raises)


def test_cues(config):
    c = cues(Item("x", "The views of children are not always recorded in their assessments.", "Glanmor"), config)
    assert c.thread is None and c.issue.shape == (len(config.learned.issues),)
    assert cues(Item("x", "A Warning Notice was issued in October 2017.", "Glanmor"), config).thread == "intervention"
    assert status_in_text("The recommendation on complaints has been met.", config) == "resolved"
    assert status_in_text("Social worker turnover remains high.", config) == "persisting"
    # a status only where the words say one (the guidelines): a finding says nothing of being new, "a new
    # concern" does, "no new concerns" does not
    assert status_in_text("Inspectors found serious weaknesses in the supervision of social workers.", config) is None
    assert status_in_text("We identified a new concern about the placements used for care leavers.", config) == "new"
    for denied in (
        "Inspectors raised no new concerns about the placements used for care leavers.",
        "Inspectors did not identify any new concerns about the placements used for care leavers.",
        "There were no significant new concerns about the placements used for care leavers.",
        "No new or additional concerns were raised about the placements used for care leavers.",
    ):
        assert status_in_text(denied, config) is None, denied
    assert (
        status_in_text("Inspectors set out a newly-identified shortcoming in the use of placements.", config) == "new"
    )


def test_concern_status_latest_inspection_first():
    def m(role, date, status=None, doc=None):
        return Mention("s", "c", role, None, date, doc or date, "inspection_report", status, "Glanmor", None)

    assert concern_status([m("raised", "2017-01-01")]) == "new"
    assert concern_status([m("raised", "2017-01-01"), m("repeated", "2018-01-01", "persisting")]) == "repeated"
    assert concern_status([m("raised", "2017-01-01"), m("progress", "2018-01-01", "resolved")]) == "resolved"
    assert concern_status([m("raised", "2017-01-01"), m("discussed", "2017-06-01", "improved")]) == "improved"


# ---------------------------------------------------------------- the command


def test_scrutiny_recur(monkeypatch, capsys):
    lines = [
        json.dumps(
            {
                "id": "a",
                "text": "Too many children are placed outside the county.",
                "local_authority": "Glanmor",
                "date": "2017-10-12",
                "document_id": "r1",
            }
        ),
        "not json",
        json.dumps(
            {
                "id": "b",
                "text": "Children in care still live outside the county, the report says.",
                "local_authority": "Glanmor County Council",
                "date": "2018-11-09",
                "document_id": "n1",
                "doc_type": "news",
            }
        ),
        json.dumps({"id": "c", "text": "Missing its council."}),
        json.dumps(
            {
                "id": "d",
                "text": "Too many children are placed outside the county.",
                "local_authority": "Afonwy",
                "date": "2019-01-01",
            }
        ),
    ]
    good, bad = run(io.StringIO("\n".join(lines)), Settings())
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (good, bad) == (3, 2) and len(out) == 5
    assert out[1]["error"] and out[3] == {"id": "c", "error": "'local_authority' is missing or empty"}
    a, b, d = out[0], out[2], out[4]
    assert a["concern_id"] == b["concern_id"] != d["concern_id"]
    assert b["links"][0]["id"] == "a" and 0 < b["links"][0]["score"] <= 1
    assert (a["role"], a["status"], a["links"]) == ("raised", "new", [])
    assert (b["role"], b["status"], b["status_in_text"]) == ("discussed", "new", "persisting")  # news repeats nothing


def test_scrutiny_recur_reads_json_lines_and_answers_one_line_each(capsys, monkeypatch):
    """What a user of `scrutiny recur` sees: one answer per input line, in order, through the real CLI."""
    from pipeline.cli import main

    rows = [
        {
            "id": "r2017",
            "text": "The council must reduce the number of children placed outside the county.",
            "local_authority": "Glanmor",
            "date": "2017-10-12",
            "document_id": "insp-2017",
            "doc_type": "inspection_report",
        },
        {
            "id": "r2019",
            "text": "The council must still reduce the number of children placed outside the county.",
            "local_authority": "Glanmor",
            "date": "2019-11-09",
            "document_id": "insp-2019",
            "doc_type": "inspection_report",
        },
        {"id": "other", "text": "Staff supervision is not recorded.", "local_authority": "Afonwy", "date": "2019"},
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(json.dumps(r) for r in rows) + "\n"))
    assert main(["recur"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["id"] for o in out] == ["r2017", "r2019", "other"]
    first, again, other = out
    assert first["concern_id"] == again["concern_id"] != other["concern_id"]
    assert (first["role"], first["status"], first["links"]) == ("raised", "repeated", [])  # the concern's status
    assert (again["role"], again["status_in_text"]) == ("repeated", "persisting")
    assert again["links"][0]["id"] == "r2017" and 0 < again["links"][0]["score"] <= 1
    assert (other["role"], other["status"]) == ("raised", "new")

    # Nothing usable: every line answered with its reason, and the exit status says so.
    monkeypatch.setattr("sys.stdin", io.StringIO('not json\n{"id": "x", "text": "No council."}\n'))
    assert main(["recur"]) == 1
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(out) == 2 and all(o.get("error") for o in out)
    assert out[1] == {"id": "x", "error": "'local_authority' is missing or empty"}
