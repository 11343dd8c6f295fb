"""Label names -> canonical types, and per-token labels -> entity spans (pure functions)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from litmine.tasks.ner import labels as labels_module
from litmine.tasks.records import CANONICAL_TYPES
from litmine.tasks.ner.labels import (
    DEFAULT_LABEL_MAP,
    canonical_type,
    compile_labels,
    decode_entities,
    decode_spans,
    split_bio,
)


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
    assert targets <= set(CANONICAL_TYPES)


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
    with caplog.at_level(logging.WARNING, logger="litmine.tasks.ner.labels"):
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


# ---------------------------------------------------------------------------------------------
# decode_spans: the engine's numpy decoder must give decode_entities's spans and scores exactly.

def _one_hot(labels: list[str], names: list[str], rng=None) -> np.ndarray:
    """Probabilities whose argmax is each token's label (random elsewhere when rng is given)."""
    probs = np.full((len(labels), len(names)), 0.01, np.float32)
    if rng is not None:
        probs = rng.uniform(0.0, 0.3, probs.shape).astype(np.float32)
    for k, label in enumerate(labels):
        probs[k, names.index(label)] = 0.9
    return probs / probs.sum(1, keepdims=True)


def _arrays(tokens):
    offsets = np.array([(s, e) for s, e, _, _ in tokens], np.int32).reshape(-1, 2)
    word_ids = np.array([-1 if w is None else w for _, _, w, _ in tokens], np.int64)
    return offsets, word_ids


def assert_same_spans(got, expected):
    assert [g[:3] for g in got] == [e[:3] for e in expected]
    assert [g[3] for g in got] == pytest.approx([e[3] for e in expected], abs=1e-6)


def _reference(text, offsets, word_ids, probs, names, label_map=None):
    table = compile_labels(names, label_map)
    labels = [names[k] for k in probs.argmax(1)]
    type_probs = {t: probs @ table.type_columns[:, j] for j, t in enumerate(table.types)}
    return decode_entities(text, [tuple(o) for o in offsets.tolist()],
                           [None if w < 0 else w for w in word_ids.tolist()], labels, type_probs,
                           label_map)


@pytest.mark.parametrize(("text", "tokens", "expected"), [c[1:] for c in DECODE_CASES],
                         ids=[c[0] for c in DECODE_CASES])
def test_decode_spans_first_matches_decode_entities(text, tokens, expected):
    names = ["O", *dict.fromkeys(lbl for *_, lbl in tokens if lbl != "O")]
    offsets, word_ids = _arrays(tokens)
    probs = _one_hot([lbl for *_, lbl in tokens], names)
    spans = decode_spans(text, offsets, word_ids, probs, compile_labels(names), "first")
    assert [(text[s:e], t) for s, e, t, _ in spans] == expected
    assert_same_spans(spans, _reference(text, offsets, word_ids, probs, names))


@pytest.mark.parametrize("seed", range(40))
def test_decode_spans_first_matches_decode_entities_on_random_tokens(seed):
    """Random label soups: BIO and IOBES prefixes, dropped labels, word-less and empty tokens."""
    rng = np.random.default_rng(seed)
    names = ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease", "E-Disease", "S-Gene",
             "Gene", "B-Dosage", "I-SpecificDisease"]
    text, tokens, word = "", [], -1
    for _ in range(int(rng.integers(1, 60))):
        kind = rng.choice(["word", "piece", "special", "empty", "space"], p=[.5, .3, .08, .06, .06])
        if kind == "special":
            tokens.append((len(text), len(text), None))
            continue
        if kind in ("word", "space") or word < 0:
            text += " " if text else ""
            word += 1
        if kind == "empty":
            tokens.append((len(text), len(text), word))
            continue
        start = len(text) - (1 if kind == "space" and text.endswith(" ") else 0)
        text += "abcdefgh"[: int(rng.integers(1, 6))]
        tokens.append((start, len(text), word))
    labels = [str(rng.choice(names)) for _ in tokens]
    offsets, word_ids = _arrays([(s, e, w, None) for s, e, w in tokens])
    probs = _one_hot(labels, names, rng)
    label_map = {"Dosage": None} if seed % 2 else None
    got = decode_spans(text, offsets, word_ids, probs, compile_labels(names, label_map), "first")
    assert_same_spans(got, _reference(text, offsets, word_ids, probs, names, label_map))


# Sub-tokens as (start, end, word_id, label): "simple" follows transformers' pipeline.
SIMPLE_CASES = [
    ("sub-tokens keep their own labels", "naloxone works",
     [(0, 2, 0, "B-Chemical"), (2, 4, 0, "O"), (4, 8, 0, "B-Disease"), (9, 14, 1, "O")],
     [("na", "Chemical"), ("xone", "Disease")]),
    ("I after O starts an entity", "a b",
     [(0, 1, 0, "O"), (2, 3, 1, "I-Chemical")], [("b", "Chemical")]),
    ("B splits even inside a word", "lithium",
     [(0, 3, 0, "B-Chemical"), (3, 7, 0, "B-Chemical")], [("lit", "Chemical"), ("hium", "Chemical")]),
    ("I of another type starts a new group", "ab",
     [(0, 1, 0, "B-Chemical"), (1, 2, 0, "I-Disease")], [("a", "Chemical"), ("b", "Disease")]),
    ("groups by the raw tag, then canonicalises", "a b",
     [(0, 1, 0, "B-SpecificDisease"), (2, 3, 1, "I-DiseaseClass")],
     [("a", "Disease"), ("b", "Disease")]),
    ("E- is not understood: its own tag", "a b",
     [(0, 1, 0, "B-Gene"), (2, 3, 1, "E-Gene")], [("a", "Gene"), ("b", "Gene")]),
]


@pytest.mark.parametrize(("text", "tokens", "expected"), [c[1:] for c in SIMPLE_CASES],
                         ids=[c[0] for c in SIMPLE_CASES])
def test_decode_spans_simple_is_the_pipeline_rule(text, tokens, expected):
    names = ["O", *dict.fromkeys(lbl for *_, lbl in tokens if lbl != "O")]
    offsets, word_ids = _arrays(tokens)
    probs = _one_hot([lbl for *_, lbl in tokens], names)
    spans = decode_spans(text, offsets, word_ids, probs, compile_labels(names), "simple")
    assert [(text[s:e], t) for s, e, t, _ in spans] == expected
    for (s, e, _, score), tok in zip(spans, tokens):
        assert 0.0 < score <= 1.0


def test_decode_spans_simple_score_is_mean_top_probability():
    names = ["O", "B-Chemical", "I-Chemical"]
    probs = np.array([[0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.9, 0.05, 0.05]], np.float32)
    offsets = np.array([(0, 3), (3, 7), (8, 10)], np.int32)
    spans = decode_spans("lithium is", offsets, np.array([0, 0, 1]), probs,
                         compile_labels(names), "simple")
    assert_same_spans(spans, [(0, 7, "Chemical", 0.7)])


def test_decode_spans_rejects_unknown_aggregation():
    with pytest.raises(ValueError, match="aggregation"):
        decode_spans("a", np.array([(0, 1)]), np.array([0]), np.ones((1, 1), np.float32),
                     compile_labels(["O"]), "max")
