"""`litmine mine --query` end to end: a real E-utilities server on 127.0.0.1, a real Prefect API,
a real model on disk and a real DuckDB file; then `litmine export` round-trips the documents."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from litmine.tasks.sources.pubmed_xml import iter_pubmed_xml
from litmine.tasks.sources.pubtator import iter_pubtator
from litmine.tasks.records import Article
from tests.support.eutils_server import EutilsServer

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "pubmedsample18n0001.xml.gz"
TABLES = ("articles", "sentences", "entities", "pairs")


@pytest.fixture(scope="module")
def eutils():
    with EutilsServer([SAMPLE], rate=3) as server:
        yield server


@pytest.fixture(scope="module")
def cli_env(prefect_harness, eutils, tiny_ner_model):
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ)
    env.update({
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "LITMINE_EUTILS_URL": eutils.url,
        "LITMINE_FETCH_BATCH_SIZE": "50",
        "LITMINE_BACKOFF_BASE": "0.05",
        "LITMINE_MODEL": str(tiny_ner_model),
        "NCBI_EMAIL": "tests@litmine.invalid",
        "HF_HUB_OFFLINE": "1",
    })
    env.pop("NCBI_API_KEY", None)
    return env


def litmine(env, *args, check=True):
    result = subprocess.run([sys.executable, "-m", "litmine.cli", *args], env=env, text=True,
                            capture_output=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"litmine {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def test_mine_query_twice_then_export(tmp_path, eutils, cli_env):
    db = tmp_path / "x.duckdb"
    eutils.clear_log()
    eutils.fail_next("429", endpoint="efetch")  # NCBI throttles once; the run must recover
    result = litmine(cli_env, "mine", "--query", "all[sb]", "--db", str(db), "--no-progress")
    # The models load once (in the background while Prefect starts), whoever asks first: the
    # run's tiny NER model, and the shipped NER model whose states the shipped relation heads
    # read (they run its pass themselves for a run of another NER model).
    output = result.stdout + result.stderr
    loaded = re.findall(r"NER: loaded (\S+)", output)
    assert sorted(loaded) == sorted(set(loaded)) and len(loaded) <= 2, output
    assert output.count("relations: loaded stacked CID model") == 1
    assert output.count("relations: loaded typed model") == 1

    expected = {a.pmid: a for a in iter_pubmed_xml(SAMPLE) if isinstance(a, Article)}
    log = eutils.requests()
    searches, fetches = eutils.requests("esearch"), eutils.requests("efetch")
    assert searches and all(r.params.get("usehistory") == "y" for r in searches)
    assert {r.params.get("email") for r in log} == {"tests@litmine.invalid"}
    assert {r.params.get("tool") for r in log} == {"litmine"}
    # 177 records in batches of 50: 4 pages, plus the one answered 429 and retried.
    assert sorted(int(r.params["retstart"]) for r in fetches if r.status == 200) == [0, 50, 100, 150]
    assert [r.status for r in fetches].count(429) == 1

    first = counts(db)
    assert first["articles"] == len(expected) == 177
    con = duckdb.connect(str(db), read_only=True)
    stored = dict(con.execute("SELECT pmid, title || ' ' || abstract FROM articles").fetchall())
    assert stored == {p: a.text for p, a in expected.items()}
    # Every entity's offsets index the document text; every sentence is its slice.
    for pmid, start, end, text in con.execute(
            "SELECT pmid, start_offset, end_offset, text FROM entities").fetchall():
        assert stored[pmid][start:end] == text
    for pmid, start, end, text in con.execute(
            "SELECT pmid, start_offset, end_offset, text FROM sentences").fetchall():
        assert stored[pmid][start:end] == text
    dupes = con.execute("SELECT count(*) FROM (SELECT pmid, model, start_offset, end_offset, type "
                        "FROM entities GROUP BY ALL HAVING count(*) > 1)").fetchone()[0]
    assert dupes == 0
    run = con.execute("SELECT status, model FROM runs").fetchall()
    assert run == [("completed", cli_env["LITMINE_MODEL"])]
    con.close()

    # Again: identical row counts, one more run row.
    litmine(cli_env, "mine", "--query", "all[sb]", "--db", str(db), "--no-progress")
    assert counts(db) == first
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT run_id) FROM runs").fetchone() == (2, 2)
    con.close()

    # Export round-trips documents and offsets.
    out = tmp_path / "export.pubtator"
    litmine(cli_env, "export", "--db", str(db), "--format", "pubtator", "--out", str(out))
    docs = {d.pmid: d for d in iter_pubtator(out)}
    assert set(docs) == set(expected)
    n_mentions = 0
    for pmid, doc in docs.items():
        assert doc.text == expected[pmid].text
        for mention in doc.mentions:
            assert doc.text[mention.start:mention.end] == mention.text
            n_mentions += 1
    assert n_mentions == first["entities"]


def test_max_results_limits_a_run(tmp_path, cli_env):
    db = tmp_path / "x.duckdb"
    litmine(cli_env, "mine", "--query", "all[sb]", "--db", str(db), "--max-results", "60", "--no-progress")
    assert counts(db)["articles"] == 60


def test_bad_input_gives_one_line_errors(tmp_path, cli_env):
    missing = litmine(cli_env, "mine", "--files", str(tmp_path / "nope.xml"), "--db",
                      str(tmp_path / "x.duckdb"), check=False)
    assert missing.returncode == 1
    assert "nope.xml" in missing.stderr and "Traceback" not in missing.stderr
    both = litmine(cli_env, "mine", "--db", str(tmp_path / "x.duckdb"), check=False)
    assert both.returncode == 1 and "exactly one of --query or --files" in both.stderr
    down = dict(cli_env, LITMINE_EUTILS_URL="http://127.0.0.1:9/entrez/eutils/", LITMINE_MAX_RETRIES="1")
    unreachable = litmine(down, "mine", "--query", "aspirin", "--db", str(tmp_path / "y.duckdb"), check=False)
    assert unreachable.returncode == 1
    assert "esearch" in unreachable.stderr and "Traceback" not in unreachable.stderr


def test_no_progress_means_no_model_loading_bars(tmp_path, cli_env):
    """--no-progress (and output to a pipe, as here) draws no transformers bars either."""
    db = tmp_path / "x.duckdb"
    result = litmine(cli_env, "mine", "--files", str(SAMPLE), "--db", str(db), "--max-results", "10",
                     "--no-progress", "--no-relations", "--device", "cpu")
    assert counts(db)["articles"] == 10  # the model was loaded and ran
    assert "Loading weights" not in result.stderr and "it/s]" not in result.stderr


def test_the_default_database_is_in_the_current_directory(tmp_path, cli_env):
    """No --db and no $LITMINE_DB: litmine.duckdb where the user stands, not inside the package."""
    env = {k: v for k, v in cli_env.items() if k != "LITMINE_DB"}
    result = subprocess.run([sys.executable, "-m", "litmine.cli", "mine", "--files", str(SAMPLE),
                             "--max-results", "5", "--no-progress", "--no-relations", "--device", "cpu"],
                            env=env, cwd=tmp_path, text=True, capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert counts(tmp_path / "litmine.duckdb")["articles"] == 5
    info = subprocess.run([sys.executable, "-m", "litmine.cli", "info"], env=env, cwd=tmp_path,
                          text=True, capture_output=True, timeout=120)
    assert info.returncode == 0 and "litmine.duckdb" in info.stdout, info.stderr
