"""`litmine mine` with its defaults against the hand-written loop (benchmarks/seed_loop.py), on
the same abstracts, each a fresh process timed from start to exit (imports, model loading and
Prefect's temporary server included, as a user meets them): `benchmarks/e2e.py --baseline`.

The two are run alternately `repeat` times; we print each wall time, the medians, the speed-up
(the loop's median / litmine's: above 1, litmine is faster), peak RSS, and what each stored.
litmine does more (sentences, six-type NER with abbreviation fixes, linking, CID and BioRED
relations, pairs); the loop tags whole abstracts with `transformers.pipeline` in fp32.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from lxml import etree

HERE = Path(__file__).parent


def pubtator_to_pubmed_xml(pubtator: Path, out: Path) -> Path:
    """A PubMed XML file (PMID, title, abstract) of a PubTator corpus's documents, so that both
    sides read the same input."""
    from litmine.tasks.sources.pubtator import read_pubtator

    docs, _ = read_pubtator(pubtator)
    root = etree.Element("PubmedArticleSet")
    for doc in docs:
        citation = etree.SubElement(etree.SubElement(root, "PubmedArticle"), "MedlineCitation")
        etree.SubElement(citation, "PMID").text = doc.pmid
        article = etree.SubElement(citation, "Article")
        etree.SubElement(article, "ArticleTitle").text = doc.title
        etree.SubElement(etree.SubElement(article, "Abstract"), "AbstractText").text = doc.abstract
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    return out


def timed_process(command: list[str], env: dict) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (bytes) and output of one child process; raises if it fails."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed:\n{output[-3000:]}")
    return wall, usage.ru_maxrss * 1024, output


def _fresh(db: Path) -> Path:
    for path in (db, Path(f"{db}.wal")):
        path.unlink(missing_ok=True)
    return db


def _count(db: Path, sql: str) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def litmine_command() -> list[str]:
    """The `litmine` console script beside this interpreter, as a user runs it (it caps malloc's
    arenas and skips the interpreter's teardown: `litmine/_entry.py`); `python -m litmine.cli`
    where the script is not installed."""
    script = Path(sys.executable).with_name("litmine")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "litmine.cli"]


def compare(input_xml: Path, workdir: Path, *, repeat: int = 3, model: str | None = None,
            extra: list[str] | None = None) -> dict:
    """Run both `repeat` times, alternating; medians, speed-up and counts."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("PREFECT_API_URL", None)  # litmine starts its own temporary server, as a user's would
    litmine_db, loop_db = workdir / "baseline-litmine.duckdb", workdir / "baseline-loop.duckdb"
    mine = [*litmine_command(), "mine", "--files", str(input_xml), "--db",
            str(litmine_db), "--no-progress", *(["--model", model] if model else []), *(extra or [])]
    loop = [sys.executable, str(HERE / "seed_loop.py"), str(input_xml), str(loop_db),
            *(["--model", model] if model else [])]
    walls: dict[str, list[float]] = {"litmine": [], "loop": []}
    peaks: dict[str, int] = {"litmine": 0, "loop": 0}
    for k in range(repeat):
        for name, command, db in (("litmine", mine, litmine_db), ("loop", loop, loop_db)):
            _fresh(db)
            wall, peak, _ = timed_process(command, env)
            walls[name].append(wall)
            peaks[name] = max(peaks[name], peak)
            print(f"  run {k + 1}/{repeat} {name:8s} {wall:7.1f} s  peak RSS {peak / 2**20:.0f} MiB",
                  flush=True)
    medians = {name: statistics.median(w) for name, w in walls.items()}
    return {"walls": walls, "medians": medians, "speedup": medians["loop"] / medians["litmine"],
            "peak_rss": peaks,
            "litmine": {t: _count(litmine_db, f"SELECT count(*) FROM {t}")
                        for t in ("articles", "entities", "pairs", "relations")},
            "loop": {t: _count(loop_db, f"SELECT count(*) FROM {t}") for t in ("articles", "entities")}}


def print_comparison(result: dict) -> None:
    m = result["medians"]
    print(f"\nlitmine mine (defaults): median {m['litmine']:.1f} s; hand-written loop: median "
          f"{m['loop']:.1f} s; speed-up {result['speedup']:.2f}x (loop / litmine)")
    print(f"peak RSS: litmine {result['peak_rss']['litmine'] / 2**20:.0f} MiB, loop "
          f"{result['peak_rss']['loop'] / 2**20:.0f} MiB")
    print(f"stored: litmine {result['litmine']}; loop {result['loop']}")
