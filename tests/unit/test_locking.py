"""One writing run at a time, readers in between its batches: the run lock, a writing store that
lets go of the file (`Store.release`) and opens it again, and the bounded waits on both sides.

Every other process here is real: a litmine writer holding its run lock, a DuckDB reader or
writer holding the file, each in its own Python process."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from litmine.errors import StoreBusyError, StoreError
from litmine.settings import get_settings
from litmine.tasks.store.access import open_store
from litmine.tasks.store.locking import is_lock_error, run_lock_path
from litmine.tasks.store.query import run_readonly_sql

#: A litmine run between batches: its run lock held, the file let go of.
RUN_BETWEEN_BATCHES = ("import sys\nfrom litmine.tasks.store.access import open_store\n"
                       "store = open_store(sys.argv[1])\nstore.begin_run('mine', {}, run_id='holder')\n"
                       "store.release()\nprint('ready', flush=True)\nsys.stdin.readline()\nstore.close()\n")
#: DuckDB itself holding the file, for writing (outside litmine's run lock) or reading.
DUCKDB_WRITER = ("import duckdb, sys\ncon = duckdb.connect(sys.argv[1])\nprint('ready', flush=True)\n"
                 "sys.stdin.readline()\n")
DUCKDB_READER = ("import duckdb, sys\ncon = duckdb.connect(sys.argv[1], read_only=True)\n"
                 "print('ready', flush=True)\nsys.stdin.readline()\n")
#: A writer that holds the file for a moment (a batch), commits a row, and lets go.
ONE_BATCH = ("import duckdb, sys, time\ncon = duckdb.connect(sys.argv[1])\nprint('ready', flush=True)\n"
             "time.sleep(0.5)\ncon.execute(\"INSERT INTO runs (run_id, flow) VALUES ('batch', 'mine')\")\n"
             "con.close()\n")


@contextmanager
def other_process(script: str, db: Path):
    """Run `script` on `db` in another Python process until it has said 'ready'; on leaving,
    tell it to finish (a line on stdin) and wait for it."""
    proc = subprocess.Popen([sys.executable, "-c", script, str(db)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        finish(proc)


def finish(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.stdin.close()
        proc.wait(timeout=60)


@pytest.fixture
def waits(monkeypatch):
    """Set LITMINE_WRITER_WAIT / LITMINE_READ_WAIT for one test."""
    def apply(**seconds):
        for name, value in seconds.items():
            monkeypatch.setenv(f"LITMINE_{name.upper()}", str(value))
        get_settings(fresh=True)

    yield apply
    monkeypatch.undo()
    get_settings(fresh=True)


def run_ids(db: Path) -> list[str]:
    return [r[0] for r in run_readonly_sql(db, "SELECT run_id FROM runs ORDER BY run_id")[1]]


@pytest.mark.parametrize(("db", "lock"), [("data/litmine.duckdb", "data/litmine.duckdb.writer.lock"),
                                          ("/x/y.db", "/x/y.db.writer.lock")])
def test_the_run_lock_sits_next_to_the_database(db, lock):
    assert run_lock_path(db) == Path(lock)


def test_a_released_store_opens_again_with_its_data(tmp_path):
    db = tmp_path / "r.duckdb"
    with open_store(db) as store:
        store.begin_run("mine", {}, run_id="r1")
        store.release()
        assert not Path(f"{db}.wal").exists()  # closing wrote the commit into the file
        assert run_ids(db) == ["r1"]  # a reader opens the file while the store is released
        store.begin_run("mine", {}, run_id="r2")  # the next use opens it again
        assert store.counts()["runs"] == 2
    assert run_ids(db) == ["r1", "r2"]
    with pytest.raises(StoreError, match="is closed"):
        store.begin_run("mine", {}, run_id="r3")


def test_a_second_writer_is_refused_while_the_first_is_between_batches(tmp_path):
    db = tmp_path / "l.duckdb"
    with other_process(RUN_BETWEEN_BATCHES, db) as holder:
        assert run_ids(db) == ["holder"]  # the file is free for readers
        with pytest.raises(StoreBusyError) as caught:
            open_store(db)
        assert is_lock_error(caught.value)
        assert f"is being written by another run (PID {holder.pid}, -c {db}, since " in str(caught.value)
        with pytest.raises(StoreBusyError, match=r"^refresh: .*pass --wait SECONDS to queue"):
            open_store(db, "wait", wait=0, stage="refresh")
        # In this process too: a refused open closed its own descriptor of the lock file, which
        # would have dropped the holder's lock had it been an fcntl lock; a flock stays.
        with pytest.raises(StoreBusyError):
            open_store(db, stage="watch add")


def test_a_second_writer_queues_behind_the_first_run(tmp_path):
    db = tmp_path / "l.duckdb"
    opened: list = []
    with other_process(RUN_BETWEEN_BATCHES, db) as holder:
        waiter = threading.Thread(target=lambda: opened.append(open_store(db, "wait", wait=120)))
        waiter.start()
        waiter.join(1.0)
        assert waiter.is_alive() and not opened  # still queued although the file is free
        finish(holder)
        waiter.join(60)
    assert len(opened) == 1
    with opened[0] as store:
        store.begin_run("refresh", {}, run_id="after")
    assert run_ids(db) == ["after", "holder"]


def test_a_reader_delays_the_writer_until_it_lets_go(tmp_path, caplog):
    db = tmp_path / "w.duckdb"
    errors: list = []
    with open_store(db) as store:
        store.begin_run("mine", {}, run_id="first")
        store.release()
        with other_process(DUCKDB_READER, db) as reader:
            writer = threading.Thread(target=lambda: _catch(errors, store.begin_run, "mine", {},
                                                            run_id="second"))
            with caplog.at_level(logging.WARNING, logger="litmine.tasks.store.access"):
                writer.start()
                writer.join(1.0)
                assert writer.is_alive()  # waiting for the reader
                finish(reader)
                writer.join(60)
        assert not errors
        warnings = [r.getMessage() for r in caplog.records if "being read" in r.getMessage()]
        assert len(warnings) == 1 and f"(PID {reader.pid}, " in warnings[0]  # naming the reader
    assert run_ids(db) == ["first", "second"]


def _catch(errors: list, call, *args, **kwargs) -> None:
    try:
        call(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the test asserts there was none
        errors.append(exc)


def test_a_writer_gives_up_on_a_reader_that_never_lets_go(tmp_path, waits):
    waits(writer_wait=0.5)
    db = tmp_path / "w.duckdb"
    with open_store(db) as store:
        store.begin_run("mine", {}, run_id="committed")
        store.release()
        with other_process(DUCKDB_READER, db) as reader:
            with pytest.raises(StoreBusyError) as caught:
                store.begin_run("mine", {}, run_id="lost")
            message = str(caught.value)
            assert f"held open by readers for 0.5 s (one: PID {reader.pid}, " in message
            assert "raise LITMINE_WRITER_WAIT; the batches committed so far stay" in message
    assert run_ids(db) == ["committed"]


def test_a_reader_waits_out_a_batch_and_reads_what_it_committed(tmp_path):
    db = tmp_path / "b.duckdb"
    open_store(db).close()
    with other_process(ONE_BATCH, db):
        # The writer holds the file for 0.5 s; the reader tries again until it lets go.
        assert run_readonly_sql(db, "SELECT run_id FROM runs")[1] == [("batch",)]


def test_a_reader_gives_up_after_read_wait_naming_the_holder(tmp_path, waits):
    waits(read_wait=0.3)
    db = tmp_path / "l.duckdb"
    open_store(db).close()
    with other_process(DUCKDB_WRITER, db) as holder, pytest.raises(StoreBusyError) as caught:
        run_readonly_sql(db, "SELECT 1")
    message = str(caught.value)
    assert message.startswith(f"sql: {db} has been open for writing by another process for 0.3 s "
                              f"(PID {holder.pid}, ")
    assert "raise LITMINE_READ_WAIT" in message


def test_an_old_snapshot_is_never_read(tmp_path, waits):
    """Before issue 19 a refresh left `<stem>.snapshot.duckdb` for readers; it is left alone."""
    waits(read_wait=0.2)
    db = tmp_path / "l.duckdb"
    with open_store(db) as store:
        store.begin_run("mine", {}, run_id="current")
    with duckdb.connect(str(tmp_path / "l.snapshot.duckdb")) as old:
        old.execute("CREATE TABLE runs AS SELECT 'from the snapshot' AS run_id")
    assert run_ids(db) == ["current"]
    with other_process(DUCKDB_WRITER, db), pytest.raises(StoreBusyError):
        run_readonly_sql(db, "SELECT run_id FROM runs")


def test_a_writer_outside_the_run_lock_is_named(tmp_path):
    """A DuckDB session opened read-write (or an older litmine): refused at once, or queued
    behind with mode "wait"."""
    db = tmp_path / "l.duckdb"
    open_store(db).close()
    with other_process(DUCKDB_WRITER, db) as holder:
        with pytest.raises(StoreBusyError) as caught:
            open_store(db, "wait", wait=0, stage="refresh")
        assert is_lock_error(caught.value)
        assert f"refresh: {db} is open for writing by another process (PID {holder.pid}, " in str(caught.value)
        assert "outside litmine's run lock" in str(caught.value)
        opened: list = []
        waiter = threading.Thread(target=lambda: opened.append(open_store(db, "wait", wait=120)))
        waiter.start()
        waiter.join(1.0)
        assert waiter.is_alive() and not opened
        finish(holder)
        waiter.join(60)
    assert len(opened) == 1
    opened[0].close()
