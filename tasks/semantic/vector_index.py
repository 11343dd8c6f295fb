"""An HNSW index of stored vectors, kept beside the database file, and what it lags behind.

DuckDB's `vss` extension (an HNSW index inside the file, built on usearch) does not load on the
DuckDB litmine runs on (docs/search.md, "Why not vss"), so litmine keeps usearch's index itself:
one file per (vector table, model, level), ``<db stem>.vectors/<table>-<model slug>-<level>.usearch``,
cosine metric, each vector under its ``vector_key`` (schema 8: one sequence numbers every vector
written, so keys only grow). A JSON file beside it (``.json``) says what the index holds: the
database it was built from (`meta.database_id`), the largest key the builder saw (the
*watermark*), its parameters and size.

The index knows its lag without a second bookkeeping table: a row whose key is above the
watermark was embedded since the index was built, and a key the index returns that the table
lacks is a vector deleted (DeleteCitation) or embedded again (a revised abstract) since. Search
(nearest.py) drops the second and scans the first exactly.

Writers (`litmine embed` at its end, `litmine index`) bring an index up to date incrementally:
keys gone from the table are removed, new keys added; past `REBUILD_FRACTION` removals since the
last full build it is rebuilt (HNSW deletions leave tombstones that cost recall; Malkov &
Yashunin 2018 give no repair). The file is written to a temporary name and renamed, then the
JSON likewise, under a lock file: a reader opens either the old pair or the new index with the
old JSON, whose smaller watermark only makes it scan a few rows twice (deduplicated by key).
Readers open the index memory-mapped (usearch "view") and never write it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np

from litmine.errors import LitmineError
from litmine.tasks.model_names import resolve_model_source
from litmine.tasks.semantic.pending import stored_models
from litmine.tasks.store.access import open_store

log = logging.getLogger(__name__)

#: Version of the index file pair (.usearch + .json); another version is rebuilt by a writer and
#: ignored by a reader.
INDEX_FORMAT = 1
#: HNSW parameters (Malkov & Yashunin 2018: M, efConstruction, ef), picked by
#: benchmarks/vector_index.py (docs/search.md, "Vector index"): recall@10 >= 0.95 against the
#: exact scan on clustered data at 1M vectors, with the candidates rescored exactly.
CONNECTIVITY = 32
EXPANSION_ADD = 64
EXPANSION_SEARCH = 128
#: Stored precision: bfloat16 (half of float32's memory). int8 builds faster and takes a quarter,
#: but its 1/127 steps are coarse next to the ~0.05 coordinates of a 384-dimension unit vector:
#: it lost true top-10 hits from its candidates (docs/search.md, "Vector index"). The candidates
#: are rescored from the float32 vectors in DuckDB, so the scores and order are the exact scan's.
DTYPE = "bf16"
#: Rebuild from scratch once this share of the indexed vectors was removed since the last build.
REBUILD_FRACTION = 0.2
#: Fewer new vectors than this are added by one thread. usearch's parallel insertion can leave a
#: node of a small graph with no links to it: on 600 MiniLM vectors, 2 threads lost 5 to 19 of
#: 2,000 true top-10 hits that no search depth found again, 1 thread none (docs/search.md).
SERIAL_BELOW = 50_000
#: Vectors read from DuckDB per query while building (100,000 x 384 float32 = 154 MB).
READ_BATCH = 100_000


@dataclass(frozen=True)
class IndexInfo:
    """The JSON beside an index file: what it holds and how it was built."""

    format: int
    database_id: str
    table: str
    model: str
    level: str
    dim: int
    dtype: str
    connectivity: int
    expansion_add: int
    expansion_search: int
    watermark: int  # the largest vector_key the builder saw; rows above it are newer
    vectors: int  # keys in the index
    removed_since_build: int
    file_bytes: int
    built_at: str
    updated_at: str


def vectors_dir(db: Path) -> Path:
    """The folder of a database's index files: data/litmine.duckdb -> data/litmine.vectors.

    A snapshot (locking.py's ``<stem>.snapshot.duckdb``) uses its database's folder.
    """
    stem = db.stem.removesuffix(".snapshot") if db.name.endswith(".snapshot.duckdb") else db.stem
    return db.with_name(f"{stem}.vectors")


def model_slug(model: str) -> str:
    """A file-name-safe, unique form of a model name (hub ID or local path)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_.")[-60:] or "model"
    return f"{readable}-{hashlib.sha1(model.encode()).hexdigest()[:8]}"


def index_path(db: Path, table: str, model: str, level: str) -> Path:
    """Where the index of one (vector table, model, level) of `db` lives."""
    return vectors_dir(db) / f"{table}-{model_slug(model)}-{level}.usearch"


def info_path(index: Path) -> Path:
    return index.with_name(index.name + ".json")


def database_file(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The file `con` reads (None for an in-memory database)."""
    row = con.execute("SELECT path FROM duckdb_databases() "
                      "WHERE database_name = current_database()").fetchone()
    return Path(row[0]) if row and row[0] else None


def database_id(con: duckdb.DuckDBPyConnection) -> str | None:
    """`meta.database_id` (schema 8), None in an older or foreign file."""
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'database_id'").fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None


def has_vector_keys(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_columns() WHERE database_name = "
                            "current_database() AND table_name = ? AND column_name = 'vector_key'",
                            [table]).fetchone()[0])


def read_info(path: Path) -> IndexInfo | None:
    """The JSON of the index at `path`; None when missing, unreadable or of another format."""
    try:
        data = json.loads(info_path(path).read_text())
        info = IndexInfo(**data)
    except (OSError, ValueError, TypeError):
        return None
    return info if info.format == INDEX_FORMAT else None


# -- writers ---------------------------------------------------------------------------------

@contextmanager
def _writer_lock(folder: Path) -> Iterator[None]:
    """One index writer per database folder at a time (a blocking flock on a lock file)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _new_index(dim: int, *, connectivity: int, expansion_add: int, expansion_search: int,
               dtype: str, enable_key_lookups: bool = True):
    from usearch.index import Index

    return Index(ndim=dim, metric="cos", dtype=dtype, connectivity=connectivity,
                 expansion_add=expansion_add, expansion_search=expansion_search,
                 enable_key_lookups=enable_key_lookups)


def _read_vectors(con: duckdb.DuckDBPyConnection, table: str, model: str, level: str,
                  dim: int, keys: np.ndarray, *,
                  every: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(keys, float32 vectors) of the sorted `keys`, READ_BATCH at a time: each batch one query
    over a key range (pruned by DuckDB's zone maps: keys grow with the rows), which is `every`
    key of (model, level) in it, or else those listed."""
    for start in range(0, len(keys), READ_BATCH):
        part = keys[start:start + READ_BATCH]
        params: dict = {"model": model, "level": level, "lo": int(part[0]), "hi": int(part[-1])}
        where = "model = $model AND level = $level AND vector_key BETWEEN $lo AND $hi"
        if not every:
            where += " AND vector_key IN (SELECT unnest($keys::BIGINT[]))"
            params["keys"] = part.astype(np.int64).tolist()
        found = con.execute(f"SELECT vector_key, vector FROM {table} WHERE {where}",
                            params).fetchnumpy()
        if len(found["vector_key"]):
            yield (np.asarray(found["vector_key"], dtype=np.uint64),
                   np.stack(found["vector"]).astype(np.float32, copy=False).reshape(-1, dim))


def update_index(con: duckdb.DuckDBPyConnection, db: Path, table: str, model: str, level: str, *,
                 rebuild: bool = False, connectivity: int = CONNECTIVITY,
                 expansion_add: int = EXPANSION_ADD, expansion_search: int = EXPANSION_SEARCH,
                 dtype: str = DTYPE, threads: int | None = None) -> dict[str, int | float | bool]:
    """Bring the index of (table, model, level) of `db` up to date with the rows `con` sees:
    remove the keys gone from the table, add the new ones (or build it afresh); counts.

    `con` is a connection of the process that writes `db` (it holds the file; nothing changes
    the rows while this runs). `rebuild` builds from scratch whatever is on disk. `threads`:
    usearch's (0: every core), by default one below SERIAL_BELOW new vectors, else all.
    """
    from usearch.index import Index

    if not has_vector_keys(con, table):
        raise LitmineError(f"index: {table} in {db} has no vector_key column (a table written "
                           "outside litmine's schema); embed into a litmine database first")
    dim = int(table.rsplit("_", 1)[1])
    identity = database_id(con)
    path = index_path(db, table, model, level)
    started = time.perf_counter()
    with _writer_lock(path.parent):
        live = con.execute(f"SELECT vector_key FROM {table} WHERE model = ? AND level = ?",
                           [model, level]).fetchnumpy()["vector_key"]
        live = np.sort(np.asarray(live, dtype=np.uint64))
        watermark = int(live[-1]) if len(live) else 0
        info = None if rebuild else read_info(path)
        wanted = (INDEX_FORMAT, identity, dim, dtype, connectivity, expansion_add)
        index = None
        if info is not None and (info.format, info.database_id, info.dim, info.dtype,
                                 info.connectivity, info.expansion_add) == wanted:
            try:
                index = Index.restore(str(path))
            except (OSError, RuntimeError, ValueError) as exc:
                log.warning("index: %s cannot be read (%s); building it afresh", path, exc)
        if index is not None and index.size != info.vectors:
            log.warning("index: %s holds %d vectors, its JSON says %d; building it afresh",
                        path, index.size, info.vectors)
            index = None
        removed_before = info.removed_since_build if index is not None else 0
        indexed = (np.sort(np.asarray(index.keys, dtype=np.uint64)) if index is not None
                   else np.empty(0, np.uint64))
        gone = np.setdiff1d(indexed, live, assume_unique=True)
        if index is not None and removed_before + len(gone) > REBUILD_FRACTION * max(len(indexed), 1):
            index = None  # too many tombstones: build afresh
        rebuilt = index is None
        if rebuilt:
            index = _new_index(dim, connectivity=connectivity, expansion_add=expansion_add,
                               expansion_search=expansion_search, dtype=dtype)
            new, removed = live, 0
        else:
            new = np.setdiff1d(live, indexed, assume_unique=True)
            if len(gone):
                index.remove(gone)
            removed = removed_before + len(gone)
        if threads is None:
            threads = 1 if len(new) < SERIAL_BELOW else 0
        if len(new):
            for keys, vectors in _read_vectors(con, table, model, level, dim, new,
                                               every=rebuilt):
                index.add(keys, vectors, threads=threads)
        if rebuilt or len(new) or len(gone) or info is None or info.watermark != watermark:
            _save(index, path, IndexInfo(
                format=INDEX_FORMAT, database_id=identity or "", table=table, model=model,
                level=level, dim=dim, dtype=dtype, connectivity=connectivity,
                expansion_add=expansion_add, expansion_search=expansion_search,
                watermark=watermark, vectors=int(index.size), removed_since_build=removed,
                file_bytes=0, built_at=_now() if rebuilt else info.built_at, updated_at=_now()))
    return {"vectors": int(index.size), "added": int(len(new)), "removed": int(len(gone)),
            "rebuilt": rebuilt, "seconds": round(time.perf_counter() - started, 2)}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _save(index, path: Path, info: IndexInfo) -> None:
    """Write the index, then its JSON, each to a temporary name renamed into place."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        index.save(str(temporary))
        size = temporary.stat().st_size
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    info_file = info_path(path)
    temporary = info_file.with_name(f".{info_file.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(info) | {"file_bytes": size}, indent=1))
    os.replace(temporary, info_file)


def stored_keyed_tables(con: duckdb.DuckDBPyConnection, level: str,
                        model: str | None = None) -> list[tuple[str, str, int]]:
    """(model, table, vectors) at `level` whose table has vector keys, most vectors first."""
    return [(m, t, n) for m, t, n in stored_models(con, level)
            if (model is None or m == model) and has_vector_keys(con, t)]


def update_indexes(con: duckdb.DuckDBPyConnection, db: Path, *, levels: tuple[str, ...] | list[str],
                   model: str | None = None, min_vectors: int = 0,
                   rebuild: bool = False) -> list[dict]:
    """Update the index of every stored (model, level) with at least `min_vectors` vectors or an
    index file already (`litmine embed` at its end, `litmine index`); one dict per index."""
    done = []
    for level in levels:
        for name, table, n in stored_keyed_tables(con, level, model):
            if n < min_vectors and not index_path(db, table, name, level).exists():
                continue
            counts = update_index(con, db, table, name, level, rebuild=rebuild)
            done.append({"model": name, "level": level, "table": table,
                         "path": str(index_path(db, table, name, level)), **counts})
            log.info("index: %s %s of %s: %s", name, level, db, counts)
    return done


# -- readers ---------------------------------------------------------------------------------

class IndexUnusable(Exception):
    """The index file of a search cannot be used; the message says why (search then scans)."""


#: Indexes opened by this process, by path: (file identity, IndexInfo, index, lock). A search
#: re-opens only when the file was replaced; opening maps the file but walks every node (about
#: 0.1 us each), which a long-running process (`litmine serve`, a benchmark) pays once.
_OPENED: dict[Path, tuple[tuple, IndexInfo, object, threading.Lock]] = {}
_OPENED_LOCK = threading.Lock()


def open_index(con: duckdb.DuckDBPyConnection, path: Path, *, table: str, model: str,
               level: str, dim: int):
    """(usearch index, memory-mapped; its IndexInfo; a lock to hold while searching it) for a
    search on `con`, or IndexUnusable saying why it cannot be used."""
    shown = f"{path.parent.name}/{path.name}"
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise IndexUnusable(f"{shown} does not exist") from None
    info = read_info(path)
    if info is None:
        raise IndexUnusable(f"{shown}.json is missing, unreadable or of another litmine")
    if info.database_id != database_id(con):
        raise IndexUnusable(f"{shown} was built from another database file")
    if (info.table, info.model, info.level, info.dim) != (table, model, level, dim):
        raise IndexUnusable(f"{shown} holds {info.level} vectors of {info.model} "
                            f"({info.dim} dimensions), not {level} vectors of {model}")
    if stat.st_size != info.file_bytes:
        raise IndexUnusable(f"{shown} is {stat.st_size} bytes, {info.file_bytes} when written "
                            "(damaged, or written by something else)")
    identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size, info)
    with _OPENED_LOCK:
        cached = _OPENED.get(path)
        if cached is not None and cached[0] == identity:
            return cached[2], info, cached[3]
    index = _new_index(dim, connectivity=info.connectivity, expansion_add=info.expansion_add,
                       expansion_search=info.expansion_search, dtype=info.dtype,
                       enable_key_lookups=False)  # search returns keys; no key -> node table
    try:
        index.view(str(path))
    except (OSError, RuntimeError, ValueError) as exc:
        raise IndexUnusable(f"{shown} cannot be read ({exc})") from exc
    if index.size != info.vectors or index.ndim != dim:
        raise IndexUnusable(f"{shown} does not hold the {info.vectors} vectors of {dim} "
                            "dimensions its JSON describes")
    lock = threading.Lock()
    with _OPENED_LOCK:
        _OPENED[path] = (identity, info, index, lock)
    return index, info, lock


def index_stored_vectors(db: Path, *, model: str | None = None,
                         levels: tuple[str, ...] | list[str] = ("abstract", "sentence"),
                         rebuild: bool = False) -> list[dict]:
    """`litmine index`: build or update the index of each stored model (or `model`) at each
    level, whatever its size; one dict per index. Opens `db` for writing (an older file gets
    its vector keys from the schema migration)."""
    name = resolve_model_source(model, "index")[0] if model else None
    with open_store(db) as store:
        done = update_indexes(store.con, db, levels=levels, model=name, rebuild=rebuild)
        if not done:
            what = f"{' or '.join(levels)} embeddings" + (f" from {name}" if name else "")
            raise LitmineError(f"index: {db} has no {what}; make them with `litmine embed "
                               f"--db {db}`" + (f" --model {model}" if model else ""))
    return done
