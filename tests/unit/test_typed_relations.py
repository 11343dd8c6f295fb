"""BioRED typed relations: concept IDs, candidate pairs, gold relations with bad lines, the
BioCreative VIII scores, evidence rows; the pair model's typed head on a tiny encoder."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from litmine.tasks.records import Mention, Sentence
from litmine.tasks.linking.concept_ids import mention_concept_ids
from litmine.tasks.relations.typed import (CLASSES, RELATION_TYPES, TypedRelation,
                                           candidate_pairs, decide, decide_typed, typed_spans)
from litmine.tasks.relations.typed_errors import format_relation_errors, list_relation_errors
from litmine.tasks.relations.typed_gold import (concept_entity_types, entity_pair,
                                                gold_relations, score_by_entity_pair,
                                                score_relations, summarise_issues)
from litmine.tasks.relations.typed_rows import (evidence_indexes, keep_relatable,
                                                relation_rows)
from litmine.tasks.sources.pubtator import read_pubtator


def test_concept_ids_split_composites_but_never_a_variant():
    assert mention_concept_ids("Gene", "3172,3651;6927") == ["3172", "3651", "6927"]
    assert mention_concept_ids("Disease", "D001|D002") == ["D001", "D002"]
    assert mention_concept_ids("Variant", "c|SUB|T|1799|A") == ["c|SUB|T|1799|A"]
    assert mention_concept_ids("Chemical", "-") == [] and mention_concept_ids("Gene", None) == []


def test_candidate_pairs_are_the_type_pairs_biored_relates_once_each():
    keys = [("Gene", "2"), ("Disease", "D1"), ("Disease", "D2"), ("Chemical", "C1"),
            ("Species", "9606"), ("Gene", "1"), ("Gene", "2")]
    pairs = candidate_pairs(keys)
    assert (("Disease", "D1"), ("Disease", "D2")) not in pairs  # Disease-Disease: none in BioRED
    assert all("Species" not in (a[0], b[0]) for a, b in pairs)
    assert (("Gene", "1"), ("Gene", "2")) in pairs and all(a < b for a, b in pairs)
    assert len(pairs) == len(set(pairs)) == 2 + 2 + 2 * 2 + 1  # C-D, C-G, D-G, G-G


def test_typed_spans_skip_untyped_unlinked_and_empty_mentions():
    ms = [Mention("1", 0, 4, "BRCA", "Gene", concept_id="672"),
          Mention("1", 5, 9, "mice", "Species", concept_id="10090"),
          Mention("1", 10, 10, "", "Chemical", concept_id="D1"),
          Mention("1", 11, 15, "pain", "Disease")]
    assert typed_spans(ms) == {("Gene", "672"): [(0, 4)]}


BAD = """\
7|t|Aspirin and BRCA1 in breast cancer.
7|a|Aspirin lowered BRCA1.
7\t0\t7\tAspirin\tChemicalEntity\tD001241
7\t12\t17\tBRCA1\tGeneOrGeneProduct\t672
7\t21\t34\tbreast cancer\tDiseaseOrPhenotypicFeature\tD001943
7\tNegative_Correlation\tD001241\t672\tNovel
7\tCauses\tD001241\tD001943\tNo
7\tAssociation\t672\t999999\tNo
7\tBind\t672\t672\tNo
7\tPositive_Correlation\t672\tD001241\tNo
7\tAssociation\t672\tD001943

