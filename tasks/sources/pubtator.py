"""Read and write PubTator files: gold NER corpora in, predicted mentions out.

The format (https://www.ncbi.nlm.nih.gov/research/pubtator/ and the BioCreative V CDR
README): per document a ``PMID|t|title`` line, a ``PMID|a|abstract`` line, mention lines
``PMID<TAB>start<TAB>end<TAB>text<TAB>type<TAB>id[<TAB>extra...]`` and relation lines
``PMID<TAB>type<TAB>id1<TAB>id2[<TAB>extra]``, with a blank line between documents. Offsets
index ``title + " " + abstract``.

Public corpora contain a few bad mention lines, found by reading the copies under
../shared/data/corpora: NCBI-disease train has a mention text with stray trailing spaces
(PMID 10923035) and 11 duplicated lines (PMID 8528200); GNormPlus (AIONER copy) has 35 lines whose
offsets are shifted by one character or cover a shorter span; NLM-Gene has 11 lines with wrong
offsets or a different letter case, and 86 nested mentions. The reader repairs what it can without
guessing (see `_repair_span`), skips the rest, and counts both in `PubTatorStats`.
"""

from __future__ import annotations

import gzip
import io
import logging
import re
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from litmine.errors import LitmineError, ParseError
from litmine.tasks.records import PASSAGE_SEPARATOR, Article, Mention, Passage

log = logging.getLogger(__name__)

#: How far (in characters) from the stated offsets a mention's text is searched for when the
#: offsets do not match. The shifts seen in GNormPlus/NLM-Gene are 1-3 characters; 50 is an
#: arbitrary margin that still cannot reach a different sentence's copy in most abstracts.
SEARCH_WINDOW = 50
#: Issues logged one by one before the reader only counts them (the rest are in `stats.issues`).
MAX_LOGGED_ISSUES = 20
#: The first line of a PubTator document: ``PMID|t|...`` or ``PMID|a|...``.
PUBTATOR_HEAD = re.compile(r"^[^\t|]+\|[ta]\|")
#: Corpus types -> canonical litmine types. A type mapped to "" is dropped. Sources: NCBI-disease
#: (Dogan et al. 2014, J Biomed Inform 47:1-10; its four classes are all diseases), BioRED
#: (Luo et al. 2022, Brief Bioinform 23(5); its README), BC5CDR (Li et al. 2016, Database
#: baw068), GNormPlus (Wei et al. 2015, BioMed Res Int 918710; FamilyName and DomainMotif are
#: gene families/domains, kept as Gene as GNormPlus's own "Gene" recognition step does).
DEFAULT_TYPE_MAP: dict[str, str] = {
    "SpecificDisease": "Disease",
    "DiseaseClass": "Disease",
    "Modifier": "Disease",
    "CompositeMention": "Disease",
    "DiseaseOrPhenotypicFeature": "Disease",
    "ChemicalEntity": "Chemical",
    "GeneOrGeneProduct": "Gene",
    "FamilyName": "Gene",
    "DomainMotif": "Gene",
    "OrganismTaxon": "Species",
    "SequenceVariant": "Variant",
    "CellLine": "CellLine",
}


@dataclass(frozen=True, slots=True)
class GoldMention:
    """An annotated mention: offsets index the document's ``title + " " + abstract``."""

    start: int
    end: int
    text: str
    type: str
    concept_id: str = ""


@dataclass(frozen=True, slots=True)
class PubTatorDocument:
    """One PubTator document with its gold mentions and relations."""

    pmid: str
    title: str
    abstract: str = ""
    mentions: tuple[GoldMention, ...] = ()
    relations: tuple[tuple[str, str, str], ...] = ()  # (type, id1, id2), e.g. ("CID", chem, dis)
    #: Parallel to `relations`: BioRED's fifth column ("Novel" or "No"), "" where absent.
    novelty: tuple[str, ...] = ()
    #: A full text's passages (consecutive entries of one PMID; offsets into `text`), () for
    #: a title and abstract (see `join_passages`).
    passages: tuple[Passage, ...] = ()

    def novel(self, k: int) -> str:
        """The novelty of relation `k` ("Novel", "No" or "" when the file has none)."""
        return self.novelty[k] if k < len(self.novelty) else ""

    @property
    def text(self) -> str:
        return self.title + " " + self.abstract

    def to_article(self, source: str = "") -> Article:
        """The document as an Article (no journal/date metadata: PubTator has none), its
        mentions as `annotations` (types mapped by DEFAULT_TYPE_MAP; a type mapped to "" left
        out)."""
        mapped = (replace(m, type=map_type(m.type, DEFAULT_TYPE_MAP))
                  for m in gold_to_mentions(self))
        annotations = tuple(m for m in mapped if m.type)
        return Article(pmid=self.pmid, title=self.title, abstract=self.abstract, source=source,
                       passages=self.passages, annotations=annotations)


