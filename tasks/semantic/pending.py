"""What `litmine embed` has to do, read without loading a model: the texts of a database that lack
a current vector from a model. Torch-free, so that a no-op `embed` answers in a second, before a
flow run or a model load (issue 22)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from litmine.errors import LitmineError
from litmine.settings import get_settings
from litmine.tasks.model_names import BUNDLED_MODEL

#: Name stored with vectors made by the bundled model (its hub ID, so a database stays portable).
DEFAULT_EMBED_MODEL = BUNDLED_MODEL
LEVELS = ("abstract", "sentence")

PENDING = {
    # Articles whose document text has no vector from this model (new, or changed since).
    "abstract": """
        SELECT a.pmid FROM articles a WHERE NOT EXISTS (
            SELECT 1 FROM {t} e WHERE e.model = $model AND e.level = 'abstract'
            AND e.pmid = a.pmid AND e.text_md5 = md5(a.title || ' ' || coalesce(a.abstract, '')))
        UNION
        SELECT e.pmid FROM {t} e WHERE e.model = $model AND e.level = 'abstract'
            AND e.pmid NOT IN (SELECT pmid FROM articles)
        ORDER BY 1""",
    # Documents with a sentence lacking a current vector, or with vectors of gone sentences.
    "sentence": """
        SELECT s.pmid FROM sentences s WHERE NOT EXISTS (
            SELECT 1 FROM {t} e WHERE e.model = $model AND e.level = 'sentence'
            AND e.pmid = s.pmid AND e.sentence_index = s.sentence_index
            AND e.text_md5 = md5(s.text))
        UNION
        SELECT e.pmid FROM {t} e WHERE e.model = $model AND e.level = 'sentence'
            AND NOT EXISTS (SELECT 1 FROM sentences s WHERE s.pmid = e.pmid
            AND s.sentence_index = e.sentence_index AND md5(s.text) = e.text_md5)
        ORDER BY 1""",
}

#: The table each level's texts come from: with no vector table yet, every row is pending.
_SOURCES = {"abstract": "articles", "sentence": "sentences"}


def default_embed_model() -> str:
    """$LITMINE_EMBED_MODEL, else the bundled all-MiniLM-L6-v2."""
    return get_settings(fresh=True).embed_model or DEFAULT_EMBED_MODEL


def stored_models(con: duckdb.DuckDBPyConnection, level: str) -> list[tuple[str, str, int]]:
    """(model, table, vectors) at a level, most vectors first; [] when nothing was embedded."""
    has_registry = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'embedding_models'"
    ).fetchone()[0]
    if not has_registry:
        return []
    found = []
    for model, table in con.execute(
            "SELECT model, table_name FROM embedding_models ORDER BY model").fetchall():
        n = con.execute(f"SELECT count(*) FROM {table} WHERE model = ? AND level = ?",
                        [model, level]).fetchone()[0]
        if n:
            found.append((model, table, int(n)))
    return sorted(found, key=lambda x: -x[2])


def count_pending(db: Path, model_name: str, levels: list[str]) -> dict[str, int] | None:
    """Documents per level whose texts lack a current vector from `model_name` (the name
    `resolve_model_source` stores); None when another process holds the database (the flow
    then decides). A LitmineError when `db` is not a litmine database."""
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.IOException:
        return None  # a writer holds the lock: the embed flow waits for it and counts itself
    except duckdb.Error as exc:
        raise LitmineError(f"embed: cannot read {db} ({str(exc).splitlines()[0][:200]}); pass a "
                           "database written by `litmine mine`") from exc
    try:
        table = None
        try:
            row = con.execute("SELECT table_name FROM embedding_models WHERE model = ?",
                              [model_name]).fetchone()
            table = row[0] if row else None
        except duckdb.CatalogException:
            pass  # nothing embedded yet
        counts = {}
        for level in levels:
            if table is None:
                sql = f"SELECT count(DISTINCT pmid) FROM {_SOURCES[level]}"
            else:
                sql = f"SELECT count(*) FROM ({PENDING[level].format(t=table)})"
            counts[level] = con.execute(sql, {"model": model_name} if table else None).fetchone()[0]
        return counts
    except duckdb.CatalogException as exc:
        raise LitmineError(f"embed: {db} is not a litmine database ({str(exc).splitlines()[0][:200]}); "
                           "run `litmine mine --db DB` first, or pass the database it wrote") from exc
    finally:
        con.close()
