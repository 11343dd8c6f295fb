"""Rewrites of disease mentions that matched no lexicon name (tasks/linking/rewrites.py)."""

import pytest

from litmine.tasks.linking.rewrites import MAX_REWRITES, disease_rewrites


@pytest.mark.parametrize("text, first, also", [
    ("inherited factor V (FV) deficiency", "factor V deficiency", None),  # modifier and aside
    ("severe chronic renal failure", "renal failure", "kidney failure"),
    ("eye malformations", "eye abnormality", None),  # head word's synonym, singular
    ("renal injury", "renal damage", "kidney injury"),  # the head word varies first
    ("lung tumours", "lung neoplasm", "pulmonary tumours"),
])
def test_disease_rewrites(text, first, also):
    out = disease_rewrites(text)
    assert out[0] == first
    assert text not in out
    if also:
        assert also in out


@pytest.mark.parametrize("text", ["glioma", "severe", "asthma"])
def test_nothing_to_rewrite(text):
    assert disease_rewrites(text) == []


def test_a_single_modifier_word_is_kept_and_rewrites_are_bounded():
    assert disease_rewrites("acute") == []
    long = " ".join(["renal cardiac hepatic pulmonary gastric"] * 2) + " injury"
    assert len(disease_rewrites(long)) <= MAX_REWRITES
    assert disease_rewrites("(aside only)") == []
