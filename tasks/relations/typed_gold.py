"""BioRED gold relations of a document, checked, and the BioCreative VIII scores of predictions
against them (pair, pair + type, pair + type + novelty), overall and per entity-type pair
(`score_by_entity_pair`, with how many gold pairs the predictions' concepts could reach).

A gold relation is an unordered pair of concept IDs with a type and a novelty. Relation lines
that cannot be one (a type outside BioRED's eight, an ID no mention carries, the same ID twice,
a pair given twice) are reported as `RelationIssue`s, counted, and left out; they never stop a
run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from litmine.tasks.linking.concept_ids import mention_concept_ids
from litmine.tasks.records import Mention
from litmine.tasks.relations.typed import RELATION_TYPES
from litmine.tasks.sources.pubtator import DEFAULT_TYPE_MAP, PubTatorDocument, gold_to_mentions

#: BC5CDR's CID relation, read as BioRED's type for it (a chemical that induces a disease
#: correlates positively with it).
CID_AS = "Positive_Correlation"

GoldRelations = dict[frozenset[str], tuple[str, str]]  # {id1, id2} -> (type, novelty)


@dataclass(frozen=True, slots=True)
class RelationIssue:
    """A relation line left out, and why."""

    pmid: str
    line: str  # the relation as written: type, ID1, ID2
    kind: str  # unknown-type, unknown-concept, self-pair, duplicate
    message: str


def canonical_mentions(doc: PubTatorDocument) -> list[Mention]:
    """A gold document's mentions with corpus types mapped to litmine's (GeneOrGeneProduct ->
    Gene, ...)."""
    return [replace(m, type=DEFAULT_TYPE_MAP.get(m.type, m.type)) for m in gold_to_mentions(doc)]


def gold_relations(doc: PubTatorDocument, issues: list[RelationIssue] | None = None
                   ) -> GoldRelations:
    """The document's valid relations (CID lines read as `CID_AS`, novelty "" when absent).

    Each line left out is appended to `issues` when given."""
    known = {cid for m in canonical_mentions(doc) for cid in mention_concept_ids(m.type,
                                                                                m.concept_id)}
    out: GoldRelations = {}

    def skip(k: int, kind: str, message: str) -> None:
        if issues is not None:
            kind_, a, b = doc.relations[k]
            issues.append(RelationIssue(doc.pmid, f"{kind_}\t{a}\t{b}", kind, message))

    for k, (kind, a, b) in enumerate(doc.relations):
        kind = CID_AS if kind == "CID" else kind
        if kind not in RELATION_TYPES:
            skip(k, "unknown-type", f"relation type {kind!r} is not one of BioRED's eight "
                 f"({', '.join(RELATION_TYPES)})")
            continue
        if a == b:
            skip(k, "self-pair", f"{a} is related to itself")
            continue
        missing = [x for x in (a, b) if x not in known]
        if missing:
            skip(k, "unknown-concept", f"no mention carries {' or '.join(missing)}")
            continue
        key = frozenset((a, b))
        if key in out:
            skip(k, "duplicate", f"the pair {a}, {b} already has a relation ({out[key][0]})")
            continue
        out[key] = (kind, doc.novel(k))
    return out


def summarise_issues(issues: Sequence[RelationIssue]) -> str:
    """One line: how many relation lines were left out, by kind ("" when none)."""
    if not issues:
        return ""
    counts = Counter(i.kind for i in issues)
    return (f"{len(issues)} relation lines left out: "
            + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))


Predicted = Iterable[tuple[str, str, str, str]]  # (id1, id2, type, novelty)


def prf(tp: int, n_predicted: int, n_gold: int) -> dict[str, float | int]:
    """Precision, recall and F1 with the counts they come from."""
    p = tp / n_predicted if n_predicted else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"tp": tp, "fp": n_predicted - tp, "fn": n_gold - tp, "precision": p, "recall": r,
            "f1": 2 * p * r / (p + r) if p + r else 0.0}


def score_relations(predicted: Mapping[str, Predicted], gold: Mapping[str, GoldRelations]
                    ) -> dict[str, dict[str, float | int]]:
    """BioCreative VIII track 1 scores over documents: "pair" (the two IDs, unordered),
    "pair+type", "pair+type+novelty". Predictions for a document not in `gold` count as
    false positives; a pair predicted twice counts once (its first prediction)."""
    n_pred = n_gold = 0
    tp = Counter()
    for pmid in set(predicted) | set(gold):
        truth = gold.get(pmid, {})
        n_gold += len(truth)
        seen: set[frozenset[str]] = set()
        for a, b, kind, novel in predicted.get(pmid, ()):
            key = frozenset((a, b))
            if key in seen or a == b:
                continue
            seen.add(key)
            n_pred += 1
            if key in truth:
                tp["pair"] += 1
                if truth[key][0] == kind:
                    tp["pair+type"] += 1
                    if truth[key][1] == novel:
                        tp["pair+type+novelty"] += 1
    return {level: prf(tp[level], n_pred, n_gold)
            for level in ("pair", "pair+type", "pair+type+novelty")}


def entity_pair(type1: str, type2: str) -> str:
    """The entity-type pair of a relation, as BioRED names them: "Disease-Gene" (sorted)."""
    return "-".join(sorted((type1, type2)))


def concept_entity_types(mentions: Iterable[Mention]) -> dict[str, str]:
    """Concept ID -> entity type over `mentions` (each ID of a composite mention); the first
    mention's type where mentions of several types carry one ID."""
    out: dict[str, str] = {}
    for m in mentions:
        for cid in mention_concept_ids(m.type, m.concept_id):
            out.setdefault(cid, m.type)
    return out


