"""Build NER training data: read corpora, map their types, split them into sentences.

Corpora are PubTator files (documents with offsets) or CoNLL/BIO files (``token<TAB>label``
per line, a blank line between sentences). Types are mapped to litmine's canonical ones
(`litmine.tasks.sources.pubtator.DEFAULT_TYPE_MAP`), documents that appear in two corpora are
kept once (the first corpus wins), and no development-set PMID ever reaches training.

Training sentences come from `litmine.tasks.text.sentences.split_article`, the splitter the
pipeline uses at inference time, so the model sees the same units in training and in use.
Tokenising and labelling them is `litmine.tasks.training.encoding`.
"""

from __future__ import annotations

import dataclasses

import logging
import random
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from litmine.errors import LitmineError, ParseError
from litmine.tasks.digests import sha256_file
from litmine.tasks.sources.pmid_lists import read_pmid_file
from litmine.tasks.sources.pubtator import (GoldMention, PubTatorDocument, PubTatorStats,
                                            build_type_map, detect_format, iter_pubtator,
                                            map_type)
from litmine.tasks.text.sentences import join_sentences, split_article
from litmine.tasks.training.corpus_list import CorpusSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TaggedSentence:
    """A sentence and its entity spans; offsets are relative to `text`."""

    doc_id: str
    index: int
    text: str
    entities: tuple[tuple[int, int, str], ...] = ()
    #: The types its corpus annotates (None: every type); an untagged word may be another type.
    annotated: frozenset[str] | None = None


@dataclass
class FileStats:
    """What one corpus file contributed."""

    path: str
    format: str
    sha256: str
    documents: int = 0  # documents kept (PubTator) or sentences read (CoNLL)
    mentions: int = 0  # mentions kept after type mapping and filtering
    types: Counter = field(default_factory=Counter)  # kept mentions per canonical type
    dropped_types: Counter = field(default_factory=Counter)  # original type -> mentions dropped
    duplicates: int = 0  # documents already read from an earlier file (first file wins)
    held_out: int = 0  # documents dropped because their PMID is in the dev/excluded set
    sampled_out: int = 0  # documents left out by the corpus list's max_docs
    annotated: tuple[str, ...] = ()  # the types the file annotates (empty: all)
    parse: PubTatorStats | None = None

    def as_dict(self) -> dict:
        out = {"path": self.path, "format": self.format, "sha256": self.sha256,
               "documents": self.documents, "mentions": self.mentions,
               "types": dict(sorted(self.types.items())),
               "dropped_types": dict(sorted(self.dropped_types.items())),
               "duplicates": self.duplicates, "held_out": self.held_out,
               "sampled_out": self.sampled_out, "annotated": list(self.annotated)}
        if self.parse is not None:
            out["parse"] = self.parse.summary()
        return out


@dataclass
class Corpus:
    """Documents (PubTator) and ready-made sentences (CoNLL), with per-file statistics."""

    documents: list[PubTatorDocument] = field(default_factory=list)
    sentences: list[TaggedSentence] = field(default_factory=list)
    files: list[FileStats] = field(default_factory=list)
    types: tuple[str, ...] = ()
    #: Document ID -> the types its corpus annotates, for corpora that annotate only some.
    annotated: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Document ID -> share of its sentences without a mention to train on (absent: all).
    negatives: dict[str, float] = field(default_factory=dict)

    @property
    def pmids(self) -> set[str]:
        return {d.pmid for d in self.documents}

    def evaluation_documents(self) -> list[PubTatorDocument]:
        """Documents to run the pipeline on: PubTator documents, and each CoNLL sentence as a
        one-sentence document (its text as the title)."""
        return self.documents + [sentence_to_document(s) for s in self.sentences]

    def summary(self) -> str:
        counts = Counter()
        for f in self.files:
            counts.update(f.types)
        parts = [f"{len(self.documents)} documents"]
        if self.sentences:
            parts.append(f"{len(self.sentences)} CoNLL sentences")
        parts.append(", ".join(f"{t} {n}" for t, n in sorted(counts.items())) or "no mentions")
        dup = sum(f.duplicates for f in self.files)
        held = sum(f.held_out for f in self.files)
        if dup:
            parts.append(f"{dup} duplicate documents dropped")
        if held:
            parts.append(f"{held} held-out (dev/excluded) documents dropped")
        return "; ".join(parts)


