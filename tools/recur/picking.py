"""Build corpus/recurrence-picking.jsonl: statements labelled concern mention (1) or not (0) for the picker.

From ../shared/training/areas-grounded.jsonl (real-grounded statements in our own words, each with the register
of its source: "inspection area for improvement", "web furniture", "procedural minute", ...). By the definition
of a concern mention (issue 16, recurrence guidelines), read through a sample and written down as rules:

- 1: the register names a recommendation, an area for improvement or concern, a weakness or a required action,
  and the text carries a concern, action or progress cue;
- 0: the register is furniture, procedure, method, a byline, a strength or praise, guidance or research, or the
  text carries no concern, action, progress or intervention cue at all (background);
- everything else (cue-bearing findings, judgements and news of mixed registers) is left out: those are the
  doubtful cases, and the grouped concern files (corpus/recurrence-grounded.jsonl, corpus/recurrence-gold.jsonl)
  give the picker its positives of that kind.

Usage: python -m tools.recur.picking [--areas PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POSITIVE_REGISTER = re.compile(
    r"recommendation|area for improvement|area of concern|areas for improvement|weakness|requirement|priority area|"
    r"required action"
)
NEGATIVE_REGISTER = re.compile(
    r"furniture|byline|caption|procedur|attendance|attendee|contact|date ?line|dateline|header|footnote|copyright|"
    r"metadata|methodolog|method\b|scope|purpose|agenda|sederunt|witness|cookie|disclaimer|signature|address|title|"
    r"advert|related article|strength|praise|guidance|explanatory|definition|terms of reference|notice\b|"
    r"cover details|report dates|front matter|event notice|publication notice|boilerplate|manual|handbook|"
    r"programme description|research|statistic|survey|vision statement|recruitment page|service page|"
    r"web page text|speaker line|hansard|presiding officer|question header|written question|call for evidence|"
    r"list of witnesses"
)
CUE = re.compile(
    r"\bshould\b|\bmust\b|\bneeds? to\b|\brequire|\bconcern|inadequate|\bpoor|\bweak|\bfail|not (?:good|effective|"
    r"robust|consistent|always|enough|yet|sufficient|timely|met|been)|\bdelay|too (?:many|few|long|slow|high)|"
    r"\black|insufficient|serious|\brisk|requires improvement|\bremain|\bstill\b|improv|progress|\bbetter\b|"
    r"resolved|no longer|been met|criticis|backlog|shortage|vacanc|turnover|unallocated|drift|intervention|"
    r"warning notice|improvement notice|special measures|direction|commissioner|monitor",
    re.I,
)


def site(url: str) -> str:
    return re.sub(r"^https?://(www\.)?", "", url).split("/")[0]


def label(text: str, register: str) -> int | None:
    if POSITIVE_REGISTER.search(register) and CUE.search(text):
        return 1
    if NEGATIVE_REGISTER.search(register) and not POSITIVE_REGISTER.search(register):
        return 0
    return 0 if not CUE.search(text) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--areas", type=Path, default=ROOT.parent / "shared" / "training" / "areas-grounded.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "corpus" / "recurrence-picking.jsonl")
    args = parser.parse_args(argv)
    rows = []
    for line in args.areas.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        y = label(r["text"], r.get("register") or "")
        if y is not None:
            rows.append(
                {
                    "text": r["text"],
                    "y": y,
                    "register": r.get("register"),
                    "site": site(r["source_url"]),
                    "source_url": r["source_url"],
                }
            )
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{args.out}: {len(rows)} statements, {sum(r['y'] for r in rows)} concern mentions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
