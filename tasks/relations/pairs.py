"""Chemical × disease pairs: co-occurrence within a sentence, aggregated per document."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from prefect import task
from prefect.cache_policies import NO_CACHE

from litmine.tasks.isolation import failed_pmids, isolated
from litmine.tasks.records import DocumentFailure, Mention, Pair

CHEMICAL_TYPES = frozenset({"Chemical"})
DISEASE_TYPES = frozenset({"Disease"})
_SPACE = re.compile(r"\s+")


def normalise_surface(text: str) -> str:
    """The form pairs are keyed on: case-folded, whitespace collapsed to single spaces."""
    return _SPACE.sub(" ", text).strip().casefold()


def pair_chemicals_with_diseases(mentions: Iterable[Mention]) -> list[Pair]:
    """One Pair per (pmid, chemical, disease) that co-occur in at least one sentence.

    A pair's sentences are those in which both forms occur; a form occurring twice in a sentence
    counts once. Output is sorted by (pmid, chemical, disease) so reruns are identical.
    """
    by_sentence: dict[tuple[str, int], tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for m in mentions:
        if m.type in CHEMICAL_TYPES:
            by_sentence[(m.pmid, m.sentence_index)][0].add(normalise_surface(m.text))
        elif m.type in DISEASE_TYPES:
            by_sentence[(m.pmid, m.sentence_index)][1].add(normalise_surface(m.text))
    sentences: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    for (pmid, index), (chemicals, diseases) in by_sentence.items():
        for chemical in chemicals:
            for disease in diseases:
                sentences[(pmid, chemical, disease)].add(index)
    return [
        Pair(pmid=pmid, chemical=chemical, disease=disease, n_sentences=len(indexes),
             sentence_indexes=tuple(sorted(indexes)), method="cooccurrence")
        for (pmid, chemical, disease), indexes in sorted(sentences.items())
    ]


@task(name="pair-chemicals-with-diseases", cache_policy=NO_CACHE)
def pair_entities(mentions: list[Mention]) -> tuple[list[Pair], list[DocumentFailure]]:
    """Prefect task: co-occurrence pairs of a batch's mentions, document by document (a document
    that raises is a failure of stage "pairs", the others go on)."""
    by_pmid: dict[str, list[Mention]] = defaultdict(list)
    for m in mentions:
        by_pmid[m.pmid].append(m)
    pairs: list[Pair] = []
    failures: list[DocumentFailure] = []
    for pmid in sorted(by_pmid):
        with isolated("pairs", pmid, failures):
            pairs += pair_chemicals_with_diseases(by_pmid[pmid])
    failed = failed_pmids(failures)
    return [p for p in pairs if p.pmid not in failed], failures
