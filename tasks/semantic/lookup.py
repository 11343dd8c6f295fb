"""Look things up in a mined database: find abstracts (by keywords, meaning or both), answer a
question, summarise.

Each function opens the database, does one job with the search index or the semantic models
(keywords.py, fusion.py, embeddings.py, qa.py, summarize.py) and closes it again, so that
`litmine search`, `ask` and `summarize` make one call each. The models are imported where they
are used (start-up time: a keyword search loads no torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from litmine.errors import LitmineError, StoreError
from litmine.settings import get_settings
from litmine.tasks.records import Hit
from litmine.tasks.semantic.fusion import DEPTH, fuse_hits
from litmine.tasks.semantic.keywords import (has_keyword_index, keyword_index_lag, search_keywords,
                                             sync_keyword_index)
from litmine.tasks.semantic.pending import stored_models
from litmine.tasks.store.access import open_store
from litmine.tasks.store.locking import is_lock_error
from litmine.tasks.store.runs import recorded_run

if TYPE_CHECKING:
    from litmine.tasks.semantic.summarize import Summary

#: Search modes: BM25 over titles and abstracts, cosine similarity of embeddings, or both fused.
SEARCH_MODES = ("hybrid", "keyword", "semantic")


@dataclass(frozen=True)
class Found:
    """What `find_abstracts` found: the mode that ranked them, the hits, and notes for the user
    (a fallback taken, an index updated)."""

    mode: str
    hits: list[Hit]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Answers:
    """What `answer_question` found: the reader's answers and how many abstracts it read."""

    model: str
    abstracts: int
    rows: list[dict]  # Answer fields, plus the sentence_index and sentence the answer starts in


@dataclass(frozen=True)
class Summaries:
    """What `summarize_abstracts` wrote: (pmid, text) of each abstract and its summary."""

    model: str
    documents: list[tuple[str, str]]
    summaries: list[Summary]


def find_abstracts(db: Path, query: str, *, k: int = 10, level: str = "abstract",
                   mode: str | None = None, model: str | None = None,
                   device: str = "auto", exact: bool = False) -> Found:
    """The k stored abstracts (or sentences) of `db` that best match `query`, best first.

    `mode`: "keyword" (BM25), "semantic" (embeddings) or "hybrid" (both, reciprocal rank
    fusion); default hybrid for abstracts, semantic for sentences. Hybrid falls back to keyword,
    with a note, when the file has no abstract vectors. Meaning is ranked through the vector
    index where there is one (with a note), unless `exact`.
    """
    mode = mode or ("hybrid" if level == "abstract" else "semantic")
    if mode not in SEARCH_MODES:
        raise LitmineError(f"search: unknown mode {mode!r}; use one of {', '.join(SEARCH_MODES)}")
    if level != "abstract" and mode != "semantic":
        raise LitmineError(f"search: --mode {mode} ranks abstracts (the keyword index holds titles "
                           "and abstracts); use --level abstract, or --mode semantic to rank "
                           "sentences")
    if not query or not query.strip():
        raise LitmineError('search: the query is empty; give words to search for, e.g. '
                           '`litmine search "drug-induced liver injury"`')
    notes = update_keyword_index(db) if mode != "semantic" else []
    con = open_store(db, "read").con
    try:
        if mode == "hybrid" and not stored_models(con, "abstract"):
            notes.append(f"{db} has no abstract embeddings, so these are keyword (BM25) results "
                         f"only; `litmine embed --db {db}` enables hybrid search")
            mode = "keyword"
        if mode == "keyword":
            hits = search_keywords(con, query, k=k)
        else:
            from litmine.tasks.semantic.embeddings import search

            depth = k if mode == "semantic" else max(k, DEPTH)
            hits = search(con, query, k=depth, level=level, model=model, device=device, db=str(db),
                          exact=exact, notes=notes)
            if mode == "hybrid":
                hits = fuse_hits([search_keywords(con, query, k=depth), hits], limit=k)
    finally:
        con.close()
    return Found(mode=mode, hits=hits, notes=notes)


