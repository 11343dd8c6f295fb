"""Per-document isolation: a stage that raises on one document rejects that document, not its
batch, its flow or its run (issue 21).

A per-document stage runs each document's work inside `isolated(stage, pmid, failures)`: an
exception becomes a `DocumentFailure` and the loop goes on to the next document. The batch then
drops every row of the failed documents (nothing is half-stored) and stores one `rejects` row
each, naming the stage and the exception. A failure of every document of a batch is not a bad
document but a broken stage or model: `check_batch` stops the run then, with the first error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from litmine.errors import LitmineError
from litmine.settings import get_settings
from litmine.tasks.records import DocumentFailure, Reject

#: Longest exception message kept in a reject's reason (a message can quote a whole document).
MAX_ERROR_CHARS = 500


class InjectedFault(RuntimeError):
    """Raised by the LITMINE_TEST_FAIL_DOCUMENT test hook (Settings.test_fail_document)."""


def describe_error(exc: BaseException) -> str:
    """`ExceptionType: message`, cut to MAX_ERROR_CHARS."""
    message = " ".join(str(exc).split())
    if len(message) > MAX_ERROR_CHARS:
        message = message[:MAX_ERROR_CHARS] + "…"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _inject_fault(stage: str, pmid: str) -> None:
    """Test hook, off unless set: LITMINE_TEST_FAIL_DOCUMENT=stage:PMID (stage:* for every
    document) raises here."""
    spec = get_settings().test_fail_document
    if spec and spec in (f"{stage}:{pmid}", f"{stage}:*"):
        raise InjectedFault(f"test hook LITMINE_TEST_FAIL_DOCUMENT={spec}")


@contextmanager
def isolated(stage: str, pmid: str, failures: list[DocumentFailure]) -> Iterator[None]:
    """Run one document's work of `stage`; an exception is appended to `failures`, not raised.

    Callers drop every result of a failed document by its PMID (`failed_pmids`), so that
    nothing of it is half-kept whatever the body had appended before it raised.
    """
    try:
        yield
        _inject_fault(stage, pmid)  # after the body: a test sees what a late error leaves behind
    except Exception as exc:  # noqa: BLE001  (any error of one document is that document's)
        failures.append(DocumentFailure(pmid, stage, describe_error(exc)))


def failed_pmids(failures: Iterable[DocumentFailure]) -> set[str]:
    return {f.pmid for f in failures}


def check_batch(stage: str, pmids: Sequence[str], failures: Sequence[DocumentFailure]) -> None:
    """Stop the run when every document (of two or more) of a batch failed `stage`: that is a
    broken stage or model, not a bad document, and rejecting the whole input would hide it."""
    distinct = set(pmids)
    failed = failed_pmids(f for f in failures if f.stage == stage) & distinct
    if len(distinct) >= 2 and failed == distinct:
        first = next(f for f in failures if f.stage == stage)
        raise LitmineError(
            f"{stage}: every one of the batch's {len(distinct)} documents failed (PMID "
            f"{first.pmid}: {first.error}); a stage that fails on every document is broken, not "
            "the documents: fix the model or input it needs and run again (--debug for details)")


def reject_documents(failures: Sequence[DocumentFailure], sources: Mapping[str, str]) -> list[Reject]:
    """One `rejects` row per failed document (its first failure), with its source file."""
    out, seen = [], set()
    for f in failures:
        if f.pmid in seen:
            continue
        seen.add(f.pmid)
        out.append(Reject(source=sources.get(f.pmid, ""), pmid=f.pmid, stage=f.stage,
                          reason=f"{f.stage}: {f.error}; the document was not stored"))
    return out
