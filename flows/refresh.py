"""The `refresh` flow: keep a corpus current from saved queries (watches) or NCBI's bulk files.

- Watches: each refresh fetches what entered PubMed since the watch's watermark (an Entrez-date
  window, see tasks/sources/watches.py); the first refresh of a watch is a full backfill, split into
  date windows past PubMed's 9,999-record cap by `plan_search`. The watermark moves only after
  the whole window is stored.
- Bulk files (`files=DIR`): the baseline and update files in NCBI's order, each checked against
  its .md5, skipping files already loaded and resuming at the first unfinished one.

Both run the batch pipeline the mine flow runs (flows/pipeline.py: split -> NER task -> pairs -> load).
Each unit of work (a watch, a set of files) gets a `runs` row; the flow run leaves one markdown
artifact (`refresh-report`). The store lets go of the file between batches and while models load,
so readers (`litmine sql`) keep working during a refresh (tasks/store/access.py).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timezone

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from litmine.errors import LitmineError
from litmine.memory import limit_malloc_arenas
from litmine.flows.pipeline import (DEFAULT_BATCH_SIZE, RelationStep, choose_ner_dtype, fetch_batches,
                                    process_items, relation_step, update_keyword_index)
from litmine.progress import report_progress
from litmine.settings import get_settings
from litmine.tasks.sources.bulk import (
    check_order,
    file_statuses,
    find_bulk_files,
    finish_file,
    iter_file_batches,
    start_file,
    verify_md5,
)
from litmine.tasks.sources.entrez import search_pubmed
from litmine.tasks.store.access import database_path, open_store
from litmine.tasks.loading import DtypeChoice
from litmine.tasks.ner.engine import load_tagger
from litmine.tasks.store.database import Store
from litmine.tasks.store.reports import new_pairs, run_rejects
from litmine.tasks.store.runs import recorded_run, rounded
from litmine.tasks.sources.watches import (
    Watch,
    get_watches,
    mark_crashed_runs,
    plan_window,
    process_started_at,
    record_refresh,
)

#: efetch batches in flight at once (the process-wide rate limiter paces them; see tasks/sources/entrez.py).
FETCH_WINDOW = 4
_DATE = "%Y/%m/%d"


@flow(name="refresh", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=FETCH_WINDOW))
def refresh(
    names: list[str] | None = None,
    files: str | None = None,
    db: str | None = None,
    model: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str = "auto",
    dtype: str | None = None,
    wait: float = 0.0,
    snapshot: bool = True,
    snapshot_every: float = 300.0,
    relations: bool = True,
) -> dict:
    """Bring the database up to date: the watches `names` (every watch when empty), or NCBI's
    baseline/update files under the directory `files`.

    `model` is used for files and for watches saved without one. `wait`: seconds to wait while
    another run writes to the database. `snapshot`, `snapshot_every`: ignored (readers read the
    database itself between batches; kept so that older deployments still start). `relations`:
    abbreviations, MeSH IDs and CID relations after NER, as in `mine` (the shipped lexicon and CID model, or
    $LITMINE_LEXICON / $LITMINE_RELATION_MODEL). `dtype`: the NER weights' dtype (default
    $LITMINE_DTYPE, "auto": bf16 on CPUs with AMX or AVX512-BF16, fp32 on others, fp16 on CUDA).
    """
    logger = get_run_logger()
    limit_malloc_arenas()  # memory stays flat over long runs (litmine/memory.py)
    if names and files:
        raise LitmineError("refresh: give watch names or --files DIR, not both")
    if batch_size < 1:
        raise LitmineError(f"refresh: batch_size must be at least 1, got {batch_size}")
    settings = get_settings()
    db_path = database_path(db)
    default_model = model or settings.model
    dtype_choice = choose_ner_dtype(dtype, device, logger)
    step = relation_step(relations, stage="refresh", device=device, ner_dtype=dtype_choice)
    if step:
        logger.info(step.dtype.message("relations"))
    flow_run_id = str(flow_run.id) if flow_run.id else None
    units: list[dict] = []
    failures: list[str] = []
    with open_store(db_path, "wait", wait=wait) as store:
        crashed = mark_crashed_runs(store.con, process_started_at())
        if crashed:
            logger.warning("runs %s were left running by a process that died; marked crashed", crashed)
        common = dict(device=device, dtype=dtype_choice, batch_size=batch_size,
                      flow_run_id=flow_run_id, logger=logger, relations=step)
        if files:
            units.append(refresh_files(store, files, model=default_model, **common))
        else:
            watches = get_watches(store.con, names)
            if not watches:
                raise LitmineError(f"refresh: {db_path} has no watches; add one with "
                                   "`litmine watch add NAME --query TEXT`, or pass --files DIR")
            store.release()  # not held while models load and windows are fetched
            for watch in watches:
                try:
                    units.append(refresh_watch(store, watch, model=watch.model or default_model, **common))
                except Exception as exc:  # one failing watch does not stop the others
                    logger.error("watch %s failed: %s", watch.name, exc)
                    failures.append(f"{watch.name}: {exc}")
                    units.append({"watch": watch.name, "status": "failed", "error": str(exc)[:500]})
        if any(u.get("run_id") for u in units):
            update_keyword_index(store, logger)
        top = {u["run_id"]: new_pairs(store.con, u["run_id"]) for u in units if u.get("run_id")}
        rejects = {u["run_id"]: run_rejects(store.con, u["run_id"]) for u in units if u.get("run_id")}
    create_markdown_artifact(key="refresh-report", markdown=render_report(units, top, rejects),
                             description=f"litmine refresh of {db_path}")
    if failures:
        raise LitmineError(f"refresh: {len(failures)} of {len(units)} watches failed (their watermarks "
                           f"did not move; the next refresh fetches their windows again): "
                           + "; ".join(failures))
    totals = Counter()
    for unit in units:
        totals.update(unit.get("counts", {}))
    return {"db": str(db_path), "flow_run_id": flow_run_id, "units": units, **totals}


def refresh_watch(store: Store, watch: Watch, *, model: str, device: str, dtype: DtypeChoice,
                  batch_size: int, flow_run_id: str | None, logger,
                  relations: RelationStep | None = None) -> dict:
    """Fetch, process and store one watch's window; move its watermark once all of it is stored."""
    tagger = load_tagger(model, device=device, dtype=dtype.name)
    today = datetime.now(timezone.utc).date()
    mindate, next_watermark = plan_window(watch.watermark, today)
    window = f"{mindate:%Y-%m-%d}..today" if mindate else "everything (first refresh)"
    parameters = {"watch": watch.name, "query": watch.query, "mindate": _format(mindate),
                  "model": tagger.model_name, "model_id": tagger.model_id, "batch_size": batch_size,
                  "device": device, **dtype.parameters(), "flow_run_id": flow_run_id,
                  "pid": os.getpid(), **(relations.parameters() if relations else {})}
    with recorded_run(store, "refresh", parameters, model=tagger.model_name) as run:
        counts, timings = run.counts, run.timings
        logger.info("watch %s: %r, window %s", watch.name, watch.query, window)
        source = _window_items(watch.query, _format(mindate), counts, timings)
        process_items(source, store, tagger, model, run.run_id, device, None, counts, timings, logger,
                      relations=relations)
        got = counts["articles_seen"] + counts["rejects"]
        if got < counts["expected"]:  # NCBI left some out; asking again returns the same
            counts["missing"] = counts["expected"] - got
            logger.warning("watch %s: efetch returned %d of the %d records esearch counted",
                           watch.name, got, counts["expected"])
        record_refresh(store.con, watch.name, next_watermark, run.run_id, window, counts["articles_seen"])
    logger.info("watch %s: %s; next window starts %s", watch.name, dict(counts), next_watermark)
    return {"run_id": run.run_id, "watch": watch.name, "status": "completed", "model": tagger.model_name,
            "window": window, "watermark": next_watermark.isoformat(), "counts": dict(counts),
            "timings": rounded(timings)}


