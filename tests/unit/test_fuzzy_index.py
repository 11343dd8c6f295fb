"""The fuzzy level's n-gram index gives scikit-learn's TF-IDF vectors to the last bit, pickles
with the linker, and a process that loads the cached linker does not import scikit-learn."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from litmine.tasks.linking.fuzzy import NgramIndex, char_ngrams
from litmine.tasks.linking.lexicon import Lexicon
from litmine.tasks.linking.normalise import Linker, normalise_name

NAMES = [
    "renal failure", "acute renal failure", "failure renal", "kidney failure chronic",
    "cisplatin", "cis diamminedichloroplatinum", "platinol", "a", "ab", "abc", "aaaa aaaa",
    "beta blocker", "betablocker", "alpha 2 adrenergic receptor agonist", "hepatitis b",
    "2 4 dinitrophenol", "nausea and vomiting", "x ray", "o o o o", "lupus erythematosus systemic",
    "ω 3 fatty acid", "naïve",
]
QUERIES = ["renal failre", "acute kidney injuries", "cisplatinum", "betablockers", "xyz", "",
           "a", "aaaa", "nausea", "Lupus  Erythematosus", "omega 3 fatty acids", "qqqq zzzz"]


def _sklearn(names):
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), sublinear_tf=True,
                                 dtype=np.float64)
    return vectorizer, vectorizer.fit_transform(names).T.tocsr()


@pytest.mark.parametrize("text, grams", [
    ("ab", [" ab", "ab "]),
    ("a", [" a "]),  # a padded word of n characters or fewer counts once, whole
    ("A b", [" a ", " b "]),
    ("abc  d", [" ab", "abc", "bc ", " d "]),
    ("", []),
])
def test_ngrams_are_cut_as_scikit_learns_char_wb(text, grams):
    assert char_ngrams(text, 3) == grams
    analyzer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3)).build_analyzer()
    assert analyzer(text) == grams


def test_the_index_is_scikit_learns_to_the_last_bit():
    vectorizer, matrix_t = _sklearn(NAMES)
    index = NgramIndex(NAMES, 3)
    assert index.vocabulary == vectorizer.vocabulary_
    assert np.array_equal(index.idf, vectorizer.idf_)
    for ours, theirs in ((index.matrix_t, matrix_t),
                         (index.vectors(QUERIES), vectorizer.transform(QUERIES))):
        assert np.array_equal(ours.indptr, theirs.indptr)
        assert np.array_equal(ours.indices, theirs.indices)
        assert np.array_equal(ours.data, theirs.data)  # exact: ties between names stay resolved alike


def test_best_match_is_the_former_scikit_learn_lookup():
    vectorizer, matrix_t = _sklearn(NAMES)
    sims = (vectorizer.transform(QUERIES) @ matrix_t).tocsr()
    expected = []
    for row in range(sims.shape[0]):
        start, end = sims.indptr[row], sims.indptr[row + 1]
        k = start + int(sims.data[start:end].argmax()) if end > start else None
        expected.append((int(sims.indices[k]), float(sims.data[k])) if k is not None else (-1, 0.0))
    found = NgramIndex(NAMES, 3).best(QUERIES)
    assert found == expected
    assert found[QUERIES.index("xyz")] == (-1, 0.0) and found[QUERIES.index("")] == (-1, 0.0)
    # "renal failure" and "failure renal" have the same n-grams: the tie goes as it went
    assert NAMES[found[0][0]] in ("renal failure", "failure renal") and 0.5 < found[0][1] < 1
    assert found[QUERIES.index("Lupus  Erythematosus")][0] == NAMES.index("lupus erythematosus systemic")


def test_the_fuzzy_index_travels_in_the_linkers_pickle(tmp_path):
    lex = Lexicon()
    lex.add_source("corpus:test")
    for name, cid in [("renal failure", "D051437"), ("kidney failure", "D051437"),
                      ("seizures", "D012640")]:
        lex.add("Disease", name, cid, "corpus:test")
    lex.add("Chemical", "cisplatin", "D002945", "corpus:test")
    path = tmp_path / "linker.pkl"
    path.write_bytes(pickle.dumps(Linker(lex, fuzzy_threshold=0.6)))
    code = ("import pickle, sys; linker = pickle.load(open(sys.argv[1], 'rb')); "
            "link = linker.link('renal failures acute', 'Disease'); "
            "print(link.concept_id, link.method, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["D051437", "fuzzy", "False"]
    assert normalise_name("renal failures acute") == "renal failure acute"
