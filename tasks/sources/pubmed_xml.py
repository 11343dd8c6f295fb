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

Text rules (offsets downstream index ``title + " " + abstract``, so the text stored here is the
truth):

- A text field keeps every character of its element in document order, inline markup (``<i>``,
  ``<b>``, ``<sup>``, ``<sub>``, ``<u>``) and MathML included: ``Cu<sub>2</sub>O`` -> ``Cu2O``.
  Character references and raw UTF-8 decode to the same characters.
- Control characters other than tab, LF and CR (U+0000-U+0008, U+000B, U+000C, U+000E-U+001F,
  U+007F-U+009F) are removed -- raw or as ``&#x1;`` references, which XML 1.0 forbids anyway and
  which would otherwise stop the parser.
- Then every run of whitespace (``str.split``'s definition: Unicode whitespace, no-break and thin
  spaces included) becomes one space, and the ends are stripped.
- A structured abstract is its ``<AbstractText>`` sections joined by one space, each written
  ``"LABEL: text"`` when it has a ``Label`` -- the form of the BioCreative V CDR (BC5CDR) PubTator
  files, e.g. PMID 11752354 ``"BACKGROUND: An association ... mutations METHODS: In a ..."``.
- ``<CopyrightInformation>`` is not part of the abstract; ``<OtherAbstract>`` (translations,
  publisher and plain-language summaries) is ignored. A record without an abstract is kept with
  ``abstract == ""``; one with neither title nor abstract is rejected (nothing to mine).
- Bytes that are not valid UTF-8 become U+10FFFD (``INVALID_BYTE_MARK``) before parsing, so one bad
  byte does not stop a file; a record that would store the mark is rejected, a record whose bad
  bytes sit in a field we do not keep (an affiliation, say) is kept. Files that declare another
  encoding in their XML declaration are passed to the parser as they are.

Unknown elements are ignored. Field choices are documented on ``parse_article``; element meanings
(ValidYN, MedlineDate, Season, AuthorList Type, ...) follow NLM's "MEDLINE/PubMed XML Data
Elements" (https://www.nlm.nih.gov/bsd/licensee/elements_descriptions.html) and the PubMed DTD
(https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd).
"""

from __future__ import annotations

import codecs
import datetime
import gzip
import html.entities
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
from litmine.tasks.records import Article, Author, Deletion, Reject

__all__ = ["INVALID_BYTE_MARK", "iter_pubmed_xml", "parse_article", "parse_pubmed_xml"]

Record = Article | Deletion | Reject

#: Stands in for bytes that are not UTF-8: the last private-use code point, valid in XML 1.0 and
#: absent from PubMed text (U+FFFD is not used because real records contain it).
INVALID_BYTE_MARK = "\U0010fffd"

_ROOT_TAG = "PubmedArticleSet"
_RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle")
_DELETE_TAG = "DeleteCitation"
_WHERE_FILES_ARE = "baseline and update files are at https://ftp.ncbi.nlm.nih.gov/pubmed/"

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# What the byte-level cleaner rewrites: raw C0 controls (dropped as bytes: they are never part of
# a multi-byte UTF-8 sequence), references to C0 controls (dropped), runs of undecodable bytes
# (surrogateescape'd by the decoder; -> INVALID_BYTE_MARK).
_C0_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_C0_REFERENCE = re.compile("&#(?:[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F])|0*(?:[0-8]|1[124-9]|2[0-9]|3[01]));")
_UNDECODABLE = re.compile("[\udc80-\udcff]+")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


# ---------------------------------------------------------------------------------------------
# Text and field helpers
# ---------------------------------------------------------------------------------------------

def _clean(text: str | None) -> str:
    """Drop control characters, collapse whitespace runs to one space, strip the ends."""
    if not text:
        return ""
    return " ".join(_CONTROL.sub("", text).split())


def _gather(element, parts: list[str]) -> None:
    if element.text:
        parts.append(element.text)
    for child in element:
        if isinstance(child.tag, str):
            _gather(child, parts)
        elif child.tag is etree.Entity:  # an entity the DTD would define: decode HTML names
            parts.append(html.entities.html5.get(f"{child.name};", child.text or ""))
        if child.tail:  # comments and processing instructions give only their tail
            parts.append(child.tail)


def _text(element) -> str:
    """Return all text inside an element (markup and MathML included), cleaned; "" for None."""
    if element is None:
        return ""
    parts: list[str] = []
    _gather(element, parts)
    return _clean("".join(parts))


def _texts(elements) -> tuple[str, ...]:
    return tuple(t for t in (_text(e) for e in elements) if t)


def _pmid(element) -> tuple[str, int]:
    """Return (PMID, version) of a <PMID> element; raise ValueError when missing or not a number."""
    pmid = _text(element)
    if not pmid:
        raise ValueError("no PMID")
    if not re.fullmatch(r"[0-9]+", pmid):
        raise ValueError(f"PMID {pmid!r} is not a number")
    version = (element.get("Version") or "").strip()
    return pmid, int(version) if version.isascii() and version.isdigit() else 1


def _pub_date(element) -> tuple[str, int | None]:
    """Return ("YYYY" | "YYYY-MM" | "YYYY-MM-DD", year) from a <PubDate>; ("", None) if none.

    Season ("Nov-Dec") is dropped; a MedlineDate ("1998 Dec-1999 Jan") gives its first 4 digits.
    """
    if element is None:
        return "", None
    year = _text(element.find("Year"))
    if not re.fullmatch(r"[0-9]{4}", year):
        found = re.search(r"[0-9]{4}", _text(element.find("MedlineDate")))
        return (found.group(), int(found.group())) if found else ("", None)
    month_text = _text(element.find("Month"))
    month = int(month_text) if month_text.isascii() and month_text.isdigit() else \
        _MONTHS.get(month_text[:3].lower(), 0)
    if not 1 <= month <= 12:
        return year, int(year)
    day_text = _text(element.find("Day"))
    try:
        day = datetime.date(int(year), month, int(day_text)).day
    except ValueError:
        return f"{year}-{month:02d}", int(year)
    return f"{year}-{month:02d}-{day:02d}", int(year)


def _abstract(element) -> str:
    """Join an <Abstract>'s <AbstractText> sections, each "LABEL: text" when labelled."""
    if element is None:
        return ""
    parts = []
    for section in element.findall("AbstractText"):
        text = _text(section)
        if text:
            label = _clean(section.get("Label"))
            parts.append(f"{label}: {text}" if label else text)
    return " ".join(parts)


