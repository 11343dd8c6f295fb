"""Semantic search at scale: brute-force cosine similarity in DuckDB, time per query.

Usage:
    python benchmarks/search_scaling.py [--rows 100000 1000000] [--queries 7] [--dim 384]
                                        [--threads N] [--dir /tmp]

For each size, a fresh DuckDB file gets `rows` random unit vectors (FLOAT[dim], the layout
`litmine embed` writes: tables `embeddings_<dim>`, one model, level "sentence") plus the
`articles`/`sentences` rows the search joins, and we time litmine's own `search_vector` (the
top-k by `array_cosine_similarity` plus the joins) for --queries random query vectors after one
warm-up query; then the same ORDER BY with `array_inner_product` (equal ranking for unit
vectors) to see what the cosine's normalisation costs. This is the exact scan (`search --exact`,
or below LITMINE_VECTOR_INDEX_MIN vectors): one scan of every vector per query, linear in rows;
benchmarks/vector_index.py measures the HNSW index litmine uses above that.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from litmine.tasks.semantic.embeddings import search_vector

MODEL = "benchmark/random-unit-vectors"


def vector_batch(start: int, vectors: np.ndarray, dim: int, level: str = "sentence",
                 model: str = MODEL) -> pa.Table:
    """Rows of `embeddings_<dim>` for unit vectors numbered from `start` (10 sentences per
    article, PMIDs from 1000000): what `litmine embed` writes, minus the vector key."""
    n = len(vectors)
    ids = np.arange(start, start + n)
    return pa.table({
        "pmid": [str(1_000_000 + i // 10) for i in ids], "level": [level] * n,
        "sentence_index": pa.array(ids % 10, pa.int32()), "model": [model] * n,
        "text_md5": [""] * n,
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), dim),
        "run_id": ["bench"] * n})


def build(path: Path, rows: int, dim: int, chunk: int = 100_000, seed: int = 0) -> float:
    """Write `rows` random unit vectors (10 sentences per article); seconds taken."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    con = duckdb.connect(str(path))
    table = f"embeddings_{dim}"
    con.execute(f"CREATE TABLE {table} (pmid VARCHAR, level VARCHAR, sentence_index INTEGER, "
                f"model VARCHAR, text_md5 VARCHAR, vector FLOAT[{dim}], run_id VARCHAR)")
    con.execute("CREATE TABLE articles (pmid VARCHAR PRIMARY KEY, title VARCHAR, abstract VARCHAR, "
                "year INTEGER, journal VARCHAR)")
    con.execute("CREATE TABLE sentences (pmid VARCHAR, sentence_index INTEGER, text VARCHAR)")
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        vectors = rng.standard_normal((n, dim), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        batch = vector_batch(start, vectors, dim)
        con.register("batch", batch)
        con.execute(f"INSERT INTO {table} SELECT * FROM batch")
        con.execute("INSERT INTO sentences SELECT pmid, sentence_index, 'sentence ' || pmid "
                    "FROM batch")
        con.execute("INSERT INTO articles SELECT DISTINCT pmid, 'title ' || pmid, '', 2024, 'J' "
                    "FROM batch")
        con.unregister("batch")
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - started


def time_queries(path: Path, dim: int, queries: int, threads: int | None) -> dict[str, float]:
    """Median and max seconds per query for litmine's search and for a bare inner-product scan."""
    con = duckdb.connect(str(path), read_only=True)
    if threads:
        con.execute(f"SET threads = {threads}")
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((queries + 1, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    table = f"embeddings_{dim}"
    cosine, inner = [], []
    for i, vector in enumerate(vectors):
        started = time.perf_counter()
        hits = search_vector(con, vector, table=table, model=MODEL, level="sentence", k=10)
        elapsed = time.perf_counter() - started
        assert len(hits) == 10
        started = time.perf_counter()
        con.execute(f"SELECT pmid, sentence_index, array_inner_product(vector, ?::FLOAT[{dim}]) "
                    f"AS s FROM {table} ORDER BY s DESC LIMIT 10", [vector.tolist()]).fetchall()
        if i:  # the first query warms the buffer pool
            cosine.append(elapsed)
            inner.append(time.perf_counter() - started)
    threads_used = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.close()
    return {"cosine_median": statistics.median(cosine), "cosine_max": max(cosine),
            "inner_median": statistics.median(inner), "threads": threads_used}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=7)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all)")
    parser.add_argument("--dir", default=None, help="Where the temporary databases go.")
    args = parser.parse_args()
    print(f"cpu cores visible: {os.cpu_count()}, duckdb {duckdb.__version__}")
    print(f"{'rows':>10} {'file MB':>8} {'build s':>8} {'threads':>7} {'search median s':>16} "
          f"{'search max s':>13} {'inner-product median s':>23}")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for rows in args.rows:
            path = Path(tmp) / f"bench_{rows}.duckdb"
            built = build(path, rows, args.dim)
            t = time_queries(path, args.dim, args.queries, args.threads)
            print(f"{rows:>10} {path.stat().st_size / 1e6:>8.0f} {built:>8.1f} {t['threads']:>7} "
                  f"{t['cosine_median']:>16.3f} {t['cosine_max']:>13.3f} "
                  f"{t['inner_median']:>23.3f}", flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
