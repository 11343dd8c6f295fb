"""Case types: the letter case an uncased tokenizer throws away, given back as token type IDs.

all-MiniLM-L6-v2's tokenizer lower-cases its input, so "PAH" (a gene's symbol) and "pah" are one
token, as are "ALD" and "ald", "Insulin" and "insulin". Cased models read that difference, and
named-entity taggers have long used a word's shape as a feature (Collins 2002, "Ranking
algorithms for named-entity extraction", ACL; Ratinov and Roth 2009, CoNLL: capitalisation
features). A model trained with ``litmine train --case-types`` reads each word's case class in
BERT's token type IDs, whose embedding table grows from BERT's two rows to `CASE_TYPES`; every
new row starts as row 0 (the row BERT's single-segment input used), so the model starts where
the base model was and learns what case says. Its config says so (``litmine_case_types``), and
the NER engine then computes the IDs from the text it tags. A tool that ignores the setting
(``transformers.pipeline``) passes type 0 everywhere: the model reads every word as lower case.

Classes, of the whole word a token belongs to (the tokenizer's words: "IL-6" is three):
0 no capital letter (or no letter: "6", "-"), 1 a capital then no other ("Insulin"), 2 every
letter a capital, at least two ("PAH", "BRCA1"), 3 any other mix ("mRNA", "NaCl", "iNOS").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: How many case classes there are (the token type embedding table's rows).
CASE_TYPES = 4
LOWER, CAPITALISED, CAPITALS, MIXED = range(CASE_TYPES)
#: The config attribute a model trained with case types carries.
CONFIG_FLAG = "litmine_case_types"


def case_class(word: str) -> int:
    """The case class of `word` (see the module docstring)."""
    letters = [c for c in word if c.isalpha()]
    upper = sum(c.isupper() for c in letters)
    if not upper:
        return LOWER
    if upper == len(letters) and upper >= 2:
        return CAPITALS
    if upper == 1 and letters[0].isupper():
        return CAPITALISED
    return MIXED


def case_types(text: str, offsets: Sequence[Sequence[int]],
               word_ids: Sequence[int | None]) -> np.ndarray:
    """Each token's case class (int64): the class of the word it belongs to in `text`.

    `offsets` are the tokens' character spans, `word_ids` their word numbers (None or -1 for a
    token of no word, which gets class 0)."""
    spans: dict[int, list[int]] = {}
    for (start, end), word in zip(offsets, word_ids):
        if word is None or word < 0 or end <= start:
            continue
        span = spans.setdefault(int(word), [int(start), int(end)])
        span[0], span[1] = min(span[0], int(start)), max(span[1], int(end))
    classes = {word: case_class(text[s:e]) for word, (s, e) in spans.items()}
    return np.fromiter((classes.get(-1 if w is None else int(w), LOWER) for w in word_ids),
                       np.int64, len(word_ids))


def uses_case_types(config: Any) -> bool:
    """Whether a model of `config` was trained to read case classes as token type IDs."""
    return bool(getattr(config, CONFIG_FLAG, False))


def enable_case_types(model: Any) -> bool:
    """Grow `model`'s token type embeddings to `CASE_TYPES` rows, each new row a copy of row 0,
    and mark its config (row 1, BERT's second segment, is replaced too). False (and no change) when it already reads case types; a ValueError
    for a model without BERT-style token type embeddings."""
    if uses_case_types(model.config):
        return False
    import torch

    embeddings = getattr(getattr(model, "base_model", None), "embeddings", None)
    old = getattr(embeddings, "token_type_embeddings", None)
    if old is None:
        raise ValueError(f"{type(model).__name__} has no token type embeddings to carry "
                         "case classes; train it without --case-types")
    # Row 1 (BERT's second segment) is not copied: every class starts as the single-segment
    # input the base model was tuned on.
    grown = torch.nn.Embedding(CASE_TYPES, old.embedding_dim)
    with torch.no_grad():
        grown.weight[:] = old.weight[0]
    grown.to(old.weight.device, old.weight.dtype)
    embeddings.token_type_embeddings = grown
    # BERT keeps a zero buffer of token type IDs for calls that pass none; its values stay valid.
    model.config.type_vocab_size = grown.num_embeddings
    setattr(model.config, CONFIG_FLAG, True)
    return True
