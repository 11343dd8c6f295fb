"""Issue 19's "done when": `litmine sql` answers all through a `litmine mine` run on the same
database, with counts that only grow, from the batches committed so far (real processes, a real
DuckDB file, a real Prefect API, the tiny model)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from litmine.tasks.store.access import open_store

ROOT = Path(__file__).resolve().parents[2]
#: The first 60 records of the bundled sample (tests/fixtures/eutils/SOURCES.md).
SAMPLE = ROOT / "tests" / "fixtures" / "eutils" / "pubmedsample18n0001_first60.xml.gz"
ARTICLES = 60
#: Three articles a batch: 20 batches, each its own transaction and its own release of the file
#: (about 0.4 s each on 2 shared cores), so that readers (about 1 s a poll, mostly Python's
#: start-up) land in the middle of the run.
BATCH = 3


def count_articles(env: dict, db: Path) -> tuple[int, str]:
    """`litmine sql --db DB "SELECT count(*) FROM articles"`: exit status and its answer."""
    done = subprocess.run([sys.executable, "-m", "litmine.cli", "sql", "--db", str(db),
                           "SELECT count(*) AS n FROM articles", "--format", "csv"],
                          env=env, text=True, capture_output=True, timeout=120)
    return done.returncode, (done.stdout + done.stderr).strip()


def test_litmine_sql_answers_all_through_a_mine_run(tmp_path, prefect_harness, tiny_ner_model):
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITMINE_", "NCBI_"))}
    env.update({"PREFECT_API_URL": PREFECT_API_URL.value(), "LITMINE_MODEL": str(tiny_ner_model),
                "HF_HUB_OFFLINE": "1"})
    db = tmp_path / "live.duckdb"
    open_store(db).close()  # an empty litmine database: a poll has something to read from the start
    log = (tmp_path / "mine.log").open("w")
    mine = subprocess.Popen([sys.executable, "-m", "litmine.cli", "mine", "--files", str(SAMPLE),
                             "--db", str(db), "--batch-size", str(BATCH), "--no-relations",
                             "--device", "cpu", "--no-progress"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    polls: list[tuple[int, str]] = []
    try:
        while mine.poll() is None:
            polls.append(count_articles(env, db))
        polls.append(count_articles(env, db))  # and once the run has ended
    finally:
        if mine.poll() is None:
            mine.kill()
        mine.wait(timeout=60)
        log.close()
    assert mine.returncode == 0, (tmp_path / "mine.log").read_text()[-3000:]

    failed = [answer for status, answer in polls if status != 0]
    assert not failed, f"{len(failed)} of {len(polls)} polls failed: {failed[:3]}"
    counts = [int(answer.splitlines()[-1]) for _, answer in polls]
    assert counts == sorted(counts), f"a count went down: {counts}"
    with duckdb.connect(str(db), read_only=True) as con:
        mined = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert counts[-1] == mined == ARTICLES
    assert any(0 < c < ARTICLES for c in counts), f"no poll landed mid-run: {counts}"
