"""One writer at a time: waiting for DuckDB's lock held by another process, and the snapshot."""

from __future__ import annotations

import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from litmine.errors import StoreError
from litmine.tasks.store.locking import (
    SnapshotPublisher,
    is_lock_error,
    publish_snapshot,
    snapshot_is_stale,
    snapshot_path,
)
from litmine.tasks.store.query import run_readonly_sql
from litmine.tasks.store.access import open_store

HOLD = "import duckdb, sys\ncon = duckdb.connect(sys.argv[1])\nprint('locked', flush=True)\nsys.stdin.readline()\n"


@contextmanager
def held_by_another_process(db: Path):
    """A second process that opens `db` for writing and keeps it until released."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        if proc.poll() is None:
            proc.stdin.close()
            proc.wait(timeout=30)


def release(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    proc.wait(timeout=30)


@pytest.mark.parametrize(
    ("db", "snapshot"),
    [("data/litmine.duckdb", "data/litmine.snapshot.duckdb"), ("/x/y.db", "/x/y.snapshot.duckdb")],
)
def test_snapshot_sits_next_to_the_database(db, snapshot):
    assert snapshot_path(db) == Path(snapshot)


def test_a_published_snapshot_holds_every_committed_row(tmp_path):
    db = tmp_path / "s.duckdb"
    with open_store(db) as store:
        store.begin_run("mine", {}, run_id="r1")
        assert snapshot_is_stale(db)
        publish_snapshot(store)
        assert not snapshot_is_stale(db)
        store.begin_run("mine", {}, run_id="r2")  # written after the snapshot
        with duckdb.connect(str(snapshot_path(db)), read_only=True) as con:
            assert con.execute("SELECT run_id FROM runs").fetchall() == [("r1",)]
        publish_snapshot(store)
    with duckdb.connect(str(snapshot_path(db)), read_only=True) as con:
        assert sorted(con.execute("SELECT run_id FROM runs").fetchall()) == [("r1",), ("r2",)]
    assert not list(tmp_path.glob("*.tmp"))


def test_a_snapshot_whose_database_was_deleted_is_stale(tmp_path):
    db = tmp_path / "bulk.duckdb"
    with open_store(db) as store:
        publish_snapshot(store)
    assert not snapshot_is_stale(db)
    db.unlink()  # `rm bulk.duckdb` to start over; the snapshot stays
    assert snapshot_is_stale(db)


def test_publishing_keeps_the_write_lock(tmp_path):
    """POSIX drops a process's fcntl locks when it closes any descriptor of the file: copying
    the database in-process would let a second writer in."""
    db = tmp_path / "s.duckdb"
    probe = ("import duckdb, sys\ntry:\n    duckdb.connect(sys.argv[1], read_only=True)\n    print('opened')\n"
             "except duckdb.IOException as exc:\n    print('locked' if 'lock' in str(exc) else exc)\n")
    with open_store(db) as store:
        publish_snapshot(store)
        answer = subprocess.run([sys.executable, "-c", probe, str(db)], capture_output=True, text=True, timeout=60)
    assert answer.stdout.strip() == "locked"


def test_publisher_waits_between_snapshots_unless_forced(tmp_path):
    with open_store(tmp_path / "s.duckdb") as store:
        publisher = SnapshotPublisher(store, every=3600)
        publisher()
        publisher()
        assert publisher.count == 1
        publisher(force=True)
        assert publisher.count == 2
        off = SnapshotPublisher(store, enabled=False)
        off(force=True)
        assert off.count == 0


def test_a_second_writer_fails_with_the_holder_named(tmp_path):
    db = tmp_path / "l.duckdb"
    open_store(db).close()
    with held_by_another_process(db) as holder:
        with pytest.raises(StoreError) as caught:
            open_store(db, "wait", wait=0, stage="refresh")
        assert is_lock_error(caught.value)
        message = str(caught.value)
        assert f"(PID {holder.pid}, " in message
        assert "--wait SECONDS" in message and "refresh:" in message


def test_a_second_writer_waits_for_the_first_to_finish(tmp_path):
    db = tmp_path / "l.duckdb"
    open_store(db).close()
    opened: list = []
    with held_by_another_process(db) as holder:
        waiter = threading.Thread(target=lambda: opened.append(open_store(db, "wait", wait=120)))
        waiter.start()
        waiter.join(1.0)
        assert waiter.is_alive() and not opened  # still waiting while the lock is held
        release(holder)
        waiter.join(60)
    assert len(opened) == 1
    opened[0].begin_run("refresh", {}, run_id="after")
    opened[0].close()


def test_a_reader_gets_the_snapshot_while_the_database_is_locked(tmp_path, capsys):
    db = tmp_path / "l.duckdb"
    with open_store(db) as store:
        store.begin_run("mine", {}, run_id="published")
        publish_snapshot(store)
        store.begin_run("mine", {}, run_id="unpublished")
    with held_by_another_process(db):
        columns, rows = run_readonly_sql(db, "SELECT run_id FROM runs ORDER BY run_id")
    assert rows == [("published",)]
    assert f"reading the snapshot {snapshot_path(db)} published at" in capsys.readouterr().err
    # Unlocked, the reader reads the database itself, silently.
    assert run_readonly_sql(db, "SELECT count(*) FROM runs")[1] == [(2,)]
    assert capsys.readouterr().err == ""


def test_without_a_snapshot_a_locked_database_is_a_clear_error(tmp_path):
    db = tmp_path / "l.duckdb"
    open_store(db).close()
    with held_by_another_process(db), pytest.raises(StoreError, match="is writing to it, wait"):
        run_readonly_sql(db, "SELECT 1")
