"""The DuckDB store: schema and migrations, locking and snapshots, read-only queries."""
