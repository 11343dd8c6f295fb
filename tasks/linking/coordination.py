"""Coordinated mentions split into the names they coordinate, for the linker's composite level
(`litmine.tasks.linking.normalise`).

- `split_composite` (Chemical, Disease): "renal and hepatic failure" -> "renal failure",
  "hepatic failure", a shared head or prefix distributed, as BC5CDR joins the parts' MeSH IDs.
- `split_numbered` (Gene): a gene name with coordinated numbers, "ERK1/2" -> "ERK1", "ERK2",
  as BioRED lists both genes' IDs for it.
"""

from __future__ import annotations

import re

_COORDINATION = re.compile(r"\s*(?:,\s*(?:and|or)\s+|,\s*|\s+and/or\s+|\s+and\s+|\s+or\s+|/)\s*",
                           re.IGNORECASE)


def split_composite(text: str) -> list[str]:
    """The parts of a coordinated mention, with a shared head or prefix distributed.

    "renal and hepatic failure" -> ["renal failure", "hepatic failure"]; "cancer of the breast
    or ovary" -> ["cancer of the breast", "cancer of the ovary"]; "nausea and vomiting" ->
    ["nausea", "vomiting"]; no coordination -> [].
    """
    parts = [p for p in _COORDINATION.split(text.strip()) if p]
    if len(parts) < 2:
        return []
    first, last = parts[0].split(), parts[-1].split()
    if len(last) > 1 and all(len(p.split()) == 1 for p in parts[:-1]):
        head = " ".join(last[1:])
        return [f"{p} {head}" for p in parts[:-1]] + [parts[-1]]
    if len(first) > 1 and all(len(p.split()) == 1 for p in parts[1:]):
        prefix = " ".join(first[:-1])
        return [parts[0]] + [f"{prefix} {p}" for p in parts[1:]]
    return parts


#: A gene name whose last word ends in coordinated numbers (or Roman numerals): the stem, the
#: separator before the first number ("-", " " or none), the first number, then the others.
_NUMBERED = re.compile(r"^(?P<stem>.*?[A-Za-z])(?P<sep>[- ]?)(?P<first>\d+[A-Za-z]?|[IV]+)"
                       r"(?P<rest>(?:\s*(?:/|,\s*and|,\s*or|,|and|or|&)\s*-?\s*"
                       r"(?:\d+[A-Za-z]?|[IV]+))+)$")
_NUMBER = re.compile(r"\d+[A-Za-z]?|[IV]+")


def split_numbered(text: str) -> list[str]:
    """The names of a gene mention with coordinated numbers, its stem repeated for each.

    "ERK1/2" -> ["ERK1", "ERK2"]; "caspase-3/7" -> ["caspase-3", "caspase-7"]; "MMP-2 and -9"
    -> ["MMP-2", "MMP-9"]; "ROCK-I/II" -> ["ROCK-I", "ROCK-II"]; no coordinated numbers -> [].
    """
    m = _NUMBERED.match(" ".join(text.split()))
    if not m:
        return []
    numbers = [m["first"], *_NUMBER.findall(m["rest"])]
    return [f"{m['stem']}{m['sep']}{n}" for n in dict.fromkeys(numbers)]
