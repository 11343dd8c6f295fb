"""An ensemble of NER models: their token label probabilities averaged, then decoded once.

An ensemble is a directory holding ``litmine-ensemble.json``::

    {"members": ["../litmine-ner-bc5cdr-minilm-l6", "../litmine-ner-bc5cdr-doc-minilm-l6"],
     "weights": [1, 1]}

Members are model directories (relative to the ensemble directory, or absolute) or hub IDs
with the same labels and tokenizer, each with its task marker where it has markers
(``"../model#Chemical,Disease"``: `litmine.tasks.ner.markers`); weights are optional (equal by
default). Members may read different units (sentences, whole documents: `Tagger.unit`): each
reads its own, and its probabilities are matched to the first member's tokens by the character
offset where each token starts in the document (the tokenizer cuts a sentence into the same
tokens inside a document).
Each member costs its own forward passes: an ensemble of two runs at about half the speed.
`write_ensemble` makes the directory; `load_tagger` loads it like any model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from litmine.errors import ModelError
from litmine.tasks.ner.token_states import DocumentStates, NerResult, states_by_document
from litmine.tasks.ner.labels import DEFAULT_AGGREGATION, decode_spans
from litmine.tasks.ner.markers import join_marker, split_marker
from litmine.tasks.ner.stats import NerStats
from litmine.tasks.ner.units import text_units, units_to_mentions
from litmine.tasks.records import Mention, Sentence

ENSEMBLE_FILE = "litmine-ensemble.json"


def is_ensemble(model: str | Path) -> bool:
    """Whether `model` names an ensemble directory."""
    return (Path(model).expanduser() / ENSEMBLE_FILE).is_file()


def read_ensemble(path: str | Path) -> tuple[list[str], list[float]]:
    """(member model paths or hub IDs, weights summing to 1) of an ensemble directory."""
    path = Path(path).expanduser()
    file = path / ENSEMBLE_FILE
    try:
        spec = json.loads(file.read_text(encoding="utf-8"))
        members = [str(m) for m in spec["members"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"NER: {file} is not a valid ensemble file ({exc}); it must be JSON "
                         'like {"members": ["../model-a", "../model-b"], "weights": [1, 1]}'
                         ) from exc
    if len(members) < 2:
        raise ModelError(f"NER: {file} lists {len(members)} member(s); an ensemble needs two "
                         "or more (use the model directory itself for one)")
    weights = spec.get("weights") or [1.0] * len(members)
    if len(weights) != len(members) or any(
            not isinstance(w, (int, float)) or w <= 0 for w in weights):
        raise ModelError(f"NER: {file}: 'weights' must be {len(members)} positive numbers, one "
                         f"per member, got {weights!r}")
    resolved = []
    for member in members:  # a member may carry a task marker: "../model#Chemical,Disease"
        m, marker = split_marker(member)
        local = Path(m) if Path(m).is_absolute() else path / m
        resolved.append(join_marker(str(local.resolve()), marker)
                        if local.exists() or m.startswith((".", "/")) else member)
    total = float(sum(weights))
    return resolved, [w / total for w in weights]


def write_ensemble(path: str | Path, members: Sequence[str | Path],
                   weights: Sequence[float] | None = None) -> Path:
    """Write an ensemble directory; local members are stored relative to it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    names = []
    for member in members:
        m, marker = split_marker(str(member))
        names.append(join_marker(os.path.relpath(Path(m).resolve(), path.resolve()), marker)
                     if Path(m).exists() else str(member))
    spec: dict[str, Any] = {"members": names}
    if weights is not None:
        spec["weights"] = list(weights)
    (path / ENSEMBLE_FILE).write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    read_ensemble(path)  # validate
    return path


