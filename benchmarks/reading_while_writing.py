"""Reading while a run writes: how long a writer holds the database per batch, and what
`litmine sql` costs during a `mine` run (issue 19; docs/reliability.md, "Reading while a run writes").

Usage:
    python benchmarks/reading_while_writing.py [--articles 20000,100000] [--repeat 5]
        [--runs 3] [--batch-size 32] [--model M] [--relations] [--dir DIR]

1. Hold time against database size (`--articles`, "" to skip): databases of N articles (the
   bundled sample's text with its words shuffled, under new PMIDs, with litmine's sentences, 20
   entity and 6 pair rows per article: BC5CDR's density, about 20 mentions per abstract; Li et
   al. 2016, Database baw068) take a batch of the sample's 177 articles with their sentences as
   `mine` loads it, `--repeat` times: under new PMIDs (what a run mostly loads), then the same
   batch again (replacing its rows, as a rerun does). Seconds to open the file again
   (`Store.con` after a release), load the batch (`Store.load_batch`, one transaction) and let
   go of it (`Store.release`: close, which checkpoints the batch into the file).
2. A live run (`--runs`, 0 to skip): `litmine mine --files <sample> --batch-size B` into a fresh
   database, `--runs` times (3 x 177 = 531 articles by default), while this process runs
   `litmine sql "SELECT count(*) FROM articles"` back to back, opens the file read-only in-process
   every 0.1 s, and reads /proc/locks every millisecond for the mine process's write lock on the
   file (Linux). Prints the latency of the CLI polls (idle and during the runs), of the in-process
   reads, failed polls (there must be none), and the writer's holds of the file.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import choose_benchmark_dtype, print_machine
from litmine.tasks.records import Article
from litmine.tasks.sources.pubmed_xml import iter_pubmed_xml
from litmine.tasks.store.access import open_store
from litmine.tasks.store.database import Batch
from litmine.tasks.store.query import run_readonly_sql
from litmine.tasks.text.sentences import split_article

SAMPLE = ROOT / "data" / "sample" / "pubmedsample18n0001.xml.gz"
COUNT = "SELECT count(*) FROM articles"


def _shuffled(article: Article, seed: int) -> str:
    """The article's text with its words shuffled (same length): distinct text for every copy,
    so DuckDB's dictionary compression cannot fold the copies together."""
    words = article.title.split(" ")
    random.Random(seed).shuffle(words)
    rest = article.abstract.split(" ")
    random.Random(-seed - 1).shuffle(rest)
    return " ".join(words) + " " + " ".join(rest)


def build(db: Path, n: int, entities: int = 20, pairs: int = 6) -> None:
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
            con.execute(f"""INSERT INTO entities (pmid, model, start_offset, end_offset, text, type,
                            score, sentence_index, run_id, link_status)
                            SELECT pmid, 'model', k * 10, k * 10 + 8, 'mention ' || k,
                            CASE WHEN k % 2 = 0 THEN 'Chemical' ELSE 'Disease' END, 0.9, k % 5,
                            'r', 'not-run' FROM a, range({entities}) t(k)""")
            con.execute(f"""INSERT INTO pairs (pmid, model, method, chemical, disease, n_sentences,
                            sentence_indexes, run_id) SELECT pmid, 'model', 'sentence',
                            'chemical ' || k, 'disease ' || k, 1, [k % 5], 'r'
                            FROM a, range({pairs}) t(k)""")
            con.unregister("a")
            con.unregister("s")


def stats(values: list[float], scale: float = 1000.0, unit: str = "ms") -> str:
    if not values:
        return "none"
    return (f"min {min(values) * scale:.0f} / median {statistics.median(values) * scale:.0f} / "
            f"max {max(values) * scale:.0f} {unit} (n={len(values)})")


