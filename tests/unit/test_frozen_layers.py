"""`train --freeze-layers`: which weights stop training, and what a model says its states are
(`Tagger.states_fingerprint`, config `litmine_states_from`)."""

from __future__ import annotations

import json
import shutil

import pytest

from litmine.errors import LitmineError, ModelError
from litmine.tasks.ner.engine import load_tagger
from litmine.tasks.training.frozen import freeze_lower_layers, states_kept_from


@pytest.fixture()
def bert(tiny_ner_model):
    from transformers import AutoModelForTokenClassification

    return AutoModelForTokenClassification.from_pretrained(str(tiny_ner_model))


def test_the_embeddings_and_the_lower_layers_stop_training(bert):
    freeze_lower_layers(bert, 1)
    frozen = {n for n, p in bert.named_parameters() if not p.requires_grad}
    assert frozen and all(n.startswith(("bert.embeddings.", "bert.encoder.layer.0.")) for n in frozen)
    assert all(p.requires_grad for n, p in bert.named_parameters()
               if n.startswith(("bert.encoder.layer.1.", "classifier.")))


@pytest.mark.parametrize("layers", [0, 3])
def test_layers_the_model_does_not_have_are_refused(bert, layers):
    with pytest.raises(LitmineError, match="between 1 and 2 .* got " + str(layers)):
        freeze_lower_layers(bert, layers)


def test_new_task_markers_cannot_be_learnt_with_frozen_embeddings(bert):
    with pytest.raises(LitmineError, match="drop --markers or --freeze-layers"):
        freeze_lower_layers(bert, 1, new_markers=True)


def _with_states_from(model, path, kept):
    shutil.copytree(model, path)
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "litmine_states_from": kept}))
    return path


def test_a_model_names_the_base_whose_states_it_kept(tiny_ner_model, tmp_path):
    base = load_tagger(str(tiny_ner_model), device="cpu", dtype="fp32")
    own = base.model_id.rsplit("@", 1)[-1]
    assert base.states_fingerprint(1) == own
    assert states_kept_from(tiny_ner_model, 2, "sentence") == [[2, own]]
    assert states_kept_from(tiny_ner_model, 1, "document") == []  # other texts, other states
    # a base that kept its first layer from an older model passes that on
    kept = _with_states_from(tiny_ner_model, tmp_path / "kept", [[1, "a0a0a0a0a0a0"]])
    fingerprint = load_tagger(str(kept), device="cpu", dtype="fp32").model_id.rsplit("@", 1)[-1]
    assert states_kept_from(kept, 2, "sentence") == [[1, "a0a0a0a0a0a0"], [2, fingerprint]]
    assert states_kept_from(kept, 1, "sentence") == [[1, "a0a0a0a0a0a0"]]
    tagger = load_tagger(str(kept), device="cpu", dtype="fp32")
    assert tagger.states_fingerprint(1) == "a0a0a0a0a0a0"
    assert tagger.states_fingerprint(2) == fingerprint
    assert load_tagger(str(kept), device="cpu", dtype="int8").states_fingerprint(1) != "a0a0a0a0a0a0"


def test_a_bad_states_from_entry_names_the_fix(tiny_ner_model, tmp_path):
    bad = _with_states_from(tiny_ner_model, tmp_path / "bad", ["layers four"])
    with pytest.raises(ModelError, match="litmine_states_from must be a list of"):
        load_tagger(str(bad), device="cpu", dtype="fp32")


def test_under_another_marker_the_kept_states_are_the_bases_under_that_marker():
    """A base model with task markers and a model that kept its layers put the same marker
    before a text, so under one marker their states are still one (`with_marker`)."""
    from litmine.tasks.ner.markers import ALL
    from litmine.tasks.ner.model import marked_fingerprint, with_marker

    loaded = {"markers": {ALL: 1, "Disease": 2}, "marker": ALL, "special_prefix": [101],
              "prefix": [101, 1], "fingerprint": "b1b1b1b1b1b1",
              "states_from": ((4, "a0a0a0a0a0a0"),)}
    assert with_marker(loaded, None, "m") is loaded
    disease = with_marker(loaded, "Disease", "m")
    assert disease["prefix"] == [101, 2]
    assert disease["fingerprint"] == marked_fingerprint("b1b1b1b1b1b1", "Disease")
    assert disease["states_from"] == ((4, marked_fingerprint("a0a0a0a0a0a0", "Disease")),)


def test_growing_follows_each_top_layer_by_a_copy_and_keeps_the_lower_states(bert):
    """`train --grow-layers`: the copies start as their originals, the layers below them and
    their states stay the base's, and transformers' layer indexes follow the new order."""
    import copy

    import torch

    from litmine.tasks.training.grow import grow_encoder

    base = copy.deepcopy(bert).eval()
    grow_encoder(bert, 1, frozen=1)
    layers = bert.base_model.encoder.layer
    assert len(layers) == bert.config.num_hidden_layers == 3
    assert [layer.attention.self.layer_idx for layer in layers] == [0, 1, 2]
    assert layers[1] is not layers[2]
    assert all(a.equal(b) for a, b in zip(layers[1].state_dict().values(),
                                          layers[2].state_dict().values()))
    ids = torch.tensor([[101, 2000, 2001, 102]])
    with torch.no_grad():
        before = base(input_ids=ids, output_hidden_states=True).hidden_states
        after = bert.eval()(input_ids=ids, output_hidden_states=True).hidden_states
    assert len(after) == 4 and all(after[k].equal(before[k]) for k in (0, 1, 2))
    assert not after[3].equal(before[2])  # the copy reads layer 2's output, not layer 1's


@pytest.mark.parametrize(("layers", "frozen", "message"), [
    (0, 0, "--grow-layers must be between 1 and 2 .* got 0"),
    (3, 0, "--grow-layers must be between 1 and 2 .* got 3"),
    (1, 2, "--freeze-layers 2 with --grow-layers 1 .* freeze at most 1 layers or grow fewer"),
])
def test_growing_checks_its_layers(bert, layers, frozen, message):
    from litmine.tasks.training.grow import grow_encoder

    with pytest.raises(LitmineError, match=message):
        grow_encoder(bert, layers, frozen=frozen)
    assert len(bert.base_model.encoder.layer) == 2
