"""Knowledge distillation: train one NER model towards a teacher's label probabilities.

An ensemble tags better than each of its members (the six-type ensemble of three models gains
about a point of BioRED dev F1 over its best member) but costs a forward pass per member. Trained
on the teacher's soft labels as well as the gold ones, a single student can keep part of that
gain at one model's cost (Hinton, Vinyals and Dean 2015, "Distilling the knowledge in a neural
network"; for an ensemble teacher and NER, Wang et al. 2021, ACL, "Structural knowledge
distillation"). The loss on each labelled token is
``(1 - weight) * gold loss + weight * cross-entropy against the teacher's probabilities``, the
gold loss being plain or partial-label cross-entropy (`litmine.tasks.training.partial`).

The teacher is any NER model litmine loads (an ensemble, ``MODEL#KEY`` for a task marker) with
the student's labels and vocabulary. It reads each training example's tokens once, before the
first epoch, with its own special tokens and marker; its probabilities are kept in half
precision (13 labels x 1.3 M tokens: about 33 MB for the six-type training set).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from litmine.errors import LitmineError
from litmine.tasks.training.encoding import IGNORE, Example


def teacher_targets(teacher, examples: Sequence[Example], labels: Sequence[str],
                    prefix: int, suffix: int, vocab: dict[str, int]) -> list[np.ndarray]:
    """Per example, the teacher's label probabilities [len(input_ids), labels] in the student's
    label order (float16; zero on the student's special tokens and marker).

    `prefix` and `suffix`: how many special tokens (and marker) the student's examples carry
    before and after their text. A LitmineError when the teacher has other labels or another
    vocabulary than the student.
    """
    name = teacher.model_name
    if sorted(teacher.labels) != sorted(labels):
        raise LitmineError(f"train --teacher: {name} predicts {list(teacher.labels)}, the "
                           f"student is trained for {list(labels)}; a teacher needs the "
                           "student's labels (train with its types, or pick another teacher)")
    if teacher.vocabulary() != vocab:
        raise LitmineError(f"train --teacher: {name} has another vocabulary than the base "
                           "model; a teacher must share the student's tokenizer")
    order = [list(teacher.labels).index(label) for label in labels]
    rows = [e.input_ids[prefix:len(e.input_ids) - suffix] for e in examples]
    cased = all(e.token_types for e in examples)
    if teacher.case_types and not cased:
        raise LitmineError(f"train --teacher: {name} reads each word's case (trained with "
                           "--case-types); train the student with --case-types too")
    types = [e.token_types[prefix:len(e.input_ids) - suffix] for e in examples] if cased else None
    targets = []
    for e, probs in zip(examples, teacher.token_probabilities(rows, types=types)):
        full = np.zeros((len(e.input_ids), len(labels)), np.float16)
        full[prefix:prefix + len(probs)] = probs[:, order]
        targets.append(full)
    return targets


def collate_targets(targets: Sequence[np.ndarray], width: int) -> torch.Tensor:
    """A [batch, width, labels] tensor of examples' targets, zero-padded on the right."""
    out = torch.zeros((len(targets), width, targets[0].shape[1]), dtype=torch.float32)
    for row, t in enumerate(targets):
        out[row, :len(t)] = torch.from_numpy(t.astype(np.float32))
    return out


def distillation_loss(logits: torch.Tensor, targets: torch.Tensor,
                      labels: torch.Tensor) -> torch.Tensor:
    """Mean over labelled tokens (`labels` != IGNORE) of the cross-entropy between the
    teacher's probabilities `targets` and the student's softmax over `logits`."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    per_token = -(targets.to(log_probs.device) * log_probs).sum(-1)
    return per_token[labels != IGNORE].mean()
