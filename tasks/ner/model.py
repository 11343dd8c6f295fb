"""Load a token-classification model for the NER engine: weights, tokenizer, limits, identity.

`load_model` returns what `litmine.tasks.ner.engine.Tagger` needs (model, a private fast tokenizer, the
special tokens around a sentence, the maximum length, a fingerprint); `litmine.tasks.ner.engine`
caches it per process. Loading itself (source, device, dtype, head checks) is
`litmine.tasks.loading.load_pretrained`; errors are `ModelError`s that name the model and the fix.
"""

from __future__ import annotations

from typing import Any

import torch

from litmine.tasks.ner.markers import ALL, marker_ids
from litmine.tasks.loading import (
    fast_tokenizer,
    fingerprint_model,
    load_pretrained,
    position_limit,
    special_tokens,
)


def load_model(model: str, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    """Load config, fast tokenizer and weights, checking that the model is a token classifier."""
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
    if markers:  # trained with task markers: ask for every type (litmine.tasks.ner.markers)
        prefix = [*prefix, marker_ids(markers, rust.get_vocab())[ALL]]
    limits = [position_limit(config)]
    if 0 < tokenizer.model_max_length < 1_000_000:  # unset = a huge sentinel (int(1e30))
        limits.append(tokenizer.model_max_length)
    return {
        "model": loaded.model, "tokenizer": rust, "config": config,
        "labels": tuple(config.id2label[i] for i in range(config.num_labels)),
        "prefix": prefix, "suffix": suffix,
        "pad_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
        "max_length": min(x for x in limits if x) if any(limits) else 512,
        "fingerprint": fingerprint_model(loaded.source, config),
        # "document": trained on whole documents (litmine train --unit document)
        "unit": getattr(config, "litmine_unit", None) or "sentence",
    }
