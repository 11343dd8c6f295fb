"""The relation head pads its input to a multiple of `LENGTH_STEP` tokens at inference, with the
padding masked: the logits are those of the unpadded input."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig

from litmine.tasks.relations import shared
from litmine.tasks.relations.shared import build_shared_head


def _head():
    torch.manual_seed(0)
    config = BertConfig(hidden_size=64, num_attention_heads=4, intermediate_size=128,
                        num_hidden_layers=2, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    return build_shared_head(config, 2, ["Chemical", "Disease", "Gene"], 9).eval()


@pytest.mark.parametrize("length", [5, 31, 32, 33, 70])
def test_padding_leaves_the_logits_unchanged(monkeypatch, length):
    head = _head()
    states = torch.randn(length, 64)
    concepts = {("Chemical", "D1"): [(0, 2)], ("Disease", "D2"): [(length - 2, length)],
                ("Gene", "7157"): [(1, 2), (length - 1, length)]}
    keys = list(concepts)
    pairs = [(a, b) for i, a in enumerate(keys) for b in keys[i + 1:]]
    with torch.inference_mode():
        padded = head(states, concepts, pairs)
        monkeypatch.setattr(shared, "LENGTH_STEP", 1)
        plain = head(states, concepts, pairs)
    assert padded.shape == (3, 9)
    torch.testing.assert_close(padded, plain, rtol=1e-4, atol=1e-5)


def test_padded_input_and_mask():
    x = torch.ones(1, 33, 4)
    padded, mask = shared._padded(x, 32)
    assert padded.shape == (1, 64, 4) and padded[0, 33:].abs().sum() == 0
    assert mask.shape == (1, 1, 1, 64) and mask[..., :33].all() and not mask[..., 33:].any()
    same, none = shared._padded(torch.ones(1, 64, 4), 32)
    assert same.shape == (1, 64, 4) and none is None
