"""The input's own entity annotations as the mentions of a run (`litmine mine --entities given`).

A PubTator file (or PubTator3's export) already names a document's genes, chemicals, diseases,
species, variants and cell lines, often with their database IDs. With `--entities given`,
`mine` stores those mentions under the model name `GIVEN_MODEL` instead of NER's and relates
them: relations over curated entities, as BioCreative VIII's first subtask asks. A document
whose annotations carry IDs is taken as normalised: each mention keeps the ID it came with
(link status "given"), or none ("given-none"); a document with no ID in its annotations
(mentions only) is linked through the lexicon as NER's mentions are.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from litmine.tasks.linking.concept_ids import corpus_ids, mention_concept_ids, variant_rsids
from litmine.tasks.records import CANONICAL_TYPES, Article, Mention, Sentence

#: `entities.model` (and `pairs.model`, `relations.model`) of rows built on given entities.
GIVEN_MODEL = "given"
#: `entities.link_status` of a mention whose ID the input gave.
GIVEN_STATUS = "given"
#: ... and of one the input left without an ID in a document whose other mentions have theirs.
GIVEN_NONE = "given-none"
#: Where the mentions of a `mine` run come from: its NER model, or the input's annotations.
ENTITY_SOURCES = ("tagged", "given")
#: Variant classes of tmVar3 and PubTator Central ("Mutation"), which DEFAULT_TYPE_MAP leaves
#: as they are (the lexicon's build reads tmVar3 through it): a given annotation of one is a
#: Variant.
VARIANT_CLASSES = frozenset({"Mutation", "DNAMutation", "ProteinMutation", "SNP", "DNAAllele",
                             "ProteinAllele", "AcidChange", "OtherMutation"})


def given_mentions(articles: Sequence[Article], sentences: Sequence[Sentence],
                   counts: Counter | None = None) -> list[Mention]:
    """The annotations of `articles` as Mentions: each in the sentence its first character is
    in, with the ID the input gave in litmine's form (`given_id`; link status "given"; no ID
    where it wrote none, "-" or "-1"). tmVar's variant classes are Variants. Counted in
    `counts`: annotations of a type litmine does not store (`CANONICAL_TYPES`), left out, in
    "given_skipped_type"; the others in "given_entities"; documents without any in
    "given_unannotated"."""
    counts = counts if counts is not None else Counter()
    starts: dict[str, list[tuple[int, int]]] = {}
    for s in sentences:
        starts.setdefault(s.pmid, []).append((s.start, s.index))
    for spans in starts.values():
        spans.sort()
    out = []
    for article in articles:
        spans = starts.get(article.pmid, [])
        if not article.annotations:
            counts["given_unannotated"] += 1
        for m in article.annotations:
            if m.type in VARIANT_CLASSES:
                m = replace(m, type="Variant")
            if m.type not in CANONICAL_TYPES:
                counts["given_skipped_type"] += 1
                continue
            k = bisect.bisect_right(spans, (m.start, float("inf"))) - 1
            cid = given_id(m.type, m.concept_id)
            out.append(replace(m, pmid=article.pmid, concept_id=cid, score=1.0,
                               sentence_index=spans[k][1] if k >= 0 else -1,
                               link_status=GIVEN_STATUS if cid else ""))
            counts["given_entities"] += 1
    return out


def unannotated_message(documents: int) -> str:
    """The warning of a `--entities given` run that met documents without annotations."""
    one = documents == 1
    return (f"{documents} document{'' if one else 's'} carried no entity annotations, so "
            f"{'it is' if one else 'they are'} stored with no entities and no relations; mine "
            f"{'it' if one else 'them'} without --entities given to tag "
            f"{'it' if one else 'them'}")


def given_id(type_: str, raw: str) -> str:
    """An annotation's ID in litmine's form where litmine reads it (PubTator3's "MESH:D001241"
    -> "D001241", a gene list "3078;3080" -> "3078|3080"; a variant's one rsID, as BioRED keys
    variants, else its tmVar form: PubTator3's "tmVar:p|SUB|V|600|E;...;RS#:113488022" ->
    "rs113488022"), else as written ("OMIM:261600"); "" where it names none ("", "-", "-1")."""
    if not mention_concept_ids(type_, raw):
        return ""
    if type_ == "Variant":  # BioRED's key: the dbSNP rsID, else the tmVar form
        rsids = variant_rsids(raw)
        if len(rsids) == 1:
            return rsids[0]
        form = next((p.strip()[len("tmVar:"):] for p in raw.split(";")
                     if p.strip().startswith("tmVar:")), "")
        return form or raw.strip()
    ids = corpus_ids(type_, raw)
    return "|".join(dict.fromkeys(i for i, _ in ids)) if ids else raw.strip()


def ids_given(mentions: Sequence[Mention]) -> bool:
    """Whether the input normalised these mentions (one document's): any carries its ID."""
    return any(m.link_status == GIVEN_STATUS for m in mentions)
