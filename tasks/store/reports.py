"""What a run's report shows from the store: its top pairs, CID and typed relations, new pairs,
rejects."""

from __future__ import annotations

import duckdb

_TOP_PAIRS = """
SELECT chemical, disease, count(*) AS documents, sum(n_sentences) AS sentences
FROM pairs WHERE run_id = ? AND method = 'cooccurrence' GROUP BY ALL
ORDER BY documents DESC, sentences DESC, chemical, disease LIMIT ?"""

_TOP_RELATIONS = """
SELECT chemical_id, disease_id, any_value(chemical), any_value(disease),
    count(*) AS documents, round(max(score), 3)
FROM pairs WHERE run_id = ? AND relation = 'CID' GROUP BY ALL
ORDER BY documents DESC, 6 DESC, 1, 2 LIMIT ?"""

_TOP_TYPED = """
SELECT relation, type1, any_value(name1), type2, any_value(name2), count(*) AS documents,
    count(*) FILTER (WHERE novel = 'Novel') AS novel, round(max(score), 3)
FROM relations WHERE run_id = ? GROUP BY relation, type1, id1, type2, id2
ORDER BY documents DESC, 8 DESC, 1, 3, 5 LIMIT ?"""

_NEW_PAIRS = """
SELECT chemical, disease, count(*) AS documents FROM pairs p WHERE run_id = ? AND NOT EXISTS
    (SELECT 1 FROM pairs q WHERE q.model = p.model AND q.chemical = p.chemical
     AND q.disease = p.disease AND q.run_id <> p.run_id)
GROUP BY ALL ORDER BY documents DESC, chemical, disease LIMIT ?"""

_REJECTS = "SELECT source, pmid, reason FROM rejects WHERE run_id = ? ORDER BY source, pmid LIMIT ?"


def _run_rows(con: duckdb.DuckDBPyConnection, query: str, run_id: str, limit: int) -> list[tuple]:
    return con.execute(query, [run_id, limit]).fetchall()


def top_pairs(con: duckdb.DuckDBPyConnection, run_id: str, limit: int = 20) -> list[tuple]:
    """(chemical, disease, documents, sentences) of the run's co-occurrence pairs, most documents first."""
    return _run_rows(con, _TOP_PAIRS, run_id, limit)


def top_relations(con: duckdb.DuckDBPyConnection, run_id: str, limit: int = 20) -> list[tuple]:
    """(chemical_id, disease_id, chemical, disease, documents, best score) of the run's CID
    relations, most documents first."""
    return _run_rows(con, _TOP_RELATIONS, run_id, limit)


def top_typed_relations(con: duckdb.DuckDBPyConnection, run_id: str, limit: int = 20
                        ) -> list[tuple]:
    """(relation, type1, name1, type2, name2, documents, novel, best score) of the run's typed
    (BioRED) relations, most documents first."""
    return _run_rows(con, _TOP_TYPED, run_id, limit)


def new_pairs(con: duckdb.DuckDBPyConnection, run_id: str, limit: int = 20) -> list[tuple]:
    """(chemical, disease, documents) of the pairs this run stored that no other run's rows have."""
    return _run_rows(con, _NEW_PAIRS, run_id, limit)


def run_rejects(con: duckdb.DuckDBPyConnection, run_id: str, limit: int = 10) -> list[tuple]:
    """(source, pmid, reason) of the records the run skipped, the first `limit` by source and PMID."""
    return _run_rows(con, _REJECTS, run_id, limit)


def rejected_message(run_id: str, n: int) -> str:
    """The line a run that rejected documents ends with: how many, and the query that lists them."""
    return (f"completed with {n} rejected document{'s' if n != 1 else ''}: each failed a stage "
            f"and was not stored; list them with litmine sql \"SELECT pmid, stage, reason, source "
            f"FROM rejects WHERE run_id = '{run_id}' AND stage <> 'parse'\"")
