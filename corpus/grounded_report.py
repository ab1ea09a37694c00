"""How corpus/labels/grounded.jsonl was made consistent, and how far it agrees with a second annotator.

    .venv/bin/python corpus/grounded_report.py

Reads the grounded file, the record of every changed label (corpus/grounded-changes.jsonl: line, old, new,
rule) and the second annotator's blind labels for 400 of its lines (corpus/grounded-second-annotator.jsonl,
`line` 1-based), and prints the changes per rule and per area, and agreement (F1 and Cohen's kappa per area,
macro-F1, exact match) of the file as delivered (the record's `old` labels) and as it is now.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
CODES = ("A", "B", "C", "D")


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def agreement(first: list[list[str]], second: list[list[str]]) -> dict:
    """Per-area F1 and kappa between two annotators' label sets, macro-F1 and exact match."""
    out: dict = {}
    n = len(first)
    for code in CODES:
        a = [code in labels for labels in first]
        b = [code in labels for labels in second]
        tp = sum(x and y for x, y in zip(a, b))
        f1 = 2 * tp / (sum(a) + sum(b)) if sum(a) + sum(b) else 1.0
        observed = sum(x == y for x, y in zip(a, b)) / n
        expected = (sum(a) / n) * (sum(b) / n) + (1 - sum(a) / n) * (1 - sum(b) / n)
        out[code] = {"f1": round(f1, 3), "kappa": round((observed - expected) / (1 - expected), 3)}
    out["macro_f1"] = round(sum(out[c]["f1"] for c in CODES) / len(CODES), 3)
    out["exact_match"] = round(sum(sorted(x) == sorted(y) for x, y in zip(first, second)) / n, 3)
    return out


def main() -> None:
    rows = _jsonl(HERE / "labels" / "grounded.jsonl")
    changes = _jsonl(HERE / "grounded-changes.jsonl")
    second = _jsonl(HERE / "grounded-second-annotator.jsonl")
    now = [r["labels"] for r in rows]
    delivered = list(now)
    for c in changes:
        delivered[c["line"] - 1] = c["old"]
    added, removed = Counter(), Counter()
    for c in changes:
        added.update(set(c["new"]) - set(c["old"]))
        removed.update(set(c["old"]) - set(c["new"]))
    print(f"{len(changes)} of {len(rows)} statements changed ({100 * len(changes) / len(rows):.1f}%)")
    for rule, n in Counter(c["pattern"] for c in changes).most_common():
        print(f"  {n:4d}  {rule}")
    print("per area, labels added / removed: " + ", ".join(f"{c} +{added[c]} / -{removed[c]}" for c in CODES))
    theirs = [s["labels"] for s in second]
    for name, labels in (("as delivered", delivered), ("now", now)):
        ours = [labels[s["line"] - 1] for s in second]
        print(
            f"agreement with the second annotator ({len(second)} lines), {name}: {json.dumps(agreement(ours, theirs))}"
        )


if __name__ == "__main__":
    main()
