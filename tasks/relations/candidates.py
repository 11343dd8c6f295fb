"""Chemical-induced disease (CID) relation candidates: concept pairs, evidence, aggregation.

A candidate is a (chemical MeSH ID, disease MeSH ID) pair of one document (BioCreative V CDR's
unit, Wei et al. 2016, Database baw032). Its evidence is every sentence in which a mention of
each occurs; candidates with none get every pair of adjacent sentences that has one in each
(`WINDOW`). In the evidence text the chemical's mentions are wrapped as ``@ * chemical * ... @``
and the disease's as ``# ^ disease ^ ... #``: the "typed entity marker (punct)" of Zhou & Chen
2022 (AACL, "An Improved Baseline for Sentence-level Relation Extraction"), which needs no new
tokens. A fine-tuned encoder (`litmine.tasks.relations.encoder.RelationModel`) scores each
evidence text; a candidate's score is the maximum over its evidence (`aggregate`). Candidates
without evidence are scored by the linear model's document features only
(`litmine.tasks.relations.linear`), or 0 by the encoder. The methods are loaded by name through
`litmine.tasks.relations.registry`.

Measured on BC5CDR training documents (gold entities): 43% of candidates share a sentence (33%
of those are CID), 24% only an adjacent sentence pair (12% CID), 33% neither (6.5% CID; 11%
of all relations). A title rule (chemical and disease both in the title) never applies here:
the title is a sentence of its own, so such pairs always have evidence.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from litmine.tasks.records import Mention, Sentence
from litmine.tasks.sources.pubtator import PubTatorDocument, gold_to_mentions
from litmine.tasks.text.sentences import split_article

CHEMICAL, DISEASE = "Chemical", "Disease"
#: Sentences apart that still make evidence for a candidate with no shared sentence (1:
#: adjacent sentences, the "nearby sentence pair" of issue 7).
WINDOW = 1
#: Typed entity markers (Zhou & Chen 2022, punctuation variant).
MARKERS = {CHEMICAL: ("@ * chemical * ", " @"), DISEASE: ("# ^ disease ^ ", " #")}
#: Evidence longer than this (characters) is cut around its markers before tokenising, so the
#: markers survive truncation at 128 tokens (about 4.5 characters per word-piece in abstracts).
MAX_EVIDENCE_CHARS = 560


@dataclass(frozen=True, slots=True)
class Evidence:
    """One text that mentions both concepts of a candidate."""

    sentence_indexes: tuple[int, ...]
    text: str  # with entity markers: the classifier's input
    plain: str  # without markers: what a reader sees


@dataclass
class Candidate:
    """A (chemical, disease) concept pair of one document and what supports it."""

    pmid: str
    chemical_id: str
    disease_id: str
    chemical: str = ""  # most frequent surface form
    disease: str = ""
    evidence: list[Evidence] = field(default_factory=list)
    chemical_in_title: bool = False
    disease_in_title: bool = False
    chemical_count: int = 0
    disease_count: int = 0
    score: float = 0.0
    relation: str = ""  # "CID" when predicted, else ""
    method: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return self.pmid, self.chemical_id, self.disease_id


def concept_ids(mention: Mention) -> list[str]:
    """The MeSH IDs of a mention: composite "A|B" gives both; none for "", "-1"."""
    return [c for c in (mention.concept_id or "").split("|") if c and c not in ("-1", "-")]


def _sentence_of(sentences: Sequence[Sentence], m: Mention) -> int:
    if m.sentence_index >= 0:
        return m.sentence_index
    for s in sentences:
        if s.start <= m.start < s.end:
            return s.index
    return -1


def mark_text(text: str, start: int, end: int, spans: Iterable[tuple[int, int, str]]) -> str:
    """`text[start:end]` with each (s, e, type) span wrapped in its type's markers.

    A span is first clipped to the evidence (a mention crossing a sentence end is marked up to
    it); an empty one, or one that overlaps a span already marked (nested or crossing mentions:
    the one that starts first wins, the shorter on a tie), is left unmarked.
    """
    out, pos = [], start
    clipped = ((max(s, start), min(e, end), type_) for s, e, type_ in spans)
    for s, e, type_ in sorted(clipped):
        if s >= e or s < pos:
            continue
        left, right = MARKERS[type_]
        out += [text[pos:s], left, text[s:e], right]
        pos = e
    out.append(text[pos:end])
    return "".join(out)


def crop(marked: str, max_chars: int = MAX_EVIDENCE_CHARS) -> str:
    """Cut a long evidence text to at most `max_chars` around its markers.

    The window spans the first and last markers when they fit in it; otherwise (a long methods
    sentence, a table flattened into one sentence) the closest chemical-disease marker pair.
    Without a marker (every span was left unmarked) the text's start is kept: an evidence text
    must never sink its document (issue 21: `min()` of no marker positions failed a whole run).
    """
    if len(marked) <= max_chars:
        return marked
    chemicals = [m.start() for m in _CHEMICAL_MARK.finditer(marked)]
    diseases = [m.start() for m in _DISEASE_MARK.finditer(marked)]
    positions = chemicals + diseases
    lo, hi = (min(positions), max(positions) + 40) if positions else (0, 0)
    if hi - lo > max_chars and chemicals and diseases:
        c, d = _closest(chemicals, diseases)
        lo, hi = min(c, d), max(c, d) + 40
    if hi - lo > max_chars:
        hi = lo + max_chars
    spare = max(0, max_chars - (hi - lo))
    a = max(0, lo - spare // 2)
    b = min(len(marked), max(hi, a + max_chars))
    a = max(0, min(a, b - max_chars))
    piece = marked[a:b]
    if a > 0 and " " in piece[:30]:
        piece = piece[piece.index(" ") + 1:]
    return piece


_CHEMICAL_MARK = re.compile(re.escape(MARKERS[CHEMICAL][0].rstrip()))
_DISEASE_MARK = re.compile(re.escape(MARKERS[DISEASE][0].rstrip()))


def _closest(first: Sequence[int], second: Sequence[int]) -> tuple[int, int]:
    """The pair (a from `first`, b from `second`) nearest each other (both lists sorted)."""
    best, j = (first[0], second[0]), 0
    for a in first:
        while j + 1 < len(second) and second[j + 1] <= a:
            j += 1
        for b in second[j:j + 2]:
            if abs(a - b) < abs(best[0] - best[1]):
                best = (a, b)
    return best


def build_candidates(pmid: str, text: str, sentences: Sequence[Sentence],
                     mentions: Sequence[Mention], *, title_end: int | None = None,
                     window: int = WINDOW) -> list[Candidate]:
    """Every (chemical ID, disease ID) pair of a document with its evidence texts.

    `title_end`: offset where the title ends (default: the end of the first sentence).
    """
    if title_end is None:
        title_end = sentences[0].end if sentences else 0
    by_concept: dict[tuple[str, str], list[tuple[Mention, int]]] = defaultdict(list)
    for m in mentions:
        if m.type in (CHEMICAL, DISEASE):
            for cid in concept_ids(m):
                by_concept[(m.type, cid)].append((m, _sentence_of(sentences, m)))
    chemicals = sorted(c for t, c in by_concept if t == CHEMICAL)
    diseases = sorted(c for t, c in by_concept if t == DISEASE)
    sentence_by_index = {s.index: s for s in sentences}
    out = []
    for c in chemicals:
        cms = by_concept[(CHEMICAL, c)]
        c_sents = {i for _, i in cms if i >= 0}
        for d in diseases:
            dms = by_concept[(DISEASE, d)]
            d_sents = {i for _, i in dms if i >= 0}
            groups = [(i,) for i in sorted(c_sents & d_sents)]
            if not groups and window > 0:
                groups = sorted({(min(i, j), max(i, j)) for i in c_sents for j in d_sents
                                 if 0 < abs(i - j) <= window})
            cand = Candidate(
                pmid, c, d, chemical=_surface(cms), disease=_surface(dms),
                chemical_in_title=any(m.start < title_end for m, _ in cms),
                disease_in_title=any(m.start < title_end for m, _ in dms),
                chemical_count=len(cms), disease_count=len(dms))
            for g in groups:
                first, last = sentence_by_index.get(g[0]), sentence_by_index.get(g[-1])
                if first is None or last is None:
                    continue
                start, end = first.start, last.end
                spans = [(m.start, m.end, CHEMICAL) for m, i in cms if i in g]
                spans += [(m.start, m.end, DISEASE) for m, i in dms if i in g]
                marked = crop(mark_text(text, start, end, spans))
                cand.evidence.append(Evidence(tuple(range(g[0], g[-1] + 1)), marked,
                                              text[start:end]))
            out.append(cand)
    return out


def _surface(items: list[tuple[Mention, int]]) -> str:
    counts = Counter(" ".join(m.text.split()) for m, _ in items)
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0] if counts else ""


def aggregate(scores: Sequence[float], how: str = "max") -> float:
    """A candidate's score from its evidence scores: "max" or "noisy-or" (1 - prod(1 - p))."""
    if not scores:
        return 0.0
    if how == "noisy-or":
        return 1.0 - math.prod(1.0 - s for s in scores)
    return max(scores)


