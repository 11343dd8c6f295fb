"""The batch pipeline the `mine` and `refresh` flows share: fetch -> split -> NER -> relations -> load.

Not a flow of its own: plain functions a flow calls, which submit Prefect tasks to the calling
flow's task runner and wait on their futures (so both flows keep their runners and their task
runs). It stays in flows/ because it orchestrates: it submits tasks and waits on them.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from prefect.utilities.annotations import quote

from litmine.errors import LitmineError, ModelError
from litmine.model_packages import locate_model
from litmine.progress import report_progress
from litmine.settings import get_settings
from litmine.tasks.loading import FP32, DtypeChoice, choose_dtype, relation_dtype, resolve_device
from litmine.tasks.model_names import resolve_model_source
from litmine.tasks.isolation import check_batch, failed_pmids, reject_documents
from litmine.tasks.ner.engine import load_tagger, tag_documents
from litmine.tasks.ner.token_states import NerResult
from litmine.tasks.records import Article, Deletion, Pair, Reject
from litmine.tasks.linking.dense import dense_encoder
from litmine.tasks.linking.normalise import load_linker
from litmine.tasks.relations.model_config import RELATION_FILE
from litmine.tasks.relations.pairs import pair_entities
from litmine.tasks.relations.relate import (candidate_pairs, link_and_relate,
                                            load_relation_resources)
from litmine.tasks.relations.registry import is_typed_relation_model
from litmine.tasks.relations.shared import states_layer_of
from litmine.tasks.sources.annotations import GIVEN_MODEL, given_mentions
from litmine.tasks.sources.entrez import FetchBatch, fetch_articles
from litmine.tasks.sources.pubmed_xml import parse_pubmed_xml
from litmine.tasks.semantic.keywords import sync_keyword_index
from litmine.tasks.store.database import Batch
from litmine.tasks.store.load import load_tables
from litmine.tasks.text.sentences import split_documents

log = logging.getLogger(__name__)

#: Articles per NER batch task: large enough to keep the model busy, small enough to load often.
DEFAULT_BATCH_SIZE = 256


#: What a run records when its relation step is off.
NO_RELATION_STEP = {"lexicon": None, "dense_linker": None, "relation_model": None,
                    "typed_relation_model": None, "relation_dtype": None,
                    "relation_dtype_reason": None}


@dataclass(frozen=True)
class RelationStep:
    """What the relation step after NER uses: a MeSH lexicon, (optionally) a CID model and a
    typed model, and the device and dtype their encoders run in."""

    lexicon: str
    relation_model: str | None
    typed_relation_model: str | None = None
    device: str = "cpu"
    dtype: DtypeChoice = FP32
    #: the linker's dense level's encoder (`Settings.dense_linker`), None when off
    dense_linker: str | None = None

    def states_layer(self, tagger) -> int | None:
        """The layer whose token states the relation models read (shared models) when the run's
        NER `tagger` passes the states they read, so its pass keeps them; else None."""
        return states_layer_of(self.relation_model, self.typed_relation_model, tagger)

    def parameters(self) -> dict:
        """What a run's `runs.parameters` records of the step (keys of `NO_RELATION_STEP`)."""
        return {"lexicon": self.lexicon, "dense_linker": self.dense_linker,
                "relation_model": self.relation_model,
                "typed_relation_model": self.typed_relation_model,
                "relation_dtype": self.dtype.name, "relation_dtype_reason": self.dtype.reason}


