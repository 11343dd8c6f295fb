"""Relations read off the NER pass (`litmine.tasks.relations.shared`): trained by the CLI on a
tiny NER model (real flow runs), loaded by path, fed the states of the NER pass itself (no
second encoder pass) or running that model's pass when the states are not there, and stored by
`mine`."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BIORED_TRAIN = FIXTURES / "corpora" / "biored_relations_train.pubtator"
BIORED_DEV = FIXTURES / "corpora" / "biored_relations_dev.pubtator"
CDR_TRAIN = FIXTURES / "corpora" / "bc5cdr_train_sample.pubtator"
CDR_DEV = FIXTURES / "corpora" / "bc5cdr_dev_sample.pubtator"
LEX = FIXTURES / "lexicon"


def _train(*args, prefect: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "litmine.cli", "train", "--task", "relations", *map(str, args),
         "--epochs", "1", "--device", "cpu"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "PREFECT_API_URL": prefect, "HF_HUB_OFFLINE": "1"})


@pytest.fixture(scope="module")
def ner(tmp_path_factory) -> Path:
    from tests.conftest import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("shared-ner") / "ner", seed=3)


@pytest.fixture(scope="module")
def typed_shared(ner, tmp_path_factory, prefect_harness) -> Path:
    from prefect.settings import PREFECT_API_URL

    out = tmp_path_factory.mktemp("shared") / "biored-shared"
    done = _train("--method", "typed-shared", "--train", BIORED_TRAIN, "--dev", BIORED_DEV,
                  "--base-model", ner, "--out", out, "--seed", "5",
                  prefect=PREFECT_API_URL.value())
    assert done.returncode == 0, done.stderr
    assert f"saved {out}" in done.stdout
    return out


def _gold_batch(path: Path):
    from litmine.tasks.relations.typed_gold import canonical_mentions
    from litmine.tasks.sources.pubtator import read_pubtator
    from litmine.tasks.text.sentences import split_article

    docs, _ = read_pubtator(path)
    articles = [d.to_article() for d in docs]
    sentences = [s for a in articles for s in split_article(a)]
    mentions = [m for d in docs for m in canonical_mentions(d)]
    return docs, articles, sentences, mentions


def test_training_saves_a_head_over_the_ner_models_states(typed_shared, ner):
    config = json.loads((typed_shared / "shared.json").read_text())
    # the tiny NER model has 2 layers: the head copies the top one and reads the states after 1
    assert config["task"] == "BioRED" and config["states_layer"] == 1 and config["layers"] == 1
    assert config["ner_model"] == str(ner) and config["ner_fingerprint"]
    assert 0 < config["threshold"] < 1
    record = json.loads((typed_shared / "training.json").read_text())
    assert record["data"]["held_out_documents"] == 3 and record["data"]["fit_documents"] == 11
    assert len(record["data"]["held_out_pmids"]) == 3  # what the pair typer's stacking fits on
    assert record["params"]["seed"] == 5  # `train --seed` reaches the relation heads
    assert set(record["dev_gold_entities"]) == {"pair", "pair+type", "pair+type+novelty"}
    card = (typed_shared / "README.md").read_text()
    assert "--method typed-shared" in card and "| pair+type |" in card


def test_the_ner_pass_states_serve_the_relation_step_without_a_second_pass(typed_shared, ner):
    """With the states of the run's own NER pass the NER model does not run again, and the
    relations are those the model finds by running that pass itself."""
    from litmine.tasks.ner.engine import load_tagger
    from litmine.tasks.relations.registry import load_typed_model
    from litmine.tasks.relations.shared import SharedRelationModel

    model = load_typed_model(typed_shared, device="cpu", dtype="fp32")
    assert isinstance(model, SharedRelationModel)
    docs, articles, sentences, mentions = _gold_batch(BIORED_DEV)
    tagger = load_tagger(str(ner), device="cpu", dtype="fp32")
    states = tagger.tag_documents(sentences, states_layer=model.states_layer).states
    assert set(states) == {a.pmid for a in articles}
    passes: list[int] = []
    hook = tagger._model.register_forward_hook(lambda *_: passes.append(1))
    try:
        kept, alone = [], []
        for article in articles:
            own = [s for s in sentences if s.pmid == article.pmid]
            ms = [m for m in mentions if m.pmid == article.pmid]
            before = len(passes)
            kept.append(model.predict_document(article.text, ms, threshold=0.0,
                                               states=states[article.pmid], sentences=own,
                                               pmid=article.pmid))
            assert len(passes) == before  # read off the states: no encoder pass
            alone.append(model.predict_document(article.text, ms, threshold=0.0, sentences=own,
                                                pmid=article.pmid))
        assert len(passes) == len(articles)  # without states: one pass per document
    finally:
        hook.remove()
    assert any(kept)
    for a, b in zip(kept, alone):
        assert [(r.first, r.second, r.relation, r.novel) for r in a] == [
            (r.first, r.second, r.relation, r.novel) for r in b]
        assert all(abs(x.score - y.score) < 1e-3 for x, y in zip(a, b))


def test_an_int8_head_reads_the_fp32_pass_and_scores_as_fp32_does(typed_shared, ner):
    """int8 (the relation dtype on a CPU without bf16 units) quantises the head's BERT layers
    only: it reads the fp32 NER pass's states, runs fp32 for a pass of its own, and its
    scores stay close to the fp32 head's."""
    import torch

    from litmine.tasks.ner.engine import load_tagger
    from litmine.tasks.relations.shared import SharedRelationModel

    fp32 = SharedRelationModel(typed_shared, device="cpu", dtype="fp32")
    int8 = SharedRelationModel(typed_shared, device="cpu", dtype="int8")
    assert (int8.dtype, int8.states_dtype) == ("int8", "fp32")
    assert isinstance(int8.model.layers[0].intermediate.dense,
                      torch.ao.nn.quantized.dynamic.Linear)
    assert isinstance(int8.model.bilinear, torch.nn.Linear)  # the pair head stays fp32
    docs, articles, sentences, mentions = _gold_batch(BIORED_DEV)
    tagger = load_tagger(str(ner), device="cpu", dtype="fp32")
    states = tagger.tag_documents(sentences, states_layer=int8.states_layer).states
    assert all(int8.reads(states[a.pmid]) for a in articles)
    scored = 0
    for article in articles:
        own = [s for s in sentences if s.pmid == article.pmid]
        ms = [m for m in mentions if m.pmid == article.pmid]
        a = fp32.predict_document(article.text, ms, threshold=0.0, states=states[article.pmid],
                                  sentences=own, pmid=article.pmid)
        b = int8.predict_document(article.text, ms, threshold=0.0, states=states[article.pmid],
                                  sentences=own, pmid=article.pmid)
        c = int8.predict_document(article.text, ms, threshold=0.0, sentences=own,
                                  pmid=article.pmid)  # its own pass: fp32's states
        assert [(r.first, r.second) for r in a] == [(r.first, r.second) for r in b]
        assert all(abs(x.score - y.score) < 0.05 for x, y in zip(a, b))
        assert [(r.first, r.second, r.score) for r in b] == [(r.first, r.second, r.score)
                                                             for r in c]
        scored += len(a)
    assert scored


