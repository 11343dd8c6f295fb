"""Schema migrations: an older file reaches the current version without losing a row."""

import duckdb
import pytest

from litmine.tasks.store.access import open_store
from litmine.tasks.store.schema import LINK_STATUSES, MIGRATIONS, SCHEMA, SCHEMA_VERSION, schema_version

#: Tables that versions before 3 created on first use (refresh, bulk loads, embed, classify,
#: summarize), each with a row as such a file would hold it.
ON_THE_FLY = """
CREATE TABLE watches (name VARCHAR PRIMARY KEY, query VARCHAR NOT NULL, model VARCHAR,
    created_at TIMESTAMPTZ, watermark DATE, last_run_id VARCHAR, last_refreshed_at TIMESTAMPTZ,
    last_window VARCHAR, last_records INTEGER);
CREATE TABLE files (name VARCHAR PRIMARY KEY, kind VARCHAR, md5 VARCHAR, size BIGINT, status VARCHAR,
    records INTEGER, deleted INTEGER, rejects INTEGER, model VARCHAR, run_id VARCHAR,
    started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ);
CREATE TABLE embedding_models (model VARCHAR PRIMARY KEY, dim INTEGER, max_length INTEGER,
    table_name VARCHAR, updated_at TIMESTAMPTZ);
CREATE TABLE classifications (pmid VARCHAR, model VARCHAR, method VARCHAR, label VARCHAR,
    score DOUBLE, run_id VARCHAR);
CREATE TABLE summaries (pmid VARCHAR, model VARCHAR, summary VARCHAR, input_tokens INTEGER,
    truncated_tokens INTEGER, parameters JSON, run_id VARCHAR, created_at TIMESTAMPTZ);
INSERT INTO watches (name, query) VALUES ('zinc', 'zinc AND anemia');
INSERT INTO files (name, status, records) VALUES ('pubmed24n0001.xml.gz', 'done', 60);
INSERT INTO embedding_models VALUES ('minilm', 384, 256, 'embeddings_384', NULL);
INSERT INTO classifications VALUES ('7', 'c', 'embedding', 'review', 0.5, 'old');
INSERT INTO summaries VALUES ('7', 'm', 'short', 10, 0, '{}', 'old', NULL);
"""
NEW_TABLES = ("watches", "files", "embedding_models", "classifications", "summaries")


def version_2_file(path, *, with_tables: bool) -> None:
    """A file as litmine wrote it at schema version 2 (with a pair), optionally with the tables
    an older litmine created on the fly."""
    con = duckdb.connect(str(path))
    con.execute(SCHEMA)
    con.execute(MIGRATIONS[2])
    con.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    con.execute("INSERT INTO pairs (pmid, model, method, chemical, disease) "
                "VALUES ('7', 'm', 'cooccurrence', 'lithium', 'tremor')")
    if with_tables:
        con.execute(ON_THE_FLY)
    con.close()


def rows(con, table):
    return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def test_a_new_file_has_every_table_at_the_current_version(tmp_path):
    with open_store(tmp_path / "new.duckdb") as store:
        assert schema_version(store.con) == SCHEMA_VERSION == 8
        for table in (*NEW_TABLES, "keyword_documents", "keyword_postings"):
            assert rows(store.con, table) == []
        assert len(store.con.execute("SELECT value FROM meta WHERE key = 'database_id'")
                   .fetchone()[0]) == 36  # a UUID: which database an index file belongs to


@pytest.mark.parametrize("with_tables", [False, True], ids=["plain", "tables-made-on-the-fly"])
def test_a_version_2_file_migrates_without_losing_a_row(tmp_path, with_tables):
    path = tmp_path / "v2.duckdb"
    version_2_file(path, with_tables=with_tables)
    before = duckdb.connect(str(path), read_only=True)
    kept = {t: rows(before, t) for t in (NEW_TABLES if with_tables else ())} | {"pairs": rows(before, "pairs")}
    before.close()
    with open_store(path) as store:
        assert schema_version(store.con) == SCHEMA_VERSION
        for table in NEW_TABLES:
            assert rows(store.con, table) == kept.get(table, [])
        assert rows(store.con, "pairs") == kept["pairs"]
    if with_tables:
        assert len(kept["watches"]) == len(kept["files"]) == len(kept["summaries"]) == 1
    with open_store(path) as store:  # opening again changes nothing
        assert schema_version(store.con) == SCHEMA_VERSION
        assert {t: rows(store.con, t) for t in kept} == kept



