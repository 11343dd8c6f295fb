"""`litmine refresh` of a saved query, twice, against a real E-utilities server whose corpus grows
in between: the second run asks only for the new entry-date window (checked in the server's
request log), stores exactly the new and revised records, and moves the watermark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from litmine.cli import app
from tests.support.eutils_server import EutilsServer, Record, load_records

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eutils"
OLD_TITLE = "Randomized clinical evaluation of the effect of chlorhexidine on postoperative sensitivity"
NEW_TITLE = "Revised: chlorhexidine and postoperative sensitivity"


def litmine(env, *args):
    result = subprocess.run([sys.executable, "-m", "litmine.cli", *args], env=env, text=True,
                            capture_output=True, timeout=300)
    assert result.returncode == 0, f"litmine {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def env(prefect_harness, tiny_ner_model):
    from prefect.settings import PREFECT_API_URL

    values = {k: v for k, v in os.environ.items() if not k.startswith(("LITMINE_", "NCBI_"))}
    values.update({"PREFECT_API_URL": PREFECT_API_URL.value(), "LITMINE_FETCH_BATCH_SIZE": "25",
                   "LITMINE_BACKOFF_BASE": "0.05", "LITMINE_MODEL": str(tiny_ner_model),
                   "NCBI_EMAIL": "tests@litmine.invalid", "HF_HUB_OFFLINE": "1"})
    return values


def test_second_refresh_fetches_only_the_new_window(tmp_path, env):
    today = datetime.now(timezone.utc).date()
    old = load_records(FIXTURES / "pubmedsample18n0001_first60.xml.gz")  # Entrez dates 1968-2001
    chlorhexidine, vitamins = load_records(FIXTURES / "efetch_utf8_23878845_16080930.xml")
    (book,) = load_records(FIXTURES / "efetch_book_26468569.xml")
    db = tmp_path / "w.duckdb"
    runner = CliRunner()
    added = runner.invoke(app, ["watch", "add", "all", "--query", "all[sb]", "--db", str(db)])
    assert added.exit_code == 0, added.output
    assert "watch 'all' saved" in added.output

    with EutilsServer(old, rate=3) as server:
        server.add_records([chlorhexidine], entry_date=today)
        env["LITMINE_EUTILS_URL"] = server.url
        litmine(env, "refresh", "--db", str(db), "--no-progress")
        first = server.requests()
        # A first refresh is a backfill: no date window; 61 records in pages of 25.
        assert [r.endpoint for r in first] == ["esearch", "efetch", "efetch", "efetch"]
        assert "mindate" not in first[0].params and first[0].params["term"] == "all[sb]"
        pages = sorted((int(r.params["retstart"]), int(r.params["retmax"])) for r in first[1:])
        assert pages == [(0, 25), (25, 25), (50, 11)]  # fetched at once, so in any order
        assert all(r.status == 200 for r in first)

        # PubMed grows: two new records, and the chlorhexidine record is revised (same PMID).
        revised = Record(chlorhexidine.pmid, chlorhexidine.xml.replace(OLD_TITLE, NEW_TITLE), today,
                         chlorhexidine.words)
        server.add_records([vitamins, book, revised], entry_date=today)
        server.clear_log()
        second_run = litmine(env, "refresh", "all", "--db", str(db), "--no-progress")
        second = server.requests()

    # Only the entry-date window since the watermark (the run's UTC date minus one day) is asked for.
    watermark = today - timedelta(days=1)
    assert [r.endpoint for r in second] == ["esearch", "efetch"]
    search, fetch = second[0].params, second[1].params
    assert (search["datetype"], search["mindate"], search["maxdate"]) == (
        "edat", f"{watermark:%Y/%m/%d}", f"{today + timedelta(days=1):%Y/%m/%d}")
    assert (fetch["retstart"], fetch["retmax"], fetch["query_key"]) == ("0", "3", "1")
    assert "watch all" in second_run.stdout

    con = duckdb.connect(str(db), read_only=True)
    runs = con.execute("SELECT run_id, status, counts FROM runs WHERE flow = 'refresh' ORDER BY started_at").fetchall()
    assert [r[1] for r in runs] == ["completed", "completed"]
    counts = [json.loads(r[2]) for r in runs]
    assert (counts[0]["articles"], counts[0]["expected"], counts[1]["articles"], counts[1]["expected"]) == (61, 61, 3, 3)
    assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 63
    fetched_second = {r[0] for r in con.execute("SELECT pmid FROM articles WHERE run_id = ?", [runs[1][0]]).fetchall()}
    assert fetched_second == {chlorhexidine.pmid, vitamins.pmid, book.pmid}
    # The revision replaced the record's rows: new title, and only sentences of the new text.
    title, text = con.execute("SELECT title, title || ' ' || abstract FROM articles WHERE pmid = ?",
                              [chlorhexidine.pmid]).fetchone()
    assert title.startswith(NEW_TITLE)
    sentences = con.execute("SELECT start_offset, end_offset, text, run_id FROM sentences WHERE pmid = ?",
                            [chlorhexidine.pmid]).fetchall()
    assert sentences and all(text[a:b] == s and run == runs[1][0] for a, b, s, run in sentences)
    assert con.execute("SELECT count(DISTINCT run_id) FROM entities WHERE pmid = ?", [chlorhexidine.pmid]).fetchone()[0] <= 1
    watch = con.execute("SELECT watermark, last_run_id, last_records FROM watches WHERE name = 'all'").fetchone()
    assert watch == (watermark, runs[1][0], 3)
    con.close()

    listed = runner.invoke(app, ["watch", "list", "--db", str(db)])
    assert listed.exit_code == 0 and str(watermark) in listed.output
    shown = runner.invoke(app, ["runs", "--db", str(db)])
    assert shown.exit_code == 0
    lines = [line for line in shown.output.splitlines() if "refresh" in line]
    assert len(lines) == 2 and all("completed" in line and "watch all" in line for line in lines)
    assert "articles=3" in lines[0] and "articles=61" in lines[1]
