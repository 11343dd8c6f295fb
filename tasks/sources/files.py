"""Input files of any supported format, as one stream of records, and that stream in batches."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path

from litmine.errors import ParseError
from litmine.tasks.sources.pubmed_xml import iter_pubmed_xml
from litmine.tasks.sources.pubtator import iter_pubtator
from litmine.tasks.records import Article, Deletion, Reject


def sniff_format(path: Path) -> str:
    """"pubmed-xml" or "pubtator", from the file's first bytes (gzip is looked into)."""
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
        return "pubmed-xml"
    first = start.split(b"\n", 1)[0]
    if b"|t|" in first or b"|a|" in first:
        return "pubtator"
    raise ParseError(
        f"read: {path} is neither PubMed XML nor PubTator (it starts with {first[:60]!r}); "
        "give PubMed XML (.xml, .xml.gz) as efetch or NCBI's baseline files ship it, or PubTator")


def iter_file_items(name: str | Path) -> Iterator[Article | Deletion | Reject]:
    """Articles, deletions and rejects of one input file, streamed."""
    path = Path(name)
    if sniff_format(path) == "pubmed-xml":
        yield from iter_pubmed_xml(path, source_name=str(path))
    else:
        for document in iter_pubtator(path):
            yield document.to_article(str(path))


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
