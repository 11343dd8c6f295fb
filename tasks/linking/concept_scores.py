"""Concept-level scoring of linked mentions: the set of (PMID, type, concept ID) per document, as
BioCreative V CDR scores normalisation (`score_concepts`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from litmine.tasks.linking.lexicon import MESH_TYPES
from litmine.tasks.records import Mention
from litmine.tasks.scoring import Span, concept_key, score_spans


def concept_spans(pmid: str, mentions: Iterable, types: Sequence[str] = MESH_TYPES) -> list:
    """One scoring Span per (pmid, type, concept ID): composite IDs and ID lists ("|", ",", ";")
    split, "-1"/"" dropped, GNormPlus' "(Tax:N)" suffix and spaces removed."""
    out = []
    for m in mentions:
        if m.type not in types:
            continue
        ids = m.concept_id or ""
        # a Variant's tmVar ID (p|SUB|V|600|E) is one ID, not a composite; ";VariantGroup:0" dropped
        for cid in ([ids.split(";")[0]] if m.type == "Variant" else _ID_LIST.split(ids)):
            cid = _TAX_SUFFIX.sub("", cid.strip())
            if cid and cid not in ("-1", "-"):
                out.append(Span(getattr(m, "pmid", pmid) or pmid, -1, -1, m.type, m.text, cid))
    return out


_ID_LIST = re.compile(r"[|,;]")
_TAX_SUFFIX = re.compile(r"\(Tax:\d+\)$")


def score_concepts(gold_docs: Sequence, predicted: Iterable[Mention], *,
                   types: Sequence[str] = MESH_TYPES):
    """Concept-level P/R/F1: the set of (pmid, type, concept ID) per document (BioCreative V
    CDR); `types` defaults to the MeSH types.

    Gold IDs "-1" (no concept) are not scored; composite IDs and ID lists count as their parts.
    Returns `litmine.tasks.scoring.Scores` (level "concept").
    """
    gold = [s for d in gold_docs for s in concept_spans(d.pmid, d.mentions, types)]
    pred = concept_spans("", predicted, types)
    return score_spans(gold, pred, types=list(types), pmids=[d.pmid for d in gold_docs],
                       key=concept_key, level="concept")
