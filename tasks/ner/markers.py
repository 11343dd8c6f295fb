"""Task markers: one token after [CLS] that tells the tagger which corpus' conventions to follow.

AIONER's all-in-one scheme (Luo et al. 2023, Bioinformatics btad310) puts a marker for a
corpus' task (the types it annotates) around each training sentence, so corpora that draw
chemicals or species differently (BC5CDR against BioRED, LINNAEUS against BioRED) teach separate
behaviours instead of contradicting each other; at inference the "ALL" marker (the corpus that
annotates every type, BioRED) asks for all types. Here a marker is one of the vocabulary's unused
tokens (BERT's ``[unused1]`` ...), inserted by ID after the leading special tokens, so the
vocabulary and the embeddings keep their size. The key of a marker is the sorted set of types a
corpus annotates ("ALL" when it annotates every type), so corpora of the same task (GNormPlus and
NLM-Gene: Gene) share one. The partial-label loss (`litmine.tasks.training.partial`) still applies:
a marker only says whose conventions a text follows.

The model's config keeps the map (``litmine_markers``: key -> token) and
`litmine.tasks.ner.model.load_model` inserts the "ALL" marker for every text it tags.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping

from litmine.errors import LitmineError

ALL = "ALL"
#: BERT-style vocabularies reserve these (all-MiniLM-L6-v2 has [unused0] .. [unused993]).
_UNUSED = re.compile(r"^\[unused(\d+)\]$")


def marker_key(annotated: Collection[str] | None) -> str:
    """The marker key of a corpus annotating `annotated` types (None: every type, "ALL")."""
    return ALL if annotated is None else ",".join(sorted(annotated))


def assign_markers(keys: Iterable[str], vocab: Mapping[str, int],
                   existing: Mapping[str, str] | None = None) -> dict[str, str]:
    """Marker key -> unused vocabulary token; keys in `existing` (a base model's) keep theirs.

    Raises a LitmineError when there is no "ALL" key (inference asks for all types) or the
    vocabulary has too few unused tokens.
    """
    keys = set(keys)
    if ALL not in keys and ALL not in (existing or {}):
        raise LitmineError("train --markers: no corpus annotates every type (LABEL ALL in the "
                           "corpus list, e.g. BioRED), so inference would have no marker to "
                           "ask for all types; add one or train without --markers")
    markers = dict(existing or {})
    taken = set(markers.values())
    free = sorted((int(m.group(1)), token) for token in vocab
                  if (m := _UNUSED.match(token)) and token not in taken and int(m.group(1)) > 0)
    for key in sorted(keys - set(markers)):
        if not free:
            raise LitmineError(f"train --markers: the base model's vocabulary has no unused "
                               f"token left for the marker {key!r} (markers need a BERT-style "
                               "vocabulary with [unusedN] tokens); train without --markers")
        markers[key] = free.pop(0)[1]
    return markers


def marker_ids(markers: Mapping[str, str], vocab: Mapping[str, int]) -> dict[str, int]:
    """Marker key -> token ID; a clear error when a marker token is not in the vocabulary."""
    missing = sorted(t for t in markers.values() if t not in vocab)
    if missing:
        raise LitmineError(f"model: marker tokens {missing} are not in the tokenizer's "
                           "vocabulary; the model's config (litmine_markers) and tokenizer "
                           "do not belong together")
    return {key: vocab[token] for key, token in markers.items()}
