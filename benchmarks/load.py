"""Load: the mine flow over >= 100,000 valid PubMed records -- exact row counts, flat memory.

Usage:
    python benchmarks/load.py [--records 100000] [--batch-size 256] [--workdir DIR] [--keep]

Input: the bundled sample's 177 records (data/sample/pubmedsample18n0001.xml.gz) copied over and
over with new PMIDs (900000001, 900000002, ...) into .xml.gz files of 30,000 records, the size of
NCBI's baseline files. Model: a tiny random BERT token classifier (tests/conftest.py's
build_tiny_bert) whose "O" logit is raised by 0.15 so that it finds about 18 mentions per
abstract, the density of the BC5CDR gold sample (934 mentions in 50 documents,
CDR_sample.gold.PubTator in ../shared/data/SOURCES.md). The model's cost is not what is measured
here; the pipeline around it (parsing, splitting, pairing, Prefect, DuckDB) is.

Expected rows: the same model and splitter over the 177 originals (a reference run), times the
number of copies of each. The run must match them exactly, hold every PMID once, reject nothing,
and its memory must stay flat: RSS at 80-100% of the records may exceed RSS at 10-20% (after
warm-up; medians) by at most FLAT_MB, not counting DuckDB's buffer pool, which holds blocks of the
growing database up to DuckDB's memory_limit by design (read from duckdb_memory() through a short
second connection to the flow's database instance at every tenth of the run). Prints peak RSS,
RSS and DuckDB's share at every tenth, records/s and row counts.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # ~2,000 task runs: keep the console readable
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network here: no telemetry

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb

SAMPLE = ROOT / "data" / "sample" / "pubmedsample18n0001.xml.gz"
PMID_BASE = 900_000_000
PER_FILE = 30_000
#: The "O" logit raise that gives ~18 mentions per sample abstract (measured: 0.10 -> 31,
#: 0.15 -> 17.8, 0.20 -> 8.1 mentions per document).
O_BIAS = 0.15
#: Allowed growth of RSS less DuckDB's buffers from early (10-20% of the records) to late (80-100%).
#: A leak of 1 KiB per record would add ~73 MiB over the 75,000 records between the two; 100 MiB
#: leaves room for DuckDB's and Python's allocators to settle, and still catches a 2 KiB leak.
FLAT_MB = 100
_RECORD = re.compile(rb"<PubmedArticle>.*?</PubmedArticle>", re.DOTALL)
_PMID = re.compile(rb"<PMID Version=\"(\d+)\">\d+</PMID>")


def rss_mb() -> float:
    """This process's resident set size now, in MiB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """The highest resident set size this process has had, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_model(path: Path) -> Path:
    """A tiny random BERT NER model with a realistic mention density (see O_BIAS)."""
    import torch
    from transformers import BertForTokenClassification

    from tests.conftest import build_tiny_bert

    build_tiny_bert(path)
    model = BertForTokenClassification.from_pretrained(path)
    with torch.no_grad():
        model.classifier.bias[model.config.label2id["O"]] += O_BIAS
    model.save_pretrained(path)
    return path


def build_input(workdir: Path, n: int) -> tuple[list[Path], list[int]]:
    """Write n records in .xml.gz files; return the files and each original's number of copies."""
    text = gzip.decompress(SAMPLE.read_bytes())
    head = text[: text.index(b"<PubmedArticle>")]
    records = _RECORD.findall(text)
    copies = [0] * len(records)
    files: list[Path] = []
    handle = None
    for i in range(n):
        if i % PER_FILE == 0:
            if handle:
                handle.write(b"\n</PubmedArticleSet>\n")
                handle.close()
            files.append(workdir / f"load{len(files) + 1:02d}.xml.gz")
            handle = gzip.open(files[-1], "wb", compresslevel=1)
            handle.write(head)
        j = i % len(records)
        copies[j] += 1
        new = PMID_BASE + i + 1
        handle.write(_PMID.sub(lambda m: b'<PMID Version="%s">%d</PMID>' % (m.group(1), new), records[j], count=1))
        handle.write(b"\n")
    handle.write(b"\n</PubmedArticleSet>\n")
    handle.close()
    return files, copies


def per_record_rows(db: Path) -> dict[str, dict[str, int]]:
    """Rows per PMID in each table of the reference run."""
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        for table in ("sentences", "entities", "pairs"):
            out[table] = dict(con.execute(f"SELECT pmid, count(*) FROM {table} GROUP BY pmid").fetchall())
    return out