"""


def test_bad_relation_lines_are_reported_counted_and_never_fatal():
    docs, _ = read_pubtator(io.StringIO(BAD))
    issues = []
    gold = gold_relations(docs[0], issues)
    assert gold == {frozenset({"D001241", "672"}): ("Negative_Correlation", "Novel"),
                    frozenset({"672", "D001943"}): ("Association", "")}
    assert [i.kind for i in issues] == ["unknown-type", "unknown-concept", "self-pair",
                                        "duplicate"]
    assert all(i.pmid == "7" for i in issues) and "Causes" in issues[0].line
    assert "999999" in issues[1].message
    assert summarise_issues(issues) == ("4 relation lines left out: duplicate=1, self-pair=1, "
                                        "unknown-concept=1, unknown-type=1")


def test_cid_lines_read_as_positive_correlation():
    text = ("8|t|Drug causes rash.\n8\t0\t4\tDrug\tChemical\tD1\n8\t12\t16\trash\tDisease\tD2\n"
            "8\tCID\tD1\tD2\n\n")
    docs, _ = read_pubtator(io.StringIO(text))
    assert gold_relations(docs[0]) == {frozenset({"D1", "D2"}): ("Positive_Correlation", "")}


def test_scores_count_pairs_types_and_novelty_separately():
    gold = {"1": {frozenset({"a", "b"}): ("Bind", "Novel"),
                  frozenset({"a", "c"}): ("Association", "No")},
            "2": {frozenset({"x", "y"}): ("Association", "No")}}
    predicted = {"1": [("b", "a", "Bind", "No"),  # pair + type, wrong novelty
                       ("a", "b", "Association", "No"),  # the same pair again: ignored
                       ("a", "c", "Association", "No"),  # all three right
                       ("c", "d", "Bind", "No")],  # not gold
                 "3": [("p", "q", "Bind", "No")]}  # a document without gold
    scores = score_relations(predicted, gold)
    assert scores["pair"] == pytest.approx({"tp": 2, "fp": 2, "fn": 1, "precision": 0.5,
                                            "recall": 2 / 3, "f1": 4 / 7})
    assert scores["pair+type"]["tp"] == 2 and scores["pair+type+novelty"]["tp"] == 1
    assert score_relations({}, {})["pair"]["f1"] == 0.0


def test_scores_per_entity_pair_add_up_and_say_what_linking_left_reachable():
    """A gold pair counts under its gold entity types; a predicted pair under the gold pair's
    types when it is one, else under the types its concepts were found with; "reachable": the
    gold pairs whose two IDs the predictions' mentions carry."""
    gold = {"1": {frozenset({"C1", "D1"}): ("Positive_Correlation", "Novel"),
                  frozenset({"G1", "D1"}): ("Association", "No"),
                  frozenset({"G1", "G2"}): ("Bind", "No")},
            "2": {frozenset({"C2", "D2"}): ("Negative_Correlation", "No")}}
    gold_types = {"1": {"C1": "Chemical", "D1": "Disease", "G1": "Gene", "G2": "Gene"},
                  "2": {"C2": "Chemical", "D2": "Disease"}}
    # linking found D1 as a Chemical (a typing slip), missed G2 and D2, found an extra gene G3
    found = {"1": {"C1": "Chemical", "D1": "Chemical", "G1": "Gene", "G3": "Gene"},
             "2": {"C2": "Chemical"}}
    predicted = {"1": [("D1", "C1", "Positive_Correlation", "No"),  # gold: its gold types
                       ("G1", "G3", "Bind", "No"),  # not gold: the types it was found with
                       ("G1", "X9", "Bind", "No")],  # an ID no mention carries
                 "2": [("C2", "D2", "Association", "No")]}
    scores = score_by_entity_pair(predicted, gold, gold_types, found)
    assert set(scores) == {"Chemical-Disease", "Disease-Gene", "Gene-Gene", "?-Gene"}
    cd = scores["Chemical-Disease"]
    assert (cd["gold"], cd["reachable"]) == (2, 1)  # C2-D2: D2 was not found
    assert (cd["pair"]["tp"], cd["pair"]["fp"], cd["pair"]["fn"]) == (2, 0, 0)
    assert cd["pair+type"]["tp"] == 1 and cd["pair+type+novelty"]["tp"] == 0
    assert (scores["Disease-Gene"]["gold"], scores["Disease-Gene"]["reachable"]) == (1, 1)
    gg = scores["Gene-Gene"]
    assert (gg["gold"], gg["reachable"], gg["pair"]["tp"], gg["pair"]["fp"]) == (1, 0, 0, 1)
    assert scores["?-Gene"]["gold"] == 0 and scores["?-Gene"]["pair"]["fp"] == 1
    total = score_relations(predicted, gold)
    for level in ("pair", "pair+type", "pair+type+novelty"):
        for count in ("tp", "fp", "fn"):
            assert sum(s[level][count] for s in scores.values()) == total[level][count]
    assert entity_pair("Gene", "Disease") == "Disease-Gene"
    assert concept_entity_types([Mention("1", 0, 3, "x", "Chemical", concept_id="D1|D2"),
                                 Mention("1", 4, 5, "y", "Disease", concept_id="D2")]) == {
        "D1": "Chemical", "D2": "Chemical"}


