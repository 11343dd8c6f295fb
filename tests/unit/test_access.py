"""open_store: the one way into a database, in each of its modes."""

import duckdb
import pytest

from litmine.errors import StoreError
from litmine.tasks.store.access import open_store
from litmine.tasks.store.schema import SCHEMA_VERSION, schema_version


def test_write_makes_and_migrates_a_new_file(tmp_path):
    db = tmp_path / "deep" / "new.duckdb"
    with open_store(db) as store:
        assert store.path == db and schema_version(store.con) == SCHEMA_VERSION


@pytest.mark.parametrize("stage, prefix", [(None, "sql: "), ("classify", "classify: ")])
def test_read_names_a_missing_file_and_the_stage(tmp_path, stage, prefix):
    with pytest.raises(StoreError, match=f"^{prefix}database .*missing.duckdb does not exist"):
        open_store(tmp_path / "missing.duckdb", "read", stage=stage)
    assert not (tmp_path / "missing.duckdb").exists()


def test_read_can_neither_write_nor_reach_files(tmp_path):
    db = tmp_path / "r.duckdb"
    open_store(db).close()
    (tmp_path / "outside.csv").write_text("a,b\n1,2\n")
    with open_store(db, "read") as store:
        with pytest.raises(duckdb.Error, match="read-only"):
            store.con.execute("CREATE TABLE x (i INTEGER)")
        with pytest.raises(duckdb.PermissionException, match="disabled"):
            store.con.execute(f"SELECT * FROM read_csv('{tmp_path / 'outside.csv'}')")
        with pytest.raises(duckdb.Error, match="locked"):
            store.con.execute("SET enable_external_access = true")


def test_an_unknown_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown mode 'append'"):
        open_store(tmp_path / "x.duckdb", "append")