def update_keyword_index(db: Path) -> list[str]:
    """Index the articles mined or revised since the keyword index of `db` was last updated
    (none: nothing written); notes on what was done.

    The update writes the file, under its run lock, for as long as it runs (1.7 s for 10,089 new
    abstracts on 2 shared cores, benchmarks/keyword_index.py); it never waits for another run:
    while one writes the file, the search uses the index as it stands and says what it misses.
    """
    with open_store(db, "read", stage="search") as reader:
        missing, dropped = keyword_index_lag(reader.con)
        indexed_before = has_keyword_index(reader.con)
    if not missing and not dropped:
        return []
    try:
        with open_store(db) as store:
            done = sync_keyword_index(store.con)
    except StoreError as exc:
        if not is_lock_error(exc):
            raise
        if not indexed_before:
            raise LitmineError(f"search: {db} has no keyword index yet and another process is "
                               "writing to it; search again when that run ends, or use --mode "
                               "semantic") from exc
        return [f"the keyword index of {db} misses {missing} new or changed articles while "
                "another process writes the file; the next search after that run adds them"]
    return [f"keyword index of {db} updated: {done['indexed']} articles indexed, "
            f"{done['dropped']} removed"]


def answer_question(db: Path, question: str, *, qa_model: str | None = None, k: int = 5,
                    embed_model: str | None = None, max_answer_tokens: int = 30,
                    device: str = "auto") -> Answers:
    """Answer `question` from the stored abstracts: semantic search, then extractive QA.

    The QA model defaults to $LITMINE_QA_MODEL (none ships with litmine).
    """
    from litmine.tasks.semantic.embeddings import search
    from litmine.tasks.semantic.qa import QAModel, documents_for, sentence_of

    reader = QAModel(qa_model or get_settings(fresh=True).qa_model, device=device)
    con = open_store(db, "read").con
    try:
        hits = search(con, question, k=k, model=embed_model, device=device, db=str(db))
        answers = reader.answer(question, documents_for(con, [h.pmid for h in hits]),
                                max_answer_tokens=max_answer_tokens)
        rows = [a.__dict__ | dict(zip(("sentence_index", "sentence"),
                                      sentence_of(con, a.pmid, a.start))) for a in answers]
    finally:
        con.close()
    return Answers(model=reader.model_name, abstracts=len(hits), rows=rows)


def summarize_abstracts(db: Path, *, pmids: Sequence[str] | None = None, query: str | None = None,
                        model: str | None = None, k: int = 3, num_beams: int = 4,
                        no_repeat_ngram_size: int = 3, max_new_tokens: int = 96,
                        prompt: str = "{text}\nTL;DR:", store: bool = True,
                        device: str = "auto") -> Summaries:
    """Summarise the given PMIDs (or the top k hits of `query`) and, with `store`, save the
    summaries in the `summaries` table under a `summarize` run.

    The model defaults to $LITMINE_SUMMARY_MODEL (none ships with litmine).
    """
    from litmine.tasks.semantic.embeddings import search
    from litmine.tasks.semantic.qa import documents_for
    from litmine.tasks.semantic.summarize import Summarizer, store_summaries

    summarizer = Summarizer(model or get_settings(fresh=True).summary_model, device=device)
    con = open_store(db, "read").con
    try:
        pmids = list(pmids or [h.pmid for h in search(con, query, k=k, device=device,
                                                      db=str(db))])
        documents = documents_for(con, pmids)
    finally:
        con.close()
    if missing := [p for p in pmids if p not in dict(documents)]:
        raise LitmineError(f"summarize: PMID(s) {', '.join(missing)} are not in {db}; "
                           "mine them first (`litmine mine --query '<pmid>[uid]'`)")
    parameters = {"num_beams": num_beams, "no_repeat_ngram_size": no_repeat_ngram_size,
                  "max_new_tokens": max_new_tokens, "prompt": None if summarizer.seq2seq else prompt}
    summaries = summarizer.summarize([text for _, text in documents], num_beams=num_beams,
                                     no_repeat_ngram_size=no_repeat_ngram_size,
                                     max_new_tokens=max_new_tokens, prompt=prompt)
    if store:
        with open_store(db) as writer, recorded_run(writer, "summarize", parameters | {"pmids": pmids},
                                                    model=summarizer.model_name) as run:
            store_summaries(writer.con, pmids, summaries, model=summarizer.model_name,
                            parameters=parameters, run_id=run.run_id)
            run.counts["summaries"] = len(summaries)
    return Summaries(model=summarizer.model_name, documents=documents, summaries=summaries)
