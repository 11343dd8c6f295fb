"""What a reader snapshot costs: seconds to publish `<db>.snapshot.duckdb` as the database grows.

Usage:
    python benchmarks/snapshot_publish.py [--articles 20000,100000] [--entities 20] [--pairs 6]
        [--dir DIR] [--repeat 3]

Builds litmine databases (the real schema, via open_store) of N articles each: the text of the
bundled PubMed sample's records with their words shuffled, under new PMIDs, with the sentences litmine's
splitter gives, `--entities` entity rows and `--pairs` pair rows per article (the defaults are
BC5CDR's density: 4,409 chemical + 5,818 disease mentions in 500 abstracts, about 20 per
abstract; Li et al. 2016, "BioCreative V CDR task corpus", Database baw068; and a few pairs per
abstract). For each size it times `publish_snapshot` (CHECKPOINT + a child process's file copy
+ rename) `--repeat` times and prints MB, median seconds, MB/s, bytes per article and the
extrapolation to PubMed's ~38 M records (2026 baseline: 1,334 files of ~30,000 records).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from litmine.tasks.store.locking import publish_snapshot  # noqa: E402
from litmine.tasks.sources.pubmed_xml import iter_pubmed_xml  # noqa: E402
from litmine.tasks.records import Article  # noqa: E402
from litmine.tasks.text.sentences import split_article  # noqa: E402
from litmine.tasks.store.access import open_store  # noqa: E402

SAMPLE = ROOT / "data" / "sample" / "pubmedsample18n0001.xml.gz"
PUBMED_RECORDS = 38_000_000


def _shuffled(article: Article, seed: int) -> str:
    """The article's text with its words shuffled (same length): distinct text for every copy,
    so DuckDB's dictionary compression cannot fold the copies together."""
    words = article.title.split(" ")
    random.Random(seed).shuffle(words)
    rest = article.abstract.split(" ")
    random.Random(-seed - 1).shuffle(rest)
    return " ".join(words) + " " + " ".join(rest)


def build(db: Path, n: int, entities: int, pairs: int) -> None:
    """A database of `n` articles (sample text under new PMIDs), loaded in batches of 5,000."""
    base = [a for a in iter_pubmed_xml(SAMPLE) if isinstance(a, Article) and a.abstract]
    sentences = {a.pmid: split_article(a) for a in base}
    with open_store(db) as store:
        con = store.con
        for start in range(0, n, 5000):
            ids = range(start, min(n, start + 5000))
            rows = [(str(10_000_000 + i), base[i % len(base)], _shuffled(base[i % len(base)], i)) for i in ids]
            con.register("a", pa.table({"pmid": [p for p, _, _ in rows], "title": [t[:len(a.title)] for _, a, t in rows],
                                        "abstract": [t[len(a.title) + 1:] for _, a, t in rows],
                                        "journal": [a.journal for _, a, _ in rows]}))
            con.execute("INSERT INTO articles (pmid, version, title, abstract, journal, source, run_id) "
                        "SELECT pmid, 1, title, abstract, journal, 'bench', 'r' FROM a")
            s = [(p, x, t) for p, a, t in rows for x in sentences[a.pmid]]
            con.register("s", pa.table({"pmid": [p for p, _, _ in s], "i": [x.index for _, x, _ in s],
                                        "a": [x.start for _, x, _ in s], "b": [x.end for _, x, _ in s],
                                        "t": [t[x.start:x.end] for _, x, t in s]}))
            con.execute("INSERT INTO sentences SELECT pmid, i, a, b, t, 'r' FROM s")
            con.execute(f"""INSERT INTO entities SELECT pmid, 'model', k * 10, k * 10 + 8, 'mention ' || k,
                            CASE WHEN k % 2 = 0 THEN 'Chemical' ELSE 'Disease' END, 0.9, k % 5, '', 'r'
                            FROM a, range({entities}) t(k)""")
            con.execute(f"""INSERT INTO pairs SELECT pmid, 'model', 'sentence', 'chemical ' || k,
                            'disease ' || k, 1, [k % 5], 'r' FROM a, range({pairs}) t(k)""")
            con.unregister("a")
            con.unregister("s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", default="20000,100000")
    parser.add_argument("--entities", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print("| articles | DB MB | publish s (median) | MB/s | bytes/article | PubMed-scale GB | PubMed-scale s |")
        print("|---|---|---|---|---|---|---|")
        for n in (int(x) for x in args.articles.split(",")):
            db = Path(tmp) / f"bench{n}.duckdb"
            build(db, n, args.entities, args.pairs)
            with open_store(db) as store:
                times = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    publish_snapshot(store)
                    times.append(time.perf_counter() - started)
            size = db.stat().st_size
            seconds = statistics.median(times)
            per_article = size / n
            scale_bytes = per_article * PUBMED_RECORDS
            print(f"| {n:,} | {size / 1e6:.1f} | {seconds:.2f} | {size / 1e6 / seconds:.0f} | {per_article:.0f} | "
                  f"{scale_bytes / 1e9:.0f} | {scale_bytes / (size / seconds):.0f} |", flush=True)


if __name__ == "__main__":
    main()
