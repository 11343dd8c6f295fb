"""litmine: biomedical literature mining, PubMed to DuckDB, as Prefect flows."""

__version__ = "0.1.0"
