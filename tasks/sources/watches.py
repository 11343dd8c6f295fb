"""Saved PubMed queries ("watches") with their entry-date watermark, and the runs log as a list.

A watch remembers where its last successful refresh ended: `watermark` is the first Entrez date
(EDAT) the next refresh asks for. The next window is [watermark, tomorrow] (tomorrow is what
`plan_search` uses for an open end: NCBI dates records in US time). The watermark moves only
after every record of a window was stored, to the run's UTC start date minus `OVERLAP_DAYS`:

- PubMed dates are whole days and inclusive, so the day a refresh ran is fetched again by the
  next one (the store replaces a PMID's rows, so fetching twice is harmless); missing a record
  is not.
- NCBI stamps EDAT in US Eastern time, up to a day behind UTC: a record that enters PubMed later
  on the run's NCBI day has an EDAT of UTC date - 1 at the earliest, hence one day of overlap.

Revisions of old records keep their EDAT, so an EDAT window does not see them; NCBI's daily
update files carry them (`litmine refresh --files`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb

from litmine.errors import LitmineError, StoreError
from litmine.tasks.store.access import open_store

#: Days before the run's UTC start date that the next window starts (see the module docstring).
OVERLAP_DAYS = 1
#: A watch name is a word a shell and a URL keep as it is.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Watch:
    """A saved query: what to search, with which model, and where the last refresh ended."""

    name: str
    query: str
    model: str | None = None
    created_at: datetime | None = None
    watermark: date | None = None  # first EDAT of the next window; None: never refreshed
    last_run_id: str | None = None
    last_refreshed_at: datetime | None = None
    last_window: str | None = None
    last_records: int | None = None


_COLUMNS = ("name", "query", "model", "created_at", "watermark", "last_run_id", "last_refreshed_at",
            "last_window", "last_records")


def add_watch(con: duckdb.DuckDBPyConnection, name: str, query: str, model: str | None = None) -> Watch:
    """Save a query under `name` (never refreshed yet: its first refresh is a full backfill)."""
    if not NAME.match(name or ""):
        raise LitmineError(f"watch add: {name!r} is not a usable name; use letters, digits, '_', '.' "
                           "or '-' (at most 64 characters), e.g. `litmine watch add aspirin-asthma ...`")
    if not (query or "").strip():
        raise LitmineError(f"watch add: watch {name!r} needs a PubMed query (--query 'aspirin AND asthma')")
    existing = con.execute("SELECT query FROM watches WHERE name = ?", [name]).fetchone()
    if existing:
        raise LitmineError(f"watch add: a watch named {name!r} exists already (query {existing[0]!r}); "
                           f"remove it first with `litmine watch remove {name}`")
    con.execute("INSERT INTO watches (name, query, model, created_at) VALUES (?, ?, ?, ?)",
                [name, query.strip(), model or None, datetime.now(timezone.utc)])
    return get_watches(con, [name], stage="watch add")[0]


def get_watches(con: duckdb.DuckDBPyConnection, names: list[str] | None = None, *,
                stage: str = "refresh") -> list[Watch]:
    """The watches called `names` (all of them, by name, when None); unknown names are an error."""
    try:
        rows = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM watches ORDER BY name").fetchall()
    except duckdb.CatalogException:
        rows = []
    watches = {r[0]: Watch(*r) for r in rows}
    if not names:
        return list(watches.values())
    unknown = [n for n in names if n not in watches]
    if unknown:
        known = ", ".join(watches) or "none yet"
        raise LitmineError(f"{stage}: no watch named {', '.join(map(repr, unknown))} (watches: {known}); "
                           "add one with `litmine watch add NAME --query TEXT`")
    return [watches[n] for n in dict.fromkeys(names)]


def check_watches_exist(db: Path, names: list[str] | None) -> None:
    """Before a refresh flow run starts: a LitmineError when `db` lacks a watch asked for (or has
    none, with no `names`). Nothing when they are there, or when another process writes `db`
    (the flow waits for it and checks again)."""
    if not db.is_file():
        raise LitmineError(f"refresh: database {db} does not exist, so it has no watches; add one with "
                           f"`litmine watch add NAME --query TEXT --db {db}`, or pass --files DIR")
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return  # locked by a writer, or unreadable: the flow opens it its own way and says why
    try:
        watches = get_watches(con, names)
    except duckdb.Error:
        return  # an older schema: the flow migrates it first
    finally:
        con.close()
    if not watches:
        raise LitmineError(f"refresh: {db} has no watches; add one with "
                           "`litmine watch add NAME --query TEXT`, or pass --files DIR")


def remove_watch(con: duckdb.DuckDBPyConnection, name: str) -> Watch:
    """Forget a watch (the articles and results it stored stay)."""
    watch = get_watches(con, [name], stage="watch remove")[0]
    con.execute("DELETE FROM watches WHERE name = ?", [name])
    return watch


def plan_window(watermark: date | None, today: date) -> tuple[date | None, date]:
    """(first EDAT to search, None for everything; the watermark to keep once it is all stored)."""
    return watermark, today - timedelta(days=OVERLAP_DAYS)


def record_refresh(con: duckdb.DuckDBPyConnection, name: str, watermark: date, run_id: str,
                   window: str, records: int) -> None:
    """Move a watch's watermark after its whole window was stored."""
    con.execute("UPDATE watches SET watermark = ?, last_run_id = ?, last_refreshed_at = ?, "
                "last_window = ?, last_records = ? WHERE name = ?",
                [watermark, run_id, datetime.now(timezone.utc), window, records, name])


