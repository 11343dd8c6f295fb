"""`litmine refresh --files DIR` killed (SIGKILL) in the middle of a file, then run again, ends
with exactly the tables of an uninterrupted run; while it was stopped between two batches,
`litmine sql` read the database itself, with every batch committed so far."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from litmine.flows.refresh import refresh
from tests.support.database_rows import content_filter

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pubmed"
#: Runs the real CLI in a process that stops (sleeps) once `PAUSE_AFTER` articles are committed:
#: the progress hook is called after each batch's transaction (flows/mine.py `_load`).
PAUSING_CLI = r"""
import os, sys, time
from litmine.progress import set_progress_hook
seen = 0
def hook(total=..., advance=0):
    global seen
    seen += advance
    if advance and seen >= int(os.environ["PAUSE_AFTER"]):
        os.write(1, f"PAUSED {seen}\n".encode())  # not print(): the flow logs prints (log_prints)
        time.sleep(600)
set_progress_hook(hook)
from litmine.cli import main
sys.argv = ["litmine", *sys.argv[1:]]
main()
"""
#: Columns that differ between runs by design.
VOLATILE = {"run_id", "loaded_at", "rejected_at", "deleted_at", "started_at", "finished_at"}


@pytest.fixture
def bulk_dir(tmp_path) -> Path:
    root = tmp_path / "pubmed"
    for kind, name in (("baseline", "pubmed26n1334.xml.gz"), ("updatefiles", "pubmed26n1335.xml.gz")):
        (root / kind).mkdir(parents=True)
        for suffix in ("", ".md5"):
            shutil.copy(FIXTURES / f"{name}{suffix}", root / kind / f"{name}{suffix}")
    return root


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    """The process's next stdout line, or "" if it ends or says nothing for `timeout` seconds."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


def snapshot_of_tables(db: Path) -> dict[str, list]:
    """Every table's rows (sorted), without run ids and timestamps; `runs` is compared apart."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall():
            if table == "runs":
                continue
            columns = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [table]).fetchall() if c not in VOLATILE]
            out[table] = con.execute(f"SELECT {', '.join(columns)} FROM {table}"
                                     f"{content_filter(table)} ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def test_killed_mid_file_then_rerun_equals_an_uninterrupted_run(tmp_path, bulk_dir, prefect_harness, tiny_ner_model):
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITMINE_", "NCBI_"))}
    env.update({"PREFECT_API_URL": PREFECT_API_URL.value(), "LITMINE_MODEL": str(tiny_ner_model),
                "HF_HUB_OFFLINE": "1", "PAUSE_AFTER": "40"})  # 30 in file 1334, then 2 batches of 5
    killed_db = tmp_path / "killed.duckdb"
    args = ["refresh", "--files", str(bulk_dir), "--db", str(killed_db), "--batch-size", "5",
            "--no-snapshot", "--no-progress"]  # --no-snapshot: accepted, ignored (issue 19)
    proc = subprocess.Popen([sys.executable, "-c", PAUSING_CLI, *args], env=env, stdout=subprocess.PIPE,
                            stderr=(tmp_path / "refresh.log").open("w"), text=True)
    try:
        line = read_line(proc, timeout=240)
        assert line.startswith("PAUSED"), f"no pause: {line!r}\n{(tmp_path / 'refresh.log').read_text()[-3000:]}"

        # Meanwhile `litmine sql` reads the database the run let go of after its last batch.
        query = ("SELECT name, status, records, (SELECT count(*) FROM articles a WHERE a.source = "
                 "f.name) AS stored FROM files f ORDER BY name")
        sql = subprocess.run([sys.executable, "-m", "litmine.cli", "sql", "--db", str(killed_db), query,
                              "--format", "csv"], env=env, text=True, capture_output=True, timeout=300)
        assert sql.returncode == 0, sql.stderr
        assert sql.stdout.splitlines() == ["name,status,records,stored", "pubmed26n1334.xml.gz,done,30,30",
                                           "pubmed26n1335.xml.gz,loading,,10"], sql.stderr
        assert sql.stderr == ""
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    con = duckdb.connect(str(killed_db), read_only=True)
    assert con.execute("SELECT name, status FROM files ORDER BY name").fetchall() == [
        ("pubmed26n1334.xml.gz", "done"), ("pubmed26n1335.xml.gz", "loading")]
    half = con.execute("SELECT count(*) FROM articles WHERE source = 'pubmed26n1335.xml.gz'").fetchone()[0]
    assert 10 <= half < 30  # at least two batches of the second file were committed
    con.close()

    rerun = refresh(files=str(bulk_dir), db=str(killed_db), model=str(tiny_ner_model), batch_size=5)
    assert (rerun["files_skipped"], rerun["files_loaded"], rerun["articles_seen"]) == (1, 1, 30)

    clean_db = tmp_path / "clean.duckdb"
    clean = refresh(files=str(bulk_dir), db=str(clean_db), model=str(tiny_ner_model), batch_size=5)
    assert (clean["files_loaded"], clean["articles_seen"]) == (2, 60)

    killed_tables, clean_tables = snapshot_of_tables(killed_db), snapshot_of_tables(clean_db)
    assert set(killed_tables) == set(clean_tables) >= {"articles", "sentences", "entities", "pairs",
                                                       "rejects", "deletions", "files", "meta", "watches"}
    for table in clean_tables:
        assert killed_tables[table] == clean_tables[table], f"table {table} differs"
    assert len(clean_tables["articles"]) == 60 and len(clean_tables["deletions"]) == 6
    assert clean_tables["entities"], "the tiny model tags something, so entities are compared too"

    con = duckdb.connect(str(killed_db), read_only=True)
    statuses = con.execute("SELECT status FROM runs ORDER BY started_at").fetchall()
    con.close()
    assert statuses == [("crashed",), ("completed",)]


def test_refresh_files_loads_the_bundled_sample_once(tmp_path, prefect_harness, tiny_ner_model):
    """The README's bulk demo on what ships: the NLM sample loads, a second run skips it."""
    sample = Path(__file__).resolve().parents[2] / "data" / "sample"
    db = tmp_path / "demo.duckdb"
    first = refresh(files=str(sample), db=str(db), model=str(tiny_ner_model))
    assert (first["files_loaded"], first["articles_seen"]) == (1, 177)
    again = refresh(files=str(sample), db=str(db), model=str(tiny_ner_model))
    assert (again.get("files_loaded", 0), again["files_skipped"], again.get("articles_seen", 0)) == (0, 1, 0)
