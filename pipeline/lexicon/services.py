"""Which social services a text is about (children's, adults' or both): one rule set, English and Welsh, used
for documents (pipeline.extract.metadata) and for the titles in publishers' listings (pipeline.fetch)."""

from __future__ import annotations

import re

CHILDREN = re.compile(
    r"\b(?:child(?:ren)?(?:['’]?s)?|young people|looked[- ]after|care leavers?|fostering|foster carers?|adoption|"
    r"plant|phlant|blant|pobl ifanc)\b",
    re.I,
)
ADULTS = re.compile(
    r"\b(?:adults?['’]? (?:social care|services)|adult social|adults?['’]? (?:and|&) (?=child)|(?<=and )adults?\b|"
    r"older (?:people|adults?)|care homes?|domiciliary|carers['’]? assessment|dementia|learning disabilit\w+|"
    r"hospital discharge|oedolion)\b",
    re.I,
)


def infer_service(text: str) -> str | None:
    """children, adults or both when the words say so (one kind outweighing the other three to one counts as
    that kind alone); None when they do not."""
    sample = text[:20000]
    c, a = len(CHILDREN.findall(sample)), len(ADULTS.findall(sample))
    if c == 0 and a == 0:
        return None
    if c >= 3 * max(a, 1) or (a == 0 and c >= 1):
        return "children"
    if a >= 3 * max(c, 1) or (c == 0 and a >= 1):
        return "adults"
    return "both"
