"""`litmine sql` is read-only with external access off and settings locked: every statement that
would write, attach, copy out, install or load extensions, read files beside the database, or
switch those settings back on is refused with a clear message, and the file stays as it was."""

from __future__ import annotations

import hashlib
import sys

import pandas as pd
import pytest

from litmine.errors import LitmineError
from litmine.tasks.store.query import run_readonly_sql
from litmine.tasks.records import Article
from litmine.tasks.store.database import Batch
from litmine.tasks.store.access import open_store

READ_ONLY = "refused: litmine sql is read-only"
NO_FILES = "file system operations are disabled by configuration"
NO_EXTENSIONS = "Loading external extensions is disabled"
LOCKED = "refused: litmine sql cannot change DuckDB settings"

REFUSED = [
    # writes
    ("INSERT INTO meta VALUES ('k', 'v')", READ_ONLY),
    ("UPDATE articles SET title = 'x'", READ_ONLY),
    ("DELETE FROM articles", READ_ONLY),
    ("CREATE TABLE t AS SELECT 1", READ_ONLY),
    ("CREATE VIEW v AS SELECT 1", READ_ONLY),
    ("CREATE MACRO m() AS 1", READ_ONLY),
    ("ALTER TABLE articles ADD COLUMN x INTEGER", READ_ONLY),
    ("DROP TABLE articles", READ_ONLY),
    ("SELECT 1; DROP TABLE articles", READ_ONLY),
    # other databases
    ("ATTACH '{dir}/other.duckdb' AS other", NO_FILES),
    ("ATTACH ':memory:' AS scratch", READ_ONLY),
    # copying out and in
    ("COPY articles TO '{dir}/out.csv'", NO_FILES),
    ("COPY (SELECT * FROM articles) TO '{dir}/out.parquet' (FORMAT parquet)", NO_FILES),
    ("EXPORT DATABASE '{dir}/dump'", NO_FILES),
    ("COPY articles FROM '{dir}/outside.csv'", NO_FILES),
    ("IMPORT DATABASE '{dir}'", NO_FILES),
    # extensions
    ("INSTALL httpfs", NO_FILES),
    ("FORCE INSTALL httpfs", NO_FILES),
    ("LOAD httpfs", NO_EXTENSIONS),
    ("LOAD '{dir}/evil.duckdb_extension'", NO_EXTENSIONS),
    # files outside the database, local or remote
    ("SELECT * FROM read_csv('{dir}/outside.csv')", NO_FILES),
    ("SELECT * FROM '{dir}/outside.csv'", NO_FILES),
    ("SELECT * FROM read_parquet('{dir}/outside.parquet')", NO_FILES),
    ("SELECT * FROM read_json('{dir}/outside.csv')", NO_FILES),
    ("SELECT * FROM read_text('/etc/passwd')", NO_FILES),
    ("SELECT * FROM read_blob('/etc/hostname')", NO_FILES),
    ("SELECT * FROM glob('/etc/*')", NO_FILES),
    ("SELECT * FROM read_csv('https://example.org/x.csv')", NO_FILES),
    ("CREATE SECRET (TYPE s3, KEY_ID 'a', SECRET 'b')", NO_FILES),
    # switching the guards off, and settings or PRAGMAs that write files
    ("SET enable_external_access = true", LOCKED),
    ("RESET enable_external_access", LOCKED),
    ("SET lock_configuration = false", LOCKED),
    ("SET allow_unsigned_extensions = true", LOCKED),
    ("SET temp_directory = '{dir}/tmp'", LOCKED),
    ("SET profiling_output = '{dir}/profile.json'", LOCKED),
    ("PRAGMA enable_profiling = 'json'", LOCKED),
    ("PRAGMA force_checkpoint", LOCKED),
    ("PRAGMA disable_checkpoint_on_shutdown", LOCKED),
    ("PRAGMA memory_limit = '100GB'", LOCKED),
    ("CALL enable_logging()", LOCKED),
]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "litmine.duckdb"
    with open_store(path) as store:
        run = store.begin_run("mine", {}, model="m")
        store.load_batch(Batch(articles=[Article(pmid="123", title="Aspirin and asthma.")]), model="m", run_id=run)
    (tmp_path / "outside.csv").write_text("secret,value\nkey,42\n")
    return path


def fingerprint(directory):
    """Every file under `directory` with the hash of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("statement, message", REFUSED, ids=[s.split("(")[0][:40] for s, _ in REFUSED])
def test_statement_is_refused_with_a_clear_message(db, statement, message):
    before = fingerprint(db.parent)
    with pytest.raises(LitmineError) as refused:
        run_readonly_sql(db, statement.format(dir=db.parent))
    assert str(refused.value).startswith("sql: ") and message in str(refused.value)
    assert "\n" not in str(refused.value)  # one line
    assert fingerprint(db.parent) == before  # nothing written, created or changed


@pytest.mark.parametrize("statement, rows", [
    ("SELECT pmid, title FROM articles", [("123", "Aspirin and asthma.")]),
    ("SELECT count(*) FROM runs", [(1,)]),
    ("SELECT current_setting('enable_external_access'), current_setting('lock_configuration')", [(False, True)]),
    ("CHECKPOINT", []),  # a no-op on a read-only database
    ("CREATE TEMP TABLE scratch AS SELECT 1 AS x", [(1,)]),  # in memory, gone with the connection
], ids=["select", "runs", "settings", "checkpoint", "temp-table"])
def test_reading_still_works_and_changes_nothing(db, statement, rows):
    before = fingerprint(db.parent)
    assert run_readonly_sql(db, statement)[1] == rows
    assert fingerprint(db.parent) == before


def test_python_variables_are_not_scanned(db):
    hidden = pd.DataFrame({"secret": ["api key"]})  # DuckDB's replacement scan would find this name
    with pytest.raises(LitmineError, match="Table with name hidden does not exist"):
        run_readonly_sql(db, "SELECT * FROM hidden")
    assert len(hidden) == 1


def test_cli_prints_the_refusal_in_one_line(db, monkeypatch, capsys):
    from litmine import cli

    monkeypatch.setattr(sys, "argv", ["litmine", "sql", "--db", str(db), f"COPY articles TO '{db.parent}/x.csv'"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    err = " ".join(capsys.readouterr().err.split())
    assert exited.value.code == 1 and err.startswith("error: sql: refused:") and NO_FILES in err
    assert "Traceback" not in err and not (db.parent / "x.csv").exists()
