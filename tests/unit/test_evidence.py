"""The pair typer's evidence: the sentences naming a pair, embedded beside its words."""

from __future__ import annotations

import dataclasses

import pytest

from litmine.errors import ModelError
from litmine.tasks.relations.evidence import EVIDENCE_PREFIX, evidence_features, evidence_text, sentence_at
from litmine.tasks.relations.pair_types import (
    TYPER_FILE,
    PairTyper,
    load_pair_typer,
    pair_features,
    save_pair_typer,
    sentence_spans,
)
from litmine.tasks.relations.typed import CLASSES
from litmine.tasks.semantic.embeddings import DEFAULT_EMBED_MODEL
from tests.support.aspirin_abstract import CHEM, DIS, GENE, TEXT, TITLE, spans_of

SPANS = spans_of((CHEM, "Aspirin"), (CHEM, "aspirin"), (DIS, "cancer"), (GENE, "PTGS2"))
SENTENCES = sentence_spans(TEXT, title_length=len(TITLE))


def test_the_evidence_marks_both_concepts_in_the_sentences_naming_both():
    text = evidence_text(TEXT, SENTENCES, CHEM, DIS, SPANS)
    assert text == ("Chemical Disease: @A$ reduced the risk of colorectal @B$. In conclusion, "
                    "PTGS2 inhibition by @A$ lowers @B$ risk.")
    assert evidence_text(TEXT, SENTENCES, DIS, CHEM, SPANS) == text  # unordered, as BioRED's types


def test_a_pair_never_named_together_reads_the_first_sentence_of_each():
    spans = {GENE: [(TEXT.find("PTGS2"), TEXT.find("PTGS2") + 5)], DIS: SPANS[DIS][:1]}
    assert evidence_text(TEXT, SENTENCES, GENE, DIS, spans) == (
        "Disease Gene: Aspirin reduced the risk of colorectal @A$. We studied @B$ in mice.")
    assert [sentence_at(SENTENCES, p) for p in (0, len(TITLE) + 2, len(TEXT) + 5)] == [0, 1, 3]


def test_evidence_features_are_the_weighted_embedding():
    one, two = evidence_features(["a sentence", "a sentence"], DEFAULT_EMBED_MODEL, 2.0,
                                 device="cpu")
    assert one == two and len(one) == 384 and set(one) == {f"{EVIDENCE_PREFIX}{i}" for i in
                                                           range(384)}
    assert sum(v * v for v in one.values()) == pytest.approx(4.0, rel=1e-4)  # unit vector x 2
    assert evidence_features([], DEFAULT_EMBED_MODEL, 2.0) == []


def _typer(evidence: dict | None) -> PairTyper:
    return PairTyper(types=("Association", "Negative_Correlation"),
                     weights={"btw=reduc": [0.0, 2.0], f"{EVIDENCE_PREFIX}0": [0.0, 30.0],
                              f"{EVIDENCE_PREFIX}1": [30.0, 0.0]},
                     intercepts=[0.0, 0.0], novelty_weights={}, novelty_intercept=0.0,
                     evidence=evidence)


def test_the_typer_reads_the_evidence_of_the_pairs_it_keeps(tmp_path):
    evidence = {"model": DEFAULT_EMBED_MODEL, "weight": 2.0}
    typer = _typer(evidence)
    head = [(CHEM, DIS, [0.2, 0.8, 0, 0, 0, 0, 0, 0, 0], 0.5),    # kept at 0.5
            (CHEM, GENE, [0.9, 0.1, 0, 0, 0, 0, 0, 0, 0], 0.5)]   # not kept
    out = typer.retype(TEXT, SPANS, CLASSES, head, title_length=len(TITLE), typed_from=0.5)
    kept_words = pair_features(TEXT, SENTENCES, CHEM, DIS, SPANS)
    kept_evidence = typer.evidence_for(TEXT, SENTENCES, [(CHEM, DIS)], SPANS, device="cpu")[0]
    with_evidence = typer.type_probabilities({**kept_words, **kept_evidence})
    assert with_evidence != typer.type_probabilities(kept_words)
    assert out[0][2][CLASSES.index("Negative_Correlation")] == pytest.approx(
        0.8 * with_evidence["Negative_Correlation"])
    other = typer.type_probabilities(pair_features(TEXT, SENTENCES, CHEM, GENE, SPANS))
    assert out[1][2][CLASSES.index("Association")] == pytest.approx(0.1 * other["Association"])
    # without evidence the same weights read the words alone
    plain = _typer(None).retype(TEXT, SPANS, CLASSES, head, title_length=len(TITLE))
    assert plain[0][2][CLASSES.index("Negative_Correlation")] == pytest.approx(
        0.8 * typer.type_probabilities(kept_words)["Negative_Correlation"])
    assert _typer(None).evidence_for(TEXT, SENTENCES, [(CHEM, DIS)], SPANS) == [{}]
    save_pair_typer(tmp_path, typer)
    assert load_pair_typer(tmp_path).evidence == evidence


def test_a_typer_whose_evidence_names_no_encoder_is_refused(tmp_path):
    save_pair_typer(tmp_path, dataclasses.replace(_typer({"model": 3, "weight": 2.0})))
    with pytest.raises(ModelError, match=f"{TYPER_FILE} is not a pair typer.*evidence"):
        load_pair_typer(tmp_path)