def test_the_entity_pair_table_shows_reach_and_f1_per_setting():
    from rich.console import Console

    from litmine.tasks.relations.evaluation import format_report, format_tables
    from litmine.tasks.relations.typed_gold import prf

    def entry(gold, reachable, tp):
        return {"gold": gold, "reachable": reachable,
                **{level: prf(tp, tp + 1, gold) for level in ("pair", "pair+type",
                                                               "pair+type+novelty")}}

    scores = {level: prf(3, 4, 5) for level in ("pair", "pair+type", "pair+type+novelty")}
    report = {"gold_ids": {"typed": scores,
                           "typed_by_entity_pair": {"Disease-Gene": entry(4, 4, 3),
                                                    "Chemical-Disease": entry(8, 8, 6)}},
              "end_to_end": {"typed": scores,
                             "typed_by_entity_pair": {"Disease-Gene": entry(4, 2, 1),
                                                      "Chemical-Disease": entry(8, 4, 3),
                                                      "?-Gene": entry(0, 0, 0)}}}
    console = Console(width=200, record=True)
    for table in format_tables(report):
        console.print(table)
    lines = [" ".join(line.split()) for line in console.export_text().splitlines()]
    rows = [line for line in lines if line.startswith(("Chemical-Disease", "Disease-Gene",
                                                       "?-Gene"))]
    # most gold pairs first, then each setting in order; reach in percent
    assert rows[0].startswith("Chemical-Disease gold_ids 8 100.00")
    assert rows[1].startswith("Chemical-Disease end_to_end 8 50.00")
    assert rows[2].startswith("Disease-Gene gold_ids 4 100.00")
    assert rows[-1] == "?-Gene end_to_end 0 – – – –"
    assert "| Disease-Gene | end_to_end | 4 | 50.00 |" in format_report(report)



def test_relation_errors_name_each_cause_and_what_the_lost_concepts_became():
    """unreachable (a concept no mention of the setting carries: its gold mentions' fate),
    missed (both found, not kept), type, novelty, spurious (with IDs no gold mention carries);
    the counts agree with `score_relations`."""
    gold = {"1": {frozenset({"C1", "D1"}): ("Positive_Correlation", "Novel"),
                  frozenset({"G1", "D1"}): ("Association", "No"),
                  frozenset({"G1", "D2"}): ("Association", "No"),
                  frozenset({"G1", "G2"}): ("Bind", "No"),
                  frozenset({"C1", "G1"}): ("Bind", "Novel")}}
    golds = {"1": [Mention("1", 0, 5, "aspirin", "Chemical", concept_id="C1"),
                   Mention("1", 10, 15, "asthma", "Disease", concept_id="D1"),
                   Mention("1", 20, 24, "TP53", "Gene", concept_id="G1"),
                   Mention("1", 30, 36, "gout", "Disease", concept_id="D2"),
                   Mention("1", 40, 44, "MDM2", "Gene", concept_id="G2")]}
    found = {"1": [Mention("1", 0, 5, "aspirin", "Chemical", concept_id="C1"),
                   Mention("1", 10, 15, "asthma", "Disease", concept_id="D1"),
                   Mention("1", 20, 24, "TP53", "Gene", concept_id="G1"),
                   Mention("1", 30, 36, "gout", "Disease", concept_id="D9"),  # mislinked
                   # MDM2 not tagged at all
                   ]}
    predicted = {"1": [("D1", "C1", "Negative_Correlation", "Novel"),  # wrong type
                       ("C1", "G1", "Bind", "No"),  # wrong novelty
                       ("G1", "D9", "Association", "No")]}  # not gold
    errors = list_relation_errors(predicted, gold, golds, found)
    by_pair = {tuple(e["pair"]): e for e in errors}
    assert by_pair[("C1", "D1")] | {} == {"pmid": "1", "pair": ["C1", "D1"], "error": "type",
                                         "gold": "Positive_Correlation Novel",
                                         "predicted": "Negative_Correlation"}
    assert by_pair[("C1", "G1")]["error"] == "novelty"
    assert by_pair[("D1", "G1")]["error"] == "missed"
    assert by_pair[("D2", "G1")]["error"] == "unreachable"
    assert by_pair[("D2", "G1")]["detail"] == "D2: 'gout' -> D9"
    assert by_pair[("G1", "G2")]["detail"] == "G2: 'MDM2' -> not tagged"
    assert by_pair[("D9", "G1")] == {"pmid": "1", "pair": ["D9", "G1"], "error": "spurious",
                                     "predicted": "Association No",
                                     "detail": "no gold mention carries D9"}
    scores = score_relations(predicted, gold)
    causes = [e["error"] for e in errors]
    assert causes.count("spurious") == scores["pair"]["fp"]
    assert causes.count("unreachable") + causes.count("missed") == scores["pair"]["fn"]
    text = format_relation_errors(errors, "BioRED relations, end_to_end")
    assert text.startswith("# BioRED relations, end_to_end\n\n")
    assert "UNREACHABLE  D2 G1  gold: Association No  (D2: 'gout' -> D9)" in text
    assert format_relation_errors([], "none").splitlines()[-1] == "no errors"

