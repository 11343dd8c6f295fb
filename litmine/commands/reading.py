"""CLI: `litmine ask` and `litmine summarize`: read stored abstracts for the user, answering a
question from them or summarising them."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from litmine.commands.options import (DbOption, DeviceOption, FormatOption, ResultFormat,
                                      plain, quiet_transformers, shorten, wide_console)
from litmine.errors import LitmineError
from litmine.tasks.store.access import database_path


def ask(
    question: Annotated[str, typer.Argument(help="A question, e.g. 'Which drug causes hearing loss?'.")],
    qa_model: Annotated[Optional[str], typer.Option("--qa-model", help="Extractive QA model (default: $LITMINE_QA_MODEL), e.g. deepset/roberta-base-squad2.")] = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="Abstracts retrieved and read.")] = 5,
    embed_model: Annotated[Optional[str], typer.Option("--embed-model", help="Whose vectors retrieve abstracts (default: the model with most).")] = None,
    max_answer_tokens: Annotated[int, typer.Option("--max-answer-tokens", min=1, help="Longest answer, in word pieces.")] = 30,
    db: DbOption = None,
    format: FormatOption = ResultFormat.table,
    device: DeviceOption = "auto",
):
    """Answer a question from the stored abstracts: semantic search, then an extractive QA model."""
    from litmine.tasks.semantic.lookup import answer_question

    quiet_transformers()
    if not question.strip():
        raise LitmineError('ask: the question is empty; e.g. `litmine ask "Which drug causes '
                           'hearing loss?" --qa-model deepset/roberta-base-squad2`')
    found = answer_question(database_path(db, "ask"), question, qa_model=qa_model, k=k,
                            embed_model=embed_model, max_answer_tokens=max_answer_tokens,
                            device=device)
    if format is ResultFormat.json:
        wide_console(highlight=False).print_json(json.dumps(found.rows, default=str))
        return
    from rich.table import Table

    table = Table("#", "answer", "score", "PMID", "sentence",
                  title=plain(f"{question!r} ({found.model} over the top {found.abstracts} abstracts)"))
    for i, row in enumerate(found.rows, 1):
        table.add_row(str(i), plain(row["text"]), f"{row['score']:.3f}", plain(row["pmid"]),
                      plain(shorten(row["sentence"], 120)))
    wide_console(highlight=False).print(table)


def summarize(
    pmid: Annotated[Optional[list[str]], typer.Option("--pmid", help="PMID to summarise (repeat for several).")] = None,
    query: Annotated[Optional[str], typer.Option("--query", "-q", help="Summarise the top --k abstracts of this semantic search.")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Generative LM (default: $LITMINE_SUMMARY_MODEL), e.g. microsoft/biogpt or facebook/bart-large-cnn.")] = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="Abstracts summarised with --query.")] = 3,
    num_beams: Annotated[int, typer.Option("--num-beams", min=1, help="Beam search width (1: greedy).")] = 4,
    no_repeat_ngram_size: Annotated[int, typer.Option("--no-repeat-ngram-size", min=0, help="No n-gram of this size repeats in a summary (0: off).")] = 3,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="Longest summary, in tokens.")] = 96,
    prompt: Annotated[str, typer.Option("--prompt", help="Causal LMs: the prompt, with {text} for the abstract.")] = "{text}\nTL;DR:",
    store: Annotated[bool, typer.Option("--store/--no-store", help="Save summaries in the `summaries` table.")] = True,
    db: DbOption = None,
    device: DeviceOption = "auto",
):
    """Summarise abstracts (given PMIDs, or the hits of a search) with a generative model."""
    from litmine.tasks.semantic.lookup import summarize_abstracts

    quiet_transformers()
    if bool(pmid) == bool(query and query.strip()):
        raise LitmineError("summarize: give --pmid (one or more) or --query, not both or neither")
    done = summarize_abstracts(database_path(db, "summarize"), pmids=pmid, query=query,
                               model=model, k=k, num_beams=num_beams,
                               no_repeat_ngram_size=no_repeat_ngram_size,
                               max_new_tokens=max_new_tokens, prompt=prompt, store=store,
                               device=device)
    console = wide_console(highlight=False)
    for (p, text), summary in zip(done.documents, done.summaries):
        cut = (f", {summary.truncated_tokens} input tokens cut to fit the model"
               if summary.truncated_tokens else "")
        console.print(f"[bold]PMID {plain(p)}[/bold] ({plain(done.model)}{cut})\n"
                      f"  text: {plain(shorten(text, 150))}\n  summary: {plain(summary.text)}\n")


def register(app: typer.Typer) -> None:
    """Add `ask` and `summarize` to the `litmine` app."""
    app.command(name="ask")(ask)
    app.command(name="summarize")(summarize)
