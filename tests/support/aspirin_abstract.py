"""A four-sentence abstract naming a chemical, a disease and a gene, for pair typer tests."""

from __future__ import annotations

TITLE = "Aspirin reduced the risk of colorectal cancer."
TEXT = (TITLE + " We studied PTGS2 in mice. Aspirin was given daily. "
        "In conclusion, PTGS2 inhibition by aspirin lowers cancer risk.")
CHEM, DIS, GENE = ("Chemical", "D001241"), ("Disease", "D015179"), ("Gene", "5743")


def spans_of(*found: tuple[tuple[str, str], str]) -> dict:
    """Concept key -> (start, end) of every occurrence in TEXT of each (key, word)."""
    out: dict = {}
    for key, word in found:
        start = -1
        while (start := TEXT.find(word, start + 1)) >= 0:
            out.setdefault(key, []).append((start, start + len(word)))
    return out