def test_two_heads_without_the_states_share_one_pass_of_their_ner_model(typed_shared, ner):
    """When the run's NER pass is not the heads' (another --model), the heads run their NER
    model once per document between them, not once each."""
    from litmine.tasks.ner.engine import load_tagger
    from litmine.tasks.relations.shared import SharedRelationModel

    first = SharedRelationModel(typed_shared, device="cpu", dtype="fp32")
    second = SharedRelationModel(typed_shared, device="cpu", dtype="fp32")
    docs, articles, sentences, mentions = _gold_batch(BIORED_TRAIN)
    tagger = load_tagger(str(ner), device="cpu", dtype="fp32")
    passes: list[int] = []
    hook = tagger._model.register_forward_hook(lambda *_: passes.append(1))
    try:
        for article in articles:
            own = [s for s in sentences if s.pmid == article.pmid]
            ms = [m for m in mentions if m.pmid == article.pmid]
            a = first.predict_document(article.text, ms, threshold=0.0, sentences=own,
                                       pmid=article.pmid)
            b = second.predict_document(article.text, ms, threshold=0.0, sentences=own,
                                        pmid=article.pmid)
            assert a == b
    finally:
        hook.remove()
    assert len(passes) == len(articles)
    # A changed text is a new pass, never the states of the text it replaced.
    own = [s for s in sentences if s.pmid == articles[0].pmid]
    changed = [s.__class__(s.pmid, s.index, s.start, s.end, s.text.upper()) for s in own]
    assert first.states_of(articles[0].pmid, changed) is not first.states_of(
        articles[0].pmid, own)


