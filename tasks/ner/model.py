"""Load a token-classification model for the NER engine: weights, tokenizer, limits, identity.

`load_model` returns what `litmine.tasks.ner.engine.Tagger` needs (model, a private fast tokenizer, the
special tokens around a sentence, the maximum length, a fingerprint); `litmine.tasks.ner.engine`
caches it per process. Loading itself (source, device, dtype, head checks) is
`litmine.tasks.loading.load_pretrained`; errors are `ModelError`s that name the model and the fix.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch

from litmine.errors import ModelError
from litmine.tasks.ner.casing import uses_case_types
from litmine.tasks.ner.markers import ALL, marker_for, marker_ids
from litmine.tasks.loading import (
    fast_tokenizer,
    fingerprint_model,
    load_pretrained,
    position_limit,
    special_tokens,
)


def load_model(model: str, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    """Load config, fast tokenizer and weights, checking that the model is a token classifier.

    A model trained with task markers gets the ALL marker after its prefix; `with_marker` puts
    another there."""
    loaded = load_pretrained(model, "token-classification", stage="NER", device=device,
                             dtype=dtype, allow_unnamed=True,
                             hint="pass a NER model (architecture ...ForTokenClassification)")
    config, tokenizer = loaded.config, loaded.tokenizer
    # A private copy without the truncation/padding a saved tokenizer.json may carry: windows
    # are cut here, and nothing mutates the copy, so threads may share it.
    rust = fast_tokenizer(tokenizer, model, "NER")
    # The special tokens the model expects around a sentence: [CLS] ... [SEP], <s> ... </s>.
    prefix, suffix = special_tokens(rust)
    markers = getattr(config, "litmine_markers", None)
    markers = marker_ids(markers, rust.get_vocab()) if markers else {}
    limits = [position_limit(config)]
    if 0 < tokenizer.model_max_length < 1_000_000:  # unset = a huge sentinel (int(1e30))
        limits.append(tokenizer.model_max_length)
    return {
        "model": loaded.model, "tokenizer": rust, "config": config,
        "labels": tuple(config.id2label[i] for i in range(config.num_labels)),
        # trained with task markers: ask for every type (litmine.tasks.ner.markers)
        "prefix": [*prefix, markers[ALL]] if markers else prefix, "suffix": suffix,
        "special_prefix": prefix, "markers": markers, "marker": ALL if markers else None,
        "pad_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
        "max_length": min(x for x in limits if x) if any(limits) else 512,
        "fingerprint": fingerprint_model(loaded.source, config),
        "states_from": kept_states(config),
        # "document": trained on whole documents (litmine train --unit document)
        "unit": getattr(config, "litmine_unit", None) or "sentence",
        # trained with --case-types: token type IDs carry each word's case
        "case_types": uses_case_types(config),
    }


def with_marker(loaded: dict[str, Any], key: str | None, model: str) -> dict[str, Any]:
    """`loaded` tagging under the task marker `key` (None: as loaded, ALL for a model with
    markers): another marker after the prefix, and a fingerprint that says which (ALL's is the
    model's own). A ModelError when the model has no such marker (`marker_for`)."""
    key = marker_for(loaded["markers"], key, model)
    if key == loaded["marker"]:
        return loaded
    return {**loaded, "prefix": [*loaded["special_prefix"], loaded["markers"][key]],
            "marker": key, "fingerprint": marked_fingerprint(loaded["fingerprint"], key),
            "states_from": tuple((n, marked_fingerprint(f, key))
                                 for n, f in loaded["states_from"])}


def marked_fingerprint(fingerprint: str, key: str) -> str:
    """The fingerprint of a pass of the model (or states) of `fingerprint` under marker `key`."""
    return hashlib.sha256(f"{fingerprint}#{key}".encode()).hexdigest()[:12]


def kept_states(config: Any) -> tuple[tuple[int, str], ...]:
    """The model's (layers, fingerprint) pairs, fewest layers first: its token states after
    that many layers are the model of that fingerprint's (config `litmine_states_from`, written
    by `litmine train --freeze-layers`)."""
    found = getattr(config, "litmine_states_from", None) or []
    try:
        return tuple(sorted((int(n), str(f)) for n, f in found))
    except (TypeError, ValueError):
        raise ModelError(f"NER: config litmine_states_from must be a list of [layers, "
                         f"fingerprint] pairs, got {found!r}; remove it or retrain the model") from None
