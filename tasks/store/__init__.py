"""The DuckDB store: one way to open it (access), schema and migrations, loads, a run's bookkeeping, snapshots, read-only queries and reports."""