def test_a_model_trained_on_with_frozen_layers_keeps_the_heads_states(typed_shared, ner,
                                                                       tmp_path):
    """`train --freeze-layers N` from the head's NER model: the student's states after N
    layers are the base's, so the head reads them off the student's own pass (one pass) and
    finds what it finds on the base's; a student trained from it without freezing is not read."""
    import torch
    from safetensors.torch import load_file

    from litmine.tasks.ner.engine import load_tagger
    from litmine.tasks.relations.registry import load_typed_model
    from litmine.tasks.relations.shared import states_layer_of
    from litmine.tasks.training.ner import train_ner

    model = load_typed_model(typed_shared, device="cpu", dtype="fp32")
    layer = model.states_layer
    common = dict(base_model=str(ner), types=["Chemical", "Disease"], epochs=1, lr=5e-3,
                  batch_size=8, max_length=128, device="cpu", precision="fp32", progress=False)
    frozen = train_ner([str(CDR_TRAIN)], [str(CDR_DEV)], tmp_path / "frozen",
                       freeze_layers=layer, **common)
    # Trained from the frozen student without freezing: its claim on the base's states goes.
    train_ner([str(CDR_TRAIN)], [str(CDR_DEV)], tmp_path / "free",
              **{**common, "base_model": str(tmp_path / "frozen")})
    base = load_tagger(str(ner), device="cpu", dtype="fp32")
    student = load_tagger(str(tmp_path / "frozen"), device="cpu", dtype="fp32")
    free = load_tagger(str(tmp_path / "free"), device="cpu", dtype="fp32")
    fingerprint = base.model_id.rsplit("@", 1)[-1]
    assert frozen.params["states_from"] == [[layer, fingerprint]]
    assert f"model `{fingerprint}`" in (tmp_path / "frozen" / "README.md").read_text()
    weights, trained = load_file(str(ner / "model.safetensors")), load_file(
        str(tmp_path / "frozen" / "model.safetensors"))
    changed = {k for k in weights if not weights[k].float().equal(trained[k].float())}
    assert changed and all(f"encoder.layer.{layer}." in k or "classifier" in k for k in changed)
    assert student.model_id != base.model_id
    assert student.states_fingerprint(layer) == fingerprint == model.ner_fingerprint
    assert student.states_fingerprint(layer + 1) == student.model_id.rsplit("@", 1)[-1]
    assert free.states_fingerprint(layer) != fingerprint
    assert states_layer_of(None, typed_shared, student) == layer
    assert states_layer_of(None, typed_shared, free) is None

    docs, articles, sentences, mentions = _gold_batch(BIORED_DEV)
    own = student.tag_documents(sentences, states_layer=layer).states
    theirs = base.tag_documents(sentences, states_layer=layer).states
    for article in articles:
        pmid = article.pmid
        assert model.reads(own[pmid]) and own[pmid].model_id == student.model_id
        assert torch.allclose(own[pmid].states, theirs[pmid].states, atol=1e-5)
        ms = [m for m in mentions if m.pmid == pmid]
        found = [model.predict_document(article.text, ms, threshold=0.0, states=s[pmid],
                                        sentences=[x for x in sentences if x.pmid == pmid],
                                        pmid=pmid) for s in (own, theirs)]
        assert [(r.first, r.second, r.relation) for r in found[0]] == [
            (r.first, r.second, r.relation) for r in found[1]]
    assert not model.reads(free.tag_documents(sentences, states_layer=layer).states[pmid])


