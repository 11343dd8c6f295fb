"""The linker's fuzzy level: cosine similarity of character n-gram TF-IDF vectors of names.

The vectors are scikit-learn's `TfidfVectorizer(analyzer="char_wb", ngram_range=(n, n),
sublinear_tf=True)` (as scispaCy's entity linker: Neumann et al. 2019, "ScispaCy: fast and
robust models for biomedical NLP", BioNLP), computed here with the same arithmetic in the same
order, so that the matrices and the similarities are the same to the last bit
(`tests/unit/test_fuzzy_index.py` compares them with scikit-learn's):

- a name's n-grams are those of each whitespace-separated word padded with one space on each
  side (a padded word shorter than n counts once, whole);
- a term's weight is (1 + ln count) x idf, idf = ln((1 + names) / (1 + names with it)) + 1;
- each vector is scaled to unit length; a query keeps only the index's n-grams.

An index is plain numpy and scipy arrays, so it pickles with the linker (`load_linker`'s disk
cache): a process loads it instead of fitting it again (seconds of Python holding the GIL, while
the NER pass runs beside it) and does not import scikit-learn.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


def char_ngrams(text: str, n: int) -> list[str]:
    """The n-grams of `text` as scikit-learn's ``char_wb`` analyzer cuts them (lowercased)."""
    out = []
    for word in text.lower().split():
        padded = f" {word} "
        if len(padded) <= n:
            out.append(padded)
        else:
            out.extend(padded[i:i + n] for i in range(len(padded) - n + 1))
    return out


class NgramIndex:
    """TF-IDF vectors of `names` (see the module docstring) and the best match of a query."""

    def __init__(self, names: Sequence[str], n: int):
        self.n = n
        counts = [Counter(char_ngrams(name, n)) for name in names]
        # scikit-learn numbers the terms as it first meets them, sorts each row by that number,
        # weighs and normalises the rows, and only then renumbers the columns alphabetically
        # (without sorting the rows again): the same order here, so that each row's squares
        # are summed in the same order and the weights agree to the last bit.
        first_seen: dict[str, int] = {}
        for c in counts:
            for term in c:
                first_seen.setdefault(term, len(first_seen))
        terms = sorted(first_seen)
        self.vocabulary = {term: j for j, term in enumerate(terms)}
        alphabetical = np.empty(len(terms), dtype=np.int32)
        alphabetical[list(first_seen.values())] = [self.vocabulary[t] for t in first_seen]
        matrix = _count_matrix([{first_seen[t]: v for t, v in c.items()} for c in counts],
                               len(terms))
        df = np.bincount(alphabetical[matrix.indices], minlength=len(terms))
        self.idf = np.log((1 + len(names)) / (1 + df)) + 1
        matrix.indices = alphabetical[matrix.indices]
        matrix.has_sorted_indices = False
        #: (terms, names): a query's row times this gives its cosine with every name
        self.matrix_t = self._weighted(matrix).T.tocsr()

    def _weighted(self, matrix):
        """Counts -> unit-length sublinear TF-IDF rows, in scikit-learn's order of operations."""
        matrix = matrix.astype(np.float64)
        np.log(matrix.data, matrix.data)
        matrix.data += 1
        matrix.data *= self.idf[matrix.indices]
        _unit_rows(matrix.data, matrix.indptr)
        return matrix

    def vectors(self, texts: Sequence[str]):
        """The queries' rows (n-grams the index does not hold are dropped)."""
        vocabulary = self.vocabulary
        rows = [Counter(j for t in char_ngrams(text, self.n) if (j := vocabulary.get(t)) is not None)
                for text in texts]
        return self._weighted(_count_matrix(rows, len(vocabulary)))

    def best(self, texts: Sequence[str]) -> list[tuple[int, float]]:
        """(index of the most similar name, cosine) per text; (-1, 0.0) when it shares no n-gram
        with any name. Of equal cosines, the first in the sparse product's order wins."""
        sims = (self.vectors(texts) @ self.matrix_t).tocsr()
        out = []
        for row in range(sims.shape[0]):
            start, end = sims.indptr[row], sims.indptr[row + 1]
            if start == end:
                out.append((-1, 0.0))
                continue
            k = start + int(sims.data[start:end].argmax())
            out.append((int(sims.indices[k]), float(sims.data[k])))
        return out


def _count_matrix(rows: Sequence[dict[int, int]], width: int):
    """A CSR matrix of counts, one row per {column: count}, each row's columns sorted."""
    from scipy import sparse

    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r) for r in rows])
    indices = np.fromiter((j for r in rows for j in r), dtype=np.int32, count=int(indptr[-1]))
    data = np.fromiter((v for r in rows for v in r.values()), dtype=np.float64,
                       count=int(indptr[-1]))
    matrix = sparse.csr_matrix((data, indices, indptr), shape=(len(rows), width))
    matrix.sort_indices()
    return matrix


def _unit_rows(data: np.ndarray, indptr: np.ndarray) -> None:
    """Scale each CSR row to unit length in place, summing the squares one after the other as
    scikit-learn's `normalize` does (numpy's pairwise sums could differ in the last bit)."""
    for row in range(len(indptr) - 1):
        start, end = indptr[row], indptr[row + 1]
        total = 0.0
        for value in data[start:end].tolist():
            total += value * value
        if total:
            data[start:end] /= math.sqrt(total)
