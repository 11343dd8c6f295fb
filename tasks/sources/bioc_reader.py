"""Read BioC XML and BioC JSON collections into Articles: one per document, its passages kept.

BioC (Comeau et al. 2013, Database bat064) is what PubTator3 and the NCBI BioC API for PMC
(Comeau et al. 2019, Bioinformatics 35(18)) serve: a collection of documents, each a list of
passages (``infons``, a document-level ``offset``, the ``text``). A document becomes one Article:

- **PMID**: the ``article-id_pmid`` infon of the document or of its first passage when there is
  one (the NCBI BioC API for PMC puts it in the ``front`` passage and uses the PMC ID as the
  document id), else the document id. It must be a number; a document without one is a reject.
- **Text**: ``title`` is the first passage's text, ``abstract`` the rest; `Article.text`
  (``title + " " + abstract``) holds each passage at its BioC offset: the offsets *are* the stored
  offsets. PubTator's BioC key (tmBioC.key: "the other passages are assumed to begin after the
  previous passages and one space") puts each passage one character after the one before; that
  character is the title's " " after the first passage and PASSAGE_SEPARATOR after the others,
  as `tasks/sources/pubtator.py` joins a full text. A wider gap (a producer that counts UTF-8
  bytes, say) is filled with further PASSAGE_SEPARATORs, so every offset is still the input's.
  Passages must start at 0, come in order and not overlap (nor touch: one character apart at
  least); anything else is a reject, never a silent re-numbering.
- **Metadata**: the DOI and year from the ``article-id_doi`` and ``year`` infons (document or first
  passage), where given; BioC has no other field litmine stores.
- **Passages**: one `Passage` each (``title_end`` == ``end``: a BioC passage has no title part),
  its type the ``type`` infon, else ``section_type``. A document that is exactly a ``title``
  passage and an optional ``abstract`` passage right after it (PubTator3's abstracts, litmine's
  own export of one) is stored as an abstract, without passages, as PubMed XML would give it.

- **Annotations**: each passage's entity annotations with one location become
  `Article.annotations` (type from the ``type`` infon mapped as PubTator's are, ID from the
  ``identifier`` infon, as PubTator3 writes them), read by ``mine --entities given`` only; an
  annotation with several locations (a discontinuous mention) or whose text is not the text at
  its location is left out, with a warning naming the document.

Not read: relations (``mine`` predicts its own), infons other than those above,
sentence-level passages (sentences without passage text: a reject). Duplicate PMIDs in one file:
the first is kept, each later one is a reject. Malformed XML or JSON is a reject naming the line
(XML: the documents before it are kept); JSON that is no BioC at all raises ParseError.

The XML is streamed with lxml's pull parser (no DTD, no network, no entities; each document freed once read:
the `bioc` package's reader keeps the whole tree); JSON -- a collection, a list of collections as
the NCBI BioC API serves them, or one collection or document per line -- is read whole. Documents
are read into the `bioc` package's BioCDocument/BioCPassage, which `read_bioc_document` maps.
"""

from __future__ import annotations

import json
import logging
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from bioc import BioCAnnotation, BioCDocument, BioCLocation, BioCPassage, BioCSentence
from lxml import etree

from litmine.errors import ParseError
from litmine.tasks.records import PASSAGE_SEPARATOR, Article, Mention, Passage, Reject
from litmine.tasks.sources.byte_streams import LenientGunzip, Prefixed
from litmine.tasks.sources.pubtator import DEFAULT_TYPE_MAP, map_type

log = logging.getLogger(__name__)

#: The infon holding the PMID in the NCBI BioC API's PMC documents (the front passage's infons).
PMID_INFON = "article-id_pmid"
#: The widest gap between two passages that is filled (with PASSAGE_SEPARATOR) to keep the input's
#: offsets. Arbitrary: far above what byte-counted offsets leave (a few bytes per non-ASCII
#: character of the passage before), small enough that a wrong offset (10^9) cannot build a
#: gigabyte of text.
MAX_PASSAGE_GAP = 100_000
#: What to do about a document that is not a PMID, said in every such reject.
_PMID_ADVICE = ("litmine keys documents by PMID: use the PMID as the document id or give it in "
                f"an {PMID_INFON} infon (the NCBI BioC API for PMC writes one in the front passage)")
_ROOT = "collection"
#: Bytes fed to the XML parser at a time.
_CHUNK = 1 << 16