def _doi(elocations, article_ids) -> str:
    """First valid <ELocationID EIdType="doi">, else the first <ArticleId IdType="doi">."""
    for element in elocations:
        if element.get("EIdType") == "doi" and element.get("ValidYN", "Y") != "N" and _text(element):
            return _text(element)
    for element in article_ids:
        if element.get("IdType") == "doi" and _text(element):
            return _text(element)
    return ""


def _authors(author_lists) -> tuple[Author, ...]:
    """Authors of the given <AuthorList>s, skipping those NLM marks ValidYN="N"."""
    authors = []
    for author_list in author_lists:
        for element in author_list.findall("Author"):
            if element.get("ValidYN") == "N":
                continue
            author = Author(
                last_name=_text(element.find("LastName")),
                fore_name=_text(element.find("ForeName")) or _text(element.find("FirstName")),
                initials=_text(element.find("Initials")),
                collective=_text(element.find("CollectiveName")),
            )
            if author.last_name or author.fore_name or author.initials or author.collective:
                authors.append(author)
    return tuple(authors)


def _not_editors(author_lists) -> list:
    return [a for a in author_lists if a.get("Type", "authors") != "editors"]


def _check(article: Article) -> Article:
    """Raise ValueError for an article with nothing to mine or with undecodable bytes stored."""
    if not article.title and not article.abstract:
        raise ValueError("no title and no abstract: nothing to mine")
    stored = [article.title, article.abstract, article.journal, article.doi, article.language,
              *article.publication_types, *article.mesh_headings,
              *(a.last_name + a.fore_name + a.initials + a.collective for a in article.authors)]
    if any(INVALID_BYTE_MARK in s for s in stored):
        raise ValueError("its text holds bytes that are not valid UTF-8 (stored as U+10FFFD); "
                         "re-download the file or re-fetch the PMID")
    return article


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------

