"""The DuckDB store: one way to open it (access), the run lock that keeps one writing run at a time (locking), schema and migrations, loads, a run's bookkeeping, read-only queries and reports."""
