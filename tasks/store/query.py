"""Reading the store: safe read-only SQL, PubTator and BioC export, and a summary of what it holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import duckdb

from litmine.errors import LitmineError, StoreError
from litmine.tasks.sources.bioc import BioCWriter
from litmine.tasks.sources.pubtator import write_pubtator
from litmine.tasks.records import Article, Mention, Passage
from litmine.tasks.store.access import open_store
from litmine.tasks.store.schema import SCHEMA_VERSION

#: What `export_documents` writes: PubTator, or BioC as PubTator3 serves it (tasks/sources/bioc.py).
EXPORT_FORMATS = ("pubtator", "bioc-xml", "bioc-json")


def run_readonly_sql(db: str | Path, statement: str) -> tuple[list[str], list[tuple]]:
    """Run one statement read-only; returns (column names, rows)."""
    if not statement.strip():
        raise LitmineError("sql: the statement is empty; try `litmine sql \"SELECT * FROM pairs LIMIT 5\"`")
    con = open_store(db, "read").con
    try:
        result = con.execute(statement)
        if result.description is None:
            return [], []
        columns = [d[0] for d in result.description]
        return columns, result.fetchall()
    except duckdb.PermissionException as exc:
        raise LitmineError(
            f"sql: refused: {str(exc).splitlines()[0]} (litmine sql cannot read or write files, "
            "attach databases or load extensions)") from exc
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        if "read-only mode" in first:
            raise LitmineError(f"sql: refused: litmine sql is read-only ({first})") from exc
        if "configuration has been locked" in first:
            raise LitmineError(f"sql: refused: litmine sql cannot change DuckDB settings ({first})") from exc
        raise LitmineError(f"sql: {first}") from exc
    finally:
        con.close()


def _default_model(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute("SELECT model FROM entities GROUP BY model ORDER BY count(*) DESC, model LIMIT 1").fetchone()
    return row[0] if row else None


def export_documents(db: str | Path, handle: TextIO, fmt: str = "pubtator", *,
                     model: str | None = None, chunk: int = 1000) -> int:
    """Write every stored document with `model`'s entities (with their concept IDs) and CID
    relations as PubTator, BioC XML or BioC JSON (`fmt`: "pubtator", "bioc-xml", "bioc-json");
    returns documents written."""
    if fmt not in EXPORT_FORMATS:
        raise LitmineError(f"export: unknown format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    con = open_store(db, "read", stage="export").con
    try:
        model = model or _default_model(con)
        if model is not None and not con.execute(
                "SELECT 1 FROM entities WHERE model = ? LIMIT 1", [model]).fetchone():
            raise LitmineError(f"export: no entities from model {model!r} in {db}; "
                               "`litmine info` lists the models present")
        if fmt == "pubtator":
            return sum(write_pubtator(docs, handle, relations)
                       for docs, relations in _document_chunks(con, model, chunk))
        with BioCWriter(handle, fmt, model=model) as writer:
            return sum(writer.write(docs, relations) for docs, relations in _document_chunks(con, model, chunk))
    finally:
        con.close()


def export_pubtator(db: str | Path, handle: TextIO, *, model: str | None = None,
                    chunk: int = 1000) -> int:
    """Write every stored document with `model`'s entities (with their concept IDs), CID
    relations and typed relations (BioRED's five columns) as PubTator; returns documents
    written."""
    return export_documents(db, handle, "pubtator", model=model, chunk=chunk)


def _document_chunks(con: duckdb.DuckDBPyConnection, model: str | None, chunk: int
                     ) -> Iterator[tuple[list[tuple[Article, list[Mention]]], dict[str, list[tuple[str, ...]]]]]:
    """Stored documents by PMID, `chunk` at a time: ([(article, model's mentions)], PMID ->
    relations: ("CID", chemical, disease) and (type, id1, id2, novelty))."""
    pmids = [r[0] for r in con.execute("SELECT pmid FROM articles ORDER BY pmid").fetchall()]
    has_relations = bool(con.execute(  # files made before schema 2 have no relation column
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'pairs' AND column_name = "
        "'relation' AND database_name = current_database()").fetchone()[0])
    has_typed = bool(con.execute(  # files made before schema 5 have no relations table
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'relations' AND "
        "database_name = current_database()").fetchone()[0])
    has_passages = bool(con.execute(  # files made before schema 6 have no passages
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'passages' "
        "AND database_name = current_database()").fetchone()[0])
    for i in range(0, len(pmids), chunk):
        part = pmids[i:i + chunk]
        articles = con.execute(
            "SELECT pmid, title, abstract FROM articles WHERE pmid IN (SELECT unnest(?)) ORDER BY pmid",
            [part]).fetchall()
        mentions: dict[str, list[Mention]] = {}
        for row in con.execute(
                "SELECT pmid, start_offset, end_offset, text, type, score, sentence_index, concept_id "
                "FROM entities WHERE model = ? AND pmid IN (SELECT unnest(?)) "
                "ORDER BY pmid, start_offset, end_offset, type", [model, part]).fetchall():
            mentions.setdefault(row[0], []).append(Mention(*row[:7], concept_id=row[7] or ""))
        passages: dict[str, list[Passage]] = {}
        if has_passages:
            for pmid, *passage in con.execute(
                    "SELECT pmid, start_offset, end_offset, title_end, type FROM passages WHERE "
                    "pmid IN (SELECT unnest(?)) ORDER BY pmid, passage_index", [part]).fetchall():
                passages.setdefault(pmid, []).append(Passage(*passage[:3], passage[3] or ""))
        relations: dict[str, list[tuple[str, ...]]] = {}
        if has_relations:
            for pmid, chem, dis in con.execute(
                    "SELECT DISTINCT pmid, chemical_id, disease_id FROM pairs WHERE model = ? "
                    "AND relation = 'CID' AND chemical_id IS NOT NULL AND disease_id IS NOT NULL "
                    "AND pmid IN (SELECT unnest(?)) ORDER BY ALL", [model, part]).fetchall():
                relations.setdefault(pmid, []).append(("CID", chem, dis))
        if has_typed:
            for pmid, kind, first, second, novel in con.execute(
                    "SELECT DISTINCT pmid, relation, id1, id2, novel FROM relations WHERE "
                    "model = ? AND pmid IN (SELECT unnest(?)) ORDER BY ALL",
                    [model, part]).fetchall():
                relations.setdefault(pmid, []).append((kind, first, second, novel))
        yield [(Article(pmid=p, title=t or "", abstract=a or "", passages=tuple(passages.get(p, ()))),
                 mentions.get(p, [])) for p, t, a in articles], relations


#: `describe`'s per-type rows, models with most entities first, then types by mentions.
ENTITY_TYPE_COUNTS = (
    "SELECT model, type, count(*) AS mentions, count(concept_id) AS linked, "
    "coalesce(len(list_distinct(flatten(list(CASE WHEN type = 'Variant' THEN [concept_id] "  # tmVar IDs hold '|'
    "ELSE string_split(concept_id, '|') END) "
    "FILTER (WHERE concept_id IS NOT NULL)))), 0) AS concepts, "
    "sum(count(*)) OVER (PARTITION BY model) AS model_rows "
    "FROM entities GROUP BY model, type ORDER BY model_rows DESC, model, mentions DESC, type")


#: Typed relations per entity-type pair and relation type, for each model (`describe`).
RELATION_TYPE_COUNTS = (
    "SELECT model, type1 || '-' || type2 AS entities, relation, count(*) AS relations, "
    "count(*) FILTER (WHERE novel = 'Novel') AS novel, count(DISTINCT pmid) AS documents, "
    "sum(count(*)) OVER (PARTITION BY model) AS model_rows "
    "FROM relations GROUP BY model, type1, type2, relation "
    "ORDER BY model_rows DESC, model, relations DESC, entities, relation")


def describe(db: str | Path) -> dict:
    """Rows per table, models present, mentions per entity type, typed relations per type and
    the latest runs.

    `types`: one (model, type, mentions, linked, concepts) row per model and type: linked
    mentions have a concept ID; concepts counts distinct IDs, composite ("|"-joined) ones as
    their parts (but a Variant's tmVar ID, ``p|SUB|V|600|E``, is one). `relation_types`: one
    (model, entities, relation, relations, novel, documents) row per model, entity-type pair
    ("Chemical-Disease") and relation type; novel counts the relations marked "Novel"."""
    con = open_store(db, "read", stage="info").con
    try:
        version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        present = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
        names = [n for n in ("articles", "sentences", "entities", "pairs", "relations", "abbreviations", "rejects",
                             "deletions", "runs") if n in present]
        counts = {n: con.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}
        models = con.execute("SELECT model, count(*) FROM entities GROUP BY model ORDER BY 2 DESC").fetchall()
        types = con.execute(ENTITY_TYPE_COUNTS).fetchall()
        relation_types = (con.execute(RELATION_TYPE_COUNTS).fetchall()
                          if "relations" in present else [])
        runs = con.execute("SELECT run_id, flow, status, started_at FROM runs "
                           "ORDER BY started_at DESC LIMIT 5").fetchall()
    except duckdb.CatalogException as exc:
        raise StoreError(f"info: {db} is not a litmine database ({str(exc).splitlines()[0]})") from exc
    finally:
        con.close()
    return {"db": str(db), "schema_version": int(version[0]) if version else SCHEMA_VERSION,
            "counts": counts, "models": models,
            "types": [dict(zip(("model", "type", "mentions", "linked", "concepts"), r)) for r in types],
            "relation_types": [dict(zip(("model", "entities", "relation", "relations", "novel",
                                         "documents"), r)) for r in relation_types],
            "runs": [dict(zip(("run_id", "flow", "status", "started_at"), r)) for r in runs]}
