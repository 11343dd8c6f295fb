"""BioRED's typed relations: every pair of gene, chemical, disease and variant concepts of a
document, classed into one of eight relation types (or none), with novelty.

The task is BioRED's (Luo et al. 2022, Briefings in Bioinformatics 23(5), bbac282): a relation
holds between two concepts (database IDs), not mentions, anywhere in the abstract; its type is
one of `RELATION_TYPES` and it is "Novel" when the abstract reports it as its own finding, "No"
when it is background knowledge.

The model is the document encoder of `litmine.tasks.relations.document` (ATLOP-style: one pass
over the marked abstract, concept embeddings pooled from their mentions, localized context
pooling, a grouped bilinear head) with a learned embedding per entity type and
``len(CLASSES) + 1`` outputs per pair: softmax over `CLASSES` ("none" first) and a novelty logit.
A pair is a relation when 1 - P(none) reaches the model's threshold; its type is the most
probable of the eight; it is "Novel" when sigmoid(novelty logit) reaches the model's novelty
threshold (0.5 unless tuned).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from litmine.errors import ModelError
from litmine.tasks.linking.concept_ids import mention_concept_ids
from litmine.tasks.relations.document import DOCRE_FILE, encode_document, load_pair_model
from litmine.tasks.relations.model_config import read_model_config
from litmine.tasks.relations.pair_types import PairTyper, load_pair_typer

#: BioRED's eight relation types.
RELATION_TYPES = ("Association", "Positive_Correlation", "Negative_Correlation", "Bind",
                  "Cotreatment", "Comparison", "Drug_Interaction", "Conversion")
#: The model's classes: index 0 is "no relation".
CLASSES = ("none", *RELATION_TYPES)
#: Entity types that take part in BioRED relations (species and cell lines do not).
ENTITY_TYPES = ("Chemical", "Disease", "Gene", "Variant")
#: Entity type pairs (sorted) scored as candidates: every pair BioRED's training documents hold
#: a relation for. Disease-Disease pairs hold none and are never scored.
PAIR_TYPES = frozenset({
    ("Chemical", "Chemical"), ("Chemical", "Disease"), ("Chemical", "Gene"),
    ("Chemical", "Variant"), ("Disease", "Gene"), ("Disease", "Variant"), ("Gene", "Gene"),
    ("Gene", "Variant"), ("Variant", "Variant"),
})
NOVEL, NOT_NOVEL = "Novel", "No"

Key = tuple[str, str]  # (entity type, concept ID)


def typed_spans(mentions: Sequence) -> dict[Key, list[tuple[int, int]]]:
    """(type, concept ID) -> character spans, for mentions of `ENTITY_TYPES` with IDs."""
    out: dict[Key, list[tuple[int, int]]] = {}
    for m in mentions:
        if m.type in ENTITY_TYPES and m.end > m.start:
            for cid in mention_concept_ids(m.type, m.concept_id):
                out.setdefault((m.type, cid), []).append((m.start, m.end))
    return out


def candidate_pairs(keys: Sequence[Key]) -> list[tuple[Key, Key]]:
    """Every unordered pair of distinct concepts whose types BioRED relates, each ordered
    (first key < second key), in a stable order."""
    ordered = sorted(set(keys))
    return [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1:]
            if (a[0], b[0]) in PAIR_TYPES]


@dataclass(frozen=True, slots=True)
class TypedRelation:
    """One predicted relation between two concepts of a document."""

    first: Key
    second: Key
    relation: str  # one of RELATION_TYPES
    novel: str  # NOVEL or NOT_NOVEL
    score: float  # 1 - P(none)
    novel_score: float  # P(novel)


def decide(probabilities: Sequence[float], threshold: float) -> tuple[str, float] | None:
    """(relation type, 1 - P(none)) when a pair's class probabilities make it a relation at
    `threshold`, else None."""
    score = 1.0 - float(probabilities[0])
    if score < threshold:
        return None
    best = max(range(1, len(CLASSES)), key=lambda k: probabilities[k])
    return CLASSES[best], score


def decide_relations(scored, threshold: float, novelty_threshold: float
                     ) -> list[TypedRelation]:
    """The relations among (first, second, class probabilities, P(novel)) of scored pairs."""
    out = []
    for a, b, probs, novel in scored:
        decided = decide(probs, threshold)
        if decided is not None:
            out.append(TypedRelation(a, b, decided[0],
                                     NOVEL if novel >= novelty_threshold else NOT_NOVEL,
                                     round(decided[1], 4), round(novel, 4)))
    return out


def load_typer(path: Path, name: str, threshold: float, wanted: bool = True
               ) -> tuple[PairTyper | None, str, float]:
    """(the pair typer saved beside the typed model at `path` or None, the name the model's rows
    carry, the score at which a pair is a relation): a typer's name joins the model's, and its
    threshold replaces the model's when it re-scores which pairs are relations. `wanted=False`:
    the head alone (as the typer's training scores it)."""
    typer = load_pair_typer(path) if wanted else None
    if typer is None:
        return None, name, threshold
    return (typer, f"{name}+pair-types@{typer.fingerprint}",
            threshold if typer.threshold is None else typer.threshold)


def given_threshold(typer: PairTyper | None, threshold: float) -> float:
    """The score at which a pair of the input's own concepts (gold entities and IDs) is a
    relation: the typer's threshold for them, else `threshold` (a head's own threshold was
    chosen on held-out documents with gold entities)."""
    chosen = typer.given_threshold if typer is not None else None
    return threshold if chosen is None else chosen


def decide_typed(scored, typer: PairTyper | None, text: str, spans, threshold: float,
                 novelty_threshold: float, *, sentences: Sequence = (),
                 title_length: int | None = None) -> list[TypedRelation]:
    """`decide_relations` on a model's scored pairs, re-scored first by its pair typer when it
    has one (whose P(novel) is a logistic regression's: "Novel" at 0.5). Two concepts named
    only by the same mentions (the parts of "ERK1/2") are never related: BioRED relates none
    (0 of 135 such candidate pairs in its training set, 0 of 12 in dev)."""
    scored = [row for row in scored if sorted(spans[row[0]]) != sorted(spans[row[1]])]
    if typer is not None:
        scored = typer.retype(text, spans, CLASSES, scored, sentences=sentences,
                              title_length=title_length, typed_from=threshold)
        novelty_threshold = 0.5
    return decide_relations(scored, threshold, novelty_threshold)


def pair_outputs(logits):
    """(class probabilities (P, len(CLASSES)), P(novel) (P,)) from the model's pair logits."""
    import torch

    return (torch.softmax(logits[:, :len(CLASSES)], -1),
            torch.sigmoid(logits[:, len(CLASSES)]))


class TypedRelationModel:
    """A saved BioRED model: encoder directory, pair head, classes and threshold."""

    def __init__(self, path: str | Path, *, device: str = "cpu", dtype: str | None = "fp32",
                 pair_typer: bool = True):
        self.path = Path(path)
        self.config = read_model_config(self.path, DOCRE_FILE)
        if self.config.get("kind") != "typed" or tuple(self.config.get("classes", ())) != CLASSES:
            raise ModelError(f"relations: {self.path} is not a BioRED typed relation model "
                             f"(its {DOCRE_FILE} has kind {self.config.get('kind')!r}); train one "
                             "with `litmine train --task relations --method typed`")
        self.threshold = float(self.config["threshold"])
        #: P(novel) at or above which a relation is "Novel" (tuned on held-out documents).
        self.novelty_threshold = float(self.config.get("novelty_threshold", 0.5))
        loaded = load_pair_model(self.path, device=device, dtype=dtype,
                                 blocks=self.config.get("blocks"), outputs=len(CLASSES) + 1,
                                 entity_types=self.config["entity_types"])
        self.model, self.tokenizer = loaded.model, loaded.tokenizer
        self.device, self.dtype = loaded.device, loaded.dtype
        self.name = self.config.get("name", self.path.name)
        #: The pair typer saved beside the model (`litmine.tasks.relations.pair_types`), or None.
        self.typer, self.name, self.threshold = load_typer(self.path, self.name, self.threshold,
                                                           pair_typer)
        #: The threshold for the input's own concepts (`mine --entities given`).
        self.given_threshold = given_threshold(self.typer, self.threshold)

    def probabilities(self, text: str, mentions: Sequence
                      ) -> list[tuple[Key, Key, list[float], float]]:
        """(first, second, class probabilities, P(novel)) of every candidate pair whose concepts
        the encoder read (concepts first mentioned past `MAX_DOCUMENT_TOKENS` are not)."""
        import torch

        spans = typed_spans(mentions)
        if not candidate_pairs(list(spans)):  # nothing to score: no need to tokenise
            return []
        doc = encode_document(self.tokenizer, text, spans)
        pairs = candidate_pairs(list(doc.concepts))
        if not pairs:
            return []
        with torch.inference_mode():
            logits = self.model(doc.input_ids, doc.concepts, pairs, self.tokenizer.cls_token_id,
                                self.tokenizer.sep_token_id).float()
            probs, novel = pair_outputs(logits)
        return [(a, b, p, n) for (a, b), p, n in zip(pairs, probs.tolist(), novel.tolist())]

    def predict_document(self, text: str, mentions: Sequence,
                         threshold: float | None = None, *, states=None, sentences=(),
                         pmid: str = "", title_length: int | None = None
                         ) -> list[TypedRelation]:
        """The relations of one document (mentions with concept IDs; offsets index `text`).
        `states`, `sentences`, `pmid`, `title_length`: what a shared model reads (this one
        encodes the text itself and ignores them)."""
        return decide_typed(self.probabilities(text, mentions), self.typer, text,
                            typed_spans(mentions),
                            self.threshold if threshold is None else threshold,
                            self.novelty_threshold, sentences=sentences,
                            title_length=title_length)


def is_typed_model(path: str | Path) -> bool:
    """Whether `path` holds a typed (BioRED) relation model."""
    config = Path(path) / DOCRE_FILE
    if not config.is_file():
        return False
    return json.loads(config.read_text(encoding="utf-8")).get("kind") == "typed"
