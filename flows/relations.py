"""Abbreviations, MeSH normalisation and CID relations for a batch, and their evaluation.

`relate_articles` is the per-batch step of `litmine mine` (after NER): it fixes mentions with
the documents' abbreviation definitions, links Chemical/Disease mentions to MeSH, and scores
every (chemical, disease) concept pair with the CID classifier. `evaluate_relations` scores
concept normalisation and CID relations on gold PubTator documents, with gold entities given
and end to end from raw text.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from litmine.settings import DEFAULT_LEXICON, DEFAULT_MODEL_DIR, DEFAULT_RELATION_MODEL
from litmine.tasks.text.abbreviations import Abbreviation, apply_abbreviations, find_abbreviations
from litmine.tasks.linking.lexicon import Lexicon
from litmine.tasks.linking.normalise import Link, Linker, normalise_document, score_concepts
from litmine.tasks.relations.pairs import normalise_surface
from litmine.tasks.records import Article, Mention, Pair, Sentence
from litmine.tasks.relations.candidates import Candidate, build_candidates
from litmine.tasks.relations.evaluation import score_relations
from litmine.tasks.relations.registry import load_relation_model

MODELS_DIR = DEFAULT_MODEL_DIR.parent
#: Evidence texts stored per pair (the rest are counted in n_sentences).
MAX_EVIDENCE = 3

@dataclass
class RelationBatch:
    """What `relate_articles` adds to a batch."""

    mentions: list[Mention] = field(default_factory=list)  # all types, Chemical/Disease linked
    links: list[Link] = field(default_factory=list)  # parallel to `mentions`
    abbreviations: list[Abbreviation] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)  # every concept pair, scored

    @property
    def relations(self) -> list[Candidate]:
        return [c for c in self.candidates if c.relation == "CID"]


_LINKERS: dict[str, Linker] = {}


def load_linker(lexicon: str | Path = DEFAULT_LEXICON) -> Linker:
    """A Linker over a saved lexicon, cached per path for the process."""
    key = str(Path(lexicon).resolve())
    if key not in _LINKERS:
        _LINKERS[key] = Linker(Lexicon.load(lexicon))
    return _LINKERS[key]


def relate_articles(articles: Sequence[Article], sentences: Sequence[Sentence],
                    mentions: Sequence[Mention], *, linker: Linker, relation_model=None,
                    fix_mentions: bool = True) -> RelationBatch:
    """Abbreviations, MeSH IDs and scored CID candidates for a batch of articles.

    `fix_mentions`: add/retype mentions after abbreviation definitions (off when the mentions
    are gold). `relation_model`: from `load_relation_model`; None skips relations.
    """
    by_pmid_s: dict[str, list[Sentence]] = {}
    for s in sentences:
        by_pmid_s.setdefault(s.pmid, []).append(s)
    by_pmid_m: dict[str, list[Mention]] = {}
    for m in mentions:
        by_pmid_m.setdefault(m.pmid, []).append(m)
    out = RelationBatch()
    # One fuzzy lookup per type for the whole batch (the linker caches what it linked).
    linker.link_many(sorted({(m.text, m.type) for m in mentions}))
    for article in articles:
        text = article.text
        sents = sorted(by_pmid_s.get(article.pmid, []), key=lambda s: s.index)
        ms, abbrs = _with_abbreviations(article, by_pmid_m.get(article.pmid, []), sents,
                                        fix=fix_mentions)
        linked, links = normalise_document(text, ms, linker, abbrs)
        out.mentions += linked
        out.links += links
        out.abbreviations += abbrs
        if relation_model is not None:
            cands = build_candidates(article.pmid, text, sents, linked,
                                     title_end=len(article.title))
            out.candidates += relation_model.predict(cands, article.title, text=text,
                                                     mentions=linked)
    return out


def _with_abbreviations(article: Article, mentions: Sequence[Mention],
                        sentences: Sequence[Sentence] | None, *, fix: bool = True
                        ) -> tuple[list[Mention], list[Abbreviation]]:
    """One document's mentions (sorted; made consistent with its abbreviation definitions when
    `fix`) and the definitions. `sentences` None: split the article when needed."""
    ms = sorted(mentions, key=lambda m: (m.start, m.end, m.type))
    abbrs = find_abbreviations(article.text, article.pmid)
    if fix and abbrs:
        if sentences is None:
            from litmine.tasks.text.sentences import split_article

            sentences = split_article(article)
        ms = apply_abbreviations(article.text, ms, abbrs, sentences)
    return ms, abbrs


def fix_with_abbreviations(articles: Sequence[Article], mentions: Sequence[Mention]) -> list[Mention]:
    """Mentions made consistent with each document's abbreviation definitions (as `mine` does)."""
    by_pmid: dict[str, list[Mention]] = {}
    for m in mentions:
        by_pmid.setdefault(m.pmid, []).append(m)
    fixed: list[Mention] = []
    for article in articles:
        fixed += _with_abbreviations(article, by_pmid.pop(article.pmid, []), None)[0]
    for rest in by_pmid.values():  # mentions of documents not given: unchanged
        fixed += rest
    return fixed


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
                    device: str = "cpu") -> RelationBatch:
    """Prefect task of `mine`/`refresh`: `relate_articles` with the lexicon and model loaded
    (cached per process) by path."""
    model = load_relation_model(relation_model, device=device) if relation_model else None
    return relate_articles(articles, sentences, mentions, linker=load_linker(lexicon),
                           relation_model=model)