class _Unusable(ValueError):
    """A document (or a part of the file) that cannot be read; the message is the reason."""


# -- one document --------------------------------------------------------------------------
def _infon(infons: dict, key: str) -> str:
    value = infons.get(key)
    return "" if value is None else str(value).strip()


def bioc_pmid(document: BioCDocument) -> tuple[str, str]:
    """(PMID, "") from the ``article-id_pmid`` infon of the document or of its first passage, else
    from the document id; ("", why not) when that is not a number."""
    holders = [("document", document.infons)]
    if document.passages:
        holders.append(("first passage", document.passages[0].infons))
    for holder, infons in holders:
        value = _infon(infons, PMID_INFON)
        if value:
            return (value, "") if re.fullmatch(r"[0-9]+", value) else (
                "", f"the {PMID_INFON} infon of its {holder} is {value!r}, not a number")
    pmid = str(document.id or "").strip()
    if re.fullmatch(r"[0-9]+", pmid):
        return pmid, ""
    return "", f"its id is not a PMID (not a number) and no {PMID_INFON} infon gives one"


def _metadata(document: BioCDocument) -> dict:
    """DOI and year from the ``article-id_doi`` and ``year`` infons of the document or its first
    passage (where the NCBI BioC API for PMC puts them), when given."""
    holders = [document.infons] + [document.passages[0].infons] * bool(document.passages)
    doi = next((_infon(h, "article-id_doi") for h in holders if _infon(h, "article-id_doi")), "")
    year = next((_infon(h, "year") for h in holders if re.fullmatch(r"[0-9]{4}", _infon(h, "year"))), "")
    return {"doi": doi, "pub_date": year, "year": int(year) if year else None}


def _is_abstract(passages: list[BioCPassage]) -> bool:
    """A title passage at 0 and at most an abstract passage one character after it."""
    types = [_infon(p.infons, "type") for p in passages]
    return types in (["title"], ["title", "abstract"]) and (
        len(passages) == 1 or (passages[1].offset == len(passages[0].text) + 1
                               and bool(passages[1].text)))


def read_bioc_document(document: BioCDocument, source: str = "", where: str = "") -> Article | Reject:
    """The Article of one BioC document, or a Reject saying why it cannot be one (module doc).

    `where` says where the document is in `source` ("at line 12", "#3") for the reasons.
    """
    label = f"BioC document {where + ' ' if where else ''}(id {str(document.id or '')!r})"
    pmid, why = bioc_pmid(document)
    if not pmid:
        return Reject(source, f"parse: {label}: {why}; {_PMID_ADVICE}; skipped")

    def reject(reason: str) -> Reject:
        return Reject(source, f"parse: {label}: {reason}; skipped", pmid)

    passages = list(document.passages)
    if not passages:
        return reject("it has no passages (no text to mine)")
    parts: list[str] = []
    stored: list[Passage] = []
    end = 0
    for k, passage in enumerate(passages):
        text, offset = passage.text if passage.text is not None else "", passage.offset
        if not isinstance(text, str) or not isinstance(offset, int):
            return reject(f"passage {k + 1}'s text or offset is of the wrong type "
                          f"({type(text).__name__}, {type(offset).__name__})")
        if not text and passage.sentences:
            return reject(f"passage {k + 1} holds sentences but no passage text (sentence-level "
                          "BioC is not read); give each passage its text")
        gap = offset - end
        if k == 0 and offset != 0:
            return reject(f"its first passage starts at offset {offset}, not 0 (BioC offsets are "
                          "document offsets: the first passage starts at 0)")
        if k and gap < 1:
            return reject(f"passage {k + 1} starts at offset {offset}, "
                          + (f"inside passage {k} ({stored[-1].start}-{end})" if gap < 0 else
                             f"right where passage {k} ends, with no character between them")
                          + ": passages must be in document order, apart; write each one's "
                          "document offset (the one before's offset + its length + 1, as PubTator3 does)")
        if k and gap > MAX_PASSAGE_GAP:
            return reject(f"passage {k + 1} starts at offset {offset}, {gap} characters after "
                          f"passage {k} ends (more than {MAX_PASSAGE_GAP:,}): a wrong offset?")
        if k:
            parts.append((" " + PASSAGE_SEPARATOR * (gap - 1)) if k == 1 else PASSAGE_SEPARATOR * gap)
        parts.append(text)
        kind = _infon(passage.infons, "type") or _infon(passage.infons, "section_type")
        stored.append(Passage(offset, offset + len(text), offset + len(text), kind))
        end = offset + len(text)
    if not any(p.strip() for p in parts):
        return reject(f"its {len(passages)} passage(s) hold no text")
    title = parts[0]
    abstract = "".join(parts[1:])[1:]
    annotations = _annotations(passages, pmid, title + " " + abstract, label)
    return Article(pmid=pmid, title=title, abstract=abstract, source=source,
                   passages=() if _is_abstract(passages) else tuple(stored),
                   annotations=annotations, **_metadata(document))


