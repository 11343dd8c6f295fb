"""`litmine mine --task-runner dask`: NER batches run on a real two-worker Dask cluster (worker
processes on 127.0.0.1), other tasks and the DuckDB writer stay in the flow process, and every
table is identical to the local runner's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from prefect import flow, task
from prefect.utilities.annotations import quote

from litmine.errors import LitmineError
from litmine.tasks.runners import NerOnDaskTaskRunner, build_task_runner
from tests.support.database_rows import content_filter

try:
    import prefect_dask  # noqa: F401
except ImportError:  # a dependency (pyproject): missing in CI is a failure, not a skip
    if os.environ.get("CI"):
        raise
    pytest.skip("prefect-dask is not installed (pip install -e .)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "pubmedsample18n0001.xml.gz"
#: Columns that differ between any two runs: the run's ID and when rows were written.
RUN_COLUMNS = ("run_id",)
BATCH = 60  # 177 sample articles -> 3 NER batches


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes, one thread each: the shape of one worker per GPU."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, \
            Client(cluster, set_as_default=False) as client:
        yield cluster, client


def dump(db: Path) -> dict[str, list[tuple]]:
    """Every table but `runs` (timings, parameters), without run IDs and timestamps, sorted."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name <> 'runs'").fetchall()]
        result = {}
        for table in tables:
            columns = [name for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall()
                       if name not in RUN_COLUMNS and not kind.startswith("TIMESTAMP")]
            result[table] = con.execute(
                f"SELECT {', '.join(columns)} FROM {table}{content_filter(table)} "
                "ORDER BY ALL").fetchall()
        return result
    finally:
        con.close()


def test_dask_runner_matches_local_runner(tmp_path, prefect_harness, tiny_ner_model, cluster):
    from prefect.settings import PREFECT_API_URL

    from litmine.flows.mine import mine

    cluster, client = cluster
    local_db, dask_db = tmp_path / "local.duckdb", tmp_path / "dask.duckdb"
    mine(files=[str(SAMPLE)], db=str(local_db), model=str(tiny_ner_model), batch_size=BATCH,
         device="cpu")
    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value(), HF_HUB_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-m", "litmine.cli", "mine", "--files", str(SAMPLE), "--db", str(dask_db),
         "--model", str(tiny_ner_model), "--batch-size", str(BATCH), "--device", "cpu",
         "--no-progress", "--task-runner", "dask", "--dask-address", cluster.scheduler_address],
        env=env, text=True, capture_output=True, timeout=300)
    assert result.returncode == 0, f"litmine mine --task-runner dask failed:\n{result.stderr}"

    local, remote = dump(local_db), dump(dask_db)
    assert len(local["articles"]) == 177 and local["entities"] and local["pairs"]
    assert set(remote) == set(local)
    for table in local:
        assert remote[table] == local[table], f"{table} differs between the dask and local runners"

    # The workers ran the 3 NER batches and nothing else; each worker that tagged loaded the
    # model once (the per-process cache of litmine.tasks.ner.engine).
    executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    assert len(executed) == 2 and sum(executed.values()) == 3, executed

    def loaded_models():
        from litmine.tasks.ner import engine as ner

        return sorted(key[0] for key in ner._TAGGERS)

    models = client.run(loaded_models)
    for address, count in executed.items():
        assert models[address] == ([str(tiny_ner_model)] if count else []), models


@task(name="tag-entities")
def where_ner_runs(items: list) -> tuple[int, list]:
    return os.getpid(), items


@task(name="fetch-articles")
def where_fetch_runs() -> int:
    return os.getpid()


def test_only_ner_tasks_go_to_the_workers(prefect_harness, cluster):
    cluster, client = cluster
    runner = build_task_runner("dask", cluster.scheduler_address)

    @flow(task_runner=runner)
    def probe():
        ner = where_ner_runs.submit(quote(["a", "b"]))
        fetch = where_fetch_runs.submit()
        return ner.result(), fetch.result()

    (ner_pid, items), fetch_pid = probe()
    worker_pids = set(client.run(os.getpid).values())
    assert ner_pid in worker_pids
    assert fetch_pid == os.getpid()
    assert items == ["a", "b"]  # quote() arrives unwrapped, not as (["a", "b"],)


@pytest.mark.parametrize(("kind", "address", "message"), [
    ("threads", None, "task runner 'threads' is unknown"),
    ("local", "tcp://127.0.0.1:8786", "--dask-address needs --task-runner dask"),
    ("dask", "127.0.0.1:8786", "is not a Dask scheduler address"),
])
def test_bad_task_runner_options(kind, address, message):
    with pytest.raises(LitmineError, match=message):
        build_task_runner(kind, address)


def test_unreachable_scheduler_is_one_clear_error():
    from prefect.task_runners import ThreadPoolTaskRunner

    assert isinstance(build_task_runner("local"), ThreadPoolTaskRunner)
    runner = build_task_runner("dask", "tcp://127.0.0.1:9")
    assert isinstance(runner, NerOnDaskTaskRunner)
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        with pytest.raises(LitmineError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
            runner.__enter__()
    assert not runner._started
