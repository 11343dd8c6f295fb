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
`litmine.tasks.ner.model.load_model` inserts the "ALL" marker for every text it tags, unless the
model is named with a task: ``MODEL#KEY`` (``runs/ner#Chemical,Disease``: tag as BC5CDR
annotates) puts KEY's marker there instead. The key travels in the model's name (stored rows,
workers, watches) and in its fingerprint, so passes under two markers never pass for one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from litmine.errors import LitmineError, ModelError
from litmine.model_packages import locate_model
from litmine.tasks.records import CANONICAL_TYPES

ALL = "ALL"
#: Separates a model from the task marker it is asked to tag under: ``MODEL#KEY``.
SEPARATOR = "#"
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


def split_marker(spec: str) -> tuple[str, str | None]:
    """(model, marker key or None) of a model spec ``MODEL`` or ``MODEL#KEY``.

    KEY is ``ALL`` or comma-separated entity types in any case and order ("disease,chemical");
    it comes back as `marker_key` writes it ("Chemical,Disease"). A ModelError names a type
    that is not one, or an empty model or key.
    """
    spec = str(spec)
    if SEPARATOR not in spec:
        return spec, None
    model, _, raw = spec.rpartition(SEPARATOR)
    names = [n.strip() for n in raw.split(",")]
    if not model or not all(names):
        raise ModelError(f"model {spec!r}: write a task marker as MODEL{SEPARATOR}KEY, KEY being "
                         f"{ALL} or entity types joined by commas (e.g. "
                         f"'data/models/x{SEPARATOR}Chemical,Disease')")
    if len(names) == 1 and names[0].upper() == ALL:
        return model, ALL
    by_lower = {t.lower(): t for t in CANONICAL_TYPES}
    unknown = [n for n in names if n.lower() not in by_lower]
    if unknown:
        raise ModelError(f"model {spec!r}: {', '.join(map(repr, unknown))} is no entity type; "
                         f"a task marker names {ALL} or types among "
                         f"{', '.join(CANONICAL_TYPES)}")
    return model, marker_key({by_lower[n.lower()] for n in names})


def join_marker(model: str, key: str | None) -> str:
    """The spec ``MODEL#KEY`` (`model` alone without a key)."""
    return f"{model}{SEPARATOR}{key}" if key else model


def marker_for(markers: Mapping[str, object] | None, key: str | None, model: str) -> str | None:
    """The key whose marker a model trained with `markers` (None: without) tags under: `key`,
    else ALL (None for a model without markers and no key).

    A ModelError when a key is asked of a model without markers, or names none of its markers.
    """
    if key is None:
        return ALL if markers else None
    if not markers:
        raise ModelError(f"model {model!r} was trained without task markers, so "
                         f"'{SEPARATOR}{key}' means nothing to it; drop '{SEPARATOR}{key}' or "
                         "name a model trained with `litmine train --markers`")
    if key not in markers:
        raise ModelError(f"model {model!r} has no task marker {key!r}; its markers are "
                         f"{', '.join(sorted(markers))} (one per training corpus' type set)")
    return key


def locate_marked_model(spec: str, stage: str, what: str = "NER model") -> str:
    """`locate_model` for a spec that may carry a task marker: the located model with the key
    as `split_marker` writes it. Torch-free, for the CLI before a flow starts: the key is checked
    against a local model's config.json (a hub model's at loading)."""
    model, key = split_marker(spec)
    located = locate_model(model, stage, what)
    config = Path(located) / "config.json"
    if key and config.is_file():
        try:
            markers = json.loads(config.read_text(encoding="utf-8")).get("litmine_markers")
        except (OSError, ValueError) as exc:
            raise ModelError(f"{stage}: cannot read {config} ({exc}); is {model!r} a model "
                             "directory?") from exc
        marker_for(markers, key, model)
    return join_marker(located, key)
