"""Label names -> canonical types, and per-token labels -> entity spans (pure functions)."""

from __future__ import annotations

import logging

import pytest

from litmine.tasks import labels as labels_module
from litmine.tasks.labels import DEFAULT_LABEL_MAP, canonical_type, decode_entities, split_bio


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("O", ("O", "")),
        ("B-Chemical", ("B", "Chemical")),
        ("I-Disease", ("I", "Disease")),
        ("B_DRUG", ("B", "DRUG")),
        ("E-Gene", ("E", "Gene")),
        ("S-Species", ("S", "Species")),
        ("L-CellLine", ("L", "CellLine")),
        ("U-Chemical", ("U", "Chemical")),
        ("b-chemical", ("B", "chemical")),
        ("Chemical", ("", "Chemical")),  # IO scheme: no prefix
        ("Disease_disorder", ("", "Disease_disorder")),
        ("DNA", ("", "DNA")),  # "D" is not a BIO prefix
        ("SNP", ("", "SNP")),  # "S" without a separator is part of the name
    ],
)
def test_split_bio(label, expected):
    assert split_bio(label) == expected


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        # BC5CDR and its spellings
        ("B-Chemical", "Chemical"), ("I-Chemical", "Chemical"), ("B-CHEMICAL", "Chemical"),
        ("B-chemical", "Chemical"), ("Chemical", "Chemical"), ("B-Disease", "Disease"),
        ("I-DISEASE", "Disease"),
        # drugs
        ("DRUG", "Chemical"), ("B-DRUG", "Chemical"), ("B-Medication", "Chemical"),
        # d4data/biomedical-ner-all
        ("Disease_disorder", "Disease"), ("B-Disease_disorder", "Disease"),
        ("I-Sign_symptom", "Disease"), ("B-Age", None), ("I-Lab_value", None),
        ("B-Therapeutic_procedure", None), ("B-Non[biological](Detailed_description", None),
        # genes
        ("B-GENE", "Gene"), ("Gene_or_gene_product", "Gene"), ("B-protein", "Gene"),
        # NCBI-disease
        ("SpecificDisease", "Disease"), ("DiseaseClass", "Disease"), ("Modifier", "Disease"),
        ("CompositeMention", "Disease"),
        # BioRED
        ("ChemicalEntity", "Chemical"), ("DiseaseOrPhenotypicFeature", "Disease"),
        ("GeneOrGeneProduct", "Gene"), ("CellLine", "CellLine"), ("OrganismTaxon", "Species"),
        ("SequenceVariant", "Variant"),
        # HunFlair / BENT / JNLPBA spellings
        ("B-Species", "Species"), ("Organism", "Species"), ("B-cell_line", "CellLine"),
        ("B-Cell-Line", "CellLine"), ("I-cell_type", "CellType"), ("ProteinMutation", "Variant"),
        # outside and non-entity labels
        ("O", None), ("X", None), ("[CLS]", None),
    ],
)
def test_canonical_type_default_table(label, expected):
    assert canonical_type(label) == expected


def test_default_table_maps_to_canonical_types_or_drops():
    targets = {v for v in DEFAULT_LABEL_MAP.values() if v is not None}
    assert targets <= set(labels_module.CANONICAL_TYPES)


@pytest.mark.parametrize(
    ("label", "label_map", "expected"),
    [
        ("B-DRUG", {"DRUG": "Drug"}, "Drug"),  # override a default
        ("B-Sign_symptom", {"Sign_symptom": None}, None),  # drop a default
        ("I-Sign_symptom", {"sign-symptom": None}, None),  # user keys are normalised too
        ("B-Pathogen", {"Pathogen": "Species"}, "Species"),  # extend
        ("B-Pathogen", {"B-Pathogen": "Species"}, "Species"),  # full label as the key
        ("B-Chemical", {"Pathogen": "Species"}, "Chemical"),  # the default still applies
        ("LABEL_1", {"LABEL_1": "Chemical"}, "Chemical"),
    ],
)
def test_canonical_type_label_map(label, label_map, expected):
    assert canonical_type(label, label_map) == expected


def test_unknown_label_kept_and_warned_once(caplog):
    labels_module._warned.discard("Zorblax")
    with caplog.at_level(logging.WARNING, logger="litmine.tasks.labels"):
        assert canonical_type("B-Zorblax") == "Zorblax"
        assert canonical_type("I-Zorblax") == "Zorblax"
    warnings = [r for r in caplog.records if "Zorblax" in r.getMessage()]
    assert len(warnings) == 1
    assert "label_map" in warnings[0].getMessage()


# ---------------------------------------------------------------------------------------------
# decode_entities: tokens are (start, end, word_id, label) over the text.

