"""CLI: `litmine embed`, `search`, `classify`, `train-classifier`, `evaluate-classifier`, `ask`,
`summarize`: the transformer tasks over a mined database."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from litmine.commands.options import (DbOption, DeviceOption, ResultFormat, database_path,
                                      quiet_transformers, shorten, wide_console)
from litmine.errors import LitmineError
from litmine.settings import get_settings

EmbedModelOption = Annotated[
    Optional[str],
    typer.Option("--model", "-m", help="Sentence-embedding model: hub ID or local directory "
                                       "(default: $LITMINE_EMBED_MODEL, else the bundled "
                                       "all-MiniLM-L6-v2)."),
]


class Level(str, Enum):
    abstract = "abstract"
    sentence = "sentence"


class EmbedLevel(str, Enum):
    abstract = "abstract"
    sentence = "sentence"
    all = "all"


class Method(str, Enum):
    embedding = "embedding"
    nli = "nli"
    trained = "trained"


def embed(
    db: DbOption = None,
    model: EmbedModelOption = None,
    level: Annotated[EmbedLevel, typer.Option("--level", help="abstract, sentence or all.")] = EmbedLevel.all,
    device: DeviceOption = "auto",
):
    """Embed stored abstracts and sentences for `litmine search` (only new or changed texts)."""
    from litmine.flows.embed import embed as embed_flow
    from litmine.tasks.semantic.embeddings import load_embedder

    quiet_transformers()
    path = database_path(db, "embed")
    load_embedder(model, device=device)  # a bad model fails here, before a flow run starts
    levels = ["abstract", "sentence"] if level is EmbedLevel.all else [level.value]
    result = embed_flow(db=str(path), model=model, levels=levels, device=device)
    done = ", ".join(f"{result.get(f'embedded_{lv}s', 0)} {lv}s" for lv in levels)
    windowed = sum(result.get(f"windowed_{lv}s", 0) for lv in levels)
    wide_console(highlight=False).print(f"embedded {done} with {result['model']} ({result['dim']} dimensions) into "
                     f"{result['db']}" + (f"; {windowed} texts longer than the model's limit "
                                           "were embedded as windows" if windowed else ""))


def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="How many hits.")] = 10,
    level: Annotated[Level, typer.Option("--level", help="Rank abstracts or single sentences.")] = Level.abstract,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Whose vectors (default: the model with most).")] = None,
    db: DbOption = None,
    format: Annotated[ResultFormat, typer.Option("--format", help="table or json.")] = ResultFormat.table,
    device: DeviceOption = "auto",
):
    """Find stored abstracts (or sentences) by meaning: cosine similarity of embeddings."""
    from litmine.tasks.semantic.embeddings import search as run_search
    from litmine.tasks.store.query import connect_readonly

    quiet_transformers()
    if not query.strip():
        raise LitmineError('search: the query is empty; give words to search for, e.g. '
                           '`litmine search "drug-induced liver injury"`')
    path = database_path(db, "search")
    con = connect_readonly(path)
    try:
        hits = run_search(con, query, k=k, level=level.value, model=model, device=device,
                          db=str(path))
    finally:
        con.close()
    if format is ResultFormat.json:
        wide_console(highlight=False).print_json(json.dumps([h.__dict__ for h in hits], default=str))
        return
    from rich.table import Table

    table = Table("#", "score", "PMID", "year", "sentence" if level is Level.sentence else "title",
                  title=f"{query!r}: top {len(hits)} {level.value}s")
    for hit in hits:
        shown = (f"[{hit.sentence_index}] {shorten(hit.text, 110)}" if level is Level.sentence
                 else shorten(hit.title, 110))
        table.add_row(str(hit.rank), f"{hit.score:.3f}", hit.pmid, str(hit.year or ""), shown)
    wide_console(highlight=False).print(table)


def classify(
    db: DbOption = None,
    method: Annotated[Method, typer.Option("--method", help="embedding (zero-shot, offline), nli (zero-shot with an NLI model) or trained.")] = Method.embedding,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="embedding: sentence encoder (default MiniLM); nli: e.g. facebook/bart-large-mnli; trained: a `litmine train-classifier` directory.")] = None,
    device: DeviceOption = "auto",
):
    """Label every stored abstract with a study type (stored in the `classifications` table)."""
    from litmine.flows.classify import classify as classify_flow, load_method

    quiet_transformers()
    path = database_path(db, "classify")
    load_method(method.value, model, device)  # a bad model fails here, before a flow run starts
    result = classify_flow(db=str(path), method=method.value, model=model, device=device)
    from rich.table import Table

    table = Table("study type", "abstracts", title=f"{result['classified']} abstracts classified "
                  f"by {result['model']} ({result['method']})")
    for label, n in sorted(result["labels"].items(), key=lambda x: -x[1]):
        table.add_row(label, str(n))
    wide_console(highlight=False).print(table)


def train_classifier(
    db: DbOption = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Model directory to write (default: data/models/litmine-study-type-minilm-l6).")] = None,
    base_model: Annotated[Optional[str], typer.Option("--base-model", help="Encoder to fine-tune (default: the bundled all-MiniLM-L6-v2).")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", min=1, help="Default: enough to see about 3,000 abstracts, 3 to 20 epochs.")] = None,
    lr: Annotated[float, typer.Option("--lr", min=0)] = 1e-4,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 16,
    max_length: Annotated[int, typer.Option("--max-length", min=16, help="Word pieces per abstract (longer ones are truncated and counted).")] = 256,
    test_fraction: Annotated[float, typer.Option("--test-fraction", min=0.01, max=0.9, help="Share of each study type held out for evaluation.")] = 0.3,
    seed: Annotated[int, typer.Option("--seed")] = 13,
    limit: Annotated[Optional[int], typer.Option("--limit", min=2, help="Use at most this many abstracts.")] = None,
    device: DeviceOption = "auto",
):
    """Fine-tune a study-type classifier on stored PublicationType labels; score it vs zero-shot."""
    from litmine.flows.classify import DEFAULT_CLASSIFIER_DIR, train_classifier as train_flow

    quiet_transformers()
    path = database_path(db, "train-classifier")
    result = train_flow(db=str(path), out_dir=str(out or DEFAULT_CLASSIFIER_DIR),
                        base_model=base_model, epochs=epochs, lr=lr, batch_size=batch_size,
                        max_length=max_length, test_fraction=test_fraction, seed=seed,
                        device=device, limit=limit)
    console = wide_console(highlight=False)
    console.print(f"model saved to {result['out_dir']} ({result['training']['n_train']} training "
                  f"abstracts, {result['training']['truncated']} truncated to {max_length} word "
                  f"pieces); held-out split: {result['n_test']} abstracts")
    console.print(result["table"])


def evaluate_classifier(
    db: DbOption = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="A trained classifier directory (its split.json fixes the held-out PMIDs).")] = None,
    nli_model: Annotated[Optional[str], typer.Option("--nli-model", help="Also score zero-shot NLI with this model, e.g. facebook/bart-large-mnli.")] = None,
    embed_model: Annotated[Optional[str], typer.Option("--embed-model", help="Encoder for the embedding zero-shot baseline (default MiniLM).")] = None,
    test_fraction: Annotated[float, typer.Option("--test-fraction", min=0.01, max=0.9)] = 0.3,
    seed: Annotated[int, typer.Option("--seed")] = 13,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the scores as JSON here.")] = None,
    device: DeviceOption = "auto",
):
    """Macro-F1 per study type on the held-out split: trained classifier vs zero-shot baselines."""
    from litmine.flows.classify import evaluate_classifier as evaluate_flow

    quiet_transformers()
    path = database_path(db, "evaluate-classifier")
    report = evaluate_flow(db=str(path), model=model, nli_model=nli_model, embed_model=embed_model,
                           test_fraction=test_fraction, seed=seed, device=device,
                           json_out=str(json_out) if json_out else None)
    wide_console(highlight=False).print(f"held-out split: {report['n_test']} of {report['n_labelled']} labelled "
                     f"abstracts\n{report['table']}")


def ask(
    question: Annotated[str, typer.Argument(help="A question, e.g. 'Which drug causes hearing loss?'.")],
    qa_model: Annotated[Optional[str], typer.Option("--qa-model", help="Extractive QA model (default: $LITMINE_QA_MODEL), e.g. deepset/roberta-base-squad2.")] = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="Abstracts retrieved and read.")] = 5,
    embed_model: Annotated[Optional[str], typer.Option("--embed-model", help="Whose vectors retrieve abstracts (default: the model with most).")] = None,
    max_answer_tokens: Annotated[int, typer.Option("--max-answer-tokens", min=1)] = 30,
    db: DbOption = None,
    format: Annotated[ResultFormat, typer.Option("--format", help="table or json.")] = ResultFormat.table,
    device: DeviceOption = "auto",
):
    """Answer a question from the stored abstracts: semantic search, then an extractive QA model."""
    from litmine.tasks.semantic.embeddings import search as run_search
    from litmine.tasks.semantic.qa import QAModel, documents_for, sentence_of
    from litmine.tasks.store.query import connect_readonly

    quiet_transformers()
    if not question.strip():
        raise LitmineError('ask: the question is empty; e.g. `litmine ask "Which drug causes '
                           'hearing loss?" --qa-model deepset/roberta-base-squad2`')
    path = database_path(db, "ask")
    reader = QAModel(qa_model or get_settings(fresh=True).qa_model, device=device)
    con = connect_readonly(path)
    try:
        hits = run_search(con, question, k=k, model=embed_model, device=device, db=str(path))
        answers = reader.answer(question, documents_for(con, [h.pmid for h in hits]),
                                max_answer_tokens=max_answer_tokens)
        rows = [a.__dict__ | dict(zip(("sentence_index", "sentence"),
                                      sentence_of(con, a.pmid, a.start))) for a in answers]
    finally:
        con.close()
    if format is ResultFormat.json:
        wide_console(highlight=False).print_json(json.dumps(rows, default=str))
        return
    from rich.table import Table

    table = Table("#", "answer", "score", "PMID", "sentence",
                  title=f"{question!r} ({reader.model_name} over the top {len(hits)} abstracts)")
    for i, row in enumerate(rows, 1):
        table.add_row(str(i), row["text"], f"{row['score']:.3f}", row["pmid"],
                      shorten(row["sentence"], 120))
    wide_console(highlight=False).print(table)


def summarize(
    pmid: Annotated[Optional[list[str]], typer.Option("--pmid", help="PMID to summarise (repeat for several).")] = None,
    query: Annotated[Optional[str], typer.Option("--query", "-q", help="Summarise the top --k abstracts of this semantic search.")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Generative LM (default: $LITMINE_SUMMARY_MODEL), e.g. microsoft/biogpt or facebook/bart-large-cnn.")] = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="Abstracts summarised with --query.")] = 3,
    num_beams: Annotated[int, typer.Option("--num-beams", min=1)] = 4,
    no_repeat_ngram_size: Annotated[int, typer.Option("--no-repeat-ngram-size", min=0)] = 3,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1)] = 96,
    prompt: Annotated[str, typer.Option("--prompt", help="Causal LMs: the prompt, with {text} for the abstract.")] = "{text}\nTL;DR:",
    store: Annotated[bool, typer.Option("--store/--no-store", help="Save summaries in the `summaries` table.")] = True,
    db: DbOption = None,
    device: DeviceOption = "auto",
):
    """Summarise abstracts (given PMIDs, or the hits of a search) with a generative model."""
    from litmine.tasks.semantic.embeddings import search as run_search
    from litmine.tasks.semantic.qa import documents_for
    from litmine.tasks.store.query import connect_readonly
    from litmine.tasks.store.database import Store
    from litmine.tasks.semantic.summarize import Summarizer, store_summaries

    quiet_transformers()
    if bool(pmid) == bool(query and query.strip()):
        raise LitmineError("summarize: give --pmid (one or more) or --query, not both or neither")
    path = database_path(db, "summarize")
    summarizer = Summarizer(model or get_settings(fresh=True).summary_model, device=device)
    con = connect_readonly(path)
    try:
        pmids = list(pmid or [h.pmid for h in run_search(con, query, k=k, device=device,
                                                         db=str(path))])
        documents = documents_for(con, pmids)
    finally:
        con.close()
    if missing := [p for p in pmids if p not in dict(documents)]:
        raise LitmineError(f"summarize: PMID(s) {', '.join(missing)} are not in {path}; "
                           "mine them first (`litmine mine --query '<pmid>[uid]'`)")
    parameters = {"num_beams": num_beams, "no_repeat_ngram_size": no_repeat_ngram_size,
                  "max_new_tokens": max_new_tokens, "prompt": None if summarizer.seq2seq else prompt}
    summaries = summarizer.summarize([text for _, text in documents], num_beams=num_beams,
                                     no_repeat_ngram_size=no_repeat_ngram_size,
                                     max_new_tokens=max_new_tokens, prompt=prompt)
    if store:
        with Store(path) as writer:
            run_id = writer.begin_run("summarize", parameters | {"pmids": pmids},
                                      model=summarizer.model_name)
            store_summaries(writer.con, pmids, summaries, model=summarizer.model_name,
                            parameters=parameters, run_id=run_id)
            writer.finish_run(run_id, "completed", {"summaries": len(summaries)}, {})
    console = wide_console(highlight=False)
    for (p, text), summary in zip(documents, summaries):
        cut = (f", {summary.truncated_tokens} input tokens cut to fit the model"
               if summary.truncated_tokens else "")
        console.print(f"[bold]PMID {p}[/bold] ({summarizer.model_name}{cut})\n"
                      f"  text: {shorten(text, 150)}\n  summary: {summary.text}\n")


def register(app: typer.Typer) -> None:
    """Add the transformer-task commands to the `litmine` app."""
    app.command(name="embed")(embed)
    app.command(name="search")(search)
    app.command(name="classify")(classify)
    app.command(name="train-classifier")(train_classifier)
    app.command(name="evaluate-classifier")(evaluate_classifier)
    app.command(name="ask")(ask)
    app.command(name="summarize")(summarize)
