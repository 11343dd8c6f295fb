"""One writing run at a time, while readers come and go: the run lock, and telling locks apart.

DuckDB lets one process open a database file for writing, and while it does no other process
can open the file at all, not even read-only ("Could not set lock on file ... Conflicting lock is
held in ... (PID n)"; duckdb.org/docs/current/connect/concurrency). So a litmine writer does not
keep the file open for a whole run: it opens it to write a batch and lets go of it after (access.py,
`Store.release`), and readers open it in between. What keeps a second writer out meanwhile is the
**run lock**: an exclusive `flock(2)` on ``<db>.writer.lock`` beside the database, taken when a
writing store opens and held until it closes, and the file names its holder for error messages.

flock, not fcntl/lockf: DuckDB's own lock is a POSIX fcntl lock, which the kernel drops as soon
as its process closes *any* descriptor of the file (fcntl(2), "Advisory record locking"); a
flock belongs to its open file description, survives other descriptors closing, and conflicts
between two descriptors of the same process too (flock(2)). The kernel releases it when the
process dies, so a run killed with SIGKILL leaves no stale lock, only a stale holder line.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

import duckdb

from litmine.errors import StoreBusyError, StoreError

log = logging.getLogger(__name__)

#: Seconds between tries for another run's lock: a batch takes seconds, a run minutes.
POLL_SECONDS = 0.5


def run_lock_path(db: str | Path) -> Path:
    """Where the run lock of `db` lives: data/litmine.duckdb -> data/litmine.duckdb.writer.lock."""
    path = Path(db)
    return path.with_name(f"{path.name}.writer.lock")


def is_lock_error(exc: BaseException) -> bool:
    """Whether opening a database failed because another process holds it (its run lock, or
    DuckDB's own lock)."""
    if isinstance(exc, StoreBusyError):
        return True
    cause = exc.__cause__ if isinstance(exc, StoreError) else exc
    return isinstance(cause, duckdb.IOException) and "lock" in str(cause).lower()


def describe_holder(exc: BaseException) -> str:
    """"PID n, program" from DuckDB's lock error, else its first line."""
    match = re.search(r"Conflicting lock is held in (.+?) \(PID (\d+)\)", str(exc))
    return f"PID {match.group(2)}, {match.group(1)}" if match else str(exc).splitlines()[0][:200]


def _this_process() -> str:
    """"PID n, litmine mine --files x.xml, since <UTC time>" (what a refused writer is told)."""
    argv = [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv and sys.argv[0] else ["python"]
    since = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"PID {os.getpid()}, {' '.join(argv)[:200]}, since {since}"


class RunLock:
    """The run lock of one database (see the module docstring); `release` lets it go."""

    def __init__(self, db: str | Path):
        self.path = run_lock_path(db)
        self._file: BinaryIO | None = None  # a file object: garbage collection closes it

    @property
    def held(self) -> bool:
        return self._file is not None

    def try_acquire(self) -> bool:
        """Take the lock if no one holds it and write this process into the file; whether it did."""
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = os.fdopen(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644), "r+b", buffering=0)
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            return False
        except BaseException:
            file.close()
            raise
        file.truncate(0)
        file.write((_this_process() + "\n").encode())
        self._file = file
        return True

    def holder(self) -> str:
        """Who holds the lock, as its holder wrote it ("PID n, command, since time")."""
        try:
            text = self.path.read_text(errors="replace").strip()
        except OSError:
            text = ""
        return text or "a process that has not said which"

    def release(self) -> None:
        """Let the lock go (the file stays: deleting it would race with a process taking it)."""
        if self._file is not None:
            file, self._file = self._file, None
            file.close()  # closing the only descriptor of this open file description unlocks it


def acquire_run_lock(db: str | Path, wait: float, stage: str, *, hint: str) -> RunLock:
    """The run lock of `db`, waiting up to `wait` seconds while another run holds it; else a
    StoreBusyError naming that run and ending with `hint` (what the user can do)."""
    lock = RunLock(db)
    deadline = time.monotonic() + max(0.0, wait)
    announced = False
    while not lock.try_acquire():
        holder = lock.holder()
        if time.monotonic() >= deadline:
            waited = f" after waiting {wait:g} s" if wait > 0 else ""
            raise StoreBusyError(f"{stage}: {db} is being written by another run ({holder}){waited}; "
                                 f"one run writes a database at a time. {hint}")
        if not announced:
            log.warning("%s: %s is being written by another run (%s); waiting up to %g s",
                        stage, db, holder, wait)
            announced = True
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    return lock
