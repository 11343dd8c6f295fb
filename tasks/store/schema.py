"""The store's schema: the tables of version 1 and the migrations that bring a file up to date.

Every table, view and index litmine makes is created here (tests/unit/test_architecture.py keeps
it so); the modules that fill a table assume the migrations made it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from litmine.errors import StoreError

SCHEMA_VERSION = 8

#: `entities.link_status`: how `concept_id` was found, or why it is NULL (no ID). The first seven
#: are the linker's levels (tasks/linking/normalise.py); "linked" and "unmatched" are what
#: migration 4 can tell of a row that an older litmine stored.
LINK_STATUSES = {
    "exact": "the text is a lexicon name of its type",
    "normalised": "the normalised text is",
    "composite": "every part of a coordinated mention (a gene name's coordinated numbers: ERK1/2) "
                 "linked; the IDs are |-joined",
    "rewritten": "a Disease mention rewritten (modifiers dropped, organ adjective as noun, head "
                 "word's synonym) matched",
    "fuzzy": "character 3-gram similarity at or above the threshold",
    "dense": "a Disease mention's nearest lexicon name by a sentence encoder, at or above the "
             "threshold",
    "abbreviation": "the document's abbreviation definition gave the ID",
    "species": "a gene name's ID in the organism the document mentions (human by default, mouse "
               "for a mouse-style symbol such as Sox2)",
    "variant-rule": "a Variant mention parsed into tmVar's normalised form (or an rsID it names)",
    "variant-rsid": "a Variant's tmVar form that the lexicon's corpora give one dbSNP rsID",
    "given": "the input's own annotation gave the ID (`mine --entities given`)",
    "given-none": "the input's annotation named no ID, in a document whose annotations have IDs "
                  "(`mine --entities given`)",
    "linked": "an ID stored before schema 4, by a level not recorded",
    "not-linked-type": "the type is not linked (a type litmine has no linker for)",
    "empty": "the mention has no text",
    "no-match": "no lexicon name matches (Variant: the text follows no variant pattern)",
    "below-threshold": "the best lexicon name is less similar than the threshold",
    "short-lowercase": "a short lowercase word matches no name as written (\"cc\" is no \"CC\")",
    "unmatched": "no-match or below-threshold, stored before schema 4 (which, not recorded)",
    "not-run": "no linker ran (mine/refresh without relations)",
}

#: Schema version 1: the tables a user may query (MIGRATIONS add to them); every derived row
#: carries the run (and model) that produced it.
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, flow VARCHAR, status VARCHAR,
    started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
    parameters JSON, model VARCHAR, counts JSON, timings JSON, error VARCHAR);
CREATE TABLE IF NOT EXISTS articles (
    pmid VARCHAR PRIMARY KEY, version INTEGER, title VARCHAR, abstract VARCHAR,
    journal VARCHAR, pub_date VARCHAR, year INTEGER, doi VARCHAR,
    publication_types VARCHAR[], mesh_headings VARCHAR[], language VARCHAR, authors VARCHAR[],
    source VARCHAR, run_id VARCHAR, loaded_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS sentences (
    pmid VARCHAR, sentence_index INTEGER, start_offset INTEGER, end_offset INTEGER,
    text VARCHAR, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS entities (
    pmid VARCHAR, model VARCHAR, start_offset INTEGER, end_offset INTEGER, text VARCHAR,
    type VARCHAR, score DOUBLE, sentence_index INTEGER, concept_id VARCHAR, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS pairs (
    pmid VARCHAR, model VARCHAR, method VARCHAR, chemical VARCHAR, disease VARCHAR,
    n_sentences INTEGER, sentence_indexes INTEGER[], run_id VARCHAR);
CREATE TABLE IF NOT EXISTS rejects (
    source VARCHAR, pmid VARCHAR, reason VARCHAR, run_id VARCHAR, rejected_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS deletions (
    pmid VARCHAR PRIMARY KEY, source VARCHAR, run_id VARCHAR, deleted_at TIMESTAMPTZ);
"""

#: The sequence that numbers stored vectors (`embeddings_<dim>.vector_key`); one for all tables.
VECTOR_KEYS = "vector_keys"


