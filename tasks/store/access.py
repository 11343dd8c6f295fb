"""The one way to open a litmine database: for writing, waiting for the write lock, or reading.

- ``write``: open for writing now (DuckDB allows one writer process) and migrate the schema;
  another writer's lock is an error.
- ``wait``: the same, but queue up to `wait` seconds behind another process that holds the lock
  (`mine`, `refresh`, `watch add` and `watch remove` use it; see locking.py).
- ``read``: a read-only connection with no file system, network or extensions (what `litmine sql`
  runs a user's statement on); while another process writes the file, its last snapshot.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Literal

import duckdb

from litmine.errors import LitmineError, StoreError
from litmine.settings import get_settings
from litmine.tasks.store.database import Store
from litmine.tasks.store.locking import describe_holder, describe_snapshot, is_lock_error, snapshot_path
from litmine.tasks.store.schema import migrate

log = logging.getLogger(__name__)

Mode = Literal["write", "wait", "read"]
MODES = ("write", "wait", "read")
#: Seconds between polls for the write lock: a commit takes milliseconds, a run minutes.
POLL_SECONDS = 0.5

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
    docstring). `wait` is the most seconds mode "wait" queues for the lock; `stage` names the
    command in errors (default: "store", "refresh" and "sql" by mode)."""
    path = Path(db)
    if mode == "write":
        return Store(path, _connect_for_writing(path))
    if mode == "wait":
        return _wait_for_the_lock(path, wait, stage or "refresh")
    if mode == "read":
        return Store(path, _connect_for_reading(path, stage or "sql"))
    raise ValueError(f"open_store: unknown mode {mode!r}; use one of {', '.join(MODES)}")


def _connect_for_writing(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-write connection to `path`, its schema migrated to the current version."""
    refuse_a_directory(path, "store")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StoreError(
                f"store: {path} is open for writing by another process "
                f"({str(exc).splitlines()[0][:200]}); wait for that run to finish, "
                "or use another --db") from exc
        raise StoreError(f"store: cannot open {path}: {exc}") from exc
    try:
        migrate(con, path)
    except BaseException:
        con.close()
        raise
    return con


def _wait_for_the_lock(path: Path, wait: float, stage: str) -> Store:
    """Open `path` for writing, waiting up to `wait` seconds while another process writes to it."""
    deadline = time.monotonic() + max(0.0, wait)
    announced = False
    while True:
        try:
            return Store(path, _connect_for_writing(path))
        except StoreError as exc:
            if not is_lock_error(exc):
                raise
            holder = describe_holder(exc.__cause__)
            if time.monotonic() >= deadline:
                waited = f" after waiting {wait:g} s" if wait > 0 else ""
                raise StoreError(
                    f"{stage}: {path} is open for writing by another process ({holder}){waited}; "
                    "DuckDB allows one writer. Let that run finish, pass --wait SECONDS to queue "
                    "behind it, or use another --db. Meanwhile `litmine sql` reads the last "
                    "snapshot.") from exc.__cause__
            if not announced:
                log.warning("%s: %s is being written by another process (%s); waiting up to %g s",
                            stage, path, holder, wait)
                announced = True
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def _connect_for_reading(path: Path, stage: str) -> duckdb.DuckDBPyConnection:
    """A read-only connection with external access disabled (the snapshot's while `path` is locked)."""
    refuse_a_directory(path, stage)
    if not path.is_file():
        raise StoreError(f"{stage}: database {path} does not exist; run `litmine mine` first or pass --db")
    try:
        return duckdb.connect(str(path), read_only=True, config=SAFE_CONFIG)
    except duckdb.IOException as exc:
        if is_lock_error(exc) and snapshot_path(path).is_file():  # a writer holds it: read its snapshot
            print(f"note: {path} is being written by another process; reading {describe_snapshot(path)}",
                  file=sys.stderr)
            return duckdb.connect(str(snapshot_path(path)), read_only=True, config=SAFE_CONFIG)
        raise StoreError(
            f"{stage}: cannot open {path} read-only ({str(exc).splitlines()[0][:200]}); "
            "if a mine/refresh run is writing to it, wait for it to finish") from exc
