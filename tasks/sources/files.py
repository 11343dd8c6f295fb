"""Input files of any supported format (PubMed XML, BioC XML/JSON, PubTator), as one stream of
records, and that stream in batches."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from litmine.errors import ParseError
from litmine.tasks.sources.bioc_reader import iter_bioc_json, iter_bioc_xml
from litmine.tasks.sources.pubmed_xml import iter_pubmed_xml
from litmine.tasks.sources.pubtator import iter_pubtator
from litmine.tasks.records import Article, Deletion, Reject


#: The formats `sniff_format` tells apart, as it names them.
FORMATS = ("pubmed-xml", "bioc-xml", "bioc-json", "pubtator")
#: The first element's name in an XML head, after the declaration, comments and DOCTYPE.
_FIRST_ELEMENT = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_XML_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)


def sniff_format(path: Path) -> str:
    """One of FORMATS, from the file's first 4 KiB (gzip is looked into): XML whose root is
    <collection> is BioC XML, other XML PubMed XML; JSON (``{`` or ``[``) is BioC JSON; a first
    line with ``|t|`` or ``|a|`` is PubTator."""
    try:
        with open(path, "rb") as raw:
            head = raw.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as handle:
            start = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except FileNotFoundError as exc:
        raise ParseError(f"read: input file {path} does not exist; check the path") from exc
    except (OSError, EOFError) as exc:
        raise ParseError(f"read: cannot read {path}: {exc}") from exc
    if start.startswith(b"<"):
        root = _FIRST_ELEMENT.search(_XML_COMMENT.sub(b"", start))
        return "bioc-xml" if root is not None and root.group(1) == b"collection" else "pubmed-xml"
    if start[:1] in (b"{", b"["):
        return "bioc-json"
    first = start.split(b"\n", 1)[0]
    if b"|t|" in first or b"|a|" in first:
        return "pubtator"
    raise ParseError(
        f"read: {path} is neither PubMed XML, BioC (XML or JSON) nor PubTator (it starts with "
        f"{first[:60]!r}); give PubMed XML (.xml, .xml.gz) as efetch or NCBI's baseline files ship "
        "it, BioC as PubTator3 or the NCBI BioC API serve it, or PubTator")


def iter_file_items(name: str | Path) -> Iterator[Article | Deletion | Reject]:
    """Articles, deletions and rejects of one input file, streamed."""
    path = Path(name)
    fmt = sniff_format(path)
    if fmt == "pubmed-xml":
        yield from iter_pubmed_xml(path, source_name=str(path))
    elif fmt == "bioc-xml":
        yield from iter_bioc_xml(path)
    elif fmt == "bioc-json":
        yield from iter_bioc_json(path)
    else:
        yield from _pubtator_items(path)


#: Reader issues that drop a whole PubTator document (tasks/sources/pubtator.py).
_DOCUMENT_SKIPS = ("no-title", "empty-document")


def _pubtator_items(path: Path) -> Iterator[Article | Reject]:
    """A PubTator file's documents (consecutive entries of a PMID are one full text), and a
    reject for each document the reader skipped and each later, non-consecutive entry of a PMID
    already read: a revision or a mistake, never merged into the first and never dropped in
    silence (the first one is kept)."""
    reader = iter_pubtator(path)
    seen: set[str] = set()
    issues = 0
    for document in reader:
        for issue in reader.stats.issues[issues:]:
            if issue.kind in _DOCUMENT_SKIPS:
                yield Reject(str(path), f"parse: line {issue.line}: {issue.message}", issue.pmid)
        issues = len(reader.stats.issues)
        if document.pmid in seen:
            yield Reject(str(path), f"parse: PMID {document.pmid} appears again (a repeated "
                         "document, or entries of one article that are not consecutive: only "
                         "consecutive entries are read as its passages); kept its first occurrence "
                         "and skipped this one: remove or renumber the duplicate", document.pmid)
            continue
        seen.add(document.pmid)
        yield document.to_article(str(path))
    for issue in reader.stats.issues[issues:]:
        if issue.kind in _DOCUMENT_SKIPS:
            yield Reject(str(path), f"parse: line {issue.line}: {issue.message}", issue.pmid)


def chunked(items: Iterable, size: int) -> Iterator[list]:
    """`items` in lists of `size` (the last one shorter), in order."""
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
