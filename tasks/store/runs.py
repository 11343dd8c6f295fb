"""A run's bookkeeping, written once: its `runs` row opened, then closed as completed or failed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from litmine.tasks.store.database import Store


@dataclass
class Run:
    """An open run: its id, and the counts and timings (seconds) its `runs` row closes with."""

    run_id: str
    counts: Counter = field(default_factory=Counter)
    timings: Counter = field(default_factory=Counter)


def rounded(timings: Mapping[str, float]) -> dict[str, float]:
    """Timings to the millisecond, as the `runs` row and the reports keep them."""
    return {k: round(v, 3) for k, v in timings.items()}


@contextmanager
def recorded_run(store: Store, flow: str, parameters: dict, *, model: str = "",
                 run_id: str | None = None) -> Iterator[Run]:
    """Record a run as `running`; on leaving, `completed` with its counts and timings, or on any
    exception (KeyboardInterrupt included) `failed` with the error, which is raised again.
    The store lets go of the file after each of the two writes (`Store.release`)."""
    run = Run(store.begin_run(flow, parameters, model=model, run_id=run_id))
    store.release()
    try:
        yield run
    except BaseException as exc:
        store.finish_run(run.run_id, "failed", dict(run.counts), rounded(run.timings),
                         error=str(exc)[:2000])
        store.release()
        raise
    store.finish_run(run.run_id, "completed", dict(run.counts), rounded(run.timings))
    store.release()