def _window_items(query: str, mindate: str | None, counts: Counter, timings: Counter) -> Iterator[list]:
    """Parsed records of every efetch batch of a query's window, `FETCH_WINDOW` batches at once."""
    started = time.perf_counter()
    batches = search_pubmed(query, mindate=mindate)
    timings["search"] += time.perf_counter() - started
    counts["expected"] = sum(b.retmax for b in batches)
    counts["fetch_batches"] = len(batches)
    report_progress(total=counts["expected"])
    yield from fetch_batches(batches, FETCH_WINDOW, source_name="efetch")


def refresh_files(store: Store, directory: str, *, model: str, device: str, dtype: DtypeChoice,
                  batch_size: int, flow_run_id: str | None, logger,
                  relations: RelationStep | None = None) -> dict:
    """Load NCBI's baseline/update files in order, skipping those already loaded."""
    found = find_bulk_files(directory)
    statuses = file_statuses(store.con)
    check_order(found, statuses)
    store.release()  # not held while the model loads
    tagger = load_tagger(model, device=device, dtype=dtype.name)
    parameters = {"files": str(directory), "model": tagger.model_name, "model_id": tagger.model_id,
                  "batch_size": batch_size, "device": device, **dtype.parameters(),
                  "flow_run_id": flow_run_id,
                  "pid": os.getpid(), **(relations.parameters() if relations else {})}
    with recorded_run(store, "refresh", parameters, model=tagger.model_name) as run:
        counts, timings = run.counts, run.timings
        report_progress(total=None)
        for bulk in found:
            status = statuses.get(bulk.name, {})
            if status.get("status") == "done":
                counts["files_skipped"] += 1
                logger.info("file %s: loaded already (run %s), skipped", bulk.name, status["run_id"])
                continue
            if status:
                logger.info("file %s: unfinished by run %s; processing it again whole",
                            bulk.name, status["run_id"])
            started = time.perf_counter()
            md5 = verify_md5(bulk)
            timings["md5"] += time.perf_counter() - started
            start_file(store.con, bulk, md5, tagger.model_name, run.run_id)
            store.release()
            tally: Counter = Counter()
            process_items(iter_file_batches(bulk, batch_size), store, tagger, model, run.run_id, device,
                          None, tally, timings, logger, relations=relations)
            finish_file(store.con, bulk.name, tally["articles_seen"], tally["deleted"], tally["rejects"])
            store.release()
            counts.update(tally)
            counts["files_loaded"] += 1
            logger.info("file %s: done, %d records, %d deleted, %d rejects", bulk.name,
                        tally["articles_seen"], tally["deleted"], tally["rejects"])
    return {"run_id": run.run_id, "files": str(directory), "status": "completed",
            "model": tagger.model_name, "counts": dict(counts), "timings": rounded(timings)}


