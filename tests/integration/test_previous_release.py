"""A database built by the previous release opens with today's code, migrates with one write
and loses nothing (fixture: tests/fixtures/databases/SOURCES.md)."""

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from litmine.tasks.store.access import open_store
from litmine.tasks.store.schema import SCHEMA_VERSION, schema_version

FIXTURE = Path(__file__).parents[1] / "fixtures" / "databases" / "schema7-release.duckdb.gz"
LITMINE = [sys.executable, "-m", "litmine.cli"]


def _unpack(tmp_path: Path) -> Path:
    db = tmp_path / "release.duckdb"
    with gzip.open(FIXTURE) as src, db.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return db


def _columns(db: Path) -> dict[str, list[str]]:
    """Table -> its columns, as the file has them."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT table_name, list(column_name ORDER BY column_index) "
                           "FROM duckdb_columns() WHERE NOT internal GROUP BY 1").fetchall()
        return dict(rows)
    finally:
        con.close()


def _contents(db: Path, columns: dict[str, list[str]]) -> dict[str, list]:
    """Every row of the given tables, only the given columns, in a stable order."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        present = set(_columns(db))
        return {t: con.execute(f"SELECT {', '.join(map(_ident, cols))} FROM {t} "
                               "ORDER BY ALL").fetchall()
                for t, cols in columns.items() if t in present}
    finally:
        con.close()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def test_the_previous_release_file_is_read_as_it_is_then_migrates_without_losing_a_row(tmp_path):
    db = _unpack(tmp_path)
    old_columns = _columns(db)
    before = _contents(db, old_columns)
    assert len(before["articles"]) == 4 and len(before["entities"]) == 62
    assert len(before["relations"]) == 9 and len(before["watches"]) == 1

    read = subprocess.run([*LITMINE, "sql", "--db", str(db),
                           "SELECT count(*) AS n FROM entities WHERE concept_id IS NOT NULL"],
                          capture_output=True, text=True, timeout=120)
    assert read.returncode == 0, read.stderr
    concept = old_columns["entities"].index("concept_id")
    linked = sum(1 for row in before["entities"] if row[concept] is not None)
    assert str(linked) in read.stdout

    with open_store(db) as store:  # a writer migrates the file to the current schema
        assert schema_version(store.con) == SCHEMA_VERSION
    after = _contents(db, old_columns)  # the old columns: a migration may add new ones
    for table, rows in before.items():
        if table == "meta":
            continue  # holds the schema version, which a migration moves on
        assert table in after, f"{table} lost by the migration"
        kept = set(map(repr, after[table]))
        missing = [row for row in rows if repr(row) not in kept]
        assert not missing and len(after[table]) >= len(rows), (table, missing[:3])