@dataclass(frozen=True, slots=True)
class ParseIssue:
    """One problem the reader found, where, and what it did about it."""

    source: str
    line: int
    pmid: str
    kind: str  # offsets-fixed, text-fixed, mention-skipped, duplicate, nested, unknown-type, ...
    message: str


@dataclass
class PubTatorStats:
    """What a reader read, repaired and skipped."""

    documents: int = 0
    mentions: int = 0
    relations: int = 0
    fixed: Counter = field(default_factory=Counter)  # kind -> count of repaired mentions
    skipped: Counter = field(default_factory=Counter)  # kind -> count of dropped lines/documents
    overlapping: int = 0  # nested or crossing mention pairs kept (flat taggers cannot get both)
    passages_joined: int = 0  # entries read as further passages of the document before them
    issues: list[ParseIssue] = field(default_factory=list)

    def summary(self) -> str:
        """One line: counts of documents, mentions, fixes and skips."""
        parts = [f"{self.documents} documents", f"{self.mentions} mentions"]
        if self.relations:
            parts.append(f"{self.relations} relations")
        if self.fixed:
            parts.append("fixed " + ", ".join(f"{k}={v}" for k, v in sorted(self.fixed.items())))
        if self.skipped:
            parts.append(
                "skipped " + ", ".join(f"{k}={v}" for k, v in sorted(self.skipped.items()))
            )
        if self.overlapping:
            parts.append(f"{self.overlapping} overlapping pairs kept")
        return "; ".join(parts)


def _repair_span(text: str, start: int, end: int, mention: str) -> tuple[int, int, str] | None:
    """Offsets that really hold the mention, the kind of repair ('' if none), or None.

    In order: the offsets match; the stated text differs only by surrounding whitespace or
    letter case (keep the offsets, trim whitespace, take the document's text); the exact mention
    text occurs within SEARCH_WINDOW characters of the stated start (take the nearest copy,
    the earlier one on a tie).
    """
    if 0 <= start < end <= len(text):
        found = text[start:end]
        if found == mention:
            return start, end, ""
        if found.strip().casefold() == mention.strip().casefold() and found.strip():
            new_start = start + len(found) - len(found.lstrip())
            new_end = end - (len(found) - len(found.rstrip()))
            return new_start, new_end, "text"
    needle = mention.strip()
    if not needle:
        return None
    lo = max(0, start - SEARCH_WINDOW)
    hi = min(len(text), max(start, 0) + len(needle) + SEARCH_WINDOW)
    best: int | None = None
    i = text.find(needle, lo, hi)
    while i != -1:
        if best is None or abs(i - start) < abs(best - start):
            best = i
        i = text.find(needle, i + 1, hi)
    if best is None:
        return None
    return best, best + len(needle), "offsets"