# -- reading -------------------------------------------------------------------------------------
def read_conll(path: str | Path) -> list[TaggedSentence]:
    """Sentences of a CoNLL/BIO file: ``token<TAB or space>...label`` lines, blank between.

    The first column is the token, the last the label (BIO/IOB2; an I- after O or after a
    different type starts an entity as in IOB1; BIOES S-/E- are read too). Sentence text is
    the tokens joined by single spaces; `-DOCSTART-` lines are skipped.
    """
    path = Path(path)
    sentences: list[TaggedSentence] = []
    tokens: list[str] = []
    labels: list[str] = []

    def flush() -> None:
        if tokens:
            sentences.append(_conll_sentence(f"{path.name}#{len(sentences)}", tokens, labels))
        tokens.clear()
        labels.clear()

    with open(path, encoding="utf-8-sig") as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                flush()
                continue
            if line.startswith("-DOCSTART-"):
                continue
            parts = line.split("\t") if "\t" in line else line.split()
            if len(parts) < 2:
                raise ParseError(f"corpus: {path} line {number}: expected 'token<TAB>label', "
                                 f"got {line[:80]!r}; is this a CoNLL/BIO file?")
            tokens.append(parts[0].strip())
            labels.append(parts[-1].strip())
    flush()
    return sentences


def _conll_sentence(doc_id: str, tokens: list[str], labels: list[str]) -> TaggedSentence:
    text = " ".join(tokens)
    entities: list[tuple[int, int, str]] = []
    pos = 0
    current: list = []  # [start, end, type]
    for token, label in zip(tokens, labels):
        start, end = pos, pos + len(token)
        pos = end + 1
        prefix, _, etype = label.partition("-")
        prefix = prefix.upper()
        if label == "O" or prefix not in ("B", "I", "S", "E") or not etype:
            if current:
                entities.append(tuple(current))
            current = []
            continue
        continues = current and current[2] == etype and prefix in ("I", "E")
        if continues:
            current[1] = end
        else:
            if current:
                entities.append(tuple(current))
            current = [start, end, etype]
        if prefix in ("S", "E"):
            entities.append(tuple(current))
            current = []
    if current:
        entities.append(tuple(current))
    return TaggedSentence(doc_id, 0, text, tuple(entities))


def sentence_to_document(sentence: TaggedSentence) -> PubTatorDocument:
    """A sentence as a one-sentence document (its text as the title); offsets are unchanged."""
    mentions = tuple(GoldMention(s, e, sentence.text[s:e], t) for s, e, t in sentence.entities)
    return PubTatorDocument(sentence.doc_id, sentence.text, "", mentions)


def _map_document(doc: PubTatorDocument, type_map: Mapping[str, str],
                  types: Collection[str] | None, stats: FileStats,
                  strict: bool = False) -> PubTatorDocument:
    kept = []
    for m in doc.mentions:
        canonical = type_map.get(m.type, "") if strict else map_type(m.type, type_map)
        if not canonical or (types is not None and canonical not in types):
            stats.dropped_types[m.type] += 1
            continue
        kept.append(GoldMention(m.start, m.end, m.text, canonical, m.concept_id))
    # Two corpus types that map to one canonical type can leave the same span twice.
    unique = sorted(set(kept), key=lambda m: (m.start, m.end, m.type, m.concept_id))
    seen: set[tuple[int, int, str]] = set()
    deduped = []
    for m in unique:
        if (m.start, m.end, m.type) not in seen:
            seen.add((m.start, m.end, m.type))
            deduped.append(m)
    stats.types.update(m.type for m in deduped)
    stats.mentions += len(deduped)
    # replace(): the relations' novelty and a full text's passages stay with the document
    return dataclasses.replace(doc, mentions=tuple(deduped))