def score_by_entity_pair(predicted: Mapping[str, Predicted], gold: Mapping[str, GoldRelations],
                         gold_types: Mapping[str, Mapping[str, str]],
                         found: Mapping[str, Mapping[str, str]]) -> dict[str, dict]:
    """`score_relations` per entity-type pair ("Chemical-Disease", ...), for attributing errors.

    `gold_types`: pmid -> {concept ID: type} of the gold mentions; `found`: the same of the
    mentions the predictions came from (their IDs as linked). A gold pair counts under its gold
    types, a predicted pair under the gold pair's types when it is one, else under the types
    its concepts were found with ("?" for an ID no mention carries). Each entry has "gold"
    (gold pairs), "reachable" (gold pairs whose two IDs `found` holds: the most a relation
    model can recall after NER and linking) and the three levels; the entries' counts add up
    to `score_relations`'."""
    def kind_of(pmid: str, ids: Iterable[str], types: Mapping[str, Mapping[str, str]]) -> str:
        a, b = (types.get(pmid, {}).get(i, "?") for i in sorted(ids))
        return entity_pair(a, b)

    gold_by: dict[str, dict[str, GoldRelations]] = {}
    reachable: Counter = Counter()
    for pmid, truth in gold.items():
        for key, value in truth.items():
            kind = kind_of(pmid, key, gold_types)
            gold_by.setdefault(kind, {}).setdefault(pmid, {})[key] = value
            reachable[kind] += all(i in found.get(pmid, {}) for i in key)
    pred_by: dict[str, dict[str, list]] = {}
    for pmid, rows in predicted.items():
        truth = gold.get(pmid, {})
        for row in rows:
            key = frozenset(row[:2])
            kind = kind_of(pmid, key, gold_types if key in truth else found)
            pred_by.setdefault(kind, {}).setdefault(pmid, []).append(row)
    out = {}
    for kind in sorted(set(gold_by) | set(pred_by)):
        truth = gold_by.get(kind, {})
        out[kind] = {"gold": sum(len(t) for t in truth.values()), "reachable": reachable[kind],
                     **score_relations(pred_by.get(kind, {}), truth)}
    return out