# -- evaluation ----------------------------------------------------------------------------------
def _predicted_triples(candidates: Sequence[Candidate]) -> list[tuple[str, str, str]]:
    return [c.key for c in candidates if c.relation == "CID"]


def evaluate_relations(gold: Sequence[str | Path], *, ner_model: str | None = None,
                       lexicon: str | Path = DEFAULT_LEXICON,
                       relation_model: str | Path = DEFAULT_RELATION_MODEL,
                       predicted_mentions: Sequence[Mention] | None = None,
                       device: str = "cpu", max_documents: int | None = None) -> dict[str, Any]:
    """Concept-level and CID scores on gold PubTator documents.

    Three settings, so that errors can be attributed: "gold_ids" (gold entities with gold IDs:
    the classifier alone, CID only), "gold_entities" (gold spans and types, predicted IDs), and
    "end_to_end" (mentions from `ner_model`, or `predicted_mentions`, then abbreviations,
    normalisation and relations). Returns a JSON-ready dict of Scores.as_dict() per setting.
    """
    from dataclasses import replace

    from litmine.tasks.sources.pubtator import gold_to_mentions, read_pubtator
    from litmine.tasks.text.sentences import split_article

    docs = [d for path in gold for d in read_pubtator(path)[0]][:max_documents]
    articles = [d.to_article() for d in docs]
    sentences = [s for a in articles for s in split_article(a)]
    linker = load_linker(lexicon)
    model = load_relation_model(relation_model, device=device)
    report: dict[str, Any] = {"gold": [str(g) for g in gold], "documents": len(docs),
                              "lexicon": str(lexicon), "relation_model": str(relation_model)}
    timings: dict[str, float] = {}

    gold_mentions = [m for d in docs for m in gold_to_mentions(d)]
    stripped = [replace(m, concept_id="") for m in gold_mentions]
    t = time.perf_counter()
    batch = relate_articles(articles, sentences, stripped, linker=linker, relation_model=model,
                            fix_mentions=False)
    timings["gold_entities"] = time.perf_counter() - t
    report["gold_entities"] = {
        "concepts": score_concepts(docs, batch.mentions).as_dict(),
        "cid": score_relations(docs, _predicted_triples(batch.candidates)).as_dict(),
        "link_methods": dict(Counter(l.method for l in batch.links))}
    # Gold IDs too: the classifier on its own.
    from litmine.tasks.relations.candidates import document_candidates

    cands = []
    for d in docs:
        cands += model.predict(document_candidates(d), d.title, text=d.text,
                               mentions=gold_to_mentions(d))
    report["gold_ids"] = {"cid": score_relations(docs, _predicted_triples(cands)).as_dict()}
    if ner_model or predicted_mentions is not None:
        t = time.perf_counter()
        if predicted_mentions is None:
            from litmine.tasks.ner.engine import load_tagger

            tagger = load_tagger(str(ner_model), device=device)
            predicted_mentions = tagger.tag(sentences)
        timings["ner"] = time.perf_counter() - t
        t = time.perf_counter()
        batch = relate_articles(articles, sentences, predicted_mentions, linker=linker,
                                relation_model=model)
        timings["end_to_end"] = time.perf_counter() - t
        report["end_to_end"] = {
            "ner_model": str(ner_model) if ner_model else "predicted mentions",
            "concepts": score_concepts(docs, batch.mentions).as_dict(),
            "cid": score_relations(docs, _predicted_triples(batch.candidates)).as_dict(),
            "link_methods": dict(Counter(l.method for l in batch.links
                                         if l.method != "none" or l.reason))}
    report["seconds"] = {k: round(v, 1) for k, v in timings.items()}
    return report


def format_report(report: dict[str, Any]) -> str:
    """Markdown tables: concept P/R/F1 per type and CID P/R/F1 per setting."""
    def pct(x):
        return "–" if x is None else f"{100 * x:.2f}"

    lines = ["| setting | level | type | gold | pred | TP | FP | FN | P | R | F1 |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for setting in ("gold_ids", "gold_entities", "end_to_end", "predicted_files"):
        if setting not in report:
            continue
        for level in ("concepts", "cid"):
            scores = report[setting].get(level)
            if not scores:
                continue
            for t, c in sorted(scores["per_type"].items()):
                lines.append(f"| {setting} | {level} | {t} | {c['n_gold']} | {c['n_predicted']} "
                             f"| {c['tp']} | {c['fp']} | {c['fn']} | {pct(c['precision'])} | "
                             f"{pct(c['recall'])} | {pct(c['f1'])} |")
    return "\n".join(lines)


def write_report(report: dict[str, Any], json_out: str | Path) -> Path:
    path = Path(json_out)
    path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return path
