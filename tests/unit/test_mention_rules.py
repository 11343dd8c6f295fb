"""A decoded mention with no letter is dropped, except for cell lines (BioID's "293"); a "variant"
shaped like a cell line's name that reads as no variant is a cell line."""

from __future__ import annotations

import pytest

from litmine.tasks.ner.mention_rules import decoded_type, is_plausible
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


@pytest.mark.parametrize("text, entity_type, expected", [
    ("U87MG", "Variant", "CellLine"),    # BioRED dev: tagged Variant, a glioblastoma line
    ("HEK293T", "Variant", "CellLine"),
    ("ARPE-19", "Variant", "CellLine"),
    ("T98G", "Variant", "Variant"),      # a cell line too, but also T98G: it parses, so it stays
    ("V600E", "Variant", "Variant"),
    ("A549", "Variant", "Variant"),      # parses (an allele A at 549): left alone
    ("c.35delG", "Variant", "Variant"),  # not the shape
    ("rs1801133", "Variant", "Variant"),
    ("U87MG", "Chemical", "Chemical"),   # only Variant mentions are retyped
    ("HER2", "Gene", "Gene"),
])
def test_decoded_type(text, entity_type, expected):
    assert decoded_type(text, entity_type) == expected


def test_units_to_mentions_retypes_cell_lines_tagged_as_variants():
    text = "U87MG cells carry V600E."
    sentence = Sentence("1", 0, 0, len(text), text)
    mentions = units_to_mentions(text_units([sentence]),
                                 [[(0, 5, "Variant", 0.7), (18, 23, "Variant", 0.9)]])
    assert [(m.text, m.type) for m in mentions] == [("U87MG", "CellLine"), ("V600E", "Variant")]
