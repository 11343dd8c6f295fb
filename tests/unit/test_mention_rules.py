"""A decoded mention with no letter is dropped, except for cell lines (BioID's "293")."""

from __future__ import annotations

import pytest

from litmine.tasks.ner.mention_rules import is_plausible
from litmine.tasks.ner.units import text_units, units_to_mentions
from litmine.tasks.records import Sentence


@pytest.mark.parametrize("text, entity_type, expected", [
    ("12909", "Chemical", False),
    ("468", "Gene", False),
    ("5,7-", "Chemical", False),
    ("1788", "Variant", False),
    ("293", "CellLine", True),
    ("5-FU", "Chemical", True),
    ("p53", "Gene", True),
    ("c.35delG", "Variant", True),
    ("α", "Chemical", True),
])
def test_is_plausible(text, entity_type, expected):
    assert is_plausible(text, entity_type) is expected


def test_units_to_mentions_drops_letterless_spans():
    text = "MDA-MB-468 cells took 5-FU and HEK 293 cells did not."
    sentence = Sentence("1", 0, 0, len(text), text)
    spans = [(0, 10, "CellLine", 0.9), (7, 10, "Chemical", 0.6), (22, 26, "Chemical", 0.9),
             (31, 38, "CellLine", 0.9), (35, 38, "CellLine", 0.8), (35, 38, "Gene", 0.5)]
    mentions = units_to_mentions(text_units([sentence]), [spans])
    assert [(m.text, m.type) for m in mentions] == [
        ("MDA-MB-468", "CellLine"), ("5-FU", "Chemical"), ("HEK 293", "CellLine"),
        ("293", "CellLine")]
