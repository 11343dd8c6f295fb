"""Abbreviations, concept IDs, CID relations and BioRED's typed relations for a batch of
articles.

`relate_articles` is the per-batch step of `litmine mine` (after NER): it fixes mentions with
the documents' abbreviation definitions, links mentions to their databases, scores every
(chemical, disease) concept pair with the CID model and classes every pair of gene, chemical,
disease and variant concepts with the typed model; `candidate_pairs` turns the scored CID pairs
into `pairs` records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from litmine.settings import DEFAULT_LEXICON, DEFAULT_RELATION_MODEL
from litmine.tasks.linking.normalise import Link, Linker, load_linker, normalise_document
from litmine.tasks.isolation import isolated
from litmine.tasks.records import Article, DocumentFailure, Mention, Pair, Relation, Sentence
from litmine.tasks.relations.candidates import Candidate, build_candidates
from litmine.tasks.relations.pairs import normalise_surface
from litmine.tasks.relations.registry import load_relation_model, load_typed_model
from litmine.tasks.relations.typed_rows import keep_relatable, relation_rows
from litmine.tasks.sources.annotations import GIVEN_NONE, GIVEN_STATUS, ids_given
from litmine.tasks.text.abbreviations import Abbreviation, find_and_apply_abbreviations

#: Evidence texts stored per pair (the rest are counted in n_sentences).
MAX_EVIDENCE = 3


@dataclass
class RelationBatch:
    """What `relate_articles` adds to a batch."""

    mentions: list[Mention] = field(default_factory=list)  # all types, Chemical/Disease linked
    links: list[Link] = field(default_factory=list)  # parallel to `mentions`
    abbreviations: list[Abbreviation] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)  # every concept pair, scored
    typed_relations: list[Relation] = field(default_factory=list)  # BioRED types, predicted
    #: Documents a stage raised on (abbreviations, linking, relations): none of their rows above.
    failures: list[DocumentFailure] = field(default_factory=list)

    @property
    def relations(self) -> list[Candidate]:
        return [c for c in self.candidates if c.relation == "CID"]


def relate_articles(articles: Sequence[Article], sentences: Sequence[Sentence],
                    mentions: Sequence[Mention], *, linker: Linker, relation_model=None,
                    typed_model=None, fix_mentions: bool = True,
                    workers: int | None = None, states: dict | None = None,
                    given: bool = False) -> RelationBatch:
    """Abbreviations, concept IDs, scored CID candidates and typed relations for a batch.

    `fix_mentions`: add/retype mentions after abbreviation definitions (off when the mentions
    are gold). `given`: the mentions are the input's own (`mine --entities given`): they are
    not fixed, and where they carry IDs those are kept (`given_links`) and the typed model
    keeps pairs at its threshold for given IDs (`given_threshold`). `relation_model`: from
    `load_relation_model`; None skips CID relations.
    `typed_model`: a `TypedRelationModel` (`load_typed_model`); None skips typed relations.
    `workers`: documents related at once, each on one torch thread
    (`litmine.tasks.cpu_workers`); default: one per core on a CPU when a model has an encoder,
    else 1. The result is the same whatever the number (documents are independent).
    `states`: PMID -> the NER pass's token states (`litmine.tasks.ner.token_states`), read by
    shared relation models instead of a second encoder pass (they run one when absent).
    """
    by_pmid_s: dict[str, list[Sentence]] = {}
    for s in sentences:
        by_pmid_s.setdefault(s.pmid, []).append(s)
    by_pmid_m: dict[str, list[Mention]] = {}
    for m in mentions:
        by_pmid_m.setdefault(m.pmid, []).append(m)
    # One fuzzy lookup per type for the whole batch (the linker caches what it linked), of
    # the mentions it will link (not those of documents the input normalised).
    linker.link_many(sorted({(m.text, m.type) for ms in by_pmid_m.values()
                             if not (given and ids_given(ms)) for m in ms}))

    def relate(article: Article) -> RelationBatch:
        return relate_document(article, sorted(by_pmid_s.get(article.pmid, []),
                                               key=lambda s: s.index),
                               by_pmid_m.get(article.pmid, []), linker=linker,
                               relation_model=relation_model, typed_model=typed_model,
                               fix_mentions=fix_mentions and not given,
                               states=(states or {}).get(article.pmid), given=given)

    from litmine.tasks.cpu_workers import map_on_workers  # imports torch, which models bring

    if workers is None:
        workers = _default_workers(relation_model, typed_model)
    out = RelationBatch()
    for one in map_on_workers(relate, articles, workers, "litmine-relations"):
        out.mentions += one.mentions
        out.links += one.links
        out.abbreviations += one.abbreviations
        out.candidates += one.candidates
        out.typed_relations += one.typed_relations
        out.failures += one.failures
    return out


def relate_document(article: Article, sentences: Sequence[Sentence],
                    mentions: Sequence[Mention], *, linker: Linker, relation_model=None,
                    typed_model=None, fix_mentions: bool = True, states=None,
                    given: bool = False) -> RelationBatch:
    """`relate_articles` for one document (`sentences` in order): a stage that raises makes
    it a failure with no rows. `states`: its NER pass's token states, if kept; `given`: as
    for `relate_articles` (the caller turns `fix_mentions` off)."""
    out = RelationBatch()
    text = article.text
    with isolated("abbreviations", article.pmid, out.failures):
        ms, abbrs = find_and_apply_abbreviations(article, mentions, sentences, fix=fix_mentions)
    if out.failures:
        return out
    with isolated("linking", article.pmid, out.failures):
        if given and ids_given(ms):
            linked, links = given_links(ms)
        else:
            linked, links = normalise_document(text, ms, linker, abbrs,
                                               [(s.start, s.end) for s in sentences])
    if out.failures:
        return out
    cands: list[Candidate] = []
    if relation_model is not None:
        with isolated("relations", article.pmid, out.failures):
            cands = build_candidates(article.pmid, text, sentences, linked,
                                     title_end=len(article.title))
            cands = relation_model.predict(cands, article.title, text=text, mentions=linked,
                                           states=states, sentences=sentences,
                                           pmid=article.pmid)
    typed: list[Relation] = []
    if typed_model is not None and not out.failures:
        with isolated("relations", article.pmid, out.failures):
            predicted = typed_model.predict_document(
                text, linked, typed_threshold(typed_model, linked, given), states=states,
                sentences=sentences, pmid=article.pmid)
            typed = relation_rows(article.pmid, sentences, linked,
                                  keep_relatable(predicted, linked), typed_model.name)
    if not out.failures:
        out.mentions, out.links, out.abbreviations = list(linked), list(links), list(abbrs)
        out.candidates, out.typed_relations = list(cands), typed
    return out


def given_links(given: Sequence[Mention]) -> tuple[list[Mention], list[Link]]:
    """One document's own mentions as linked where the input normalised it (`ids_given`): each
    keeps the ID it came with, or none (link status "given-none"); the lexicon, abbreviations
    and the organism rule do not overrule a curated annotation."""
    mentions, links = [], []
    for m in given:
        if m.link_status == GIVEN_STATUS and m.concept_id:
            mentions.append(m)
            links.append(Link(m.concept_id, GIVEN_STATUS, 1.0))
        else:
            mentions.append(replace(m, concept_id="", link_status=GIVEN_NONE))
            links.append(Link("", "none", 0.0, f"{GIVEN_NONE}: the input names no ID"))
    return mentions, links


def typed_threshold(typed_model, mentions: Sequence[Mention], given: bool) -> float | None:
    """The threshold at which `typed_model` keeps a document's pairs: its threshold for given
    entities and IDs where the mentions and their IDs are the input's (`ids_given`), else None
    (the model's own, chosen for NER's mentions and the lexicon's IDs)."""
    if given and ids_given(mentions):
        return getattr(typed_model, "given_threshold", None)
    return None


def _default_workers(*models) -> int:
    """One worker per core for models with an encoder on a CPU (`DEFAULT_CPU_WORKERS`), else 1."""
    from litmine.tasks.cpu_workers import DEFAULT_CPU_WORKERS

    devices = {str(getattr(m, "device", "")) for m in models if getattr(m, "dtype", None)}
    return DEFAULT_CPU_WORKERS if devices == {"cpu"} else 1


def candidate_pairs(candidates: Sequence[Candidate]) -> list[Pair]:
    """`pairs` records for scored concept pairs: relation "CID" or "none", score, evidence."""
    out = []
    for c in candidates:
        indexes = tuple(sorted({i for e in c.evidence for i in e.sentence_indexes}))
        out.append(Pair(pmid=c.pmid, chemical=normalise_surface(c.chemical),
                        disease=normalise_surface(c.disease), n_sentences=len(indexes),
                        sentence_indexes=indexes, method=c.method or "cid",
                        chemical_id=c.chemical_id, disease_id=c.disease_id,
                        relation=c.relation or "none", score=round(float(c.score), 4),
                        evidence=tuple(e.plain for e in c.evidence[:MAX_EVIDENCE])))
    return out


@task(name="link-and-relate", cache_policy=NO_CACHE)
def link_and_relate(articles: list[Article], sentences: list[Sentence], mentions: list[Mention],
                    lexicon: str = str(DEFAULT_LEXICON),
                    relation_model: str | None = str(DEFAULT_RELATION_MODEL),
                    typed_relation_model: str | None = None,
                    device: str = "cpu", dtype: str = "fp32",
                    states: dict | None = None, given: bool = False) -> RelationBatch:
    """Prefect task of `mine`/`refresh`: `relate_articles` with the lexicon and models loaded
    (cached per process) by path; `dtype`: the relation encoders' weights; `states`: the NER
    pass's token states per PMID, for shared relation models; `given`: the mentions are the
    input's own (`relate_articles`)."""
    linker, model, typed = load_relation_resources(lexicon, relation_model, typed_relation_model,
                                                   device=device, dtype=dtype)
    return relate_articles(articles, sentences, mentions, linker=linker, relation_model=model,
                           typed_model=typed, states=states, given=given)


def load_relation_resources(lexicon: str, relation_model: str | None,
                            typed_relation_model: str | None, *, device: str = "cpu",
                            dtype: str = "fp32") -> tuple[Linker, Any, Any]:
    """The linker, CID model and typed model (None where not asked for) of the relation step,
    each loaded once per process (later calls return the cached ones)."""
    model = (load_relation_model(relation_model, device=device, dtype=dtype)
             if relation_model else None)
    typed = (load_typed_model(typed_relation_model, device=device, dtype=dtype)
             if typed_relation_model else None)
    return load_linker(lexicon), model, typed