def document_candidates(doc: PubTatorDocument) -> list[Candidate]:
    """Candidates of a document from its gold mentions (pipeline sentence splitter)."""
    sentences = split_article(doc.to_article())
    return build_candidates(doc.pmid, doc.text, sentences, gold_to_mentions(doc),
                            title_end=len(doc.title))


def gold_pairs(doc: PubTatorDocument) -> set[tuple[str, str]]:
    """The (chemical ID, disease ID) pairs a gold document lists as CID relations."""
    return {(a, b) for t, a, b in doc.relations if t == "CID"}


def drop_general_relations(candidates: Sequence[Candidate], tree) -> list[Candidate]:
    """Unset predicted relations whose disease (chemical) is a MeSH ancestor of another
    predicted relation's disease (chemical) with the same chemical (disease).

    BioCreative V CDR annotates the most specific disease of a relation (Li et al. 2016,
    Database baw068; the "hypernym filtering" of Gu et al. 2016, Database baw042). `tree` None:
    the candidates are returned unchanged.
    """
    if tree is None:
        return list(candidates)
    predicted = [c for c in candidates if c.relation == "CID"]
    general = [c for c in predicted if any(
        (o.chemical_id == c.chemical_id and tree.is_ancestor(c.disease_id, o.disease_id))
        or (o.disease_id == c.disease_id and tree.is_ancestor(c.chemical_id, o.chemical_id))
        for o in predicted)]
    for c in general:
        c.relation = ""
    return list(candidates)
