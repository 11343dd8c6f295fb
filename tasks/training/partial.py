"""Partial-label loss: learn six types from corpora that each annotate only some of them.

NCBI-disease tags diseases and leaves its chemicals and genes untagged. Trained with plain
cross-entropy, every untagged gene in it teaches "O". Here a token a corpus left untagged may be
"O" or any label of a type that corpus does not annotate, and the loss is the negative log of the
probability mass on that set (the marginal likelihood over the labels the annotation allows; Jie
et al. 2019, "Better modeling of incomplete annotations for named entity recognition", NAACL;
Greenberg et al. 2018, "Marginal likelihood training of BiLSTM-CRF for biomedical named entity
recognition from disjoint label sets", EMNLP). A tagged token keeps its one label, so the loss
is plain cross-entropy wherever a corpus annotates everything (BioRED).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from litmine.tasks.training.encoding import IGNORE, Example


def allowed_labels(examples: Sequence[Example], width: int, num_labels: int) -> torch.Tensor | None:
    """A [batch, width, labels] mask of the labels each token may take (None: only its own).

    For an untagged token ("O", label 0) of an example whose corpus does not annotate every type,
    the B-/I- labels of the missing types are allowed too; every other token allows only its
    label. None when no example in the batch needs it (plain cross-entropy then).
    """
    if not any(e.also_possible for e in examples):
        return None
    mask = torch.zeros((len(examples), width, num_labels), dtype=torch.bool)
    for row, e in enumerate(examples):
        labels = torch.tensor(e.labels)
        valid = labels != IGNORE
        positions = torch.nonzero(valid).squeeze(1)
        mask[row, positions, labels[valid]] = True
        if e.also_possible:
            untagged = torch.nonzero(labels == 0).squeeze(1)
            extra = torch.tensor(e.also_possible)
            mask[row, untagged.unsqueeze(1), extra.unsqueeze(0)] = True
    return mask


def partial_label_loss(logits: torch.Tensor, labels: torch.Tensor,
                       allowed: torch.Tensor) -> torch.Tensor:
    """Mean over labelled tokens of -log(sum of the probabilities of the allowed labels)."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    masked = log_probs.masked_fill(~allowed.to(log_probs.device), float("-inf"))
    per_token = -torch.logsumexp(masked, dim=-1)
    valid = labels != IGNORE
    return per_token[valid].mean()