def parse_article(element, *, source: str = "") -> Article:
    """Build an Article from one <PubmedArticle> or <PubmedBookArticle> element.

    Journal articles: title = ArticleTitle, or VernacularTitle when that is empty; journal =
    Journal/Title; pub_date from JournalIssue/PubDate; DOI from ELocationID, else PubmedData's
    ArticleIdList (never from a ReferenceList); MeSH = DescriptorName texts (qualifiers dropped);
    language = the first Language; authors from Article/AuthorList.

    Books (PubmedBookArticle): title = the chapter's ArticleTitle, else Book/BookTitle (then
    VernacularTitle); journal = BookTitle for a chapter, the publisher's name for a whole book;
    pub_date from Book/PubDate; authors from the AuthorLists that are not Type="editors", the
    document's first, then the book's; no MeSH.

    Raises ValueError (the stream turns it into a Reject) for a record without PMID, or one with
    neither title nor abstract, or with undecodable bytes in a stored field.
    """
    if element.tag == "PubmedBookArticle":
        return _parse_book(element, source)
    if element.tag != "PubmedArticle":
        raise ValueError(f"expected <PubmedArticle> or <PubmedBookArticle>, got <{element.tag}>")
    citation = element.find("MedlineCitation")
    if citation is None:
        raise ValueError("no <MedlineCitation>")
    pmid, version = _pmid(citation.find("PMID"))
    article = citation.find("Article")
    if article is None:
        raise ValueError("no <Article> in <MedlineCitation>")
    pub_date, year = _pub_date(article.find("Journal/JournalIssue/PubDate"))
    return _check(Article(
        pmid=pmid,
        version=version,
        title=_text(article.find("ArticleTitle")) or _text(article.find("VernacularTitle")),
        abstract=_abstract(article.find("Abstract")),
        journal=_text(article.find("Journal/Title")),
        pub_date=pub_date,
        year=year,
        doi=_doi(article.findall("ELocationID"), element.findall("PubmedData/ArticleIdList/ArticleId")),
        publication_types=_texts(article.findall("PublicationTypeList/PublicationType")),
        mesh_headings=_texts(citation.findall("MeshHeadingList/MeshHeading/DescriptorName")),
        language=next(iter(_texts(article.findall("Language"))), ""),
        authors=_authors(article.findall("AuthorList")),
        source=source,
    ))


def _parse_book(element, source: str) -> Article:
    document = element.find("BookDocument")
    if document is None:
        raise ValueError("no <BookDocument>")
    pmid, version = _pmid(document.find("PMID"))
    chapter_title = _text(document.find("ArticleTitle"))
    book_title = _text(document.find("Book/BookTitle"))
    pub_date, year = _pub_date(document.find("Book/PubDate"))
    return _check(Article(
        pmid=pmid,
        version=version,
        title=chapter_title or book_title or _text(document.find("VernacularTitle")),
        abstract=_abstract(document.find("Abstract")),
        journal=book_title if chapter_title else _text(document.find("Book/Publisher/PublisherName")),
        pub_date=pub_date,
        year=year,
        doi=_doi(document.findall("ELocationID") + document.findall("Book/ELocationID"),
                 document.findall("ArticleIdList/ArticleId")
                 + element.findall("PubmedBookData/ArticleIdList/ArticleId")),
        publication_types=_texts(document.findall("PublicationType")),
        language=next(iter(_texts(document.findall("Language"))), ""),
        authors=_authors(_not_editors(document.findall("AuthorList"))
                         or _not_editors(document.findall("Book/AuthorList"))),
        source=source,
    ))


def _record_pmid(element) -> str | None:
    """The PMID of a record that failed to parse, when it has a usable one."""
    found = element.find("MedlineCitation/PMID")
    if found is None:
        found = element.find("BookDocument/PMID")
    pmid = _text(found)
    return pmid if re.fullmatch(r"[0-9]+", pmid) else None


# ---------------------------------------------------------------------------------------------
# Byte streams
# ---------------------------------------------------------------------------------------------

class _Prefixed:
    """A reader that returns `head` and then the rest of `raw` (after sniffing the magic bytes)."""

    def __init__(self, head: bytes, raw: BinaryIO):
        self._head, self._raw = head, raw

    def read(self, size: int | None = -1) -> bytes:
        head, self._head = self._head, b""
        if size is None or size < 0:
            return head + self._raw.read()
        if size < len(head):
            head, self._head = head[:size], head[size:]
        return head + self._raw.read(size - len(head)) if len(head) < size else head


