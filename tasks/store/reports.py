"""What a run's report shows from the store: its top pairs and relations, new pairs, rejects."""

from __future__ import annotations

import duckdb


def top_pairs(con: duckdb.DuckDBPyConnection, run_id: str, limit: int = 20) -> list[tuple]:
    """(chemical, disease, documents, sentences) of the run's co-occurrence pairs, most documents first."""
    return con.execute(
        "SELECT chemical, disease, count(*) AS documents, sum(n_sentences) AS sentences "
        "FROM pairs WHERE run_id = ? AND method = 'cooccurrence' GROUP BY ALL "
        "ORDER BY documents DESC, sentences DESC, chemical, disease LIMIT ?",
        [run_id, limit]).fetchall()


def top_relations(con: duckdb.DuckDBPyConnection, run_id: str, limit: int = 20) -> list[tuple]:
    """(chemical_id, disease_id, chemical, disease, documents, best score) of the run's CID
    relations, most documents first."""
    return con.execute(
        "SELECT chemical_id, disease_id, any_value(chemical), any_value(disease), "
        "count(*) AS documents, round(max(score), 3) FROM pairs WHERE run_id = ? AND "
        "relation = 'CID' GROUP BY ALL ORDER BY documents DESC, 6 DESC, 1, 2 LIMIT ?",
        [run_id, limit]).fetchall()


def new_pairs(con: duckdb.DuckDBPyConnection, run_id: str, limit: int = 20) -> list[tuple]:
    """Chemical-disease pairs this run stored that no other run's rows have."""
    return con.execute(
        "SELECT chemical, disease, count(*) AS documents FROM pairs p WHERE run_id = ? AND NOT EXISTS "
        "(SELECT 1 FROM pairs q WHERE q.model = p.model AND q.chemical = p.chemical "
        "AND q.disease = p.disease AND q.run_id <> p.run_id) GROUP BY ALL "
        "ORDER BY documents DESC, chemical, disease LIMIT ?", [run_id, limit]).fetchall()


def run_rejects(con: duckdb.DuckDBPyConnection, run_id: str, limit: int = 10) -> list[tuple]:
    """(source, pmid, reason) of the records the run skipped, first `limit` by source and PMID."""
    return con.execute("SELECT source, pmid, reason FROM rejects WHERE run_id = ? "
                       "ORDER BY source, pmid LIMIT ?", [run_id, limit]).fetchall()
