"""The `mine` flow: PubMed (a query or files) → sentences → NER → pairs → DuckDB."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from litmine.errors import LitmineError
from litmine.flows.embed import embed_into
from litmine.flows.pipeline import (DEFAULT_BATCH_SIZE, NO_RELATION_STEP, choose_ner_dtype,
                                    fetch_batches, preload_models, process_items, relation_step,
                                    update_keyword_index)
from litmine.memory import limit_malloc_arenas
from litmine.progress import report_progress
from litmine.settings import get_settings
from litmine.tasks.ner.engine import load_tagger
from litmine.tasks.sources.annotations import ENTITY_SOURCES, GIVEN_MODEL, unannotated_message
from litmine.tasks.sources.entrez import FetchBatch, search_pubmed, skip_stored
from litmine.tasks.sources.files import chunked, iter_file_items, sniff_format
from litmine.tasks.store.access import database_path, open_store
from litmine.tasks.store.database import Store
from litmine.tasks.store.reports import (rejected_message, top_pairs, top_relations,
                                          top_typed_relations)
from litmine.tasks.store.runs import recorded_run


def _entities_given(entities: str, query: str | None) -> bool:
    """Whether the run reads the input's own annotations (`entities` "given"), checked."""
    if entities not in ENTITY_SOURCES:
        raise LitmineError(f"mine: entities must be one of {', '.join(ENTITY_SOURCES)}, got "
                           f"{entities!r}")
    if entities == "given" and query:
        raise LitmineError("mine: --entities given reads the entity annotations of input files, "
                           "and a PubMed query returns none; give --files (PubTator or BioC, "
                           "e.g. PubTator3's export), or drop --entities given to tag the query's "
                           "abstracts")
    return entities == "given"


@task(name="read-files", cache_policy=NO_CACHE)
def count_file_bytes(files: list[str], given: bool = False) -> int:
    """Total size of the input files (for progress), failing early on a missing one (and,
    `given`, on a PubMed XML file, which has no entity annotations)."""
    total = 0
    for name in files:
        path = Path(name)
        if path.is_dir():
            raise LitmineError(f"mine: {path} is a directory, not a file; give the files in it "
                               f"(e.g. {path}/*.xml.gz)")
        if not path.is_file():
            raise LitmineError(f"mine: input file {path} does not exist; check the path")
        fmt = sniff_format(path)  # not PubMed XML, BioC or PubTator: fail before any work is done
        if given and fmt == "pubmed-xml":
            raise LitmineError(f"mine: --entities given reads entity annotations, and {path} is "
                               "PubMed XML, which has none; give PubTator or BioC files (PubTator3 "
                               "exports both), or drop --entities given to tag it")
        total += path.stat().st_size
    return total


def _query_items(query: str, max_results: int | None, fetch_window: int, store: Store | None = None,
                 tagger=None, counts: Counter | None = None) -> Iterator[list]:
    """Parsed records of every efetch batch of a query, fetching `fetch_window` batches at once.

    With a `store`, PMIDs it holds from `tagger`'s model (same fingerprint) are not fetched again
    (counted as `skipped_stored`): a rerun after a failure fetches only what is missing.
    """
    batches = search_pubmed(query, max_results=max_results)
    report_progress(total=sum(b.retmax for b in batches))
    if store is not None:
        batches = _unstored(batches, store, tagger, counts)
    yield from fetch_batches(batches, fetch_window)


def _unstored(batches: Iterable[FetchBatch], store: Store, tagger, counts: Counter) -> Iterator[FetchBatch]:
    """Each batch without the PMIDs `store` holds from `tagger`'s model; batches left empty go."""
    for batch in batches:
        stored = store.stored_pmids(batch.pmids, tagger.model_name, tagger.model_id)
        store.release()  # not held while the batch is fetched
        left = skip_stored(batch, stored)
        counts["skipped_stored"] += len(stored)
        report_progress(advance=len(stored))
        if left is not None:
            yield left


def _file_items(files: list[str], batch_size: int) -> Iterator[list]:
    report_progress(total=None)
    for name in files:
        yield from chunked(iter_file_items(name), batch_size)


