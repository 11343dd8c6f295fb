"""Hybrid search: merge rankings by reciprocal rank fusion.

RRF (Cormack, Clarke & Büttcher 2009, "Reciprocal Rank Fusion outperforms Condorcet and
individual Rank Learning Methods", SIGIR): a document's score is the sum over the rankings that
hold it of 1 / (k + rank), rank counted from 1; k = 60 is the paper's constant. Only ranks are
used, so BM25 scores and cosine similarities need no common scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from litmine.tasks.records import Hit

#: RRF's constant, the value Cormack et al. (2009) fixed on their pilot data and used throughout.
RRF_K = 60
#: How many hits of each ranking are fused (the paper fused the top 1,000; the top 100 decides
#: every top 10 here, since a document below rank 100 in both scores under 2 / 161).
DEPTH = 100


def fuse_ranks(rankings: Sequence[Sequence[str]], *, k: int = RRF_K) -> list[tuple[str, float]]:
    """(id, RRF score) of every id in `rankings` (each a list of ids, best first), best first;
    ties go to the id with the better best rank, then to the smaller id."""
    scores: dict[str, float] = {}
    best: dict[str, int] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
            best[item] = min(best.get(item, rank), rank)
    return sorted(scores.items(), key=lambda x: (-x[1], best[x[0]], x[0]))


def fuse_hits(rankings: Sequence[Sequence[Hit]], *, limit: int, k: int = RRF_K) -> list[Hit]:
    """The top `limit` hits of RRF over hit lists (of the same level), each with its RRF score."""
    by_pmid: dict[str, Hit] = {}
    for hits in rankings:
        for hit in hits:
            by_pmid.setdefault(hit.pmid, hit)
    fused = fuse_ranks([[h.pmid for h in hits] for hits in rankings], k=k)[:limit]
    return [replace(by_pmid[pmid], rank=i + 1, score=score) for i, (pmid, score) in enumerate(fused)]