DECODE_CASES = [
    ("plain BIO", "aspirin and heart failure",
     [(0, 7, 0, "B-Chemical"), (8, 11, 1, "O"), (12, 17, 2, "B-Disease"), (18, 25, 3, "I-Disease")],
     [("aspirin", "Chemical"), ("heart failure", "Disease")]),
    ("I without B starts an entity", "aspirin and heart failure",
     [(0, 7, 0, "I-Chemical"), (8, 11, 1, "O"), (12, 17, 2, "I-Disease"), (18, 25, 3, "I-Disease")],
     [("aspirin", "Chemical"), ("heart failure", "Disease")]),
    ("B after I of the same type starts a new one", "aspirin ibuprofen naproxen",
     [(0, 7, 0, "B-Chemical"), (8, 17, 1, "I-Chemical"), (18, 26, 2, "B-Chemical")],
     [("aspirin ibuprofen", "Chemical"), ("naproxen", "Chemical")]),
    ("I of another type starts a new one", "lithium tremor",
     [(0, 7, 0, "B-Chemical"), (8, 14, 1, "I-Disease")],
     [("lithium", "Chemical"), ("tremor", "Disease")]),
    ("a word takes its first sub-token's label", "naloxone works",
     [(0, 2, 0, "B-Chemical"), (2, 4, 0, "O"), (4, 8, 0, "B-Disease"), (9, 14, 1, "O")],
     [("naloxone", "Chemical")]),
    ("a word whose first sub-token is O is outside", "naloxone works",
     [(0, 2, 0, "O"), (2, 4, 0, "B-Chemical"), (4, 8, 0, "I-Chemical"), (9, 14, 1, "O")],
     []),
    ("an entity never stops inside a word", "heart failure",
     [(0, 5, 0, "B-Disease"), (6, 9, 1, "I-Disease"), (9, 13, 1, "O")],
     [("heart failure", "Disease")]),
    ("hyphen is its own word", "clonidine-induced",
     [(0, 9, 0, "B-Chemical"), (9, 10, 1, "O"), (10, 17, 2, "O")],
     [("clonidine", "Chemical")]),
    ("IO scheme merges same-type neighbours", "lithium salt tremor",
     [(0, 7, 0, "Chemical"), (8, 12, 1, "Chemical"), (13, 19, 2, "Disease")],
     [("lithium salt", "Chemical"), ("tremor", "Disease")]),
    ("IOBES: S and E close the entity", "a b c d",
     [(0, 1, 0, "S-Gene"), (2, 3, 1, "S-Gene"), (4, 5, 2, "B-Gene"), (6, 7, 3, "E-Gene")],
     [("a", "Gene"), ("b", "Gene"), ("c d", "Gene")]),
    ("I after E starts a new entity", "a b c",
     [(0, 1, 0, "B-Gene"), (2, 3, 1, "E-Gene"), (4, 5, 2, "I-Gene")],
     [("a b", "Gene"), ("c", "Gene")]),
    ("label spellings are canonicalised", "lithium carbonate",
     [(0, 7, 0, "B-CHEMICAL"), (8, 17, 1, "I-chemical")],
     [("lithium carbonate", "Chemical")]),
    ("a dropped label closes the entity", "lithium 5 mg",
     [(0, 7, 0, "B-Medication"), (8, 9, 1, "B-Dosage"), (10, 12, 2, "I-Dosage")],
     [("lithium", "Chemical")]),
    ("special tokens (word id None) close the entity", "lithium tremor",
     [(0, 7, 0, "B-Chemical"), (0, 0, None, "I-Chemical"), (8, 14, 1, "I-Chemical")],
     [("lithium", "Chemical"), ("tremor", "Chemical")]),
    ("offsets with leading spaces are trimmed", "take  lithium now",
     [(0, 4, 0, "O"), (4, 13, 1, "B-Chemical"), (13, 17, 2, "O")],
     [("lithium", "Chemical")]),
    ("entity at the very end", "a lithium",
     [(0, 1, 0, "O"), (2, 9, 1, "B-Chemical")],
     [("lithium", "Chemical")]),
    ("nothing", "", [], []),
]


@pytest.mark.parametrize(("text", "tokens", "expected"), [c[1:] for c in DECODE_CASES],
                         ids=[c[0] for c in DECODE_CASES])
def test_decode_entities(text, tokens, expected):
    spans = decode_entities(text, [(s, e) for s, e, _, _ in tokens], [w for _, _, w, _ in tokens],
                            [lbl for *_, lbl in tokens])
    assert [(text[s:e], t) for s, e, t, _ in spans] == expected
    for start, end, _, score in spans:
        assert text[start:end] == text[start:end].strip()
        assert score == 1.0


def test_decode_entities_label_map_drops_and_renames():
    text = "fever and lithium"
    tokens = [(0, 5), (6, 9), (10, 17)]
    labels = ["B-Sign_symptom", "O", "B-DRUG"]
    assert [t for *_, t, _ in decode_entities(text, tokens, [0, 1, 2], labels)] == [
        "Disease", "Chemical"]
    spans = decode_entities(text, tokens, [0, 1, 2], labels,
                            label_map={"Sign_symptom": None, "DRUG": "Drug"})
    assert [(text[s:e], t) for s, e, t, _ in spans] == [("lithium", "Drug")]


def test_decode_entities_score_is_mean_type_probability_over_words():
    text = "naloxone and heart failure"
    offsets = [(0, 2), (2, 8), (9, 12), (13, 18), (19, 26)]
    word_ids = [0, 0, 1, 2, 3]
    labels = ["B-Chemical", "I-Chemical", "O", "B-Disease", "I-Disease"]
    type_probs = {"Chemical": [0.9, 0.7, 0.1, 0.0, 0.0], "Disease": [0.0, 0.1, 0.1, 0.6, 0.8]}
    spans = decode_entities(text, offsets, word_ids, labels, type_probs)
    assert [(text[s:e], t) for s, e, t, _ in spans] == [("naloxone", "Chemical"),
                                                        ("heart failure", "Disease")]
    assert spans[0][3] == pytest.approx(0.9)  # the first sub-token decides the word
    assert spans[1][3] == pytest.approx(0.7)  # mean over the two words
