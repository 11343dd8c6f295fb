"""The pair typer: its features, its saved form, and how it re-types a head's pairs."""

from __future__ import annotations

import dataclasses
import gzip
import json
import math

import pytest

from litmine.errors import ModelError
from litmine.tasks.relations.pair_types import (
    TYPER_FILE,
    Linear,
    PairTyper,
    Relatedness,
    load_pair_typer,
    pair_features,
    save_pair_typer,
    sentence_spans,
    stem,
    words,
)
from litmine.tasks.relations.typed import CLASSES
from tests.support.aspirin_abstract import CHEM, DIS, GENE, TEXT, TITLE, spans_of

SPANS = spans_of((CHEM, "spirin"), (DIS, "cancer"), (GENE, "PTGS2"))
SENTENCES = sentence_spans(TEXT, title_length=len(TITLE))


@pytest.mark.parametrize("word, stemmed", [
    ("induced", "induc"), ("inducing", "induc"), ("induces", "induc"), ("associations", "associ"),
    ("bind", "bind"), ("uses", "uses"), ("red", "red")])
def test_stem_cuts_one_suffix_and_keeps_four_letters(word, stemmed):
    assert stem(word) == stemmed


def test_words_are_lowercase_stems_of_two_letters_or_more():
    assert words("Aspirin-induced GI bleeding, 5 mg.") == ["aspirin-induc", "gi", "bleed", "mg"]


def test_the_features_read_the_words_between_the_closest_mentions():
    f = pair_features(TEXT, SENTENCES, CHEM, DIS, SPANS)
    assert f["pt=Chemical|Disease"] == 1 and f["bias"] == 1
    # "reduced the risk of colorectal" in the title; "inhibition by ... lowers" at the end
    # (the closest mentions there: "aspirin" and "cancer", with "lowers" between)
    assert f["btw=reduc"] == 1 and f["Chemical|Disease|btw=reduc"] == 1
    assert f["btw=lower"] == 1 and "btw=inhibition" not in f
    assert f["in_title"] == 1 and f["in_last"] == 1 and f["both_title"] == 1
    assert f["nco"] == pytest.approx(2 / 5) and "noco" not in f


def test_a_pair_never_named_together_reads_the_sentences_of_either():
    spans = spans_of((GENE, "mice"), (CHEM, "daily"))  # sentences 2 and 3, never together
    f = pair_features(TEXT, SENTENCES, CHEM, GENE, spans)
    assert f["noco"] == 1 and f["noco|Chemical|Gene"] == 1 and f["nco"] == 0
    assert f["either=studi"] == pytest.approx(0.3) and f["either=given"] == pytest.approx(0.3)
    assert not any(k.startswith("btw=") for k in f)


def test_sentence_records_are_used_when_given():
    from litmine.tasks.records import Sentence

    records = [Sentence("1", 0, 0, 10, TEXT[:10]), Sentence("1", 1, 11, len(TEXT), TEXT[11:])]
    assert sentence_spans(TEXT, records) == [(0, 10), (11, len(TEXT))]
    assert sentence_spans(TEXT, title_length=len(TITLE))[0] == (0, len(TITLE))


def typer() -> PairTyper:
    # "reduc" between a pair: Negative_Correlation; otherwise Association; "conclusion" novel
    return PairTyper(("Association", "Negative_Correlation"),
                     {"btw=reduc": [-2.0, 2.0], "sent=conclusion": [0.0, 0.0]},
                     [0.5, 0.0], {"sent=conclusion": 3.0}, -1.0)


def test_retyping_keeps_p_none_and_divides_the_rest_by_the_typer():
    head = [(CHEM, DIS, [0.25, 0.7, 0.0, 0.05, 0, 0, 0, 0, 0], 0.9),
            (CHEM, GENE, [0.9, 0.02, 0.08, 0, 0, 0, 0, 0, 0], 0.1)]
    out = typer().retype(TEXT, SPANS, CLASSES, head, title_length=len(TITLE))
    assert [(a, b) for a, b, _, _ in out] == [(CHEM, DIS), (CHEM, GENE)]
    (_, _, first, novel_first), (_, _, second, novel_second) = out
    assert first[0] == 0.25 and sum(first) == pytest.approx(1)
    assert max(range(1, len(CLASSES)), key=first.__getitem__) == CLASSES.index(
        "Negative_Correlation")
    assert first[CLASSES.index("Positive_Correlation")] == 0  # a type the typer never saw
    assert second[0] == 0.9 and second[CLASSES.index("Association")] > second[
        CLASSES.index("Negative_Correlation")]  # nothing "reduced" between the gene and aspirin
    # both pairs are named in the closing sentence, whose "conclusion" (a sentence word: half
    # weight) the novelty weighs: -1 + 3 * 0.5
    assert novel_first == novel_second == pytest.approx(1 / (1 + math.exp(-0.5)))
    assert typer().retype(TEXT, SPANS, CLASSES, []) == []