def test_a_grown_student_keeps_the_heads_states(typed_shared, ner, tmp_path):
    """`train --grow-layers 1 --freeze-layers N`: a copy of the top layer above the frozen ones
    learns, and the head still reads the student's own pass as the base's states."""
    import torch

    from litmine.tasks.ner.engine import load_tagger
    from litmine.tasks.relations.registry import load_typed_model
    from litmine.tasks.relations.shared import states_layer_of
    from litmine.tasks.training.ner import train_ner

    layer = load_typed_model(typed_shared, device="cpu", dtype="fp32").states_layer
    result = train_ner([str(CDR_TRAIN)], [str(CDR_DEV)], tmp_path / "grown", base_model=str(ner),
                       types=["Chemical", "Disease"], epochs=1, lr=5e-3, batch_size=8,
                       max_length=128, device="cpu", precision="fp32", progress=False,
                       freeze_layers=layer, grow_layers=1)
    base = load_tagger(str(ner), device="cpu", dtype="fp32")
    grown = load_tagger(str(tmp_path / "grown"), device="cpu", dtype="fp32")
    depth = base._model.config.num_hidden_layers
    assert len(grown._model.base_model.encoder.layer) == depth + 1
    assert result.params["grow_layers"] == 1
    assert "--grow-layers 1" in (tmp_path / "grown" / "README.md").read_text()
    assert grown.states_fingerprint(layer) == base.model_id.rsplit("@", 1)[-1]
    assert states_layer_of(None, typed_shared, grown) == layer
    _, _, sentences, _ = _gold_batch(BIORED_DEV)
    own = grown.tag_documents(sentences, states_layer=layer).states
    theirs = base.tag_documents(sentences, states_layer=layer).states
    assert own.keys() == theirs.keys()
    assert all(torch.allclose(own[p].states, theirs[p].states, atol=1e-5) for p in own)