def relation_step(enabled: bool, lexicon: str | None = None, relation_model: str | None = None,
                  stage: str = "mine", typed_relation_model: str | None = None, *,
                  device: str = "cpu", ner_dtype: DtypeChoice | None = None
                  ) -> RelationStep | None:
    """The relation step for a run (None when disabled), failing early on missing files.

    Defaults: $LITMINE_LEXICON / $LITMINE_RELATION_MODEL / $LITMINE_TYPED_RELATION_MODEL, else
    the shipped ones (the checkout's data/models, or installed model packages); each may be a
    path or a model's name (`litmine models`). `relation_model=""` links entities without scoring
    CID relations; `typed_relation_model=""` skips BioRED's typed relations. The encoders run
    on the run's `device` in the dtype `relation_dtype` derives from NER's (`ner_dtype`; None:
    fp32).
    """
    if not enabled:
        return None
    settings = get_settings()
    lexicon = locate_model(lexicon or str(settings.lexicon), stage, "MeSH lexicon",
                           "run with --no-relations")
    if relation_model is None:
        relation_model = str(settings.relation_model)
    relation_model = locate_model(relation_model, stage, "CID relation model",
                                  "pass --relation-model '' to link IDs only")
    if not Path(lexicon).is_file():
        raise LitmineError(f"{stage}: MeSH lexicon {lexicon} not found; build one with `litmine "
                           "lexicon build`, set LITMINE_LEXICON, or run with --no-relations")
    if relation_model and not (Path(relation_model) / RELATION_FILE).is_file():
        raise LitmineError(f"{stage}: CID relation model {relation_model} not found (no {RELATION_FILE}); "
                           "train one with `litmine train-relations`, set LITMINE_RELATION_MODEL, "
                           "or run with --no-relations")
    if typed_relation_model is None:
        typed_relation_model = str(settings.typed_relation_model)
    typed_relation_model = locate_model(typed_relation_model, stage, "typed relation model",
                                        "pass --typed-relation-model '' to skip BioRED's types")
    if typed_relation_model and not is_typed_relation_model(typed_relation_model):
        raise LitmineError(f"{stage}: typed relation model {typed_relation_model} not found (no "
                           "docre.json of kind 'typed', no shared.json of task BioRED); train one "
                           "with `litmine train --task relations --method typed-shared`, set "
                           "LITMINE_TYPED_RELATION_MODEL, or pass --typed-relation-model ''")
    dense = dense_encoder(settings.dense_linker)
    if dense:
        try:
            resolve_model_source(dense, stage)  # a missing directory fails here, not mid-run
        except ModelError as exc:
            raise LitmineError(f"{exc} (LITMINE_DENSE_LINKER: the linker's dense level; set "
                               "it to none to turn the level off)") from None
    return RelationStep(lexicon=lexicon, relation_model=relation_model or None,
                        typed_relation_model=typed_relation_model or None, device=device,
                        dtype=relation_dtype(ner_dtype) if ner_dtype is not None else FP32,
                        dense_linker=dense)


def choose_ner_dtype(dtype: str | None, device: str, logger=None) -> DtypeChoice:
    """The NER dtype of a run (`dtype`, else $LITMINE_DTYPE; "auto" by the CPU's capability),
    logged in one line that says why and how to override it (no logger: not logged)."""
    choice = choose_dtype(dtype or get_settings().dtype, resolve_device(device, "NER"), "NER")
    if logger is not None:
        logger.info(choice.message())
    return choice


class Preload:
    """A background thread loading what a run will load (`preload_models`)."""

    def __init__(self, key: tuple):
        self.stop = threading.Event()
        self.thread = threading.Thread(target=_preload, args=(*key, self.stop),
                                       name="litmine-preload", daemon=True)

    def close(self) -> None:
        """Skip the loads not yet started and wait for the one in progress (a thread torn down
        at exit in the middle of a torch load could crash the interpreter's shutdown)."""
        self.stop.set()
        self.thread.join()


def preload_models(model: str, device: str, dtype: str, relations: RelationStep | None) -> Preload:
    """Start loading what a run will load, in a background thread: the NER model, then the
    linker (with its fuzzy indexes) and the relation models.

    The run's own calls (`load_tagger`, `load_relation_resources`) then find them loaded, or
    wait for the load in progress (each loader caches per process under a lock), so nothing
    loads twice; meanwhile the caller starts Prefect's server, or fetches, parses and tags the
    first batch. A load that fails here is left for the run's own call to report. A second
    call with the same arguments, while the first one's preload is open, returns it.
    """
    key = (model, device, dtype, relations)
    with _PRELOADS_LOCK:
        preload = _PRELOADS.get(key)
        if preload is None or preload.stop.is_set():
            preload = _PRELOADS[key] = Preload(key)
            preload.thread.start()
    return preload