def add_vector_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Migration 8: a `vector_key` per stored vector and a `database_id` in `meta`.

    A key is drawn from one sequence when the vector is written, so it is unique across the
    vector tables and grows with every write: an index built up to key W knows that rows above
    W are newer than it, and a key it holds that the table lacks is a vector deleted or embedded
    again since. `database_id` tells an index file which database it was built from.
    Existing vectors get keys here, in table order.
    """
    con.execute(f"CREATE SEQUENCE IF NOT EXISTS {VECTOR_KEYS}")
    con.execute("INSERT INTO meta SELECT 'database_id', uuid()::VARCHAR WHERE NOT EXISTS "
                "(SELECT 1 FROM meta WHERE key = 'database_id')")
    for (table,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND regexp_full_match(table_name, 'embeddings_[0-9]+') ORDER BY 1").fetchall():
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS vector_key BIGINT")
        con.execute(f"UPDATE {table} SET vector_key = nextval('{VECTOR_KEYS}') "
                    "WHERE vector_key IS NULL")


#: What each schema version added to the one before (version 1 is SCHEMA). Older files and new
#: ones alike get them in order, so a table's columns are the same whichever way it was made.
MIGRATIONS: dict[int, str | Callable[[duckdb.DuckDBPyConnection], None]] = {
    2: """
ALTER TABLE pairs ADD COLUMN IF NOT EXISTS chemical_id VARCHAR;
ALTER TABLE pairs ADD COLUMN IF NOT EXISTS disease_id VARCHAR;
ALTER TABLE pairs ADD COLUMN IF NOT EXISTS relation VARCHAR;
ALTER TABLE pairs ADD COLUMN IF NOT EXISTS score DOUBLE;
ALTER TABLE pairs ADD COLUMN IF NOT EXISTS evidence VARCHAR[];
CREATE TABLE IF NOT EXISTS abbreviations (
    pmid VARCHAR, short VARCHAR, long VARCHAR, short_start INTEGER, short_end INTEGER,
    long_start INTEGER, long_end INTEGER, run_id VARCHAR);
""",
    # The tables that refresh, bulk loads, embed, classify and summarize used to create on first
    # use. IF NOT EXISTS: a file an older litmine gave them already keeps them and their rows.
    3: """
CREATE TABLE IF NOT EXISTS watches (
    name VARCHAR PRIMARY KEY, query VARCHAR NOT NULL, model VARCHAR,
    created_at TIMESTAMPTZ, watermark DATE, last_run_id VARCHAR,
    last_refreshed_at TIMESTAMPTZ, last_window VARCHAR, last_records INTEGER);
