"""Sentence-boundary evaluation on real text: ../shared/corpus-samples, hand-checked.

`tests/data/segmentation-gold.jsonl` holds only references and offsets, never
text: one line per excerpt, `file` (a path under ../shared), `id` (for a
document of documents.jsonl), `sha256` of the excerpt's text and `sentences`,
the [start, end) character offsets of every statement in it. The unit is the
annotation guidelines' one: one sentence or one list item; headings, page
furniture (menus, skip links, datelines, bylines, logos, contact lines), tables
of contents and list markers are not statements.

The evaluation takes the path a user takes: each excerpt is written to a .txt
file, read by `pipeline.extract.extract` and segmented by
`pipeline.segment.segment`. The extractor collapses whitespace and drops
furniture, so each statement is aligned back onto the excerpt by searching its
words, in order, from a moving cursor. A boundary is the start or the end of a
statement; precision and recall are over all boundaries of all excerpts.

Run it as a script for the figures per excerpt:

    .venv/bin/python tests/segment/test_segmentation_eval.py
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLD = ROOT / "tests" / "data" / "segmentation-gold.jsonl"
SHARED = ROOT.parent / "shared"
TARGET = 0.95


@dataclass
class Score:
    name: str
    gold: set[tuple[str, int]]
    found: set[tuple[str, int]]

    @property
    def hits(self) -> int:
        return len(self.gold & self.found)


def _excerpt(row: dict, shared: Path) -> str:
    path = shared / row["file"]
    if "id" not in row:
        return path.read_text(encoding="utf-8")
    with path.open(encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            if doc["id"] == row["id"]:
                return doc["text"]
    raise KeyError(f"{row['id']} is not in {path}")


def align(statements: list[str], source: str) -> list[tuple[int, int]]:
    """Offsets in `source` of each statement text, found in order (whitespace may differ)."""
    spans, cursor = [], 0
    for text in statements:
        pattern = r"\s+".join(re.escape(word) for word in text.split())
        m = re.compile(pattern).search(source, cursor)
        if m is None:
            raise AssertionError(f"statement not found in the excerpt after offset {cursor}: {text[:60]!r}")
        spans.append((m.start(), m.end()))
        cursor = m.end()
    return spans


def boundaries(spans) -> set[tuple[str, int]]:
    return {("start", s) for s, _ in spans} | {("end", e) for _, e in spans}


def evaluate(shared: Path = SHARED) -> list[Score]:
    from pipeline.config import Settings
    from pipeline.extract import extract
    from pipeline.records import Source
    from pipeline.segment import segment

    settings = Settings()
    scores = []
    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        for n, row in enumerate(rows):
            text = _excerpt(row, shared)
            name = row.get("id") or Path(row["file"]).name
            if hashlib.sha256(text.encode("utf-8")).hexdigest() != row["sha256"]:
                raise AssertionError(f"{name}: the shared excerpt changed since it was annotated")
            path = Path(tmp) / f"{n:02d}.txt"
            path.write_text(text, encoding="utf-8")
            document = extract(Source(str(path)), settings)
            found = align([s.text for s in segment(document, settings)], text)
            scores.append(Score(name, boundaries(row["sentences"]), boundaries(found)))
    return scores


def totals(scores: list[Score]) -> tuple[float, float, int, int]:
    hits = sum(s.hits for s in scores)
    found = sum(len(s.found) for s in scores)
    gold = sum(len(s.gold) for s in scores)
    return hits / max(found, 1), hits / max(gold, 1), gold // 2, found // 2


def report(scores: list[Score]) -> str:
    lines = [f"{'excerpt':62} {'P':>6} {'R':>6}"]
    for s in scores:
        lines.append(f"{s.name[:62]:62} {s.hits / max(len(s.found), 1):6.3f} {s.hits / max(len(s.gold), 1):6.3f}")
    p, r, n_gold, n_found = totals(scores)
    lines.append(
        f"boundary precision {p:.3f}, recall {r:.3f} "
        f"({n_gold} gold statements, {n_found} found, {len(scores)} excerpts)"
    )
    return "\n".join(lines)


def test_gold_holds_offsets_only():
    for line in GOLD.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        assert set(row) <= {"file", "id", "sha256", "sentences"}
        assert all(isinstance(x, int) for span in row["sentences"] for x in span)
        assert all(s < e for s, e in row["sentences"])
        assert all(a[1] <= b[0] for a, b in zip(row["sentences"], row["sentences"][1:]))


def test_every_gold_span_lands_on_a_statement_of_its_excerpt():
    """An offset off by one or an excerpt edited since annotation would score the segmenter against nonsense:
    every gold span must lie inside its excerpt and cover words, starting and ending on a character."""
    if not (SHARED / "corpus-samples").is_dir():
        pytest.skip("../shared/corpus-samples is absent: the gold spans cannot be checked against their text")
    for line in GOLD.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        text = _excerpt(row, SHARED)
        name = row.get("id") or row["file"]
        assert hashlib.sha256(text.encode("utf-8")).hexdigest() == row["sha256"], f"{name}: excerpt changed"
        for start, end in row["sentences"]:
            span = text[start:end]
            assert 0 <= start < end <= len(text), f"{name}: span {start}-{end} outside the excerpt"
            assert span == span.strip() and re.search(r"\w{2}", span), f"{name}: span {start}-{end} is {span!r}"


def test_boundaries_on_real_text():
    if not (SHARED / "corpus-samples").is_dir():
        pytest.skip("../shared/corpus-samples is absent: the segmentation evaluation needs the real excerpts")
    scores = evaluate()
    p, r, _, _ = totals(scores)
    print("\n" + report(scores))
    assert p >= TARGET and r >= TARGET, report(scores)


if __name__ == "__main__":
    if not (SHARED / "corpus-samples").is_dir():
        sys.exit("../shared/corpus-samples is absent")
    sys.path.insert(0, str(ROOT))
    print(report(evaluate()))