def preload_for_mine(model: str | None, device: str, dtype: str | None, relations: bool,
                     lexicon: str | None, relation_model: str | None,
                     typed_relation_model: str | None) -> Preload | None:
    """`preload_models` for a `mine` run with these arguments, resolved as the flow resolves
    them, so the loads overlap with Prefect's start; None when they do not resolve (the flow
    then says why)."""
    try:
        ner = choose_ner_dtype(dtype, device)
        step = relation_step(relations, lexicon, relation_model,
                             typed_relation_model=typed_relation_model, device=device,
                             ner_dtype=ner)
    except LitmineError:
        return None
    return preload_models(model or get_settings().model, device, ner.name, step)


_PRELOADS: dict[tuple, Preload] = {}
_PRELOADS_LOCK = threading.Lock()


@atexit.register
def close_preloads() -> None:
    """`Preload.close` every preload (at exit: a run that needed less than was preloaded, e.g.
    a query that found nothing, leaves its preload loading)."""
    with _PRELOADS_LOCK:
        preloads = list(_PRELOADS.values())
        _PRELOADS.clear()
    for preload in preloads:
        preload.close()


def _preload(model: str, device: str, dtype: str, relations: RelationStep | None,
             stop: threading.Event) -> None:
    steps = [lambda: load_tagger(model, device=device, dtype=dtype)]  # the first batch's need
    if relations is not None:
        steps += [lambda: load_linker(relations.lexicon),
                  lambda: load_relation_resources(
                      relations.lexicon, relations.relation_model,
                      relations.typed_relation_model, device=relations.device,
                      dtype=relations.dtype.name)]
    for load in steps:
        if stop.is_set():
            return
        try:
            load()
        except Exception as exc:  # noqa: BLE001 - the run's own load raises it with context
            log.debug("preload stopped (%s); the run loads and reports it", exc)
            return


def fetch_batches(batches: Iterable[FetchBatch], window: int,
                  source_name: str | None = None) -> Iterator[list]:
    """Parsed records of every efetch batch, in order, with up to `window` batches fetched at once
    (the process-wide rate limiter paces them; see tasks/sources/entrez.py)."""
    in_flight: deque = deque()
    for batch in batches:
        in_flight.append(fetch_articles.submit(batch))
        if len(in_flight) >= window:
            yield parse_pubmed_xml(quote(in_flight.popleft().result()), source_name=source_name)
    while in_flight:
        yield parse_pubmed_xml(quote(in_flight.popleft().result()), source_name=source_name)


def process_items(source, store, tagger, model, run_id, device, max_results, counts, timings,
                  logger, relations: RelationStep | None = None, given: bool = False) -> None:
    """Split, tag (one NER task in flight while the previous batch is paired and loaded), load.

    `source` yields lists of Article/Deletion/Reject; every batch is committed when this returns
    (the mine and refresh flows both call it), and the store lets go of the file after each one,
    so readers get in between batches (tasks/store/access.py). `relations`: abbreviations, MeSH
    IDs and CID pairs after NER (`relation_step`); None keeps the NER mentions and co-occurrence
    pairs only. `given`: the articles' own annotations are the mentions (`mine --entities
    given`; `litmine.tasks.sources.annotations`), stored under the model name "given"; NER
    runs only when the relation heads read its pass's states, and its mentions are dropped.
    """
    pending: deque = deque()
    # The NER layer whose states the relation heads read, when they read this model's pass.
    states_layer = relations.states_layer(tagger) if relations else None
    if relations and (relations.relation_model or relations.typed_relation_model):
        logger.info("relations: %s", "the relation models run their own encoder pass"
                    if states_layer is None else
                    f"read the NER pass's token states after layer {states_layer}")
    for items in _timed(source, timings, "fetch+parse"):
        articles = [i for i in items if isinstance(i, Article)]
        rejects = [i for i in items if isinstance(i, Reject)]
        if max_results is not None:
            articles = articles[: max(0, max_results - counts["articles_seen"])]
        counts["articles_seen"] += len(articles)
        for deletion in (i for i in items if isinstance(i, Deletion)):
            while pending:  # deletions apply after the records before them
                _load(pending.popleft(), store, tagger, run_id, counts, timings, relations,
                      given)
            counts["deleted"] += store.apply_deletion(deletion, run_id)
            store.release()  # readers may open the file until the next write
        started = time.perf_counter()
        sentences, failures = split_documents(quote(articles))
        check_batch("split", [a.pmid for a in articles], failures)
        timings["split"] += time.perf_counter() - started
        if given and states_layer is None:  # the input's mentions, and no head reads NER's pass
            future = Future()
            future.set_result(NerResult([], [], {}))
        else:
            future = tag_documents.submit(quote(sentences), model=model, device=device,
                                          dtype=tagger.dtype_name, states_layer=states_layer)
        pending.append((Batch(articles=articles, sentences=sentences, rejects=rejects,
                              failures=failures), future))
        while len(pending) > 1:
            _load(pending.popleft(), store, tagger, run_id, counts, timings, relations, given)
        logger.info("batch: %d articles, %d sentences, %d rejects", len(articles), len(sentences),
                    len(rejects))
        if max_results is not None and counts["articles_seen"] >= max_results:
            break
    while pending:
        _load(pending.popleft(), store, tagger, run_id, counts, timings, relations, given)