@flow(name="mine", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=4))
def mine(
    query: str | None = None,
    files: list[str] | None = None,
    db: str | None = None,
    model: str | None = None,
    max_results: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str = "auto",
    dtype: str | None = None,
    resume: bool = True,
    embed: bool = False,
    relations: bool = True,
    lexicon: str | None = None,
    relation_model: str | None = None,
    typed_relation_model: str | None = None,
    entities: str = "tagged",
) -> dict:
    """Mine PubMed abstracts into DuckDB: articles, sentences, entities and chemical–disease pairs.

    Give either `query` (PubMed search syntax, fetched through E-utilities) or `files` (PubMed XML
    `.xml`/`.xml.gz`, BioC XML or JSON, or PubTator files; full texts keep their passages). Re-running with the same model replaces each PMID's rows.
    A query run skips the PMIDs already stored by the same model and version (`resume`; False
    fetches and tags them again). With `embed`, abstracts and sentences not yet embedded get
    vectors for `litmine search` (flows/embed.py; model: $LITMINE_EMBED_MODEL or all-MiniLM-L6-v2).
    With `relations` (the default), abbreviations fix the mentions, Chemical/Disease mentions get
    MeSH IDs from `lexicon`, and every (chemical, disease) concept pair of a document is scored by
    the CID model `relation_model` ("" for none) into `pairs` (method "cid-…"), and every pair
    of gene, chemical, disease and variant concepts is classed by BioRED's relation types with
    novelty (`typed_relation_model`, "" for none) into `relations`. `dtype`: the NER
    weights' dtype (default $LITMINE_DTYPE, "auto": bf16 on CPUs with AMX or AVX512-BF16), and
    the relation models' (where "auto" runs NER in fp32, the shared relation heads run int8;
    `relation_dtype`). `entities`: "tagged" (NER finds the mentions) or "given" (the input
    files' own annotations, PubTator or BioC, with their IDs: `litmine.tasks.sources.annotations`;
    rows under the model name "given").
    """
    logger = get_run_logger()
    limit_malloc_arenas()  # memory stays flat over long runs (litmine/memory.py)
    if bool(query) == bool(files):
        raise LitmineError("mine: give exactly one of query or files")
    if max_results is not None and max_results < 1:
        raise LitmineError(f"mine: max_results must be at least 1, got {max_results}")
    if batch_size < 1:
        raise LitmineError(f"mine: batch_size must be at least 1, got {batch_size}")
    given = _entities_given(entities, query)
    settings = get_settings()
    db_path = database_path(db)
    if files:
        count_file_bytes(files, given)
    model = model or settings.model
    dtype_choice = choose_ner_dtype(dtype, device, logger)
    step = relation_step(relations, lexicon, relation_model,
                         typed_relation_model=typed_relation_model, device=device,
                         ner_dtype=dtype_choice)
    if step:
        logger.info(step.dtype.message("relations"))
    # The relation step's models and linker load while NER loads and the first batch is read.
    preload_models(model, device, dtype_choice.name, step)
    tagger = load_tagger(model, device=device, dtype=dtype_choice.name)
    ner_start = tagger.stats.copy()  # for the ner_tokenise/ner_model/ner_decode timings
    parameters = {"query": query, "files": files, "db": str(db_path), "model": tagger.model_name,
                  "max_results": max_results, "batch_size": batch_size, "device": device,
                  "model_id": tagger.model_id, "resume": resume, "entities": entities,
                  **dtype_choice.parameters(),
                  **(step.parameters() if step else NO_RELATION_STEP)}
    rows_model = GIVEN_MODEL if given else tagger.model_name  # whose rows the run stores
    with open_store(db_path) as store:
        with recorded_run(store, "mine", parameters, model=rows_model,
                          run_id=str(flow_run.id) if flow_run.id else None) as run:
            counts, timings = run.counts, run.timings
            source = (_query_items(query, max_results, 4, store if resume else None, tagger, counts)
                      if query else _file_items(files, batch_size))
            process_items(source, store, tagger, model, run.run_id, device, max_results, counts,
                          timings, logger, relations=step, given=given)
            timings.update(tagger.stats.stage_seconds(ner_start))
            update_keyword_index(store, logger)
            if embed:  # optional last step: vectors for semantic search (flows/embed.py)
                for key, value in embed_into(store, run.run_id, device=device).items():
                    (timings if key.startswith("seconds_") else counts)[key] += value
        top = top_pairs(store.con, run.run_id)
        relations_found = top_relations(store.con, run.run_id)
        typed_found = top_typed_relations(store.con, run.run_id)
    logger.info("mine finished: %s", dict(counts))
    if counts["rejected_documents"]:
        logger.warning(rejected_message(run.run_id, counts["rejected_documents"]))
    if counts["given_unannotated"]:
        logger.warning(unannotated_message(counts["given_unannotated"]))
    create_markdown_artifact(key="mine-report", markdown=_report(parameters, counts, timings, top,
                                                                   relations_found, typed_found),
                             description=f"litmine mine run {run.run_id}")
    return {"run_id": run.run_id, "db": str(db_path), "model": rows_model, **counts}


def _report(parameters: dict, counts: Counter, timings: Counter, top: list,
            top_relations: list = (), top_typed: list = ()) -> str:
    lines = ["# litmine mine", "", f"Model: `{parameters['model']}`",
             f"Source: {parameters['query'] or ', '.join(parameters['files'] or [])}", "",
             f"Completed with {counts['rejected_documents']} rejected documents (table `rejects`)."
             if counts["rejected_documents"] else "Completed.", "",
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
    if parameters.get("typed_relation_model"):
        lines += ["", "## Top relations (BioRED types)", "",
                  "| relation | first | second | documents | novel in | best score |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r} | {n1} ({t1}) | {n2} ({t2}) | {n} | {nv} | {s} |"
                  for r, t1, n1, t2, n2, n, nv, s in top_typed]
    return "\n".join(lines)