def table_counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("articles", "sentences", "entities", "pairs", "rejects")}
        counts["distinct pmids"] = con.execute("SELECT count(DISTINCT pmid) FROM articles").fetchone()[0]
    return counts


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workdir", type=Path, help="where input, model and database go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)

    from prefect.context import FlowRunContext
    from prefect.testing.utilities import prefect_test_harness

    from litmine.flows.mine import mine
    from litmine.progress import set_progress_hook
    from litmine.tasks.records import Article
    from litmine.tasks.sources.pubmed_xml import iter_pubmed_xml

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="litmine-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    model = build_model(workdir / "tiny-ner")
    files, copies = build_input(workdir, args.records)
    originals = [a.pmid for a in iter_pubmed_xml(SAMPLE) if isinstance(a, Article)]
    assert len(originals) == len(copies) == 177
    size = sum(f.stat().st_size for f in files)
    print(f"input: {args.records:,} records in {len(files)} files, {size / 2**20:.0f} MiB gzip "
          f"({time.perf_counter() - started:.0f} s to build)", flush=True)

    samples: list[tuple[int, float]] = []  # (articles done, RSS in MiB) after every batch
    probes: dict[int, tuple[float, float, int]] = {}  # tenth of the run -> (RSS, DuckDB's, run_results)
    done = Counter()

    def hook(*, total=..., advance: int = 0) -> None:
        done["articles"] += advance
        rss = rss_mb()
        samples.append((done["articles"], rss))
        tenth = done["articles"] * 10 // args.records
        if advance and tenth >= 1 and tenth not in probes:
            with duckdb.connect(str(db)) as con:  # a short second connection to the flow's instance
                held = con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0]
            # Prefect's per-flow-run result tracking (EngineContext.run_results), for the record
            tracked = len(getattr(FlowRunContext.get(), "run_results", ()))
            probes[tenth] = (rss, held / 2**20, tracked)

    with prefect_test_harness(server_startup_timeout=120):
        reference = workdir / "reference.duckdb"
        mine(files=[str(SAMPLE)], db=str(reference), model=str(model), batch_size=args.batch_size, device="cpu")
        per_record = per_record_rows(reference)
        expected = {"articles": args.records, "distinct pmids": args.records, "rejects": 0}
        for table, rows in per_record.items():
            expected[table] = sum(rows.get(pmid, 0) * n for pmid, n in zip(originals, copies))

        db = workdir / "load.duckdb"
        rss_before = rss_mb()
        set_progress_hook(hook)
        started = time.perf_counter()
        result = mine(files=[str(f) for f in files], db=str(db), model=str(model),
                      batch_size=args.batch_size, device="cpu")
        seconds = time.perf_counter() - started
        set_progress_hook(None)

    got = table_counts(db)
    early = [d for d in (1, 2) if d in probes] or [min(probes)]  # tenths of the run
    late = [d for d in (8, 9, 10) if d in probes] or [max(probes)]
    growth = (median([probes[d][0] - probes[d][1] for d in late])
              - median([probes[d][0] - probes[d][1] for d in early]))
    raw_early = [r for n, r in samples if args.records // 10 < n <= args.records // 4] or [samples[0][1]]
    raw_late = [r for n, r in samples if n > args.records * 3 // 4] or [samples[-1][1]]
    report = {
        "records": args.records, "batch_size": args.batch_size, "seconds": round(seconds, 1),
        "records_per_s": round(args.records / seconds, 1), "peak_rss_mib": round(peak_rss_mb()),
        "rss_before_run_mib": round(rss_before),
        "rss_mib_at": {f"{d * 10}%": round(rss) for d, (rss, _, _) in sorted(probes.items())},
        "duckdb_buffers_mib_at": {f"{d * 10}%": round(held) for d, (_, held, _) in sorted(probes.items())},
        "prefect_run_results_at": {f"{d * 10}%": n for d, (_, _, n) in sorted(probes.items())},
        "rss_max_during_run_mib": round(max(rss for _, rss in samples)),
        "rss_median_growth_early_to_late_mib": round(median(raw_late) - median(raw_early), 1),
        "rss_without_duckdb_growth_early_to_late_mib": round(growth, 1),
        "rows": got, "expected_rows": expected, "db_mib": round(db.stat().st_size / 2**20),
        "flow_counts": {k: v for k, v in result.items() if k not in ("run_id", "db", "model")},
    }
    print(json.dumps(report, indent=2), flush=True)
    ok = got == expected and growth <= FLAT_MB
    print("PASS: exact row counts, flat memory" if ok else
          f"FAIL: rows {'ok' if got == expected else 'differ'}, RSS growth {growth:.0f} MiB (limit {FLAT_MB})")
    if not args.keep and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
