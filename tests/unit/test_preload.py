"""`preload_models`: what a `mine` run will load, loaded in a background thread, once; the
run's own loads then find it (a tiny real BERT and a small real lexicon file on disk)."""

from __future__ import annotations

import pytest

from litmine.errors import ModelError
from litmine.flows.pipeline import preload_models, relation_step
from litmine.tasks.linking.lexicon import Lexicon
from litmine.tasks.linking.normalise import load_linker
from litmine.tasks.loading import choose_dtype, resolve_device
from litmine.tasks.ner.engine import load_tagger


@pytest.fixture
def lexicon(tmp_path):
    lex = Lexicon()
    lex.add_source("corpus:test")
    for type_, name, cid in [("Chemical", "cisplatin", "D002945"),
                             ("Chemical", "lidocaine", "D008012"),
                             ("Disease", "seizures", "D012640"),
                             ("Disease", "renal failure", "D051437")]:
        lex.add(type_, name, cid, "corpus:test")
    return str(lex.save(tmp_path / "lexicon.tsv.gz"))


def test_the_preload_loads_what_the_run_then_finds(tiny_ner_model, lexicon):
    step = relation_step(True, lexicon, "", typed_relation_model="", device="cpu",
                         ner_dtype=choose_dtype("fp32", resolve_device("cpu")))
    preload = preload_models(str(tiny_ner_model), "cpu", "fp32", step)
    assert preload_models(str(tiny_ner_model), "cpu", "fp32", step) is preload  # one per run
    preload.thread.join(timeout=120)
    assert not preload.thread.is_alive()
    linker = load_linker(lexicon)
    assert set(linker._fuzzy) == {"Chemical", "Disease"}  # the fuzzy indexes came with it
    tagger = load_tagger(str(tiny_ner_model), device="cpu", dtype="fp32")
    assert load_tagger(str(tiny_ner_model), device="cpu", dtype="fp32") is tagger
    assert linker.link_many([("cisplatin", "Chemical")])[0].concept_id == "D002945"


def test_a_failing_preload_leaves_the_error_to_the_run(tmp_path):
    missing = str(tmp_path / "no-model")
    preload = preload_models(missing, "cpu", "fp32", None)
    preload.thread.join(timeout=60)
    assert not preload.thread.is_alive()  # stopped quietly
    with pytest.raises(ModelError):
        load_tagger(missing, device="cpu", dtype="fp32")


def test_a_closed_preload_starts_nothing_more(tiny_ner_model, lexicon):
    step = relation_step(True, lexicon, "", typed_relation_model="", device="cpu")
    preload = preload_models(str(tiny_ner_model), "cpu", "bf16", step)
    preload.close()
    assert preload.stop.is_set() and not preload.thread.is_alive()
    # a new run with the same arguments gets a new preload
    again = preload_models(str(tiny_ner_model), "cpu", "bf16", step)
    assert again is not preload
    again.close()
