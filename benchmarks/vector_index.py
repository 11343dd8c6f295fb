"""The vector index of `litmine search` against the exact scan: build time, size, latency, recall@10.

Usage:
    python benchmarks/vector_index.py [--rows 100000 1000000] [--data clustered uniform]
                                      [--queries 20] [--dim 384] [--ef 64] [--dir /tmp]

For each size and data set, a fresh litmine database (the real schema: `open_store`, the
`embeddings_<dim>` table with its `vector_key`, one model, level "sentence", 10 sentences per
article) gets `rows` unit vectors, then the index is built by `update_index` (what `litmine
embed` and `litmine index` run), and the same public function `nearest` answers `--queries`
query vectors (after one warm-up each) twice: exactly (`exact=True`, litmine's `search_vector`)
and through the index (`min_vectors=0`). recall@10 is the share of the exact top 10 (pmid,
sentence) that the index path returns.

Data sets (synthetic; real sentence embeddings lie between the two):
- clustered: `--clusters` Gaussian clusters around random centres, point = centre + noise of the
  same norm, normalised (a point's cosine to its centre is about 0.71; queries are drawn the same
  way, so each has a cluster of near neighbours);
- uniform: uniform random unit vectors, queries too: every vector is nearly equidistant from a
  query (top-10 cosine about 0.2), the worst case of any approximate index.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import host_lines
from search_scaling import vector_batch

from litmine.tasks.semantic import vector_index
from litmine.tasks.semantic.nearest import nearest
from litmine.tasks.store.access import open_store
from litmine.tasks.store.schema import VECTOR_KEYS, create_embeddings_table

MODEL = "benchmark/synthetic"
LEVEL = "sentence"


class Vectors:
    """Unit vectors of one data set, drawn in chunks (the same seed gives the same rows)."""

    def __init__(self, kind: str, dim: int, clusters: int, seed: int = 0):
        self.kind, self.dim = kind, dim
        self.rng = np.random.default_rng(seed)
        self.centres = self.rng.standard_normal((clusters, dim), dtype=np.float32)

    def draw(self, n: int) -> np.ndarray:
        x = self.rng.standard_normal((n, self.dim), dtype=np.float32)
        if self.kind == "clustered":
            x += self.centres[self.rng.integers(0, len(self.centres), n)]
        return x / np.linalg.norm(x, axis=1, keepdims=True)


def build_database(path: Path, vectors: Vectors, rows: int, chunk: int = 100_000) -> float:
    """A litmine database holding `rows` vectors (as `embed_store` writes them); seconds."""
    started = time.perf_counter()
    dim = vectors.dim
    with open_store(path) as store:
        con = store.con
        table = create_embeddings_table(con, dim)
        con.execute("INSERT INTO embedding_models VALUES (?, ?, 256, ?, now())", [MODEL, dim, table])
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            batch = vector_batch(start, vectors.draw(n), dim, LEVEL, MODEL)
            con.register("batch", batch)
            con.execute(f"INSERT INTO {table} SELECT *, nextval('{VECTOR_KEYS}') FROM batch")
            con.execute("INSERT INTO sentences (pmid, sentence_index, text) "
                        "SELECT pmid, sentence_index, 'sentence ' || pmid FROM batch")
            con.execute("INSERT INTO articles (pmid, title, abstract, year, journal) "
                        "SELECT DISTINCT pmid, 'title ' || pmid, '', 2024, 'J' FROM batch")
            con.unregister("batch")
        con.execute("CHECKPOINT")
    return time.perf_counter() - started


def summary(seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f"{min(ms):.1f} / {statistics.median(ms):.1f} / {max(ms):.1f}"


def time_queries(path: Path, queries: np.ndarray, dim: int, rows: int) -> dict:
    """Exact and index latency (s) per query, recall@10 of the index path, and the seconds the
    first query spent opening the index (a one-shot `litmine search` pays it every time)."""
    table = f"embeddings_{dim}"
    store = open_store(path, "read", stage="benchmark")
    exact_s, index_s, recalls, note = [], [], [], None
    vector_index._OPENED.clear()
    started = time.perf_counter()
    vector_index.open_index(store.con, vector_index.index_path(path, table, MODEL, LEVEL),
                            table=table, model=MODEL, level=LEVEL, dim=dim)
    open_s = time.perf_counter() - started
    try:
        for i, q in enumerate(queries):
            started = time.perf_counter()
            exact = nearest(store.con, q, table=table, model=MODEL, level=LEVEL, k=10,
                            stored=rows, exact=True)
            middle = time.perf_counter()
            found = nearest(store.con, q, table=table, model=MODEL, level=LEVEL, k=10,
                            stored=rows, min_vectors=0)
            ended = time.perf_counter()
            assert len(exact.hits) == 10 and found.note and found.note.startswith("searched the "
                                                                                  "vector index")
            note = found.note
            if i:  # the first query warms DuckDB's buffers and the page cache
                exact_s.append(middle - started)
                index_s.append(ended - middle)
                truth = {(h.pmid, h.sentence_index) for h in exact.hits}
                recalls.append(len(truth & {(h.pmid, h.sentence_index) for h in found.hits}) / 10)
    finally:
        store.close()
    return {"exact": exact_s, "index": index_s, "recall": recalls, "note": note, "open": open_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--data", nargs="+", choices=["clustered", "uniform"],
                        default=["clustered", "uniform"])
    parser.add_argument("--queries", type=int, default=20, help="Timed queries (plus a warm-up).")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--clusters", type=int, default=3000)
    parser.add_argument("--dtype", default=vector_index.DTYPE)
    parser.add_argument("--connectivity", type=int, default=vector_index.CONNECTIVITY)
    parser.add_argument("--expansion-add", type=int, default=vector_index.EXPANSION_ADD)
    parser.add_argument("--ef", type=int, nargs="+", default=[vector_index.EXPANSION_SEARCH],
                        help="expansion_search values to time (the index is built once).")
    parser.add_argument("--dir", default=None, help="Where the temporary databases go.")
    parser.add_argument("--json", default=None, help="Also write the figures to this file.")
    args = parser.parse_args()
    print("\n".join(host_lines()))
    print(f"dtype {args.dtype}, connectivity {args.connectivity}, expansion_add "
          f"{args.expansion_add}; latency in ms: min / median / max over {args.queries} queries")
    print("| data | vectors | ef | DB build s | index build s | index MB | index open ms "
          "| exact ms | index ms | recall@10 mean (min) | peak RSS GB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    figures = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for rows in args.rows:
            for kind in args.data:
                path = Path(tmp) / f"bench_{kind}_{rows}.duckdb"
                vectors = Vectors(kind, args.dim, args.clusters)
                db_seconds = build_database(path, vectors, rows)
                with open_store(path) as store:
                    built = vector_index.update_index(
                        store.con, path, f"embeddings_{args.dim}", MODEL, LEVEL,
                        dtype=args.dtype, connectivity=args.connectivity,
                        expansion_add=args.expansion_add, expansion_search=args.ef[0])
                index_file = vector_index.index_path(path, f"embeddings_{args.dim}", MODEL, LEVEL)
                queries = vectors.draw(args.queries + 1)
                for ef in args.ef:
                    info = vector_index.info_path(index_file)
                    info.write_text(json.dumps(json.loads(info.read_text()) | {"expansion_search": ef}))
                    t = time_queries(path, queries, args.dim, rows)
                    figures.append({"data": kind, "rows": rows, "ef": ef, "db_seconds": db_seconds,
                                    "index_seconds": built["seconds"],
                                    "index_mb": index_file.stat().st_size / 1e6, **t})
                    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB -> GB
                    print(f"| {kind} | {rows:,} | {ef} | {db_seconds:.0f} | {built['seconds']:.0f} "
                          f"| {index_file.stat().st_size / 1e6:.0f} | {t['open'] * 1000:.0f} "
                          f"| {summary(t['exact'])} | {summary(t['index'])} "
                          f"| {statistics.mean(t['recall']):.3f} ({min(t['recall']):.1f}) "
                          f"| {rss:.1f} |", flush=True)
                path.unlink()
                shutil.rmtree(index_file.parent)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
