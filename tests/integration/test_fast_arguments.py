"""Argument errors and no-op commands answer before Prefect starts (issue 22): the real entry in a
subprocess on real DuckDB files, which reports at exit whether Prefect, torch or transformers were
ever imported. A process that never imported Prefect started no flow run (and no temporary API
server); one that never imported torch loaded no model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from litmine.tasks.sources.watches import add_watch
from litmine.tasks.store.access import open_store

HEAVY = ("prefect", "torch", "transformers")
#: Runs the CLI's console entry, then prints which heavy libraries the process imported.
ENTRY = ("import atexit, sys\n"
         "atexit.register(lambda: print('LOADED:' + ','.join(m for m in {heavy!r} if m in sys.modules),"
         " file=sys.stderr))\n"
         "sys.argv = ['litmine', *sys.argv[1:]]\n"
         "from litmine.cli import main\n"
         "main()\n").format(heavy=HEAVY)


def litmine(*args: str) -> tuple[int, str, str, set[str]]:
    """(exit status, stdout, stderr without the report line, heavy libraries imported)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITMINE_", "PREFECT_API"))}
    env.update(HF_HUB_OFFLINE="1", COLUMNS="1000")  # one line per message, however long the path
    result = subprocess.run([sys.executable, "-c", ENTRY, *args], env=env, text=True,
                            capture_output=True, timeout=300)
    lines = result.stderr.splitlines()
    report = [line for line in lines if line.startswith("LOADED:")]
    assert report, result.stderr
    loaded = {m for m in report[-1].removeprefix("LOADED:").split(",") if m}
    stderr = " ".join(" ".join(line for line in lines if not line.startswith("LOADED:")).split())
    return result.returncode, result.stdout, stderr, loaded


@pytest.fixture
def watched_db(tmp_path) -> Path:
    path = tmp_path / "w.duckdb"
    with open_store(path) as store:
        add_watch(store.con, "aspirin", "aspirin AND asthma", None)
    return path


def test_help_imports_no_model_or_prefect():
    status, out, _, loaded = litmine("--help")
    assert status == 0 and "refresh" in out and "embed" in out
    assert loaded == set()


def test_refresh_of_an_unknown_watch_fails_before_prefect(watched_db):
    status, _, err, loaded = litmine("refresh", "nosuch", "--db", str(watched_db))
    assert status == 1
    assert "error: refresh: no watch named 'nosuch' (watches: aspirin)" in err
    assert loaded == set()


def test_refresh_of_a_missing_database_fails_before_prefect(tmp_path):
    missing = tmp_path / "missing.duckdb"
    status, _, err, loaded = litmine("refresh", "aspirin", "--db", str(missing))
    assert status == 1
    assert f"error: refresh: database {missing} does not exist, so it has no watches" in err
    assert not missing.exists() and loaded == set()


def test_refresh_without_watches_fails_before_prefect(tmp_path):
    empty = tmp_path / "empty.duckdb"
    open_store(empty).close()
    status, _, err, loaded = litmine("refresh", "--db", str(empty))
    assert status == 1
    assert f"error: refresh: {empty} has no watches; add one with `litmine watch add" in err
    assert loaded == set()


def test_embed_with_nothing_to_embed_starts_no_flow_and_loads_no_model(tmp_path):
    empty = tmp_path / "empty.duckdb"
    open_store(empty).close()
    status, out, err, loaded = litmine("embed", "--db", str(empty))
    assert status == 0, err
    assert "nothing to embed" in out and "no run started" in out
    assert loaded == set()
    con = duckdb.connect(str(empty), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    finally:
        con.close()


def test_embed_of_a_foreign_database_fails_before_prefect(tmp_path):
    foreign = tmp_path / "foreign.duckdb"
    con = duckdb.connect(str(foreign))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    status, _, err, loaded = litmine("embed", "--db", str(foreign))
    assert status == 1
    assert f"error: embed: {foreign} is not a litmine database" in err
    assert loaded == set()


def test_embed_of_a_missing_database_fails_before_prefect(tmp_path):
    status, _, err, loaded = litmine("embed", "--db", str(tmp_path / "missing.duckdb"))
    assert status == 1 and "does not exist; run `litmine mine` first" in err
    assert loaded == set()


def test_a_missing_corpus_names_itself_and_where_to_get_it(tmp_path):
    gold = tmp_path / "shared" / "CDR_DevelopmentSet.PubTator.txt"
    status, _, err, loaded = litmine("evaluate", "--gold", str(gold))
    assert status == 1
    assert f"error: evaluate: file {gold} does not exist; BC5CDR: download CDR_Data.zip from " \
           "https://github.com/JHnlp/BioCreative-V-CDR-Corpus" in err
    assert "data/corpora/bc5cdr/" in err and loaded == set()