def _load(entry, store, tagger, run_id, counts, timings, relations=None, given=False) -> None:
    """NER's results (or, `given`, the articles' own annotations), then relations and pairs of
    the documents no stage has failed on; the failed ones are dropped from the batch and
    stored as rejects naming their stage."""
    batch, future = entry
    started = time.perf_counter()
    tagged = future.result()
    batch.mentions = (given_mentions(batch.articles, batch.sentences, counts) if given
                      else tagged.mentions)
    batch.failures += tagged.failures
    timings["ner"] += time.perf_counter() - started
    _check(batch, "ner")
    cid_pairs: list[Pair] = []
    if relations is not None and batch.articles:
        started = time.perf_counter()
        failed = failed_pmids(batch.failures)
        articles = [a for a in batch.articles if a.pmid not in failed]
        related = link_and_relate(quote(articles), quote(batch.sentences),
                                  quote(batch.mentions), lexicon=relations.lexicon,
                                  relation_model=relations.relation_model,
                                  typed_relation_model=relations.typed_relation_model,
                                  device=relations.device, dtype=relations.dtype.name,
                                  states=quote(tagged.states), given=given)
        batch.failures += related.failures
        for stage in ("abbreviations", "linking", "relations"):
            _check(batch, stage)
        batch.mentions = related.mentions
        batch.abbreviations = related.abbreviations
        batch.relations = related.typed_relations
        cid_pairs = candidate_pairs(related.candidates)
        timings["relate"] += time.perf_counter() - started
    # The token states have served the relation step: free them now. The NER task's Prefect
    # state holds `tagged` in a reference cycle, which only Python's cyclic collector frees,
    # seconds or batches later (tens of MiB a batch in fp32: docs/performance.md).
    tagged.states.clear()
    started = time.perf_counter()
    pairs, failures = pair_entities(quote(batch.mentions))
    batch.pairs = pairs + cid_pairs
    batch.failures += failures
    _check(batch, "pairs")
    timings["pair"] += time.perf_counter() - started
    rejected = reject_documents(batch.failures, {a.pmid: a.source for a in batch.articles})
    batch.reject_failed(rejected)
    if rejected:
        counts["rejected_documents"] += len(rejected)
    if relations is not None:
        counts["linked"] += sum(1 for m in batch.mentions if m.concept_id)
        counts["relations"] += sum(1 for p in batch.pairs if p.relation == "CID")
    started = time.perf_counter()
    written = load_tables(quote(store), quote(batch), GIVEN_MODEL if given else tagger.model_name,
                          run_id)
    store.release()  # readers may open the file until the next batch is loaded
    timings["load"] += time.perf_counter() - started
    counts.update(written)
    report_progress(advance=len(batch.articles) + len(rejected))


def _check(batch: Batch, stage: str) -> None:
    """Stop the run if `stage` failed on every document of the batch (`check_batch`)."""
    check_batch(stage, [a.pmid for a in batch.articles], batch.failures)


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


def update_keyword_index(store, logger) -> None:
    """Bring keyword search's index up to date at the end of a run, while it holds the run lock
    (else the first `litmine search` takes the lock to do it), then let go of the file. A plain
    call, not a task: search must not import Prefect. The batches are committed whatever
    happens here, so a failure is a warning."""
    try:
        logger.info("keyword index: %s", sync_keyword_index(store.con))
    except Exception as exc:  # noqa: BLE001 - search indexes lazily: a warning is enough
        logger.warning("keyword index not updated (%s); the next `litmine search` will",
                       str(exc).splitlines()[0][:200])
    store.release()
