"""The records that flow between litmine's stages: small, frozen, and shared by every task."""

from __future__ import annotations

from dataclasses import dataclass, field


#: Canonical types litmine stores (`Mention.type`); the pairing stage uses Chemical and Disease.
CANONICAL_TYPES = ("Chemical", "Disease", "Gene", "Species", "CellLine", "CellType", "Variant",
                   "Anatomy")


@dataclass(frozen=True, slots=True)
class Author:
    """One author of an article, as PubMed lists it (a person or a collective)."""

    last_name: str = ""
    fore_name: str = ""
    initials: str = ""
    collective: str = ""

    @property
    def display(self) -> str:
        """The name as a reader writes it: "Fore Last", or the collective name."""
        if self.collective:
            return self.collective
        return " ".join(p for p in (self.fore_name or self.initials, self.last_name) if p)


@dataclass(frozen=True, slots=True)
class Passage:
    """One passage of a full-text document (a PubTator entry, a BioC passage): `start`/`end`
    index `Article.text`; the passage's own offsets are `Article.text` offsets minus `start`.

    A PubTator entry is ``t + " " + a``: `title_end` is where its ``|t|`` part ends (a sentence
    ends there); a BioC passage has no such part (`title_end` == `end`). `type`: BioC's passage
    type ("title", "abstract", "paragraph", ...), "" when the input has none.
    """

    start: int
    end: int
    title_end: int
    type: str = ""


#: What separates two passages in `Article.text` (no sentence crosses it: sentences are split per
#: passage). A line break, so that a reader of the stored abstract sees the passages apart.
PASSAGE_SEPARATOR = "\n"


@dataclass(frozen=True, slots=True)
class Article:
    """One PubMed record (or one PubTator or BioC document).

    `text` is PubTator's document text, ``title + " " + abstract``: every stored character
    offset (sentences, entities) indexes this string. A full-text document (several passages)
    has its first passage's title part as `title` and the rest of its passages, joined by
    PASSAGE_SEPARATOR, as `abstract`; `passages` says where each passage lies in `text`
    (empty for an abstract: the document is one passage). `annotations`: the input file's own
    entity mentions (PubTator or BioC annotations, canonical types, offsets into `text`), which
    `mine --entities given` stores and relates instead of NER's; () for PubMed XML.
    """

    pmid: str
    title: str
    abstract: str = ""
    version: int = 1
    journal: str = ""
    pub_date: str = ""  # as precise as PubMed gives it: "2018", "2018-03", "2018-03-07"
    year: int | None = None
    doi: str = ""
    publication_types: tuple[str, ...] = ()
    mesh_headings: tuple[str, ...] = ()
    language: str = ""
    authors: tuple[Author, ...] = ()
    source: str = ""  # where it came from: "efetch", a file path, ...
    passages: tuple[Passage, ...] = ()
    annotations: tuple[Mention, ...] = ()

    @property
    def text(self) -> str:
        return self.title + " " + self.abstract


@dataclass(frozen=True, slots=True)
class Deletion:
    """PMIDs that an update file's <DeleteCitation> removes from PubMed."""

    pmids: tuple[str, ...]
    source: str = ""


@dataclass(frozen=True, slots=True)
class Reject:
    """A record that could not be used, with the reason; stored in the `rejects` table.

    `stage`: "parse" for a record the reader could not use; for a document a later stage raised
    on, that stage's name (see DocumentFailure).
    """

    source: str
    reason: str
    pmid: str | None = None
    stage: str = "parse"


@dataclass(frozen=True, slots=True)
class DocumentFailure:
    """A document that a per-document stage raised on: it is stored as a reject, not half-stored
    (tasks/isolation.py)."""

    pmid: str
    stage: str  # split, ner, abbreviations, linking, relations, pairs
    error: str  # "ValueError: min() arg is an empty sequence"


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a document: `text == article.text[start:end]`."""

    pmid: str
    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Mention:
    """An entity mention found in a document; offsets index `Article.text`."""

    pmid: str
    start: int
    end: int
    text: str
    type: str  # canonical type: Chemical, Disease, Gene, Species, ...
    score: float = 1.0
    sentence_index: int = -1
    concept_id: str = ""  # MeSH ID(s), "|"-joined; "" for none (stored as NULL)
    link_status: str = ""  # how concept_id was found, or why there is none (schema.LINK_STATUSES)


@dataclass(frozen=True, slots=True)
class Pair:
    """A chemical and a disease of one document: surface forms that co-occur in a sentence
    (method "cooccurrence"), or MeSH concepts scored by the CID classifier (method "cid-…",
    with IDs, relation "CID"/"none", score and evidence sentences)."""

    pmid: str
    chemical: str  # normalised surface form (case-folded, whitespace-collapsed)
    disease: str
    n_sentences: int
    sentence_indexes: tuple[int, ...] = field(default_factory=tuple)
    method: str = "cooccurrence"
    chemical_id: str | None = None
    disease_id: str | None = None
    relation: str | None = None
    score: float | None = None
    evidence: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Relation:
    """A typed relation between two concepts of one document (BioRED's task): the pair's types,
    IDs and most frequent surface forms, the relation type, novelty, scores and evidence."""

    pmid: str
    type1: str
    id1: str
    name1: str
    type2: str
    id2: str
    name2: str
    relation: str  # Association, Positive_Correlation, ... (tasks/relations/typed.py)
    novel: str  # "Novel" or "No"
    score: float
    novel_score: float
    sentence_indexes: tuple[int, ...] = field(default_factory=tuple)
    evidence: tuple[str, ...] = field(default_factory=tuple)
    model: str = ""  # the relation model's name


@dataclass(frozen=True)
class Hit:
    """One search result: a document, or one of its sentences, with its score (cosine similarity,
    BM25 or reciprocal-rank-fusion score, by the search mode)."""

    rank: int
    score: float
    pmid: str
    title: str
    year: int | None
    journal: str
    sentence_index: int | None = None
    text: str = ""  # the sentence (level=sentence), else the abstract
