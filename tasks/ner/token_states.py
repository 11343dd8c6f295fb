"""The hidden states of a NER pass, kept per document for a relation model that reads them
(`litmine.tasks.relations.shared`): one encoder pass serves NER and relations.

A `DocumentStates` holds, for every sub-word token the NER model read in a document (sentence
by sentence, in document order), its character span in the document text and its hidden state
after `layer` encoder layers, in the NER model's dtype.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from litmine.tasks.records import DocumentFailure, Mention


@dataclass(frozen=True)
class DocumentStates:
    """One document's token states from one NER model's pass."""

    offsets: np.ndarray  # int32 [n_tokens, 2]: character spans in the document text
    states: torch.Tensor  # [n_tokens, hidden], the model's dtype
    layer: int  # encoder layers the states come after (0: the embeddings)
    model_id: str  # the NER model (`Tagger.model_id`) whose pass they come from
    #: What the states are (`Tagger.states_fingerprint`): the model's fingerprint, or that of
    #: the base model whose first `layer` layers it kept unchanged (`litmine train
    #: --freeze-layers`); a relation head reads states of the fingerprint it was trained on.
    fingerprint: str

    def __len__(self) -> int:
        return len(self.offsets)

    def token_range(self, start: int, end: int) -> tuple[int, int] | None:
        """[first, last + 1) of the tokens overlapping characters [start, end); None if none."""
        if end <= start or not len(self.offsets):
            return None
        ends, starts = self.offsets[:, 1], self.offsets[:, 0]
        first = int(np.searchsorted(ends, start, side="right"))
        last = int(np.searchsorted(starts, end, side="left"))
        while first < last and ends[first] <= starts[first]:  # empty tokens cover nothing
            first += 1
        return (first, last) if first < last else None


def join_document_states(pieces: Sequence[tuple[int, np.ndarray, torch.Tensor]], layer: int,
                         model_id: str, fingerprint: str) -> DocumentStates:
    """A document's states from its texts' pieces: (offset of the text in the document, token
    offsets in the text, states), in any order."""
    pieces = sorted(pieces, key=lambda p: p[0])
    offsets = [np.asarray(o, np.int32).reshape(-1, 2) + start for start, o, _ in pieces]
    return DocumentStates(
        offsets=np.concatenate(offsets) if offsets else np.zeros((0, 2), np.int32),
        states=torch.cat([s for _, _, s in pieces]) if pieces else torch.zeros((0, 0)),
        layer=layer, model_id=model_id, fingerprint=fingerprint)


def states_by_document(units: Sequence, pieces: Sequence[tuple[np.ndarray, torch.Tensor]],
                       layer: int, model_id: str, fingerprint: str,
                       skip: Collection[str] = ()) -> dict[str, DocumentStates]:
    """PMID -> `DocumentStates` from a pass over text units (`litmine.tasks.ner.units`): each
    unit's (token offsets, states), in the units' order; documents in `skip` are left out."""
    by_pmid: dict[str, list] = {}
    for unit, (offsets, states) in zip(units, pieces):
        by_pmid.setdefault(unit.sentences[0].pmid, []).append((unit.offset, offsets, states))
    return {pmid: join_document_states(p, layer, model_id, fingerprint)
            for pmid, p in by_pmid.items() if pmid not in skip}


class NerResult(NamedTuple):
    """What a NER pass over a batch of sentences gives back (`Tagger.tag_documents`)."""

    mentions: list[Mention]
    failures: list[DocumentFailure]
    #: PMID -> the pass's token states, when asked for (`states_layer`); else empty.
    states: dict[str, DocumentStates]
