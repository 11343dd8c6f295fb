"""Parse PubMed XML -- efetch responses, baseline and update files -- into records, streamed.

Input: the bytes of a ``<PubmedArticleSet>`` as efetch returns them, or a path / binary file
object of an NCBI baseline or update file (``.xml``, or gzip -- recognised by its magic bytes,
whatever the name). Records are read one at a time with ``lxml.etree.iterparse`` and each element
is cleared (with its preceding siblings) once used, so a 30,000-record file is never held in
memory. No DTD is loaded, no entity is resolved from outside, no network is touched, although the
files carry a DOCTYPE line.

Output, in document order: an ``Article`` per ``<PubmedArticle>`` / ``<PubmedBookArticle>``, a
``Deletion`` per ``<DeleteCitation>`` (update files), and a ``Reject`` for anything that cannot be
used (no PMID, a record whose parse raised, malformed XML part-way -- after which the rest of
the file is read record by record (`_salvage`), so one broken record costs only itself), and for
a PMID read again from the same source (the later copy replaces the earlier one, as the store
does, unless its version is lower).

Text and field rules are on `litmine.tasks.sources.pubmed_record`; byte-level repair
(control characters, bytes that are not UTF-8, cut gzip files) on `litmine.tasks.sources.byte_streams`.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from lxml import etree
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

from litmine.errors import ParseError
from litmine.tasks.records import Article, Deletion, Reject
from litmine.tasks.sources.byte_streams import INVALID_BYTE_MARK, HeadRecorder, LenientGunzip, Prefixed, Utf8Cleaner
from litmine.tasks.sources.pubmed_record import parse_article, record_pmid, text_of, texts_of

__all__ = ["INVALID_BYTE_MARK", "iter_pubmed_xml", "parse_article", "parse_pubmed_xml"]

Record = Article | Deletion | Reject

_ROOT_TAG = "PubmedArticleSet"
_RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle")
_DELETE_TAG = "DeleteCitation"
_WHERE_FILES_ARE = "baseline and update files are at https://ftp.ncbi.nlm.nih.gov/pubmed/"
_ROOT_START = re.compile(rb"<" + _ROOT_TAG.encode() + rb"[\s>]")


def _resolve(source, source_name: str | None) -> tuple[str, Callable[[], BinaryIO], bool]:
    """Return (name, opener, whether we close what opener returns); raise ParseError early."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data or data.isspace():
            raise ParseError(f"parse: {source_name or 'efetch'} gave an empty body, not PubMed XML; "
                             "re-run the fetch (efetch with db=pubmed&retmode=xml)")
        return source_name or "efetch", lambda: io.BytesIO(data), True
    if isinstance(source, (str, os.PathLike)):
        if isinstance(source, str) and source.lstrip().startswith("<"):
            raise ParseError("parse: got a str that looks like XML text, not a path; "
                             "pass the XML as bytes (e.g. response.content)")
        path = Path(source)
        if not path.exists():
            raise ParseError(f"parse: PubMed XML file {str(source)!r} does not exist; check the path "
                             f"({_WHERE_FILES_ARE})")
        if not path.is_file():
            raise ParseError(f"parse: {str(source)!r} is not a file; pass one .xml or .xml.gz file")
        return source_name or str(source), lambda: open(path, "rb"), True
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        return source_name or (name if isinstance(name, str) else "efetch"), lambda: source, False
    raise TypeError(f"iter_pubmed_xml takes a path, bytes or a binary file, not {type(source).__name__}")


def iter_pubmed_xml(source: str | os.PathLike | bytes | BinaryIO, *,
                    source_name: str | None = None) -> Iterator[Record]:
    """Yield the Articles, Deletions and Rejects of PubMed XML (efetch bytes or a baseline/update file).

    `source` is a path (str or Path; gzip or not), the bytes of a response, or a binary file
    object; Article.source is `source_name`, else the path (or file object's name), else "efetch".
    Raises ParseError at once for a missing file, and on iteration for input that is not PubMed
    XML at all. Malformed XML after the start yields one Reject naming the line, and stops.
    """
    name, opener, owned = _resolve(source, source_name)
    return _iter_records(name, opener, owned)