#: Infons naming an annotation's concept ID: PubTator3's, then other producers' spellings.
_ID_INFONS = ("identifier", "Identifier", "ID", "id")


def _annotations(passages: list[BioCPassage], pmid: str, text: str, label: str
                 ) -> tuple[Mention, ...]:
    """The passages' entity annotations as Mentions (offsets are document offsets, which index
    `text`); those that cannot be one are logged and left out."""
    out, skipped = [], 0
    for passage in passages:
        for a in passage.annotations:
            kind = map_type(_infon(a.infons, "type"), DEFAULT_TYPE_MAP)
            if not kind:
                continue
            if len(a.locations) != 1:
                skipped += 1
                continue
            start = a.locations[0].offset
            end = start + a.locations[0].length
            if not (0 <= start < end <= len(text)) or (a.text and text[start:end] != a.text):
                skipped += 1
                continue
            cid = next((_infon(a.infons, k) for k in _ID_INFONS if _infon(a.infons, k)), "")
            out.append(Mention(pmid, start, end, text[start:end], kind, concept_id=cid.strip()))
    if skipped:
        log.warning("%s: %d annotations left out (several locations, or a text that is not the "
                    "document's at their offsets)", label, skipped)
    return tuple(sorted(out, key=lambda m: (m.start, m.end, m.type)))


def _unique(items: Iterator[Article | Reject], source: str) -> Iterator[Article | Reject]:
    """`items`, with each later document of a PMID already read a Reject (the first one kept)."""
    seen: set[str] = set()
    for item in items:
        if isinstance(item, Article):
            if item.pmid in seen:
                item = Reject(source, f"parse: PMID {item.pmid} appears again in the file (a "
                              "repeated document); kept its first occurrence and skipped this one: "
                              "remove or renumber the duplicate", item.pmid)
            else:
                seen.add(item.pmid)
        yield item


@contextmanager
def _open_binary(path: Path) -> Iterator[BinaryIO]:
    """The file's bytes, un-gzipped when it starts with gzip's magic bytes; a cut gzip file ends
    where its data stops (the parser then names where the text broke off)."""
    with open(path, "rb") as raw:
        head = raw.read(2)
        stream = Prefixed(head, raw)
        yield LenientGunzip(stream) if head == b"\x1f\x8b" else stream


# -- BioC XML ------------------------------------------------------------------------------
def _xml_infons(element) -> dict[str, str]:
    return {child.get("key", ""): child.text or "" for child in element.iterfind("infon")}


def _offset(value, doc_id: str, k: int) -> int:
    """A passage offset (an int, or a string of digits); _Unusable otherwise."""
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    shown = "missing" if value is None else repr(value)
    raise _Unusable(f"(id {doc_id!r}): passage {k + 1}'s offset is {shown}, not a number "
                    "(BioC passages carry their document offset); skipped")


def _xml_document(element) -> BioCDocument:
    """A <document> element as a BioCDocument (id, infons, passages: offset, infons, text)."""
    document = BioCDocument()
    document.id = (element.findtext("id") or "").strip()
    document.infons = _xml_infons(element)
    for k, child in enumerate(element.iterfind("passage")):
        passage = BioCPassage()
        passage.infons = _xml_infons(child)
        passage.offset = _offset(child.findtext("offset"), document.id, k)
        passage.text = child.findtext("text") or ""
        for _ in child.iterfind("sentence"):  # only counted: sentence-level passages are refused
            passage.add_sentence(BioCSentence())
        for node in child.iterfind("annotation"):
            passage.add_annotation(_annotation(
                _xml_infons(node), node.findtext("text") or "",
                [(loc.get("offset"), loc.get("length")) for loc in node.iterfind("location")]))
        document.add_passage(passage)
    return document