class PubTatorReader:
    """Iterator over the documents of a PubTator file; `stats` fills in as it goes.

    A document is yielded when its last line has been read. Mentions are sorted by
    (start, end); exact duplicates (same span and type) are dropped; nested or crossing
    mentions are kept and counted (`stats.overlapping`): deciding between them is the
    corpus builder's job. Mentions whose type is not in `known_types` (when given) are skipped.
    """

    def __init__(self, source: str | Path | IO[str], *, known_types: Collection[str] | None = None):
        self.stats = PubTatorStats()
        self.known_types = set(known_types) if known_types is not None else None
        if isinstance(source, (str, Path)):
            self.source = str(source)
            self._stream: IO[str] | None = None
            self._path: Path | None = Path(source)
        else:
            self.source = getattr(source, "name", "<stream>")
            self._stream = source
            self._path = None
        self._iter = self._read()

    def __iter__(self) -> PubTatorReader:
        return self

    def __next__(self) -> PubTatorDocument:
        return next(self._iter)

    # -- internals ---------------------------------------------------------------------------
    def _issue(self, line: int, pmid: str, kind: str, message: str, *, skipped: bool) -> None:
        issue = ParseIssue(self.source, line, pmid, kind, message)
        self.stats.issues.append(issue)
        (self.stats.skipped if skipped else self.stats.fixed)[kind] += 1
        if len(self.stats.issues) <= MAX_LOGGED_ISSUES:
            log.warning("%s line %d (PMID %s): %s", self.source, line, pmid, message)
        elif len(self.stats.issues) == MAX_LOGGED_ISSUES + 1:
            log.warning("%s: more issues; only counting them from here on", self.source)

    def _open(self) -> IO[str]:
        assert self._path is not None
        if not self._path.exists():
            raise ParseError(
                f"PubTator reader: file {self._path} does not exist; check the path "
                "(corpora live under ../shared/data/corpora or your own directory)"
            )
        if self._path.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(self._path), encoding="utf-8-sig")
        return open(self._path, encoding="utf-8-sig")

    def _read(self) -> Iterator[PubTatorDocument]:
        stream = self._open() if self._path is not None else self._stream
        try:
            yield from self._join(self._parse(stream))
        finally:
            if self._path is not None:
                stream.close()

    def _join(self, entries: Iterable[PubTatorDocument]) -> Iterator[PubTatorDocument]:
        """Consecutive entries of one PMID as one document (`join_passages`), unless an entry
        repeats one of them word for word (a repeated document, not a passage); `stats` counts
        documents, not entries."""
        group: list[PubTatorDocument] = []
        for entry in entries:
            if group and (entry.pmid != group[0].pmid or any(e.text == entry.text for e in group)):
                # another document, or the same one repeated (NCBI-disease train repeats 8528200)
                yield join_passages(group)
                group = []
            elif group:  # a further passage, counted as a document when it was read
                self.stats.documents -= 1
                self.stats.passages_joined += 1
            group.append(entry)
        if group:
            yield join_passages(group)

    def _parse(self, stream: IO[str]) -> Iterator[PubTatorDocument]:
        pmid = ""
        title: str | None = None
        abstract: str | None = None
        first_line = 0
        raw_mentions: list[tuple[int, list[str]]] = []
        relations: list[tuple[str, str, str]] = []
        novelty: list[str] = []

        def finish() -> PubTatorDocument | None:
            if not pmid:
                return None
            if title is None:
                self._issue(first_line, pmid, "no-title", "annotations without a title line; "
                            "document skipped", skipped=True)
                return None
            if not title.strip() and not (abstract or "").strip():
                self._issue(first_line, pmid, "empty-document", "empty title and abstract; "
                            "document skipped", skipped=True)
                return None
            doc = self._build(pmid, title, abstract or "", raw_mentions, relations, novelty)
            self.stats.documents += 1
            self.stats.mentions += len(doc.mentions)
            self.stats.relations += len(doc.relations)
            return doc

        for number, raw in enumerate(stream, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                doc = finish()
                if doc is not None:
                    yield doc
                pmid, title, abstract = "", None, None
                raw_mentions, relations, novelty = [], [], []
                continue
            head = line.split("|", 2)
            if len(head) == 3 and head[1] in ("t", "a") and "\t" not in head[0]:
                line_pmid, kind, body = head
                if pmid and line_pmid != pmid:
                    # A new document without the blank separator line.
                    doc = finish()
                    if doc is not None:
                        yield doc
                    pmid, title, abstract = "", None, None
                    raw_mentions, relations, novelty = [], [], []
                if not pmid:
                    pmid, first_line = line_pmid, number
                if kind == "t":
                    title = body
                else:
                    abstract = body
                continue
            parts = line.split("\t")
            if len(parts) < 4 or not pmid or parts[0] != pmid:
                self._issue(number, parts[0] if parts else "", "bad-line",
                            f"not a PubTator line for the current document: {line[:80]!r}",
                            skipped=True)
                continue
            is_offset = [p.lstrip("-").isdigit() for p in parts[1:3]]
            if len(parts) >= 5 and all(is_offset):
                raw_mentions.append((number, parts))
            else:
                relations.append((parts[1], parts[2], parts[3]))
                novelty.append(parts[4].strip() if len(parts) > 4 else "")
        doc = finish()
        if doc is not None:
            yield doc

    def _build(self, pmid: str, title: str, abstract: str,
               raw_mentions: list[tuple[int, list[str]]],
               relations: list[tuple[str, str, str]],
               novelty: Sequence[str] = ()) -> PubTatorDocument:
        text = title + " " + abstract
        mentions: dict[tuple[int, int, str], GoldMention] = {}
        for number, parts in raw_mentions:
            start, end, mention_text, mtype = int(parts[1]), int(parts[2]), parts[3], parts[4]
            concept_id = parts[5] if len(parts) > 5 else ""
            if self.known_types is not None and mtype not in self.known_types:
                self._issue(number, pmid, "unknown-type", f"type {mtype!r} is not one of "
                            f"{sorted(self.known_types)}; mention skipped", skipped=True)
                continue
            repaired = _repair_span(text, start, end, mention_text)
            if repaired is None:
                self._issue(number, pmid, "mention-skipped",
                            f"{mention_text!r} at {start}-{end} does not match the text "
                            f"({text[max(start, 0):max(end, 0)]!r}) and was not found within "
                            f"{SEARCH_WINDOW} characters; mention skipped", skipped=True)
                continue
            new_start, new_end, repair = repaired
            if repair:
                self._issue(number, pmid, f"{repair}-fixed",
                            f"{mention_text!r} at {start}-{end} read as "
                            f"{text[new_start:new_end]!r} at {new_start}-{new_end}",
                            skipped=False)
            key = (new_start, new_end, mtype)
            if key in mentions:
                self._issue(number, pmid, "duplicate", f"{mention_text!r} at {new_start}-"
                            f"{new_end} ({mtype}) repeats an earlier line; dropped", skipped=True)
                continue
            mentions[key] = GoldMention(new_start, new_end, text[new_start:new_end], mtype,
                                        concept_id)
        ordered = sorted(mentions.values(), key=lambda m: (m.start, m.end, m.type))
        self.stats.overlapping += count_overlaps(ordered)
        return PubTatorDocument(pmid, title, abstract, tuple(ordered), tuple(relations),
                                tuple(novelty))


def join_passages(entries: Sequence[PubTatorDocument]) -> PubTatorDocument:
    """Consecutive PubTator entries of one PMID as one full-text document (issue 21).

    PubTator3 and AIONER write a full text as one ``PMID|t|``/``PMID|a|`` entry per passage
    (title, abstract, section headings, paragraphs, captions), each entry's offsets indexing its
    own ``t + " " + a``. The document's text is the entries' texts joined by PASSAGE_SEPARATOR:
    its `title` is the first entry's title, its `abstract` everything after; `passages` keeps
    each entry's place (`Passage.title_end`: where its ``t`` part ends), and each mention is
    shifted by its entry's start, so that `write_pubtator` gives every entry back as read. One
    entry is returned as it is (no passages: a title and abstract).
    """
    if len(entries) == 1:
        return entries[0]
    passages, mentions, relations, novelty, start = [], [], [], [], 0
    for entry in entries:
        passages.append(Passage(start, start + len(entry.text), start + len(entry.title)))
        mentions += [GoldMention(m.start + start, m.end + start, m.text, m.type, m.concept_id)
                     for m in entry.mentions]
        relations += entry.relations
        novelty += [entry.novel(k) for k in range(len(entry.relations))]
        start += len(entry.text) + len(PASSAGE_SEPARATOR)
    first = entries[0]
    abstract = PASSAGE_SEPARATOR.join([first.abstract, *(e.text for e in entries[1:])])
    return PubTatorDocument(first.pmid, first.title, abstract, tuple(mentions), tuple(relations),
                            tuple(novelty) if any(novelty) else (), tuple(passages))


def count_overlaps(mentions: Sequence[GoldMention]) -> int:
    """Pairs of mentions (sorted by start) whose spans share at least one character."""
    n = 0
    for i, a in enumerate(mentions):
        for b in mentions[i + 1:]:
            if b.start >= a.end:
                break
            n += 1
    return n


def iter_pubtator(source: str | Path | IO[str], *,
                  known_types: Collection[str] | None = None) -> PubTatorReader:
    """Iterate over a PubTator file's documents (path, .gz path or text stream).

    The returned reader is an iterator with a `stats` attribute (PubTatorStats) that counts
    documents, repaired and skipped lines; read it after the loop.
    """
    return PubTatorReader(source, known_types=known_types)


def read_pubtator(source: str | Path | IO[str], *,
                  known_types: Collection[str] | None = None
                  ) -> tuple[list[PubTatorDocument], PubTatorStats]:
    """All documents of a PubTator file, and the reader's stats."""
    reader = iter_pubtator(source, known_types=known_types)
    docs = list(reader)
    return docs, reader.stats


def gold_to_mentions(doc: PubTatorDocument) -> list[Mention]:
    """A document's gold mentions as Mention records (e.g. predictions read back from export)."""
    return [Mention(pmid=doc.pmid, start=m.start, end=m.end, text=m.text, type=m.type,
                    concept_id="" if m.concept_id in ("", "-") else m.concept_id)
            for m in doc.mentions]


def _clean(value: str) -> str:
    """A field safe for one PubTator line: tabs and line breaks become spaces (same length)."""
    return value.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def write_pubtator(docs: Iterable[tuple[Article, Sequence[Mention]]],
                   out: str | Path | IO[str],
                   relations: dict[str, Sequence[tuple[str, str, str]]] | None = None) -> int:
    """Write documents and their mentions as PubTator; return the number of documents.

    Mention lines are sorted by offsets; column 6 is the concept ID or "-". Line breaks inside
    a title or abstract become spaces, so offsets stay valid. A full text (`Article.passages`)
    is written one entry per passage, each mention in its passage's entry with offsets relative
    to it, the relations after the last one: as `join_passages` read it. `relations` maps a PMID to its
    (type, id1, id2) relations, written after the mentions as `PMID<TAB>CID<TAB>id1<TAB>id2`,
    or (type, id1, id2, novelty), written as BioRED does with a fifth column ("Novel"/"No").
    """
    if isinstance(out, (str, Path)):
        with open(out, "w", encoding="utf-8", newline="\n") as handle:
            return write_pubtator(docs, handle, relations)
    n = 0
    for article, mentions in docs:
        pmid = _clean(article.pmid)
        text = article.text
        ordered = sorted(mentions, key=lambda m: (m.start, m.end, m.type))
        passages = article.passages or (Passage(0, len(text), len(article.title)),)
        for k, p in enumerate(passages):
            out.write(f"{pmid}|t|{_clean(text[p.start:p.title_end])}\n")
            out.write(f"{pmid}|a|{_clean(text[p.title_end + 1:p.end])}\n")
            for m in ordered:  # offsets relative to the passage, as it was read
                if p.start <= m.start < p.end:
                    out.write(f"{pmid}\t{m.start - p.start}\t{m.end - p.start}\t{_clean(m.text)}\t"
                              f"{_clean(m.type)}\t{_clean(m.concept_id) or '-'}\n")
            if k == len(passages) - 1:
                for relation in sorted((relations or {}).get(article.pmid, ())):
                    out.write(f"{pmid}\t" + "\t".join(_clean(field) for field in relation) + "\n")
            out.write("\n")
        n += 1
    return n


# -- corpus types and formats ---------------------------------------------------------------
def parse_type_map(items: Iterable[str] | Mapping[str, str] | None) -> dict[str, str]:
    """Parse ``A=B`` overrides (``A=`` drops type A) into a dict."""
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return dict(items)
    out = {}
    for item in items:
        source, sep, target = item.partition("=")
        if not sep or not source.strip():
            raise LitmineError(f"type map: {item!r} is not of the form SOURCE=TARGET "
                             "(e.g. ChemicalEntity=Chemical, or Modifier= to drop a type)")
        out[source.strip()] = target.strip()
    return out


def build_type_map(overrides: Iterable[str] | Mapping[str, str] | None = None) -> dict[str, str]:
    """DEFAULT_TYPE_MAP with the user's overrides applied."""
    return {**DEFAULT_TYPE_MAP, **parse_type_map(overrides)}


def map_type(label: str, type_map: Mapping[str, str]) -> str:
    """The canonical type of a corpus type ("" = dropped); unmapped types keep their name."""
    return type_map.get(label, label)


def detect_format(path: str | Path) -> str:
    """'pubtator' when the first non-blank line is ``PMID|t|...``/``PMID|a|...``, else 'conll'."""
    with open(path, encoding="utf-8-sig") as handle:
        for line in handle:
            if line.strip():
                return "pubtator" if PUBTATOR_HEAD.match(line) else "conll"
    return "conll"