class EnsembleTagger:
    """Several Taggers of one label set whose token probabilities are averaged (weighted)."""

    def __init__(self, members: Sequence[Any], weights: Sequence[float], model_name: str):
        first = members[0]
        for m in members[1:]:
            if m.labels != first.labels:
                raise ModelError(f"NER ensemble {model_name!r}: members have different labels "
                                 f"({list(first.labels)} in {first.model_name}, "
                                 f"{list(m.labels)} in {m.model_name}); they must be equal")
            if m.vocabulary() != first.vocabulary():
                raise ModelError(f"NER ensemble {model_name!r}: {m.model_name} has another "
                                 f"tokenizer than {first.model_name}; members must share one")
        self.members = list(members)
        self.weights = [float(w) for w in weights]
        self.model_name = model_name
        self.model_id = (f"{model_name}@ensemble("
                         + "+".join(m.model_id.rsplit("@", 1)[-1] for m in members) + ")")
        self.device, self.dtype, self.labels = first.device, first.dtype, first.labels
        self.dtype_name = first.dtype_name
        self.table, self.types, self.unit = first.table, first.types, first.unit
        self.max_length = min(m.max_length for m in members)
        self.workers = first.workers
        #: Whether a member reads case classes (`litmine.tasks.ner.casing`).
        self.case_types = any(m.case_types for m in members)

    @property
    def stats(self):
        """The members' NerStats summed (a snapshot: `copy`, `since`, `stage_seconds` work on it
        as on a Tagger's); a member listed twice is the same cached Tagger, counted once."""
        unique = list({id(m): m for m in self.members}.values())
        return NerStats(**{k: sum(getattr(m.stats, k) for m in unique)
                           for k in asdict(NerStats())})

    def __repr__(self) -> str:
        return (f"EnsembleTagger({self.model_name!r}, members="
                f"{[m.model_name for m in self.members]}, weights={self.weights})")

    def tag(self, sentences: Sequence[Sentence], *, max_batch_tokens: int | None = None,
            stride: int = 32, aggregation: str = DEFAULT_AGGREGATION) -> list[Mention]:
        """Mentions in the sentences (as `Tagger.tag`), from the members' averaged probabilities."""
        return self._tag(sentences, max_batch_tokens, stride, aggregation)[0]

    def _tag(self, sentences: Sequence[Sentence], max_batch_tokens: int | None, stride: int,
             aggregation: str, states_layer: int | None = None
             ) -> tuple[list[Mention], dict[str, DocumentStates]]:
        """`tag`, and with `states_layer` the first member's token states per document."""
        kw = {"max_batch_tokens": max_batch_tokens, "stride": stride}
        anchor_units = text_units(sentences, self.members[0].unit)
        anchor = self.members[0].predict_tokens([u.text for u in anchor_units],
                                                states_layer=states_layer, **kw)
        total = [p.probs * self.weights[0] for p in anchor]
        weight = [np.full(len(p.probs), self.weights[0], np.float32) for p in anchor]
        where: dict[tuple[str, int], tuple[int, int]] = {}
        for i, (unit, p) in enumerate(zip(anchor_units, anchor)):
            pmid = unit.sentences[0].pmid
            for t in np.flatnonzero(p.offsets[:, 1] > p.offsets[:, 0]):
                where[(pmid, unit.offset + int(p.offsets[t, 0]))] = (i, int(t))
        for member, w in zip(self.members[1:], self.weights[1:]):
            units = text_units(sentences, member.unit)
            for unit, p in zip(units, member.iter_predictions([u.text for u in units], **kw)):
                pmid = unit.sentences[0].pmid
                for t in np.flatnonzero(p.offsets[:, 1] > p.offsets[:, 0]):
                    hit = where.get((pmid, unit.offset + int(p.offsets[t, 0])))
                    if hit is not None:
                        total[hit[0]][hit[1]] += w * p.probs[t]
                        weight[hit[0]][hit[1]] += w
        found = [decode_spans(u.text, p.offsets, p.word_ids, s / np.maximum(ws, 1e-9)[:, None],
                              self.table, aggregation)
                 for u, p, s, ws in zip(anchor_units, anchor, total, weight)]
        states = ({} if states_layer is None else
                  states_by_document(anchor_units, [(p.offsets, p.states) for p in anchor],
                                     states_layer, self.members[0].model_id,
                                     self.members[0].states_fingerprint(states_layer)))
        return units_to_mentions(anchor_units, found), states

    def tag_documents(self, sentences: Sequence[Sentence], *, states_layer: int | None = None,
                      max_batch_tokens: int | None = None, stride: int = 32,
                      aggregation: str = DEFAULT_AGGREGATION) -> NerResult:
        """`tag` with no per-document failures (as `Tagger.tag_documents` returns them): the
        members' probabilities are merged batch-wide, so a failure here is the batch's.
        `states_layer`: the token states of the first member's pass (a relation model trained
        on that member reads them; `states_fingerprint`)."""
        mentions, states = self._tag(sentences, max_batch_tokens, stride, aggregation,
                                     states_layer)
        return NerResult(mentions, [], states)

    def states_fingerprint(self, layer: int) -> str:
        """The fingerprint of the token states it passes on: its first member's."""
        return self.members[0].states_fingerprint(layer)

    def vocabulary(self) -> dict[str, int]:
        """The members' one vocabulary (token -> ID)."""
        return self.members[0].vocabulary()

    def token_probabilities(self, rows: Sequence[Sequence[int]], **kw: Any) -> list[np.ndarray]:
        """The members' `Tagger.token_probabilities`, averaged with the ensemble's weights."""
        total = [p * self.weights[0] for p in self.members[0].token_probabilities(rows, **kw)]
        for member, w in zip(self.members[1:], self.weights[1:]):
            for t, p in zip(total, member.token_probabilities(rows, **kw)):
                t += w * p
        return total

    def tag_texts(self, texts: Sequence[str], **kw: Any) -> list[list[tuple[int, int, str, float]]]:
        """Spans of each text (each its own document of one sentence), as `Tagger.tag_texts`."""
        sentences = [Sentence(f"text-{i}", 0, 0, len(t), t) for i, t in enumerate(texts)]
        mentions = self.tag(sentences, **kw)
        out: list[list[tuple[int, int, str, float]]] = [[] for _ in texts]
        for m in mentions:
            out[int(m.pmid.removeprefix("text-"))].append((m.start, m.end, m.type, m.score))
        return out