def test_decide_thresholds_on_one_minus_none_and_picks_the_likeliest_type():
    probs = [0.3] + [0.0] * len(RELATION_TYPES)
    probs[CLASSES.index("Bind")] = 0.5
    probs[CLASSES.index("Association")] = 0.2
    assert decide(probs, 0.6) == ("Bind", pytest.approx(0.7))
    assert decide(probs, 0.75) is None


def test_concepts_named_only_by_the_same_mentions_are_never_related():
    text = "ERK1/2 and MEK1 were phosphorylated."
    spans = typed_spans([Mention("1", 0, 6, "ERK1/2", "Gene", concept_id="5595|5594"),
                         Mention("1", 11, 15, "MEK1", "Gene", concept_id="5604")])
    probs = [0.1] + [0.0] * len(RELATION_TYPES)
    probs[CLASSES.index("Association")] = 0.9
    erk1, erk2, mek1 = ("Gene", "5595"), ("Gene", "5594"), ("Gene", "5604")
    scored = [(a, b, probs, 0.9) for a, b in candidate_pairs(list(spans))]
    assert {(a, b) for a, b, _, _ in scored} == {(erk2, erk1), (erk2, mek1), (erk1, mek1)}
    decided = decide_typed(scored, None, text, spans, 0.5, 0.5)
    assert {(r.first, r.second) for r in decided} == {(erk2, mek1), (erk1, mek1)}


def test_evidence_is_shared_sentences_else_the_closest_two():
    assert evidence_indexes({1, 3}, {3, 5}) == (3,)
    assert evidence_indexes({0, 6}, {3, 5}) == (5, 6)
    assert evidence_indexes(set(), {1}) == ()


def test_relation_rows_name_concepts_and_quote_evidence():
    sentences = [Sentence("5", 0, 0, 20, "BRCA1 binds aspirin."),
                 Sentence("5", 1, 21, 40, "Aspirin helps BRCA1.")]
    mentions = [Mention("5", 0, 5, "BRCA1", "Gene", sentence_index=0, concept_id="672"),
                Mention("5", 12, 19, "aspirin", "Chemical", sentence_index=0,
                        concept_id="D001241"),
                Mention("5", 21, 28, "Aspirin", "Chemical", sentence_index=1,
                        concept_id="D001241"),
                Mention("5", 35, 40, "BRCA1", "Gene", sentence_index=1, concept_id="672")]
    predicted = [TypedRelation(("Chemical", "D001241"), ("Gene", "672"), "Bind", "Novel", 0.9,
                               0.8)]
    [row] = relation_rows("5", sentences, mentions, predicted, model="m")
    assert (row.name1, row.name2, row.relation, row.novel, row.model) == (
        "aspirin", "BRCA1", "Bind", "Novel", "m")
    assert row.sentence_indexes == (0, 1) and row.evidence == ("BRCA1 binds aspirin.",
                                                               "Aspirin helps BRCA1.")