def load_corpus(paths: Sequence[str | Path | CorpusSpec], *, types: Collection[str] | None = None,
                type_map: Mapping[str, str] | Iterable[str] | None = None,
                hold_out: Collection[str] = (), seed: int = 13) -> Corpus:
    """Read several corpora into one: map types, keep `types`, drop duplicates and held-out PMIDs.

    `type_map` holds overrides of DEFAULT_TYPE_MAP (a dict, or ``A=B`` strings).
    A `CorpusSpec` (from a corpus list) brings its own type map (types it does not name are
    dropped), the types it annotates (kept in `Corpus.annotated` for partial-label training) and
    an optional seeded sample size.
    A document whose PMID was read from an earlier file is dropped (first file wins), and so
    is one whose PMID is in `hold_out` (the dev set's, a test set's). Both are counted per file
    and logged.
    """
    mapping = build_type_map(type_map)
    wanted = set(types) if types is not None else None
    corpus = Corpus()
    seen: set[str] = set()
    held = set(hold_out)
    found_types: set[str] = set()
    for item in paths:
        spec = item if isinstance(item, CorpusSpec) else None
        path = Path(spec.path if spec else item)
        if not path.exists():
            raise ParseError(f"corpus: {path} does not exist; check the --train/--dev paths")
        fmt = detect_format(path)
        stats = FileStats(str(path), fmt, sha256_file(path))
        file_map = spec.type_map if spec else mapping
        annotated = None
        if spec:
            stats.annotated = tuple(t for t in spec.annotated if wanted is None or t in wanted)
            annotated = None if spec.complete else frozenset(stats.annotated)
        if fmt == "pubtator":
            reader = iter_pubtator(path)
            kept = []
            for doc in reader:
                if doc.pmid in held:
                    stats.held_out += 1
                    continue
                if doc.pmid in seen:
                    stats.duplicates += 1
                    log.warning("%s: PMID %s was already read from an earlier corpus; kept "
                                "the first", path, doc.pmid)
                    continue
                seen.add(doc.pmid)
                kept.append(doc)
            stats.parse = reader.stats
            if spec and spec.max_docs is not None and len(kept) > spec.max_docs:
                chosen = set(random.Random(seed).sample(range(len(kept)), spec.max_docs))
                stats.sampled_out = len(kept) - spec.max_docs
                kept = [d for i, d in enumerate(kept) if i in chosen]
            for doc in kept:
                corpus.documents.append(_map_document(doc, file_map, wanted, stats,
                                                      strict=spec is not None))
                if annotated is not None:
                    corpus.annotated[doc.pmid] = annotated
                if spec and spec.negatives < 1:
                    corpus.negatives[doc.pmid] = spec.negatives
                stats.documents += 1
        else:
            for sentence in read_conll(path):
                ents = []
                for s, e, t in sentence.entities:
                    canonical = file_map.get(t, "") if spec else map_type(t, mapping)
                    if not canonical or (wanted is not None and canonical not in wanted):
                        stats.dropped_types[t] += 1
                    else:
                        ents.append((s, e, canonical))
                stats.types.update(t for _, _, t in ents)
                stats.mentions += len(ents)
                stats.documents += 1
                corpus.sentences.append(TaggedSentence(sentence.doc_id, sentence.index,
                                                       sentence.text, tuple(ents), annotated))
        found_types.update(stats.types)
        found_types.update(stats.annotated)
        corpus.files.append(stats)
        log.info("%s (%s): %d documents, %d mentions %s; %d duplicates, %d held-out and %d "
                 "sampled-out documents dropped; types dropped: %s; annotates: %s", path, fmt,
                 stats.documents, stats.mentions, dict(stats.types), stats.duplicates,
                 stats.held_out, stats.sampled_out, dict(stats.dropped_types) or "none",
                 ", ".join(stats.annotated) or "all types")
        if stats.duplicates or stats.held_out:
            log.warning("%s: dropped %d documents already read from an earlier file and %d "
                        "held-out (dev/excluded) documents", path, stats.duplicates,
                        stats.held_out)
    corpus.types = tuple(sorted(wanted if wanted is not None else found_types))
    return corpus


def load_train_dev(train: Sequence[str | Path | CorpusSpec], dev: Sequence[str | Path], *,
                   types: Collection[str] | None = None,
                   type_map: Mapping[str, str] | Iterable[str] | None = None,
                   exclude: Sequence[str | Path] = (), seed: int = 13
                   ) -> tuple[Corpus, Corpus]:
    """Read the dev corpora, then the training corpora without any dev or excluded PMID."""
    dev_corpus = load_corpus(dev, types=types, type_map=type_map)
    held = dev_corpus.pmids
    for path in exclude:
        held |= read_pmid_file(path)
    train_corpus = load_corpus(train, types=types, type_map=type_map, hold_out=held, seed=seed)
    if types is None:
        # Train and dev must agree on the label set: use the union.
        union = tuple(sorted(set(train_corpus.types) | set(dev_corpus.types)))
        train_corpus.types = dev_corpus.types = union
    return train_corpus, dev_corpus


# -- sentences -----------------------------------------------------------------------------------
@dataclass
class SentenceStats:
    sentences: int = 0
    mentions: int = 0
    crossing: int = 0  # mentions crossing a sentence boundary (dropped)
    overlapping: int = 0  # nested/overlapping mentions dropped to make the labels flat
    negatives_skipped: int = 0  # sentences without mentions left out (corpus list negatives=F)


def flatten_entities(entities: Iterable[tuple[int, int, str]]) -> tuple[list, int]:
    """Non-overlapping entities (the longest first, then the earliest), and how many were dropped.

    A BIO tagger can only produce flat mentions; keeping the outer one follows the usual
    choice for nested corpora (Finkel & Manning 2009, "Nested named entity recognition").
    """
    ordered = sorted(set(entities), key=lambda e: (-(e[1] - e[0]), e[0], e[2]))
    kept: list[tuple[int, int, str]] = []
    for e in ordered:
        if all(e[1] <= k[0] or k[1] <= e[0] for k in kept):
            kept.append(e)
    return sorted(kept), len(ordered) - len(kept)