def version_3_file(path) -> None:
    """A file as litmine wrote it at schema version 3: "no ID" stored as '' in entities."""
    con = duckdb.connect(str(path))
    con.execute(SCHEMA)
    for step in (2, 3):
        con.execute(MIGRATIONS[step])
    con.execute("INSERT INTO meta VALUES ('schema_version', '3')")
    con.execute("""INSERT INTO runs (run_id, flow, status, parameters) VALUES
        ('linking', 'mine', 'completed', '{"lexicon": "data/lexicon.tsv.gz"}'),
        ('plain', 'mine', 'completed', '{"lexicon": null}'),
        ('files', 'refresh', 'completed', '{"files": "pubmed"}')""")
    con.execute("""INSERT INTO entities (pmid, model, start_offset, end_offset, text, type,
                                         concept_id, run_id) VALUES
        ('1', 'm', 0, 9, 'cisplatin', 'Chemical', 'D002945', 'linking'),
        ('1', 'm', 10, 15, 'zorbo', 'Disease', '', 'linking'),
        ('1', 'm', 16, 21, 'BRCA1', 'Gene', '', 'linking'),
        ('2', 'm', 0, 9, 'cisplatin', 'Chemical', '', 'plain'),
        ('2', 'm', 10, 15, 'BRCA1', 'Gene', '', 'plain'),
        ('3', 'm', 0, 9, 'cisplatin', 'Chemical', 'D002945', 'files'),
        ('3', 'm', 10, 15, 'zorbo', 'Disease', '', 'files'),
        ('4', 'm', 0, 9, 'cisplatin', 'Chemical', '', 'no-such-run')""")
    con.execute("INSERT INTO pairs (pmid, model, method, chemical, disease) "
                "VALUES ('1', 'm', 'cooccurrence', 'cisplatin', 'zorbo')")
    con.close()


def test_a_version_3_file_stores_no_id_as_null_with_the_reason(tmp_path):
    path = tmp_path / "v3.duckdb"
    version_3_file(path)
    with open_store(path) as store:
        assert schema_version(store.con) == SCHEMA_VERSION
        assert store.con.execute(
            "SELECT pmid, type, concept_id, link_status FROM entities ORDER BY ALL").fetchall() == [
            ("1", "Chemical", "D002945", "linked"), ("1", "Disease", None, "unmatched"),
            ("1", "Gene", None, "not-linked-type"),
            ("2", "Chemical", None, "not-run"), ("2", "Gene", None, "not-run"),
            ("3", "Chemical", "D002945", "linked"), ("3", "Disease", None, "unmatched"),
            ("4", "Chemical", None, "not-run")]
        # One meaning of "no ID" in every table: IS NOT NULL counts the linked mentions.
        assert store.con.execute("SELECT count(*) FILTER (WHERE concept_id IS NOT NULL), "
                                 "count(*) FILTER (WHERE concept_id = '') FROM entities").fetchone() == (2, 0)
        assert store.con.execute("SELECT chemical_id FROM pairs").fetchall() == [(None,)]
        assert set(r[0] for r in store.con.execute("SELECT link_status FROM entities").fetchall()) <= set(LINK_STATUSES)
    with open_store(path) as store:  # opening again changes nothing
        assert store.con.execute("SELECT count(*) FROM entities WHERE concept_id IS NULL").fetchone() == (6,)


def version_4_file(path):
    """A file as litmine wrote it at schema version 4 (the previous release), left open."""
    con = duckdb.connect(str(path))
    con.execute(SCHEMA)
    for step in (2, 3, 4):
        con.execute(MIGRATIONS[step])
    con.execute("INSERT INTO meta VALUES ('schema_version', '4')")
    return con


def test_a_version_4_file_keeps_its_rejects_as_parse_rejects_and_gains_passages(tmp_path):
    """Migration 6 (issue 21): `rejects.stage` ("parse" for every reject stored before, when
    only the readers rejected) and the `passages` table of full-text documents."""
    path = tmp_path / "v4.duckdb"
    con = version_4_file(path)
    con.execute("INSERT INTO rejects VALUES ('f.xml', '7', 'parse: no PMID', 'old', NULL)")
    con.close()
    with open_store(path) as store:
        assert schema_version(store.con) == SCHEMA_VERSION
        assert store.con.execute("SELECT pmid, reason, stage FROM rejects").fetchall() == [
            ("7", "parse: no PMID", "parse")]
        assert rows(store.con, "passages") == []


