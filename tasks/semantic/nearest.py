"""Rank stored vectors by cosine similarity to a query vector: an exact scan in SQL, or the
vector index (vector_index.py) and an exact scan of the rows it lags behind.

The exact scan reads every vector of the model and level (0.71 s per query at a million on the
shared build machine, benchmarks/search_scaling.py). With at least `vector_index_min` vectors
and an index file beside the database, search asks the index for candidates instead, rescores
the ones still in the table with the same SQL cosine as the scan (so scores and ties match it),
scans exactly the rows embedded since the index was built, and merges the two. Hits whose rows
are gone (deleted or embedded again since) are dropped, and the index is asked for more when
too few remain. An index that cannot be used (missing, damaged, from another file) is never an
error: the search scans and says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb
import numpy as np

from litmine.settings import get_settings
from litmine.tasks.records import Hit
from litmine.tasks.semantic.vector_index import (IndexUnusable, database_file, has_vector_keys,
                                                 index_path, open_index)

#: Times the index is asked for four times as many candidates when too many of those it returned
#: are gone from the table.
RETRIES = 3
#: Below this share of indexed vectors still in the table, the index is too stale to ask (it
#: would need to return nearly all its vectors); the search scans and says to update it.
MIN_LIVE_SHARE = 0.5


@dataclass(frozen=True)
class Ranked:
    """Hits, best first, and a note for the user when they did not come from the exact scan
    (the index was used) or when an index could not be used."""

    hits: list[Hit]
    note: str | None = None


def search_vector(con: duckdb.DuckDBPyConnection, vector: np.ndarray, *, table: str, model: str,
                  level: str, k: int) -> list[Hit]:
    """Rank stored vectors by cosine similarity to `vector` (brute force, in SQL)."""
    dim = len(vector)
    # Over-fetch, then drop vectors of articles deleted since they were embedded.
    rows = con.execute(f"""
        WITH top AS (
            SELECT pmid, sentence_index, array_cosine_similarity(vector, $q::FLOAT[{dim}]) AS score
            FROM {table} WHERE model = $model AND level = $level ORDER BY score DESC LIMIT $n)
        {_WITH_ARTICLES}""",
        {"q": vector.tolist(), "model": model, "level": level, "n": over_fetch(k),
         "k": k}).fetchall()
    return _hits(rows)


def over_fetch(k: int) -> int:
    """Rows ranked before the join with `articles`, which drops those of deleted articles."""
    return 2 * k + 10


#: The hits' article fields (the sentence's text at level "sentence"), from CTE `top`.
_WITH_ARTICLES = """
        SELECT top.score, top.pmid, top.sentence_index, a.title, a.year, a.journal,
               CASE WHEN $level = 'sentence' THEN s.text ELSE a.abstract END
        FROM top JOIN articles a USING (pmid)
        LEFT JOIN sentences s ON s.pmid = top.pmid AND s.sentence_index = top.sentence_index
        ORDER BY top.score DESC, top.pmid, top.sentence_index LIMIT $k"""


def _hits(rows: list[tuple]) -> list[Hit]:
    return [Hit(rank=i + 1, score=float(r[0]), pmid=r[1], sentence_index=r[2], title=r[3] or "",
                year=r[4], journal=r[5] or "", text=r[6] or "") for i, r in enumerate(rows)]


def nearest(con: duckdb.DuckDBPyConnection, vector: np.ndarray, *, table: str, model: str,
            level: str, k: int, stored: int, exact: bool = False,
            min_vectors: int | None = None) -> Ranked:
    """The k stored abstracts (or sentences) nearest `vector`: through the vector index when
    the model has at least `min_vectors` (default: the setting) of the `stored` vectors at this
    level and an index file, else by the exact scan (always with `exact`)."""
    if min_vectors is None:
        min_vectors = get_settings(fresh=True).vector_index_min
    db = database_file(con)
    if exact or stored < min_vectors or db is None or not has_vector_keys(con, table):
        return Ranked(search_vector(con, vector, table=table, model=model, level=level, k=k))
    path = index_path(db, table, model, level)
    try:
        index, info, lock = open_index(con, path, table=table, model=model, level=level,
                                       dim=len(vector))
    except IndexUnusable as exc:
        return Ranked(search_vector(con, vector, table=table, model=model, level=level, k=k),
                      f"no usable vector index ({exc}); searched all {stored:,} {level} vectors "
                      f"exactly. `litmine index --db {db}` builds it")
    lag, live = con.execute(
        f"SELECT count(*) FILTER (WHERE vector_key > $w OR vector_key IS NULL), "
        f"count(*) FILTER (WHERE vector_key <= $w) FROM {table} "
        "WHERE model = $model AND level = $level",
        {"w": info.watermark, "model": model, "level": level}).fetchone()
    gone = max(0, info.vectors - live)
    update = f"`litmine index --db {db}` updates it"
    if info.vectors and live < MIN_LIVE_SHARE * info.vectors:
        return Ranked(search_vector(con, vector, table=table, model=model, level=level, k=k),
                      f"the vector index {path.name} is out of date ({gone:,} of its "
                      f"{info.vectors:,} vectors are gone); searched exactly. {update}")
    rows = _index_candidates(con, index, vector, table=table, model=model, level=level,
                             watermark=info.watermark, n=over_fetch(k), live=live,
                             expansion=info.expansion_search, lock=lock)
    if rows is None:
        return Ranked(search_vector(con, vector, table=table, model=model, level=level, k=k),
                      f"the vector index {path.name} lacks rows of this file (an older "
                      f"snapshot?); searched exactly. {update}")
    if lag:
        rows += _lag_candidates(con, vector, table=table, model=model, level=level,
                                watermark=info.watermark, n=over_fetch(k))
    rows.sort(key=lambda r: (-r[0], r[1], -1 if r[2] is None else r[2]))
    top = rows[:over_fetch(k)]
    hits = _hits(con.execute(f"""
        WITH top AS (SELECT unnest($pmids::VARCHAR[]) AS pmid,
                            unnest($indexes::INTEGER[]) AS sentence_index,
                            unnest($scores::DOUBLE[]) AS score)
        {_WITH_ARTICLES}""",
        {"pmids": [r[1] for r in top], "indexes": [r[2] for r in top],
         "scores": [r[0] for r in top], "level": level, "k": k}).fetchall())
    note = (f"searched the vector index of {info.vectors:,} {level} vectors"
            + (f" and, exactly, the {lag:,} embedded since it was built" if lag else "")
            + (f"; {gone:,} of its vectors gone since (deleted or embedded again)" if gone else "")
            + (f"; {update}" if lag or gone else ""))
    return Ranked(hits, note)


def _index_candidates(con: duckdb.DuckDBPyConnection, index, vector: np.ndarray, *, table: str,
                      model: str, level: str, watermark: int, n: int, live: int,
                      expansion: int, lock) -> list[tuple] | None:
    """(score, pmid, sentence_index) of the index's nearest vectors still in the table, at
    least `n` of them (or all `live` ones), rescored exactly; None when the index lacks too
    many of the table's rows to find them (a snapshot older than the index).

    Gone vectors are made up for by asking for more: n / (live share) at first, then up to
    `RETRIES` times four times as many.
    """
    if not index.size or not live:
        return []
    want = min(n, live)
    fetch = min(index.size, math.ceil(n * index.size / live) + 10)
    for attempt in range(RETRIES + 1):
        with lock:  # the index may be shared by threads; ef is its setting
            index.expansion_search = max(expansion, fetch)
            keys = index.search(vector, fetch).keys
        rows = con.execute(f"""
            SELECT array_cosine_similarity(e.vector, $q::FLOAT[{len(vector)}]), e.pmid,
                   e.sentence_index
            FROM {table} e JOIN (SELECT unnest($keys::BIGINT[]) AS vector_key) c USING (vector_key)
            WHERE e.model = $model AND e.level = $level AND e.vector_key <= $w""",
            {"q": vector.tolist(), "keys": keys.astype(np.int64).tolist(), "model": model,
             "level": level, "w": watermark}).fetchall()
        if len(rows) >= want or fetch >= index.size:
            return rows
        fetch = min(index.size, fetch * 4)
    return None


def _lag_candidates(con: duckdb.DuckDBPyConnection, vector: np.ndarray, *, table: str, model: str,
                    level: str, watermark: int, n: int) -> list[tuple]:
    """(score, pmid, sentence_index) of the n nearest rows the index lags behind (exact scan)."""
    return con.execute(f"""
        SELECT array_cosine_similarity(vector, $q::FLOAT[{len(vector)}]) AS score, pmid,
               sentence_index
        FROM {table} WHERE model = $model AND level = $level
          AND (vector_key > $w OR vector_key IS NULL)
        ORDER BY score DESC LIMIT $n""",
        {"q": vector.tolist(), "model": model, "level": level, "w": watermark,
         "n": n}).fetchall()
