"""CID relation scores on gold PubTator documents: BioCreative V CDR's document-level CID sets."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from litmine.tasks.scoring import Span, concept_key, score_spans


def relation_spans(pmid: str, pairs: Iterable[tuple[str, str]]) -> list:
    """Scoring spans for (chemical ID, disease ID) pairs of a document (type "CID")."""
    return [Span(pmid, -1, -1, "CID", f"{c} -> {d}", f"{c}|{d}") for c, d in pairs]


def score_relations(gold_docs: Sequence, predicted: Iterable[tuple[str, str, str]]):
    """BioCreative V CDR CID scores: sets of (pmid, chemical MeSH, disease MeSH).

    `predicted`: (pmid, chemical_id, disease_id) triples. Returns
    `litmine.tasks.scoring.Scores` (level "relation", one type "CID").
    """
    gold = [s for d in gold_docs for s in
            relation_spans(d.pmid, [(a, b) for t, a, b in d.relations if t == "CID"])]
    by_doc: dict[str, list] = defaultdict(list)
    for pmid, c, d in predicted:
        by_doc[pmid].append((c, d))
    pred = [s for pmid, pairs in by_doc.items() for s in relation_spans(pmid, pairs)]
    return score_spans(gold, pred, types=["CID"], pmids=[d.pmid for d in gold_docs],
                       key=concept_key, level="relation")