def relatedness() -> Relatedness:
    # "lower" between the two: related; the head's score counts half as much as the words
    return Relatedness(Linear({"btw=lower": 4.0}, -2.0), head=0.5, weight=1.0, intercept=0.0,
                       threshold=0.4)


def test_relatedness_stacks_the_words_with_the_heads_score():
    def logit(p):
        return math.log(p / (1 - p))

    related = relatedness()
    words = 1 / (1 + math.exp(-(4.0 - 2.0)))
    expected = 1 / (1 + math.exp(-(0.5 * logit(0.3) + logit(words))))
    assert related.probability(0.3, {"btw=lower": 1.0}) == pytest.approx(expected)
    assert related.probability(0.3, {}) < related.probability(0.3, {"btw=lower": 1.0})
    assert related.probability(0.0, {}) > 0 and related.probability(1.0, {}) < 1  # clipped


def test_with_relatedness_the_typer_rescores_which_pairs_are_relations():
    with_words = dataclasses.replace(typer(), relatedness=relatedness())
    assert typer().threshold is None and with_words.threshold == 0.4
    head = [(CHEM, DIS, [0.7, 0.3, 0, 0, 0, 0, 0, 0, 0], 0.5),
            (CHEM, GENE, [0.7, 0.3, 0, 0, 0, 0, 0, 0, 0], 0.5)]
    (_, _, first, _), (_, _, second, _) = with_words.retype(TEXT, SPANS, CLASSES, head,
                                                            title_length=len(TITLE))
    # aspirin ... "lowers" ... cancer in the last sentence; nothing between aspirin and PTGS2
    assert 1 - first[0] == pytest.approx(relatedness().probability(
        0.3, pair_features(TEXT, SENTENCES, CHEM, DIS, SPANS)))
    assert first[0] < 0.7 < second[0]
    assert sum(first) == pytest.approx(1) and sum(second) == pytest.approx(1)


def test_a_saved_typer_loads_with_its_fingerprint_and_deterministic_bytes(tmp_path):
    assert load_pair_typer(tmp_path) is None
    save_pair_typer(tmp_path, typer())
    first = (tmp_path / TYPER_FILE).read_bytes()
    save_pair_typer(tmp_path, typer())
    assert (tmp_path / TYPER_FILE).read_bytes() == first
    loaded = load_pair_typer(tmp_path)
    assert loaded.types == typer().types and loaded.weights == typer().weights
    assert loaded.novelty_weights == {"sent=conclusion": 3.0} and loaded.novelty_intercept == -1
    assert len(loaded.fingerprint) == 12 and loaded.relatedness is None
    save_pair_typer(tmp_path, dataclasses.replace(typer(), relatedness=relatedness()))
    assert load_pair_typer(tmp_path).relatedness == relatedness()
    # a typer without a threshold for given IDs (saved before there was one) uses its own
    assert load_pair_typer(tmp_path).given_threshold == 0.4
    with_given = dataclasses.replace(relatedness(), given_threshold=0.55)
    save_pair_typer(tmp_path, dataclasses.replace(typer(), relatedness=with_given))
    loaded = load_pair_typer(tmp_path)
    assert loaded.relatedness == with_given
    assert (loaded.threshold, loaded.given_threshold) == (0.4, 0.55)
    assert typer().given_threshold is None  # no relatedness: the head's thresholds hold


@pytest.mark.parametrize("content, reason", [
    (b"not gzip", "Not a gzipped file"),
    (gzip.compress(b"{}", mtime=0), "features version None"),
    (gzip.compress(json.dumps({"features_version": 1}).encode(), mtime=0), "novelty"),
], ids=["not-gzip", "no-version", "no-novelty"])  # ids: pytest-xdist's workers must agree
def test_a_bad_typer_file_names_itself_and_the_fix(tmp_path, content, reason):
    (tmp_path / TYPER_FILE).write_bytes(content)
    with pytest.raises(ModelError, match=f"{TYPER_FILE} is not a pair typer.*{reason}.*"
                                         "--method pair-types"):
        load_pair_typer(tmp_path)