def process_started_at() -> datetime | None:
    """When this process started (None if psutil cannot tell)."""
    try:
        import psutil  # installed with accelerate, a litmine dependency
        return datetime.fromtimestamp(psutil.Process().create_time(), timezone.utc)
    except Exception:  # noqa: BLE001 - no psutil or no /proc: mark nothing
        return None


def mark_crashed_runs(con: duckdb.DuckDBPyConnection, started_before: datetime | None,
                      pid: int | None = None) -> list[str]:
    """Close runs left `running` by a process that died; returns their ids.

    Call it holding the run lock (tasks/store/locking.py): then no other run writes the file, so a run is dead
    if its parameters name another process id (`pid`, as the refresh flow records it), or if it
    started before this process did (runs that record no pid, e.g. mine's).
    """
    pid = os.getpid() if pid is None else pid
    rows = con.execute(
        "UPDATE runs SET status = 'crashed', finished_at = ?, error = 'the process ended without "
        "closing this run (killed or crashed); its committed batches stayed in the database' "
        "WHERE status = 'running' AND (started_at < ? OR "
        "TRY_CAST(json_extract_string(parameters, '$.pid') AS BIGINT) <> ?) RETURNING run_id",
        [datetime.now(timezone.utc), started_before, pid]).fetchall()
    return [r[0] for r in rows]


def _summary(counts: dict) -> str:
    keys = ("articles", "pairs", "deleted", "rejects", "files_loaded", "files_skipped", "missing")
    return " ".join(f"{k}={counts[k]}" for k in keys if counts.get(k))


def _source(flow: str, parameters: dict) -> str:
    if parameters.get("watch"):
        return f"watch {parameters['watch']}"
    if parameters.get("files"):
        files = parameters["files"]
        return f"files {files if isinstance(files, str) else ', '.join(map(str, files))}"
    return f"query {parameters['query']}" if parameters.get("query") else flow


def list_runs(db: str | Path, limit: int = 20, flow: str | None = None) -> list[dict]:
    """The latest runs, newest first: id, flow, status, started, seconds, source, counts, model."""
    con = open_store(db, "read").con
    try:
        rows = con.execute(
            "SELECT run_id, flow, status, started_at, epoch(finished_at) - epoch(started_at), "
            "parameters, counts, model, error FROM runs WHERE ? IS NULL OR flow = ? "
            "ORDER BY started_at DESC LIMIT ?", [flow, flow, limit]).fetchall()
    except duckdb.CatalogException as exc:
        raise StoreError(f"runs: {db} is not a litmine database ({str(exc).splitlines()[0]})") from exc
    finally:
        con.close()
    out = []
    for run_id, flow_name, status, started, seconds, parameters, counts, model, error in rows:
        params, tallies = json.loads(parameters or "{}"), json.loads(counts or "{}")
        out.append({"run_id": run_id, "flow": flow_name, "status": status, "started_at": started,
                    "seconds": None if seconds is None else round(float(seconds), 1),
                    "source": _source(flow_name, params), "counts": tallies,
                    "summary": _summary(tallies), "model": model, "error": error})
    return out
