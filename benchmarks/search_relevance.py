"""Search relevance per mode (keyword, semantic, hybrid): nDCG@10 and recall@10 on MeSH queries.

Usage:
    litmine mine --files data/sample/pubmedsample18n0001.xml.gz --no-relations --db sample.duckdb
    litmine embed --db sample.duckdb
    python benchmarks/search_relevance.py --db sample.duckdb [--min-articles 3] [--max-articles 20]

The relevance set comes from the database itself: every MeSH heading that NLM's indexers gave to
at least --min-articles and at most --max-articles of its articles is a query (the heading's
name, e.g. "Myocardial Ischemia"), and the articles indexed with it are the relevant ones
(binary relevance). MeSH check tags (Humans, Male, Aged, Rats, ...: NLM's "check tags", which
describe the study population, not the subject) are left out, as are headings on more than
--max-articles articles. Each query runs through `find_abstracts`, the function `litmine search`
calls, in each mode.

nDCG@10 (Järvelin & Kekäläinen 2002) with binary gains: DCG = sum of 1 / log2(rank + 1) over the
relevant hits in the top 10, divided by the DCG of a perfect ranking (min(R, 10) relevant hits
first). recall@10: relevant hits in the top 10 / R. Both are averaged over queries.

A caveat when reading the figures: a heading's name often appears in the title or abstract of
the articles indexed with it, which favours keyword matching; MeSH indexers read the full
article, so some relevant articles share no word with their heading, which favours meaning.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import duckdb

from litmine.commands.options import quiet_transformers
from litmine.tasks.semantic.lookup import SEARCH_MODES, find_abstracts

#: NLM's MeSH check tags (NLM, "MEDLINE Indexing: Check Tags"), which every indexer adds when
#: they apply: population descriptors, not what an article is about.
CHECK_TAGS = {
    "Humans", "Animals", "Male", "Female", "Pregnancy", "Infant, Newborn", "Infant",
    "Child, Preschool", "Child", "Adolescent", "Young Adult", "Adult", "Middle Aged", "Aged",
    "Aged, 80 and over", "Cats", "Cattle", "Chick Embryo", "Cricetinae", "Dogs", "Guinea Pigs",
    "Horses", "Mice", "Rabbits", "Rats", "Sheep", "Swine", "History, Ancient",
    "History, Medieval", "History, 15th Century", "History, 16th Century", "History, 17th Century",
    "History, 18th Century", "History, 19th Century", "History, 20th Century",
    "History, 21st Century",
}


def relevance_set(db: Path, min_articles: int, max_articles: int) -> dict[str, set[str]]:
    """MeSH heading -> PMIDs indexed with it, for the headings that make queries."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("""
            SELECT heading, list(pmid ORDER BY pmid) FROM (
                SELECT DISTINCT pmid, unnest(mesh_headings) AS heading FROM articles)
            GROUP BY heading HAVING count(*) BETWEEN ? AND ? ORDER BY heading""",
                           [min_articles, max_articles]).fetchall()
    finally:
        con.close()
    return {h: set(p) for h, p in rows if h not in CHECK_TAGS}


def ndcg_at(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    """nDCG@k with binary gains."""
    dcg = sum(1 / math.log2(i + 2) for i, pmid in enumerate(ranked[:k]) if pmid in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal


def recall_at(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a mined and embedded database")
    parser.add_argument("--min-articles", type=int, default=3)
    parser.add_argument("--max-articles", type=int, default=20)
    parser.add_argument("--modes", nargs="+", default=list(SEARCH_MODES), choices=SEARCH_MODES)
    args = parser.parse_args()

    queries = relevance_set(args.db, args.min_articles, args.max_articles)
    if not queries:
        raise SystemExit(f"no MeSH heading of {args.db} is on {args.min_articles} to "
                         f"{args.max_articles} articles; mine more articles or lower --min-articles")
    n_articles = duckdb.connect(str(args.db), read_only=True).execute(
        "SELECT count(*) FROM articles").fetchone()[0]
    sizes = [len(p) for p in queries.values()]
    print(f"{args.db}: {n_articles} articles; {len(queries)} queries (MeSH headings on "
          f"{args.min_articles}-{args.max_articles} articles, check tags left out; "
          f"{statistics.mean(sizes):.1f} relevant articles per query on average)\n")
    quiet_transformers(prefect=False)
    find_abstracts(args.db, "warm-up", k=10)  # index update, model load: not timed
    print("| mode | nDCG@10 | recall@10 | ms per query |")
    print("|---|---:|---:|---:|")
    for mode in args.modes:
        ndcg, recall = [], []
        started = time.perf_counter()
        for heading, relevant in queries.items():
            ranked = [h.pmid for h in find_abstracts(args.db, heading, k=10, mode=mode).hits]
            ndcg.append(ndcg_at(ranked, relevant))
            recall.append(recall_at(ranked, relevant))
        ms = 1000 * (time.perf_counter() - started) / len(queries)
        print(f"| {mode} | {statistics.mean(ndcg):.3f} | {statistics.mean(recall):.3f} | {ms:.0f} |")


if __name__ == "__main__":
    main()