def _annotation(infons: dict, text: str, locations: list) -> BioCAnnotation:
    """A BioCAnnotation; a location whose offset or length is not a number becomes the
    impossible (-1, 0), so that `_annotations` leaves the annotation out (dropping the location
    could make a two-location annotation look like a readable one-location one)."""
    annotation = BioCAnnotation()
    annotation.infons = {str(k): v for k, v in infons.items()} if isinstance(infons, dict) else {}
    annotation.text = text if isinstance(text, str) else ""
    for offset, length in locations:
        try:
            annotation.add_location(BioCLocation(int(offset), int(length)))
        except (TypeError, ValueError):
            annotation.add_location(BioCLocation(-1, 0))
    return annotation


def iter_bioc_xml(path: str | Path) -> Iterator[Article | Reject]:
    """The Articles and Rejects of a BioC XML collection (.xml or gzip), streamed."""
    path, source = Path(path), str(path)
    return _unique(_xml_items(path, source), source)


def _xml_items(path: Path, source: str) -> Iterator[Article | Reject]:
    # A pull parser fed by hand: on malformed XML it still gives the events before the error
    # (iterparse loses those of the chunk that held it).
    parser = etree.XMLPullParser(events=("start", "end"), tag=(_ROOT, "document"), load_dtd=False,
                                 no_network=True, resolve_entities=False, huge_tree=False)
    n, started, root, error, eof = 0, False, None, None, False
    with _open_binary(path) as stream:
        while not eof and error is None:
            try:
                data = stream.read(_CHUNK)
                eof = not data
                if eof:
                    root = parser.close()
                else:
                    parser.feed(data)
            except (etree.XMLSyntaxError, OSError, EOFError, zlib.error) as exc:
                error = exc
            for event, element in parser.read_events():
                if not started and not (event == "start" and element.tag == _ROOT):
                    raise ParseError(f"read: {source} is XML but not BioC: <document> outside a "
                                     f"<{_ROOT}>; give a BioC collection as PubTator3 or the NCBI "
                                     "BioC API serve it")
                started = True
                if event == "start" or element.tag != "document":
                    continue
                n += 1
                where = f"at line {element.sourceline}"
                try:
                    yield read_bioc_document(_xml_document(element), source, where)
                except _Unusable as exc:
                    yield Reject(source, f"parse: BioC document {where} {exc}")
                element.clear(keep_tail=False)  # free it and everything before it
                parent = element.getparent()
                while parent is not None and element.getprevious() is not None:
                    del parent[0]
    if error is not None:
        what = _xml_error(error)
        yield Reject(source, f"parse: {what}; kept the {n} document(s) before it and skipped the "
                             "rest of the file: fix or re-download the file")
    elif not started:
        raise ParseError(f"read: {source} is XML but not BioC: its root element is "
                         f"<{root.tag if root is not None else None}>, not <{_ROOT}>; give a BioC "
                         "collection as PubTator3 or the NCBI BioC API serve it")


def _xml_error(error: Exception) -> str:
    """Where and what; when the exception says "line 0" (lxml's pull parser does for some errors,
    e.g. an undefined entity), the parser's last logged error."""
    if not isinstance(error, etree.XMLSyntaxError):
        return f"the file is truncated or corrupt ({type(error).__name__}: {error})"
    line, column, message = (*error.position, error.msg)
    last = error.error_log.last_error if error.error_log else None
    if line == 0 and last is not None:
        line, column, message = last.line, last.column, last.message
    return f"malformed XML at line {line}, column {column}: {message}"


# -- BioC JSON -----------------------------------------------------------------------------
def _json_document(obj: dict) -> BioCDocument:
    """A BioC JSON document object as a BioCDocument (id, infons, passages)."""
    document = BioCDocument()
    document.id = str(obj.get("id") if obj.get("id") is not None else "").strip()
    shown = f"(id {document.id!r})"
    document.infons = obj.get("infons") or {}
    passages = obj.get("passages") or []
    if not isinstance(passages, list) or not isinstance(document.infons, dict):
        raise _Unusable(f"{shown}: its passages are not a list or its infons not an object; skipped")
    for k, item in enumerate(passages):
        if not isinstance(item, dict) or not isinstance(item.get("infons") or {}, dict):
            raise _Unusable(f"{shown}: passage {k + 1} is not a JSON object with infons; skipped")
        passage = BioCPassage()
        passage.infons = item.get("infons") or {}
        passage.offset = _offset(item.get("offset"), document.id, k)
        text = item.get("text")
        if text is not None and not isinstance(text, str):
            raise _Unusable(f"{shown}: passage {k + 1}'s text is {text!r}, not a string; skipped")
        passage.text = text or ""
        for _ in item.get("sentences") or []:  # only counted, as in _xml_document
            passage.add_sentence(BioCSentence())
        for node in item.get("annotations") or []:
            if isinstance(node, dict):
                passage.add_annotation(_annotation(
                    node.get("infons") or {}, node.get("text") or "",
                    [(loc.get("offset"), loc.get("length")) for loc in node.get("locations") or []
                     if isinstance(loc, dict)]))
        document.add_passage(passage)
    return document