def test_freezing_checks_its_layers(ner, tmp_path):
    from litmine.errors import LitmineError
    from litmine.tasks.training.ner import train_ner

    with pytest.raises(LitmineError, match="--freeze-layers must be between 1 and 2"):
        train_ner([str(CDR_TRAIN)], [str(CDR_DEV)], tmp_path / "m", base_model=str(ner),
                  types=["Chemical", "Disease"], epochs=1, device="cpu", progress=False,
                  freeze_layers=3)
    done = subprocess.run([sys.executable, "-m", "litmine.cli", "train", "--task", "relations",
                           "--train", str(CDR_TRAIN), "--dev", str(CDR_DEV),
                           "--freeze-layers", "1"], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "--freeze-layers is for --task ner" in done.stderr
    done = subprocess.run([sys.executable, "-m", "litmine.cli", "train", "--task", "relations",
                           "--train", str(CDR_TRAIN), "--dev", str(CDR_DEV),
                           "--grow-layers", "1"], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "--grow-layers is for --task ner" in done.stderr


def test_states_of_another_model_or_layer_are_not_read(typed_shared):
    import numpy as np
    import torch

    from litmine.tasks.ner.token_states import DocumentStates
    from litmine.tasks.relations.registry import load_typed_model

    model = load_typed_model(typed_shared, device="cpu", dtype="fp32")
    offsets = np.zeros((1, 2), np.int32)
    good = DocumentStates(offsets, torch.zeros((1, 32)), model.states_layer,
                          "whatever@0123456789ab", model.ner_fingerprint)
    assert model.reads(good)
    assert not model.reads(DocumentStates(offsets, torch.zeros((1, 32)), model.states_layer,
                                          f"other@{model.ner_fingerprint}", "0123456789ab"))
    assert not model.reads(DocumentStates(offsets, torch.zeros((1, 32)), model.states_layer + 1,
                                          "x@0123456789ab", model.ner_fingerprint))
    assert not model.reads(None)


def test_stacked_cid_model_with_a_shared_document_member(ner, tmp_path, prefect_harness):
    from prefect.settings import PREFECT_API_URL

    from litmine.tasks.linking.normalise import load_linker
    from litmine.tasks.relations.registry import load_relation_model
    from litmine.tasks.relations.relate import relate_articles
    from litmine.tasks.relations.shared import SharedRelationModel, states_layer_of

    out = tmp_path / "cid-shared"
    done = _train("--method", "stacked-shared", "--train", CDR_TRAIN, "--dev", CDR_DEV,
                  "--base-model", ner, "--mesh-tree", LEX / "mesh_tree_sample.tsv",
                  "--out", out, prefect=PREFECT_API_URL.value())
    assert done.returncode == 0, done.stderr
    config = json.loads((out / "document" / "shared.json").read_text())
    assert config["task"] == "CID" and config["ner_fingerprint"]
    assert states_layer_of(out, None) == config["states_layer"]
    model = load_relation_model(out, device="cpu", dtype="fp32")
    assert isinstance(model.document, SharedRelationModel)
    assert "head over the token states" in (out / "README.md").read_text()

    from litmine.tasks.ner.engine import load_tagger
    from litmine.tasks.sources.pubtator import gold_to_mentions, read_pubtator
    from litmine.tasks.text.sentences import split_article

    docs, _ = read_pubtator(CDR_DEV)
    articles = [d.to_article() for d in docs]
    sentences = [s for a in articles for s in split_article(a)]
    mentions = [m for d in docs for m in gold_to_mentions(d)]
    states = load_tagger(str(ner), device="cpu", dtype="fp32").tag_documents(
        sentences, states_layer=config["states_layer"]).states
    lexicon = tmp_path / "lexicon.tsv.gz"
    done = subprocess.run(
        [sys.executable, "-m", "litmine.cli", "lexicon", "build", "--corpus", str(CDR_TRAIN),
         "--mesh", str(LEX / "desc_sample.xml"), "--mesh", str(LEX / "supp_sample.xml"),
         "--exclude", str(CDR_DEV), "--out", str(lexicon)], capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stderr
    linker = load_linker(lexicon)
    shared = relate_articles(articles, sentences, mentions, linker=linker,
                             relation_model=model, fix_mentions=False, states=states)
    alone = relate_articles(articles, sentences, mentions, linker=linker,
                            relation_model=model, fix_mentions=False)
    assert shared.candidates and {c.method for c in shared.candidates} == {"cid-stacked"}
    assert [(c.pmid, c.chemical_id, c.disease_id, c.relation) for c in shared.candidates] == [
        (c.pmid, c.chemical_id, c.disease_id, c.relation) for c in alone.candidates]


def test_a_joint_head_is_the_typed_model_and_the_cid_member_in_one_pass(ner, tmp_path,
                                                                        prefect_harness):
    """`--method joint-shared`: one head learns CID (BC5CDR) and BioRED's typed relations; the
    CID model names it as its document member, both load as one instance, and a document's
    CID scores and typed relations come from one forward pass of the head."""
    from prefect.settings import PREFECT_API_URL

    from litmine.tasks.model_info import describe_model
    from litmine.tasks.ner.engine import load_tagger
    from litmine.tasks.relations.document import document_spans
    from litmine.tasks.relations.registry import load_relation_model, load_typed_model
    from litmine.tasks.relations.shared import SharedRelationModel

    out, typed_out = tmp_path / "litmine-cid-x", tmp_path / "litmine-biored-x"
    done = _train("--method", "joint-shared", "--train", CDR_TRAIN, "--train", BIORED_TRAIN,
                  "--dev", CDR_DEV, "--dev", BIORED_DEV, "--base-model", ner,
                  "--mesh-tree", LEX / "mesh_tree_sample.tsv", "--out", out,
                  "--typed-out", typed_out, "--patience", "5", prefect=PREFECT_API_URL.value())
    assert done.returncode == 0, done.stderr
    relation = json.loads((out / "relation.json").read_text())
    assert relation["document_model"] == "../litmine-biored-x" and not (out / "document").exists()
    head = json.loads((typed_out / "shared.json").read_text())
    assert head["task"] == "joint" and 0 < head["cid_threshold"] < 1
    record = json.loads((typed_out / "training.json").read_text())
    assert record["data"]["cid_fit_documents"] > 0 and "CID" in record["dev_gold_entities"]
    assert record["params"]["patience"] == 5  # --patience reaches the head's early stopping
    assert "| CID |" in (typed_out / "README.md").read_text()
    assert describe_model(out).needs == ("litmine-biored-x",)
    cid = load_relation_model(out, device="cpu", dtype="fp32")
    typed = load_typed_model(typed_out, device="cpu", dtype="fp32")
    assert cid.document is typed

    docs, articles, sentences, mentions = _gold_batch(BIORED_DEV)
    states = load_tagger(str(ner), device="cpu", dtype="fp32").tag_documents(
        sentences, states_layer=typed.states_layer).states
    fresh = SharedRelationModel(typed_out, device="cpu", dtype="fp32")
    forwards: list[int] = []
    hook = typed.model.register_forward_hook(lambda *_: forwards.append(1))
    try:
        scored_documents = 0
        for article in articles:
            ms = [m for m in mentions if m.pmid == article.pmid]
            keys = document_spans(ms)
            pairs = [(c, d) for t, c in keys if t == "Chemical" for u, d in keys if u == "Disease"]
            before = len(forwards)
            relations = typed.predict_document(article.text, ms, threshold=0.0,
                                               states=states[article.pmid])
            scores = cid.document.score_document(article.text, ms, pairs,
                                                 states=states[article.pmid])
            assert len(forwards) - before <= 1  # one pass of the head for both
            scored_documents += len(forwards) - before
            assert scores == fresh.score_document(article.text, ms, pairs,
                                                  states=states[article.pmid])
            assert relations == fresh.predict_document(article.text, ms, threshold=0.0,
                                                       states=states[article.pmid])
            if pairs:
                assert all(s is not None and 0 <= s <= 1 for s in scores)
    finally:
        hook.remove()
    assert scored_documents > 0


def test_mine_reads_relations_off_its_own_ner_pass(tmp_path, prefect_harness, monkeypatch):
    """The shipped relation models read the shipped NER model's states: in `mine` every
    document's relations come from the states of the NER task's pass, and the NER model runs
    only in that task."""
    import duckdb

    from litmine.flows.mine import mine
    from litmine.settings import get_settings
    from litmine.tasks.ner.engine import load_tagger
    from litmine.tasks.relations.registry import load_typed_model
    from litmine.tasks.relations.shared import SharedRelationModel

    settings = get_settings()
    assert isinstance(load_typed_model(settings.typed_relation_model, device="cpu"),
                      SharedRelationModel)
    read, own_pass, kept = [], [], []
    original = SharedRelationModel.states_of

    def states_of(self, pmid, sentences, states=None, *args, **kw):
        (read if self.reads(states) else own_pass).append(pmid)
        if states is not None:
            kept.append(weakref.ref(states.states))
        return original(self, pmid, sentences, states, *args, **kw)

    monkeypatch.setattr(SharedRelationModel, "states_of", states_of)
    tagger = load_tagger(str(settings.model), device="cpu")
    passes: list[int] = []
    batches = tagger.stats.batches
    hook = tagger._model.register_forward_hook(lambda *_: passes.append(1))
    gc.collect()
    gc.disable()  # what is freed below was freed by reference counts, not by the collector
    try:
        result = mine(files=[str(BIORED_DEV)], db=str(tmp_path / "shared.duckdb"), device="cpu",
                      batch_size=40)
        # Each batch's token states are freed once its relation step is done: the NER task's
        # Prefect state holds its result in a reference cycle, and worker threads keep none.
        alive = sum(ref() is not None for ref in kept)
    finally:
        gc.enable()
        hook.remove()
    assert result["typed_relations"] > 0
    assert read and not own_pass  # every document read off the NER task's states
    assert kept and alive == 0, f"{alive} of {len(kept)} documents' token states still held"
    assert len(passes) == tagger.stats.batches - batches > 0  # the NER batches, nothing else
    with duckdb.connect(str(tmp_path / "shared.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(DISTINCT relation_model) FROM relations").fetchone() == (
            1,)
