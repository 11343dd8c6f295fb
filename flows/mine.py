"""The `mine` flow: PubMed (a query or files) → sentences → NER → pairs → DuckDB."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from litmine.errors import LitmineError
from litmine.progress import report_progress
from litmine.settings import get_settings
from litmine.tasks.entrez import fetch_articles, search_pubmed
from litmine.tasks.ner import load_tagger, tag_entities
from litmine.tasks.pairs import pair_entities
from litmine.tasks.pubmed_xml import parse_pubmed_xml
from litmine.tasks.records import Article, Deletion, Reject
from litmine.tasks.sentences import split_articles
from litmine.tasks.sources import iter_file_items
from litmine.tasks.store import Batch, Store, load_tables

#: Articles per NER batch task: large enough to keep the model busy, small enough to load often.
DEFAULT_BATCH_SIZE = 256


@task(name="read-files", cache_policy=NO_CACHE)
def count_file_bytes(files: list[str]) -> int:
    """Total size of the input files (for progress), failing early on a missing one."""
    total = 0
    for name in files:
        path = Path(name)
        if not path.is_file():
            raise LitmineError(f"mine: input file {path} does not exist; check the path")
        total += path.stat().st_size
    return total


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _query_items(query: str, max_results: int | None, fetch_window: int) -> Iterator[list]:
    """Parsed records of every efetch batch of a query, fetching `fetch_window` batches at once."""
    batches = search_pubmed(query, max_results=max_results)
    report_progress(total=sum(b.retmax for b in batches))
    in_flight: deque = deque()
    for batch in batches:
        in_flight.append(fetch_articles.submit(batch))
        if len(in_flight) >= fetch_window:
            yield parse_pubmed_xml(quote(in_flight.popleft().result()))
    while in_flight:
        yield parse_pubmed_xml(quote(in_flight.popleft().result()))


def _file_items(files: list[str], batch_size: int) -> Iterator[list]:
    report_progress(total=None)
    for name in files:
        yield from _chunks(iter_file_items(name), batch_size)


@flow(name="mine", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=4))
def mine(
    query: str | None = None,
    files: list[str] | None = None,
    db: str | None = None,
    model: str | None = None,
    max_results: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str = "auto",
) -> dict:
    """Mine PubMed abstracts into DuckDB: articles, sentences, entities and chemical–disease pairs.

    Give either `query` (PubMed search syntax, fetched through E-utilities) or `files` (PubMed XML
    `.xml`/`.xml.gz`, or PubTator files). Re-running with the same model replaces each PMID's rows.
    """
    logger = get_run_logger()
    if bool(query) == bool(files):
        raise LitmineError("mine: give exactly one of query or files")
    if max_results is not None and max_results < 1:
        raise LitmineError(f"mine: max_results must be at least 1, got {max_results}")
    if batch_size < 1:
        raise LitmineError(f"mine: batch_size must be at least 1, got {batch_size}")
    settings = get_settings()
    db_path = Path(db) if db else settings.db
    if files:
        count_file_bytes(files)
    model = model or settings.model
    tagger = load_tagger(model, device=device)
    parameters = {"query": query, "files": files, "db": str(db_path), "model": tagger.model_name,
                  "max_results": max_results, "batch_size": batch_size, "device": device}
    counts: Counter = Counter()
    timings: Counter = Counter()
    with Store(db_path) as store:
        run_id = store.begin_run("mine", parameters, model=tagger.model_name,
                                 run_id=str(flow_run.id) if flow_run.id else None)
        try:
            source = _query_items(query, max_results, 4) if query else _file_items(files, batch_size)
            _process(source, store, tagger, model, run_id, device, max_results, counts, timings,
                     logger)
        except BaseException as exc:
            store.finish_run(run_id, "failed", dict(counts), _rounded(timings), error=str(exc)[:2000])
            raise
        store.finish_run(run_id, "completed", dict(counts), _rounded(timings))
        top = store.con.execute(
            "SELECT chemical, disease, count(*) AS documents, sum(n_sentences) AS sentences "
            "FROM pairs WHERE run_id = ? GROUP BY ALL ORDER BY documents DESC, sentences DESC, "
            "chemical, disease LIMIT 20", [run_id]).fetchall()
    logger.info("mine finished: %s", dict(counts))
    create_markdown_artifact(key="mine-report", markdown=_report(parameters, counts, timings, top),
                             description=f"litmine mine run {run_id}")
    return {"run_id": run_id, "db": str(db_path), "model": tagger.model_name, **counts}


def _process(source, store, tagger, model, run_id, device, max_results, counts, timings,
                     logger) -> None:
    """Split, tag (one NER task in flight while the previous batch is paired and loaded), load."""
    pending: deque = deque()
    for items in _timed(source, timings, "fetch+parse"):
        articles = [i for i in items if isinstance(i, Article)]
        rejects = [i for i in items if isinstance(i, Reject)]
        if max_results is not None:
            articles = articles[: max(0, max_results - counts["articles_seen"])]
        counts["articles_seen"] += len(articles)
        for deletion in (i for i in items if isinstance(i, Deletion)):
            while pending:  # deletions apply after the records before them
                _load(pending.popleft(), store, tagger, run_id, counts, timings)
            counts["deleted"] += store.apply_deletion(deletion, run_id)
        started = time.perf_counter()
        sentences = split_articles(quote(articles))
        timings["split"] += time.perf_counter() - started
        future = tag_entities.submit(quote(sentences), model=model, device=device)
        pending.append((Batch(articles=articles, sentences=sentences, rejects=rejects), future))
        while len(pending) > 1:
            _load(pending.popleft(), store, tagger, run_id, counts, timings)
        logger.info("batch: %d articles, %d sentences, %d rejects", len(articles), len(sentences),
                    len(rejects))
        if max_results is not None and counts["articles_seen"] >= max_results:
            break
    while pending:
        _load(pending.popleft(), store, tagger, run_id, counts, timings)


def _load(entry, store, tagger, run_id, counts, timings) -> None:
    batch, future = entry
    started = time.perf_counter()
    batch.mentions = future.result()
    timings["ner"] += time.perf_counter() - started
    started = time.perf_counter()
    batch.pairs = pair_entities(quote(batch.mentions))
    timings["pair"] += time.perf_counter() - started
    started = time.perf_counter()
    written = load_tables(quote(store), quote(batch), tagger.model_name, run_id)
    timings["load"] += time.perf_counter() - started
    counts.update(written)
    report_progress(advance=len(batch.articles))


def _timed(iterator: Iterator, timings: Counter, key: str) -> Iterator:
    while True:
        started = time.perf_counter()
        try:
            item = next(iterator)
        except StopIteration:
            return
        finally:
            timings[key] += time.perf_counter() - started
        yield item


def _rounded(timings: Counter) -> dict[str, float]:
    return {k: round(v, 3) for k, v in timings.items()}


def _report(parameters: dict, counts: Counter, timings: Counter, top: list) -> str:
    lines = ["# litmine mine", "", f"Model: `{parameters['model']}`",
             f"Source: {parameters['query'] or ', '.join(parameters['files'] or [])}", "",
             "| count | rows |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(counts.items())]
    lines += ["", "| stage | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in timings.items()]
    lines += ["", "## Top pairs", "", "| chemical | disease | documents | sentences |", "|---|---|---|---|"]
    lines += [f"| {c} | {d} | {n} | {s} |" for c, d, n, s in top]
    return "\n".join(lines)