def _format(day: date | None) -> str | None:
    return day.strftime(_DATE) if day else None


def render_report(units: list[dict], new_pairs: dict, rejects: dict) -> str:
    """The run report: per watch or file set, counts per stage, timings, new pairs, rejects."""
    lines = ["# litmine refresh", ""]
    for unit in units:
        title = f"watch `{unit['watch']}`" if unit.get("watch") else f"files `{unit.get('files')}`"
        lines += [f"## {title}: {unit['status']}", ""]
        if unit["status"] != "completed":
            lines += [f"Error: {unit.get('error', '')}", ""]
            continue
        lines += [f"Run `{unit['run_id']}`, model `{unit['model']}`"]
        if unit.get("window"):
            lines += [f"Window: {unit['window']}; next refresh starts at {unit['watermark']}"]
        lines += ["", "| count | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in sorted(unit["counts"].items())]
        lines += ["", "| stage | seconds |", "|---|---|"]
        lines += [f"| {k} | {v:.2f} |" for k, v in unit["timings"].items()]
        pairs = new_pairs.get(unit["run_id"], [])
        lines += ["", f"### New pairs ({len(pairs)} shown)", "", "| chemical | disease | documents |",
                  "|---|---|---|"]
        lines += [f"| {c} | {d} | {n} |" for c, d, n in pairs]
        bad = rejects.get(unit["run_id"], [])
        lines += ["", f"### Rejects ({unit['counts'].get('rejects', 0)}; first {len(bad)} shown)", ""]
        lines += [f"- {source} PMID {pmid or '-'}: {reason}" for source, pmid, reason in bad]
        lines += [""]
    return "\n".join(lines)
