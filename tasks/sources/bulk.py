"""NCBI's bulk PubMed files (annual baseline + daily update files): order, checksums, progress.

NCBI ships PubMed as ``pubmedYYnNNNN.xml.gz`` files under ftp.ncbi.nlm.nih.gov/pubmed/baseline/
and .../updatefiles/, each with a ``.md5`` beside it (``MD5(pubmed26n1334.xml.gz)= <hex>``).
Update files continue the baseline's numbering and must be applied in that order: a later file
may revise (a higher <PMID Version>, or the same record again) or delete (<DeleteCitation>) a
record of an earlier one ("Download PubMed Data", pubmed.ncbi.nlm.nih.gov/download/).

The `files` table records each file's progress. A file is `done` only once every batch of it is
committed; a file left `loading` (the run crashed) is processed again whole, which is safe
because loads replace each PMID's rows and deletions are idempotent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from litmine.errors import LitmineError
from litmine.tasks.sources.files import chunked
from litmine.tasks.sources.pubmed_xml import iter_pubmed_xml
from litmine.tasks.records import Reject

#: NCBI's file names: pubmed + two-digit baseline year + "n" + four-digit number; NLM's sample file
#: (``pubmedsample18n0001.xml.gz``, the one litmine ships in data/sample) is named the same way.
FILE_NAME = re.compile(r"^pubmed(?:sample)?(\d{2})n(\d{4})\.xml(\.gz)?$")
_MD5_LINE = re.compile(r"^MD5\((?P<name>[^)]+)\)\s*=\s*(?P<hex>[0-9a-fA-F]{32})\s*$")
#: What the PubMed XML parser says when the compressed stream itself breaks off, as a cut download
#: does (tasks/sources/pubmed_xml.py); a malformed record in a whole file is only that record's Reject.
_CUT_SHORT = "truncated or corrupt"
_WHERE = "https://ftp.ncbi.nlm.nih.gov/pubmed/baseline/ and .../updatefiles/"

@dataclass(frozen=True)
class BulkFile:
    """One baseline or update file found on disk."""

    path: Path
    year: int
    number: int
    kind: str  # "baseline", "updatefiles" or "" (the directory does not say)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def md5_path(self) -> Path:
        return self.path.with_name(self.path.name + ".md5")


def find_bulk_files(directory: str | Path) -> list[BulkFile]:
    """The pubmedYYnNNNN.xml[.gz] files under `directory`, in the order they must be loaded."""
    root = Path(directory)
    if root.is_file():
        candidates = [root]
    elif root.is_dir():
        candidates = sorted(p for p in root.rglob("pubmed*") if p.is_file())
    else:
        raise LitmineError(f"refresh: {root} does not exist; pass the directory holding NCBI's "
                           f"pubmedYYnNNNN.xml.gz files ({_WHERE})")
    found: dict[str, BulkFile] = {}
    for path in candidates:
        match = FILE_NAME.match(path.name)
        if not match:
            continue
        kind = next((p for p in ("baseline", "updatefiles") if p in path.parts), "")
        if path.name in found:
            raise LitmineError(f"refresh: {path.name} is in {root} twice ({found[path.name].path} and "
                               f"{path}); keep one copy")
        found[path.name] = BulkFile(path, int(match.group(1)), int(match.group(2)), kind)
    if not found:
        raise LitmineError(f"refresh: no pubmedYYnNNNN.xml.gz files in {root}; download NCBI's "
                           f"baseline and update files from {_WHERE}")
    # Year first (a new baseline starts again at 0001), then NCBI's running number.
    return sorted(found.values(), key=lambda f: (f.year, f.number, f.kind != "baseline"))


def read_md5(path: Path) -> str:
    """The checksum in an NCBI .md5 file ("MD5(name)= hex", or md5sum's "hex  name")."""
    text = path.read_text(encoding="ascii", errors="replace").strip()
    match = _MD5_LINE.match(text)
    if match:
        return match.group("hex").lower()
    first = text.split()[0] if text else ""
    if re.fullmatch(r"[0-9a-fA-F]{32}", first):
        return first.lower()
    raise LitmineError(f"refresh: {path} does not hold an MD5 checksum (it reads {text[:80]!r}); "
                       "download it again")


def file_md5(path: Path, chunk: int = 1 << 20) -> str:
    """The MD5 of a file's bytes, as hex."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_md5(bulk: BulkFile) -> str:
    """The file's MD5, checked against its .md5 file when there is one."""
    actual = file_md5(bulk.path)
    if bulk.md5_path.is_file():
        expected = read_md5(bulk.md5_path)
        if actual != expected:
            raise LitmineError(
                f"refresh: {bulk.path} has MD5 {actual} but {bulk.md5_path.name} says {expected}: "
                f"the download is incomplete or corrupt. Download both files again ({_WHERE}) and "
                "rerun; the files before it stay loaded.")
    return actual


def iter_file_batches(bulk: BulkFile, batch_size: int) -> Iterator[list]:
    """The file's Articles, Deletions and Rejects in lists of `batch_size`, in file order.

    A file whose data breaks off (a cut download with no .md5 to tell) raises: marking it done
    would keep only its first records for good.
    """
    return chunked(_whole_records(bulk), batch_size)


def _whole_records(bulk: BulkFile) -> Iterator:
    for item in iter_pubmed_xml(bulk.path, source_name=bulk.name):
        if isinstance(item, Reject) and item.pmid is None and _CUT_SHORT in item.reason:
            raise LitmineError(f"refresh: {bulk.path} breaks off ({item.reason.removeprefix('parse: ')}); "
                               f"download it again ({_WHERE}) and rerun: it stays unfinished until then")
        yield item


# -- the files table (schema.py creates it) ---------------------------------------------------

def file_statuses(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """Every recorded file by name: status, md5, run_id, records."""
    rows = con.execute("SELECT name, status, md5, run_id, records FROM files").fetchall()
    return {r[0]: dict(zip(("name", "status", "md5", "run_id", "records"), r)) for r in rows}


def check_order(files: list[BulkFile], statuses: dict[str, dict]) -> None:
    """Refuse to load a file older than one already loaded: it would undo newer revisions."""
    newest_done = None
    for bulk in files:
        if statuses.get(bulk.name, {}).get("status") == "done":
            newest_done = bulk
    if newest_done is None:
        return
    for bulk in files:
        if bulk is newest_done:
            return
        if statuses.get(bulk.name, {}).get("status") != "done":
            raise LitmineError(
                f"refresh: {bulk.name} is not loaded but the later {newest_done.name} is; loading it "
                "now would put older versions of records over newer ones. Load the files into a new "
                "--db from the start, or remove the older file from the directory.")


def start_file(con: duckdb.DuckDBPyConnection, bulk: BulkFile, md5: str, model: str, run_id: str) -> None:
    """Mark a file `loading`, dropping the rejects an earlier, unfinished attempt left."""
    con.begin()
    try:
        con.execute("DELETE FROM rejects WHERE source = ?", [bulk.name])
        con.execute("INSERT OR REPLACE INTO files (name, kind, md5, size, status, model, run_id, started_at) "
                    "VALUES (?, ?, ?, ?, 'loading', ?, ?, ?)",
                    [bulk.name, bulk.kind, md5, bulk.path.stat().st_size, model, run_id,
                     datetime.now(timezone.utc)])
        con.commit()
    except Exception:
        con.rollback()
        raise


def finish_file(con: duckdb.DuckDBPyConnection, name: str, records: int, deleted: int, rejects: int) -> None:
    """Mark a file `done` (call only after every batch of it is committed)."""
    con.execute("UPDATE files SET status = 'done', records = ?, deleted = ?, rejects = ?, finished_at = ? "
                "WHERE name = ?", [records, deleted, rejects, datetime.now(timezone.utc), name])
