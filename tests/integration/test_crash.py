"""Crash safety: `litmine mine --files` killed mid-run, then rerun, leaves the same tables as a
run that was never interrupted.

Two crashes: SIGKILL from outside once a batch is committed (seen on the process's log), and a
SIGKILL from inside a batch's DuckDB transaction, after its rows are written and before COMMIT
(the test hook LITMINE_TEST_CRASH_AT=commit:N in tasks/store/database.py, off unless set).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from litmine.tasks.store.database import CRASH_ENV
from tests.support.database_rows import content_filter

ROOT = Path(__file__).resolve().parents[2]
#: The first 60 records of the bundled sample (tests/fixtures/eutils/SOURCES.md).
SAMPLE = ROOT / "tests" / "fixtures" / "eutils" / "pubmedsample18n0001_first60.xml.gz"
RECORDS = 60
BATCH = 10  # 60 records -> 6 batches, each its own transaction
#: Columns that name the run or the clock; everything else must match.
VOLATILE = {"run_id", "loaded_at", "rejected_at", "deleted_at", "started_at", "finished_at", "timings"}


def snapshot(db: Path) -> dict[str, list]:
    """Every table's rows without run ids and timestamps; runs and rejects of completed runs."""
    with duckdb.connect(str(db), read_only=True) as con:
        out = {}
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall():
            columns = [r[0] for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
                [table]).fetchall()]
            kept = ", ".join(c for c in columns if c not in VOLATILE)
            where = ""
            if table == "runs":
                where = " WHERE status = 'completed'"
            elif table == "rejects":  # a per-run log: the completed run's rejects
                where = " WHERE run_id IN (SELECT run_id FROM runs WHERE status = 'completed')"
            rows = con.execute(f"SELECT {kept} FROM {table}{content_filter(table, where)} "
                               "ORDER BY ALL").fetchall()
            if table == "runs":  # the database path is a parameter: it differs by design
                index = [c for c in columns if c not in VOLATILE].index("parameters")
                rows = [r[:index] + ({k: v for k, v in json.loads(r[index]).items() if k != "db"},)
                        + r[index + 1:] for r in rows]
            out[table] = rows
    return out


def articles(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT count(*) FROM articles").fetchone()[0]


def run_statuses(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return sorted(r[0] for r in con.execute("SELECT status FROM runs").fetchall())


def mine_in_process(db: Path) -> dict:
    from litmine.flows.mine import mine

    return mine(files=[str(SAMPLE)], db=str(db), batch_size=BATCH, device="cpu")


@pytest.fixture(scope="module")
def model_env(prefect_harness, tiny_ner_model):
    from prefect.settings import PREFECT_API_URL

    from litmine.settings import get_settings

    saved = os.environ.get("LITMINE_MODEL")
    os.environ["LITMINE_MODEL"] = str(tiny_ner_model)
    get_settings(fresh=True)
    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value(), HF_HUB_OFFLINE="1",
               PYTHONUNBUFFERED="1")
    env.pop(CRASH_ENV, None)
    yield env
    if saved is None:
        os.environ.pop("LITMINE_MODEL", None)
    else:
        os.environ["LITMINE_MODEL"] = saved
    get_settings(fresh=True)


@pytest.fixture(scope="module")
def uninterrupted(model_env, tmp_path_factory) -> dict[str, list]:
    db = tmp_path_factory.mktemp("uninterrupted") / "x.duckdb"
    assert mine_in_process(db)["articles"] == RECORDS
    tables = snapshot(db)
    assert all(tables[t] for t in ("articles", "sentences", "entities", "pairs", "runs"))  # something to compare
    return tables


def start_mine(env: dict, db: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "litmine.cli", "mine", "--files", str(SAMPLE), "--db", str(db),
         "--batch-size", str(BATCH), "--device", "cpu", "--no-progress"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_sigkill_mid_run_then_rerun_matches_an_uninterrupted_run(model_env, uninterrupted, tmp_path):
    db = tmp_path / "killed.duckdb"
    process = start_mine(model_env, db)
    seen = []
    for line in process.stdout:  # Prefect logs each finished task run
        seen.append(line)
        if "load-tables" in line and "Completed" in line:
            process.send_signal(signal.SIGKILL)
            break
    process.stdout.close()
    assert process.wait(timeout=60) == -signal.SIGKILL, "".join(seen[-20:])

    assert 0 < articles(db) < RECORDS  # killed in the middle: some batches committed, not all
    assert run_statuses(db) == ["running"]  # the killed run never closed its row
    mine_in_process(db)
    assert run_statuses(db) == ["completed", "running"]
    assert snapshot(db) == uninterrupted


def test_crash_inside_a_duckdb_transaction_then_rerun_matches(model_env, uninterrupted, tmp_path):
    db = tmp_path / "crashed.duckdb"
    process = start_mine(dict(model_env, **{CRASH_ENV: "commit:3"}), db)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL, output[-3000:]

    assert articles(db) == 2 * BATCH  # batches 1-2 committed; batch 3's written rows rolled back
    with duckdb.connect(str(db), read_only=True) as con:
        loaded = {r[0] for r in con.execute("SELECT DISTINCT pmid FROM sentences").fetchall()}
        assert len(loaded) == 2 * BATCH  # no sentence of the uncommitted batch survived
    mine_in_process(db)
    assert snapshot(db) == uninterrupted
