"""The `embed` flow: sentence-embedding vectors for the abstracts and sentences of a database."""

from __future__ import annotations

import time

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from litmine.errors import LitmineError
from litmine.settings import get_settings
from litmine.tasks.semantic.embeddings import LEVELS, embed_store, load_embedder
from litmine.tasks.semantic.vector_index import update_indexes
from litmine.tasks.store.access import database_path, open_store
from litmine.tasks.store.database import Store
from litmine.tasks.store.runs import recorded_run


@task(name="embed-texts", cache_policy=NO_CACHE)
def embed_level(store: Store, model: str | None, level: str, run_id: str, device: str = "auto",
                max_batch_tokens: int = 16384) -> dict[str, int]:
    """Prefect task: embed one level's texts that lack a current vector (incremental)."""
    embedder = load_embedder(model, device=device)
    return embed_store(store, embedder, level, run_id, max_batch_tokens=max_batch_tokens)


@task(name="index-vectors", cache_policy=NO_CACHE)
def index_vectors(store: Store, model: str, levels: list[str]) -> list[dict]:
    """Prefect task: bring the HNSW index of each level up to date (tasks/semantic/vector_index.py),
    where the model has LITMINE_VECTOR_INDEX_MIN vectors or an index already. A failure is a
    warning: the vectors are committed, and search scans what the index lacks."""
    try:
        return update_indexes(store.con, store.path, levels=levels, model=model,
                              min_vectors=get_settings(fresh=True).vector_index_min)
    except (LitmineError, OSError, RuntimeError, ValueError) as exc:
        get_run_logger().warning("embed: the vector index of %s was not updated (%s); search "
                                 "scans the vectors it lacks. `litmine index --db %s` retries",
                                 store.path, exc, store.path)
        return []
    finally:
        store.release()


def check_levels(levels: list[str] | tuple[str, ...]) -> list[str]:
    """The levels to embed, in order, or a LitmineError naming the bad one."""
    if not levels:
        raise LitmineError(f"embed: give at least one level: {', '.join(LEVELS)}")
    for level in levels:
        if level not in LEVELS:
            raise LitmineError(f"embed: unknown level {level!r}; use {' or '.join(LEVELS)}")
    return list(dict.fromkeys(levels))


def embed_into(store: Store, run_id: str, *, model: str | None = None,
               levels: list[str] | tuple[str, ...] = LEVELS, device: str = "auto") -> dict[str, int]:
    """Embed what is missing at each level into an open store; counts per level.

    This is also the optional last step of the `mine` flow (``mine(..., embed=True)``).
    """
    counts: dict[str, int] = {}
    for level in check_levels(levels):
        started = time.perf_counter()
        done = embed_level(store, model, level, run_id, device=device)
        counts[f"embedded_{level}s"] = done["vectors"]
        counts[f"windowed_{level}s"] = done["windowed"]
        counts[f"seconds_{level}s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    name = load_embedder(model, device=device).model_name
    indexed = index_vectors(store, name, check_levels(levels))
    for done in indexed:
        counts[f"indexed_{done['level']}s"] = done["vectors"]
    if indexed:
        counts["seconds_index"] = round(time.perf_counter() - started, 2)
    return counts


@flow(name="embed", log_prints=True)
def embed(db: str | None = None, model: str | None = None,
          levels: list[str] = list(LEVELS), device: str = "auto") -> dict:
    """Embed the stored abstracts and/or sentences that lack vectors from `model`.

    Incremental: only new or changed texts are embedded; vectors of deleted articles go.
    Default model: $LITMINE_EMBED_MODEL, else the bundled all-MiniLM-L6-v2.
    """
    logger = get_run_logger()
    levels = check_levels(levels)
    db_path = database_path(db)
    if not db_path.is_file():
        raise LitmineError(f"embed: database {db_path} does not exist; run `litmine mine` first "
                           "or pass --db")
    embedder = load_embedder(model, device=device)  # fail early on a bad model
    parameters = {"db": str(db_path), "model": embedder.model_name, "levels": levels,
                  "device": device}
    with open_store(db_path) as store, \
            recorded_run(store, "embed", parameters, model=embedder.model_name,
                         run_id=str(flow_run.id) if flow_run.id else None) as run:
        done = embed_into(store, run.run_id, model=embedder.model_name, levels=levels,
                          device=device)
        for key, value in done.items():
            (run.timings if key.startswith("seconds_") else run.counts)[key] = value
    run_id, counts = run.run_id, dict(run.counts)
    logger.info("embed finished with %s: %s", embedder.model_name, counts)
    create_markdown_artifact(
        key="embed-report", description=f"litmine embed run {run_id}",
        markdown="\n".join([f"# litmine embed\n\nModel: `{embedder.model_name}` ({embedder.dim} "
                            f"dimensions, {embedder.max_length} tokens per window)\n",
                            "| count | value |", "|---|---|",
                            *(f"| {k} | {v} |" for k, v in counts.items())]))
    return {"run_id": run_id, "db": str(db_path), "model": embedder.model_name,
            "dim": embedder.dim, **counts}
