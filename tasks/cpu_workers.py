"""Independent pieces of torch work on single-threaded workers: every core busy, no barriers.

On a shared (oversubscribed) machine, torch's intra-op threads spin at each op's barrier waiting
for a descheduled peer: 2.5-3x the CPU time for NER (docs/performance.md, "One torch thread per
model worker"), and the relation encoders' time grew 4x to 20x there (docs/performance.md, "The
relation step"). Running `workers` independent items at once, each on one torch thread, uses
every core without a barrier. The NER engine (`litmine.tasks.ner.engine`) and the relation step
(`litmine.tasks.relations.relate`) both run this way on a CPU.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import torch

#: CPU workers by default: one per thread torch would use (its intra-op default, the physical
#: cores), read at import, before any call here changes it.
DEFAULT_CPU_WORKERS = max(1, torch.get_num_threads())

_THREADS_LOCK = threading.Lock()
_THREADS_USERS = 0
_THREADS_SAVED = 1

T = TypeVar("T")
R = TypeVar("R")


@contextmanager
def single_threaded_ops() -> Iterator[None]:
    """Run torch ops on one intra-op thread while any caller with CPU workers is running.

    torch.set_num_threads is process-wide, so the last caller to leave restores the old value.
    """
    global _THREADS_USERS, _THREADS_SAVED
    with _THREADS_LOCK:
        if _THREADS_USERS == 0:
            _THREADS_SAVED = torch.get_num_threads()
            torch.set_num_threads(1)
        _THREADS_USERS += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _THREADS_USERS -= 1
            if _THREADS_USERS == 0:
                torch.set_num_threads(_THREADS_SAVED)


def map_on_workers(function: Callable[[T], R], items: Iterable[T], workers: int,
                   name: str = "litmine-worker") -> list[R]:
    """`[function(x) for x in items]`, in order, on `workers` threads each running torch on one
    thread (`single_threaded_ops`); `workers` <= 1 or a single item: a plain loop on the
    caller's thread with torch's threads as they are. `function` must not share mutable state
    between items; its exceptions are raised here, as the loop would."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        return [function(x) for x in items]
    with single_threaded_ops(), ThreadPoolExecutor(min(workers, len(items)), name) as pool:
        return list(pool.map(function, items))
