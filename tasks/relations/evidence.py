"""What a pair typer reads beside its words: a sentence embedding of the pair's evidence.

The typer's bag of words (`litmine.tasks.relations.pair_types.pair_features`) says which words
surround a pair, not how they are put together ("X reduced Y" and "Y reduced X" share them). A
sentence encoder reads the order. The evidence of a pair is its entity-type pair, then the (at
most `MAX_SENTENCES`) sentences naming both concepts, else the first sentence naming each, with
the first concept's mentions written `@A$` and the second's `@B$` (the two concepts in sorted
order, so a pair reads the same either way round; BioRED's types are unordered): "Chemical
Disease: @A$ induced @B$ in rats." The bundled all-MiniLM-L6-v2 sentence encoder
(`litmine.tasks.semantic.embeddings`, frozen) embeds it, and its 384 values, times a weight,
join the typer's features (`EVIDENCE_PREFIX` 0..383) for the type (not the novelty, where they
did not help).

Measured on BioRED (the relation model's card, PT10 and PT11; type accuracy on gold pairs,
5-fold cross-validation by document on the training set / dev): the words alone 68.91 / 66.84,
with the embedding at weight 2 (`EVIDENCE_WEIGHT`, the middle of the 1-3 plateau that
cross-validation found) 70.37 / 67.44; `litmine evaluate --relations` on BioRED dev, pair+type
with gold IDs 48.55 -> 49.60, end to end 30.06 -> 30.99. Not the shipped typer's default: it
made `litmine mine` on BC5CDR dev take 49 s instead of 24 (the relation step 35 s), below the
hand-written loop's 45 s, so a typer reads evidence only when trained with
`fit_pair_typer(evidence_weight=EVIDENCE_WEIGHT)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: Feature names of the embedding's values: "ev0" ... "ev383".
EVIDENCE_PREFIX = "ev"
#: The weight of the embedding's values among the words' features (chosen by cross-validation).
EVIDENCE_WEIGHT = 2.0
#: At most this many sentences naming both concepts are read.
MAX_SENTENCES = 2

Key = tuple[str, str]
Span = tuple[int, int]


def sentence_at(sentences: Sequence[Span], position: int) -> int:
    """The index of the sentence ((start, end) spans) holding `position`; the last if none."""
    for k, (start, end) in enumerate(sentences):
        if start <= position < end:
            return k
    return len(sentences) - 1


def evidence_text(text: str, sentences: Sequence[Span], first: Key, second: Key,
                  spans: Mapping[Key, Sequence[Span]]) -> str:
    """The evidence of the pair (`first`, `second`) in `text` (see the module docstring);
    `sentences`: (start, end) spans in order, `spans`: each concept's mention spans."""
    a, b = sorted((first, second))
    in_a = {sentence_at(sentences, s) for s, _ in spans[a]}
    in_b = {sentence_at(sentences, s) for s, _ in spans[b]}
    chosen = sorted(in_a & in_b)[:MAX_SENTENCES] or sorted({min(in_a), min(in_b)})
    parts = []
    for k in chosen:
        start, end = sentences[k]
        marks = sorted([(s, e, "@A$") for s, e in spans[a] if start <= s < end]
                       + [(s, e, "@B$") for s, e in spans[b] if start <= s < end])
        out, at = [], start
        for s, e, mark in marks:
            if s < at:  # overlaps a mention already marked
                continue
            out += [text[at:s], mark]
            at = e
        out.append(text[at:end])
        parts.append("".join(out))
    return f"{' '.join(sorted((a[0], b[0])))}: {' '.join(parts)}"


def evidence_features(texts: Sequence[str], model: str, weight: float, *,
                      device: str = "auto") -> list[dict[str, float]]:
    """Per text, its embedding by `model` times `weight` as features (`EVIDENCE_PREFIX` i)."""
    if not texts:
        return []
    from litmine.tasks.semantic.embeddings import load_embedder

    vectors = load_embedder(model, device=device).embed(list(texts))
    return [{f"{EVIDENCE_PREFIX}{i}": float(weight * x) for i, x in enumerate(row)}
            for row in vectors]
