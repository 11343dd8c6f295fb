"""Errors a user can act on: the CLI prints them as one line and exits non-zero."""


class LitmineError(Exception):
    """Base class: the message names the stage, the input, what came back and what to do."""


class EutilsError(LitmineError):
    """An E-utilities request failed for good (after retries), or NCBI answered with an error."""


class ParseError(LitmineError):
    """An input file cannot be read at all (a single bad record becomes a Reject instead)."""


class ModelError(LitmineError):
    """A model cannot be loaded or is not of the kind needed."""


class ModelNotInstalledError(ModelError):
    """A litmine model named by an option or setting is in no checkout and no installed package."""


class StoreError(LitmineError):
    """The database cannot be opened or written (locked by another writer, wrong schema...)."""


class StoreBusyError(StoreError):
    """Another process holds the database: a litmine run writing it, or DuckDB's own lock for
    longer than litmine waits."""
