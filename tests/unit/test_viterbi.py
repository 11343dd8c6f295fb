"""Constrained Viterbi decoding: the best label sequence the tagging scheme allows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from litmine.tasks.ner.labels import compile_labels, decode_spans
from litmine.tasks.ner.viterbi import best_sequence, constrained_labels, violations

BIO = ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]


def _rules(names):
    return compile_labels(names).rules


def _allowed(sequence, rules) -> bool:
    return not violations(np.array(sequence, np.int64), rules)


def test_bio_transitions():
    rules = _rules(BIO)
    o, b_chem, i_chem, b_dis, i_dis = range(5)
    assert rules.constrains
    assert not rules.may_start[i_chem] and rules.may_start[b_chem] and rules.may_start[o]
    assert rules.allowed[b_chem, i_chem] and rules.allowed[i_chem, i_chem]
    assert not rules.allowed[o, i_chem]          # I after O
    assert not rules.allowed[b_dis, i_chem]      # I after another type
    assert not rules.allowed[i_dis, i_chem]
    assert rules.allowed[i_dis, b_chem] and rules.allowed[i_chem, o]


def test_bioes_end_closes_and_iob1_types_are_free():
    names = ["O", "B-Gene", "I-Gene", "E-Gene", "S-Gene", "I-Species"]
    rules = _rules(names)
    o, b, i, e, s, i_species = range(6)
    assert rules.allowed[b, e] and rules.allowed[i, e]
    assert not rules.allowed[e, i] and not rules.allowed[s, e] and not rules.allowed[o, e]
    # Species has no starting label (IOB1's "I-" starts an entity): never constrained.
    assert rules.may_start[i_species] and rules.allowed[o, i_species]


def test_schemes_without_continuations_are_not_constrained():
    assert not _rules(["O", "B-Gene", "S-Chemical"]).constrains
    assert not _rules(["O", "Gene", "Chemical"]).constrains  # IO scheme


@pytest.mark.parametrize("seed", range(30))
def test_best_sequence_is_the_best_allowed_one(seed):
    """Against brute force over every sequence of up to 5 words."""
    rng = np.random.default_rng(seed)
    names = BIO if seed % 2 else ["O", "B-Gene", "I-Gene", "E-Gene", "S-Gene", "Gene"]
    rules = _rules(names)
    n = int(rng.integers(1, 6))
    probs = rng.dirichlet(np.ones(len(names)) * 0.5, size=n)
    got = best_sequence(probs, rules)
    assert _allowed(got, rules)

    def score(seq):
        return float(np.log(np.maximum(probs[np.arange(n), list(seq)], 1e-12)).sum())

    best = max(score(seq) for seq in itertools.product(range(len(names)), repeat=n)
               if _allowed(seq, rules))
    assert score(got) == pytest.approx(best)


def test_allowed_argmax_is_kept_without_decoding():
    rules = _rules(BIO)
    labels = np.array([1, 2, 0, 3])
    probs = np.zeros((4, 5))  # never read: the sequence is allowed
    assert constrained_labels(labels, probs, rules) is labels


def _decode(words, probs, aggregation):
    text = " ".join(words)
    offsets, start = [], 0
    for w in words:
        offsets.append((start, start + len(w)))
        start += len(w) + 1
    return [(text[s:e], t, round(score, 4)) for s, e, t, score in
            decode_spans(text, np.array(offsets), np.arange(len(words)),
                         np.array(probs, np.float32), compile_labels(BIO), aggregation)]


#        O     B-Chem I-Chem B-Dis  I-Dis
CLEFT = [[.05, .0, .0, .9, .05],   # cleft
         [.05, .0, .0, .05, .9],   # lip
         [.55, .0, .0, .0, .45],   # and
         [.3, .0, .0, .1, .6]]     # palate


def test_viterbi_keeps_an_entity_whole_where_word_by_word_cuts_it():
    assert _decode(["cleft", "lip", "and", "palate"], CLEFT, "first") == [
        ("cleft lip", "Disease", 0.95), ("palate", "Disease", 0.7)]
    # Scores are the words' probabilities of the type, as before: (0.95 + 0.95 + 0.45 + 0.7) / 4
    assert _decode(["cleft", "lip", "and", "palate"], CLEFT, "viterbi") == [
        ("cleft lip and palate", "Disease", 0.7625)]


def test_viterbi_does_not_start_an_entity_with_a_continuation():
    probs = [[.6, .0, .0, .0, .4],     # the: O, but I-Disease is close
             [.0, .0, .0, .1, .9]]     # failure: I-Disease
    assert _decode(["the", "failure"], probs, "first") == [("failure", "Disease", 1.0)]
    # "O I" is forbidden and "the" cannot be B-Disease (0.0): the best allowed is "O B" (0.06).
    assert _decode(["the", "failure"], probs, "viterbi") == [("failure", "Disease", 1.0)]
    probs[0] = [.45, .0, .0, .1, .45]  # now "the failure" as B I (0.1 * 0.9) beats O B (0.045)
    assert _decode(["the", "failure"], probs, "viterbi") == [("the failure", "Disease", 0.775)]
