"""Model inputs for NER training: sentences tokenised, with BIO labels on their tokens.

`encode_sentences` turns `TaggedSentence`s (`litmine.tasks.training.corpus`) into `Example`s: a
fast tokenizer's token IDs with the special tokens, a label per word's first token (BIO over the
canonical types), the labels an untagged word may also be (partial labels), the task marker and,
for a model trained with case types, each token's case class (`litmine.tasks.ner.casing`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from litmine.errors import LitmineError
from litmine.tasks.ner.casing import case_types
from litmine.tasks.ner.markers import marker_key
from litmine.tasks.training.corpus import TaggedSentence

# -- model inputs --------------------------------------------------------------------------------
IGNORE = -100  # label ignored by torch's cross-entropy (its default ignore_index)


def bio_labels(types: Iterable[str]) -> list[str]:
    """The label list of a BIO tagger over `types`: O, then B-/I- per type (sorted)."""
    labels = ["O"]
    for t in sorted(set(types)):
        labels += [f"B-{t}", f"I-{t}"]
    return labels


@dataclass(frozen=True, slots=True)
class Example:
    """One model input: token IDs with special tokens, and a label ID per token (or -100)."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    doc_id: str
    sentence_index: int
    window: int = 0
    #: Label IDs an untagged ("O") token may also be: the B-/I- labels of the types its corpus
    #: does not annotate (partial-label training, `litmine.tasks.training.partial`).
    also_possible: tuple[int, ...] = ()
    #: Each token's case class (`litmine.tasks.ner.casing`), for a model trained with case
    #: types; empty otherwise.
    token_types: tuple[int, ...] = ()


def unannotated_labels(annotated: Collection[str] | None, label2id: Mapping[str, int]
                       ) -> tuple[int, ...]:
    """The B-/I- label IDs of the types a corpus does not annotate (none when it annotates all)."""
    if annotated is None:
        return ()
    return tuple(sorted(i for name, i in label2id.items()
                        if name != "O" and name[2:] not in annotated))


@dataclass
class EncodeStats:
    sentences: int = 0
    examples: int = 0
    windows_split: int = 0  # sentences longer than max_length, split into several examples
    entities: int = 0
    misaligned: int = 0  # entities whose start or end falls inside a token


def _token_labels(offsets, word_ids, entities, label2id, stats: EncodeStats) -> list[int]:
    """Label the first sub-token of each word; other sub-tokens get -100.

    A word takes the label of the entity it overlaps (B- for the entity's first word), as
    `litmine.tasks.ner.labels.decode_entities` reads a word's label from its first sub-token
    (Devlin et al. 2019, BERT, sec. 5.3). An entity that starts or ends inside a word is counted
    in `stats.misaligned`: the tagger can only find it widened to whole words.
    """
    starts = {s for s, _ in offsets}
    ends = {e for _, e in offsets}
    labels = []
    seen: set[int] = set()
    i, n = 0, len(offsets)
    while i < n:
        j = i + 1
        if word_ids[i] is not None:
            while j < n and word_ids[j] == word_ids[i]:
                j += 1
        ws, we = offsets[i][0], max(e for _, e in offsets[i:j])
        hit = next((k for k, (es, ee, _) in enumerate(entities) if es < we and ws < ee), None)
        if hit is None:
            labels.append(label2id["O"])
        else:
            labels.append(label2id[("I-" if hit in seen else "B-") + entities[hit][2]])
            seen.add(hit)
        labels.extend([IGNORE] * (j - i - 1))
        i = j
    for es, ee, _ in entities:
        stats.misaligned += es not in starts or ee not in ends
    return labels


def _windows(labels: list[int], word_start: list[bool], size: int, label2id) -> list[tuple]:
    """(start, end) token windows of at most `size`, cut at word starts outside entities."""
    inside = {v for k, v in label2id.items() if k.startswith("I-")}
    out = []
    start = 0
    n = len(labels)
    while n - start > size:
        cut = None
        for p in range(start + size, start, -1):
            if word_start[p] and labels[p] not in inside:
                cut = p
                break
        if cut is None:
            cut = next((p for p in range(start + size, start, -1) if word_start[p]), start + size)
        out.append((start, cut))
        start = cut
    out.append((start, n))
    return out


def encode_sentences(sentences: Iterable[TaggedSentence], tokenizer, label2id: Mapping[str, int],
                     max_length: int = 256, stats: EncodeStats | None = None,
                     markers: Mapping[str, int] | None = None,
                     case: bool = False) -> list[Example]:
    """Tokenise sentences with a fast tokenizer and align BIO labels to tokens.

    Only the first sub-token of each word (and a token where an entity starts inside a word)
    gets a label; other sub-tokens and special tokens get -100. Sentences longer than
    `max_length` tokens are cut into several examples at word boundaries outside entities,
    never silently truncated. `markers` (key -> token ID): each corpus' marker follows [CLS].
    `case`: each example also carries its tokens' case classes (`litmine.tasks.ner.casing`).
    """
    if not getattr(tokenizer, "is_fast", False):
        raise LitmineError("corpus: a fast tokenizer (offset mapping) is needed to align "
                           "labels; the base model needs a tokenizer.json")
    stats = stats if stats is not None else EncodeStats()
    size = max_length - tokenizer.num_special_tokens_to_add(pair=False) - bool(markers)
    if size < 8:
        raise LitmineError(f"corpus: max_length {max_length} leaves no room for tokens; "
                           "use --max-length 64 or more")
    inside = {v for k, v in label2id.items() if k.startswith("I-")}
    examples: list[Example] = []
    for sentence in sentences:
        stats.sentences += 1
        also = unannotated_labels(sentence.annotated, label2id)
        if not sentence.text.strip():
            continue
        enc = tokenizer(sentence.text, return_offsets_mapping=True)
        sequence = enc.sequence_ids()
        content = [i for i, s in enumerate(sequence) if s is not None]
        if not content:
            continue
        first, last = content[0], content[-1] + 1
        all_ids = list(enc["input_ids"])
        prefix, ids, suffix = all_ids[:first], all_ids[first:last], all_ids[last:]
        prefix += [markers[marker_key(sentence.annotated)]] if markers else []
        word_ids = enc.word_ids()[first:last]
        offsets = [tuple(o) for o in enc["offset_mapping"][first:last]]
        entities = list(sentence.entities)
        stats.entities += len(entities)
        labels = _token_labels(offsets, word_ids, entities, label2id, stats)
        types = case_types(sentence.text, offsets, word_ids) if case else None
        word_start = [lab != IGNORE for lab in labels]
        windows = _windows(labels, word_start, size, label2id)
        stats.windows_split += len(windows) > 1
        for w, (a, b) in enumerate(windows):
            window_labels = labels[a:b]
            if w > 0 and window_labels[0] in inside:
                # A window forced to start inside an entity: the entity starts again there.
                name = next(k for k, v in label2id.items() if v == window_labels[0])
                window_labels[0] = label2id["B-" + name[2:]]
            full = [IGNORE] * len(prefix) + window_labels + [IGNORE] * len(suffix)
            token_types = (() if types is None else
                           (0,) * len(prefix) + tuple(types[a:b].tolist()) + (0,) * len(suffix))
            examples.append(Example(tuple(prefix + ids[a:b] + suffix), tuple(full),
                                    sentence.doc_id, sentence.index, w, also, token_types))
    stats.examples += len(examples)
    return examples
