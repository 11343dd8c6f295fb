"""The one Hugging Face model loader (`litmine.tasks.loading`), with tiny real models on disk."""

from __future__ import annotations

import pytest
import torch
from litmine.tasks.loading import (
    HEADS,
    device_name,
    load_for_training,
    load_pretrained,
    position_limit,
    resolve_device,
    resolve_model_source,
)

from litmine.errors import ModelError
from tests.support.tiny_models import (
    build_tiny_bart,
    build_tiny_encoder,
    build_tiny_gpt2,
    build_tiny_qa,
    build_tiny_sequence_classifier,
)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("loading")
    return {"encoder": build_tiny_encoder(root / "encoder"),
            "question-answering": build_tiny_qa(root / "qa"),
            "sequence-classification": build_tiny_sequence_classifier(root / "seq", ["a", "b"]),
            "causal-lm": build_tiny_gpt2(root / "gpt2"),
            "seq2seq": build_tiny_bart(root / "bart")}


@pytest.mark.parametrize("head", ["encoder", "question-answering", "sequence-classification",
                                  "causal-lm", "seq2seq"])
def test_each_head_loads_on_the_cpu_in_eval_mode(models, head):
    loaded = load_pretrained(str(models[head]), head, stage="test", device="cpu",
                             check_head=head not in ("causal-lm", "seq2seq"))
    assert loaded.device == torch.device("cpu")
    assert not loaded.model.training
    assert loaded.name == loaded.source == str(models[head].resolve())
    assert loaded.tokenizer is not None


@pytest.mark.parametrize(("given", "head"), [("question-answering", "sequence-classification"),
                                             ("sequence-classification", "question-answering"),
                                             ("encoder", "token-classification"),
                                             ("causal-lm", "encoder")])
def test_a_model_of_another_kind_is_refused_naming_model_and_kind(models, given, head):
    with pytest.raises(ModelError) as err:
        load_pretrained(str(models[given]), head, stage="test", device="cpu")
    message = str(err.value)
    assert message.startswith("test: model ") and str(models[given]) in message
    assert HEADS[head].kind.split(" (")[0] in message


def test_fp16_weights_on_request(models):
    loaded = load_pretrained(str(models["encoder"]), "encoder", stage="test", device="cpu",
                             dtype=torch.float16)
    assert next(loaded.model.parameters()).dtype == torch.float16


def test_a_base_model_loads_with_a_new_head_to_fine_tune(models):
    torch.manual_seed(0)
    model = load_for_training(str(models["encoder"]), "sequence-classification", stage="test",
                              num_labels=3)
    assert model.config.num_labels == 3
    with pytest.raises(ModelError, match="does not exist"):
        load_for_training("./no/such/dir", "token-classification", stage="test")


def test_the_bundled_encoder_has_aliases():
    name, source = resolve_model_source("minilm", "test")
    assert name == "sentence-transformers/all-MiniLM-L6-v2"
    assert resolve_model_source("all-MiniLM-L6-v2", "test") == (name, source)
    assert resolve_model_source("org/name", "test") == ("org/name", "org/name")


def test_one_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert device_name("cpu") == "cpu"
    assert device_name("auto") == ("cuda:0" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ModelError, match="embed: unknown device 'tpu'"):
        resolve_device("tpu", "embed")


def test_position_limit_knows_fairseq_offsets():
    from transformers import BertConfig, RobertaConfig

    assert position_limit(BertConfig(max_position_embeddings=512)) == 512
    assert position_limit(RobertaConfig(max_position_embeddings=514, pad_token_id=1)) == 512
