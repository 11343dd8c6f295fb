"""The Prefect task that loads a batch into the store, apart from the store itself
(database.py), so that opening a database imports no Prefect (`litmine --help`, `litmine sql`)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from litmine.tasks.store.database import Batch, Store


@task(name="load-tables", cache_policy=NO_CACHE)
def load_tables(store: Store, batch: Batch, model: str, run_id: str) -> dict[str, int]:
    """Prefect task: load one batch into the store in one transaction."""
    return store.load_batch(batch, model=model, run_id=run_id)
