"""The one way to open a litmine database: for writing, waiting for another run to finish, or reading.

- ``write``: take the database's run lock (locking.py: one writing run at a time), open the file
  for writing and migrate its schema; another run holding the lock is an error.
- ``wait``: the same, but queue up to `wait` seconds behind another run (`refresh`, `watch add`
  and `watch remove` use it).
- ``read``: a read-only connection with no file system, network or extensions (what `litmine sql`
  runs a user's statement on).

A writing store lets go of the file between batches (`Store.release`, which the flows call after
each committed unit), so readers open it in between. A reader that finds the file held (a batch
being written: milliseconds) tries again for up to $LITMINE_READ_WAIT seconds; a writer that finds
readers on it waits for them up to $LITMINE_WRITER_WAIT seconds, warning once, then fails with
its committed batches kept.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Literal

import duckdb

from litmine.errors import LitmineError, StoreBusyError, StoreError
from litmine.settings import get_settings
from litmine.tasks.store.database import Store
from litmine.tasks.store.locking import acquire_run_lock, describe_holder, is_lock_error
from litmine.tasks.store.schema import migrate

log = logging.getLogger(__name__)

Mode = Literal["write", "wait", "read"]
MODES = ("write", "wait", "read")
#: Seconds between tries while another process holds the file: a batch holds it for 20-200 ms
#: (benchmarks/reading_while_writing.py), a reader for as long as its statement runs.
RETRY_SECONDS = 0.05
#: A writer waiting for readers warns once it has waited this long (a query usually takes less).
WARN_AFTER_SECONDS = 0.5
#: What a writer refused by another run (mode "write" / "wait") is told to do.
HINTS = {"write": "Wait for that run to finish, or use another --db.",
         "wait": "Let it finish, pass --wait SECONDS to queue behind it, or use another --db; "
                 "readers (`litmine sql`) keep working meanwhile."}

#: DuckDB settings for connections that run a user's SQL: no file system, network or extensions,
#: and a locked configuration so the statement cannot switch them back on.
SAFE_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}


def database_path(db: str | Path | None, stage: str | None = None) -> Path:
    """`db`, else $LITMINE_DB; with `stage`, a database that must exist already."""
    path = Path(db) if db else get_settings(fresh=True).db
    if stage is not None:
        refuse_a_directory(path, stage)
    if stage is not None and not path.is_file():
        raise LitmineError(f"{stage}: database {path} does not exist; run `litmine mine` first or "
                           "pass --db")
    return path


def refuse_a_directory(path: Path, stage: str) -> None:
    """StoreError when `path` is a directory: --db takes the database file itself."""
    if path.is_dir():
        raise StoreError(f"{stage}: {path} is a directory; pass a .duckdb file, e.g. "
                         f"--db {path / 'litmine.duckdb'}")


def open_store(db: str | Path, mode: Mode = "write", *, wait: float = 0.0,
               stage: str | None = None) -> Store:
    """Open the litmine database `db` in `mode` ("write", "wait" or "read"; see the module
    docstring). `wait` is the most seconds mode "wait" queues behind another run; `stage` names
    the command in errors (default: "store", "refresh" and "sql" by mode)."""
    path = Path(db)
    if mode in ("write", "wait"):
        return _open_for_writing(path, wait if mode == "wait" else 0.0,
                                 stage or ("store" if mode == "write" else "refresh"), HINTS[mode])
    if mode == "read":
        stage = stage or "sql"
        return Store(path, _connect_for_reading(path, stage),
                     reopen=lambda: _connect_for_reading(path, stage))
    raise ValueError(f"open_store: unknown mode {mode!r}; use one of {', '.join(MODES)}")


def _open_for_writing(path: Path, wait: float, stage: str, hint: str) -> Store:
    """A writing store of `path`: its run lock held (up to `wait` s of queueing), the file open
    and migrated; the store opens the file again after each `release`."""
    refuse_a_directory(path, stage)
    lock = acquire_run_lock(path, wait, stage, hint=hint)
    try:
        con = _connect_for_writing(path, stage, other_writer_wait=wait, hint=hint)
        try:
            migrate(con, path)
        except BaseException:
            con.close()
            raise
    except BaseException:
        lock.release()
        raise
    again = ("Close it, or raise LITMINE_WRITER_WAIT; the batches committed so far stay, and "
             "the same command run again carries on.")
    return Store(path, con, on_close=lock.release,
                 reopen=lambda: _connect_for_writing(path, stage, hint=again,
                                                     other_writer_wait=get_settings().writer_wait))


def _connect_for_writing(path: Path, stage: str, *, other_writer_wait: float,
                         hint: str) -> duckdb.DuckDBPyConnection:
    """A read-write connection to `path`, waiting up to $LITMINE_WRITER_WAIT seconds while
    readers hold the file, and up to `other_writer_wait` while a process outside litmine's run
    lock writes it (a DuckDB session opened read-write, an older litmine)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    readers_wait = get_settings().writer_wait
    started = time.monotonic()
    announced: set[bool] = set()
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as exc:
            if not is_lock_error(exc):
                raise StoreError(f"{stage}: cannot open {path}: {str(exc).splitlines()[0][:300]}") from exc
            holder, readers = describe_holder(exc), _held_by_readers(path)
            waited = time.monotonic() - started
            if readers and waited >= readers_wait:
                raise StoreBusyError(
                    f"{stage}: {path} has been held open by readers for {readers_wait:g} s (one: "
                    f"{holder}); a writing run needs it for a moment after each batch. Close "
                    "long-lived sessions on it (e.g. a DuckDB CLI), or raise LITMINE_WRITER_WAIT; "
                    "the batches committed so far stay, and the same command run again carries "
                    "on.") from exc
            if not readers and waited >= other_writer_wait:
                after = f" after waiting {other_writer_wait:g} s" if other_writer_wait > 0 else ""
                raise StoreBusyError(
                    f"{stage}: {path} is open for writing by another process ({holder}){after}, "
                    "outside litmine's run lock (a DuckDB session opened read-write, or an older "
                    f"litmine); DuckDB allows one writer. {hint}") from exc
            if readers not in announced and (waited >= WARN_AFTER_SECONDS or not readers):
                log.warning("%s: %s is %s by another process (%s); waiting up to %g s", stage, path,
                            "being read" if readers else "open for writing",
                            holder, readers_wait if readers else other_writer_wait)
                announced.add(readers)
            time.sleep(RETRY_SECONDS)


