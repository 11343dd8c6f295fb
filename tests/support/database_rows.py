"""What tells two litmine databases with the same content apart by design, for tests that
compare two files row by row (a killed-then-rerun run against an uninterrupted one, the Dask
runner against the local one)."""

#: Rows that identify the file, not its content: `meta.database_id` (schema 8) is a random ID
#: each database gets, so that an HNSW index file knows which database it was built from.
PER_DATABASE = {"meta": "key <> 'database_id'"}


def content_filter(table: str, where: str = "") -> str:
    """`where` (a " WHERE ..." clause or "") with the table's per-database rows left out."""
    extra = PER_DATABASE.get(table)
    if not extra:
        return where
    return f"{where} AND {extra}" if where else f" WHERE {extra}"
