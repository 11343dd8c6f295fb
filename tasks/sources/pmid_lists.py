"""PMID lists: the documents to hold out, from PubTator files or plain one-PMID-a-line files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from litmine.tasks.sources.pubtator import detect_format, iter_pubtator


def read_pmid_file(path: str | Path) -> set[str]:
    """PMIDs to hold out: from a PubTator file, or one PMID per line in a text file."""
    if detect_format(path) == "pubtator":
        return {d.pmid for d in iter_pubtator(path)}
    with open(path, encoding="utf-8-sig") as handle:
        return {line.split()[0] for line in handle if line.strip() and not line.startswith("#")}


def read_pmids(paths: Iterable[str | Path]) -> set[str]:
    """PMIDs of PubTator files (or of plain files with one PMID per line)."""
    out: set[str] = set()
    for p in paths:
        out |= read_pmid_file(p)
    return out