def sentences_from_documents(docs: Iterable[PubTatorDocument],
                             stats: SentenceStats | None = None,
                             annotated: Mapping[str, frozenset[str]] | None = None
                             ) -> list[TaggedSentence]:
    """Split documents with the pipeline's splitter; mentions become sentence-relative spans.

    Mentions that cross a sentence boundary are dropped and counted (`stats.crossing`); so are
    nested/overlapping ones beyond the outermost (`stats.overlapping`).
    """
    stats = stats if stats is not None else SentenceStats()
    out: list[TaggedSentence] = []
    for doc in docs:
        sentences = split_article(doc.to_article())
        inside: dict[int, list] = {}
        for m in doc.mentions:
            owner = None
            for s in sentences:
                if s.start <= m.start and m.end <= s.end:
                    owner = s
                    break
            if owner is None:
                stats.crossing += 1
                log.debug("PMID %s: mention %r %d-%d crosses a sentence boundary; dropped",
                          doc.pmid, m.text, m.start, m.end)
                continue
            inside.setdefault(owner.index, []).append(
                (m.start - owner.start, m.end - owner.start, m.type))
        for s in sentences:
            flat, dropped = flatten_entities(inside.get(s.index, []))
            stats.overlapping += dropped
            stats.mentions += len(flat)
            out.append(TaggedSentence(doc.pmid, s.index, s.text, tuple(flat),
                                      (annotated or {}).get(doc.pmid)))
    stats.sentences += len(out)
    return out


def training_sentences(corpus: Corpus, stats: SentenceStats | None = None) -> list[TaggedSentence]:
    """All training sentences of a corpus: split documents, then the CoNLL sentences."""
    stats = stats if stats is not None else SentenceStats()
    sentences = sentences_from_documents(corpus.documents, stats, corpus.annotated)
    if corpus.negatives:
        kept = [s for s in sentences if s.entities or keep_negative(s, corpus.negatives)]
        stats.negatives_skipped += len(sentences) - len(kept)
        sentences = kept
    return sentences + _conll_sentences(corpus, stats)


def keep_negative(sentence: TaggedSentence, shares: Mapping[str, float]) -> bool:
    """Whether a sentence without mentions is trained on: a draw seeded by its document and
    index, so the same sentences are kept every run whatever the corpus order."""
    share = shares.get(sentence.doc_id, 1.0)
    return share >= 1 or random.Random(f"{sentence.doc_id}:{sentence.index}").random() < share


def _conll_sentences(corpus: Corpus, stats: SentenceStats) -> list[TaggedSentence]:
    out = []
    for s in corpus.sentences:
        flat, dropped = flatten_entities(s.entities)
        stats.overlapping += dropped
        stats.mentions += len(flat)
        out.append(TaggedSentence(s.doc_id, s.index, s.text, tuple(flat), s.annotated))
    stats.sentences += len(corpus.sentences)
    return out


def training_units(corpus: Corpus, unit: str = "sentence",
                   stats: SentenceStats | None = None) -> list[TaggedSentence]:
    """The training examples' texts: sentences (`training_sentences`), or with unit "document"
    each PubTator document as one text (`join_sentences` of its sentences, the text the
    pipeline tags for such a model), mentions crossing sentences kept; CoNLL sentences stay
    sentences (they carry no document)."""
    if unit == "sentence":
        return training_sentences(corpus, stats)
    if unit != "document":
        raise LitmineError(f"corpus: unit must be 'sentence' or 'document', got {unit!r}")
    stats = stats if stats is not None else SentenceStats()
    out: list[TaggedSentence] = []
    for doc in corpus.documents:
        sentences = split_article(doc.to_article())
        if not sentences:
            continue
        start, text = join_sentences(sentences)
        spans = [(m.start - start, m.end - start, m.type) for m in doc.mentions
                 if start <= m.start and m.end <= start + len(text)]
        flat, dropped = flatten_entities(spans)
        stats.overlapping += dropped
        stats.mentions += len(flat)
        stats.sentences += 1
        out.append(TaggedSentence(doc.pmid, 0, text, tuple(flat),
                                  corpus.annotated.get(doc.pmid)))
    return out + _conll_sentences(corpus, stats)


@task(name="read-corpus", cache_policy=NO_CACHE)
def read_corpus(paths: Sequence[str], *, types: Collection[str] | None = None,
                type_map: Mapping[str, str] | Iterable[str] | None = None) -> Corpus:
    """Read gold corpora (a Prefect task around `load_corpus`); logs what was read and dropped."""
    corpus = load_corpus(paths, types=types, type_map=type_map)
    logger = get_run_logger()
    for f in corpus.files:
        logger.info("%s: %d documents, %d mentions %s%s", f.path, f.documents, f.mentions,
                    dict(f.types), f"; {f.parse.summary()}" if f.parse else "")
    return corpus