class _HeadRecorder:
    """A reader that keeps the first `keep` bytes it passes on (to tell, after a parse error,
    whether the document had started: lxml 6 / libxml2 2.14 raise an error found in a read
    chunk before handing out the events parsed ahead of it in that chunk)."""

    def __init__(self, raw, keep: int = 1 << 16):
        self._raw, self._keep, self.head = raw, keep, b""

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read(size)
        if len(self.head) < self._keep:
            self.head += data[:self._keep - len(self.head)]
        return data


_ROOT_START = re.compile(rb"<" + _ROOT_TAG.encode() + rb"[\s>]")


class _Utf8Cleaner:
    """A reader over UTF-8 XML that rewrites what a strict XML parser would stop on (see above)."""

    def __init__(self, raw):
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self._carry = ""  # a possible character reference cut by the chunk boundary
        self._done = False
        self._passthrough: bool | None = None

    def read(self, size: int | None = -1) -> bytes:
        size = size if size and size > 0 else 1 << 15  # lxml asks for its chunk_size, 32 KiB
        while not self._done:
            data = self._raw.read(size)
            if self._passthrough is None:
                self._passthrough = _declares_other_encoding(data)
            if self._passthrough:
                self._done = not data
                return data
            self._done = not data
            text = self._carry + self._decoder.decode(data.translate(None, _C0_BYTES), final=self._done)
            self._carry = ""
            # hold back a reference cut by the read: the longest one XML allows without leading
            # zeros, "&#1114111;", has 10 characters; 12 leaves room for a couple of zeros
            amp = text.rfind("&", max(0, len(text) - 12))
            if not self._done and amp != -1 and ";" not in text[amp:]:
                text, self._carry = text[:amp], text[amp:]
            if _C0_REFERENCE.search(text):
                text = _C0_REFERENCE.sub("", text)
            try:
                encoded = text.encode("utf-8")
            except UnicodeEncodeError:  # the decoder met bytes that are not UTF-8
                encoded = _UNDECODABLE.sub(INVALID_BYTE_MARK, text).encode("utf-8")
            if encoded:
                return encoded
        return b""


def _declares_other_encoding(head: bytes) -> bool:
    """True when the XML starts with a UTF-16 BOM or declares an encoding other than UTF-8."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    declared = re.match(rb"\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']+)", head.removeprefix(b"\xef\xbb\xbf"))
    return bool(declared) and declared.group(1).lower().replace(b"-", b"") != b"utf8"


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
        stream = _Prefixed(head, raw)
        if head == b"\x1f\x8b":
            stream = gzip.GzipFile(fileobj=stream, mode="rb")
        recorder = _HeadRecorder(stream)
        context = etree.iterparse(
            _Utf8Cleaner(recorder), events=("start", "end"), tag=(_ROOT_TAG, *_RECORD_TAGS, _DELETE_TAG),
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
                record: Record = Deletion(pmids=_texts(element.findall("PMID")), source=name)
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
            said = _text(root.find("ERROR")) if root is not None else ""
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
        pmid = _record_pmid(element)
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


class _LenientGunzip:
    """A gzip reader that ends where the data stops decompressing (a cut file) instead of raising."""

    def __init__(self, raw):
        self._raw, self._z, self._done = raw, zlib.decompressobj(16 + zlib.MAX_WBITS), False

    def read(self, size: int | None = -1) -> bytes:
        while not self._done:
            data = self._raw.read(1 << 16)
            try:
                out = self._z.decompress(data) if data else self._z.flush()
                if self._z.eof and self._z.unused_data:  # the next member of a multi-member file
                    rest, self._z = self._z.unused_data, zlib.decompressobj(16 + zlib.MAX_WBITS)
                    out += self._z.decompress(rest)
            except zlib.error:
                out, self._done = b"", True
            self._done = self._done or not data
            if out:
                return out
        return b""


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
        stream = _Prefixed(head, raw)
        if head == b"\x1f\x8b":
            stream = _LenientGunzip(stream)
        reader, buffer, eof = _Utf8Cleaner(stream), b"", False
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
                    yield Deletion(pmids=_texts(element.findall("PMID")), source=name)
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
