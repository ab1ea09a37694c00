"""Area labels for the concern statements of corpus/recurrence-grounded.jsonl, and how far their annotators agree.

    .venv/bin/python corpus/grounded_concerns.py           # prints agreement
    .venv/bin/python corpus/grounded_concerns.py --write   # (re)writes labels/grounded-concerns.jsonl

The 1,026 statements of the concern file (written in our own words from 283 real pages about 19 councils and
trusts outside Wales) carried no priority areas. Two annotators labelled every one of them blind, by
shared/annotation-guidelines.md, each statement alone; where they differed, a third person adjudicated by the
guidelines. A consistency pass then brought 27 labels (20 the two had agreed on) in line with the decisions
recorded for labels/grounded.jsonl in grounded-changes.jsonl: 9 judgements that children are left at risk of harm,
left unlabelled as bare ratings, are judgements of safety, D; 18 statements on the quality (not the timeliness) of
assessments and plans, labelled D alone, are B and D.
The record, `grounded-concerns-annotation.jsonl`, keeps for every line of the concern file (`line`, 1-based) both
annotators' labels, the labels kept and, for every adjudicated or changed line, a note of the reason (`rule`);
where the consistency pass changed an adjudicated line, `adjudicated` keeps the adjudicator's labels and reason.

To see how these annotators read the guidelines against the labels already in the corpus, 150 statements of
`labels/grounded.jsonl` (adjudicated there) were mixed blind into their work: `grounded-concerns-checks.jsonl`
keeps both annotators' labels for them (`line` in `labels/grounded.jsonl`).

`labels/grounded-concerns.jsonl` is made from the concern file and the record alone (text, labels, doc_type,
source_url; `register` "concern statement"), so a test can check that it is in step with both.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from grounded_report import CODES, _jsonl, agreement

HERE = Path(__file__).resolve().parent
CONCERNS = HERE / "recurrence-grounded.jsonl"
RECORD = HERE / "grounded-concerns-annotation.jsonl"
CHECKS = HERE / "grounded-concerns-checks.jsonl"
GROUNDED = HERE / "labels" / "grounded.jsonl"
OUT = HERE / "labels" / "grounded-concerns.jsonl"
REGISTER = "concern statement"


def rows() -> list[dict]:
    """The labelled statements, in the concern file's order."""
    concerns = _jsonl(CONCERNS)
    record = {r["line"]: r for r in _jsonl(RECORD)}
    if sorted(record) != list(range(1, len(concerns) + 1)):
        raise SystemExit(f"{RECORD.name} must hold every line of {CONCERNS.name} once")
    out = []
    for n, c in enumerate(concerns, 1):
        labels = record[n]["labels"]
        if labels != [code for code in CODES if code in labels]:
            raise SystemExit(f"{RECORD.name} line {n}: labels {labels} are not distinct codes in order")
        out.append(
            {
                "text": c["text"],
                "labels": labels,
                "doc_type": c["doc_type"],
                "register": REGISTER,
                "source_url": c["source_url"],
            }
        )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(HERE.parent)}")
    args = parser.parse_args(argv)
    made = rows()
    record = _jsonl(RECORD)
    first, second = [r["first"] for r in record], [r["second"] for r in record]
    adjudicated = sum(r["first"] != r["second"] for r in record)
    changed = [r for r in record if r.get("rule", "").startswith("consistency pass")]
    consistency = f"{len(changed)} ({sum(r['first'] == r['second'] for r in changed)} of them agreed by both)"
    print(
        f"{len(record)} statements; the two annotators agreed exactly on {len(record) - adjudicated}, "
        f"{adjudicated} adjudicated; labels changed by the consistency pass: {consistency}"
    )
    print(f"between the two annotators: {json.dumps(agreement(first, second))}")
    checks = _jsonl(CHECKS)
    grounded = _jsonl(GROUNDED)
    ours = [grounded[c["line"] - 1]["labels"] for c in checks]
    for who in ("first", "second"):
        print(
            f"{who} annotator against labels/grounded.jsonl on {len(checks)} statements mixed in blind: "
            f"{json.dumps(agreement([c[who] for c in checks], ours))}"
        )
    counts = {code: sum(code in r["labels"] for r in made) for code in CODES}
    print(f"labels kept: {counts}, none {sum(not r['labels'] for r in made)}")
    if args.write:
        OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in made), encoding="utf-8")
        print(f"wrote {OUT.relative_to(HERE.parent)} ({len(made)} statements)")


if __name__ == "__main__":
    main()