def hold_times(sizes: list[int], repeat: int, directory: str) -> None:
    """Part 1: open again + load a batch + let go, against the database's size: a batch of new
    articles (what a run mostly loads) and the same batch again (replacing its rows)."""
    articles = [a for a in iter_pubmed_xml(SAMPLE) if isinstance(a, Article)]
    sentences = [s for a in articles for s in split_article(a)]
    print("\n| articles | DB MB | batch | open again ms | load 177 articles ms | let go (close) ms | held ms |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        db = Path(directory) / f"bench{n}.duckdb"
        build(db, n)
        with open_store(db) as store:
            for kind in ("new", "again"):
                times: dict[str, list[float]] = {"open": [], "load": [], "close": []}
                for i in range(repeat):
                    batch = (Batch(articles=[replace(a, pmid=f"n{i}-{a.pmid}") for a in articles],
                                   sentences=[replace(s, pmid=f"n{i}-{s.pmid}") for s in sentences])
                             if kind == "new" else Batch(articles=articles, sentences=sentences))
                    store.release()
                    started = time.perf_counter()
                    store.con  # noqa: B018 - opens the file again
                    opened = time.perf_counter()
                    store.load_batch(batch, model="m", run_id=f"{kind}{i}")
                    loaded = time.perf_counter()
                    store.release()
                    done = time.perf_counter()
                    times["open"].append(opened - started)
                    times["load"].append(loaded - opened)
                    times["close"].append(done - loaded)
                held = [a + b + c for a, b, c in zip(times["open"], times["load"], times["close"])]
                print(f"| {n:,} | {db.stat().st_size / 1e6:.1f} | {kind} | "
                      + " | ".join(f"{statistics.median(times[k]) * 1000:.0f}" for k in ("open", "load", "close"))
                      + f" | {statistics.median(held) * 1000:.0f} (max {max(held) * 1000:.0f}) |", flush=True)
        db.unlink()


class LockWatch(threading.Thread):
    """Reads /proc/locks every millisecond: the intervals during which `pid` held a write lock
    on the inode of `db`."""

    def __init__(self, db: Path):
        super().__init__(daemon=True)
        self.inode = os.stat(db).st_ino
        self.pid: int | None = None
        self.holds: list[float] = []
        self.stop = threading.Event()

    def held(self) -> bool:
        with open("/proc/locks") as locks:
            for line in locks:
                fields = line.split()
                if (len(fields) > 5 and fields[3] == "WRITE" and fields[4] == str(self.pid)
                        and fields[5].endswith(f":{self.inode}")):
                    return True
        return False

    def run(self) -> None:
        since = None
        while not self.stop.is_set():
            now, held = time.perf_counter(), self.pid is not None and self.held()
            if held and since is None:
                since = now
            elif not held and since is not None:
                self.holds.append(now - since)
                since = None
            time.sleep(0.001)


def cli_poll(db: Path, env: dict) -> tuple[float, int, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "litmine.cli", "sql", "--db", str(db), COUNT,
                           "--format", "csv"], env=env, capture_output=True, text=True, timeout=300)
    return time.perf_counter() - started, done.returncode, (done.stdout + done.stderr).strip()


def live_runs(runs: int, batch_size: int, model: str | None, relations: bool, directory: str) -> None:
    """Part 2: `litmine mine` with readers polling all through it."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if model:
        env["LITMINE_MODEL"] = model
    cli, inproc, failed, holds, waits, counts = [], [], [], [], 0, []
    spans = []
    for run in range(runs):
        db = Path(directory) / f"live{run}.duckdb"
        open_store(db).close()  # an empty litmine database: readers have a file from the start
        watch = LockWatch(db)
        watch.start()
        log = Path(directory) / f"mine{run}.log"
        started = time.perf_counter()
        with log.open("w") as out:
            mine = subprocess.Popen([sys.executable, "-m", "litmine.cli", "mine", "--files", str(SAMPLE),
                                     "--db", str(db), "--batch-size", str(batch_size), "--device", "cpu",
                                     "--no-progress", "--relations" if relations else "--no-relations"],
                                    env=env, stdout=out, stderr=subprocess.STDOUT)
        watch.pid = mine.pid
        stop = threading.Event()

        def read_in_process(db: Path = db, stop: threading.Event = stop) -> None:
            while not stop.is_set():
                began = time.perf_counter()
                try:
                    run_readonly_sql(db, COUNT)
                    inproc.append(time.perf_counter() - began)
                except Exception as exc:  # noqa: BLE001 - counted, printed
                    failed.append(f"in-process: {exc}")
                stop.wait(0.1)

        reader = threading.Thread(target=read_in_process, daemon=True)
        reader.start()
        seen = []
        while mine.poll() is None:
            seconds, status, answer = cli_poll(db, env)
            if status == 0:
                cli.append(seconds)
                seen.append(int(answer.splitlines()[-1]))
            else:
                failed.append(f"litmine sql: {answer[-300:]}")
        stop.set()
        reader.join()
        watch.stop.set()
        watch.join()
        spans.append(time.perf_counter() - started)
        if mine.returncode != 0:
            raise SystemExit(f"mine failed (exit {mine.returncode}); see {log}:\n{log.read_text()[-2000:]}")
        holds += watch.holds
        waits += log.read_text().count("being read by another process")
        counts.append(seen)
        print(f"run {run + 1}: {spans[-1]:.1f} s, {len(seen)} CLI polls saw {seen}", flush=True)
    idle = [cli_poll(db, env)[0] for _ in range(10)]
    print(f"\nlitmine sql, idle:           {stats(idle)}")
    print(f"litmine sql, during mine:    {stats(cli)}")
    print(f"in-process read (open + count(*)) during mine: {stats(inproc)}")
    print(f"failed polls: {len(failed)}{': ' + failed[0] if failed else ''}")
    print(f"writer holds of the file:    {stats(holds)}; {sum(holds):.2f} s held in "
          f"{sum(spans):.1f} s of runs ({100 * sum(holds) / sum(spans):.1f}%)")
    print(f"writer waits for readers (warnings in the mine logs): {waits}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", default="20000,100000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", default=None, help="NER model of the mine runs (default: $LITMINE_MODEL, else the shipped one)")
    parser.add_argument("--relations", action="store_true", help="run the relation step too")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args(argv)
    print_machine(choose_benchmark_dtype("auto", "cpu"))
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        if args.articles:
            hold_times([int(x) for x in args.articles.split(",")], args.repeat, tmp)
        if args.runs:
            live_runs(args.runs, args.batch_size, args.model, args.relations, tmp)


if __name__ == "__main__":
    main()
