"""`Relation` rows of a document's predicted typed relations: each concept's name and the
sentences that support the pair; and which concepts are sure enough to relate (`keep_relatable`).

Evidence is every sentence that mentions both concepts; a pair with none gets the closest two
sentences (one mentioning each), since BioRED relations often span sentences. At most
`MAX_EVIDENCE` evidence texts are kept (in document order); `sentence_indexes` lists them all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from litmine.tasks.linking.concept_ids import mention_concept_ids
from litmine.tasks.records import Mention, Relation, Sentence
from litmine.tasks.relations.typed import Key, TypedRelation

MAX_EVIDENCE = 3
#: Link levels that relate no concept on their own: a concept whose every mention only these
#: linked stays an entity with its ID, but is in no typed relation. The fuzzy level matches a
#: name that is merely close to a lexicon name, often another concept's: on BioRED dev (the
#: selection set), end to end, 21 of the 1,099 pairs predicted had such a concept and 1 of them
#: was right (the others: 44.7%); leaving them out took pair F1 43.45 -> 43.77, and 49.72 ->
#: 49.91 with gold mentions (13 pairs, 1 right).
UNRELATED_LEVELS = frozenset({"fuzzy"})


def concept_sentences(mentions: Sequence[Mention]) -> dict[Key, set[int]]:
    """(type, ID) -> indexes of the sentences its mentions are in."""
    out: dict[Key, set[int]] = {}
    for m in mentions:
        for cid in mention_concept_ids(m.type, m.concept_id):
            if m.sentence_index >= 0:
                out.setdefault((m.type, cid), set()).add(m.sentence_index)
    return out


def concept_names(mentions: Sequence[Mention]) -> dict[Key, str]:
    """(type, ID) -> its most frequent surface form (ties: the first in the text)."""
    forms: dict[Key, Counter] = {}
    for m in sorted(mentions, key=lambda m: m.start):
        for cid in mention_concept_ids(m.type, m.concept_id):
            forms.setdefault((m.type, cid), Counter())[m.text] += 1
    return {k: c.most_common(1)[0][0] for k, c in forms.items()}


def evidence_indexes(first: set[int], second: set[int]) -> tuple[int, ...]:
    """Sentences mentioning both, else the closest (first, second) pair of sentences."""
    shared = first & second
    if shared:
        return tuple(sorted(shared))
    if not first or not second:
        return ()
    a, b = min(((a, b) for a in first for b in second), key=lambda ab: (abs(ab[0] - ab[1]), ab))
    return tuple(sorted({a, b}))


def keep_relatable(predicted: Sequence[TypedRelation], mentions: Sequence[Mention]
              ) -> list[TypedRelation]:
    """`predicted` without the pairs one of whose concepts only `UNRELATED_LEVELS` linked (by
    the mentions' `link_status`)."""
    levels: dict[Key, set[str]] = {}
    for m in mentions:
        for cid in mention_concept_ids(m.type, m.concept_id):
            levels.setdefault((m.type, cid), set()).add(m.link_status)

    def unsure(key: Key) -> bool:
        found = levels.get(key)
        return bool(found) and found <= UNRELATED_LEVELS

    return [r for r in predicted if not (unsure(r.first) or unsure(r.second))]


def relation_rows(pmid: str, sentences: Sequence[Sentence], mentions: Sequence[Mention],
                  predicted: Sequence[TypedRelation], model: str = "") -> list[Relation]:
    """One `Relation` per predicted relation of the document `pmid` (`model`: the relation
    model's name)."""
    where = concept_sentences(mentions)
    names = concept_names(mentions)
    text_of = {s.index: s.text for s in sentences}
    out = []
    for r in predicted:
        indexes = evidence_indexes(where.get(r.first, set()), where.get(r.second, set()))
        out.append(Relation(
            pmid=pmid, type1=r.first[0], id1=r.first[1], name1=names.get(r.first, ""),
            type2=r.second[0], id2=r.second[1], name2=names.get(r.second, ""),
            relation=r.relation, novel=r.novel, score=r.score, novel_score=r.novel_score,
            sentence_indexes=indexes,
            evidence=tuple(text_of[i] for i in indexes[:MAX_EVIDENCE] if i in text_of),
            model=model))
    return out