def test_a_concept_only_the_fuzzy_level_linked_is_in_no_relation():
    """`keep_relatable`: a pair whose concept every mention of which only the fuzzy level linked is
    left out; one exact mention of the concept is enough to keep it; IDs stay on the entities."""
    def mention(start, text, kind, cid, status):
        return Mention("5", start, start + len(text), text, kind, concept_id=cid,
                       link_status=status)

    mentions = [mention(0, "BRCA1", "Gene", "672", "exact"),
                mention(10, "aspirinn", "Chemical", "D001241", "fuzzy"),
                mention(30, "ibuprofenn", "Chemical", "D007052", "fuzzy"),
                mention(50, "ibuprofen", "Chemical", "D007052", "exact"),
                mention(70, "tumour", "Disease", "D009369", "rewritten")]
    pairs = [TypedRelation(("Chemical", "D001241"), ("Gene", "672"), "Bind", "Novel", 0.9, 0.8),
             TypedRelation(("Chemical", "D007052"), ("Gene", "672"), "Bind", "No", 0.9, 0.1),
             TypedRelation(("Disease", "D009369"), ("Gene", "672"), "Association", "No", 0.7,
                           0.2)]
    kept = keep_relatable(pairs, mentions)
    assert [r.first for r in kept] == [("Chemical", "D007052"), ("Disease", "D009369")]
    assert keep_relatable(pairs, []) == pairs  # concepts no mention names: nothing to judge by

def test_typed_pair_head_scores_every_pair_with_classes_and_novelty(tmp_path):
    """The pair model with a type embedding and 10 outputs on a tiny random encoder."""
    import torch
    from tests.conftest import build_tiny_bert
    from transformers import AutoModel, AutoTokenizer

    from litmine.tasks.relations.document import build_pair_model, encode_document
    from litmine.tasks.relations.typed import ENTITY_TYPES

    path = build_tiny_bert(tmp_path / "tiny")
    tokenizer = AutoTokenizer.from_pretrained(path)
    encoder = AutoModel.from_pretrained(path, add_pooling_layer=False)
    model = build_pair_model(encoder, outputs=len(CLASSES) + 1, entity_types=ENTITY_TYPES).eval()
    text = "Aspirin binds BRCA1 in breast cancer."
    spans = {("Chemical", "D1"): [(0, 7)], ("Gene", "672"): [(14, 19)],
             ("Disease", "D2"): [(23, 36)]}
    doc = encode_document(tokenizer, text, spans)
    pairs = candidate_pairs(list(doc.concepts))
    with torch.inference_mode():
        logits = model(doc.input_ids, doc.concepts, pairs, tokenizer.cls_token_id,
                       tokenizer.sep_token_id)
    assert logits.shape == (3, len(CLASSES) + 1)
    # the type embedding changes a concept's representation: same text, other type, other logits
    retyped = {("Variant" if k[0] == "Gene" else k[0], k[1]): v for k, v in spans.items()}
    doc2 = encode_document(tokenizer, text, retyped)
    pairs2 = candidate_pairs(list(doc2.concepts))
    with torch.inference_mode():
        logits2 = model(doc2.input_ids, doc2.concepts, pairs2, tokenizer.cls_token_id,
                        tokenizer.sep_token_id)
    assert not torch.allclose(logits, logits2)


def test_evaluation_corpora_keep_each_relations_novelty():
    """`load_corpus` (what `litmine evaluate` scores against, inside its `read_corpus` task) maps
    types and keeps novelty."""
    from litmine.tasks.training.corpus import load_corpus

    path = (__import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures" / "corpora"
            / "biored_relations_dev.pubtator")
    corpus = load_corpus([str(path)])
    doc = corpus.documents[0]
    assert doc.novelty and set(doc.novelty) <= {"Novel", "No"}
    assert len(doc.novelty) == len(doc.relations)
    assert {m.type for d in corpus.documents for m in d.mentions} <= {
        "Gene", "Chemical", "Disease", "Species", "Variant", "CellLine"}


def test_the_joint_method_sorts_its_files_by_their_relation_lines_and_names_a_bad_one():
    from litmine.errors import LitmineError
    from litmine.tasks.relations.registry import train_relations
    from litmine.tasks.relations.training.documents import split_by_scheme

    corpora = Path(__file__).resolve().parents[1] / "fixtures" / "corpora"
    cdr, biored = corpora / "bc5cdr_train_sample.pubtator", corpora / "biored_relations_train.pubtator"
    assert split_by_scheme([biored, cdr], "--train") == ([cdr], [biored])
    no_relations = corpora / "ncbi_disease_train_sample.pubtator"
    with pytest.raises(LitmineError, match="ncbi_disease_train_sample.pubtator has neither CID"):
        split_by_scheme([cdr, no_relations], "--train")
    with pytest.raises(LitmineError, match="give BC5CDR and BioRED files for both --train and --dev"):
        train_relations([cdr], [corpora / "bc5cdr_dev_sample.pubtator"], None, "/nonexistent/x",
                        method="joint-shared")