#: Keys of a JSON object holding a list of documents: BioC's collection, PubTator3's export API.
_DOCUMENT_LISTS = ("documents", "PubTator3")


def _json_documents(value, suffix: str = "") -> list[tuple[str, object]]:
    """(where, document object) of a JSON value: a collection (or PubTator3's {"PubTator3": [...]}),
    a document, or a list of these; ParseError when it is none of them."""
    if isinstance(value, list):
        return [found for k, item in enumerate(value, start=1)
                for found in _json_documents(item, f" in item {k}{suffix}")]
    key = next((k for k in _DOCUMENT_LISTS if isinstance(value, dict) and k in value), None)
    if key is not None:
        if not isinstance(value[key], list):
            raise ParseError(f"its \"{key}\"{suffix} is not a list")
        return [(f"#{k}{suffix}", document) for k, document in enumerate(value[key], start=1)]
    if isinstance(value, dict) and "passages" in value:
        return [(suffix.strip() or "#1", value)]
    shown = f"an object with keys {sorted(value)[:8]}" if isinstance(value, dict) else type(value).__name__
    raise ParseError(f"{suffix.strip() or 'its top-level value'} is {shown}, not a BioC collection "
                     "or document")


def iter_bioc_json(path: str | Path) -> Iterator[Article | Reject]:
    """The Articles and Rejects of BioC JSON: a collection, a list of collections (the NCBI BioC
    API), PubTator3's {"PubTator3": [documents]}, or JSON lines of any of these."""
    path, source = Path(path), str(path)
    return _unique(_json_items(path, source), source)


def _json_items(path: Path, source: str) -> Iterator[Article | Reject]:
    try:
        with _open_binary(path) as stream:
            text = stream.read().decode("utf-8-sig")
    except (UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
        yield Reject(source, f"parse: cannot read the file as UTF-8 JSON ({type(exc).__name__}: "
                             f"{exc}); no document of it was read: fix or re-download the file")
        return
    try:
        values: list[tuple[str, object]] = [("", json.loads(text))]
    except json.JSONDecodeError as whole:
        if whole.msg != "Extra data":
            yield Reject(source, f"parse: malformed JSON at line {whole.lineno}, column "
                                 f"{whole.colno}: {whole.msg}; no document of the file was read: "
                                 "fix or re-download the file")
            return
        values = list(_json_lines(text, source))  # JSON lines: a collection or document per line
    plan: list[tuple[str, object] | Reject] = []
    try:  # the whole structure first: JSON that is no BioC fails before any document is stored
        for suffix, value in values:
            plan += [value] if isinstance(value, Reject) else _json_documents(value, suffix)
    except ParseError as exc:
        raise ParseError(f"read: {source} is JSON but not BioC: {exc}; give a BioC collection "
                         "({\"documents\": [...]}) as PubTator3 or the NCBI BioC API serve it") from None
    for entry in plan:
        if isinstance(entry, Reject):
            yield entry
            continue
        where, obj = entry
        if not isinstance(obj, dict):
            yield Reject(source, f"parse: BioC document {where} is {type(obj).__name__}, not a "
                                 "JSON object; skipped")
            continue
        try:
            yield read_bioc_document(_json_document(obj), source, where)
        except _Unusable as exc:
            yield Reject(source, f"parse: BioC document {where} {exc}")


def _json_lines(text: str, source: str) -> Iterator[tuple[str, object]]:
    """(" on line N", value) of each non-blank line; a Reject as the value of a malformed one."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f" on line {number}", json.loads(line)
        except json.JSONDecodeError as exc:
            yield "", Reject(source, f"parse: malformed JSON at line {number}, column {exc.colno}: "
                                     f"{exc.msg}; skipped that line and read the others")
