"""`litmine mine` as a user runs it (`make run`): wall time, the relation step, and the start-up.

Usage:
    python benchmarks/mine_runs.py [--repeat 3] [--articles N | --input FILE] [--litmine PATH ...]

Each repeat runs `litmine mine --files FILE --db NEW --no-progress` once per `--litmine` command
(default: this checkout's), alternating, each in a fresh process with its own temporary Prefect
server, exactly as `make run` does. FILE is the bundled sample (177 citations) or, with
`--articles N`, its first N citations with an abstract (a tiny input shows the fixed cost), or
`--input FILE` (e.g. BC5CDR dev's 500 abstracts as PubMed XML).
Printed per command: the min and median over the repeats of the wall time, of the run's own
`relate` timing (runs table: the seconds the flow waited on the relation step) and of the
moments, from process start, at which the log says the temporary server starts (once Prefect
started it after the imports; litmine now starts it after the argument checks: see
litmine/temporary_server.py), the flow run begins (server up), the first batch is split and NER has tagged it, and the flow
finishes. Give two `--litmine` commands (two checkouts) to compare code before and after a
change under the same conditions; on a shared machine the figures swing by 2-3x from run to run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
from machine import choose_benchmark_dtype, print_machine

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "pubmedsample18n0001.xml.gz"
#: Log lines whose first occurrence marks a start-up moment.
MOMENTS = {"server": ("Starting temporary server",), "flow": ("Beginning flow run",),
           "batch": ("batch: ",), "ner": ("Tagged ",),
           "related": ("link-and-relate", "Finished in state"),
           "done": ("Flow run", "Finished in state")}
STAMP = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) \|")


def tiny_input(n: int, path: Path) -> Path:
    """The sample's first `n` citations with an abstract, as PubMed XML."""
    text = gzip.open(SAMPLE, "rt", encoding="utf-8").read()
    head = text[:text.index("<PubmedArticle>")]
    citations = [c for c in re.findall(r"<PubmedArticle>.*?</PubmedArticle>", text, re.DOTALL)
                 if "<AbstractText" in c][:n]
    path.write_text(head + "\n".join(citations) + "\n</PubmedArticleSet>\n", encoding="utf-8")
    return path


def run_once(litmine: str, source: Path, workdir: Path) -> dict:
    """One `litmine mine` process: wall seconds, the run's timings, the log's moments."""
    db = workdir / f"run-{time.time_ns()}.duckdb"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("PREFECT_API_URL", None)  # a temporary server per run, as `make run` has
    started_wall, started = datetime.now(), time.perf_counter()
    done = subprocess.run([litmine, "mine", "--files", str(source), "--db", str(db),
                           "--no-progress"], env=env, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{litmine} failed:\n{done.stderr[-3000:]}")
    moments = {}
    for line in done.stdout.splitlines() + done.stderr.splitlines():
        match = STAMP.match(line)
        if not match:
            continue
        stamp = datetime.combine(started_wall.date(),
                                 datetime.strptime(match.group(1), "%H:%M:%S.%f").time())
        for name, markers in MOMENTS.items():
            if name not in moments and all(m in line for m in markers):
                moments[name] = (stamp - started_wall).total_seconds()
    with duckdb.connect(str(db), read_only=True) as con:
        timings = json.loads(con.execute("SELECT timings FROM runs").fetchone()[0])
    db.unlink()
    return {"wall": wall, "relate": timings.get("relate", 0.0), **moments}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--articles", type=int, default=None,
                        help="the sample's first N citations with an abstract (default: all)")
    parser.add_argument("--input", type=Path, default=None,
                        help="a file to mine instead of the sample (PubMed XML, BioC or PubTator)")
    parser.add_argument("--litmine", action="append", default=None,
                        help="a litmine command to time (repeatable; default: this checkout's)")
    args = parser.parse_args(argv)
    commands = args.litmine or [str(Path(sys.executable).parent / "litmine")]
    print_machine(choose_benchmark_dtype("auto", "cpu"))
    with tempfile.TemporaryDirectory(prefix="litmine-mine-runs-") as tmp:
        workdir = Path(tmp)
        source = (args.input if args.input else
                  tiny_input(args.articles, workdir / "tiny.xml") if args.articles else SAMPLE)
        results: dict[str, list[dict]] = {c: [] for c in commands}
        for k in range(args.repeat):
            for command in commands:
                result = run_once(command, source, workdir)
                results[command].append(result)
                print(f"run {k + 1} {command}: " + ", ".join(f"{n} {v:.1f}"
                                                              for n, v in result.items())
                      + f" (load average {os.getloadavg()[0]:.1f})", flush=True)
    print(f"\n{source.name if not args.articles else f'{args.articles} citations'}, "
          f"{args.repeat} runs each, seconds, min / median:")
    for command, runs in results.items():
        keys = [k for k in runs[0] if all(k in r for r in runs)]
        print(command + ": " + ", ".join(
            f"{k} {min(r[k] for r in runs):.1f} / {statistics.median(r[k] for r in runs):.1f}"
            for k in keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