def _iter_records(name: str, opener: Callable[[], BinaryIO], owned: bool) -> Iterator[Record]:
    raw = opener()
    stream = None
    try:
        head = raw.read(2)
        if not isinstance(head, bytes):
            raise ParseError(f"parse: {name} was opened in text mode; open it with mode 'rb'")
        stream = Prefixed(head, raw)
        if head == b"\x1f\x8b":
            stream = gzip.GzipFile(fileobj=stream, mode="rb")
        recorder = HeadRecorder(stream)
        context = etree.iterparse(
            Utf8Cleaner(recorder), events=("start", "end"), tag=(_ROOT_TAG, *_RECORD_TAGS, _DELETE_TAG),
            load_dtd=False, no_network=True, resolve_entities=False, huge_tree=False)
        started = False
        n_records = n_items = 0
        seen: dict[str, tuple[int, int]] = {}  # PMID -> (version, item number) in this source
        while True:
            try:
                event, element = next(context)
            except StopIteration:
                break
            except (etree.XMLSyntaxError, OSError, EOFError, zlib.error) as exc:
                if isinstance(exc, etree.XMLSyntaxError):
                    line, column = exc.position
                    what = f"malformed XML at line {line}, column {column}: {exc.msg}"
                else:
                    what = f"the file is truncated or corrupt ({type(exc).__name__}: {exc})"
                # The root may have opened in the chunk that held the error, its event unseen.
                started = started or bool(_ROOT_START.search(recorder.head))
                if not started:
                    raise ParseError(f"parse: {name} is not PubMed XML: {what}; expected a "
                                     f"<PubmedArticleSet> from efetch (retmode=xml) or NCBI's "
                                     f"baseline/update files ({_WHERE_FILES_ARE})") from exc
                if owned:  # we can read it again, record by record
                    yield from _salvage(name, opener, n_items, what, seen)
                    return
                yield Reject(name, f"parse: {what}; kept the {n_records} record(s) before it and skipped "
                                   f"the rest of the file; re-download the file (check its .md5) or "
                                   f"re-run the efetch batch")
                return
            started = True
            if event == "start":
                continue
            if element.tag == _DELETE_TAG:
                record: Record = Deletion(pmids=texts_of(element.findall("PMID")), source=name)
            elif element.tag in _RECORD_TAGS:
                n_records += 1
                record = _article_or_reject(element, name)
            else:  # the end of <PubmedArticleSet>
                continue
            _release(element)
            n_items += 1
            yield from _unless_duplicate(record, seen, name, n_items)
        if not started:
            root = context.root
            tag = root.tag if root is not None else None
            said = text_of(root.find("ERROR")) if root is not None else ""
            raise ParseError(f"parse: {name} is XML but not PubMed XML: its root element is <{tag}>"
                             f"{f' saying {said!r}' if said else ''}, not <{_ROOT_TAG}>; fetch with "
                             "db=pubmed&retmode=xml or use NCBI's baseline/update files")
    finally:
        if isinstance(stream, gzip.GzipFile):
            stream.close()
        if owned:
            raw.close()


def _article_or_reject(element, name: str) -> Article | Reject:
    try:
        return parse_article(element, source=name)
    except Exception as exc:  # one bad record never sinks the file: it becomes a Reject
        pmid = record_pmid(element)
        label = f"PMID {pmid}" if pmid else "record"
        return Reject(name, f"parse: <{element.tag}> at line {element.sourceline} ({label}) skipped: "
                            f"{exc}", pmid)


def _unless_duplicate(record: Record, seen: dict, name: str, number: int) -> Iterator[Record]:
    """`record`, with a Reject for the copy it replaces when its PMID came earlier in the source.

    The later copy wins (the store keeps the last one loaded) unless its version is lower.
    """
    if not isinstance(record, Article):
        yield record
        return
    before = seen.get(record.pmid)
    if before is not None and record.version < before[0]:
        yield Reject(name, f"parse: duplicate PMID {record.pmid}: record {number} is version "
                           f"{record.version}, older than version {before[0]} in record {before[1]}; "
                           "skipped it", record.pmid)
        return
    seen[record.pmid] = (record.version, number)
    if before is not None:
        yield Reject(name, f"parse: duplicate PMID {record.pmid}: record {before[1]} (version "
                           f"{before[0]}) is replaced by record {number} (version {record.version})",
                     record.pmid)
    yield record


