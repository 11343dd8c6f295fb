"""Keyword index cost: build, lag check, one BM25 query, an update, on copies of mined articles.

Usage:
    python benchmarks/keyword_index.py --db sample.duckdb [--copies 57]

Copies every article of --db --copies times (PMIDs suffixed -0, -1, ...) into a fresh file in a
temporary directory, then times `sync_keyword_index` from empty, `keyword_index_lag` with nothing
to do, `search_keywords` for one query, and the update after one copy's articles are revised.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from litmine.tasks.semantic.keywords import keyword_index_lag, search_keywords, sync_keyword_index
from litmine.tasks.store.schema import migrate


def timed(label: str, call):
    started = time.perf_counter()
    result = call()
    print(f"{label}: {time.perf_counter() - started:.3f} s  {result if isinstance(result, dict) else ''}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a mined database to copy articles from")
    parser.add_argument("--copies", type=int, default=57)
    parser.add_argument("--query", default="drug side effects on the heart")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "copies.duckdb"
        con = duckdb.connect(str(path))
        migrate(con, path)
        con.execute(f"ATTACH '{args.db}' AS source (READ_ONLY)")
        con.execute("""INSERT INTO articles SELECT pmid || '-' || i, version, title, abstract,
            journal, pub_date, year, doi, publication_types, mesh_headings, language, authors,
            source, run_id, loaded_at FROM source.articles, range(?) copies(i)""", [args.copies])
        n = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        print(f"{n} articles ({args.copies} copies of {args.db})")
        timed("build from empty", lambda: sync_keyword_index(con))
        timed("lag check, nothing to do", lambda: keyword_index_lag(con))
        timed(f"query {args.query!r}", lambda: search_keywords(con, args.query, k=10))
        con.execute("UPDATE articles SET loaded_at = now() WHERE pmid LIKE '%-0'")
        timed("update after one copy is revised", lambda: sync_keyword_index(con))
        con.close()


if __name__ == "__main__":
    main()
