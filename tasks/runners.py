"""Task runners for the flows: local threads, or NER batches on a Dask cluster (prefect-dask).

`build_task_runner("dask", "tcp://scheduler:8786")` returns a `NerOnDaskTaskRunner`: tasks named
in `remote_tasks` (NER: "tag-entities") go to the Dask workers; every other submitted task (the
E-utilities fetches) stays in the flow process's thread pool, so that NCBI's rate limit is kept by
one process and the DuckDB writer never leaves the flow process. Workers load the model once per
process (`litmine.tasks.ner.engine.load_tagger` caches it); run one worker per GPU (dask-cuda's
`dask-cuda-worker`/`LocalCUDACluster` set CUDA_VISIBLE_DEVICES per worker, so device "auto" or
"cuda" is that worker's own GPU).
"""

from __future__ import annotations

import copyreg
from collections.abc import Iterable
from typing import Any

from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect.utilities.annotations import BaseAnnotation

from litmine.errors import LitmineError

#: Task runner kinds `--task-runner` accepts.
TASK_RUNNERS = ("local", "dask")
#: Threads of the local runner: what flows/mine.py's own ThreadPoolTaskRunner uses.
LOCAL_MAX_WORKERS = 4
#: Tasks sent to Dask workers: the NER batches (`litmine.tasks.ner.engine.tag_entities`, and
#: `tag_documents`, which `mine` and `refresh` submit).
REMOTE_TASKS = frozenset({"tag-entities", "tag-documents"})


def _reduce_annotation(annotation: BaseAnnotation) -> tuple:
    return type(annotation), (annotation.unwrap(),)


def register_annotation_pickling() -> None:
    """Make Prefect's `quote(x)` (and its siblings) survive pickling to a Dask worker.

    Prefect 3.9's annotations are tuple subclasses whose `__new__` wraps its argument, so the
    default tuple pickling (`cls.__new__(cls, tuple(self))`) arrives as `quote((x,))`: the task
    on the worker gets `(sentences,)` instead of `sentences` (prefect-dask issue #43, "quote()
    wrappers don't work with DaskTaskRunner"). Registering a reducer that rebuilds `quote(x)` fixes
    it for pickle and cloudpickle, which both consult `copyreg.dispatch_table`.
    """
    pending = [BaseAnnotation]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not BaseAnnotation:
            copyreg.pickle(cls, _reduce_annotation)


register_annotation_pickling()


class NerOnDaskTaskRunner(TaskRunner):
    """Submit the tasks named in `remote_tasks` to Dask, all others to a local thread pool."""

    def __init__(self, address: str | None = None, *, remote_tasks: Iterable[str] = REMOTE_TASKS,
                 local_max_workers: int = LOCAL_MAX_WORKERS,
                 cluster_kwargs: dict[str, Any] | None = None):
        super().__init__()
        self.address = address
        self.remote_tasks = frozenset(remote_tasks)
        self.local_max_workers = local_max_workers
        self.cluster_kwargs = cluster_kwargs
        self._remote = None
        self._local: ThreadPoolTaskRunner | None = None

    @property
    def name(self) -> str:
        return "dask"

    def duplicate(self) -> NerOnDaskTaskRunner:
        return type(self)(self.address, remote_tasks=self.remote_tasks,
                          local_max_workers=self.local_max_workers,
                          cluster_kwargs=self.cluster_kwargs)

    def __eq__(self, other: object) -> bool:
        return (type(other) is type(self) and other.address == self.address
                and other.remote_tasks == self.remote_tasks
                and other.local_max_workers == self.local_max_workers
                and other.cluster_kwargs == self.cluster_kwargs)

    def __hash__(self) -> int:
        return hash((type(self), self.address, self.remote_tasks, self.local_max_workers))

    def submit(self, task, parameters: dict[str, Any],
               wait_for: Iterable[PrefectFuture[Any]] | None = None,
               dependencies: dict[str, set] | None = None) -> PrefectFuture[Any]:
        if not self._started:
            raise RuntimeError("The task runner must be started before submitting work.")
        runner = self._remote if task.name in self.remote_tasks else self._local
        return runner.submit(task, parameters, wait_for=wait_for, dependencies=dependencies)

    def __enter__(self) -> NerOnDaskTaskRunner:
        from prefect_dask import DaskTaskRunner

        super().__enter__()
        if self.address:
            remote = DaskTaskRunner(address=self.address)
        else:  # a temporary cluster on this machine, one process per worker
            remote = DaskTaskRunner(cluster_kwargs=self.cluster_kwargs or {"processes": True})
        self._local = ThreadPoolTaskRunner(max_workers=self.local_max_workers).__enter__()
        try:
            self._remote = remote.__enter__()
            self._remote.client  # connect now: an unreachable scheduler fails the run here
        except BaseException as exc:
            remote.__exit__(type(exc), exc, exc.__traceback__)
            self._local.__exit__(None, None, None)
            self._started = False
            if isinstance(exc, OSError):
                raise LitmineError(f"dask: cannot reach the Dask scheduler at {self.address}: "
                                   f"{exc}; start one (`dask scheduler`) and workers "
                                   "(`dask worker ADDRESS`), or check the address") from exc
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._remote is not None:
                self._remote.__exit__(*exc)
        finally:
            self._remote = None
            if self._local is not None:
                self._local.__exit__(*exc)
            self._local = None
            super().__exit__(*exc)


def build_task_runner(kind: str = "local", address: str | None = None) -> TaskRunner:
    """The task runner for `--task-runner local|dask` (and `--dask-address tcp://HOST:PORT`).

    "local" is the flows' own thread pool; "dask" sends NER batches to the scheduler at `address`,
    or, without an address, to a temporary Dask cluster of worker processes on this machine.
    """
    kind = (kind or "local").strip().lower()
    if kind not in TASK_RUNNERS:
        raise LitmineError(f"task runner {kind!r} is unknown; use one of {', '.join(TASK_RUNNERS)}")
    if kind == "local":
        if address:
            raise LitmineError("--dask-address needs --task-runner dask")
        return ThreadPoolTaskRunner(max_workers=LOCAL_MAX_WORKERS)
    try:
        import prefect_dask  # noqa: F401
    except ImportError as exc:
        raise LitmineError("task runner 'dask' needs the prefect-dask package: "
                           "pip install 'prefect-dask>=0.3.7,<0.4'") from exc
    if address and not address.startswith(("tcp://", "tls://", "ucx://", "inproc://", "ws://",
                                            "wss://")):
        raise LitmineError(f"--dask-address {address!r} is not a Dask scheduler address; "
                           "use tcp://HOST:PORT (as `dask scheduler` prints it)")
    return NerOnDaskTaskRunner(address)