def _held_by_readers(path: Path) -> bool:
    """Whether the processes holding `path` only read it: a read-only open succeeds beside
    readers (DuckDB's shared lock), not beside a writer."""
    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.Error:
        return False
    return True


def _connect_for_reading(path: Path, stage: str) -> duckdb.DuckDBPyConnection:
    """A read-only connection with external access disabled, waiting up to $LITMINE_READ_WAIT
    seconds while a writer holds the file."""
    refuse_a_directory(path, stage)
    if not path.is_file():
        raise StoreError(f"{stage}: database {path} does not exist; run `litmine mine` first or pass --db")
    wait = get_settings().read_wait
    deadline = time.monotonic() + wait
    while True:
        try:
            return duckdb.connect(str(path), read_only=True, config=SAFE_CONFIG)
        except duckdb.IOException as exc:
            if not is_lock_error(exc):
                raise StoreError(f"{stage}: cannot open {path} read-only "
                                 f"({str(exc).splitlines()[0][:200]})") from exc
            if time.monotonic() >= deadline:
                raise StoreBusyError(
                    f"{stage}: {path} has been open for writing by another process for {wait:g} s "
                    f"({describe_holder(exc)}); a litmine run lets go of it after each batch, so "
                    "this is a longer hold (a run's last step, or a DuckDB session opened "
                    "read-write). Try again, or raise LITMINE_READ_WAIT") from exc
            time.sleep(RETRY_SECONDS)
