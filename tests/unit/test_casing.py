"""Case classes as token type IDs (`litmine.tasks.ner.casing`): the classes, their alignment to
tokens in training examples and in the NER engine, and the grown embedding table."""

from __future__ import annotations

import numpy as np
import pytest

from litmine.tasks.ner.casing import (CAPITALISED, CAPITALS, CASE_TYPES, LOWER, MIXED,
                                      case_class, case_types, enable_case_types,
                                      uses_case_types)
from litmine.tasks.training.corpus import TaggedSentence
from litmine.tasks.training.encoding import bio_labels, encode_sentences


@pytest.mark.parametrize("word, expected", [
    ("pah", LOWER), ("6", LOWER), ("-", LOWER), ("p53", LOWER), ("", LOWER),
    ("Insulin", CAPITALISED), ("A", CAPITALISED), ("Ca2", CAPITALISED),
    ("PAH", CAPITALS), ("BRCA1", CAPITALS), ("IL", CAPITALS),
    ("mRNA", MIXED), ("NaCl", MIXED), ("iNOS", MIXED), ("McDonald", MIXED),
])
def test_case_classes(word, expected):
    assert case_class(word) == expected


def test_every_token_of_a_word_takes_the_word_class():
    text = "BRCA1 and Insulin"
    offsets = [(0, 3), (3, 5), (6, 9), (10, 17), (0, 0)]
    word_ids = [0, 0, 1, 2, None]
    assert case_types(text, offsets, word_ids).tolist() == [CAPITALS, CAPITALS, LOWER,
                                                            CAPITALISED, LOWER]
    assert case_types(text, np.asarray(offsets), np.asarray([0, 0, 1, 2, -1])).dtype == np.int64


@pytest.fixture()
def tokenizer(tiny_ner_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_ner_model))


def test_training_examples_carry_case_classes_only_when_asked(tokenizer):
    labels = {label: i for i, label in enumerate(bio_labels(["Gene"]))}
    sentence = TaggedSentence("d1", 0, "PAH and pah", ((0, 3, "Gene"),))
    plain, = encode_sentences([sentence], tokenizer, labels)
    cased, = encode_sentences([sentence], tokenizer, labels, case=True)
    assert plain.token_types == ()
    assert cased.input_ids == plain.input_ids and cased.labels == plain.labels
    assert len(cased.token_types) == len(cased.input_ids)
    tokens = tokenizer.convert_ids_to_tokens(cased.input_ids)
    by_token = list(zip(tokens, cased.token_types))
    assert by_token[0] == ("[CLS]", 0) and by_token[-1] == ("[SEP]", 0)
    # the same word piece(s) twice, read as capitals the first time and lower case the second
    half = (len(tokens) - 2) // 2
    assert {t for _, t in by_token[1:1 + half - 1]} == {CAPITALS}
    assert {t for _, t in by_token[-1 - half + 1:-1]} == {LOWER}


def test_the_table_grows_with_every_class_starting_as_row_0(tiny_ner_model):
    import torch
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(str(tiny_ner_model))
    row0 = model.bert.embeddings.token_type_embeddings.weight[0].detach().clone()
    assert not uses_case_types(model.config)
    assert enable_case_types(model)
    table = model.bert.embeddings.token_type_embeddings.weight
    assert table.shape[0] == CASE_TYPES == model.config.type_vocab_size
    assert all(torch.equal(table[i], row0) for i in range(CASE_TYPES))
    assert uses_case_types(model.config) and not enable_case_types(model)  # once only
    ids = torch.tensor([[101, 2000, 102]])
    same = [model(input_ids=ids, token_type_ids=torch.full_like(ids, k)).logits for k in range(4)]
    assert all(torch.allclose(same[0], s) for s in same[1:])  # starts as the base model


def test_a_model_without_token_types_is_refused():
    from transformers import DistilBertConfig, DistilBertForTokenClassification

    model = DistilBertForTokenClassification(DistilBertConfig(
        vocab_size=50, dim=16, hidden_dim=32, n_layers=1, n_heads=2))
    with pytest.raises(ValueError, match="no token type embeddings .* without --case-types"):
        enable_case_types(model)


def test_the_engine_feeds_case_classes_to_a_model_that_reads_them(tiny_ner_model, tmp_path):
    """The same lower-cased tokens tag differently by case once the table's rows differ, and
    only for a model that says it reads case."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from litmine.tasks.ner.engine import clear_taggers, load_tagger

    model = AutoModelForTokenClassification.from_pretrained(str(tiny_ner_model))
    enable_case_types(model)
    with torch.no_grad():
        # not a constant: the embeddings' LayerNorm would take that away
        model.bert.embeddings.token_type_embeddings.weight[CAPITALS] += torch.linspace(
            -3, 3, model.config.hidden_size)
    model.save_pretrained(tmp_path / "cased")
    AutoTokenizer.from_pretrained(str(tiny_ner_model)).save_pretrained(tmp_path / "cased")
    clear_taggers()
    cased = load_tagger(str(tmp_path / "cased"), device="cpu", dtype="fp32")
    plain = load_tagger(str(tiny_ner_model), device="cpu", dtype="fp32")
    assert cased.case_types and not plain.case_types
    upper, lower = cased.predict_tokens(["PAH binds.", "pah binds."])
    assert np.array_equal(upper.offsets, lower.offsets)  # the same tokens
    assert not np.allclose(upper.probs[0], lower.probs[0])  # "PAH" against "pah"
    plain_upper, plain_lower = plain.predict_tokens(["PAH binds.", "pah binds."])
    assert np.allclose(plain_upper.probs, plain_lower.probs, atol=1e-6)
    # a teacher's rows need their classes
    rows = [list(cased._tokenizer.encode("PAH binds.", add_special_tokens=False).ids)]
    with pytest.raises(ValueError, match="reads each word's case"):
        cased.token_probabilities(rows)
    classes = case_types("PAH binds.", upper.offsets, upper.word_ids).tolist()
    first_word = upper.word_ids == 0
    assert set(np.asarray(classes)[first_word]) == {CAPITALS}
    assert set(np.asarray(classes)[~first_word]) == {LOWER}
    teacher = cased.token_probabilities(rows, types=[classes])[0]
    assert np.allclose(teacher, upper.probs, atol=1e-5)  # what tagging the text gives
    assert not np.allclose(cased.token_probabilities(rows, types=[[0] * len(classes)])[0],
                           upper.probs, atol=1e-5)
    clear_taggers()
