"""End to end: N abstracts of PubMed XML through the `mine` flow into DuckDB, for N and 10xN.

Usage:
    python benchmarks/e2e.py --baseline [--n 500 | --pubtator FILE] [--repeat 3] [--isa avx2]
    python benchmarks/e2e.py [--n 100] [--scale 10] [--model DIR] [--device cpu] [--dtype auto]
        [--batch-size 256] [--no-plain] [--workdir DIR] [--json FILE]

Inputs are built by repeating the bundled sample (data/sample/pubmedsample18n0001.xml.gz, 177
citations) with new PMIDs (40000000 + k), so every citation is stored as a new article. Each size
runs in its own process (so its peak RSS is its own): the model is loaded and warmed up first,
then one real `mine` flow run (against $PREFECT_API_URL, or a temporary Prefect server this script
starts) writes a fresh DuckDB file. We print abstracts/s, seconds per stage (parse, split,
tokenise, model, decode, pair, load, from the run's `timings` in the runs table), the share of
parse + split + pair + load, the RSS after loading the model and the peak RSS.

The flow overlaps stages (NER of one batch runs in a task thread while the next batch is parsed
and split), so its stage seconds are those the flow thread waited. Unless --no-plain, the same
work also runs as plain function calls, one stage after the other, without Prefect: its stages
add up to its wall time, and the difference in wall time is what Prefect's task runs cost (or
what the overlap saves). The output starts with the CPU (its AMX / AVX512-BF16 / AVX2 flags),
the NER dtype and torch's threads (benchmarks/machine.py). `--isa avx2` runs everything as on an
AVX2-only CPU (an emulation on a bigger one: benchmarks/isa_limit.py).
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import nullcontext
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lxml import etree

from litmine.settings import DATA_DIR

SAMPLE = DATA_DIR / "sample" / "pubmedsample18n0001.xml.gz"
WORKDIR = Path("/tmp/litmine-bench/e2e")
FIRST_PMID = 40_000_000
#: The stages that run no model: their share of the wall time is the pipeline's overhead (the
#: relation step, with the stacked CID model's document encoder, is a model pass like NER).
NON_MODEL = ("fetch+parse", "split", "pair", "load")


def build_input(n: int, path: Path, sample: Path = SAMPLE) -> Path:
    """A PubMed XML file of `n` citations: the sample's, repeated, with PMIDs 40000000 + k."""
    if path.is_file():
        return path
    with gzip.open(sample) as handle:
        tree = etree.parse(handle)
    citations = tree.getroot().findall("PubmedArticle")
    root = etree.Element("PubmedArticleSet")
    for k in range(n):
        citation = copy.deepcopy(citations[k % len(citations)])
        pmid = str(FIRST_PMID + k)
        citation.find("MedlineCitation/PMID").text = pmid
        for article_id in citation.iterfind("PubmedData/ArticleIdList/ArticleId"):
            if article_id.get("IdType") == "pubmed":
                article_id.text = pmid
        root.append(citation)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with gzip.open(partial, "wb") as out:
        out.write(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    partial.rename(path)
    return path


class RssSampler:
    """Resident memory of this process, sampled every 50 ms in a thread (from /proc/self/statm)."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = self.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self.page

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.now())

    def reset(self) -> None:
        self.peak = self.now()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, self.now())


def run_plain(path: Path, db: Path, tagger, batch_size: int) -> dict:
    """The flow's work as plain calls, one stage after the other, no Prefect: stage seconds."""
    from litmine.tasks.records import Article
    from litmine.tasks.relations.pairs import pair_chemicals_with_diseases
    from litmine.tasks.sources.files import iter_file_items
    from litmine.tasks.store.access import open_store
    from litmine.tasks.store.database import Batch
    from litmine.tasks.text.sentences import split_article

    seconds: Counter = Counter()
    started = time.perf_counter()
    before = tagger.stats.copy()
    with open_store(db) as store:
        run_id = store.begin_run("bench-plain", {"files": [str(path)]}, model=tagger.model_name)
        items = iter_file_items(path)
        done = False
        while not done:
            mark = time.perf_counter()
            articles = []
            for item in items:
                if isinstance(item, Article):
                    articles.append(item)
                if len(articles) >= batch_size:
                    break
            else:
                done = True
            seconds["fetch+parse"] += time.perf_counter() - mark
            mark = time.perf_counter()
            sentences = [s for a in articles for s in split_article(a)]
            seconds["split"] += time.perf_counter() - mark
            mark = time.perf_counter()
            mentions = tagger.tag(sentences)
            seconds["ner"] += time.perf_counter() - mark
            mark = time.perf_counter()
            pairs = pair_chemicals_with_diseases(mentions)
            seconds["pair"] += time.perf_counter() - mark
            mark = time.perf_counter()
            store.load_batch(Batch(articles=articles, sentences=sentences, mentions=mentions,
                                   pairs=pairs), model=tagger.model_name, run_id=run_id)
            seconds["load"] += time.perf_counter() - mark
        store.finish_run(run_id, "completed", {}, dict(seconds))
    seconds.update(tagger.stats.stage_seconds(before))
    return {"wall": time.perf_counter() - started, "timings": dict(seconds)}


def run_one(args) -> dict:
    """One size, in this process: warm model, one `mine` flow run, then (optionally) plain."""
    import duckdb

    from litmine.flows.mine import mine
    from litmine.tasks.ner.engine import load_tagger

    rss = RssSampler()
    tagger = load_tagger(args.model, device=args.device, dtype=args.dtype)
    tagger.tag_texts(["Lithium-induced tremor was treated with propranolol."] * 8)
    rss_loaded = rss.now()
    rss.reset()
    started = time.perf_counter()
    result = mine(files=[str(args.input)], db=str(args.db), model=args.model, device=args.device,
                  dtype=args.dtype, batch_size=args.batch_size)
    wall = time.perf_counter() - started
    peak_flow = rss.peak
    con = duckdb.connect(str(args.db), read_only=True)
    timings, counts = con.execute("SELECT timings, counts FROM runs WHERE run_id = ?",
                                  [result["run_id"]]).fetchone()
    n_abstracts = con.execute("SELECT count(*) FROM articles WHERE abstract <> ''").fetchone()[0]
    con.close()
    out = {"abstracts_in_file": args.size, "articles_with_abstract": n_abstracts,
           "counts": json.loads(counts), "flow": {"wall": wall, "timings": json.loads(timings)},
           "rss_after_model_load": rss_loaded, "peak_rss_flow": peak_flow,
           "threads": __import__("torch").get_num_threads(), "workers": tagger.workers}
    if args.plain:
        out["plain"] = run_plain(args.input, args.db.with_name(args.db.stem + "-plain.duckdb"),
                                 tagger, args.batch_size)
    out["peak_rss"] = rss.stop()
    out["ru_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def stage_row(label: str, wall: float, timings: dict, abstracts: int, sentences: int) -> str:
    ner = timings.get("ner", 0.0)
    non_model = sum(timings.get(k, 0.0) for k in NON_MODEL)
    cells = [timings.get(k, 0.0) for k in ("fetch+parse", "split")]
    cells += [timings.get(f"ner_{k}", 0.0) for k in ("tokenise", "model", "decode")]
    cells += [ner] + [timings.get(k, 0.0) for k in ("relate", "pair", "load")]
    return (f"  {label:6s} {wall:8.1f} {abstracts / wall:8.2f} {sentences / wall:8.1f} "
            + " ".join(f"{c:8.2f}" for c in cells)
            + f" {100 * non_model / wall:9.1f}%")


def report(results: list[dict]) -> None:
    print(f"\n  {'run':6s} {'wall s':>8s} {'abstr/s':>8s} {'sent/s':>8s} {'parse':>8s} {'split':>8s} "
          f"{'tokenise':>8s} {'model':>8s} {'decode':>8s} {'ner':>8s} {'relate':>8s} {'pair':>8s} "
          f"{'load':>8s} "
          f"{'non-model':>10s}")
    for r in results:
        n = r["abstracts_in_file"]
        size = (r["articles_with_abstract"], r["counts"].get("sentences", 0))
        print(f"N = {n} citations ({r['articles_with_abstract']} with an abstract, "
              f"{r['counts'].get('sentences', '?')} sentences, {r['counts'].get('entities', '?')}"
              f" entities); torch threads {r['threads']}, engine workers {r['workers']}")
        print(stage_row("flow", r["flow"]["wall"], r["flow"]["timings"], *size))
        if "plain" in r:
            print(stage_row("plain", r["plain"]["wall"], r["plain"]["timings"], *size))
            print(f"  Prefect flow minus plain calls: {r['flow']['wall'] - r['plain']['wall']:+.1f} s"
                  f" ({100 * (r['flow']['wall'] / r['plain']['wall'] - 1):+.1f}%)")
        print(f"  RSS: {r['rss_after_model_load'] / 2**20:.0f} MiB after loading the model, peak "
              f"{r['peak_rss_flow'] / 2**20:.0f} MiB during the flow, "
              f"{r['peak_rss'] / 2**20:.0f} MiB overall")
    if len(results) > 1:
        a, b = results[0], results[-1]
        per = [r["flow"]["wall"] / r["abstracts_in_file"] for r in (a, b)]
        extra = b["abstracts_in_file"] - a["abstracts_in_file"]
        print(f"\nseconds per citation: {per[0]:.4f} (N) vs {per[1]:.4f} ("
              f"{b['abstracts_in_file'] // a['abstracts_in_file']}xN): ratio {per[1] / per[0]:.2f}"
              f" (1.0 = linear; below 1: fixed start-up costs); marginal "
              f"{(b['flow']['wall'] - a['flow']['wall']) / extra:.4f} s per extra citation; "
              f"peak RSS {a['peak_rss_flow'] / 2**20:.0f} vs {b['peak_rss_flow'] / 2**20:.0f} MiB")


def run_baseline(args) -> int:
    """`--baseline`: litmine's defaults against the hand-written loop (benchmarks/baseline.py)."""
    from baseline import compare, print_comparison, pubtator_to_pubmed_xml

    if args.pubtator:
        path = pubtator_to_pubmed_xml(args.pubtator, args.workdir / f"{args.pubtator.stem}.xml")
    else:
        path = build_input(args.n, args.workdir / f"pubmed-{args.n}.xml.gz")
    print(f"input: {path}; load average {os.getloadavg()[0]:.2f}", flush=True)
    result = compare(path, args.workdir, repeat=args.repeat, model=args.model,
                     extra=[] if args.dtype == "auto" else ["--dtype", args.dtype])
    print_comparison(result)
    print(f"load average {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="citations in the small run")
    parser.add_argument("--scale", type=int, default=10, help="the large run is N x scale")
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto", choices=["auto", "fp32", "fp16", "bf16"],
                        help="the NER dtype (default auto, as `litmine mine`)")
    parser.add_argument("--batch-size", type=int, default=50,
                        help="the flow's batch_size (small, so that N already has several batches "
                             "and memory at N and 10xN compare like for like)")
    parser.add_argument("--no-plain", dest="plain", action="store_false",
                        help="skip the plain-calls comparison")
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--baseline", action="store_true",
                        help="instead: `litmine mine` with its defaults against the hand-written "
                             "loop (benchmarks/seed_loop.py) on the same --n abstracts, each a "
                             "fresh process, --repeat times (benchmarks/baseline.py)")
    parser.add_argument("--pubtator", type=Path,
                        help="with --baseline: the abstracts of this PubTator file (e.g. BC5CDR's "
                             "development set) instead of --n copies of the sample")
    parser.add_argument("--repeat", type=int, default=3, help="with --baseline: runs of each")
    parser.add_argument("--isa", choices=["avx2"],
                        help="run as on a CPU with only these instruction sets (an emulation: "
                             "benchmarks/isa_limit.py)")
    parser.add_argument("--run-one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).parent))
    from isa_limit import limit_isa

    limit_isa(args.isa)
    if args.run_one:
        print("RESULT " + json.dumps(run_one(args)), flush=True)
        return 0

    from machine import choose_benchmark_dtype, machine_figures, print_machine
    from ner_throughput import resolve_model

    choice = choose_benchmark_dtype(args.dtype, args.device)
    print_machine(choice)
    if args.baseline:
        return run_baseline(args)
    args.dtype = choice.name  # each size's process runs this dtype, not its own "auto"
    model, standin = resolve_model(args.model)
    print(f"model: {model}{' (untrained stand-in)' if standin else ''}; device {args.device}; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    harness = nullcontext()
    if not os.environ.get("PREFECT_API_URL"):
        from prefect.testing.utilities import prefect_test_harness

        # As litmine's own temporary server: no telemetry row ("database is locked" beside a
        # server of another process on the same Prefect database).
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

        harness = prefect_test_harness(server_startup_timeout=180)
    results = []
    with harness:
        from prefect.settings import PREFECT_API_URL

        env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value() or ""}
        # As the `litmine` command runs (litmine/memory.py): 2 malloc arenas, set before start.
        env.setdefault("MALLOC_ARENA_MAX", os.environ.get("LITMINE_MALLOC_ARENAS", "2"))
        for size in (args.n, args.n * args.scale):
            path = build_input(size, args.workdir / f"pubmed-{size}.xml.gz")
            db = args.workdir / f"e2e-{size}.duckdb"
            for stale in (db, db.with_name(db.stem + "-plain.duckdb")):
                for file in (stale, Path(f"{stale}.wal")):
                    file.unlink(missing_ok=True)
            command = [sys.executable, __file__, "--run-one", "--input", str(path), "--db",
                       str(db), "--size", str(size), "--model", model, "--device", args.device,
                       "--dtype", args.dtype, "--batch-size", str(args.batch_size)] + ([] if args.plain else ["--no-plain"])
            print(f"running N = {size} ...", flush=True)
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
            if done.returncode or not lines:
                sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
                return done.returncode or 1
            results.append(json.loads(lines[-1][len("RESULT "):]))
    report(results)
    print(f"load average {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"model": model, "standin": standin, "device": args.device,
                                         "machine": machine_figures(choice), "results": results},
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
