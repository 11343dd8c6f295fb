"""The `mine` flow: PubMed (a query or files) → sentences → NER → pairs → DuckDB."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from litmine.errors import LitmineError
from litmine.memory import limit_malloc_arenas
from litmine.progress import report_progress
from litmine.settings import get_settings
from litmine.tasks.sources.entrez import fetch_articles, search_pubmed, skip_stored
from litmine.tasks.ner.engine import load_tagger, tag_entities
from litmine.tasks.relations.pairs import pair_entities
from litmine.tasks.sources.pubmed_xml import parse_pubmed_xml
from litmine.tasks.records import Article, Deletion, Pair, Reject
from litmine.tasks.text.sentences import split_articles
from litmine.tasks.sources.files import iter_file_items, sniff_format
from litmine.tasks.store.database import Batch, Store, load_tables

#: Articles per NER batch task: large enough to keep the model busy, small enough to load often.
DEFAULT_BATCH_SIZE = 256


@dataclass(frozen=True)
class RelationStep:
    """What the relation step after NER uses: a MeSH lexicon and (optionally) a CID model."""

    lexicon: str
    relation_model: str | None

    def parameters(self) -> dict:
        return {"lexicon": self.lexicon, "relation_model": self.relation_model}


def relation_step(enabled: bool, lexicon: str | None = None, relation_model: str | None = None,
                  stage: str = "mine") -> RelationStep | None:
    """The relation step for a run (None when disabled), failing early on missing files.

    Defaults: $LITMINE_LEXICON / $LITMINE_RELATION_MODEL, else the shipped ones in data/models.
    `relation_model=""` links entities to MeSH without scoring CID relations.
    """
    if not enabled:
        return None
    settings = get_settings()
    lexicon = lexicon or str(settings.lexicon)
    if relation_model is None:
        relation_model = str(settings.relation_model)
    if not Path(lexicon).is_file():
        raise LitmineError(f"{stage}: MeSH lexicon {lexicon} not found; build one with `litmine "
                           "lexicon build`, set LITMINE_LEXICON, or run with --no-relations")
    from litmine.tasks.relations.model_config import RELATION_FILE

    if relation_model and not (Path(relation_model) / RELATION_FILE).is_file():
        raise LitmineError(f"{stage}: CID relation model {relation_model} not found (no {RELATION_FILE}); "
                           "train one with `litmine train-relations`, set LITMINE_RELATION_MODEL, "
                           "or run with --no-relations")
    return RelationStep(lexicon=lexicon, relation_model=relation_model or None)


@task(name="read-files", cache_policy=NO_CACHE)
def count_file_bytes(files: list[str]) -> int:
    """Total size of the input files (for progress), failing early on a missing one."""
    total = 0
    for name in files:
        path = Path(name)
        if path.is_dir():
            raise LitmineError(f"mine: {path} is a directory, not a file; give the files in it "
                               f"(e.g. {path}/*.xml.gz)")
        if not path.is_file():
            raise LitmineError(f"mine: input file {path} does not exist; check the path")
        sniff_format(path)  # neither PubMed XML nor PubTator: fail before any work is done
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


def _query_items(query: str, max_results: int | None, fetch_window: int, store: Store | None = None,
                 tagger=None, counts: Counter | None = None) -> Iterator[list]:
    """Parsed records of every efetch batch of a query, fetching `fetch_window` batches at once.

    With a `store`, PMIDs it holds from `tagger`'s model (same fingerprint) are not fetched again
    (counted as `skipped_stored`): a rerun after a failure fetches only what is missing.
    """
    batches = search_pubmed(query, max_results=max_results)
    report_progress(total=sum(b.retmax for b in batches))
    in_flight: deque = deque()
    for batch in batches:
        if store is not None:
            stored = store.stored_pmids(batch.pmids, tagger.model_name, tagger.model_id)
            left = skip_stored(batch, stored)
            counts["skipped_stored"] += len(stored)
            report_progress(advance=len(stored))
            if left is None:
                continue
            batch = left
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
    resume: bool = True,
    embed: bool = False,
    relations: bool = True,
    lexicon: str | None = None,
    relation_model: str | None = None,
) -> dict:
    """Mine PubMed abstracts into DuckDB: articles, sentences, entities and chemical–disease pairs.

    Give either `query` (PubMed search syntax, fetched through E-utilities) or `files` (PubMed XML
    `.xml`/`.xml.gz`, or PubTator files). Re-running with the same model replaces each PMID's rows.
    A query run skips the PMIDs already stored by the same model and version (`resume`; False
    fetches and tags them again). With `embed`, abstracts and sentences not yet embedded get
    vectors for `litmine search` (flows/embed.py; model: $LITMINE_EMBED_MODEL or all-MiniLM-L6-v2).
    With `relations` (the default), abbreviations fix the mentions, Chemical/Disease mentions get
    MeSH IDs from `lexicon`, and every (chemical, disease) concept pair of a document is scored by
    the CID model `relation_model` ("" for none) into `pairs` (method "cid-…").
    """
    logger = get_run_logger()
    limit_malloc_arenas()  # memory stays flat over long runs (litmine/memory.py)
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
    step = relation_step(relations, lexicon, relation_model)
    tagger = load_tagger(model, device=device)
    ner_start = tagger.stats.copy()  # for the ner_tokenise/ner_model/ner_decode timings
    parameters = {"query": query, "files": files, "db": str(db_path), "model": tagger.model_name,
                  "max_results": max_results, "batch_size": batch_size, "device": device,
                  "model_id": tagger.model_id, "resume": resume,
                  **(step.parameters() if step else {"lexicon": None, "relation_model": None})}
    counts: Counter = Counter()
    timings: Counter = Counter()
    with Store(db_path) as store:
        run_id = store.begin_run("mine", parameters, model=tagger.model_name,
                                 run_id=str(flow_run.id) if flow_run.id else None)
        try:
            source = (_query_items(query, max_results, 4, store if resume else None, tagger, counts)
                      if query else _file_items(files, batch_size))
            process_items(source, store, tagger, model, run_id, device, max_results, counts,
                          timings, logger, relations=step)
            timings.update(tagger.stats.stage_seconds(ner_start))
            if embed:  # optional last step: vectors for semantic search (flows/embed.py)
                from litmine.flows.embed import embed_into

                for key, value in embed_into(store, run_id, device=device).items():
                    (timings if key.startswith("seconds_") else counts)[key] += value
        except BaseException as exc:
            store.finish_run(run_id, "failed", dict(counts), _rounded(timings), error=str(exc)[:2000])
            raise
        store.finish_run(run_id, "completed", dict(counts), _rounded(timings))
        top = store.con.execute(
            "SELECT chemical, disease, count(*) AS documents, sum(n_sentences) AS sentences "
            "FROM pairs WHERE run_id = ? AND method = 'cooccurrence' GROUP BY ALL "
            "ORDER BY documents DESC, sentences DESC, chemical, disease LIMIT 20",
            [run_id]).fetchall()
        top_relations = store.con.execute(
            "SELECT chemical_id, disease_id, any_value(chemical), any_value(disease), "
            "count(*) AS documents, round(max(score), 3) FROM pairs WHERE run_id = ? AND "
            "relation = 'CID' GROUP BY ALL ORDER BY documents DESC, 6 DESC, 1, 2 LIMIT 20",
            [run_id]).fetchall()
    logger.info("mine finished: %s", dict(counts))
    create_markdown_artifact(key="mine-report", markdown=_report(parameters, counts, timings, top,
                                                                   top_relations),
                             description=f"litmine mine run {run_id}")
    return {"run_id": run_id, "db": str(db_path), "model": tagger.model_name, **counts}


def process_items(source, store, tagger, model, run_id, device, max_results, counts, timings,
                  logger, relations: RelationStep | None = None) -> None:
    """Split, tag (one NER task in flight while the previous batch is paired and loaded), load.

    `source` yields lists of Article/Deletion/Reject; every batch is committed when this returns
    (the mine and refresh flows both call it). `relations`: abbreviations, MeSH IDs and CID
    pairs after NER (`relation_step`); None keeps the NER mentions and co-occurrence pairs only.
    """
    pending: deque = deque()
    for items in _timed(source, timings, "fetch+parse"):
        articles = [i for i in items if isinstance(i, Article)]
        rejects = [i for i in items if isinstance(i, Reject)]
        if max_results is not None:
            articles = articles[: max(0, max_results - counts["articles_seen"])]
        counts["articles_seen"] += len(articles)
        for deletion in (i for i in items if isinstance(i, Deletion)):
            while pending:  # deletions apply after the records before them
                _load(pending.popleft(), store, tagger, run_id, counts, timings, relations)
            counts["deleted"] += store.apply_deletion(deletion, run_id)
        started = time.perf_counter()
        sentences = split_articles(quote(articles))
        timings["split"] += time.perf_counter() - started
        future = tag_entities.submit(quote(sentences), model=model, device=device)
        pending.append((Batch(articles=articles, sentences=sentences, rejects=rejects), future))
        while len(pending) > 1:
            _load(pending.popleft(), store, tagger, run_id, counts, timings, relations)
        logger.info("batch: %d articles, %d sentences, %d rejects", len(articles), len(sentences),
                    len(rejects))
        if max_results is not None and counts["articles_seen"] >= max_results:
            break
    while pending:
        _load(pending.popleft(), store, tagger, run_id, counts, timings, relations)


def _load(entry, store, tagger, run_id, counts, timings, relations=None) -> None:
    batch, future = entry
    started = time.perf_counter()
    batch.mentions = future.result()
    timings["ner"] += time.perf_counter() - started
    cid_pairs: list[Pair] = []
    if relations is not None and batch.articles:
        from litmine.tasks.relations.relate import candidate_pairs, link_and_relate

        started = time.perf_counter()
        related = link_and_relate(quote(batch.articles), quote(batch.sentences),
                                  quote(batch.mentions), lexicon=relations.lexicon,
                                  relation_model=relations.relation_model)
        batch.mentions = related.mentions
        batch.abbreviations = related.abbreviations
        cid_pairs = candidate_pairs(related.candidates)
        counts["linked"] += sum(1 for m in related.mentions if m.concept_id)
        counts["relations"] += sum(1 for p in cid_pairs if p.relation == "CID")
        timings["relate"] += time.perf_counter() - started
    started = time.perf_counter()
    batch.pairs = pair_entities(quote(batch.mentions)) + cid_pairs
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


def _report(parameters: dict, counts: Counter, timings: Counter, top: list,
            top_relations: list = ()) -> str:
    lines = ["# litmine mine", "", f"Model: `{parameters['model']}`",
             f"Source: {parameters['query'] or ', '.join(parameters['files'] or [])}", "",
             "| count | rows |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(counts.items())]
    lines += ["", "| stage | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in timings.items()]
    lines += ["", "## Top pairs", "", "| chemical | disease | documents | sentences |", "|---|---|---|---|"]
    lines += [f"| {c} | {d} | {n} | {s} |" for c, d, n, s in top]
    if parameters.get("relation_model"):
        lines += ["", "## Top chemical-induced disease relations", "",
                  "| chemical | disease | MeSH IDs | documents | best score |", "|---|---|---|---|---|"]
        lines += [f"| {c} | {d} | {ci} → {di} | {n} | {s} |" for ci, di, c, d, n, s in top_relations]
    return "\n".join(lines)
