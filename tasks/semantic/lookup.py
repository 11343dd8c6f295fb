"""Look things up in a mined database by meaning: find abstracts, answer a question, summarise.

Each function opens the database, does one job with the semantic models (embeddings.py, qa.py,
summarize.py) and closes it again, so that `litmine search`, `ask` and `summarize` make one
call each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from litmine.errors import LitmineError
from litmine.settings import get_settings
from litmine.tasks.semantic.embeddings import Hit, search
from litmine.tasks.semantic.qa import QAModel, documents_for, sentence_of
from litmine.tasks.semantic.summarize import Summarizer, Summary, store_summaries
from litmine.tasks.store.access import open_store
from litmine.tasks.store.runs import recorded_run


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
                   model: str | None = None, device: str = "auto") -> list[Hit]:
    """The k stored abstracts (or sentences) of `db` closest in meaning to `query`, best first."""
    con = open_store(db, "read").con
    try:
        return search(con, query, k=k, level=level, model=model, device=device, db=str(db))
    finally:
        con.close()


def answer_question(db: Path, question: str, *, qa_model: str | None = None, k: int = 5,
                    embed_model: str | None = None, max_answer_tokens: int = 30,
                    device: str = "auto") -> Answers:
    """Answer `question` from the stored abstracts: semantic search, then extractive QA.

    The QA model defaults to $LITMINE_QA_MODEL (none ships with litmine).
    """
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