CREATE TABLE IF NOT EXISTS files (
    name VARCHAR PRIMARY KEY, kind VARCHAR, md5 VARCHAR, size BIGINT, status VARCHAR,
    records INTEGER, deleted INTEGER, rejects INTEGER, model VARCHAR, run_id VARCHAR,
    started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS embedding_models (
    model VARCHAR PRIMARY KEY, dim INTEGER, max_length INTEGER, table_name VARCHAR,
    updated_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS classifications (
    pmid VARCHAR, model VARCHAR, method VARCHAR, label VARCHAR, score DOUBLE, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS summaries (
    pmid VARCHAR, model VARCHAR, summary VARCHAR, input_tokens INTEGER, truncated_tokens INTEGER,
    parameters JSON, run_id VARCHAR, created_at TIMESTAMPTZ);
""",
    # "No ID" was '' in entities and NULL in pairs: it is NULL everywhere, and link_status keeps
    # why. Rows stored before say what can be known: linked or not; a Chemical/Disease without an
    # ID is "unmatched" when its run linked (its parameters name a lexicon, or another mention of
    # the run has an ID), else "not-run"; other types "not-linked-type" when the run linked.
    4: """
ALTER TABLE entities ADD COLUMN IF NOT EXISTS link_status VARCHAR;
UPDATE entities SET link_status = CASE
    WHEN coalesce(concept_id, '') <> '' THEN 'linked'
    WHEN NOT (coalesce((SELECT json_extract_string(r.parameters, '$.lexicon') IS NOT NULL
                        FROM runs r WHERE r.run_id = entities.run_id), false)
              OR EXISTS (SELECT 1 FROM entities o WHERE o.run_id = entities.run_id
                         AND coalesce(o.concept_id, '') <> '')) THEN 'not-run'
    WHEN type IN ('Chemical', 'Disease') THEN 'unmatched'
    ELSE 'not-linked-type' END
WHERE link_status IS NULL;
UPDATE entities SET concept_id = NULL WHERE concept_id = '';
""",
    # BioRED's typed relations between two concepts (tasks/relations/typed.py). CID rows stay
    # in `pairs` (relation = 'CID'), so queries written for them keep working; a file from
    # before gets the empty table and fills it when its articles are mined again.
    5: """
CREATE TABLE IF NOT EXISTS relations (
    pmid VARCHAR, model VARCHAR, relation_model VARCHAR,
    type1 VARCHAR, id1 VARCHAR, name1 VARCHAR, type2 VARCHAR, id2 VARCHAR, name2 VARCHAR,
    relation VARCHAR, novel VARCHAR, score DOUBLE, novel_score DOUBLE,
    sentence_indexes INTEGER[], evidence VARCHAR[], run_id VARCHAR);
""",
    # Issue 21: a reject names the stage that refused the document ("parse" for every reject
    # stored before: only the readers rejected then); full-text documents keep their passages
    # (offsets into title || ' ' || abstract; `litmine export` maps mentions back per passage).
    6: """
ALTER TABLE rejects ADD COLUMN IF NOT EXISTS stage VARCHAR;
UPDATE rejects SET stage = 'parse' WHERE stage IS NULL;
CREATE TABLE IF NOT EXISTS passages (
    pmid VARCHAR, passage_index INTEGER, start_offset INTEGER, end_offset INTEGER,
    title_end INTEGER, type VARCHAR, run_id VARCHAR);
""",
    # Issue 19: the BM25 index of keyword search (tasks/semantic/keywords.py). A document row
    # records the `loaded_at` of the article version it indexed, so the index knows which
    # articles changed since; the first keyword search of a file fills it.
    7: """
CREATE TABLE IF NOT EXISTS keyword_documents (pmid VARCHAR, loaded_at TIMESTAMPTZ, length INTEGER);
CREATE TABLE IF NOT EXISTS keyword_postings (term VARCHAR, pmid VARCHAR, tf INTEGER);
""",
    # Issue 19: the vector index (tasks/semantic/vector_index.py) keys each stored vector by
    # an integer: see `add_vector_keys`.
    8: add_vector_keys,
}


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The file's schema version; 0 for a file litmine has not written yet."""
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'meta' "
                       "AND database_name = current_database()").fetchone()[0]:
        return 0
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return 0 if row is None else int(row[0])


def migrate(con: duckdb.DuckDBPyConnection, path: str | Path) -> None:
    """Bring the file at `path` (open on `con` for writing) up to SCHEMA_VERSION in one transaction."""
    version = schema_version(con)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"store: {path} has schema version {version}, newer than this litmine "
            f"understands ({SCHEMA_VERSION}); upgrade litmine")
    if version == SCHEMA_VERSION:
        return
    con.begin()  # a new file (version 0) or an older one: every missing step at once
    try:
        if version == 0:
            con.execute(SCHEMA)
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', '1')")
            version = 1
        for step in range(version + 1, SCHEMA_VERSION + 1):
            change = MIGRATIONS[step]
            change(con) if callable(change) else con.execute(change)
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])
        con.commit()
    except Exception:
        con.rollback()
        raise


def embeddings_table(dim: int) -> str:
    """The vector table for one embedding dimension (a FLOAT[dim] column needs a fixed size)."""
    return f"embeddings_{int(dim)}"


def create_embeddings_table(con: duckdb.DuckDBPyConnection, dim: int) -> str:
    """Create the vector table for `dim` if the file lacks it; its name."""
    table = embeddings_table(dim)
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} (pmid VARCHAR, level VARCHAR, "
                f"sentence_index INTEGER, model VARCHAR, text_md5 VARCHAR, "
                f"vector FLOAT[{int(dim)}], run_id VARCHAR, vector_key BIGINT)")
    return table


def create_embeddings_view(con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> None:
    """(Re)create the `embeddings` view: every vector table's rows as FLOAT[]."""
    con.execute("CREATE OR REPLACE VIEW embeddings AS " + " UNION ALL ".join(
        f"SELECT pmid, level, sentence_index, model, vector::FLOAT[] AS vector, run_id FROM {t}"
        for t in tables))