_START = re.compile(rb"<(PubmedArticle|PubmedBookArticle|DeleteCitation)[\s>]")
_FIRST_PMID = re.compile(rb"<(?:MedlineCitation|BookDocument)[^>]*>\s*<PMID[^>]*>\s*([0-9]+)\s*</PMID>")
# An external DTD that is not loaded: undeclared entities stay references, as in the stream.
_CHUNK_DOCTYPE = b'<!DOCTYPE PubmedArticleSet SYSTEM "pubmed.dtd">\n'


def _salvage(name: str, opener: Callable[[], BinaryIO], done: int, first_error: str,
             seen: dict) -> Iterator[Record]:
    """After malformed XML or a cut: the items after the first `done`, each parsed on its own.

    Items are cut at their start tags, so a broken one (an unclosed or misspelt tag, a cut) is
    one Reject and the rest are read; the first Reject carries the stream parser's `first_error`.
    """
    raw, stream, number, rejected = opener(), None, 0, False
    parser = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
    advice = "re-download the file (check its .md5) or re-run the efetch batch"
    try:
        head = raw.read(2)
        stream = Prefixed(head, raw)
        if head == b"\x1f\x8b":
            stream = LenientGunzip(stream)
        reader, buffer, eof = Utf8Cleaner(stream), b"", False
        while not eof:
            data = reader.read(1 << 20)
            eof, buffer = not data, buffer + data
            starts = [m.start() for m in _START.finditer(buffer)]
            ends = starts[1:] + [len(buffer)] if eof else starts[1:]
            for start, end in zip(starts, ends):
                number += 1
                if number <= done:
                    continue
                chunk = buffer[start:end]
                tag = _START.match(chunk).group(1).decode()
                close = chunk.rfind(f"</{tag}>".encode())
                try:
                    if close < 0:
                        raise ValueError(f"no closing </{tag}> (cut short?)")
                    element = etree.fromstring(_CHUNK_DOCTYPE + chunk[:close + len(tag) + 3], parser)
                except (etree.XMLSyntaxError, ValueError) as exc:
                    found = _FIRST_PMID.search(chunk)
                    said = f"its text says PMID {found.group(1).decode()}" if found else "no PMID found"
                    why = (f"{first_error}; kept the {number - 1} record(s) before it" if not rejected
                           else f"not well-formed XML ({exc})")
                    rejected = True  # the PMID of broken XML is a guess: named in the reason only
                    yield Reject(name, f"parse: {why}; skipped <{tag}> #{number} ({said}) and read the "
                                       f"rest of the file record by record; {advice}")
                    continue
                if tag == _DELETE_TAG:
                    yield Deletion(pmids=texts_of(element.findall("PMID")), source=name)
                else:
                    yield from _unless_duplicate(_article_or_reject(element, name), seen, name, number)
            buffer = b"" if eof else buffer[starts[-1]:] if starts else buffer[-64:]
        if not rejected:
            yield Reject(name, f"parse: {first_error}; kept all {number} record(s) that are whole "
                               f"in the file; {advice}")
    finally:
        raw.close()


def _release(element) -> None:
    """Free a parsed record and everything before it, so memory stays flat over a whole file."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


# ---------------------------------------------------------------------------------------------
# Prefect wrapper
# ---------------------------------------------------------------------------------------------

def _logger():
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


@task(name="parse-pubmed-xml", cache_policy=NO_CACHE)
def parse_pubmed_xml(source: str | os.PathLike | bytes | BinaryIO,
                     source_name: str | None = None) -> list[Record]:
    """Parse one efetch batch (or a small file) into a list of Articles, Deletions and Rejects."""
    records = list(iter_pubmed_xml(source, source_name=source_name))
    counts = {kind.__name__: sum(isinstance(r, kind) for r in records) for kind in (Article, Deletion, Reject)}
    _logger().info("parsed %s: %d articles, %d deletions, %d rejects",
                   source_name or (source if isinstance(source, (str, os.PathLike)) else "efetch"),
                   counts["Article"], counts["Deletion"], counts["Reject"])
    return records