def test_a_version_4_file_gets_the_relations_table_and_keeps_its_cid_pairs(tmp_path):
    """Typed relations (schema 5) live beside `pairs`: a file of the previous release keeps
    every CID row where its queries look for it, and gains an empty `relations` table."""
    path = tmp_path / "v4.duckdb"
    con = version_4_file(path)
    con.execute("INSERT INTO pairs (pmid, model, method, chemical, disease, chemical_id, "
                "disease_id, relation, score) VALUES ('9', 'm', 'cid-stacked', 'lithium', "
                "'tremor', 'D008094', 'D014202', 'CID', 0.9)")
    before = rows(con, "pairs")
    con.close()
    with open_store(path) as store:
        assert schema_version(store.con) == SCHEMA_VERSION
        assert rows(store.con, "pairs") == before
        assert rows(store.con, "relations") == []
        assert store.con.execute("SELECT chemical_id, disease_id FROM pairs WHERE relation = "
                                 "'CID'").fetchall() == [("D008094", "D014202")]


def version_7_file(path):
    """A file as litmine wrote it at schema version 7 (before vector keys), left open, with
    vectors of two dimensions as `litmine embed` stored them then."""
    con = duckdb.connect(str(path))
    con.execute(SCHEMA)
    for step in range(2, 8):
        con.execute(MIGRATIONS[step])
    con.execute("INSERT INTO meta VALUES ('schema_version', '7')")
    for dim in (3, 4):
        con.execute(f"CREATE TABLE embeddings_{dim} (pmid VARCHAR, level VARCHAR, sentence_index "
                    f"INTEGER, model VARCHAR, text_md5 VARCHAR, vector FLOAT[{dim}], run_id VARCHAR)")
        con.execute("INSERT INTO embedding_models VALUES (?, ?, 256, ?, NULL)",
                    [f"m{dim}", dim, f"embeddings_{dim}"])
    con.execute("INSERT INTO embeddings_3 VALUES ('7', 'abstract', NULL, 'm3', 'a', [1, 0, 0], 'r'), "
                "('7', 'sentence', 0, 'm3', 'b', [0, 1, 0], 'r'), "
                "('8', 'abstract', NULL, 'm3', 'c', [0, 0, 1], 'r')")
    con.execute("INSERT INTO embeddings_4 VALUES ('8', 'abstract', NULL, 'm4', 'd', [1, 0, 0, 0], 'r')")
    return con


def test_a_version_7_file_keys_every_stored_vector_and_loses_none(tmp_path):
    """Migration 8 (issue 19, the vector index): every vector keeps its row and gains a
    distinct integer key from one sequence, which the next vector written continues."""
    path = tmp_path / "v7.duckdb"
    con = version_7_file(path)
    before = {t: rows(con, t) for t in ("embeddings_3", "embeddings_4", "embedding_models")}
    con.close()
    with open_store(path) as store:
        assert schema_version(store.con) == SCHEMA_VERSION
        for table in ("embeddings_3", "embeddings_4"):
            kept = store.con.execute(f"SELECT * EXCLUDE (vector_key) FROM {table} "
                                     "ORDER BY ALL").fetchall()
            assert kept == before[table]
        assert rows(store.con, "embedding_models") == before["embedding_models"]
        keys = [r[0] for r in store.con.execute(
            "SELECT vector_key FROM embeddings_3 UNION ALL SELECT vector_key FROM embeddings_4"
        ).fetchall()]
        assert sorted(keys) == [1, 2, 3, 4]
        assert store.con.execute("SELECT nextval('vector_keys')").fetchone() == (5,)
        database_id = store.con.execute("SELECT value FROM meta WHERE key = 'database_id'").fetchone()
    with open_store(path) as store:  # opening again changes nothing
        assert store.con.execute("SELECT value FROM meta WHERE key = 'database_id'").fetchone() == database_id
        assert store.con.execute("SELECT count(*) FROM embeddings_3 WHERE vector_key IS NULL").fetchone() == (0,)
