"""Linking stored documents: picking describes each statement once and linking reuses it, reviewers' forced
statements and statements in Welsh included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.recur import config_for, link
from pipeline.run.linking import _pick

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def config():
    return config_for(Settings())


def _rows() -> list[dict]:
    """One council's gold statements as `store.recurrence_inputs` gives them, plus a procedural sentence the
    picker leaves out and a Welsh one."""
    gold = [json.loads(line) for line in (ROOT / "corpus" / "recurrence-gold.jsonl").open(encoding="utf-8")]
    council = "Glanmor County Council"
    rows = []
    for n, r in enumerate(g for g in gold if g["local_authority"] == council):
        rows.append(
            {
                "id": r["id"],
                "document_id": r["document"],
                "seq": n,
                "text": r["text"],
                "kind": "finding",
                "heading": None,
                "lemmas": "",
                "language": "en",
                "local_authority": council,
                "doc_type": "inspection_report",
                "published": r["date"],
                "service": r["service"],
                "labels": None,
            }
        )
    extra = [
        ("proc", "We wrote to the Chief Executive on 21 July 2017 to set out our findings.", "en"),
        ("cy", "Mae angen gwella ansawdd y cynlluniau gofal ar gyfer plant yn y sir.", "cy"),
    ]
    for k, (id_, text, language) in enumerate(extra):
        rows.append({**rows[0], "id": id_, "seq": 1000 + k, "text": text, "language": language})
    return sorted(rows, key=lambda r: (r["published"], r["document_id"], r["seq"]))


def test_picking_keeps_what_it_described_for_linking(config):
    rows = _rows()
    items, described = _pick(rows, config)
    assert "proc" not in {i.id for i in items} and "cy" not in {i.id for i in items}  # procedure, not English
    assert described is not None and set(described.ids) == {i.id for i in items}  # only the picked are kept
    assert [a.concern_id for a in link(items, None, config, described=described)[0]] == [
        a.concern_id for a in link(items, None, config)[0]
    ]


def test_forced_statements_are_linked_whether_described_or_not(config):
    rows = _rows()
    # a reviewer's English statement was described while picking: linking still reuses the descriptions
    items, described = _pick(rows, config, forced={"proc"})
    assert "proc" in {i.id for i in items} and described is not None and "proc" in described.ids
    with_reuse = link(items, None, config, described=described)[0]
    assert [(a.id, a.concern_id, a.status_in_text) for a in with_reuse] == [
        (a.id, a.concern_id, a.status_in_text) for a in link(items, None, config)[0]
    ]
    # a Welsh one never was: the batch goes to the models, with the same result as without the descriptions
    items, described = _pick(rows, config, forced={"proc", "cy"})
    assert "cy" in {i.id for i in items} and described is not None and "cy" not in described.ids
    assert [a.concern_id for a in link(items, None, config, described=described)[0]] == [
        a.concern_id for a in link(items, None, config)[0]
    ]
