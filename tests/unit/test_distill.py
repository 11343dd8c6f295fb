"""Knowledge distillation: the loss, and a teacher's targets on the student's tokens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from litmine.errors import LitmineError
from litmine.tasks.ner.engine import load_tagger
from litmine.tasks.training.corpus import TaggedSentence
from litmine.tasks.training.encoding import IGNORE, bio_labels, encode_sentences
from litmine.tasks.training.distill import collate_targets, distillation_loss, teacher_targets
from tests.support.tiny_models import LOOKUP, build_lookup_model

TEXTS = ["Lithium causes tremor in some patients.", "Heart failure after naloxone."]


@pytest.fixture(scope="module")
def lookup_model(tiny_ner_model, tmp_path_factory) -> Path:
    return build_lookup_model(tiny_ner_model, tmp_path_factory.mktemp("teacher") / "m", LOOKUP)


@pytest.fixture(scope="module")
def tokenizer(tiny_ner_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_ner_model))


def test_the_loss_is_cross_entropy_against_the_teachers_probabilities():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 5)
    gold = torch.tensor([[IGNORE, 1, 0, IGNORE], [IGNORE, 3, 4, 0]])
    one_hot = torch.nn.functional.one_hot(gold.clamp(min=0), 5).float()
    # One-hot targets: plain cross-entropy over the labelled tokens.
    expected = torch.nn.functional.cross_entropy(logits.flatten(0, 1), gold.flatten(),
                                                 ignore_index=IGNORE)
    assert distillation_loss(logits, one_hot, gold).item() == pytest.approx(expected.item())
    # The student's own distribution is the best it can match: the loss is lowest there.
    own = logits.softmax(-1)
    assert distillation_loss(logits, own, gold) < distillation_loss(logits, one_hot, gold)
    assert collate_targets([np.ones((2, 5), np.float16), np.ones((3, 5), np.float16)],
                           4)[0, 2:].abs().sum() == 0  # padding gets no target


def test_teacher_targets_sit_on_the_students_tokens_in_its_label_order(lookup_model, tokenizer):
    """The teacher reads each example's text tokens with its own special tokens; its
    probabilities land on the same tokens of the student's example, columns in the student's
    label order, nothing on the student's [CLS], marker or [SEP]."""
    teacher = load_tagger(str(lookup_model), device="cpu", dtype="fp32")
    labels = ["O", "B-Disease", "I-Disease", "B-Chemical", "I-Chemical"]  # not the teacher's order
    label2id = {label: i for i, label in enumerate(labels)}
    sentences = [TaggedSentence("1", i, text, ()) for i, text in enumerate(TEXTS)]
    for marker in (None, {"ALL": 2}):
        examples = encode_sentences(sentences, tokenizer, label2id, max_length=64,
                                    markers=marker)
        prefix = 1 + bool(marker)
        targets = teacher_targets(teacher, examples, labels, prefix, 1, tokenizer.get_vocab())
        for text, example, target in zip(TEXTS, examples, targets):
            assert target.dtype == np.float16 and target.shape == (len(example.input_ids), 5)
            assert not target[:prefix].any() and not target[-1].any()
            alone = teacher.predict_tokens([text])[0].probs  # the teacher on the text alone
            order = [teacher.labels.index(label) for label in labels]
            assert np.allclose(target[prefix:-1], alone[:, order], atol=1e-3)
    lithium = examples[0].input_ids.index(tokenizer.convert_tokens_to_ids("lithium"))
    assert targets[0][lithium].argmax() == labels.index("B-Chemical")


def test_a_teacher_needs_the_students_labels_and_vocabulary(lookup_model, tokenizer):
    teacher = load_tagger(str(lookup_model), device="cpu", dtype="fp32")
    examples = encode_sentences([TaggedSentence("1", 0, TEXTS[0], ())], tokenizer,
                                {label: i for i, label in enumerate(bio_labels(["Gene"]))})
    with pytest.raises(LitmineError, match="a teacher needs the student's labels"):
        teacher_targets(teacher, examples, bio_labels(["Gene"]), 1, 1, tokenizer.get_vocab())
    labels = bio_labels(["Chemical", "Disease"])
    with pytest.raises(LitmineError, match="another vocabulary"):
        teacher_targets(teacher, examples, labels, 1, 1, {"[CLS]": 0})
